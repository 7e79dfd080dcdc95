/* MMX, the integer and move instructions of SSE and SSE2 (both the MMX
 * register forms and the XMM forms), the x87 control instructions Linux
 * and glibc execute, FXSAVE/FXRSTOR, LDMXCSR/STMXCSR, fences.  SDM Vol. 2
 * instruction pages.  Floating-point SSE is in ssefp.c. */
#include "cpu/sse.h"

#include "log.h"

/* The W operand: an XMM register or 16 bytes of memory (aligned unless
 * `unaligned`: legacy SSE packed operands need 16-byte alignment). */
void sse_rd_W(struct cpu *c, const struct dec_insn *d, xmm_t *v,
	      bool unaligned)
{
	uint64_t la;

	if (d->mod == 3) {
		get_x(c, d->rm, v);
		return;
	}
	la = cpu_ea(c, d);
	if (!unaligned && (la & 15))
		cpu_gp(c, 0);
	v->q[0] = rd64(c, la);
	v->q[1] = rd64(c, la + 8);
}

static void wr_W(struct cpu *c, const struct dec_insn *d, const xmm_t *v,
		 bool unaligned)
{
	uint64_t la;

	if (d->mod == 3) {
		put_x(c, d->rm, v);
		return;
	}
	la = cpu_ea(c, d);
	if (!unaligned && (la & 15))
		cpu_gp(c, 0);
	cpu_probe_write(c, la, 16);
	wr64(c, la, v->q[0]);
	wr64(c, la + 8, v->q[1]);
}

/* Scalar W operand of n bytes (4 or 8) into the low lanes. */
void sse_rd_Ws(struct cpu *c, const struct dec_insn *d, xmm_t *v,
	       unsigned n)
{
	if (d->mod == 3) {
		get_x(c, d->rm, v);
		return;
	}
	memset(v, 0, sizeof(*v));
	if (n == 4)
		v->d[0] = rd32(c, cpu_ea(c, d));
	else
		v->q[0] = rd64(c, cpu_ea(c, d));
}

void sse_rd_Q(struct cpu *c, const struct dec_insn *d, xmm_t *v)
{
	if (d->mod == 3) {
		get_mm(c, d->rm, v);
		return;
	}
	memset(v, 0, sizeof(*v));
	v->q[0] = rd64(c, cpu_ea(c, d));
}

/* --- moves ---------------------------------------------------------------- */

void op_movups_Vx_Wx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t v, r;

	switch (d->pfx) {
	case DEC_PFX_F3: case DEC_PFX_F2: {
		unsigned n = d->pfx == DEC_PFX_F3 ? 4 : 8;

		sse_rd_Ws(c, d, &v, n);
		get_x(c, d->reg, &r);
		if (d->mod != 3)
			memset(&r, 0, sizeof(r));
		memcpy(&r, &v, n);
		put_x(c, d->reg, &r);
		return;
	}
	default:
		sse_rd_W(c, d, &v, true);
		put_x(c, d->reg, &v);
	}
}

void op_movups_Wx_Vx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t v, r;

	get_x(c, d->reg, &v);
	if (d->pfx == DEC_PFX_F3 || d->pfx == DEC_PFX_F2) {
		unsigned n = d->pfx == DEC_PFX_F3 ? 4 : 8;

		if (d->mod == 3) {
			get_x(c, d->rm, &r);
			memcpy(&r, &v, n);
			put_x(c, d->rm, &r);
		} else if (n == 4) {
			wr32(c, cpu_ea(c, d), v.d[0]);
		} else {
			wr64(c, cpu_ea(c, d), v.q[0]);
		}
		return;
	}
	wr_W(c, d, &v, true);
}

void op_movaps_Vx_Wx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t v;

	if (d->pfx >= DEC_PFX_F3)
		cpu_ud(c);
	sse_rd_W(c, d, &v, false);
	put_x(c, d->reg, &v);
}

void op_movaps_Wx_Vx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t v;

	if (d->pfx >= DEC_PFX_F3)
		cpu_ud(c);
	get_x(c, d->reg, &v);
	wr_W(c, d, &v, false);
}

void op_movntps_Mx_Vx(struct cpu *c, const struct dec_insn *d)
{
	if (d->mod == 3)
		cpu_ud(c);
	op_movaps_Wx_Vx(c, d);
}

/* MOVNTQ m64, mm / MOVNTDQ m128, xmm. */
void op_movntdq_Mx_Vx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t v;

	if (d->mod == 3 || d->pfx >= DEC_PFX_F3)
		cpu_ud(c);
	if (d->pfx == DEC_PFX_NONE) {
		mmx_enter(c);
		get_mm(c, d->reg, &v);
		wr64(c, cpu_ea(c, d), v.q[0]);
		mmx_tags(c);
		return;
	}
	op_movaps_Wx_Vx(c, d);
}

void op_movdqa_Vx_Wx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t v;

	if (d->pfx == DEC_PFX_NONE) { /* MOVQ mm, mm/m64 */
		mmx_enter(c);
		sse_rd_Q(c, d, &v);
		put_mm(c, d->reg, &v);
		return;
	}
	if (d->pfx != DEC_PFX_66 && d->pfx != DEC_PFX_F3)
		cpu_ud(c);
	sse_rd_W(c, d, &v, d->pfx == DEC_PFX_F3);
	put_x(c, d->reg, &v);
}

void op_movdqa_Wx_Vx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t v;

	if (d->pfx == DEC_PFX_NONE) { /* MOVQ mm/m64, mm */
		mmx_enter(c);
		get_mm(c, d->reg, &v);
		if (d->mod == 3)
			put_mm(c, d->rm, &v);
		else
			wr64(c, cpu_ea(c, d), v.q[0]);
		mmx_tags(c);
		return;
	}
	if (d->pfx != DEC_PFX_66 && d->pfx != DEC_PFX_F3)
		cpu_ud(c);
	get_x(c, d->reg, &v);
	wr_W(c, d, &v, d->pfx == DEC_PFX_F3);
}

/* SSE3 (x86-64-v2): MOVSLDUP (F3 0F 12), MOVSHDUP (F3 0F 16) duplicate
 * the even or odd singles of xmm/m128 (aligned); MOVDDUP (F2 0F 12) the
 * low double of xmm/m64. */
static void movdup(struct cpu *c, const struct dec_insn *d, bool odd)
{
	xmm_t s, r;

	cpu_need_level(c, 2);
	if (d->pfx == DEC_PFX_F2) {
		sse_rd_Ws(c, d, &s, 8);
		r.q[0] = r.q[1] = s.q[0];
	} else {
		sse_rd_W(c, d, &s, false);
		r.d[0] = r.d[1] = s.d[odd];
		r.d[2] = r.d[3] = s.d[2 + odd];
	}
	put_x(c, d->reg, &r);
}

/* LDDQU xmm, m128 (SSE3): an unaligned load. */
void op_lddqu_Vx_Mx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t v;

	if (d->pfx != DEC_PFX_F2 || d->mod == 3)
		cpu_ud(c);
	sse_rd_W(c, d, &v, true);
	put_x(c, d->reg, &v);
}

/* 0F 12 / 0F 13 / 0F 16 / 0F 17: 64-bit halves. */
void op_movlps_Vx_Mq(struct cpu *c, const struct dec_insn *d)
{
	xmm_t r, s;

	if (d->pfx >= DEC_PFX_F3) {
		movdup(c, d, false);
		return;
	}
	get_x(c, d->reg, &r);
	if (d->mod == 3) { /* MOVHLPS */
		if (d->pfx)
			cpu_ud(c);
		get_x(c, d->rm, &s);
		r.q[0] = s.q[1];
	} else {
		r.q[0] = rd64(c, cpu_ea(c, d));
	}
	put_x(c, d->reg, &r);
}

