# tests: unit test programs (one per module, linked with librax.a), shell
# tests of the rax binary, and the pytest suites in tests/py.
noinst_HEADERS += tests/unit/test.h
check_PROGRAMS += tests/unit/test_core
tests_unit_test_core_SOURCES = tests/unit/test_core.c
tests_unit_test_core_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_core_LDADD = librax.a $(LIBS)
TESTS += tests/unit/test_core
