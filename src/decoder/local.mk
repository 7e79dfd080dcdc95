# src/decoder: file lists for the one Makefile (included from Makefile.am).
librax_a_SOURCES += src/decoder/decoder.c src/decoder/decoder.h \
	src/decoder/disasm.c
EXTRA_DIST += src/decoder/opcodes.def src/decoder/x87.def \
	src/decoder/groups.def
