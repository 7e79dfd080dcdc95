/* The trace translator: host x86-64 code for a hot trace (block.c
 * compiles a trace once the fast path has entered it JIT_HOT times).
 *
 * The code does what the run loop's walk would do for the whole trace,
 * instruction by instruction, with the same results:
 *
 * - each instruction the translator knows (register-only MOV, LEA, the
 *   ALU operations without carry in, TEST, at 4 and 8 bytes) becomes a
 *   few host instructions on the guest registers in struct cpu, leaving
 *   the lazy flags (lf_op, lf_sz, lf_a, lf_b, lf_res) exactly as its
 *   handler would;
 * - every other instruction is a direct call of its stored handler with
 *   rip, next_rip and icount stored first, as the walk stores them;
 * - the virtual clock: the caller enters only when the whole trace fits
 *   before next_check (cpu.c run_fast); an inline instruction cannot
 *   move next_check, a handler can, so after each call the code leaves
 *   unless the rest of the trace still fits, and the walk goes on from
 *   the next instruction with its check at each.  Events are therefore
 *   taken at the same instruction count with or without translation.
 *
 * The code keeps c in rbx, the trace's RIP in r13 (a trace may run at
 * several linear addresses: it is keyed by physical address, so RIPs
 * are r13 plus an offset) and the clock in r12; it returns the number
 * of instructions retired, with c->rip and c->icount stored.  A fault
 * in a handler longjmps out of it like out of the walk. */
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
};

static void b1(struct em *e, unsigned v)
{
	if (e->p < e->end)
		*e->p++ = (uint8_t)v;
	else
		e->full = true;
}

static void b4(struct em *e, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b1(e, (v >> (8 * i)) & 0xff);
}

static void b8(struct em *e, uint64_t v)
{
	b4(e, (uint32_t)v);
	b4(e, (uint32_t)(v >> 32));
}

/* op reg, [rbx + disp32] (or the store form): w selects REX.W. */
static void rbx_mem(struct em *e, bool w, unsigned opc, unsigned reg,
		    int32_t disp)
{
	if (w || reg >= 8)
		b1(e, 0x40 | (w ? 8 : 0) | (reg >= 8 ? 4 : 0));
	b1(e, opc);
	b1(e, 0x80 | (reg & 7) << 3 | RBX);
	b4(e, (uint32_t)disp);
}

static void load(struct em *e, bool w, unsigned reg, int32_t disp)
{
	rbx_mem(e, w, 0x8b, reg, disp);
}

static void store64(struct em *e, unsigned reg, int32_t disp)
{
	rbx_mem(e, true, 0x89, reg, disp);
}

/* lea rax, [r13 + disp32] (r12: base needs a SIB byte). */
static void lea_rax(struct em *e, unsigned base, int32_t disp)
{
	b1(e, 0x49);
	b1(e, 0x8d);
	b1(e, 0x80 | (base & 7));
	if ((base & 7) == 4)
		b1(e, 0x24);
	b4(e, (uint32_t)disp);
}

/* add r12, imm32 */
static void add_r12(struct em *e, int32_t v)
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

/* --- what the translator knows -------------------------------------------- */

enum { K_CALL, K_ALU, K_MOV, K_MOVI, K_LEA };

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
	unsigned aop;      /* K_ALU: operation (0-7) */
	bool write;        /* K_ALU: the result is written (not CMP, TEST) */
	bool imm;          /* K_ALU: b is the immediate */
	unsigned dst, src; /* registers: a (and the result) and b */
};

/* The form of ci if the translator emits it inline, else K_CALL.  The
 * operand roles are those of the handlers (alu.c alu_E_val, alu_G_val;
 * ops.c). */
static struct form classify(const struct cpu_insn *ci)
{
	const struct dec_insn *d = &ci->d;
	cpu_handler h = cpu_opcode_handler(d->op);
	struct form f = { .kind = K_CALL };
	static const struct {
		cpu_handler ev_gv, gv_ev, r_i, ax_i;
	} alu[8] = {
		{ op_add_Ev_Gv, op_add_Gv_Ev, op_add_R_I, op_add_rAX_Iz },
		{ op_or_Ev_Gv, op_or_Gv_Ev, op_or_R_I, op_or_rAX_Iz },
		{ NULL, NULL, NULL, NULL },
		{ NULL, NULL, NULL, NULL },
		{ op_and_Ev_Gv, op_and_Gv_Ev, op_and_R_I, op_and_rAX_Iz },
		{ op_sub_Ev_Gv, op_sub_Gv_Ev, op_sub_R_I, op_sub_rAX_Iz },
		{ op_xor_Ev_Gv, op_xor_Gv_Ev, op_xor_R_I, op_xor_rAX_Iz },
		{ op_cmp_Ev_Gv, op_cmp_Gv_Ev, op_cmp_R_I, op_cmp_rAX_Iz },
	};

