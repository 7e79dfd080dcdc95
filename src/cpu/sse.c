/* SSE/SSE2 (the XMM forms only: MMX-register forms are #UD), the x87
 * control instructions Linux and glibc execute, FXSAVE/FXRSTOR, fences.
 * SDM Vol. 2 instruction pages; MXCSR rounding control is not modelled
 * (round to nearest). */
#include "cpu/cpu.h"

#include <emmintrin.h>
#include <math.h>

#include "log.h"

typedef union {
	uint8_t b[16];
	int8_t sb[16];
	uint16_t w[8];
	int16_t sw[8];
	uint32_t d[4];
	int32_t sd[4];
	uint64_t q[2];
	float f[4];
	double df[2];
} xmm_t;

static inline uint8_t *xr(struct cpu *c, unsigned i)
{
	return c->fx + FX_XMM(i & 15);
}

static inline void get_x(struct cpu *c, unsigned i, xmm_t *v)
{
	memcpy(v, xr(c, i), 16);
}

static inline void put_x(struct cpu *c, unsigned i, const xmm_t *v)
{
	memcpy(xr(c, i), v, 16);
}

static void need_66(struct cpu *c, const struct dec_insn *d)
{
	if (d->pfx != DEC_PFX_66)
		cpu_ud(c);
}

/* The W operand: an XMM register or 16 bytes of memory (aligned unless
 * `unaligned`: legacy SSE packed operands need 16-byte alignment). */
static void rd_W(struct cpu *c, const struct dec_insn *d, xmm_t *v,
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
static void rd_Ws(struct cpu *c, const struct dec_insn *d, xmm_t *v,
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

/* --- moves ---------------------------------------------------------------- */

void op_movups_Vx_Wx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t v, r;

	switch (d->pfx) {
	case DEC_PFX_F3: case DEC_PFX_F2: {
		unsigned n = d->pfx == DEC_PFX_F3 ? 4 : 8;

		rd_Ws(c, d, &v, n);
		get_x(c, d->reg, &r);
		if (d->mod != 3)
			memset(&r, 0, sizeof(r));
		memcpy(&r, &v, n);
		put_x(c, d->reg, &r);
		return;
	}
	default:
		rd_W(c, d, &v, true);
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
	rd_W(c, d, &v, false);
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

void op_movntdq_Mx_Vx(struct cpu *c, const struct dec_insn *d)
{
	need_66(c, d);
	if (d->mod == 3)
		cpu_ud(c);
	op_movaps_Wx_Vx(c, d);
}

void op_movdqa_Vx_Wx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t v;

	if (d->pfx != DEC_PFX_66 && d->pfx != DEC_PFX_F3)
		cpu_ud(c);
	rd_W(c, d, &v, d->pfx == DEC_PFX_F3);
	put_x(c, d->reg, &v);
}

void op_movdqa_Wx_Vx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t v;

	if (d->pfx != DEC_PFX_66 && d->pfx != DEC_PFX_F3)
		cpu_ud(c);
	get_x(c, d->reg, &v);
	wr_W(c, d, &v, d->pfx == DEC_PFX_F3);
}

/* 0F 12 / 0F 13 / 0F 16 / 0F 17: 64-bit halves. */
void op_movlps_Vx_Mq(struct cpu *c, const struct dec_insn *d)
{
	xmm_t r, s;

	if (d->pfx >= DEC_PFX_F3)
		cpu_ud(c);
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

	if (d->pfx >= DEC_PFX_F3)
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

	need_66(c, d);
	r.q[0] = rd_E(c, d, n);
	put_x(c, d->reg, &r);
}

void op_movd_Ey_Vx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t r;

	if (d->pfx == DEC_PFX_F3) { /* MOVQ xmm, xmm/m64 */
		xmm_t s;

		rd_Ws(c, d, &s, 8);
		memset(&r, 0, sizeof(r));
		r.q[0] = s.q[0];
		put_x(c, d->reg, &r);
		return;
	}
	need_66(c, d);
	get_x(c, d->reg, &r);
	if (d->mod == 3)
		c->r[d->rm] = d->opsz == 8 ? r.q[0] : r.d[0];
	else
		wrn(c, cpu_ea(c, d), r.q[0], d->opsz == 8 ? 8 : 4);
}

