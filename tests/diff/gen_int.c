/* Generator families for the integer instructions (gen.c holds the
 * state, the encoder and the flags bookkeeping they use). */
#include "gen.h"

#include <string.h>

static unsigned pick_size(struct gen *g)
{
	static const unsigned sz[] = { 1, 2, 4, 8 };

	return sz[g_rn(g, g->m32 ? 3 : 4)];
}

/* Byte operations: without REX, registers 4-7 are AH CH DH BH and no
 * register may be 8-15 (memory operands included). */
static unsigned byte_avoid(struct gen *g, struct enc *e, unsigned sz)
{
	if (sz != 1)
		return 0;
	if (g_chance(g, 50) && !g->m32) {
		e->rex = true;
		return 1u << 4; /* SPL would change RSP */
	}
	return 0xff00;
}

/* Condition codes and the flags they read (SDM Vol. 1 Table B-1). */
static const uint64_t cc_reads[16] = {
	F_OF, F_OF, F_CF, F_CF, F_ZF, F_ZF, F_CF | F_ZF, F_CF | F_ZF,
	F_SF, F_SF, F_PF, F_PF, F_SF | F_OF, F_SF | F_OF,
	F_ZF | F_SF | F_OF, F_ZF | F_SF | F_OF,
};

/* --- integer families ----------------------------------------------------- */

/* ADD OR ADC SBB AND SUB XOR CMP and TEST in every form.  SDM: the
 * arithmetic ones define all six flags; AND OR XOR TEST clear OF and CF,
 * set SF ZF PF and leave AF undefined. */
void gen_alu(struct gen *g)
{
	unsigned op = g_rn(g, 9), form = g_rn(g, 6), sz = pick_size(g);
	struct enc e = { .modrm = true };
	unsigned avoid = byte_avoid(g, &e, sz);
	bool logic = op == 1 || op == 4 || op == 6 || op == 8;
	bool byte = sz == 1;
	bool lock = op < 7 && (form == 0 || form >= 3) && g_chance(g, 10);

	g_opsize(&e, sz);
	if (op == 2 || op == 3)
		g_need(g, F_CF);
	e.reg = g_gpr(g, avoid);
	g->nosplit = lock;
	if (op == 8) { /* TEST */
		static const uint8_t t[3][2] = { { 0x84, 0x85 }, { 0xf6, 0xf7 },
						 { 0xa8, 0xa9 } };
		form %= 3;
		e.op[0] = t[form][!byte];
		e.nop = 1;
		if (form == 2) {
			e.modrm = false;
			e.reg = 0;
		} else {
			if (form == 1)
				e.reg = 0;
			e.e = g_rm(g, sz, avoid, 40);
		}
		if (form)
			e.nimm = sz == 8 ? 4 : sz;
	} else {
		e.op[0] = (uint8_t)(form < 3 ? op * 8 + (form == 1 ? 2 : 0) +
				    (form == 2 ? 4 : 0) + !byte :
				    form == 3 ? 0x80 + !byte : 0x83);
		if (form >= 4 && byte)
			e.op[0] = 0x80; /* 83 has no byte form */
		e.nop = 1;
		if (form >= 3)
			e.reg = op;
		if (form == 2) {
			e.modrm = false;
			e.reg = 0;
		} else {
			e.e = g_rm(g, sz, avoid, 40);
		}
		if (form == 2 || form == 3)
			e.nimm = sz == 8 ? 4 : sz;
		else if (form == 4 || form == 5)
			e.nimm = 1;
		if (form == 4 && !byte) {
			e.op[0] = 0x81;
			e.nimm = sz == 8 ? 4 : sz;
		}
		if (e.e.kind != M_REG && lock)
			g_pfx(&e, 0xf0); /* LOCK */
	}
	e.imm = g_ival(g);
	g_emit(g, &e, false);
	if (logic)
		g_flags(g, F_ARITH & ~F_AF, F_AF);
	else
		g_flags(g, F_ARITH, 0);
}

/* INC DEC (CF unaffected), NEG (all six), NOT (none). */
void gen_incdec(struct gen *g)
{
	unsigned op = g_rn(g, 4), sz = pick_size(g);
	struct enc e = { .modrm = true, .nop = 1 };
	unsigned avoid = byte_avoid(g, &e, sz);
	bool lock = g_chance(g, 10);

	g_opsize(&e, sz);
	e.op[0] = op < 2 ? (sz == 1 ? 0xfe : 0xff) : (sz == 1 ? 0xf6 : 0xf7);
	e.reg = op;  /* /0 inc /1 dec /2 not /3 neg */
	g->nosplit = lock;
	e.e = g_rm(g, sz, avoid, 40);
	if (e.e.kind != M_REG && lock)
		g_pfx(&e, 0xf0);
	g_emit(g, &e, false);
	if (op < 2)
		g_flags(g, F_ARITH & ~F_CF, 0);
	else if (op == 3)
		g_flags(g, F_ARITH, 0);
}

/* A shift count: the boundaries of every operand size, or any byte. */
static unsigned pick_count(struct gen *g)
{
	static const unsigned c[] = { 0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32,
				      33, 63, 64, 65, 255 };

	return g_chance(g, 60) ? c[g_rn(g, 16)] : g_rn(g, 256);
}

/* Shifts and rotates (SDM Vol. 2 SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR):
 * the count is masked to 5 bits (6 with REX.W); a masked count of 0
 * affects no flag; OF is defined only for a masked count of 1; SHL/SHR/
 * SAR leave AF undefined and SHL/SHR leave CF undefined for counts of
 * the operand size or more; rotates affect only CF and OF. */
