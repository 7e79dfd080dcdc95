/* Shared definitions for the system-level guest programs in tests/guest
 * (rt.S is their runtime).  Run recipe: tests/guest/run.sh. */
#ifndef RAX_GUEST_RT_H
#define RAX_GUEST_RT_H

/* The runtime's GDT (rt.S).  SYSCALL/SYSRET need the layout
 * STAR[47:32] = KCS, KCS + 8 = KDS and STAR[63:48] = UCS32, with
 * UCS32 + 8 = UDS and UCS32 + 16 = UCS (SDM Vol. 2B SYSCALL, SYSRET). */
#define KCS 0x08
#define KDS 0x10
#define UCS32 0x1b
#define UDS 0x23
#define UCS 0x2b
#define TSS_SEL 0x30

/* Vector the CPL-3 code runs `int $RET_VEC` on to return to to_user's
 * caller (a DPL-3 interrupt gate). */
#define RET_VEC 0x82

/* A window of 512 4-KiB pages whose PTEs the tests write (pt_win in
 * rt.S); WIN_PAGE(i) is page i's linear address. */
#define WIN 0x40000000
#define WIN_PAGE(i) (WIN + (i) * 0x1000)

/* Page-table entry bits (SDM Vol. 3 §4.5, Table 4-19). */
#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_U 0x4
#define PTE_A 0x20
#define PTE_D 0x40
#define PTE_G 0x100
#define PTE_XD (1 << 63)

/* Exception-frame offsets from the frame pointer rt_common passes to a
 * handler (rdi): 15 saved GPRs, then vector, error code, and the frame
 * the CPU pushed (SDM Vol. 3 §6.14.2, Figure 6-9). */
#define F_R15 0
#define F_RAX 112
#define F_VEC 120
#define F_ERR 128
#define F_RIP 136
#define F_CS 144
#define F_RFLAGS 152
#define F_RSP 160
#define F_SS 168

/* CHECK name, value, expected: print "name: value" and count a failure
 * (" FAIL expected ...") when they differ.  value and expected must not
 * be %rdi, %rsi or %rdx; every other register is preserved. */
.macro CHECK name, val, exp
	.pushsection .rodata
.Lcheck_name\@: .asciz "\name"
	.popsection
	push %rdi
	push %rsi
	push %rdx
	mov \val, %rdi
	mov \exp, %rdx
	lea .Lcheck_name\@(%rip), %rsi
	call check
	pop %rdx
	pop %rsi
	pop %rdi
.endm

/* SREG seg: rax = the segment register's selector, zero-extended. */
.macro SREG seg
	xor %eax, %eax
	mov %\seg, %ax
.endm

/* CHECK_AT name, address, label: print address - label (0 when the CPU
 * saved the expected instruction pointer).  Clobbers rax. */
.macro CHECK_AT name, addr, label
	mov \addr, %rax
	sub $\label, %rax
	CHECK "\name", %rax, $0
.endm

/* TRY label: the next exception resumes at label (rt_common clears it). */
.macro TRY label
	movq $\label, resume_rip
.endm

#endif
