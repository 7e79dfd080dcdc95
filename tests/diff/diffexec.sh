#!/bin/sh
# make check wrapper for tests/diff/diffexec, 64-bit code: 2,000 seeded
# random sequences on the x86-64-v1 model and 5,000 on the default
# model, on the host CPU and on the interpreter (--long: 20,000 and
# 100,000), after checking that the comparison itself catches a
# corrupted result in every one of 50 sequences (--inject).  32-bit
# code: tests/diff/diffexec32.sh.
# Run: make check TESTS=tests/diff/diffexec.sh (from the build folder)
n=5000 n1=2000
[ "$1" = --long ] && n=100000 n1=20000
out=$(./tests/diff/diffexec --seed 7 --count 50 --inject --max-fail 1000)
st=$?
[ $st = 77 ] && { echo "$out"; exit 77; }
case "$out" in
*"; 50 mismatches"*) ;;
*) echo "$out"
   echo "FAIL: --inject: not every corrupted result was caught"
   exit 1 ;;
esac
# The default CPU model (the highest the host has), and x86-64-v1, where
# every instruction of a higher level must raise #UD.
./tests/diff/diffexec --cpu v1 --seed 3 --count "$n1" || exit 1
exec ./tests/diff/diffexec --seed 1 --count "$n"
