/* Generator families for SSE/SSE2, conversions, x87, MMX, the
 * instructions rax does not advertise (which must raise #UD) and the
 * later SSE2 additions, MXCSR rounding and TF (the extra family). */
#include "gen.h"

#include <string.h>

/* x87 stack depth: the generator keeps the stack contiguous from ST0
 * and never over- or underflows it (rax models no x87 exceptions, see
 * src/cpu/x87.c), so it knows the depth statically.  Only integer
 * families are generated inside skipped branches, so every x87 unit
 * runs. */
static unsigned x87_depth(const struct gen *g)
{
	return g->depth;
}

static void set_depth(struct gen *g, unsigned d)
{
	if (d != g->depth)
		g->top_moved = true;
	g->depth = d;
}

/* --- SSE ------------------------------------------------------------------ */

/* XMM0-15; XMM0-7 in 32-bit code (no REX). */
static unsigned xmm(struct gen *g)
{
	return g_rn(g, g->m32 ? 8 : 16);
}

/* pfx 0/0x66/0xf3/0xf2, 0F op, xmm reg, E = xmm or memory of msz bytes
 * aligned to align (16-byte legacy-SSE operands must be aligned: #GP
 * otherwise). */
static struct enc sse(struct gen *g, uint8_t pfx, uint8_t op, unsigned msz,
		      unsigned align, unsigned pct_mem)
{
	struct enc e = { .modrm = true, .nop = 2, .op = { 0x0f, op } };

	if (pfx)
		g_pfx(&e, pfx);
	e.reg = xmm(g);
	if (g_chance(g, pct_mem))
		e.e = g_mem(g, msz, align, 0);
	else
		e.e = g_reg(xmm(g));
	return e;
}

static const uint8_t pfx4[4] = { 0, 0x66, 0xf3, 0xf2 };

/* SSE2 integer (66 0F): every packed op, with aligned or misaligned
 * 16-byte memory operands. */
void gen_sse_int(struct gen *g)
{
	static const uint8_t vw[] = {
		0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
		0x6a, 0x6b, 0x6c, 0x6d, 0x74, 0x75, 0x76, 0xd1, 0xd2, 0xd3,
		0xd4, 0xd5, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
		0xe0, 0xe3, 0xe4, 0xe5, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed,
		0xee, 0xef, 0xf1, 0xf2, 0xf3, 0xf4, 0xf8, 0xf9, 0xfa, 0xfb,
		0xfc, 0xfd, 0xfe,
	};
	static const uint8_t sh[][2] = { { 0x71, 2 }, { 0x71, 6 }, { 0x72, 2 },
		{ 0x72, 6 }, { 0x73, 2 }, { 0x73, 3 }, { 0x73, 6 }, { 0x73, 7 } };
	struct enc e;
	unsigned k = g_rn(g, 12);

	if (k < 5) {
		e = sse(g, 0x66, vw[g_rn(g, sizeof(vw))], 16, 16, 30);
	} else if (k == 5) { /* pshufd/pshufhw/pshuflw */
		e = sse(g, pfx4[1 + g_rn(g, 3)], 0x70, 16, 16, 30);
		e.imm = g_rnd(g);
		e.nimm = 1;
	} else if (k == 6) { /* shifts by immediate */
		unsigned i = g_rn(g, 8);

		e = sse(g, 0x66, sh[i][0], 16, 16, 0);
		e.reg = sh[i][1];
		e.imm = g_chance(g, 70) ? g_rn(g, 20) : g_rn(g, 256);
		e.nimm = 1;
	} else if (k == 7) { /* pmovmskb / pextrw: GPR destination */
		e = sse(g, 0x66, g_chance(g, 50) ? 0xd7 : 0xc5, 16, 16, 0);
		e.reg = g_gpr(g, 0);
		if (e.op[1] == 0xc5) {
			e.imm = g_rn(g, 256);
			e.nimm = 1;
		}
	} else if (k == 8) { /* pinsrw xmm, r32/m16, imm8 */
		e = sse(g, 0x66, 0xc4, 2, 1, 0);
		e.e = g_rm(g, 2, 0, 40);
		e.imm = g_rn(g, 256);
		e.nimm = 1;
	} else if (k == 9) { /* movd/movq with GPRs or memory */
		e = sse(g, 0x66, g_chance(g, 50) ? 0x6e : 0x7e, 8, 1, 0);
		e.w = g_chance(g, 50);
		e.e = g_rm(g, e.w ? 8 : 4, 0, 40);
	} else if (k == 10) { /* movq xmm, xmm/m64 and back */
		if (g_chance(g, 50))
			e = sse(g, 0xf3, 0x7e, 8, 1, 40);
		else
			e = sse(g, 0x66, 0xd6, 8, 1, 40);
	} else { /* movdqa/movdqu/movntdq */
		unsigned j = g_rn(g, 5);

		if (j == 4)
			e = sse(g, 0x66, 0xe7, 16, 16, 100);
		else
			e = sse(g, j & 1 ? 0xf3 : 0x66, j & 2 ? 0x7f : 0x6f, 16,
				j & 1 ? 1 : 16, 50);
	}
	g_emit(g, &e, false);
}

/* SSE/SSE2 floating point: arithmetic, min/max, sqrt, logic, compares,
 * shuffles, unpacks, moves.  (U)COMIS* set ZF PF CF and clear OF SF AF
 * (SDM Vol. 2 COMISS). */
void gen_sse_fp(struct gen *g)
{
	static const uint8_t arith[] = { 0x51, 0x58, 0x59, 0x5c, 0x5d, 0x5e,
					 0x5f };
	static const unsigned scal[4] = { 16, 16, 4, 8 };
	unsigned k = g_rn(g, 10), p = g_rn(g, 4), p2 = g_rn(g, 2);
	struct enc e;

	switch (k) {
	case 0: case 1: case 2:
		e = sse(g, pfx4[p], arith[g_rn(g, 7)], scal[p], p < 2 ? 16 : 1, 30);
		break;
	case 3: /* and andn or xor */
		e = sse(g, pfx4[p2], (uint8_t)(0x54 + g_rn(g, 4)), 16, 16, 30);
		break;
	case 4: /* cmpps/pd/ss/sd */
		e = sse(g, pfx4[p], 0xc2, scal[p], p < 2 ? 16 : 1, 30);
		e.imm = g_rn(g, 8);
		e.nimm = 1;
		break;
	case 5: /* (u)comiss/sd */
		e = sse(g, pfx4[p2], g_chance(g, 50) ? 0x2e : 0x2f, p2 ? 8 : 4,
			1, 30);
		g_emit(g, &e, false);
		g_flags(g, F_ARITH, 0);
		return;
	case 6: /* shufps/pd, unpck[lh]ps/pd */
		if (g_chance(g, 40)) {
			e = sse(g, pfx4[p2], 0xc6, 16, 16, 30);
			e.imm = g_rnd(g);
			e.nimm = 1;
		} else {
			e = sse(g, pfx4[p2], g_chance(g, 50) ? 0x14 : 0x15, 16,
				16, 30);
		}
		break;
	case 7: /* movmskps/pd */
		e = sse(g, pfx4[p2], 0x50, 16, 16, 0);
		e.reg = g_gpr(g, 0);
		break;
	case 8: /* movups/movupd/movss/movsd, movaps/movapd, movntps/pd */
		if (g_chance(g, 60)) {
			e = sse(g, pfx4[p], g_chance(g, 50) ? 0x10 : 0x11,
				scal[p], 1, 50);
		} else if (g_chance(g, 80)) {
			e = sse(g, pfx4[p2], g_chance(g, 50) ? 0x28 : 0x29, 16,
				16, 60);
		} else {
			e = sse(g, pfx4[p2], 0x2b, 16, 16, 100);
		}
		break;
	default: { /* movlps/movhps/movlpd/movhpd, movhlps/movlhps */
		uint8_t op = (uint8_t)(0x12 + 4 * g_rn(g, 2) + g_rn(g, 2));

		e = sse(g, pfx4[p2], op, 8, 1, p2 || (op & 1) ? 100 : 50);
		break;
	}
	}
	g_emit(g, &e, false);
}

