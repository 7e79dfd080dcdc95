# tests/bm/bochs.sh: sourced by the tests/bm/*.test scripts.  Boots
# bm/rax-bm.img (from the build tree, the current directory under
# "make check") in Bochs 2.7 headless with CPU model $1 and leaves COM1's
# output in $out/serial.txt.  If $bm_patch names a function, it is called
# with the copy of the image first.  $bm_out names a folder for the run
# instead of a new one, $bm_com1 the Bochs COM1 mode instead of the file
# serial.out (bm/bochsrc.in), $bm_megs the RAM (MiB) and
# $bm_ticks the budget in Bochs ticks (below; 1e9 unless set: the
# built-in guest's runs end at about 0.2e9, mostly the BIOS).  Skips
# (77) when bochs or the image (no nasm) is missing.
#
# The budget is virtual time, not wall time: bochsrc.in has "clock:
# sync=none" and "ips=60000000", so Bochs's clock advances one tick per
# instruction (and jumps ahead while the CPU halts), the PIT and the TSC
# follow it (the guest kernel measures a 60 MHz TSC), and a run needs the
# same number of ticks however loaded the host is.  The Bochs debugger's
# "sba" (time breakpoint at an absolute tick) stops a run that uses up
# its budget; timeout(1) only guards against Bochs itself hanging.
#
# Run by hand: cd build && srcdir=.. sh ../tests/bm/boots-guest-under-vmx.test
set -u
: "${srcdir:=.}"
img=bm/rax-bm.img
bochs=${BOCHS:-$(command -v bochs || true)}
if [ -z "$bochs" ]; then
	echo "SKIP: bochs not installed"; exit 77
fi
if [ ! -f "$img" ]; then
	if ! command -v nasm >/dev/null; then
		echo "SKIP: nasm not installed, $img not built"; exit 77
	fi
	echo "ERROR: $img missing although nasm is installed"; exit 99
fi

bm_boot() {
	model=$1
	out=${bm_out:-$(mktemp -d "${TMPDIR:-/tmp}/rax-bm.XXXXXX")} || exit 99
	# Each run gets its own copy: Bochs opens the disk read-write.
	cp "$img" "$out/disk.img"
	if [ -n "${bm_patch:-}" ]; then
		$bm_patch "$out/disk.img" || exit 99
	fi
	sed -e "s|@IMG@|disk.img|" -e "s|@MODEL@|$model|" \
	    -e "s|@COM1@|${bm_com1:-mode=file, dev=serial.out}|" \
	    -e "s|@LOG@|bochs.log|" \
	    -e "s|@DISPLAY@|term|" -e "s|@MEGS@|${bm_megs:-64}|" \
	    -e "s|@CYLS@|$(( $(wc -c < "$out/disk.img") / 516096 ))|" \
	    "$srcdir/bm/bochsrc.in" > "$out/bochsrc"
	printf 'sba %s\nc\nquit\n' "${bm_ticks:-1000000000}" > "$out/dbg.rc"
	# The guest ends the run through port 0x8900 (bm_shutdown);
	# timeout(1) stops only the script(1) it started if that never
	# happens.
	(cd "$out" && timeout -k 5 600 script -qec \
		"$bochs -q -f bochsrc -rc dbg.rc" /dev/null \
		> term.out 2>&1 < /dev/null)
	st=$?
	# Bochs log lines start with the tick count: the last one dates
	# the end of the run.
	ticks=$(tail -n 1 "$out/bochs.log" 2>/dev/null | sed -n 's/^0*\([0-9][0-9]*\)[a-z]\[.*/\1/p')
	echo "bochs ($model) finished with status $st at tick ${ticks:-?};" \
		"output in $out"
	if grep -q "Caught time breakpoint" "$out/term.out"; then
		echo "bochs: stopped at the budget of ${bm_ticks:-1000000000} ticks"
	fi
	tr -d '\r' < "$out/serial.out" > "$out/serial.txt" 2>/dev/null
	cat "$out/serial.txt"
}

# expect_in_order FILE STRING...: each STRING on a line after the
# previous one's line.
expect_in_order() {
	file=$1; shift
	line=0
	for pat in "$@"; do
		n=$(awk -v start="$line" -v pat="$pat" \
			'NR > start && index($0, pat) { print NR; exit }' "$file")
		if [ -z "$n" ]; then
			echo "FAIL: '$pat' missing (after line $line)"
			grep -i -E 'vmentry|vmlaunch|vmexit|check' \
				"$(dirname "$file")/bochs.log" | tail -5
			return 1
		fi
		line=$n
	done
}
