/* The trace translator: host x86-64 code for a hot trace (block.c
 * translates a trace once the fast path has entered it JIT_HOT times).
 *
 * The code does what the run loop's walk would do for the whole trace,
 * instruction by instruction, with the same results:
 *
 * - each instruction the translator knows (classify(): MOV, MOVZX/MOVSX,
 *   LEA, the ALU operations, TEST, ADC/SBB, INC/DEC, shifts by a
 *   constant, IMUL, PUSH/POP, CALL/RET, Jcc/JMP, SETcc, CMOVcc, NOP)
 *   becomes a few host instructions on the guest registers in struct
 *   cpu, leaving memory and the lazy flags (lf_op, lf_sz, lf_a, lf_b,
 *   lf_res) exactly as its handler would; memory operands go through the
 *   TLB inline, the handler out of line on a miss;
 * - every other instruction is a direct call of its stored handler with
 *   rip, next_rip and icount stored first, as the walk stores them;
 * - the virtual clock: a translation runs only when the whole trace
 *   fits before next_check (cpu.c run_fast, or its chained entry); an
 *   inline instruction cannot move next_check, a handler can, so after
 *   each call the code leaves unless the rest of the trace still fits,
 *   and the walk goes on from the next instruction with its check at
 *   each.  Events are therefore taken at the same instruction count
 *   with or without translation;
 * - at its end a translation jumps into the next trace's when the
 *   trace's links or the jump cache name it (emit_chain()).
 *
 * The code keeps c in rbx, the trace's RIP in r13 (a trace may run at
 * several linear addresses: it is keyed by physical address, so RIPs
 * are r13 plus an offset) and the clock in r12; it returns the number
 * of instructions retired in the trace c->jit_t, with c->rip and
 * c->icount stored.  A fault in a handler longjmps out of it like out of
 * the walk.  DEVELOPERS.md ("Interpreter notes") has the rules. */
#include "cpu/cpu.h"

#include <stddef.h>

enum { RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSI = 6, RDI = 7, R12 = 12,
       R13 = 13 };

#define OFF(f) ((int32_t)offsetof(struct cpu, f))
_Static_assert(offsetof(struct cpu, lf_sz) == offsetof(struct cpu, lf_op) + 1,
	       "one 16-bit store sets lf_op and lf_sz");
#define OFF_R(i) (OFF(r) + 8 * (int32_t)(i))

struct em {
	uint8_t *p, *end;
	bool full;
	/* rax holds guest register rax_reg, just stored there, while
	 * nothing has been emitted since (p == rax_at) and no jump lands
	 * here: a load of it is then a register move, or nothing. */
	unsigned rax_reg;
	const uint8_t *rax_at;
	bool tlb_miss; /* tests: every TLB probe misses */
};

static inline void b1(struct em *e, unsigned v)
{
	if (e->p < e->end)
		*e->p++ = (uint8_t)v;
	else
		e->full = true;
}

static inline void b4(struct em *e, uint32_t v)
{
	if (e->end - e->p >= 4) {
		memcpy(e->p, &v, 4); /* little-endian host */
		e->p += 4;
	} else {
		e->full = true;
	}
}

static inline void b8(struct em *e, uint64_t v)
{
	b4(e, (uint32_t)v);
	b4(e, (uint32_t)(v >> 32));
}

/* op reg, [rbx + disp32] (or the store form): w selects REX.W. */
static inline void rbx_mem(struct em *e, bool w, unsigned opc, unsigned reg,
		    int32_t disp)
{
	if (w || reg >= 8)
		b1(e, 0x40 | (w ? 8 : 0) | (reg >= 8 ? 4 : 0));
	b1(e, opc);
	b1(e, 0x80 | (reg & 7) << 3 | RBX);
	b4(e, (uint32_t)disp);
}

static inline void load(struct em *e, bool w, unsigned reg, int32_t disp)
{
	if (e->p == e->rax_at && disp == OFF_R(e->rax_reg) &&
	    (reg == RAX || reg == RCX)) {
		if (reg == RCX) {                 /* mov rcx, rax */
			if (w)
				b1(e, 0x48);
			b1(e, 0x89);
			b1(e, 0xc1);
		} else if (!w) {                  /* mov eax, eax */
			b1(e, 0x89);
			b1(e, 0xc0);
		}
		return;
	}
	rbx_mem(e, w, 0x8b, reg, disp);
}

static inline void store64(struct em *e, unsigned reg, int32_t disp)
{
	rbx_mem(e, true, 0x89, reg, disp);
	if (reg == RAX && disp >= OFF_R(0) && disp < OFF_R(16) &&
	    (disp - OFF_R(0)) % 8 == 0) {
		e->rax_reg = (unsigned)(disp - OFF_R(0)) / 8;
		e->rax_at = e->p;
	}
}

/* lea rax, [r13 + disp32] (r12: base needs a SIB byte). */
static inline void lea_rax(struct em *e, unsigned base, int32_t disp)
{
	b1(e, 0x49);
	b1(e, 0x8d);
	b1(e, 0x80 | (base & 7));
	if ((base & 7) == 4)
		b1(e, 0x24);
	b4(e, (uint32_t)disp);
}

/* add r12, imm32 */
static inline void add_r12(struct em *e, int32_t v)
{
	if (!v)
		return;
	b1(e, 0x49);
	b1(e, 0x81);
	b1(e, 0xc4);
	b4(e, (uint32_t)v);
}

/* mov reg, imm: 64-bit sign-extended imm32, zero-extended imm32, or imm64. */
static void mov_imm(struct em *e, unsigned reg, uint64_t v)
{
	if (v <= 0xffffffffull) {
		b1(e, 0xb8 + reg);
		b4(e, (uint32_t)v);
	} else if ((uint64_t)(int64_t)(int32_t)v == v) {
		b1(e, 0x48);
		b1(e, 0xc7);
		b1(e, 0xc0 | reg);
		b4(e, (uint32_t)v);
	} else {
		b1(e, 0x48);
		b1(e, 0xb8 + reg);
		b8(e, v);
	}
}

/* A jump to patch: jae rel32 (0F 83) or jmp rel32 (E9); returns where
 * its rel32 is. */
static uint8_t *jump(struct em *e, bool cond)
{
	if (cond)
		b1(e, 0x0f);
	b1(e, cond ? 0x83 : 0xe9);
	b4(e, 0);
	return e->p - 4;
}

static void patch(struct em *e, uint8_t *at, const uint8_t *to)
{
	int32_t rel = (int32_t)(to - (at + 4));

	if (to == e->p)
		e->rax_at = NULL; /* a label here: rax unknown */
	if (e->full)
		return;
	memcpy(at, &rel, 4);
}

static void call(struct em *e, const void *fn)
{
	intptr_t rel = (intptr_t)fn - (intptr_t)(e->p + 5);

	if (rel == (int32_t)rel) {
		b1(e, 0xe8);
		b4(e, (uint32_t)rel);
		return;
	}
	mov_imm(e, RAX, (uint64_t)(uintptr_t)fn);
	b1(e, 0xff);
	b1(e, 0xd0); /* call rax */
}

/* op reg, [base + disp32] with base rbx, rdx, rsi or rdi (no SIB
 * byte), an optional 66 prefix and a one- or two-byte opcode. */
static inline void op_mem(struct em *e, bool p66, bool w, unsigned opc,
		   unsigned reg, unsigned base, int32_t disp)
{
	if (p66)
		b1(e, 0x66);
	if (w || reg >= 8)
		b1(e, 0x40 | (w ? 8 : 0) | (reg >= 8 ? 4 : 0));
	if (opc > 0xff)
		b1(e, opc >> 8);
	b1(e, opc & 0xff);
	b1(e, 0x80 | (reg & 7) << 3 | base);
	b4(e, (uint32_t)disp);
}

/* op r64, imm32 of group 1 (81 /ext) or a shift by imm8 (C1 /ext) on
 * reg; w: 64-bit. */
static inline void op_ri(struct em *e, bool w, unsigned opc, unsigned ext,
		  unsigned reg, uint32_t imm)
{
	if (w)
		b1(e, 0x48);
	b1(e, opc);
	b1(e, 0xc0 | ext << 3 | reg);
	if (opc == 0xc1)
		b1(e, imm);
	else
		b4(e, imm);
}

