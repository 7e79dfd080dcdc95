# src/history: time travel (snapshots, the input log, reverse execution).
librax_a_SOURCES += src/history/hist.c src/history/hist.h \
	src/history/hist_int.h src/history/hist_mem.c src/history/hist_fine.c

# The unit test: snapshots, replay and reverse execution on a small guest.
check_PROGRAMS += tests/unit/test_hist
tests_unit_test_hist_SOURCES = tests/unit/test_hist.c
tests_unit_test_hist_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_hist_LDADD = librax.a $(LIBS)
TESTS += tests/unit/test_hist

# Real gdb's reverse commands on the interpreter (pytest; issue 14).
EXTRA_DIST += tests/py/test_reverse.py tests/py/reverse.sh
TESTS += tests/py/reverse.sh
