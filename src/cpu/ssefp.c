/* SSE and SSE2 floating point: arithmetic, comparisons, conversions,
 * reciprocal estimates (SDM Vol. 2 instruction pages, Vol. 1 §11.5).
 *
 * Every floating-point operation runs as the host's own SSE instruction
 * under the guest's MXCSR (its rounding control, DAZ and FTZ) with every
 * exception masked and the flags cleared; the flags the host raised are
 * then ORed into the guest's MXCSR.  Results, NaN propagation, rounding
 * and flags are therefore the hardware's, bit for bit.  An exception the
 * guest left unmasked raises #XM (vector 19) when CR4.OSXMMEXCPT is set,
 * #UD otherwise, with the destination unchanged (SDM Vol. 1 §11.5.1).
 *
 * RCPPS/RCPSS/RSQRTPS/RSQRTSS: the architecture only bounds the relative
 * error (|error| <= 1.5 * 2^-12), and CPU generations differ in the
 * low bits; running the host's instruction makes the guest see exactly
 * this host's values. */
#include "cpu/sse.h"

#include <emmintrin.h>

#define MX_IE 0x01u /* invalid operation */
#define MX_DE 0x02u /* denormal operand */
#define MX_ZE 0x04u /* divide by zero */
#define MX_MASKS 0x1f80u

typedef unsigned (*host_fn)(xmm_t *x, const xmm_t *y, uint32_t csr);

/* One operation per mandatory prefix (none, 66, F3, F2); src is the
 * memory operand's size: 4 or 8 (scalar or low half) or 16 (aligned). */
struct fop {
	host_fn fn;
	uint8_t src;
};

static uint32_t mxcsr(const struct cpu *c)
{
	uint32_t v;

	memcpy(&v, c->fx + FX_MXCSR, 4);
	return v;
}

/* The MXCSR the host runs the guest's operation under. */
uint32_t sse_host_csr(const struct cpu *c)
{
	return (mxcsr(c) & ~MX_FLAGS) | MX_MASKS;
}

/* Folds the flags one instruction raised into the guest's MXCSR and
 * raises the exception if one of them is unmasked.  When an unmasked
 * pre-computation exception (invalid, denormal, divide by zero) stops
 * the operation, no post-computation flag is reported (§11.5.2). */
void sse_flags(struct cpu *c, unsigned raised)
{
	uint32_t mx = mxcsr(c);
	unsigned unmasked = raised & ~(mx >> 7) & MX_FLAGS;

	if (unmasked & (MX_IE | MX_DE | MX_ZE)) {
		raised &= MX_IE | MX_DE | MX_ZE;
		unmasked &= raised;
	}
	mx |= raised;
	memcpy(c->fx + FX_MXCSR, &mx, 4);
	if (unmasked)
		cpu_raise(c, (c->cr4 & CR4_OSXMMEXCPT) ? EXC_XM : EXC_UD, 0,
			  false);
}

