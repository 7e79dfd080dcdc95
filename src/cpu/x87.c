/* x87 FPU (SDM Vol. 1 ch. 8, Vol. 2 instruction pages): the registers
 * live in the FXSAVE image, kept in stack order with TOP always 0 (a push
 * moves ST0-ST6 down one slot), so the image is what FXSAVE would store.
 * Arithmetic runs on the host's x87 (long double is the same 80-bit
 * format) under the guest's rounding and precision control, with
 * exceptions masked: results, including NaNs and rounding, are the
 * hardware's.  Each host operation runs between FNCLEX and FNSTSW; the
 * flags it raised are ORed into the guest's FSW (SDM Vol. 1 §8.1.3.1),
 * with C1 as the round-up indicator, and ES/B set when one is unmasked.
 * An unmasked invalid-operation, denormal or divide-by-zero leaves the
 * registers and memory unchanged (§8.7); #MF is raised by the next
 * waiting x87 instruction or WAIT (§8.6), whatever CR0.NE says.  Stack
 * overflow and underflow (§8.5.1.1) are detected on the TOP-0 image. */
#include "cpu/cpu.h"

#include <string.h>

#include "log.h"

#define FSW_C0 (1u << 8)
#define FSW_C1 (1u << 9)
#define FSW_C2 (1u << 10)
#define FSW_C3 (1u << 14)
#define FSW_CC (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3)
#define FSW_IE 0x01u
#define FSW_EXC 0x3fu
#define FSW_SF (1u << 6)
#define FSW_ES (1u << 7)
#define FSW_B (1u << 15)
#define FSW_PRE 0x07u /* IE DE ZE: detected before the result is stored */

static uint16_t fcw(const struct cpu *c)
{
	return (uint16_t)(c->fx[FX_FCW] | (c->fx[FX_FCW + 1] << 8));
}

static uint16_t fsw(const struct cpu *c)
{
	return (uint16_t)(c->fx[FX_FSW] | (c->fx[FX_FSW + 1] << 8));
}

static void set_fsw(struct cpu *c, uint16_t v)
{
	c->fx[FX_FSW] = (uint8_t)v;
	c->fx[FX_FSW + 1] = (uint8_t)(v >> 8);
}

/* ES and B: set iff an exception flag is set whose FCW mask is clear. */
static void sync_es(struct cpu *c)
{
	uint16_t f = fsw(c) & (uint16_t)~(FSW_ES | FSW_B);

	if (f & FSW_EXC & ~fcw(c))
		f |= FSW_ES | FSW_B;
	set_fsw(c, f);
}

void cpu_x87_sync_es(struct cpu *c)
{
	sync_es(c);
}

void cpu_x87_wait(struct cpu *c)
{
	if (fsw(c) & FSW_ES)
		cpu_raise(c, EXC_MF, 0, false);
}

/* ORs the flags a host operation left in sw into the guest's FSW; with
 * c1 also takes its C1 (the round-up indicator). */
static void fold(struct cpu *c, uint16_t sw, bool c1)
{
	uint16_t f = (uint16_t)(fsw(c) | (sw & FSW_EXC));

	if (c1)
		f = (uint16_t)((f & ~FSW_C1) | (sw & FSW_C1));
	c->x87_raised |= sw & FSW_EXC;
	set_fsw(c, f);
	sync_es(c);
}

/* True when an exception this instruction raised so far is unmasked and
 * suppresses the result (IE, DE, ZE: SDM Vol. 1 §8.7). */
static bool suppressed(const struct cpu *c)
{
	return c->x87_raised & FSW_PRE & ~fcw(c);
}

/* Stack overflow (C1 = 1) or underflow (C1 = 0), SDM Vol. 1 §8.5.1.1.
 * Returns true when IM is masked: the caller stores the indefinite. */
static bool stack_fault(struct cpu *c, bool over)
{
	set_fsw(c, (uint16_t)((fsw(c) & ~FSW_C1) | FSW_IE | FSW_SF |
			      (over ? FSW_C1 : 0)));
	c->x87_raised |= FSW_IE;
	sync_es(c);
	return fcw(c) & 1;
}

static void set_cc(struct cpu *c, unsigned cc)
{
	set_fsw(c, (uint16_t)((fsw(c) & ~FSW_CC) | cc));
}

static long double st(const struct cpu *c, unsigned i)
{
	long double v = 0;

	memcpy(&v, c->fx + FX_ST(i & 7), 10);
	return v;
}

static void set_st(struct cpu *c, unsigned i, long double v)
{
	memset(c->fx + FX_ST(i & 7), 0, 16);
	memcpy(c->fx + FX_ST(i & 7), &v, 10);
	c->fx[FX_FTW] |= (uint8_t)(1u << (i & 7));
}

