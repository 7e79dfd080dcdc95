#!/bin/sh
# Linux's x86 selftests on rax's interpreter and on QEMU TCG in the same
# run, one after the other on the same programs, kernel (Debian's
# linux-image-amd64) and initramfs: a table of each program's result per
# engine (pass, "pass, N skip" when it printed [SKIP] lines, FAIL(status),
# timeout) and the seconds each run took.  It reports, it asserts nothing.
# Run (from the source tree, after `make -C build`):
#   sh bench/selftests-x86.sh [--build build] [--cpus 2] [--cpu v2]
# The consoles are left in ./selftests-x86-*-console.log.
py=${PYTHON3:-/usr/bin/python3}
exec "$py" "$(dirname "$0")/../tests/selftests/x86.py" \
	--engines emulator,qemu --table "$@"
