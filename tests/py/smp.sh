#!/bin/sh
# The default guest on 4 vCPUs of the interpreter (tests/py/test_smp.py).
exec sh "${srcdir:-.}/tests/py/run-pytest.sh" test_smp.py
