/* Interrupt and exception delivery through the IDT in 64-bit mode (SDM
 * Vol. 3 chapter 6): faults save the faulting RIP, traps and INT n the
 * next one; error codes of #GP and #NP; IRETQ restores RFLAGS and RSP;
 * interrupt gates clear IF and trap gates do not; RSP is aligned to 16
 * before the frame is pushed; a gate from CPL 3 switches to TSS.RSP0
 * with a null SS; a DPL-0 gate refuses INT n from CPL 3; IST stacks;
 * a #PF whose gate is not present becomes a #DF.
 * Run: tests/guest/run.sh idt (expected output: idt.expect). */
#include "rt.h"

	.text
	.globl test_main
test_main:
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15

	/* #DE is a fault (SDM Vol. 3 §6.15, Interrupt 0): RIP of the div. */
	xor %edx, %edx
	mov $1, %eax
	xor %ecx, %ecx
	TRY de_done
de_insn:
	div %ecx
de_done:
	CHECK "de.vector", last_vec, $0
	CHECK_AT "de.rip-insn", last_rip, de_insn
	CHECK "de.cs", last_cs, $KCS

	/* #BP from INT3 is a trap: RIP of the next instruction (§6.15,
	 * Interrupt 3).  In 64-bit mode SS:RSP are pushed always and RSP is
	 * first aligned down to 16 (§6.14.2); IRETQ pops them back. */
	movq $h_noop, handlers + 3 * 8
	mov %rsp, %rbx
	and $-16, %rsp
	sub $8, %rsp                    /* RSP = 8 mod 16 */
	mov %rsp, %r12
	int3
bp_next:
	mov %rsp, %r13
	mov %rbx, %rsp
	CHECK "bp.vector", last_vec, $3
	CHECK_AT "bp.rip-next", last_rip, bp_next
	mov last_rsp, %rax
	sub %r12, %rax
	CHECK "bp.saved-rsp-old", %rax, $0
	lea -8-40(%r12), %rax           /* aligned down, then 5 qwords */
	sub last_frame, %rax
	CHECK "bp.frame-aligned-16", %rax, $0
	sub %r12, %r13
	CHECK "bp.rsp-after-iretq-old", %r13, $0
	CHECK "bp.ss", last_ss, $KDS

	/* #UD from UD2: a fault (§6.15, Interrupt 6). */
	TRY ud_done
ud_insn:
	ud2
ud_done:
	CHECK "ud.vector", last_vec, $6
	CHECK_AT "ud.rip-insn", last_rip, ud_insn

	/* MOV to DS with a selector past the GDT limit: #GP(selector)
	 * (SDM Vol. 2B MOV, protected-mode exceptions; error-code format
	 * §6.13: index, TI = 0, IDT = 0, EXT = 0). */
	mov $0x1230, %eax
	TRY gp_sel_done
gp_sel_insn:
	mov %eax, %ds
gp_sel_done:
	CHECK "gp-selector.vector", last_vec, $13
	CHECK "gp-selector.error", last_err, $0x1230
	CHECK_AT "gp-selector.rip-insn", last_rip, gp_sel_insn
	SREG ds
	CHECK "gp-selector.ds-unchanged", %rax, $KDS

	/* A non-canonical data address: #GP(0) (SDM Vol. 3 §6.15,
	 * Interrupt 13; Vol. 1 §3.3.7.1). */
	movabs $0x8000000000000000, %rax
	TRY gp_nc_done
gp_nc_insn:
	mov (%rax), %rbx
gp_nc_done:
	CHECK "gp-noncanonical.vector", last_vec, $13
	CHECK "gp-noncanonical.error", last_err, $0
	CHECK_AT "gp-noncanonical.rip-insn", last_rip, gp_nc_insn

	/* INT n through an interrupt gate: no error code, RIP of the next
	 * instruction, the pushed RFLAGS are the old ones, IF is clear in
	 * the handler, and IRETQ restores RFLAGS (SDM Vol. 2A INT n;
	 * Vol. 3 §6.12.1.3). */
	stc
	sti
	pushfq
	pop %r14
	int $0x40
int40_next:
	pushfq
	pop %r15
	cli
	CHECK "int40.vector", last_vec, $0x40
	CHECK_AT "int40.rip-next", last_rip, int40_next
	mov last_rflags, %rax
	sub %r14, %rax
	CHECK "int40.saved-rflags-old", %rax, $0
	mov last_hflags, %rax
	and $0x200, %eax
	CHECK "int40.handler-if", %rax, $0
	sub %r14, %r15
	CHECK "int40.rflags-after-iretq-old", %r15, $0

	/* The same through a trap gate: IF stays set (§6.12.1.3). */
	mov $0x41, %edi
	xor %esi, %esi
	xor %edx, %edx
	mov $0xf, %ecx
	call idt_set
	sti
	int $0x41
	cli
	CHECK "int41-trap-gate.vector", last_vec, $0x41
	mov last_hflags, %rax
	and $0x200, %eax
	CHECK "int41-trap-gate.handler-if", %rax, $0x200

	/* INT n on a gate whose P flag is clear: #NP(vector * 8 + 2), the
	 * IDT bit set (SDM Vol. 2A INT n, "IF gate not present"). */
	mov $0x45, %edi
	mov $0x8e, %ecx
	call idt_set
	TRY np_done
