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


/* --- handlers: one per form of x87.def ------------------------------------ */

/* Every handler's frame: #UD/#NM under CR0.EM/TS (dispatch.c chooses
 * those first under fpu_trap), a pending #MF unless the form is
 * DF_NOWAIT (SDM Vol. 1 §8.3.11), and after the body the undo of an
 * unmasked IE/DE/ZE: the operands, TOP and destination stay (§8.7);
 * only the status word changes. */
static void begin(struct cpu *c, const struct dec_insn *d, uint8_t *save)
{
	if (c->cr0 & (CR0_EM | CR0_TS))
		cpu_raise(c, (c->cr0 & CR0_EM) ? EXC_UD : EXC_NM, 0, false);
	if (!(dec_attrs[d->op].flags & DF_NOWAIT))
		cpu_x87_wait(c);
	memcpy(save, c->fx, FX_ST(8));
	c->x87_raised = 0;
}

static void end(struct cpu *c, const uint8_t *save)
{
	if (suppressed(c)) {
		uint16_t sw = fsw(c);

		memcpy(c->fx, save, FX_ST(8));
		set_fsw(c, sw);
	}
}

#define X87(name)							\
	static void name##_body(struct cpu *c, const struct dec_insn *d); \
	void name(struct cpu *c, const struct dec_insn *d)		\
	{								\
		uint8_t save[FX_ST(8)];					\
									\
		begin(c, d, save);					\
		name##_body(c, d);					\
		end(c, save);						\
	}								\
	static void name##_body(struct cpu *c, const struct dec_insn *d)

/* --- arithmetic and comparison with memory --- */

/* The memory operand: m32fp/m64fp (its bits in *m), m16int/m32int. */
static long double mem_value(struct cpu *c, const struct dec_insn *d,
			     unsigned n, bool integer, uint64_t *m)
{
	uint64_t la = cpu_ea(c, d);

	*m = 0;
	if (integer)
		return load_int(c, la, n);
	if (n == 8) {
		*m = rd64(c, la);
		return fp64(*m);
	}
	*m = rd32(c, la);
	return fp32((uint32_t)*m);
}

/* ST(0) = ST(0) op memory; op is ModRM.reg (add mul - - sub subr div
 * divr). */
static void arith_mem(struct cpu *c, const struct dec_insn *d, unsigned n,
		      bool integer)
{
	uint64_t m;
	long double v = mem_value(c, d, n, integer, &m);
	uint16_t old, sw;

	if (st_empty(c, 0)) {
		stack_fault(c, false);
		set_st(c, 0, indefinite());
		return;
	}
	old = host_cw_enter(c);
	if (integer)
		set_st(c, 0, arith(d->reg & 7, st(c, 0), v, &sw));
	else
		set_st(c, 0, arith_m(d->reg & 7, st(c, 0), m, n == 8, &sw));
	host_cw_leave(old);
	fold(c, sw, true);
}

static void com_mem(struct cpu *c, const struct dec_insn *d, unsigned n,
		    bool integer, bool popping)
{
	uint64_t m;
	long double v = mem_value(c, d, n, integer, &m);

	compare_m(c, -1, v, true, m, integer ? 0 : n);
	if (popping)
		pop(c);
}

X87(op_farith_Md) { arith_mem(c, d, 4, false); }
X87(op_farith_Mq) { arith_mem(c, d, 8, false); }
X87(op_fiarith_Md) { arith_mem(c, d, 4, true); }
X87(op_fiarith_Mw) { arith_mem(c, d, 2, true); }
X87(op_fcom_Md) { com_mem(c, d, 4, false, false); }
X87(op_fcomp_Md) { com_mem(c, d, 4, false, true); }
X87(op_fcom_Mq) { com_mem(c, d, 8, false, false); }
X87(op_fcomp_Mq) { com_mem(c, d, 8, false, true); }
X87(op_ficom_Md) { com_mem(c, d, 4, true, false); }
X87(op_ficomp_Md) { com_mem(c, d, 4, true, true); }
X87(op_ficom_Mw) { com_mem(c, d, 2, true, false); }
X87(op_ficomp_Mw) { com_mem(c, d, 2, true, true); }

