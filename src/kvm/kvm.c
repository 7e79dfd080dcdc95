/* The KVM engine: a VM with one vCPU, KVM's in-kernel irqchip and PIT,
 * CPUID from KVM_GET_SUPPORTED_CPUID, device I/O forwarded to the
 * machine's buses, every exit reason dispatched through one table
 * (STYLE.md habit 7).  API: Documentation/virt/kvm/api.rst. */
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

int kvm_setup_cpuid(int sys_fd, int vcpu_fd, struct rax_err *e)
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

		if (c->function == 1)
			c->ebx &= 0x00ffffff; /* initial APIC id 0 */
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
static int setup_lapic(struct kvm_engine *k, struct rax_err *e)
{
	struct kvm_lapic_state la;
	uint32_t v;

	if (ioctl(k->vcpu_fd, KVM_GET_LAPIC, &la) < 0)
		return rax_errf(e, -errno, "kvm: KVM_GET_LAPIC: %s", strerror(errno));
	memcpy(&v, la.regs + 0x350, 4);
	v = (v & ~0x700u) | (7u << 8);
	memcpy(la.regs + 0x350, &v, 4);
	memcpy(&v, la.regs + 0x360, 4);
	v = (v & ~0x700u) | (4u << 8);
	memcpy(la.regs + 0x360, &v, 4);
	if (ioctl(k->vcpu_fd, KVM_SET_LAPIC, &la) < 0)
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

static int create_vcpu(struct kvm_engine *k, struct rax_err *e)
{
	long sz;

	k->vcpu_fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, 0);
	if (k->vcpu_fd < 0)
		return rax_errf(e, -errno, "kvm: KVM_CREATE_VCPU: %s", strerror(errno));
	sz = ioctl(k->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz < (long)sizeof(struct kvm_run))
		return rax_errf(e, -EINVAL, "kvm: bad vCPU mmap size %ld", sz);
	k->run = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED,
		      k->vcpu_fd, 0);
	if (k->run == MAP_FAILED) {
		k->run = NULL;
		return rax_errf(e, -errno, "kvm: mmap vCPU: %s", strerror(errno));
	}
	k->run_size = (size_t)sz;
	return 0;
}

/* FNINIT state and MXCSR's reset value (SDM Vol. 1 §8.1.5, §10.2.3). */
static int init_fpu(struct machine *m)
{
	struct rax_fpu f;
	uint16_t fcw = 0x37f;
	uint32_t mxcsr = 0x1f80;

	memset(&f, 0, sizeof(f));
	memcpy(f.fx + FX_FCW, &fcw, 2);
	memcpy(f.fx + FX_MXCSR, &mxcsr, 4);
	return kvm_set_fpu(m, &f);
}

static void kvm_destroy(struct machine *m)
{
	struct kvm_engine *k = kvm_of(m);

	if (!k)
		return;
	if (k->run)
		munmap(k->run, k->run_size);
	if (k->vcpu_fd >= 0)
		close(k->vcpu_fd);
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->sys_fd >= 0)
		close(k->sys_fd);
	pthread_mutex_destroy(&k->irq_lock);
	free(k);
	m->engine = NULL;
}

static int kvm_init(struct machine *m, struct rax_err *e)
{
	struct kvm_engine *k;
	int ret;

	if (m->ncpus > 1) /* main.c refuses --cpus N > 1 with KVM first */
		return rax_errf(e, -ENOTSUP, "kvm: more than one vCPU is not "
				"yet supported");
	k = calloc(1, sizeof(*k));
	if (!k)
		return rax_errf(e, -ENOMEM, "kvm: out of memory");
	k->vm_fd = k->vcpu_fd = -1;
	kvm_irq_init(k);
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
	if ((ret = create_vm(m, k, e)) || (ret = create_vcpu(k, e)) ||
	    (ret = kvm_setup_cpuid(k->sys_fd, k->vcpu_fd, e)) || (ret = setup_lapic(k, e)))
		goto fail;
	ret = kvm_set_regs(m, &m->boot_regs);
	if (!ret)
		ret = init_fpu(m);
	if (ret) {
		rax_errf(e, ret, "kvm: setting the boot registers: %s",
			 strerror(-ret));
		goto fail;
	}
	return 0;
fail:
	kvm_destroy(m);
	return ret;
}

