#!/bin/sh
# make check wrapper: the default guest with rax's ACPI tables and PM
# device on the interpreter (tests/py/test_acpi.py).  Skips (77) when
# pytest/pexpect are missing or the default guest is not built (make guest).
# Run: make check TESTS=tests/py/acpi.sh (from the build folder)
exec sh "${srcdir:-.}/tests/py/run-pytest.sh" test_acpi.py
