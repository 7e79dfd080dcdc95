/* Local APIC (xAPIC): see lapic.h.  Section numbers refer to SDM Vol. 3
 * chapter 10. */
#include "devices/lapic.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "regs.h"
#include "timer.h"

/* Register offsets >> 4 (§10.4.1 Table 10-1). */
enum {
	R_ID = 0x02, R_VER = 0x03, R_TPR = 0x08, R_APR = 0x09, R_PPR = 0x0a,
	R_EOI = 0x0b, R_RRD = 0x0c, R_LDR = 0x0d, R_DFR = 0x0e, R_SVR = 0x0f,
	R_ISR = 0x10, R_TMR = 0x18, R_IRR = 0x20, R_ESR = 0x28,
	R_ICR_LO = 0x30, R_ICR_HI = 0x31, R_LVT = 0x32, R_TMICT = 0x38,
	R_TMCCT = 0x39, R_TDCR = 0x3e, R_SELF_IPI = 0x3f,
};

static bool x2apic(const struct lapic *l)
{
	return l->apic_base & APIC_BASE_EXTD;
}

/* x2APIC mode: the 32-bit ID, and the logical ID derived from it
 * (§10.12.10.2: cluster ID << 16 | 1 << the low four bits). */
static uint32_t x2_id(const struct lapic *l)
{
	return l->id >> 24;
}

static uint32_t x2_ldr(const struct lapic *l)
{
	return (x2_id(l) >> 4) << 16 | 1u << (x2_id(l) & 0xf);
}

_Static_assert((R_LVT + LVT_ERROR) << 4 == 0x370,
	       "LVT error register at 0x370 (SDM Vol. 3 Table 10-1)");
_Static_assert(((LAPIC_VERSION >> 16) & 0xff) == LVT_NUM - 1,
	       "the version register's max LVT entry counts our LVTs");

/* Writable bits of each LVT entry (§10.5.1 Figure 10-8). */
static const uint32_t lvt_rw[LVT_NUM] = {
	[LVT_TIMER] = 0x000700ff, [LVT_THERMAL] = 0x000107ff,
	[LVT_PERF] = 0x000107ff, [LVT_LINT0] = 0x0001a7ff,
	[LVT_LINT1] = 0x0001a7ff, [LVT_ERROR] = 0x000100ff,
};

enum { TIMER_ONESHOT, TIMER_PERIODIC, TIMER_TSC_DEADLINE };

static unsigned timer_mode(const struct lapic *l)
{
	return (l->lvt[LVT_TIMER] >> 17) & 3;
}

/* §10.5.4 Figure 10-10: bits 3,1:0 of the DCR; 111b divides by 1. */
static uint64_t timer_div(const struct lapic *l)
{
	unsigned v = (l->tdcr & 3) | ((l->tdcr >> 1) & 4);

	return v == 7 ? 1 : 2u << v;
}

static int vec_highest(const uint32_t *v)
{
	for (int i = 7; i >= 0; i--)
		if (v[i])
			return i * 32 + 31 - __builtin_clz(v[i]);
	return -1;
}

static void vec_set(uint32_t *v, unsigned n, bool on)
{
	if (on)
		v[n / 32] |= 1u << (n % 32);
	else
		v[n / 32] &= ~(1u << (n % 32));
}

static bool vec_test(const uint32_t *v, unsigned n)
{
	return v[n / 32] & (1u << (n % 32));
}

static void reset_regs(struct lapic *l)
{
	struct lapic_ops ops = l->ops;
	uint64_t base = l->apic_base;
	uint32_t id = l->id;

	memset(l, 0, sizeof(*l));
	l->ops = ops;
	l->apic_base = base;
	l->id = id;
	l->dfr = 0xffffffff;
	l->svr = 0xff;
	for (unsigned i = 0; i < LVT_NUM; i++)
		l->lvt[i] = LVT_MASKED;
	l->ops.arm(l->ops.opaque, TIMER_NEVER);
}

void lapic_reset(struct lapic *l, const struct lapic_ops *ops, unsigned id)
{
	l->ops = *ops;
	l->apic_base = LAPIC_DEFAULT_BASE | APIC_BASE_EN |
		       (id ? 0 : APIC_BASE_BSP);
	l->id = id << 24;
	reset_regs(l);
}

void lapic_init(struct lapic *l)
{
	reset_regs(l);
}

bool lapic_enabled(const struct lapic *l)
{
	return (l->apic_base & APIC_BASE_EN) && (l->svr & SVR_ENABLE);
}

bool lapic_accepts_pic(const struct lapic *l)
{
	uint32_t lint0 = l->lvt[LVT_LINT0];

	if (!lapic_enabled(l))
		return true; /* virtual wire */
	return !(lint0 & LVT_MASKED) && LVT_DELMODE(lint0) == 7;
}

