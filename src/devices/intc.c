/* The interpreter's interrupt controllers: see intc.h.  This file owns
 * the wiring between the four models (pic.c, ioapic.c, lapic.c, pit.c),
 * their registration on the machine's buses, the machine timers they
 * use, and the one lock that makes intc_set_irq() callable from any
 * thread.  Every model function is called with ic->lock held. */
#include "devices/intc.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "log.h"
#include "machine.h"
#include "regs.h"

/* One per vCPU: its local APIC, the APIC's timer and what waits for
 * the vCPU. */
struct intc_cpu {
	struct intc *ic;
	unsigned idx;             /* vCPU index = APIC ID */
	atomic_bool pending;      /* read without the lock */
	struct lapic lapic;
	struct rax_timer timer;
	bool init_req, sipi_req;  /* INIT and start-up IPIs received */
	uint8_t sipi_vector;
};

struct intc {
	struct machine *m;
	pthread_mutex_t lock;
	struct pic pic;
	struct ioapic ioapic;
	struct pit pit;
	struct rax_timer pit_timer;
	uint64_t lapic_mmio;      /* where the APIC page is registered */
	unsigned nregistered;     /* entries of intc_ranges[] claimed */
	unsigned ncpus;
	unsigned cur;             /* the vCPU whose APIC the page shows */
	struct intc_cpu *cpu;     /* ncpus of them */
};

/* ---- port and MMIO handlers ------------------------------------------ */

/* The i8259's INT pin reaches vCPU 0 only (the BSP: virtual wire mode
 * or LINT0 as ExtINT); the other vCPUs' LINT0 is not wired. */
static bool pic_reaches(struct intc *ic, unsigned cpu)
{
	return cpu == 0 && lapic_accepts_pic(&ic->cpu[0].lapic) &&
	       pic_output(&ic->pic);
}

static void update_pending(struct intc *ic)
{
	for (unsigned i = 0; i < ic->ncpus; i++) {
		struct intc_cpu *v = &ic->cpu[i];
		bool p = lapic_pending_vector(&v->lapic) >= 0 ||
			 v->lapic.extint_req || v->lapic.nmi_req ||
			 v->init_req || v->sipi_req || pic_reaches(ic, i);

		atomic_store_explicit(&v->pending, p, memory_order_release);
	}
}

static uint8_t port_read(struct intc *ic, uint16_t port)
{
	if ((port & ~0x81u) == 0x20 || port == 0x4d0 || port == 0x4d1)
		return pic_read(&ic->pic, port);
	return pit_read(&ic->pit, port);
}

static void port_write(struct intc *ic, uint16_t port, uint8_t val)
{
	if ((port & ~0x81u) == 0x20 || port == 0x4d0 || port == 0x4d1)
		pic_write(&ic->pic, port, val);
	else
		pit_write(&ic->pit, port, val);
}

/* Wider port accesses are split into bytes at consecutive ports. */
static void port_io(struct intc *ic, uint16_t port, bool is_write,
		    uint8_t *data, unsigned size)
{
	pthread_mutex_lock(&ic->lock);
	for (unsigned i = 0; i < size; i++) {
		if (is_write)
			port_write(ic, (uint16_t)(port + i), data[i]);
		else
			data[i] = port_read(ic, (uint16_t)(port + i));
	}
	update_pending(ic);
	pthread_mutex_unlock(&ic->lock);
}

#define PORT_HANDLER(name, base)                                         \
	static void name(void *o, uint64_t off, bool w, void *d, unsigned s) \
	{                                                                \
		port_io(o, (uint16_t)((base) + off), w, d, s);           \
	}
PORT_HANDLER(pic_master_io, 0x20)
PORT_HANDLER(pic_slave_io, 0xa0)
PORT_HANDLER(elcr_io, 0x4d0)
PORT_HANDLER(pit_io, 0x40)
PORT_HANDLER(port61_io, 0x61)

/* APIC registers are 32 bits wide; narrower accesses see the bytes of
 * the aligned dword, wider ones zeroes above it. */
