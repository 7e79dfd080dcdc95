#!/bin/sh
# make check wrapper: boot the default guest on the interpreter
# (tests/py/test_boot.py).  Skips (77) when pytest/pexpect are missing or
# the default guest is not built (make guest).
# Run: make check TESTS=tests/py/boot.sh (from the build folder)
py=${PYTHON3:-/usr/bin/python3}
"$py" -c 'import pytest, pexpect' 2>/dev/null ||
	{ echo "SKIP: $py lacks pytest or pexpect"; exit 77; }
RAX_BUILD=$(pwd) "$py" -m pytest -q -p no:cacheprovider \
	"${srcdir:-.}/tests/py/test_boot.py"
st=$?
# pytest exits 5 when every test was skipped (no guest): report a skip.
[ $st = 5 ] && exit 77
exit $st
