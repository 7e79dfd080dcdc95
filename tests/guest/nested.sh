#!/bin/sh
# make check wrapper: the tests/guest programs on real KVM inside QEMU
# TCG, compared with their .expect files (tests/guest/nested.py).  Skips
# (77) when the guest or the L1 host kernel is not built, or rax was
# built without KVM.
# Run: make check TESTS=tests/guest/nested.sh (from the build folder)
grep -q '^#define HAVE_KVM 1' config.h 2>/dev/null ||
	{ echo "SKIP: rax was built without KVM (no linux/kvm.h)"; exit 77; }
RAX_STATIC=./rax-static exec "${PYTHON3:-/usr/bin/python3}" \
	"${srcdir:-.}/tests/guest/nested.py"
