#!/bin/sh
# Build the tests/guest programs as ELF kernels: OUTDIR/NAME.elf, each
# NAME.S linked with the runtime rt.S at 0x200000 (selftest.S alone).  A
# program whose NAME.opts (more rax options, which run.sh and nested.py
# pass) says --flat ADDR is a flat binary instead, alone at ADDR:
# OUTDIR/NAME.bin.
# Usage: srcdir=.. sh ../tests/guest/build.sh OUTDIR [NAME...]
# Exit status 1 when they cannot be assembled or linked.
set -u
srcdir=${srcdir:-.}
g=$srcdir/tests/guest
out=$1
shift
names=${*:-$(cat "$g/programs")}
cc=${CC:-cc}
$cc -c -I"$g" -o "$out/rt.o" "$g/rt.S" || exit 1
for n in $names; do
	$cc -c -I"$g" -o "$out/$n.o" "$g/$n.S" || exit 1
	flat=$(sed -n 's/.*--flat \([^ ]*\).*/\1/p' "$g/$n.opts" 2>/dev/null)
	if [ -n "$flat" ]; then
		ld -static -nostdlib -Ttext="$flat" -e _start --oformat binary \
			-o "$out/$n.bin" "$out/$n.o" || exit 1
	elif [ "$n" = selftest ]; then
		ld -static -nostdlib -Ttext=0x200000 -e _start \
			-o "$out/$n.elf" "$out/$n.o" || exit 1
	else
		ld -static -nostdlib -Ttext=0x200000 -e _start \
			-o "$out/$n.elf" "$out/rt.o" "$out/$n.o" || exit 1
	fi
done
exit 0
