# src/kvm: the KVM engine (only with linux/kvm.h).
if HAVE_KVM
librax_a_SOURCES += src/kvm/kvm.c
endif