void op_movlps_Mq_Vx(struct cpu *c, const struct dec_insn *d)
{
	if (d->pfx >= DEC_PFX_F3 || d->mod == 3)
		cpu_ud(c);
	wr64(c, cpu_ea(c, d), ((const xmm_t *)xr(c, d->reg))->q[0]);
}

void op_movhps_Vx_Mq(struct cpu *c, const struct dec_insn *d)
{
	xmm_t r, s;

	if (d->pfx == DEC_PFX_F3) {
		movdup(c, d, true);
		return;
	}
	if (d->pfx == DEC_PFX_F2)
		cpu_ud(c);
	get_x(c, d->reg, &r);
	if (d->mod == 3) { /* MOVLHPS */
		if (d->pfx)
			cpu_ud(c);
		get_x(c, d->rm, &s);
		r.q[1] = s.q[0];
	} else {
		r.q[1] = rd64(c, cpu_ea(c, d));
	}
	put_x(c, d->reg, &r);
}

void op_movhps_Mq_Vx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t r;

	if (d->pfx >= DEC_PFX_F3 || d->mod == 3)
		cpu_ud(c);
	get_x(c, d->reg, &r);
	wr64(c, cpu_ea(c, d), r.q[1]);
}

void op_movd_Vx_Ey(struct cpu *c, const struct dec_insn *d)
{
	xmm_t r = { { 0 } };
	unsigned n = d->opsz == 8 ? 8 : 4;

	if (d->pfx == DEC_PFX_NONE) { /* MOVD/MOVQ mm, r/m */
		mmx_enter(c);
		r.q[0] = rd_E(c, d, n);
		put_mm(c, d->reg, &r);
		return;
	}
	need_66(c, d);
	r.q[0] = rd_E(c, d, n);
	put_x(c, d->reg, &r);
}

void op_movd_Ey_Vx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t r;

	if (d->pfx == DEC_PFX_F3) { /* MOVQ xmm, xmm/m64 */
		xmm_t s;

		sse_rd_Ws(c, d, &s, 8);
		memset(&r, 0, sizeof(r));
		r.q[0] = s.q[0];
		put_x(c, d->reg, &r);
		return;
	}
	if (d->pfx == DEC_PFX_NONE) { /* MOVD/MOVQ r/m, mm */
		mmx_enter(c);
		get_mm(c, d->reg, &r);
	} else {
		need_66(c, d);
		get_x(c, d->reg, &r);
	}
	if (d->mod == 3)
		c->r[d->rm] = d->opsz == 8 ? r.q[0] : r.d[0];
	else
		wrn(c, cpu_ea(c, d), r.q[0], d->opsz == 8 ? 8 : 4);
	if (d->pfx == DEC_PFX_NONE)
		mmx_tags(c);
}

void op_movq_Wq_Vq(struct cpu *c, const struct dec_insn *d)
{
	xmm_t r, z = { { 0 } };

	if (d->pfx >= DEC_PFX_F3) { /* MOVQ2DQ xmm, mm / MOVDQ2Q mm, xmm */
		if (d->mod != 3)
			cpu_ud(c);
		mmx_enter(c);
		if (d->pfx == DEC_PFX_F3) {
			get_mm(c, d->rm, &r);
			put_x(c, d->reg, &r);
			mmx_tags(c);
		} else {
			get_x(c, d->rm, &r);
			put_mm(c, d->reg, &r);
		}
		return;
	}
	need_66(c, d);
	get_x(c, d->reg, &r);
	if (d->mod == 3) {
		z.q[0] = r.q[0];
		put_x(c, d->rm, &z);
	} else {
		wr64(c, cpu_ea(c, d), r.q[0]);
	}
}

void op_movmskps_Gd_Ux(struct cpu *c, const struct dec_insn *d)
{
	xmm_t s;
	uint64_t m = 0;

	if (d->mod != 3 || d->pfx >= DEC_PFX_F3)
		cpu_ud(c);
	get_x(c, d->rm, &s);
	if (d->pfx == DEC_PFX_66)
		m = (s.q[0] >> 63) | ((s.q[1] >> 63) << 1);
	else
		for (int i = 0; i < 4; i++)
			m |= (uint64_t)(s.d[i] >> 31) << i;
	c->r[d->reg] = m;
}

void op_pmovmskb_Gd_Ux(struct cpu *c, const struct dec_insn *d)
{
	xmm_t s;
	uint64_t m = 0;
	int n = 16;

	if (d->mod != 3)
		cpu_ud(c);
	if (d->pfx == DEC_PFX_NONE) {
		mmx_enter(c);
		get_mm(c, d->rm, &s);
		n = 8;
	} else {
		need_66(c, d);
		get_x(c, d->rm, &s);
	}
	for (int i = 0; i < n; i++)
		m |= (uint64_t)(s.b[i] >> 7) << i;
	c->r[d->reg] = m;
	if (n == 8)
		mmx_tags(c);
}

/* --- packed integer ------------------------------------------------------- */

/* Loads the operands of a packed-integer instruction: no prefix is the
 * MMX form (mm, mm/m64), 66 the SSE2 form (xmm, xmm/m128, aligned).
 * Returns the vector size in bytes, 8 or 16. */
unsigned sse_pint_load(struct cpu *c, const struct dec_insn *d, xmm_t *a,
		       xmm_t *b)
{
	if (d->pfx == DEC_PFX_NONE) {
		mmx_enter(c);
		get_mm(c, d->reg, a);
		sse_rd_Q(c, d, b);
		return 8;
	}
	need_66(c, d);
	get_x(c, d->reg, a);
	sse_rd_W(c, d, b, false);
	return 16;
}

/* pint_load() for PUNPCKLBW/WD/DQ, whose MMX form reads only m32 (SDM
 * Vol. 2: "PUNPCKLBW mm, mm/m32"): a fault can come only from those 4
 * bytes. */
static unsigned pint_load_lo(struct cpu *c, const struct dec_insn *d,
			     xmm_t *a, xmm_t *b)
{
	if (d->pfx == DEC_PFX_NONE && d->mod != 3) {
		mmx_enter(c);
		get_mm(c, d->reg, a);
		memset(b, 0, sizeof(*b));
		b->d[0] = rd32(c, cpu_ea(c, d));
		return 8;
	}
	return sse_pint_load(c, d, a, b);
}

void sse_pint_store(struct cpu *c, const struct dec_insn *d, const xmm_t *r,
		    unsigned n)
{
	if (n == 8)
		put_mm(c, d->reg, r);
	else
		put_x(c, d->reg, r);
}


/* PINT with the low-half unpack operand rule (pint_load_lo). */
#define PINTL(name, body)                                                  \
PINT_LANES(name, body)                                                     \
void name(struct cpu *c, const struct dec_insn *d)                        \
{                                                                          \
	xmm_t a, b, r;                                                     \
	unsigned n = pint_load_lo(c, d, &a, &b);                           \
	name##_lanes(&r, &a, &b, n);                                       \
	sse_pint_store(c, d, &r, n);                                       \
}

/* The XMM form only (66 prefix). */
#define PINTX(name, body)                                                  \
PINT_LANES(name, body)                                                     \
void name(struct cpu *c, const struct dec_insn *d)                        \
{                                                                          \
	xmm_t a, b, r;                                                     \
	need_66(c, d);                                                     \
	get_x(c, d->reg, &a);                                              \
	sse_rd_W(c, d, &b, false);                                         \
	name##_lanes(&r, &a, &b, 16);                                      \
	put_x(c, d->reg, &r);                                              \
}

