#!/bin/sh
# make check wrapper for tests/diff/diffexec, 32-bit code in
# compatibility mode (the host's __USER32_CS): tests/diff/diffexec.sh
# --mode32.  Skips (77) on a host that cannot run 32-bit code.
# Run: make check TESTS=tests/diff/diffexec32.sh (from the build folder)
exec sh "${srcdir:-.}/tests/diff/diffexec.sh" --mode32 "$@"
