#!/bin/sh
# make check wrapper for tests/oracle/dec_zydis: the decoder against Zydis
# over the default guest's vmlinux .text, busybox's .text and 100,000
# random strings (--long: 1,000,000), then as many in 32- and 16-bit code
# segments.  Skips (77) when the guest is not built (make guest) or
# configure did not find Zydis.
# Run: make check TESTS=tests/oracle/dec_zydis.sh (from the build folder)
srcdir=${srcdir:-.}
if [ ! -x ./tests/oracle/dec_zydis ]; then
	echo "SKIP: configure did not find Zydis (apt-get install libzydis-dev)"
	exit 77
fi
dir=$(bash "$srcdir/examples/build-guest.sh" --print-dir 2>/dev/null)
if [ ! -f "$dir/vmlinux" ]; then
	echo "SKIP: the default guest is not built: run 'make guest'"
	exit 77
fi
n=100000
[ "$1" = --long ] && n=1000000
bb=/bin/busybox
[ -f "$bb" ] || bb=
x=$srcdir/tests/oracle/dec_exceptions.txt
./tests/oracle/dec_zydis -x "$x" -n "$n" "$dir/vmlinux" $bb || exit 1
# 32- and 16-bit code segments: random strings only.
./tests/oracle/dec_zydis -m 32 -x "$x" -n "$n" || exit 1
exec ./tests/oracle/dec_zydis -m 16 -x "$x" -n "$n"
