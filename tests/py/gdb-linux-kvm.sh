#!/bin/sh
# make check wrapper: issue 4's gdb milestones against rax booting the
# default guest on this host's KVM (tests/py/test_gdb_linux.py -k "kvm
# and not nested").  Skips (77) with rax's reason where KVM is unusable
# (this machine's kvm_pvm), and as gdb-linux-emulator.sh does; the
# sessions on real KVM nested in QEMU run with make check-gdb, those on
# kvm_intel in Bochs with make check-kvm-intel.
# Run: make check TESTS=tests/py/gdb-linux-kvm.sh (build folder)
exec sh "${srcdir:-.}/tests/py/run-pytest.sh" --gdb test_gdb_linux.py \
	-k "kvm and not nested and not intel"