static void mmio32(struct intc *ic, uint64_t off, bool is_write, void *data,
		   unsigned size,
		   uint32_t (*rd)(struct intc *, uint64_t),
		   void (*wr)(struct intc *, uint64_t, uint32_t))
{
	unsigned shift = (unsigned)(off & 3) * 8;
	uint64_t v = 0;

	pthread_mutex_lock(&ic->lock);
	if (is_write) {
		memcpy(&v, data, size < 8 ? size : 8);
		wr(ic, off & ~3ull, (uint32_t)(v << shift));
	} else {
		v = rd(ic, off & ~3ull) >> shift;
		memset(data, 0, size);
		memcpy(data, &v, size < 4 ? size : 4);
	}
	update_pending(ic);
	pthread_mutex_unlock(&ic->lock);
}

static uint32_t ioapic_rd(struct intc *ic, uint64_t off)
{
	return ioapic_read(&ic->ioapic, off);
}

static void ioapic_wr(struct intc *ic, uint64_t off, uint32_t v)
{
	ioapic_write(&ic->ioapic, off, v);
}

/* The APIC page shows the APIC of the vCPU that accesses it. */
static uint32_t lapic_rd(struct intc *ic, uint64_t off)
{
	struct lapic *l = &ic->cpu[ic->cur].lapic;

	if (!(l->apic_base & APIC_BASE_EN))
		return 0xffffffff; /* hardware-disabled: not decoded */
	return lapic_read(l, off);
}

static void lapic_wr(struct intc *ic, uint64_t off, uint32_t v)
{
	struct lapic *l = &ic->cpu[ic->cur].lapic;

	if (l->apic_base & APIC_BASE_EN)
		lapic_write(l, off, v);
}

static void ioapic_io(void *o, uint64_t off, bool w, void *d, unsigned s)
{
	mmio32(o, off, w, d, s, ioapic_rd, ioapic_wr);
}

static void lapic_io(void *o, uint64_t off, bool w, void *d, unsigned s)
{
	mmio32(o, off, w, d, s, lapic_rd, lapic_wr);
}

/* The registration table (STYLE.md habit 1).  The LAPIC stays last: it
 * moves when the guest relocates IA32_APIC_BASE. */
static const struct intc_range {
	bool mmio;
	uint64_t base, len;
	io_handler fn;
	const char *name;
} intc_ranges[] = {
	{ false, 0x20, 2, pic_master_io, "pic-master" },
	{ false, 0xa0, 2, pic_slave_io, "pic-slave" },
	{ false, 0x4d0, 2, elcr_io, "elcr" },
	{ false, 0x40, 4, pit_io, "pit" },
	{ false, 0x61, 1, port61_io, "port61" },
	{ true, IOAPIC_BASE, IOAPIC_SIZE, ioapic_io, "ioapic" },
	{ true, LAPIC_DEFAULT_BASE, LAPIC_SIZE, lapic_io, "lapic" },
};
#define N_RANGES (sizeof(intc_ranges) / sizeof(intc_ranges[0]))

/* io_bus has no unregister call: remove our own entry from the sorted
 * table, keeping the order. */
static void bus_remove(struct io_bus *b, uint64_t base, io_handler fn)
{
	for (int i = 0; i < b->n; i++) {
		if (b->r[i].base == base && b->r[i].fn == fn) {
			memmove(&b->r[i], &b->r[i + 1],
				(size_t)(b->n - i - 1) * sizeof(b->r[0]));
			b->n--;
			return;
		}
	}
}

static struct io_bus *bus_of(struct intc *ic, const struct intc_range *r)
{
	return r->mmio ? &ic->m->mmio : &ic->m->pio;
}

static void unregister_ranges(struct intc *ic)
{
	while (ic->nregistered) {
		const struct intc_range *r = &intc_ranges[--ic->nregistered];
		uint64_t base = r->fn == lapic_io ? ic->lapic_mmio : r->base;

		bus_remove(bus_of(ic, r), base, r->fn);
	}
}