static bool st_empty(const struct cpu *c, unsigned i)
{
	return !(c->fx[FX_FTW] & (1u << (i & 7)));
}

static long double indefinite(void);
static bool stack_fault(struct cpu *c, bool over);

/* A push onto a full stack (ST7 valid: it would be lost) overflows. */
static void push(struct cpu *c, long double v)
{
	if (!st_empty(c, 7)) {
		if (stack_fault(c, true))
			v = indefinite();
	} else {
		set_fsw(c, fsw(c) & ~FSW_C1); /* C1 = 0: no overflow */
	}
	memmove(c->fx + FX_ST(1), c->fx + FX_ST(0), 7 * 16);
	c->fx[FX_FTW] = (uint8_t)(c->fx[FX_FTW] << 1);
	set_st(c, 0, v);
}

static void pop(struct cpu *c)
{
	memmove(c->fx + FX_ST(0), c->fx + FX_ST(1), 7 * 16);
	memset(c->fx + FX_ST(7), 0, 16);
	c->fx[FX_FTW] = (uint8_t)(c->fx[FX_FTW] >> 1);
}

/* Runs host x87 code under the guest's control word, exceptions masked. */
static uint16_t host_cw_enter(const struct cpu *c)
{
	uint16_t old, cw = (uint16_t)(fcw(c) | 0x3f);

	__asm__ volatile("fnstcw %0" : "=m"(old));
	__asm__ volatile("fldcw %0" : : "m"(cw));
	return old;
}

static void host_cw_leave(uint16_t old)
{
	__asm__ volatile("fnclex; fldcw %0" : : "m"(old));
}

/* ST0 op m32fp / m64fp on the host's x87 with the memory operand
 * itself: converting it first would quiet an SNaN, and an SNaN with a
 * QNaN yields the QNaN (SDM Vol. 1 Table 4-7). */
#define HOST_M(insn)							\
	__asm__ volatile("fnclex\n\t" insn " %2\n\tfnstsw %1"		\
			 : "+t"(a), "=a"(*sw) : "m"(m))
#define HOST_M32(insn)							\
	__asm__ volatile("fnclex\n\t" insn " %2\n\tfnstsw %1"		\
			 : "+t"(a), "=a"(*sw) : "m"(m32))
static long double arith_m(unsigned op, long double a, uint64_t m, bool m64,
			   uint16_t *sw)
{
	uint32_t m32 = (uint32_t)m;

	if (m64) {
		switch (op) {
		case 0: HOST_M("faddl"); break;
		case 1: HOST_M("fmull"); break;
		case 4: HOST_M("fsubl"); break;
		case 5: HOST_M("fsubrl"); break;
		case 6: HOST_M("fdivl"); break;
		default: HOST_M("fdivrl"); break;
		}
		return a;
	}
	switch (op) {
	case 0: HOST_M32("fadds"); break;
	case 1: HOST_M32("fmuls"); break;
	case 4: HOST_M32("fsubs"); break;
	case 5: HOST_M32("fsubrs"); break;
	case 6: HOST_M32("fdivs"); break;
	default: HOST_M32("fdivrs"); break;
	}
	return a;
}

/* ST0 = ST0 op b; destination ST0, so AT&T's operand order is the
 * Intel one here. */
#define HOST_R(insn)							\
	__asm__ volatile("fnclex\n\t" insn " %%st(1), %%st\n\tfnstsw %1"	\
			 : "+t"(a), "=a"(*sw) : "u"(b))
static long double arith(unsigned op, long double a, long double b,
			 uint16_t *sw)
{
	switch (op) {
	case 0: HOST_R("fadd"); break;
	case 1: HOST_R("fmul"); break;
	case 4: HOST_R("fsub"); break;
	case 5: HOST_R("fsubr"); break;
	case 6: HOST_R("fdiv"); break;
	default: HOST_R("fdivr"); break;
	}
	return a;
}

/* The flags FCOM (ordered: IE for any NaN) or FUCOM (IE for SNaNs)
 * raises comparing a with b. */
static uint16_t host_cmp(long double a, long double b, bool ordered)
{
	uint16_t sw;

	if (ordered)
		__asm__ volatile("fnclex\n\tfcomi %%st(1), %%st\n\tfnstsw %0"
				 : "=a"(sw) : "t"(a), "u"(b) : "cc");
	else
		__asm__ volatile("fnclex\n\tfucomi %%st(1), %%st\n\tfnstsw %0"
				 : "=a"(sw) : "t"(a), "u"(b) : "cc");
	return sw;
}