/* Conversions between integers, singles and doubles (SSE/SSE2 XMM
 * forms), truncating and rounding (MXCSR default: round to nearest). */
void gen_cvt(struct gen *g)
{
	unsigned k = g_rn(g, 5), p = g_rn(g, 2);
	struct enc e;

	switch (k) {
	case 0: /* cvtsi2ss/sd xmm, r/m32/64 */
		e = sse(g, p ? 0xf2 : 0xf3, 0x2a, 4, 1, 0);
		e.w = g_chance(g, 50);
		e.e = g_rm(g, e.w ? 8 : 4, 0, 40);
		break;
	case 1: case 2: /* cvt(t)ss/sd2si r32/64, xmm/m */
		e = sse(g, p ? 0xf2 : 0xf3, g_chance(g, 50) ? 0x2c : 0x2d,
			p ? 8 : 4, 1, 40);
		e.reg = g_gpr(g, 0);
		e.w = g_chance(g, 50);
		break;
	case 3: { /* cvtps2pd cvtpd2ps cvtss2sd cvtsd2ss */
		static const unsigned msz[4] = { 8, 16, 4, 8 };
		unsigned q = g_rn(g, 4);

		e = sse(g, pfx4[q], 0x5a, msz[q], q == 1 ? 16 : 1, 30);
		break;
	}
	default: /* cvtdq2ps cvtps2dq cvttps2dq */
		e = sse(g, pfx4[g_rn(g, 3)], 0x5b, 16, 16, 30);
		break;
	}
	g_emit(g, &e, false);
}

/* --- x87 ------------------------------------------------------------------ */

/* C0-C3 after an instruction (SDM Vol. 2 "FPU Flags Affected"):
 * arithmetic, loads, stores, FXCH, FCHS, FABS, FSQRT: C1 the round-up
 * indicator (FSW_C1R: not modelled by rax), C0 C2 C3 undefined;
 * FCOM/FUCOM/FTST/FXAM: all defined; FCOMI: others unchanged;
 * FNSTSW/FNSTCW: all undefined. */
#define CC_ARITH(g) ((g)->fundef = (uint16_t)(((g)->fundef & ~FSW_C1) | \
					      FSW_C0 | FSW_C2 | FSW_C3 | \
					      FSW_C1R))

static void x87_reg(struct gen *g, uint8_t esc, uint8_t modrm)
{
	uint8_t b[2] = { esc, modrm };

	g_bytes(g, b, 2, false);
}

static void x87_mem(struct gen *g, uint8_t esc, unsigned reg, unsigned sz)
{
	struct enc e = { .modrm = true, .nop = 1, .op = { esc }, .reg = reg };

	/* An 80-bit store split by a page fault is partly written on the
	 * host (two stores): no page-crossing 80-bit stores. */
	g->nosplit = esc == 0xdb && reg == 7;
	e.e = g_mem(g, sz, 1, 0);
	g_emit(g, &e, false);
}

/* FPREM FPREM1 (C0 C3 C1 = quotient bits, C2 = incomplete), FSCALE,
 * FYL2X FPATAN (pop), FSIN FCOS (C2 = out of range), FPTAN FSINCOS
 * (push unless out of range: the depth is unknown after them), FXTRACT
 * (push). */
static void gen_x87_trans(struct gen *g, unsigned d)
{
	static const uint8_t two[] = { 0xf8, 0xf5, 0xfd, 0xf1, 0xf3 };
	unsigned k = g_rn(g, 4);

	if (k == 0 && d <= 6 && g_chance(g, 70)) {
		/* FPREM/FPREM1 of two finite nonzero doubles kept in the
		 * code (jmp over them; fld qword [rip]): for NaN, infinite
		 * or zero operands the host's C0-C3 follow no SDM rule. */
		uint8_t b[18] = { 0xeb, 16 };
		unsigned at;

		for (unsigned i = 0; i < 2; i++) {
			uint64_t v = (g_rnd(g) & 0x800fffffffffffffull) |
				     ((uint64_t)(1023 - 40 + g_rn(g, 110)) << 52);

			memcpy(b + 2 + 8 * i, &v, 8);
		}
		g_bytes(g, b, 2, true);
		at = g->s->len;
		memcpy(g->s->code + at, b + 2, 16);
		g->s->len += 16;
		for (unsigned i = 0; i < 2; i++) {
			struct enc e = { .modrm = true, .nop = 1, .op = { 0xdd },
					 .e = { .kind = M_RIP,
						.target = DX_SEQ + at + 8 * i } };

			g_emit(g, &e, true);
		}
		x87_reg(g, 0xd9, g_chance(g, 50) ? 0xf8 : 0xf5);
		set_depth(g, d + 2);
		g->fundef = 0;
	} else if (k == 0 && d >= 2) {
		uint8_t op = two[g_rn(g, 5)];

		x87_reg(g, 0xd9, op);
		if (op == 0xf1 || op == 0xf3) {
			set_depth(g, d - 1);
			CC_ARITH(g);
		} else if (op == 0xfd) {
			CC_ARITH(g);
		} else {
			g->fundef = FSW_CC; /* operands may be NaN */
		}
	} else if (k == 2 && d < 8 && g_chance(g, 50)) {
		x87_reg(g, 0xd9, 0xf4); /* FXTRACT: exponent, then significand */
		set_depth(g, d + 1);
		CC_ARITH(g);
	} else if (k == 1 && d < 8) {
		x87_reg(g, 0xd9, g_chance(g, 50) ? 0xf2 : 0xfb);
		g->fundef = FSW_C0 | FSW_C3 | FSW_C1R;
		g->x87_lost = true;
	} else {
		x87_reg(g, 0xd9, g_chance(g, 50) ? 0xfe : 0xff);
		g->fundef = FSW_C0 | FSW_C3 | FSW_C1R;
	}
}

