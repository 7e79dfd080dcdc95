# src/rsp: the GDB Remote Serial Protocol server.
librax_a_SOURCES += \
	src/rsp/rsp.c src/rsp/rsp.h \
	src/rsp/rsp_packet.c src/rsp/rsp_packet.h \
	src/rsp/rsp_cmds.c src/rsp/rsp_cmds.h \
	src/rsp/rsp_monitor.c \
	src/rsp/rsp_regs.c src/rsp/rsp_regs.h \
	src/rsp/rsp_transport.c src/rsp/rsp_transport.h
