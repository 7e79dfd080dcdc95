#!/bin/sh
# make check wrapper: issue 4's gdb milestones against rax booting the
# default guest on the interpreter (tests/py/test_gdb_linux.py -k
# emulator).  Skips (77) when the guest is not built, or gdb, pytest or
# pexpect are missing.
# Run: make check TESTS=tests/py/gdb-linux-emulator.sh (build folder)
exec sh "${srcdir:-.}/tests/py/run-pytest.sh" --gdb test_gdb_linux.py \
	-k emulator
