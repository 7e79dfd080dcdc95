/* System instructions: segment loads, far transfers, IRET, SYSCALL/SYSRET,
 * control and debug registers, descriptor tables, MSRs, CPUID, HLT,
 * CLI/STI, INT n (SDM Vol. 2 instruction pages and Vol. 3 ch. 3, 5, 6). */
#include "cpu/cpu.h"

#include <inttypes.h>

#include "devices/intc.h"
#include "devices/lapic.h" /* MSR_IA32_TSC_DEADLINE */
#include "log.h"
#include "machine.h"

/* --- modes and descriptors ------------------------------------------------ */

/* The decoding mode: 64-bit with EFER.LMA and CS.L, else CS.D, in real
 * mode too (a 32-bit CS cache left by protected mode keeps running
 * 32-bit code until CS is reloaded, Vol. 3 §9.9.2). */
void cpu_update_mode(struct cpu *c)
{
	c->next_check = 0; /* the slow path handles non-64-bit modes */
	if ((c->efer & EFER_LMA) && c->seg[S_CS].l)
		c->mode = DEC_MODE64;
	else
		c->mode = c->seg[S_CS].db ? DEC_MODE32 : DEC_MODE16;
	/* The jump cache's entries hold for their CPL and decode key. */
	cpu_update_dec_key(c);
}

void op_mov_Sw_Ew(struct cpu *c, const struct dec_insn *d)
{
	unsigned s = d->reg & 7;
	uint16_t sel = (uint16_t)rd_E(c, d, 2);

	if (s == S_CS || s > S_GS)
		cpu_ud(c);
	cpu_load_seg(c, s, sel);
	if (s == S_SS) { /* MOV SS inhibits interrupts for one instruction */
		c->shadow_end = c->icount + 2 * CPU_INSN_NS;
		c->mov_ss = true; /* and single-step traps (event.c) */
	}
}

void op_mov_Ev_Sw(struct cpu *c, const struct dec_insn *d)
{
	unsigned s = d->reg & 7;

	if (s > S_GS)
		cpu_ud(c);
	if (d->mod == 3)
		sreg_w(c, d->rm, d->opsz, d->rex, c->seg[s].sel);
	else
		wr16(c, cpu_ea(c, d), c->seg[s].sel);
}

/* POP Sreg: RSP moves only once the load has passed its checks. */
static void pop_seg(struct cpu *c, const struct dec_insn *d, unsigned s)
{
	uint64_t sp = c->r[R_RSP], nsp;
	uint16_t sel = (uint16_t)cpu_pop(c, d->opsz);

	nsp = c->r[R_RSP];
	c->r[R_RSP] = sp;
	cpu_load_seg(c, s, sel);
	c->r[R_RSP] = nsp;
	if (s == S_SS) { /* as MOV SS (Vol. 2 POP) */
		c->shadow_end = c->icount + 2 * CPU_INSN_NS;
		c->mov_ss = true;
	}
}

void op_push_FS(struct cpu *c, const struct dec_insn *d) { cpu_push(c, c->seg[S_FS].sel, d->opsz); }
void op_push_GS(struct cpu *c, const struct dec_insn *d) { cpu_push(c, c->seg[S_GS].sel, d->opsz); }
void op_pop_FS(struct cpu *c, const struct dec_insn *d) { pop_seg(c, d, S_FS); }
void op_pop_GS(struct cpu *c, const struct dec_insn *d) { pop_seg(c, d, S_GS); }
/* 06 07 0E 16 17 1E 1F: invalid in 64-bit mode (opcodes.def). */
void op_push_ES(struct cpu *c, const struct dec_insn *d) { cpu_push(c, c->seg[S_ES].sel, d->opsz); }
void op_push_CS(struct cpu *c, const struct dec_insn *d) { cpu_push(c, c->seg[S_CS].sel, d->opsz); }
void op_push_SS(struct cpu *c, const struct dec_insn *d) { cpu_push(c, c->seg[S_SS].sel, d->opsz); }
void op_push_DS(struct cpu *c, const struct dec_insn *d) { cpu_push(c, c->seg[S_DS].sel, d->opsz); }
void op_pop_ES(struct cpu *c, const struct dec_insn *d) { pop_seg(c, d, S_ES); }
void op_pop_SS(struct cpu *c, const struct dec_insn *d) { pop_seg(c, d, S_SS); }
void op_pop_DS(struct cpu *c, const struct dec_insn *d) { pop_seg(c, d, S_DS); }

static void load_far_ptr(struct cpu *c, const struct dec_insn *d, unsigned s)
{
	uint64_t la, off;
	uint16_t sel;

	if (d->mod == 3)
		cpu_ud(c);
	la = cpu_ea(c, d);
	off = rdn(c, la, d->opsz);
	sel = rd16(c, la + d->opsz);
	cpu_load_seg(c, s, sel);
	sreg_w(c, d->reg, d->opsz, d->rex, off);
}

void op_les_Gv_Mp(struct cpu *c, const struct dec_insn *d) { load_far_ptr(c, d, S_ES); }
void op_lds_Gv_Mp(struct cpu *c, const struct dec_insn *d) { load_far_ptr(c, d, S_DS); }
void op_lss_Gv_Mp(struct cpu *c, const struct dec_insn *d) { load_far_ptr(c, d, S_SS); }
void op_lfs_Gv_Mp(struct cpu *c, const struct dec_insn *d) { load_far_ptr(c, d, S_FS); }
void op_lgs_Gv_Mp(struct cpu *c, const struct dec_insn *d) { load_far_ptr(c, d, S_GS); }

