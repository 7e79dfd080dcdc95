/* The sequence generator: random but valid user-level instruction
 * sequences with random registers and memory, only instructions rax's
 * CPUID advertises for the CPU model under test (--cpu: x86-64-v1 or
 * v2), plus a tail of unadvertised ones that must raise #UD (those of a
 * higher level than the model's among them).
 *
 * Undefined results are never compared.  The generator tracks which
 * RFLAGS bits (and x87 C0-C3) are undefined at each point, per the
 * SDM's "Flags Affected" sections cited at each family; an instruction
 * that reads flags gets a CMP first if any it reads is undefined, and
 * the comparison masks those still undefined at the end (or at the
 * fault).  Undefined register results are avoided by construction
 * (BSF/BSR sources made nonzero, SHLD/SHRD counts within the size), or,
 * where the manuals leave a register to the implementation (the upper
 * halves after a 67h REP string instruction with ECX = 0, gen_string),
 * masked in the comparison like undefined flags and redefined before
 * anything reads them. */
#include "gen.h"

#include <stdlib.h>
#include <string.h>

const char *const dx_family_names[DX_NFAM] = {
#define DX_FAM_NAME(n) #n,
	DX_FAMILIES(DX_FAM_NAME)
#undef DX_FAM_NAME
};

/* --- random numbers (splitmix64) ----------------------------------------- */

uint64_t g_rnd(struct gen *g)
{
	uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

unsigned g_rn(struct gen *g, unsigned n)
{
	return (unsigned)(g_rnd(g) % n);
}

bool g_chance(struct gen *g, unsigned pct)
{
	return g_rn(g, 100) < pct;
}

unsigned g_gpr(struct gen *g, unsigned avoid)
{
	unsigned r;

	avoid |= 1u << 4;
	if (g->m32)
		avoid |= 0xff00;
	do
		r = g_rn(g, 16);
	while (avoid & (1u << r));
	return r;
}

uint64_t g_ival(struct gen *g)
{
	static const uint64_t pool[] = {
		0, 1, 2, 3, 7, 8, 31, 32, 33, 63, 64, 0x7f, 0x80, 0xff, 0x100,
		0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000,
		0xffffffff, 0x100000000ull, 0x7fffffffffffffffull,
		0x8000000000000000ull, 0xffffffffffffffffull,
		0xfffffffffffffffeull, 0xffffffff80000000ull,
		0x00000000ffff8000ull, 0x5555555555555555ull,
		0xaaaaaaaaaaaaaaaaull,
	};

	switch (g_rn(g, 4)) {
	case 0: return pool[g_rn(g, sizeof(pool) / sizeof(*pool))];
	case 1: return (uint64_t)(int64_t)(int8_t)g_rnd(g);
	case 2: return g_rnd(g) >> g_rn(g, 64);
	default: return g_rnd(g);
	}
}

uint64_t g_fval(struct gen *g)
{
	static const uint32_t pool[] = {
		0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3fc00000,
		0x40000000, 0x3dcccccd, 0x00000001, 0x007fffff, 0x00800000,
		0x7f7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000,
		0x7fc12345, 0x7f800001, 0xff812345, 0x4f000000, 0xcf000000,
		0x4effffff, 0x5f000000, 0xdf000000, 0x3f000000, 0x40200000,
		0x4b800000, 0xcb7fffff, 0x3f7fffff,
	};

	if (g_chance(g, 60))
		return pool[g_rn(g, sizeof(pool) / sizeof(*pool))];
	if (g_chance(g, 50)) /* a random value of moderate magnitude */
		return (g_rnd(g) & 0x807fffffu) | ((uint32_t)(100 + g_rn(g, 56)) << 23);
	return (uint32_t)g_rnd(g);
}

uint64_t g_dval(struct gen *g)
{
	static const uint64_t pool[] = {
		0, 0x8000000000000000ull, 0x3ff0000000000000ull,
		0xbff0000000000000ull, 0x3ff8000000000000ull,
		0x3fb999999999999aull, 0x0000000000000001ull,
		0x000fffffffffffffull, 0x0010000000000000ull,
		0x7fefffffffffffffull, 0x7ff0000000000000ull,
		0xfff0000000000000ull, 0x7ff8000000000000ull,
		0xfff8000000000000ull, 0x7ff8000000012345ull,
		0x7ff0000000000001ull, 0xfff0000000054321ull,
		0x41e0000000000000ull, 0xc1e0000000000000ull,
		0x41dfffffffc00000ull, 0x43e0000000000000ull,
		0xc3e0000000000000ull, 0x3fe0000000000000ull,
		0x4004000000000000ull, 0x3ff0000000000001ull,
		0x47efffffe0000000ull, 0x36a0000000000000ull,
	};

	if (g_chance(g, 60))
		return pool[g_rn(g, sizeof(pool) / sizeof(*pool))];
	if (g_chance(g, 50))
		return (g_rnd(g) & 0x800fffffffffffffull) |
		       ((uint64_t)(980 + g_rn(g, 90)) << 52);
	return g_rnd(g);
}

/* --- encoding ------------------------------------------------------------ */

static void add_insn(struct gen *g, unsigned len, bool setup)
{
	struct dx_seq *s = g->s;
	struct dx_insn *in = &s->insn[s->n++];

	in->off = (uint16_t)(s->len - len);
	in->len = (uint8_t)len;
	in->fam = (uint8_t)g->fam;
	in->setup = setup;
	in->undef_flags = g->undef;
	in->undef_fsw = g->fundef;
	in->undef_hi = g->uhi;
	in->cr2_page = g->cr2_page && !setup;
	if (!setup)
		g->cr2_page = false;
}

void g_bytes(struct gen *g, const uint8_t *b, unsigned n, bool setup)
{
	memcpy(g->s->code + g->s->len, b, n);
	g->s->len += n;
	add_insn(g, n, setup);
}

unsigned g_put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return n;
}

