/* The rest of AVX and AVX2 for --family avx (src/cpu/avx.c): one table
 * row per opcode form, every form with register and memory operands of
 * any alignment (aligned where the instruction needs it), VEX.128 and
 * VEX.256 where both exist, and the VEX.L, VEX.W and VEX.vvvv values that
 * must raise #UD.  gen_avx() (gen_fp.c) calls gen_avx_rest() for part of
 * its units and owns the YMM set-up. */
#include "gen.h"

#include <string.h>

enum {
	A_V = 1 << 0,     /* VEX.vvvv is a source register */
	A_I = 1 << 1,     /* imm8 */
	A_W1 = 1 << 2,    /* VEX.W must be 1 */
	A_WR = 1 << 3,    /* VEX.W selects the element size (64-bit code) */
	A_MEM = 1 << 4,   /* memory operand only */
	A_REG = 1 << 5,   /* register operand only */
	A_FL = 1 << 6,    /* writes the arithmetic flags */
	A_IS4 = 1 << 7,   /* imm8[7:4] names a register */
	A_LIG = 1 << 8,   /* VEX.L ignored */
	A_GD = 1 << 9,    /* ModRM.reg is a general-register destination */
	A_GS = 1 << 10,   /* ModRM.rm is a general register or memory of n0
			     bytes (8 with VEX.W) */
	A_ST = 1 << 11,   /* the ModRM.rm operand is the destination */
	A_AL = 1 << 12,   /* memory aligned to its size */
	A_VR = 1 << 13,   /* VEX.vvvv a source in the register form only */
	A_STR = 1 << 14,  /* VPCMPxSTRx: RAX/RDX lengths, RCX or XMM0 out */
};

struct af {
	uint8_t map, op, pp, lmask; /* lmask: bit 0 VEX.128, bit 1 VEX.256 */
	uint8_t n[2];               /* memory bytes by VEX.L */
	uint16_t fl;
};