void op_jmpf_Ap(struct cpu *c, const struct dec_insn *d)
{
	cpu_far_jump(c, d->imm2, d->imm, false, d->opsz);
}

void op_callf_Ap(struct cpu *c, const struct dec_insn *d)
{
	cpu_far_jump(c, d->imm2, d->imm, true, d->opsz);
}

void op_retf(struct cpu *c, const struct dec_insn *d) { cpu_far_return(c, d->opsz, 0, false); }
void op_retf_Iw(struct cpu *c, const struct dec_insn *d) { cpu_far_return(c, d->opsz, (uint16_t)d->imm, false); }
void op_iret(struct cpu *c, const struct dec_insn *d) { cpu_far_return(c, d->opsz, 0, true); }

/* --- interrupts ----------------------------------------------------------- */

void op_int3(struct cpu *c, const struct dec_insn *d)
{
	cpu_deliver(c, EXC_BP, false, 0, true);
}

/* INT1 (ICEBP): a trap-class #DB that sets no DR6 bit of its own.  A
 * single-step trap MOV SS held for it is lost (DR6.BS stays clear); the
 * data breakpoints held come in the same #DB. */
void op_int1(struct cpu *c, const struct dec_insn *d)
{
	if (c->db_trap)
		c->dr6 = (c->dr6 & ~0xfull) | c->db_trap;
	c->db_trap = 0;
	c->db_pending = false;
	cpu_deliver(c, EXC_DB, false, 0, false);
}

void op_int_Ib(struct cpu *c, const struct dec_insn *d)
{
	cpu_deliver(c, (int)(d->imm & 0xff), false, 0, true);
}

void op_hlt(struct cpu *c, const struct dec_insn *d)
{
	if (c->cpl)
		cpu_gp(c, 0);
	c->halted = true;
	c->next_check = 0;
}

void op_cli(struct cpu *c, const struct dec_insn *d)
{
	if (c->cpl > ((c->rflags >> 12) & 3))
		cpu_gp(c, 0);
	c->rflags &= ~(uint64_t)RFLAGS_IF;
}

void op_sti(struct cpu *c, const struct dec_insn *d)
{
	if (c->cpl > ((c->rflags >> 12) & 3))
		cpu_gp(c, 0);
	if (!(c->rflags & RFLAGS_IF)) {
		/* STI shadow: the next instruction runs first (Vol. 2 STI). */
		c->shadow_end = c->icount + 2 * CPU_INSN_NS;
		c->next_check = c->icount + 2 * CPU_INSN_NS;
	}
	c->rflags |= RFLAGS_IF;
}

/* --- SYSCALL / SYSRET (Vol. 2; 64-bit forms) ------------------------------ */

void op_syscall(struct cpu *c, const struct dec_insn *d)
{
	uint16_t sel = (uint16_t)(c->star >> 32) & 0xfffc;

	if (!(c->efer & EFER_SCE) || c->mode != DEC_MODE64)
		cpu_ud(c);
	c->r[R_RCX] = c->next_rip;
	c->r[R_R11] = cpu_get_rflags(c) & ~(uint64_t)RFLAGS_RF;
	cpu_set_rflags(c, c->r[R_R11] & ~c->sfmask);
	cpu_tf_from_result(c);
	c->seg[S_CS] = (struct rax_seg){ .sel = sel, .type = 11, .s = 1,
		.present = 1, .l = 1, .g = 1, .limit = 0xffffffff };
	c->seg[S_SS] = (struct rax_seg){ .sel = (uint16_t)(sel + 8), .type = 3,
		.s = 1, .present = 1, .db = 1, .g = 1, .limit = 0xffffffff };
	cpu_set_cpl(c, 0);
	c->next_rip = c->lstar;
	cpu_update_mode(c);
}

void op_sysret(struct cpu *c, const struct dec_insn *d)
{
	uint16_t sel = (uint16_t)(c->star >> 48);
	bool q = d->opsz == 8;

	if (!(c->efer & EFER_SCE) || c->mode != DEC_MODE64)
		cpu_ud(c);
	if (c->cpl)
		cpu_gp(c, 0);
	if (q && !cpu_canonical(c->r[R_RCX]))
		cpu_gp(c, 0);
	c->seg[S_CS] = (struct rax_seg){ .sel = (uint16_t)((q ? sel + 16 : sel) | 3),
		.type = 11, .s = 1, .dpl = 3, .present = 1, .l = q, .db = !q,
		.g = 1, .limit = 0xffffffff };
	c->seg[S_SS] = (struct rax_seg){ .sel = (uint16_t)((sel + 8) | 3),
		.type = 3, .s = 1, .dpl = 3, .present = 1, .db = 1, .g = 1,
		.limit = 0xffffffff };
	cpu_set_rflags(c, (c->r[R_R11] & 0x3c7fd7) | RFLAGS_FIXED);
	cpu_tf_from_result(c);
	cpu_set_cpl(c, 3);
	c->next_rip = q ? c->r[R_RCX] : (uint32_t)c->r[R_RCX];
	cpu_update_mode(c);
	c->next_check = 0;
}

/* --- SYSENTER / SYSEXIT (Vol. 2) ------------------------------------------ */

/* The flat CPL-0 code and stack segments SYSENTER loads, and the CPL-3
 * ones SYSEXIT loads, from IA32_SYSENTER_CS (Vol. 2 SYSENTER, SYSEXIT:
 * base 0, limit 4 GiB, accessed; CS 64-bit in IA-32e mode at CPL 0 or
 * with REX.W at CPL 3, else 32-bit). */
