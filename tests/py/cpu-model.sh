#!/bin/sh
# make check wrapper: the default guest on the interpreter's CPU models
# --cpu v1 and v2 (tests/py/test_cpu_model.py: /proc/cpuinfo flags, a
# gcc -march=x86-64-v2 program).  Skips (77) when pytest/pexpect or gcc
# are missing, the host lacks x86-64-v2 or the default guest is not
# built (make guest).
# Run: make check TESTS=tests/py/cpu-model.sh (from the build folder)
exec sh "${srcdir:-.}/tests/py/run-pytest.sh" test_cpu_model.py
