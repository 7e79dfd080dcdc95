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
# once built; about 3 + 3 minutes on 2 cores the first time).
make guest guest-l1 rax-static
make -j"$jobs" check-headers
make -j"$jobs" check || { cat test-suite.log; exit 1; }
make -j"$jobs" distcheck >/dev/null || { echo "distcheck failed"; exit 1; }
echo "run-all: make check and make distcheck passed"
