/* The KVM engine: a VM with m->ncpus vCPUs, KVM's in-kernel irqchip
 * (a LAPIC per vCPU, the IOAPIC, the PICs) and PIT, CPUID from
 * KVM_GET_SUPPORTED_CPUID, device I/O forwarded to the machine's buses,
 * every exit reason dispatched through one table (STYLE.md habit 7).
 * API: Documentation/virt/kvm/api.rst.
 *
 * SMP: the BSP runs on the thread that calls run(), each AP on a thread
 * of its own.  The APs start in KVM_MP_STATE_UNINITIALIZED; KVM's LAPIC
 * emulation handles the guest's INIT and start-up IPIs (api.rst,
 * KVM_SET_MP_STATE).  A run() is all-stop: the first vCPU to stop (a
 * breakpoint, a step, an error) makes the others leave KVM_RUN (a signal
 * and immediate_exit), and run() returns once all of them are out. */
#include "kvm/kvm_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Addresses KVM needs for its own use on Intel hosts (real-mode TSS and
 * EPT identity map), inside the hole below 4 GiB, clear of the IOAPIC. */
#define KVM_TSS_ADDR 0xfffbd000ul
#define KVM_IDMAP_ADDR 0xfffbc000ull

#define KICK_SIGNAL SIGUSR1

static const char *const exit_names[KVM_EXIT_REASONS] = {
	[KVM_EXIT_UNKNOWN] = "unknown", [KVM_EXIT_EXCEPTION] = "exception",
	[KVM_EXIT_IO] = "io", [KVM_EXIT_HYPERCALL] = "hypercall",
	[KVM_EXIT_DEBUG] = "debug", [KVM_EXIT_HLT] = "hlt",
	[KVM_EXIT_MMIO] = "mmio", [KVM_EXIT_IRQ_WINDOW_OPEN] = "irq_window",
	[KVM_EXIT_SHUTDOWN] = "shutdown", [KVM_EXIT_FAIL_ENTRY] = "fail_entry",
	[KVM_EXIT_INTR] = "intr", [KVM_EXIT_SET_TPR] = "set_tpr",
	[KVM_EXIT_TPR_ACCESS] = "tpr_access", [KVM_EXIT_NMI] = "nmi",
	[KVM_EXIT_INTERNAL_ERROR] = "internal_error",
	[KVM_EXIT_SYSTEM_EVENT] = "system_event",
	[KVM_EXIT_IOAPIC_EOI] = "ioapic_eoi", [KVM_EXIT_X86_RDMSR] = "rdmsr",
	[KVM_EXIT_X86_WRMSR] = "wrmsr", [KVM_EXIT_X86_BUS_LOCK] = "bus_lock",
	[KVM_EXIT_NOTIFY] = "notify",
};

static void kick_handler(int sig)
{
	(void)sig; /* only interrupts KVM_RUN */
}

static int install_kick_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	return sigaction(KICK_SIGNAL, &sa, NULL) < 0 ? -errno : 0;
}

int kvm_setup_cpuid(int sys_fd, int vcpu_fd, unsigned apic_id, bool *avx,
		    struct rax_err *e)
{
	struct kvm_cpuid2 *cpuid = NULL;
	int nent = 64, ret;

	for (;;) {
		free(cpuid);
		cpuid = calloc(1, sizeof(*cpuid) + nent * sizeof(cpuid->entries[0]));
		if (!cpuid)
			return rax_errf(e, -ENOMEM, "kvm: out of memory");
		cpuid->nent = nent;
		if (ioctl(sys_fd, KVM_GET_SUPPORTED_CPUID, cpuid) == 0)
			break;
		if (errno != E2BIG || nent >= 4096) {
			ret = rax_errf(e, -errno, "kvm: KVM_GET_SUPPORTED_CPUID: %s",
				       strerror(errno));
			goto out;
		}
		nent *= 2;
	}
	for (unsigned i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *c = &cpuid->entries[i];

		/* The initial APIC ID: CPUID.01H:EBX[31:24] and the x2APIC
		 * ID in EDX of leaves 0BH and 1FH (SDM Vol. 3A §10.4.6,
		 * §10.12.8.1). */
		if (c->function == 1)
			c->ebx = (c->ebx & 0x00ffffff) | (apic_id << 24);
		if (c->function == 1 && avx)
			*avx = (c->ecx >> 28) & 1;
		if (c->function == 0xb || c->function == 0x1f)
			c->edx = apic_id;
	}
	ret = 0;
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, cpuid) < 0)
		ret = rax_errf(e, -errno, "kvm: KVM_SET_CPUID2: %s",
			       strerror(errno));