/* --- arithmetic and comparison of registers --- */

/* D8: ST(0) = ST(0) op ST(i); DC, DE: ST(i) = ST(i) op ST(0), the
 * sub/div directions swapped in the encoding; DE pops. */
static void arith_reg(struct cpu *c, const struct dec_insn *d, bool to_sti,
		      bool popping)
{
	static const unsigned swap[8] = { 0, 1, 2, 3, 5, 4, 7, 6 };
	unsigned reg = d->reg & 7, i = d->rm & 7;
	long double a = st(c, 0), b = st(c, i);
	uint16_t old, sw;

	if (st_empty(c, 0) || st_empty(c, i)) {
		stack_fault(c, false);
		set_st(c, to_sti ? i : 0, indefinite());
		if (popping)
			pop(c);
		return;
	}
	old = host_cw_enter(c);
	if (!to_sti) {
		set_st(c, 0, arith(reg, a, b, &sw));
	} else {
		set_st(c, i, arith(swap[reg], b, a, &sw));
		if (popping)
			pop(c);
	}
	host_cw_leave(old);
	fold(c, sw, true);
}

X87(op_farith_ST_STi) { arith_reg(c, d, false, false); }
X87(op_farith_STi_ST) { arith_reg(c, d, true, false); }
X87(op_farithp_STi_ST) { arith_reg(c, d, true, true); }

X87(op_fcom_STi) { compare(c, (int)(d->rm & 7), 0, true); }

X87(op_fcomp_STi)
{
	compare(c, (int)(d->rm & 7), 0, true);
	pop(c);
}

X87(op_fcompp)
{
	compare(c, 1, 0, true);
	pop(c);
	pop(c);
}

X87(op_fucom_STi) { compare(c, (int)(d->rm & 7), 0, false); }

X87(op_fucomp_STi)
{
	compare(c, (int)(d->rm & 7), 0, false);
	pop(c);
}

X87(op_fucompp)
{
	compare(c, 1, 0, false);
	pop(c);
	pop(c);
}

X87(op_fucomi) { comi(c, d->rm & 7, false); }
X87(op_fcomi) { comi(c, d->rm & 7, true); }

X87(op_fucomip)
{
	comi(c, d->rm & 7, false);
	pop(c);
}

X87(op_fcomip)
{
	comi(c, d->rm & 7, true);
	pop(c);
}

/* FCMOVcc: the condition codes of Jcc (B E BE U; NB NE NBE NU). */
#define FCMOV(name, cc)							\
	X87(name)							\
	{								\
		if (cpu_cond(c, cc))					\
			set_st(c, 0, st(c, d->rm & 7));			\
	}
FCMOV(op_fcmovb, 2)
FCMOV(op_fcmove, 4)
FCMOV(op_fcmovbe, 6)
FCMOV(op_fcmovu, 10)
FCMOV(op_fcmovnb, 3)
FCMOV(op_fcmovne, 5)
FCMOV(op_fcmovnbe, 7)
FCMOV(op_fcmovnu, 11)

/* --- loads and stores --- */

X87(op_fld_Md) { push(c, load_fp(c, cpu_ea(c, d), 4)); }
X87(op_fld_Mq) { push(c, load_fp(c, cpu_ea(c, d), 8)); }
X87(op_fld_Mt) { push(c, load_fp(c, cpu_ea(c, d), 10)); }
X87(op_fst_Md) { store_fp(c, cpu_ea(c, d), 4); }
X87(op_fst_Mq) { store_fp(c, cpu_ea(c, d), 8); }

X87(op_fstp_Md)
{
	store_fp(c, cpu_ea(c, d), 4);
	pop(c);
}

