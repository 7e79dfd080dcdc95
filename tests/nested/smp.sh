#!/bin/sh
# make check wrapper: rax --backend kvm --cpus 2 boots the default guest
# to its shell on real KVM inside QEMU TCG, and the guest's nproc prints
# 2 (tests/nested/run.py --cpus 2).  Skips (77) as tests/nested/nested.sh.
# Run: make check TESTS=tests/nested/smp.sh (from the build folder)
grep -q '^#define HAVE_KVM 1' config.h 2>/dev/null ||
	{ echo "SKIP: rax was built without KVM (no linux/kvm.h)"; exit 77; }
RAX_STATIC=./rax-static exec "${PYTHON3:-/usr/bin/python3}" \
	"${srcdir:-.}/tests/nested/run.py" --cpus 2
