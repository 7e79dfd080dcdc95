/* Segmentation (SDM Vol. 3 ch. 3 and 5): descriptors from the GDT and
 * LDT, segment-register loads with their protection checks, the limit and
 * rights checks of data accesses, stacks, far JMP/CALL (call gates
 * included), RETF and IRET in real, protected, compatibility and 64-bit
 * mode, and LAR/LSL/VERR/VERW, LLDT/LTR.
 *
 * Data accesses outside 64-bit mode: a handler forms the address of its
 * operand with cpu_seg_la(), which tags the 32-bit linear address with
 * its segment register (LA_SEG_TAG, cpu.h).  Such an address never hits
 * the inline TLB lookup, so the access reaches cpu_mem_slow(), which
 * calls cpu_seg_check() with the access's real size and kind before the
 * TLB.  64-bit mode forms plain addresses and never gets here.
 *
 * Hardware task switches and virtual-8086 mode are not implemented: they
 * end the run with an engine error (cpu_fail), never a wrong guess. */
#include "cpu/cpu.h"

#include <assert.h>
#include <inttypes.h>

/* Descriptor fields (Vol. 3 §3.4.5, Figure 3-8; gates: §5.8.3, §6.11). */
#define D_A     (1ull << 40) /* accessed */
#define D_S     (1ull << 44) /* code or data (else system) */
#define D_P     (1ull << 47)
#define D_TYPE(d) ((unsigned)((d) >> 40) & 15)
#define D_DPL(d) ((unsigned)((d) >> 45) & 3)
#define T_CODE  8u           /* code/data type bits */
#define T_CONF  4u           /* code: conforming */
#define T_EXPD  4u           /* data: expand-down */
#define T_RW    2u           /* code: readable; data: writable */

/* System descriptor types (Table 3-2; in IA-32e mode Table 3-2 too). */
enum { SYS_TSS16 = 1, SYS_LDT = 2, SYS_TSS16_BUSY = 3, SYS_CALL16 = 4,
       SYS_TASK = 5, SYS_INT16 = 6, SYS_TRAP16 = 7, SYS_TSS = 9,
       SYS_TSS_BUSY = 11, SYS_CALL = 12, SYS_INT = 14, SYS_TRAP = 15 };

static __attribute__((noreturn)) void fault_sel(struct cpu *c, int vec,
						 uint32_t sel)
{
	cpu_raise(c, vec, sel & 0xfffcu, true);
}

uint64_t cpu_sys_read(struct cpu *c, uint64_t la, unsigned n)
{
	uint64_t v;

	cpu_set_sys_access(c, true); /* implicit supervisor (Vol. 3 §4.6.1) */
	v = rdn(c, la, n);
	cpu_set_sys_access(c, false);
	return v;
}

void cpu_sys_write(struct cpu *c, uint64_t la, uint64_t v, unsigned n)
{
	cpu_set_sys_access(c, true);
	wrn(c, la, v, n);
	cpu_set_sys_access(c, false);
}

struct rax_seg cpu_desc_seg(uint64_t d, uint16_t sel)
{
	struct rax_seg s;
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));

	s.base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000ull);
	s.g = (d >> 55) & 1;
	s.limit = s.g ? (limit << 12) | 0xfff : limit;
	s.sel = sel;
	s.type = (uint8_t)D_TYPE(d);
	s.s = (d >> 44) & 1;
	s.dpl = (uint8_t)D_DPL(d);
	s.present = (d >> 47) & 1;
	s.avl = (d >> 52) & 1;
	s.l = (d >> 53) & 1;
	s.db = (d >> 54) & 1;
	s.unusable = 0;
	return s;
}

/* The descriptor of sel in the GDT or LDT (TI).  Returns false when sel
 * is outside the table's limit, or names an unusable LDT. */
bool cpu_read_desc(struct cpu *c, uint16_t sel, uint64_t *desc,
		   uint64_t *la)
{
	uint64_t base = c->gdt.base;
	uint32_t limit = c->gdt.limit;

	if (sel & 4) {
		if (c->ldt.unusable || !(c->ldt.sel & ~3u))
			return false;
		base = c->ldt.base;
		limit = c->ldt.limit;
	}
	if ((sel | 7u) > limit)
		return false;
	if (la)
		*la = base + (sel & ~7u);
	*desc = cpu_sys_read(c, base + (sel & ~7u), 8);
	return true;
}

/* The descriptor of sel or #GP(sel) (the loads' "index not within the
 * descriptor table limits" rule). */