void op_movq_Wq_Vq(struct cpu *c, const struct dec_insn *d)
{
	xmm_t r, z = { { 0 } };

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

	need_66(c, d);
	if (d->mod != 3)
		cpu_ud(c);
	get_x(c, d->rm, &s);
	for (int i = 0; i < 16; i++)
		m |= (uint64_t)(s.b[i] >> 7) << i;
	c->r[d->reg] = m;
}

/* --- packed integer ------------------------------------------------------- */

#define PINT(name, body)                                                   \
void name(struct cpu *c, const struct dec_insn *d)                        \
{                                                                          \
	xmm_t a, b, r;                                                     \
	need_66(c, d);                                                     \
	get_x(c, d->reg, &a);                                              \
	rd_W(c, d, &b, false);                                             \
	r = a;                                                             \
	body;                                                              \
	put_x(c, d->reg, &r);                                              \
}

#define LANES(n, expr) for (int i = 0; i < (n); i++) { expr; }

static inline uint8_t sat_u8(int v) { return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v; }
static inline int8_t sat_s8(int v) { return v < -128 ? -128 : v > 127 ? 127 : (int8_t)v; }
static inline uint16_t sat_u16(int v) { return v < 0 ? 0 : v > 65535 ? 65535 : (uint16_t)v; }
static inline int16_t sat_s16(int v) { return v < -32768 ? -32768 : v > 32767 ? 32767 : (int16_t)v; }

