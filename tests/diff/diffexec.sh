#!/bin/sh
# make check wrapper for tests/diff/diffexec: 5,000 seeded random
# sequences on the host CPU and on the interpreter (--long: 100,000),
# after checking that the comparison itself catches a corrupted result
# in every one of 50 sequences (--inject).
# Run: make check TESTS=tests/diff/diffexec.sh (from the build folder)
n=5000
[ "$1" = --long ] && n=100000
out=$(./tests/diff/diffexec --seed 7 --count 50 --inject --max-fail 1000)
st=$?
[ $st = 77 ] && { echo "$out"; exit 77; }
case "$out" in
*"; 50 mismatches"*) ;;
*) echo "$out"; echo "FAIL: --inject: not every corrupted result was caught"
   exit 1 ;;
esac
exec ./tests/diff/diffexec --seed 1 --count "$n"