static uint64_t desc_or_gp(struct cpu *c, uint16_t sel, uint64_t *la)
{
	uint64_t d;

	if (!cpu_read_desc(c, sel, &d, la))
		fault_sel(c, EXC_GP, sel);
	return d;
}

/* The CPU sets a code or data descriptor's accessed bit when it loads
 * it (Vol. 3 §3.4.5.1). */
static void set_accessed(struct cpu *c, uint64_t la, uint64_t d)
{
	if (!(d & D_A))
		cpu_sys_write(c, la + 5, (uint8_t)((d | D_A) >> 40), 1);
}

static bool long_mode(const struct cpu *c)
{
	return c->efer & EFER_LMA;
}

static bool real_mode(const struct cpu *c)
{
	return !(c->cr0 & CR0_PE);
}

/* --- data accesses ------------------------------------------------------- */

/* Whether [off, off + n) lies within segment s: offsets up to the limit
 * (expand-up), or above it up to 0xffff or 0xffffffff by B (expand-down
 * data segments, Vol. 3 §3.4.5.1). */
static bool in_limit(const struct rax_seg *s, uint64_t off, unsigned n)
{
	uint64_t last = off + n - 1;

	if (s->s && !(s->type & T_CODE) && (s->type & T_EXPD))
		return off > s->limit && last <= (s->db ? 0xffffffffull : 0xffff);
	return last <= s->limit;
}

uint64_t cpu_seg_check(struct cpu *c, uint64_t la, unsigned n, int kind)
{
	unsigned s = (unsigned)(la >> 48) & 7;
	const struct rax_seg *sg = &c->seg[s];
	uint32_t lin = (uint32_t)la;
	int vec = s == S_SS ? EXC_SS : EXC_GP;

	/* Only a carry out of bit 31 may have reached the tag's neighbours. */
	assert(s <= S_GS && !(la & 0x3ff8fffe00000000ull));
	if (!real_mode(c)) {
		if (sg->unusable)
			cpu_raise(c, vec, 0, true);
		if ((sg->type & T_CODE) ? kind == TLB_WRITE || !(sg->type & T_RW)
					: kind == TLB_WRITE && !(sg->type & T_RW))
			cpu_raise(c, vec, 0, true);
	}
	if (!in_limit(sg, (uint32_t)(lin - (uint32_t)sg->base), n))
		cpu_raise(c, vec, 0, true);
	return lin;
}

uint64_t cpu_ea_seg(const struct cpu *c, const struct dec_insn *d,
		    uint64_t ea)
{
	unsigned s = d->seg;

	if (s == DEC_NOREG)
		s = (d->base == R_RSP || d->base == R_RBP) ? S_SS : S_DS;
	return cpu_seg_la(c, s, ea);
}

uint64_t cpu_plain_la(const struct cpu *c, uint64_t la)
{
	return c->mode != DEC_MODE64 && la_tagged(la) ? (uint32_t)la : la;
}

/* Instruction fetch outside 64-bit mode: the instruction must lie within
 * CS's limit (#GP(0), Vol. 3 §5.3), and IP wraps at 64 KiB in a 16-bit
 * code segment. */
void cpu_fetch_limit(struct cpu *c, const struct dec_insn *d)
{
	if (c->rip + d->len - 1 > c->seg[S_CS].limit)
		cpu_gp(c, 0);
	if (c->mode == DEC_MODE16)
		c->next_rip &= 0xffff;
}

/* --- stacks -------------------------------------------------------------- */

void cpu_stack_cur(const struct cpu *c, struct cpu_stack *k)
{
	k->ss = c->seg[S_SS];
	k->sp = c->r[R_RSP];
	k->err = 0;
	k->l64 = c->mode == DEC_MODE64;
	k->sup = false;
}

static uint64_t stack_mask_of(const struct cpu_stack *k)
{
	return k->l64 ? ~0ull : k->ss.db ? 0xffffffffull : 0xffff;
}

static uint64_t stack_la(struct cpu *c, struct cpu_stack *k, uint64_t off,
			 unsigned n)
{
	if (k->l64)
		return off;
	if (!in_limit(&k->ss, off, n))
		cpu_raise(c, EXC_SS, k->err, true);
	return (k->ss.base + off) & 0xffffffffull;
}

void cpu_stack_push(struct cpu *c, struct cpu_stack *k, uint64_t v,
		    unsigned n)
{
	uint64_t sp = (k->sp - n) & stack_mask_of(k);
	uint64_t la = stack_la(c, k, sp, n);

	cpu_set_sys_access(c, k->sup);
	wrn(c, la, v, n);
	cpu_set_sys_access(c, false);
	k->sp = (k->sp & ~stack_mask_of(k)) | sp;
}

