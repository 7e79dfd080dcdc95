#!/bin/sh
# KVM engine figures on real KVM (nested inside QEMU TCG, tests/nested):
# time from rax's start to the first KVM_RUN, and exits by reason for one
# boot of the default guest to its shell, ended by `reboot -f` typed 30 s
# after start (so the counts cover the boot to the marker plus the shell's
# start and the reboot).  A benchmark: it reports, it asserts nothing.
# Run from the build folder after `make rax-static guest guest-l1`:
#   sh ../bench/kvm-nested.sh
set -eu
src=$(dirname "$0")/..
RAX_STATIC=${RAX_STATIC:-./rax-static} "${PYTHON3:-/usr/bin/python3}" \
	"$src/tests/nested/run.py" --timeout 200 --cmd \
	'{ sleep 30; echo "reboot -f"; } | rax --backend kvm --stats' >/dev/null
grep -a -E "^rax: (start to first|kvm exits)|^rax:   |^  [a-z_]+ +[0-9]+|RAX-GUEST-READY|guest requested" \
	nested-console.log | tr -d '\r'
