#!/bin/sh
# make check wrapper: the gdb server's connection lifecycle under abuse
# (tests/py/test_gdb_stress.py) against the interpreter at the default
# guest's shell; the log shows the cycles served and rax's RSS.  Skips
# (77) when the guest is not built, or gdb, pytest or pexpect are missing.
# Run: make check TESTS=tests/py/gdb-stress.sh (from the build folder)
exec sh "${srcdir:-.}/tests/py/run-pytest.sh" --gdb test_gdb_stress.py -rP
