# tests: unit test programs (one per module, linked with librax.a), shell
# tests of the rax binary, and the pytest suites in tests/py.
noinst_HEADERS += tests/unit/test.h
check_PROGRAMS += tests/unit/test_core
tests_unit_test_core_SOURCES = tests/unit/test_core.c
tests_unit_test_core_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_core_LDADD = librax.a $(LIBS)
TESTS += tests/unit/test_core

# tests/nested: rax on real KVM inside QEMU TCG (examples/README-guest.md).
# Part of make check: skips (77) only when the guest or the L1 kernel is
# not built (`make guest guest-l1`; tests/run-all.sh builds both).
# `make check-nested` builds them first and runs it alone.
EXTRA_DIST += tests/nested/run.py tests/nested/nested.sh \
	tests/nested/virtio-disk.sh tests/nested/virtio-net.sh \
	tests/nested/smp.sh tests/nested/debian-smp.sh tests/nested/debian-smp.py
# tests/guest/nested.sh runs the tests/guest programs there (one more L1
# boot, about 10 s); tests/nested/virtio-disk.sh and virtio-net.sh the
# virtio devices (two more), tests/nested/smp.sh the default guest on
# two vCPUs (one more, about 40 s); tests/nested/debian-smp.sh Debian's
# linux-image-amd64 on four vCPUs on the interpreter and nested (one
# more).  Built without KVM, they are a SKIP that says so.
TESTS += tests/nested/nested.sh tests/guest/nested.sh \
	tests/nested/virtio-disk.sh tests/nested/virtio-net.sh \
	tests/nested/smp.sh tests/nested/debian-smp.sh
if HAVE_KVM
check_DATA = rax-static$(EXEEXT)
endif
CLEANFILES += nested-console.log nested-guest-console.log \
	nested-disk-console.log nested-net-console.log nested-smp-console.log
check-nested: rax-static$(EXEEXT) guest guest-l1
	srcdir=$(srcdir) RAX_STATIC=./rax-static$(EXEEXT) \
	  $(PYTHON3) $(srcdir)/tests/nested/run.py
	srcdir=$(srcdir) RAX_STATIC=./rax-static$(EXEEXT) \
	  $(PYTHON3) $(srcdir)/tests/guest/nested.py
	srcdir=$(srcdir) RAX_STATIC=./rax-static$(EXEEXT) \
	  $(PYTHON3) $(srcdir)/tests/nested/run.py --disk
	srcdir=$(srcdir) RAX_STATIC=./rax-static$(EXEEXT) \
	  RAX_DYNAMIC=./rax$(EXEEXT) $(PYTHON3) $(srcdir)/tests/nested/run.py --net
	srcdir=$(srcdir) RAX_STATIC=./rax-static$(EXEEXT) \
	  $(PYTHON3) $(srcdir)/tests/nested/run.py --cpus 2
.PHONY: check-nested

# tests/intel: rax on real KVM on Intel VT-x, kvm_intel in an L1 Linux
# inside Bochs (tests/intel/run.py).  Its boot check and the tests/guest
# programs there (tests/guest/intel.sh), about 35 to 55 s each, are part
# of make check like tests/nested's; `make check-kvm-intel` runs both and
# the gdb suite's kvm-intel sessions (tests/py/test_gdb_linux.py -k
# intel: 10 to 15 minutes in all, measured, so not in make check).
# Built without KVM, both are a SKIP that says so.
EXTRA_DIST += tests/intel/run.py tests/intel/intel.sh tests/guest/intel.sh \
	tests/guest/nested-bochs.txt
TESTS += tests/intel/intel.sh tests/guest/intel.sh
CLEANFILES += intel-console.log intel-bochs.log intel-guest-console.log
check-kvm-intel: rax$(EXEEXT) rax-static$(EXEEXT) guest guest-l1
	srcdir=$(srcdir) RAX_STATIC=./rax-static$(EXEEXT) \
	  $(PYTHON3) $(srcdir)/tests/intel/run.py
	srcdir=$(srcdir) RAX_STATIC=./rax-static$(EXEEXT) \
	  $(PYTHON3) $(srcdir)/tests/guest/nested.py --intel
	RAX_BUILD=$(abs_top_builddir) RAX_STATIC=./rax-static$(EXEEXT) \
	  $(PYTHON3) -m pytest -v -p no:cacheprovider -k intel \
	  $(srcdir)/tests/py/test_gdb_linux.py $(PYTEST_FLAGS)
.PHONY: check-kvm-intel

# The interpreter boots the default guest to its shell (pytest).
EXTRA_DIST += tests/py/test_boot.py tests/py/boot.sh tests/py/run-pytest.sh \
	tests/py/hostcpu.py
TESTS += tests/py/boot.sh

# The same guest on 4 vCPUs (--cpus 4): CPUs, local timers, busy loops
# spread over them, repeatable per-vCPU instruction counts (pytest).
EXTRA_DIST += tests/py/test_smp.py tests/py/smp.sh
TESTS += tests/py/smp.sh

# The default guest with virtio-blk (an ext4 root) and virtio-rng, and
# with virtio-net, on the interpreter (pytest).
EXTRA_DIST += tests/py/test_virtio.py tests/py/virtio.sh tests/py/rootfs.py \
	tests/py/test_virtio_net.py tests/py/virtio-net.sh
TESTS += tests/py/virtio.sh tests/py/virtio-net.sh

# The interpreter's CPU models (--cpu v1, v2, v3) in the default guest:
# /proc/cpuinfo, static -march=x86-64-v2 and -v3 programs, YMM state
# across context switches (pytest).
EXTRA_DIST += tests/py/test_cpu_model.py tests/py/cpu-model.sh \
	tests/py/cpu_v2.c tests/py/cpu_v3.c tests/py/ymm_switch.c
TESTS += tests/py/cpu-model.sh

# The default guest with ACPI: the MADT, no ACPI errors, poweroff, --acpi
# off, PCI INTx routed by the _PRT (pytest).
EXTRA_DIST += tests/py/test_acpi.py tests/py/acpi.sh
TESTS += tests/py/acpi.sh

# rax's process lifecycle: signals, gdb killed, rax killed under gdb.
EXTRA_DIST += tests/py/test_lifecycle.py tests/py/lifecycle.sh
TESTS += tests/py/lifecycle.sh

# ./rax as the README's first command ends, with its console on pipes
# (CI runs the script after that command too).
EXTRA_DIST += tests/pipe-console.py tests/pipe-console.sh
TESTS += tests/pipe-console.sh

check_PROGRAMS += tests/unit/test_symbols
tests_unit_test_symbols_SOURCES = tests/unit/test_symbols.c
tests_unit_test_symbols_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_symbols_LDADD = librax.a $(LIBS)
TESTS += tests/unit/test_symbols