uint64_t cpu_stack_pop(struct cpu *c, struct cpu_stack *k, unsigned n)
{
	uint64_t sp = k->sp & stack_mask_of(k);
	uint64_t v = rdn(c, stack_la(c, k, sp, n), n);

	k->sp = (k->sp & ~stack_mask_of(k)) | ((sp + n) & stack_mask_of(k));
	return v;
}

/* --- segment-register loads ---------------------------------------------- */

/* Real mode (and the interpreter has no virtual-8086 mode): base =
 * selector * 16; the limit and attributes stay as they are, which is
 * what "unreal mode" relies on.  A segment a protected-mode null
 * selector left unusable gets the reset state's 64 KiB read/write data
 * segment. */
void cpu_real_seg(struct cpu *c, unsigned s, uint16_t sel)
{
	struct rax_seg *sg = &c->seg[s];

	if (sg->unusable || !sg->present)
		*sg = (struct rax_seg){ .limit = 0xffff, .type = s == S_CS ?
					0xb : 3, .s = 1, .present = 1 };
	sg->sel = sel;
	sg->base = (uint64_t)sel << 4;
}

/* MOV, POP, LDS/LES/LFS/LGS/LSS (Vol. 2 "MOV" Operation, Vol. 3 §5.5,
 * §5.6): protection checks in protected, compatibility and 64-bit mode,
 * error codes carrying the selector. */
void cpu_load_seg(struct cpu *c, unsigned s, uint16_t sel)
{
	uint64_t d, la;
	unsigned rpl = sel & 3, dpl, type;

	if (real_mode(c)) {
		cpu_real_seg(c, s, sel);
		return;
	}
	if (!(sel & ~3u)) {
		/* Null: SS only in 64-bit mode below CPL 3 with RPL = CPL
		 * (Vol. 2 MOV, "IF SS is loaded"). */
		if (s == S_SS && (c->mode != DEC_MODE64 || c->cpl == 3 ||
				  rpl != c->cpl))
			cpu_gp(c, 0);
		c->seg[s] = (struct rax_seg){ .sel = sel, .unusable = 1,
					      .dpl = (uint8_t)c->cpl };
		return;
	}
	d = desc_or_gp(c, sel, &la);
	dpl = D_DPL(d);
	type = D_TYPE(d);
	if (!(d & D_S))
		fault_sel(c, EXC_GP, sel);
	if (s == S_SS) {
		if (rpl != c->cpl || dpl != c->cpl || (type & T_CODE) ||
		    !(type & T_RW))
			fault_sel(c, EXC_GP, sel);
		if (!(d & D_P))
			fault_sel(c, EXC_SS, sel);
	} else {
		if ((type & (T_CODE | T_RW)) == T_CODE)
			fault_sel(c, EXC_GP, sel); /* execute-only code */
		if ((type & (T_CODE | T_CONF)) != (T_CODE | T_CONF) &&
		    (rpl > dpl || c->cpl > dpl))
			fault_sel(c, EXC_GP, sel);
		if (!(d & D_P))
			fault_sel(c, EXC_NP, sel);
	}
	set_accessed(c, la, d);
	c->seg[s] = cpu_desc_seg(d | D_A, sel);
}

/* A return to an outer privilege level nulls each of ES, DS, FS and GS
 * that holds a null selector (its RPL too: a 3 becomes 0, as Linux's
 * sigreturn selftest checks) or a data or non-conforming code segment
 * the new CPL may not use, DPL < CPL (Vol. 2 IRET and RET, "RETURN-TO-
 * OUTER-PRIVILEGE-LEVEL").  The hidden base stays, as when a null
 * selector is loaded in 64-bit mode. */
static void null_inaccessible_segs(struct cpu *c)
{
	static const unsigned segs[] = { S_ES, S_DS, S_FS, S_GS };

	for (unsigned i = 0; i < 4; i++) {
		struct rax_seg *s = &c->seg[segs[i]];

		if (!(s->sel & ~3u)) {
			s->sel = 0;
			continue;
		}
		if (s->unusable || !s->s || (s->type & 0xc) == 0xc ||
		    s->dpl >= c->cpl)
			continue;
		s->sel = 0;
		s->unusable = 1;
	}
}

/* --- far transfers -------------------------------------------------------- */

