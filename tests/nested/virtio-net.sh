#!/bin/sh
# make check wrapper: on real KVM inside QEMU TCG, the guest's user-mode
# network with L1 as its host: DHCP, a page from L1's 127.0.0.1 fetched
# as 10.0.2.2, a forward from L1 to a server in the guest
# (tests/nested/run.py --net, with the dynamically linked ./rax and its
# libraries, since rax-static has no libslirp).  Skips (77) when the
# guest, the L1 kernel, QEMU or a rax with libslirp is missing.
# Run: make check TESTS=tests/nested/virtio-net.sh (from the build folder)
RAX_STATIC=./rax-static RAX_DYNAMIC=./rax exec \
	"${PYTHON3:-/usr/bin/python3}" "${srcdir:-.}/tests/nested/run.py" --net