void gen_x87(struct gen *g)
{
	unsigned d = x87_depth(g), k = g_rn(g, 14), i = d ? g_rn(g, d) : 0;
	static const uint8_t ldm[3][3] = { { 0xd9, 0, 4 }, { 0xdd, 0, 8 },
					   { 0xdb, 5, 10 } };
	static const uint8_t ild[3][3] = { { 0xdf, 0, 2 }, { 0xdb, 0, 4 },
					   { 0xdf, 5, 8 } };

	if (g->x87_lost)
		k = 12;
	else if (g_chance(g, 12) && d >= 1) {
		gen_x87_trans(g, d);
		return;
	}
	if (d == 0 && k >= 3 && k != 12)
		k = g_rn(g, 3);
	if (d == 8 && k < 3)
		k = 3 + g_rn(g, 9);
	switch (k) {
	case 0: { /* fld m32/m64/m80 */
		unsigned j = g_rn(g, 3);

		x87_mem(g, ldm[j][0], ldm[j][1], ldm[j][2]);
		set_depth(g, d + 1);
		CC_ARITH(g);
		break;
	}
	case 1: /* fild m16/m32/m64, or fld st(i), or a constant */
		if (d && g_chance(g, 30)) {
			x87_reg(g, 0xd9, (uint8_t)(0xc0 + i));
		} else if (g_chance(g, 30)) {
			x87_reg(g, 0xd9, (uint8_t)(0xe8 + g_rn(g, 7)));
		} else {
			unsigned j = g_rn(g, 3);

			x87_mem(g, ild[j][0], ild[j][1], ild[j][2]);
		}
		set_depth(g, d + 1);
		CC_ARITH(g);
		break;
	case 2: /* fld1 / fldl2t */
		x87_reg(g, 0xd9, (uint8_t)(0xe8 + g_rn(g, 2)));
		set_depth(g, d + 1);
		CC_ARITH(g);
		break;
	case 3: { /* fst/fstp m32/m64, fstp m80 */
		unsigned j = g_rn(g, 5);

		if (j == 4) {
			x87_mem(g, 0xdb, 7, 10);
			set_depth(g, d - 1);
		} else {
			x87_mem(g, j & 2 ? 0xdd : 0xd9, 2 + (j & 1), j & 2 ? 8 : 4);
			if (j & 1)
				set_depth(g, d - 1);
		}
		CC_ARITH(g);
		break;
	}
	case 4: { /* fist/fistp m16/m32, fistp m64 */
		unsigned j = g_rn(g, 5);

		if (j == 4) {
			x87_mem(g, 0xdf, 7, 8);
			set_depth(g, d - 1);
		} else {
			x87_mem(g, j & 2 ? 0xdb : 0xdf, 2 + (j & 1), j & 2 ? 4 : 2);
			if (j & 1)
				set_depth(g, d - 1);
		}
		CC_ARITH(g);
		break;
	}
	case 5: { /* arithmetic with m32/m64: fadd fmul fsub fsubr fdiv fdivr */
		static const uint8_t ops[] = { 0, 1, 4, 5, 6, 7 };

		unsigned m64 = g_rn(g, 2);

		x87_mem(g, m64 ? 0xdc : 0xd8, ops[g_rn(g, 6)], m64 ? 8 : 4);
		CC_ARITH(g);
		break;
	}
	case 6: { /* st0 op st(i), st(i) op st0, and the popping forms */
		static const uint8_t ops[] = { 0, 1, 4, 5, 6, 7 };
		unsigned form = g_rn(g, 3), op = ops[g_rn(g, 6)];

		x87_reg(g, form == 0 ? 0xd8 : form == 1 ? 0xdc : 0xde,
			(uint8_t)(0xc0 + 8 * op + i));
		if (form == 2)
			set_depth(g, d - 1);
		CC_ARITH(g);
		break;
	}
	case 7: { /* fcom/fcomp m32/m64 and st(i), fucom(p), fcompp */
		unsigned j = g_rn(g, 6);

		if (j == 0) {
			unsigned m64 = g_rn(g, 2), pop = g_rn(g, 2);

			x87_mem(g, m64 ? 0xdc : 0xd8, 2 + pop, m64 ? 8 : 4);
			if (pop)
				set_depth(g, d - 1);
		} else if (j == 1) { /* fcom; its alias fcom2 (DC D0+i) */
			x87_reg(g, g_chance(g, 70) ? 0xd8 : 0xdc,
				(uint8_t)(0xd0 + i));
		} else if (j == 2) { /* fcomp; fcomp3 (DC), fcomp5 (DE D0) */
			unsigned a = g_rn(g, 4);

			x87_reg(g, a < 2 ? 0xd8 : a == 2 ? 0xdc : 0xde,
				(uint8_t)((a == 3 ? 0xd0 : 0xd8) + i));
			set_depth(g, d - 1);
		} else if (j == 3) {
			x87_reg(g, 0xdd, (uint8_t)(0xe0 + i));
		} else if (j == 4) {
			x87_reg(g, 0xdd, (uint8_t)(0xe8 + i));
			set_depth(g, d - 1);
		} else if (d >= 2) {
			x87_reg(g, g_chance(g, 50) ? 0xde : 0xda,
				0);  /* patched below */
			g->s->code[g->s->len - 1] =
				g->s->code[g->s->len - 2] == 0xde ? 0xd9 : 0xe9;
			set_depth(g, d - 2);
		} else {
			x87_reg(g, 0xd8, (uint8_t)(0xd0 + i));
		}
		g->fundef = 0;
		break;
	}
	case 8: { /* fcomi fucomi fcomip fucomip: ZF PF CF, OF SF AF = 0 */
		unsigned j = g_rn(g, 4);

		x87_reg(g, j & 2 ? 0xdf : 0xdb,
			(uint8_t)((j & 1 ? 0xe8 : 0xf0) + i));
		if (j & 2)
			set_depth(g, d - 1);
		/* The SDM sets C1 to 0; the host leaves it: not compared. */
		g->fundef |= FSW_C1;
		g_flags(g, F_ARITH, 0);
		break;
	}
	case 9: { /* fxch; its aliases fxch4 (DD C8+i), fxch7 (DF C8+i) */
		unsigned a = g_rn(g, 4);

		x87_reg(g, a < 2 ? 0xd9 : a == 2 ? 0xdd : 0xdf,
			(uint8_t)(0xc8 + i));
		CC_ARITH(g);
		break;
	}
	case 10: { /* fchs fabs fsqrt frndint ftst */
		static const uint8_t ops[] = { 0xe0, 0xe1, 0xfa, 0xfc, 0xe4 };
		unsigned j = g_rn(g, 5);

		x87_reg(g, 0xd9, ops[j]);
		if (j == 4)
			g->fundef = 0;
		else
			CC_ARITH(g);
		break;
	}
	case 11: { /* fst/fstp st(i); the aliases fstp1 (D9 D8+i), fstp8
		    * (DF D0+i), fstp9 (DF D8+i); ffreep st(0) (DF C0) */
		static const uint8_t esc[] = { 0xdd, 0xdd, 0xdd, 0xd9, 0xdf,
					       0xdf, 0xdf };
		static const uint8_t base[] = { 0xd0, 0xd8, 0xd8, 0xd8, 0xd0,
						0xd8, 0xc0 };
		unsigned a = g_rn(g, 7);

		x87_reg(g, esc[a], (uint8_t)(base[a] + (a == 6 ? 0 : i)));
		if (a)
			set_depth(g, d - 1);
		CC_ARITH(g);
		break;
	}
	default: { /* fxam; fnstsw ax / m16 with C0-C3 kept; fnstcw */
		static const uint8_t fxam[] = { 0xd9, 0xe5 };
		static const uint8_t sw_ax[] = { 0xdf, 0xe0, 0x66, 0x25, 0x00,
						 0x47 };
		unsigned j = g_rn(g, 4);

		if (g->fundef || j == 0)
			g_bytes(g, fxam, 2, j != 0);
		g->fundef = 0;
		if (j == 1) {
			/* fnstsw ax; and ax, 0x4700: TOP and the exception
			 * flags are not compared (rax keeps TOP at 0 and
			 * models no x87 exceptions: src/cpu/x87.c, README);
			 * after FXAM, C1 is the sign. */
			g_bytes(g, sw_ax, 2, false);
			g_bytes(g, sw_ax + 2, 4, true);
			g_flags(g, F_ARITH & ~F_AF, F_AF);
			g->fundef = FSW_CC;
		} else if (j == 2) {
			struct enc e = { .modrm = true, .nop = 1, .op = { 0xdd },
					 .reg = 7 };
			struct enc a = { .modrm = true, .nop = 1, .op = { 0x81 },
					 .reg = 4, .imm = 0x4700, .nimm = 2 };

			e.e = g_mem(g, 2, 1, 0);
			g_emit(g, &e, false);
			g_pfx(&a, 0x66);
			a.e = e.e;
			if (a.e.target >= DX_DATA &&
			    a.e.target + 2 <= DX_DATA + DX_DATA_SIZE) {
				g_emit(g, &a, true);
				g_flags(g, F_ARITH & ~F_AF, F_AF);
			}
			g->fundef = FSW_CC;
		} else if (j == 3) {
			x87_mem(g, 0xd9, 7, 2);
			g->fundef = FSW_CC;
		}
		break;
	}
	}
}