/* A code-segment descriptor that a far JMP/CALL/RET/IRET or a gate
 * reaches: the checks every path shares (not a code segment: #GP(sel);
 * in IA-32e mode both L and D set: #GP(sel); not present: #NP(sel)). */
static void check_code(struct cpu *c, uint64_t d, uint16_t sel)
{
	if ((d & D_S) == 0 || !(D_TYPE(d) & T_CODE))
		fault_sel(c, EXC_GP, sel);
	if (long_mode(c) && ((d >> 53) & 3) == 3)
		fault_sel(c, EXC_GP, sel);
	if (!(d & D_P))
		fault_sel(c, EXC_NP, sel);
}

/* The offset a transfer to code segment cs lands on: the whole 64-bit
 * offset for a 64-bit segment, else within the limit (#GP(0)). */
static uint64_t code_offset(struct cpu *c, const struct rax_seg *cs,
			    uint64_t off)
{
	if (long_mode(c) && cs->l) {
		if (!cpu_canonical(off))
			cpu_gp(c, 0);
		return off;
	}
	if (off > cs->limit)
		cpu_gp(c, 0);
	return off;
}

/* Commits a new CS at privilege cpl and the instruction pointer. */
static void enter_cs(struct cpu *c, uint64_t la, uint64_t d, uint16_t sel,
		     unsigned cpl, uint64_t rip)
{
	set_accessed(c, la, d);
	c->seg[S_CS] = cpu_desc_seg(d | D_A, (uint16_t)((sel & ~3u) | cpl));
	cpu_set_cpl(c, cpl);
	c->next_rip = rip;
	cpu_update_mode(c);
}

/* Hardware task switches: through a TSS or task-gate selector (JMP,
 * CALL, INT, an IDT task gate) or IRET with NT set. */
__attribute__((noreturn)) void cpu_task_switch(struct cpu *c, uint16_t sel,
						const char *how)
{
	cpu_fail(c, "hardware task switch (%s, selector %#x) is not "
		 "implemented by the interpreter", how, sel);
}

/* The stack for privilege level dpl from the TSS (Vol. 3 §5.8.5, §6.12.1):
 * in IA-32e mode RSPn of the 64-bit TSS with SS = null(dpl); else
 * SSn:ESPn (32-bit TSS) or SSn:SPn (16-bit TSS), checked: #TS with the
 * TSS or SS selector, #SS(SS) when not present.  ext is the EXT bit of
 * those error codes (1 during the delivery of an external event or an
 * exception). */
void cpu_tss_stack(struct cpu *c, unsigned dpl, unsigned ext,
		   struct cpu_stack *k)
{
	uint64_t sd, sla;
	bool t32 = (c->tr.type & ~2u) == SYS_TSS;
	unsigned o = t32 ? 4 + 8 * dpl : 2 + 4 * dpl;
	uint16_t ss;

	*k = (struct cpu_stack){ .sup = true };
	if (long_mode(c)) {
		k->sp = cpu_sys_read(c, c->tr.base + 4 + 8 * dpl, 8);
		k->l64 = true;
		k->ss = (struct rax_seg){ .sel = (uint16_t)dpl, .unusable = 1,
					  .dpl = (uint8_t)dpl };
		return;
	}
	if (o + (t32 ? 5 : 3) > c->tr.limit)
		cpu_raise(c, EXC_TS, (c->tr.sel & 0xfffcu) | ext, true);
	k->sp = cpu_sys_read(c, c->tr.base + o, t32 ? 4 : 2);
	ss = (uint16_t)cpu_sys_read(c, c->tr.base + o + (t32 ? 4 : 2), 2);
	if (!(ss & ~3u))
		cpu_raise(c, EXC_TS, ext, true);
	if (!cpu_read_desc(c, ss, &sd, &sla))
		cpu_raise(c, EXC_TS, (ss & 0xfffcu) | ext, true);
	if ((ss & 3) != dpl || D_DPL(sd) != dpl || !(sd & D_S) ||
	    (D_TYPE(sd) & T_CODE) || !(D_TYPE(sd) & T_RW))
		cpu_raise(c, EXC_TS, (ss & 0xfffcu) | ext, true);
	if (!(sd & D_P))
		cpu_raise(c, EXC_SS, (ss & 0xfffcu) | ext, true);
	k->ss = cpu_desc_seg(sd | D_A, ss);
	k->err = (ss & 0xfffcu) | ext;
	set_accessed(c, sla, sd);
}