/* x = insn(y, x) on the host under csr; returns the flags raised. */
#define HOST2(fn, insn)                                                    \
static unsigned fn(xmm_t *x, const xmm_t *y, uint32_t csr)                \
{                                                                          \
	__m128 a, b;                                                       \
	uint32_t host, out;                                                \
	memcpy(&a, x, 16);                                                 \
	memcpy(&b, y, 16);                                                 \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t"                \
			 insn " %[b], %[a]\n\t"                            \
			 "stmxcsr %[o]\n\tldmxcsr %[h]"                    \
			 : [a] "+x"(a), [h] "=m"(host), [o] "=m"(out)      \
			 : [b] "x"(b), [g] "m"(csr));                      \
	memcpy(x, &a, 16);                                                 \
	return out & MX_FLAGS;                                             \
}

#define HOST4(op) \
	HOST2(h_##op##ps, #op "ps") HOST2(h_##op##pd, #op "pd") \
	HOST2(h_##op##ss, #op "ss") HOST2(h_##op##sd, #op "sd") \
	static const struct fop op##_ops[4] = { { h_##op##ps, 16 }, \
		{ h_##op##pd, 16 }, { h_##op##ss, 4 }, { h_##op##sd, 8 } };

HOST4(add)
HOST4(sub)
HOST4(mul)
HOST4(div)
HOST4(min)
HOST4(max)
HOST4(sqrt)
HOST4(cmpeq)
HOST4(cmplt)
HOST4(cmple)
HOST4(cmpunord)
HOST4(cmpneq)
HOST4(cmpnlt)
HOST4(cmpnle)
HOST4(cmpord)
HOST2(h_rcpps, "rcpps")
HOST2(h_rcpss, "rcpss")
HOST2(h_rsqrtps, "rsqrtps")
HOST2(h_rsqrtss, "rsqrtss")
HOST2(h_cvtps2pd, "cvtps2pd")
HOST2(h_cvtpd2ps, "cvtpd2ps")
HOST2(h_cvtss2sd, "cvtss2sd")
HOST2(h_cvtsd2ss, "cvtsd2ss")
HOST2(h_cvtdq2ps, "cvtdq2ps")
HOST2(h_cvtps2dq, "cvtps2dq")
HOST2(h_cvttps2dq, "cvttps2dq")
HOST2(h_cvtdq2pd, "cvtdq2pd")
HOST2(h_cvtpd2dq, "cvtpd2dq")
HOST2(h_cvttpd2dq, "cvttpd2dq")

/* SSE3 (x86-64-v2): horizontal add/subtract and add-subtract, 66 the
 * double forms, F2 the single ones. */
HOST2(h_haddpd, "haddpd")
HOST2(h_haddps, "haddps")
HOST2(h_hsubpd, "hsubpd")
HOST2(h_hsubps, "hsubps")
HOST2(h_addsubpd, "addsubpd")
HOST2(h_addsubps, "addsubps")
static const struct fop hadd_ops[4] = { { NULL, 0 }, { h_haddpd, 16 },
	{ NULL, 0 }, { h_haddps, 16 } };
static const struct fop hsub_ops[4] = { { NULL, 0 }, { h_hsubpd, 16 },
	{ NULL, 0 }, { h_hsubps, 16 } };
static const struct fop addsub_ops[4] = { { NULL, 0 }, { h_addsubpd, 16 },
	{ NULL, 0 }, { h_addsubps, 16 } };

static const struct fop rcp_ops[4] = { { h_rcpps, 16 }, { NULL, 0 },
	{ h_rcpss, 4 }, { NULL, 0 } };
static const struct fop rsqrt_ops[4] = { { h_rsqrtps, 16 }, { NULL, 0 },
	{ h_rsqrtss, 4 }, { NULL, 0 } };
static const struct fop cvtps2pd_ops[4] = { { h_cvtps2pd, 8 },
	{ h_cvtpd2ps, 16 }, { h_cvtss2sd, 4 }, { h_cvtsd2ss, 8 } };
static const struct fop cvtdq2ps_ops[4] = { { h_cvtdq2ps, 16 },
	{ h_cvtps2dq, 16 }, { h_cvttps2dq, 16 }, { NULL, 0 } };
static const struct fop cvtpd2dq_ops[4] = { { NULL, 0 },
	{ h_cvttpd2dq, 16 }, { h_cvtdq2pd, 8 }, { h_cvtpd2dq, 16 } };
static const struct fop *const cmp_ops[8] = {
	cmpeq_ops, cmplt_ops, cmple_ops, cmpunord_ops,
	cmpneq_ops, cmpnlt_ops, cmpnle_ops, cmpord_ops,
};

/* Reads the source operand of `src` bytes (see struct fop). */
static void rd_src(struct cpu *c, const struct dec_insn *d, xmm_t *v,
		   unsigned src)
{
	if (src == 16)
		sse_rd_W(c, d, v, false);
	else
		sse_rd_Ws(c, d, v, src);
}

/* xmm(reg) = op(xmm(reg), W) for the prefix's form of the operation. */
static void fop_run(struct cpu *c, const struct dec_insn *d,
		    const struct fop *ops)
{
	const struct fop *o = &ops[d->pfx];
	xmm_t a, b;

	if (!o->fn)
		cpu_ud(c);
	get_x(c, d->reg, &a);
	rd_src(c, d, &b, o->src);
	sse_flags(c, o->fn(&a, &b, sse_host_csr(c)));
	put_x(c, d->reg, &a);
}

#define FOP(name, ops) \
void name(struct cpu *c, const struct dec_insn *d) { fop_run(c, d, ops); }

FOP(op_addps_Vx_Wx, add_ops)
FOP(op_subps_Vx_Wx, sub_ops)
FOP(op_mulps_Vx_Wx, mul_ops)
FOP(op_divps_Vx_Wx, div_ops)
FOP(op_minps_Vx_Wx, min_ops)
FOP(op_maxps_Vx_Wx, max_ops)
FOP(op_sqrtps_Vx_Wx, sqrt_ops)
FOP(op_rcpps_Vx_Wx, rcp_ops)
FOP(op_rsqrtps_Vx_Wx, rsqrt_ops)
FOP(op_cvtps2pd_Vx_Wx, cvtps2pd_ops)
FOP(op_cvtdq2ps_Vx_Wx, cvtdq2ps_ops)
FOP(op_cvtpd2dq_Vx_Wx, cvtpd2dq_ops)
FOP(op_haddps_Vx_Wx, hadd_ops)
FOP(op_hsubps_Vx_Wx, hsub_ops)
FOP(op_addsubps_Vx_Wx, addsub_ops)

/* CMPccPS/PD/SS/SD: imm8[2:0] selects the predicate (legacy encoding). */
void op_cmpps_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d)
{
	fop_run(c, d, cmp_ops[d->imm & 7]);
}

/* Bitwise logic on ps/pd: no floating-point exceptions. */
#define FLOGIC(name, expr)                                                 \
void name(struct cpu *c, const struct dec_insn *d)                        \
{                                                                          \
	xmm_t a, b, r;                                                     \
	if (d->pfx >= DEC_PFX_F3)                                          \
		cpu_ud(c);                                                 \
	get_x(c, d->reg, &a);                                              \
	sse_rd_W(c, d, &b, false);                                         \
	for (int i = 0; i < 2; i++)                                        \
		r.q[i] = (expr);                                           \
	put_x(c, d->reg, &r);                                              \
}
FLOGIC(op_andps_Vx_Wx, a.q[i] & b.q[i])
FLOGIC(op_andnps_Vx_Wx, ~a.q[i] & b.q[i])
FLOGIC(op_orps_Vx_Wx, a.q[i] | b.q[i])
FLOGIC(op_xorps_Vx_Wx, a.q[i] ^ b.q[i])

/* (U)COMISS/SD: ZF PF CF from the host's compare, OF SF AF cleared. */
#define HOSTCOMI(fn, insn)                                                 \
static unsigned fn(const xmm_t *x, const xmm_t *y, uint32_t csr,          \
		   uint64_t *fl)                                           \
{                                                                          \
	__m128 a, b;                                                       \
	uint32_t host, out;                                                \
	bool z, p, cf;                                                     \
	memcpy(&a, x, 16);                                                 \
	memcpy(&b, y, 16);                                                 \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t"                \
			 insn " %[b], %[a]\n\t"                            \
			 "stmxcsr %[o]\n\tldmxcsr %[h]"                    \
			 : "=@ccz"(z), "=@ccp"(p), "=@ccc"(cf),            \
			   [h] "=m"(host), [o] "=m"(out)                   \
			 : [a] "x"(a), [b] "x"(b), [g] "m"(csr));          \
	*fl = (z ? RFLAGS_ZF : 0) | (p ? RFLAGS_PF : 0) |                  \
	      (cf ? RFLAGS_CF : 0);                                        \
	return out & MX_FLAGS;                                             \
}
HOSTCOMI(h_comiss, "comiss")
HOSTCOMI(h_comisd, "comisd")
HOSTCOMI(h_ucomiss, "ucomiss")
HOSTCOMI(h_ucomisd, "ucomisd")

static void comis(struct cpu *c, const struct dec_insn *d, bool quiet)
{
	xmm_t a, b;
	uint64_t f, res;
	bool dbl = d->pfx == DEC_PFX_66;

	if (d->pfx >= DEC_PFX_F3)
		cpu_ud(c);
	get_x(c, d->reg, &a);
	sse_rd_Ws(c, d, &b, dbl ? 8 : 4);
	sse_flags(c, quiet ? (dbl ? h_ucomisd : h_ucomiss)(&a, &b, sse_host_csr(c), &res) :
		  (dbl ? h_comisd : h_comiss)(&a, &b, sse_host_csr(c), &res));
	f = cpu_get_rflags(c) & ~(uint64_t)(RFLAGS_CF | RFLAGS_PF | RFLAGS_AF |
					    RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF);
	cpu_set_rflags(c, f | res);
}

void op_ucomiss_Vx_Wx(struct cpu *c, const struct dec_insn *d) { comis(c, d, true); }
void op_comiss_Vx_Wx(struct cpu *c, const struct dec_insn *d) { comis(c, d, false); }

/* CVTSI2SS/SD: xmm low lane = (float/double)int32/int64 (rounded by
 * MXCSR.RC). */
#define HOSTSI(fn, insn, T)                                                \
static unsigned fn(xmm_t *x, T v, uint32_t csr)                           \
{                                                                          \
	__m128 a;                                                          \
	uint32_t host, out;                                                \
	memcpy(&a, x, 16);                                                 \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t"                \
			 insn " %[v], %[a]\n\t"                            \
			 "stmxcsr %[o]\n\tldmxcsr %[h]"                    \
			 : [a] "+x"(a), [h] "=m"(host), [o] "=m"(out)      \
			 : [v] "r"(v), [g] "m"(csr));                      \
	memcpy(x, &a, 16);                                                 \
	return out & MX_FLAGS;                                             \
}
HOSTSI(h_cvtsi2ssl, "cvtsi2ssl", int32_t)
HOSTSI(h_cvtsi2ssq, "cvtsi2ssq", int64_t)
HOSTSI(h_cvtsi2sdl, "cvtsi2sdl", int32_t)
HOSTSI(h_cvtsi2sdq, "cvtsi2sdq", int64_t)

/* 0F 2A: CVTPI2PS xmm, mm/m64 (two int32 to the low two floats, the
 * high two kept), CVTPI2PD xmm, mm/m64; F3/F2: CVTSI2SS/SD xmm, r/m.
 * An MMX register source makes the x87-to-MMX transition. */
void op_cvtsi2ss_Vx_Ey(struct cpu *c, const struct dec_insn *d)
{
	xmm_t a, b, t;
	unsigned f;

	get_x(c, d->reg, &a);
	if (d->pfx < DEC_PFX_F3) {
		if (d->mod == 3)
			mmx_enter(c);
		sse_rd_Q(c, d, &b); /* lanes 2, 3 zero: convert exactly */
		t = a;
		f = (d->pfx == DEC_PFX_NONE ? h_cvtdq2ps : h_cvtdq2pd)
			(&t, &b, sse_host_csr(c));
		sse_flags(c, f);
		a.q[0] = t.q[0];
		if (d->pfx == DEC_PFX_66)
			a.q[1] = t.q[1];
		put_x(c, d->reg, &a);
		if (d->mod == 3)
			mmx_tags(c);
		return;
	}
	if (d->opsz == 8) {
		int64_t v = (int64_t)rd_E(c, d, 8);

		f = d->pfx == DEC_PFX_F3 ? h_cvtsi2ssq(&a, v, sse_host_csr(c)) :
		    h_cvtsi2sdq(&a, v, sse_host_csr(c));
	} else {
		int32_t v = (int32_t)rd_E(c, d, 4);

		f = d->pfx == DEC_PFX_F3 ? h_cvtsi2ssl(&a, v, sse_host_csr(c)) :
		    h_cvtsi2sdl(&a, v, sse_host_csr(c));
	}
	sse_flags(c, f);
	put_x(c, d->reg, &a);
}

/* CVT(T)SS2SI / CVT(T)SD2SI: out-of-range and NaN give the integer
 * indefinite (0x80000000, 0x8000000000000000) with #I, as the host. */
#define HOSTCVTI(fn, insn, T)                                              \
static unsigned fn(const xmm_t *x, uint64_t *r, uint32_t csr)             \
{                                                                          \
	__m128 b;                                                          \
	T v;                                                               \
	uint32_t host, out;                                                \
	memcpy(&b, x, 16);                                                 \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t"                \
			 insn " %[b], %[v]\n\t"                            \
			 "stmxcsr %[o]\n\tldmxcsr %[h]"                    \
			 : [v] "=r"(v), [h] "=m"(host), [o] "=m"(out)      \
			 : [b] "x"(b), [g] "m"(csr));                      \
	*r = v;                                                            \
	return out & MX_FLAGS;                                             \
}
HOSTCVTI(h_cvtss2si32, "cvtss2si", uint32_t)
HOSTCVTI(h_cvtss2si64, "cvtss2si", uint64_t)
HOSTCVTI(h_cvttss2si32, "cvttss2si", uint32_t)
HOSTCVTI(h_cvttss2si64, "cvttss2si", uint64_t)
HOSTCVTI(h_cvtsd2si32, "cvtsd2si", uint32_t)
HOSTCVTI(h_cvtsd2si64, "cvtsd2si", uint64_t)
HOSTCVTI(h_cvttsd2si32, "cvttsd2si", uint32_t)
HOSTCVTI(h_cvttsd2si64, "cvttsd2si", uint64_t)

typedef unsigned (*host_cvti)(const xmm_t *x, uint64_t *r, uint32_t csr);

/* [trunc][double][64-bit] */
static const host_cvti cvti[2][2][2] = {
	{ { h_cvtss2si32, h_cvtss2si64 }, { h_cvtsd2si32, h_cvtsd2si64 } },
	{ { h_cvttss2si32, h_cvttss2si64 }, { h_cvttsd2si32, h_cvttsd2si64 } },
};

/* 0F 2C/2D: no prefix CVT(T)PS2PI mm, xmm/m64; 66 CVT(T)PD2PI mm,
 * xmm/m128; F3/F2 CVT(T)SS2SI / CVT(T)SD2SI r, xmm/m. */
static void cvt_to_int(struct cpu *c, const struct dec_insn *d, bool trunc)
{
	xmm_t b, t = { { 0 } };
	uint64_t r;
	bool q = d->opsz == 8;

	if (d->pfx < DEC_PFX_F3) {
		bool pd = d->pfx == DEC_PFX_66;

		rd_src(c, d, &b, pd ? 16 : 8);
		if (!pd)
			b.q[1] = 0; /* two floats; 0.0 converts exactly */
		mmx_enter(c);
		sse_flags(c, (pd ? (trunc ? h_cvttpd2dq : h_cvtpd2dq) :
			      (trunc ? h_cvttps2dq : h_cvtps2dq))(&t, &b, sse_host_csr(c)));
		put_mm(c, d->reg, &t);
		return;
	}
	sse_rd_Ws(c, d, &b, d->pfx == DEC_PFX_F3 ? 4 : 8);
	sse_flags(c, cvti[trunc][d->pfx == DEC_PFX_F2][q](&b, &r, sse_host_csr(c)));
	sreg_w(c, d->reg, q ? 8 : 4, d->rex, r);
}

void op_cvttss2si_Gy_Wx(struct cpu *c, const struct dec_insn *d) { cvt_to_int(c, d, true); }
void op_cvtss2si_Gy_Wx(struct cpu *c, const struct dec_insn *d) { cvt_to_int(c, d, false); }

/* --- SSE4.1 (x86-64-v2): ROUNDPS/PD/SS/SD, DPPS, DPPD ------------------- */

/* These take an immediate that the host instruction must encode: one
 * host instruction per immediate value, chosen by a switch (16 values
 * matter for ROUND*: imm8[3:0]; all 256 for DPPS/DPPD). */
#define IMMC(insn, k)                                                      \
	case (k):                                                          \
		__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t"        \
				 insn " %[i], %[b], %[a]\n\t"              \
				 "stmxcsr %[o]\n\tldmxcsr %[h]"            \
				 : [a] "+x"(a), [h] "=m"(host), [o] "=m"(out) \
				 : [b] "x"(b), [g] "m"(csr), [i] "i"(k));  \
		break;
#define IMMC4(insn, k) IMMC(insn, k) IMMC(insn, (k) + 1) IMMC(insn, (k) + 2) \
	IMMC(insn, (k) + 3)
#define IMMC16(insn, k) IMMC4(insn, k) IMMC4(insn, (k) + 4) \
	IMMC4(insn, (k) + 8) IMMC4(insn, (k) + 12)
#define IMMC64(insn, k) IMMC16(insn, k) IMMC16(insn, (k) + 16) \
	IMMC16(insn, (k) + 32) IMMC16(insn, (k) + 48)
#define IMMC256(insn) IMMC64(insn, 0) IMMC64(insn, 64) IMMC64(insn, 128) \
	IMMC64(insn, 192)

/* x = insn(imm, y, x) on the host under csr; returns the flags raised. */
#define HOSTI(fn, insn, cases, mask)                                       \
static unsigned fn(xmm_t *x, const xmm_t *y, unsigned imm, uint32_t csr)  \
{                                                                          \
	__m128 a, b;                                                       \
	uint32_t host, out = 0;                                            \
	memcpy(&a, x, 16);                                                 \
	memcpy(&b, y, 16);                                                 \
	switch (imm & (mask)) {                                            \
	cases(insn)                                                        \
	}                                                                  \
	memcpy(x, &a, 16);                                                 \
	return out & MX_FLAGS;                                             \
}
#define IMMC16_0(insn) IMMC16(insn, 0)
HOSTI(h_roundps, "roundps", IMMC16_0, 15)
HOSTI(h_roundpd, "roundpd", IMMC16_0, 15)
HOSTI(h_roundss, "roundss", IMMC16_0, 15)
HOSTI(h_roundsd, "roundsd", IMMC16_0, 15)
HOSTI(h_dpps, "dpps", IMMC256, 255)
HOSTI(h_dppd, "dppd", IMMC256, 255)

typedef unsigned (*host_imm_fn)(xmm_t *x, const xmm_t *y, unsigned imm,
				uint32_t csr);

/* xmm(reg) = op(imm8, W, xmm(reg)); src as in struct fop (66 only). */
static void fop_imm(struct cpu *c, const struct dec_insn *d, host_imm_fn fn,
		    unsigned src)
{
	xmm_t a, b;

	need_66(c, d);
	get_x(c, d->reg, &a);
	rd_src(c, d, &b, src);
	sse_flags(c, fn(&a, &b, (unsigned)d->imm & 0xff, sse_host_csr(c)));
	put_x(c, d->reg, &a);
}

void op_roundps_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d) { fop_imm(c, d, h_roundps, 16); }
void op_roundpd_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d) { fop_imm(c, d, h_roundpd, 16); }
void op_roundss_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d) { fop_imm(c, d, h_roundss, 4); }
void op_roundsd_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d) { fop_imm(c, d, h_roundsd, 8); }
void op_dpps_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d) { fop_imm(c, d, h_dpps, 16); }
void op_dppd_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d) { fop_imm(c, d, h_dppd, 16); }

