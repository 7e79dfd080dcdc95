#!/bin/sh
# make check wrapper for tests/diff/diffexec, 64-bit code: 2,000 seeded
# random sequences on the x86-64-v1 model and 5,000 on the default
# model, on the host CPU and on the interpreter (--long: 20,000 and
# 100,000), the latter also on the fast path with every trace
# translated (--jit), after checking that the comparison itself catches a
# corrupted result in every one of 50 sequences (--inject).  With
# --mode32 first (tests/diff/diffexec32.sh): 2,000 sequences of 32-bit
# code in compatibility mode instead (--long: 20,000); diffexec skips
# (77) on a host that cannot run 32-bit code.
# Run: make check TESTS=tests/diff/diffexec.sh (from the build folder)
mode=64
[ "$1" = --mode32 ] && { mode=32; shift; }
n=5000 n1=2000
[ "$1" = --long ] && n=100000 n1=20000
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
[ $mode = 32 ] && exec ./tests/diff/diffexec --mode 32 --seed 1 --count "$n1"
# The default CPU model (the highest the host has), and x86-64-v1, where
# every instruction of a higher level must raise #UD.
./tests/diff/diffexec --cpu v1 --seed 3 --count "$n1" || exit 1
# --jit: each sequence runs again on the fast path with every trace
# translated (src/cpu/jit.c), against the same host result, faults
# included; first the families whose instructions the translator runs
# inline (ADC after an inline ALU operation is rare in the default mix).
./tests/diff/diffexec --seed 11 --count "$n" --jit \
	--family alu,cond,mov,incdec || exit 1
./tests/diff/diffexec --seed 12 --count "$n1" --jit \
	--family alu,flags,cond,stack,mov,shift,muldiv,incdec || exit 1
# the code a TLB miss runs (the handler out of line, then back)
./tests/diff/diffexec --seed 13 --count "$n1" --jit-tlb-miss \
	--family alu,cond,mov,incdec,stack || exit 1
out=$(./tests/diff/diffexec --seed 1 --count "$n" --jit)
st=$?
echo "$out"
[ $st = 0 ] || exit $st
n_jit=$(echo "$out" | sed -n 's/^diffexec: --jit: \([0-9]*\) sequences.*/\1/p')
[ "${n_jit:-0}" -gt 0 ] || { echo "FAIL: --jit ran no sequence on the fast path"; exit 1; }