/* op dst, src between host registers below r8 (01, 09, 21, 29, 31,
 * 89, 85 ...: op r/m, reg). */
static inline void op_rr(struct em *e, bool w, unsigned opc, unsigned dst,
		  unsigned src)
{
	if (w)
		b1(e, 0x48);
	b1(e, opc);
	b1(e, 0xc0 | src << 3 | dst);
}

/* --- what the translator knows -------------------------------------------- */

enum { K_CALL, K_ALU, K_MOV, K_MOVX, K_LEA, K_SHIFT, K_IMUL, K_JCC, K_JMP,
       K_SETCC, K_CMOV, K_NOP, K_PUSH, K_POP, K_CALLREL, K_RET, K_ADC,
       K_INC };
/* Branches: they leave next_rip for the end code. */
#define K_BRANCH(k) ((k) == K_JCC || (k) == K_JMP || (k) == K_CALLREL || \
		     (k) == K_RET)
/* An operand: a guest register, the instruction's memory operand or
 * its immediate. */
enum { O_REG, O_MEM, O_IMM };

/* The ALU operations of ModRM.reg order that need no carry in: host
 * opcode (op r/m32, r32) and lazy-flag producer; TEST is AND without
 * the write. */
static const struct {
	uint8_t opc, lf;
} alu_ops[8] = {
	[0] = { 0x01, LF_ADD }, [1] = { 0x09, LF_LOGIC },
	[4] = { 0x21, LF_LOGIC }, [5] = { 0x29, LF_SUB },
	[6] = { 0x31, LF_LOGIC }, [7] = { 0x29, LF_SUB },
};

struct form {
	int kind;
	unsigned aop;      /* K_ALU: operation (0-7); K_SHIFT: 4 5 7;
			      K_MOVX: 1 sign-extend */
	bool write;        /* K_ALU: the result is written (not CMP, TEST) */
	int dt, st;        /* the destination's and the source's O_* */
	unsigned dst, src; /* their registers */
	unsigned n, sn;    /* operand size; K_MOVX: the source's */
	int tlb;           /* a memory operand's TLB kind */
	unsigned cnt;      /* K_SHIFT: the count */
	bool dead_lf;      /* its lazy flags are never read (lf_dead()) */
};

/* The memory operands the translator computes: 8-byte addresses from
 * base, index and displacement or RIP, plus FS's or GS's base with
 * their prefix (the kernel's per-CPU data); no other segment prefix
 * (their base is 0 in 64-bit mode but a non-canonical address through
 * SS raises #SS, which the handler gives). */
static bool simple_mem(const struct dec_insn *d)
{
	return d->mod != 3 && d->adsz == 8 &&
	       (d->seg == DEC_NOREG || d->seg == S_FS || d->seg == S_GS);
}

/* E as an operand of size n: a register, or the memory operand (tlb:
 * its TLB kind). */
static bool operand_e(const struct dec_insn *d, int *t, unsigned *r)
{
	if (d->mod == 3) {
		*t = O_REG;
		*r = d->rm;
		return true;
	}
	*t = O_MEM;
	*r = 0;
	return simple_mem(d);
}

/* The ALU handlers without carry in per operation (ModRM.reg order):
 * E op= G, G op= E, E op= imm (group 1's R_I and M_I serve the byte
 * forms too), the accumulator's form; 4- and 8-byte, and byte. */
struct alu_handlers {
	cpu_handler e_g, g_e, r_i, m_i, acc_i;
};
#define ALU_H(n, v, b, acc) { op_##n##_E##v##_G##b, op_##n##_G##b##_E##v, \
			      op_##n##_R_I, op_##n##_M_I, op_##n##_##acc }
static const struct alu_handlers alu[8] = {
	ALU_H(add, v, v, rAX_Iz), ALU_H(or, v, v, rAX_Iz),
	{ NULL, NULL, NULL, NULL, NULL }, { NULL, NULL, NULL, NULL, NULL },
	ALU_H(and, v, v, rAX_Iz), ALU_H(sub, v, v, rAX_Iz),
	ALU_H(xor, v, v, rAX_Iz), ALU_H(cmp, v, v, rAX_Iz),
};
static const struct alu_handlers alu_byte[8] = {
	ALU_H(add, b, b, AL_Ib), ALU_H(or, b, b, AL_Ib),
	{ NULL, NULL, NULL, NULL, NULL }, { NULL, NULL, NULL, NULL, NULL },
	ALU_H(and, b, b, AL_Ib), ALU_H(sub, b, b, AL_Ib),
	ALU_H(xor, b, b, AL_Ib), ALU_H(cmp, b, b, AL_Ib),
};
#undef ALU_H

/* h as one of table t's ALU forms: f (E in f->dt, f->dst; G in f->st,
 * f->src) made a K_ALU (K_CALL when E is a memory operand the
 * translator does not compute: e_ok false); false when h is none. */
static bool classify_alu(const struct dec_insn *d, cpu_handler h,
			 const struct alu_handlers *t, struct form *f,
			 bool e_ok)
{
	for (unsigned op = 0; op < 8; op++) {
		if (!t[op].e_g)
			continue;
		f->aop = op;
		f->write = op != 7;
		if (h == t[op].e_g || h == t[op].r_i || h == t[op].m_i) {
			f->st = h == t[op].e_g ? O_REG : O_IMM;
			if (f->dt == O_MEM && f->write)
				f->tlb = TLB_WRITE;
		} else if (h == t[op].g_e) {
			f->st = f->dt;
			f->src = f->dst;
			f->dt = O_REG;
			f->dst = d->reg;
		} else if (h == t[op].acc_i) {
			f->dt = O_REG;
			f->dst = R_RAX;
			f->st = O_IMM;
			e_ok = true;
		} else {
			continue;
		}
		f->kind = e_ok ? K_ALU : K_CALL;
		return true;
	}
	return false;
}

/* The byte forms: ALU operations without carry, TEST, MOV; a register
 * without REX in 4-7 is AH CH DH BH (emit_get, emit_put). */
static struct form classify_byte(const struct dec_insn *d, cpu_handler h)
{
	struct form f = { .kind = K_CALL, .n = 1, .tlb = TLB_READ,
			  .st = O_REG, .src = d->reg };
	bool e_ok = operand_e(d, &f.dt, &f.dst);

	if (classify_alu(d, h, alu_byte, &f, e_ok))
		return f;
	f.aop = 4;
	f.write = false;
	if (h == op_test_Eb_Gb || h == op_test_E_I) {
		f.st = h == op_test_Eb_Gb ? O_REG : O_IMM;
		f.kind = e_ok ? K_ALU : K_CALL;
	} else if (h == op_test_AL_Ib) {
		f.dt = O_REG;
		f.dst = R_RAX;
		f.st = O_IMM;
		f.kind = K_ALU;
	} else if (h == op_mov_Eb_Gb || h == op_mov_M_I || h == op_mov_R_I) {
		f.st = h == op_mov_Eb_Gb ? O_REG : O_IMM;
		f.tlb = TLB_WRITE;
		f.kind = e_ok ? K_MOV : K_CALL;
	} else if (h == op_mov_Gb_Eb) {
		f.st = f.dt;
		f.src = f.dst;
		f.dt = O_REG;
		f.dst = d->reg;
		f.kind = e_ok ? K_MOV : K_CALL;
	} else if (h == op_mov_Zb_Ib) {
		f.dt = O_REG;
		f.dst = d->rm;
		f.st = O_IMM;
		f.kind = K_MOV;
	}
	return f;
}

/* The form of ci if the translator emits it inline, else K_CALL.  The
 * operand roles are those of the handlers (alu.c alu_E_val, alu_G_val,
 * shift, imul2; ops.c). */
static struct form classify(const struct cpu_insn *ci)
{
	const struct dec_insn *d = &ci->d;
	cpu_handler h = cpu_opcode_handler(d->op);
	struct form f = { .kind = K_CALL, .n = d->opsz, .tlb = TLB_READ };
	static const struct {
		cpu_handler ib, one;
		unsigned op;
	} shifts[] = {
		{ op_shl_R_Ib, op_shl_R_1, 4 },
		{ op_shr_R_Ib, op_shr_R_1, 5 },
		{ op_sar_R_Ib, op_sar_R_1, 7 },
	};
	bool e_ok;