bool lapic_match_dest(const struct lapic *l, bool logical, uint8_t dest)
{
	uint8_t ldr = (uint8_t)(l->ldr >> 24);

	if (dest == 0xff)
		return true;
	/* An 8-bit destination (I/O APIC, MSI, an xAPIC-mode ICR) reaching
	 * an APIC in x2APIC mode is compared zero-extended with its 32-bit
	 * IDs: logical, cluster 0 and the low 16 bits of the derived LDR
	 * (SDM Vol. 3A §10.12.10.2; KVM does the same), so the I/O APIC's
	 * logical destination 0xd reaches x2APIC IDs 0, 2 and 3. */
	if (x2apic(l))
		return logical ? !(x2_ldr(l) >> 16) && (x2_ldr(l) & dest)
			       : dest == x2_id(l);
	if (!logical)
		return dest == (uint8_t)(l->id >> 24);
	if ((l->dfr >> 28) == 0xf) /* flat model */
		return (ldr & dest) != 0;
	return (ldr >> 4) == (dest >> 4) && (ldr & dest & 0xf); /* cluster */
}

void lapic_accept(struct lapic *l, uint8_t vector, bool level)
{
	if (vector < 16) { /* §10.5.3: illegal vector, "receive" error */
		l->esr |= 1u << 6;
		return;
	}
	vec_set(l->irr, vector, true);
	vec_set(l->tmr, vector, level);
}

/* §10.8.3.1: PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4]:0. */
static uint32_t ppr(const struct lapic *l)
{
	int isrv = vec_highest(l->isr);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;

	return (l->tpr & 0xf0) >= isr_class ? l->tpr & 0xff : isr_class;
}

int lapic_pending_vector(const struct lapic *l)
{
	int v = vec_highest(l->irr);

	if (v < 0 || !lapic_enabled(l))
		return -1;
	return ((uint32_t)v & 0xf0) > (ppr(l) & 0xf0) ? v : -1;
}

int lapic_ack(struct lapic *l)
{
	int v = lapic_pending_vector(l);

	if (v < 0)
		return -1;
	vec_set(l->irr, (unsigned)v, false);
	vec_set(l->isr, (unsigned)v, true);
	return v;
}

static void eoi(struct lapic *l)
{
	int v = vec_highest(l->isr);

	if (v < 0)
		return;
	vec_set(l->isr, (unsigned)v, false);
	if (vec_test(l->tmr, (unsigned)v)) /* §10.8.5: broadcast EOI */
		l->ops.eoi_level(l->ops.opaque, (uint8_t)v);
}

static void lvt_fire(struct lapic *l, enum lapic_lvt i)
{
	if (!(l->lvt[i] & LVT_MASKED))
		lapic_accept(l, (uint8_t)l->lvt[i], false);
}

static void timer_start(struct lapic *l)
{
	uint64_t now = l->ops.now(l->ops.opaque);

	l->timer_start = now;
	if (!l->tmict) {
		l->ops.arm(l->ops.opaque, TIMER_NEVER);
		return;
	}
	l->ops.arm(l->ops.opaque, now + (uint64_t)l->tmict * timer_div(l));
}

void lapic_timer_expired(struct lapic *l)
{
	uint64_t now = l->ops.now(l->ops.opaque), period, k;

	switch (timer_mode(l)) {
	case TIMER_TSC_DEADLINE:
		if (!l->tsc_deadline)
			return;
		l->tsc_deadline = 0; /* §10.5.4.1: disarms after firing */
		break;
	case TIMER_PERIODIC:
		if (!l->tmict)
			return;
		period = (uint64_t)l->tmict * timer_div(l);
		k = (now - l->timer_start) / period + 1;
		l->ops.arm(l->ops.opaque, l->timer_start + k * period);
		break;
	default:
		if (!l->tmict)
			return;
		break;
	}
	lvt_fire(l, LVT_TIMER);
}

/* §10.5.4: current count, counting down from TMICT at bus/divisor. */
static uint32_t timer_current(const struct lapic *l)
{
	uint64_t ticks;

	if (!l->tmict || timer_mode(l) == TIMER_TSC_DEADLINE)
		return 0;
	ticks = (l->ops.now(l->ops.opaque) - l->timer_start) / timer_div(l);
	if (timer_mode(l) == TIMER_PERIODIC)
		return l->tmict - (uint32_t)(ticks % l->tmict);
	return ticks >= l->tmict ? 0 : l->tmict - (uint32_t)ticks;
}