static void shift_grp2(struct gen *g)
{
	unsigned sz = pick_size(g), bits = 8 * sz, form = g_rn(g, 3);
	unsigned op = g_rn(g, 7), cnt = form == 0 ? 1 : pick_count(g);
	unsigned masked = cnt & (sz == 8 ? 63 : 31);
	struct enc e = { .modrm = true, .nop = 1 };
	unsigned avoid = byte_avoid(g, &e, sz) | (form == 2 ? 2 : 0);
	uint64_t def = 0, undef = 0;

	if (op == 6)
		op = 7; /* /6 is not documented */
	g_opsize(&e, sz);
	if (op == 2 || op == 3)
		g_need(g, F_CF);
	e.reg = op;
	e.e = g_rm(g, sz, avoid, 40);
	if (form == 2) { /* mov cl, count */
		uint8_t b[2] = { 0xb1, (uint8_t)cnt };

		g_bytes(g, b, 2, true);
	}
	e.op[0] = (uint8_t)((form == 0 ? 0xd0 : form == 1 ? 0xc0 : 0xd2) +
			    (sz != 1));
	if (form == 1) {
		e.imm = cnt;
		e.nimm = 1;
	}
	g_emit(g, &e, false);
	if (masked == 0)
		return;
	if (op >= 4) {
		bool cf_undef = op != 7 && masked >= bits;

		def = F_SF | F_ZF | F_PF | (cf_undef ? 0 : F_CF) |
		      (masked == 1 ? F_OF : 0);
		undef = F_AF | (masked == 1 ? 0 : F_OF) | (cf_undef ? F_CF : 0);
	} else {
		def = F_CF | (masked == 1 ? F_OF : 0);
		undef = masked == 1 ? 0 : F_OF;
	}
	g_flags(g, def, undef);
}

/* SHLD/SHRD (SDM Vol. 2): count masked to 5 bits (6 with REX.W); 0
 * affects nothing; a count above the operand size leaves the result
 * undefined (not generated); OF only for 1; AF undefined. */
static void shift_xd(struct gen *g)
{
	unsigned sz = 2 << g_rn(g, g->m32 ? 2 : 3), form = g_rn(g, 2);
	unsigned cnt = pick_count(g), masked;
	struct enc e = { .modrm = true, .nop = 2, .op = { 0x0f } };
	unsigned avoid = form ? 2 : 0;

	if (sz == 2)
		while ((cnt & 31) > 16)
			cnt = g_rn(g, 256);
	masked = cnt & (sz == 8 ? 63 : 31);
	g_opsize(&e, sz);
	e.op[1] = (uint8_t)((g_chance(g, 50) ? 0xa4 : 0xac) + form);
	e.reg = g_gpr(g, avoid);
	e.e = g_rm(g, sz, avoid, 40);
	if (form) {
		uint8_t b[2] = { 0xb1, (uint8_t)cnt };

		g_bytes(g, b, 2, true);
	} else {
		e.imm = cnt;
		e.nimm = 1;
	}
	g_emit(g, &e, false);
	if (masked)
		g_flags(g, F_CF | F_SF | F_ZF | F_PF | (masked == 1 ? F_OF : 0),
			F_AF | (masked == 1 ? 0 : F_OF));
}

/* MUL/IMUL: CF OF defined, SF ZF AF PF undefined.  DIV/IDIV: all six
 * undefined; #DE on a zero divisor or a quotient too large.  The set-up
 * (zero or sign-extend the high half) makes most divisions succeed. */
void gen_muldiv(struct gen *g)
{
	unsigned op = g_rn(g, 7), sz = pick_size(g);
	struct enc e = { .modrm = true, .nop = 1 };
	unsigned avoid = byte_avoid(g, &e, sz) | 5; /* RAX RDX */

	g_opsize(&e, sz);
	if (op >= 4 && sz == 1)
		sz = 4, e.w = false; /* no byte form of these */
	switch (op) {
	case 0: case 1: case 2: case 3: /* mul imul div idiv */
		e.op[0] = sz == 1 ? 0xf6 : 0xf7;
		e.reg = 4 + op;
		e.e = g_rm(g, sz, avoid, 40);
		if (op >= 2 && g_chance(g, 80)) {
			static const uint8_t zx8[] = { 0x0f, 0xb6, 0xc0 };
			static const uint8_t xd[] = { 0x31, 0xd2 };
			uint8_t sx[2] = { sz == 8 ? 0x48 : 0x66, sz == 1 ? 0x98 : 0x99 };

			if (op == 2)
				g_bytes(g, sz == 1 ? zx8 : xd, sz == 1 ? 3 : 2, true);
			else if (sz == 4)
				g_bytes(g, sx + 1, 1, true);
			else
				g_bytes(g, sx, 2, true);
		}
		break;
	case 4: /* imul Gv, Ev */
		e.op[0] = 0x0f;
		e.op[1] = 0xaf;
		e.nop = 2;
		e.reg = g_gpr(g, 0);
		e.e = g_rm(g, sz, 0, 40);
		break;
	default: /* imul Gv, Ev, Ib/Iz */
		e.op[0] = op == 5 ? 0x6b : 0x69;
		e.reg = g_gpr(g, 0);
		e.e = g_rm(g, sz, 0, 40);
		e.imm = g_ival(g);
		e.nimm = op == 5 ? 1 : sz == 2 ? 2 : 4;
		break;
	}
	g_emit(g, &e, false);
	if (op == 2 || op == 3)
		g_flags(g, 0, F_ARITH);
	else
		g_flags(g, F_CF | F_OF, F_SF | F_ZF | F_AF | F_PF);
}

/* CLC STC CMC LAHF SAHF PUSHF POPF CLD STD.  POPF at CPL 3 pops a value
 * with random status flags, DF, NT, ID, IOPL/IF (ignored at CPL 3 with
 * IOPL 0) and reserved bits; TF and AC are left clear. */
