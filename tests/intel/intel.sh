#!/bin/sh
# make check wrapper: rax --backend kvm boots the default guest to its
# shell on kvm_intel, in an L1 Linux inside Bochs with a VT-x model
# (tests/intel/run.py; about 35 s).  Skips (77) when Bochs, ISOLINUX,
# genisoimage, the guest or the L1 host kernel is missing, or rax was
# built without KVM.
# Run: make check TESTS=tests/intel/intel.sh (from the build folder)
grep -q '^#define HAVE_KVM 1' config.h 2>/dev/null ||
	{ echo "SKIP: rax was built without KVM (no linux/kvm.h)"; exit 77; }
RAX_STATIC=./rax-static exec "${PYTHON3:-/usr/bin/python3}" \
	"${srcdir:-.}/tests/intel/run.py"