static const struct af rows[] = {
	/* VEX.0F */
	{ 1, 0x10, 2, 3, { 4, 4 }, A_VR | A_LIG },
	{ 1, 0x10, 3, 3, { 8, 8 }, A_VR | A_LIG },
	{ 1, 0x11, 2, 3, { 4, 4 }, A_VR | A_LIG | A_ST },
	{ 1, 0x11, 3, 3, { 8, 8 }, A_VR | A_LIG | A_ST },
	{ 1, 0x12, 0, 1, { 8, 8 }, A_V },
	{ 1, 0x12, 1, 1, { 8, 8 }, A_V | A_MEM },
	{ 1, 0x12, 2, 3, { 16, 32 }, 0 },
	{ 1, 0x12, 3, 3, { 8, 32 }, 0 },
	{ 1, 0x13, 0, 1, { 8, 8 }, A_MEM | A_ST },
	{ 1, 0x13, 1, 1, { 8, 8 }, A_MEM | A_ST },
	{ 1, 0x14, 0, 3, { 16, 32 }, A_V },
	{ 1, 0x14, 1, 3, { 16, 32 }, A_V },
	{ 1, 0x15, 0, 3, { 16, 32 }, A_V },
	{ 1, 0x15, 1, 3, { 16, 32 }, A_V },
	{ 1, 0x16, 0, 1, { 8, 8 }, A_V },
	{ 1, 0x16, 1, 1, { 8, 8 }, A_V | A_MEM },
	{ 1, 0x16, 2, 3, { 16, 32 }, 0 },
	{ 1, 0x17, 0, 1, { 8, 8 }, A_MEM | A_ST },
	{ 1, 0x17, 1, 1, { 8, 8 }, A_MEM | A_ST },
	{ 1, 0x2a, 2, 3, { 4, 4 }, A_V | A_GS | A_WR | A_LIG },
	{ 1, 0x2a, 3, 3, { 4, 4 }, A_V | A_GS | A_WR | A_LIG },
	{ 1, 0x2b, 0, 3, { 16, 32 }, A_MEM | A_ST | A_AL },
	{ 1, 0x2b, 1, 3, { 16, 32 }, A_MEM | A_ST | A_AL },
	{ 1, 0x2c, 2, 3, { 4, 4 }, A_GD | A_WR | A_LIG },
	{ 1, 0x2c, 3, 3, { 8, 8 }, A_GD | A_WR | A_LIG },
	{ 1, 0x2d, 2, 3, { 4, 4 }, A_GD | A_WR | A_LIG },
	{ 1, 0x2d, 3, 3, { 8, 8 }, A_GD | A_WR | A_LIG },
	{ 1, 0x2e, 0, 3, { 4, 4 }, A_FL | A_LIG },
	{ 1, 0x2e, 1, 3, { 8, 8 }, A_FL | A_LIG },
	{ 1, 0x2f, 0, 3, { 4, 4 }, A_FL | A_LIG },
	{ 1, 0x2f, 1, 3, { 8, 8 }, A_FL | A_LIG },
	{ 1, 0x50, 0, 3, { 0, 0 }, A_GD | A_REG },
	{ 1, 0x50, 1, 3, { 0, 0 }, A_GD | A_REG },
	{ 1, 0x52, 0, 3, { 16, 32 }, 0 },
	{ 1, 0x52, 2, 3, { 4, 4 }, A_V | A_LIG },
	{ 1, 0x53, 0, 3, { 16, 32 }, 0 },
	{ 1, 0x53, 2, 3, { 4, 4 }, A_V | A_LIG },
	{ 1, 0x5a, 0, 3, { 8, 16 }, 0 },
	{ 1, 0x5a, 1, 3, { 16, 32 }, 0 },
	{ 1, 0x5a, 2, 3, { 4, 4 }, A_V | A_LIG },
	{ 1, 0x5a, 3, 3, { 8, 8 }, A_V | A_LIG },
	{ 1, 0x5b, 0, 3, { 16, 32 }, 0 },
	{ 1, 0x5b, 1, 3, { 16, 32 }, 0 },
	{ 1, 0x5b, 2, 3, { 16, 32 }, 0 },
	{ 1, 0x7c, 1, 3, { 16, 32 }, A_V },
	{ 1, 0x7c, 3, 3, { 16, 32 }, A_V },
	{ 1, 0x7d, 1, 3, { 16, 32 }, A_V },
	{ 1, 0x7d, 3, 3, { 16, 32 }, A_V },
	{ 1, 0xc2, 0, 3, { 16, 32 }, A_V | A_I },
	{ 1, 0xc2, 1, 3, { 16, 32 }, A_V | A_I },
	{ 1, 0xc2, 2, 3, { 4, 4 }, A_V | A_I | A_LIG },
	{ 1, 0xc2, 3, 3, { 8, 8 }, A_V | A_I | A_LIG },
	{ 1, 0xc4, 1, 1, { 2, 2 }, A_V | A_I | A_GS },
	{ 1, 0xc5, 1, 1, { 0, 0 }, A_GD | A_REG | A_I },
	{ 1, 0xc6, 0, 3, { 16, 32 }, A_V | A_I },
	{ 1, 0xc6, 1, 3, { 16, 32 }, A_V | A_I },
	{ 1, 0xd0, 1, 3, { 16, 32 }, A_V },
	{ 1, 0xd0, 3, 3, { 16, 32 }, A_V },
	{ 1, 0xe6, 1, 3, { 16, 32 }, 0 },
	{ 1, 0xe6, 2, 3, { 8, 16 }, 0 },
	{ 1, 0xe6, 3, 3, { 16, 32 }, 0 },
	{ 1, 0xe7, 1, 3, { 16, 32 }, A_MEM | A_ST | A_AL },
	{ 1, 0xf0, 3, 3, { 16, 32 }, A_MEM },
	/* VEX.66.0F38 */
	{ 2, 0x0c, 1, 3, { 16, 32 }, A_V },
	{ 2, 0x0d, 1, 3, { 16, 32 }, A_V },
	{ 2, 0x0e, 1, 3, { 16, 32 }, A_FL },
	{ 2, 0x0f, 1, 3, { 16, 32 }, A_FL },
	{ 2, 0x16, 1, 2, { 32, 32 }, A_V },
	{ 2, 0x18, 1, 3, { 4, 4 }, 0 },
	{ 2, 0x19, 1, 2, { 8, 8 }, 0 },
	{ 2, 0x1a, 1, 2, { 16, 16 }, A_MEM },
	{ 2, 0x20, 1, 3, { 8, 16 }, 0 },
	{ 2, 0x21, 1, 3, { 4, 8 }, 0 },
	{ 2, 0x22, 1, 3, { 2, 4 }, 0 },
	{ 2, 0x23, 1, 3, { 8, 16 }, 0 },
	{ 2, 0x24, 1, 3, { 4, 8 }, 0 },
	{ 2, 0x25, 1, 3, { 8, 16 }, 0 },
	{ 2, 0x2a, 1, 3, { 16, 32 }, A_MEM | A_AL },
	{ 2, 0x2c, 1, 3, { 16, 32 }, A_V | A_MEM },
	{ 2, 0x2d, 1, 3, { 16, 32 }, A_V | A_MEM },
	{ 2, 0x2e, 1, 3, { 16, 32 }, A_V | A_MEM | A_ST },
	{ 2, 0x2f, 1, 3, { 16, 32 }, A_V | A_MEM | A_ST },
	{ 2, 0x30, 1, 3, { 8, 16 }, 0 },
	{ 2, 0x31, 1, 3, { 4, 8 }, 0 },
	{ 2, 0x32, 1, 3, { 2, 4 }, 0 },
	{ 2, 0x33, 1, 3, { 8, 16 }, 0 },
	{ 2, 0x34, 1, 3, { 4, 8 }, 0 },
	{ 2, 0x35, 1, 3, { 8, 16 }, 0 },
	{ 2, 0x36, 1, 2, { 32, 32 }, A_V },
	{ 2, 0x41, 1, 1, { 16, 16 }, 0 },
	{ 2, 0x45, 1, 3, { 16, 32 }, A_V | A_WR },
	{ 2, 0x46, 1, 3, { 16, 32 }, A_V },
	{ 2, 0x47, 1, 3, { 16, 32 }, A_V | A_WR },
	{ 2, 0x5a, 1, 2, { 16, 16 }, A_MEM },
	{ 2, 0x8c, 1, 3, { 16, 32 }, A_V | A_MEM | A_WR },
	{ 2, 0x8e, 1, 3, { 16, 32 }, A_V | A_MEM | A_WR | A_ST },
	/* VEX.66.0F3A */
	{ 3, 0x00, 1, 2, { 32, 32 }, A_I | A_W1 },
	{ 3, 0x01, 1, 2, { 32, 32 }, A_I | A_W1 },
	{ 3, 0x02, 1, 3, { 16, 32 }, A_V | A_I },
	{ 3, 0x04, 1, 3, { 16, 32 }, A_I },
	{ 3, 0x05, 1, 3, { 16, 32 }, A_I },
	{ 3, 0x06, 1, 2, { 32, 32 }, A_V | A_I },
	{ 3, 0x08, 1, 3, { 16, 32 }, A_I },
	{ 3, 0x09, 1, 3, { 16, 32 }, A_I },
	{ 3, 0x0a, 1, 3, { 4, 4 }, A_V | A_I | A_LIG },
	{ 3, 0x0b, 1, 3, { 8, 8 }, A_V | A_I | A_LIG },
	{ 3, 0x0c, 1, 3, { 16, 32 }, A_V | A_I },
	{ 3, 0x0d, 1, 3, { 16, 32 }, A_V | A_I },
	{ 3, 0x0e, 1, 3, { 16, 32 }, A_V | A_I },
	{ 3, 0x14, 1, 1, { 1, 1 }, A_I | A_GS | A_ST },
	{ 3, 0x15, 1, 1, { 2, 2 }, A_I | A_GS | A_ST },
	{ 3, 0x16, 1, 1, { 4, 4 }, A_I | A_GS | A_ST | A_WR },
	{ 3, 0x17, 1, 1, { 4, 4 }, A_I | A_GS | A_ST },
	{ 3, 0x20, 1, 1, { 1, 1 }, A_V | A_I | A_GS },
	{ 3, 0x21, 1, 1, { 4, 4 }, A_V | A_I },
	{ 3, 0x22, 1, 1, { 4, 4 }, A_V | A_I | A_GS | A_WR },
	{ 3, 0x40, 1, 3, { 16, 32 }, A_V | A_I },
	{ 3, 0x41, 1, 1, { 16, 16 }, A_V | A_I },
	{ 3, 0x42, 1, 3, { 16, 32 }, A_V | A_I },
	{ 3, 0x46, 1, 2, { 32, 32 }, A_V | A_I },
	{ 3, 0x4a, 1, 3, { 16, 32 }, A_V | A_IS4 },
	{ 3, 0x4b, 1, 3, { 16, 32 }, A_V | A_IS4 },
	{ 3, 0x4c, 1, 3, { 16, 32 }, A_V | A_IS4 },
	{ 3, 0x60, 1, 1, { 16, 16 }, A_I | A_FL | A_STR },
	{ 3, 0x61, 1, 1, { 16, 16 }, A_I | A_FL | A_STR },
	{ 3, 0x62, 1, 1, { 16, 16 }, A_I | A_FL | A_STR },
	{ 3, 0x63, 1, 1, { 16, 16 }, A_I | A_FL | A_STR },
};