X87(op_fstp_Mq)
{
	store_fp(c, cpu_ea(c, d), 8);
	pop(c);
}

X87(op_fstp_Mt)
{
	store_fp(c, cpu_ea(c, d), 10);
	pop(c);
}

X87(op_fild_Mw) { push(c, load_int(c, cpu_ea(c, d), 2)); }
X87(op_fild_Md) { push(c, load_int(c, cpu_ea(c, d), 4)); }
X87(op_fild_Mq) { push(c, load_int(c, cpu_ea(c, d), 8)); }
X87(op_fist_Mw) { store_int(c, cpu_ea(c, d), 2, false); }
X87(op_fist_Md) { store_int(c, cpu_ea(c, d), 4, false); }

X87(op_fistp_Mw)
{
	store_int(c, cpu_ea(c, d), 2, false);
	pop(c);
}

X87(op_fistp_Md)
{
	store_int(c, cpu_ea(c, d), 4, false);
	pop(c);
}

X87(op_fistp_Mq)
{
	store_int(c, cpu_ea(c, d), 8, false);
	pop(c);
}

/* FBLD, FBSTP: 18-digit packed BCD (m80dec, SDM Vol. 1 §4.7), converted
 * by the host's FBLD/FBSTP: FBSTP rounds under RC, an out-of-range or
 * NaN value is IE and the BCD indefinite; an empty ST0 stores what the
 * host stores for the real indefinite. */
X87(op_fbld_Mt)
{
	uint64_t la = cpu_ea(c, d);
	uint8_t b[10];
	uint64_t lo = rd64(c, la);
	uint16_t hi = rd16(c, la + 8), sw;
	long double r;

	memcpy(b, &lo, 8);
	memcpy(b + 8, &hi, 2);
	__asm__ volatile("fnclex\n\tfbld %2\n\tfnstsw %1"
			 : "=t"(r), "=a"(sw) : "m"(b));
	fold(c, sw, false);
	push(c, r);
}

X87(op_fbstp_Mt)
{
	uint64_t la = cpu_ea(c, d), lo;
	long double v = st(c, 0);
	uint8_t b[10];
	uint16_t old, sw, hi;

	cpu_probe_write(c, la, 10);
	if (st_empty(c, 0)) {
		if (!stack_fault(c, false))
			return;
		v = indefinite();
	}
	old = host_cw_enter(c);
	__asm__ volatile("fnclex\n\tfbstp %0\n\tfnstsw %1"
			 : "=m"(b), "=a"(sw) : "t"(v) : "st");
	host_cw_leave(old);
	fold(c, sw, true);
	if (suppressed(c))
		return;
	memcpy(&lo, b, 8);
	memcpy(&hi, b + 8, 2);
	wr64(c, la, lo);
	wr16(c, la + 8, hi);
	pop(c);
}

/* FISTTP (SSE3: DF_V2 rows) rounds toward zero whatever RC says. */
X87(op_fisttp_Mw)
{
	store_int(c, cpu_ea(c, d), 2, true);
	pop(c);
}

X87(op_fisttp_Md)
{
	store_int(c, cpu_ea(c, d), 4, true);
	pop(c);
}

X87(op_fisttp_Mq)
{
	store_int(c, cpu_ea(c, d), 8, true);
	pop(c);
}

X87(op_fld_STi)
{
	unsigned i = d->rm & 7;
	long double b = st(c, i);

	if (st_empty(c, i)) {
		stack_fault(c, false);
		b = indefinite();
	}
	push(c, b);
}

X87(op_fxch_STi)
{
	unsigned i = d->rm & 7;
	long double a = st(c, 0), b = st(c, i);

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
}

/* FST(P) ST(i): not rounded, C1 = 0. */
static void fst_reg(struct cpu *c, const struct dec_insn *d)
{
	long double a = st(c, 0);

	if (st_empty(c, 0)) {
		stack_fault(c, false);
		a = indefinite();
	} else {
		set_fsw(c, fsw(c) & ~FSW_C1);
	}
	set_st(c, d->rm & 7, a);
}