out:
	free(cpuid);
	return ret;
}

/* LINT0 as ExtINT (the PIC's virtual wire) and LINT1 as NMI, as firmware
 * leaves them (MP spec 1.4 §3.6.2.2 virtual wire mode). */
static int setup_lapic(struct kvm_vcpu *vc, struct rax_err *e)
{
	struct kvm_lapic_state la;
	uint32_t v;

	if (ioctl(vc->fd, KVM_GET_LAPIC, &la) < 0)
		return rax_errf(e, -errno, "kvm: KVM_GET_LAPIC: %s", strerror(errno));
	memcpy(&v, la.regs + 0x350, 4);
	v = (v & ~0x700u) | (7u << 8);
	memcpy(la.regs + 0x350, &v, 4);
	memcpy(&v, la.regs + 0x360, 4);
	v = (v & ~0x700u) | (4u << 8);
	memcpy(la.regs + 0x360, &v, 4);
	if (ioctl(vc->fd, KVM_SET_LAPIC, &la) < 0)
		return rax_errf(e, -errno, "kvm: KVM_SET_LAPIC: %s", strerror(errno));
	return 0;
}

static int add_slot(struct kvm_engine *k, unsigned slot, uint64_t gpa,
		    uint64_t size, void *host, struct rax_err *e)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (uintptr_t)host,
	};

	if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return rax_errf(e, -errno, "kvm: memory slot %u: %s", slot,
				strerror(errno));
	return 0;
}

static int create_vm(struct machine *m, struct kvm_engine *k,
		     struct rax_err *e)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int ret;

	k->vm_fd = ioctl(k->sys_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0)
		return rax_errf(e, -errno, "kvm: KVM_CREATE_VM: %s", strerror(errno));
	if (ioctl(k->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0)
		return rax_errf(e, -errno, "kvm: KVM_SET_TSS_ADDR: %s", strerror(errno));
	{
		uint64_t idmap = KVM_IDMAP_ADDR;

		/* Optional: only Intel hosts use it. */
		(void)ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	}
	if (ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return rax_errf(e, -errno, "kvm: KVM_CREATE_IRQCHIP: %s", strerror(errno));
	if (ioctl(k->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return rax_errf(e, -errno, "kvm: KVM_CREATE_PIT2: %s", strerror(errno));
	ret = add_slot(k, 0, 0, m->mem.low_size, m->mem.host, e);
	if (!ret && m->mem.high_size)
		ret = add_slot(k, 1, MEM_4G, m->mem.high_size,
			       m->mem.host + m->mem.low_size, e);
	return ret;
}

/* vCPU i with its CPUID; the BSP gets the boot registers and the
 * virtual-wire LAPIC, an AP waits for INIT and SIPI. */
static int create_vcpu(struct machine *m, struct kvm_engine *k, unsigned i,
		       struct rax_err *e)
{
	struct kvm_vcpu *v = &k->vcpu[i];
	long sz;

	v->fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
	if (v->fd < 0)
		return rax_errf(e, -errno, "kvm: KVM_CREATE_VCPU %u: %s", i,
				strerror(errno));
	sz = ioctl(k->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz < (long)sizeof(struct kvm_run))
		return rax_errf(e, -EINVAL, "kvm: bad vCPU mmap size %ld", sz);
	v->run = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return rax_errf(e, -errno, "kvm: mmap vCPU: %s", strerror(errno));
	}
	v->run_size = (size_t)sz;
	return kvm_setup_cpuid(k->sys_fd, v->fd, i, &v->avx, e);
}

static int setup_ap(struct kvm_vcpu *v, struct rax_err *e)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_UNINITIALIZED };

	/* KVM's default for a vCPU other than the BSP with the in-kernel
	 * irqchip; set it all the same, as the contract with the guest. */
	if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0)
		return rax_errf(e, -errno, "kvm: KVM_SET_MP_STATE vCPU %u: %s",
				v->index, strerror(errno));
	return 0;
}

/* FNINIT state and MXCSR's reset value (SDM Vol. 1 §8.1.5, §10.2.3). */
static int init_fpu(struct kvm_vcpu *v)
{
	struct rax_fpu f;
	uint16_t fcw = 0x37f;
	uint32_t mxcsr = 0x1f80;

	memset(&f, 0, sizeof(f));
	memcpy(f.fx + FX_FCW, &fcw, 2);
	memcpy(f.fx + FX_MXCSR, &mxcsr, 4);
	return kvm_set_fpu(v, &f);
}

