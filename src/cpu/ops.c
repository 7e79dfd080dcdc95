/* Data movement, stack, near control flow, string instructions, port I/O
 * and flag instructions (SDM Vol. 2 instruction pages of the same name). */
#include "cpu/cpu.h"

#include "machine.h"

/* --- moves ---------------------------------------------------------------- */

void op_mov_Eb_Gb(struct cpu *c, const struct dec_insn *d) { wr_E(c, d, 1, greg(c, d->reg, 1, d->rex)); }
void op_mov_Ev_Gv(struct cpu *c, const struct dec_insn *d) { wr_E(c, d, d->opsz, c->r[d->reg]); }
void op_mov_Gb_Eb(struct cpu *c, const struct dec_insn *d) { sreg_w(c, d->reg, 1, d->rex, rd_E(c, d, 1)); }
void op_mov_Gv_Ev(struct cpu *c, const struct dec_insn *d) { sreg_w(c, d->reg, d->opsz, d->rex, rd_E(c, d, d->opsz)); }
/* Group 11 forms (C6, C7): d->opsz is 1 for C6, Iz is sign-extended. */
void op_mov_R_I(struct cpu *c, const struct dec_insn *d) { sreg_w(c, d->rm, d->opsz, d->rex, d->imm); }
void op_mov_M_I(struct cpu *c, const struct dec_insn *d) { wrn(c, cpu_ea(c, d), d->imm, d->opsz); }
void op_mov_Zb_Ib(struct cpu *c, const struct dec_insn *d) { sreg_w(c, d->rm, 1, d->rex, d->imm); }
void op_mov_Zv_Iv(struct cpu *c, const struct dec_insn *d) { sreg_w(c, d->rm, d->opsz, d->rex, d->imm); }

/* The sized forms of the hottest moves (struct cpu_forms). */
static inline __attribute__((always_inline)) void
mov_EvGv(struct cpu *c, const struct dec_insn *d, unsigned n, int k)
{
	if (k == FORM_REG)
		sreg_w(c, d->rm, n, d->rex, c->r[d->reg]);
	else
		wrn(c, cpu_ea_k(c, d, k), c->r[d->reg], n);
}
FORMS(op_mov_Ev_Gv, mov_EvGv)

static inline __attribute__((always_inline)) void
mov_GvEv(struct cpu *c, const struct dec_insn *d, unsigned n, int k)
{
	sreg_w(c, d->reg, n, d->rex, rd_E_k(c, d, n, k));
}
FORMS(op_mov_Gv_Ev, mov_GvEv)

static inline __attribute__((always_inline)) void
mov_I(struct cpu *c, const struct dec_insn *d, unsigned n, int k)
{
	if (k == FORM_REG)
		sreg_w(c, d->rm, n, d->rex, d->imm);
	else
		wrn(c, cpu_ea_k(c, d, k), d->imm, n);
}
FORMS(op_mov_R_I, mov_I)
FORMS(op_mov_M_I, mov_I)
FORMS1(op_mov_R_I, mov_I)
FORMS1(op_mov_M_I, mov_I)

static inline __attribute__((always_inline)) void
mov_EbGb(struct cpu *c, const struct dec_insn *d, unsigned n, int k)
{
	uint64_t v = greg(c, d->reg, 1, d->rex);

	if (k == FORM_REG)
		sreg_w(c, d->rm, 1, d->rex, v);
	else
		wr8(c, cpu_ea_k(c, d, k), (uint8_t)v);
}
FORMS1(op_mov_Eb_Gb, mov_EbGb)

static inline __attribute__((always_inline)) void
mov_GbEb(struct cpu *c, const struct dec_insn *d, unsigned n, int k)
{
	sreg_w(c, d->reg, 1, d->rex, rd_E_k(c, d, 1, k));
}
FORMS1(op_mov_Gb_Eb, mov_GbEb)

static inline __attribute__((always_inline)) void
movzx_GvEb(struct cpu *c, const struct dec_insn *d, unsigned n, int k)
{
	sreg_w(c, d->reg, n, d->rex, rd_E_k(c, d, 1, k));
}
FORMS(op_movzx_Gv_Eb, movzx_GvEb)

static inline __attribute__((always_inline)) void
movzx_GvEw(struct cpu *c, const struct dec_insn *d, unsigned n, int k)
{
	sreg_w(c, d->reg, n, d->rex, rd_E_k(c, d, 2, k));
}
FORMS(op_movzx_Gv_Ew, movzx_GvEw)

void op_movnti_My_Gy(struct cpu *c, const struct dec_insn *d)
{
	if (d->mod == 3)
		cpu_ud(c);
	wr_E(c, d, d->opsz == 8 ? 8 : 4, c->r[d->reg]);
}

static inline __attribute__((always_inline)) void
lea(struct cpu *c, const struct dec_insn *d, unsigned n, int k)
{
	uint64_t ea = (uint64_t)(int64_t)d->disp;

	if (k == FORM_BASE) {
		sreg_w(c, d->reg, n, d->rex, c->r[d->base] + ea);
		return;
	}
	if (k == FORM_SIB) {
		sreg_w(c, d->reg, n, d->rex, c->r[d->base] + ea +
		       (c->r[d->index] << d->scale));
		return;
	}
	if (k != FORM_MEM && d->mod == 3)
		cpu_ud(c);
	if (d->riprel)
		ea += c->next_rip;
	if (d->base != DEC_NOREG)
		ea += c->r[d->base];
	if (d->index != DEC_NOREG)
		ea += c->r[d->index] << d->scale;
	if (d->adsz != 8)
		ea &= sz_mask(d->adsz);
	sreg_w(c, d->reg, n, d->rex, ea);
}