/* 80-bit values: normal numbers from doubles, zeros, infinities, NaNs,
 * denormals, and the integer-bit-set extremes. */
static void put_f80(struct gen *g, uint8_t *p)
{
	uint64_t m = g_rnd(g) | (1ull << 63);
	unsigned e;

	switch (g_rn(g, 8)) {
	case 0: e = 0; m = g_chance(g, 50) ? 0 : m >> 1; break;
	case 1: e = 0x7fff; m = g_chance(g, 50) ? 1ull << 63 :
				    (3ull << 62) | (m >> 2); break;
	case 2: e = 0x3fff + g_rn(g, 64); m &= ~((1ull << 40) - 1); break;
	default: e = 0x3fff - 40 + g_rn(g, 80); break;
	}
	e |= g_chance(g, 30) ? 0x8000 : 0;
	memcpy(p, &m, 8);
	p[8] = (uint8_t)e;
	p[9] = (uint8_t)(e >> 8);
}

/* FCW 0x37f (all masked, double extended, nearest), TOP 0 with a random
 * depth, MXCSR 0x1f80 with random sticky flags, random XMM. */
void gen_init_fpu(struct gen *g, uint8_t *fx)
{
	unsigned d = g_rn(g, 9);

	memset(fx, 0, 512);
	fx[0] = 0x7f;
	fx[1] = 0x03;
	fx[3] = (uint8_t)(g_rnd(g) & 0x47); /* C0-C3, TOP 0 */
	fx[4] = (uint8_t)((1u << d) - 1);
	for (unsigned i = 0; i < 8; i++)
		if (i < d)
			put_f80(g, fx + 32 + 16 * i);
	fx[24] = (uint8_t)(0x80 | (g_rnd(g) & 0x3f));
	fx[25] = 0x1f;
	for (unsigned i = 0; i < 16; i++) {
		uint8_t *x = fx + 160 + 16 * i;

		for (unsigned j = 0; j < 16; j += 8) {
			uint64_t v;

			switch (g_rn(g, 4)) {
			case 0: v = g_fval(g) | (g_fval(g) << 32); break;
			case 1: v = g_dval(g); break;
			case 2: v = g_ival(g); break;
			default: v = g_rnd(g); break;
			}
			memcpy(x + j, &v, 8);
		}
	}
	g->depth = d;
	g->top_moved = false;
}

/* --- not advertised: the interpreter must raise #UD ----------------------- */

/* Each ends the sequence (ud_tail): the host, which has these
 * extensions, runs up to it.  (The x86-64-v2 instructions are #UD tails
 * of their own families on a v1 model: g_level.)  LZCNT/TZCNT are left out: without ABM
 * their encodings are BSR/BSF.  Also UD2 and LOCK on a register or
 * non-lockable instruction, which raise #UD on both. */
void gen_unadv(struct gen *g)
{
	static const struct { uint8_t b[8]; unsigned n; } t[] = {
		{ { 0x66, 0x0f, 0x38, 0xdc, 0xc1 }, 5 }, /* aesenc (AES) */
		{ { 0x66, 0x0f, 0x3a, 0x44, 0xc1, 0 }, 6 }, /* pclmulqdq */
		{ { 0x66, 0x0f, 0x38, 0xf6, 0xc1 }, 5 }, /* adcx (ADX) */
		{ { 0x0f, 0xc7, 0xf0 }, 3 },             /* rdrand eax */
		{ { 0x0f, 0x01, 0xd0 }, 3 },             /* xgetbv (OSXSAVE) */
	};
	static const struct { uint8_t b[4]; unsigned n; } both[] = {
		{ { 0x0f, 0x0b }, 2 },                   /* ud2 */
		{ { 0xf0, 0x01, 0xc0 }, 3 },             /* lock add eax, eax */
		{ { 0xf0, 0x89, 0xc0 }, 3 },             /* lock mov eax, eax */
	};

	if (g_chance(g, 20)) {
		unsigned k = g_rn(g, sizeof(both) / sizeof(*both));

		g_bytes(g, both[k].b, both[k].n, false);
		g->stop = true; /* nothing after a fault runs */
		return;
	}
	if (g->level < 3 && g_chance(g, 15)) { /* movbe r, m (MOVBE) */
		struct enc e = { .modrm = true, .nop = 3,
				 .op = { 0x0f, 0x38, 0xf0 },
				 .reg = g_gpr(g, 0) };

		e.e = g_mem(g, 4, 1, 0);
		g_emit(g, &e, false);
	} else {
		/* XGETBV runs on a v3 model (CR4.OSXSAVE): the last entry */
		unsigned k = g_rn(g, sizeof(t) / sizeof(*t) -
				  (g->level >= 3));

		g_bytes(g, t[k].b, t[k].n, false);
	}
	g->stop = true;
	g->s->ud_tail = true;
}

