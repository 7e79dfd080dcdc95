#!/bin/sh
# make check wrapper: the default guest with virtio-blk (an ext4 root
# made by mke2fs -d) and virtio-rng on the interpreter
# (tests/py/test_virtio.py).  Skips (77) when pytest/pexpect are missing
# or the default guest is not built (make guest).
# Run: make check TESTS=tests/py/virtio.sh (from the build folder)
exec sh "${srcdir:-.}/tests/py/run-pytest.sh" test_virtio.py
