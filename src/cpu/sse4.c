/* The integer instructions of x86-64-v2 beyond SSE3: SSSE3 (0F 38 00-1E
 * and PALIGNR, in MMX and XMM forms), SSE4.1 (66 0F 38 / 0F 3A: blends,
 * PTEST, PMOVSX/ZX, min/max, PMULLD, PMULDQ, PACKUSDW, PHMINPOSUW,
 * MOVNTDQA, PEXTR*, PINSR*, INSERTPS, EXTRACTPS, MPSADBW), SSE4.2
 * (PCMPGTQ, PCMPESTRI/ESTRM/ISTRI/ISTRM, CRC32).  SDM Vol. 2 instruction
 * pages; the string compares follow Vol. 2 §4.1 ("Imm8 Control Byte
 * Operation for PCMPESTRI / PCMPESTRM / PCMPISTRI / PCMPISTRM").  The
 * floating-point ones (ROUND*, DPPS, DPPD) are in ssefp.c; which CPU
 * model has them is the DF_V2 flag of their rows in opcodes.def. */
#include "cpu/sse.h"

#define LANES(n, expr) for (int i = 0; i < (int)(n); i++) { expr; }

static inline int16_t sat_s16(int v)
{
	return v < -32768 ? -32768 : v > 32767 ? 32767 : (int16_t)v;
}

static inline uint16_t sat_u16(int32_t v)
{
	return v < 0 ? 0 : v > 65535 ? 65535 : (uint16_t)v;
}

/* --- SSSE3: MMX (no prefix) and XMM (66) forms ---------------------------- */

/* PINT (sse.h): the legacy forms, and name##_lanes for the VEX forms. */
#define SSSE3(name, body) PINT(name, body)

/* Horizontal pairs: the low half of r from a's pairs, the high from b's. */
#define HPAIRS(f, w, T, expr)                                              \
	LANES(n / (2 * (w)), r.f[i] = (T)(expr(a.f[2 * i], a.f[2 * i + 1]));  \
	      r.f[n / (2 * (w)) + i] = (T)(expr(b.f[2 * i], b.f[2 * i + 1])))
#define ADD(x, y) ((x) + (y))
#define SUB(x, y) ((x) - (y))
#define ADDS(x, y) sat_s16((x) + (y))
#define SUBS(x, y) sat_s16((x) - (y))

static inline int sign_of(int v)
{
	return v < 0 ? -1 : v > 0;
}

SSSE3(op_pshufb_Vx_Wx, LANES(n, r.b[i] = (b.b[i] & 0x80) ? 0 :
			     a.b[b.b[i] & (n - 1)]))
SSSE3(op_phaddw_Vx_Wx, HPAIRS(w, 2, uint16_t, ADD))
SSSE3(op_phaddd_Vx_Wx, HPAIRS(d, 4, uint32_t, ADD))
SSSE3(op_phaddsw_Vx_Wx, HPAIRS(sw, 2, int16_t, ADDS))
SSSE3(op_phsubw_Vx_Wx, HPAIRS(w, 2, uint16_t, SUB))
SSSE3(op_phsubd_Vx_Wx, HPAIRS(d, 4, uint32_t, SUB))
SSSE3(op_phsubsw_Vx_Wx, HPAIRS(sw, 2, int16_t, SUBS))
/* PMADDUBSW: unsigned bytes of the destination times signed bytes of the
 * source, adjacent products added with signed saturation. */
SSSE3(op_pmaddubsw_Vx_Wx, LANES(n / 2, r.sw[i] = sat_s16(a.b[2 * i] * b.sb[2 * i] +
			a.b[2 * i + 1] * b.sb[2 * i + 1])))
SSSE3(op_psignb_Vx_Wx, LANES(n, r.sb[i] = (int8_t)(a.sb[i] * sign_of(b.sb[i]))))
SSSE3(op_psignw_Vx_Wx, LANES(n / 2, r.sw[i] = (int16_t)(a.sw[i] * sign_of(b.sw[i]))))
SSSE3(op_psignd_Vx_Wx, LANES(n / 4, r.d[i] = b.sd[i] < 0 ? 0u - a.d[i] :
			     b.sd[i] ? a.d[i] : 0))
SSSE3(op_pmulhrsw_Vx_Wx, LANES(n / 2, r.w[i] = (uint16_t)((((int32_t)a.sw[i] *
			       b.sw[i] >> 14) + 1) >> 1)))
