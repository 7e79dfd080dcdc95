#!/bin/sh
# make check wrapper: time travel with real gdb (tests/py/test_reverse.py,
# issue 14) on the interpreter.  Skips (77) when gdb, pytest or pexpect
# are missing; the default guest's part skips when it is not built.
# Run: make check TESTS=tests/py/reverse.sh (build folder)
exec sh "${srcdir:-.}/tests/py/run-pytest.sh" --gdb test_reverse.py