void g_emit(struct gen *g, const struct enc *in, bool setup)
{
	const struct mop *e = &in->e;
	uint8_t b[24];
	unsigned n = 0, rex, rm = 0, x = 0, mod = 0, dpos = 0, dlen = 0;
	bool mem = in->modrm && e->kind != M_REG;

	/* Prefixes with no effect: a REX followed by a legacy prefix is
	 * ignored (SDM Vol. 2 §2.2.1), and so are CS/SS/DS/ES overrides in
	 * 64-bit mode (§3.2.4 of Vol. 1). */
	if (in->npfx && g_chance(g, 2) && !g->m32)
		b[n++] = (uint8_t)(0x40 | g_rn(g, 16));
	if (mem && !in->noseg && g_chance(g, 3)) {
		static const uint8_t seg[] = { 0x26, 0x2e, 0x36, 0x3e };

		b[n++] = seg[g_rn(g, 4)];
	}
	if (e->a32 && mem)
		b[n++] = 0x67;
	for (unsigned i = 0; i < in->npfx; i++)
		b[n++] = in->pfx[i];
	if (in->modrm)
		rm = e->kind == M_REG ? e->r : (e->kind >= M_BASE ? e->base : 0);
	else
		rm = in->reg; /* +r opcodes: register in REX.B */
	if (mem && e->kind == M_SIB)
		x = e->index;
	rex = (in->w ? 8u : 0) | ((in->modrm && in->reg >= 8) ? 4u : 0) |
	      (x >= 8 ? 2u : 0) | (rm >= 8 && (in->modrm ? e->kind == M_REG ||
					       e->kind >= M_BASE : 1) ? 1u : 0);
	/* VEX.W is valid in 32-bit code (FMA's single/double), R X B not */
	if ((in->vex ? rex & 7 : rex || in->rex) && g->m32)
		abort(); /* a family gave 32-bit code a REX operand */
	if (in->vex) { /* C4: R X B inverted, then W vvvv (inverted) L pp */
		b[n++] = 0xc4;
		b[n++] = (uint8_t)((~rex & 7) << 5 | in->vmap);
		b[n++] = (uint8_t)((rex & 8) << 4 | (~in->vvvv & 15) << 3 |
				   in->vl << 2 | in->vpp);
	} else if (rex || in->rex) {
		b[n++] = (uint8_t)(0x40 | rex);
	}
	for (unsigned i = 0; i < in->nop; i++)
		b[n++] = in->op[i];
	if (!in->modrm) {
		if (in->nop)
			b[n - 1] = (uint8_t)(b[n - 1] | (in->reg & 7));
	} else if (e->kind == M_REG) {
		b[n++] = (uint8_t)(0xc0 | ((in->reg & 7) << 3) | (e->r & 7));
	} else if (e->kind == M_RIP || e->kind == M_ABS) {
		if (e->kind == M_RIP && g->m32)
			abort(); /* no RIP-relative form in 32-bit code */
		/* 64-bit code reaches an absolute disp32 through a SIB with
		 * no base; in 32-bit code mod 00 r/m 101 is one. */
		b[n++] = (uint8_t)(((in->reg & 7) << 3) |
				   (e->kind == M_RIP || g->m32 ? 5 : 4));
		if (e->kind == M_ABS && !g->m32)
			b[n++] = 0x25;
		dpos = n;
		dlen = 4;
		n += g_put_le(b + n, e->kind == M_ABS ? e->target : 0, 4);
	} else {
		bool sib = e->kind == M_SIB || (e->base & 7) == 4;

		if (e->disp == 0 && (e->base & 7) != 5)
			mod = 0;
		else if (e->disp >= -128 && e->disp <= 127)
			mod = 1;
		else
			mod = 2;
		b[n++] = (uint8_t)((mod << 6) | ((in->reg & 7) << 3) |
				   (sib ? 4 : (e->base & 7)));
		if (sib)
			b[n++] = (uint8_t)((e->kind == M_SIB ? (e->scale << 6) |
					    ((e->index & 7) << 3) : 0x20) |
					   (e->base & 7));
		if (mod)
			n += g_put_le(b + n, (uint64_t)(int64_t)e->disp,
				    mod == 1 ? 1 : 4);
	}
	n += g_put_le(b + n, in->imm, in->nimm);
	if (mem && e->kind == M_RIP)
		g_put_le(b + dpos, e->target - (DX_SEQ + g->s->len + n), dlen);
	g_bytes(g, b, n, setup);
}

