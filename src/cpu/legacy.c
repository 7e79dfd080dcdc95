/* Instructions that exist only outside 64-bit mode (SDM Vol. 2 Table A-2
 * "i64" and the LEG map of opcodes.def): PUSHA/POPA, BOUND, INTO, ARPL,
 * SALC.
 * The segment-register forms (PUSH/POP ES CS SS DS, LES/LDS) are with
 * the other segment loads in sys.c, the BCD adjustments and INC/DEC
 * 40-4F with the ALU in alu.c, far CALL ptr16:16/32 in sys.c. */
#include "cpu/cpu.h"

/* PUSHA/PUSHAD: AX CX DX BX, SP as it was, BP SI DI. */
void op_pusha(struct cpu *c, const struct dec_insn *d)
{
	uint64_t sp = c->r[R_RSP];

	for (unsigned r = R_RAX; r <= R_RDI; r++)
		cpu_push(c, r == R_RSP ? sp : c->r[r], d->opsz);
}

/* POPA/POPAD: DI SI BP, SP skipped, BX DX CX AX.  All eight are read
 * before any register changes (a fault leaves them as they were). */
void op_popa(struct cpu *c, const struct dec_insn *d)
{
	uint64_t v[8];

	for (int r = R_RDI; r >= R_RAX; r--)
		v[r] = cpu_pop(c, d->opsz);
	for (unsigned r = R_RAX; r <= R_RDI; r++)
		if (r != R_RSP)
			sreg_w(c, r, d->opsz, true, v[r]);
}

/* BOUND r, m16&16 / m32&32: #BR (a fault) when the signed index is
 * below the lower or above the upper bound. */
void op_bound_Gv_Ma(struct cpu *c, const struct dec_insn *d)
{
	unsigned n = d->opsz, sh = 64 - 8 * n;
	uint64_t la;
	int64_t idx, lo, hi;

	if (d->mod == 3)
		cpu_ud(c);
	la = cpu_ea(c, d);
	lo = (int64_t)(rdn(c, la, n) << sh) >> sh;
	hi = (int64_t)(rdn(c, la + n, n) << sh) >> sh;
	idx = (int64_t)(c->r[d->reg] << sh) >> sh;
	if (idx < lo || idx > hi)
		cpu_raise(c, EXC_BR, 0, false);
}

/* INTO: #OF as a trap (the saved EIP follows INTO) when OF is set,
 * checked against the gate's DPL like INT n. */
void op_into(struct cpu *c, const struct dec_insn *d)
{
	if (cpu_get_rflags(c) & RFLAGS_OF)
		cpu_deliver(c, EXC_OF, false, 0, true);
}

/* ARPL Ew, Gw: raise the destination selector's RPL to the source's;
 * ZF tells whether it changed.  The operand is written only then (a
 * read-only or code segment, a read-only page fault only then, as the
 * host CPU does: tests/diff --mode 32).  #UD in real mode. */
void op_arpl_Ew_Gw(struct cpu *c, const struct dec_insn *d)
{
	uint64_t la = 0, dst, src = c->r[d->reg] & 3;
	bool adj;

	if (!(c->cr0 & CR0_PE))
		cpu_ud(c);
	if (d->mod != 3) {
		la = cpu_ea(c, d);
		dst = rd16(c, la);
	} else {
		dst = c->r[d->rm] & 0xffff;
	}
	adj = (dst & 3) < src;
	if (adj && d->mod != 3) /* the write may fault: flags after it */
		wr16(c, la, (uint16_t)((dst & ~3ull) | src));
	else if (adj)
		sreg_w(c, d->rm, 2, true, (dst & ~3ull) | src);
	c->rflags = (cpu_get_rflags(c) & ~(uint64_t)RFLAGS_ZF) |
		    (adj ? RFLAGS_ZF : 0);
	c->lf_op = LF_NONE;
}

/* SALC (D6, see opcodes.def): AL = FFH when CF is set, else 0; flags
 * unchanged. */
void op_salc(struct cpu *c, const struct dec_insn *d)
{
	c->r[R_RAX] = (c->r[R_RAX] & ~0xffull) | (cpu_cf(c) ? 0xff : 0);
}