void gen_flagops(struct gen *g)
{
	static const uint8_t ops[] = { 0xf8, 0xf9, 0xf5, 0x9f, 0x9e, 0x9c,
				       0x9d, 0xfc, 0xfd };
	unsigned k = g_rn(g, sizeof(ops));
	uint8_t b[6];

	switch (ops[k]) {
	case 0xf5: g_need(g, F_CF); break;
	case 0x9f: g_need(g, F_ARITH & ~F_OF); break;
	case 0x9c: g_need(g, F_ARITH); break;
	case 0x9d: {
		uint32_t v = (uint32_t)(g_rnd(g) & (F_ARITH | 0x400 | 0x4000 |
				0x200000 | 0x3200 | 0x8028));

		b[0] = 0x68;
		g_put_le(b + 1, v, 4);
		g_bytes(g, b, 5, true);
		break;
	}
	}
	b[0] = 0x66;
	b[1] = ops[k];
	if ((ops[k] == 0x9c || ops[k] == 0x9d) && g_chance(g, 10))
		g_bytes(g, b, 2, false);
	else
		g_bytes(g, b + 1, 1, false);
	if ((ops[k] == 0x9e || ops[k] == 0x9f) && !g->m32)
		g_level(g, 2); /* LAHF-SAHF in 64-bit mode */
	if (ops[k] == 0xf8 || ops[k] == 0xf9 || ops[k] == 0xf5)
		g_flags(g, F_CF, 0);
	else if (ops[k] == 0x9e)
		g_flags(g, F_ARITH & ~F_OF, 0);
	else if (ops[k] == 0x9d)
		g_flags(g, F_ARITH, 0);
}

/* After a 67h REP string instruction (see gen_string): bits 63:32 of
 * RCX and of the index registers op uses, at a fault before the first
 * iteration completes, and after it with ECX = 0 until MOV r32, r32 (a
 * set-up) writes them zero-extended. */
static void upper_undefined(struct gen *g, uint8_t op, unsigned cnt)
{
	static const uint8_t regs[] = { 1, 6, 7 }; /* RCX RSI RDI */
	uint16_t used = 1u << 1;

	if (op != 0xaa && op != 0xae) /* MOVS CMPS LODS read [RSI] */
		used |= 1u << 6;
	if (op != 0xac)               /* MOVS CMPS STOS SCAS: [RDI] */
		used |= 1u << 7;
	g->s->insn[g->s->n - 1].undef_hi |= used;
	if (cnt)
		return;
	g->uhi |= used;
	for (unsigned i = 0; i < sizeof(regs); i++) {
		uint8_t b[2] = { 0x89, (uint8_t)(0xc0 | regs[i] << 3 | regs[i]) };

		if (used & (1u << regs[i]))
			g_bytes(g, b, 2, true);
		g->uhi &= (uint16_t)~(1u << regs[i]);
	}
}

/* MOVS CMPS STOS LODS SCAS with REP/REPE/REPNE, DF 0 and 1, 64- and
 * 32-bit addressing.  CMPS/SCAS define the six flags like SUB when they
 * run at least once; with a count of 0 nothing changes.
 *
 * REP with a 32-bit address size (67h) that completes no iteration
 * (ECX = 0, or a fault in the first): the SDM's REP pseudocode (Vol. 2B
 * "REP/REPE/REPZ/REPNE/REPNZ": WHILE CountReg != 0) and the APM's
 * (Vol. 3 "REP") write the count and index registers only per
 * iteration, as 32-bit registers, and say nothing of bits 63:32 of RCX,
 * RSI and RDI when none completes.  Hosts differ: Intel CPUs clear bits
 * 63:32 of RCX, and of RSI/RDI for MOVS and STOS (Linux's KVM emulator
 * calls it Intel-specific and non-architectural in
 * string_registers_quirk()); an AMD EPYC leaves all three as they were.
 * So those upper halves (RCX and the index registers the instruction
 * uses) are undefined there: masked in the comparison (upper_undefined)
 * like undefined flags. */
void gen_string(struct gen *g)
{
	static const uint8_t ops[] = { 0xa4, 0xa6, 0xaa, 0xac, 0xae };
	unsigned k = g_rn(g, 5), sz = pick_size(g), cnt = g_rn(g, 14);
	bool rep = g_chance(g, 70), df = g_chance(g, 30);
	bool a32 = !g->m32 && g_chance(g, 15); /* 67h: 16-bit in 32-bit code */
	bool cmp = ops[k] == 0xa6 || ops[k] == 0xae;
	uint64_t span = (uint64_t)sz * (rep ? cnt : 1), src = 0, dst = 0;
	uint8_t b[8];
	unsigned n = 0;

	b[0] = df ? 0xfd : 0xfc;
	g_bytes(g, b, 1, true);
	for (int i = 0; i < 2; i++) {
		uint64_t a = DX_DATA + g_rn(g, DX_DATA_SIZE - (unsigned)span + 1);

		if (g_chance(g, 5)) /* run into a guard page part way */
			a = df ? DX_DATA + g_rn(g, (unsigned)span + 1) :
			    DX_DATA + DX_DATA_SIZE - g_rn(g, (unsigned)span + 1);
		if (df)
			a += span - sz;
		if (i == 0)
			src = a;
		else
			dst = a;
	}
	if (g_chance(g, 15)) { /* overlapping by less than an element or so */
		dst = src + g_rn(g, 33) - 16;
		if (dst < DX_DATA || dst + span > DX_DATA + DX_DATA_SIZE)
			dst = src;
	}
	g_set_reg(g, 6, a32 ? src | (g_rnd(g) << 32) : src);
	g_set_reg(g, 7, a32 ? dst | (g_rnd(g) << 32) : dst);
	if (rep)
		g_set_reg(g, 1, a32 ? cnt | (g_rnd(g) << 32) : cnt);
	if (a32)
		b[n++] = 0x67;
	if (rep)
		b[n++] = cmp && g_chance(g, 50) ? 0xf2 : 0xf3;
	if (sz == 2)
		b[n++] = 0x66;
	if (sz == 8)
		b[n++] = 0x48;
	b[n++] = (uint8_t)(ops[k] + (sz != 1));
	g_bytes(g, b, n, false);
	/* A fault part way through REP CMPS/SCAS: the host reports the
	 * flags from before the instruction although iterations completed;
	 * the SDM does not say which, so they are not compared there. */
	if (cmp && rep)
		g->s->insn[g->s->n - 1].undef_flags |= F_ARITH;
	if (cmp && (!rep || cnt))
		g_flags(g, F_ARITH, 0);
	if (rep && a32)
		upper_undefined(g, ops[k], cnt);
}