/* FCOM m32fp/m64fp: the flags, from the memory operand itself. */
static uint16_t host_cmp_m(long double a, uint64_t m, unsigned n)
{
	uint32_t m32 = (uint32_t)m;
	uint16_t sw;

	if (n == 8)
		__asm__ volatile("fnclex\n\tfcoml %2\n\tfnstsw %0"
				 : "=a"(sw) : "t"(a), "m"(m));
	else
		__asm__ volatile("fnclex\n\tfcoms %2\n\tfnstsw %0"
				 : "=a"(sw) : "t"(a), "m"(m32));
	return sw;
}

/* FCOM/FUCOM of ST0 with ST(i); i < 0: with b, a memory operand of n
 * bytes m (n 0: an integer, exact in b). */
static void compare_m(struct cpu *c, int i, long double b, bool ordered,
		      uint64_t m, unsigned n)
{
	long double a = st(c, 0);
	unsigned cc;

	if (st_empty(c, 0) || (i >= 0 && st_empty(c, (unsigned)i))) {
		if (stack_fault(c, false))
			set_cc(c, FSW_C0 | FSW_C2 | FSW_C3);
		return;
	}
	if (i >= 0)
		b = st(c, (unsigned)i);
	set_cc(c, fsw(c) & ~FSW_CC);
	fold(c, i < 0 && n ? host_cmp_m(a, m, n) : host_cmp(a, b, ordered),
	     false);
	if (suppressed(c))
		return;
	if (a != a || b != b)
		cc = FSW_C0 | FSW_C2 | FSW_C3;
	else if (a < b)
		cc = FSW_C0;
	else if (a == b)
		cc = FSW_C3;
	else
		cc = 0;
	set_cc(c, cc);
}

static void compare(struct cpu *c, int i, long double b, bool ordered)
{
	compare_m(c, i, b, ordered, 0, 0);
}

static void comi(struct cpu *c, unsigned i, bool ordered)
{
	long double a = st(c, 0), b = st(c, i);
	uint64_t f = cpu_get_rflags(c) & ~(uint64_t)(RFLAGS_CF | RFLAGS_PF |
		RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF);

	if (st_empty(c, 0) || st_empty(c, i)) {
		if (stack_fault(c, false))
			cpu_set_rflags(c, f | RFLAGS_ZF | RFLAGS_PF | RFLAGS_CF);
		return;
	}
	set_fsw(c, fsw(c) & ~FSW_C1);
	fold(c, host_cmp(a, b, ordered), false);
	if (suppressed(c))
		return;
	if (a != a || b != b)
		f |= RFLAGS_ZF | RFLAGS_PF | RFLAGS_CF;
	else if (a < b)
		f |= RFLAGS_CF;
	else if (a == b)
		f |= RFLAGS_ZF;
	cpu_set_rflags(c, f);
}

/* m32fp/m64fp bits as a long double, for the comparison's result
 * (its flags come from host_cmp_m). */
static long double fp32(uint32_t v)
{
	float f;

	memcpy(&f, &v, 4);
	return f;
}

static long double fp64(uint64_t v)
{
	double f;

	memcpy(&f, &v, 8);
	return f;
}

/* Memory operand as a long double: m32fp, m64fp, m80fp, m16/32/64int. */
static long double load_fp(struct cpu *c, uint64_t la, unsigned n)
{
	long double r;
	uint16_t sw;

	/* FLD m32fp/m64fp: IE for an SNaN, DE for a denormal. */
	if (n == 4) {
		uint32_t v = rd32(c, la);

		__asm__ volatile("fnclex\n\tflds %2\n\tfnstsw %1"
				 : "=t"(r), "=a"(sw) : "m"(v));
		fold(c, sw, false);
		return r;
	}
	if (n == 8) {
		uint64_t v = rd64(c, la);

		__asm__ volatile("fnclex\n\tfldl %2\n\tfnstsw %1"
				 : "=t"(r), "=a"(sw) : "m"(v));
		fold(c, sw, false);
		return r;
	}
	{
		uint8_t b[16] = { 0 };
		long double f;
		uint64_t lo = rd64(c, la);
		uint16_t hi = rd16(c, la + 8);

		memcpy(b, &lo, 8);
		memcpy(b + 8, &hi, 2);
		memcpy(&f, b, sizeof(f));
		return f;
	}
}

/* The QNaN floating-point indefinite (SDM Vol. 1 Table 4-3). */
static long double indefinite(void)
{
	static const uint8_t b[16] = { 0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff };
	long double v;

	memcpy(&v, b, sizeof(v));
	return v;
}

/* FST(P) m32fp/m64fp/m80fp of ST0: rounded under the guest's RC and PC
 * on the host; nothing is written under an unmasked IE. */