void g_pfx(struct enc *e, uint8_t p)
{
	e->pfx[e->npfx++] = p;
}

void g_opsize(struct enc *e, unsigned sz)
{
	if (sz == 2)
		g_pfx(e, 0x66);
	e->w = sz == 8;
}

/* mov r64, v: REX.W C7 /0 id (sign-extended) or REX.W B8+r io; in
 * 32-bit code mov r32, v (B8+r id). */
void g_set_reg(struct gen *g, unsigned r, uint64_t v)
{
	struct enc e = { .w = true, .reg = r };

	if (g->m32) {
		e = (struct enc){ .reg = r, .op = { 0xb8 }, .nop = 1,
				  .imm = v, .nimm = 4 };
		g_emit(g, &e, true);
		return;
	}

	if ((uint64_t)(int64_t)(int32_t)v == v) {
		e.op[0] = 0xc7;
		e.nop = 1;
		e.modrm = true;
		e.reg = 0;
		e.e = g_reg(r);
		e.imm = v;
		e.nimm = 4;
	} else {
		e.op[0] = 0xb8;
		e.nop = 1;
		e.imm = v;
		e.nimm = 8;
	}
	g_emit(g, &e, true);
}

struct mop g_reg(unsigned r)
{
	return (struct mop){ .kind = M_REG, .r = r };
}