	/* Near branches with 8-byte operands (the only size Jcc and JMP
	 * rel have in 64-bit mode but with a 66 prefix); SETcc, CMOVcc on
	 * registers: the condition is d->op's low nibble (opcodes.def). */
	if ((h == op_jcc_Jb || h == op_jcc_Jz) && d->opsz == 8)
		return (struct form){ .kind = K_JCC, .aop = d->op & 15 };
	if ((h == op_jmp_Jb || h == op_jmp_Jz) && d->opsz == 8)
		return (struct form){ .kind = K_JMP };
	/* NOP Ev reads nothing; 90 without REX.B (XCHG r8, rAX) or F3
	 * (PAUSE: the handler's) */
	if (h == op_nop_Ev || (h == op_nop && d->rm != 8 && !d->rep))
		return (struct form){ .kind = K_NOP };
	/* PUSH, POP, CALL rel32, RET with 8-byte operands (ops.c push64,
	 * pop64, call_Jz_64, ret_64) */
	if (d->opsz == 8 && (h == op_push_Zv || h == op_pop_Zv))
		return (struct form){ .kind = h == op_push_Zv ? K_PUSH : K_POP,
				      .dst = d->rm, .n = 8,
				      .tlb = h == op_push_Zv ? TLB_WRITE :
							       TLB_READ };
	if (d->opsz == 8 && h == op_call_Jz)
		return (struct form){ .kind = K_CALLREL, .n = 8,
				      .tlb = TLB_WRITE };
	if (d->opsz == 8 && h == op_ret)
		return (struct form){ .kind = K_RET, .n = 8, .tlb = TLB_READ };
	if (h == op_setcc_Eb && d->mod == 3)
		return (struct form){ .kind = K_SETCC, .aop = d->op & 15,
				      .dst = d->rm, .n = 1 };
	if (h == op_cmovcc_Gv_Ev && d->mod == 3 &&
	    (d->opsz == 4 || d->opsz == 8))
		return (struct form){ .kind = K_CMOV, .aop = d->op & 15,
				      .dst = d->reg, .src = d->rm,
				      .n = d->opsz };
	if ((h == op_inc_E || h == op_dec_E) &&
	    (d->opsz == 1 || d->opsz == 4 || d->opsz == 8)) {
		f.kind = K_INC;
		f.aop = h == op_dec_E;
		f.tlb = TLB_WRITE;
		if (!operand_e(d, &f.dt, &f.dst))
			f.kind = K_CALL;
		return f;
	}
	if (d->opsz == 1)
		return classify_byte(d, h);
	if (d->opsz != 4 && d->opsz != 8)
		return f;
	e_ok = operand_e(d, &f.dt, &f.dst);
	f.st = O_REG;
	f.src = d->reg;
	if (classify_alu(d, h, alu, &f, e_ok))
		return f;
	if ((h == op_adc_Ev_Gv || h == op_sbb_Ev_Gv) && d->mod == 3) {
		f = (struct form){ K_ADC, h == op_adc_Ev_Gv ? 2 : 3, true,
				   O_REG, O_REG, d->rm, d->reg, d->opsz, 0,
				   TLB_READ, 0, false };
		return f;
	}
	if ((h == op_adc_Gv_Ev || h == op_sbb_Gv_Ev) && d->mod == 3) {
		f = (struct form){ K_ADC, h == op_adc_Gv_Ev ? 2 : 3, true,
				   O_REG, O_REG, d->reg, d->rm, d->opsz, 0,
				   TLB_READ, 0, false };
		return f;
	}
	if (h == op_adc_R_I || h == op_sbb_R_I) {
		f = (struct form){ K_ADC, h == op_adc_R_I ? 2 : 3, true,
				   O_REG, O_IMM, d->rm, 0, d->opsz, 0,
				   TLB_READ, 0, false };
		return f;
	}
	f.aop = 4;
	f.write = false;
	if (h == op_test_Ev_Gv || h == op_test_E_I) {
		f.st = h == op_test_Ev_Gv ? O_REG : O_IMM;
		f.kind = e_ok ? K_ALU : K_CALL;
	} else if (h == op_test_rAX_Iz) {
		f = (struct form){ K_ALU, 4, false, O_REG, O_IMM, R_RAX, 0,
				   d->opsz, 0, TLB_READ, 0, false };
	} else if (h == op_mov_Ev_Gv || h == op_mov_M_I || h == op_mov_R_I) {
		f.st = h == op_mov_Ev_Gv ? O_REG : O_IMM;
		f.tlb = TLB_WRITE;
		f.kind = e_ok ? K_MOV : K_CALL;
	} else if (h == op_mov_Gv_Ev) {
		f = (struct form){ K_MOV, 0, false, O_REG, f.dt, d->reg, f.dst,
				   d->opsz, 0, TLB_READ, 0, false };
		f.kind = e_ok ? K_MOV : K_CALL;
	} else if (h == op_mov_Zv_Iv) {
		f = (struct form){ K_MOV, 0, false, O_REG, O_IMM, d->rm, 0,
				   d->opsz, 0, TLB_READ, 0, false };
	} else if (h == op_movzx_Gv_Eb || h == op_movzx_Gv_Ew ||
		   h == op_movsx_Gv_Eb || h == op_movsx_Gv_Ew ||
		   (h == op_movsxd_Gv_Ed && d->opsz == 8)) {
		f = (struct form){ K_MOVX,
				   h == op_movsx_Gv_Eb || h == op_movsx_Gv_Ew ||
				   h == op_movsxd_Gv_Ed,
				   false, O_REG, f.dt, d->reg, f.dst, d->opsz,
				   h == op_movzx_Gv_Eb || h == op_movsx_Gv_Eb ? 1 :
				   h == op_movsxd_Gv_Ed ? 4 : 2, TLB_READ, 0, false };
		f.kind = e_ok ? K_MOVX : K_CALL;
	} else if (h == op_lea_Gv_M && d->mod != 3 && d->adsz == 8) {
		f = (struct form){ .kind = K_LEA, .dst = d->reg, .n = d->opsz };
	} else if (h == op_imul_Gv_Ev) {
		f = (struct form){ K_IMUL, 0, true, O_REG, f.dt, d->reg, f.dst,
				   d->opsz, 0, TLB_READ, 0, false };
		f.kind = e_ok ? K_IMUL : K_CALL;
	} else {
		for (unsigned i = 0; i < sizeof(shifts) / sizeof(*shifts); i++)
			if (h == shifts[i].ib || h == shifts[i].one)
				f = (struct form){ K_SHIFT, shifts[i].op, true,
					O_REG, O_IMM, d->rm, 0, d->opsz, 0,
					TLB_READ,
					(h == shifts[i].one ? 1 :
					 (unsigned)d->imm) &
					(d->opsz == 8 ? 63 : 31), false };
	}
	return f;
}

static bool has_mem(const struct form *f)
{
	return f->dt == O_MEM || f->st == O_MEM || f->kind == K_PUSH ||
	       f->kind == K_POP || f->kind == K_CALLREL || f->kind == K_RET;
}

/* A register-only instruction that sets every lazy-flag field and
 * reads none. */
static bool full_producer(const struct form *f)
{
	return !has_mem(f) && (f->kind == K_ALU || f->kind == K_IMUL ||
			       (f->kind == K_SHIFT && f->cnt));
}

/* Whether the lazy flags instruction k of the trace would store are
 * dead: a full producer overwrites them before anything can see them.
 * Seeing is: a handler (a call, a memory operand's slow path or
 * fault, whose delivery reads RFLAGS), an exit, a reader of the lazy
 * fields; only moves, LEA, NOP, shifts by 0 and, right after an ALU
 * operation whose host flags are live, one SETcc or CMOVcc may come in
 * between. */
static bool lf_dead(const struct form *fs, unsigned n, unsigned k)
{
	if (!(fs[k].kind == K_ALU || fs[k].kind == K_IMUL ||
	      (fs[k].kind == K_SHIFT && fs[k].cnt)))
		return false;
	for (unsigned j = k + 1; j < n; j++) {
		const struct form *f = &fs[j];

		if (full_producer(f))
			return true;
		if (has_mem(f))
			return false;
		switch (f->kind) {
		case K_MOV:
		case K_MOVX:
		case K_LEA:
		case K_NOP:
			continue;
		case K_SHIFT: /* by 0 */
			continue;
		case K_SETCC:
		case K_CMOV:
			if (j == k + 1 && fs[k].kind == K_ALU &&
			    !has_mem(&fs[k]))
				continue;
			return false;
		default:
			return false;
		}
	}
	return false;
}

