# src/paging: file lists for the one Makefile (included from Makefile.am).