static void store_fp(struct cpu *c, uint64_t la, unsigned n)
{
	long double v = st(c, 0);
	uint16_t old, sw = 0;

	cpu_probe_write(c, la, n); /* a #PF leaves the FSW as it was */
	if (st_empty(c, 0)) {
		if (!stack_fault(c, false))
			return;
		v = indefinite();
	}
	if (n == 4 || n == 8) {
		uint32_t f32;
		uint64_t f64;

		old = host_cw_enter(c);
		if (n == 4)
			__asm__ volatile("fnclex\n\tfsts %0\n\tfnstsw %1"
					 : "=m"(f32), "=a"(sw) : "t"(v));
		else
			__asm__ volatile("fnclex\n\tfstl %0\n\tfnstsw %1"
					 : "=m"(f64), "=a"(sw) : "t"(v));
		host_cw_leave(old);
		fold(c, sw, true);
		if (suppressed(c))
			return;
		if (n == 4)
			wr32(c, la, f32);
		else
			wr64(c, la, f64);
	} else {
		uint8_t b[16] = { 0 };
		uint64_t lo;
		uint16_t hi;

		set_fsw(c, fsw(c) & ~FSW_C1); /* not rounded */
		memcpy(b, &v, 10);
		memcpy(&lo, b, 8);
		memcpy(&hi, b + 8, 2);
		cpu_probe_write(c, la, 10);
		wr64(c, la, lo);
		wr16(c, la + 8, hi);
	}
}

static long double load_int(struct cpu *c, uint64_t la, unsigned n)
{
	switch (n) {
	case 2: return (int16_t)rd16(c, la);
	case 4: return (int32_t)rd32(c, la);
	default: return (int64_t)rd64(c, la);
	}
}

/* FIST(P): round under RC on the host at the operand's size (out of
 * range or NaN: IE and the integer indefinite); trunc: FISTTP (SSE3),
 * which rounds toward zero whatever RC says. */
static void store_int(struct cpu *c, uint64_t la, unsigned n, bool trunc)
{
	long double v = st(c, 0);
	int16_t r16;
	int32_t r32;
	long long r;
	uint16_t old, sw;

	cpu_probe_write(c, la, n); /* a #PF leaves the FSW as it was */
	if (st_empty(c, 0)) {
		if (stack_fault(c, false))
			wrn(c, la, n == 2 ? 0x8000 : n == 4 ? 0x80000000u :
			    0x8000000000000000ull, n);
		return;
	}
	old = host_cw_enter(c);
	if (trunc && n == 2)
		__asm__ volatile("fnclex\n\tfisttps %0\n\tfnstsw %1"
				 : "=m"(r16), "=a"(sw) : "t"(v) : "st");
	else if (trunc && n == 4)
		__asm__ volatile("fnclex\n\tfisttpl %0\n\tfnstsw %1"
				 : "=m"(r32), "=a"(sw) : "t"(v) : "st");
	else if (trunc)
		__asm__ volatile("fnclex\n\tfisttpll %0\n\tfnstsw %1"
				 : "=m"(r), "=a"(sw) : "t"(v) : "st");
	else if (n == 2)
		__asm__ volatile("fnclex\n\tfists %0\n\tfnstsw %1"
				 : "=m"(r16), "=a"(sw) : "t"(v));
	else if (n == 4)
		__asm__ volatile("fnclex\n\tfistl %0\n\tfnstsw %1"
				 : "=m"(r32), "=a"(sw) : "t"(v));
	else
		__asm__ volatile("fnclex\n\tfistpll %0\n\tfnstsw %1"
				 : "=m"(r), "=a"(sw) : "t"(v) : "st");
	host_cw_leave(old);
	fold(c, sw, true);
	if (suppressed(c))
		return;
	r = n == 2 ? r16 : n == 4 ? r32 : r;
	wrn(c, la, (uint64_t)r, n);
}

static void fxam(struct cpu *c)
{
	long double v = st(c, 0);
	uint8_t b[10];
	unsigned cc, exp;
	uint64_t mant;

	memcpy(b, c->fx + FX_ST(0), 10);
	memcpy(&mant, b, 8);
	exp = (b[8] | (b[9] << 8)) & 0x7fff;
	cc = (b[9] & 0x80) ? FSW_C1 : 0;
	if (st_empty(c, 0))
		cc |= FSW_C3 | FSW_C0;
	else if (exp == 0x7fff && !(mant >> 63))
		; /* pseudo-infinity/NaN: unsupported (C3 C2 C0 = 000) */
	else if (exp == 0x7fff)
		cc |= (mant << 1) ? FSW_C0 : (FSW_C2 | FSW_C0);
	else if (v == 0)
		cc |= FSW_C3;
	else if (!exp)
		cc |= FSW_C3 | FSW_C2;
	else
		cc |= (mant >> 63) ? FSW_C2 : 0;
	set_cc(c, cc);
}