/* Where an inline instruction gives up (a TLB miss): the handler
 * called out of line, then back after the inline code. */
struct slow {
	uint8_t *jumps[4]; /* the jne/ja rel32s to patch */
	unsigned nj, k;
	int32_t pend;      /* r12 lags the clock before k by this much */
	uint8_t *resume;
};

/* A jump to the instruction's out-of-line handler. */
static void slow_jump(struct em *e, struct slow *sl, uint8_t *at)
{
	if (sl->nj < sizeof(sl->jumps) / sizeof(*sl->jumps))
		sl->jumps[sl->nj++] = at;
	else
		e->full = true; /* cannot happen: no translation then */
}

/* jcc rel32 (0F 8x) to patch. */
static uint8_t *jcc(struct em *e, unsigned cc)
{
	b1(e, 0x0f);
	b1(e, 0x80 | cc);
	b4(e, 0);
	return e->p - 4;
}

#define TLB_OFF(kind) (OFF(tlb) + (int32_t)((kind) * TLB_SIZE * \
					    sizeof(struct tlb_entry)))
_Static_assert(sizeof(struct tlb_entry) == 32 && TLB_SIZE == 256,
	       "TLB index * 32 from bits 12-19");

/* rdx = the host address of d's memory operand for an n-byte access of
 * TLB kind `kind` (tlb_hit(): the tag of the linear page with the user
 * bit, the access within the page), or a jump to sl.  Uses rsi, rdi,
 * rcx. */
static void emit_tlb(struct em *e, int kind, unsigned n, struct slow *sl);

static void emit_host_addr(struct em *e, const struct dec_insn *d,
			   int64_t next, int kind, unsigned n, struct slow *sl)
{
	if (d->riprel) { /* lea rdx, [r13 + next + disp] */
		b1(e, 0x49);
		b1(e, 0x8d);
		b1(e, 0x95);
		b4(e, (uint32_t)(next + d->disp));
	} else {
		if (d->base != DEC_NOREG)
			load(e, true, RDX, OFF_R(d->base));
		else
			mov_imm(e, RDX, 0);
		if (d->index != DEC_NOREG) {
			load(e, true, RSI, OFF_R(d->index));
			if (d->scale)
				op_ri(e, true, 0xc1, 4, RSI, d->scale);
			op_rr(e, true, 0x01, RDX, RSI); /* add rdx, rsi */
		}
		if (d->disp)
			op_ri(e, true, 0x81, 0, RDX, (uint32_t)d->disp);
	}
	if (d->seg == S_FS || d->seg == S_GS) /* add rdx, [rbx + base] */
		rbx_mem(e, true, 0x03, RDX,
			OFF(seg) + (int32_t)(d->seg * sizeof(struct rax_seg) +
					     offsetof(struct rax_seg, base)));
	emit_tlb(e, kind, n, sl);
}

/* rdx: a linear address -> its host address through the TLB (kind, n
 * bytes), or a jump to sl. */
static void emit_tlb(struct em *e, int kind, unsigned n, struct slow *sl)
{
	/* esi = the entry's offset: (la >> 12) % TLB_SIZE * 32 */
	op_rr(e, false, 0x89, RSI, RDX);             /* mov esi, edx */
	op_ri(e, false, 0xc1, 5, RSI, 7);            /* shr esi, 7 */
	op_ri(e, false, 0x81, 4, RSI, (TLB_SIZE - 1) << 5);
	/* rdi = the page of the access's last byte | the user bit: an
	 * access that crosses into the next page fails the tag compare
	 * (that page has the next index), as tlb_hit()'s test of the
	 * offset fails it */
	if (n > 1) { /* lea rdi, [rdx + n - 1] */
		b1(e, 0x48); b1(e, 0x8d); b1(e, 0x7a); b1(e, n - 1);
	} else {
		op_rr(e, true, 0x89, RDI, RDX);
	}
	op_ri(e, true, 0x81, 4, RDI, 0xfffff000u);   /* and rdi, -4096 */
	/* or dil, [rbx + user] (the low byte is 0) */
	b1(e, 0x40);
	rbx_mem(e, false, 0x0a, RDI, OFF(user));
	/* cmp rdi, [rbx + rsi + tag] */
	b1(e, 0x48); b1(e, 0x3b); b1(e, 0xbc); b1(e, 0x33);
	b4(e, (uint32_t)(TLB_OFF(kind) + offsetof(struct tlb_entry, tag)));
	slow_jump(e, sl, jcc(e, 0x5)); /* jne */
	if (e->tlb_miss)
		slow_jump(e, sl, jump(e, false));
	/* add rdx, [rbx + rsi + addend] */
	b1(e, 0x48); b1(e, 0x03); b1(e, 0x94); b1(e, 0x33);
	b4(e, (uint32_t)(TLB_OFF(kind) + offsetof(struct tlb_entry, addend)));
}

/* reg = the operand (t, r) of n bytes, zero-extended (sx: sign-); a
 * memory operand is at [rdx].  A byte register without REX in 4-7 is
 * AH CH DH BH (cpu.h greg()). */
static void emit_get(struct em *e, const struct dec_insn *d, int t,
		     unsigned r, unsigned n, bool sx, unsigned reg,
		     uint64_t imm)
{
	unsigned base = t == O_MEM ? RDX : RBX;
	int32_t disp = t == O_MEM ? 0 : OFF_R(r);

	if (t == O_IMM) {
		mov_imm(e, reg, imm);
		return;
	}
	if (t == O_REG && n == 1 && !d->rex && r >= 4 && r < 8)
		disp = OFF_R(r - 4) + 1;
	if (t == O_REG && (n == 8 || (n == 4 && !sx))) {
		load(e, n == 8, reg, disp);
		return;
	}
	switch (n) {
	case 1: op_mem(e, false, sx, sx ? 0x0fbe : 0x0fb6, reg, base, disp); break;
	case 2: op_mem(e, false, sx, sx ? 0x0fbf : 0x0fb7, reg, base, disp); break;
	case 4: op_mem(e, false, sx, sx ? 0x63 : 0x8b, reg, base, disp); break;
	default: op_mem(e, false, true, 0x8b, reg, base, disp); break;
	}
}

/* The operand (t, r) = rax's low n bytes: a register gets the 4-byte
 * value zero-extended (rax holds it so) or the 8-byte one. */
static void emit_put(struct em *e, const struct dec_insn *d, int t,
		     unsigned r, unsigned n)
{
	if (n == 1) { /* mov [rbx + reg] or [rdx], al */
		int32_t disp = OFF_R(r);

		if (t == O_REG && !d->rex && r >= 4 && r < 8)
			disp = OFF_R(r - 4) + 1;
		op_mem(e, false, false, 0x88, RAX, t == O_REG ? RBX : RDX,
		       t == O_REG ? disp : 0);
	} else if (t == O_REG) {
		store64(e, RAX, OFF_R(r));
	} else {
		op_mem(e, false, n == 8, 0x89, RAX, RDX, 0);
	}
}

/* mov word [rbx + lf_op], lf_sz << 8 | producer */
static void emit_lf(struct em *e, unsigned op, unsigned n)
{
	b1(e, 0x66);
	rbx_mem(e, false, 0xc7, 0, OFF(lf_op));
	b1(e, op);
	b1(e, n);
}

/* a op= b with the lazy flags of alu() (alu.c): lf_a and lf_b the
 * operands masked to n bytes, lf_res the result, lf_op and lf_sz. */
