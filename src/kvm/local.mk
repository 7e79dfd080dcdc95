# src/kvm: the KVM engine (only with linux/kvm.h).
if HAVE_KVM
librax_a_SOURCES += src/kvm/kvm.c src/kvm/kvm_int.h src/kvm/kvm_regs.c \
	src/kvm/kvm_debug.c src/kvm/kvm_selftest.c src/kvm/kvm_irq.c
endif

# The software-breakpoint bookkeeping without /dev/kvm.
if HAVE_KVM
check_PROGRAMS += tests/unit/test_kvm_swbp
tests_unit_test_kvm_swbp_SOURCES = tests/unit/test_kvm_swbp.c
tests_unit_test_kvm_swbp_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit \
	-I$(top_srcdir)/src
tests_unit_test_kvm_swbp_LDADD = librax.a $(LIBS)
TESTS += tests/unit/test_kvm_swbp
endif