/* FNSTENV/FLDENV, 32-bit format (SDM Vol. 1 Figure 8-9). */
static void fnstenv(struct cpu *c, uint64_t la)
{
	uint32_t tw = 0;

	for (unsigned i = 0; i < 8; i++)
		if (st_empty(c, i))
			tw |= 3u << (2 * i);
	cpu_probe_write(c, la, 28);
	wr32(c, la, fcw(c) | 0xffff0000u);
	wr32(c, la + 4, fsw(c) | 0xffff0000u);
	wr32(c, la + 8, tw | 0xffff0000u);
	for (unsigned o = 12; o < 28; o += 4)
		wr32(c, la + o, 0);
	c->fx[FX_FCW] |= 0x3f; /* FNSTENV masks all exceptions */
}

static void fldenv(struct cpu *c, uint64_t la)
{
	uint16_t cw = (uint16_t)rd32(c, la), sw = (uint16_t)rd32(c, la + 4);
	uint16_t tw = (uint16_t)rd32(c, la + 8);

	c->fx[FX_FCW] = (uint8_t)cw;
	c->fx[FX_FCW + 1] = (uint8_t)(cw >> 8);
	set_fsw(c, sw & (uint16_t)~(7u << 11));
	c->fx[FX_FTW] = 0;
	for (unsigned i = 0; i < 8; i++)
		if (((tw >> (2 * i)) & 3) != 3)
			c->fx[FX_FTW] |= (uint8_t)(1u << i);
	sync_es(c); /* ES/B follow the loaded flags and masks */
}

/* FLD1 FLDL2T FLDL2E FLDPI FLDLG2 FLDLN2 FLDZ, as the hardware rounds
 * them to nearest (exact 64-bit significands: a decimal literal rounds
 * log10(2) down by one unit in the last place). */
static const long double consts[8] = {
	1.0L, 0xd49a784bcd1b8afep-62L, 0xb8aa3b295c17f0bcp-63L,
	0xc90fdaa22168c235p-62L, 0x9a209a84fbcff799p-65L,
	0xb17217f7d1cf79acp-64L, 0.0L, 0.0L,
};

#define CLX "fnclex\n\t"
#define STSW "\n\tfnstsw %%ax"

