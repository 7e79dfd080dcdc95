#!/bin/sh
# make check wrapper: the default guest on the interpreter's CPU models
# --cpu v1, v2 and v3 (tests/py/test_cpu_model.py: /proc/cpuinfo flags,
# gcc -march=x86-64-v2 and -v3 programs, YMM state across context
# switches).  Skips (77) when pytest/pexpect or gcc are missing, the host
# lacks x86-64-v2 or the default guest is not built (make guest); the v3
# test skips on a host without x86-64-v3.
# Run: make check TESTS=tests/py/cpu-model.sh (from the build folder)
exec sh "${srcdir:-.}/tests/py/run-pytest.sh" test_cpu_model.py
