#!/bin/sh
# The selftest guest (tests/guest/selftest.S) passes on every engine that
# runs here: built as a small ELF kernel, it must print PASS on COM1 and
# exit through isa-debug-exit with status 1 (pass).  KVM is tried too and
# skipped when unusable.
# Run: from the build folder, srcdir=.. sh ../tests/guest/run.sh
set -u
srcdir=${srcdir:-.}
rax=./rax
test -x "$rax" || { echo "guest: $rax not built"; exit 99; }
t=$(mktemp -d "${TMPDIR:-/tmp}/rax-guest.XXXXXX") || exit 99
trap 'rm -rf "$t"' EXIT
cc=${CC:-cc}
if ! $cc -c -o "$t/selftest.o" "$srcdir/tests/guest/selftest.S" ||
   ! ld -static -nostdlib -Ttext=0x200000 -e _start -o "$t/selftest.elf" \
	"$t/selftest.o"; then
	echo "guest: cannot assemble the selftest (SKIP)"
	exit 77
fi
fail=0
for engine in emulator kvm; do
	timeout 60 "$rax" --backend $engine --kernel "$t/selftest.elf" \
		--mem 64M >"$t/out" 2>"$t/err" </dev/null
	status=$?
	if [ $engine = kvm ] && grep -q "kvm\|KVM" "$t/err" &&
	   ! grep -q "rax-guest-selftest" "$t/out"; then
		echo "skip: kvm: $(head -1 "$t/err")"
		continue
	fi
	if [ $status -eq 1 ] && grep -q "rax-guest-selftest: PASS" "$t/out"; then
		echo "ok: $engine: $(tr -d '\r' <"$t/out" | grep selftest)"
	else
		echo "FAIL: $engine: status $status"
		sed 's/^/  out: /' "$t/out"
		sed 's/^/  err: /' "$t/err"
		fail=1
	fi
done
exit $fail