/* D9 E0-FF: the operand-less group. */
static bool d9_special(struct cpu *c, unsigned lo)
{
	long double a = st(c, 0), r;
	uint16_t old, sw;
	bool two = lo == 0x31 || lo == 0x33 || lo == 0x35 || lo == 0x38 ||
		   lo == 0x39 || lo == 0x3d;

	/* Stack underflow: the masked response stores the indefinite in
	 * the destination (the unmasked one is undone by op_x87). */
	if ((lo <= 0x21 || (lo >= 0x30 && lo != 0x36 && lo != 0x37)) &&
	    (st_empty(c, 0) || (two && st_empty(c, 1)))) {
		stack_fault(c, false);
		if (lo == 0x31 || lo == 0x33 || lo == 0x39)
			pop(c);
		set_st(c, 0, indefinite());
		return true;
	}
	switch (lo) {
	case 0x20: /* FCHS, FABS: C1 = 0 (SDM Vol. 2) */
		set_fsw(c, fsw(c) & ~FSW_C1);
		set_st(c, 0, -a);
		return true;
	case 0x21: /* FABS clears the sign bit, of NaNs too */
		set_fsw(c, fsw(c) & ~FSW_C1);
		set_st(c, 0, __builtin_fabsl(a));
		return true;
	case 0x24: compare(c, -1, 0.0L, true); return true;
	case 0x25: fxam(c); return true;
	case 0x28: case 0x29: case 0x2a: case 0x2b: case 0x2c: case 0x2d:
	case 0x2e:
		push(c, consts[lo - 0x28]);
		return true;
	case 0x36: case 0x37: { /* FDECSTP/FINCSTP rotate (TOP stays 0) */
		uint8_t t[16], tw = c->fx[FX_FTW];

		if (lo == 0x37) { /* ST(i) <- ST(i+1), ST7 <- old ST0 */
			memcpy(t, c->fx + FX_ST(0), 16);
			memmove(c->fx + FX_ST(0), c->fx + FX_ST(1), 7 * 16);
			memcpy(c->fx + FX_ST(7), t, 16);
			c->fx[FX_FTW] = (uint8_t)((tw >> 1) | (tw << 7));
		} else {
			memcpy(t, c->fx + FX_ST(7), 16);
			memmove(c->fx + FX_ST(1), c->fx + FX_ST(0), 7 * 16);
			memcpy(c->fx + FX_ST(0), t, 16);
			c->fx[FX_FTW] = (uint8_t)((tw << 1) | (tw >> 7));
		}
		return true;
	}
	}
	old = host_cw_enter(c);
	switch (lo) {
	case 0x30:
		__asm__ volatile(CLX "f2xm1" STSW : "+t"(a), "=a"(sw));
		set_st(c, 0, a);
		break;
	case 0x31: /* FYL2X */
		__asm__ volatile(CLX "fyl2x" STSW : "=t"(r), "=a"(sw) :
				 "0"(a), "u"(st(c, 1)) : "st(1)");
		pop(c);
		set_st(c, 0, r);
		break;
	case 0x32: case 0x3b: { /* FPTAN, FSINCOS */
		long double top, second;

		/* Two results (tan and 1.0, or cos and sin; NaNs for a NaN
		 * operand), or none with C2 = 1 for |ST0| >= 2^63: the fld1
		 * only evens the stack effect for the asm. */
		if (lo == 0x32)
			__asm__ volatile(CLX "fptan\n\tfnstsw %%ax\n\ttestw $0x400, %%ax\n\t"
				"jz 1f\n\tfld1\n1:" : "=t"(top), "=u"(second),
				"=a"(sw) : "0"(a));
		else
			__asm__ volatile(CLX "fsincos\n\tfnstsw %%ax\n\ttestw $0x400, %%ax\n\t"
				"jz 1f\n\tfld1\n1:" : "=t"(top), "=u"(second),
				"=a"(sw) : "0"(a));
		set_cc(c, (fsw(c) & ~FSW_C2) | (sw & FSW_C2));
		if (sw & FSW_C2)
			break;
		set_st(c, 0, second);
		push(c, top);
		break;
	}
	case 0x33: /* FPATAN */
		__asm__ volatile(CLX "fpatan" STSW : "=t"(r), "=a"(sw) :
				 "0"(a), "u"(st(c, 1)) : "st(1)");
		pop(c);
		set_st(c, 0, r);
		break;
	case 0x35: case 0x38: /* FPREM1, FPREM */
		if (lo == 0x38)
			__asm__ volatile(CLX "fprem; fnstsw %%ax" : "=t"(r), "=a"(sw) :
				"0"(a), "u"(st(c, 1)));
		else
			__asm__ volatile(CLX "fprem1; fnstsw %%ax" : "=t"(r), "=a"(sw) :
				"0"(a), "u"(st(c, 1)));
		set_st(c, 0, r);
		set_cc(c, sw & (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3));
		break;
	case 0x39: /* FYL2XP1 */
		__asm__ volatile(CLX "fyl2xp1" STSW : "=t"(r), "=a"(sw) :
				 "0"(a), "u"(st(c, 1)) : "st(1)");
		pop(c);
		set_st(c, 0, r);
		break;
	case 0x3a:
		__asm__ volatile(CLX "fsqrt" STSW : "+t"(a), "=a"(sw));
		set_st(c, 0, a);
		break;
	case 0x3c:
		__asm__ volatile(CLX "frndint" STSW : "+t"(a), "=a"(sw));
		set_st(c, 0, a);
		break;
	case 0x3d:
		__asm__ volatile(CLX "fscale" STSW : "=t"(r), "=a"(sw) :
				 "0"(a), "u"(st(c, 1)));
		set_st(c, 0, r);
		break;
	case 0x3e: case 0x3f: /* FSIN FCOS: C2 = out of range (SDM) */
		if (lo == 0x3e)
			__asm__ volatile(CLX "fsin\n\tfnstsw %%ax" : "+t"(a), "=a"(sw));
		else
			__asm__ volatile(CLX "fcos\n\tfnstsw %%ax" : "+t"(a), "=a"(sw));
		set_st(c, 0, a);
		set_cc(c, (fsw(c) & ~FSW_C2) | (sw & FSW_C2));
		break;
	default:
		host_cw_leave(old);
		return false;
	}
	host_cw_leave(old);
	/* FPREM(1) leave C1 = Q0 (set above); the others round-up. */
	fold(c, sw, lo != 0x35 && lo != 0x38);
	return true;
}