static void write_lvt(struct lapic *l, enum lapic_lvt i, uint32_t val)
{
	unsigned old_mode = timer_mode(l);

	val &= lvt_rw[i];
	if (!(l->svr & SVR_ENABLE))
		val |= LVT_MASKED; /* §10.4.7.2 */
	l->lvt[i] = (l->lvt[i] & ~lvt_rw[i]) | val;
	if (i == LVT_TIMER && (old_mode == TIMER_TSC_DEADLINE) !=
			      (timer_mode(l) == TIMER_TSC_DEADLINE)) {
		/* §10.5.4.1: switching to or from TSC-deadline disarms. */
		l->tmict = 0;
		l->tsc_deadline = 0;
		l->ops.arm(l->ops.opaque, TIMER_NEVER);
	}
}

bool lapic_match_icr(const struct lapic *l, bool x2, bool logical,
		     uint32_t dest)
{
	if (!x2)
		return lapic_match_dest(l, logical, (uint8_t)(dest >> 24));
	if (dest == 0xffffffff)
		return true;
	if (!logical)
		return dest == x2_id(l);
	return (dest >> 16) == (x2_ldr(l) >> 16) && (dest & x2_ldr(l) & 0xffff);
}

bool lapic_x2apic(const struct lapic *l)
{
	return x2apic(l);
}

/* The ICR was written: the IPI goes out through the callback, which
 * routes it to the APICs it names (src/devices/intc.c). */
static void send_ipi(struct lapic *l)
{
	l->ops.ipi(l->ops.opaque, l->icr_lo, l->icr_hi);
}

static uint32_t reg_read(struct lapic *l, unsigned r);
static void reg_write(struct lapic *l, unsigned r, uint32_t val);

/* In x2APIC mode the MMIO page behaves as in the globally disabled
 * state (§10.12.1.2): not decoded, reads return all ones, writes do
 * nothing. */
uint32_t lapic_read(struct lapic *l, uint64_t off)
{
	return x2apic(l) ? 0xffffffff : reg_read(l, (unsigned)(off >> 4));
}

void lapic_write(struct lapic *l, uint64_t off, uint32_t val)
{
	if (!x2apic(l))
		reg_write(l, (unsigned)(off >> 4), val);
}

static uint32_t reg_read(struct lapic *l, unsigned r)
{
	if (r >= R_ISR && r < R_ISR + 8)
		return l->isr[r - R_ISR];
	if (r >= R_TMR && r < R_TMR + 8)
		return l->tmr[r - R_TMR];
	if (r >= R_IRR && r < R_IRR + 8)
		return l->irr[r - R_IRR];
	if (r >= R_LVT && r < R_LVT + LVT_NUM)
		return l->lvt[r - R_LVT];
	switch (r) {
	case R_ID: return l->id;
	case R_VER: return LAPIC_VERSION;
	case R_TPR: return l->tpr;
	case R_APR: return l->tpr; /* arbitration priority as the TPR */
	case R_PPR: return ppr(l);
	case R_LDR: return l->ldr;
	case R_DFR: return l->dfr;
	case R_SVR: return l->svr;
	case R_ESR: return l->esr;
	case R_ICR_LO: return l->icr_lo;
	case R_ICR_HI: return l->icr_hi;
	case R_TMICT: return l->tmict;
	case R_TMCCT: return timer_current(l);
	case R_TDCR: return l->tdcr;
	default: return 0; /* EOI, RRD and reserved read as zero */
	}
}

static void reg_write(struct lapic *l, unsigned r, uint32_t val)
{
	if (r >= R_LVT && r < R_LVT + LVT_NUM) {
		write_lvt(l, (enum lapic_lvt)(r - R_LVT), val);
		return;
	}
	switch (r) {
	case R_ID: l->id = val & 0xff000000; break;
	case R_TPR: l->tpr = val & 0xff; break;
	case R_EOI: eoi(l); break;
	case R_LDR: l->ldr = val & 0xff000000; break;
	case R_DFR: l->dfr = val | 0x0fffffff; break;
	case R_SVR:
		l->svr = val & 0x13ff;
		if (!(val & SVR_ENABLE))
			for (unsigned i = 0; i < LVT_NUM; i++)
				l->lvt[i] |= LVT_MASKED;
		break;
	case R_ESR: l->esr = 0; break; /* a write latches (no errors) */
	case R_ICR_HI: l->icr_hi = val & 0xff000000; break;
	case R_ICR_LO:
		l->icr_lo = val & 0x000ccfff; /* delivery status reads 0 */
		send_ipi(l);
		break;
	case R_TMICT:
		if (timer_mode(l) == TIMER_TSC_DEADLINE)
			break; /* §10.5.4.1: ignored in TSC-deadline mode */
		l->tmict = val;
		timer_start(l);
		break;
	case R_TDCR: l->tdcr = val & 0xb; break;
	default: break; /* read-only or reserved */
	}
}

