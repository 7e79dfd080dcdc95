#!/bin/sh
# make check wrapper: the tests/guest programs on kvm_intel in Bochs
# (tests/intel), compared with their .expect files, Bochs's deviations
# (nested-bochs.txt) accepted (tests/guest/nested.py --intel; about
# 35 s).  Skips (77) like tests/intel/intel.sh.
# Run: make check TESTS=tests/guest/intel.sh (from the build folder)
grep -q '^#define HAVE_KVM 1' config.h 2>/dev/null ||
	{ echo "SKIP: rax was built without KVM (no linux/kvm.h)"; exit 77; }
RAX_STATIC=./rax-static exec "${PYTHON3:-/usr/bin/python3}" \
	"${srcdir:-.}/tests/guest/nested.py" --intel