static void sysenter_segs(struct cpu *c, uint16_t cs, unsigned dpl, bool l)
{
	c->seg[S_CS] = (struct rax_seg){ .sel = (uint16_t)(cs | dpl),
		.type = 11, .s = 1, .dpl = (uint8_t)dpl, .present = 1, .l = l,
		.db = !l, .g = 1, .limit = 0xffffffff };
	c->seg[S_SS] = (struct rax_seg){ .sel = (uint16_t)((cs + 8) | dpl),
		.type = 3, .s = 1, .dpl = (uint8_t)dpl, .present = 1, .db = 1,
		.g = 1, .limit = 0xffffffff };
	cpu_set_cpl(c, dpl);
}

/* SYSENTER: valid in every protected mode of this (Intel) model, 64-bit
 * and compatibility mode too (Linux's 32-bit vDSO uses it on Intel);
 * TF stays, so a single-step trap follows at the entry point. */
void op_sysenter(struct cpu *c, const struct dec_insn *d)
{
	bool lma = (c->efer & EFER_LMA) != 0;

	if (!(c->cr0 & CR0_PE) || !(c->sysenter_cs & 0xfffc))
		cpu_gp(c, 0);
	if (c->rflags & RFLAGS_VM)
		cpu_fail(c, "SYSENTER from virtual-8086 mode is not "
			 "implemented by the interpreter");
	cpu_set_rflags(c, cpu_get_rflags(c) &
		       ~(uint64_t)(RFLAGS_VM | RFLAGS_IF | RFLAGS_RF));
	sysenter_segs(c, (uint16_t)(c->sysenter_cs & 0xfffc), 0, lma);
	c->r[R_RSP] = lma ? c->sysenter_esp : (uint32_t)c->sysenter_esp;
	c->next_rip = lma ? c->sysenter_eip : (uint32_t)c->sysenter_eip;
	cpu_update_mode(c);
}

/* SYSEXIT: to CPL 3 at RDX with the stack at RCX; REX.W returns to
 * 64-bit code (SYSENTER_CS + 32), else to 32-bit code (+ 16). */
void op_sysexit(struct cpu *c, const struct dec_insn *d)
{
	uint16_t cs = (uint16_t)c->sysenter_cs;
	bool q = d->opsz == 8;

	if (!(c->cr0 & CR0_PE) || !(cs & 0xfffc) || c->cpl)
		cpu_gp(c, 0);
	if (q && (!cpu_canonical(c->r[R_RCX]) || !cpu_canonical(c->r[R_RDX])))
		cpu_gp(c, 0);
	sysenter_segs(c, (uint16_t)((cs + (q ? 32 : 16)) & 0xfffc), 3, q);
	c->r[R_RSP] = q ? c->r[R_RCX] : (uint32_t)c->r[R_RCX];
	c->next_rip = q ? c->r[R_RDX] : (uint32_t)c->r[R_RDX];
	cpu_update_mode(c);
}

/* --- control registers ---------------------------------------------------- */

static void need_cpl0(struct cpu *c)
{
	if (c->cpl)
		cpu_gp(c, 0);
}

/* User-mode instruction prevention (SDM Vol. 3A "User-Mode Instruction
 * Prevention", CPUID.(EAX=7,ECX=0):ECX[2]): with CR4.UMIP = 1, SGDT,
 * SIDT, SLDT, SMSW and STR at CPL > 0 raise #GP(0). */
static void umip_check(struct cpu *c)
{
	if ((c->cr4 & CR4_UMIP) && c->cpl)
		cpu_gp(c, 0);
}

#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)

/* MOV to CR0 (Vol. 3 §2.5, §9.8.5, §9.9; Vol. 2 MOV CR exceptions):
 * PG without PE, NW without CD and bits 63:32 are #GP(0); setting PG
 * with EFER.LME enters IA-32e mode (needs CR4.PAE, not from a CS with
 * L=1); clearing PG leaves it, except in 64-bit mode (#GP(0)); PAE paging
 * reloads the PDPTEs (#GP(0) when one is invalid). */
void cpu_set_cr0(struct cpu *c, uint64_t v)
{
	uint64_t old = c->cr0, efer = c->efer;

	v |= CR0_ET;
	if ((v >> 32) || ((v & CR0_PG) && !(v & CR0_PE)) ||
	    ((v & CR0_NW) && !(v & CR0_CD)))
		cpu_gp(c, 0);
	if ((v & CR0_PG) && !(old & CR0_PG) && (c->efer & EFER_LME)) {
		if (!(c->cr4 & CR4_PAE) || c->seg[S_CS].l)
			cpu_gp(c, 0);
		efer |= EFER_LMA;
	}
	if (!(v & CR0_PG) && (old & CR0_PG)) {
		if (c->mode == DEC_MODE64)
			cpu_gp(c, 0);
		efer &= ~EFER_LMA;
	}
	if (cpu_pae_legacy(v, c->cr4, efer) &&
	    ((old ^ v) & (CR0_PG | CR0_CD | CR0_NW)))
		if (!cpu_load_pdptes(c, v, c->cr3, c->cr4))
			cpu_gp(c, 0);
	c->efer = efer;
	c->cr0 = v;
	if ((old ^ v) & (CR0_PG | CR0_WP | CR0_PE))
		cpu_tlb_flush(c, false);
	cpu_update_mode(c);
	cpu_update_fpu_trap(c);
}

