#!/bin/sh
# Bad kernels and initrds make rax exit with status 2 and a one-line
# message naming the file and the problem (README "Exit status").
# Run: from the build folder, srcdir=.. sh ../tests/bad-input.sh
# (make check does that).
set -u
rax=./rax
test -x "$rax" || { echo "bad-input: $rax not built"; exit 99; }
t=$(mktemp -d "${TMPDIR:-/tmp}/rax-bad-input.XXXXXX") || exit 99
trap 'rm -rf "$t"' EXIT
fail=0

# expect WHAT PATTERN ARGS...: rax ARGS must exit 2 with PATTERN in stderr.
expect() {
	what=$1 pattern=$2
	shift 2
	$rax "$@" >"$t/out" 2>"$t/err" </dev/null
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

# put FILE OFFSET OCTAL-ESCAPES: patch bytes in place.
put() {
	printf "$3" | dd of="$1" bs=1 seek=$(($2)) conv=notrunc status=none
}

# bzimage FILE: a minimal 64-bit bzImage header (boot.rst) followed by
# 4 KiB of protected-mode code whose payload is 16 bytes at 0x300.
bzimage() {
	dd if=/dev/zero of="$1" bs=512 count=13 status=none
	put "$1" 0x1f1 '\004'                  # setup_sects
	put "$1" 0x1f4 '\000\001\000\000'      # syssize: 4 KiB
	put "$1" 0x1fe '\125\252'              # boot_flag 0xaa55
	put "$1" 0x200 '\353\152HdrS\017\002'  # jump, "HdrS", 2.15
	put "$1" 0x211 '\001'                  # LOADED_HIGH
	put "$1" 0x22c '\377\377\377\177'      # initrd_addr_max
	put "$1" 0x230 '\000\000\040\000\001'  # 2 MiB alignment, relocatable
	put "$1" 0x236 '\003\000\377\007'      # XLF_KERNEL_64, cmdline_size
	put "$1" 0x248 '\000\003\000\000\020'  # payload at 0x300, 16 bytes
	put "$1" 0x258 '\000\000\000\001'      # pref_address 16 MiB
	put "$1" 0x260 '\000\000\200\000'      # init_size 8 MiB
}

expect "missing kernel" "$t/nothing: cannot open the kernel" \
	--kernel "$t/nothing"
expect "directory" "$t: the kernel is not a regular file" --kernel "$t"
: >"$t/empty"
expect "empty file" "$t/empty: the kernel is empty" --kernel "$t/empty"
echo "just some text, long enough to hold a header if it were one" \
	>"$t/text"
expect "not a kernel" "$t/text: not a bzImage or ELF kernel" \
	--kernel "$t/text"

bzimage "$t/old"
put "$t/old" 0x206 '\005\002'
expect "old protocol" "$t/old: boot protocol 2.05 is too old" \
	--kernel "$t/old"
bzimage "$t/hdrs"
put "$t/hdrs" 0x202 'XXXX'
expect "no HdrS" "$t/hdrs: boot protocol too old" --kernel "$t/hdrs"
bzimage "$t/k32"
put "$t/k32" 0x236 '\000'
expect "32-bit only" "$t/k32: not a 64-bit kernel" --kernel "$t/k32"
bzimage "$t/trunc"
dd if="$t/trunc" of="$t/short" bs=1024 count=4 status=none
expect "truncated bzImage" "$t/short: truncated bzImage" --kernel "$t/short"
dd if="$t/trunc" of="$t/tiny" bs=1 count=600 status=none
expect "truncated setup header" "$t/tiny: truncated bzImage" \
	--kernel "$t/tiny"

bzimage "$t/huge"
put "$t/huge" 0x260 '\000\000\000\020'     # init_size 256 MiB
expect "kernel larger than memory" "$t/huge: the kernel needs" \
	--kernel "$t/huge" --mem 64M --decompress guest

bzimage "$t/ok"
truncate -s 100M "$t/bigrd"
expect "initrd larger than memory" "$t/bigrd: the initrd" \
	--kernel "$t/ok" --initrd "$t/bigrd" --mem 64M --decompress guest
expect "missing initrd" "$t/nord: cannot open the initrd" \
	--kernel "$t/ok" --initrd "$t/nord" --decompress guest

bzimage "$t/gz"
put "$t/gz" $((0xa00 + 0x300)) '\037\213\010\000garbage!garbage'
expect "corrupt gzip payload" "$t/gz: corrupt gzip payload" \
	--kernel "$t/gz" --decompress host
bzimage "$t/bz2"
put "$t/bz2" $((0xa00 + 0x300)) 'BZh91AY&SY'
expect "bzip2 payload" \
	"$t/bz2: compression bzip2 not supported on the host; use --decompress guest" \
	--kernel "$t/bz2" --decompress host

printf '\177ELF\001\001\001' >"$t/elf32"
dd if=/dev/zero bs=1 count=100 status=none >>"$t/elf32"
expect "32-bit ELF" "$t/elf32: not an x86-64 ELF64 kernel" --kernel "$t/elf32"
printf '\177ELF\002\001\001' >"$t/elfshort"
expect "truncated ELF" "$t/elfshort: truncated ELF" --kernel "$t/elfshort"

# --disk (src/devices/virtio): images are opened before the kernel.
expect "missing disk image" "--disk $t/nodisk: No such file or directory" \
	--kernel "$t/ok" --disk "$t/nodisk"
expect "disk image is a directory" "--disk $t: is a directory" \
	--kernel "$t/ok" --disk "$t"
expect "empty disk image" "--disk $t/empty: smaller than one 512-byte sector" \
	--kernel "$t/ok" --disk "$t/empty"
truncate -s 1M "$t/disk"
if command -v flock >/dev/null; then
	# A second writer of an image in use (flock(1) holds it here).
	flock -x "$t/disk" sh -c "'$rax' --kernel '$t/ok' --disk '$t/disk' \
		>'$t/out' 2>'$t/err' </dev/null; echo \$? >'$t/status'"
	if [ "$(cat "$t/status")" = 2 ] && [ "$(wc -l <"$t/err")" = 1 ] &&
	   grep -q -- "--disk $t/disk: locked by another process" "$t/err"; then
		echo "ok: locked disk image: $(cat "$t/err")"
	else
		echo "FAIL: locked disk image: status $(cat "$t/status"):"
		sed 's/^/  /' "$t/err"
		fail=1
	fi
fi
# --net: a forward on a port in use is bad input (2); a malformed --net,
# or --net in a rax built without libslirp, a usage error (1).
# status WHAT STATUS PATTERN ARGS...: like expect, another status.
status() {
	what=$1 want=$2 pattern=$3
	shift 3
	$rax "$@" >"$t/out" 2>"$t/err" </dev/null
	st=$?
	if [ "$st" -ne "$want" ] || ! grep -q -- "$pattern" "$t/err" ||
	   [ "$(wc -l <"$t/err")" -ne 1 ]; then
		echo "FAIL: $what: status $st (expected $want), stderr:"
		sed 's/^/  /' "$t/err"
		fail=1
	else
		echo "ok: $what: $(cat "$t/err")"
	fi
}
if $rax --kernel "$t/ok" --net user 2>&1 </dev/null |
   grep -q "without libslirp"; then
	status "--net without libslirp" 1 "built without libslirp" \
		--kernel "$t/ok" --net user
else
	status "malformed --net" 1 "--net tap: expected user" \
		--kernel "$t/ok" --net tap
	status "malformed hostfwd" 1 "hostfwd=tcp:80-:80: expected" \
		--kernel "$t/ok" --net user,hostfwd=tcp:80-:80
	status "unknown --net parameter" 1 "unknown parameter 'foo=1'" \
		--kernel "$t/ok" --net user,foo=1
	# A port held by a listener this script starts (and kills, by PID).
	"${PYTHON3:-/usr/bin/python3}" -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True); time.sleep(60)' >"$t/port" &
	holder=$!
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		[ -s "$t/port" ] && break
		sleep 0.5
	done
	port=$(cat "$t/port")
	status "busy forward port" 2 "cannot listen on 127.0.0.1:$port" \
		--kernel "$t/ok" --net "user,hostfwd=tcp::$port-:80"
	kill "$holder"
	wait "$holder" 2>/dev/null