static void stop_ap_threads(struct kvm_engine *k)
{
	pthread_mutex_lock(&k->run_lock);
	k->quit = true;
	pthread_cond_broadcast(&k->run_cond);
	pthread_mutex_unlock(&k->run_lock);
	for (unsigned i = 1; i < k->ncpus; i++)
		if (k->vcpu[i].has_thread)
			pthread_join(k->vcpu[i].thread, NULL);
}

static void kvm_destroy(struct machine *m)
{
	struct kvm_engine *k = kvm_of(m);

	if (!k)
		return;
	if (k->vcpu) {
		stop_ap_threads(k);
		for (unsigned i = 0; i < k->ncpus; i++) {
			struct kvm_vcpu *v = &k->vcpu[i];

			if (v->run)
				munmap(v->run, v->run_size);
			if (v->fd >= 0)
				close(v->fd);
		}
		free(k->vcpu);
	}
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->sys_fd >= 0)
		close(k->sys_fd);
	pthread_mutex_destroy(&k->irq_lock);
	pthread_mutex_destroy(&k->bus_lock);
	pthread_mutex_destroy(&k->run_lock);
	pthread_cond_destroy(&k->run_cond);
	pthread_cond_destroy(&k->done_cond);
	free(k);
	m->engine = NULL;
}

static void *ap_thread(void *opaque);

/* The vCPUs KVM allows in one VM (api.rst, KVM_CAP_MAX_VCPUS). */
static unsigned max_vcpus(struct kvm_engine *k)
{
	int n = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);

	if (n <= 0)
		n = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	return n > 0 ? (unsigned)n : 4; /* api.rst: 4 when neither exists */
}

static int create_vcpus(struct machine *m, struct kvm_engine *k,
			struct rax_err *e)
{
	int ret;

	if (k->ncpus > max_vcpus(k))
		return rax_errf(e, -EINVAL, "kvm: --cpus %u: this host's KVM "
				"runs at most %u vCPUs in a VM", k->ncpus,
				max_vcpus(k));
	k->vcpu = calloc(k->ncpus, sizeof(*k->vcpu));
	if (!k->vcpu)
		return rax_errf(e, -ENOMEM, "kvm: out of memory");
	for (unsigned i = 0; i < k->ncpus; i++) {
		k->vcpu[i].fd = -1;
		k->vcpu[i].index = i;
		k->vcpu[i].m = m;
	}
	for (unsigned i = 0; i < k->ncpus; i++)
		if ((ret = create_vcpu(m, k, i, e)))
			return ret;
	if ((ret = setup_lapic(&k->vcpu[0], e)))
		return ret;
	for (unsigned i = 1; i < k->ncpus; i++)
		if ((ret = setup_ap(&k->vcpu[i], e)))
			return ret;
	ret = kvm_set_regs(&k->vcpu[0], &m->boot_regs);
	if (!ret)
		ret = init_fpu(&k->vcpu[0]);
	if (ret)
		return rax_errf(e, ret, "kvm: setting the boot registers: %s",
				strerror(-ret));
	for (unsigned i = 1; i < k->ncpus; i++) {
		struct kvm_vcpu *v = &k->vcpu[i];

		ret = -pthread_create(&v->thread, NULL, ap_thread, v);
		if (ret)
			return rax_errf(e, ret, "kvm: cannot start the thread "
					"of vCPU %u: %s", i, strerror(-ret));
		v->has_thread = true;
	}
	return 0;
}

static int kvm_init(struct machine *m, struct rax_err *e)
{
	struct kvm_engine *k;
	int ret;

	k = calloc(1, sizeof(*k));
	if (!k)
		return rax_errf(e, -ENOMEM, "kvm: out of memory");
	k->vm_fd = -1;
	k->ncpus = m->ncpus ? m->ncpus : 1;
	atomic_init(&k->first_stop, -1);
	kvm_irq_init(k);
	pthread_mutex_init(&k->bus_lock, NULL);
	pthread_mutex_init(&k->run_lock, NULL);
	pthread_cond_init(&k->run_cond, NULL);
	pthread_cond_init(&k->done_cond, NULL);
	m->engine = k;
	k->sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (k->sys_fd < 0) {
		ret = rax_errf(e, -errno, "kvm: /dev/kvm: %s", strerror(errno));
		goto fail;
	}
	ret = install_kick_handler();
	if (ret) {
		rax_errf(e, ret, "kvm: sigaction: %s", strerror(-ret));
		goto fail;
	}
	if ((ret = create_vm(m, k, e)) || (ret = create_vcpus(m, k, e)))
		goto fail;
	return 0;
fail:
	kvm_destroy(m);
	return ret;
}