/* --- extra: the later SSE2 additions, MXCSR.RC and TF (--family extra) --- */

/* psraw psrad (register, memory and immediate counts), pmaddwd,
 * psadbw, maskmovdqu, cvtdq2pd cvtpd2dq cvttpd2dq, rcpps rcpss rsqrtps
 * rsqrtss (approximations: the SDM bounds their error, so a bit-exact
 * comparison with the host holds only if rax reproduces its tables),
 * MXCSR.RC other than nearest, and RFLAGS.TF (#DB after the next
 * instruction). */
void gen_extra(struct gen *g)
{
	unsigned k = g_rn(g, 8);
	struct enc e;

	switch (k) {
	case 0:
		e = sse(g, 0x66, (uint8_t)(0xe1 + g_rn(g, 2)), 16, 16, 30);
		if (g_chance(g, 40)) {
			e = sse(g, 0x66, (uint8_t)(0x71 + g_rn(g, 2)), 16, 16, 0);
			e.reg = 4;
			e.imm = g_rn(g, 40);
			e.nimm = 1;
		}
		break;
	case 1:
		e = sse(g, 0x66, g_chance(g, 50) ? 0xf5 : 0xf6, 16, 16, 30);
		break;
	case 2: { /* maskmovdqu xmm, xmm: stores to [rdi] */
		e = sse(g, 0x66, 0xf7, 16, 16, 0);
		{
			uint8_t b[10] = { 0x48, 0xbf };
			uint64_t a = DX_DATA + g_rn(g, DX_DATA_SIZE - 16);

			memcpy(b + 2, &a, 8);
			g_bytes(g, b, 10, true);
		}
		break;
	}
	case 3:
		e = sse(g, pfx4[1 + g_rn(g, 3)], 0xe6, 16, 16, 30);
		if (e.pfx[0] == 0xf3 && e.e.kind != M_REG) /* m64 */
			e = sse(g, 0xf3, 0xe6, 8, 1, 100);
		break;
	case 4: {
		unsigned p = g_rn(g, 2);

		e = sse(g, p ? 0xf3 : 0, (uint8_t)(0x52 + g_rn(g, 2)),
			p ? 4 : 16, p ? 1 : 16, 30);
		break;
	}
	case 5: case 6: { /* ldmxcsr with a random RC, then SSE fp */
		uint32_t v = 0x1f80 | (g_rn(g, 4) << 13);
		uint64_t a = DX_DATA + 4 * g_rn(g, DX_DATA_SIZE / 4);
		struct enc l = { .modrm = true, .nop = 2, .op = { 0x0f, 0xae },
				 .reg = 2 };

		memcpy(g->s->in.data + (a - DX_DATA), &v, 4);
		l.e = (struct mop){ .kind = M_ABS, .target = a };
		g_emit(g, &l, true);
		gen_cvt(g);
		gen_sse_fp(g);
		return;
	}
	default: { /* popf with TF: #DB after the next instruction */
		uint8_t b[5] = { 0x68 };
		uint32_t v = 0x102 | (uint32_t)(g_rnd(g) & F_ARITH);

		memcpy(b + 1, &v, 4);
		g_bytes(g, b, 5, true);
		b[0] = 0x9d;
		g_bytes(g, b, 1, false);
		g_flags(g, F_ARITH, 0);
		g_unit(g, DX_FAM_alu);
		g->stop = true;
		return;
	}
	}
	g_emit(g, &e, false);
}

/* --- MMX (advertised; the interpreter raises #UD for MMX-register forms,
 * src/cpu/sse.c): --family mmx ------------------------------------------ */

void gen_mmx(struct gen *g)
{
	static const uint8_t vw[] = {
		0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
		0x6a, 0x6b, 0x74, 0x75, 0x76, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5,
		0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xe3,
		0xe4, 0xe5, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
		0xf1, 0xf2, 0xf3, 0xf4, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd,
		0xfe, 0x6e, 0x7e, 0x6f, 0x7f,
	};
	struct enc e = { .modrm = true, .nop = 2, .op = { 0x0f } };
	unsigned k = g_rn(g, 10);

	/* rax keeps the x87 TOP at 0 and moves the registers on a push
	 * (README, Limitations), so MMn is ST(n) there but R(n) on the
	 * host: the two agree only while TOP is 0.  After an x87 push or
	 * pop, MMX is left out of the sequence (SSE integer instead). */
	if (g->top_moved || g->x87_lost) {
		gen_sse_int(g);
		return;
	}
	if (k == 0) { /* emms */
		static const uint8_t b[] = { 0x0f, 0x77 };

		g_bytes(g, b, 2, false);
		g->depth = 0;
		return;
	}
	e.op[1] = vw[g_rn(g, sizeof(vw))];
	e.reg = g_rn(g, 8);
	if (e.op[1] == 0x6e || e.op[1] == 0x7e)
		e.e = g_rm(g, 4, 0, 40);
	else if (g_chance(g, 30))
		e.e = g_mem(g, 8, 1, 0);
	else
		e.e = g_reg(g_rn(g, 8));
	g_emit(g, &e, false);
	g->depth = 8; /* every tag valid after an MMX instruction */
	g->fundef = FSW_CC;
}

/* --- SSE3 (x86-64-v2): --family sse3 ------------------------------------- */

/* HADDPS/PD HSUBPS/PD ADDSUBPS/PD (F2 singles, 66 doubles), MOVSLDUP
 * MOVSHDUP (m128 aligned), MOVDDUP (m64), LDDQU (m128, any alignment),
 * FISTTP m16/m32/m64 (truncating store and pop).  On a v1 model each
 * is a #UD tail. */
void gen_sse3(struct gen *g)
{
	static const uint8_t fp[] = { 0x7c, 0x7d, 0xd0 };
	unsigned k = g_rn(g, 8), d = x87_depth(g);
	struct enc e;

	if (k == 7 && d >= 1 && !g->x87_lost && !g->m32) { /* fisttp */
		static const uint8_t esc[3] = { 0xdf, 0xdb, 0xdd };
		static const unsigned sz[3] = { 2, 4, 8 };
		unsigned j = g_rn(g, 3);

		x87_mem(g, esc[j], 1, sz[j]);
		g_level(g, 2);
		set_depth(g, d - 1);
		CC_ARITH(g);
		return;
	}
	switch (k) {
	case 0: case 1: case 2: case 3:
		e = sse(g, g_chance(g, 50) ? 0x66 : 0xf2, fp[g_rn(g, 3)], 16,
			16, 30);
		break;
	case 4: /* movsldup / movshdup */
		e = sse(g, 0xf3, g_chance(g, 50) ? 0x12 : 0x16, 16, 16, 30);
		break;
	case 5: /* movddup */
		e = sse(g, 0xf2, 0x12, 8, 1, 40);
		break;
	default: /* lddqu */
		e = sse(g, 0xf2, 0xf0, 16, 1, 100);
		break;
	}
	g_emit(g, &e, false);
	g_level(g, 2);
}