uint64_t g_pick_addr(struct gen *g, unsigned size, unsigned align)
{
	uint64_t a;

	/* Locked accesses into a guard page stay within one cache line (a
	 * split lock that faults has been seen to stall the host), and so
	 * do the stores the host splits (x87 80-bit). */
	if (g->nosplit && g_rn(g, 50) < 2)
		return g_chance(g, 50) ? DX_DATA - 64 : DX_DATA + DX_DATA_SIZE;
	switch (g->nosplit ? 2 : g_rn(g, 50)) {
	case 0: /* starts below the data, in the lower guard page */
		return DX_DATA - 1 - g_rn(g, size);
	case 1: /* runs into the upper guard page */
		return DX_DATA + DX_DATA_SIZE - size + 1 + g_rn(g, size);
	default:
		a = DX_DATA + g_rn(g, DX_DATA_SIZE - size + 1);
		if (align > 1 && !g_chance(g, 4))
			a &= ~(uint64_t)(align - 1);
		/* A locked access split across cache lines is a bus lock:
		 * Linux throttles those (split lock detection). */
		if (g->nosplit && (a & 63) + size > 64)
			a -= (a & 63) + size - 64;
		return a;
	}
}

struct mop g_mem(struct gen *g, unsigned size, unsigned align,
		 unsigned avoid)
{
	struct mop m = { .target = g_pick_addr(g, size, align) };

	g->nosplit = false;
	uint64_t base, idx = 0;

	switch (g_rn(g, 5)) {
	case 0: m.kind = g->m32 ? M_ABS : M_RIP; return m;
	case 1: m.kind = M_ABS; return m;
	case 2: m.kind = M_BASE; break;
	default: m.kind = M_SIB; break;
	}
	m.base = g_gpr(g, avoid);
	m.disp = g_chance(g, 50) ? (int8_t)g_rnd(g) :
		 g_chance(g, 30) ? 0 : (int32_t)(g_rnd(g) % 0x20000) - 0x10000;
	if (m.kind == M_SIB) {
		m.index = g_gpr(g, avoid | (1u << m.base));
		m.scale = g_rn(g, 4);
		idx = g_rn(g, 64) - 16;
		g_set_reg(g, m.index, idx);
	}
	base = m.target - (uint64_t)(int64_t)m.disp - (idx << m.scale);
	m.a32 = !g->m32 && g_chance(g, 10);
	if (m.a32) /* bits 63:32 are ignored with a 32-bit address */
		base = (uint32_t)base | (g_rnd(g) << 32);
	g_set_reg(g, m.base, base);
	if (m.a32 && m.kind == M_SIB)
		g_set_reg(g, m.index, idx | (g_rnd(g) << 32));
	return m;
}

struct mop g_rm(struct gen *g, unsigned size, unsigned avoid,
		unsigned pct_mem)
{
	if (g_chance(g, pct_mem))
		return g_mem(g, size, 1, avoid);
	return g_reg(g_gpr(g, avoid));
}

/* --- flags bookkeeping ---------------------------------------------------- */

void g_need(struct gen *g, uint64_t mask)
{
	if (g->undef & mask) { /* cmp r64, r64: defines all six */
		struct enc e = { .w = !g->m32, .op = { 0x39 }, .nop = 1,
				 .modrm = true, .reg = g_gpr(g, 0),
				 .e = g_reg(g_gpr(g, 0)) };

		g_emit(g, &e, true);
		g->undef = 0;
	}
}

void g_level(struct gen *g, unsigned n)
{
	if (g->level < n) {
		g->stop = true;
		g->s->ud_tail = true;
	}
}

void g_flags(struct gen *g, uint64_t def, uint64_t undef)
{
	g->undef = (g->undef & ~def) | undef;
}