PINT(op_paddb_Vx_Wx, LANES(16, r.b[i] = (uint8_t)(a.b[i] + b.b[i])))
PINT(op_paddw_Vx_Wx, LANES(8, r.w[i] = (uint16_t)(a.w[i] + b.w[i])))
PINT(op_paddd_Vx_Wx, LANES(4, r.d[i] = a.d[i] + b.d[i]))
PINT(op_paddq_Vx_Wx, LANES(2, r.q[i] = a.q[i] + b.q[i]))
PINT(op_psubb_Vx_Wx, LANES(16, r.b[i] = (uint8_t)(a.b[i] - b.b[i])))
PINT(op_psubw_Vx_Wx, LANES(8, r.w[i] = (uint16_t)(a.w[i] - b.w[i])))
PINT(op_psubd_Vx_Wx, LANES(4, r.d[i] = a.d[i] - b.d[i]))
PINT(op_psubq_Vx_Wx, LANES(2, r.q[i] = a.q[i] - b.q[i]))
PINT(op_paddusb_Vx_Wx, LANES(16, r.b[i] = sat_u8(a.b[i] + b.b[i])))
PINT(op_paddusw_Vx_Wx, LANES(8, r.w[i] = sat_u16(a.w[i] + b.w[i])))
PINT(op_psubusb_Vx_Wx, LANES(16, r.b[i] = sat_u8(a.b[i] - b.b[i])))
PINT(op_psubusw_Vx_Wx, LANES(8, r.w[i] = sat_u16(a.w[i] - b.w[i])))
PINT(op_paddsb_Vx_Wx, LANES(16, r.sb[i] = sat_s8(a.sb[i] + b.sb[i])))
PINT(op_paddsw_Vx_Wx, LANES(8, r.sw[i] = sat_s16(a.sw[i] + b.sw[i])))
PINT(op_psubsb_Vx_Wx, LANES(16, r.sb[i] = sat_s8(a.sb[i] - b.sb[i])))
PINT(op_psubsw_Vx_Wx, LANES(8, r.sw[i] = sat_s16(a.sw[i] - b.sw[i])))
PINT(op_pminub_Vx_Wx, LANES(16, r.b[i] = a.b[i] < b.b[i] ? a.b[i] : b.b[i]))
PINT(op_pmaxub_Vx_Wx, LANES(16, r.b[i] = a.b[i] > b.b[i] ? a.b[i] : b.b[i]))
PINT(op_pminsw_Vx_Wx, LANES(8, r.sw[i] = a.sw[i] < b.sw[i] ? a.sw[i] : b.sw[i]))
PINT(op_pmaxsw_Vx_Wx, LANES(8, r.sw[i] = a.sw[i] > b.sw[i] ? a.sw[i] : b.sw[i]))
PINT(op_pavgb_Vx_Wx, LANES(16, r.b[i] = (uint8_t)((a.b[i] + b.b[i] + 1) >> 1)))
PINT(op_pavgw_Vx_Wx, LANES(8, r.w[i] = (uint16_t)((a.w[i] + b.w[i] + 1) >> 1)))
PINT(op_pmullw_Vx_Wx, LANES(8, r.w[i] = (uint16_t)(a.sw[i] * b.sw[i])))
PINT(op_pmulhw_Vx_Wx, LANES(8, r.w[i] = (uint16_t)((a.sw[i] * b.sw[i]) >> 16)))
PINT(op_pmulhuw_Vx_Wx, LANES(8, r.w[i] = (uint16_t)(((uint32_t)a.w[i] * b.w[i]) >> 16)))
PINT(op_pmuludq_Vx_Wx, LANES(2, r.q[i] = (uint64_t)a.d[2 * i] * b.d[2 * i]))
PINT(op_pand_Vx_Wx, LANES(2, r.q[i] = a.q[i] & b.q[i]))
PINT(op_pandn_Vx_Wx, LANES(2, r.q[i] = ~a.q[i] & b.q[i]))
PINT(op_por_Vx_Wx, LANES(2, r.q[i] = a.q[i] | b.q[i]))
PINT(op_pxor_Vx_Wx, LANES(2, r.q[i] = a.q[i] ^ b.q[i]))
PINT(op_pcmpeqb_Vx_Wx, LANES(16, r.b[i] = a.b[i] == b.b[i] ? 0xff : 0))
PINT(op_pcmpeqw_Vx_Wx, LANES(8, r.w[i] = a.w[i] == b.w[i] ? 0xffff : 0))
PINT(op_pcmpeqd_Vx_Wx, LANES(4, r.d[i] = a.d[i] == b.d[i] ? ~0u : 0))
PINT(op_pcmpgtb_Vx_Wx, LANES(16, r.b[i] = a.sb[i] > b.sb[i] ? 0xff : 0))
PINT(op_pcmpgtw_Vx_Wx, LANES(8, r.w[i] = a.sw[i] > b.sw[i] ? 0xffff : 0))
PINT(op_pcmpgtd_Vx_Wx, LANES(4, r.d[i] = a.sd[i] > b.sd[i] ? ~0u : 0))
PINT(op_punpcklbw_Vx_Wx, LANES(8, r.b[2 * i] = a.b[i]; r.b[2 * i + 1] = b.b[i]))
PINT(op_punpckhbw_Vx_Wx, LANES(8, r.b[2 * i] = a.b[8 + i]; r.b[2 * i + 1] = b.b[8 + i]))
PINT(op_punpcklwd_Vx_Wx, LANES(4, r.w[2 * i] = a.w[i]; r.w[2 * i + 1] = b.w[i]))
PINT(op_punpckhwd_Vx_Wx, LANES(4, r.w[2 * i] = a.w[4 + i]; r.w[2 * i + 1] = b.w[4 + i]))
PINT(op_punpckldq_Vx_Wx, LANES(2, r.d[2 * i] = a.d[i]; r.d[2 * i + 1] = b.d[i]))
PINT(op_punpckhdq_Vx_Wx, LANES(2, r.d[2 * i] = a.d[2 + i]; r.d[2 * i + 1] = b.d[2 + i]))
PINT(op_punpcklqdq_Vx_Wx, r.q[0] = a.q[0]; r.q[1] = b.q[0])
PINT(op_punpckhqdq_Vx_Wx, r.q[0] = a.q[1]; r.q[1] = b.q[1])
PINT(op_packsswb_Vx_Wx, LANES(8, r.sb[i] = sat_s8(a.sw[i]); r.sb[8 + i] = sat_s8(b.sw[i])))
PINT(op_packuswb_Vx_Wx, LANES(8, r.b[i] = sat_u8(a.sw[i]); r.b[8 + i] = sat_u8(b.sw[i])))
PINT(op_packssdw_Vx_Wx, LANES(4, r.sw[i] = sat_s16(a.sd[i] > 32767 ? 32767 : a.sd[i] < -32768 ? -32768 : a.sd[i]); r.sw[4 + i] = sat_s16(b.sd[i] > 32767 ? 32767 : b.sd[i] < -32768 ? -32768 : b.sd[i])))

