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

struct intc {
	struct machine *m;
	pthread_mutex_t lock;
	atomic_bool pending;      /* read without the lock */
	struct pic pic;
	struct ioapic ioapic;
	struct lapic lapic;
	struct pit pit;
	struct rax_timer lapic_timer, pit_timer;
	uint64_t lapic_mmio;      /* where the APIC page is registered */
	unsigned nregistered;     /* entries of intc_ranges[] claimed */
};

/* ---- port and MMIO handlers ------------------------------------------ */

static void update_pending(struct intc *ic)
{
	bool p = lapic_pending_vector(&ic->lapic) >= 0 ||
		 ic->lapic.extint_req || ic->lapic.nmi_req ||
		 (lapic_accepts_pic(&ic->lapic) && pic_output(&ic->pic));

	atomic_store_explicit(&ic->pending, p, memory_order_release);
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

static uint32_t lapic_rd(struct intc *ic, uint64_t off)
{
	if (!(ic->lapic.apic_base & APIC_BASE_EN))
		return 0xffffffff; /* hardware-disabled: not decoded */
	return lapic_read(&ic->lapic, off);
}

static void lapic_wr(struct intc *ic, uint64_t off, uint32_t v)
{
	if (ic->lapic.apic_base & APIC_BASE_EN)
		lapic_write(&ic->lapic, off, v);
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

static void lapic_arm_cb(void *opaque, uint64_t deadline)
{
	struct intc *ic = opaque;

	arm(ic, &ic->lapic_timer, deadline);
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
	struct intc *ic = opaque;

	ioapic_eoi(&ic->ioapic, vector);
}

static bool ioapic_deliver_cb(void *opaque, uint8_t vector, unsigned mode,
			      bool level, bool logical, uint8_t dest)
{
	struct intc *ic = opaque;

	if (!(ic->lapic.apic_base & APIC_BASE_EN) ||
	    !lapic_match_dest(&ic->lapic, logical, dest))
		return false;
	if (mode == DELMODE_EXTINT)
		ic->lapic.extint_req = true;
	else
		lapic_accept(&ic->lapic, vector, level);
	return true;
}

/* Machine timer callbacks (vCPU thread, from timer_run()). */
static void lapic_timer_cb(void *opaque)
{
	struct intc *ic = opaque;

	pthread_mutex_lock(&ic->lock);
	lapic_timer_expired(&ic->lapic);
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

size_t intc_snap_size(void)
{
	return sizeof(struct intc);
}

void intc_snap_save(struct intc *ic, void *blob)
{
	pthread_mutex_lock(&ic->lock);
	memcpy(blob, ic, sizeof(*ic));
	pthread_mutex_unlock(&ic->lock);
}

/* Field by field: the lock, the machine and the bus registration stay.
 * The timer nodes come back with their links, which the timer list saved
 * with them (src/history) matches. */
void intc_snap_restore(struct intc *ic, const void *blob)
{
	const struct intc *s = blob;

	pthread_mutex_lock(&ic->lock);
	ic->pic = s->pic;
	ic->ioapic = s->ioapic;
	ic->lapic = s->lapic;
	ic->pit = s->pit;
	ic->lapic_timer = s->lapic_timer;
	ic->pit_timer = s->pit_timer;
	atomic_store(&ic->pending, atomic_load(&s->pending));
	pthread_mutex_unlock(&ic->lock);
}

int intc_create(struct machine *m, struct intc **out, struct rax_err *e)
{
	struct intc *ic = calloc(1, sizeof(*ic));
	int ret;

	if (!ic)
		return rax_errf(e, -ENOMEM, "intc: out of memory");
	ic->m = m;
	ret = pthread_mutex_init(&ic->lock, NULL);
	if (ret) {
		rax_errf(e, -ret, "intc: mutex: %s", strerror(ret));
		goto out_free;
	}
	timer_init(&ic->lapic_timer, lapic_timer_cb, ic);
	timer_init(&ic->pit_timer, pit_timer_cb, ic);
	pic_reset(&ic->pic);
	ioapic_reset(&ic->ioapic, ioapic_deliver_cb, ic);
	lapic_reset(&ic->lapic, &(struct lapic_ops){ now_cb, lapic_arm_cb,
						     eoi_level_cb, ic });
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
	free(ic);
	return ret;
}

void intc_destroy(struct intc *ic)
{
	if (!ic)
		return;
	timer_cancel(&ic->m->timers, &ic->lapic_timer);
	timer_cancel(&ic->m->timers, &ic->pit_timer);
	unregister_ranges(ic);
	pthread_mutex_destroy(&ic->lock);
	free(ic);
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
		if (lapic_match_dest(&ic->lapic, logical,
				     (uint8_t)(addr >> 12)))
			ic->lapic.nmi_req = true;
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

bool intc_pending(struct intc *ic)
{
	return atomic_load_explicit(&ic->pending, memory_order_acquire);
}

int intc_ack(struct intc *ic)
{
	int v;

	pthread_mutex_lock(&ic->lock);
	/* ExtINT (LINT0 or an I/O APIC pin, or the virtual wire) bypasses
	 * the APIC's priority logic: the PIC supplies the vector. */
	if (ic->lapic.extint_req ||
	    (lapic_accepts_pic(&ic->lapic) && pic_output(&ic->pic))) {
		ic->lapic.extint_req = false;
		v = pic_ack(&ic->pic);
	} else {
		v = lapic_ack(&ic->lapic);
	}
	update_pending(ic);
	pthread_mutex_unlock(&ic->lock);
	if (v >= 0)
		rax_log(LOG_TRACE, irq, "intc: deliver vector %#x", v);
	return v;
}

bool intc_take_nmi(struct intc *ic)
{
	bool nmi;

	pthread_mutex_lock(&ic->lock);
	nmi = ic->lapic.nmi_req;
	ic->lapic.nmi_req = false;
	update_pending(ic);
	pthread_mutex_unlock(&ic->lock);
	return nmi;
}

uint64_t intc_get_cr8(struct intc *ic)
{
	uint64_t v;

	pthread_mutex_lock(&ic->lock);
	v = (ic->lapic.tpr >> 4) & 0xf;
	pthread_mutex_unlock(&ic->lock);
	return v;
}

void intc_set_cr8(struct intc *ic, uint64_t cr8)
{
	pthread_mutex_lock(&ic->lock);
	ic->lapic.tpr = (uint32_t)(cr8 & 0xf) << 4;
	update_pending(ic);
	pthread_mutex_unlock(&ic->lock);
}

int intc_rdmsr(struct intc *ic, uint32_t msr, uint64_t *val)
{
	int ret;

	pthread_mutex_lock(&ic->lock);
	ret = lapic_rdmsr(&ic->lapic, msr, val);
	pthread_mutex_unlock(&ic->lock);
	return ret;
}

/* Moves the APIC page after an IA32_APIC_BASE write (SDM Vol. 3
 * §10.4.5). */
static void relocate(struct intc *ic)
{
	uint64_t base = ic->lapic.apic_base & APIC_BASE_ADDR;

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

int intc_wrmsr(struct intc *ic, uint32_t msr, uint64_t val)
{
	int ret;

	pthread_mutex_lock(&ic->lock);
	ret = lapic_wrmsr(&ic->lapic, msr, val);
	if (!ret && msr == MSR_IA32_APIC_BASE)
		relocate(ic);
	update_pending(ic);
	pthread_mutex_unlock(&ic->lock);
	return ret;
}
