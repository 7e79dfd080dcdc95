#!/bin/sh
# make check wrapper for tests/oracle/dec_zydis: the decoder against Zydis
# over the default guest's vmlinux .text, busybox's .text and 100,000
# random strings (--long: 1,000,000).  Skips (77) when the guest is not
# built (make guest) or configure did not find Zydis.
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
exec ./tests/oracle/dec_zydis -x "$srcdir/tests/oracle/dec_exceptions.txt" \
	-n "$n" "$dir/vmlinux" $bb
