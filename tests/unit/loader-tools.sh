#!/bin/sh
# make check: the loader reads the payloads the kernel build's own
# compressors write (gzip, xz, zstd, lz4 with scripts/Makefile.lib's
# options).  Skips (77), naming them, when a tool is not installed or
# rax was built without its library.
# Run: make check TESTS=tests/unit/loader-tools.sh (from the build folder)
exec ./tests/unit/test_loader tools
