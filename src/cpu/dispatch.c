/* Handler selection at decode time: cpu_select_handler() picks the
 * function that runs a decoded instruction, once, when the instruction
 * enters the decode cache (block.c); the run loop then calls the stored
 * pointer (struct cpu_insn).  Today the choice is the opcode list's
 * handler (opcodes.def), with the x87/MMX/SSE instructions that fault
 * under CR0.TS, CR0.EM or without CR4.OSFXSR replaced by their fault. */
#include "cpu/cpu.h"

#include <inttypes.h>

#include "log.h"

static void op_device_not_available(struct cpu *c, const struct dec_insn *d)
{
	cpu_raise(c, EXC_NM, 0, false);
}

/* An x87/MMX/SSE instruction that the CR0/CR4 state makes undefined. */
static void op_fpu_ud(struct cpu *c, const struct dec_insn *d)
{
	cpu_ud(c);
}

static void op_unimplemented(struct cpu *c, const struct dec_insn *d)
{
	if (d->op != DEC_OP_UD)
		rax_log(LOG_WARN, cpu, "unimplemented opcode %#x at %#" PRIx64,
			d->op, c->rip);
	cpu_ud(c);
}

/* Every id starts as #UD; opcodes.def overrides the implemented ones. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
static const cpu_handler handlers[DEC_NOPS] = {
	[0 ... DEC_NOPS - 1] = op_unimplemented,
#define X(id, h, mn, ops, fl) [id] = h,
#include "decoder/opcodes.def"
#undef X
};
#pragma GCC diagnostic pop

/* MMX/SSE opcodes of the 0F map, and every listed 0F 38 / 0F 3A opcode
 * but CRC32 (an integer instruction). */
static bool sse_op(unsigned op)
{
	if (op >= DEC_MAP_0F38)
		return op < DEC_MAP_LEG && op != 0x2f0 && op != 0x2f1;
	return (op >= 0x110 && op <= 0x117) || (op >= 0x128 && op <= 0x12f) ||
	       (op >= 0x150 && op <= 0x17f) || op == 0x1c2 ||
	       (op >= 0x1c4 && op <= 0x1c6) || op >= 0x1d0;
}

/* With fpu_trap: what d runs as, by the "Protected Mode Exceptions" of
 * SDM Vol. 2: x87 and FXSAVE/FXRSTOR #NM under EM or TS (WAIT: TS with
 * MP); MMX #UD under EM, #NM under TS; SSE and LDMXCSR/STMXCSR also #UD
 * without CR4.OSFXSR.  NULL: the opcode's own handler. */
static cpu_handler fpu_checked(const struct cpu *c, const struct dec_insn *d)
{
	unsigned op = d->op, r = d->reg & 7;
	bool em = c->cr0 & CR0_EM, ts = c->cr0 & CR0_TS;
	bool mmx, sse;

	if (op == DEC_OP_UD || !dec_attrs[op].flags)
		return NULL;
	if ((op >= 0x0d8 && op <= 0x0df) ||
	    (op == 0x1ae && d->mod != 3 && r < 2))
		return em || ts ? op_device_not_available : NULL;
	if (op == 0x09b)
		return ts && (c->cr0 & CR0_MP) ? op_device_not_available : NULL;
	sse = sse_op(op) || (op == 0x1ae && d->mod != 3 && (r == 2 || r == 3));
	if (!sse)
		return NULL;
	mmx = op == 0x177 || ((dec_attrs[op].flags & DF_MMX) &&
			      d->pfx == DEC_PFX_NONE);
	if (em || (!mmx && !(c->cr4 & CR4_OSFXSR)))
		return op_fpu_ud;
	return ts ? op_device_not_available : NULL;
}

/* An instruction of a higher x86-64 level than the CPU model's. */
static void op_model_ud(struct cpu *c, const struct dec_insn *d)
{
	cpu_ud(c);
}

cpu_handler cpu_select_handler(const struct cpu *c, const struct dec_insn *d)
{
	cpu_handler h = c->fpu_trap ? fpu_checked(c, d) : NULL;

	if ((dec_attrs[d->op].flags & DF_V2) && c->level < 2)
		return op_model_ud;

	return h ? h : handlers[d->op];
}