/* ---- wiring between the models (lock held) ---------------------------- */

static uint64_t now_cb(void *opaque)
{
	struct intc *ic = opaque;

	return machine_now_ns(ic->m);
}

static void arm(struct intc *ic, struct rax_timer *t, uint64_t deadline)
{
	if (deadline == TIMER_NEVER)
		timer_cancel(&ic->m->timers, t);
	else
		timer_arm(&ic->m->timers, t, deadline);
}

static uint64_t lapic_now_cb(void *opaque)
{
	struct intc_cpu *v = opaque;

	return machine_now_ns(v->ic->m);
}

static void lapic_arm_cb(void *opaque, uint64_t deadline)
{
	struct intc_cpu *v = opaque;

	arm(v->ic, &v->timer, deadline);
}

static void pit_arm_cb(void *opaque, uint64_t deadline)
{
	struct intc *ic = opaque;

	arm(ic, &ic->pit_timer, deadline);
}

static void set_irq_locked(struct intc *ic, unsigned gsi, int level)
{
	if (gsi < 16)
		pic_set_irq(&ic->pic, gsi, level);
	ioapic_set_irq(&ic->ioapic, gsi, level);
}

static void pulse_irq0_cb(void *opaque)
{
	set_irq_locked(opaque, 0, 1);
	set_irq_locked(opaque, 0, 0);
}

static void eoi_level_cb(void *opaque, uint8_t vector)
{
	struct intc_cpu *v = opaque;

	ioapic_eoi(&v->ic->ioapic, vector);
}

/* Does an APIC message for (logical, dest) reach vCPU i?  A
 * hardware-disabled APIC takes none. */
static bool reaches(struct intc *ic, unsigned i, bool logical, uint8_t dest)
{
	const struct lapic *l = &ic->cpu[i].lapic;

	return (l->apic_base & APIC_BASE_EN) &&
	       lapic_match_dest(l, logical, dest);
}

/* Lowest priority (SDM Vol. 3 §10.6.2.4): the APIC of lowest task
 * priority among those named, the lowest index among equals (a fixed
 * choice, so SMP runs repeat). */
static int lowest_priority(struct intc *ic, bool logical, uint8_t dest)
{
	int best = -1;

	for (unsigned i = 0; i < ic->ncpus; i++)
		if (reaches(ic, i, logical, dest) &&
		    (best < 0 || (ic->cpu[i].lapic.tpr & 0xf0) <
				 (ic->cpu[best].lapic.tpr & 0xf0)))
			best = (int)i;
	return best;
}

/* A fixed, lowest-priority or ExtINT message from the I/O APIC or an
 * MSI: true when some APIC accepted it. */
static bool ioapic_deliver_cb(void *opaque, uint8_t vector, unsigned mode,
			      bool level, bool logical, uint8_t dest)
{
	struct intc *ic = opaque;
	bool any = false;

	if (mode == DELMODE_LOWEST) {
		int i = lowest_priority(ic, logical, dest);

		if (i < 0)
			return false;
		lapic_accept(&ic->cpu[i].lapic, vector, level);
		return true;
	}
	for (unsigned i = 0; i < ic->ncpus; i++) {
		struct lapic *l = &ic->cpu[i].lapic;

		if (!reaches(ic, i, logical, dest))
			continue;
		if (mode == DELMODE_EXTINT)
			l->extint_req = true;
		else
			lapic_accept(l, vector, level);
		any = true;
	}
	return any;
}

/* INIT to vCPU i (SDM Vol. 3 §10.4.7.3): its APIC returns to the
 * power-up state but for its ID, and the vCPU waits for a start-up IPI
 * once the engine has seen init_req.  A start-up IPI not yet taken is
 * forgotten. */
static void send_init(struct intc *ic, unsigned i)
{
	struct intc_cpu *v = &ic->cpu[i];

	lapic_init(&v->lapic);
	v->init_req = true;
	v->sipi_req = false;
}

