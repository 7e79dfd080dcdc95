/* KVM engine start-up self-test: before rax trusts /dev/kvm it runs a tiny
 * 64-bit guest that takes an int3 (#BP) and a ud2 (#UD) through its own
 * IDT and reports both on an I/O port.  A paravirtual or broken KVM (such
 * as kvm_pvm, which ends the first guest exception in
 * KVM_EXIT_INTERNAL_ERROR) fails it, and --backend auto falls back to the
 * interpreter. */
#include "kvm/kvm_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define ST_MEM (2u << 20)
#define ST_PML4 0x1000
#define ST_PDPT 0x2000
#define ST_PD 0x3000
#define ST_GDT 0x500
#define ST_IDT 0x600
#define ST_CODE 0x4000
#define ST_BP_HANDLER 0x4100
#define ST_UD_HANDLER 0x4200
#define ST_STACK 0x8000
#define ST_PORT 0x88
#define ST_TIMEOUT_S 5

/* main: xor ebx,ebx; int3; ud2; mov eax,ebx; out 0x88,al; hlt; jmp $-1 */
static const uint8_t st_main[] = {
	0x31, 0xdb, 0xcc, 0x0f, 0x0b, 0x89, 0xd8, 0xe6, ST_PORT, 0xf4,
	0xeb, 0xfd,
};
/* #BP: or ebx,1; iretq */
static const uint8_t st_bp[] = { 0x83, 0xcb, 0x01, 0x48, 0xcf };
/* #UD: or ebx,2; add qword [rsp],2 (skip the ud2); iretq */
static const uint8_t st_ud[] = {
	0x83, 0xcb, 0x02, 0x48, 0x83, 0x04, 0x24, 0x02, 0x48, 0xcf,
};

struct st_vm {
	int sys, vm, vcpu;
	uint8_t *mem;
	struct kvm_run *run;
	size_t run_size;
};

/* A 64-bit interrupt gate (SDM Vol. 3 §6.14.1). */
static void st_gate(uint8_t *idt, int vec, uint64_t handler)
{
	uint8_t *g = idt + vec * 16;

	memset(g, 0, 16);
	g[0] = handler & 0xff;
	g[1] = (handler >> 8) & 0xff;
	g[2] = 0x08; /* selector */
	g[5] = 0x8e; /* present, DPL 0, 64-bit interrupt gate */
	g[6] = (handler >> 16) & 0xff;
	g[7] = (handler >> 24) & 0xff;
}

static void st_image(uint8_t *mem)
{
	uint64_t *pml4 = (uint64_t *)(mem + ST_PML4);
	uint64_t *pdpt = (uint64_t *)(mem + ST_PDPT);
	uint64_t *pd = (uint64_t *)(mem + ST_PD);
	uint64_t *gdt = (uint64_t *)(mem + ST_GDT);

	pml4[0] = ST_PDPT | 3;
	pdpt[0] = ST_PD | 3;
	pd[0] = 0x83; /* 2 MiB page at 0, present, writable */
	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffull; /* 64-bit code */
	gdt[2] = 0x00cf93000000ffffull; /* data */
	st_gate(mem + ST_IDT, 3, ST_BP_HANDLER);
	st_gate(mem + ST_IDT, 6, ST_UD_HANDLER);
	memcpy(mem + ST_CODE, st_main, sizeof(st_main));
	memcpy(mem + ST_BP_HANDLER, st_bp, sizeof(st_bp));
	memcpy(mem + ST_UD_HANDLER, st_ud, sizeof(st_ud));
}

static int st_regs(struct st_vm *v)
{
	struct kvm_sregs s;
	struct kvm_regs r;
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 0x08, .type = 0xb,
		.present = 1, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment data = code;

	data.selector = 0x10;
	data.type = 3;
	data.l = 0;
	data.db = 1;
	if (ioctl(v->vcpu, KVM_GET_SREGS, &s) < 0)
		return -errno;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.tr = (struct kvm_segment){ .limit = 0x67, .type = 0xb, .present = 1 };
	s.ldt = (struct kvm_segment){ .type = 2, .present = 1, .unusable = 1 };
	s.gdt.base = ST_GDT;
	s.gdt.limit = 23;
	s.idt.base = ST_IDT;
	s.idt.limit = 16 * 16 - 1;
	s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	s.cr3 = ST_PML4;
	s.cr4 = CR4_PAE;
	s.efer = EFER_LME | EFER_LMA;
	memset(&r, 0, sizeof(r));
	r.rip = ST_CODE;
	r.rsp = ST_STACK;
	r.rflags = RFLAGS_FIXED;
	if (ioctl(v->vcpu, KVM_SET_SREGS, &s) < 0 ||
	    ioctl(v->vcpu, KVM_SET_REGS, &r) < 0)
		return -errno;
	return 0;
}

