# src/paging: the page-table walker shared by the interpreter and gdb.
librax_a_SOURCES += src/paging/paging.c src/paging/paging.h