void op_lea_Gv_M(struct cpu *c, const struct dec_insn *d)
{
	lea(c, d, d->opsz, FORM_ANY);
}
FORMS(op_lea_Gv_M, lea)

void op_movsxd_Gv_Ed(struct cpu *c, const struct dec_insn *d)
{
	uint64_t v = (uint64_t)(int64_t)(int32_t)rd_E(c, d, 4);

	sreg_w(c, d->reg, d->opsz, d->rex, v);
}

static inline __attribute__((always_inline)) void
movsxd(struct cpu *c, const struct dec_insn *d, unsigned n, int k)
{
	sreg_w(c, d->reg, n, d->rex,
	       (uint64_t)(int64_t)(int32_t)rd_E_k(c, d, 4, k));
}
FORMS(op_movsxd_Gv_Ed, movsxd)

static inline __attribute__((always_inline)) void
movsx_GvEb(struct cpu *c, const struct dec_insn *d, unsigned n, int k)
{
	sreg_w(c, d->reg, n, d->rex,
	       (uint64_t)(int64_t)(int8_t)rd_E_k(c, d, 1, k));
}
FORMS(op_movsx_Gv_Eb, movsx_GvEb)

static inline __attribute__((always_inline)) void
movsx_GvEw(struct cpu *c, const struct dec_insn *d, unsigned n, int k)
{
	sreg_w(c, d->reg, n, d->rex,
	       (uint64_t)(int64_t)(int16_t)rd_E_k(c, d, 2, k));
}
FORMS(op_movsx_Gv_Ew, movsx_GvEw)

void op_movzx_Gv_Eb(struct cpu *c, const struct dec_insn *d) { sreg_w(c, d->reg, d->opsz, d->rex, rd_E(c, d, 1)); }
void op_movzx_Gv_Ew(struct cpu *c, const struct dec_insn *d) { sreg_w(c, d->reg, d->opsz, d->rex, rd_E(c, d, 2)); }
void op_movsx_Gv_Eb(struct cpu *c, const struct dec_insn *d) { sreg_w(c, d->reg, d->opsz, d->rex, (uint64_t)(int64_t)(int8_t)rd_E(c, d, 1)); }
void op_movsx_Gv_Ew(struct cpu *c, const struct dec_insn *d) { sreg_w(c, d->reg, d->opsz, d->rex, (uint64_t)(int64_t)(int16_t)rd_E(c, d, 2)); }

void op_xchg_Eb_Gb(struct cpu *c, const struct dec_insn *d)
{
	uint64_t g = greg(c, d->reg, 1, d->rex), v;

	if (d->mod != 3)
		cpu_probe_write(c, cpu_ea(c, d), 1);
	v = rd_E(c, d, 1);
	wr_E(c, d, 1, g);
	sreg_w(c, d->reg, 1, d->rex, v);
}

void op_xchg_Ev_Gv(struct cpu *c, const struct dec_insn *d)
{
	uint64_t g = c->r[d->reg], v;

	if (d->mod != 3)
		cpu_probe_write(c, cpu_ea(c, d), d->opsz);
	v = rd_E(c, d, d->opsz);
	wr_E(c, d, d->opsz, g);
	sreg_w(c, d->reg, d->opsz, d->rex, v);
}

void op_xchg_Zv_rAX(struct cpu *c, const struct dec_insn *d)
{
	uint64_t a = c->r[R_RAX], b = c->r[d->rm];

	sreg_w(c, R_RAX, d->opsz, true, b);
	sreg_w(c, d->rm, d->opsz, true, a);
}

void op_nop(struct cpu *c, const struct dec_insn *d)
{
	if (d->rm == 8) /* REX.B 90: xchg r8, rax */
		op_xchg_Zv_rAX(c, d);
}

void op_nop_Ev(struct cpu *c, const struct dec_insn *d)
{
}

void op_cbw(struct cpu *c, const struct dec_insn *d)
{
	uint64_t a = c->r[R_RAX];

	switch (d->opsz) {
	case 2: sreg_w(c, R_RAX, 2, true, (uint64_t)(int64_t)(int8_t)a); break;
	case 4: c->r[R_RAX] = (uint32_t)(int32_t)(int16_t)a; break;
	default: c->r[R_RAX] = (uint64_t)(int64_t)(int32_t)a; break;
	}
}

void op_cwd(struct cpu *c, const struct dec_insn *d)
{
	unsigned n = d->opsz;
	bool neg = c->r[R_RAX] & (1ull << (8 * n - 1));

	sreg_w(c, R_RDX, n, true, neg ? ~0ull : 0);
}

static uint64_t moffs_la(struct cpu *c, const struct dec_insn *d)
{
	unsigned s = d->seg == DEC_NOREG ? S_DS : d->seg;
	uint64_t a = d->imm;

	if (c->mode == DEC_MODE64)
		return (s == S_FS || s == S_GS) ? a + c->seg[s].base : a;
	return cpu_seg_la(c, s, a);
}

void op_mov_AL_Ob(struct cpu *c, const struct dec_insn *d) { sreg_w(c, R_RAX, 1, true, rd8(c, moffs_la(c, d))); }
void op_mov_rAX_Ov(struct cpu *c, const struct dec_insn *d) { sreg_w(c, R_RAX, d->opsz, true, rdn(c, moffs_la(c, d), d->opsz)); }
void op_mov_Ob_AL(struct cpu *c, const struct dec_insn *d) { wr8(c, moffs_la(c, d), (uint8_t)c->r[R_RAX]); }
void op_mov_Ov_rAX(struct cpu *c, const struct dec_insn *d) { wrn(c, moffs_la(c, d), c->r[R_RAX], d->opsz); }