static int st_create(struct st_vm *v, struct rax_err *e)
{
	struct kvm_userspace_memory_region region = {
		.slot = 0, .memory_size = ST_MEM,
	};
	long sz;

	v->sys = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (v->sys < 0)
		return rax_errf(e, -errno, "/dev/kvm: %s", strerror(errno));
	if (ioctl(v->sys, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return rax_errf(e, -ENODEV, "/dev/kvm: unsupported API version");
	v->vm = ioctl(v->sys, KVM_CREATE_VM, 0);
	if (v->vm < 0)
		return rax_errf(e, -errno, "KVM_CREATE_VM: %s", strerror(errno));
	v->mem = mmap(NULL, ST_MEM, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v->mem == MAP_FAILED) {
		v->mem = NULL;
		return rax_errf(e, -errno, "self-test memory: %s", strerror(errno));
	}
	region.userspace_addr = (uintptr_t)v->mem;
	if (ioctl(v->vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return rax_errf(e, -errno, "memory slot: %s", strerror(errno));
	(void)ioctl(v->vm, KVM_SET_TSS_ADDR, 0xfffbd000ul);
	v->vcpu = ioctl(v->vm, KVM_CREATE_VCPU, 0);
	if (v->vcpu < 0)
		return rax_errf(e, -errno, "KVM_CREATE_VCPU: %s", strerror(errno));
	sz = ioctl(v->sys, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz < (long)sizeof(struct kvm_run))
		return rax_errf(e, -ENODEV, "bad vCPU mmap size");
	v->run = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return rax_errf(e, -errno, "mmap vCPU: %s", strerror(errno));
	}
	v->run_size = (size_t)sz;
	st_image(v->mem);
	if (st_regs(v))
		return rax_errf(e, -errno, "setting registers: %s", strerror(errno));
	return 0;
}

static void st_destroy(struct st_vm *v)
{
	if (v->run)
		munmap(v->run, v->run_size);
	if (v->mem)
		munmap(v->mem, ST_MEM);
	if (v->vcpu >= 0)
		close(v->vcpu);
	if (v->vm >= 0)
		close(v->vm);
	if (v->sys >= 0)
		close(v->sys);
}

struct st_watchdog {
	pthread_t target;
	struct kvm_run *run;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

/* Interrupts a KVM_RUN that does not return within ST_TIMEOUT_S (a guest
 * looping through exceptions). */
static void *st_watchdog_fn(void *arg)
{
	struct st_watchdog *w = arg;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ST_TIMEOUT_S;
	pthread_mutex_lock(&w->lock);
	while (!w->done)
		if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) == ETIMEDOUT)
			break;
	if (!w->done) {
		w->run->immediate_exit = 1;
		pthread_kill(w->target, SIGUSR1);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void st_noop(int sig)
{
	(void)sig;
}

/* Runs the guest until its port write; returns 0 or -errno with *e. */
static int st_run(struct st_vm *v, struct rax_err *e)
{
	for (int exits = 0; exits < 100; exits++) {
		if (ioctl(v->vcpu, KVM_RUN, 0) < 0)
			return rax_errf(e, -ETIMEDOUT, "KVM_RUN: %s (the guest did "
					"not finish within %d s)", strerror(errno),
					ST_TIMEOUT_S);
		switch (v->run->exit_reason) {
		case KVM_EXIT_IO: {
			uint8_t *d = (uint8_t *)v->run + v->run->io.data_offset;

			if (v->run->io.port != ST_PORT)
				continue;
			if (*d == 3)
				return 0;
			return rax_errf(e, -ENODEV, "exceptions through the IDT "
					"misbehave (handler mask %#x, want 0x3)", *d);
		}
		case KVM_EXIT_INTERNAL_ERROR:
			return rax_errf(e, -ENODEV, "int3 through the guest IDT "
					"ended in KVM_EXIT_INTERNAL_ERROR (suberror "
					"%u): /dev/kvm looks paravirtual or broken",
					v->run->internal.suberror);
		case KVM_EXIT_SHUTDOWN:
			return rax_errf(e, -ENODEV, "the self-test guest triple "
					"faulted");
		default:
			return rax_errf(e, -ENODEV, "unexpected exit %u",
					v->run->exit_reason);
		}
	}
	return rax_errf(e, -ENODEV, "too many exits");
}

int kvm_selftest(struct rax_err *e)
{
	struct st_vm v = { .sys = -1, .vm = -1, .vcpu = -1 };
	struct st_watchdog w = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.cond = PTHREAD_COND_INITIALIZER,
	};
	struct sigaction sa, old;
	pthread_t wd;
	int ret;

	if (access("/dev/kvm", F_OK))
		return rax_errf(e, -ENOENT, "/dev/kvm does not exist");
	ret = st_create(&v, e);
	if (ret)
		goto out;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = st_noop;
	sigaction(SIGUSR1, &sa, &old);
	w.target = pthread_self();
	w.run = v.run;
	if (pthread_create(&wd, NULL, st_watchdog_fn, &w)) {
		ret = rax_errf(e, -EAGAIN, "cannot start the self-test watchdog");
		sigaction(SIGUSR1, &old, NULL);
		goto out;
	}
	ret = st_run(&v, e);
	pthread_mutex_lock(&w.lock);
	w.done = true;
	pthread_cond_signal(&w.cond);
	pthread_mutex_unlock(&w.lock);
	pthread_join(wd, NULL);
	sigaction(SIGUSR1, &old, NULL);
out:
	st_destroy(&v);
	if (ret) {
		char msg[sizeof(e->msg)];

		snprintf(msg, sizeof(msg), "%s", e->msg);
		rax_errf(e, ret, "KVM self-test failed: %s", msg);
	}
	return ret;
}