/* CALL through a call gate to a more privileged non-conforming segment
 * (Vol. 2 CALL, "CALL-GATE-TO-MORE-PRIVILEGE"; §5.8.5): the new stack
 * from the TSS, the parameters copied from the old one (legacy gates
 * only), then the return frame. */
static void gate_to_inner(struct cpu *c, uint64_t gate, uint64_t d,
			  uint64_t dla, uint16_t csel, uint64_t rip,
			  unsigned n)
{
	unsigned dpl = D_DPL(d), count = (unsigned)(gate >> 32) & 31;
	struct cpu_stack old, k;
	uint64_t params[31];

	cpu_stack_cur(c, &old);
	cpu_tss_stack(c, dpl, 0, &k);
	if (k.l64)
		count = 0; /* 64-bit call gates copy no parameters */
	for (unsigned i = 0; i < count; i++) /* the caller's parameters */
		params[i] = cpu_stack_pop(c, &old, n);
	cpu_stack_push(c, &k, c->seg[S_SS].sel, n);
	cpu_stack_push(c, &k, c->r[R_RSP], n);
	for (unsigned i = count; i-- > 0;)
		cpu_stack_push(c, &k, params[i], n);
	cpu_stack_push(c, &k, c->seg[S_CS].sel, n);
	cpu_stack_push(c, &k, c->next_rip, n);
	c->seg[S_SS] = k.ss;
	c->r[R_RSP] = k.sp; /* the TSS's stack pointer, as pushed down */
	enter_cs(c, dla, d, csel, dpl, rip);
}

/* JMP or CALL through a call gate (Vol. 2 JMP/CALL, "CALL-GATE"). */
static void far_via_gate(struct cpu *c, uint64_t gate, uint64_t gla,
			 uint16_t sel, bool call)
{
	unsigned type = D_TYPE(gate), dpl, n;
	uint64_t hi = 0, off, d, dla;
	uint16_t csel;
	struct rax_seg cs;

	if (D_DPL(gate) < c->cpl || D_DPL(gate) < (sel & 3u))
		fault_sel(c, EXC_GP, sel);
	if (!(gate & D_P))
		fault_sel(c, EXC_NP, sel);
	off = (gate & 0xffff) | ((gate >> 32) & 0xffff0000ull);
	if (long_mode(c)) {
		/* A 16-byte gate: its upper half within the table too. */
		if ((sel | 15u) > ((sel & 4) ? c->ldt.limit : c->gdt.limit))
			fault_sel(c, EXC_GP, sel);
		hi = cpu_sys_read(c, gla + 8, 8);
		if ((hi >> 40) & 31) /* upper half's type must be 0 */
			fault_sel(c, EXC_GP, sel);
		off |= hi << 32;
	} else if (type == SYS_CALL16) {
		off &= 0xffff;
	}
	n = long_mode(c) ? 8 : type == SYS_CALL16 ? 2 : 4;
	csel = (uint16_t)(gate >> 16);
	if (!(csel & ~3u))
		cpu_gp(c, 0);
	d = desc_or_gp(c, csel, &dla);
	if (!(d & D_S) || !(D_TYPE(d) & T_CODE) || D_DPL(d) > c->cpl)
		fault_sel(c, EXC_GP, csel);
	if (long_mode(c) && (!((d >> 53) & 1) || ((d >> 54) & 1)))
		fault_sel(c, EXC_GP, csel); /* 64-bit gates reach 64-bit code */
	dpl = D_DPL(d);
	if (!call && !(D_TYPE(d) & T_CONF) && dpl != c->cpl)
		fault_sel(c, EXC_GP, csel);
	if (!(d & D_P))
		fault_sel(c, EXC_NP, csel);
	cs = cpu_desc_seg(d, csel);
	off = code_offset(c, &cs, off);
	if (call && !(D_TYPE(d) & T_CONF) && dpl < c->cpl) {
		gate_to_inner(c, gate, d, dla, csel, off, n);
		return;
	}
	if (call) {
		struct cpu_stack k;

		cpu_stack_cur(c, &k);
		cpu_stack_push(c, &k, c->seg[S_CS].sel, n);
		cpu_stack_push(c, &k, c->next_rip, n);
		c->r[R_RSP] = k.sp;
	}
	enter_cs(c, dla, d, csel, c->cpl, off);
}

