#!/bin/sh
# make check wrapper: boot the default guest on the interpreter
# (tests/py/test_boot.py).  Skips (77) when pytest/pexpect are missing or
# the default guest is not built (make guest).
# Run: make check TESTS=tests/py/boot.sh (from the build folder)
exec sh "${srcdir:-.}/tests/py/run-pytest.sh" test_boot.py