/* Register forms: modrm = 0xc0 | reg << 3 | i. */
static bool x87_reg(struct cpu *c, unsigned esc, unsigned reg, unsigned i)
{
	long double a = st(c, 0), b = st(c, i);
	uint16_t old, sw;

	switch (esc) {
	case 0: case 4: case 6:
		if (reg == 2 || reg == 3) { /* FCOM(P) ST(i) */
			if (esc == 6 && !(reg == 3 && i == 1))
				return false;
			compare(c, (int)i, 0, true);
			if (reg == 3)
				pop(c);
			if (esc == 6)
				pop(c); /* FCOMPP */
			return true;
		}
		if (st_empty(c, 0) || st_empty(c, i)) {
			stack_fault(c, false);
			set_st(c, esc ? i : 0, indefinite());
			if (esc == 6)
				pop(c);
			return true;
		}
		old = host_cw_enter(c);
		if (esc == 0) {
			set_st(c, 0, arith(reg, a, b, &sw));
		} else {
			/* DC/DE: destination ST(i); sub/div directions swap. */
			static const unsigned swap[8] = { 0, 1, 2, 3, 5, 4, 7, 6 };

			set_st(c, i, arith(swap[reg], b, a, &sw));
			if (esc == 6)
				pop(c);
		}
		host_cw_leave(old);
		fold(c, sw, true);
		return true;
	case 1:
		if (reg == 0) {                               /* FLD ST(i) */
			if (st_empty(c, i)) {
				stack_fault(c, false);
				b = indefinite();
			}
			push(c, b);
			return true;
		}
		if (reg == 1) {                               /* FXCH */
			if (st_empty(c, 0) || st_empty(c, i)) {
				stack_fault(c, false);
				if (st_empty(c, 0))
					a = indefinite();
				if (st_empty(c, i))
					b = indefinite();
			} else {
				set_fsw(c, fsw(c) & ~FSW_C1);
			}
			set_st(c, 0, b);
			set_st(c, i, a);
			return true;
		}
		if (reg == 2 && i == 0)
			return true;                          /* FNOP */
		if (reg >= 4)
			return d9_special(c, (reg << 3 | i) & 0x3f);
		return false;
	case 2:
		if (reg == 5 && i == 1) {                     /* FUCOMPP */
			compare(c, 1, 0, false);
			pop(c);
			pop(c);
			return true;
		}
		if (reg < 4) {                                /* FCMOVcc */
			static const unsigned cc[4] = { 2, 4, 6, 10 };

			if (cpu_cond(c, cc[reg]))
				set_st(c, 0, b);
			return true;
		}
		return false;
	case 3:
		if (reg < 4) {                                /* FCMOVNcc */
			static const unsigned cc[4] = { 3, 5, 7, 11 };

			if (cpu_cond(c, cc[reg]))
				set_st(c, 0, b);
			return true;
		}
		if (reg == 4 && i == 2) {                     /* FNCLEX */
			/* PE UE OE ZE DE IE SF ES B (SDM Vol. 2) */
			set_fsw(c, fsw(c) & 0x7f00);
			return true;
		}
		if (reg == 4 && i == 3) {                     /* FNINIT */
			memset(c->fx, 0, 24);
			memset(c->fx + FX_ST(0), 0, 128);
			c->fx[FX_FCW] = 0x7f;
			c->fx[FX_FCW + 1] = 0x03;
			return true;
		}
		if (reg == 5 || reg == 6) {                   /* FUCOMI/FCOMI */
			comi(c, i, reg == 6);
			return true;
		}
		return false;
	case 5:
		if (reg == 0) {                               /* FFREE */
			c->fx[FX_FTW] &= (uint8_t)~(1u << i);
			return true;
		}
		if (reg == 2 || reg == 3) {                   /* FST(P) ST(i) */
			if (st_empty(c, 0)) {
				stack_fault(c, false);
				a = indefinite();
			} else { /* not rounded: C1 = 0 */
				set_fsw(c, fsw(c) & ~FSW_C1);
			}
			set_st(c, i, a);
			if (reg == 3)
				pop(c);
			return true;
		}
		if (reg == 4 || reg == 5) {                   /* FUCOM(P) */
			compare(c, (int)i, 0, false);
			if (reg == 5)
				pop(c);
			return true;
		}
		return false;
	case 7:
		if (reg == 4 && i == 0) {                     /* FNSTSW AX */
			sreg_w(c, R_RAX, 2, true, fsw(c));
			return true;
		}
		if (reg == 5 || reg == 6) {                   /* FUCOMIP/FCOMIP */
			comi(c, i, reg == 6);
			pop(c);
			return true;
		}
		return false;
	}
	return false;
}

