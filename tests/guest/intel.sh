#!/bin/sh
# make check wrapper: the tests/guest programs on kvm_intel in Bochs
# (tests/intel), compared with their .expect files with no deviation
# accepted (tests/guest/nested.py --intel; about 35 s).  Skips (77) like
# tests/intel/intel.sh.
# Run: make check TESTS=tests/guest/intel.sh (from the build folder)
RAX_STATIC=./rax-static exec "${PYTHON3:-/usr/bin/python3}" \
	"${srcdir:-.}/tests/guest/nested.py" --intel