static unsigned vreg(struct gen *g)
{
	return g_rn(g, g->m32 ? 8 : 16);
}

/* VLDMXCSR of a value with every exception masked and a random RC, DAZ
 * and FTZ, then VSTMXCSR to random memory. */
static void gen_mxcsr(struct gen *g)
{
	uint32_t v = 0x1f80 | (g_rn(g, 4) << 13) | (g_rn(g, 2) << 6) |
		     (g_rn(g, 2) << 15);
	uint64_t a = DX_DATA + 4 * g_rn(g, DX_DATA_SIZE / 4);
	struct enc e = { .modrm = true, .nop = 1, .op = { 0xae }, .reg = 2,
			 .vex = true, .vmap = 1 };

	memcpy(g->s->in.data + (a - DX_DATA), &v, 4);
	e.e = (struct mop){ .kind = M_ABS, .target = a };
	g_emit(g, &e, false);
	g_level(g, 3);
	if (g->stop)
		return;
	e.reg = 3;
	e.e = g_mem(g, 4, 1, 0);
	g_emit(g, &e, false);
}

/* VMASKMOVDQU xmm, xmm: a byte-masked store to [RDI]. */
static void gen_maskmovdqu(struct gen *g)
{
	struct enc e = { .modrm = true, .nop = 1, .op = { 0xf7 }, .vex = true,
			 .vmap = 1, .vpp = 1 };
	uint64_t a = DX_DATA + g_rn(g, DX_DATA_SIZE - 16);

	g_set_reg(g, 7, a);
	e.reg = vreg(g);
	e.e = g_reg(vreg(g));
	g_emit(g, &e, false);
	g_level(g, 3);
}

