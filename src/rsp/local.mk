# src/rsp: the GDB Remote Serial Protocol server.
librax_a_SOURCES += \
	src/rsp/rsp.c src/rsp/rsp.h \
	src/rsp/rsp_packet.c src/rsp/rsp_packet.h \
	src/rsp/rsp_cmds.c src/rsp/rsp_cmds.h \
	src/rsp/rsp_monitor.c \
	src/rsp/rsp_regs.c src/rsp/rsp_regs.h \
	src/rsp/rsp_transport.c src/rsp/rsp_transport.h

# Unit tests: framing and the handlers against a fake engine.
noinst_HEADERS += tests/unit/test_rsp_fake.h
check_PROGRAMS += tests/unit/test_rsp
tests_unit_test_rsp_SOURCES = tests/unit/test_rsp.c tests/unit/test_rsp_fake.c
tests_unit_test_rsp_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_rsp_LDADD = librax.a $(LIBS)
TESTS += tests/unit/test_rsp

# A gdb target over the fake engine for the pytest suite (not a test by
# itself): built by make check, used by make check-gdb.
check_PROGRAMS += tests/unit/test_rsp_target
tests_unit_test_rsp_target_SOURCES = tests/unit/test_rsp_target.c \
	tests/unit/test_rsp_fake.c
tests_unit_test_rsp_target_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_rsp_target_LDADD = librax.a $(LIBS)

# The gdb end-to-end suites (pytest + real gdb), in make check: on the
# fake engine, and the Linux milestones on each of this host's engines
# (one test per engine, so that an unusable one is a SKIP), and the
# connection lifecycle under abuse (gdb-stress.sh).
# `make check-gdb` runs everything, with the sessions where rax runs on
# real KVM nested in QEMU (tests/nested) as well.
EXTRA_DIST += bench/fuzz/run.sh bench/fuzz/fuzz_rsp.c \
	tests/nested/qemu-backports.sh \
	tests/py/conftest.py tests/py/test_gdb_fake.py \
	tests/py/test_gdb_linux.py tests/py/gdb-fake.sh \
	tests/py/gdb-linux-emulator.sh tests/py/gdb-linux-kvm.sh \
	tests/py/test_gdb_stress.py tests/py/gdb-stress.sh
TESTS += tests/py/gdb-fake.sh tests/py/gdb-linux-emulator.sh \
	tests/py/gdb-linux-kvm.sh tests/py/gdb-stress.sh
# The nested sessions run on the QEMU of tests/nested/qemu-backports.sh
# (10.0.x, whose TCG arms KVM's debug registers) when it can be fetched,
# else on the system's; RAX_NESTED_QEMU=PATH picks one.  The kvm-intel
# sessions (Bochs) are `make check-kvm-intel`'s.
check-gdb: rax$(EXEEXT) rax-static$(EXEEXT) $(check_PROGRAMS)
	RAX_NESTED_QEMU=$${RAX_NESTED_QEMU:-$$($(SHELL) \
	  $(srcdir)/tests/nested/qemu-backports.sh || true)} \
	RAX_BUILD=$(abs_top_builddir) $(PYTHON3) -m pytest -v \
	  -p no:cacheprovider -k "not intel" $(srcdir)/tests/py/test_gdb_fake.py \
	  $(srcdir)/tests/py/test_gdb_linux.py $(PYTEST_FLAGS)
.PHONY: check-gdb
