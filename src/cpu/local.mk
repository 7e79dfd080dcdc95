# src/cpu: the x86-64 interpreter engine.
librax_a_SOURCES += src/cpu/cpu.c src/cpu/cpu.h src/cpu/mem.c \
	src/cpu/alu.c src/cpu/ops.c src/cpu/sys.c src/cpu/sse.c \
	src/cpu/intc_stub.c
