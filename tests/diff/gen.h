/* The sequence generator's state, encoder and bookkeeping (gen.c),
 * shared by the families in gen_int.c (integer) and gen_fp.c (SSE, x87,
 * MMX, the instructions rax does not advertise, the extra family). */
#ifndef RAX_DIFFEXEC_GEN_H
#define RAX_DIFFEXEC_GEN_H

#include "diffexec.h"

#define F_CF 0x001ull
#define F_PF 0x004ull
#define F_AF 0x010ull
#define F_ZF 0x040ull
#define F_SF 0x080ull
#define F_OF 0x800ull
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)
#define FSW_C0 0x0100u
#define FSW_C1 0x0200u
#define FSW_C2 0x0400u
#define FSW_C3 0x4000u
#define FSW_CC (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3)
#define FSW_C1R DX_FSW_C1R

struct gen {
	struct dx_seq *s;
	uint64_t rng;
	uint64_t undef;      /* RFLAGS bits undefined now */
	uint16_t fundef;     /* x87 condition codes undefined now */
	uint16_t uhi;        /* GPRs whose bits 63:32 are undefined now */
	bool cr2_page;       /* the next instruction's #PF: compare CR2's
				page only (struct dx_insn) */
	int fam;             /* family of the unit being generated */
	unsigned depth;      /* x87 stack depth (gen_fp.c) */
	bool x87_lost;       /* depth unknown: only FXAM/FNSTSW from here */
	bool top_moved;      /* an x87 push or pop ran: TOP may be nonzero */
	bool stop;           /* the sequence must end (ud_tail) */
	bool nosplit;        /* next memory operand: locked or split-sensitive */
	bool m32;            /* code for a 32-bit code segment: no REX, no
				RIP-relative or 67h operands, sizes 1-4 */
	unsigned level;      /* the interpreter's CPU model (x86-64 level) */
	bool avx_init;       /* VZEROUPPER ran: the YMM upper halves agree */
};

/* A ModRM operand: a register, or memory at `target`. */
enum { M_REG, M_RIP, M_ABS, M_BASE, M_SIB };
struct mop {
	int kind;
	unsigned r;          /* M_REG: register number 0-15 */
	unsigned base, index, scale;
	int32_t disp;
	uint64_t target;     /* linear address accessed */
	bool a32;            /* 0x67 address-size prefix */
};

/* One instruction to encode. */
struct enc {
	uint8_t pfx[4];
	unsigned npfx;
	bool w, rex;         /* REX.W; REX even when all bits are 0 */
	uint8_t op[3];
	unsigned nop;
	bool modrm;
	unsigned reg;        /* ModRM.reg (0-15) */
	struct mop e;
	uint64_t imm;
	unsigned nimm;
	/* VEX (three-byte form; no legacy prefixes, no REX): map 1-3,
	 * pp (0 none, 1 66, 2 F3, 3 F2), vvvv, L; w is VEX.W. */
	bool vex;
	uint8_t vmap, vpp, vvvv, vl;
	bool noseg;          /* no random segment override */
};

uint64_t g_rnd(struct gen *g);
unsigned g_rn(struct gen *g, unsigned n);
bool g_chance(struct gen *g, unsigned pct);
/* A general register other than RSP and the ones in avoid (bit mask). */
unsigned g_gpr(struct gen *g, unsigned avoid);
/* A memory operand of size bytes, aligned to align with some misaligned
 * and guard-page-crossing picks; emits the base/index set-up (never
 * using a register in avoid). */
struct mop g_mem(struct gen *g, unsigned size, unsigned align,
		 unsigned avoid);
struct mop g_reg(unsigned r);
/* A register or (pct_mem percent) a memory operand. */
struct mop g_rm(struct gen *g, unsigned size, unsigned avoid,
		unsigned pct_mem);

void g_emit(struct gen *g, const struct enc *in, bool setup);
/* mov r64, v (set-up). */
void g_set_reg(struct gen *g, unsigned r, uint64_t v);
/* An address for a size-byte access (see g_mem). */
uint64_t g_pick_addr(struct gen *g, unsigned size, unsigned align);
unsigned g_put_le(uint8_t *p, uint64_t v, unsigned n);
void g_bytes(struct gen *g, const uint8_t *b, unsigned n, bool setup);
/* The instruction just emitted needs x86-64 level n: on a lower CPU
 * model it ends the sequence and must raise #UD there (ud_tail). */
void g_level(struct gen *g, unsigned n);
/* Makes the flags in mask defined (emits CMP r, r when needed). */
void g_need(struct gen *g, uint64_t mask);
/* After an instruction: def become defined, undef undefined. */
void g_flags(struct gen *g, uint64_t def, uint64_t undef);
void g_pfx(struct enc *e, uint8_t p);
void g_opsize(struct enc *e, unsigned sz);
uint64_t g_fval(struct gen *g);  /* a float's bits */
uint64_t g_dval(struct gen *g);  /* a double's bits */
uint64_t g_ival(struct gen *g);

/* Generates one unit (set-up and instruction) of family fam. */
void g_unit(struct gen *g, int fam);

/* gen_int.c */
void gen_alu(struct gen *g);
void gen_incdec(struct gen *g);
void gen_shift(struct gen *g);
void gen_muldiv(struct gen *g);
void gen_flagops(struct gen *g);
void gen_string(struct gen *g);
void gen_bit(struct gen *g);
void gen_cond(struct gen *g);
void gen_bswap(struct gen *g);
void gen_xchg(struct gen *g);
void gen_mov(struct gen *g);
void gen_stack(struct gen *g);
void gen_misc(struct gen *g);
void gen_priv(struct gen *g);
void gen_bmi(struct gen *g);

/* gen_fp.c */
void gen_sse_int(struct gen *g);
void gen_sse_fp(struct gen *g);
void gen_cvt(struct gen *g);
void gen_x87(struct gen *g);
void gen_unadv(struct gen *g);
void gen_extra(struct gen *g);
void gen_mmx(struct gen *g);
void gen_sse3(struct gen *g);
void gen_ssse3(struct gen *g);
void gen_sse41(struct gen *g);
void gen_sse42(struct gen *g);
void gen_avx(struct gen *g);
/* gen_avx.c: the AVX/AVX2 forms of src/cpu/avx.c. */
void gen_avx_rest(struct gen *g);
void gen_xsave(struct gen *g);
void gen_init_fpu(struct gen *g, uint8_t *fx);

/* gen_legacy.c: the instructions invalid in 64-bit mode (32-bit code). */
void gen_legacy(struct gen *g);

#endif