void cpu_set_cr4(struct cpu *c, uint64_t v)
{
	uint64_t ok = CR4_PSE | CR4_PAE | CR4_PGE | CR4_OSFXSR |
		      CR4_OSXMMEXCPT | CR4_UMIP | CR4_SMAP | CR4_FSGSBASE |
		      (1u << 1) | (1u << 2) | (1u << 3) | (1u << 6) |
		      (1u << 8);

	if (cpu_xcr0_supported(c))
		ok |= CR4_OSXSAVE;
	if (v & ~ok)
		cpu_gp(c, 0);
	if ((c->efer & EFER_LMA) && !(v & CR4_PAE))
		cpu_gp(c, 0);
	if (cpu_pae_legacy(c->cr0, v, c->efer) &&
	    ((c->cr4 ^ v) & (CR4_PGE | CR4_PAE | CR4_PSE)))
		if (!cpu_load_pdptes(c, c->cr0, c->cr3, v)) /* §4.4.1 */
			cpu_gp(c, 0);
	if ((c->cr4 ^ v) & (CR4_PGE | CR4_PAE | CR4_PSE | CR4_SMAP))
		cpu_tlb_flush(c, false);
	c->cr4 = v;
	cpu_update_fpu_trap(c);
}

void op_mov_Rd_Cd(struct cpu *c, const struct dec_insn *d)
{
	uint64_t v;

	need_cpl0(c);
	switch (d->reg) {
	case 0: v = c->cr0; break;
	case 2: v = c->cr2; break;
	case 3: v = c->cr3; break;
	case 4: v = c->cr4; break;
	case 8: v = c->intc ? intc_get_cr8(c->intc, c->id) : 0; break;
	default: cpu_ud(c);
	}
	c->r[d->rm] = c->mode == DEC_MODE64 ? v : (uint32_t)v;
}

void op_mov_Cd_Rd(struct cpu *c, const struct dec_insn *d)
{
	uint64_t v = c->r[d->rm];

	need_cpl0(c);
	if (c->mode != DEC_MODE64)
		v = (uint32_t)v;
	switch (d->reg) {
	case 0: cpu_set_cr0(c, v); break;
	case 2: c->cr2 = v; break;
	case 3:
		/* Outside IA-32e mode CR3 is 32 bits, and PAE paging takes
		 * its table from bits 31:5 and loads the PDPTEs now. */
		if (cpu_pae_legacy(c->cr0, c->cr4, c->efer) &&
		    !cpu_load_pdptes(c, c->cr0, v, c->cr4))
			cpu_gp(c, 0);
		c->cr3 = c->efer & EFER_LMA ? v & 0x000ffffffffff018ull : v;
		cpu_tlb_flush(c, c->cr4 & CR4_PGE);
		break;
	case 4: cpu_set_cr4(c, v); break;
	case 8:
		if (v & ~15ull)
			cpu_gp(c, 0); /* CR8[63:4] reserved (SDM Vol. 2B MOV) */
		if (c->intc)
			intc_set_cr8(c->intc, c->id, v);
		c->next_check = 0;
		break;
	default: cpu_ud(c);
	}
}

/* MOV from and to debug registers (SDM Vol. 2B MOV, Debug Registers):
 * #GP(0) at CPL > 0; DR4 and DR5 alias DR6 and DR7 unless CR4.DE is
 * set, then #UD; #DB with DR6.BD while DR7.GD is set (debugreg.c);
 * #GP(0) for a write of bits 63:32 of DR6 or DR7. */
static unsigned dr_index(struct cpu *c, unsigned r)
{
	need_cpl0(c);
	if (r > 7 || ((r == 4 || r == 5) && (c->cr4 & CR4_DE)))
		cpu_ud(c);
	cpu_dr_access(c);
	return r == 4 || r == 5 ? r + 2 : r;
}

void op_mov_Rd_Dd(struct cpu *c, const struct dec_insn *d)
{
	unsigned r = dr_index(c, d->reg);
	uint64_t v;

	if (r < 4)
		v = c->dr[r];
	else if (r == 6)
		v = c->dr6 | 0xffff0ff0ull;
	else
		v = c->dr7 | 0x400;
	c->r[d->rm] = c->mode == DEC_MODE64 ? v : (uint32_t)v;
}

void op_mov_Dd_Rd(struct cpu *c, const struct dec_insn *d)
{
	unsigned r = dr_index(c, d->reg);
	uint64_t v = c->r[d->rm];

	if (c->mode != DEC_MODE64)
		v = (uint32_t)v;
	if (r >= 6 && (v >> 32))
		cpu_gp(c, 0);
	if (r < 4)
		c->dr[r] = v;
	else if (r == 6)
		c->dr6 = v;
	else
		c->dr7 = v;
	if (r != 6)
		cpu_dr_update(c);
}

void op_clts(struct cpu *c, const struct dec_insn *d)
{
	need_cpl0(c);
	c->cr0 &= ~CR0_TS;
	cpu_update_fpu_trap(c);
}

void op_invd(struct cpu *c, const struct dec_insn *d) { need_cpl0(c); }
void op_wbinvd(struct cpu *c, const struct dec_insn *d) { need_cpl0(c); }
void op_ud2(struct cpu *c, const struct dec_insn *d) { cpu_ud(c); }

/* --- descriptor tables: 0F 00 and 0F 01 ----------------------------------- */

/* Group 6 forms (groups.def): SLDT, STR (a register: the operand size;
 * memory: 16 bits; #GP under CR4.UMIP at CPL > 0), LLDT, LTR, VERR,
 * VERW; #UD in real mode. */
static void need_pe(struct cpu *c)
{
	if (!(c->cr0 & CR0_PE))
		cpu_ud(c);
}

void op_sldt_Mw(struct cpu *c, const struct dec_insn *d)
{
	need_pe(c);
	umip_check(c);
	wr16(c, cpu_ea(c, d), c->ldt.sel);
}

void op_sldt_Rv(struct cpu *c, const struct dec_insn *d)
{
	need_pe(c);
	umip_check(c);
	sreg_w(c, d->rm, d->opsz, d->rex, c->ldt.sel);
}

