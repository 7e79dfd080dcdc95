#!/bin/sh
# Print the cache key of the default guest (or with --l1, of the L1 host
# kernel for tests/nested): the first 12 hex digits of the SHA-256 of the
# config fragments and the build recipe.  examples/build-guest.sh and the
# Makefile rule that writes src/guest-key.h both call this script, so rax
# and the cache always agree on the folder name.
# Usage: guest-key.sh [--l1]
set -eu
here=$(dirname "$0")
files="$here/guest.config $here/build-guest.sh"
if [ "${1:-}" = --l1 ]; then
	files="$files $here/l1.config"
fi
# shellcheck disable=SC2086
cat $files | sha256sum | cut -c1-12