SSSE3(op_pabsb_Vx_Wx, LANES(n, r.b[i] = (uint8_t)(b.sb[i] < 0 ? -b.sb[i] : b.sb[i])))
SSSE3(op_pabsw_Vx_Wx, LANES(n / 2, r.w[i] = (uint16_t)(b.sw[i] < 0 ? -b.sw[i] : b.sw[i])))
SSSE3(op_pabsd_Vx_Wx, LANES(n / 4, r.d[i] = b.sd[i] < 0 ? 0u - b.d[i] : b.d[i]))

/* PALIGNR: the concatenation a:b shifted right by imm8 bytes, the low n
 * bytes kept (zeros beyond 2n). */
void op_palignr_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d)
{
	xmm_t a, b, r;
	unsigned n = sse_pint_load(c, d, &a, &b), sh = (unsigned)(d->imm & 0xff);
	uint8_t t[64] = { 0 };

	memcpy(t, b.b, n);
	memcpy(t + n, a.b, n);
	r = a;
	memcpy(r.b, t + (sh > 2 * n ? 2 * n : sh), n);
	sse_pint_store(c, d, &r, n);
}

/* --- SSE4.1 / SSE4.2 packed integer (66 only, m128 aligned) ---------------- */

#define SSE4(name, body)                                                   \
void name(struct cpu *c, const struct dec_insn *d)                        \
{                                                                          \
	xmm_t a, b, r, x0;                                                 \
	need_66(c, d);                                                     \
	get_x(c, d->reg, &a);                                              \
	sse_rd_W(c, d, &b, false);                                         \
	get_x(c, 0, &x0);                                                  \
	(void)x0;                                                          \
	r = a;                                                             \
	body;                                                              \
	put_x(c, d->reg, &r);                                              \
}

/* SSE4 without XMM0 (all but the variable blends), with lanes. */
#define SSE4L(name, body)                                                  \
PINT_LANES(name, body)                                                       \
void name(struct cpu *c, const struct dec_insn *d)                        \
{                                                                          \
	xmm_t a, b, r;                                                     \
	need_66(c, d);                                                     \
	get_x(c, d->reg, &a);                                              \
	sse_rd_W(c, d, &b, false);                                         \
	name##_lanes(&r, &a, &b, 16);                                      \
	put_x(c, d->reg, &r);                                              \
}

#define MIN(x, y) ((x) < (y) ? (x) : (y))
#define MAX(x, y) ((x) > (y) ? (x) : (y))

/* Variable blends: XMM0's lane sign bits pick the source. */
SSE4(op_pblendvb_Vx_Wx, LANES(16, r.b[i] = x0.b[i] & 0x80 ? b.b[i] : a.b[i]))
SSE4(op_blendvps_Vx_Wx, LANES(4, r.d[i] = x0.d[i] >> 31 ? b.d[i] : a.d[i]))
SSE4(op_blendvpd_Vx_Wx, LANES(2, r.q[i] = x0.q[i] >> 63 ? b.q[i] : a.q[i]))
SSE4L(op_pmuldq_Vx_Wx, LANES(2, r.q[i] = (uint64_t)((int64_t)a.sd[2 * i] * b.sd[2 * i])))
SSE4L(op_pcmpeqq_Vx_Wx, LANES(2, r.q[i] = a.q[i] == b.q[i] ? ~0ull : 0))
SSE4L(op_pcmpgtq_Vx_Wx, LANES(2, r.q[i] = (int64_t)a.q[i] > (int64_t)b.q[i] ? ~0ull : 0))
SSE4L(op_packusdw_Vx_Wx, LANES(4, r.w[i] = sat_u16(a.sd[i]); r.w[4 + i] = sat_u16(b.sd[i])))
SSE4L(op_pminsb_Vx_Wx, LANES(16, r.sb[i] = MIN(a.sb[i], b.sb[i])))
SSE4L(op_pminsd_Vx_Wx, LANES(4, r.sd[i] = MIN(a.sd[i], b.sd[i])))
SSE4L(op_pminuw_Vx_Wx, LANES(8, r.w[i] = MIN(a.w[i], b.w[i])))
SSE4L(op_pminud_Vx_Wx, LANES(4, r.d[i] = MIN(a.d[i], b.d[i])))
SSE4L(op_pmaxsb_Vx_Wx, LANES(16, r.sb[i] = MAX(a.sb[i], b.sb[i])))
SSE4L(op_pmaxsd_Vx_Wx, LANES(4, r.sd[i] = MAX(a.sd[i], b.sd[i])))
SSE4L(op_pmaxuw_Vx_Wx, LANES(8, r.w[i] = MAX(a.w[i], b.w[i])))
SSE4L(op_pmaxud_Vx_Wx, LANES(4, r.d[i] = MAX(a.d[i], b.d[i])))
SSE4L(op_pmulld_Vx_Wx, LANES(4, r.d[i] = a.d[i] * b.d[i]))