void op_str_Mw(struct cpu *c, const struct dec_insn *d)
{
	need_pe(c);
	umip_check(c);
	wr16(c, cpu_ea(c, d), c->tr.sel);
}

void op_str_Rv(struct cpu *c, const struct dec_insn *d)
{
	need_pe(c);
	umip_check(c);
	sreg_w(c, d->rm, d->opsz, d->rex, c->tr.sel);
}

void op_lldt_Ew(struct cpu *c, const struct dec_insn *d)
{
	need_pe(c);
	need_cpl0(c);
	cpu_load_system_seg(c, false, (uint16_t)rd_E(c, d, 2));
}

void op_ltr_Ew(struct cpu *c, const struct dec_insn *d)
{
	need_pe(c);
	need_cpl0(c);
	cpu_load_system_seg(c, true, (uint16_t)rd_E(c, d, 2));
}

void op_verr_Ew(struct cpu *c, const struct dec_insn *d)
{
	need_pe(c);
	cpu_check_selector(c, (uint16_t)rd_E(c, d, 2), 2, NULL);
}

void op_verw_Ew(struct cpu *c, const struct dec_insn *d)
{
	need_pe(c);
	cpu_check_selector(c, (uint16_t)rd_E(c, d, 2), 3, NULL);
}

/* Group 7 forms (groups.def). */
static void rdtscp(struct cpu *c);

/* SGDT, SIDT: limit, then base (8 bytes in 64-bit mode, else 4); #GP
 * under CR4.UMIP at CPL > 0, as SMSW. */
static void store_dtable(struct cpu *c, const struct dec_insn *d,
			 const struct rax_dtable *t)
{
	uint64_t la = cpu_ea(c, d);

	umip_check(c);

	wr16(c, la, t->limit);
	wrn(c, la + 2, t->base, c->mode == DEC_MODE64 ? 8 : 4);
}

void op_sgdt_M(struct cpu *c, const struct dec_insn *d) { store_dtable(c, d, &c->gdt); }
void op_sidt_M(struct cpu *c, const struct dec_insn *d) { store_dtable(c, d, &c->idt); }

/* LGDT, LIDT: a 24-bit base with a 16-bit operand outside 64-bit mode. */
static void load_dtable(struct cpu *c, const struct dec_insn *d,
			struct rax_dtable *t)
{
	unsigned bsz = c->mode == DEC_MODE64 ? 8 : 4;
	uint64_t la = cpu_ea(c, d), base;
	uint16_t lim;

	need_cpl0(c);
	lim = rd16(c, la);
	base = rdn(c, la + 2, bsz);
	if (bsz == 4 && d->opsz == 2)
		base &= 0xffffff;
	if (!cpu_canonical(base))
		cpu_gp(c, 0); /* 64-bit mode (Vol. 2 LGDT/LIDT) */
	t->limit = lim;
	t->base = base;
}

void op_lgdt_M(struct cpu *c, const struct dec_insn *d) { load_dtable(c, d, &c->gdt); }
void op_lidt_M(struct cpu *c, const struct dec_insn *d) { load_dtable(c, d, &c->idt); }

void op_smsw_Mw(struct cpu *c, const struct dec_insn *d)
{
	uint64_t la = cpu_ea(c, d);

	umip_check(c);
	wr16(c, la, (uint16_t)c->cr0);
}

/* SMSW r32/r64 stores all of CR0 (SDM Vol. 2B SMSW for 64-bit mode; what
 * processors do in the others, where the SDM leaves bits 31:16
 * undefined). */
void op_smsw_Rv(struct cpu *c, const struct dec_insn *d)
{
	umip_check(c);
	sreg_w(c, d->rm, d->opsz, d->rex, c->cr0);
}

/* LMSW: PE (which it cannot clear), MP, EM, TS. */
void op_lmsw_Ew(struct cpu *c, const struct dec_insn *d)
{
	uint64_t v;

	need_cpl0(c);
	v = rd_E(c, d, 2);
	cpu_set_cr0(c, (c->cr0 & ~0xeull) | (v & 0xf) | (c->cr0 & CR0_PE));
}

void op_invlpg_M(struct cpu *c, const struct dec_insn *d)
{
	uint64_t la = cpu_ea(c, d);

	need_cpl0(c);
	cpu_tlb_flush_page(c, cpu_plain_la(c, la));
}

/* SWAPGS: 64-bit mode only. */
void op_swapgs(struct cpu *c, const struct dec_insn *d)
{
	uint64_t t = c->seg[S_GS].base;

	if (c->mode != DEC_MODE64)
		cpu_ud(c);
	need_cpl0(c);
	c->seg[S_GS].base = c->kernel_gs_base;
	c->kernel_gs_base = t;
}

void op_rdtscp(struct cpu *c, const struct dec_insn *d) { rdtscp(c); }

/* RDFSBASE, RDGSBASE, WRFSBASE, WRGSBASE (SDM Vol. 2B; F3 0F AE /0-/3,
 * register operand): #UD without the F3 prefix, outside 64-bit mode or
 * with CR4.FSGSBASE clear (CPUID.(EAX=7,ECX=0):EBX[0]), at any CPL.  The
 * 32-bit forms read the low half of the base, zero-extended, and write
 * the register zero-extended; a write of a non-canonical base is
 * #GP(0). */
