#!/bin/sh
# make check wrapper for tests/diff/diffexec: 2,000 seeded random
# sequences of 32-bit code in compatibility mode, 2,000 of 64-bit code on
# the x86-64-v1 model and 5,000 on the default model, on the host CPU and
# on the interpreter (--long: 20,000, 20,000 and 100,000),
# after checking that the comparison itself catches a corrupted result
# in every one of 50 sequences of each (--inject).
# Run: make check TESTS=tests/diff/diffexec.sh (from the build folder)
n=5000 n32=2000
[ "$1" = --long ] && n=100000 n32=20000
for mode in 64 32; do
	out=$(./tests/diff/diffexec --mode $mode --seed 7 --count 50 --inject \
		--max-fail 1000)
	st=$?
	[ $st = 77 ] && { echo "$out"; exit 77; }
	case "$out" in
	*"; 50 mismatches"*) ;;
	*) echo "$out"
	   echo "FAIL: --inject --mode $mode: not every corrupted result was caught"
	   exit 1 ;;
	esac
done
# 32-bit code in compatibility mode (the host's __USER32_CS), then 64-bit,
# on the default CPU model (the highest) and on x86-64-v1, where every
# instruction of a higher level must raise #UD.
./tests/diff/diffexec --mode 32 --seed 1 --count "$n32" || exit 1
./tests/diff/diffexec --cpu v1 --seed 3 --count "$n32" || exit 1
exec ./tests/diff/diffexec --seed 1 --count "$n"
