#!/bin/sh
# make check wrapper: the default guest with virtio-blk, virtio-net and
# virtio-rng on the interpreter (tests/py/test_virtio.py).  Skips (77)
# with the reasons when pytest/pexpect are missing or when every test
# skipped (the default guest is not built: make guest; e2fsprogs or
# busybox-static missing).
# Run: make check TESTS=tests/py/virtio.sh (from the build folder)
py=${PYTHON3:-/usr/bin/python3}
"$py" -c 'import pytest, pexpect' 2>/dev/null ||
	{ echo "SKIP: $py lacks pytest or pexpect"; exit 77; }
out=$(mktemp "${TMPDIR:-/tmp}/rax-virtio-py.XXXXXX") || exit 99
trap 'rm -f "$out"' EXIT
RAX_BUILD=$(pwd) "$py" -m pytest -q -rs -p no:cacheprovider \
	"${srcdir:-.}/tests/py/test_virtio.py" >"$out" 2>&1
st=$?
cat "$out"
# Every test skipped (pytest still exits 0): report a skip.
last=$(tail -n 1 "$out")
case $last in
*passed*|*failed*|*error*) ;;
*skipped*) [ $st = 0 ] && exit 77 ;;
esac
exit $st