fi

# --flat (a flat binary started in real mode): the address must be below
# 1 MiB (a bad option, 1), the file must fit in RAM from there (bad
# input, 2), and it takes no initrd.
printf '\364' >"$t/hlt.bin"
status "--flat at 1 MiB" 1 "--flat 0x100000: expected an address below 1 MiB" \
	--kernel "$t/hlt.bin" --flat 0x100000
status "--flat not a number" 1 "--flat 7c00h: expected an address" \
	--kernel "$t/hlt.bin" --flat 7c00h
status "--flat without a kernel" 1 "--flat needs --kernel" --flat 0x7c00
status "--flat with an initrd" 1 "a flat binary takes no --initrd" \
	--kernel "$t/hlt.bin" --flat 0x7c00 --initrd "$t/hlt.bin"
truncate -s 17M "$t/big.bin"
expect "--flat binary larger than memory" \
	"$t/big.bin: 17825792 bytes at 0x7c00 do not fit in guest memory" \
	--kernel "$t/big.bin" --flat 0x7c00 --mem 16M

# No permission: root reads any file, so as root run rax as nobody
# (setpriv, util-linux) on a folder nobody may enter.
chmod 000 "$t/disk"
chmod 755 "$t"
if [ "$(id -u)" != 0 ]; then
	expect "unreadable disk image" "--disk $t/disk: Permission denied" \
		--kernel "$t/ok" --disk "$t/disk"
else
	rax_as_root=$rax
	rax="setpriv --reuid=65534 --regid=65534 --clear-groups $(pwd)/rax"
	expect "unreadable disk image" "--disk $t/disk: Permission denied" \
		--kernel "$t/ok" --disk "$t/disk"
	rax=$rax_as_root
fi

exit $fail