static void kvm_kick(struct machine *m)
{
	struct kvm_engine *k = kvm_of(m);

	if (!k)
		return;
	atomic_store(&k->kicked, true);
	if (k->run)
		k->run->immediate_exit = 1;
	if (atomic_load(&k->in_run) && !pthread_equal(pthread_self(), k->thread))
		pthread_kill(k->thread, KICK_SIGNAL);
}

/* Appends " code: xx xx ..." for the bytes at the guest's RIP. */
static void append_code_bytes(struct machine *m, char *buf, size_t len)
{
	struct rax_regs r;
	uint64_t gpa = 0;
	const uint8_t *p;
	size_t o = strlen(buf);

	if (kvm_get_regs(m, &r) || kvm_translate(m, r.rip, &gpa) ||
	    !(p = gm_ptr(&m->mem, gpa, 16))) {
		snprintf(buf + o, len - o, " (code at rip unreadable)");
		return;
	}
	o += snprintf(buf + o, len - o, " at rip %#llx, code:",
		      (unsigned long long)r.rip);
	for (int i = 0; i < 16 && o < len; i++)
		o += snprintf(buf + o, len - o, " %02x", p[i]);
}

typedef int (*exit_fn)(struct machine *m, struct vcpu_stop *st,
		       struct rax_err *e);

/* Exit handlers return 0 to re-enter the guest, 1 to return to the
 * caller with *st filled, or -errno with *e. */
static int exit_io(struct machine *m, struct vcpu_stop *st, struct rax_err *e)
{
	struct kvm_run *run = kvm_of(m)->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	for (uint32_t i = 0; i < run->io.count; i++)
		machine_pio(m, run->io.port, run->io.direction == KVM_EXIT_IO_OUT,
			    data + i * run->io.size, run->io.size);
	return 0;
}

static int exit_mmio(struct machine *m, struct vcpu_stop *st,
		     struct rax_err *e)
{
	struct kvm_run *run = kvm_of(m)->run;

	machine_mmio(m, run->mmio.phys_addr, run->mmio.is_write,
		     run->mmio.data, run->mmio.len);
	return 0;
}

static int exit_continue(struct machine *m, struct vcpu_stop *st,
			 struct rax_err *e)
{
	return 0;
}

static int exit_shutdown(struct machine *m, struct vcpu_stop *st,
			 struct rax_err *e)
{
	st->reason = VCPU_STOP_SHUTDOWN;
	return 1;
}

static int exit_debug(struct machine *m, struct vcpu_stop *st,
		      struct rax_err *e)
{
	return kvm_debug_exit(m, st) ? 1 : 0;
}

static int exit_system_event(struct machine *m, struct vcpu_stop *st,
			     struct rax_err *e)
{
	struct kvm_run *run = kvm_of(m)->run;

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

static int exit_hlt(struct machine *m, struct vcpu_stop *st,
		    struct rax_err *e)
{
	/* With the in-kernel irqchip KVM handles HLT; an exit means the vCPU
	 * halted with nothing able to wake it. */
	return rax_errf(e, -EIO, "kvm: guest halted with interrupts disabled");
}

static int exit_internal_error(struct machine *m, struct vcpu_stop *st,
			       struct rax_err *e)
{
	struct kvm_run *run = kvm_of(m)->run;
	static const char *const sub[] = {
		[1] = "emulation failure", [2] = "simultaneous exceptions",
		[3] = "delivery event", [4] = "unexpected exit reason",
	};
	unsigned s = run->internal.suberror;

	rax_errf(e, -EIO, "kvm: KVM_EXIT_INTERNAL_ERROR, suberror %u (%s)", s,
		 s < 5 && sub[s] ? sub[s] : "?");
	append_code_bytes(m, e->msg, sizeof(e->msg));
	return -EIO;
}

static int exit_fail_entry(struct machine *m, struct vcpu_stop *st,
			   struct rax_err *e)
{
	struct kvm_run *run = kvm_of(m)->run;