/* vmovdqu ymm r, [a] (set-up): 32 bytes written into the data image,
 * each 32- or 64-bit element from f. */
static void set_ymm(struct gen *g, unsigned r, unsigned ew,
		    uint64_t (*f)(struct gen *g))
{
	uint64_t a = DX_DATA + 32 * g_rn(g, DX_DATA_SIZE / 32);
	struct enc e = { .modrm = true, .nop = 1, .op = { 0x6f }, .vex = true,
			 .vmap = 1, .vpp = 2, .vl = 1, .reg = r };

	for (unsigned i = 0; i < 32 / ew; i++) {
		uint64_t v = f(g);

		memcpy(g->s->in.data + (a - DX_DATA) + ew * i, &v, ew);
	}
	e.e = (struct mop){ .kind = M_ABS, .target = a };
	g_emit(g, &e, true);
}

/* In the top bits (see the shift in gen_gather). */
static uint64_t small_index(struct gen *g)
{
	return g_rnd(g);
}

static uint64_t any(struct gen *g)
{
	return g_rnd(g);
}

/* A mask element as the SDM's gathers leave it before they load: its
 * sign bit, extended. */
static uint64_t sign_only(struct gen *g)
{
	return g_chance(g, 50) ? ~0ull : 0;
}

/* VPGATHERDD/DQ/QD/QQ, VGATHERDPS/DPD/QPS/QPD: a VSIB operand whose
 * vector index holds small elements (-32..31; 0..63 for 64-bit ones)
 * around a base in the data
 * pages (near their end now and then: a fault part-way, after the
 * lower elements completed), a random mask; now and then two of the
 * three registers the same (#UD). */
