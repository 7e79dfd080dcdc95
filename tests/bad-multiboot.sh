#!/bin/sh
# Bad Multiboot images make rax exit with status 2 and a one-line message
# naming the file and the problem (README "Exit status"); a good one runs
# to its isa-debug-exit (status 1), or, on an engine that cannot start in
# 32-bit protected mode, ends with status 3 and that engine's one-line
# reason.
# Run: from the build folder, srcdir=.. sh ../tests/bad-multiboot.sh
# (make check does that).
set -u
rax=./rax
test -x "$rax" || { echo "bad-multiboot: $rax not built"; exit 99; }
t=$(mktemp -d "${TMPDIR:-/tmp}/rax-bad-multiboot.XXXXXX") || exit 99
trap 'rm -rf "$t"' EXIT
fail=0

# le32 N: N as four little-endian bytes on stdout.
le32() {
	printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($1 & 255)) \
		$(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)))"
}

# aout FILE FLAGS LOAD_END BSS_END ENTRY: a flat image with the a.out
# kludge (flag 16 is added), header at file offset 0 loaded at 1 MiB,
# and at 0x20: mov $0xf4, %edx; xor %eax, %eax; out %eax, %dx; hlt.
aout() {
	flags=$(($2 | 0x10000))
	{
		le32 $((0x1badb002))
		le32 $flags
		le32 $(((0 - 0x1badb002 - flags) & 0xffffffff))
		le32 $((0x100000)); le32 $((0x100000))
		le32 $(($3)); le32 $(($4)); le32 $(($5))
		printf '\272\364\000\000\000\061\300\357\364\353\375'
	} >"$1"
}

# expect WHAT PATTERN ARGS...: rax ARGS must exit 2 with PATTERN in stderr.
expect() {
	what=$1 pattern=$2
	shift 2
	"$rax" "$@" >"$t/out" 2>"$t/err" </dev/null
	status=$?
	if [ "$status" -ne 2 ] || ! grep -q -- "$pattern" "$t/err"; then
		echo "FAIL: $what: status $status, stderr:"
		sed 's/^/  /' "$t/err"
		fail=1
	elif [ "$(wc -l <"$t/err")" -ne 1 ]; then
		echo "FAIL: $what: more than one line:"
		sed 's/^/  /' "$t/err"
		fail=1
	else
		echo "ok: $what: $(cat "$t/err")"
	fi
}

aout "$t/video" 4 0 0 0x100020
expect "video mode" "$t/video: the Multiboot header asks for a video mode" \
	--kernel "$t/video"
aout "$t/flag9" 0x200 0 0 0x100020
expect "unknown required flag" "requires features rax does not know" \
	--kernel "$t/flag9"
aout "$t/entry" 0 0 0 0x200000
expect "entry outside" "$t/entry: Multiboot entry_addr 0x200000 is outside" \
	--kernel "$t/entry"
aout "$t/end" 0 0x100100 0 0x100020
expect "load_end past the file" "$t/end: Multiboot load_end_addr 0x100100" \
	--kernel "$t/end"
aout "$t/bss" 0 0 0x4000000 0x100020
expect "bss past RAM" \
	"$t/bss: the image 0x100000-0x4000000 is outside guest RAM" \
	--kernel "$t/bss" --mem 32M
aout "$t/short0" 0 0 0 0x100020
head -c 20 "$t/short0" >"$t/short"
expect "header cut short" "$t/short: truncated Multiboot header" \
	--kernel "$t/short"
{ printf '\177ELF\002\001\001'; head -c 57 /dev/zero; cat "$t/video"; } \
	>"$t/elf64"
put32() { le32 "$3" | dd of="$1" bs=1 seek=$(($2)) conv=notrunc status=none; }
put32 "$t/elf64" $((64 + 4)) 0      # flags 0: not the a.out kludge
put32 "$t/elf64" $((64 + 8)) $(((0 - 0x1badb002) & 0xffffffff))
expect "ELF64 without the kludge" "$t/elf64: a Multiboot ELF must be ELF32" \
	--kernel "$t/elf64"
truncate -s 64M "$t/bigmod"
aout "$t/ok" 0 0 0 0x100020
expect "module too large" "$t/bigmod: the initrd" \
	--kernel "$t/ok" --initrd "$t/bigmod" --mem 32M

# The good image: debug-exit 0 (status 1).
"$rax" --kernel "$t/ok" >"$t/out" 2>"$t/err" </dev/null
status=$?
if [ "$status" -eq 1 ]; then
	echo "ok: good image: ran to isa-debug-exit 0"
else
	echo "FAIL: good image: status $status, stderr:"
	sed 's/^/  /' "$t/err"
	fail=1
fi
exit $fail