/* Makes every vCPU but the calling thread's leave KVM_RUN soon: the
 * flag its loop tests is set first (by the caller), then immediate_exit
 * (a KVM_RUN about to start returns at once), then the signal (one
 * under way returns EINTR).  immediate_exit is written with a full
 * barrier, here and where vcpu_loop() clears it: see there.
 * Async-signal-safe. */
static void kick_vcpus(struct kvm_engine *k)
{
	for (unsigned i = 0; i < k->ncpus; i++) {
		struct kvm_vcpu *v = &k->vcpu[i];

		if (v->run)
			__atomic_store_n(&v->run->immediate_exit, 1,
					 __ATOMIC_SEQ_CST);
		if (atomic_load(&v->in_run) &&
		    !pthread_equal(pthread_self(), v->thread))
			pthread_kill(v->thread, KICK_SIGNAL);
	}
}

static void kvm_kick(struct machine *m)
{
	struct kvm_engine *k = kvm_of(m);

	if (!k || !k->vcpu)
		return;
	atomic_store(&k->kicked, true);
	kick_vcpus(k);
}

/* Appends " code: xx xx ..." for the bytes at the guest's RIP. */
static void append_code_bytes(struct machine *m, struct kvm_vcpu *v,
			      char *buf, size_t len)
{
	struct rax_regs r;
	uint64_t gpa = 0;
	const uint8_t *p;
	size_t o = strlen(buf);

	if (kvm_get_regs(v, &r) || kvm_translate(v, r.rip, &gpa) ||
	    !(p = gm_ptr(&m->mem, gpa, 16))) {
		snprintf(buf + o, len - o, " (code at rip unreadable)");
		return;
	}
	if (kvm_of(m)->ncpus > 1)
		o += snprintf(buf + o, len - o, " on vCPU %u", v->index);
	o += snprintf(buf + o, len - o, " at rip %#llx, code:",
		      (unsigned long long)r.rip);
	for (int i = 0; i < 16 && o < len; i++)
		o += snprintf(buf + o, len - o, " %02x", p[i]);
}

typedef int (*exit_fn)(struct machine *m, struct kvm_vcpu *v,
		       struct vcpu_stop *st, struct rax_err *e);

/* Exit handlers return 0 to re-enter the guest, 1 to return to the
 * caller with *st filled, or -errno with *e.  The devices see one access
 * at a time, whichever vCPU makes it (bus_lock). */
static int exit_io(struct machine *m, struct kvm_vcpu *v,
		   struct vcpu_stop *st, struct rax_err *e)
{
	struct kvm_engine *k = kvm_of(m);
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	pthread_mutex_lock(&k->bus_lock);
	for (uint32_t i = 0; i < run->io.count; i++)
		machine_pio(m, run->io.port, run->io.direction == KVM_EXIT_IO_OUT,
			    data + i * run->io.size, run->io.size);
	pthread_mutex_unlock(&k->bus_lock);
	return 0;
}

static int exit_mmio(struct machine *m, struct kvm_vcpu *v,
		     struct vcpu_stop *st, struct rax_err *e)
{
	struct kvm_engine *k = kvm_of(m);
	struct kvm_run *run = v->run;

	pthread_mutex_lock(&k->bus_lock);
	machine_mmio(m, run->mmio.phys_addr, run->mmio.is_write,
		     run->mmio.data, run->mmio.len);
	pthread_mutex_unlock(&k->bus_lock);
	return 0;
}

static int exit_continue(struct machine *m, struct kvm_vcpu *v,
			 struct vcpu_stop *st, struct rax_err *e)
{
	return 0;
}

static int exit_shutdown(struct machine *m, struct kvm_vcpu *v,
			 struct vcpu_stop *st, struct rax_err *e)
{
	st->reason = VCPU_STOP_SHUTDOWN;
	return 1;
}

static int exit_debug(struct machine *m, struct kvm_vcpu *v,
		      struct vcpu_stop *st, struct rax_err *e)
{
	return kvm_debug_exit(m, v, st) ? 1 : 0;
}

static int exit_system_event(struct machine *m, struct kvm_vcpu *v,
			     struct vcpu_stop *st, struct rax_err *e)
{
	struct kvm_run *run = v->run;