static void gen_gather(struct gen *g)
{
	struct enc e = { .modrm = true, .nop = 1, .vex = true, .vmap = 2,
			 .vpp = 1 };
	unsigned ix, ew;
	uint64_t t;
	bool edge;

	e.op[0] = (uint8_t)(0x90 + g_rn(g, 4));
	e.w = g_chance(g, 50);
	e.vl = g_chance(g, 50);
	ix = e.op[0] & 1 ? 8 : 4;
	ew = e.w ? 8 : 4;
	e.reg = vreg(g);
	do {
		e.e.index = vreg(g);
		e.vvvv = (uint8_t)vreg(g);
	} while (!g_chance(g, 3) && (e.e.index == e.reg ||
				     e.vvvv == e.reg || e.vvvv == e.e.index));
	if (g->level < 3) { /* a #UD tail: no AVX set-up before it */
		e.e.index = e.vvvv = (uint8_t)(e.reg ^ 1);
		e.e.kind = M_SIB;
		e.e.base = g_gpr(g, 0);
		g_emit(g, &e, false);
		g_level(g, 3);
		return;
	}
	set_ymm(g, e.e.index, ix, small_index);
	{ /* the data may have changed since: vpsrad 26 / vpsrlq 58 keeps
	   * the indices small whatever they hold */
		struct enc sh = { .modrm = true, .nop = 1, .vex = true,
				  .vmap = 1, .vpp = 1, .vl = 1 };

		sh.op[0] = ix == 4 ? 0x72 : 0x73;
		sh.reg = ix == 4 ? 4 : 2;
		sh.e = g_reg(e.e.index);
		sh.vvvv = (uint8_t)e.e.index;
		sh.imm = ix == 4 ? 26 : 58;
		sh.nimm = 1;
		g_emit(g, &sh, true);
	}
	/* A gather that faults part-way leaves the mask elements still to
	 * do as the host chose: an Intel Xeon sign-extends each first (the
	 * SDM's Operation; so does rax), an AMD EPYC leaves them as they
	 * were.  Near the end of the data, where it may fault, the mask's
	 * elements are all ones or zero already; elsewhere anything. */
	edge = g_chance(g, 10);
	set_ymm(g, e.vvvv, ew, edge ? sign_only : any);
	e.e.kind = M_SIB;
	e.e.scale = g_rn(g, 4);
	e.e.base = g_gpr(g, 0);
	e.e.disp = g_chance(g, 50) ? (int8_t)g_rnd(g) : 0;
	t = DX_DATA + (edge ? DX_DATA_SIZE - g_rn(g, 64) :
		       128 + g_rn(g, DX_DATA_SIZE - 512));
	g_set_reg(g, e.e.base, t - (uint64_t)(int64_t)e.e.disp);
	g_emit(g, &e, false);
	g_level(g, 3);
}

/* One unit: a table row's form (its 256-bit result stored to memory now
 * and then: the comparison sees only the XMM registers), VLDMXCSR and
 * VSTMXCSR, VMASKMOVDQU or a gather. */
