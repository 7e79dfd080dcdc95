#!/bin/sh
# make check wrapper: issue 4's gdb milestones against rax booting the
# default guest (tests/py/test_gdb_linux.py) on the engines of this host;
# the KVM-nested-in-QEMU sessions run only with `make check-gdb`, the
# kvm_intel-in-Bochs ones with `make check-kvm-intel`.  Tests
# skip with rax's reason when the guest is not built or an engine is
# unusable here; the wrapper skips (77) when gdb, pytest or pexpect are
# missing.  Run: make check TESTS=tests/py/gdb-linux.sh (build folder)
py=${PYTHON3:-/usr/bin/python3}
command -v gdb >/dev/null 2>&1 || { echo "SKIP: gdb is not installed"; exit 77; }
"$py" -c 'import pytest, pexpect' 2>/dev/null ||
	{ echo "SKIP: $py lacks pytest or pexpect"; exit 77; }
PYTHONDONTWRITEBYTECODE=1 RAX_BUILD=$(pwd) exec "$py" -m pytest -q -rs -p no:cacheprovider \
	-k "not nested and not intel" "${srcdir:-.}/tests/py/test_gdb_linux.py"