static void shift_lanes(xmm_t *r, unsigned w, unsigned op, uint64_t cnt)
{
	/* op: 2 = logical right, 4 = arithmetic right, 6 = left */
	for (unsigned i = 0; i < 16 / w; i++) {
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

PINT(op_psrlw_Vx_Wx, shift_lanes(&r, 2, 2, b.q[0]))
PINT(op_psrld_Vx_Wx, shift_lanes(&r, 4, 2, b.q[0]))
PINT(op_psrlq_Vx_Wx, shift_lanes(&r, 8, 2, b.q[0]))
PINT(op_psllw_Vx_Wx, shift_lanes(&r, 2, 6, b.q[0]))
PINT(op_pslld_Vx_Wx, shift_lanes(&r, 4, 6, b.q[0]))
PINT(op_psllq_Vx_Wx, shift_lanes(&r, 8, 6, b.q[0]))

static void grp_shift(struct cpu *c, const struct dec_insn *d, unsigned w)
{
	xmm_t r;
	unsigned op = d->reg & 7, cnt = (unsigned)(d->imm & 0xff);

	need_66(c, d);
	if (d->mod != 3)
		cpu_ud(c);
	get_x(c, d->rm, &r);
	if (w == 8 && (op == 3 || op == 7)) { /* PSRLDQ / PSLLDQ bytes */
		uint8_t t[48] = { 0 };

		if (cnt > 16)
			cnt = 16;
		memcpy(t + 16, r.b, 16);
		memcpy(r.b, op == 3 ? t + 16 + cnt : t + 16 - cnt, 16);
		if (op == 3)
			memset(r.b + 16 - cnt, 0, cnt);
	} else if (op == 2 || op == 6 || (op == 4 && w != 8)) {
		shift_lanes(&r, w, op, cnt);
	} else {
		cpu_ud(c);
	}
	put_x(c, d->rm, &r);
}

void op_grp12_Ux_Ib(struct cpu *c, const struct dec_insn *d) { grp_shift(c, d, 2); }
void op_grp13_Ux_Ib(struct cpu *c, const struct dec_insn *d) { grp_shift(c, d, 4); }
void op_grp14_Ux_Ib(struct cpu *c, const struct dec_insn *d) { grp_shift(c, d, 8); }

void op_pshufd_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d)
{
	xmm_t s, r;
	unsigned im = (unsigned)d->imm;

	if (d->pfx == DEC_PFX_NONE)
		cpu_ud(c);
	rd_W(c, d, &s, false);
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

	need_66(c, d);
	get_x(c, d->reg, &r);
	r.w[d->imm & 7] = (uint16_t)rd_E(c, d, 2);
	put_x(c, d->reg, &r);
}

void op_pextrw_Gd_Ux_Ib(struct cpu *c, const struct dec_insn *d)
{
	xmm_t s;

	need_66(c, d);
	if (d->mod != 3)
		cpu_ud(c);
	get_x(c, d->rm, &s);
	c->r[d->reg] = s.w[d->imm & 7];
}

void op_shufps_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d)
{
	xmm_t a, b, r;
	unsigned im = (unsigned)d->imm;

	if (d->pfx >= DEC_PFX_F3)
		cpu_ud(c);
	get_x(c, d->reg, &a);
	rd_W(c, d, &b, false);
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
	rd_W(c, d, &b, false);
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
	rd_W(c, d, &b, false);
	if (d->pfx == DEC_PFX_66) {
		r.q[0] = a.q[1];
		r.q[1] = b.q[1];
	} else {
		r.d[0] = a.d[2]; r.d[1] = b.d[2]; r.d[2] = a.d[3]; r.d[3] = b.d[3];
	}
	put_x(c, d->reg, &r);
}