/* Far JMP and CALL: ptr16:16/32 or m16:16/32/64 (n = operand size). */
void cpu_far_jump(struct cpu *c, uint16_t sel, uint64_t off, bool call,
		  unsigned n)
{
	struct cpu_stack k;
	uint64_t d, la;
	unsigned type;
	struct rax_seg cs;

	off &= sz_mask(n);
	if (real_mode(c)) {
		/* The new CS keeps its limit (unreal mode, see cpu_real_seg). */
		if (off > c->seg[S_CS].limit)
			cpu_gp(c, 0);
		if (call) {
			cpu_stack_cur(c, &k);
			cpu_stack_push(c, &k, c->seg[S_CS].sel, n);
			cpu_stack_push(c, &k, c->next_rip, n);
			c->r[R_RSP] = k.sp;
		}
		cpu_real_seg(c, S_CS, sel);
		c->next_rip = off;
		cpu_update_mode(c);
		return;
	}
	if (!(sel & ~3u))
		cpu_gp(c, 0);
	d = desc_or_gp(c, sel, &la);
	type = D_TYPE(d);
	if (!(d & D_S)) {
		if (type == SYS_TASK || (type & ~2u) == SYS_TSS ||
		    (type & ~2u) == SYS_TSS16)
			cpu_task_switch(c, sel, call ? "far CALL" : "far JMP");
		if (type == SYS_CALL || (type == SYS_CALL16 && !long_mode(c)))
			far_via_gate(c, d, la, sel, call);
		else
			fault_sel(c, EXC_GP, sel);
		return;
	}
	if (!(type & T_CODE))
		fault_sel(c, EXC_GP, sel);
	if (type & T_CONF) {
		if (D_DPL(d) > c->cpl)
			fault_sel(c, EXC_GP, sel);
	} else if ((sel & 3u) > c->cpl || D_DPL(d) != c->cpl) {
		fault_sel(c, EXC_GP, sel);
	}
	check_code(c, d, sel);
	cs = cpu_desc_seg(d, sel);
	off = code_offset(c, &cs, off);
	if (call) {
		cpu_stack_cur(c, &k);
		cpu_stack_push(c, &k, c->seg[S_CS].sel, n);
		cpu_stack_push(c, &k, c->next_rip, n);
		c->r[R_RSP] = k.sp;
	}
	enter_cs(c, la, d, sel, c->cpl, off);
}

/* The SS a return to an outer level (or any IA-32e IRET) loads, with
 * RETF/IRET's checks (Vol. 2 RET/IRET; null allowed only for a return to
 * 64-bit mode below CPL 3). */
static struct rax_seg return_ss(struct cpu *c, uint16_t ss, unsigned cpl,
				bool to64, uint64_t *la, uint64_t *desc)
{
	uint64_t d;

	*la = 0;
	*desc = D_A;
	if (!(ss & ~3u)) {
		if (!to64 || cpl == 3 || (ss & 3u) != cpl)
			cpu_gp(c, 0);
		return (struct rax_seg){ .sel = ss, .unusable = 1,
					 .dpl = (uint8_t)cpl };
	}
	d = desc_or_gp(c, ss, la);
	if ((ss & 3u) != cpl || D_DPL(d) != cpl || !(d & D_S) ||
	    (D_TYPE(d) & T_CODE) || !(D_TYPE(d) & T_RW))
		fault_sel(c, EXC_GP, ss);
	if (!(d & D_P))
		fault_sel(c, EXC_SS, ss);
	*desc = d;
	return cpu_desc_seg(d | D_A, ss);
}

/* EFLAGS an IRET may write at the current (old) CPL, by operand size
 * (Vol. 2 IRET: IOPL only at CPL 0, IF only at CPL <= IOPL; VIF and VIP
 * at CPL 0 with a 32/64-bit operand; real mode keeps VM, VIF, VIP). */
static uint64_t iret_flags_mask(const struct cpu *c, unsigned n)
{
	uint64_t m = cpu_flags_mask(c) | RFLAGS_RF;

	if (c->cpl == 0 && n >= 4 && !real_mode(c))
		m |= 3ull << 19;
	return n == 2 ? m & 0xffff : m & 0xffffffffull;
}

static void real_iret_or_retf(struct cpu *c, unsigned n, uint16_t extra,
			      bool iret)
{
	struct cpu_stack k;
	uint64_t rip, fl = 0;
	uint16_t cs;

	cpu_stack_cur(c, &k);
	rip = cpu_stack_pop(c, &k, n);
	cs = (uint16_t)cpu_stack_pop(c, &k, n);
	if (iret)
		fl = cpu_stack_pop(c, &k, n);
	if (rip > c->seg[S_CS].limit)
		cpu_gp(c, 0);
	k.sp = (k.sp & ~stack_mask_of(&k)) |
	       ((k.sp + extra) & stack_mask_of(&k));
	if (iret) {
		uint64_t m = iret_flags_mask(c, n);

		cpu_set_rflags(c, (cpu_get_rflags(c) & ~m) | (fl & m));
		c->nmi_blocked = false;
	}
	c->r[R_RSP] = k.sp;
	cpu_real_seg(c, S_CS, cs);
	c->next_rip = rip;
	cpu_update_mode(c);
}