#define LANES(n, expr) for (int i = 0; i < (int)(n); i++) { expr; }

static inline uint8_t sat_u8(int v) { return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v; }
static inline int8_t sat_s8(int v) { return v < -128 ? -128 : v > 127 ? 127 : (int8_t)v; }
static inline uint16_t sat_u16(int v) { return v < 0 ? 0 : v > 65535 ? 65535 : (uint16_t)v; }
static inline int16_t sat_s16(int v) { return v < -32768 ? -32768 : v > 32767 ? 32767 : (int16_t)v; }
static inline int16_t sat_s16d(int32_t v) { return v < -32768 ? -32768 : v > 32767 ? 32767 : (int16_t)v; }

/* PMADDWD: the sum of two 16x16 products; only 0x8000 * 0x8000 twice
 * overflows, wrapping to 0x80000000 (SDM Vol. 2 PMADDWD). */
static inline uint32_t madd(int16_t a0, int16_t b0, int16_t a1, int16_t b1)
{
	return (uint32_t)((int32_t)a0 * b0) + (uint32_t)((int32_t)a1 * b1);
}

/* PSADBW: per 8-byte group, the sum of absolute differences in the low
 * word of the quadword, the rest zero. */
static inline uint64_t sad8(const uint8_t *a, const uint8_t *b)
{
	unsigned s = 0;

	for (int i = 0; i < 8; i++)
		s += (unsigned)(a[i] > b[i] ? a[i] - b[i] : b[i] - a[i]);
	return s;
}

PINT(op_paddb_Vx_Wx, LANES(n, r.b[i] = (uint8_t)(a.b[i] + b.b[i])))
PINT(op_paddw_Vx_Wx, LANES(n / 2, r.w[i] = (uint16_t)(a.w[i] + b.w[i])))
PINT(op_paddd_Vx_Wx, LANES(n / 4, r.d[i] = a.d[i] + b.d[i]))
PINT(op_paddq_Vx_Wx, LANES(n / 8, r.q[i] = a.q[i] + b.q[i]))
PINT(op_psubb_Vx_Wx, LANES(n, r.b[i] = (uint8_t)(a.b[i] - b.b[i])))
PINT(op_psubw_Vx_Wx, LANES(n / 2, r.w[i] = (uint16_t)(a.w[i] - b.w[i])))
PINT(op_psubd_Vx_Wx, LANES(n / 4, r.d[i] = a.d[i] - b.d[i]))
PINT(op_psubq_Vx_Wx, LANES(n / 8, r.q[i] = a.q[i] - b.q[i]))
PINT(op_paddusb_Vx_Wx, LANES(n, r.b[i] = sat_u8(a.b[i] + b.b[i])))
PINT(op_paddusw_Vx_Wx, LANES(n / 2, r.w[i] = sat_u16(a.w[i] + b.w[i])))
PINT(op_psubusb_Vx_Wx, LANES(n, r.b[i] = sat_u8(a.b[i] - b.b[i])))
PINT(op_psubusw_Vx_Wx, LANES(n / 2, r.w[i] = sat_u16(a.w[i] - b.w[i])))
PINT(op_paddsb_Vx_Wx, LANES(n, r.sb[i] = sat_s8(a.sb[i] + b.sb[i])))
PINT(op_paddsw_Vx_Wx, LANES(n / 2, r.sw[i] = sat_s16(a.sw[i] + b.sw[i])))
PINT(op_psubsb_Vx_Wx, LANES(n, r.sb[i] = sat_s8(a.sb[i] - b.sb[i])))
PINT(op_psubsw_Vx_Wx, LANES(n / 2, r.sw[i] = sat_s16(a.sw[i] - b.sw[i])))
PINT(op_pminub_Vx_Wx, LANES(n, r.b[i] = a.b[i] < b.b[i] ? a.b[i] : b.b[i]))
PINT(op_pmaxub_Vx_Wx, LANES(n, r.b[i] = a.b[i] > b.b[i] ? a.b[i] : b.b[i]))
PINT(op_pminsw_Vx_Wx, LANES(n / 2, r.sw[i] = a.sw[i] < b.sw[i] ? a.sw[i] : b.sw[i]))
PINT(op_pmaxsw_Vx_Wx, LANES(n / 2, r.sw[i] = a.sw[i] > b.sw[i] ? a.sw[i] : b.sw[i]))
PINT(op_pavgb_Vx_Wx, LANES(n, r.b[i] = (uint8_t)((a.b[i] + b.b[i] + 1) >> 1)))
PINT(op_pavgw_Vx_Wx, LANES(n / 2, r.w[i] = (uint16_t)((a.w[i] + b.w[i] + 1) >> 1)))
PINT(op_pmullw_Vx_Wx, LANES(n / 2, r.w[i] = (uint16_t)(a.sw[i] * b.sw[i])))
PINT(op_pmulhw_Vx_Wx, LANES(n / 2, r.w[i] = (uint16_t)((a.sw[i] * b.sw[i]) >> 16)))
PINT(op_pmulhuw_Vx_Wx, LANES(n / 2, r.w[i] = (uint16_t)(((uint32_t)a.w[i] * b.w[i]) >> 16)))
PINT(op_pmuludq_Vx_Wx, LANES(n / 8, r.q[i] = (uint64_t)a.d[2 * i] * b.d[2 * i]))
PINT(op_pmaddwd_Vx_Wx, LANES(n / 4, r.d[i] = madd(a.sw[2 * i], b.sw[2 * i], a.sw[2 * i + 1], b.sw[2 * i + 1])))
PINT(op_psadbw_Vx_Wx, LANES(n / 8, r.q[i] = sad8(a.b + 8 * i, b.b + 8 * i)))
PINT(op_pand_Vx_Wx, LANES(n / 8, r.q[i] = a.q[i] & b.q[i]))
PINT(op_pandn_Vx_Wx, LANES(n / 8, r.q[i] = ~a.q[i] & b.q[i]))
PINT(op_por_Vx_Wx, LANES(n / 8, r.q[i] = a.q[i] | b.q[i]))
PINT(op_pxor_Vx_Wx, LANES(n / 8, r.q[i] = a.q[i] ^ b.q[i]))
PINT(op_pcmpeqb_Vx_Wx, LANES(n, r.b[i] = a.b[i] == b.b[i] ? 0xff : 0))
PINT(op_pcmpeqw_Vx_Wx, LANES(n / 2, r.w[i] = a.w[i] == b.w[i] ? 0xffff : 0))
PINT(op_pcmpeqd_Vx_Wx, LANES(n / 4, r.d[i] = a.d[i] == b.d[i] ? ~0u : 0))
PINT(op_pcmpgtb_Vx_Wx, LANES(n, r.b[i] = a.sb[i] > b.sb[i] ? 0xff : 0))
PINT(op_pcmpgtw_Vx_Wx, LANES(n / 2, r.w[i] = a.sw[i] > b.sw[i] ? 0xffff : 0))
PINT(op_pcmpgtd_Vx_Wx, LANES(n / 4, r.d[i] = a.sd[i] > b.sd[i] ? ~0u : 0))
/* Unpacks interleave the low (or high) halves of the n-byte vectors. */
PINTL(op_punpcklbw_Vx_Wx, LANES(n / 2, r.b[2 * i] = a.b[i]; r.b[2 * i + 1] = b.b[i]))
PINT(op_punpckhbw_Vx_Wx, LANES(n / 2, r.b[2 * i] = a.b[n / 2 + i]; r.b[2 * i + 1] = b.b[n / 2 + i]))
PINTL(op_punpcklwd_Vx_Wx, LANES(n / 4, r.w[2 * i] = a.w[i]; r.w[2 * i + 1] = b.w[i]))
PINT(op_punpckhwd_Vx_Wx, LANES(n / 4, r.w[2 * i] = a.w[n / 4 + i]; r.w[2 * i + 1] = b.w[n / 4 + i]))
PINTL(op_punpckldq_Vx_Wx, LANES(n / 8, r.d[2 * i] = a.d[i]; r.d[2 * i + 1] = b.d[i]))
PINT(op_punpckhdq_Vx_Wx, LANES(n / 8, r.d[2 * i] = a.d[n / 8 + i]; r.d[2 * i + 1] = b.d[n / 8 + i]))
PINTX(op_punpcklqdq_Vx_Wx, r.q[0] = a.q[0]; r.q[1] = b.q[0])
PINTX(op_punpckhqdq_Vx_Wx, r.q[0] = a.q[1]; r.q[1] = b.q[1])
/* Packs: a's lanes narrowed into the low half of r, b's into the high. */
PINT(op_packsswb_Vx_Wx, LANES(n / 2, r.sb[i] = sat_s8(a.sw[i]); r.sb[n / 2 + i] = sat_s8(b.sw[i])))
PINT(op_packuswb_Vx_Wx, LANES(n / 2, r.b[i] = sat_u8(a.sw[i]); r.b[n / 2 + i] = sat_u8(b.sw[i])))
PINT(op_packssdw_Vx_Wx, LANES(n / 4, r.sw[i] = sat_s16d(a.sd[i]); r.sw[n / 4 + i] = sat_s16d(b.sd[i])))

