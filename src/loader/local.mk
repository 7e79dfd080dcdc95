# src/loader: Linux boot protocol, ELF, payload decompression, MP table,
# ACPI tables.
librax_a_SOURCES += src/loader/loader.c src/loader/loader.h src/loader/flat.c \
	src/loader/bootparam.h src/loader/mptable.h src/loader/ld_int.h \
	src/loader/bzimage.c src/loader/elf.c src/loader/decompress.c \
	src/loader/boot64.c src/loader/zeropage.c src/loader/mptable.c \
	src/loader/acpi.c src/loader/acpi.h \
	src/loader/multiboot.c src/loader/multiboot.h

check_PROGRAMS += tests/unit/test_loader
tests_unit_test_loader_SOURCES = tests/unit/test_loader.c
tests_unit_test_loader_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_loader_LDADD = librax.a $(LIBS)
# test_loader's groups that need something from the host (kernel build
# tools, the cached default guest) are tests of their own, so that
# they can skip.
TESTS += tests/unit/test_loader tests/unit/loader-tools.sh \
	tests/unit/loader-default-guest.sh tests/bad-input.sh \
	tests/bad-options.sh tests/bad-multiboot.sh
EXTRA_DIST += tests/bad-input.sh tests/bad-options.sh \
	tests/unit/loader-tools.sh \
	tests/unit/loader-default-guest.sh tests/bad-multiboot.sh

check_PROGRAMS += tests/unit/test_multiboot
tests_unit_test_multiboot_SOURCES = tests/unit/test_multiboot.c
tests_unit_test_multiboot_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_multiboot_LDADD = librax.a $(LIBS)
TESTS += tests/unit/test_multiboot

# The ACPI tables read back after ld_load() and the ACPI PM device
# (src/devices/acpipm.c) on a fake machine.
check_PROGRAMS += tests/unit/test_acpi
tests_unit_test_acpi_SOURCES = tests/unit/test_acpi.c
tests_unit_test_acpi_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit
tests_unit_test_acpi_LDADD = librax.a $(LIBS)
TESTS += tests/unit/test_acpi