static void fsgsbase(struct cpu *c, const struct dec_insn *d, int s,
		     bool write)
{
	unsigned n = d->rex & 8 ? 8 : 4;
	uint64_t v;

	if (d->pfx != DEC_PFX_F3 || c->mode != DEC_MODE64 ||
	    !(c->cr4 & CR4_FSGSBASE))
		cpu_ud(c);
	if (!write) {
		c->r[d->rm] = c->seg[s].base & sz_mask(n);
		return;
	}
	v = c->r[d->rm] & sz_mask(n);
	if (!cpu_canonical(v))
		cpu_gp(c, 0);
	c->seg[s].base = v;
}

void op_rdfsbase_Ry(struct cpu *c, const struct dec_insn *d)
{
	fsgsbase(c, d, S_FS, false);
}

void op_rdgsbase_Ry(struct cpu *c, const struct dec_insn *d)
{
	fsgsbase(c, d, S_GS, false);
}

void op_wrfsbase_Ry(struct cpu *c, const struct dec_insn *d)
{
	fsgsbase(c, d, S_FS, true);
}

void op_wrgsbase_Ry(struct cpu *c, const struct dec_insn *d)
{
	fsgsbase(c, d, S_GS, true);
}

/* CLAC, STAC (SDM Vol. 2A): #UD at CPL > 0. */
void op_clac(struct cpu *c, const struct dec_insn *d)
{
	if (c->cpl)
		cpu_ud(c);
	c->rflags &= ~(uint64_t)RFLAGS_AC;
}

void op_stac(struct cpu *c, const struct dec_insn *d)
{
	if (c->cpl)
		cpu_ud(c);
	c->rflags |= RFLAGS_AC;
}

static void lar_lsl(struct cpu *c, const struct dec_insn *d, bool lsl)
{
	uint64_t v;

	if (!(c->cr0 & CR0_PE))
		cpu_ud(c);
	if (cpu_check_selector(c, (uint16_t)rd_E(c, d, 2), lsl, &v))
		sreg_w(c, d->reg, d->opsz, d->rex, v);
}

void op_lar_Gv_Ew(struct cpu *c, const struct dec_insn *d) { lar_lsl(c, d, false); }
void op_lsl_Gv_Ew(struct cpu *c, const struct dec_insn *d) { lar_lsl(c, d, true); }

/* --- MSRs, TSC, CPUID ----------------------------------------------------- */

/* The TSC's jitter in virtual time: a pseudo-random 0 to CPU_INSN_NS - 1
 * ns added to the clock, a hash of the clock itself (the splitmix64
 * finalizer), so it repeats with the boot and needs no state.
 *
 * Without it two readings around the same instructions always differ by
 * the same amount, and Linux's jitter-entropy RNG (crypto/jitterentropy.c,
 * a module in Debian's kernels) fails its start-up health test: its
 * jent_entropy_init() times a SHA3 loop whose instruction count does not
 * depend on the data, sees every delta equal (the "stuck" test: the first,
 * second or third derivative is 0), and after 30 in a row (the repetition
 * count test) loading it fails with error 9 (JENT_EHEALTH) after about
 * 0.3 s of guest time, twice; in FIPS mode that is fatal.  With the
 * jitter, two deltas are equal about 7% of the time.
 *
 * Monotonic and at the right rate: the clock advances CPU_INSN_NS per
 * instruction, so between two reads (two instructions) it has moved at
 * least CPU_INSN_NS, more than the jitter can take back; the jitter never
 * accumulates.  tests/guest/tsc.S checks both, and the statistics. */
static uint64_t tsc_jitter(uint64_t t)
{
	t += 0x9e3779b97f4a7c15ull;
	t = (t ^ (t >> 30)) * 0xbf58476d1ce4e5b9ull;
	t = (t ^ (t >> 27)) * 0x94d049bb133111ebull;
	return (t ^ (t >> 31)) % CPU_INSN_NS;
}

/* --clock host: the host's clock has jitter of its own. */
static uint64_t tsc(struct cpu *c)
{
	uint64_t t = cpu_now(c);

	if (!c->host_clock)
		t += tsc_jitter(t);
	return t + c->tsc_offset;
}

/* Machine-check architecture (SDM Vol. 3B "Machine-Check MSRs";
 * CPUID.1:EDX MCE and MCA): IA32_MCG_CAP reports zero error-reporting
 * banks and no IA32_MCG_CTL, so the bank MSRs (0x400 up) #GP as
 * undefined ones do; MCG_CAP is read-only (a write #GPs).  No machine
 * check is ever raised. */
#define MSR_MCG_CAP 0x179
#define MSR_MCG_STATUS 0x17a

/* IA32_TSC_ADJUST (SDM Vol. 3B "Time-Stamp Counter Adjustment";
 * CPUID.(EAX=7,ECX=0):EBX[1]): a write to it adds its change to the
 * TSC; a write to the TSC adds the TSC's change to it.  The TSC is
 * cpu_now() + tsc_offset. */
#define MSR_TSC_ADJUST 0x3b

/* IA32_ARCH_CAPABILITIES (SDM Vol. 4 Table 2-2, read-only; present when
 * CPUID.(EAX=7,ECX=0):EDX[29]): the interpreter executes nothing
 * speculatively and has no caches, fill or store buffers to sample, so
 * it reports itself immune to every side channel these bits name:
 * RDCL_NO (0: Meltdown), SSB_NO (4), MDS_NO (5), IF_PSCHANGE_MC_NO (6),
 * TAA_NO (8), SBDR_SSDP_NO (13), FBSDP_NO (14), PSDP_NO (15), PBRSB_NO
 * (24), GDS_NO (26), RFDS_NO (27), ITS_NO (62).  Without them a guest
 * Linux takes this family 6 model for a vulnerable Core 2 and pays for
 * the mitigations on every entry: page-table isolation (a CR3 switch on
 * each system call and interrupt, a second W+X page-table walk at boot)
 * and VERW buffer clearing; Debian's amd64 kernel retired 8 % more
 * instructions to its first prompt with them (1573M against 1447M).
 * Spectre v1/v2 stay reported (no IBRS_ALL): their mitigations cost
 * little here and need no model of indirect branch prediction. */
