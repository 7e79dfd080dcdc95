/* The KVM engine's private state, shared by the files of src/kvm. */
#ifndef RAX_KVM_INT_H
#define RAX_KVM_INT_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "machine.h"
#include "regs.h"
#include "vcpu.h"

#define KVM_MAX_SWBP 256
#define KVM_EXIT_REASONS 40 /* > KVM_EXIT_NOTIFY (37) */

struct kvm_swbp {
	uint64_t gva, gpa;
	uint8_t orig;
};

struct kvm_hwbp {
	bool used;
	enum bp_type type;
	uint64_t addr, len;
};

/* An irqfd's MSI route (kvm_irq.c): GSI 24 + its index. */
#define KVM_MAX_MSI_ROUTES 64
struct kvm_msi_route {
	int fd;                /* the irqfd, or -1: slot free */
	uint64_t addr;
	uint32_t data;
};

struct kvm_engine {
	int sys_fd, vm_fd, vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;      /* the thread inside run(), for kick() */
	atomic_bool in_run;
	atomic_bool kicked;

	struct kvm_swbp swbp[KVM_MAX_SWBP];
	int nswbp;
	struct kvm_hwbp hwbp[4];
	bool step;             /* the guest-debug state last applied */
	bool dbg_applied;

	pthread_mutex_t irq_lock; /* msi_route and the GSI routing table */
	struct kvm_msi_route msi_route[KVM_MAX_MSI_ROUTES];

	uint64_t exits[KVM_EXIT_REASONS];
	uint64_t first_run_ns; /* host time of the first KVM_RUN */
};

static inline struct kvm_engine *kvm_of(struct machine *m)
{
	return m->engine;
}

/* kvm_regs.c: conversion between rax_regs and KVM's structures. */
void kvm_to_rax_seg(const struct kvm_segment *k, struct rax_seg *s);
void kvm_from_rax_seg(const struct rax_seg *s, struct kvm_segment *k);
int kvm_get_regs(struct machine *m, struct rax_regs *r);
int kvm_set_regs(struct machine *m, const struct rax_regs *r);
int kvm_get_fpu(struct machine *m, struct rax_fpu *f);
int kvm_set_fpu(struct machine *m, const struct rax_fpu *f);
int kvm_get_dregs(struct machine *m, struct rax_dregs *d);
int kvm_get_msr(struct machine *m, uint32_t idx, uint64_t *val);
int kvm_set_msr(struct machine *m, uint32_t idx, uint64_t val);

/* kvm_debug.c: breakpoints, watchpoints, single-step. */
int kvm_bp_insert(struct machine *m, enum bp_type t, uint64_t addr,
		  uint64_t len);
int kvm_bp_remove(struct machine *m, enum bp_type t, uint64_t addr,
		  uint64_t len);
int kvm_debug_apply(struct machine *m, bool step);
/* Classifies a KVM_EXIT_DEBUG.  Returns true when it is a stop for the
 * debugger (filled in *stop), false when the exception belonged to the
 * guest and was re-injected. */
bool kvm_debug_exit(struct machine *m, struct vcpu_stop *stop);
int kvm_translate(struct machine *m, uint64_t gva, uint64_t *gpa);
int kvm_swbp_refresh(struct machine *m);

/* kvm.c: CPUID from KVM_GET_SUPPORTED_CPUID, for the VM and the self-test. */
int kvm_setup_cpuid(int sys_fd, int vcpu_fd, struct rax_err *e);

/* kvm_irq.c: the optional device operations of vcpu.h. */
void kvm_irq_init(struct kvm_engine *k);
void kvm_msi(struct machine *m, uint64_t addr, uint32_t data);
int kvm_ioeventfd(struct machine *m, uint64_t gpa, unsigned len, int fd,
		  bool assign);
int kvm_irqfd_msi(struct machine *m, int fd, uint64_t addr, uint32_t data,
		  bool assign);

/* kvm_selftest.c */
int kvm_selftest(struct rax_err *e);

#endif