void gen_avx_rest(struct gen *g)
{
	const struct af *r;
	struct enc e = { .modrm = true, .nop = 1, .vex = true };
	unsigned k = g_rn(g, sizeof(rows) / sizeof(*rows) + 8), n;
	bool l, mem, w;

	if (k == sizeof(rows) / sizeof(*rows)) {
		gen_mxcsr(g);
		return;
	}
	if (k == sizeof(rows) / sizeof(*rows) + 1) {
		gen_maskmovdqu(g);
		return;
	}
	if (k > sizeof(rows) / sizeof(*rows)) {
		gen_gather(g);
		return;
	}
	r = &rows[k];
	if (r->lmask == 3)
		l = g_chance(g, 50);
	else
		l = r->lmask == 2;
	if (g_chance(g, 2) && !(r->fl & A_LIG))
		l = !l; /* the other VEX.L: #UD where only one exists */
	w = (r->fl & A_W1) || ((r->fl & A_WR) && !g->m32 && g_chance(g, 50));
	/* VEX.W flipped: #UD for the W0-only forms, else ignored.  Not for
	 * VPERMQ/VPERMPD (W1 in the SDM's encoding, #UD here with W0, as
	 * Zydis and objdump decode it), which AMD hosts execute with W0. */
	if (g_chance(g, 2) && !(r->fl & A_W1))
		w = !w;
	if (g->m32 && (r->fl & (A_GS | A_GD)) && w && !(r->fl & A_W1))
		w = false; /* the 64-bit GPR forms exist in 64-bit code only */
	n = r->n[l];
	if (r->fl & A_STR) {
		g_set_reg(g, 0, g_rn(g, 40) - 20);
		g_set_reg(g, 2, g_rn(g, 40) - 20);
	}
	mem = (r->fl & A_MEM) || (!(r->fl & A_REG) && g_chance(g, 35));
	e.op[0] = r->op;
	e.vmap = r->map;
	e.vpp = r->pp;
	e.vl = l;
	e.w = w;
	e.reg = (r->fl & A_GD) ? g_gpr(g, 0) : vreg(g);
	if (r->fl & A_GS) {
		unsigned sz = w && (r->op == 0x2a || r->op == 0x16 ||
				    r->op == 0x22) ? 8 : n;

		e.e = mem ? g_mem(g, sz, 1, r->fl & A_STR ? 5 : 0) :
			    g_reg(g_gpr(g, 0));
	} else {
		e.e = mem ? g_mem(g, n ? n : 16, r->fl & A_AL ? n : 1,
				  r->fl & A_STR ? 5 : 0) : g_reg(vreg(g));
	}
	if ((r->fl & A_V) || ((r->fl & A_VR) && !mem))
		e.vvvv = (uint8_t)vreg(g);
	if (r->fl & A_I) {
		e.imm = g_rnd(g) & 0xff;
		e.nimm = 1;
	}
	if (r->fl & A_IS4) {
		e.imm = (uint64_t)vreg(g) << 4 | (g_rnd(g) & 15);
		e.nimm = 1;
	}
	g->cr2_page = r->map == 2 && (r->fl & A_ST) && (r->fl & A_V);
	g_emit(g, &e, false);
	g_level(g, 3);
	if (r->fl & A_FL)
		g_flags(g, F_ARITH, 0);
	if (g->stop || !l || (r->fl & (A_GD | A_ST | A_FL)) || !g_chance(g, 50))
		return;
	/* vmovdqu [m256], ymm: the result's upper half into memory */
	{
		struct enc st = { .modrm = true, .nop = 1, .op = { 0x7f },
				  .vex = true, .vmap = 1, .vpp = 2, .vl = 1 };

		st.reg = e.reg;
		st.e = g_mem(g, 32, 1, 0);
		g_emit(g, &st, false);
	}
}

/* --- XSAVE, XRSTOR, XGETBV (x86-64-v3; --family xsave) -------------------- */

/* op [base + disp], imm (8/16/32-bit by n; 8: a 64-bit store of a
 * sign-extended imm32): the area's normalisation and edits (set-up). */
static void area_op(struct gen *g, uint8_t op, unsigned ext, unsigned base,
		    int32_t disp, uint64_t imm, unsigned n)
{
	struct enc e = { .modrm = true, .nop = 1, .op = { op }, .reg = ext,
			 .noseg = true };

	if (n == 2)
		g_opsize(&e, 2);
	e.w = n == 8;
	e.e = (struct mop){ .kind = M_BASE, .base = base, .disp = disp };
	e.imm = imm;
	e.nimm = n == 8 ? 4 : n;
	g_emit(g, &e, true);
}

/* Zeroes [base + disp, + len) (len a multiple of 8) with the fewest
 * stores: 8 bytes each in 64-bit code, 4 in 32-bit code. */
