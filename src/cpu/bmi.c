/* The integer instructions of x86-64-v3 (SDM Vol. 2 instruction pages):
 * BMI1 (ANDN, BEXTR, BLSI, BLSMSK, BLSR, TZCNT), BMI2 (BZHI, MULX, PDEP,
 * PEXT, RORX, SARX, SHLX, SHRX), LZCNT and MOVBE.  The VEX-encoded ones
 * (VEX.L must be 0; VEX.W selects 64-bit operands in 64-bit mode) are
 * DF_V3 rows of the VEX maps in opcodes.def; TZCNT, LZCNT and MOVBE share
 * rows with BSF, BSR and CRC32 and check the model in their handlers.
 * The v3 model is not selectable yet (model.c). */
#include "cpu/cpu.h"

/* The operand size of a VEX GPR instruction, after its VEX.L check. */
static unsigned vsize(struct cpu *c, const struct dec_insn *d)
{
	if (DEC_VEX_L(d))
		cpu_ud(c);
	return d->opsz == 8 ? 8 : 4;
}

static uint64_t vreg(const struct cpu *c, const struct dec_insn *d,
		     unsigned n)
{
	return c->r[DEC_VEX_V(d)] & sz_mask(n);
}

static uint64_t sign_of(unsigned n)
{
	return 1ull << (8 * n - 1);
}

/* CF and OF as given; ZF SF (and PF, AF undefined here: 0) from res. */
static void flags_res(struct cpu *c, bool cf, uint64_t res, unsigned n)
{
	uint64_t f = cpu_get_rflags(c) & ~(uint64_t)(RFLAGS_CF | RFLAGS_PF |
		RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF);

	res &= sz_mask(n);
	f |= (cf ? RFLAGS_CF : 0) | (res ? 0 : RFLAGS_ZF) |
	     (res & sign_of(n) ? RFLAGS_SF : 0);
	cpu_set_rflags(c, f);
}

/* VEX.0F38 F2: ANDN Gy, By, Ey = NOT By AND Ey. */
void op_andn_Gy_By_Ey(struct cpu *c, const struct dec_insn *d)
{
	unsigned n = vsize(c, d);
	uint64_t r;

	if (d->pfx != DEC_PFX_NONE)
		cpu_ud(c);
	r = ~vreg(c, d, n) & rd_E(c, d, n) & sz_mask(n);
	flags_res(c, false, r, n);
	sreg_w(c, d->reg, n, d->rex, r);
}

/* VEX.0F38 F3 (group 17): BLSR /1, BLSMSK /2, BLSI /3 By, Ey. */
void op_grp17_By_Ey(struct cpu *c, const struct dec_insn *d)
{
	unsigned n = vsize(c, d), op = d->reg & 7;
	uint64_t s, r;

	if (d->pfx != DEC_PFX_NONE || op < 1 || op > 3)
		cpu_ud(c);
	s = rd_E(c, d, n);
	if (op == 1) {
		r = s & (s - 1);
		flags_res(c, !s, r, n);
	} else if (op == 2) {
		r = (s ^ (s - 1)) & sz_mask(n);
		flags_res(c, !s, r, n);
	} else {
		r = s & (0 - s);
		flags_res(c, s != 0, r, n);
	}
	sreg_w(c, DEC_VEX_V(d), n, d->rex, r);
}

static uint64_t pdep(uint64_t s, uint64_t m)
{
	uint64_t r = 0;

	for (uint64_t k = 1; m; m &= m - 1, k <<= 1)
		if (s & k)
			r |= m & (0 - m);
	return r;
}

static uint64_t pext(uint64_t s, uint64_t m)
{
	uint64_t r = 0;

	for (uint64_t k = 1; m; m &= m - 1, k <<= 1)
		if (s & m & (0 - m))
			r |= k;
	return r;
}

/* VEX.0F38 F5: BZHI Gy, Ey, By (no prefix); PEXT (F3), PDEP (F2) Gy, By,
 * Ey. */
void op_bzhi_Gy_Ey_By(struct cpu *c, const struct dec_insn *d)
{
	unsigned n = vsize(c, d);
	uint64_t s, r;

	switch (d->pfx) {
	case DEC_PFX_NONE: {
		unsigned k = (unsigned)(vreg(c, d, n) & 0xff);

		s = rd_E(c, d, n);
		r = k < 8 * n ? s & ((1ull << k) - 1) : s;
		flags_res(c, k > 8 * n - 1, r, n);
		break;
	}
	case DEC_PFX_F3: r = pext(vreg(c, d, n), rd_E(c, d, n)); break;
	case DEC_PFX_F2: r = pdep(vreg(c, d, n), rd_E(c, d, n)); break;
	default: cpu_ud(c);
	}
	sreg_w(c, d->reg, n, d->rex, r);
}