	switch (run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		machine_request_exit(m, RAX_EXIT_OK, "guest powered off");
		return 0;
	case KVM_SYSTEM_EVENT_RESET:
		machine_request_exit(m, RAX_EXIT_OK, "guest requested reset");
		return 0;
	default:
		return rax_errf(e, -EIO, "kvm: system event %u (guest crash)",
				run->system_event.type);
	}
}

static int exit_hlt(struct machine *m, struct kvm_vcpu *v,
		    struct vcpu_stop *st, struct rax_err *e)
{
	/* With the in-kernel irqchip KVM handles HLT; an exit means the vCPU
	 * halted with nothing able to wake it. */
	return rax_errf(e, -EIO, "kvm: guest halted with interrupts disabled");
}

static int exit_internal_error(struct machine *m, struct kvm_vcpu *v,
			       struct vcpu_stop *st, struct rax_err *e)
{
	struct kvm_run *run = v->run;
	static const char *const sub[] = {
		[1] = "emulation failure", [2] = "simultaneous exceptions",
		[3] = "delivery event", [4] = "unexpected exit reason",
	};
	unsigned s = run->internal.suberror;

	rax_errf(e, -EIO, "kvm: KVM_EXIT_INTERNAL_ERROR, suberror %u (%s)", s,
		 s < 5 && sub[s] ? sub[s] : "?");
	append_code_bytes(m, v, e->msg, sizeof(e->msg));
	return -EIO;
}

static int exit_fail_entry(struct machine *m, struct kvm_vcpu *v,
			   struct vcpu_stop *st, struct rax_err *e)
{
	struct kvm_run *run = v->run;

	rax_errf(e, -EIO, "kvm: VM entry failed, hardware reason %#llx",
		 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
	append_code_bytes(m, v, e->msg, sizeof(e->msg));
	return -EIO;
}

static const exit_fn exit_table[KVM_EXIT_REASONS] = {
	[KVM_EXIT_IO] = exit_io,
	[KVM_EXIT_MMIO] = exit_mmio,
	[KVM_EXIT_DEBUG] = exit_debug,
	[KVM_EXIT_HLT] = exit_hlt,
	[KVM_EXIT_IRQ_WINDOW_OPEN] = exit_continue,
	[KVM_EXIT_INTR] = exit_continue,
	[KVM_EXIT_SHUTDOWN] = exit_shutdown,
	[KVM_EXIT_FAIL_ENTRY] = exit_fail_entry,
	[KVM_EXIT_INTERNAL_ERROR] = exit_internal_error,
	[KVM_EXIT_SYSTEM_EVENT] = exit_system_event,
};

/* Runs v until a stop event of its own or until the others, a kick or
 * an exit request stop it (VCPU_STOP_KICK).  Returns 0 with *st, or
 * -errno with *e. */
static int vcpu_loop(struct machine *m, struct kvm_vcpu *v,
		     struct vcpu_stop *st, struct rax_err *e)
{
	struct kvm_engine *k = kvm_of(m);
	int ret = 0;

	memset(st, 0, sizeof(*st));
	st->reason = VCPU_STOP_KICK;
	st->cpu = v->index;
	for (;;) {
		unsigned reason;

		if (atomic_load(&k->kicked) || atomic_load(&k->stopping) ||
		    atomic_load(&m->exit_requested))
			break;
		if (!k->first_run_ns && !v->index)
			k->first_run_ns = host_now_ns();
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			/* Cleared before the flags are read again, with a
			 * full barrier between: a plain store could wait in
			 * the store buffer past that read (x86 lets a load
			 * pass an earlier store), and a kick whose flag the
			 * read missed would have its immediate_exit = 1
			 * overwritten, its signal already spent: the next
			 * KVM_RUN would sleep through it.  Now either the
			 * read sees the flag or the kick's store comes
			 * after this one. */
			if (errno == EINTR || errno == EAGAIN) {
				__atomic_store_n(&v->run->immediate_exit, 0,
						 __ATOMIC_SEQ_CST);
				continue;
			}
			ret = rax_errf(e, -errno, "kvm: KVM_RUN: %s", strerror(errno));
			break;
		}
		if (k->nswbp) {
			pthread_mutex_lock(&k->bus_lock);
			kvm_swbp_refresh(m);
			pthread_mutex_unlock(&k->bus_lock);
		}
		reason = v->run->exit_reason;
		if (reason < KVM_EXIT_REASONS)
			v->exits[reason]++;
		rax_log(LOG_TRACE, exit, "vCPU %u: exit %u (%s)", v->index,
			reason, reason < KVM_EXIT_REASONS && exit_names[reason] ?
			exit_names[reason] : "?");
		if (reason >= KVM_EXIT_REASONS || !exit_table[reason]) {
			rax_errf(e, -EIO, "kvm: unhandled exit reason %u (%s)",
				 reason, reason < KVM_EXIT_REASONS &&
				 exit_names[reason] ? exit_names[reason] : "?");
			append_code_bytes(m, v, e->msg, sizeof(e->msg));
			ret = -EIO;
			break;
		}
		ret = exit_table[reason](m, v, st, e);
		if (ret)
			break;
	}
	if (ret < 0)
		st->reason = VCPU_STOP_ERROR;
	return ret < 0 ? ret : 0;
}

