#!/bin/sh
# make check wrapper for tests/diff/diffexec: 3,000 seeded random
# sequences on the host CPU and on the interpreter (--long: 100,000).
# Run: make check TESTS=tests/diff/diffexec.sh (from the build folder)
n=3000
[ "$1" = --long ] && n=100000
exec ./tests/diff/diffexec --seed 1 --count "$n"