static inline __attribute__((always_inline)) void
cmovcc(struct cpu *c, const struct dec_insn *d, unsigned n, int k)
{
	uint64_t v = rd_E_k(c, d, n, k);

	if (cpu_cond_inline(c, d->op & 15))
		sreg_w(c, d->reg, n, d->rex, v);
	else if (n == 4)
		c->r[d->reg] &= 0xffffffffull; /* 32-bit CMOV zero-extends */
}

void op_cmovcc_Gv_Ev(struct cpu *c, const struct dec_insn *d)
{
	cmovcc(c, d, d->opsz, FORM_ANY);
}
FORMS(op_cmovcc_Gv_Ev, cmovcc)

void op_setcc_Eb(struct cpu *c, const struct dec_insn *d)
{
	wr_E(c, d, 1, cpu_cond_inline(c, d->op & 15));
}

/* SETcc in every form, and CMOVcc with a register source and 4- or
 * 8-byte operands, with the condition a constant (cpu_cc_forms): the
 * condition's test folds to the lazy flags' few cases (cpu.h
 * cpu_cond_inline).  In lib/mpi's limb loops (Linux's DH and RSA
 * self-tests) a CMOVAE and a SETB took 45-47 host instructions each
 * with the condition a variable. */
#define CC_FORMS(cc)							\
static void setcc_##cc(struct cpu *c, const struct dec_insn *d)		\
{									\
	wr_E(c, d, 1, cpu_cond_inline(c, cc));				\
}									\
static void cmovcc_##cc##_r4(struct cpu *c, const struct dec_insn *d)	\
{									\
	uint32_t v = (uint32_t)c->r[d->rm];				\
									\
	c->r[d->reg] = cpu_cond_inline(c, cc) ? v :			\
		       (uint32_t)c->r[d->reg];				\
}									\
static void cmovcc_##cc##_r8(struct cpu *c, const struct dec_insn *d)	\
{									\
	if (cpu_cond_inline(c, cc))					\
		c->r[d->reg] = c->r[d->rm];				\
}
CC_FORMS(0) CC_FORMS(1) CC_FORMS(2) CC_FORMS(3) CC_FORMS(4) CC_FORMS(5)
CC_FORMS(6) CC_FORMS(7) CC_FORMS(8) CC_FORMS(9) CC_FORMS(10) CC_FORMS(11)
CC_FORMS(12) CC_FORMS(13) CC_FORMS(14) CC_FORMS(15)
#undef CC_FORMS
#define CC_ROW(cc) { setcc_##cc, cmovcc_##cc##_r4, cmovcc_##cc##_r8 }
const cpu_handler cpu_cc_forms[16][3] = {
	CC_ROW(0), CC_ROW(1), CC_ROW(2), CC_ROW(3), CC_ROW(4), CC_ROW(5),
	CC_ROW(6), CC_ROW(7), CC_ROW(8), CC_ROW(9), CC_ROW(10), CC_ROW(11),
	CC_ROW(12), CC_ROW(13), CC_ROW(14), CC_ROW(15)
};
#undef CC_ROW

void op_bswap_Zv(struct cpu *c, const struct dec_insn *d)
{
	if (d->opsz == 8)
		c->r[d->rm] = __builtin_bswap64(c->r[d->rm]);
	else if (d->opsz == 4)
		c->r[d->rm] = __builtin_bswap32((uint32_t)c->r[d->rm]);
	else
		sreg_w(c, d->rm, 2, true, 0); /* undefined; zero as CPUs do */
}

/* --- stack ---------------------------------------------------------------- */

void op_push_Zv(struct cpu *c, const struct dec_insn *d) { cpu_push(c, c->r[d->rm], d->opsz); }
void op_push_Iz(struct cpu *c, const struct dec_insn *d) { cpu_push(c, d->imm, d->opsz); }
void op_push_Ib(struct cpu *c, const struct dec_insn *d) { cpu_push(c, d->imm, d->opsz); }

void op_pop_Zv(struct cpu *c, const struct dec_insn *d)
{
	uint64_t v = cpu_pop(c, d->opsz);

	sreg_w(c, d->rm, d->opsz, true, v);
}

void op_pop_Ev(struct cpu *c, const struct dec_insn *d)
{
	uint64_t sp = c->r[R_RSP], v = cpu_pop(c, d->opsz);

	/* The address is computed after RSP is incremented (SDM POP). */
	if (d->mod != 3) {
		uint64_t la = cpu_ea(c, d);
		uint64_t nsp = c->r[R_RSP];

		c->r[R_RSP] = sp;
		cpu_probe_write(c, la, d->opsz);
		c->r[R_RSP] = nsp;
		wrn(c, la, v, d->opsz);
		return;
	}
	sreg_w(c, d->rm, d->opsz, true, v);
}

void op_pushf(struct cpu *c, const struct dec_insn *d)
{
	cpu_push(c, cpu_get_rflags(c) & ~(uint64_t)(RFLAGS_VM | RFLAGS_RF),
		 d->opsz);
}

