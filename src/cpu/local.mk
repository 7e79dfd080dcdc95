# src/cpu: the x86-64 interpreter engine.
librax_a_SOURCES += src/cpu/cpu.c