	rax_errf(e, -EIO, "kvm: VM entry failed, hardware reason %#llx",
		 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
	append_code_bytes(m, e->msg, sizeof(e->msg));
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

static int kvm_run_vcpu(struct machine *m, unsigned flags,
			struct vcpu_stop *st, struct rax_err *e)
{
	struct kvm_engine *k = kvm_of(m);
	int ret = 0;

	memset(st, 0, sizeof(*st));
	k->thread = pthread_self();
	atomic_store(&k->in_run, true);
	ret = kvm_debug_apply(m, flags & VCPU_RUN_STEP);
	if (ret) {
		rax_errf(e, ret, "kvm: KVM_SET_GUEST_DEBUG: %s", strerror(-ret));
		goto out;
	}
	for (;;) {
		unsigned reason;

		if (atomic_exchange(&k->kicked, false) ||
		    atomic_load(&m->exit_requested)) {
			st->reason = VCPU_STOP_KICK;
			break;
		}
		if (!k->first_run_ns)
			k->first_run_ns = host_now_ns();
		if (ioctl(k->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				k->run->immediate_exit = 0;
				continue;
			}
			ret = rax_errf(e, -errno, "kvm: KVM_RUN: %s", strerror(errno));
			break;
		}
		if (k->nswbp)
			kvm_swbp_refresh(m);
		reason = k->run->exit_reason;
		if (reason < KVM_EXIT_REASONS)
			k->exits[reason]++;
		rax_log(LOG_TRACE, exit, "exit %u (%s)", reason,
			reason < KVM_EXIT_REASONS && exit_names[reason] ?
			exit_names[reason] : "?");
		if (reason >= KVM_EXIT_REASONS || !exit_table[reason]) {
			rax_errf(e, -EIO, "kvm: unhandled exit reason %u (%s)",
				 reason, reason < KVM_EXIT_REASONS &&
				 exit_names[reason] ? exit_names[reason] : "?");
			append_code_bytes(m, e->msg, sizeof(e->msg));
			ret = -EIO;
			break;
		}
		ret = exit_table[reason](m, st, e);
		if (ret)
			break;
	}
out:
	atomic_store(&k->in_run, false);
	if (ret < 0) {
		st->reason = VCPU_STOP_ERROR;
		return ret;
	}
	/* Tell a kvmclock guest it was paused (api.rst: KVM_KVMCLOCK_CTRL);
	 * EINVAL when the guest has not enabled kvmclock. */
	if (st->reason != VCPU_STOP_SHUTDOWN) {
		int r = ioctl(k->vcpu_fd, KVM_KVMCLOCK_CTRL, 0);

		rax_log(LOG_DEBUG, kvm, "KVM_KVMCLOCK_CTRL: %s",
			r < 0 ? strerror(errno) : "ok");
	}
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

	if (k->first_run_ns)
		fprintf(stderr, "rax: start to first KVM_RUN: %.3f ms\n",
			(k->first_run_ns - m->start_ns) / 1e6);
	fprintf(stderr, "rax: kvm exits by reason:\n");
	for (int i = 0; i < KVM_EXIT_REASONS; i++)
		if (k->exits[i])
			fprintf(stderr, "  %-16s %llu\n",
				exit_names[i] ? exit_names[i] : "?",
				(unsigned long long)k->exits[i]);
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

/* The per-vCPU operations: one vCPU (index 0) so far. */
#define KVM_VCPU_OP(name, ...)                                              \
	static int kvm_op_##name(struct machine *m, unsigned cpu, __VA_ARGS__) \
	{                                                                   \
		return cpu ? -ENOENT : kvm_##name(m, KVM_OP_ARGS);          \
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
	.run = kvm_run_vcpu,
	.kick = kvm_kick,
	.get_regs = kvm_op_get_regs,
	.set_regs = kvm_op_set_regs,
	.get_fpu = kvm_op_get_fpu,
	.set_fpu = kvm_op_set_fpu,
	.get_dregs = kvm_op_get_dregs,
	.get_msr = kvm_op_get_msr,
	.set_msr = kvm_op_set_msr,
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