/* --- SSSE3, SSE4.1, SSE4.2 (x86-64-v2): --family ssse3,sse41,sse42 ------- */

/* pfx 0F map op: map 0x38 or 0x3a, E = xmm or memory of msz bytes aligned
 * to align. */
static struct enc sse3b(struct gen *g, uint8_t pfx, uint8_t map, uint8_t op,
			unsigned msz, unsigned align, unsigned pct_mem)
{
	struct enc e = sse(g, pfx, map, msz, align, pct_mem);

	e.op[2] = op;
	e.nop = 3;
	return e;
}

static void imm8(struct enc *e, uint64_t v)
{
	e->imm = v & 0xff;
	e->nimm = 1;
}

/* PSHUFB PHADDW/D/SW PMADDUBSW PHSUBW/D/SW PSIGNB/W/D PMULHRSW PABSB/W/D
 * PALIGNR: the XMM form (66, m128 aligned) and the MMX form (no prefix,
 * m64), the latter only while the x87 TOP is 0 (see gen_mmx). */
void gen_ssse3(struct gen *g)
{
	static const uint8_t ops[] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05,
		0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x1c, 0x1d, 0x1e, 0x0f };
	unsigned k = g_rn(g, sizeof(ops));
	bool mmx = !g->top_moved && !g->x87_lost && !g->m32 &&
		   g_chance(g, 30);
	uint8_t map = ops[k] == 0x0f ? 0x3a : 0x38;
	struct enc e;

	if (mmx) {
		e = sse3b(g, 0, map, ops[k], 8, 1, 30);
		e.reg &= 7;
		if (e.e.kind == M_REG)
			e.e.r &= 7;
	} else {
		e = sse3b(g, 0x66, map, ops[k], 16, 16, 30);
	}
	if (map == 0x3a)
		imm8(&e, g_chance(g, 80) ? g_rn(g, 2 * (mmx ? 8 : 16) + 2) :
		     g_rnd(g));
	g_emit(g, &e, false);
	g_level(g, 2);
	if (mmx) {
		g->depth = 8; /* every tag valid after an MMX instruction */
		g->fundef = FSW_CC;
	}
}

/* SSE4.1: every 66 0F 38 and 66 0F 3A opcode, register and memory forms
 * (m128 aligned; the smaller PMOVSX/ZX, ROUNDSS/SD, INSERTPS, PEXTR*,
 * PINSR* operands unaligned); PEXTRQ/PINSRQ with REX.W. */
void gen_sse41(struct gen *g)
{
	static const uint8_t v38[] = { 0x10, 0x14, 0x15, 0x28, 0x29, 0x2b,
		0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x41 };
	static const uint8_t pmov[] = { 8, 4, 2, 8, 4, 8 };
	static const uint8_t v3a[] = { 0x08, 0x09, 0x0c, 0x0d, 0x0e, 0x40,
		0x41, 0x42 };
	unsigned k = g_rn(g, 10);
	struct enc e;

	switch (k) {
	case 0: case 1:
		e = sse3b(g, 0x66, 0x38, v38[g_rn(g, sizeof(v38))], 16, 16, 30);
		break;
	case 2: { /* pmovsx / pmovzx */
		unsigned j = g_rn(g, 6);

		e = sse3b(g, 0x66, 0x38, (uint8_t)((g_chance(g, 50) ? 0x20 : 0x30) + j),
			  pmov[j], 1, 40);
		break;
	}
	case 3: /* ptest: ZF CF, the others cleared */
		e = sse3b(g, 0x66, 0x38, 0x17, 16, 16, 30);
		g_emit(g, &e, false);
		g_level(g, 2);
		g_flags(g, F_ARITH, 0);
		return;
	case 4: /* movntdqa xmm, m128 */
		e = sse3b(g, 0x66, 0x38, 0x2a, 16, 16, 100);
		break;
	case 5: { /* roundps/pd/ss/sd */
		unsigned j = g_rn(g, 4);

		e = sse3b(g, 0x66, 0x3a, (uint8_t)(0x08 + j), j == 2 ? 4 :
			  j == 3 ? 8 : 16, j >= 2 ? 1 : 16, 30);
		imm8(&e, g_rnd(g));
		break;
	}
	case 6: /* blends, dpps, dppd, mpsadbw */
		e = sse3b(g, 0x66, 0x3a, v3a[g_rn(g, sizeof(v3a))], 16, 16, 30);
		imm8(&e, g_rnd(g));
		break;
	case 7: { /* pextrb/w/d/q, extractps to a GPR or memory */
		static const uint8_t sz[4] = { 1, 2, 4, 4 };
		unsigned j = g_rn(g, 4);

		e = sse3b(g, 0x66, 0x3a, (uint8_t)(0x14 + j), 1, 1, 0);
		e.w = j == 2 && !g->m32 && g_chance(g, 50);
		e.e = g_rm(g, e.w ? 8 : sz[j], 0, 40);
		imm8(&e, g_rnd(g));
		break;
	}
	case 8: { /* pinsrb/d/q from a GPR or memory */
		unsigned j = g_chance(g, 50) ? 0 : 2;

		e = sse3b(g, 0x66, 0x3a, (uint8_t)(0x20 + j), 1, 1, 0);
		e.w = j == 2 && !g->m32 && g_chance(g, 50);
		e.e = g_rm(g, e.w ? 8 : j ? 4 : 1, 0, 40);
		imm8(&e, g_rnd(g));
		break;
	}
	default: /* insertps xmm, xmm/m32 */
		e = sse3b(g, 0x66, 0x3a, 0x21, 4, 1, 40);
		imm8(&e, g_rnd(g));
		break;
	}
	g_emit(g, &e, false);
	g_level(g, 2);
}

/* An explicit string length for PCMPESTRx: small, negative, beyond the
 * element count, or the extremes. */
static uint64_t str_len(struct gen *g)
{
	switch (g_rn(g, 4)) {
	case 0: return g_rn(g, 20);
	case 1: return (uint64_t)-(int64_t)g_rn(g, 20);
	case 2: return g_chance(g, 50) ? 0x80000000ull : 0x8000000000000000ull;
	default: return g_ival(g);
	}
}

/* SSE4.2: PCMPGTQ, PCMPESTRI/ESTRM/ISTRI/ISTRM (every imm8 but the
 * reserved bit 7; xmm/m128 unaligned; strings made short sometimes by a
 * MOVD set-up, which zeroes the upper 12 bytes), CRC32 r32/r64 with
 * r/m8/16/32/64.  The string compares define all six flags. */