/* RETF and IRET (Vol. 2 RET, IRET; Vol. 3 §6.14.3: in IA-32e mode IRET
 * always pops SS:RSP). */
void cpu_far_return(struct cpu *c, unsigned n, uint16_t extra, bool iret)
{
	struct cpu_stack k;
	uint64_t rip, fl = 0, nsp = 0, d, la, ssd = 0, ssla = 0;
	uint16_t cs, ss = 0;
	unsigned newcpl, type, oldcpl = c->cpl;
	bool outer, to64;
	struct rax_seg ncs, nss = { 0 };

	if (real_mode(c)) {
		real_iret_or_retf(c, n, extra, iret);
		return;
	}
	if (iret && (c->rflags & (1u << 14))) { /* NT */
		if (long_mode(c))
			cpu_gp(c, 0);
		cpu_task_switch(c, (uint16_t)cpu_sys_read(c, c->tr.base, 2),
				"IRET with EFLAGS.NT");
	}
	cpu_stack_cur(c, &k);
	rip = cpu_stack_pop(c, &k, n);
	cs = (uint16_t)cpu_stack_pop(c, &k, n);
	if (iret)
		fl = cpu_stack_pop(c, &k, n);
	if (iret && (fl & RFLAGS_VM) && c->cpl == 0 && !long_mode(c))
		cpu_fail(c, "IRET to virtual-8086 mode is not implemented "
			 "by the interpreter");
	newcpl = cs & 3u;
	if (!(cs & ~3u))
		cpu_gp(c, 0);
	d = desc_or_gp(c, cs, &la);
	type = D_TYPE(d);
	if (!(d & D_S) || !(type & T_CODE) || newcpl < c->cpl)
		fault_sel(c, EXC_GP, cs);
	if ((type & T_CONF) ? D_DPL(d) > newcpl : D_DPL(d) != newcpl)
		fault_sel(c, EXC_GP, cs);
	check_code(c, d, cs);
	ncs = cpu_desc_seg(d | D_A, cs);
	to64 = long_mode(c) && ncs.l;
	outer = newcpl > c->cpl || (iret && long_mode(c));
	k.sp = (k.sp & ~stack_mask_of(&k)) |
	       ((k.sp + extra) & stack_mask_of(&k));
	if (outer) {
		nsp = cpu_stack_pop(c, &k, n);
		ss = (uint16_t)cpu_stack_pop(c, &k, n);
		nss = return_ss(c, ss, newcpl, to64, &ssla, &ssd);
	}
	if (n < 8)
		rip &= sz_mask(n);
	rip = code_offset(c, &ncs, rip);
	if (iret) {
		uint64_t m = iret_flags_mask(c, n);

		c->nmi_blocked = false; /* Vol. 3 §6.7.1 */
		cpu_set_rflags(c, (cpu_get_rflags(c) & ~m) | (fl & m));
	}
	enter_cs(c, la, d, cs, newcpl, rip);
	if (outer) {
		if (ssla)
			set_accessed(c, ssla, ssd);
		c->seg[S_SS] = nss;
		/* Only SP when the new stack is 16-bit: the high bits of ESP
		 * stay (the reason for Linux's espfix). */
		if (to64)
			c->r[R_RSP] = nsp;
		else if (nss.db)
			c->r[R_RSP] = (uint32_t)nsp;
		else
			c->r[R_RSP] = (c->r[R_RSP] & ~0xffffull) | (nsp & 0xffff);
		if (extra && !iret) {
			struct cpu_stack nk;

			cpu_stack_cur(c, &nk);
			nk.sp = (nk.sp & ~stack_mask_of(&nk)) |
				((nk.sp + extra) & stack_mask_of(&nk));
			c->r[R_RSP] = nk.sp;
		}
		if (newcpl > oldcpl)
			null_inaccessible_segs(c);
	} else {
		c->r[R_RSP] = k.sp;
	}
	c->next_check = 0;
}

/* --- system segments: LLDT, LTR, LAR, LSL, VERR, VERW --------------------- */

