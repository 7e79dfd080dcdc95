# src/paging: the page-table walker shared by the interpreter and gdb.
librax_a_SOURCES += src/paging/paging.c src/paging/paging.h

check_PROGRAMS += tests/unit/test_paging
tests_unit_test_paging_SOURCES = tests/unit/test_paging.c
tests_unit_test_paging_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_paging_LDADD = librax.a $(LIBS)
TESTS += tests/unit/test_paging

# src/devices: the interpreter's interrupt controllers (intc.h), kept in
# this fragment so that src/devices/local.mk stays with the board devices.
librax_a_SOURCES += src/devices/intc.c src/devices/intc.h \
	src/devices/pic.c src/devices/pic.h \
	src/devices/ioapic.c src/devices/ioapic.h \
	src/devices/lapic.c src/devices/lapic.h \
	src/devices/pit.c src/devices/pit.h

check_PROGRAMS += tests/unit/test_intc
tests_unit_test_intc_SOURCES = tests/unit/test_intc.c
tests_unit_test_intc_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_intc_LDADD = librax.a $(LIBS)
TESTS += tests/unit/test_intc