/* BT BTS BTR BTC (CF = the bit; ZF unaffected; OF SF AF PF undefined),
 * with register bit offsets reaching beyond the operand for the memory
 * form; BSF/BSR (ZF defined, the others undefined; the source is made
 * nonzero first, as the destination is undefined for 0); POPCNT (all
 * six defined). */
void gen_bit(struct gen *g)
{
	unsigned k = g_rn(g, 4), sz = 2 << g_rn(g, g->m32 ? 2 : 3);
	unsigned op = g_rn(g, 4);
	struct enc e = { .modrm = true, .nop = 2, .op = { 0x0f } };

	g_opsize(&e, sz);
	g->nosplit = true; /* maybe LOCKed below */
	if (k == 0) { /* bt* Ev, Gv */
		e.op[1] = (uint8_t)(0xa3 + 8 * op);
		e.reg = g_gpr(g, 0);
		if (g_chance(g, 50)) {
			/* The bit offset register reaches the target from a
			 * base near the middle of the data (or, for a target
			 * in a guard page, stays within its operand). */
			int64_t t = (int64_t)(DX_DATA + 0x1000), off;

			e.e = g_mem(g, sz, sz, 1u << e.reg);
			off = (int64_t)g_rn(g, 8 * sz);
			if (e.e.target >= DX_DATA &&
			    e.e.target < DX_DATA + DX_DATA_SIZE) {
				off = (t - (int64_t)e.e.target) * 8 +
				      (int64_t)g_rn(g, 2048 * 8) - 1024 * 8;
				if (sz == 2 && (off < -32768 || off > 32767))
					off = (int64_t)g_rn(g, 4096) - 2048;
			}
			g_set_reg(g, e.reg, (uint64_t)off);
		} else {
			e.e = g_reg(g_gpr(g, 0));
		}
	} else if (k == 1) { /* bt* Ev, Ib */
		e.op[1] = 0xba;
		e.reg = 4 + op;
		e.e = g_rm(g, sz, 0, 40);
		e.imm = g_rn(g, 256);
		e.nimm = 1;
	} else if (k == 2) { /* bsf/bsr */
		struct enc s = { .modrm = true, .nop = 2, .op = { 0x0f, 0xba },
				 .reg = 5, .nimm = 1 };

		e.op[1] = g_chance(g, 50) ? 0xbc : 0xbd;
		e.reg = g_gpr(g, 0);
		e.e = g_rm(g, sz, 0, 40);
		g_opsize(&s, sz);
		s.e = e.e;
		s.imm = g_rn(g, 8 * sz);
		g_emit(g, &s, true); /* bts src, k: nonzero source */
	} else { /* popcnt */
		g_pfx(&e, 0xf3);
		e.op[1] = 0xb8;
		e.reg = g_gpr(g, 0);
		e.e = g_rm(g, sz, 0, 40);
	}
	g->nosplit = false;
	if (k < 2 && op && e.e.kind != M_REG && g_chance(g, 10)) {
		memmove(e.pfx + 1, e.pfx, e.npfx);
		e.pfx[0] = 0xf0;
		e.npfx++;
	}
	g_emit(g, &e, false);
	if (k == 3)
		g_level(g, 2); /* POPCNT */
	if (k < 2)
		g_flags(g, F_CF, F_OF | F_SF | F_AF | F_PF);
	else if (k == 2)
		g_flags(g, F_ZF, F_CF | F_OF | F_SF | F_AF | F_PF);
	else
		g_flags(g, F_ARITH, 0);
}


/* CMOVcc (the memory source is read whatever the condition; a 32-bit
 * destination is zero-extended either way), SETcc, and forward Jcc/JMP/
 * JRCXZ/LOOPcc over the next units: the flags undefined at the target
 * are those undefined on either path. */
