#!/bin/sh
# The guest programs in tests/guest on every engine that runs here.
# selftest.S must print PASS; each system-level program NAME.S (listed in
# tests/guest/programs) must print exactly NAME.expect on COM1, whose
# values are written by hand from the SDM, and exit through
# isa-debug-exit with 0 (rax status 1).  NAME.opts adds rax options.
# KVM is tried too and skipped
# when unusable (this machine's kvm_pvm; tests/guest/nested.py runs them
# on real KVM).
# Run: from the build folder, srcdir=.. sh ../tests/guest/run.sh [NAME...]
set -u
srcdir=${srcdir:-.}
g=$srcdir/tests/guest
rax=./rax
test -x "$rax" || { echo "guest: $rax not built"; exit 99; }
t=$(mktemp -d "${TMPDIR:-/tmp}/rax-guest.XXXXXX") || exit 99
trap 'rm -rf "$t"' EXIT
names=${*:-selftest $(cat "$g/programs")}
if ! sh "$g/build.sh" "$t" $names; then
	echo "guest: cannot assemble the guest programs (SKIP)"
	exit 77
fi

# run ENGINE NAME: 0 pass, 1 fail, 2 engine unusable.  NAME.opts, when
# present, holds more rax options (ladder: --flat 0x8000, a flat binary
# that build.sh made NAME.bin).
run() {
	opts=$(cat "$g/$2.opts" 2>/dev/null)
	k=$t/$2.elf
	[ -f "$t/$2.bin" ] && k=$t/$2.bin
	# shellcheck disable=SC2086
	timeout 60 "$rax" --backend "$1" --kernel "$k" --mem 64M \
		$opts >"$t/out" 2>"$t/err" </dev/null
	status=$?
	tr -d '\r' <"$t/out" >"$t/$2.$1.out"
	if [ "$1" = kvm ] && [ ! -s "$t/out" ] && grep -q "KVM" "$t/err"; then
		return 2
	fi
	if [ "$2" = selftest ]; then
		[ $status -eq 1 ] && grep -q "rax-guest-selftest: PASS" "$t/out"
		return $?
	fi
	diff -u "$g/$2.expect" "$t/$2.$1.out" >"$t/diff" 2>&1 &&
		[ $status -eq 1 ] || return 1
}

fail=0
for engine in emulator kvm; do
	for n in $names; do
		run $engine $n
		case $? in
		0) echo "ok: $engine: $n ($(grep -c . "$t/$n.$engine.out") lines)" ;;
		2) echo "skip: kvm: $(head -1 "$t/err")"; break ;;
		*) echo "FAIL: $engine: $n: rax status $status"
		   sed 's/^/  /' "$t/diff"
		   sed 's/^/  err: /' "$t/err"
		   fail=1 ;;
		esac
	done
done
exit $fail
