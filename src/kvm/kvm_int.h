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

/* One vCPU.  The BSP (index 0) runs on the thread that calls run(); each
 * AP has a thread of its own (kvm.c), so that every KVM_RUN of a vCPU
 * comes from one thread.  Other threads issue the other vCPU ioctls
 * (registers, guest debug) only while the vCPU is out of KVM_RUN: run()
 * returns once every vCPU has stopped (all-stop). */
struct kvm_vcpu {
	unsigned index;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	struct machine *m;
	pthread_t thread;      /* the thread inside KVM_RUN, for kick() */
	bool has_thread;       /* an AP whose thread was started */
	atomic_bool in_run;
	bool avx;              /* its CPUID (KVM's supported one) has AVX:
				  the YMM upper halves for gdb */
	bool step;             /* the guest-debug state last applied */
	bool dbg_applied;

	/* The AP thread's order and its result, under k->run_lock. */
	bool ordered;          /* run until a stop, then report */
	int ret;               /* 0 or -errno, with stop and err */
	uint64_t run_cpu_ns;   /* its thread's CPU time in the last run() */
	struct vcpu_stop stop;
	struct rax_err err;

	uint64_t exits[KVM_EXIT_REASONS];
};

struct kvm_engine {
	int sys_fd, vm_fd;
	unsigned ncpus;
	struct kvm_vcpu *vcpu; /* ncpus of them; [0] is the BSP */
	atomic_bool kicked;    /* kick(): the next or current run() stops */
	atomic_bool stopping;  /* a vCPU stopped: the others leave KVM_RUN */
	atomic_int first_stop; /* the vCPU whose stop came first, or -1 */

	/* run() hands the APs their orders (run_cond) and waits for their
	 * reports (done_cond); busy counts the APs still running. */
	pthread_mutex_t run_lock;
	pthread_cond_t run_cond, done_cond;
	unsigned busy;
	bool quit;             /* destroy(): the AP threads end */

	/* Device emulation: the devices were written for one vCPU thread,
	 * so the exits that reach them (port I/O, MMIO) take this lock; so
	 * does the software-breakpoint refresh after an exit. */
	pthread_mutex_t bus_lock;

	struct kvm_swbp swbp[KVM_MAX_SWBP];
	int nswbp;
	struct kvm_hwbp hwbp[4];

	pthread_mutex_t irq_lock; /* msi_route and the GSI routing table */
	struct kvm_msi_route msi_route[KVM_MAX_MSI_ROUTES];

	uint64_t first_run_ns; /* host time of the first KVM_RUN */
};

static inline struct kvm_engine *kvm_of(struct machine *m)
{
	return m->engine;
}

/* kvm_regs.c: conversion between rax_regs and KVM's structures, for
 * vCPU v. */
void kvm_to_rax_seg(const struct kvm_segment *k, struct rax_seg *s);
void kvm_from_rax_seg(const struct rax_seg *s, struct kvm_segment *k);
int kvm_get_regs(struct kvm_vcpu *v, struct rax_regs *r);
int kvm_set_regs(struct kvm_vcpu *v, const struct rax_regs *r);
int kvm_get_fpu(struct kvm_vcpu *v, struct rax_fpu *f);
int kvm_set_fpu(struct kvm_vcpu *v, const struct rax_fpu *f);
int kvm_get_ymmh(struct kvm_vcpu *v, struct rax_ymmh *y);
int kvm_set_ymmh(struct kvm_vcpu *v, const struct rax_ymmh *y);
int kvm_get_dregs(struct kvm_vcpu *v, struct rax_dregs *d);
int kvm_get_msr(struct kvm_vcpu *v, uint32_t idx, uint64_t *val);
int kvm_set_msr(struct kvm_vcpu *v, uint32_t idx, uint64_t val);

/* kvm_debug.c: breakpoints, watchpoints, single-step.  Breakpoints are
 * the machine's (every vCPU traps on them); the single step is one
 * vCPU's. */
int kvm_bp_insert(struct machine *m, enum bp_type t, uint64_t addr,
		  uint64_t len);
int kvm_bp_remove(struct machine *m, enum bp_type t, uint64_t addr,
		  uint64_t len);
int kvm_debug_apply(struct machine *m, struct kvm_vcpu *v, bool step);
/* Classifies a KVM_EXIT_DEBUG of v.  Returns true when it is a stop for
 * the debugger (filled in *stop), false when the exception belonged to
 * the guest and was re-injected. */
bool kvm_debug_exit(struct machine *m, struct kvm_vcpu *v,
		    struct vcpu_stop *stop);
/* Linear to guest-physical through v's page tables. */
int kvm_translate(struct kvm_vcpu *v, uint64_t gva, uint64_t *gpa);
/* Called with k->bus_lock held when other vCPUs may run. */
int kvm_swbp_refresh(struct machine *m);

/* kvm.c: CPUID from KVM_GET_SUPPORTED_CPUID, for the VM and the
 * self-test; apic_id is the vCPU's initial APIC ID (its index); *avx
 * (when not NULL) says whether it offers AVX (CPUID.1:ECX bit 28). */
int kvm_setup_cpuid(int sys_fd, int vcpu_fd, unsigned apic_id, bool *avx,
		    struct rax_err *e);

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