/* --- floating point ------------------------------------------------------- */

/* Bitwise logic on ps/pd. */
#define FLOGIC(name, expr)                                                 \
void name(struct cpu *c, const struct dec_insn *d)                        \
{                                                                          \
	xmm_t a, b, r;                                                     \
	if (d->pfx >= DEC_PFX_F3)                                          \
		cpu_ud(c);                                                 \
	get_x(c, d->reg, &a);                                              \
	rd_W(c, d, &b, false);                                             \
	LANES(2, r.q[i] = (expr));                                         \
	put_x(c, d->reg, &r);                                              \
}
FLOGIC(op_andps_Vx_Wx, a.q[i] & b.q[i])
FLOGIC(op_andnps_Vx_Wx, ~a.q[i] & b.q[i])
FLOGIC(op_orps_Vx_Wx, a.q[i] | b.q[i])
FLOGIC(op_xorps_Vx_Wx, a.q[i] ^ b.q[i])

/* Arithmetic in the four prefix forms ps/pd/ss/sd. */
#define FARITH(name, OPF, OPD)                                             \
void name(struct cpu *c, const struct dec_insn *d)                        \
{                                                                          \
	xmm_t a, b;                                                        \
	get_x(c, d->reg, &a);                                              \
	switch (d->pfx) {                                                  \
	case DEC_PFX_NONE:                                                 \
		rd_W(c, d, &b, false);                                     \
		LANES(4, a.f[i] = OPF(a.f[i], b.f[i]));                     \
		break;                                                     \
	case DEC_PFX_66:                                                   \
		rd_W(c, d, &b, false);                                     \
		LANES(2, a.df[i] = OPD(a.df[i], b.df[i]));                  \
		break;                                                     \
	case DEC_PFX_F3:                                                   \
		rd_Ws(c, d, &b, 4);                                        \
		a.f[0] = OPF(a.f[0], b.f[0]);                              \
		break;                                                     \
	default:                                                           \
		rd_Ws(c, d, &b, 8);                                        \
		a.df[0] = OPD(a.df[0], b.df[0]);                           \
		break;                                                     \
	}                                                                  \
	put_x(c, d->reg, &a);                                              \
}
#define F_ADD(x, y) ((x) + (y))
#define F_SUB(x, y) ((x) - (y))
#define F_MUL(x, y) ((x) * (y))
#define F_DIV(x, y) ((x) / (y))
#define F_MIN(x, y) ((x) < (y) ? (x) : (y))
#define F_MAX(x, y) ((x) > (y) ? (x) : (y))
/* Host SSE2 gives the x86 results (NaN, rounding) without libm. */
static inline float sqrt_f(float y)
{
	return _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(y)));
}

static inline double sqrt_d(double y)
{
	return _mm_cvtsd_f64(_mm_sqrt_sd(_mm_set_sd(0), _mm_set_sd(y)));
}
#define F_SQRTF(x, y) sqrt_f(y)
#define F_SQRTD(x, y) sqrt_d(y)
FARITH(op_addps_Vx_Wx, F_ADD, F_ADD)
FARITH(op_subps_Vx_Wx, F_SUB, F_SUB)
FARITH(op_mulps_Vx_Wx, F_MUL, F_MUL)
FARITH(op_divps_Vx_Wx, F_DIV, F_DIV)
FARITH(op_minps_Vx_Wx, F_MIN, F_MIN)
FARITH(op_maxps_Vx_Wx, F_MAX, F_MAX)
FARITH(op_sqrtps_Vx_Wx, F_SQRTF, F_SQRTD)

static bool fcmp(double a, double b, unsigned pred)
{
	switch (pred & 7) {
	case 0: return a == b;
	case 1: return a < b;
	case 2: return a <= b;
	case 3: return isnan(a) || isnan(b);
	case 4: return !(a == b);
	case 5: return !(a < b);
	case 6: return !(a <= b);
	default: return !isnan(a) && !isnan(b);
	}
}

