#!/bin/sh
# Every bad option makes rax exit with status 1 (2 for a malformed --mem)
# and exactly one line on stderr, printed before any engine is probed
# (no "rax: engine:" line, no KVM self-test message) and before the
# default guest is looked up (README "Exit status").
# Run: from the build folder, srcdir=.. sh ../tests/bad-options.sh
# (make check does that).
set -u
rax=./rax
test -x "$rax" || { echo "bad-options: $rax not built"; exit 99; }
t=$(mktemp -d "${TMPDIR:-/tmp}/rax-bad-options.XXXXXX") || exit 99
trap 'rm -rf "$t"' EXIT
# Any readable file: options are checked before the kernel is read.
k=$0
fail=0

# expect STATUS PATTERN ARGS...
expect() {
	want=$1 pattern=$2
	shift 2
	"$rax" "$@" >"$t/out" 2>"$t/err" </dev/null
	status=$?
	if [ "$status" -ne "$want" ] || ! grep -q -- "$pattern" "$t/err" ||
	   [ "$(wc -l <"$t/err")" -ne 1 ]; then
		echo "FAIL: rax $*: status $status (want $want), stderr:"
		sed 's/^/  /' "$t/err"
		fail=1
	else
		echo "ok: rax $*: $(cat "$t/err")"
	fi
}

expect 1 "expected \[HOST:\]PORT" --gdb 999999
expect 1 "expected \[HOST:\]PORT" --gdb 999999 --kernel "$k"
expect 1 "HOST must be a numeric" --gdb example.com:1234 --kernel "$k"
expect 1 "bad socket path" --gdb unix: --kernel "$k"
expect 1 "No such file" --gdb /nonexistent/ttyS1 --kernel "$k"
expect 1 "not a terminal" --gdb "$k" --kernel "$k"
expect 1 "expected auto, kvm or emulator" --backend qemu --kernel "$k"
expect 1 "expected auto, host or guest" --decompress both --kernel "$k"
expect 1 "expected virtual or host" --clock wall --kernel "$k"
expect 1 "expected now" --rtc-base yesterday --kernel "$k"
expect 1 "--acpi maybe: expected on or off" --acpi maybe --kernel "$k"
expect 1 "needs an argument" --kernel "$k" --acpi
expect 1 "--jit maybe: expected on or off" --jit maybe --kernel "$k"
expect 1 "expected --trace or --trace=regs" --trace=all --kernel "$k"
expect 1 "KVM engine cannot trace" --backend kvm --trace --kernel "$k"
expect 1 "expected v1, v2 or v3" --cpu pentium --kernel "$k"
expect 1 "expected v1, v2 or v3" --cpu v4 --kernel "$k"
expect 1 "KVM engine runs the host's CPU model" --cpu v1 --backend kvm --kernel "$k"
expect 1 "not a hex address" --trace-from start_kernel --kernel "$k"
expect 1 "expected LEVEL" --log loud --kernel "$k"
expect 1 "needs --gdb" --gdb-wait --kernel "$k"
expect 1 "unknown option" --frobnicate --kernel "$k"
expect 1 "needs an argument" --kernel
expect 1 "unexpected argument" --kernel "$k" extra
expect 2 "not a size" --mem 1K --kernel "$k"
expect 1 "from 1 to 64" --cpus 0 --kernel "$k"
expect 1 "from 1 to 64" --cpus 65 --kernel "$k"
expect 1 "from 1 to 64" --cpus 2x --kernel "$k"
expect 1 "expected a number of instructions" --quantum 0 --kernel "$k"
RAX_LOG=loud expect 1 "RAX_LOG=loud" --kernel "$k"
exit $fail