/* The calling thread's CPU time: a vCPU thread's grows only while its
 * vCPU runs guest code or exits (a halted vCPU sleeps in KVM_RUN). */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* vcpu_loop() on the thread that owns v, and what follows a stop of
 * its own: the first one is recorded and the other vCPUs are kicked. */
static int vcpu_run(struct machine *m, struct kvm_vcpu *v,
		    struct vcpu_stop *st, struct rax_err *e)
{
	struct kvm_engine *k = kvm_of(m);
	int ret, none = -1;

	uint64_t t0 = thread_cpu_ns();

	atomic_store(&v->in_run, true);
	ret = vcpu_loop(m, v, st, e);
	atomic_store(&v->in_run, false);
	v->run_cpu_ns = thread_cpu_ns() - t0;
	if (ret || st->reason != VCPU_STOP_KICK) {
		atomic_compare_exchange_strong(&k->first_stop, &none,
					       (int)v->index);
		atomic_store(&k->stopping, true);
		kick_vcpus(k);
	}
	return ret;
}

/* An AP's thread: runs its vCPU on each order of run(). */
static void *ap_thread(void *opaque)
{
	struct kvm_vcpu *v = opaque;
	struct kvm_engine *k = kvm_of(v->m);

	pthread_mutex_lock(&k->run_lock);
	for (;;) {
		struct vcpu_stop st;
		struct rax_err e = { "" };
		int ret;

		while (!k->quit && !v->ordered)
			pthread_cond_wait(&k->run_cond, &k->run_lock);
		if (k->quit)
			break;
		pthread_mutex_unlock(&k->run_lock);
		ret = vcpu_run(v->m, v, &st, &e);
		pthread_mutex_lock(&k->run_lock);
		v->ret = ret;
		v->stop = st;
		v->err = e;
		v->ordered = false;
		k->busy--;
		pthread_cond_broadcast(&k->done_cond);
	}
	pthread_mutex_unlock(&k->run_lock);
	return NULL;
}

/* A kick names a vCPU that was running guest code: of those not halted
 * and not waiting for a start-up IPI (api.rst, KVM_GET_MP_STATE), the
 * one whose thread used the most CPU time in this run (a busy vCPU, not
 * one that woke for a timer tick); the busiest of all when every one
 * is halted. */
static unsigned kicked_cpu(struct kvm_engine *k)
{
	unsigned best = 0;
	bool best_runnable = false;

	for (unsigned i = 0; i < k->ncpus; i++) {
		struct kvm_vcpu *v = &k->vcpu[i];
		struct kvm_mp_state mp;
		bool runnable = !ioctl(v->fd, KVM_GET_MP_STATE, &mp) &&
			mp.mp_state == KVM_MP_STATE_RUNNABLE;

		if ((runnable && !best_runnable) ||
		    (runnable == best_runnable &&
		     v->run_cpu_ns > k->vcpu[best].run_cpu_ns)) {
			best = i;
			best_runnable = runnable;
		}
	}
	return best;
}

/* Tell a kvmclock guest it was paused (api.rst: KVM_KVMCLOCK_CTRL);
 * EINVAL when the guest has not enabled kvmclock. */
static void note_pause(struct kvm_vcpu *v)
{
	int r = ioctl(v->fd, KVM_KVMCLOCK_CTRL, 0);

	rax_log(LOG_DEBUG, kvm, "vCPU %u: KVM_KVMCLOCK_CTRL: %s", v->index,
		r < 0 ? strerror(errno) : "ok");
}