void gen_sse42(struct gen *g)
{
	unsigned k = g_rn(g, 6);
	struct enc e;

	if (k == 0) {
		e = sse3b(g, 0x66, 0x38, 0x37, 16, 16, 30);
	} else if (k <= 3) {
		bool expl = g_chance(g, 50);

		e = sse3b(g, 0x66, 0x3a, (uint8_t)((expl ? 0x60 : 0x62) +
						   g_rn(g, 2)), 16, 1, 0);
		if (expl) { /* the lengths first: no address in RAX, RDX */
			g_set_reg(g, 0, str_len(g));
			g_set_reg(g, 2, str_len(g));
		}
		if (g_chance(g, 40))
			e.e = g_mem(g, 16, 1, 0x5);
		for (unsigned i = 0; i < 2; i++) {
			unsigned x = i ? e.reg : e.e.r;
			struct enc m;

			if ((i == 0 && e.e.kind != M_REG) || !g_chance(g, 30))
				continue;
			/* movd xmm, r32: a short string */
			m = (struct enc){ .modrm = true, .nop = 2,
					  .op = { 0x0f, 0x6e }, .reg = x };
			g_pfx(&m, 0x66);
			m.e = g_reg(g_gpr(g, 0x7)); /* not rax rcx rdx */
			g_emit(g, &m, true);
		}
		e.w = expl && !g->m32 && g_chance(g, 30);
		imm8(&e, g_rnd(g) & 0x7f);
		g_emit(g, &e, false);
		g_level(g, 2);
		g_flags(g, F_ARITH, 0);
		return;
	} else {
		unsigned sz = 1 << g_rn(g, g->m32 ? 3 : 4);

		e = (struct enc){ .modrm = true, .nop = 3,
				  .op = { 0x0f, 0x38, sz == 1 ? 0xf0 : 0xf1 } };
		if (sz == 2)
			g_pfx(&e, 0x66);
		g_pfx(&e, 0xf2);
		e.w = sz == 8 || (sz == 1 && !g->m32 && g_chance(g, 30));
		e.reg = g_gpr(g, 0);
		e.e = g_rm(g, sz, 0, 40);
	}
	g_emit(g, &e, false);
	g_level(g, 2);
}

/* --- AVX, AVX2 (x86-64-v3, the part implemented): --family avx ---------- */

/* The VEX forms of the SSE2, SSSE3 and SSE4 packed-integer operations
 * (VEX.128 and VEX.256, second source in VEX.vvvv, memory operands of
 * any alignment), FMA (every form), F16C, VMOVUPS/APS/UPD/APD,
 * VPSHUFD/HW/LW, the shifts by an immediate, VPALIGNR, VMOVD/VMOVQ,
 * VINSERT/VEXTRACT F128/I128, of SQRT ADD MUL SUB MIN DIV MAX
 * (packed and scalar)
 * and the bitwise AND ANDN OR XOR (PS, PD), VPTEST, VPBROADCASTB/W/D/Q,
 * VMOVDQA/VMOVDQU loads and stores, VPMOVMSKB, VZEROUPPER/VZEROALL.
 * The comparison sees the XMM registers, not bits 255:128 of the YMM
 * registers: a unit often stores its YMM result (VMOVDQU) to make them
 * visible, and a sequence's first AVX unit starts with VZEROUPPER (the
 * host's upper halves hold whatever its C code left).  On a model below
 * v3 each is a #UD tail.  The other AVX/AVX2 instructions: gen_avx.c. */