/* Shifts n bytes of lanes of w bytes; op is the ModRM.reg of the 0F 71-73
 * groups: 2 logical right, 4 arithmetic right, 6 left.  Counts past the
 * lane width give 0 (logical) or the sign (arithmetic). */
static void shift_lanes(xmm_t *r, unsigned w, unsigned op, uint64_t cnt,
			unsigned n)
{
	for (unsigned i = 0; i < n / w; i++) {
		switch (w) {
		case 2:
			if (op == 4)
				r->sw[i] = (int16_t)(r->sw[i] >> (cnt > 15 ? 15 : cnt));
			else
				r->w[i] = cnt > 15 ? 0 : (uint16_t)(op == 2 ?
					  r->w[i] >> cnt : r->w[i] << cnt);
			break;
		case 4:
			if (op == 4)
				r->sd[i] = r->sd[i] >> (cnt > 31 ? 31 : cnt);
			else
				r->d[i] = cnt > 31 ? 0 : op == 2 ?
					  r->d[i] >> cnt : r->d[i] << cnt;
			break;
		default:
			r->q[i] = cnt > 63 ? 0 : op == 2 ? r->q[i] >> cnt :
				  r->q[i] << cnt;
			break;
		}
	}
}

PINT(op_psrlw_Vx_Wx, shift_lanes(&r, 2, 2, b.q[0], n))
PINT(op_psrld_Vx_Wx, shift_lanes(&r, 4, 2, b.q[0], n))
PINT(op_psrlq_Vx_Wx, shift_lanes(&r, 8, 2, b.q[0], n))
PINT(op_psraw_Vx_Wx, shift_lanes(&r, 2, 4, b.q[0], n))
PINT(op_psrad_Vx_Wx, shift_lanes(&r, 4, 4, b.q[0], n))
PINT(op_psllw_Vx_Wx, shift_lanes(&r, 2, 6, b.q[0], n))
PINT(op_pslld_Vx_Wx, shift_lanes(&r, 4, 6, b.q[0], n))
PINT(op_psllq_Vx_Wx, shift_lanes(&r, 8, 6, b.q[0], n))

/* 0F 71/72/73 /r ib: the register-only shift-by-immediate groups; no
 * prefix shifts an MMX register, 66 an XMM register (PSRLDQ /3 and
 * PSLLDQ /7 exist only there). */
/* Groups 12-14 forms (groups.def, register operands only): shift the
 * lanes of w bytes of an MMX (no prefix) or XMM (66) register by imm8;
 * op is the ModRM.reg of the form (2 SRL, 3 SRLDQ, 4 SRA, 6 SLL, 7
 * SLLDQ). */
static inline __attribute__((always_inline)) void
grp_shift(struct cpu *c, const struct dec_insn *d, unsigned w, unsigned op)
{
	xmm_t r;
	unsigned cnt = (unsigned)(d->imm & 0xff), n = 16;

	if (d->pfx == DEC_PFX_NONE) {
		mmx_enter(c);
		get_mm(c, d->rm, &r);
		n = 8;
	} else {
		need_66(c, d);
		get_x(c, d->rm, &r);
	}
	if (n == 16 && w == 8 && (op == 3 || op == 7)) { /* byte shifts */
		uint8_t t[48] = { 0 };

		if (cnt > 16)
			cnt = 16;
		memcpy(t + 16, r.b, 16);
		memcpy(r.b, op == 3 ? t + 16 + cnt : t + 16 - cnt, 16);
		if (op == 3)
			memset(r.b + 16 - cnt, 0, cnt);
	} else if (op == 2 || op == 6 || (op == 4 && w != 8)) {
		shift_lanes(&r, w, op, cnt, n);
	} else {
		cpu_ud(c);
	}
	if (n == 8)
		put_mm(c, d->rm, &r);
	else
		put_x(c, d->rm, &r);
}

void op_psrlw_Ux_Ib(struct cpu *c, const struct dec_insn *d) { grp_shift(c, d, 2, 2); }
void op_psraw_Ux_Ib(struct cpu *c, const struct dec_insn *d) { grp_shift(c, d, 2, 4); }
void op_psllw_Ux_Ib(struct cpu *c, const struct dec_insn *d) { grp_shift(c, d, 2, 6); }
void op_psrld_Ux_Ib(struct cpu *c, const struct dec_insn *d) { grp_shift(c, d, 4, 2); }
void op_psrad_Ux_Ib(struct cpu *c, const struct dec_insn *d) { grp_shift(c, d, 4, 4); }
void op_pslld_Ux_Ib(struct cpu *c, const struct dec_insn *d) { grp_shift(c, d, 4, 6); }
void op_psrlq_Ux_Ib(struct cpu *c, const struct dec_insn *d) { grp_shift(c, d, 8, 2); }
void op_psrldq_Ux_Ib(struct cpu *c, const struct dec_insn *d) { grp_shift(c, d, 8, 3); }
void op_psllq_Ux_Ib(struct cpu *c, const struct dec_insn *d) { grp_shift(c, d, 8, 6); }
void op_pslldq_Ux_Ib(struct cpu *c, const struct dec_insn *d) { grp_shift(c, d, 8, 7); }

void op_pshufd_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d)
{
	xmm_t s, r;
	unsigned im = (unsigned)d->imm;

	if (d->pfx == DEC_PFX_NONE) { /* PSHUFW mm, mm/m64, imm8 */
		mmx_enter(c);
		sse_rd_Q(c, d, &s);
		r = s;
		LANES(4, r.w[i] = s.w[(im >> (2 * i)) & 3]);
		put_mm(c, d->reg, &r);
		return;
	}
	sse_rd_W(c, d, &s, false);
	r = s;
	switch (d->pfx) {
	case DEC_PFX_66:
		LANES(4, r.d[i] = s.d[(im >> (2 * i)) & 3]);
		break;
	case DEC_PFX_F3:
		LANES(4, r.w[4 + i] = s.w[4 + ((im >> (2 * i)) & 3)]);
		break;
	default:
		LANES(4, r.w[i] = s.w[(im >> (2 * i)) & 3]);
		break;
	}
	put_x(c, d->reg, &r);
}