static void area_zero(struct gen *g, unsigned base, int32_t disp,
		      unsigned len)
{
	unsigned n = g->m32 ? 4 : 8;

	for (unsigned o = 0; o < len; o += n)
		area_op(g, 0xc7, 0, base, disp + (int32_t)o, 0, n);
}

/* XSAVE (REX.W: XSAVE64 now and then) of a random subset of x87, SSE and
 * AVX (EDX:EAX; EAX 0-7, so the host's own extra XCR0 components stay
 * out) to a 64-byte-aligned area in the data pages (misaligned now and
 * then: #GP) whose header was zeroed, then XRSTOR from it after random edits: register data,
 * XSTATE_BV bits cleared (those components from their initial state),
 * and rarely a reserved header byte, an XSTATE_BV bit outside every XCR0
 * (a supervisor component's) or a reserved MXCSR bit (#GP).  Or XGETBV (ECX 0) with EAX masked to the
 * three components both XCR0s have.  After each XSAVE three things the
 * host writes its own way are normalised by stores before anything can
 * compare them: XSTATE_BV (ORed with the RFBM: the interpreter counts
 * every component as in use, the host clears the bits of components in
 * their initial state, both allowed by SDM Vol. 1 §13.6), MXCSR_MASK
 * (0xffff here; AMD hosts add bit 17, the misaligned-exception mask the
 * model lacks), FOP/FIP/FDP (AMD saves them only with an x87 exception
 * pending) and the FSW bits diffexec compares only with --strict (the
 * exception flags, C1) or that are undefined now. */
/* XSAVEOPT (0F AE /6) and XSAVEC (0F C7 /4) take XSAVE's place now and
 * then, each after an XSAVE with the same RFBM to the same area: where
 * the host uses the init or modified optimization (SDM Vol. 1 §13.6,
 * §13.9, §13.10: a component in its initial configuration or unmodified
 * since an XRSTOR from that address is not written) the area holds what
 * XSAVE wrote, the same values the interpreter writes again (it applies
 * neither optimization, as the SDM allows).  XSTATE_BV is normalised as
 * after XSAVE; XCOMP_BV is compared as written (bit 63 | RFBM), and the
 * XRSTOR that follows an XSAVEC takes the compacted form. */