/* PHMINPOSUW: the smallest unsigned word of the source and its (lowest)
 * index, the rest zero. */
SSE4(op_phminposuw_Vx_Wx,
     unsigned k = 0;
     LANES(8, if (b.w[i] < b.w[k]) k = (unsigned)i);
     memset(&r, 0, sizeof(r)); r.w[0] = b.w[k]; r.w[1] = (uint16_t)k)

/* Immediate blends. */
#define SSE4I(name, body) SSE4(name, unsigned im = (unsigned)d->imm; body)
SSE4I(op_blendps_Vx_Wx_Ib, LANES(4, r.d[i] = im >> i & 1 ? b.d[i] : a.d[i]))
SSE4I(op_blendpd_Vx_Wx_Ib, LANES(2, r.q[i] = im >> i & 1 ? b.q[i] : a.q[i]))
SSE4I(op_pblendw_Vx_Wx_Ib, LANES(8, r.w[i] = im >> i & 1 ? b.w[i] : a.w[i]))

/* MPSADBW: eight sums of absolute differences of 4-byte groups, the
 * destination's from byte 4 imm8[2] + i, the source's group imm8[1:0]. */
static inline uint16_t sad4(const uint8_t *x, const uint8_t *y)
{
	unsigned s = 0;

	for (int j = 0; j < 4; j++)
		s += (unsigned)(x[j] > y[j] ? x[j] - y[j] : y[j] - x[j]);
	return (uint16_t)s;
}

SSE4I(op_mpsadbw_Vx_Wx_Ib, LANES(8, r.w[i] = sad4(a.b + 4 * (im >> 2 & 1) + i,
						  b.b + 4 * (im & 3))))

/* PTEST: ZF = (a AND b) == 0, CF = (NOT a AND b) == 0, AF OF PF SF
 * cleared; no register written. */
void op_ptest_Vx_Wx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t a, b;
	uint64_t f;

	need_66(c, d);
	get_x(c, d->reg, &a);
	sse_rd_W(c, d, &b, false);
	f = cpu_get_rflags(c) & ~(uint64_t)(RFLAGS_CF | RFLAGS_PF | RFLAGS_AF |
					    RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF);
	if (!((a.q[0] & b.q[0]) | (a.q[1] & b.q[1])))
		f |= RFLAGS_ZF;
	if (!((~a.q[0] & b.q[0]) | (~a.q[1] & b.q[1])))
		f |= RFLAGS_CF;
	cpu_set_rflags(c, f);
}

/* MOVNTDQA xmm, m128 (aligned). */
void op_movntdqa_Vx_Mx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t v;

	need_66(c, d);
	if (d->mod == 3)
		cpu_ud(c);
	sse_rd_W(c, d, &v, false);
	put_x(c, d->reg, &v);
}

/* PMOVSX/PMOVZX (66 0F 38 20-25, 30-35): the low op & 7 selects BW BD BQ
 * WD WQ DQ; the source is the low 8, 4 or 2 bytes of xmm/m64/m32/m16 (no
 * alignment). */
static void pmovx(struct cpu *c, const struct dec_insn *d, bool sx)
{
	static const uint8_t from[6] = { 1, 1, 1, 2, 2, 4 };
	static const uint8_t to[6] = { 2, 4, 8, 4, 8, 8 };
	unsigned k = d->op & 7, fw, tw, cnt;
	xmm_t s, r = { 0 }; /* all 16 bytes written below, which GCC
			     * cannot always see (make pgo) */

	need_66(c, d);
	if (k > 5)
		cpu_ud(c);
	fw = from[k];
	tw = to[k];
	cnt = 16 / tw;
	if (d->mod == 3) {
		get_x(c, d->rm, &s);
	} else {
		memset(&s, 0, sizeof(s));
		s.q[0] = rdn(c, cpu_ea(c, d), fw * cnt);
	}
	for (unsigned i = 0; i < cnt; i++) {
		uint64_t v = 0;
		int64_t sv;

		memcpy(&v, s.b + fw * i, fw);
		sv = fw == 1 ? (int8_t)v : fw == 2 ? (int16_t)v : (int32_t)v;
		if (sx)
			v = (uint64_t)sv;
		memcpy(r.b + tw * i, &v, tw);
	}
	put_x(c, d->reg, &r);
}