/* Writable RFLAGS bits for POPF/IRET at the current privilege. */
uint64_t cpu_flags_mask(const struct cpu *c)
{
	uint64_t m = RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF |
		     RFLAGS_SF | RFLAGS_TF | RFLAGS_DF | RFLAGS_OF |
		     (1u << 14) | RFLAGS_AC | (1u << 21);
	unsigned iopl = (c->rflags >> 12) & 3;

	if (c->cpl <= iopl)
		m |= RFLAGS_IF;
	if (c->cpl == 0)
		m |= 3u << 12;
	return m;
}

void op_popf(struct cpu *c, const struct dec_insn *d)
{
	uint64_t v = cpu_pop(c, d->opsz), m = cpu_flags_mask(c), f;

	if (d->opsz == 2)
		m &= 0xffff;
	f = cpu_get_rflags(c);
	cpu_set_rflags(c, (f & ~m) | (v & m));
	c->next_check = 0; /* IF may have been set */
}

/* LAHF/SAHF in 64-bit mode: CPUID.80000001H:ECX.LAHF-SAHF, x86-64-v2
 * (SDM Vol. 2 LAHF "64-Bit Mode Exceptions"). */
void op_sahf(struct cpu *c, const struct dec_insn *d)
{
	uint64_t m = RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF;
	uint64_t f;

	if (c->mode == DEC_MODE64)
		cpu_need_level(c, 2);
	f = cpu_get_rflags(c);

	cpu_set_rflags(c, (f & ~m) | ((c->r[R_RAX] >> 8) & m));
}

void op_lahf(struct cpu *c, const struct dec_insn *d)
{
	if (c->mode == DEC_MODE64)
		cpu_need_level(c, 2);
	sreg_w(c, 4, 1, false, (cpu_get_rflags(c) & 0xd5) | 2);
}

/* ENTER: the frame pointers it copies are SS-relative, and the frame
 * size comes off SP or ESP by the stack's size (Vol. 2 ENTER). */
void op_enter_Iw_Ib(struct cpu *c, const struct dec_insn *d)
{
	unsigned n = d->opsz, level = d->imm2 & 31;
	uint64_t fp, bp = c->r[R_RBP], m = stack_mask(c);

	cpu_push(c, bp, n);
	fp = c->r[R_RSP];
	for (unsigned i = 1; i < level; i++) {
		bp -= n;
		cpu_push(c, rdn(c, cpu_stack_la(c, bp & m), n), n);
	}
	if (level)
		cpu_push(c, fp, n);
	sreg_w(c, R_RBP, n, true, fp);
	c->r[R_RSP] = (c->r[R_RSP] & ~m) | ((c->r[R_RSP] - d->imm) & m);
}

void op_leave(struct cpu *c, const struct dec_insn *d)
{
	uint64_t bp = c->r[R_RBP] & stack_mask(c);
	uint64_t v = rdn(c, cpu_stack_la(c, bp), d->opsz);

	c->r[R_RSP] = (c->r[R_RSP] & ~stack_mask(c)) |
		      ((bp + d->opsz) & stack_mask(c));
	sreg_w(c, R_RBP, d->opsz, true, v);
}

/* --- near control flow ---------------------------------------------------- */

/* Near branches: a smaller operand size truncates the target; outside
 * 64-bit mode the run loop checks it against CS's limit (cpu.c). */
/* A near branch's target: in 64-bit mode a non-canonical one is #GP(0)
 * at the branch, before a CALL pushes (SDM Vol. 2A CALL, JMP, Jcc, RET:
 * "If the target address is non-canonical"). */
static uint64_t near_target(struct cpu *c, uint64_t target, unsigned n)
{
	if (n != 8)
		return target & sz_mask(n);
	if (__builtin_expect(!cpu_canonical(target), 0))
		cpu_gp(c, 0);
	return target;
}

static void jump(struct cpu *c, uint64_t target, unsigned n)
{
	c->next_rip = near_target(c, target, n);
}

void op_jcc_Jb(struct cpu *c, const struct dec_insn *d)
{
	if (cpu_cond(c, d->op & 15))
		jump(c, c->next_rip + d->imm, d->opsz);
}

void op_jcc_Jz(struct cpu *c, const struct dec_insn *d) { op_jcc_Jb(c, d); }

/* Jcc with its condition a constant (cpu_jcc_forms). */
#define JCC(cc)								\
static void jcc_##cc(struct cpu *c, const struct dec_insn *d)		\
{									\
	if (cpu_cond_inline(c, cc))					\
		jump(c, c->next_rip + d->imm, d->opsz);			\
}
JCC(0) JCC(1) JCC(2) JCC(3) JCC(4) JCC(5) JCC(6) JCC(7)
JCC(8) JCC(9) JCC(10) JCC(11) JCC(12) JCC(13) JCC(14) JCC(15)
#undef JCC
const cpu_handler cpu_jcc_forms[16] = {
	jcc_0, jcc_1, jcc_2, jcc_3, jcc_4, jcc_5, jcc_6, jcc_7,
	jcc_8, jcc_9, jcc_10, jcc_11, jcc_12, jcc_13, jcc_14, jcc_15
};
void op_jmp_Jb(struct cpu *c, const struct dec_insn *d) { jump(c, c->next_rip + d->imm, d->opsz); }
void op_jmp_Jz(struct cpu *c, const struct dec_insn *d) { jump(c, c->next_rip + d->imm, d->opsz); }

/* PUSH, POP, CALL, RET with 8-byte operands in 64-bit mode
 * (cpu_stack64_forms): cpu_push() and cpu_pop() without the mode and
 * size tests. */