static void emit_alu(struct em *e, const struct dec_insn *d,
		     const struct form *f)
{
	bool w = f->n == 8;
	uint64_t imm = w ? d->imm : f->n == 4 ? (uint32_t)d->imm :
		       (uint8_t)d->imm;

	emit_get(e, d, f->dt, f->dst, f->n, false, RAX, 0);
	emit_get(e, d, f->st, f->src, f->n, false, RCX, imm);
	/* LF_LOGIC reads lf_res alone (alu.c: CF, OF and AF are 0) */
	if (!f->dead_lf && alu_ops[f->aop].lf != LF_LOGIC) {
		store64(e, RAX, OFF(lf_a));
		store64(e, RCX, OFF(lf_b));
	}
	/* 32-bit: zero-extends; 8-bit (op r/m8, r8 is one below): the
	 * rest of rax stays 0 from the zero-extending load */
	op_rr(e, w, alu_ops[f->aop].opc - (f->n == 1), RAX, RCX);
	if (!f->dead_lf) {
		store64(e, RAX, OFF(lf_res));
		emit_lf(e, alu_ops[f->aop].lf, f->n);
	}
	if (f->write) /* last: rax then holds the register (load()) */
		emit_put(e, d, f->dt, f->dst, f->n);
}

/* SHL SHR SAR by a constant count (alu.c shift()): CF the last bit out;
 * OF: SHL the result's top bit ^ CF, SHR the operand's top bit, SAR 0;
 * a count of 0 changes no flag, the register still written. */
static void emit_shift(struct em *e, const struct form *f)
{
	bool w = f->n == 8;
	unsigned bits = 8 * f->n, c = f->cnt;

	load(e, w, RAX, OFF_R(f->dst));
	if (c && f->dead_lf) {
		op_ri(e, w, 0xc1, f->aop, RAX, c);
	} else if (c) {
		op_rr(e, w, 0x89, RCX, RAX);             /* mov rcx, rax */
		if (f->aop == 4)
			op_ri(e, w, 0xc1, 5, RCX, bits - c); /* shr */
		else if (c > 1)
			op_ri(e, w, 0xc1, f->aop, RCX, c - 1);
		op_ri(e, false, 0x81, 4, RCX, 1);        /* and ecx, 1 */
		if (f->aop == 5) {                        /* the top bit */
			op_rr(e, w, 0x89, RDX, RAX);
			op_ri(e, w, 0xc1, 5, RDX, bits - 1);
		}
		op_ri(e, w, 0xc1, f->aop, RAX, c);       /* the shift */
		if (f->aop == 4) {
			op_rr(e, w, 0x89, RDX, RAX);
			op_ri(e, w, 0xc1, 5, RDX, bits - 1);
			op_rr(e, false, 0x31, RDX, RCX); /* xor edx, ecx */
		} else if (f->aop == 7) {
			op_rr(e, false, 0x31, RDX, RDX); /* xor edx, edx */
		}
		store64(e, RCX, OFF(lf_a));
		store64(e, RDX, OFF(lf_b));
		store64(e, RAX, OFF(lf_res));
		emit_lf(e, LF_CO, f->n);
	}
	store64(e, RAX, OFF_R(f->dst));
}

/* IMUL r, r/m (alu.c imul2): CF = OF = the product does not fit,
 * exactly the host's flags. */
static void emit_imul(struct em *e, const struct dec_insn *d,
		      const struct form *f)
{
	bool w = f->n == 8;

	emit_get(e, d, f->st, f->src, f->n, false, RCX, 0);
	load(e, w, RAX, OFF_R(f->dst));
	if (w)
		b1(e, 0x48);
	b1(e, 0x0f);
	b1(e, 0xaf);
	b1(e, 0xc1);                      /* imul eax, ecx */
	if (f->dead_lf) {
		store64(e, RAX, OFF_R(f->dst));
		return;
	}
	b1(e, 0x0f);
	b1(e, 0x90);
	b1(e, 0xc1);                      /* seto cl */
	b1(e, 0x0f);
	b1(e, 0xb6);
	b1(e, 0xc9);                      /* movzx ecx, cl */
	store64(e, RCX, OFF(lf_a));
	store64(e, RCX, OFF(lf_b));
	store64(e, RAX, OFF(lf_res));
	emit_lf(e, LF_CO, f->n);
	store64(e, RAX, OFF_R(f->dst));   /* last (load()) */
}

/* LEA with 8-byte addresses (ops.c lea()): base or RIP, index, disp
 * (RIP-relative: the caller checked that next + disp fits 32 bits). */
static void emit_lea(struct em *e, const struct dec_insn *d, int64_t next)
{
	int64_t disp = d->disp;

	if (d->riprel) {
		lea_rax(e, R13, (int32_t)(next + disp));
	} else if (d->base != DEC_NOREG) {
		load(e, true, RAX, OFF_R(d->base));
		if (disp)
			op_ri(e, true, 0x81, 0, RAX, (uint32_t)disp);
	} else {
		mov_imm(e, RAX, (uint64_t)disp);
	}
	if (d->index != DEC_NOREG) {
		load(e, true, RCX, OFF_R(d->index));
		if (d->scale)
			op_ri(e, true, 0xc1, 4, RCX, d->scale);
		op_rr(e, true, 0x01, RAX, RCX);
	}
	if (d->opsz == 4)
		op_rr(e, false, 0x89, RAX, RAX); /* mov eax, eax */
	store64(e, RAX, OFF_R(d->reg));
}

/* What the translator knows of the arithmetic flags at a point of the
 * trace: the lazy-flag producer (LF_ADD, LF_SUB, LF_LOGIC; -1: not
 * known) and size of the instruction that set them last, and whether
 * the host's flags are still those of its inline operation (the
 * instruction just before, emitted with no call out of line). */
struct flags {
	int op;
	unsigned n;
	bool live;
};
/* op: only the host's flags hold them (after ADC, SBB: no producer
 * to run again), usable while live. */
#define FL_HOST (-2)

/* The host's flags = the guest's: the operation again on the lazy
 * operands (lf_a op lf_b, or lf_res for the logic operations), which
 * gives CF PF AF ZF SF OF exactly as the guest's instruction. */
static void emit_flags(struct em *e, const struct flags *fl)
{
	bool w = fl->n == 8;

	if (fl->live)
		return;
	if (fl->op == LF_LOGIC) {
		load(e, w, RAX, OFF(lf_res));
		op_rr(e, w, fl->n == 1 ? 0x84 : 0x85, RAX, RAX); /* test */
		return;
	}
	load(e, w, RAX, OFF(lf_a));
	/* cmp or add r, [lf_b] (8-bit: one below) */
	rbx_mem(e, w, (fl->op == LF_SUB ? 0x3b : 0x03) - (fl->n == 1), RAX,
		OFF(lf_b));
}

static bool flags_known(const struct flags *fl)
{
	return fl->op >= 0 || (fl->op == FL_HOST && fl->live);
}

/* The host's flags made to answer condition cc: the guest's own flags
 * when the translator knows them (returns cc), else cpu_cond(c, cc)'s
 * answer tested (returns 5, "not zero"). */
static unsigned emit_cond(struct em *e, const struct flags *fl, unsigned cc)
{
	if (flags_known(fl)) {
		emit_flags(e, fl);
		return cc;
	}
	op_rr(e, true, 0x89, RDI, RBX);
	mov_imm(e, RSI, cc);
	call(e, (const void *)cpu_cond);
	op_rr(e, false, 0x84, RAX, RAX);      /* test al, al */
	return 5;
}

/* reg (rcx or rdx) = the guest's CF, 0 or 1: from the known flags,
 * else cpu_cf(c). */
static void emit_carry(struct em *e, const struct flags *fl, unsigned reg)
{
	if (flags_known(fl)) {
		emit_flags(e, fl);
		b1(e, 0x0f); b1(e, 0x92); b1(e, 0xc0 | reg); /* setc */
		b1(e, 0x0f); b1(e, 0xb6); b1(e, 0xc0 | reg << 3 | reg);
		return;
	}
	op_rr(e, true, 0x89, RDI, RBX);
	call(e, (const void *)cpu_cf);
	b1(e, 0x0f); b1(e, 0xb6); b1(e, 0xc0 | reg << 3); /* movzx reg, al */
}

/* A Jcc or JMP rel ending the trace at k: next_rip = the target when
 * taken (a non-canonical one: the handler, out of line, raises #GP),
 * else the next instruction; the end code then stores rip from it. */
