#!/bin/sh
# make check wrapper: the gdb end-to-end suite on the fake engine
# (tests/py/test_gdb_fake.py), which needs no real CPU.  Skips (77) when
# gdb, pytest or pexpect are missing.
# Run: make check TESTS=tests/py/gdb-fake.sh (from the build folder)
py=${PYTHON3:-/usr/bin/python3}
command -v gdb >/dev/null 2>&1 || { echo "SKIP: gdb is not installed"; exit 77; }
"$py" -c 'import pytest, pexpect' 2>/dev/null ||
	{ echo "SKIP: $py lacks pytest or pexpect"; exit 77; }
PYTHONDONTWRITEBYTECODE=1 RAX_BUILD=$(pwd) exec "$py" -m pytest -q -p no:cacheprovider \
	"${srcdir:-.}/tests/py/test_gdb_fake.py"
