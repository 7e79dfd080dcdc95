#!/bin/sh
# make check: kvm-unit-tests' x86 cases on rax's interpreter
# (tests/kut/run.py --check).  Every case that runs must pass unless
# tests/kut/known-failures.txt lists it for the emulator.  Skips (77)
# when ../shared/kvm-unit-tests is absent (RAX_KUT_DIR overrides it).
# Run: make check TESTS=tests/kut/check.sh (from the build folder)
RAX=./rax exec "${PYTHON3:-/usr/bin/python3}" \
	"${srcdir:-.}/tests/kut/run.py" --engine emulator --check