void op_cmpps_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d)
{
	xmm_t a, b;
	unsigned p = (unsigned)d->imm;

	get_x(c, d->reg, &a);
	switch (d->pfx) {
	case DEC_PFX_NONE:
		rd_W(c, d, &b, false);
		LANES(4, a.d[i] = fcmp(a.f[i], b.f[i], p) ? ~0u : 0);
		break;
	case DEC_PFX_66:
		rd_W(c, d, &b, false);
		LANES(2, a.q[i] = fcmp(a.df[i], b.df[i], p) ? ~0ull : 0);
		break;
	case DEC_PFX_F3:
		rd_Ws(c, d, &b, 4);
		a.d[0] = fcmp(a.f[0], b.f[0], p) ? ~0u : 0;
		break;
	default:
		rd_Ws(c, d, &b, 8);
		a.q[0] = fcmp(a.df[0], b.df[0], p) ? ~0ull : 0;
		break;
	}
	put_x(c, d->reg, &a);
}

static void comis(struct cpu *c, const struct dec_insn *d)
{
	xmm_t a, b;
	double x, y;
	uint64_t f;

	if (d->pfx >= DEC_PFX_F3)
		cpu_ud(c);
	get_x(c, d->reg, &a);
	rd_Ws(c, d, &b, d->pfx == DEC_PFX_66 ? 8 : 4);
	x = d->pfx == DEC_PFX_66 ? a.df[0] : a.f[0];
	y = d->pfx == DEC_PFX_66 ? b.df[0] : b.f[0];
	f = cpu_get_rflags(c) & ~(uint64_t)(RFLAGS_CF | RFLAGS_PF | RFLAGS_AF |
					    RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF);
	if (isnan(x) || isnan(y))
		f |= RFLAGS_ZF | RFLAGS_PF | RFLAGS_CF;
	else if (x < y)
		f |= RFLAGS_CF;
	else if (x == y)
		f |= RFLAGS_ZF;
	cpu_set_rflags(c, f);
}

void op_ucomiss_Vx_Wx(struct cpu *c, const struct dec_insn *d) { comis(c, d); }
void op_comiss_Vx_Wx(struct cpu *c, const struct dec_insn *d) { comis(c, d); }

void op_cvtsi2ss_Vx_Ey(struct cpu *c, const struct dec_insn *d)
{
	xmm_t a;
	int64_t v;

	if (d->pfx < DEC_PFX_F3)
		cpu_ud(c); /* CVTPI2PS/PD use MMX registers */
	v = d->opsz == 8 ? (int64_t)rd_E(c, d, 8) : (int32_t)rd_E(c, d, 4);
	get_x(c, d->reg, &a);
	if (d->pfx == DEC_PFX_F3)
		a.f[0] = (float)v;
	else
		a.df[0] = (double)v;
	put_x(c, d->reg, &a);
}

static void cvt_to_int(struct cpu *c, const struct dec_insn *d, bool trunc)
{
	xmm_t b;
	uint64_t r;
	bool q = d->opsz == 8;

	if (d->pfx < DEC_PFX_F3)
		cpu_ud(c);
	rd_Ws(c, d, &b, d->pfx == DEC_PFX_F3 ? 4 : 8);
	if (d->pfx == DEC_PFX_F3) {
		__m128 v = _mm_set_ss(b.f[0]);

		r = q ? (uint64_t)(trunc ? _mm_cvttss_si64(v) : _mm_cvtss_si64(v)) :
			(uint32_t)(trunc ? _mm_cvttss_si32(v) : _mm_cvtss_si32(v));
	} else {
		__m128d v = _mm_set_sd(b.df[0]);

		r = q ? (uint64_t)(trunc ? _mm_cvttsd_si64(v) : _mm_cvtsd_si64(v)) :
			(uint32_t)(trunc ? _mm_cvttsd_si32(v) : _mm_cvtsd_si32(v));
	}
	sreg_w(c, d->reg, q ? 8 : 4, d->rex, r);
}