/* --- AVX floating point (VEX.0F 51, 54-59, 5C-5F; level-3 models) ------- */

/* dst = op(vvvv, W): the packed forms on each 128-bit lane (VEX.256: two
 * host instructions, flags ORed; elementwise, so exactly the 256-bit
 * result), the scalar ones (VEX.LIG) on the low element with the rest
 * of the XMM from vvvv; bits 255:128 zeroed by the 128-bit forms.  An
 * unmasked exception leaves the destination alone.  No alignment. */
static void vex_fop(struct cpu *c, const struct dec_insn *d,
		    const struct fop *ops, bool unary)
{
	const struct fop *o = &ops[d->pfx];
	bool l = DEC_VEX_L(d) && o->src == 16;
	xmm_t a[2], b[2];
	unsigned f;

	if (!o->fn || (unary && o->src == 16 && DEC_VEX_V(d)))
		cpu_ud(c);
	sse_vex_enter(c);
	sse_get_ymm(c, DEC_VEX_V(d), a);
	if (o->src == 16)
		sse_vex_rd_W(c, d, b, l, false);
	else
		sse_rd_Ws(c, d, &b[0], o->src);
	f = o->fn(&a[0], &b[0], sse_host_csr(c));
	if (l)
		f |= o->fn(&a[1], &b[1], sse_host_csr(c));
	sse_flags(c, f);
	sse_put_ymm(c, d->reg, a, l);
}

