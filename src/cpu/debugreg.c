/* The guest's own debug registers (SDM Vol. 3B "Debug Registers" and
 * "Debug Exceptions"): DR0-DR3 breakpoint addresses, DR7's enables
 * (L0-L3, G0-G3), R/W and LEN fields and GD, DR6's B0-B3, BD and BS.
 *
 * - Instruction breakpoints (R/W = 00, LEN = 00): a fault-class #DB
 *   before the instruction at the breakpoint's linear address runs,
 *   unless RFLAGS.RF is set or MOV SS blocking is active
 *   (cpu_dr_exec_check, from the run loop's slow path, which every
 *   instruction takes while one is enabled).
 * - Data breakpoints (R/W = 01 writes, 11 reads or writes; LEN 1, 2, 4
 *   or 8 bytes, the address aligned down to it): a trap-class #DB after
 *   the instruction whose access touched the range.  Pages holding one
 *   never enter the TLB (as gdb's watchpoints), so every access to them
 *   takes cpu_mem_slow(), which calls cpu_dr_watch().  MOV SS holds the
 *   trap until after the next instruction, as it does single steps
 *   (event.c cpu_single_step_trap).
 * - General detect (DR7.GD): a MOV to or from a debug register raises a
 *   fault-class #DB with DR6.BD (cpu_dr_access); every #DB delivery
 *   clears GD so the handler can use them (event.c deliver).
 * - I/O breakpoints (R/W = 10 with CR4.DE) are not modelled: they never
 *   match.
 * B0-B3 report the breakpoints that matched and are cleared for those
 * that did not; BS and BD are left as they were ("the processor never
 * clears" them). */
#include "cpu/cpu.h"

#define DR7_GD (1ull << 13)
#define DR6_BD (1ull << 13)

static unsigned dr_rw(uint64_t dr7, unsigned i)
{
	return (unsigned)(dr7 >> (16 + 4 * i)) & 3;
}

/* LEN: 00 one byte, 01 two, 11 four, 10 eight (64-bit processors). */
static unsigned dr_len(uint64_t dr7, unsigned i)
{
	static const unsigned len[4] = { 1, 2, 8, 4 };

	return len[(dr7 >> (18 + 4 * i)) & 3];
}

void cpu_dr_update(struct cpu *c)
{
	uint8_t exec = 0, data = 0;

	for (unsigned i = 0; i < 4; i++) {
		if (!((c->dr7 >> (2 * i)) & 3))
			continue;
		switch (dr_rw(c->dr7, i)) {
		case 0:
			if (dr_len(c->dr7, i) == 1)
				exec |= 1u << i;
			break;
		case 1: case 3:
			data |= 1u << i;
			break;
		default: /* I/O: not modelled */
			break;
		}
	}
	c->dr_exec = exec;
	c->dr_data = data;
	/* Pages with a data breakpoint leave the TLB; the slow path
	 * checks every instruction while any breakpoint is enabled. */
	cpu_tlb_flush(c, false);
	c->next_check = 0;
}

void cpu_dr_exec_check(struct cpu *c)
{
	uint64_t la = c->rip;
	unsigned hits = 0;

	if (c->rflags & RFLAGS_RF)
		return;
	/* On Intel processors an instruction breakpoint is not recognized
	 * on the instruction after a MOV SS or POP SS (SDM Vol. 3A §6.8.3,
	 * "Masking Exceptions and Interrupts When Switching Stacks"; AMD
	 * delivers it). */
	if (c->mov_ss && c->icount < c->shadow_end)
		return;
	if (c->mode != DEC_MODE64)
		la = (la + c->seg[S_CS].base) & 0xffffffffull;
	for (unsigned i = 0; i < 4; i++)
		if (((c->dr_exec >> i) & 1) && c->dr[i] == la)
			hits |= 1u << i;
	if (!hits)
		return;
	c->dr6 = (c->dr6 & ~0xfull) | hits;
	c->next_rip = c->rip; /* a fault: the breakpoint's instruction */
	cpu_raise(c, EXC_DB, 0, false);
}

static bool dr_overlap(const struct cpu *c, unsigned i, uint64_t la,
		       uint64_t n)
{
	uint64_t len = dr_len(c->dr7, i), a = c->dr[i] & ~(len - 1);

	return la < a + len && a < la + n;
}

bool cpu_dr_watch_page(const struct cpu *c, uint64_t page)
{
	for (unsigned i = 0; i < 4; i++)
		if (((c->dr_data >> i) & 1) && dr_overlap(c, i, page, 4096))
			return true;
	return false;
}

void cpu_dr_watch(struct cpu *c, uint64_t la, unsigned n, int kind)
{
	if (kind == TLB_FETCH)
		return;
	for (unsigned i = 0; i < 4; i++)
		if (((c->dr_data >> i) & 1) &&
		    (kind == TLB_WRITE || dr_rw(c->dr7, i) == 3) &&
		    dr_overlap(c, i, la, n))
			c->db_hits |= (uint8_t)(1u << i);
}

void cpu_dr_access(struct cpu *c)
{
	if (!(c->dr7 & DR7_GD))
		return;
	c->dr6 |= DR6_BD;
	/* A fault: the single-step or data trap MOV SS held for this
	 * instruction is lost with it. */
	c->db_pending = false;
	c->db_trap = 0;
	c->next_rip = c->rip;
	cpu_raise(c, EXC_DB, 0, false);
}

void cpu_dr_clear_gd(struct cpu *c)
{
	c->dr7 &= ~DR7_GD;
}