static void (*const fam_fn[DX_NFAM])(struct gen *g) = {
	[DX_FAM_alu] = gen_alu, [DX_FAM_incdec] = gen_incdec,
	[DX_FAM_shift] = gen_shift, [DX_FAM_muldiv] = gen_muldiv,
	[DX_FAM_flags] = gen_flagops, [DX_FAM_string] = gen_string,
	[DX_FAM_bit] = gen_bit, [DX_FAM_cond] = gen_cond,
	[DX_FAM_bswap] = gen_bswap, [DX_FAM_xchg] = gen_xchg,
	[DX_FAM_mov] = gen_mov, [DX_FAM_stack] = gen_stack,
	[DX_FAM_sse_int] = gen_sse_int, [DX_FAM_sse_fp] = gen_sse_fp,
	[DX_FAM_cvt] = gen_cvt, [DX_FAM_x87] = gen_x87,
	[DX_FAM_misc] = gen_misc, [DX_FAM_priv] = gen_priv,
	[DX_FAM_unadv] = gen_unadv, [DX_FAM_extra] = gen_extra,
	[DX_FAM_mmx] = gen_mmx, [DX_FAM_legacy] = gen_legacy,
	[DX_FAM_sse3] = gen_sse3, [DX_FAM_ssse3] = gen_ssse3,
	[DX_FAM_sse41] = gen_sse41, [DX_FAM_sse42] = gen_sse42,
	[DX_FAM_bmi] = gen_bmi, [DX_FAM_avx] = gen_avx,
	[DX_FAM_xsave] = gen_xsave,
};

void g_unit(struct gen *g, int fam)
{
	int saved = g->fam;

	g->fam = fam;
	fam_fn[fam](g);
	g->fam = saved;
}

/* --- initial state -------------------------------------------------------- */

static void init_state(struct gen *g, struct dx_state *st)
{
	memset(st, 0, sizeof(*st));
	for (int i = 0; i < 16; i++)
		st->gpr[i] = g_ival(g);
	st->gpr[4] = DX_STACK + 0x800 - 8 * g_rn(g, 32);
	st->rflags = 0x202 | (g_rnd(g) & F_ARITH) | (g_chance(g, 20) ? 0x400 : 0);
	for (unsigned i = 0; i < DX_DATA_SIZE; i += 8) {
		uint64_t v;

		switch (g_rn(g, 4)) {
		case 0: v = g_ival(g); break;
		case 1: v = g_fval(g) | (g_fval(g) << 32); break;
		case 2: v = g_dval(g); break;
		default: v = g_rnd(g); break;
		}
		memcpy(st->data + i, &v, 8);
	}
	for (unsigned i = 0; i < DX_STACK_SIZE; i += 8) {
		uint64_t v = g_ival(g);

		memcpy(st->stack + i, &v, 8);
	}
	gen_init_fpu(g, st->fx);
}

void dx_generate(struct dx_seq *s, uint64_t seed, uint32_t fam_mask,
		 bool m32, unsigned level)
{
	struct gen g = { .s = s, .rng = seed * 0x2545f4914f6cdd1dull + 1,
			 .m32 = m32, .level = level };
	unsigned units = 1 + g_rn(&g, 12);
	int fams[4 * DX_NFAM], nf = 0;

	memset(s, 0, offsetof(struct dx_seq, in));
	s->m32 = m32;
	fam_mask &= ~(m32 ? DX_FAM_ONLY64 : DX_FAM_ONLY32);
	/* Each family weighs 4, but those that end a sequence (a #GP, a
	 * #UD tail) weigh 1. */
	for (int f = 0; f < DX_NFAM; f++)
		for (int w = 0; (fam_mask & (1u << f)) &&
		     w < (f == DX_FAM_priv || f == DX_FAM_unadv ? 1 : 4); w++)
			fams[nf++] = f;
	init_state(&g, &s->in);
	g.undef = 0;
	for (unsigned u = 0; u < units && !g.stop &&
	     s->len < DX_CODE_MAX - 200 && s->n < DX_MAX_INSNS - 24; u++)
		g_unit(&g, fams[g_rn(&g, (unsigned)nf)]);
	s->undef_flags = g.undef;
	s->undef_fsw = g.fundef;
	s->undef_hi = g.uhi;
}