/* An IPI from the APIC at `from` (its ICR, §10.6.1): fixed,
 * lowest-priority, NMI, INIT (assert; the level de-assert that
 * follows only synchronises arbitration IDs, nothing here) and
 * start-up, to the destination field or a shorthand (self, all, all
 * but self). */
static void ipi_cb(void *opaque, uint32_t lo, uint32_t hi)
{
	struct intc_cpu *src = opaque;
	struct intc *ic = src->ic;
	unsigned mode = LVT_DELMODE(lo), shorthand = (lo >> 18) & 3;
	bool logical = lo & (1u << 11), level = lo & (1u << 15);
	bool x2 = lapic_x2apic(&src->lapic);
	uint8_t vector = (uint8_t)lo;

	if (mode == DELMODE_INIT && !(lo & (1u << 14)) && level)
		return; /* INIT level de-assert */
	if (mode == DELMODE_LOWEST && shorthand == 0 && !x2) {
		int i = lowest_priority(ic, logical, (uint8_t)(hi >> 24));

		if (i >= 0)
			lapic_accept(&ic->cpu[i].lapic, vector, false);
		return;
	}
	for (unsigned i = 0; i < ic->ncpus; i++) {
		struct intc_cpu *v = &ic->cpu[i];
		bool to;

		switch (shorthand) {
		case 1: to = v == src; break;
		case 2: to = true; break;
		case 3: to = v != src; break;
		default:
			/* Physical destination 0xff (x2APIC: 0xffffffff)
			 * is a broadcast; a disabled APIC still takes INIT
			 * and start-up.  x2APIC lowest priority: fixed. */
			to = lapic_match_icr(&v->lapic, x2, logical, hi);
			break;
		}
		if (!to)
			continue;
		switch (mode) {
		case DELMODE_FIXED: case DELMODE_LOWEST:
			if (v->lapic.apic_base & APIC_BASE_EN)
				lapic_accept(&v->lapic, vector, false);
			break;
		case DELMODE_NMI:
			v->lapic.nmi_req = true; /* the vector is ignored */
			break;
		case DELMODE_INIT:
			send_init(ic, i);
			break;
		case DELMODE_SIPI:
			v->sipi_req = true;
			v->sipi_vector = vector;
			break;
		default: /* SMI and reserved modes */
			rax_log(LOG_DEBUG, irq, "lapic %u: IPI icr %#x:%08x "
				"ignored", src->idx, hi, lo);
			break;
		}
	}
}

/* Machine timer callbacks (vCPU thread, from timer_run()). */
static void lapic_timer_cb(void *opaque)
{
	struct intc_cpu *v = opaque;
	struct intc *ic = v->ic;

	pthread_mutex_lock(&ic->lock);
	lapic_timer_expired(&v->lapic);
	update_pending(ic);
	pthread_mutex_unlock(&ic->lock);
}

static void pit_timer_cb(void *opaque)
{
	struct intc *ic = opaque;

	pthread_mutex_lock(&ic->lock);
	pit_timer_expired(&ic->pit);
	update_pending(ic);
	pthread_mutex_unlock(&ic->lock);
}

/* ---- the contract ------------------------------------------------------ */

