/* x87 FPU (SDM Vol. 1 ch. 8, Vol. 2 instruction pages): the registers
 * live in the FXSAVE image, kept in stack order with TOP always 0 (a push
 * moves ST0-ST6 down one slot), so the image is what FXSAVE would store.
 * Arithmetic runs on the host's x87 (long double is the same 80-bit
 * format) under the guest's rounding and precision control, with
 * exceptions masked: results, including NaNs and rounding, are the
 * hardware's.  Exceptions are not reported (FSW flags are not set). */
#include "cpu/cpu.h"

#include <string.h>

#include "log.h"

#define FSW_C0 (1u << 8)
#define FSW_C1 (1u << 9)
#define FSW_C2 (1u << 10)
#define FSW_C3 (1u << 14)
#define FSW_CC (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3)

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

static void push(struct cpu *c, long double v)
{
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
static long double arith_m(unsigned op, long double a, uint64_t m, bool m64)
{
	uint32_t m32 = (uint32_t)m;

	if (m64) {
		switch (op) {
		case 0: __asm__("faddl %1" : "+t"(a) : "m"(m)); break;
		case 1: __asm__("fmull %1" : "+t"(a) : "m"(m)); break;
		case 4: __asm__("fsubl %1" : "+t"(a) : "m"(m)); break;
		case 5: __asm__("fsubrl %1" : "+t"(a) : "m"(m)); break;
		case 6: __asm__("fdivl %1" : "+t"(a) : "m"(m)); break;
		default: __asm__("fdivrl %1" : "+t"(a) : "m"(m)); break;
		}
		return a;
	}
	switch (op) {
	case 0: __asm__("fadds %1" : "+t"(a) : "m"(m32)); break;
	case 1: __asm__("fmuls %1" : "+t"(a) : "m"(m32)); break;
	case 4: __asm__("fsubs %1" : "+t"(a) : "m"(m32)); break;
	case 5: __asm__("fsubrs %1" : "+t"(a) : "m"(m32)); break;
	case 6: __asm__("fdivs %1" : "+t"(a) : "m"(m32)); break;
	default: __asm__("fdivrs %1" : "+t"(a) : "m"(m32)); break;
	}
	return a;
}

static long double arith(unsigned op, long double a, long double b)
{
	switch (op) {
	case 0: return a + b;
	case 1: return a * b;
	case 4: return a - b;
	case 5: return b - a;
	case 6: return a / b;
	default: return b / a;
	}
}

static void compare(struct cpu *c, long double a, long double b)
{
	unsigned cc;

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

static void comi(struct cpu *c, long double a, long double b)
{
	uint64_t f = cpu_get_rflags(c) & ~(uint64_t)(RFLAGS_CF | RFLAGS_PF |
		RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF);

	if (a != a || b != b)
		f |= RFLAGS_ZF | RFLAGS_PF | RFLAGS_CF;
	else if (a < b)
		f |= RFLAGS_CF;
	else if (a == b)
		f |= RFLAGS_ZF;
	cpu_set_rflags(c, f);
}

/* Memory operand as a long double: m32fp, m64fp, m80fp, m16/32/64int. */
static long double load_fp(struct cpu *c, uint64_t la, unsigned n)
{
	if (n == 4) {
		uint32_t v = rd32(c, la);
		float f;

		memcpy(&f, &v, 4);
		return f;
	}
	if (n == 8) {
		uint64_t v = rd64(c, la);
		double f;

		memcpy(&f, &v, 8);
		return f;
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

static void store_fp(struct cpu *c, uint64_t la, unsigned n, long double v)
{
	if (n == 4) {
		float f = (float)v;
		uint32_t x;

		memcpy(&x, &f, 4);
		wr32(c, la, x);
	} else if (n == 8) {
		double f = (double)v;
		uint64_t x;

		memcpy(&x, &f, 8);
		wr64(c, la, x);
	} else {
		uint8_t b[16] = { 0 };
		uint64_t lo;
		uint16_t hi;

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

/* FIST: round under RC; out of range stores the integer indefinite. */
static void store_int(struct cpu *c, uint64_t la, unsigned n, long double v)
{
	long long r;
	uint16_t old = host_cw_enter(c);

	__asm__ volatile("fistpll %0" : "=m"(r) : "t"(v) : "st");
	host_cw_leave(old);
	if (n == 2 && (r < -32768 || r > 32767))
		r = -32768;
	else if (n == 4 && (r < INT32_MIN || r > INT32_MAX))
		r = INT32_MIN;
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
}

/* FLD1 FLDL2T FLDL2E FLDPI FLDLG2 FLDLN2 FLDZ, as the hardware rounds
 * them to nearest (exact 64-bit significands: a decimal literal rounds
 * log10(2) down by one unit in the last place). */
static const long double consts[8] = {
	1.0L, 0xd49a784bcd1b8afep-62L, 0xb8aa3b295c17f0bcp-63L,
	0xc90fdaa22168c235p-62L, 0x9a209a84fbcff799p-65L,
	0xb17217f7d1cf79acp-64L, 0.0L, 0.0L,
};

/* D9 E0-FF: the operand-less group. */
static bool d9_special(struct cpu *c, unsigned lo)
{
	long double a = st(c, 0), r;
	uint16_t old, sw;

	switch (lo) {
	case 0x20: set_st(c, 0, -a); return true;
	case 0x21: /* FABS clears the sign bit, of NaNs too */
		set_st(c, 0, __builtin_fabsl(a));
		return true;
	case 0x24: compare(c, a, 0.0L); return true;
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
	case 0x30: __asm__("f2xm1" : "+t"(a)); set_st(c, 0, a); break;
	case 0x31: /* FYL2X */
		__asm__("fyl2x" : "=t"(r) : "0"(a), "u"(st(c, 1)) : "st(1)");
		pop(c);
		set_st(c, 0, r);
		break;
	case 0x32: case 0x3b: { /* FPTAN, FSINCOS */
		long double top, second;

		/* Two results (tan and 1.0, or cos and sin; NaNs for a NaN
		 * operand), or none with C2 = 1 for |ST0| >= 2^63: the fld1
		 * only evens the stack effect for the asm. */
		if (lo == 0x32)
			__asm__("fptan\n\tfnstsw %%ax\n\ttestw $0x400, %%ax\n\t"
				"jz 1f\n\tfld1\n1:" : "=t"(top), "=u"(second),
				"=a"(sw) : "0"(a));
		else
			__asm__("fsincos\n\tfnstsw %%ax\n\ttestw $0x400, %%ax\n\t"
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
		__asm__("fpatan" : "=t"(r) : "0"(a), "u"(st(c, 1)) : "st(1)");
		pop(c);
		set_st(c, 0, r);
		break;
	case 0x35: case 0x38: /* FPREM1, FPREM */
		if (lo == 0x38)
			__asm__("fprem; fnstsw %%ax" : "=t"(r), "=a"(sw) :
				"0"(a), "u"(st(c, 1)));
		else
			__asm__("fprem1; fnstsw %%ax" : "=t"(r), "=a"(sw) :
				"0"(a), "u"(st(c, 1)));
		set_st(c, 0, r);
		set_cc(c, sw & (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3));
		break;
	case 0x39: /* FYL2XP1 */
		__asm__("fyl2xp1" : "=t"(r) : "0"(a), "u"(st(c, 1)) : "st(1)");
		pop(c);
		set_st(c, 0, r);
		break;
	case 0x3a: __asm__("fsqrt" : "+t"(a)); set_st(c, 0, a); break;
	case 0x3c: __asm__("frndint" : "+t"(a)); set_st(c, 0, a); break;
	case 0x3d:
		__asm__("fscale" : "=t"(r) : "0"(a), "u"(st(c, 1)));
		set_st(c, 0, r);
		break;
	case 0x3e: case 0x3f: /* FSIN FCOS: C2 = out of range (SDM) */
		if (lo == 0x3e)
			__asm__("fsin\n\tfnstsw %%ax" : "+t"(a), "=a"(sw));
		else
			__asm__("fcos\n\tfnstsw %%ax" : "+t"(a), "=a"(sw));
		set_st(c, 0, a);
		set_cc(c, (fsw(c) & ~FSW_C2) | (sw & FSW_C2));
		break;
	default:
		host_cw_leave(old);
		return false;
	}
	host_cw_leave(old);
	return true;
}

/* Register forms: modrm = 0xc0 | reg << 3 | i. */
static bool x87_reg(struct cpu *c, unsigned esc, unsigned reg, unsigned i)
{
	long double a = st(c, 0), b = st(c, i);
	uint16_t old;

	switch (esc) {
	case 0: case 4: case 6:
		if (reg == 2 || reg == 3) { /* FCOM(P) ST(i) */
			if (esc == 6 && !(reg == 3 && i == 1))
				return false;
			compare(c, a, b);
			if (reg == 3)
				pop(c);
			if (esc == 6)
				pop(c); /* FCOMPP */
			return true;
		}
		old = host_cw_enter(c);
		if (esc == 0) {
			set_st(c, 0, arith(reg, a, b));
		} else {
			/* DC/DE: destination ST(i); sub/div directions swap. */
			static const unsigned swap[8] = { 0, 1, 2, 3, 5, 4, 7, 6 };

			set_st(c, i, arith(swap[reg], b, a));
			if (esc == 6)
				pop(c);
		}
		host_cw_leave(old);
		return true;
	case 1:
		if (reg == 0) { push(c, b); return true; }  /* FLD ST(i) */
		if (reg == 1) {                               /* FXCH */
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
			compare(c, a, b);
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
			comi(c, a, b);
			return true;
		}
		return false;
	case 5:
		if (reg == 0) {                               /* FFREE */
			c->fx[FX_FTW] &= (uint8_t)~(1u << i);
			return true;
		}
		if (reg == 2 || reg == 3) {                   /* FST(P) ST(i) */
			set_st(c, i, a);
			if (reg == 3)
				pop(c);
			return true;
		}
		if (reg == 4 || reg == 5) {                   /* FUCOM(P) */
			compare(c, a, b);
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
			comi(c, a, b);
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
	uint16_t old;

	switch (esc) {
	case 0: case 2: case 4: case 6: /* arithmetic with memory */
		v = esc & 2 ? load_int(c, la, esc == 2 ? 4 : 2) :
		    load_fp(c, la, fpsz[esc]);
		if (reg == 2 || reg == 3) {
			compare(c, st(c, 0), v);
			if (reg == 3)
				pop(c);
			return true;
		}
		old = host_cw_enter(c);
		if (esc & 2)
			set_st(c, 0, arith(reg, st(c, 0), v));
		else
			set_st(c, 0, arith_m(reg, st(c, 0), esc == 4 ?
					     rd64(c, la) : rd32(c, la), esc == 4));
		host_cw_leave(old);
		return true;
	case 1:
		switch (reg) {
		case 0: push(c, load_fp(c, la, 4)); return true;
		case 2: case 3:
			store_fp(c, la, 4, st(c, 0));
			if (reg == 3)
				pop(c);
			return true;
		case 4: fldenv(c, la); return true;
		case 5: {
			uint16_t v16 = rd16(c, la);

			c->fx[FX_FCW] = (uint8_t)v16;
			c->fx[FX_FCW + 1] = (uint8_t)(v16 >> 8);
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
		if (reg == 2 || reg == 3) {
			if (isz)
				store_int(c, la, isz, st(c, 0));
			else
				store_fp(c, la, 8, st(c, 0));
			if (reg == 3)
				pop(c);
			return true;
		}
		if (esc == 3 && reg == 5) { push(c, load_fp(c, la, 10)); return true; }
		if (esc == 3 && reg == 7) {
			store_fp(c, la, 10, st(c, 0));
			pop(c);
			return true;
		}
		if (esc == 5 && reg == 7) { wr16(c, la, fsw(c)); return true; }
		if (esc == 7 && reg == 5) { push(c, load_int(c, la, 8)); return true; }
		if (esc == 7 && reg == 7) {
			store_int(c, la, 8, st(c, 0));
			pop(c);
			return true;
		}
		return false;
	}
	}
	return false;
}

void op_x87(struct cpu *c, const struct dec_insn *d)
{
	unsigned esc = d->op & 7, reg = d->reg & 7;
	bool ok;

	if (c->cr0 & (CR0_EM | CR0_TS))
		cpu_raise(c, (c->cr0 & CR0_EM) ? EXC_UD : EXC_NM, 0, false);
	if (d->mod == 3)
		ok = x87_reg(c, esc, reg, d->rm & 7);
	else
		ok = x87_mem(c, esc, reg, cpu_ea(c, d));
	if (!ok) {
		rax_log(LOG_WARN, cpu, "unimplemented x87 instruction %02x /%u "
			"mod %u at %#llx", 0xd8 + esc, reg, d->mod,
			(unsigned long long)c->rip);
		cpu_ud(c);
	}
}
