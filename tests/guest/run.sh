#!/bin/sh
# The guest programs in tests/guest on one engine: selftest.S must print
# PASS; each system-level program NAME.S (listed in tests/guest/programs)
# must print exactly NAME.expect on COM1, whose values are written by
# hand from the SDM, and exit through isa-debug-exit with 0 (rax status
# 1).  make check runs it once per engine (tests/guest/emulator.sh,
# tests/guest/kvm.sh); an engine that cannot run here (this machine's
# kvm_pvm fails rax's KVM self-test) is a SKIP with rax's reason, and
# tests/guest/nested.py runs the programs on real KVM.  NAME.opts, when
# present, holds more rax options (ladder: --flat 0x8000, a flat binary
# that build.sh made NAME.bin; smp and apboot: --cpus N too).
# Run: from the build folder,
#   srcdir=.. sh ../tests/guest/run.sh emulator|kvm [NAME...]
set -u
srcdir=${srcdir:-.}
g=$srcdir/tests/guest
rax=./rax
engine=${1:-}
case $engine in
emulator|kvm) shift ;;
*) echo "usage: run.sh emulator|kvm [NAME...]"; exit 99 ;;
esac
test -x "$rax" || { echo "guest: $rax not built"; exit 99; }
t=$(mktemp -d "${TMPDIR:-/tmp}/rax-guest.XXXXXX") || exit 99
trap 'rm -rf "$t"' EXIT
names=${*:-selftest $(cat "$g/programs")}
# The compiler and linker built rax: failing to assemble is a failure.
if ! sh "$g/build.sh" "$t" $names; then
	echo "FAIL: cannot assemble the guest programs"
	exit 1
fi

# run NAME: 0 pass, 1 fail, 2 engine unusable.
run() {
	opts=$(cat "$g/$1.opts" 2>/dev/null)
	k=$t/$1.elf
	[ -f "$t/$1.bin" ] && k=$t/$1.bin
	# shellcheck disable=SC2086
	timeout 60 "$rax" --backend "$engine" --kernel "$k" --mem 64M \
		$opts >"$t/out" 2>"$t/err" </dev/null
	status=$?
	tr -d '\r' <"$t/out" >"$t/$1.out"
	# Status 1 before rax names its engine: no usable engine.
	if [ $status -eq 1 ] && ! grep -q "^rax: engine: " "$t/err"; then
		return 2
	fi
	: >"$t/diff"
	if [ "$1" = selftest ]; then
		[ $status -eq 1 ] && grep -q "rax-guest-selftest: PASS" "$t/out"
		return $?
	fi
	diff -u "$g/$1.expect" "$t/$1.out" >"$t/diff" 2>&1 &&
		[ $status -eq 1 ] || return 1
}

fail=0
for n in $names; do
	run "$n"
	case $? in
	0) echo "ok: $engine: $n ($(grep -c . "$t/$n.out") lines)" ;;
	2) echo "SKIP: the $engine engine cannot run here: $(grep "^rax: " "$t/err" | tail -1)"
	   exit 77 ;;
	*) echo "FAIL: $engine: $n: rax status $status"
	   sed 's/^/  /' "$t/diff"
	   sed 's/^/  err: /' "$t/err"
	   fail=1 ;;
	esac
done
exit $fail
