/* The machine: see machine.h. */
#include "machine.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

uint64_t host_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void machine_pio(struct machine *m, uint16_t port, bool is_write, void *data,
		 unsigned size)
{
	const struct io_range *r = iobus_find(&m->pio, port);

	if (r) {
		r->fn(r->opaque, port - r->base, is_write, data, size);
		return;
	}
	if (!is_write)
		memset(data, 0xff, size);
	if (m->debug_io) {
		uint64_t v = 0;

		memcpy(&v, data, size);
		log_emit(LOG_INFO, LOGC_io, "unclaimed %s port %#06x size %u%s%#llx",
			 is_write ? "write" : "read", port, size,
			 is_write ? " value " : " -> ", (unsigned long long)v);
	}
}

bool machine_mmio(struct machine *m, uint64_t gpa, bool is_write, void *data,
		  unsigned size)
{
	const struct io_range *r = iobus_find(&m->mmio, gpa);

	if (r) {
		r->fn(r->opaque, gpa - r->base, is_write, data, size);
		return true;
	}
	if (!is_write)
		memset(data, 0xff, size);
	if (m->debug_io) {
		uint64_t v = 0;

		memcpy(&v, data, size < 8 ? size : 8);
		log_emit(LOG_INFO, LOGC_mmio, "unclaimed %s %#llx size %u%s%#llx",
			 is_write ? "write" : "read", (unsigned long long)gpa,
			 size, is_write ? " value " : " -> ",
			 (unsigned long long)v);
	}
	return false;
}

void machine_set_irq(struct machine *m, unsigned gsi, int level)
{
	rax_log(LOG_TRACE, irq, "gsi %u -> %d", gsi, level);
	if (m->ops && m->ops->set_irq)
		m->ops->set_irq(m, gsi, level);
}

void machine_msi(struct machine *m, uint64_t addr, uint32_t data)
{
	rax_log(LOG_TRACE, irq, "msi %#llx data %#x",
		(unsigned long long)addr, data);
	if (m->ops && m->ops->msi)
		m->ops->msi(m, addr, data);
	else
		rax_log(LOG_WARN, irq, "msi %#llx data %#x: the engine "
			"cannot deliver MSIs", (unsigned long long)addr, data);
}

int machine_add_input(struct machine *m, const struct machine_input *in)
{
	if (m->ninputs == MACHINE_MAX_INPUTS)
		return -ENOSPC;
	m->inputs[m->ninputs++] = *in;
	return 0;
}

bool machine_input_gated(struct machine *m)
{
	return atomic_load(&m->inputs_gated);
}

void machine_input_arrived(struct machine *m)
{
	if (atomic_load(&m->inputs_gated) && m->input_arrived)
		m->input_arrived(m->input_arrived_opaque);
}

void machine_mem_written(struct machine *m, uint64_t gpa, uint64_t len)
{
	for (uint64_t pa = gpa & ~0xfffull; m->mem.dirty && pa < gpa + len;
	     pa += 4096) {
		void *p = gm_ptr(&m->mem, pa, 1);

		if (p)
			gm_dirty_host(&m->mem, p);
	}
	if (m->ops && m->ops->mem_written)
		m->ops->mem_written(m, gpa, len);
}

int machine_ioeventfd(struct machine *m, uint64_t gpa, unsigned len, int fd,
		      bool assign)
{
	if (!m->ops || !m->ops->ioeventfd)
		return -EOPNOTSUPP;
	return m->ops->ioeventfd(m, gpa, len, fd, assign);
}

int machine_irqfd_msi(struct machine *m, int fd, uint64_t addr,
		      uint32_t data, bool assign)
{
	if (!m->ops || !m->ops->irqfd_msi)
		return -EOPNOTSUPP;
	return m->ops->irqfd_msi(m, fd, addr, data, assign);
}