static void emit_branch(struct em *e, const struct dec_insn *d,
			const struct form *f, const struct flags *fl,
			int64_t next, struct slow *sl)
{
	uint8_t *not_taken = NULL, *done;

	if (f->kind == K_JCC)
		not_taken = jcc(e, emit_cond(e, fl, f->aop) ^ 1);
	lea_rax(e, R13, (int32_t)(next + (int64_t)d->imm));
	op_rr(e, true, 0x89, RCX, RAX);       /* mov rcx, rax */
	op_ri(e, true, 0xc1, 4, RCX, 16);     /* shl rcx, 16 */
	op_ri(e, true, 0xc1, 7, RCX, 16);     /* sar rcx, 16 */
	op_rr(e, true, 0x39, RCX, RAX);       /* cmp rcx, rax */
	slow_jump(e, sl, jcc(e, 0x5));    /* jne: #GP */
	store64(e, RAX, OFF(next_rip));
	if (!not_taken)
		return;
	done = jump(e, false);
	patch(e, not_taken, e->p);
	lea_rax(e, R13, (int32_t)next);
	store64(e, RAX, OFF(next_rip));
	patch(e, done, e->p);
}

/* SETcc r8; CMOVcc r, r (32 bits: the destination zero-extended even
 * when the condition fails, as the host's CMOV does). */
static void emit_cc(struct em *e, const struct dec_insn *d,
		    const struct form *f, const struct flags *fl)
{
	bool w = f->n == 8;
	unsigned cc = emit_cond(e, fl, f->aop);

	if (f->kind == K_SETCC) {
		int32_t disp = OFF_R(f->dst);

		if (!d->rex && f->dst >= 4 && f->dst < 8)
			disp = OFF_R(f->dst - 4) + 1; /* AH CH DH BH */
		b1(e, 0x0f);
		b1(e, 0x90 | cc);
		b1(e, 0xc0);                  /* setcc al */
		rbx_mem(e, false, 0x88, RAX, disp);
		return;
	}
	load(e, w, RAX, OFF_R(f->dst));
	op_mem(e, false, w, 0x0f40 | cc, RAX, RBX, OFF_R(f->src));
	store64(e, RAX, OFF_R(f->dst));
}

/* PUSH r64, POP r64 (POP RSP: the value loaded wins), CALL rel32 and
 * RET (ops.c push64, pop64): the stack slot through the TLB; a
 * non-canonical RSP misses it, and the handler out of line raises #SS;
 * a non-canonical target goes to the handler (#GP) before RSP moves. */
static void emit_stack(struct em *e, const struct dec_insn *d,
		       const struct form *f, int64_t next, struct slow *sl)
{
	load(e, true, RDX, OFF_R(R_RSP));
	if (f->kind == K_PUSH || f->kind == K_CALLREL)
		op_ri(e, true, 0x81, 5, RDX, 8);  /* sub rdx, 8 */
	if (f->kind == K_CALLREL) {           /* the target's check first */
		lea_rax(e, R13, (int32_t)(next + (int64_t)d->imm));
		op_rr(e, true, 0x89, RCX, RAX);
		op_ri(e, true, 0xc1, 4, RCX, 16);
		op_ri(e, true, 0xc1, 7, RCX, 16);
		op_rr(e, true, 0x39, RCX, RAX);
		slow_jump(e, sl, jcc(e, 0x5));
	}
	emit_tlb(e, f->tlb, 8, sl);
	switch (f->kind) {
	case K_PUSH:
		load(e, true, RAX, OFF_R(f->dst));
		op_mem(e, false, true, 0x89, RAX, RDX, 0);
		rbx_mem(e, true, 0x81, 5, OFF_R(R_RSP)); /* sub [rsp], 8 */
		b4(e, 8);
		break;
	case K_POP:
		op_mem(e, false, true, 0x8b, RAX, RDX, 0);
		rbx_mem(e, true, 0x81, 0, OFF_R(R_RSP)); /* add [rsp], 8 */
		b4(e, 8);
		store64(e, RAX, OFF_R(f->dst));
		break;
	case K_CALLREL:
		lea_rax(e, R13, (int32_t)next);   /* the return address */
		op_mem(e, false, true, 0x89, RAX, RDX, 0);
		rbx_mem(e, true, 0x81, 5, OFF_R(R_RSP));
		b4(e, 8);
		lea_rax(e, R13, (int32_t)(next + (int64_t)d->imm));
		store64(e, RAX, OFF(next_rip));
		break;
	case K_RET:
		op_mem(e, false, true, 0x8b, RAX, RDX, 0);
		op_rr(e, true, 0x89, RCX, RAX);
		op_ri(e, true, 0xc1, 4, RCX, 16);
		op_ri(e, true, 0xc1, 7, RCX, 16);
		op_rr(e, true, 0x39, RCX, RAX);
		slow_jump(e, sl, jcc(e, 0x5));
		rbx_mem(e, true, 0x81, 0, OFF_R(R_RSP));
		b4(e, 8);
		store64(e, RAX, OFF(next_rip));
		break;
	}
}

/* ADC, SBB (alu.c alu() ops 2, 3): the carry in is the host's CF once
 * the flags are established; the lazy producer LF_ADC/LF_SBB with a
 * carry in, else LF_ADD/LF_SUB (each 5 apart), the host's flags then
 * those of the guest's operation. */
_Static_assert(LF_ADC - LF_ADD == 5 && LF_SBB - LF_SUB == 5,
	       "producer + 5 * carry in");
static void emit_adc(struct em *e, const struct dec_insn *d,
		     const struct form *f, const struct flags *fl)
{
	bool w = f->n == 8;

	/* the carry in, before lf_a and lf_b change */
	emit_carry(e, fl, RDX);
	load(e, w, RAX, OFF_R(f->dst));
	if (f->st == O_IMM)
		mov_imm(e, RCX, w ? d->imm : (uint32_t)d->imm);
	else
		load(e, w, RCX, OFF_R(f->src));
	store64(e, RAX, OFF(lf_a));
	store64(e, RCX, OFF(lf_b));
	b1(e, 0x0f); b1(e, 0xba); b1(e, 0xe2); b1(e, 0); /* bt edx, 0: CF */
	op_rr(e, w, f->aop == 2 ? 0x11 : 0x19, RAX, RCX); /* adc/sbb */
	store64(e, RAX, OFF(lf_res));
	/* lf_op = producer + 5 * dl, lf_sz = n (movzx and lea keep the
	 * flags) */
	b1(e, 0x0f); b1(e, 0xb6); b1(e, 0xd2); /* movzx edx, dl */
	b1(e, 0x8d); b1(e, 0x14); b1(e, 0x92); /* lea edx, [rdx + rdx*4] */
	b1(e, 0x8d); b1(e, 0x92);             /* lea edx, [rdx + imm32] */
	b4(e, (uint32_t)((f->aop == 2 ? LF_ADD : LF_SUB) | f->n << 8));
	b1(e, 0x66);
	rbx_mem(e, false, 0x89, RDX, OFF(lf_op));
	store64(e, RAX, OFF_R(f->dst));       /* last (load()) */
}

/* INC, DEC (alu.c incdec()): the carry flag kept, folded into rflags
 * (the lazy producers LF_INC and LF_DEC leave CF to it); with the host's
 * CF set to it first, the host's INC or DEC gives the guest's flags. */
static void emit_inc(struct em *e, const struct dec_insn *d,
		     const struct form *f, const struct flags *fl)
{
	bool w = f->n == 8;

	emit_carry(e, fl, RCX);
	rbx_mem(e, true, 0x83, 4, OFF(rflags));       /* and [rflags], ~CF */
	b1(e, 0xfe);
	rbx_mem(e, true, 0x09, RCX, OFF(rflags));     /* or [rflags], rcx */
	emit_get(e, d, f->dt, f->dst, f->n, false, RAX, 0);
	store64(e, RAX, OFF(lf_a));
	rbx_mem(e, true, 0xc7, 0, OFF(lf_b));         /* mov [lf_b], 1 */
	b4(e, 1);
	b1(e, 0x0f); b1(e, 0xba); b1(e, 0xe1); b1(e, 0); /* bt ecx, 0 */
	if (w)
		b1(e, 0x48);
	b1(e, f->n == 1 ? 0xfe : 0xff);
	b1(e, f->aop ? 0xc8 : 0xc0);                  /* inc/dec eax */
	store64(e, RAX, OFF(lf_res));
	emit_lf(e, f->aop ? LF_DEC : LF_INC, f->n);
	emit_put(e, d, f->dt, f->dst, f->n);  /* last (load()) */
}