static bool x87_mem(struct cpu *c, unsigned esc, unsigned reg, uint64_t la)
{
	static const unsigned fpsz[8] = { 4, 0, 4, 0, 8, 0, 2, 0 };
	long double v;
	uint64_t m;
	uint16_t old, sw;

	switch (esc) {
	case 0: case 2: case 4: case 6: /* arithmetic with memory */
		if (esc & 2) {
			v = load_int(c, la, esc == 2 ? 4 : 2);
			m = 0;
		} else if (esc == 4) {
			m = rd64(c, la);
			v = fp64(m);
		} else {
			m = rd32(c, la);
			v = fp32((uint32_t)m);
		}
		if (reg == 2 || reg == 3) {
			compare_m(c, -1, v, true, m, esc & 2 ? 0 : fpsz[esc]);
			if (reg == 3)
				pop(c);
			return true;
		}
		if (st_empty(c, 0)) {
			stack_fault(c, false);
			set_st(c, 0, indefinite());
			return true;
		}
		old = host_cw_enter(c);
		if (esc & 2)
			set_st(c, 0, arith(reg, st(c, 0), v, &sw));
		else
			set_st(c, 0, arith_m(reg, st(c, 0), m, esc == 4, &sw));
		host_cw_leave(old);
		fold(c, sw, true);
		return true;
	case 1:
		switch (reg) {
		case 0: push(c, load_fp(c, la, 4)); return true;
		case 2: case 3:
			store_fp(c, la, 4);
			if (reg == 3)
				pop(c);
			return true;
		case 4: fldenv(c, la); return true;
		case 5: {
			uint16_t v16 = rd16(c, la);

			c->fx[FX_FCW] = (uint8_t)v16;
			c->fx[FX_FCW + 1] = (uint8_t)(v16 >> 8);
			sync_es(c); /* may unmask a pending exception */
			return true;
		}
		case 6: fnstenv(c, la); return true;
		case 7: wr16(c, la, fcw(c)); return true;
		}
		return false;
	case 3: case 5: case 7: {
		/* DB: m32int / m80fp; DD: m64fp; DF: m16int / m64int */
		unsigned isz = esc == 3 ? 4 : esc == 7 ? 2 : 0;

		if (reg == 0) {
			push(c, isz ? load_int(c, la, isz) : load_fp(c, la, 8));
			return true;
		}
		if (reg == 1) { /* FISTTP m32int / m64int / m16int (SSE3) */
			cpu_need_level(c, 2);
			store_int(c, la, isz ? isz : 8, true);
			pop(c);
			return true;
		}
		if (reg == 2 || reg == 3) {
			if (isz)
				store_int(c, la, isz, false);
			else
				store_fp(c, la, 8);
			if (reg == 3)
				pop(c);
			return true;
		}
		if (esc == 3 && reg == 5) { push(c, load_fp(c, la, 10)); return true; }
		if (esc == 3 && reg == 7) {
			store_fp(c, la, 10);
			pop(c);
			return true;
		}
		if (esc == 5 && reg == 7) { wr16(c, la, fsw(c)); return true; }
		if (esc == 7 && reg == 5) { push(c, load_int(c, la, 8)); return true; }
		if (esc == 7 && reg == 7) {
			store_int(c, la, 8, false);
			pop(c);
			return true;
		}
		return false;
	}
	}
	return false;
}

/* The no-wait forms (SDM Vol. 1 §8.3.11): FNINIT, FNCLEX, FNSTSW,
 * FNSTCW, FNSTENV, FNSAVE (and FNENI/FNDISI/FNSETPM) do not take a
 * pending #MF; every other x87 instruction does. */
static bool nowait(unsigned esc, unsigned reg, unsigned mod, unsigned rm)
{
	if (mod == 3)
		return (esc == 3 && reg == 4 && rm <= 4) ||
		       (esc == 7 && reg == 4 && rm == 0);
	return (esc == 1 && (reg == 6 || reg == 7)) ||
	       (esc == 5 && (reg == 6 || reg == 7));
}

void op_x87(struct cpu *c, const struct dec_insn *d)
{
	unsigned esc = d->op & 7, reg = d->reg & 7;
	uint8_t save[FX_ST(8)];
	bool ok;

	if (c->cr0 & (CR0_EM | CR0_TS))
		cpu_raise(c, (c->cr0 & CR0_EM) ? EXC_UD : EXC_NM, 0, false);
	if (!nowait(esc, reg, d->mod, d->rm & 7))
		cpu_x87_wait(c);
	memcpy(save, c->fx, sizeof(save));
	c->x87_raised = 0;
	if (d->mod == 3)
		ok = x87_reg(c, esc, reg, d->rm & 7);
	else
		ok = x87_mem(c, esc, reg, cpu_ea(c, d));
	if (suppressed(c)) {
		/* Unmasked IE/DE/ZE: the operands, TOP and destination stay
		 * (SDM Vol. 1 §8.7); only the status word changes. */
		uint16_t sw = fsw(c);

		memcpy(c->fx, save, sizeof(save));
		set_fsw(c, sw);
	}
	if (!ok) {
		rax_log(LOG_WARN, cpu, "unimplemented x87 instruction %02x /%u "
			"mod %u at %#llx", 0xd8 + esc, reg, d->mod,
			(unsigned long long)c->rip);
		cpu_ud(c);
	}
}
