#!/bin/sh
# make check: the loader loads the cached default guest's bzImage both
# ways (guest- and host-side decompression) and matches its vmlinux.
# Skips (77) when the default guest is not built (make guest).
# Run: make check TESTS=tests/unit/loader-default-guest.sh (build folder)
exec ./tests/unit/test_loader default-guest