/* KVM_GET_MP_STATE (api.rst): the in-kernel LAPIC's view of the vCPU. */
static int kvm_op_get_activity(struct machine *m, unsigned cpu,
			       enum vcpu_activity *a)
{
	struct kvm_engine *k = kvm_of(m);
	struct kvm_mp_state mp;

	if (cpu >= k->ncpus)
		return -ENOENT;
	if (ioctl(k->vcpu[cpu].fd, KVM_GET_MP_STATE, &mp) < 0)
		return -errno;
	switch (mp.mp_state) {
	case KVM_MP_STATE_HALTED:
		*a = VCPU_ACT_HALTED;
		break;
	case KVM_MP_STATE_UNINITIALIZED:
	case KVM_MP_STATE_INIT_RECEIVED:
		*a = VCPU_ACT_WAIT_SIPI;
		break;
	default:
		*a = VCPU_ACT_RUNNING;
	}
	return 0;
}

/* run(): all vCPUs, or with VCPU_RUN_STEP only the one stepped, until
 * one stops; returns when every one that ran is out of KVM_RUN. */
static int kvm_run_vcpus(struct machine *m, unsigned flags,
			 struct vcpu_stop *st, struct rax_err *e)
{
	struct kvm_engine *k = kvm_of(m);
	bool step = flags & VCPU_RUN_STEP;
	unsigned only = step ? VCPU_RUN_CPU_OF(flags) : 0;
	struct vcpu_stop st0;
	struct rax_err e0 = { "" };
	int ret = 0, first;

	memset(st, 0, sizeof(*st));
	if (only >= k->ncpus) {
		st->reason = VCPU_STOP_ERROR;
		return rax_errf(e, -ENOENT, "kvm: no vCPU %u", only);
	}
	/* A step of a vCPU that is halted or waits for its start-up IPI
	 * completes without moving, as on the interpreter: with the
	 * interrupts blocked for the step nothing would wake it. */
	if (step && k->ncpus > 1) {
		enum vcpu_activity a;

		if (!kvm_op_get_activity(m, only, &a) && a != VCPU_ACT_RUNNING) {
			st->reason = VCPU_STOP_STEP;
			st->cpu = only;
			return 0;
		}
	}
	for (unsigned i = 0; i < k->ncpus; i++) {
		if (step && i != only)
			continue;
		ret = kvm_debug_apply(m, &k->vcpu[i], step);
		if (ret) {
			st->reason = VCPU_STOP_ERROR;
			return rax_errf(e, ret, "kvm: KVM_SET_GUEST_DEBUG: %s",
					strerror(-ret));
		}
	}
	atomic_store(&k->stopping, false);
	atomic_store(&k->first_stop, -1);
	k->vcpu[0].thread = pthread_self();
	pthread_mutex_lock(&k->run_lock);
	for (unsigned i = 1; i < k->ncpus; i++) {
		if (step && i != only)
			continue;
		k->vcpu[i].ordered = true;
		k->busy++;
	}
	pthread_cond_broadcast(&k->run_cond);
	pthread_mutex_unlock(&k->run_lock);
	if (!step || only == 0) {
		struct kvm_vcpu *v = &k->vcpu[0];

		v->ret = vcpu_run(m, v, &st0, &e0);
		v->stop = st0;
		v->err = e0;
	}
	pthread_mutex_lock(&k->run_lock);
	while (k->busy)
		pthread_cond_wait(&k->done_cond, &k->run_lock);
	pthread_mutex_unlock(&k->run_lock);

	first = atomic_load(&k->first_stop);
	if (first >= 0) {
		struct kvm_vcpu *v = &k->vcpu[first];

		*st = v->stop;
		if (v->ret) {
			*e = v->err;
			return v->ret;
		}
	} else {
		atomic_store(&k->kicked, false);
		st->reason = VCPU_STOP_KICK;
		st->cpu = step ? only : kicked_cpu(k);
	}
	if (st->reason != VCPU_STOP_SHUTDOWN)
		for (unsigned i = 0; i < k->ncpus; i++)
			if (!step || i == only)
				note_pause(&k->vcpu[i]);
	return 0;
}