/* The inline code of ci; a memory operand's TLB miss jumps to sl. */
static void emit_inline(struct em *e, const struct cpu_insn *ci,
			const struct form *f, const struct flags *fl,
			int64_t next, struct slow *sl)
{
	const struct dec_insn *d = &ci->d;
	bool w = f->n == 8;
	unsigned mn = f->kind == K_MOVX ? f->sn : f->n;

	if ((f->dt == O_MEM || f->st == O_MEM) && f->kind != K_LEA &&
	    f->kind != K_ADC && f->kind != K_PUSH && f->kind != K_POP &&
	    f->kind != K_CALLREL && f->kind != K_RET)
		emit_host_addr(e, d, next, f->tlb, mn, sl);
	switch (f->kind) {
	case K_ALU:
		emit_alu(e, d, f);
		break;
	case K_MOV: /* 4-byte values zero-extended (the load does) */
		emit_get(e, d, f->st, f->src, f->n, false, RAX,
			 w ? d->imm : (uint32_t)d->imm);
		emit_put(e, d, f->dt, f->dst, f->n);
		break;
	case K_MOVX: /* to 4 bytes: extended to 32 bits, then zero */
		emit_get(e, d, f->st, f->src, f->sn, f->aop, RAX, 0);
		if (f->aop && !w)
			op_rr(e, false, 0x89, RAX, RAX); /* mov eax, eax */
		store64(e, RAX, OFF_R(f->dst));
		break;
	case K_LEA:
		emit_lea(e, d, next);
		break;
	case K_SHIFT:
		emit_shift(e, f);
		break;
	case K_IMUL:
		emit_imul(e, d, f);
		break;
	case K_JCC:
	case K_JMP:
		emit_branch(e, d, f, fl, next, sl);
		break;
	case K_SETCC:
	case K_CMOV:
		emit_cc(e, d, f, fl);
		break;
	case K_PUSH:
	case K_POP:
	case K_CALLREL:
	case K_RET:
		emit_stack(e, d, f, next, sl);
		break;
	case K_ADC:
		emit_adc(e, d, f, fl);
		break;
	case K_INC:
		emit_inc(e, d, f, fl);
		break;
	case K_NOP:
		break;
	}
}

/* An exit after instruction k: the clock (r12 + tick) and RIP stored,
 * k + 1 retired. */
struct exit_ {
	uint8_t *jump;
	unsigned k;
	int32_t tick;
};

static void emit_exit(struct em *e, const struct cpu_trace *t,
		      const uint8_t *epi, unsigned k, int32_t tick,
		      bool rip_from_next, int64_t end)
{
	add_r12(e, tick);
	store64(e, R12, OFF(icount));
	mov_imm(e, RCX, (uint64_t)(uintptr_t)t);   /* the trace returned */
	store64(e, RCX, OFF(jit_t));
	if (rip_from_next) {
		load(e, true, RAX, OFF(next_rip));
	} else {
		lea_rax(e, R13, (int32_t)end);
		store64(e, RAX, OFF(next_rip));
	}
	store64(e, RAX, OFF(rip));
	mov_imm(e, RAX, k + 1);
	if (epi)
		patch(e, jump(e, false), epi);
}

/* The walk's step for instruction k at offset off (cpu.c run_fast):
 * rip and next_rip stored, the clock (r12 + pend) too, the handler
 * called; then, unless k is the last, the exit when the rest of the
 * trace would pass next_check (the clock after k: r12 + pend + tick). */
static void emit_call(struct em *e, const struct cpu_trace *t, unsigned k,
		      int64_t off, int32_t pend, struct exit_ *ex,
		      unsigned *nex)
{
	const struct cpu_insn *ci = &t->insn[k];
	unsigned n = t->n;

	lea_rax(e, R13, (int32_t)off);
	store64(e, RAX, OFF(rip));
	lea_rax(e, R13, (int32_t)(off + ci->d.len));
	store64(e, RAX, OFF(next_rip));
	if (pend) {
		lea_rax(e, R12, pend);
		store64(e, RAX, OFF(icount));
	} else {
		store64(e, R12, OFF(icount));
	}
	op_rr(e, true, 0x89, RDI, RBX); /* mov rdi, rbx */
	mov_imm(e, RSI, (uint64_t)(uintptr_t)&ci->d);
	call(e, (const void *)ci->fn);
	if (k + 1 < n) {
		/* leave unless instructions k+1..n-1 still run before
		 * next_check */
		lea_rax(e, R12, pend + (int32_t)((n - 1 - k) * CPU_INSN_NS));
		rbx_mem(e, true, 0x3b, RAX, OFF(next_check));
		ex[*nex] = (struct exit_){ jump(e, true), k,
					   pend + CPU_INSN_NS };
		++*nex;
	}
}

/* A translation's layout: the prologue (the run loop's entry), a jump
 * over the chained entry, and at JIT_CHAIN_ENTRY the entry of a jump
 * from another translation's end (emit_chain()). */
#define JIT_PROLOGUE 14
#define JIT_CHAIN_ENTRY (JIT_PROLOGUE + 5)

/* At the trace's end, rax = the next RIP and r12 the clock (neither
 * stored yet): the next trace's translation entered directly when the
 * run loop would enter it next (cpu.c run_fast): t was followed by it
 * (one of t's two links, cpu.h cpu_trace_next(), for this vCPU's key),
 * it is alive and translated, and no gdb breakpoint is set
 * (bp_page()); its chained entry checks that it fits before
 * next_check.  The jump leaves r13 = its RIP, eax = t's count and rsi
 * = t for its way back (emit_bail()).  Else falls through, with rax
 * kept. */
static void emit_chain(struct em *e, const struct cpu_trace *t)
{
	uint8_t *miss[8], *found[2];
	unsigned nm = 0;

	/* cmp dword [rbx + nbp], 0 */
	rbx_mem(e, false, 0x83, 7, OFF(nbp));
	b1(e, 0);
	miss[nm++] = jcc(e, 0x5);
	load(e, true, RCX, OFF(jc_key));
	mov_imm(e, RSI, (uint64_t)(uintptr_t)t);
	for (unsigned k = 0; k < 2; k++) {
		/* cmp rax, [rsi + next_la[k]]; cmp rcx, [rsi + next_key[k]] */
		op_mem(e, false, true, 0x3b, RAX, RSI,
		       (int32_t)(offsetof(struct cpu_trace, next_la) + 8 * k));
		uint8_t *no = jcc(e, 0x5);
		op_mem(e, false, true, 0x3b, RCX, RSI,
		       (int32_t)(offsetof(struct cpu_trace, next_key) + 8 * k));
		uint8_t *no2 = jcc(e, 0x5);
		op_mem(e, false, true, 0x8b, RDX, RSI,
		       (int32_t)(offsetof(struct cpu_trace, next) + 8 * k));
		found[k] = jump(e, false);
		patch(e, no, e->p);
		patch(e, no2, e->p);
	}
	/* else the jump cache's entry for rax (cpu.h cpu_jc_hash()):
	 * returns and indirect jumps */
	mov_imm(e, RDI, 0x9e3779b97f4a7c15ull);
	b1(e, 0x48); b1(e, 0x0f); b1(e, 0xaf); b1(e, 0xf8); /* imul rdi, rax */
	op_ri(e, true, 0xc1, 5, RDI, 64 - JC_BITS);          /* shr rdi */
	b1(e, 0x48); b1(e, 0x8d); b1(e, 0x3c); b1(e, 0x7f); /* lea rdi, [rdi*3] */
	op_ri(e, true, 0xc1, 4, RDI, 3);                     /* shl rdi, 3 */
	rbx_mem(e, true, 0x03, RDI, OFF(jc));                /* add rdi, [jc] */
	op_mem(e, false, true, 0x3b, RAX, RDI,
	       (int32_t)offsetof(struct cpu_jc_entry, la));
	miss[nm++] = jcc(e, 0x5);
	op_mem(e, false, true, 0x3b, RCX, RDI,
	       (int32_t)offsetof(struct cpu_jc_entry, key));
	miss[nm++] = jcc(e, 0x5);
	op_mem(e, false, true, 0x8b, RDX, RDI,
	       (int32_t)offsetof(struct cpu_jc_entry, t));
	patch(e, found[0], e->p);
	patch(e, found[1], e->p);
	/* cmp qword [rdx + tag], TRACE_DEAD (-1) */
	op_mem(e, false, true, 0x83, 7, RDX,
	       (int32_t)offsetof(struct cpu_trace, tag));
	b1(e, 0xff);
	miss[nm++] = jcc(e, 0x4);
	op_mem(e, false, true, 0x8b, RDI, RDX,
	       (int32_t)offsetof(struct cpu_trace, jit));
	op_rr(e, true, 0x85, RDI, RDI);                 /* test rdi, rdi */
	miss[nm++] = jcc(e, 0x4);
	b1(e, 0x49); b1(e, 0x89); b1(e, 0xc5);          /* mov r13, rax */
	mov_imm(e, RAX, t->n);
	op_ri(e, true, 0x81, 0, RDI, JIT_CHAIN_ENTRY);  /* add rdi, .. */
	b1(e, 0xff); b1(e, 0xe7);                       /* jmp rdi */
	for (unsigned i = 0; i < nm; i++)
		patch(e, miss[i], e->p);
}