static inline __attribute__((always_inline)) void push64(struct cpu *c,
							 uint64_t v)
{
	uint64_t sp = c->r[R_RSP] - 8;

	if (__builtin_expect(!cpu_canonical(sp), 0))
		c->nc_ss = sp;
	wr64(c, sp, v);
	c->r[R_RSP] = sp;
}

static inline __attribute__((always_inline)) uint64_t pop64(struct cpu *c)
{
	uint64_t sp = c->r[R_RSP], v;

	if (__builtin_expect(!cpu_canonical(sp), 0))
		c->nc_ss = sp;
	v = rd64(c, sp);
	c->r[R_RSP] = sp + 8;
	return v;
}

static void push_Zv_64(struct cpu *c, const struct dec_insn *d)
{
	push64(c, c->r[d->rm]);
}

static void pop_Zv_64(struct cpu *c, const struct dec_insn *d)
{
	c->r[d->rm] = pop64(c);
}

static void call_Jz_64(struct cpu *c, const struct dec_insn *d)
{
	uint64_t t = c->next_rip + d->imm;

	if (__builtin_expect(!cpu_canonical(t), 0))
		cpu_gp(c, 0);
	push64(c, c->next_rip);
	c->next_rip = t;
}

static void ret_64(struct cpu *c, const struct dec_insn *d)
{
	uint64_t sp = c->r[R_RSP], t = pop64(c);

	if (__builtin_expect(!cpu_canonical(t), 0)) {
		c->r[R_RSP] = sp; /* the fault leaves RSP unchanged */
		cpu_gp(c, 0);
	}
	c->next_rip = t;
}

void op_call_Jz(struct cpu *c, const struct dec_insn *d)
{
	uint64_t t = near_target(c, c->next_rip + d->imm, d->opsz);

	cpu_push(c, c->next_rip, d->opsz);
	c->next_rip = t;
}

void op_ret(struct cpu *c, const struct dec_insn *d)
{
	uint64_t sp = c->r[R_RSP], t = cpu_pop(c, d->opsz);

	if (d->opsz == 8 && !cpu_canonical(t)) {
		c->r[R_RSP] = sp; /* the fault leaves RSP unchanged */
		cpu_gp(c, 0);
	}
	jump(c, t, d->opsz);
}

void op_ret_Iw(struct cpu *c, const struct dec_insn *d)
{
	uint64_t m = stack_mask(c);

	op_ret(c, d);
	c->r[R_RSP] = (c->r[R_RSP] & ~m) | ((c->r[R_RSP] + d->imm) & m);
}

static uint64_t count_reg(const struct cpu *c, const struct dec_insn *d)
{
	return c->r[R_RCX] & sz_mask(d->adsz);
}

static bool dec_count(struct cpu *c, const struct dec_insn *d)
{
	uint64_t v = (c->r[R_RCX] - 1) & sz_mask(d->adsz);

	sreg_w(c, R_RCX, d->adsz, true, v);
	return v != 0;
}

void op_loop_Jb(struct cpu *c, const struct dec_insn *d)
{
	if (dec_count(c, d))
		jump(c, c->next_rip + d->imm, d->opsz);
}

void op_loopz_Jb(struct cpu *c, const struct dec_insn *d)
{
	if (dec_count(c, d) && cpu_cond(c, 4))
		jump(c, c->next_rip + d->imm, d->opsz);
}

void op_loopnz_Jb(struct cpu *c, const struct dec_insn *d)
{
	if (dec_count(c, d) && cpu_cond(c, 5))
		jump(c, c->next_rip + d->imm, d->opsz);
}

void op_jrcxz_Jb(struct cpu *c, const struct dec_insn *d)
{
	if (!count_reg(c, d))
		jump(c, c->next_rip + d->imm, d->opsz);
}

/* Group 5 forms (groups.def): near CALL and JMP are f64 and PUSH d64,
 * so d->opsz is their size in every mode; far CALL and JMP read m16:n. */
void op_call_Ev(struct cpu *c, const struct dec_insn *d)
{
	uint64_t v = rd_E(c, d, d->opsz);

	/* The target is checked (#GP) before the push. */
	v = near_target(c, v, d->opsz);
	cpu_push(c, c->next_rip, d->opsz);
	c->next_rip = v;
}

void op_jmp_Ev(struct cpu *c, const struct dec_insn *d)
{
	jump(c, rd_E(c, d, d->opsz), d->opsz);
}

static void far_Mp(struct cpu *c, const struct dec_insn *d, bool call)
{
	unsigned n = d->opsz;
	uint64_t la = cpu_ea(c, d), v = rdn(c, la, n);

	cpu_far_jump(c, rd16(c, la + n), v, call, n);
}

void op_callf_Mp(struct cpu *c, const struct dec_insn *d) { far_Mp(c, d, true); }
void op_jmpf_Mp(struct cpu *c, const struct dec_insn *d) { far_Mp(c, d, false); }

void op_push_Ev(struct cpu *c, const struct dec_insn *d)
{
	cpu_push(c, rd_E(c, d, d->opsz), d->opsz);
}

/* --- flags ---------------------------------------------------------------- */

static void set_flag(struct cpu *c, uint64_t bit, int v)
{
	uint64_t f = cpu_get_rflags(c);

	if (v < 0)
		f ^= bit;
	else if (v)
		f |= bit;
	else
		f &= ~bit;
	cpu_set_rflags(c, f);
}