void gen_cond(struct gen *g)
{
	unsigned k = g_rn(g, 3), cc = g_rn(g, 16);
	struct enc e = { .modrm = true, .nop = 2, .op = { 0x0f } };

	if (k == 0) {
		unsigned sz = 2 << g_rn(g, g->m32 ? 2 : 3);

		g_need(g, cc_reads[cc]);
		g_opsize(&e, sz);
		e.op[1] = (uint8_t)(0x40 + cc);
		e.reg = g_gpr(g, 0);
		e.e = g_rm(g, sz, 0, 40);
		g_emit(g, &e, false);
	} else if (k == 1) {
		unsigned avoid = byte_avoid(g, &e, 1);

		g_need(g, cc_reads[cc]);
		e.op[1] = (uint8_t)(0x90 + cc);
		e.e = g_rm(g, 1, avoid, 40);
		g_emit(g, &e, false);
	} else {
		unsigned kind = g_rn(g, 10), units = g_rn(g, 3), at, n0, len;
		struct dx_insn *jmp;
		uint64_t u0;
		uint16_t f0;
		uint8_t b[6];

		if (kind < 5) {
			g_need(g, cc_reads[cc]);
			b[0] = (uint8_t)(0x70 + cc);
			len = 2;
		} else if (kind < 8) {
			g_need(g, cc_reads[cc]);
			b[0] = 0x0f;
			b[1] = (uint8_t)(0x80 + cc);
			len = 6;
		} else if (kind == 8) {
			b[0] = 0xeb;
			len = 2;
		} else {
			b[0] = (uint8_t)(0xe0 + g_rn(g, 4)); /* loopne loope loop jrcxz */
			if (b[0] <= 0xe1)
				g_need(g, F_ZF);
			g_set_reg(g, 1, g_rn(g, 3));
			len = 2;
		}
		memset(b + (len == 6 ? 2 : 1), 0, len == 6 ? 4 : 1);
		g_bytes(g, b, len, false);
		at = g->s->len;
		n0 = g->s->n;
		jmp = &g->s->insn[n0 - 1];
		u0 = g->undef;
		f0 = g->fundef;
		for (unsigned i = 0; i < units && g->s->len < DX_CODE_MAX - 200 &&
		     !g->stop; i++)
			g_unit(g, g->fam == DX_FAM_cond ? (int)g_rn(g, DX_FAM_cond) :
				 g->fam);
		if ((len == 2 && g->s->len - at > 127) || g->s->ud_tail) {
			/* too far for rel8, or a #UD tail (an instruction
			 * above the CPU model's level, g_level) the branch
			 * may skip: drop the skipped units */
			g->s->len = at;
			g->s->n = n0;
			g->stop = false;
			g->s->ud_tail = false;
		}
		g_put_le(g->s->code + at - (len == 6 ? 4 : 1), g->s->len - at,
		       len == 6 ? 4 : 1);
		jmp->jtarget = (uint16_t)g->s->len;
		g->undef |= u0;
		g->fundef |= f0;
	}
}

/* BSWAP r32/r64 (16-bit BSWAP is undefined). */
void gen_bswap(struct gen *g)
{
	struct enc e = { .nop = 2, .op = { 0x0f, 0xc8 }, .reg = g_gpr(g, 0),
			 .w = !g->m32 && g_chance(g, 50) };

	g_emit(g, &e, false);
}

/* XCHG, XADD (flags as ADD), CMPXCHG (flags as CMP), CMPXCHG8B/16B (ZF;
 * CMPXCHG16B needs a 16-byte aligned operand, #GP otherwise). */
void gen_xchg(struct gen *g)
{
	unsigned k = g_rn(g, 5), sz = pick_size(g);
	struct enc e = { .modrm = true, .nop = 1 };
	unsigned avoid = byte_avoid(g, &e, sz);

	g_opsize(&e, sz);
	e.reg = g_gpr(g, avoid);
	g->nosplit = true; /* XCHG with memory is always locked */
	switch (k) {
	case 0:
		e.op[0] = sz == 1 ? 0x86 : 0x87;
		e.e = g_rm(g, sz, avoid, 50);
		break;
	case 1:
		if (sz == 1) {
			e.op[0] = 0x86;
			e.e = g_reg(0);
			break;
		}
		e.modrm = false;
		e.op[0] = 0x90;
		if (e.reg == 0) /* 90 is NOP: xchg r8, rax, or ecx in 32-bit */
			e.reg = g->m32 ? 1 : 8;
		break;
	case 2: case 3:
		e.op[0] = 0x0f;
		e.op[1] = (uint8_t)((k == 2 ? 0xc0 : 0xb0) + (sz != 1));
		e.nop = 2;
		/* CMPXCHG may load rAX below: not a base register */
		e.e = g_rm(g, sz, avoid | (k == 3 ? 1 : 0), 50);
		if (k == 3 && e.e.kind != M_REG && g_chance(g, 50)) {
			/* load the old value into rAX: the equal case */
			struct enc l = e;

			l.op[0] = sz == 1 ? 0x8a : 0x8b;
			l.nop = 1;
			l.reg = 0;
			l.npfx = 0;
			g_opsize(&l, sz);
			g_emit(g, &l, true);
		}
		break;
	default: {
		bool w16 = !g->m32 && g_chance(g, 50); /* 16B needs REX.W */
		uint64_t t;

		e = (struct enc){ .modrm = true, .nop = 2, .op = { 0x0f, 0xc7 },
				  .reg = 1, .w = w16 };
		e.e = g_mem(g, w16 ? 16 : 8, w16 ? 16 : 8, 0xf);
		t = e.e.target;
		if (g_chance(g, 50) && t >= DX_DATA &&
		    t + 16 <= DX_DATA + DX_DATA_SIZE) {
			/* mov rax,[t]; mov rdx,[t+w]: the equal case */
			struct enc l = { .modrm = true, .nop = 1, .op = { 0x8b },
					 .w = w16 };

			l.e = (struct mop){ .kind = M_ABS, .target = t };
			g_emit(g, &l, true);
			l.reg = 2;
			l.e.target = t + (w16 ? 8 : 4);
			g_emit(g, &l, true);
		}
		break;
	}
	}
	g->nosplit = false;
	if (e.modrm && e.e.kind != M_REG && k >= 2 && g_chance(g, 20)) {
		memmove(e.pfx + 1, e.pfx, e.npfx);
		e.pfx[0] = 0xf0;
		e.npfx++;
	}
	g_emit(g, &e, false);
	if (k == 4 && e.w) /* CMPXCHG16B: CX16 */
		g_level(g, 2);
	if (k == 2 || k == 3)
		g_flags(g, F_ARITH, 0);
	else if (k == 4)
		g_flags(g, F_ZF, 0);
}

