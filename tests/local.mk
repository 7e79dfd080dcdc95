# tests: unit test programs (one per module, linked with librax.a), shell
# tests of the rax binary, and the pytest suites in tests/py.
noinst_HEADERS += tests/unit/test.h
check_PROGRAMS += tests/unit/test_core
tests_unit_test_core_SOURCES = tests/unit/test_core.c
tests_unit_test_core_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_core_LDADD = librax.a $(LIBS)
TESTS += tests/unit/test_core

# tests/nested: rax on real KVM inside QEMU TCG (examples/README-guest.md).
# Kept out of TESTS until the KVM engine boots the guest; run by hand with
# `make check-nested` (builds the guest, the L1 kernel and rax-static).
EXTRA_DIST += tests/nested/run.py
CLEANFILES += nested-console.log
check-nested: rax-static$(EXEEXT) guest guest-l1
	srcdir=$(srcdir) RAX_STATIC=./rax-static$(EXEEXT) \
	  $(PYTHON3) $(srcdir)/tests/nested/run.py
.PHONY: check-nested