np_insn:
	int $0x45
np_done:
	CHECK "int45-not-present.vector", last_vec, $11
	CHECK "int45-not-present.error", last_err, $(0x45 * 8 + 2)
	CHECK_AT "int45-not-present.rip-insn", last_rip, np_insn

	/* IST1 on vector 0x44: the frame is at the IST top, aligned, minus
	 * 5 qwords, whatever RSP was (§6.14.5). */
	mov $0x44, %edi
	mov $1, %esi
	mov $0xe, %ecx
	call idt_set
	mov %rsp, %r12
	int $0x44
	CHECK "int44-ist1.vector", last_vec, $0x44
	lea ist1_top - 40, %rax
	sub last_frame, %rax
	CHECK "int44-ist1.frame-at-ist1", %rax, $0
	mov last_rsp, %rax
	sub %r12, %rax
	CHECK "int44-ist1.saved-rsp-old", %rax, $0

	/* INT 2 on the NMI gate with IST3. */
	mov $2, %edi
	mov $3, %esi
	call idt_set
	movq $h_noop, handlers + 2 * 8
	int $2
	CHECK "int2-ist3.vector", last_vec, $2
	lea ist3_top - 40, %rax
	sub last_frame, %rax
	CHECK "int2-ist3.frame-at-ist3", %rax, $0

	/* A #PF whose gate is not present: delivering it raises #NP, a
	 * contributory exception after a #PF, so the CPU delivers #DF with
	 * error code 0 (SDM Vol. 3 §6.15, Interrupt 8, Table 6-5); #DF on
	 * IST2 (the error code sits below the 5-qword frame), CR2 holds the
	 * #PF address, and neither #PF nor #NP reaches its handler.  #DF's saved RIP is undefined,
	 * so its handler resumes at df_done. */
	mov $8, %edi
	mov $2, %esi
	call idt_set
	movq $h_df, handlers + 8 * 8
	movq $h_df, handlers + 11 * 8   /* an engine that gets it wrong */
	mov $14, %edi
	xor %esi, %esi
	mov $0x8e, %ecx
	call idt_set
	mov vec_count+11*8, %r12
	mov vec_count+14*8, %r13
	mov $WIN_PAGE(0) + 0x18, %eax
	mov (%rax), %rbx
df_done:
	movq $0, handlers + 11 * 8
	mov $14, %edi
	mov $0xe, %ecx
	call idt_set
	CHECK "pf-gate-absent-df.vector", last_vec, $8
	CHECK "pf-gate-absent-df.error", last_err, $0
	lea ist2_top - 40, %rax
	sub last_frame, %rax
	CHECK "pf-gate-absent-df.frame-at-ist2", %rax, $0
	CHECK "pf-gate-absent-df.cr2", last_cr2, $(WIN_PAGE(0)+0x18)
	mov vec_count+14*8, %rax
	sub %r13, %rax
	CHECK "pf-gate-absent-df.pf-delivered", %rax, $0
	mov vec_count+11*8, %rax
	sub %r12, %rax
	CHECK "pf-gate-absent-df.np-delivered", %rax, $0

	/* INT 0x46 through an absent gate raises #NP; delivering the #NP
	 * on IST4, an absent page, raises #PF: a page fault after a
	 * contributory exception is handled serially (SDM Vol. 3 §6.15,
	 * Table 6-5), so the #PF alone is delivered, with the INT's RIP.
	 * Its handler puts the #NP gate back on the current stack; the INT
	 * runs again and its #NP is delivered.  No #DF. */
	mov $WIN_PAGE(30) + 0x1000, %eax
	mov %rax, tss + 0x3c            /* IST4 */
	mov $11, %edi
	mov $4, %esi
	xor %edx, %edx
	mov $0xe, %ecx
	call idt_set
	mov $0x46, %edi
	xor %esi, %esi
	mov $0x8e, %ecx
	call idt_set
	movq $h_serial_pf, handlers + 14 * 8
	movq $h_serial_df, handlers + 8 * 8
	mov vec_count+8*8, %r12
	mov vec_count+14*8, %r13
	TRY serial_done
serial_int:
	int $0x46