X87(op_fst_STi) { fst_reg(c, d); }

X87(op_fstp_STi)
{
	fst_reg(c, d);
	pop(c);
}

X87(op_ffree) { c->fx[FX_FTW] &= (uint8_t)~(1u << (d->rm & 7)); }

X87(op_ffreep)
{
	c->fx[FX_FTW] &= (uint8_t)~(1u << (d->rm & 7));
	pop(c);
}

/* --- control --- */

X87(op_fnop) { }

X87(op_fldcw_Mw)
{
	uint16_t v16 = rd16(c, cpu_ea(c, d));

	c->fx[FX_FCW] = (uint8_t)v16;
	c->fx[FX_FCW + 1] = (uint8_t)(v16 >> 8);
	sync_es(c); /* may unmask a pending exception */
}

X87(op_fnstcw_Mw) { wr16(c, cpu_ea(c, d), fcw(c)); }
X87(op_fnstsw_Mw) { wr16(c, cpu_ea(c, d), fsw(c)); }
X87(op_fnstsw_AX) { sreg_w(c, R_RAX, 2, true, fsw(c)); }
X87(op_fldenv_M) { fldenv(c, cpu_ea(c, d)); }
X87(op_fnstenv_M) { fnstenv(c, cpu_ea(c, d)); }

/* PE UE OE ZE DE IE SF ES B cleared (SDM Vol. 2 FCLEX). */
X87(op_fnclex) { set_fsw(c, fsw(c) & 0x7f00); }

static void fninit(struct cpu *c)
{
	memset(c->fx, 0, 24);
	memset(c->fx + FX_ST(0), 0, 128);
	c->fx[FX_FCW] = 0x7f;
	c->fx[FX_FCW + 1] = 0x03;
}

X87(op_fninit) { fninit(c); }

/* FNSAVE, FRSTOR: the 32-bit environment (as FNSTENV/FLDENV), then
 * ST(0)-ST(7), 10 bytes each (SDM Vol. 1 Figure 8-9 and §8.1.10; 108
 * bytes); FNSAVE then initializes the FPU.  FRSTOR reads the whole image
 * before it changes anything. */
X87(op_fnsave_M)
{
	uint64_t la = cpu_ea(c, d);

	cpu_probe_write(c, la, 108);
	fnstenv(c, la);
	for (unsigned i = 0; i < 8; i++) {
		uint64_t lo;
		uint16_t hi;

		memcpy(&lo, c->fx + FX_ST(i), 8);
		memcpy(&hi, c->fx + FX_ST(i) + 8, 2);
		wr64(c, la + 28 + 10 * i, lo);
		wr16(c, la + 28 + 10 * i + 8, hi);
	}
	fninit(c);
}

X87(op_frstor_M)
{
	uint64_t la = cpu_ea(c, d), lo[8];
	uint16_t hi[8];

	for (unsigned i = 0; i < 8; i++) {
		lo[i] = rd64(c, la + 28 + 10 * i);
		hi[i] = rd16(c, la + 28 + 10 * i + 8);
	}
	fldenv(c, la);
	for (unsigned i = 0; i < 8; i++) {
		memset(c->fx + FX_ST(i), 0, 16);
		memcpy(c->fx + FX_ST(i), &lo[i], 8);
		memcpy(c->fx + FX_ST(i) + 8, &hi[i], 2);
	}
}

/* FDECSTP/FINCSTP rotate the registers (TOP stays 0). */
X87(op_fincstp)
{
	uint8_t t[16], tw = c->fx[FX_FTW];

	memcpy(t, c->fx + FX_ST(0), 16); /* ST(i) <- ST(i+1), ST7 <- ST0 */
	memmove(c->fx + FX_ST(0), c->fx + FX_ST(1), 7 * 16);
	memcpy(c->fx + FX_ST(7), t, 16);
	c->fx[FX_FTW] = (uint8_t)((tw >> 1) | (tw << 7));
}