int intc_create(struct machine *m, struct intc **out, struct rax_err *e)
{
	struct intc *ic = calloc(1, sizeof(*ic));
	unsigned n = m->ncpus ? m->ncpus : 1;
	int ret;

	if (!ic)
		return rax_errf(e, -ENOMEM, "intc: out of memory");
	ic->m = m;
	ic->ncpus = n;
	ic->cpu = calloc(n, sizeof(*ic->cpu));
	if (!ic->cpu) {
		ret = rax_errf(e, -ENOMEM, "intc: out of memory");
		goto out_free;
	}
	ret = pthread_mutex_init(&ic->lock, NULL);
	if (ret) {
		rax_errf(e, -ret, "intc: mutex: %s", strerror(ret));
		goto out_free;
	}
	timer_init(&ic->pit_timer, pit_timer_cb, ic);
	pic_reset(&ic->pic);
	ioapic_reset(&ic->ioapic, ioapic_deliver_cb, ic);
	for (unsigned i = 0; i < n; i++) {
		struct intc_cpu *v = &ic->cpu[i];

		v->ic = ic;
		v->idx = i;
		timer_init(&v->timer, lapic_timer_cb, v);
		lapic_reset(&v->lapic, &(struct lapic_ops){
			lapic_now_cb, lapic_arm_cb, eoi_level_cb, ipi_cb, v },
			i);
	}
	pit_reset(&ic->pit, &(struct pit_ops){ now_cb, pit_arm_cb,
					       pulse_irq0_cb, ic });
	ic->lapic_mmio = LAPIC_DEFAULT_BASE;
	for (; ic->nregistered < N_RANGES; ic->nregistered++) {
		const struct intc_range *r = &intc_ranges[ic->nregistered];

		ret = iobus_register(bus_of(ic, r), r->base, r->len, r->fn, ic,
				     r->name);
		if (ret) {
			rax_errf(e, ret, "intc: cannot claim %s at %#llx: %s",
				 r->name, (unsigned long long)r->base,
				 strerror(-ret));
			goto out_unregister;
		}
	}
	*out = ic;
	return 0;

out_unregister:
	unregister_ranges(ic);
	pthread_mutex_destroy(&ic->lock);
out_free:
	free(ic->cpu);
	free(ic);
	return ret;
}

void intc_destroy(struct intc *ic)
{
	if (!ic)
		return;
	for (unsigned i = 0; i < ic->ncpus; i++)
		timer_cancel(&ic->m->timers, &ic->cpu[i].timer);
	timer_cancel(&ic->m->timers, &ic->pit_timer);
	unregister_ranges(ic);
	pthread_mutex_destroy(&ic->lock);
	free(ic->cpu);
	free(ic);
}

void intc_set_current(struct intc *ic, unsigned cpu)
{
	ic->cur = cpu < ic->ncpus ? cpu : 0;
}

void intc_set_irq(struct intc *ic, unsigned gsi, int level)
{
	if (gsi >= IOAPIC_PINS)
		return;
	pthread_mutex_lock(&ic->lock);
	set_irq_locked(ic, gsi, level);
	update_pending(ic);
	pthread_mutex_unlock(&ic->lock);
}

void intc_msi(struct intc *ic, uint64_t addr, uint32_t data)
{
	unsigned mode = (data >> 8) & 7;
	bool logical = addr & (1u << 2), level = data & (1u << 15);

	if ((addr >> 20) != 0xfee) {
		rax_log(LOG_WARN, irq, "intc: MSI to %#llx is not an APIC "
			"address", (unsigned long long)addr);
		return;
	}
	pthread_mutex_lock(&ic->lock);
	if (mode == DELMODE_NMI) {
		for (unsigned i = 0; i < ic->ncpus; i++)
			if (reaches(ic, i, logical, (uint8_t)(addr >> 12)))
				ic->cpu[i].lapic.nmi_req = true;
	} else if (mode == DELMODE_FIXED || mode == DELMODE_LOWEST ||
		   mode == DELMODE_EXTINT) {
		/* §10.11.2: the trigger mode applies to fixed messages;
		 * an edge message never sets the TMR. */
		ioapic_deliver_cb(ic, (uint8_t)data, mode, level, logical,
				  (uint8_t)(addr >> 12));
	} else {
		rax_log(LOG_WARN, irq, "intc: MSI delivery mode %u dropped",
			mode);
	}
	update_pending(ic);
	pthread_mutex_unlock(&ic->lock);
}

bool intc_pending(struct intc *ic, unsigned cpu)
{
	return atomic_load_explicit(&ic->cpu[cpu].pending,
				    memory_order_acquire);
}

