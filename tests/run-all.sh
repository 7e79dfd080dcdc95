#!/usr/bin/env bash
# The whole test suite, as the README documents it: build rax in a build
# folder, build (or reuse from the cache) the default guest, run make check
# and make distcheck.  Usage: bash tests/run-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
autoreconf -fi >/dev/null
mkdir -p build
cd build
../configure --enable-werror >/dev/null
make -j"$jobs"
# The default guest and the L1 kernel for tests/nested (cached: a no-op
# once built; several minutes each on 2 cores the first time).
make guest guest-l1 rax-static
make -j"$jobs" check-headers
status=0
make -j"$jobs" check 2>&1 | tee check.out || status=1
count() { n=$(sed -n "s/^# $1: *//p" check.out | tail -1); echo "${n:-0}"; }
summary="run-all: $(count PASS) passed, $(( $(count FAIL) + $(count ERROR) + \
	$(count XPASS) )) failed, $(count SKIP) skipped"
if [ $status != 0 ]; then
	cat test-suite.log
	echo "$summary"
	exit 1
fi
make -j"$jobs" distcheck >distcheck.out 2>&1 ||
	{ tail -50 distcheck.out; echo "run-all: distcheck failed"; exit 1; }
echo "run-all: make distcheck passed"
echo "$summary"