_Static_assert(sizeof(struct cpu_jc_entry) == 24, "jump cache index * 24");

/* The chained entry gave up (the trace does not fit before
 * next_check): back to the run loop as the end of the translation that
 * jumped here (rsi, eax) with RIP = this trace's start (r13). */
static void emit_bail(struct em *e, const uint8_t *epi)
{
	store64(e, RSI, OFF(jit_t));
	store64(e, R12, OFF(icount));
	store64(e, R13, OFF(rip));
	store64(e, R13, OFF(next_rip));
	patch(e, jump(e, false), epi);
}

size_t cpu_jit_emit(const struct cpu_trace *t, uint8_t *buf, size_t cap,
		    bool tlb_miss)
{
	struct em e = { buf, buf + cap, false, 0, NULL, tlb_miss };
	struct exit_ ex[TRACE_MAX];
	struct slow sl[TRACE_MAX];
	struct form forms[TRACE_MAX];
	uint8_t *epi, *body, *bail;
	unsigned nex = 0, nsl = 0, n = t->n;
	int64_t off = 0, offs[TRACE_MAX];
	int32_t pend = 0; /* clock ticks not yet added to r12 */
	bool last_call = false;
	struct flags fl = { -1, 0, false };

	for (unsigned k = 0; k < n; k++) {
		const struct dec_insn *d = &t->insn[k].d;
		struct form *f = &forms[k];
		int64_t next = off + d->len;

		*f = classify(&t->insn[k]);
		offs[k] = off;
		if (next > INT32_MAX)
			return 0;
		/* RIP-relative operands and branch targets as 32-bit
		 * offsets from r13 */
		if (d->riprel && f->kind != K_CALL &&
		    next + d->disp != (int32_t)(next + d->disp))
			f->kind = K_CALL;
		if ((f->kind == K_JCC || f->kind == K_JMP ||
		     f->kind == K_CALLREL) &&
		    next + (int64_t)d->imm != (int32_t)(next + (int64_t)d->imm))
			f->kind = K_CALL;
		off = next;
	}
	for (unsigned k = 0; k < n; k++)
		forms[k].dead_lf = lf_dead(forms, n, k);
	off = 0;
	/* push rbx; push r12; push r13 (rsp 16-aligned for the calls) */
	b1(&e, 0x53);
	b1(&e, 0x41);
	b1(&e, 0x54);
	b1(&e, 0x41);
	b1(&e, 0x55);
	op_rr(&e, true, 0x89, RBX, RDI); /* mov rbx, rdi */
	b1(&e, 0x49); b1(&e, 0x89); b1(&e, 0xf5); /* mov r13, rsi */
	b1(&e, 0x49); b1(&e, 0x89); b1(&e, 0xd4); /* mov r12, rdx */
	if (!e.full && e.p - buf != JIT_PROLOGUE)
		return 0;
	body = jump(&e, false);
	/* the chained entry: the whole trace must retire before
	 * next_check (clock + (n - 1) * CPU_INSN_NS < next_check) */
	/* lea rcx, [r12 + ...] (eax and rsi are for emit_bail()) */
	b1(&e, 0x49); b1(&e, 0x8d); b1(&e, 0x8c); b1(&e, 0x24);
	b4(&e, (uint32_t)((n - 1) * CPU_INSN_NS));
	rbx_mem(&e, true, 0x3b, RCX, OFF(next_check));
	bail = jcc(&e, 0x3);                            /* jae */
	rbx_mem(&e, true, 0xff, 0, OFF(st_jit_chain));  /* inc: --stats */
	patch(&e, body, e.p);
	for (unsigned k = 0; k < n; k++) {
		const struct cpu_insn *ci = &t->insn[k];
		struct form f = forms[k];
		int64_t next = off + ci->d.len;

		/* INC/DEC [mem]: the TLB's code comes first, so the flags
		 * must be a producer the code can run again (cpu_cf()
		 * would take rdx) */
		if (f.kind == K_INC && f.dt == O_MEM) {
			if (fl.op < 0)
				f.kind = K_CALL;
			fl.live = false;
		}
		/* a branch leaves next_rip for the end code */
		last_call = f.kind == K_CALL || K_BRANCH(f.kind);
		if (f.kind == K_CALL) {
			add_r12(&e, pend);
			emit_call(&e, t, k, off, 0, ex, &nex);
			pend = CPU_INSN_NS;
		} else {
			sl[nsl] = (struct slow){ .nj = 0, .k = k, .pend = pend };
			emit_inline(&e, ci, &f, &fl, next, &sl[nsl]);
			if (sl[nsl].nj) { /* the handler comes back here */
				sl[nsl++].resume = e.p;
				e.rax_at = NULL;
			}
			pend += CPU_INSN_NS;
		}
		/* the flags after k */
		if (f.kind == K_ALU) {
			fl = (struct flags){ alu_ops[f.aop].lf, f.n,
					     !(nsl && sl[nsl - 1].k == k) };
		} else if (f.kind == K_ADC) {
			fl = (struct flags){ FL_HOST, f.n, true };
		} else if (f.kind == K_INC) {
			fl = (struct flags){ FL_HOST, f.n,
					     !(nsl && sl[nsl - 1].k == k) };
		} else if (f.kind == K_CALL || f.kind == K_IMUL ||
			   (f.kind == K_SHIFT && f.cnt)) {
			fl.op = -1;
			fl.live = false;
		} else {
			fl.live = false;
		}
		off = next;
	}
	/* the trace's end: the next translation, else back to the loop */
	add_r12(&e, pend);
	if (last_call)
		load(&e, true, RAX, OFF(next_rip));
	else
		lea_rax(&e, R13, (int32_t)off);
	emit_chain(&e, t);
	store64(&e, R12, OFF(icount));
	store64(&e, RAX, OFF(rip));
	store64(&e, RAX, OFF(next_rip));
	mov_imm(&e, RCX, (uint64_t)(uintptr_t)t);
	store64(&e, RCX, OFF(jit_t));
	mov_imm(&e, RAX, n);
	epi = e.p;
	b1(&e, 0x41); b1(&e, 0x5d); /* pop r13 */
	b1(&e, 0x41); b1(&e, 0x5c); /* pop r12 */
	b1(&e, 0x5b);               /* pop rbx */
	b1(&e, 0xc3);               /* ret */
	/* out of line: the handlers of inline instructions that missed
	 * the TLB, then back; the exits */
	for (unsigned i = 0; i < nsl; i++) {
		for (unsigned j = 0; j < sl[i].nj; j++)
			patch(&e, sl[i].jumps[j], e.p);
		emit_call(&e, t, sl[i].k, offs[sl[i].k], sl[i].pend, ex, &nex);
		patch(&e, jump(&e, false), sl[i].resume);
	}
	for (unsigned i = 0; i < nex; i++) {
		patch(&e, ex[i].jump, e.p);
		emit_exit(&e, t, epi, ex[i].k, ex[i].tick, true, 0);
	}
	patch(&e, bail, e.p);
	emit_bail(&e, epi);
	return e.full ? 0 : (size_t)(e.p - buf);
}
