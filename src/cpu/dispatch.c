/* Handler selection at decode time: cpu_select_handler() picks the
 * function that runs a decoded instruction, once, when the instruction
 * enters the decode cache (block.c); the run loop then calls the stored
 * pointer (struct cpu_insn).  The choice is the opcode list's handler
 * (opcodes.def), or its variant for the operand's form and size (struct
 * cpu_forms) when it has one, with the x87/MMX/SSE instructions that
 * fault under CR0.TS, CR0.EM or without CR4.OSFXSR replaced by their
 * fault. */
#include "cpu/cpu.h"

#include <inttypes.h>
#include <pthread.h>

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

/* The row of an opcode with forms (GROUP in opcodes.def): the decoder
 * replaces the opcode by its form, so this runs only if it did not. */
void op_group(struct cpu *c, const struct dec_insn *d)
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

/* The SSE/MMX class: the opcode list's operands name an XMM or MMX
 * register (V, W, U; P, Q, N), or the row is DF_MMX (EMMS). */
static bool sse_op(unsigned op)
{
	const char *p = dec_attrs[op].operands;

	if (dec_attrs[op].flags & DF_MMX)
		return true;
	for (bool first = true; *p; first = *p == ',' || *p == '|', p++)
		if (first && (*p == 'V' || *p == 'W' || *p == 'U' ||
			      *p == 'P' || *p == 'Q' || *p == 'N'))
			return true;
	return false;
}

/* With fpu_trap: what d runs as, by the "Protected Mode Exceptions" of
 * SDM Vol. 2: x87 and FXSAVE/FXRSTOR #NM under EM or TS (WAIT: TS with
 * MP); MMX #UD under EM, #NM under TS; SSE and LDMXCSR/STMXCSR also #UD
 * without CR4.OSFXSR.  NULL: the opcode's own handler. */
static cpu_handler fpu_checked(const struct cpu *c, const struct dec_insn *d)
{
	unsigned op = d->op;
	bool em = c->cr0 & CR0_EM, ts = c->cr0 & CR0_TS;
	bool mmx, sse;

	if (!dec_attrs[op].flags || d->vex) /* DEC_OP_UD stays; VEX
						  instructions check for
						  themselves (sse_vex_enter) */
		return NULL;
	if (dec_attrs[op].flags & DF_X87)
		return em || ts ? op_device_not_available : NULL;
	if (dec_attrs[op].flags & DF_WAIT)
		return ts && (c->cr0 & CR0_MP) ? op_device_not_available : NULL;
	sse = sse_op(op) || (dec_attrs[op].flags & DF_SSE);
	if (!sse)
		return NULL;
	mmx = (dec_attrs[op].flags & DF_MMX) &&
	      (d->pfx == DEC_PFX_NONE || !dec_attrs[op].operands[0]);
	if (em || (!mmx && !(c->cr4 & CR4_OSFXSR)))
		return op_fpu_ud;
	return ts ? op_device_not_available : NULL;
}

/* An instruction of a higher x86-64 level than the CPU model's. */
static void op_model_ud(struct cpu *c, const struct dec_insn *d)
{
	cpu_ud(c);
}

/* A memory operand at base + displacement in 64-bit mode, without
 * segment prefix (FORM_BASE). */
static bool base_disp(const struct cpu *c, const struct dec_insn *d)
{
	return c->mode == DEC_MODE64 && d->adsz == 8 && !d->riprel &&
	       d->base != DEC_NOREG && d->index == DEC_NOREG &&
	       d->seg == DEC_NOREG;
}

/* FORM_SIB: base + index * scale + displacement in 64-bit mode, without
 * segment prefix. */
static bool base_index_disp(const struct cpu *c, const struct dec_insn *d)
{
	return c->mode == DEC_MODE64 && d->adsz == 8 && !d->riprel &&
	       d->base != DEC_NOREG && d->index != DEC_NOREG &&
	       d->seg == DEC_NOREG;
}

/* Per opcode id: the row of its handler's 32/64-bit variants and of
 * its byte variants (struct cpu_forms), or NULL; built once. */
static const struct cpu_forms *vrow[DEC_NOPS], *brow[DEC_NOPS];
static pthread_once_t rows_once = PTHREAD_ONCE_INIT;

static const struct cpu_forms *find_row(const struct cpu_forms *const *ls,
					cpu_handler h)
{
	for (unsigned l = 0; l < 2; l++)
		for (const struct cpu_forms *f = ls[l]; f->any; f++)
			if (f->any == h)
				return f;
	return NULL;
}

static void build_rows(void)
{
	static const struct cpu_forms *const lists[] = {
		cpu_alu_forms, cpu_ops_forms
	}, *const byte_lists[] = {
		cpu_alu_byte_forms, cpu_ops_byte_forms
	};

	for (unsigned op = 0; op < DEC_NOPS; op++) {
		vrow[op] = find_row(lists, handlers[op]);
		brow[op] = find_row(byte_lists, handlers[op]);
	}
}

/* h (d's opcode's handler)'s variant for d's operand form and size
 * (struct cpu_forms), or h. */
static cpu_handler sized(const struct cpu *c, cpu_handler h,
			 const struct dec_insn *d)
{
	const struct cpu_forms *f;
	unsigned i = d->opsz == 8 ? 1 : 0;

	if (h == op_jcc_Jb || h == op_jcc_Jz)
		return cpu_jcc_forms[d->op & 15];
	if (h == op_setcc_Eb)
		return cpu_cc_forms[d->op & 15][0];
	if (h == op_cmovcc_Gv_Ev && d->mod == 3 &&
	    (d->opsz == 4 || d->opsz == 8))
		return cpu_cc_forms[d->op & 15][d->opsz == 8 ? 2 : 1];
	if (c->mode == DEC_MODE64 && d->opsz == 8)
		for (unsigned j = 0; cpu_stack64_forms[j][0]; j++)
			if (cpu_stack64_forms[j][0] == h)
				return cpu_stack64_forms[j][1];
	pthread_once(&rows_once, build_rows);
	if (d->opsz == 1)
		f = brow[d->op];
	else if (d->opsz == 4 || d->opsz == 8)
		f = vrow[d->op];
	else
		return h;
	if (!f)
		return h;
	if (d->mod == 3)
		return f->r[i];
	if (base_disp(c, d))
		return f->b[i];
	return base_index_disp(c, d) && f->x[i] ? f->x[i] : f->m[i];
}

cpu_handler cpu_opcode_handler(unsigned op)
{
	return op < DEC_NOPS ? handlers[op] : NULL;
}

cpu_handler cpu_select_handler(const struct cpu *c, const struct dec_insn *d)
{
	cpu_handler h = c->fpu_trap ? fpu_checked(c, d) : NULL;

	if (((dec_attrs[d->op].flags & DF_V2) && c->level < 2) ||
	    ((dec_attrs[d->op].flags & DF_V3) && c->level < 3))
		return op_model_ud;

	return h ? h : sized(c, handlers[d->op], d);
}