void op_cmc(struct cpu *c, const struct dec_insn *d) { set_flag(c, RFLAGS_CF, -1); }
void op_clc(struct cpu *c, const struct dec_insn *d) { set_flag(c, RFLAGS_CF, 0); }
void op_stc(struct cpu *c, const struct dec_insn *d) { set_flag(c, RFLAGS_CF, 1); }
void op_cld(struct cpu *c, const struct dec_insn *d) { c->rflags &= ~(uint64_t)RFLAGS_DF; }
void op_std(struct cpu *c, const struct dec_insn *d) { c->rflags |= RFLAGS_DF; }

/* --- string instructions -------------------------------------------------- */

static uint64_t str_la(const struct cpu *c, const struct dec_insn *d,
		       unsigned s, unsigned reg)
{
	uint64_t a = c->r[reg] & sz_mask(d->adsz);

	if (c->mode == DEC_MODE64)
		return (s == S_FS || s == S_GS) ? a + c->seg[s].base : a;
	return cpu_seg_la(c, s, a);
}

static void str_adv(struct cpu *c, const struct dec_insn *d, unsigned reg,
		    unsigned n)
{
	uint64_t v = c->r[reg] + ((c->rflags & RFLAGS_DF) ? -(uint64_t)n : n);

	sreg_w(c, reg, d->adsz, true, v);
}

static unsigned src_seg(const struct dec_insn *d)
{
	return d->seg == DEC_NOREG ? S_DS : d->seg;
}

/* REP with a 32-bit address size: rax zero-extends RCX, and the index
 * registers of MOVS (RSI, RDI), STOS and INS (RDI) and OUTS (RSI),
 * before the first iteration, so also when none completes (a count of
 * 0, a fault in the first).  Each iteration writes them as 32-bit
 * registers anyway (SDM Vol. 1 §3.4.1.1); with no iteration the manuals
 * leave bits 63:32 open (the REP pseudocode in SDM Vol. 2B and APM
 * Vol. 3 writes them only per iteration).  Intel CPUs clear them as
 * here (rax's CPUID says GenuineIntel; Linux's KVM emulator does the
 * same for Intel guests in string_registers_quirk()), an AMD EPYC
 * leaves them, and tests/diff masks them.  regs: bit 0 RSI, bit 1 RDI. */
static void rep_zext(struct cpu *c, const struct dec_insn *d, unsigned regs)
{
	if (d->adsz != 4)
		return;
	c->r[R_RCX] = (uint32_t)c->r[R_RCX];
	if (regs & 1)
		c->r[R_RSI] = (uint32_t)c->r[R_RSI];
	if (regs & 2)
		c->r[R_RDI] = (uint32_t)c->r[R_RDI];
}

/* Runs one string-instruction body `it` times under REP; cmp ops stop on
 * the REPE/REPNE condition. */
#define STRING_OP(name, n_expr, body, is_cmp, regs)                         \
STRING_OP_FAST(name, n_expr, body, is_cmp, regs, (void)0)

#define STRING_OP_FAST(name, n_expr, body, is_cmp, regs, fast)             \
void name(struct cpu *c, const struct dec_insn *d)                         \
{                                                                           \
	unsigned n = (n_expr);                                              \
	if (!d->rep) {                                                      \
		body;                                                       \
		return;                                                     \
	}                                                                   \
	rep_zext(c, d, regs);                                               \
	fast;                                                               \
	while (count_reg(c, d)) {                                           \
		body;                                                       \
		dec_count(c, d);                                            \
		if (is_cmp && cpu_cond(c, 4) != (d->rep == 0xf3))           \
			break;                                              \
	}                                                                   \
}

/* Outside 64-bit mode the segment checks of both operands (null
 * selector, rights, limit: #GP/#SS) come before either access, as the
 * host CPU does: CMPS with a null ES and a source that page-faults is
 * #GP(0), not #PF (diffexec --mode 32 --seed 16207 --count 1 found it). */
static void str_seg_checks(struct cpu *c, const struct dec_insn *d,
			   unsigned n, int kind)
{
	if (c->mode == DEC_MODE64)
		return;
	(void)cpu_seg_check(c, str_la(c, d, src_seg(d), R_RSI), n, TLB_READ);
	(void)cpu_seg_check(c, str_la(c, d, S_ES, R_RDI), n, kind);
}

#define MOVS_BODY do { \
	str_seg_checks(c, d, n, TLB_WRITE); \
	uint64_t v = rdn(c, str_la(c, d, src_seg(d), R_RSI), n); \
	wrn(c, str_la(c, d, S_ES, R_RDI), v, n); \
	str_adv(c, d, R_RSI, n); str_adv(c, d, R_RDI, n); } while (0)
#define STOS_BODY do { \
	wrn(c, str_la(c, d, S_ES, R_RDI), c->r[R_RAX], n); \
	str_adv(c, d, R_RDI, n); } while (0)
#define LODS_BODY do { \
	uint64_t v = rdn(c, str_la(c, d, src_seg(d), R_RSI), n); \
	sreg_w(c, R_RAX, n, true, v); str_adv(c, d, R_RSI, n); } while (0)
#define CMPS_BODY do { \
	str_seg_checks(c, d, n, TLB_READ); \
	uint64_t a = rdn(c, str_la(c, d, src_seg(d), R_RSI), n); \
	uint64_t b = rdn(c, str_la(c, d, S_ES, R_RDI), n); \
	str_adv(c, d, R_RSI, n); str_adv(c, d, R_RDI, n); \
	c->lf_op = LF_SUB; c->lf_a = a; c->lf_b = b; c->lf_res = a - b; \
	c->lf_sz = (uint8_t)n; } while (0)
