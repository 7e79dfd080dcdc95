# src/devices: one device per file, listed once in devices/dev.h and
# registered by the table in devices.c.
librax_a_SOURCES += src/devices/devices.c src/devices/devices.h \
	src/devices/dev.h \
	src/devices/uart.c \
	src/devices/rtc.c \
	src/devices/pci.c src/devices/pci.h \
	src/devices/i8042.c \
	src/devices/rstctl.c \
	src/devices/acpipm.c src/devices/acpipm.h \
	src/devices/port92.c \
	src/devices/debugexit.c \
	src/devices/debugcon.c \
	src/devices/post.c \
	src/devices/fwcfg.c \
	src/devices/testdev.c \
	src/devices/virtio/virtio.h src/devices/virtio/host.c \
	src/devices/virtio/queue.c src/devices/virtio/queue.h \
	src/devices/virtio/transport.c src/devices/virtio/transport.h \
	src/devices/virtio/blk.c src/devices/virtio/net.c \
	src/devices/virtio/rng.c

# The user-mode network links into rax only (rax-static cannot: Debian
# ships no static libslirp); without it, weak fallbacks in net.c answer.
if HAVE_SLIRP
rax_SOURCES += src/devices/virtio/slirp.c
rax_CPPFLAGS = $(AM_CPPFLAGS) $(SLIRP_CFLAGS)
rax_LDADD += $(SLIRP_LIBS)
endif

# Unit tests of the devices, driven through machine_pio() on a fake
# machine whose engine records interrupt lines.
noinst_HEADERS += tests/unit/fake_machine.h
DEV_TESTS = tests/unit/test_uart tests/unit/test_console \
	tests/unit/test_rtc tests/unit/test_pci tests/unit/test_board \
	tests/unit/test_virtio tests/unit/test_qemudev
check_PROGRAMS += $(DEV_TESTS)
TESTS += $(DEV_TESTS)
tests_unit_test_uart_SOURCES = tests/unit/test_uart.c
tests_unit_test_uart_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_uart_LDADD = librax.a $(LIBS)
tests_unit_test_console_SOURCES = tests/unit/test_console.c
tests_unit_test_console_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_console_LDADD = librax.a $(LIBS)
# The test plays another reader of stdin that takes the input between
# the console's poll and its read (__read_chk: read when fortified).
tests_unit_test_console_LDFLAGS = -Wl,--wrap=read,--wrap=__read_chk
tests_unit_test_rtc_SOURCES = tests/unit/test_rtc.c
tests_unit_test_rtc_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_rtc_LDADD = librax.a $(LIBS)
tests_unit_test_pci_SOURCES = tests/unit/test_pci.c
tests_unit_test_pci_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_pci_LDADD = librax.a $(LIBS)
tests_unit_test_board_SOURCES = tests/unit/test_board.c
tests_unit_test_board_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_board_LDADD = librax.a $(LIBS)
tests_unit_test_virtio_SOURCES = tests/unit/test_virtio.c
tests_unit_test_virtio_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_virtio_LDADD = librax.a $(LIBS)
tests_unit_test_qemudev_SOURCES = tests/unit/test_qemudev.c
tests_unit_test_qemudev_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_qemudev_LDADD = librax.a $(LIBS)
