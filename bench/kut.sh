#!/bin/sh
# kvm-unit-tests' x86 suite (../shared/kvm-unit-tests, or $RAX_KUT_DIR)
# on rax's interpreter and on QEMU TCG with upstream's parameters, in one
# run, ending with a side-by-side table of each case's result and
# seconds, and each engine's "N passed, N failed, N skipped"
# (tests/kut/run.py).  Reports; asserts nothing.
# Run (from the build folder): sh ../bench/kut.sh [-j N] [--engine kvm]
#     [--engine nested] [--logs DIR] [CASE...]
# More --engine options add columns (kvm: rax --backend kvm on this host;
# nested: real KVM inside QEMU TCG, tests/nested).  About 6 minutes for
# QEMU with -j 2 on a 2-core machine (sieve and the cases that time out
# take most of it).
here=$(dirname "$0")
srcdir=${srcdir:-$here/..}
export srcdir
exec "${PYTHON3:-/usr/bin/python3}" "$srcdir/tests/kut/run.py" \
	--engine emulator --engine qemu "$@"