static void kvm_set_irq(struct machine *m, unsigned gsi, int level)
{
	struct kvm_engine *k = kvm_of(m);
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	if (k && k->vm_fd >= 0 && ioctl(k->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		rax_log(LOG_WARN, irq, "KVM_IRQ_LINE gsi %u: %s", gsi,
			strerror(errno));
}

static uint64_t kvm_clock_ns(struct machine *m)
{
	return host_now_ns();
}

static void kvm_print_stats(struct machine *m)
{
	struct kvm_engine *k = kvm_of(m);

	uint64_t exits[KVM_EXIT_REASONS] = { 0 };

	if (k->first_run_ns)
		fprintf(stderr, "rax: start to first KVM_RUN: %.3f ms\n",
			(k->first_run_ns - m->start_ns) / 1e6);
	for (unsigned c = 0; c < k->ncpus; c++) {
		uint64_t n = 0;

		for (int i = 0; i < KVM_EXIT_REASONS; i++) {
			exits[i] += k->vcpu[c].exits[i];
			n += k->vcpu[c].exits[i];
		}
		if (k->ncpus > 1)
			fprintf(stderr, "rax: vCPU %u: %llu kvm exits\n", c,
				(unsigned long long)n);
	}
	fprintf(stderr, "rax: kvm exits by reason:\n");
	for (int i = 0; i < KVM_EXIT_REASONS; i++)
		if (exits[i])
			fprintf(stderr, "  %-16s %llu\n",
				exit_names[i] ? exit_names[i] : "?",
				(unsigned long long)exits[i]);
}

static int kvm_probe(struct rax_err *e)
{
	return kvm_selftest(e);
}

/* The debugger's memory access: guest RAM is shared with KVM and nothing
 * in rax caches it. */
static int kvm_read_mem(struct machine *m, uint64_t gpa, void *buf, size_t len)
{
	return gm_read(&m->mem, gpa, buf, len);
}

static int kvm_write_mem(struct machine *m, uint64_t gpa, const void *buf,
			 size_t len)
{
	return gm_write(&m->mem, gpa, buf, len);
}

/* The per-vCPU operations, by vCPU index. */
#define KVM_VCPU_OP(name, ...)                                              \
	static int kvm_op_##name(struct machine *m, unsigned cpu, __VA_ARGS__) \
	{                                                                   \
		struct kvm_engine *k = kvm_of(m);                           \
		return cpu >= k->ncpus ? -ENOENT :                          \
			kvm_##name(&k->vcpu[cpu], KVM_OP_ARGS);             \
	}
#define KVM_OP_ARGS r
KVM_VCPU_OP(get_regs, struct rax_regs *r)
KVM_VCPU_OP(set_regs, const struct rax_regs *r)
#undef KVM_OP_ARGS
#define KVM_OP_ARGS f
KVM_VCPU_OP(get_fpu, struct rax_fpu *f)
KVM_VCPU_OP(set_fpu, const struct rax_fpu *f)
#undef KVM_OP_ARGS
#define KVM_OP_ARGS d
KVM_VCPU_OP(get_dregs, struct rax_dregs *d)
#undef KVM_OP_ARGS
#define KVM_OP_ARGS y
KVM_VCPU_OP(get_ymmh, struct rax_ymmh *y)
KVM_VCPU_OP(set_ymmh, const struct rax_ymmh *y)
#undef KVM_OP_ARGS
#define KVM_OP_ARGS idx, v
KVM_VCPU_OP(get_msr, uint32_t idx, uint64_t *v)
KVM_VCPU_OP(set_msr, uint32_t idx, uint64_t v)
#undef KVM_OP_ARGS
#undef KVM_VCPU_OP

const struct vcpu_ops kvm_vcpu_ops = {
	.name = "kvm",
	.probe = kvm_probe,
	.init = kvm_init,
	.destroy = kvm_destroy,
	.run = kvm_run_vcpus,
	.kick = kvm_kick,
	.get_regs = kvm_op_get_regs,
	.set_regs = kvm_op_set_regs,
	.get_fpu = kvm_op_get_fpu,
	.set_fpu = kvm_op_set_fpu,
	.get_ymmh = kvm_op_get_ymmh,
	.set_ymmh = kvm_op_set_ymmh,
	.get_dregs = kvm_op_get_dregs,
	.get_msr = kvm_op_get_msr,
	.set_msr = kvm_op_set_msr,
	.get_activity = kvm_op_get_activity,
	.read_mem = kvm_read_mem,
	.write_mem = kvm_write_mem,
	.bp_insert = kvm_bp_insert,
	.bp_remove = kvm_bp_remove,
	.set_irq = kvm_set_irq,
	.clock_ns = kvm_clock_ns,
	.print_stats = kvm_print_stats,
	.msi = kvm_msi,
	.ioeventfd = kvm_ioeventfd,
	.irqfd_msi = kvm_irqfd_msi,
};