#define SCAS_BODY do { \
	uint64_t a = c->r[R_RAX] & sz_mask(n); \
	uint64_t b = rdn(c, str_la(c, d, S_ES, R_RDI), n); \
	str_adv(c, d, R_RDI, n); \
	c->lf_op = LF_SUB; c->lf_a = a; c->lf_b = b; c->lf_res = a - b; \
	c->lf_sz = (uint8_t)n; } while (0)

/* REP STOS/MOVS fast paths: whole runs within a page through the TLB's
 * host pointers (RAM only: MMIO, code pages and watched pages never have
 * write-TLB entries, so they take the element loop).  Forward direction
 * and 64-bit addressing only. */
static uint8_t *host_for(struct cpu *c, uint64_t la, unsigned n, int kind)
{
	struct tlb_entry *e = tlb_hit(c, kind, la, n);

	if (!e) {
		if (kind == TLB_WRITE)
			cpu_probe_write(c, la, n);
		else
			(void)rdn(c, la, n);
		e = tlb_hit(c, kind, la, n);
		if (!e)
			return NULL;
	}
	return (uint8_t *)(e->addend + (uintptr_t)la);
}

static void rep_stos_fast(struct cpu *c, const struct dec_insn *d, unsigned n)
{
	/* the element (little-endian host): a constant size per loop,
	 * and one memset when its bytes are all the same (a memcpy of n
	 * bytes per element was 13 % of the cloud kernel's boot) */
	uint64_t m = sz_mask(n), v = c->r[R_RAX] & m;

	if ((c->rflags & RFLAGS_DF) || d->adsz != 8)
		return;
	while (c->r[R_RCX]) {
		uint64_t la = str_la(c, d, S_ES, R_RDI);
		uint64_t room = (4096 - (la & 0xfff)) / n, k;
		uint8_t *p;

		if (!room)
			return;
		p = host_for(c, la, n, TLB_WRITE);
		if (!p)
			return;
		k = room < c->r[R_RCX] ? room : c->r[R_RCX];
		if (v == (v & 0xff) * (0x0101010101010101ull & m)) {
			memset(p, (int)(v & 0xff), k * n); /* 0: clear_page */
		} else if (n == 2) {
			for (uint64_t i = 0; i < k; i++)
				memcpy(p + i * 2, &v, 2);
		} else if (n == 4) {
			for (uint64_t i = 0; i < k; i++)
				memcpy(p + i * 4, &v, 4);
		} else {
			for (uint64_t i = 0; i < k; i++)
				memcpy(p + i * 8, &v, 8);
		}
		c->r[R_RDI] += k * n;
		c->r[R_RCX] -= k;
	}
}

static void rep_movs_fast(struct cpu *c, const struct dec_insn *d, unsigned n)
{
	if ((c->rflags & RFLAGS_DF) || d->adsz != 8)
		return;
	while (c->r[R_RCX]) {
		uint64_t sla = str_la(c, d, src_seg(d), R_RSI);
		uint64_t dla = str_la(c, d, S_ES, R_RDI);
		uint64_t sroom = (4096 - (sla & 0xfff)) / n;
		uint64_t droom = (4096 - (dla & 0xfff)) / n, k;
		uint8_t *sp, *dp;

		k = sroom < droom ? sroom : droom;
		if (!k)
			return;
		sp = host_for(c, sla, n, TLB_READ);
		dp = sp ? host_for(c, dla, n, TLB_WRITE) : NULL;
		if (!dp)
			return;
		if (k > c->r[R_RCX])
			k = c->r[R_RCX];
		if (dp >= sp + k * n || sp >= dp + k * n) {
			memcpy(dp, sp, k * n);
		} else { /* overlapping: element by element, each read whole
			  * before it is written (a byte loop differs when the
			  * distance is less than the element size) */
			for (uint64_t i = 0; i < k; i++)
				memmove(dp + i * n, sp + i * n, n);
		}
		c->r[R_RSI] += k * n;
		c->r[R_RDI] += k * n;
		c->r[R_RCX] -= k;
	}
}

STRING_OP_FAST(op_movsb, 1, MOVS_BODY, false, 3, rep_movs_fast(c, d, n))
STRING_OP_FAST(op_movsv, d->opsz, MOVS_BODY, false, 3, rep_movs_fast(c, d, n))
STRING_OP_FAST(op_stosb, 1, STOS_BODY, false, 2, rep_stos_fast(c, d, n))
STRING_OP_FAST(op_stosv, d->opsz, STOS_BODY, false, 2, rep_stos_fast(c, d, n))
STRING_OP(op_lodsb, 1, LODS_BODY, false, 0)
STRING_OP(op_lodsv, d->opsz, LODS_BODY, false, 0)
STRING_OP(op_cmpsb, 1, CMPS_BODY, true, 0)
STRING_OP(op_cmpsv, d->opsz, CMPS_BODY, true, 0)
STRING_OP(op_scasb, 1, SCAS_BODY, true, 0)
STRING_OP(op_scasv, d->opsz, SCAS_BODY, true, 0)

void op_xlat(struct cpu *c, const struct dec_insn *d)
{
	uint64_t a = (c->r[R_RBX] + (c->r[R_RAX] & 0xff)) & sz_mask(d->adsz);

	if (c->mode != DEC_MODE64)
		a = cpu_seg_la(c, src_seg(d), a);
	sreg_w(c, R_RAX, 1, true, rd8(c, a));
}

/* --- port I/O ----------------------------------------------------------- */

