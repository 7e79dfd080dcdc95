# src/kvm: the KVM engine (only with linux/kvm.h).
if HAVE_KVM
librax_a_SOURCES += src/kvm/kvm.c src/kvm/kvm_int.h src/kvm/kvm_regs.c \
	src/kvm/kvm_debug.c src/kvm/kvm_selftest.c
endif
