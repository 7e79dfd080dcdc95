#!/bin/sh
# make check wrapper: Linux's x86 selftests (44 programs, 64- and 32-bit,
# from Debian's linux-source-6.1) inside Debian's linux-image-amd64 on the
# interpreter, 2 vCPUs; each passes or is listed in
# tests/selftests/x86-known.txt with its reason (tests/selftests/x86.py).
# Skips (77) when pexpect, linux-source-6.1, a static gcc, busybox-static
# or the Debian kernel (apt-get download) cannot be had.
# Run: make check TESTS=tests/selftests/x86.sh (from the build folder)
py=${PYTHON3:-/usr/bin/python3}
"$py" -c 'import pexpect' 2>/dev/null ||
	{ echo "SKIP: $py lacks pexpect"; exit 77; }
exec "$py" "${srcdir:-.}/tests/selftests/x86.py" --build . --check --logs .