#define VFOP(name, ops, unary) \
void name(struct cpu *c, const struct dec_insn *d) { vex_fop(c, d, ops, unary); }
VFOP(op_vaddps_Vx_Hx_Wx, add_ops, false)
VFOP(op_vsubps_Vx_Hx_Wx, sub_ops, false)
VFOP(op_vmulps_Vx_Hx_Wx, mul_ops, false)
VFOP(op_vdivps_Vx_Hx_Wx, div_ops, false)
VFOP(op_vminps_Vx_Hx_Wx, min_ops, false)
VFOP(op_vmaxps_Vx_Hx_Wx, max_ops, false)
/* VSQRTPS/PD x/ymm, W (VEX.vvvv 1111b); VSQRTSS/SD xmm, xmm, xmm/m. */
VFOP(op_vsqrtps_Vx_Hx_Wx, sqrt_ops, true)
#undef VFOP

/* VANDPS/PD VANDNPS/PD VORPS/PD VXORPS/PD (no prefix, 66): bitwise. */
static void vex_flogic(struct cpu *c, const struct dec_insn *d, unsigned k)
{
	bool l = DEC_VEX_L(d);
	xmm_t a[2], b[2];

	if (d->pfx >= DEC_PFX_F3)
		cpu_ud(c);
	sse_vex_enter(c);
	sse_get_ymm(c, DEC_VEX_V(d), a);
	sse_vex_rd_W(c, d, b, l, false);
	for (unsigned i = 0; i < 4; i++) {
		uint64_t x = a[i / 2].q[i % 2], y = b[i / 2].q[i % 2];

		a[i / 2].q[i % 2] = k == 0 ? x & y : k == 1 ? ~x & y :
				    k == 2 ? x | y : x ^ y;
	}
	sse_put_ymm(c, d->reg, a, l);
}