void gen_xsave(struct gen *g)
{
	unsigned rfbm = g_rn(g, 8), r = g_gpr(g, 5), k = g_rn(g, 10);
	unsigned kind = g_rn(g, 3); /* XSAVE, XSAVEOPT, XSAVEC */
	uint64_t a = DX_DATA + 64 * g_rn(g, (DX_DATA_SIZE - 832) / 64 + 1);
	bool mis = g_chance(g, 2), w = !g->m32 && g_chance(g, 30);
	struct enc e = { .modrm = true, .nop = 2, .op = { 0x0f, 0xae } };

	if (g->level >= 3 && !g->avx_init) { /* as gen_avx: the YMM upper
						halves agree from here */
		static const uint8_t vzu[] = { 0xc5, 0xf8, 0x77 };

		g_bytes(g, vzu, 3, true);
		g->avx_init = true;
	}
	if (k == 0) { /* xgetbv; and eax, 7 */
		static const uint8_t xg[3] = { 0x0f, 0x01, 0xd0 };
		static const uint8_t an[3] = { 0x83, 0xe0, 0x07 };

		g_set_reg(g, 1, 0);
		g_bytes(g, xg, 3, false);
		g_level(g, 3);
		if (g->stop)
			return;
		g_bytes(g, an, 3, true);
		g_flags(g, F_ARITH, 0);
		return;
	}
	/* The interpreter keeps the x87 TOP at 0 (x87.c): after a push or
	 * pop its image of the same stack names other physical registers,
	 * so the x87 component is saved only while TOP is known to be 0. */
	if (g->top_moved || g->x87_lost)
		rfbm &= 6;
	g_set_reg(g, 0, rfbm);
	g_set_reg(g, 2, 0);
	g_set_reg(g, r, a + (mis ? 8 * (1 + g_rn(g, 7)) : 0));
	if (!mis && g->level >= 3) /* XSTATE_BV and the bytes XRSTOR checks */
		area_zero(g, r, 512, 24);
	e.reg = 4;
	e.w = w;
	e.e = (struct mop){ .kind = M_BASE, .base = r };
	/* No segment override on the pair: one that faults (CS in 32-bit
	 * code) would stop the sequence between the two saves, before the
	 * normalisation (XSAVE takes the overrides alone). */
	e.noseg = kind != 0;
	if (kind && !mis) { /* the XSAVE before (see above) */
		g_emit(g, &e, false);
		g_level(g, 3);
		if (g->stop)
			return;
		/* XSAVEC stores MXCSR only with SSE requested (not with AVX
		 * alone, unlike XSAVE): 1F80H there shows which.  1F80H
		 * because a host also skips MXCSR when its init optimization
		 * skips SSE (an AMD EPYC's does), which needs MXCSR = 1F80H
		 * (SSE's initial configuration, SDM Vol. 1 §13.6). */
		if (kind == 2)
			area_op(g, 0xc7, 0, r, 24, 0x1f80, 4);
	}
	if (kind == 1) {
		e.reg = 6;
	} else if (kind == 2) {
		e.op[1] = 0xc7;
		e.reg = 4;
	}
	g_emit(g, &e, false);
	g_level(g, 3);
	if (g->stop || mis)
		return;
	area_op(g, 0x80, 1, r, 512, rfbm, 1);     /* or byte [a+512], rfbm */
	area_op(g, 0xc7, 0, r, 28, 0xffff, 4);    /* MXCSR_MASK */
	if (!(rfbm & 6) && kind != 2) /* MXCSR left as it was: valid */
		area_op(g, 0xc7, 0, r, 24, 0x1f80 | (g_rn(g, 4) << 13), 4);
	if (rfbm & 1) /* FSW: what the comparison leaves out (--strict) */
		area_op(g, 0x81, 4, r, 2, 0xfd00 & ~(unsigned)g->fundef, 2);
	area_op(g, 0xc7, 0, r, 6, 0, 2);          /* FOP */
	area_zero(g, r, 8, 16);                   /* FIP, FDP */
	g_flags(g, F_ARITH, 0);
	if (k < 4)
		return;
	/* At most 23 instructions in all (gen.c leaves 24 for a unit). */
	for (int i = (int)g_rn(g, g->m32 ? 2 : 3) - (kind && g->m32); i > 0;
	     i--) {
		switch (g_rn(g, 3)) {
		case 0: area_op(g, 0x80, 4, r, 512, g_rn(g, 8), 1); break;
		case 1: area_op(g, 0xc7, 0, r, 160 + 4 * (int32_t)g_rn(g, 64),
				g_rnd(g) & 0xffffffff, 4); break;
		default: area_op(g, 0xc7, 0, r, 576 + 4 * (int32_t)g_rn(g, 64),
				 g_rnd(g) & 0xffffffff, 4); break;
		}
	}
	switch (g_chance(g, 6) ? g_rn(g, 3) : 3) {
	case 0: area_op(g, 0xc6, 0, r, 520 + (int32_t)g_rn(g, 44), 1, 1); break;
	case 1: { /* a supervisor component's XSTATE_BV bit (8, 10-15):
		   * no XCR0 can hold one (SDM Vol. 1 §13.3), so XRSTOR
		   * faults on every host; the user bits 3-7 did only where
		   * XCR0 lacks them, not on an AVX-512 host */
		static const uint8_t sv[7] = { 0x01, 0x04, 0x08, 0x10,
					       0x20, 0x40, 0x80 };

		area_op(g, 0x80, 1, r, 513, sv[g_rn(g, 7)], 1);
		break;
	}
	case 2: area_op(g, 0xc6, 0, r, 26, 1, 1); break;
	default: break;
	}
	g_flags(g, F_ARITH, 0);
	g_set_reg(g, 0, g_rn(g, 8));
	e.op[1] = 0xae;
	e.reg = 5;
	e.w = !g->m32 && g_chance(g, 30);
	g_emit(g, &e, false);
	g->x87_lost = true; /* the x87 stack may be anything now */
	g->top_moved = true;
}
