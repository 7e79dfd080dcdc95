#!/bin/sh
# make check: the tests/guest programs on this host's KVM (run.sh);
# SKIP with rax's reason where KVM is unusable (tests/guest/nested.sh
# runs them on real KVM nested in QEMU).
# Run: make check TESTS=tests/guest/kvm.sh (from the build folder)
exec sh "${srcdir:-.}/tests/guest/run.sh" kvm "$@"
