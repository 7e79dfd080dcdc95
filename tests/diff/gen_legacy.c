/* Generator family "legacy": the instructions invalid in 64-bit mode,
 * generated for 32-bit code only (--mode 32, the host's compatibility
 * mode).  Flags as SDM Vol. 2 gives them for each (cited below); the
 * segment registers loaded are only the host's user selectors (0x23
 * code, 0x2b data) and null, whose descriptors both sides have. */
#include "gen.h"

/* A selector both GDTs agree on: null, __USER32_CS or __USER_DS. */
static uint16_t pick_sel(struct gen *g)
{
	static const uint16_t sel[] = { 0, 0x23, 0x2b, 0x2b };

	return sel[g_rn(g, 4)];
}

/* A 32-bit push of a segment register writes only the low 16 bits of its
 * slot on recent Intel processors and zero-extends elsewhere (SDM Vol. 2
 * PUSH); zeroing the slot first makes both the same: push 0; add esp, 4
 * (set-up). */
static void zero_next_slot(struct gen *g)
{
	static const uint8_t b[] = { 0x6a, 0x00, 0x83, 0xc4, 0x04 };

	g_bytes(g, b, 2, true);
	g_bytes(g, b + 2, 3, true);
	g_flags(g, F_ARITH, 0);
}

/* mov word [target], v (set-up). */
static void store16(struct gen *g, uint64_t target, uint16_t v)
{
	struct enc e = { .modrm = true, .nop = 1, .op = { 0xc7 },
			 .e = { .kind = M_ABS, .target = target },
			 .imm = v, .nimm = 2 };

	g_opsize(&e, 2);
	g_emit(g, &e, true);
}

/* DAA DAS (SDM: OF undefined), AAA AAS (OF SF ZF PF undefined), AAM
 * (OF AF CF undefined, #DE for 0), AAD (OF AF CF undefined), SALC
 * (flags unaffected). */
static void gen_bcd(struct gen *g)
{
	static const uint8_t ops[] = { 0x27, 0x2f, 0x37, 0x3f, 0xd4, 0xd5,
				       0xd6 };
	unsigned k = g_rn(g, sizeof(ops));
	uint8_t b[2] = { ops[k], (uint8_t)(g_chance(g, 70) ? 10 : g_rn(g, 256)) };

	if (k < 4)
		g_need(g, F_AF | F_CF);
	if (ops[k] == 0xd6)
		g_need(g, F_CF);
	g_bytes(g, b, k == 4 || k == 5 ? 2 : 1, false);
	if (k < 2)
		g_flags(g, F_ARITH & ~F_OF, F_OF);
	else if (k < 4)
		g_flags(g, F_AF | F_CF, F_OF | F_SF | F_ZF | F_PF);
	else if (k < 6)
		g_flags(g, F_SF | F_ZF | F_PF, F_OF | F_AF | F_CF);
}

void gen_legacy(struct gen *g)
{
	unsigned k = g_rn(g, 9), r = g_gpr(g, 0);
	struct enc e = { .modrm = true, .nop = 1 };
	uint8_t b[8];
	unsigned n = 0;

	if (!g->m32)
		return;
	switch (k) {
	case 0: /* INC/DEC r16/r32 (40-4F): CF unaffected */
		if (g_chance(g, 30))
			b[n++] = 0x66;
		b[n++] = (uint8_t)((g_chance(g, 50) ? 0x40 : 0x48) + r);
		g_bytes(g, b, n, false);
		g_flags(g, F_ARITH & ~F_CF, 0);
		return;
	case 1: /* PUSHA/POPA, 16- or 32-bit: POPA skips (E)SP */
		if (g_chance(g, 30))
			b[n++] = 0x66;
		b[n++] = g_chance(g, 50) ? 0x60 : 0x61;
		g_bytes(g, b, n, false);
		return;
	case 2:
		gen_bcd(g);
		return;
	case 3: { /* BOUND r, m16&16/m32&32: #BR (a fault) when outside */
		unsigned sz = g_chance(g, 30) ? 2 : 4;

		g_opsize(&e, sz);
		e.op[0] = 0x62;
		e.reg = r;
		e.e = g_mem(g, 2 * sz, 1, 1u << r);
		break;
	}
	case 4: { /* PUSH/POP ES DS (and SS): the selectors pick_sel gives */
		static const uint8_t push[] = { 0x06, 0x1e, 0x16 };
		static const uint8_t pop[] = { 0x07, 0x1f };
		unsigned s = g_rn(g, 3);

		if (g_chance(g, 50)) {
			b[n++] = 0x68; /* push imm32: the selector */
			n += g_put_le(b + n, pick_sel(g), 4);
			g_bytes(g, b, n, true);
			b[0] = pop[s % 2];
		} else {
			zero_next_slot(g);
			b[0] = push[s];
		}
		g_bytes(g, b, 1, false);
		return;
	}
	case 5: { /* LES/LDS r32, m16:32 with a selector from pick_sel */
		e.op[0] = g_chance(g, 50) ? 0xc4 : 0xc5;
		e.reg = r;
		e.e = g_mem(g, 6, 1, 1u << r);
		if (e.e.target >= DX_DATA &&
		    e.e.target + 6 <= DX_DATA + DX_DATA_SIZE)
			store16(g, e.e.target + 4, pick_sel(g));
		break;
	}
	case 6: /* ARPL Ew, Gw: ZF only */
		e.op[0] = 0x63;
		e.reg = r;
		e.e = g_rm(g, 2, 0, 40);
		g_emit(g, &e, false);
		g_flags(g, F_ZF, 0);
		return;
	case 7: { /* CALL FAR 0x23:next, then pop EIP and CS */
		unsigned at;

		zero_next_slot(g); /* CS's slot */
		b[0] = 0x9a;
		g_bytes(g, b, 7, false);
		at = g->s->len;
		g_put_le(g->s->code + at - 6, DX_SEQ + at, 4);
		g_put_le(g->s->code + at - 2, 0x23, 2);
		e = (struct enc){ .nop = 1, .op = { 0x58 }, .reg = r };
		g_emit(g, &e, false);
		e.reg = g_gpr(g, 1u << r);
		g_emit(g, &e, false);
		return;
	}
	default: /* INTO: #OF (a trap) when OF is set */
		g_need(g, F_OF);
		b[0] = 0xce;
		g_bytes(g, b, 1, false);
		return;
	}
	g_emit(g, &e, false);
}