void gen_avx(struct gen *g)
{
	static const uint8_t vw[] = {
		0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
		0x6a, 0x6b, 0x6c, 0x6d, 0x74, 0x75, 0x76, 0xd1, 0xd2, 0xd3,
		0xd4, 0xd5, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
		0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe8, 0xe9, 0xea, 0xeb,
		0xec, 0xed, 0xee, 0xef, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6,
		0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe,
	};
	static const uint8_t cnt[] = { 0xd1, 0xd2, 0xd3, 0xe1, 0xe2, 0xf1,
				       0xf2, 0xf3 };
	static const uint8_t v38[] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05,
		0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x1c, 0x1d, 0x1e, 0x28,
		0x29, 0x2b, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e,
		0x3f, 0x40 };
	static const uint8_t bc[4][2] = { { 0x78, 1 }, { 0x79, 2 },
					  { 0x58, 4 }, { 0x59, 8 } };
	static const uint8_t fp[] = { 0x51, 0x58, 0x59, 0x5c, 0x5d, 0x5e,
				      0x5f, 0x54, 0x55, 0x56, 0x57 };
	unsigned k = g_rn(g, 26), map = 1;
	bool l = g_chance(g, 60);
	struct enc e;

	if (g->level >= 3 && !g->avx_init) {
		static const uint8_t vzu[] = { 0xc5, 0xf8, 0x77 };

		g_bytes(g, vzu, 3, true);
		g->avx_init = true;
	}
	if (g_chance(g, 45)) { /* the rest of AVX/AVX2 (gen_avx.c) */
		gen_avx_rest(g);
		return;
	}
	if (k < 4) {
		uint8_t op = vw[g_rn(g, sizeof(vw))];
		bool c16 = memchr(cnt, op, sizeof(cnt)) != NULL;

		e = sse(g, 0, op, l && !c16 ? 32 : 16, 1, 30);
		e.vvvv = (uint8_t)xmm(g);
		e.vpp = 1;
	} else if (k < 6) { /* the 0F38 map: SSSE3, SSE4 operations */
		uint8_t op = v38[g_rn(g, sizeof(v38))];

		e = sse(g, 0, op, l ? 32 : 16, 1, 30);
		if (op < 0x1c || op > 0x1e) /* VPABSx: vvvv 1111b */
			e.vvvv = (uint8_t)xmm(g);
		e.vpp = 1;
		map = 2;
	} else if (k == 6) { /* vptest: ZF CF, the others cleared */
		e = sse(g, 0, 0x17, l ? 32 : 16, 1, 30);
		e.vpp = 1;
		map = 2;
	} else if (k == 7) { /* vpbroadcastb/w/d/q (AVX2) */
		unsigned j = g_rn(g, 4);

		e = sse(g, 0, bc[j][0], bc[j][1], 1, 40);
		e.vpp = 1;
		map = 2;
	} else if (k == 24) { /* vmovd/vmovq with a GPR or memory */
		e = sse(g, 0, g_chance(g, 50) ? 0x6e : 0x7e, 4, 1, 0);
		e.w = !g->m32 && g_chance(g, 50);
		e.e = g_rm(g, e.w ? 8 : 4, 0, 40);
		e.vpp = 1;
		l = false;
	} else if (k == 25) { /* vmovq xmm, xmm/m64 and back */
		bool ld = g_chance(g, 50);

		e = sse(g, 0, ld ? 0x7e : 0xd6, 8, 1, 40);
		e.vpp = ld ? 2 : 1;
		l = false;
	} else if (k == 21) { /* vpshufd / vpshufhw / vpshuflw */
		e = sse(g, 0, 0x70, l ? 32 : 16, 1, 30);
		e.vpp = (uint8_t)(1 + g_rn(g, 3));
		e.imm = g_rnd(g) & 0xff;
		e.nimm = 1;
	} else if (k == 22) { /* shifts by an immediate into vvvv */
		static const uint8_t sh[][2] = { { 0x71, 2 }, { 0x71, 4 },
			{ 0x71, 6 }, { 0x72, 2 }, { 0x72, 4 }, { 0x72, 6 },
			{ 0x73, 2 }, { 0x73, 3 }, { 0x73, 6 }, { 0x73, 7 } };
		unsigned j = g_rn(g, 10);

		e = sse(g, 0, sh[j][0], 16, 16, 0);
		e.reg = sh[j][1];
		e.vvvv = (uint8_t)xmm(g);
		e.vpp = 1;
		e.imm = g_chance(g, 70) ? g_rn(g, 20) : g_rn(g, 256);
		e.nimm = 1;
	} else if (k == 23) { /* vpalignr */
		e = sse(g, 0, 0x0f, l ? 32 : 16, 1, 30);
		e.vvvv = (uint8_t)xmm(g);
		e.vpp = 1;
		e.imm = g_chance(g, 80) ? g_rn(g, 34) : g_rnd(g) & 0xff;
		e.nimm = 1;
		map = 3;
	} else if (k == 19) { /* vmovups/upd (any alignment), vmovaps/apd */
		static const uint8_t mv[4] = { 0x10, 0x11, 0x28, 0x29 };
		unsigned j = g_rn(g, 4);

		e = sse(g, 0, mv[j], l ? 32 : 16, j >= 2 ? (l ? 32 : 16) : 1,
			60);
		e.vpp = (uint8_t)g_rn(g, 2);
	} else if (k == 20) { /* vinsert/vextract f128/i128 (VEX.256) */
		static const uint8_t ie[4] = { 0x18, 0x38, 0x19, 0x39 };
		unsigned j = g_rn(g, 4);

		e = sse(g, 0, ie[j], 16, 1, 40);
		if (j < 2)
			e.vvvv = (uint8_t)xmm(g);
		e.vpp = 1;
		e.imm = g_rnd(g) & 0xff;
		e.nimm = 1;
		map = 3;
		l = true;
	} else if (k == 17) { /* vcvtph2ps (F16C) */
		e = sse(g, 0, 0x13, l ? 16 : 8, 1, 40);
		e.vpp = 1;
		map = 2;
	} else if (k == 18) { /* vcvtps2ph xmm/m, x/ymm, imm8 (F16C) */
		e = sse(g, 0, 0x1d, l ? 16 : 8, 1, 40);
		e.vpp = 1;
		e.imm = g_rnd(g) & 0xff;
		e.nimm = 1;
		map = 3;
	} else if (k >= 15) { /* FMA: 132 213 231, packed and scalar */
		unsigned lo = 6 + g_rn(g, 10), w = g_rn(g, 2);
		bool sc = lo >= 8 && (lo & 1);

		e = sse(g, 0, (uint8_t)((0x9 + g_rn(g, 3)) << 4 | lo),
			sc ? (w ? 8 : 4) : l ? 32 : 16, 1, 30);
		e.vvvv = (uint8_t)xmm(g);
		e.vpp = 1;
		e.w = w;
		map = 2;
		if (sc)
			l = g_chance(g, 50); /* VEX.LIG */
	} else if (k >= 13) { /* floating point: packed and scalar */
		unsigned j = g_rn(g, sizeof(fp)), p = g_rn(g, j >= 7 ? 2 : 4);
		static const unsigned msz[4] = { 16, 16, 4, 8 };

		e = sse(g, 0, fp[j], p < 2 && l ? 32 : msz[p], 1, 30);
		if (fp[j] != 0x51 || p >= 2) /* VSQRTPx: vvvv 1111b */
			e.vvvv = (uint8_t)xmm(g);
		e.vpp = (uint8_t)p;
		if (p >= 2)
			l = g_chance(g, 50); /* VEX.LIG */
	} else if (k < 10) { /* vmovdqa / vmovdqu, load or store */
		bool a = g_chance(g, 40);

		e = sse(g, 0, g_chance(g, 50) ? 0x6f : 0x7f, l ? 32 : 16,
			a ? (l ? 32 : 16) : 1, 60);
		e.vpp = a ? 1 : 2;
	} else if (k == 10) { /* vpmovmskb r32, xmm/ymm */
		e = sse(g, 0, 0xd7, 16, 16, 0);
		e.reg = g_gpr(g, 0);
		e.vpp = 1;
	} else { /* vzeroupper / vzeroall */
		static const uint8_t vz[2][3] = { { 0xc5, 0xf8, 0x77 },
						  { 0xc5, 0xfc, 0x77 } };

		g_bytes(g, vz[l], 3, false);
		g_level(g, 3);
		return;
	}
	e.nop = 1;
	e.op[0] = e.op[1];
	e.vex = true;
	e.vmap = (uint8_t)map;
	e.vl = l;
	g_emit(g, &e, false);
	g_level(g, 3);
	if (map == 2 && e.op[0] == 0x17) {
		g_flags(g, F_ARITH, 0);
		return;
	}
	if (map == 3 && (e.op[0] == 0x18 || e.op[0] == 0x38 ||
			 e.op[0] == 0x0f))
		map = 2; /* VINSERTx128, VPALIGNR: a YMM result worth a store */
	if (map == 1 && e.op[0] >= 0x71 && e.op[0] <= 0x73) {
		if (g->stop || !l || !g_chance(g, 50))
			return;
		e.reg = e.vvvv; /* the result is in vvvv: store it */
		e.op[0] = 0x6f;
	}
	if (g->stop || !l || map == 3 || (map == 1 && e.op[0] == 0xd7) ||
	    (map == 1 && (e.op[0] == 0x11 || e.op[0] == 0x29) &&
	     e.e.kind != M_REG) ||
	    (map == 1 && e.vpp >= 2 && e.op[0] >= 0x51 && e.op[0] <= 0x5f) ||
	    (map == 2 && (e.op[0] & 0x0f) >= 8 && (e.op[0] & 1)) ||
	    (map == 1 && e.op[0] == 0x7f && e.e.kind != M_REG) ||
	    !g_chance(g, 50))
		return;
	/* vmovdqu [m256], ymm: the result's upper half into memory */
	{
		struct enc st = { .modrm = true, .nop = 1, .op = { 0x7f },
				  .vex = true, .vmap = 1, .vpp = 2, .vl = 1 };

		st.reg = map == 1 && (e.op[0] == 0x7f || e.op[0] == 0x11 ||
				      e.op[0] == 0x29) ? e.e.r : e.reg;
		st.e = g_mem(g, 32, 1, 0);
		g_emit(g, &st, false);
	}
}
