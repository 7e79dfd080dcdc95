#!/bin/sh
# make check wrapper: the tests/guest programs on real KVM inside QEMU
# TCG, compared with their .expect files (tests/guest/nested.py).  Skips
# (77) when the guest or the L1 host kernel is not built.
# Run: make check TESTS=tests/guest/nested.sh (from the build folder)
RAX_STATIC=./rax-static exec "${PYTHON3:-/usr/bin/python3}" \
	"${srcdir:-.}/tests/guest/nested.py"