serial_done:
	movq $0, resume_rip
	movq $0, handlers + 14 * 8
	movq $h_df, handlers + 8 * 8
	mov $0x46, %edi
	xor %esi, %esi
	xor %edx, %edx
	mov $0xe, %ecx
	call idt_set
	CHECK "np-then-pf.vector", last_vec, $11
	CHECK "np-then-pf.error", last_err, $(0x46 * 8 + 2)
	CHECK_AT "np-then-pf.rip-insn", last_rip, serial_int
	mov vec_count+14*8, %rax
	sub %r13, %rax
	CHECK "np-then-pf.pf-delivered", %rax, $1
	CHECK_AT "np-then-pf.pf-rip-insn", serial_pf_rip, serial_int
	mov serial_cr2, %rax
	and $~0xfff, %rax
	CHECK "np-then-pf.cr2-page", %rax, $WIN_PAGE(30)
	mov vec_count+8*8, %rax
	sub %r12, %rax
	CHECK "np-then-pf.df-delivered", %rax, $0

	/* CPL 3 (user_fn below), entered with IRETQ. */
	lea user_fn(%rip), %rdi
	mov $2, %esi
	call to_user
	CHECK "user.cs", u_cs, $UCS
	CHECK "user.ss", u_ss, $UDS
	CHECK "user.ds-nulled-by-iretq", u_ds, $0
	CHECK "user.rflags", u_rflags, $2
	/* INT n from CPL 3 on a DPL-0 gate: #GP(vector * 8 + 2) (SDM Vol. 2A
	 * INT n: "IF software interrupt AND gate DPL < CPL"). */
	CHECK "user-int40-dpl0.vector", u_gp_vec, $13
	CHECK "user-int40-dpl0.error", u_gp_err, $(0x40 * 8 + 2)
	CHECK "user-int40-dpl0.cs", u_gp_cs, $UCS
	CHECK_AT "user-int40-dpl0.rip-insn", u_gp_rip, user_gp_insn
	/* The return gate (DPL 3) from CPL 3: the frame is on TSS.RSP0,
	 * holds the user SS:RSP, CS and RIP; SS becomes null in the handler
	 * (§6.14.4, "the new SS is set to NULL"). */
	CHECK "user-int82.cs", last_cs, $UCS
	CHECK "user-int82.ss", last_ss, $UDS
	mov last_rsp, %rax
	sub u_rsp, %rax
	CHECK "user-int82.saved-rsp-user", %rax, $0
	CHECK_AT "user-int82.rip-next", last_rip, user_ret_next
	lea rsp0_top - 40, %rax
	sub last_frame, %rax
	CHECK "user-int82.frame-at-rsp0", %rax, $0
	CHECK "user-int82.handler-ss", last_hss, $0
	SREG cs
	CHECK "back.cs", %rax, $KCS

	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	ret

user_fn:
	pushfq
	pop u_rflags
	SREG cs
	mov %rax, u_cs
	SREG ss
	mov %rax, u_ss
	SREG ds
	mov %rax, u_ds
	TRY user_gp_done
user_gp_insn:
	int $0x40
user_gp_done:
	mov last_vec, %rax
	mov %rax, u_gp_vec
	mov last_err, %rax
	mov %rax, u_gp_err
	mov last_cs, %rax
	mov %rax, u_gp_cs
	mov last_rip, %rax
	mov %rax, u_gp_rip
	mov %rsp, u_rsp
	int $RET_VEC
user_ret_next:
	ud2

h_noop:
	ret

/* The #PF of np-then-pf: note it, put the #NP gate back on IST 0. */
h_serial_pf:
	mov last_cr2, %rax
	mov %rax, serial_cr2
	mov last_rip, %rax
	mov %rax, serial_pf_rip
	mov $11, %edi
	xor %esi, %esi
	xor %edx, %edx
	mov $0xe, %ecx
	jmp idt_set

/* An engine that double-faults there: resume after the INT. */
h_serial_df:
	movq $serial_done, F_RIP(%rdi)
	movq $KCS, F_CS(%rdi)
	ret

/* #DF: resume at df_done in the kernel (the saved CS:RIP is undefined);
 * also #NP, so that an engine delivering it instead fails only the
 * checks that follow. */
h_df:
	movq $df_done, F_RIP(%rdi)
	movq $KCS, F_CS(%rdi)
	ret

	.bss
u_cs: .quad 0
u_ss: .quad 0
u_ds: .quad 0
u_rflags: .quad 0
u_gp_vec: .quad 0
serial_cr2: .quad 0
serial_pf_rip: .quad 0
u_gp_err: .quad 0
u_gp_cs: .quad 0
u_gp_rip: .quad 0
u_rsp: .quad 0