void op_pmovsx_Vx_Wx(struct cpu *c, const struct dec_insn *d) { pmovx(c, d, true); }
void op_pmovzx_Vx_Wx(struct cpu *c, const struct dec_insn *d) { pmovx(c, d, false); }

/* --- extracts and inserts (66 0F 3A 14-17, 20-22) ------------------------ */

/* A register destination gets the value zero-extended: 32 bits, or 64
 * with REX.W (PEXTRQ). */
static void extract(struct cpu *c, const struct dec_insn *d, uint64_t v,
		    unsigned n)
{
	if (d->mod == 3)
		sreg_w(c, d->rm, n == 8 ? 8 : 4, d->rex, v);
	else
		wrn(c, cpu_ea(c, d), v, n);
}

void op_pextrb_Ey_Vx_Ib(struct cpu *c, const struct dec_insn *d)
{
	need_66(c, d);
	extract(c, d, ((const xmm_t *)xr(c, d->reg))->b[d->imm & 15], 1);
}

void op_pextrw_Ey_Vx_Ib(struct cpu *c, const struct dec_insn *d)
{
	xmm_t s;

	need_66(c, d);
	get_x(c, d->reg, &s);
	extract(c, d, s.w[d->imm & 7], 2);
}

/* PEXTRD, PEXTRQ (REX.W). */
void op_pextrd_Ey_Vx_Ib(struct cpu *c, const struct dec_insn *d)
{
	xmm_t s;

	need_66(c, d);
	get_x(c, d->reg, &s);
	if (d->rex & 8)
		extract(c, d, s.q[d->imm & 1], 8);
	else
		extract(c, d, s.d[d->imm & 3], 4);
}

void op_extractps_Ed_Vx_Ib(struct cpu *c, const struct dec_insn *d)
{
	xmm_t s;

	need_66(c, d);
	get_x(c, d->reg, &s);
	extract(c, d, s.d[d->imm & 3], 4);
}

void op_pinsrb_Vx_Ey_Ib(struct cpu *c, const struct dec_insn *d)
{
	xmm_t r;
	uint8_t v;

	need_66(c, d);
	v = (uint8_t)rd_E(c, d, d->mod == 3 ? 4 : 1);
	get_x(c, d->reg, &r);
	r.b[d->imm & 15] = v;
	put_x(c, d->reg, &r);
}

/* PINSRD, PINSRQ (REX.W). */
void op_pinsrd_Vx_Ey_Ib(struct cpu *c, const struct dec_insn *d)
{
	xmm_t r;
	uint64_t v;

	need_66(c, d);
	v = rd_E(c, d, d->rex & 8 ? 8 : 4);
	get_x(c, d->reg, &r);
	if (d->rex & 8)
		r.q[d->imm & 1] = v;
	else
		r.d[d->imm & 3] = (uint32_t)v;
	put_x(c, d->reg, &r);
}

/* INSERTPS: a single (xmm lane imm8[7:6], or m32) into lane imm8[5:4],
 * then the lanes of imm8[3:0] zeroed. */
void op_insertps_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d)
{
	xmm_t r, s;
	unsigned im = (unsigned)d->imm;
	uint32_t v;

	need_66(c, d);
	if (d->mod == 3) {
		get_x(c, d->rm, &s);
		v = s.d[im >> 6 & 3];
	} else {
		v = rd32(c, cpu_ea(c, d));
	}
	get_x(c, d->reg, &r);
	r.d[im >> 4 & 3] = v;
	LANES(4, if (im >> i & 1) r.d[i] = 0);
	put_x(c, d->reg, &r);
}

/* --- SSE4.2 string compares ---------------------------------------------- */

/* Element i of v in the imm8[1:0] format: unsigned or signed bytes or
 * words. */
static int elem(const xmm_t *v, unsigned fmt, unsigned i)
{
	switch (fmt & 3) {
	case 0: return v->b[i];
	case 1: return v->w[i];
	case 2: return v->sb[i];
	default: return v->sw[i];
	}
}