void op_cvttss2si_Gy_Wx(struct cpu *c, const struct dec_insn *d) { cvt_to_int(c, d, true); }
void op_cvtss2si_Gy_Wx(struct cpu *c, const struct dec_insn *d) { cvt_to_int(c, d, false); }

void op_cvtps2pd_Vx_Wx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t a, b;

	get_x(c, d->reg, &a);
	switch (d->pfx) {
	case DEC_PFX_NONE: {
		float f0, f1;

		rd_Ws(c, d, &b, 8);
		f0 = b.f[0];
		f1 = b.f[1];
		a.df[0] = f0;
		a.df[1] = f1;
		break;
	}
	case DEC_PFX_66:
		rd_W(c, d, &b, false);
		a.f[0] = (float)b.df[0];
		a.f[1] = (float)b.df[1];
		a.q[1] = 0;
		break;
	case DEC_PFX_F3:
		rd_Ws(c, d, &b, 4);
		a.df[0] = b.f[0];
		break;
	default:
		rd_Ws(c, d, &b, 8);
		a.f[0] = (float)b.df[0];
		break;
	}
	put_x(c, d->reg, &a);
}

void op_cvtdq2ps_Vx_Wx(struct cpu *c, const struct dec_insn *d)
{
	xmm_t b, r;

	if (d->pfx == DEC_PFX_F2)
		cpu_ud(c);
	rd_W(c, d, &b, false);
	{
		__m128i vi;
		__m128 vf;

		memcpy(&vi, &b, 16);
		memcpy(&vf, &b, 16);
		if (d->pfx == DEC_PFX_NONE) {
			vf = _mm_cvtepi32_ps(vi);
			memcpy(&r, &vf, 16);
		} else {
			vi = d->pfx == DEC_PFX_F3 ? _mm_cvttps_epi32(vf) :
			     _mm_cvtps_epi32(vf);
			memcpy(&r, &vi, 16);
		}
	}
	put_x(c, d->reg, &r);
}

void op_emms(struct cpu *c, const struct dec_insn *d)
{
}

/* --- x87 control, FXSAVE, fences ----------------------------------------- */

void op_fwait(struct cpu *c, const struct dec_insn *d)
{
}

void op_grp15(struct cpu *c, const struct dec_insn *d)
{
	unsigned reg = d->reg & 7;
	uint64_t la;

	if (d->mod == 3) {
		if (reg >= 5 && d->pfx == DEC_PFX_NONE)
			return; /* LFENCE MFENCE SFENCE */
		cpu_ud(c);
	}
	if (d->pfx != DEC_PFX_NONE)
		cpu_ud(c);
	la = cpu_ea(c, d);
	switch (reg) {
	case 0: /* FXSAVE */
		if (la & 15)
			cpu_gp(c, 0);
		cpu_probe_write(c, la, 512);
		for (unsigned i = 0; i < 512; i += 8) {
			uint64_t v;

			memcpy(&v, c->fx + i, 8);
			wr64(c, la + i, v);
		}
		return;
	case 1: { /* FXRSTOR */
		uint8_t img[512];

		if (la & 15)
			cpu_gp(c, 0);
		for (unsigned i = 0; i < 512; i += 8) {
			uint64_t v = rd64(c, la + i);

			memcpy(img + i, &v, 8);
		}
		if (img[FX_MXCSR + 2] || img[FX_MXCSR + 3])
			cpu_gp(c, 0);
		memcpy(c->fx, img, 288); /* x87, MXCSR, XMM0-7 ... */
		memcpy(c->fx + 288, img + 288, 128); /* ... XMM8-15 */
		return;
	}
	case 2: { /* LDMXCSR */
		uint32_t v = rd32(c, la);

		if (v >> 16)
			cpu_gp(c, 0);
		memcpy(c->fx + FX_MXCSR, &v, 4);
		return;
	}
	case 3: { /* STMXCSR */
		uint32_t v;

		memcpy(&v, c->fx + FX_MXCSR, 4);
		wr32(c, la, v);
		return;
	}
	case 7: /* CLFLUSH */
		rd8(c, la);
		return;
	default:
		cpu_ud(c);
	}
}