int intc_ack(struct intc *ic, unsigned cpu)
{
	struct lapic *l = &ic->cpu[cpu].lapic;
	int v;

	pthread_mutex_lock(&ic->lock);
	/* ExtINT (LINT0 or an I/O APIC pin, or the virtual wire) bypasses
	 * the APIC's priority logic: the PIC supplies the vector. */
	if (l->extint_req || pic_reaches(ic, cpu)) {
		l->extint_req = false;
		v = pic_ack(&ic->pic);
	} else {
		v = lapic_ack(l);
	}
	update_pending(ic);
	pthread_mutex_unlock(&ic->lock);
	if (v >= 0)
		rax_log(LOG_TRACE, irq, "intc: deliver vector %#x", v);
	return v;
}

bool intc_take_nmi(struct intc *ic, unsigned cpu)
{
	struct lapic *l = &ic->cpu[cpu].lapic;
	bool nmi;

	pthread_mutex_lock(&ic->lock);
	nmi = l->nmi_req;
	l->nmi_req = false;
	update_pending(ic);
	pthread_mutex_unlock(&ic->lock);
	return nmi;
}

int intc_take_startup(struct intc *ic, unsigned cpu, uint8_t *vector)
{
	struct intc_cpu *v = &ic->cpu[cpu];
	int r = INTC_NONE;

	if (!atomic_load_explicit(&v->pending, memory_order_acquire))
		return INTC_NONE;
	pthread_mutex_lock(&ic->lock);
	if (v->init_req) {
		v->init_req = false;
		r = INTC_INIT;
	} else if (v->sipi_req) {
		v->sipi_req = false;
		*vector = v->sipi_vector;
		r = INTC_SIPI;
	}
	update_pending(ic);
	pthread_mutex_unlock(&ic->lock);
	return r;
}

uint64_t intc_get_cr8(struct intc *ic, unsigned cpu)
{
	uint64_t v;

	pthread_mutex_lock(&ic->lock);
	v = (ic->cpu[cpu].lapic.tpr >> 4) & 0xf;
	pthread_mutex_unlock(&ic->lock);
	return v;
}

void intc_set_cr8(struct intc *ic, unsigned cpu, uint64_t cr8)
{
	pthread_mutex_lock(&ic->lock);
	ic->cpu[cpu].lapic.tpr = (uint32_t)(cr8 & 0xf) << 4;
	update_pending(ic);
	pthread_mutex_unlock(&ic->lock);
}

int intc_rdmsr(struct intc *ic, unsigned cpu, uint32_t msr, uint64_t *val)
{
	int ret;

	pthread_mutex_lock(&ic->lock);
	ret = lapic_rdmsr(&ic->cpu[cpu].lapic, msr, val);
	pthread_mutex_unlock(&ic->lock);
	return ret;
}

/* Moves the APIC page after an IA32_APIC_BASE write (SDM Vol. 3
 * §10.4.5).  One page serves every vCPU, so it follows the last vCPU
 * that moved its APIC (guests move all of them alike, if at all). */
static void relocate(struct intc *ic, unsigned cpu)
{
	uint64_t base = ic->cpu[cpu].lapic.apic_base & APIC_BASE_ADDR;

	if (base == ic->lapic_mmio)
		return;
	bus_remove(&ic->m->mmio, ic->lapic_mmio, lapic_io);
	if (iobus_register(&ic->m->mmio, base, LAPIC_SIZE, lapic_io, ic,
			   "lapic")) {
		rax_log(LOG_WARN, irq, "intc: cannot move the APIC to %#llx",
			(unsigned long long)base);
		base = ic->lapic_mmio;
		if (iobus_register(&ic->m->mmio, base, LAPIC_SIZE, lapic_io,
				   ic, "lapic"))
			rax_log(LOG_ERROR, irq, "intc: APIC page lost");
	}
	ic->lapic_mmio = base;
}

int intc_wrmsr(struct intc *ic, unsigned cpu, uint32_t msr, uint64_t val)
{
	int ret;

	pthread_mutex_lock(&ic->lock);
	ret = lapic_wrmsr(&ic->cpu[cpu].lapic, msr, val);
	if (!ret && msr == MSR_IA32_APIC_BASE)
		relocate(ic, cpu);
	update_pending(ic);
	pthread_mutex_unlock(&ic->lock);
	return ret;
}