void op_pinsrw_Vx_Ey_Ib(struct cpu *c, const struct dec_insn *d)
{
	xmm_t r;

	if (d->pfx == DEC_PFX_NONE) {
		uint16_t v;

		mmx_enter(c);
		v = (uint16_t)rd_E(c, d, 2);
		get_mm(c, d->reg, &r);
		r.w[d->imm & 3] = v;
		put_mm(c, d->reg, &r);
		return;
	}
	need_66(c, d);
	get_x(c, d->reg, &r);
	r.w[d->imm & 7] = (uint16_t)rd_E(c, d, 2);
	put_x(c, d->reg, &r);
}

void op_pextrw_Gd_Ux_Ib(struct cpu *c, const struct dec_insn *d)
{
	xmm_t s;

	if (d->mod != 3)
		cpu_ud(c);
	if (d->pfx == DEC_PFX_NONE) {
		mmx_enter(c);
		get_mm(c, d->rm, &s);
		c->r[d->reg] = s.w[d->imm & 3];
		mmx_tags(c);
		return;
	}
	need_66(c, d);
	get_x(c, d->rm, &s);
	c->r[d->reg] = s.w[d->imm & 7];
}

/* MASKMOVQ mm1, mm2 / MASKMOVDQU xmm1, xmm2: the bytes of the first
 * operand whose mask byte (second operand) has its top bit set go to
 * DS:[rDI] (SDM Vol. 2 MASKMOVDQU: no alignment requirement, a segment
 * override applies).  Every byte is checked writable first. */
void op_maskmovq_Pq_Nq(struct cpu *c, const struct dec_insn *d)
{
	xmm_t v, m;
	uint64_t la;
	unsigned n = 16, s = d->seg == DEC_NOREG ? S_DS : d->seg;

	if (d->mod != 3 || d->pfx >= DEC_PFX_F3)
		cpu_ud(c);
	if (d->pfx == DEC_PFX_NONE) {
		mmx_enter(c);
		get_mm(c, d->reg, &v);
		get_mm(c, d->rm, &m);
		n = 8;
	} else {
		get_x(c, d->reg, &v);
		get_x(c, d->rm, &m);
	}
	la = c->r[R_RDI] & sz_mask(d->adsz);
	if (c->mode != DEC_MODE64)
		la = cpu_seg_la(c, s, la);
	else if (s == S_FS || s == S_GS)
		la += c->seg[s].base;
	for (unsigned i = 0; i < n; i++)
		if (m.b[i] & 0x80)
			cpu_probe_write(c, la + i, 1);
	for (unsigned i = 0; i < n; i++)
		if (m.b[i] & 0x80)
			wr8(c, la + i, v.b[i]);
	if (n == 8)
		mmx_tags(c);
}

void op_shufps_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d)
{
	xmm_t a, b, r;
	unsigned im = (unsigned)d->imm;

	if (d->pfx >= DEC_PFX_F3)
		cpu_ud(c);
	get_x(c, d->reg, &a);
	sse_rd_W(c, d, &b, false);
	if (d->pfx == DEC_PFX_66) {
		r.q[0] = a.q[im & 1];
		r.q[1] = b.q[(im >> 1) & 1];
	} else {
		r.d[0] = a.d[im & 3];
		r.d[1] = a.d[(im >> 2) & 3];
		r.d[2] = b.d[(im >> 4) & 3];
		r.d[3] = b.d[(im >> 6) & 3];
	}
	put_x(c, d->reg, &r);
}

void op_unpcklps_Vx_Wx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t a, b, r;

	if (d->pfx >= DEC_PFX_F3)
		cpu_ud(c);
	get_x(c, d->reg, &a);
	sse_rd_W(c, d, &b, false);
	if (d->pfx == DEC_PFX_66) {
		r.q[0] = a.q[0];
		r.q[1] = b.q[0];
	} else {
		r.d[0] = a.d[0]; r.d[1] = b.d[0]; r.d[2] = a.d[1]; r.d[3] = b.d[1];
	}
	put_x(c, d->reg, &r);
}

void op_unpckhps_Vx_Wx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t a, b, r;

	if (d->pfx >= DEC_PFX_F3)
		cpu_ud(c);
	get_x(c, d->reg, &a);
	sse_rd_W(c, d, &b, false);
	if (d->pfx == DEC_PFX_66) {
		r.q[0] = a.q[1];
		r.q[1] = b.q[1];
	} else {
		r.d[0] = a.d[2]; r.d[1] = b.d[2]; r.d[2] = a.d[3]; r.d[3] = b.d[3];
	}
	put_x(c, d->reg, &r);
}

/* EMMS: every x87 tag empty.  Only the unprefixed 0F 77 is defined. */
void op_emms(struct cpu *c, const struct dec_insn *d)
{
	if (d->pfx != DEC_PFX_NONE || (c->cr0 & CR0_EM))
		cpu_ud(c);
	if (c->cr0 & CR0_TS)
		cpu_raise(c, EXC_NM, 0, false);
	cpu_x87_wait(c);
	c->fx[FX_FTW] = 0;
}

/* --- x87 control, FXSAVE, fences ----------------------------------------- */

void op_fwait(struct cpu *c, const struct dec_insn *d)
{
	(void)d;
	cpu_x87_wait(c); /* a pending unmasked x87 exception: #MF */
}

/* Group 15 forms (groups.def). */

void op_fxsave_M(struct cpu *c, const struct dec_insn *d)
{
	uint64_t la = cpu_ea(c, d);

	if (la & 15)
		cpu_gp(c, 0);
	cpu_probe_write(c, la, 512);
	for (unsigned i = 0; i < 512; i += 8) {
		uint64_t v;

		memcpy(&v, c->fx + i, 8);
		wr64(c, la + i, v);
	}
}

void op_fxrstor_M(struct cpu *c, const struct dec_insn *d)
{
	uint64_t la = cpu_ea(c, d);
	uint8_t img[512];

	if (la & 15)
		cpu_gp(c, 0);
	for (unsigned i = 0; i < 512; i += 8) {
		uint64_t v = rd64(c, la + i);

		memcpy(img + i, &v, 8);
	}
	if (img[FX_MXCSR + 2] || img[FX_MXCSR + 3])
		cpu_gp(c, 0);
	/* x87, MXCSR, XMM0-7 (MXCSR_MASK is read-only) ... */
	memcpy(img + FX_MXCSR + 4, c->fx + FX_MXCSR + 4, 4);
	memcpy(c->fx, img, 288);
	memcpy(c->fx + 288, img + 288, 128); /* ... XMM8-15 */
	cpu_x87_sync_es(c);
}

void op_ldmxcsr_Md(struct cpu *c, const struct dec_insn *d)
{
	uint32_t v = rd32(c, cpu_ea(c, d));

	if (v >> 16)
		cpu_gp(c, 0);
	memcpy(c->fx + FX_MXCSR, &v, 4);
}

void op_stmxcsr_Md(struct cpu *c, const struct dec_insn *d)
{
	uint64_t la = cpu_ea(c, d);
	uint32_t v;

	memcpy(&v, c->fx + FX_MXCSR, 4);
	wr32(c, la, v);
}

