# src/loader: Linux boot protocol, ELF, payload decompression, MP table.
librax_a_SOURCES += src/loader/loader.c src/loader/loader.h
