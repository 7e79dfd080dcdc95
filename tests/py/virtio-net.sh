#!/bin/sh
# make check wrapper: the default guest's user-mode network on the
# interpreter (tests/py/test_virtio_net.py: DHCP, the host at 10.0.2.2, a
# port forward to a server in the guest).  Skips (77) when pytest/pexpect
# are missing, the default guest is not built (make guest), or rax was
# built without libslirp.
# Run: make check TESTS=tests/py/virtio-net.sh (from the build folder)
exec sh "${srcdir:-.}/tests/py/run-pytest.sh" test_virtio_net.py