/* CLFLUSH: no cache; the access checks a read would make. */
void op_clflush_Mb(struct cpu *c, const struct dec_insn *d)
{
	rd8(c, cpu_ea(c, d));
}

/* LFENCE, MFENCE, SFENCE: the interpreter's accesses are in order. */
void op_fence(struct cpu *c, const struct dec_insn *d)
{
}

/* --- AVX, AVX2: the VEX forms (level-3 models) ---------------------------- */

/* Every VEX instruction (SDM Vol. 2 §2.4, exception types 4-7): #UD
 * unless CR4.OSXSAVE and XCR0 enables SSE and AVX state; #NM under
 * CR0.TS.  (CR0.EM and CR4.OSFXSR do not apply.) */
void sse_vex_enter(struct cpu *c)
{
	if (!(c->cr4 & CR4_OSXSAVE) || (c->xcr0 & 6) != 6)
		cpu_ud(c);
	if (c->cr0 & CR0_TS)
		cpu_raise(c, EXC_NM, 0, false);
}

/* YMM register i as two lanes (XMM, then bits 255:128). */
void sse_get_ymm(struct cpu *c, unsigned i, xmm_t y[2])
{
	get_x(c, i, &y[0]);
	memcpy(&y[1], c->ymmh[i & 15], 16);
}

/* Writes YMM i: both lanes, or (VEX.128) the low one with bits 255:128
 * zeroed. */
void sse_put_ymm(struct cpu *c, unsigned i, const xmm_t y[2], bool l)
{
	put_x(c, i, &y[0]);
	if (l)
		memcpy(c->ymmh[i & 15], &y[1], 16);
	else
		memset(c->ymmh[i & 15], 0, 16);
}

/* The W operand of a VEX instruction: YMM/XMM, or 32/16 bytes of memory
 * (no alignment check unless `align`: VMOVDQA). */
void sse_vex_rd_W(struct cpu *c, const struct dec_insn *d, xmm_t y[2],
		  bool l, bool align)
{
	uint64_t la;

	memset(y, 0, 2 * sizeof(*y));
	if (d->mod == 3) {
		sse_get_ymm(c, d->rm, y);
		return;
	}
	la = cpu_ea(c, d);
	if (align && (cpu_plain_la(c, la) & (l ? 31 : 15)))
		cpu_gp(c, 0);
	sse_rd_W(c, d, &y[0], true);
	if (l) {
		y[1].q[0] = rd64(c, la + 16);
		y[1].q[1] = rd64(c, la + 24);
	}
}

/* VEX.66.0F packed integer: dst = op(vvvv, W) in each 128-bit lane (AVX:
 * VEX.128, bits 255:128 of dst zeroed; AVX2: VEX.256).  The shifts by a
 * register count (cnt) take it from xmm/m128 for both lanes. */
void sse_vex_pint(struct cpu *c, const struct dec_insn *d, sse_lanes_fn fn,
		  bool cnt)
{
	bool l = DEC_VEX_L(d);
	xmm_t a[2], b[2], r[2];

	need_66(c, d);
	sse_vex_enter(c);
	sse_get_ymm(c, DEC_VEX_V(d), a);
	sse_vex_rd_W(c, d, b, l && !cnt, false);
	fn(&r[0], &a[0], &b[0], 16);
	if (l)
		fn(&r[1], &a[1], cnt ? &b[0] : &b[1], 16);
	sse_put_ymm(c, d->reg, r, l);
}

