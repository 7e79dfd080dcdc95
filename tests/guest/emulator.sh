#!/bin/sh
# make check: the tests/guest programs on the interpreter (run.sh).
# Run: make check TESTS=tests/guest/emulator.sh (from the build folder)
exec sh "${srcdir:-.}/tests/guest/run.sh" emulator "$@"