/* LLDT and LTR (Vol. 2 LLDT, LTR): a GDT selector of an LDT or an
 * available TSS, 16 bytes in IA-32e mode; LTR marks the TSS busy. */
void cpu_load_system_seg(struct cpu *c, bool tss, uint16_t sel)
{
	uint64_t la, lo, hi = 0;
	unsigned type;
	struct rax_seg *s = tss ? &c->tr : &c->ldt;

	if (!(sel & ~3u)) {
		if (tss)
			cpu_gp(c, 0);
		*s = (struct rax_seg){ .sel = sel, .unusable = 1 };
		return;
	}
	if (sel & 4)
		fault_sel(c, EXC_GP, sel);
	lo = desc_or_gp(c, sel, &la);
	type = D_TYPE(lo);
	if ((lo & D_S) || (tss ? !(type == SYS_TSS || (type == SYS_TSS16 &&
						       !long_mode(c)))
			       : type != SYS_LDT))
		fault_sel(c, EXC_GP, sel);
	if (long_mode(c)) {
		if ((sel | 15u) > c->gdt.limit)
			fault_sel(c, EXC_GP, sel);
		hi = cpu_sys_read(c, la + 8, 8);
	}
	if (!(lo & D_P))
		fault_sel(c, EXC_NP, sel);
	if (!cpu_canonical((uint32_t)cpu_desc_seg(lo, sel).base | hi << 32))
		fault_sel(c, EXC_GP, sel); /* IA-32e mode: a 64-bit base */
	*s = cpu_desc_seg(lo, sel);
	s->base |= hi << 32;
	if (tss) { /* busy: type 9 -> 11, 1 -> 3 */
		cpu_sys_write(c, la + 5, (uint8_t)((lo >> 40) | 2), 1);
		s->type |= 2;
	}
}

/* Whether LAR (lar) or LSL may report descriptor d at the current
 * privilege (Vol. 2 LAR, LSL: the valid system types by mode; code and
 * data unless non-conforming with DPL < CPL or DPL < RPL). */
static bool lar_lsl_ok(const struct cpu *c, uint64_t d, uint16_t sel,
		       bool lar)
{
	unsigned type = D_TYPE(d);

	if (!(d & D_S)) {
		static const uint16_t legacy_lar = 0x1a3e, legacy_lsl = 0x0a0e;
		static const uint16_t long_lar = 0x1a04, long_lsl = 0x0a04;
		uint16_t ok = long_mode(c) ? (lar ? long_lar : long_lsl)
					   : (lar ? legacy_lar : legacy_lsl);

		if (!((ok >> type) & 1))
			return false;
	} else if ((type & (T_CODE | T_CONF)) == (T_CODE | T_CONF)) {
		return true;
	}
	return D_DPL(d) >= c->cpl && D_DPL(d) >= (sel & 3u);
}

/* LAR, LSL, VERR, VERW: ZF reports the result; r is written only when
 * ZF = 1.  Returns whether the check passed, and for LAR/LSL *out. */
static bool check_sel(struct cpu *c, uint16_t sel, int which, uint64_t *out)
{
	uint64_t d;
	unsigned type;
	bool ok;

	if (!(sel & ~3u) || !cpu_read_desc(c, sel, &d, NULL))
		return false;
	type = D_TYPE(d);
	switch (which) {
	case 0: case 1: /* LAR, LSL */
		ok = lar_lsl_ok(c, d, sel, which == 0);
		if (ok)
			*out = which == 0 ? (d >> 32) & 0x00f0ff00
					  : cpu_desc_seg(d, sel).limit;
		return ok;
	default: /* VERR (2), VERW (3) */
		if (!(d & D_S))
			return false;
		if (which == 3 && ((type & T_CODE) || !(type & T_RW)))
			return false;
		if (which == 2 && (type & (T_CODE | T_RW)) == T_CODE)
			return false;
		if ((type & (T_CODE | T_CONF)) == (T_CODE | T_CONF))
			return true;
		return D_DPL(d) >= c->cpl && D_DPL(d) >= (sel & 3u);
	}
}

bool cpu_check_selector(struct cpu *c, uint16_t sel, int which,
			uint64_t *out)
{
	bool ok = check_sel(c, sel, which, out);

	c->rflags = (cpu_get_rflags(c) & ~(uint64_t)RFLAGS_ZF) |
		    (ok ? RFLAGS_ZF : 0);
	c->lf_op = LF_NONE;
	return ok;
}