static void request_exit(struct machine *m, int status, int sig,
			 const char *why)
{
	bool expected = false;

	/* The first caller wins; readers test exit_requested, which is
	 * published only once the status and reason are written. */
	if (atomic_compare_exchange_strong(&m->exit_claimed, &expected, true)) {
		m->exit_status = status;
		m->exit_signal = sig;
		snprintf(m->exit_reason, sizeof(m->exit_reason), "%s", why);
		atomic_store(&m->exit_requested, true);
	}
	/* kicking, then kicks_off; machine_kicks_off() stores them the
	 * other way round.  Both sequentially consistent: either this
	 * sees kicks_off, or machine_kicks_off() sees kicking and waits
	 * for the kick to end. */
	atomic_fetch_add(&m->kicking, 1);
	if (!atomic_load(&m->kicks_off) && m->ops && m->ops->kick)
		m->ops->kick(m);
	atomic_fetch_sub(&m->kicking, 1);
}

void machine_kicks_off(struct machine *m)
{
	atomic_store(&m->kicks_off, true);
	/* A kick is a few stores and signals, not a wait: spin. */
	while (atomic_load(&m->kicking))
		sched_yield();
}

void machine_kicks_on(struct machine *m)
{
	atomic_store(&m->kicks_off, false);
	/* A request that came while kicks were off did not kick; one
	 * after the store above kicks itself (a second kick is harmless). */
	if (atomic_load(&m->exit_requested) && m->ops && m->ops->kick)
		m->ops->kick(m);
}

void machine_request_exit(struct machine *m, int status, const char *why)
{
	request_exit(m, status, 0, why);
}

void machine_request_exit_signal(struct machine *m, int sig, const char *why)
{
	request_exit(m, 128 + sig, sig, why);
}

static int fmt_seg(char *p, unsigned n, const char *name,
		   const struct rax_seg *s)
{
	return snprintf(p, n, "%-3s=%04x %016llx %08x type %x s %u dpl %u p %u "
			"l %u db %u g %u\n", name, s->sel,
			(unsigned long long)s->base, s->limit, s->type, s->s,
			s->dpl, s->present, s->l, s->db, s->g);
}

void machine_format_regs(const struct rax_regs *r, char *buf, unsigned len)
{
	static const char *const gpr[16] = {
		"RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI",
		"R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15",
	};
	static const char *const seg[6] = { "ES", "CS", "SS", "DS", "FS", "GS" };
	unsigned o = 0;

#define PUT(...) \
	do { if (o < len) o += (unsigned)snprintf(buf + o, len - o, __VA_ARGS__); } while (0)
	for (int i = 0; i < 16; i++)
		PUT("%-3s=%016llx%s", gpr[i], (unsigned long long)r->gpr[i],
		    (i & 3) == 3 ? "\n" : " ");
	PUT("RIP=%016llx RFL=%08llx\n", (unsigned long long)r->rip,
	    (unsigned long long)r->rflags);
	for (int i = 0; i < 6; i++)
		if (o < len)
			o += (unsigned)fmt_seg(buf + o, len - o, seg[i], &r->seg[i]);
	if (o < len)
		o += (unsigned)fmt_seg(buf + o, len - o, "LDT", &r->ldt);
	if (o < len)
		o += (unsigned)fmt_seg(buf + o, len - o, "TR", &r->tr);
	PUT("GDT=%016llx %04x IDT=%016llx %04x\n",
	    (unsigned long long)r->gdt.base, r->gdt.limit,
	    (unsigned long long)r->idt.base, r->idt.limit);
	PUT("CR0=%08llx CR2=%016llx CR3=%016llx CR4=%08llx CR8=%llx\n",
	    (unsigned long long)r->cr0, (unsigned long long)r->cr2,
	    (unsigned long long)r->cr3, (unsigned long long)r->cr4,
	    (unsigned long long)r->cr8);
	PUT("EFER=%016llx APIC_BASE=%016llx\n", (unsigned long long)r->efer,
	    (unsigned long long)r->apic_base);
#undef PUT
}

void machine_format_dregs(const struct rax_dregs *d, char *buf, unsigned len)
{
	snprintf(buf, len, "DR0=%016llx DR1=%016llx DR2=%016llx DR3=%016llx\n"
		 "DR6=%016llx DR7=%016llx\n", (unsigned long long)d->dr[0],
		 (unsigned long long)d->dr[1], (unsigned long long)d->dr[2],
		 (unsigned long long)d->dr[3], (unsigned long long)d->dr6,
		 (unsigned long long)d->dr7);
}