/* An explicit length (EAX, EDX; RAX, RDX with REX.W): its absolute value
 * saturated to the element count. */
static unsigned exp_len(uint64_t v, bool w, unsigned n)
{
	uint64_t a;

	if (w)
		a = (int64_t)v < 0 ? 0 - v : v;
	else
		a = (int32_t)v < 0 ? 0 - (uint64_t)(int64_t)(int32_t)v :
		    (uint32_t)v;
	return a > n ? n : (unsigned)a;
}

/* An implicit length: the index of the first zero element. */
static unsigned imp_len(const xmm_t *v, unsigned fmt, unsigned n)
{
	unsigned i = 0;

	while (i < n && elem(v, fmt, i))
		i++;
	return i;
}

/* IntRes2 of the comparison of a (length la, the register operand) with
 * b (length lb) under imm8 (SDM Vol. 2 §4.1.3-4.1.6). */
static unsigned str_compare(const xmm_t *a, unsigned la, const xmm_t *b,
			    unsigned lb, unsigned im, unsigned n)
{
	unsigned res = 0;

	for (unsigned j = 0; j < n; j++) {
		bool bit = false;

		switch (im >> 2 & 3) {
		case 0: /* equal any */
			for (unsigned i = 0; i < la && j < lb && !bit; i++)
				bit = elem(a, im, i) == elem(b, im, j);
			break;
		case 1: /* ranges: a holds [low, high] pairs; a pair with
			 * an element past la never matches */
			for (unsigned i = 0; i + 1 < la && j < lb && !bit;
			     i += 2)
				bit = elem(a, im, i) <= elem(b, im, j) &&
				      elem(b, im, j) <= elem(a, im, i + 1);
			break;
		case 2: /* equal each */
			bit = j >= la && j >= lb ? true :
			      j >= la || j >= lb ? false :
			      elem(a, im, j) == elem(b, im, j);
			break;
		default: /* equal ordered: a is a substring of b from j */
			bit = true;
			for (unsigned k = 0; k < n - j && bit; k++) {
				if (k >= la)
					break; /* a ended: true */
				if (j + k >= lb)
					bit = false;
				else
					bit = elem(a, im, k) == elem(b, im, j + k);
			}
			break;
		}
		res |= (unsigned)bit << j;
	}
	switch (im >> 4 & 3) {
	case 1: res = ~res; break;
	case 3: res ^= (1u << lb) - 1; break;
	default: break;
	}
	return res & ((1u << n) - 1);
}

/* 66 0F 3A 60-63: PCMPESTRM PCMPESTRI PCMPISTRM PCMPISTRI.  The memory
 * operand needs no alignment.  CF = IntRes2 != 0, ZF = b is shorter
 * than n, SF = a is shorter than n, OF = IntRes2[0], AF = PF = 0. */
static void pcmpstr(struct cpu *c, const struct dec_insn *d, bool expl,
		    bool index)
{
	xmm_t a, b, r;
	unsigned im = (unsigned)d->imm & 0xff, n = im & 1 ? 8 : 16;
	unsigned la, lb, res;
	uint64_t f;
	bool w = d->rex & 8;

	need_66(c, d);
	get_x(c, d->reg, &a);
	sse_rd_W(c, d, &b, true);
	if (expl) {
		la = exp_len(c->r[R_RAX], w, n);
		lb = exp_len(c->r[R_RDX], w, n);
	} else {
		la = imp_len(&a, im, n);
		lb = imp_len(&b, im, n);
	}
	res = str_compare(&a, la, &b, lb, im, n);
	f = cpu_get_rflags(c) & ~(uint64_t)(RFLAGS_CF | RFLAGS_PF | RFLAGS_AF |
					    RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF);
	f |= (res ? RFLAGS_CF : 0) | (lb < n ? RFLAGS_ZF : 0) |
	     (la < n ? RFLAGS_SF : 0) | (res & 1 ? RFLAGS_OF : 0);
	if (index) {
		unsigned i = !res ? n : im & 0x40 ? 31 - (unsigned)__builtin_clz(res) :
			     (unsigned)__builtin_ctz(res);

		c->r[R_RCX] = i;
	} else {
		memset(&r, 0, sizeof(r));
		if (!(im & 0x40)) {
			r.w[0] = (uint16_t)res;
		} else if (n == 16) {
			LANES(16, r.b[i] = res >> i & 1 ? 0xff : 0);
		} else {
			LANES(8, r.w[i] = res >> i & 1 ? 0xffff : 0);
		}
		put_x(c, 0, &r);
	}
	cpu_set_rflags(c, f);
}

