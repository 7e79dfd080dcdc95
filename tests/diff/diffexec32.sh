#!/bin/sh
# make check wrapper for tests/diff/diffexec, 32-bit code in
# compatibility mode (the host's __USER32_CS): 2,000 seeded random
# sequences on the host CPU and on the interpreter (--long: 20,000),
# after checking that the comparison catches a corrupted result in
# every one of 50 sequences (--inject).  Skips (77) on a host that
# cannot run 32-bit code (diffexec probes the far jump first).
# Run: make check TESTS=tests/diff/diffexec32.sh (from the build folder)
n=2000
[ "$1" = --long ] && n=20000
out=$(./tests/diff/diffexec --mode 32 --seed 7 --count 50 --inject \
	--max-fail 1000)
st=$?
[ $st = 77 ] && { echo "$out"; exit 77; }
case "$out" in
*"; 50 mismatches"*) ;;
*) echo "$out"
   echo "FAIL: --inject --mode 32: not every corrupted result was caught"
   exit 1 ;;
esac
exec ./tests/diff/diffexec --mode 32 --seed 1 --count "$n"