X87(op_fdecstp)
{
	uint8_t t[16], tw = c->fx[FX_FTW];

	memcpy(t, c->fx + FX_ST(7), 16);
	memmove(c->fx + FX_ST(1), c->fx + FX_ST(0), 7 * 16);
	memcpy(c->fx + FX_ST(0), t, 16);
	c->fx[FX_FTW] = (uint8_t)((tw << 1) | (tw >> 7));
}

/* --- the operand-less D9 E0-FF forms --- */

/* Stack underflow of ST0 (and ST1 with two): the masked response stores
 * the indefinite in the destination (the unmasked one is undone by the
 * frame); FYL2X, FPATAN, FYL2XP1 pop first.  True when it happened. */
static bool underflow(struct cpu *c, bool two, bool popping)
{
	if (!st_empty(c, 0) && !(two && st_empty(c, 1)))
		return false;
	stack_fault(c, false);
	if (popping)
		pop(c);
	set_st(c, 0, indefinite());
	return true;
}

/* FCHS, FABS: C1 = 0 (SDM Vol. 2); FABS clears the sign of NaNs too. */
X87(op_fchs)
{
	if (underflow(c, false, false))
		return;
	set_fsw(c, fsw(c) & ~FSW_C1);
	set_st(c, 0, -st(c, 0));
}

X87(op_fabs)
{
	if (underflow(c, false, false))
		return;
	set_fsw(c, fsw(c) & ~FSW_C1);
	set_st(c, 0, __builtin_fabsl(st(c, 0)));
}

X87(op_ftst) { compare(c, -1, 0.0L, true); }
X87(op_fxam) { fxam(c); }

/* FLD1 ... FLDZ: the constant of ModRM.rm. */
X87(op_fldconst) { push(c, consts[d->rm & 7]); }

/* One host instruction on ST0 (and ST1), under the guest's control
 * word; its flags fold into the FSW with C1 as round-up. */
#define HOST_UNARY(name, insn)						\
	X87(name)							\
	{								\
		long double a = st(c, 0);				\
		uint16_t old, sw;					\
									\
		if (underflow(c, false, false))				\
			return;						\
		old = host_cw_enter(c);					\
		__asm__ volatile(CLX insn STSW : "+t"(a), "=a"(sw));	\
		set_st(c, 0, a);					\
		host_cw_leave(old);					\
		fold(c, sw, true);					\
	}
HOST_UNARY(op_f2xm1, "f2xm1")
HOST_UNARY(op_fsqrt, "fsqrt")
HOST_UNARY(op_frndint, "frndint")

/* FYL2X, FPATAN, FYL2XP1: ST1 = ST1 op ST0, then pop. */
#define HOST_POP(name, insn)						\
	X87(name)							\
	{								\
		long double a = st(c, 0), r;				\
		uint16_t old, sw;					\
									\
		if (underflow(c, true, true))				\
			return;						\
		old = host_cw_enter(c);					\
		__asm__ volatile(CLX insn STSW : "=t"(r), "=a"(sw) :	\
				 "0"(a), "u"(st(c, 1)) : "st(1)");	\
		pop(c);							\
		set_st(c, 0, r);					\
		host_cw_leave(old);					\
		fold(c, sw, true);					\
	}
HOST_POP(op_fyl2x, "fyl2x")
HOST_POP(op_fpatan, "fpatan")
HOST_POP(op_fyl2xp1, "fyl2xp1")

X87(op_fscale)
{
	long double a = st(c, 0), r;
	uint16_t old, sw;

	if (underflow(c, true, false))
		return;
	old = host_cw_enter(c);
	__asm__ volatile(CLX "fscale" STSW : "=t"(r), "=a"(sw) :
			 "0"(a), "u"(st(c, 1)));
	set_st(c, 0, r);
	host_cw_leave(old);
	fold(c, sw, true);
}