void op_pcmpestrm_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d) { pcmpstr(c, d, true, false); }
void op_pcmpestri_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d) { pcmpstr(c, d, true, true); }
void op_pcmpistrm_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d) { pcmpstr(c, d, false, false); }
void op_pcmpistri_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d) { pcmpstr(c, d, false, true); }

/* --- 0F 38 F0/F1: MOVBE (x86-64-v3, bmi.c) and CRC32 --------------------- */

/* CRC32 (F2; SSE4.2): the CRC-32C (Castagnoli, reflected polynomial
 * 82F63B78H) of the source's bytes accumulated into the 32-bit
 * destination; the destination register is written as 32 bits, or as
 * 64 with REX.W (upper half zero). */
static void crc32(struct cpu *c, const struct dec_insn *d, unsigned n)
{
	uint64_t v;
	uint32_t crc;

	if (d->pfx != DEC_PFX_F2) { /* MOVBE: x86-64-v3 (bmi.c) */
		cpu_movbe(c, d, d->op & 1);
		return;
	}
	cpu_need_level(c, 2);
	v = rd_E(c, d, n);
	crc = (uint32_t)c->r[d->reg];
	for (unsigned i = 0; i < 8 * n; i++) {
		crc ^= (uint32_t)(v >> i) & 1;
		crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	c->r[d->reg] = crc;
}

void op_crc32_Gy_Eb(struct cpu *c, const struct dec_insn *d) { crc32(c, d, 1); }
void op_crc32_Gy_Ev(struct cpu *c, const struct dec_insn *d) { crc32(c, d, d->opsz); }

/* --- the VEX forms (AVX: VEX.128; AVX2: VEX.256; level-3 models) -------- */

#define VPINT(vname, name) \
void vname(struct cpu *c, const struct dec_insn *d) { sse_vex_pint(c, d, name##_lanes, false); }
/* Unary (VPABSx): VEX.vvvv must be 1111b. */
#define VPINT1(vname, name) \
void vname(struct cpu *c, const struct dec_insn *d) \
{ if (DEC_VEX_V(d)) cpu_ud(c); sse_vex_pint(c, d, name##_lanes, false); }
VPINT(op_vpshufb_Vx_Hx_Wx, op_pshufb_Vx_Wx)
VPINT(op_vphaddw_Vx_Hx_Wx, op_phaddw_Vx_Wx)
VPINT(op_vphaddd_Vx_Hx_Wx, op_phaddd_Vx_Wx)
VPINT(op_vphaddsw_Vx_Hx_Wx, op_phaddsw_Vx_Wx)
VPINT(op_vpmaddubsw_Vx_Hx_Wx, op_pmaddubsw_Vx_Wx)
VPINT(op_vphsubw_Vx_Hx_Wx, op_phsubw_Vx_Wx)
VPINT(op_vphsubd_Vx_Hx_Wx, op_phsubd_Vx_Wx)
VPINT(op_vphsubsw_Vx_Hx_Wx, op_phsubsw_Vx_Wx)
VPINT(op_vpsignb_Vx_Hx_Wx, op_psignb_Vx_Wx)
VPINT(op_vpsignw_Vx_Hx_Wx, op_psignw_Vx_Wx)
VPINT(op_vpsignd_Vx_Hx_Wx, op_psignd_Vx_Wx)
VPINT(op_vpmulhrsw_Vx_Hx_Wx, op_pmulhrsw_Vx_Wx)
VPINT1(op_vpabsb_Vx_Hx_Wx, op_pabsb_Vx_Wx)
VPINT1(op_vpabsw_Vx_Hx_Wx, op_pabsw_Vx_Wx)
VPINT1(op_vpabsd_Vx_Hx_Wx, op_pabsd_Vx_Wx)
VPINT(op_vpmuldq_Vx_Hx_Wx, op_pmuldq_Vx_Wx)
VPINT(op_vpcmpeqq_Vx_Hx_Wx, op_pcmpeqq_Vx_Wx)
VPINT(op_vpackusdw_Vx_Hx_Wx, op_packusdw_Vx_Wx)
VPINT(op_vpcmpgtq_Vx_Hx_Wx, op_pcmpgtq_Vx_Wx)
VPINT(op_vpminsb_Vx_Hx_Wx, op_pminsb_Vx_Wx)
VPINT(op_vpminsd_Vx_Hx_Wx, op_pminsd_Vx_Wx)
VPINT(op_vpminuw_Vx_Hx_Wx, op_pminuw_Vx_Wx)
VPINT(op_vpminud_Vx_Hx_Wx, op_pminud_Vx_Wx)
VPINT(op_vpmaxsb_Vx_Hx_Wx, op_pmaxsb_Vx_Wx)
VPINT(op_vpmaxsd_Vx_Hx_Wx, op_pmaxsd_Vx_Wx)
VPINT(op_vpmaxuw_Vx_Hx_Wx, op_pmaxuw_Vx_Wx)
VPINT(op_vpmaxud_Vx_Hx_Wx, op_pmaxud_Vx_Wx)
VPINT(op_vpmulld_Vx_Hx_Wx, op_pmulld_Vx_Wx)
#undef VPINT
#undef VPINT1

/* VEX.66.0F38 17: VPTEST xmm/ymm, xmm/ymm/m: ZF, CF over 128 or 256 bits
 * (AF OF PF SF cleared); VEX.vvvv must be 1111b. */
void op_vptest_Vx_Wx(struct cpu *c, const struct dec_insn *d)
{
	bool l = DEC_VEX_L(d);
	xmm_t a[2], b[2];
	uint64_t f, and = 0, andn = 0;

	if (d->pfx != DEC_PFX_66 || DEC_VEX_V(d))
		cpu_ud(c);
	sse_vex_enter(c);
	sse_get_ymm(c, d->reg, a);
	sse_vex_rd_W(c, d, b, l, false);
	for (unsigned i = 0; i < (l ? 4u : 2u); i++) {
		and |= a[i / 2].q[i % 2] & b[i / 2].q[i % 2];
		andn |= ~a[i / 2].q[i % 2] & b[i / 2].q[i % 2];
	}
	f = cpu_get_rflags(c) & ~(uint64_t)(RFLAGS_CF | RFLAGS_PF | RFLAGS_AF |
					    RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF);
	cpu_set_rflags(c, f | (and ? 0 : RFLAGS_ZF) | (andn ? 0 : RFLAGS_CF));
}

/* VEX.66.0F38 78, 79, 58, 59 (AVX2): VPBROADCASTB/W/D/Q x/ymm, xmm/m8-64:
 * the low element repeated (VEX.W 0, VEX.vvvv 1111b). */
void op_vpbroadcast_Vx_Wx(struct cpu *c, const struct dec_insn *d)
{
	unsigned op = d->op & 0xff, n = op == 0x78 ? 1 : op == 0x79 ? 2 :
			op == 0x58 ? 4 : 8;
	bool l = DEC_VEX_L(d);
	xmm_t r[2];
	uint64_t v;

	if (d->pfx != DEC_PFX_66 || DEC_VEX_V(d) || (d->rex & 8))
		cpu_ud(c);
	sse_vex_enter(c);
	if (d->mod == 3)
		v = ((const xmm_t *)xr(c, d->rm))->q[0];
	else
		v = rdn(c, cpu_ea(c, d), n);
	for (unsigned i = 0; i < 32; i += n)
		memcpy(r[i / 16].b + i % 16, &v, n);
	sse_put_ymm(c, d->reg, r, l);
}

/* VEX.66.0F3A 0F: VPALIGNR x/ymm, x/ymm, x/ymm/m, imm8: per 128-bit lane,
 * vvvv:W concatenated and shifted right by imm8 bytes. */
void op_vpalignr_Vx_Hx_Wx_Ib(struct cpu *c, const struct dec_insn *d)
{
	bool l = DEC_VEX_L(d);
	unsigned sh = (unsigned)(d->imm & 0xff);
	xmm_t a[2], b[2], r[2];

	if (d->pfx != DEC_PFX_66)
		cpu_ud(c);
	sse_vex_enter(c);
	sse_get_ymm(c, DEC_VEX_V(d), a);
	sse_vex_rd_W(c, d, b, l, false);
	for (unsigned i = 0; i < (l ? 2u : 1u); i++) {
		uint8_t t[64] = { 0 };

		memcpy(t, b[i].b, 16);
		memcpy(t + 16, a[i].b, 16);
		memcpy(r[i].b, t + (sh > 32 ? 32 : sh), 16);
	}
	sse_put_ymm(c, d->reg, r, l);
}