	if (d->opsz != 4 && d->opsz != 8)
		return f;
	for (unsigned op = 0; op < 8; op++) {
		if (!alu[op].ev_gv)
			continue;
		if (h == alu[op].ev_gv && d->mod == 3)
			f = (struct form){ K_ALU, op, op != 7, false, d->rm, d->reg };
		else if (h == alu[op].gv_ev && d->mod == 3)
			f = (struct form){ K_ALU, op, op != 7, false, d->reg, d->rm };
		else if (h == alu[op].r_i)
			f = (struct form){ K_ALU, op, op != 7, true, d->rm, 0 };
		else if (h == alu[op].ax_i)
			f = (struct form){ K_ALU, op, op != 7, true, R_RAX, 0 };
		else
			continue;
		return f;
	}
	if (h == op_test_Ev_Gv && d->mod == 3)
		return (struct form){ K_ALU, 4, false, false, d->rm, d->reg };
	if (h == op_test_E_I && d->mod == 3)
		return (struct form){ K_ALU, 4, false, true, d->rm, 0 };
	if (h == op_test_rAX_Iz)
		return (struct form){ K_ALU, 4, false, true, R_RAX, 0 };
	if (h == op_mov_Ev_Gv && d->mod == 3)
		return (struct form){ .kind = K_MOV, .dst = d->rm, .src = d->reg };
	if (h == op_mov_Gv_Ev && d->mod == 3)
		return (struct form){ .kind = K_MOV, .dst = d->reg, .src = d->rm };
	if (h == op_mov_Zv_Iv || h == op_mov_R_I)
		return (struct form){ .kind = K_MOVI, .dst = d->rm };
	if (h == op_lea_Gv_M && d->mod != 3 && d->adsz == 8)
		return (struct form){ .kind = K_LEA, .dst = d->reg };
	return f;
}

/* a op= b with the lazy flags of alu() (alu.c): lf_a and lf_b the
 * operands masked to n bytes, lf_res the result, lf_op and lf_sz. */
static void emit_alu(struct em *e, const struct dec_insn *d,
		     const struct form *f)
{
	bool w = d->opsz == 8;
	uint64_t imm = w ? d->imm : (uint32_t)d->imm;

	load(e, w, RAX, OFF_R(f->dst));
	if (f->imm)
		mov_imm(e, RCX, imm);
	else
		load(e, w, RCX, OFF_R(f->src));
	store64(e, RAX, OFF(lf_a));
	store64(e, RCX, OFF(lf_b));
	if (w)
		b1(e, 0x48);
	b1(e, alu_ops[f->aop].opc);
	b1(e, 0xc8); /* op eax, ecx: 32-bit results are zero-extended */
	store64(e, RAX, OFF(lf_res));
	if (f->write)
		store64(e, RAX, OFF_R(f->dst));
	/* mov word [rbx + lf_op], lf_sz << 8 | producer */
	b1(e, 0x66);
	rbx_mem(e, false, 0xc7, 0, OFF(lf_op));
	b1(e, alu_ops[f->aop].lf);
	b1(e, d->opsz);
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
		if (disp) { /* add rax, imm32 */
			b1(e, 0x48);
			b1(e, 0x05);
			b4(e, (uint32_t)disp);
		}
	} else {
		mov_imm(e, RAX, (uint64_t)disp);
	}
	if (d->index != DEC_NOREG) {
		load(e, true, RCX, OFF_R(d->index));
		if (d->scale) { /* shl rcx, scale */
			b1(e, 0x48);
			b1(e, 0xc1);
			b1(e, 0xe1);
			b1(e, d->scale);
		}
		b1(e, 0x48); /* add rax, rcx */
		b1(e, 0x01);
		b1(e, 0xc8);
	}
	if (d->opsz == 4) { /* mov eax, eax */
		b1(e, 0x89);
		b1(e, 0xc0);
	}
	store64(e, RAX, OFF_R(d->reg));
}

static void emit_inline(struct em *e, const struct cpu_insn *ci,
			const struct form *f, int64_t next)
{
	const struct dec_insn *d = &ci->d;
	bool w = d->opsz == 8;

	switch (f->kind) {
	case K_ALU:
		emit_alu(e, d, f);
		break;
	case K_MOV: /* 4-byte moves zero-extend (the load does) */
		load(e, w, RAX, OFF_R(f->src));
		store64(e, RAX, OFF_R(f->dst));
		break;
	case K_MOVI:
		mov_imm(e, RAX, w ? d->imm : (uint32_t)d->imm);
		store64(e, RAX, OFF_R(f->dst));
		break;
	case K_LEA:
		emit_lea(e, d, next);
		break;
	}
}