/* FPREM, FPREM1: C0 C3 C1 = Q2 Q1 Q0, C2 = incomplete (not round-up). */
#define HOST_PREM(name, insn)						\
	X87(name)							\
	{								\
		long double a = st(c, 0), r;				\
		uint16_t old, sw;					\
									\
		if (underflow(c, true, false))				\
			return;						\
		old = host_cw_enter(c);					\
		__asm__ volatile(CLX insn "; fnstsw %%ax" : "=t"(r),	\
				 "=a"(sw) : "0"(a), "u"(st(c, 1)));	\
		set_st(c, 0, r);					\
		set_cc(c, sw & (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3));	\
		host_cw_leave(old);					\
		fold(c, sw, false);					\
	}
HOST_PREM(op_fprem, "fprem")
HOST_PREM(op_fprem1, "fprem1")

/* FSIN, FCOS: C2 = out of range (|ST0| >= 2^63, ST0 unchanged). */
#define HOST_TRIG(name, insn)						\
	X87(name)							\
	{								\
		long double a = st(c, 0);				\
		uint16_t old, sw;					\
									\
		if (underflow(c, false, false))				\
			return;						\
		old = host_cw_enter(c);					\
		__asm__ volatile(CLX insn "\n\tfnstsw %%ax" : "+t"(a),	\
				 "=a"(sw));				\
		set_st(c, 0, a);					\
		set_cc(c, (fsw(c) & ~FSW_C2) | (sw & FSW_C2));		\
		host_cw_leave(old);					\
		fold(c, sw, true);					\
	}
HOST_TRIG(op_fsin, "fsin")
HOST_TRIG(op_fcos, "fcos")

/* FPTAN, FSINCOS: two results (tan and 1.0, or cos and sin; NaNs for a
 * NaN operand), or none with C2 = 1 for |ST0| >= 2^63: the fld1 only
 * evens the stack effect for the asm. */
#define HOST_TWO(name, insn)						\
	X87(name)							\
	{								\
		long double a = st(c, 0), top, second;			\
		uint16_t old, sw;					\
									\
		if (underflow(c, false, false))				\
			return;						\
		old = host_cw_enter(c);					\
		__asm__ volatile(CLX insn "\n\tfnstsw %%ax\n\t"		\
				 "testw $0x400, %%ax\n\tjz 1f\n\tfld1\n1:" \
				 : "=t"(top), "=u"(second), "=a"(sw)	\
				 : "0"(a));				\
		set_cc(c, (fsw(c) & ~FSW_C2) | (sw & FSW_C2));		\
		if (!(sw & FSW_C2)) {					\
			set_st(c, 0, second);				\
			push(c, top);					\
		}							\
		host_cw_leave(old);					\
		fold(c, sw, true);					\
	}
HOST_TWO(op_fptan, "fptan")
HOST_TWO(op_fsincos, "fsincos")

/* FXTRACT: ST0 becomes its exponent, then its significand is pushed.  An
 * empty ST0 (underflow) or a full ST7 (overflow) leaves, masked, the
 * indefinite in both (SDM Vol. 1 §8.5.1.1). */
X87(op_fxtract)
{
	long double a = st(c, 0), sig, ex;
	uint16_t old, sw;

	if (st_empty(c, 0) || !st_empty(c, 7)) {
		if (stack_fault(c, !st_empty(c, 0))) {
			set_st(c, 0, indefinite());
			memmove(c->fx + FX_ST(1), c->fx + FX_ST(0), 7 * 16);
			c->fx[FX_FTW] = (uint8_t)(c->fx[FX_FTW] << 1);
			set_st(c, 0, indefinite());
		}
		return;
	}
	old = host_cw_enter(c);
	__asm__ volatile(CLX "fxtract" STSW : "=t"(sig), "=u"(ex), "=a"(sw)
			 : "0"(a));
	set_st(c, 0, ex);
	push(c, sig);
	host_cw_leave(old);
	fold(c, sw, true);
}
