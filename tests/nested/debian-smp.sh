#!/bin/sh
# make check wrapper: Debian's linux-image-amd64 boots with --cpus 4 on
# the interpreter and on real KVM nested in QEMU TCG, nproc prints 4 and
# poweroff ends rax with 0 (tests/nested/debian-smp.py says how).
# Run: make check TESTS=tests/nested/debian-smp.sh (from the build folder)
exec "${PYTHON3:-/usr/bin/python3}" "${srcdir:-.}/tests/nested/debian-smp.py"