#define VPINT(vname, name, cnt) \
void vname(struct cpu *c, const struct dec_insn *d) { sse_vex_pint(c, d, name##_lanes, cnt); }
VPINT(op_vpunpcklbw_Vx_Hx_Wx, op_punpcklbw_Vx_Wx, false)
VPINT(op_vpunpcklwd_Vx_Hx_Wx, op_punpcklwd_Vx_Wx, false)
VPINT(op_vpunpckldq_Vx_Hx_Wx, op_punpckldq_Vx_Wx, false)
VPINT(op_vpacksswb_Vx_Hx_Wx, op_packsswb_Vx_Wx, false)
VPINT(op_vpcmpgtb_Vx_Hx_Wx, op_pcmpgtb_Vx_Wx, false)
VPINT(op_vpcmpgtw_Vx_Hx_Wx, op_pcmpgtw_Vx_Wx, false)
VPINT(op_vpcmpgtd_Vx_Hx_Wx, op_pcmpgtd_Vx_Wx, false)
VPINT(op_vpackuswb_Vx_Hx_Wx, op_packuswb_Vx_Wx, false)
VPINT(op_vpunpckhbw_Vx_Hx_Wx, op_punpckhbw_Vx_Wx, false)
VPINT(op_vpunpckhwd_Vx_Hx_Wx, op_punpckhwd_Vx_Wx, false)
VPINT(op_vpunpckhdq_Vx_Hx_Wx, op_punpckhdq_Vx_Wx, false)
VPINT(op_vpackssdw_Vx_Hx_Wx, op_packssdw_Vx_Wx, false)
VPINT(op_vpunpcklqdq_Vx_Hx_Wx, op_punpcklqdq_Vx_Wx, false)
VPINT(op_vpunpckhqdq_Vx_Hx_Wx, op_punpckhqdq_Vx_Wx, false)
VPINT(op_vpcmpeqb_Vx_Hx_Wx, op_pcmpeqb_Vx_Wx, false)
VPINT(op_vpcmpeqw_Vx_Hx_Wx, op_pcmpeqw_Vx_Wx, false)
VPINT(op_vpcmpeqd_Vx_Hx_Wx, op_pcmpeqd_Vx_Wx, false)
VPINT(op_vpsrlw_Vx_Hx_Wx, op_psrlw_Vx_Wx, true)
VPINT(op_vpsrld_Vx_Hx_Wx, op_psrld_Vx_Wx, true)
VPINT(op_vpsrlq_Vx_Hx_Wx, op_psrlq_Vx_Wx, true)
VPINT(op_vpaddq_Vx_Hx_Wx, op_paddq_Vx_Wx, false)
VPINT(op_vpmullw_Vx_Hx_Wx, op_pmullw_Vx_Wx, false)
VPINT(op_vpsubusb_Vx_Hx_Wx, op_psubusb_Vx_Wx, false)
VPINT(op_vpsubusw_Vx_Hx_Wx, op_psubusw_Vx_Wx, false)
VPINT(op_vpminub_Vx_Hx_Wx, op_pminub_Vx_Wx, false)
VPINT(op_vpand_Vx_Hx_Wx, op_pand_Vx_Wx, false)
VPINT(op_vpaddusb_Vx_Hx_Wx, op_paddusb_Vx_Wx, false)
VPINT(op_vpaddusw_Vx_Hx_Wx, op_paddusw_Vx_Wx, false)
VPINT(op_vpmaxub_Vx_Hx_Wx, op_pmaxub_Vx_Wx, false)
VPINT(op_vpandn_Vx_Hx_Wx, op_pandn_Vx_Wx, false)
VPINT(op_vpavgb_Vx_Hx_Wx, op_pavgb_Vx_Wx, false)
VPINT(op_vpsraw_Vx_Hx_Wx, op_psraw_Vx_Wx, true)
VPINT(op_vpsrad_Vx_Hx_Wx, op_psrad_Vx_Wx, true)
VPINT(op_vpavgw_Vx_Hx_Wx, op_pavgw_Vx_Wx, false)
VPINT(op_vpmulhuw_Vx_Hx_Wx, op_pmulhuw_Vx_Wx, false)
VPINT(op_vpmulhw_Vx_Hx_Wx, op_pmulhw_Vx_Wx, false)
VPINT(op_vpsubsb_Vx_Hx_Wx, op_psubsb_Vx_Wx, false)
VPINT(op_vpsubsw_Vx_Hx_Wx, op_psubsw_Vx_Wx, false)
VPINT(op_vpminsw_Vx_Hx_Wx, op_pminsw_Vx_Wx, false)
VPINT(op_vpor_Vx_Hx_Wx, op_por_Vx_Wx, false)
VPINT(op_vpaddsb_Vx_Hx_Wx, op_paddsb_Vx_Wx, false)
VPINT(op_vpaddsw_Vx_Hx_Wx, op_paddsw_Vx_Wx, false)
VPINT(op_vpmaxsw_Vx_Hx_Wx, op_pmaxsw_Vx_Wx, false)
VPINT(op_vpxor_Vx_Hx_Wx, op_pxor_Vx_Wx, false)
VPINT(op_vpsllw_Vx_Hx_Wx, op_psllw_Vx_Wx, true)
VPINT(op_vpslld_Vx_Hx_Wx, op_pslld_Vx_Wx, true)
VPINT(op_vpsllq_Vx_Hx_Wx, op_psllq_Vx_Wx, true)
VPINT(op_vpmuludq_Vx_Hx_Wx, op_pmuludq_Vx_Wx, false)
VPINT(op_vpmaddwd_Vx_Hx_Wx, op_pmaddwd_Vx_Wx, false)
VPINT(op_vpsadbw_Vx_Hx_Wx, op_psadbw_Vx_Wx, false)
VPINT(op_vpsubb_Vx_Hx_Wx, op_psubb_Vx_Wx, false)
VPINT(op_vpsubw_Vx_Hx_Wx, op_psubw_Vx_Wx, false)
VPINT(op_vpsubd_Vx_Hx_Wx, op_psubd_Vx_Wx, false)
VPINT(op_vpsubq_Vx_Hx_Wx, op_psubq_Vx_Wx, false)
VPINT(op_vpaddb_Vx_Hx_Wx, op_paddb_Vx_Wx, false)
VPINT(op_vpaddw_Vx_Hx_Wx, op_paddw_Vx_Wx, false)
VPINT(op_vpaddd_Vx_Hx_Wx, op_paddd_Vx_Wx, false)
#undef VPINT

/* VEX.66/F3.0F 6F, 7F: VMOVDQA (aligned 16 or 32) and VMOVDQU loads and
 * stores; VEX.vvvv must be 1111b. */
void op_vmovdqa_Vx_Wx(struct cpu *c, const struct dec_insn *d)
{
	bool l = DEC_VEX_L(d);
	xmm_t y[2];

	if ((d->pfx != DEC_PFX_66 && d->pfx != DEC_PFX_F3) || DEC_VEX_V(d))
		cpu_ud(c);
	sse_vex_enter(c);
	sse_vex_rd_W(c, d, y, l, d->pfx == DEC_PFX_66);
	sse_put_ymm(c, d->reg, y, l);
}

void op_vmovdqa_Wx_Vx(struct cpu *c, const struct dec_insn *d)
{
	bool l = DEC_VEX_L(d);
	xmm_t y[2];
	uint64_t la;

	if ((d->pfx != DEC_PFX_66 && d->pfx != DEC_PFX_F3) || DEC_VEX_V(d))
		cpu_ud(c);
	sse_vex_enter(c);
	sse_get_ymm(c, d->reg, y);
	if (d->mod == 3) {
		sse_put_ymm(c, d->rm, y, l);
		return;
	}
	la = cpu_ea(c, d);
	if (d->pfx == DEC_PFX_66 && (cpu_plain_la(c, la) & (l ? 31 : 15)))
		cpu_gp(c, 0);
	cpu_probe_write(c, la, l ? 32 : 16);
	for (unsigned i = 0; i < (l ? 4u : 2u); i++)
		wr64(c, la + 8 * i, y[i / 2].q[i % 2]);
}

/* VEX.66.0F D7: VPMOVMSKB r32, xmm/ymm: the bytes' top bits (16 or 32),
 * zero-extended. */
void op_vpmovmskb_Gd_Ux(struct cpu *c, const struct dec_insn *d)
{
	unsigned n = DEC_VEX_L(d) ? 32 : 16;
	xmm_t y[2];
	uint64_t m = 0;

	if (d->pfx != DEC_PFX_66 || d->mod != 3 || DEC_VEX_V(d))
		cpu_ud(c);
	sse_vex_enter(c);
	sse_get_ymm(c, d->rm, y);
	for (unsigned i = 0; i < n; i++)
		m |= (uint64_t)(y[i / 16].b[i % 16] >> 7) << i;
	c->r[d->reg] = m;
}

/* VEX.0F 77: VZEROUPPER (VEX.L 0) zeroes bits 255:128 of the YMM
 * registers, VZEROALL (VEX.L 1) all of them: YMM0-15 in 64-bit mode,
 * YMM0-7 outside it.  VEX.vvvv must be 1111b. */
void op_vzeroupper(struct cpu *c, const struct dec_insn *d)
{
	unsigned n = c->mode == DEC_MODE64 ? 16 : 8;

	if (d->pfx != DEC_PFX_NONE || DEC_VEX_V(d))
		cpu_ud(c);
	sse_vex_enter(c);
	memset(c->ymmh, 0, 16 * n);
	if (DEC_VEX_L(d))
		memset(c->fx + FX_XMM(0), 0, 16 * n);
}

/* VEX.0F 10/11 (no prefix, 66): VMOVUPS/VMOVUPD, 28/29: VMOVAPS/VMOVAPD
 * (aligned 16 or 32): loads and stores like VMOVDQU/VMOVDQA.  VEX.vvvv
 * must be 1111b. */
static void vmov_p(struct cpu *c, const struct dec_insn *d, bool store,
		   bool align)
{
	bool l = DEC_VEX_L(d);
	xmm_t y[2];
	uint64_t la;

	if (d->pfx >= DEC_PFX_F3 || DEC_VEX_V(d))
		cpu_ud(c);
	sse_vex_enter(c);
	if (!store) {
		sse_vex_rd_W(c, d, y, l, align);
		sse_put_ymm(c, d->reg, y, l);
		return;
	}
	sse_get_ymm(c, d->reg, y);
	if (d->mod == 3) {
		sse_put_ymm(c, d->rm, y, l);
		return;
	}
	la = cpu_ea(c, d);
	if (align && (cpu_plain_la(c, la) & (l ? 31 : 15)))
		cpu_gp(c, 0);
	cpu_probe_write(c, la, l ? 32 : 16);
	for (unsigned i = 0; i < (l ? 4u : 2u); i++)
		wr64(c, la + 8 * i, y[i / 2].q[i % 2]);
}

/* F3/F2: VMOVSS/VMOVSD (avx.c). */
void op_vmovups_Vx_Wx(struct cpu *c, const struct dec_insn *d)
{
	if (d->pfx >= DEC_PFX_F3)
		op_vmovs_Vx_Hx_Wx(c, d);
	else
		vmov_p(c, d, false, false);
}

void op_vmovups_Wx_Vx(struct cpu *c, const struct dec_insn *d)
{
	if (d->pfx >= DEC_PFX_F3)
		op_vmovs_Wx_Hx_Vx(c, d);
	else
		vmov_p(c, d, true, false);
}
void op_vmovaps_Vx_Wx(struct cpu *c, const struct dec_insn *d) { vmov_p(c, d, false, true); }
void op_vmovaps_Wx_Vx(struct cpu *c, const struct dec_insn *d) { vmov_p(c, d, true, true); }

/* VEX.66.0F3A 18/38: VINSERTF128/VINSERTI128 ymm, ymm, xmm/m128, imm8
 * (lane imm8[0] of vvvv replaced); 19/39: VEXTRACTF128/VEXTRACTI128
 * xmm/m128, ymm, imm8.  VEX.L must be 1, VEX.W 0. */
void op_vinsert128_Vx_Hx_Wx_Ib(struct cpu *c, const struct dec_insn *d)
{
	xmm_t y[2], w;

	if (d->pfx != DEC_PFX_66 || !DEC_VEX_L(d) || (d->rex & 8))
		cpu_ud(c);
	sse_vex_enter(c);
	sse_get_ymm(c, DEC_VEX_V(d), y);
	sse_rd_W(c, d, &w, true);
	y[d->imm & 1] = w;
	sse_put_ymm(c, d->reg, y, true);
}

void op_vextract128_Wx_Vx_Ib(struct cpu *c, const struct dec_insn *d)
{
	xmm_t y[2], r[2] = { { { 0 } }, { { 0 } } };
	uint64_t la;

	if (d->pfx != DEC_PFX_66 || !DEC_VEX_L(d) || (d->rex & 8) ||
	    DEC_VEX_V(d))
		cpu_ud(c);
	sse_vex_enter(c);
	sse_get_ymm(c, d->reg, y);
	r[0] = y[d->imm & 1];
	if (d->mod == 3) {
		sse_put_ymm(c, d->rm, r, false);
		return;
	}
	la = cpu_ea(c, d);
	cpu_probe_write(c, la, 16);
	wr64(c, la, r[0].q[0]);
	wr64(c, la + 8, r[0].q[1]);
}

/* One 128-bit lane of PSHUFD (pfx 66), PSHUFHW (F3), PSHUFLW (F2). */
static void pshuf_lane(xmm_t *r, const xmm_t *s, unsigned im, unsigned pfx)
{
	*r = *s;
	switch (pfx) {
	case DEC_PFX_66:
		LANES(4, r->d[i] = s->d[(im >> (2 * i)) & 3]);
		break;
	case DEC_PFX_F3:
		LANES(4, r->w[4 + i] = s->w[4 + ((im >> (2 * i)) & 3)]);
		break;
	default:
		LANES(4, r->w[i] = s->w[(im >> (2 * i)) & 3]);
		break;
	}
}

/* VEX.0F 70: VPSHUFD (66), VPSHUFHW (F3), VPSHUFLW (F2) x/ymm,
 * x/ymm/m, imm8: per 128-bit lane; VEX.vvvv must be 1111b. */
void op_vpshufd_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d)
{
	bool l = DEC_VEX_L(d);
	xmm_t s[2], r[2];

	if (d->pfx == DEC_PFX_NONE || DEC_VEX_V(d))
		cpu_ud(c);
	sse_vex_enter(c);
	sse_vex_rd_W(c, d, s, l, false);
	for (unsigned i = 0; i < (l ? 2u : 1u); i++)
		pshuf_lane(&r[i], &s[i], (unsigned)d->imm, d->pfx);
	sse_put_ymm(c, d->reg, r, l);
}

/* VEX.66.0F 71-73 /r ib: the shifts by an immediate of a register
 * (ModRM.rm) into VEX.vvvv, per 128-bit lane (VPSRLDQ/VPSLLDQ shift
 * bytes within each lane). */
static void vgrp_shift(struct cpu *c, const struct dec_insn *d, unsigned w)
{
	unsigned op = d->reg & 7, cnt = (unsigned)(d->imm & 0xff);
	bool l = DEC_VEX_L(d);
	xmm_t y[2];

	if (d->mod != 3 || d->pfx != DEC_PFX_66)
		cpu_ud(c);
	if (!(op == 2 || op == 6 || (op == 4 && w != 8) ||
	      (w == 8 && (op == 3 || op == 7))))
		cpu_ud(c);
	sse_vex_enter(c);
	sse_get_ymm(c, d->rm, y);
	for (unsigned i = 0; i < (l ? 2u : 1u); i++) {
		if (w == 8 && (op == 3 || op == 7)) {
			uint8_t t[48] = { 0 };
			unsigned k = cnt > 16 ? 16 : cnt;

			memcpy(t + 16, y[i].b, 16);
			memcpy(y[i].b, op == 3 ? t + 16 + k : t + 16 - k, 16);
			if (op == 3)
				memset(y[i].b + 16 - k, 0, k);
		} else {
			shift_lanes(&y[i], w, op, cnt, 16);
		}
	}
	sse_put_ymm(c, DEC_VEX_V(d), y, l);
}

void op_vgrp12_Hx_Ux_Ib(struct cpu *c, const struct dec_insn *d) { vgrp_shift(c, d, 2); }
void op_vgrp13_Hx_Ux_Ib(struct cpu *c, const struct dec_insn *d) { vgrp_shift(c, d, 4); }
void op_vgrp14_Hx_Ux_Ib(struct cpu *c, const struct dec_insn *d) { vgrp_shift(c, d, 8); }

/* VEX.66.0F 6E: VMOVD/VMOVQ xmm, r/m32/64 (VEX.W); 7E: VMOVD/VMOVQ
 * r/m32/64, xmm; VEX.F3.0F 7E: VMOVQ xmm, xmm/m64; VEX.66.0F D6: VMOVQ
 * xmm/m64, xmm.  VEX.L 0 and VEX.vvvv 1111b; an XMM destination has
 * bits 255:64 zeroed. */
void op_vmovd_Vx_Ey(struct cpu *c, const struct dec_insn *d)
{
	xmm_t r[2] = { { { 0 } }, { { 0 } } };

	if (d->pfx != DEC_PFX_66 || DEC_VEX_L(d) || DEC_VEX_V(d))
		cpu_ud(c);
	sse_vex_enter(c);
	r[0].q[0] = rd_E(c, d, d->rex & 8 ? 8 : 4);
	sse_put_ymm(c, d->reg, r, false);
}

void op_vmovd_Ey_Vx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t s, r[2] = { { { 0 } }, { { 0 } } };

	if (d->pfx < DEC_PFX_66 || d->pfx == DEC_PFX_F2 || DEC_VEX_L(d) ||
	    DEC_VEX_V(d))
		cpu_ud(c);
	sse_vex_enter(c);
	if (d->pfx == DEC_PFX_F3) { /* VMOVQ xmm, xmm/m64 */
		sse_rd_Ws(c, d, &s, 8);
		r[0].q[0] = s.q[0];
		sse_put_ymm(c, d->reg, r, false);
		return;
	}
	get_x(c, d->reg, &s);
	if (d->mod == 3)
		sreg_w(c, d->rm, d->rex & 8 ? 8 : 4, d->rex, s.q[0]);
	else
		wrn(c, cpu_ea(c, d), s.q[0], d->rex & 8 ? 8 : 4);
}

void op_vmovq_Wq_Vx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t s, r[2] = { { { 0 } }, { { 0 } } };

	if (d->pfx != DEC_PFX_66 || DEC_VEX_L(d) || DEC_VEX_V(d))
		cpu_ud(c);
	sse_vex_enter(c);
	get_x(c, d->reg, &s);
	if (d->mod == 3) {
		r[0].q[0] = s.q[0];
		sse_put_ymm(c, d->rm, r, false);
	} else {
		wr64(c, cpu_ea(c, d), s.q[0]);
	}
}
