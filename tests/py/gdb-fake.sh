#!/bin/sh
# make check wrapper: the gdb end-to-end suite on the fake engine
# (tests/py/test_gdb_fake.py), which needs no real CPU.  Skips (77) when
# gdb, pytest or pexpect are missing.
# Run: make check TESTS=tests/py/gdb-fake.sh (from the build folder)
exec sh "${srcdir:-.}/tests/py/run-pytest.sh" --gdb test_gdb_fake.py