/* LEA (any registers: no access), MOV in its forms (incl. moffs and
 * imm64), MOVZX/MOVSX/MOVSXD, CBW/CWDE/CDQE/CWD/CDQ/CQO. */
void gen_mov(struct gen *g)
{
	unsigned k = g_rn(g, 7), sz = pick_size(g);
	struct enc e = { .modrm = true, .nop = 1 };
	unsigned avoid = byte_avoid(g, &e, sz);

	g_opsize(&e, sz);
	e.reg = g_gpr(g, avoid);
	switch (k) {
	case 0: /* lea */
		if (sz == 1)
			g_opsize(&e, sz = 4), e.rex = false;
		e.op[0] = 0x8d;
		e.e = (struct mop){ .kind = g_chance(g, 20) && !g->m32 ?
			M_RIP : M_SIB, .base = g_rn(g, g->m32 ? 8 : 16),
			.index = g_gpr(g, 0), .scale = g_rn(g, 4),
			.a32 = !g->m32 && g_chance(g, 20),
			.disp = (int32_t)g_ival(g), .target = g_rnd(g) };
		break;
	case 1: /* mov E,G / G,E / E,imm */
		e.op[0] = (uint8_t)(0x88 + 2 * g_rn(g, 2) + (sz != 1));
		e.e = g_rm(g, sz, avoid, 50);
		if (g_chance(g, 30)) {
			e.op[0] = sz == 1 ? 0xc6 : 0xc7;
			e.reg = 0;
			e.imm = g_ival(g);
			e.nimm = sz == 8 ? 4 : sz;
		}
		break;
	case 2: /* mov r, imm */
		e.modrm = false;
		e.op[0] = sz == 1 ? 0xb0 : 0xb8;
		e.imm = g_ival(g);
		e.nimm = sz;
		break;
	case 3: { /* moffs: A0-A3 with a 64-bit (or, 67, 32-bit) address */
		uint8_t b[12];
		unsigned n = 0;
		uint64_t a = g_pick_addr(g, sz, 1);
		bool a32 = !g->m32 && g_chance(g, 20);

		if (a32)
			b[n++] = 0x67;
		if (sz == 2)
			b[n++] = 0x66;
		if (sz == 8)
			b[n++] = 0x48;
		b[n++] = (uint8_t)(0xa0 + 2 * g_rn(g, 2) + (sz != 1));
		n += g_put_le(b + n, a, a32 || g->m32 ? 4 : 8);
		g_bytes(g, b, n, false);
		return;
	}
	case 4: /* movzx/movsx */
		e = (struct enc){ .modrm = true, .nop = 2, .op = { 0x0f,
			(uint8_t)(0xb6 + 8 * g_rn(g, 2) + g_rn(g, 2)) } };
		g_opsize(&e, 2 << g_rn(g, g->m32 ? 2 : 3));
		e.reg = g_gpr(g, 0);
		if (!(e.op[1] & 1))
			e.rex = !g->m32 && g_chance(g, 50);
		e.e = g_rm(g, e.op[1] & 1 ? 2 : 1, e.rex ? 0x10 : 0xff00, 40);
		break;
	case 5: /* movsxd (ARPL in 32-bit code), or mov r, Sreg */
		if (g_chance(g, 20) || g->m32) {
			e = (struct enc){ .modrm = true, .nop = 1, .op = { 0x8c },
					  .reg = g_rn(g, 4) };
			g_opsize(&e, 2 << g_rn(g, g->m32 ? 2 : 3));
			e.e = g_reg(g_gpr(g, 0));
			break;
		}
		e = (struct enc){ .modrm = true, .nop = 1, .op = { 0x63 },
				  .w = !g_chance(g, 10) };
		e.reg = g_gpr(g, 0);
		e.e = g_rm(g, 4, 0, 40);
		break;
	default: { /* cbw cwde cdqe cwd cdq cqo */
		uint8_t b[2] = { sz == 8 ? 0x48 : 0x66, g_chance(g, 50) ? 0x98 : 0x99 };

		if (sz == 4 || sz == 1)
			g_bytes(g, b + 1, 1, false);
		else
			g_bytes(g, b, 2, false);
		return;
	}
	}
	g_emit(g, &e, false);
}

/* PUSH/POP r (16- and 64-bit), PUSH imm8/imm32, PUSH/POP m. */
void gen_stack(struct gen *g)
{
	unsigned k = g_rn(g, 4);
	struct enc e = { .nop = 1, .reg = g_gpr(g, 0) };

	if (g_chance(g, 10))
		g_pfx(&e, 0x66);
	switch (k) {
	case 0: e.op[0] = 0x50; break;
	case 1: e.op[0] = 0x58; break;
	case 2:
		e.reg = 0;
		e.op[0] = g_chance(g, 50) ? 0x6a : 0x68;
		e.imm = g_ival(g);
		e.nimm = e.op[0] == 0x6a ? 1 : e.npfx ? 2 : 4;
		break;
	default:
		e.modrm = true;
		e.op[0] = g_chance(g, 50) ? 0xff : 0x8f;
		e.reg = e.op[0] == 0xff ? 6 : 0;
		e.e = g_mem(g, e.npfx ? 2 : g->m32 ? 4 : 8, 1, 0);
		break;
	}
	g_emit(g, &e, false);
}

/* NOPs (0F 1F and prefetches never access memory), PAUSE, fences,
 * CLFLUSH, MOVNTI, XLAT, ENTER/LEAVE, CALL (then POP of the return
 * address), RET/RET imm16 to a pushed forward address. */
