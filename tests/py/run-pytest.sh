#!/bin/sh
# The make check wrappers' common part: runs pytest on one suite of
# tests/py with the Automake statuses of conftest.py (RAX_AUTOMAKE=1: a
# suite whose tests all skipped is a SKIP, one where only some skipped
# fails).  Skips (77) when pytest or pexpect are missing, and with --gdb
# when gdb is.
# Usage (from the build folder): sh run-pytest.sh [--gdb] FILE.py [ARGS...]
py=${PYTHON3:-/usr/bin/python3}
if [ "$1" = --gdb ]; then
	shift
	command -v "${GDB:-gdb}" >/dev/null 2>&1 ||
		{ echo "SKIP: gdb is not installed"; exit 77; }
fi
"$py" -c 'import pytest, pexpect' 2>/dev/null ||
	{ echo "SKIP: $py lacks pytest or pexpect"; exit 77; }
file=$1
shift
PYTHONDONTWRITEBYTECODE=1 RAX_AUTOMAKE=1 RAX_BUILD=$(pwd) exec "$py" \
	-m pytest -q -rs -p no:cacheprovider "${srcdir:-.}/tests/py/$file" "$@"