/* VEX.F2.0F38 F6: MULX Gy, By, Ey: rDX times Ey unsigned, the high half
 * to Gy, the low to By (the high one wins when they are the same). */
void op_mulx_Gy_By_Ey(struct cpu *c, const struct dec_insn *d)
{
	unsigned n = vsize(c, d);
	uint64_t s, lo, hi;

	if (d->pfx != DEC_PFX_F2)
		cpu_ud(c);
	s = rd_E(c, d, n);
	if (n == 8) {
		unsigned __int128 p = (unsigned __int128)c->r[R_RDX] * s;

		lo = (uint64_t)p;
		hi = (uint64_t)(p >> 64);
	} else {
		uint64_t p = (c->r[R_RDX] & 0xffffffffull) * s;

		lo = (uint32_t)p;
		hi = p >> 32;
	}
	sreg_w(c, DEC_VEX_V(d), n, d->rex, lo);
	sreg_w(c, d->reg, n, d->rex, hi);
}

/* VEX.0F38 F7: BEXTR Gy, Ey, By (no prefix); SHLX (66), SARX (F3), SHRX
 * (F2) Gy, Ey, By: counts masked to 5 or 6 bits, flags unchanged. */
void op_bextr_Gy_Ey_By(struct cpu *c, const struct dec_insn *d)
{
	unsigned n = vsize(c, d), cnt;
	uint64_t s = 0, v, r;

	if (d->pfx == DEC_PFX_NONE) {
		unsigned start, len;

		s = rd_E(c, d, n);
		v = vreg(c, d, n);
		start = (unsigned)(v & 0xff);
		len = (unsigned)((v >> 8) & 0xff);
		r = start >= 8 * n ? 0 : s >> start;
		if (len < 64)
			r &= (1ull << len) - 1;
		flags_res(c, false, r, n);
		sreg_w(c, d->reg, n, d->rex, r);
		return;
	}
	s = rd_E(c, d, n);
	cnt = (unsigned)(vreg(c, d, n) & (n == 8 ? 63 : 31));
	switch (d->pfx) {
	case DEC_PFX_66: r = s << cnt; break;
	case DEC_PFX_F3:
		r = n == 8 ? (uint64_t)((int64_t)s >> cnt) :
		    (uint64_t)(uint32_t)((int32_t)s >> cnt);
		break;
	default: r = s >> cnt; break;
	}
	sreg_w(c, d->reg, n, d->rex, r);
}

/* VEX.F2.0F3A F0: RORX Gy, Ey, Ib (VEX.vvvv must be 1111b). */
void op_rorx_Gy_Ey_Ib(struct cpu *c, const struct dec_insn *d)
{
	unsigned n = vsize(c, d), k = (unsigned)d->imm & (8 * n - 1);
	uint64_t s;

	if (d->pfx != DEC_PFX_F2 || DEC_VEX_V(d))
		cpu_ud(c);
	s = rd_E(c, d, n);
	sreg_w(c, d->reg, n, d->rex,
	       k ? (s >> k) | (s << (8 * n - k)) : s);
}

/* F3 0F BC/BD on a level-3 model: TZCNT, LZCNT (CF = source zero, ZF =
 * result zero; the count is the operand size for a zero source). */
void cpu_tzlzcnt(struct cpu *c, const struct dec_insn *d, bool lz)
{
	unsigned n = d->opsz, bits = 8 * n;
	uint64_t s = rd_E(c, d, n), r;

	if (!s)
		r = bits;
	else if (lz)
		r = (unsigned)__builtin_clzll(s) - (64 - bits);
	else
		r = (unsigned)__builtin_ctzll(s);
	flags_res(c, !s, r, n);
	sreg_w(c, d->reg, n, d->rex, r);
}

/* MOVBE (0F 38 F0 load, F1 store; memory only): bytes reversed. */
void cpu_movbe(struct cpu *c, const struct dec_insn *d, bool store)
{
	unsigned n = d->opsz;
	uint64_t v;

	cpu_need_level(c, 3);
	if (d->mod == 3 || d->pfx == DEC_PFX_F3)
		cpu_ud(c);
	v = store ? greg(c, d->reg, n, d->rex) : rdn(c, cpu_ea(c, d), n);
	v = n == 2 ? __builtin_bswap16((uint16_t)v) :
	    n == 4 ? __builtin_bswap32((uint32_t)v) : __builtin_bswap64(v);
	if (store)
		wrn(c, cpu_ea(c, d), v, n);
	else
		sreg_w(c, d->reg, n, d->rex, v);
}
