#!/bin/sh
# make check wrapper: rax's process lifecycle (tests/py/test_lifecycle.py):
# SIGTERM/SIGINT/SIGHUP, gdb killed during continue, rax killed under gdb.
# Skips (77) when the default guest is not built, or gdb, pytest or
# pexpect are missing.
# Run: make check TESTS=tests/py/lifecycle.sh (from the build folder)
exec sh "${srcdir:-.}/tests/py/run-pytest.sh" --gdb test_lifecycle.py