void op_vandps_Vx_Hx_Wx(struct cpu *c, const struct dec_insn *d) { vex_flogic(c, d, 0); }
void op_vandnps_Vx_Hx_Wx(struct cpu *c, const struct dec_insn *d) { vex_flogic(c, d, 1); }
void op_vorps_Vx_Hx_Wx(struct cpu *c, const struct dec_insn *d) { vex_flogic(c, d, 2); }
void op_vxorps_Vx_Hx_Wx(struct cpu *c, const struct dec_insn *d) { vex_flogic(c, d, 3); }

/* --- FMA (VEX.66.0F38 96-9F, A6-AF, B6-BF; level-3 models) -------------- */

/* x = insn(z, y, x) on the host under csr: the FMA forms' operand roles
 * are the instruction's own (132, 213, 231), so the host computes each
 * exactly, with one rounding; flags returned. */
#define HOST3(fn, insn)                                                    \
static unsigned fn(xmm_t *x, const xmm_t *y, const xmm_t *z, uint32_t csr) \
{                                                                          \
	__m128 a, b, cc;                                                   \
	uint32_t host, out;                                                \
	memcpy(&a, x, 16);                                                 \
	memcpy(&b, y, 16);                                                 \
	memcpy(&cc, z, 16);                                                \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t"                \
			 insn " %[c], %[b], %[a]\n\t"                      \
			 "stmxcsr %[o]\n\tldmxcsr %[h]"                    \
			 : [a] "+x"(a), [h] "=m"(host), [o] "=m"(out)      \
			 : [b] "x"(b), [c] "x"(cc), [g] "m"(csr));         \
	memcpy(x, &a, 16);                                                 \
	return out & MX_FLAGS;                                             \
}

typedef unsigned (*host3_fn)(xmm_t *x, const xmm_t *y, const xmm_t *z,
			     uint32_t csr);

/* One opcode: its single (W0) and double (W1) host instructions. */
#define FMA(op, name)                                                      \
	HOST3(h_##name##s, #name "s") HOST3(h_##name##d, #name "d")
#define FMA3(op, name) FMA(op, name##132p) FMA(op, name##213p) FMA(op, name##231p)
#define FMA3S(op, name) FMA(op, name##132s) FMA(op, name##213s) FMA(op, name##231s)
FMA3(0x98, vfmadd)
FMA3S(0x99, vfmadd)
FMA3(0x9a, vfmsub)
FMA3S(0x9b, vfmsub)
FMA3(0x9c, vfnmadd)
FMA3S(0x9d, vfnmadd)
FMA3(0x9e, vfnmsub)
FMA3S(0x9f, vfnmsub)
FMA3(0x96, vfmaddsub)
FMA3(0x97, vfmsubadd)
#undef FMA
#undef FMA3
#undef FMA3S

/* [op - 0x96][form 132, 213, 231][W]: NULL for the scalar forms of
 * VFMADDSUB/VFMSUBADD, which do not exist. */
#define E3(n) { { h_##n##132ps, h_##n##132pd }, { h_##n##213ps, h_##n##213pd }, \
		{ h_##n##231ps, h_##n##231pd } }
#define E3S(n) { { h_##n##132ss, h_##n##132sd }, { h_##n##213ss, h_##n##213sd }, \
		 { h_##n##231ss, h_##n##231sd } }
static const host3_fn fma_fns[10][3][2] = {
	E3(vfmaddsub), E3(vfmsubadd), E3(vfmadd), E3S(vfmadd), E3(vfmsub),
	E3S(vfmsub), E3(vfnmadd), E3S(vfnmadd), E3(vfnmsub), E3S(vfnmsub),
};
#undef E3
#undef E3S

/* dst = fma(dst, vvvv, W): packed per 128-bit lane (VEX.L), scalar on
 * the low element (VEX.LIG; 4 or 8 bytes of memory). */
void op_fma_Vx_Hx_Wx(struct cpu *c, const struct dec_insn *d)
{
	unsigned op = d->op & 0xff, k = (op & 0x0f) - 6, form = (op >> 4) - 9;
	bool dbl = d->rex & 8, scalar = (op & 0x0f) >= 8 && (op & 1);
	bool l = DEC_VEX_L(d) && !scalar;
	xmm_t a[2], b[2], w[2];
	unsigned f;

	if (d->pfx != DEC_PFX_66)
		cpu_ud(c);
	sse_vex_enter(c);
	sse_get_ymm(c, d->reg, a);
	sse_get_ymm(c, DEC_VEX_V(d), b);
	if (scalar)
		sse_rd_Ws(c, d, &w[0], dbl ? 8 : 4);
	else
		sse_vex_rd_W(c, d, w, l, false);
	f = fma_fns[k][form][dbl](&a[0], &b[0], &w[0], sse_host_csr(c));
	if (l)
		f |= fma_fns[k][form][dbl](&a[1], &b[1], &w[1], sse_host_csr(c));
	sse_flags(c, f);
	sse_put_ymm(c, d->reg, a, l);
}

/* --- F16C (VEX.66.0F38 13, VEX.66.0F3A 1D; level-3 models) ------------- */

/* Four halves (the low 64 bits of y) to four singles in x: the host's
 * VCVTPH2PS xmm (exact; flags: #I for signalling NaNs, #D). */
static unsigned h_cvtph2ps(xmm_t *x, const xmm_t *y, uint32_t csr)
{
	__m128 a, b;
	uint32_t host, out;

	memcpy(&b, y, 16);
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t"
			 "vcvtph2ps %[b], %[a]\n\t"
			 "stmxcsr %[o]\n\tldmxcsr %[h]"
			 : [a] "=x"(a), [h] "=m"(host), [o] "=m"(out)
			 : [b] "x"(b), [g] "m"(csr));
	memcpy(x, &a, 16);
	return out & MX_FLAGS;
}

/* VCVTPH2PS x/ymm, xmm/m64/m128 (VEX.W 0, VEX.vvvv 1111b): elementwise,
 * so the 256-bit form is two 128-bit host conversions. */
void op_vcvtph2ps_Vx_Wx(struct cpu *c, const struct dec_insn *d)
{
	bool l = DEC_VEX_L(d);
	xmm_t s, hi, r[2];
	unsigned f;

	if (d->pfx != DEC_PFX_66 || DEC_VEX_V(d) || (d->rex & 8))
		cpu_ud(c);
	sse_vex_enter(c);
	if (d->mod == 3) {
		get_x(c, d->rm, &s);
	} else {
		memset(&s, 0, sizeof(s));
		s.q[0] = rd64(c, cpu_ea(c, d));
		if (l)
			s.q[1] = rd64(c, cpu_ea(c, d) + 8);
	}
	memset(&hi, 0, sizeof(hi));
	hi.q[0] = s.q[1];
	f = h_cvtph2ps(&r[0], &s, sse_host_csr(c));
	if (l)
		f |= h_cvtph2ps(&r[1], &hi, sse_host_csr(c));
	sse_flags(c, f);
	sse_put_ymm(c, d->reg, r, l);
}

/* Four singles of y to four halves (the low 64 bits of *x), rounded by
 * imm8[1:0] or (imm8[2]) MXCSR.RC: one host instruction per imm8[2:0]. */
#define PH_CASE(k)                                                         \
	case (k):                                                          \
		__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t"        \
				 "vcvtps2ph %[i], %[a], %[r]\n\t"          \
				 "stmxcsr %[o]\n\tldmxcsr %[h]"            \
				 : [r] "=x"(r), [h] "=m"(host), [o] "=m"(out) \
				 : [a] "x"(a), [g] "m"(csr), [i] "i"(k));  \
		break;

static unsigned h_cvtps2ph(uint64_t *x, const xmm_t *y, unsigned imm,
			   uint32_t csr)
{
	__m128 a, r = { 0 };
	uint32_t host, out = 0;

	memcpy(&a, y, 16);
	switch (imm & 7) {
	PH_CASE(0) PH_CASE(1) PH_CASE(2) PH_CASE(3)
	PH_CASE(4) PH_CASE(5) PH_CASE(6) PH_CASE(7)
	}
	memcpy(x, &r, 8);
	return out & MX_FLAGS;
}
#undef PH_CASE

/* VCVTPS2PH xmm/m64/m128, x/ymm, imm8: a register destination gets the
 * halves with the rest of the YMM register zeroed.  An unmasked
 * exception writes nothing. */
void op_vcvtps2ph_Wx_Vx_Ib(struct cpu *c, const struct dec_insn *d)
{
	bool l = DEC_VEX_L(d);
	xmm_t y[2], res[2];
	unsigned f, imm = (unsigned)d->imm;
	uint64_t la = 0;

	if (d->pfx != DEC_PFX_66 || DEC_VEX_V(d) || (d->rex & 8))
		cpu_ud(c);
	sse_vex_enter(c);
	sse_get_ymm(c, d->reg, y);
	memset(res, 0, sizeof(res));
	f = h_cvtps2ph(&res[0].q[0], &y[0], imm, sse_host_csr(c));
	if (l)
		f |= h_cvtps2ph(&res[0].q[1], &y[1], imm, sse_host_csr(c));
	if (d->mod != 3) {
		la = cpu_ea(c, d);
		cpu_probe_write(c, la, l ? 16 : 8);
	}
	sse_flags(c, f);
	if (d->mod == 3) {
		sse_put_ymm(c, d->rm, res, false);
	} else {
		wr64(c, la, res[0].q[0]);
		if (l)
			wr64(c, la + 8, res[0].q[1]);
	}
}