/* x2APIC register access (§10.12.1.2 Table 10-6): readable ones
 * (everything but EOI and SELF IPI), writable ones (TPR, EOI, SVR, ESR,
 * ICR, the LVT, TMICT, TDCR, SELF IPI); DFR, ICR[63:32] as its own
 * register, APR, RRD and the reserved offsets are not there. */
static bool x2_readable(unsigned r)
{
	switch (r) {
	case R_ID: case R_VER: case R_TPR: case R_PPR: case R_LDR:
	case R_SVR: case R_ESR: case R_ICR_LO: case R_TMICT: case R_TMCCT:
	case R_TDCR:
		return true;
	default:
		return (r >= R_ISR && r < R_ISR + 8) ||
		       (r >= R_TMR && r < R_TMR + 8) ||
		       (r >= R_IRR && r < R_IRR + 8) ||
		       (r >= R_LVT && r < R_LVT + LVT_NUM);
	}
}

static bool x2_writable(unsigned r)
{
	switch (r) {
	case R_TPR: case R_EOI: case R_SVR: case R_ESR: case R_ICR_LO:
	case R_TMICT: case R_TDCR: case R_SELF_IPI:
		return true;
	default:
		return r >= R_LVT && r < R_LVT + LVT_NUM;
	}
}

static int x2_rdmsr(struct lapic *l, unsigned r, uint64_t *val)
{
	if (!x2_readable(r))
		return -EINVAL;
	switch (r) {
	case R_ID: *val = x2_id(l); break;
	case R_LDR: *val = x2_ldr(l); break;
	case R_ICR_LO: *val = (uint64_t)l->icr_hi << 32 | l->icr_lo; break;
	default: *val = reg_read(l, r); break;
	}
	return 0;
}

static int x2_wrmsr(struct lapic *l, unsigned r, uint64_t val)
{
	if (!x2_writable(r) || (r != R_ICR_LO && (val >> 32)))
		return -EINVAL;
	switch (r) {
	case R_EOI: case R_ESR: /* §10.12.1.2: a non-zero write #GPs */
		if (val)
			return -EINVAL;
		reg_write(l, r, 0);
		break;
	case R_SELF_IPI: /* §10.12.11: the vector, bits 31:8 reserved */
		if (val & ~0xffull)
			return -EINVAL;
		lapic_accept(l, (uint8_t)val, false);
		break;
	case R_ICR_LO: /* one 64-bit register: the destination above */
		l->icr_hi = (uint32_t)(val >> 32);
		l->icr_lo = (uint32_t)val & 0x000ccfff;
		send_ipi(l);
		break;
	default:
		reg_write(l, r, (uint32_t)val);
		break;
	}
	return 0;
}

int lapic_rdmsr(struct lapic *l, uint32_t msr, uint64_t *val)
{
	if (msr == MSR_IA32_TSC_DEADLINE) {
		*val = timer_mode(l) == TIMER_TSC_DEADLINE ? l->tsc_deadline : 0;
		return 0;
	}
	if (msr == MSR_IA32_APIC_BASE) {
		*val = l->apic_base;
		return 0;
	}
	if (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST)
		return x2apic(l) ? x2_rdmsr(l, msr - MSR_X2APIC_FIRST, val) :
				   -EINVAL;
	return -ENOENT;
}

int lapic_wrmsr(struct lapic *l, uint32_t msr, uint64_t val)
{
	bool en = val & APIC_BASE_EN, extd = val & APIC_BASE_EXTD;

	if (msr == MSR_IA32_TSC_DEADLINE) {
		if (timer_mode(l) != TIMER_TSC_DEADLINE)
			return 0; /* §10.5.4.1: writes ignored */
		l->tsc_deadline = val;
		l->ops.arm(l->ops.opaque, val ? val : TIMER_NEVER);
		return 0;
	}
	if (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST)
		return x2apic(l) ? x2_wrmsr(l, msr - MSR_X2APIC_FIRST, val) :
				   -EINVAL;
	if (msr != MSR_IA32_APIC_BASE)
		return -ENOENT;
	/* §10.12.5 Figure 10-27: EXTD without EN, x2APIC back to xAPIC,
	 * and disabled straight to x2APIC are invalid (#GP). */
	if ((extd && !en) || (x2apic(l) && en && !extd) ||
	    (!(l->apic_base & APIC_BASE_EN) && extd))
		return -EINVAL;
	/* Clearing EN resets the APIC to its power-up state (§10.4.3). */
	l->apic_base = (val & (APIC_BASE_ADDR | APIC_BASE_EN |
			       APIC_BASE_EXTD)) |
		       (l->apic_base & APIC_BASE_BSP);
	if (!en)
		reset_regs(l);
	return 0;
}