void gen_misc(struct gen *g)
{
	unsigned k = g_rn(g, 9), r = g_gpr(g, 0);
	struct enc e = { .modrm = true, .nop = 2, .op = { 0x0f } };
	uint8_t b[8];

	switch (k) {
	case 0: { /* nop, pause, multi-byte nop, prefetch, fences */
		static const uint8_t f[][3] = { { 0x90 }, { 0x66, 0x90 },
			{ 0xf3, 0x90 }, { 0x0f, 0xae, 0xe8 }, { 0x0f, 0xae, 0xf0 },
			{ 0x0f, 0xae, 0xf8 } };
		static const unsigned fl[] = { 1, 2, 2, 3, 3, 3 };
		unsigned j = g_rn(g, 8);

		if (j < 6) {
			g_bytes(g, f[j], fl[j], false);
			return;
		}
		e.op[1] = j == 6 ? 0x1f : 0x18;
		e.reg = j == 6 ? 0 : g_rn(g, 4);
		e.e = (struct mop){ .kind = M_SIB,
			.base = g_rn(g, g->m32 ? 8 : 16), .index = g_gpr(g, 0),
			.scale = g_rn(g, 4), .disp = (int32_t)g_ival(g) };
		break;
	}
	case 1: /* clflush m8 */
		e.op[1] = 0xae;
		e.reg = 7;
		e.e = g_mem(g, 1, 1, 0);
		break;
	case 2: /* movnti m32/m64, r */
		e.op[1] = 0xc3;
		e.w = !g->m32 && g_chance(g, 50);
		e.reg = r;
		e.e = g_mem(g, e.w ? 8 : 4, 1, 0);
		break;
	case 3: /* xlat: al = [rbx + al] */
		g_set_reg(g, 3, DX_DATA + g_rn(g, DX_DATA_SIZE - 256));
		b[0] = 0x48; /* REX.W xlat: the same (RBX is 64-bit) */
		b[1] = 0xd7;
		if (g_chance(g, 30) && !g->m32)
			g_bytes(g, b, 2, false);
		else
			g_bytes(g, b + 1, 1, false);
		return;
	case 4: case 5: { /* enter Iw, 0/1 ... leave */
		g_set_reg(g, 5, DX_STACK + 0x400 + 8 * g_rn(g, 128));
		if (k == 4) {
			b[0] = 0xc8;
			g_put_le(b + 1, 8 * g_rn(g, 16), 2);
			b[3] = (uint8_t)g_rn(g, 2);
			g_bytes(g, b, 4, false);
		} else {
			b[0] = 0xc9;
			g_bytes(g, b, 1, false);
		}
		return;
	}
	case 6: /* call next; pop r */
		memset(b, 0, 5);
		b[0] = 0xe8;
		g_bytes(g, b, 5, false);
		e = (struct enc){ .nop = 1, .op = { 0x58 }, .reg = r };
		g_emit(g, &e, false);
		return;
	default: { /* lea r, [rip+3 or 6]; push r; ret / ret imm16 */
		bool imm = k == 8;

		unsigned at;

		e = (struct enc){ .modrm = true, .nop = 1, .op = { 0x8d },
				  .w = true, .reg = r,
				  .e = { .kind = M_RIP, .target = DX_SEQ } };
		if (g->m32) /* mov r, imm32: the absolute address */
			e = (struct enc){ .nop = 1, .op = { 0xb8 }, .reg = r,
					  .nimm = 4 };
		g_emit(g, &e, true);
		at = g->s->len; /* rel32 ends here: patched below */
		e = (struct enc){ .nop = 1, .op = { 0x50 }, .reg = r };
		g_emit(g, &e, true);
		b[0] = imm ? 0xc2 : 0xc3;
		g_put_le(b + 1, 8 * g_rn(g, 5), 2);
		g_bytes(g, b, imm ? 3 : 1, false);
		g_put_le(g->s->code + at - 4, g->m32 ? DX_SEQ + g->s->len :
			 g->s->len - at, 4);
		return;
	}
	}
	g_emit(g, &e, false);
}

/* Privileged at CPL 3, #GP(0) (SDM Vol. 3 §5.9; IOPL 0 for CLI/STI and
 * port I/O without an I/O bitmap): the sequence ends there.  Not the
 * ones Linux emulates for user space under UMIP (SGDT SIDT SMSW SLDT
 * STR), nor RDTSC/RDPMC/SYSCALL. */
void gen_priv(struct gen *g)
{
	static const struct { uint8_t b[4]; unsigned n; } t[] = {
		{ { 0xfa }, 1 }, { { 0xfb }, 1 }, { { 0xf4 }, 1 },
		{ { 0xec }, 1 }, { { 0xee }, 1 }, { { 0xe4, 0x80 }, 2 },
		{ { 0xe7, 0x71 }, 2 }, { { 0x0f, 0x32 }, 2 },
		{ { 0x0f, 0x30 }, 2 }, { { 0x0f, 0x20, 0xc0 }, 3 },
		{ { 0x0f, 0x22, 0xd8 }, 3 }, { { 0x0f, 0x21, 0xf8 }, 3 },
		{ { 0x0f, 0x06 }, 2 }, { { 0x0f, 0x09 }, 2 },
		{ { 0x0f, 0x08 }, 2 }, { { 0x0f, 0x01, 0xf8 }, 3 },
		{ { 0x0f, 0x07 }, 2 }, { { 0x0f, 0x00, 0xd8 }, 3 },
	};
	unsigned k = g_rn(g, sizeof(t) / sizeof(*t) + 3);

	/* SYSRET outside 64-bit mode: #UD on Intel (rax's model), #GP at
	 * CPL 3 on AMD; not compared in 32-bit code. */
	while (g->m32 && k < sizeof(t) / sizeof(*t) && t[k].b[1] == 0x07)
		k = g_rn(g, sizeof(t) / sizeof(*t) + 3);
	if (k < sizeof(t) / sizeof(*t)) {
		g_bytes(g, t[k].b, t[k].n, false);
	} else { /* lgdt, lidt, invlpg m */
		static const uint8_t r[] = { 2, 3, 7 };
		struct enc e = { .modrm = true, .nop = 2, .op = { 0x0f, 0x01 } };

		e.reg = r[k - sizeof(t) / sizeof(*t)];
		e.e = g_mem(g, 10, 1, 0);
		g_emit(g, &e, false);
	}
	g->stop = true;
}