#define MSR_IA32_ARCH_CAPABILITIES 0x10a
#define ARCH_CAP_IMMUNE ((1ull << 0) | (1ull << 4) | (1ull << 5) | \
			 (1ull << 6) | (1ull << 8) | (1ull << 13) | \
			 (1ull << 14) | (1ull << 15) | (1ull << 24) | \
			 (1ull << 26) | (1ull << 27) | (1ull << 62))

int cpu_rdmsr(struct cpu *c, uint32_t msr, uint64_t *v)
{
	switch (msr) {
	case 0x10: *v = tsc(c); return 0;
	case MSR_TSC_ADJUST: *v = c->tsc_adjust; return 0;
	case MSR_IA32_ARCH_CAPABILITIES: *v = ARCH_CAP_IMMUNE; return 0;
	case 0x17: case 0x8b: *v = 0; return 0; /* platform id, ucode rev */
	case 0x1a0: *v = c->misc_enable; return 0;
	case 0x277: *v = c->pat; return 0;
	case MSR_MCG_CAP: *v = 0; return 0; /* no banks, no MCG_CTL */
	case MSR_MCG_STATUS: *v = c->mcg_status; return 0;
	case MSR_EFER: *v = c->efer; return 0;
	case MSR_SYSENTER_CS: *v = c->sysenter_cs; return 0;
	case MSR_SYSENTER_ESP: *v = c->sysenter_esp; return 0;
	case MSR_SYSENTER_EIP: *v = c->sysenter_eip; return 0;
	case MSR_STAR: *v = c->star; return 0;
	case MSR_LSTAR: *v = c->lstar; return 0;
	case MSR_CSTAR: *v = c->cstar; return 0;
	case MSR_SFMASK: *v = c->sfmask; return 0;
	case MSR_FS_BASE: *v = c->seg[S_FS].base; return 0;
	case MSR_GS_BASE: *v = c->seg[S_GS].base; return 0;
	case MSR_KERNEL_GS_BASE: *v = c->kernel_gs_base; return 0;
	case MSR_TSC_AUX: *v = c->tsc_aux; return 0;
	case MSR_IA32_TSC_DEADLINE:
		if (!c->intc || intc_rdmsr(c->intc, c->id, msr, v))
			return -1;
		if (*v)
			*v += c->tsc_offset;
		return 0;
	default:
		if (c->intc && !intc_rdmsr(c->intc, c->id, msr, v))
			return 0;
		return -1;
	}
}

int cpu_wrmsr(struct cpu *c, uint32_t msr, uint64_t v)
{
	switch (msr) {
	case 0x10: {
		uint64_t delta = v - cpu_now(c) - c->tsc_offset;

		c->tsc_offset += delta;
		c->tsc_adjust += delta;
		return 0;
	}
	case MSR_TSC_ADJUST:
		c->tsc_offset += v - c->tsc_adjust;
		c->tsc_adjust = v;
		return 0;
	case 0x8b: return 0;
	case 0x1a0: c->misc_enable = v; return 0;
	case 0x277: c->pat = v; return 0;
	case MSR_MCG_STATUS:
		/* RIPV, EIPV, MCIP; bits 63:3 reserved (Vol. 3B
		 * "IA32_MCG_STATUS MSR", without LMCE_P in MCG_CAP). */
		if (v & ~7ull)
			return -1;
		c->mcg_status = v;
		return 0;
	case MSR_EFER:
		if (v & ~(uint64_t)(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE))
			return -1;
		/* LME may change only while paging is off (Vol. 3 §9.8.5). */
		if ((c->cr0 & CR0_PG) && ((v ^ c->efer) & EFER_LME))
			return -1;
		c->efer = (v & ~EFER_LMA) | (c->efer & EFER_LMA);
		cpu_tlb_flush(c, false);
		return 0;
	case MSR_STAR: c->star = v; return 0;
	case MSR_SYSENTER_CS: c->sysenter_cs = (uint32_t)v; return 0;
	case MSR_SYSENTER_ESP: case MSR_SYSENTER_EIP:
		if (!cpu_canonical(v))
			return -1;
		*(msr == MSR_SYSENTER_ESP ? &c->sysenter_esp :
		  &c->sysenter_eip) = v;
		return 0;
	case MSR_SFMASK: c->sfmask = v & 0xffffffff; return 0;
	case MSR_LSTAR: case MSR_CSTAR: case MSR_FS_BASE: case MSR_GS_BASE:
	case MSR_KERNEL_GS_BASE:
		/* Addresses: #GP unless canonical (Vol. 2 WRMSR). */
		if (!cpu_canonical(v))
			return -1;
		*(msr == MSR_LSTAR ? &c->lstar : msr == MSR_CSTAR ? &c->cstar :
		  msr == MSR_FS_BASE ? &c->seg[S_FS].base :
		  msr == MSR_GS_BASE ? &c->seg[S_GS].base :
		  &c->kernel_gs_base) = v;
		return 0;
	case MSR_TSC_AUX: c->tsc_aux = (uint32_t)v; return 0;
	case MSR_IA32_TSC_DEADLINE:
		/* The LAPIC counts machine ns; the TSC is that plus
		 * tsc_offset.  A deadline already passed fires at once. */
		if (v) {
			int64_t ns = (int64_t)(v - c->tsc_offset);

			v = ns > 0 ? (uint64_t)ns : 1;
		}
		if (!c->intc || intc_wrmsr(c->intc, c->id, msr, v))
			return -1;
		c->next_check = 0;
		return 0;
	default:
		if (c->intc && !intc_wrmsr(c->intc, c->id, msr, v)) {
			c->next_check = 0;
			return 0;
		}
		return -1;
	}
}