/* An exit after instruction k: the clock and RIP stored, k + 1
 * retired.  r12 is the clock before instruction k. */
static void emit_exit(struct em *e, uint8_t *const *epi, unsigned k,
		      int32_t tick, bool rip_from_next, int64_t end)
{
	add_r12(e, tick);
	store64(e, R12, OFF(icount));
	if (rip_from_next) {
		load(e, true, RAX, OFF(next_rip));
	} else {
		lea_rax(e, R13, (int32_t)end);
		store64(e, RAX, OFF(next_rip));
	}
	store64(e, RAX, OFF(rip));
	mov_imm(e, RAX, k + 1);
	if (*epi)
		patch(e, jump(e, false), *epi);
}

size_t cpu_jit_emit(const struct cpu_trace *t, uint8_t *buf, size_t cap)
{
	struct em e = { buf, buf + cap, false };
	uint8_t *epi = NULL, *exits[TRACE_MAX];
	unsigned nexit = 0, exit_k[TRACE_MAX];
	int64_t off = 0;
	int32_t pend = 0; /* clock ticks not yet added to r12 */
	unsigned n = t->n, inl = 0;
	bool last_call = false;

	for (unsigned k = 0; k < n; k++)
		inl += classify(&t->insn[k]).kind != K_CALL;
	if (!inl)
		return 0; /* nothing to gain over the walk */
	/* push rbx; push r12; push r13 (rsp 16-aligned for the calls) */
	b1(&e, 0x53);
	b1(&e, 0x41);
	b1(&e, 0x54);
	b1(&e, 0x41);
	b1(&e, 0x55);
	b1(&e, 0x48); b1(&e, 0x89); b1(&e, 0xfb); /* mov rbx, rdi */
	b1(&e, 0x49); b1(&e, 0x89); b1(&e, 0xf5); /* mov r13, rsi */
	b1(&e, 0x49); b1(&e, 0x89); b1(&e, 0xd4); /* mov r12, rdx */
	for (unsigned k = 0; k < n; k++) {
		const struct cpu_insn *ci = &t->insn[k];
		struct form f = classify(ci);
		int64_t next = off + ci->d.len;

		if (next > INT32_MAX)
			return 0;
		if (f.kind == K_LEA && ci->d.riprel &&
		    next + ci->d.disp != (int32_t)(next + ci->d.disp))
			f.kind = K_CALL;
		last_call = f.kind == K_CALL;
		if (f.kind == K_CALL) {
			add_r12(&e, pend);
			pend = CPU_INSN_NS;
			lea_rax(&e, R13, (int32_t)off);
			store64(&e, RAX, OFF(rip));
			lea_rax(&e, R13, (int32_t)next);
			store64(&e, RAX, OFF(next_rip));
			store64(&e, R12, OFF(icount));
			b1(&e, 0x48); b1(&e, 0x89); b1(&e, 0xdf); /* mov rdi, rbx */
			mov_imm(&e, RSI, (uint64_t)(uintptr_t)&ci->d);
			call(&e, (const void *)ci->fn);
			if (k + 1 < n) {
				/* leave unless instructions k+1..n-1 still
				 * run before next_check */
				lea_rax(&e, R12, (int32_t)((n - 1 - k) * CPU_INSN_NS));
				rbx_mem(&e, true, 0x3b, RAX, OFF(next_check));
				exits[nexit] = jump(&e, true);
				exit_k[nexit++] = k;
			}
		} else {
			emit_inline(&e, ci, &f, next);
			pend += CPU_INSN_NS;
		}
		off = next;
	}
	/* the trace's end */
	emit_exit(&e, &epi, n - 1, pend, last_call, off);
	epi = e.p;
	b1(&e, 0x41); b1(&e, 0x5d); /* pop r13 */
	b1(&e, 0x41); b1(&e, 0x5c); /* pop r12 */
	b1(&e, 0x5b);               /* pop rbx */
	b1(&e, 0xc3);               /* ret */
	for (unsigned i = 0; i < nexit; i++) {
		patch(&e, exits[i], e.p);
		emit_exit(&e, &epi, exit_k[i], CPU_INSN_NS, true, 0);
	}
	return e.full ? 0 : (size_t)(e.p - buf);
}

bool cpu_jit_supported(const struct dec_insn *d)
{
	struct cpu_insn ci = { NULL, *d };

	return classify(&ci).kind != K_CALL;
}
