# src/rsp: the GDB Remote Serial Protocol server.
librax_a_SOURCES += src/rsp/rsp.c src/rsp/rsp.h
