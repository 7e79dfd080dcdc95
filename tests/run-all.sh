#!/usr/bin/env bash
# The whole test suite, as the README documents it (its second command):
# build rax, build (or reuse from the cache) the default guest and the L1
# kernel, then make check-headers, make check and make distcheck.
#
# Where: the README's first command configures and builds in the source
# tree, and a tree configured there cannot also have a VPATH build, so
# run-all builds there too, with the options it was configured with
# (reconfigured, so a `git pull` since is picked up).  A tree that is not
# configured is built in build/ with --enable-werror.  make distcheck
# builds with --enable-werror either way (AM_DISTCHECK_CONFIGURE_FLAGS).
#
# The last line is the summary: passed, failed and skipped tests as make
# check counts them; each skip is listed above it with its reason.
# Usage: bash tests/run-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
autoreconf -fi >/dev/null
if [ -f config.status ]; then
	echo "run-all: building in the source tree (configured there)"
	./config.status --recheck >/dev/null
	./config.status >/dev/null
else
	echo "run-all: building in build/"
	mkdir -p build
	(cd build && ../configure --enable-werror >/dev/null)
	cd build
fi
make -j"$jobs"
# The default guest and the L1 kernel for tests/nested (cached: a no-op
# once built; several minutes each on 2 cores the first time).
make guest guest-l1 rax-static
make -j"$jobs" check-headers
status=0
make -j"$jobs" check 2>&1 | tee check.out || status=1
count() { n=$(sed -n "s/^# $1: *//p" check.out | tail -1); echo "${n:-0}"; }
# SKIP: NAME lines, each with the first SKIP line of NAME.log.
skips() {
	sed -n 's/^SKIP: //p' check.out | while read -r t; do
		why=$(grep -m1 -E '^(SKIP|SKIPPED)' "$t.log" 2>/dev/null |
		      cut -c1-200)
		echo "run-all: skipped $t: ${why:-(no reason given)}"
	done
}
summary="run-all: $(count PASS) passed, $(( $(count FAIL) + $(count ERROR) + \
	$(count XPASS) )) failed, $(count SKIP) skipped"
if [ $status != 0 ]; then
	cat test-suite.log
	skips
	echo "$summary"
	exit 1
fi
make -j"$jobs" distcheck >distcheck.out 2>&1 ||
	{ tail -50 distcheck.out; echo "run-all: distcheck failed"; exit 1; }
echo "run-all: make distcheck passed"
skips
echo "$summary"
