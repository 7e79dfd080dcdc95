#!/bin/sh
# make check wrapper: ./rax with no options boots the default guest with
# its console on pipes and answers a shell command (tests/pipe-console.py,
# which CI also runs after the README's first command).  Skips (77) when
# the default guest is not built (make guest).
# Run: make check TESTS=tests/pipe-console.sh (from the build folder)
exec "${PYTHON3:-/usr/bin/python3}" "${srcdir:-.}/tests/pipe-console.py" ./rax