/* One shift or rotate unit: SHLD/SHRD a quarter of the time. */
void gen_shift(struct gen *g)
{
	if (g_chance(g, 25))
		shift_xd(g);
	else
		shift_grp2(g);
}

/* BMI1, BMI2, LZCNT/TZCNT, MOVBE (x86-64-v3; --family bmi): the VEX
 * forms with 32- and 64-bit operands (VEX.W), register and memory
 * sources, control registers (BZHI's index, BEXTR's start and length)
 * often small; on a model below v3 each is a #UD tail, except LZCNT and
 * TZCNT, whose encodings are BSR and BSF there (left out). */
void gen_bmi(struct gen *g)
{
	static const struct { uint8_t map, op, pp, reg; } t[] = {
		{ 2, 0xf2, 0, 0 },                                   /* andn */
		{ 2, 0xf3, 0, 1 }, { 2, 0xf3, 0, 2 }, { 2, 0xf3, 0, 3 }, /* blsr blsmsk blsi */
		{ 2, 0xf5, 0, 0 }, { 2, 0xf5, 2, 0 }, { 2, 0xf5, 3, 0 }, /* bzhi pext pdep */
		{ 2, 0xf6, 3, 0 },                                   /* mulx */
		{ 2, 0xf7, 0, 0 }, { 2, 0xf7, 1, 0 }, { 2, 0xf7, 2, 0 },
		{ 2, 0xf7, 3, 0 },                       /* bextr shlx sarx shrx */
		{ 3, 0xf0, 3, 0 },                                   /* rorx */
	};
	unsigned k = g_rn(g, sizeof(t) / sizeof(*t) + 2);
	struct enc e = { .modrm = true, .nop = 1 };
	unsigned sz = !g->m32 && g_chance(g, 50) ? 8 : 4;

	if (k == sizeof(t) / sizeof(*t)) { /* lzcnt / tzcnt */
		if (g->level < 3) {
			gen_bit(g);
			return;
		}
		sz = 2 << g_rn(g, g->m32 ? 2 : 3);
		e.nop = 2;
		e.op[0] = 0x0f;
		e.op[1] = g_chance(g, 50) ? 0xbc : 0xbd;
		g_opsize(&e, sz);
		g_pfx(&e, 0xf3);
		e.reg = g_gpr(g, 0);
		e.e = g_rm(g, sz, 0, 40);
		g_emit(g, &e, false);
		g_flags(g, F_CF | F_ZF, F_OF | F_SF | F_AF | F_PF);
		return;
	}
	if (k > sizeof(t) / sizeof(*t)) { /* movbe load / store */
		sz = 2 << g_rn(g, g->m32 ? 2 : 3);
		e.nop = 3;
		e.op[0] = 0x0f;
		e.op[1] = 0x38;
		e.op[2] = g_chance(g, 50) ? 0xf0 : 0xf1;
		g_opsize(&e, sz);
		e.reg = g_gpr(g, 0);
		e.e = g_mem(g, sz, 1, 0);
		g_emit(g, &e, false);
		g_level(g, 3);
		return;
	}
	e.vex = true;
	e.vmap = t[k].map;
	e.vpp = t[k].pp;
	e.op[0] = t[k].op;
	e.w = sz == 8;
	/* RORX: VEX.vvvv must be 1111b (register 0 here), else #UD */
	e.vvvv = t[k].map == 3 && g_chance(g, 95) ? 0 : (uint8_t)g_gpr(g, 0);
	if (t[k].op == 0xf5 || t[k].op == 0xf7) {
		/* a small index, start or length (BZHI, BEXTR), or count */
		if (g_chance(g, 60))
			g_set_reg(g, e.vvvv, g_chance(g, 50) ? g_rn(g, 70) :
				  (uint64_t)g_rn(g, 70) << 8 | g_rn(g, 70));
	}
	e.reg = t[k].reg ? t[k].reg : g_gpr(g, 0);
	e.e = g_rm(g, sz, 1u << e.vvvv, 40);
	e.vl = g_chance(g, 3); /* VEX.L = 1: #UD */
	if (g_chance(g, 3)) /* a 66, F2 or F3 before VEX: #UD (SDM §2.3.2) */
		g_pfx(&e, (uint8_t[]){ 0x66, 0xf2, 0xf3 }[g_rn(g, 3)]);
	if (t[k].map == 3) {
		e.imm = g_rnd(g) & 0xff;
		e.nimm = 1;
	}
	g_emit(g, &e, false);
	g_level(g, 3);
	switch (t[k].op) {
	case 0xf2: case 0xf3:
		g_flags(g, F_CF | F_OF | F_ZF | F_SF, F_AF | F_PF);
		break;
	case 0xf5:
		if (t[k].pp == 0)
			g_flags(g, F_CF | F_OF | F_ZF | F_SF, F_AF | F_PF);
		break;
	case 0xf7:
		if (t[k].pp == 0)
			g_flags(g, F_CF | F_OF | F_ZF, F_SF | F_AF | F_PF);
		break;
	default:
		break;
	}
}