void op_rdmsr(struct cpu *c, const struct dec_insn *d)
{
	uint64_t v;

	need_cpl0(c);
	if (cpu_rdmsr(c, (uint32_t)c->r[R_RCX], &v)) {
		rax_log(LOG_DEBUG, cpu, "rdmsr %#x: #GP", (unsigned)c->r[R_RCX]);
		cpu_gp(c, 0);
	}
	c->r[R_RAX] = (uint32_t)v;
	c->r[R_RDX] = v >> 32;
}

void op_wrmsr(struct cpu *c, const struct dec_insn *d)
{
	uint64_t v = ((c->r[R_RDX] & 0xffffffffull) << 32) |
		     (c->r[R_RAX] & 0xffffffffull);

	need_cpl0(c);
	if (cpu_wrmsr(c, (uint32_t)c->r[R_RCX], v)) {
		rax_log(LOG_DEBUG, cpu, "wrmsr %#x: #GP", (unsigned)c->r[R_RCX]);
		cpu_gp(c, 0);
	}
}

void op_rdtsc(struct cpu *c, const struct dec_insn *d)
{
	uint64_t t = tsc(c);

	c->r[R_RAX] = (uint32_t)t;
	c->r[R_RDX] = t >> 32;
}

static void rdtscp(struct cpu *c)
{
	op_rdtsc(c, NULL);
	c->r[R_RCX] = c->tsc_aux;
}

void op_rdpmc(struct cpu *c, const struct dec_insn *d)
{
	cpu_gp(c, 0);
}

/* The CPU model rax advertises: an x86-64 core of the level --cpu chose
 * (model.c) with only what the interpreter implements.  Leaf 0x15
 * gives the 1 GHz TSC so Linux needs no calibration. */
void op_cpuid(struct cpu *c, const struct dec_insn *d)
{
	uint32_t leaf = (uint32_t)c->r[R_RAX], a = 0, b = 0, cx = 0, dx = 0;
	static const char brand[48] = "Rax Virtual CPU @ 1.00GHz";

	switch (leaf) {
	case 0:
		a = 0x15;
		b = 0x756e6547; /* "GenuineIntel" */
		dx = 0x49656e69;
		cx = 0x6c65746e;
		break;
	case 1:
		a = 0x6fb; /* family 6 model 15 stepping 11 */
		/* initial APIC ID, one logical processor, CLFLUSH 64 bytes */
		b = 0x00010800 | c->id << 24;
		cx = cpu_model_ecx1(c->level);
		if (c->cr4 & CR4_OSXSAVE)
			cx |= 1u << 27; /* OSXSAVE */
		dx = (1u << 0) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) |
		     (1u << 8) | (1u << 9) | (1u << 11) | (1u << 13) | (1u << 15) |
		     (1u << 16) | (1u << 19) | (1u << 23) | (1u << 24) |
		     (1u << 25) | (1u << 26);
		dx |= (1u << 7) | (1u << 14); /* MCE, MCA (MSR_MCG_CAP) */
		cx |= (1u << 21) | (1u << 24); /* x2APIC, TSC-deadline */
		/* IA32_APIC_BASE.EN = 0: as a processor without an APIC,
		 * CPUID.1:EDX.APIC reads 0 (SDM Vol. 3A §10.4.3). */
		if (c->intc) {
			uint64_t base = 0;

			if (!intc_rdmsr(c->intc, c->id, MSR_IA32_APIC_BASE,
					&base) && !(base & APIC_BASE_EN))
				dx &= ~(1u << 9);
		}
		break;
	case 7:
		if (c->r[R_RCX] == 0) { /* subleaf 0 */
			b = (1u << 0) | /* FSGSBASE */
			    (1u << 1) | /* IA32_TSC_ADJUST */
			    (1u << 20) | /* SMAP */
			    cpu_model_ebx7(c->level); /* BMI1 AVX2 BMI2 */
			cx = 1u << 2; /* UMIP */
			dx = 1u << 29; /* IA32_ARCH_CAPABILITIES */
		}
		break;
	case 0xd:
		cpu_xsave_cpuid(c, (uint32_t)c->r[R_RCX], &a, &b, &cx, &dx);
		break;
	case 0x15:
		a = 1;
		b = 1;
		cx = 1000000000u;
		break;
	case 0x80000000: a = 0x80000008; break;
	case 0x80000001:
		cx = cpu_model_ecx81(c->level);
		dx = (1u << 11) | (1u << 20) | (1u << 27) | (1u << 29);
		break;
	case 0x80000002: case 0x80000003: case 0x80000004:
		memcpy(&a, brand + 16 * (leaf - 0x80000002), 4);
		memcpy(&b, brand + 16 * (leaf - 0x80000002) + 4, 4);
		memcpy(&cx, brand + 16 * (leaf - 0x80000002) + 8, 4);
		memcpy(&dx, brand + 16 * (leaf - 0x80000002) + 12, 4);
		break;
	case 0x80000007: dx = 1u << 8; break; /* invariant TSC */
	case 0x80000008: a = 0x3028; break; /* 48-bit linear, 40-bit physical */
	default: break;
	}
	c->r[R_RAX] = a;
	c->r[R_RBX] = b;
	c->r[R_RCX] = cx;
	c->r[R_RDX] = dx;
}