/* Protected mode at CPL > IOPL: the ports' bits in the TSS I/O
 * permission bit map must all be 0, the map (2 bytes read) within the
 * TSS limit, TR a 32- or 64-bit TSS; else #GP(0) (SDM Vol. 1 §19.5.1,
 * §19.5.2). */
static void io_check(struct cpu *c, uint16_t port, unsigned n)
{
	uint64_t map;
	unsigned bits;

	if (!(c->cr0 & CR0_PE) || c->cpl <= ((c->rflags >> 12) & 3))
		return;
	if (c->tr.unusable || (c->tr.type & ~2u) != 9 || c->tr.limit < 0x67)
		cpu_gp(c, 0);
	map = cpu_sys_read(c, c->tr.base + 0x66, 2) + port / 8u;
	if (map + 1 > c->tr.limit)
		cpu_gp(c, 0);
	bits = (unsigned)cpu_sys_read(c, c->tr.base + map, 2) >> (port & 7);
	if (bits & ((1u << n) - 1))
		cpu_gp(c, 0);
}

static uint64_t io_in(struct cpu *c, uint16_t port, unsigned n)
{
	uint32_t v = 0;

	io_check(c, port, n);
	machine_pio(c->m, port, false, &v, n);
	c->next_check = 0;
	return v;
}

static void io_out(struct cpu *c, uint16_t port, uint64_t v, unsigned n)
{
	uint32_t x = (uint32_t)v;

	io_check(c, port, n);
	machine_pio(c->m, port, true, &x, n);
	c->next_check = 0;
}

static unsigned io_size(const struct dec_insn *d)
{
	return d->opsz == 2 ? 2 : 4;
}

void op_in_AL_Ib(struct cpu *c, const struct dec_insn *d) { sreg_w(c, R_RAX, 1, true, io_in(c, (uint16_t)d->imm & 0xff, 1)); }
void op_in_eAX_Ib(struct cpu *c, const struct dec_insn *d) { sreg_w(c, R_RAX, io_size(d), true, io_in(c, (uint16_t)d->imm & 0xff, io_size(d))); }
void op_out_Ib_AL(struct cpu *c, const struct dec_insn *d) { io_out(c, (uint16_t)d->imm & 0xff, c->r[R_RAX], 1); }
void op_out_Ib_eAX(struct cpu *c, const struct dec_insn *d) { io_out(c, (uint16_t)d->imm & 0xff, c->r[R_RAX], io_size(d)); }
void op_in_AL_DX(struct cpu *c, const struct dec_insn *d) { sreg_w(c, R_RAX, 1, true, io_in(c, (uint16_t)c->r[R_RDX], 1)); }
void op_in_eAX_DX(struct cpu *c, const struct dec_insn *d) { sreg_w(c, R_RAX, io_size(d), true, io_in(c, (uint16_t)c->r[R_RDX], io_size(d))); }
void op_out_DX_AL(struct cpu *c, const struct dec_insn *d) { io_out(c, (uint16_t)c->r[R_RDX], c->r[R_RAX], 1); }
void op_out_DX_eAX(struct cpu *c, const struct dec_insn *d) { io_out(c, (uint16_t)c->r[R_RDX], c->r[R_RAX], io_size(d)); }

#define INS_BODY do { \
	uint64_t v = io_in(c, (uint16_t)c->r[R_RDX], n); \
	wrn(c, str_la(c, d, S_ES, R_RDI), v, n); str_adv(c, d, R_RDI, n); } while (0)
#define OUTS_BODY do { \
	uint64_t v = rdn(c, str_la(c, d, src_seg(d), R_RSI), n); \
	io_out(c, (uint16_t)c->r[R_RDX], v, n); str_adv(c, d, R_RSI, n); } while (0)
STRING_OP(op_insb, 1, INS_BODY, false, 2)
STRING_OP(op_insv, io_size(d), INS_BODY, false, 2)
STRING_OP(op_outsb, 1, OUTS_BODY, false, 1)
STRING_OP(op_outsv, io_size(d), OUTS_BODY, false, 1)

const struct cpu_forms cpu_ops_forms[] = {
	FORMS_ROW(op_mov_Ev_Gv), FORMS_ROW(op_mov_Gv_Ev),
	FORMS_ROW(op_mov_R_I), FORMS_ROW(op_mov_M_I),
	FORMS_ROW(op_movzx_Gv_Eb), FORMS_ROW(op_movzx_Gv_Ew),
	FORMS_ROW(op_lea_Gv_M), FORMS_ROW(op_cmovcc_Gv_Ev),
	FORMS_ROW(op_movsxd_Gv_Ed), FORMS_ROW(op_movsx_Gv_Eb),
	FORMS_ROW(op_movsx_Gv_Ew),
	{ NULL, { NULL, NULL }, { NULL, NULL }, { NULL, NULL }, { NULL, NULL } }
};

const cpu_handler cpu_stack64_forms[][2] = {
	{ op_push_Zv, push_Zv_64 }, { op_pop_Zv, pop_Zv_64 },
	{ op_call_Jz, call_Jz_64 }, { op_ret, ret_64 },
	{ NULL, NULL }
};

const struct cpu_forms cpu_ops_byte_forms[] = {
	FORMS1_ROW(op_mov_Eb_Gb), FORMS1_ROW(op_mov_Gb_Eb),
	FORMS1_ROW(op_mov_R_I), FORMS1_ROW(op_mov_M_I),
	{ NULL, { NULL, NULL }, { NULL, NULL }, { NULL, NULL }, { NULL, NULL } }
};
