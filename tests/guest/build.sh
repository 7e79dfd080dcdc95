#!/bin/sh
# Build the tests/guest programs as ELF kernels: OUTDIR/NAME.elf, each
# NAME.S linked with the runtime rt.S at 0x200000 (selftest.S alone).  A
# program whose source has a "rax-args: --flat ADDR" line is a flat
# binary instead, alone at ADDR: OUTDIR/NAME.bin, its rax options in
# OUTDIR/NAME.args (tests/guest/run.sh and nested.py pass them).
# Usage: srcdir=.. sh ../tests/guest/build.sh OUTDIR [NAME...]
# Exit status 77 when the toolchain cannot assemble them.
set -u
srcdir=${srcdir:-.}
g=$srcdir/tests/guest
out=$1
shift
names=${*:-$(cat "$g/programs")}
cc=${CC:-cc}
$cc -c -I"$g" -o "$out/rt.o" "$g/rt.S" || exit 77
for n in $names; do
	$cc -c -I"$g" -o "$out/$n.o" "$g/$n.S" || exit 77
	args=$(sed -n 's|.*rax-args: \(.*\) \*/.*|\1|p' "$g/$n.S")
	if [ -n "$args" ]; then
		set -- $args
		[ "$1" = --flat ] && [ -n "$2" ] || exit 99
		ld -static -nostdlib -Ttext="$2" -e _start --oformat binary \
			-o "$out/$n.bin" "$out/$n.o" || exit 77
		echo "$args" >"$out/$n.args"
	elif [ "$n" = selftest ]; then
		ld -static -nostdlib -Ttext=0x200000 -e _start \
			-o "$out/$n.elf" "$out/$n.o" || exit 77
	else
		ld -static -nostdlib -Ttext=0x200000 -e _start \
			-o "$out/$n.elf" "$out/rt.o" "$out/$n.o" || exit 77
	fi
done
exit 0
