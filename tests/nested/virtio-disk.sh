#!/bin/sh
# make check wrapper: on real KVM inside QEMU TCG, the default guest boots
# from an ext4 root on virtio-blk, writes a file, and the host checks the
# image (tests/nested/run.py --disk).  Skips (77) when the guest, the L1
# kernel, rax-static, QEMU or e2fsprogs is missing.
# Run: make check TESTS=tests/nested/virtio-disk.sh (from the build folder)
RAX_STATIC=./rax-static exec "${PYTHON3:-/usr/bin/python3}" \
	"${srcdir:-.}/tests/nested/run.py" --disk
