/* From reset-like real mode to 64-bit mode, then an AP started by
 * INIT-SIPI-SIPI climbs the same way and reports on COM1 (SDM Vol. 3
 * §9.1 "Initialization Overview", §9.9 "Mode Switching", §9.8.5
 * "Initializing IA-32e Mode", §8.4.4 "MP Initialization Example", §10.6
 * "Issuing Interprocessor Interrupts").
 *
 * rax loads it as a flat binary at 0x8000 with 2 vCPUs (apboot.opts).
 * The BSP, in real mode at 0000:8000:
 *   1. checks CR0.PE = 0 and real-mode segment arithmetic (a linear
 *      address is the selector times 16 plus the offset, §20.1.1);
 *   2. enters 32-bit protected mode (CR0.PE, a far jump, §9.9.1) and
 *      32-bit paging (CR0.PG with a page directory in CR3, §4.3): an
 *      alias of a physical page at 4 MiB, the accessed and dirty bits
 *      of its PTE and the accessed bit of its PDE (§4.8);
 *   3. turns paging off, sets CR4.PAE, loads CR3 with a PML4, sets
 *      EFER.LME and turns paging on (§9.8.5): EFER.LMA = 1 in
 *      compatibility mode; a far jump to a 64-bit code segment; an
 *      alias above 4 GiB (4-level paging, §4.5);
 *   4. prints its checks, then sends INIT, then two start-up IPIs with
 *      vector 0x0a, to APIC ID 1 (§8.4.4.1, §10.6.1), halts until the
 *      AP's fixed IPI says it has finished (a halted BSP leaves the
 *      host CPU to the AP: a nested harness may give both vCPU threads
 *      one CPU) and prints the verdict for both.
 * The AP starts in real mode at 0A00:0000 (CS = vector << 8, base
 * vector << 12, IP = 0: §10.6.1, §8.4.4.1), climbs to 64-bit mode on the
 * BSP's page tables (step 3 without 32-bit paging) and prints its own
 * checks on COM1 from there: CS and the linear address it started at,
 * its APIC ID (§10.4.6: bits 31:24), EFER.LMA and its 64-bit CS; then
 * it sends vector 0x40 to APIC ID 0.
 * Each line is "name: value", with " FAIL expected V" when the value
 * differs from the SDM's; apboot.expect holds them, written from the
 * sections cited.  The exit is through isa-debug-exit (port 0xf4).
 * Run: tests/guest/run.sh emulator apboot (or kvm). */

#define LOAD 0x8000          /* apboot.opts: --flat 0x8000 */
#define AP_START 0xa000      /* start-up vector 0x0a */
#define APIC 0xfee00000
#define APIC_ID (APIC + 0x20)
#define APIC_SVR (APIC + 0xf0)
#define APIC_ICR_LO (APIC + 0x300)
#define APIC_ICR_HI (APIC + 0x310)
#define COM1 0x3f8
#define EFER 0xc0000080
#define BSP_STACK 0x7000
#define AP_STACK 0x6000
#define SCRATCH 0x7ff0       /* real mode: 0700:0FF0 */
#define APIC_EOI (APIC + 0xb0)
#define V_DONE 0x40          /* the AP's IPI to the BSP: done */

/* Page tables, below 1 MiB. */
#define PD32 0x20000         /* 32-bit paging: the page directory */
#define PT32_LO 0x21000      /* 0-4 MiB identity */
#define PT32_HI 0x22000      /* 4 MiB: PAGE_A */
#define PML4 0x23000
#define PDPT_LO 0x24000      /* PML4[0]: the low 4 GiB */
#define PD_LO 0x25000        /* 0-2 MiB identity (a 2-MiB page) */
#define PD_APIC 0x26000      /* 3-4 GiB: the APIC page */
#define PDPT_HI 0x27000      /* PML4[1]: 0x8000000000 */
#define PD_HI 0x28000
#define PT_HI 0x29000        /* 0x8000000000: PAGE_B */
#define PAGE_A 0x30000
#define PAGE_B 0x31000
#define ALIAS32 0x400000
#define ALIAS64 0x8000000000

/* Selectors. */
#define CODE32 0x08
#define DATA32 0x10
#define CODE64 0x18

	.code16
	.text
	.globl _start
_start:
	cli
	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %ss
	movw $BSP_STACK, %sp
	/* Table 9-1: CR0.PE = 0 at reset. */
	movl %cr0, %eax
	andl $1, %eax
	movl %eax, v_rm_pe
	/* §20.1.1: 0700:0FF0 is linear 0x7ff0. */
	movw $SCRATCH >> 4 & 0xff00, %ax
	movw %ax, %es
	movw $0xbeef, %es:(SCRATCH & 0xfff)
	movzwl SCRATCH, %eax
	movl %eax, v_rm_seg
	lgdtl gdtr
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $CODE32, $bsp32

	.code32
bsp32:
	movw $DATA32, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl $BSP_STACK, %esp
	movw %cs, %ax
	movzwl %ax, %eax
	movl %eax, v_pm_cs
	call build_tables
	/* 32-bit paging (§4.3): CR3 = PD, CR0.PG. */
	movl $PD32, %eax
	movl %eax, %cr3
	movl %cr0, %eax
	orl $0x80000000, %eax
	movl %eax, %cr0
	jmp 1f
1:	movl %cr0, %eax
	andl $0x80000001, %eax
	movl %eax, v_pg_cr0
	movl $0xcafe0001, ALIAS32
	movl PAGE_A, %eax
	movl %eax, v_pg_alias
	movl PT32_HI, %eax
	andl $0x60, %eax                 /* §4.8: A (5) and D (6) set */
	movl %eax, v_pg_pte
	movl PD32 + 4, %eax
	andl $0x20, %eax                 /* the PDE's A; its bit 6 ignored */
	movl %eax, v_pg_pde
	/* §9.8.5: paging off, PAE, CR3, EFER.LME, paging on. */
	movl %cr0, %eax
	andl $0x7fffffff, %eax
	movl %eax, %cr0
	jmp 1f
1:	call enter_ia32e
	movl $EFER, %ecx
	rdmsr
	andl $0x500, %eax                /* LME (8) and LMA (10) */
	movl %eax, v_cm_efer
	ljmpl $CODE64, $bsp64

/* Page tables for both paging modes. */
build_tables:
	movl $PD32, %edi                 /* clear 0x20000-0x31fff */
	movl $(PAGE_B + 0x1000 - PD32) / 4, %ecx
	xorl %eax, %eax
	cld
	rep stosl
	movl $PT32_LO + 3, PD32          /* present, writable */
	movl $PT32_HI + 3, PD32 + 4
	movl $PT32_LO, %edi
	movl $3, %eax
1:	stosl
	addl $0x1000, %eax
	cmpl $PT32_LO + 0x1000, %edi
	jne 1b
	movl $PAGE_A + 3, PT32_HI
	movl $PDPT_LO + 3, PML4
	movl $PDPT_HI + 3, PML4 + 8
	movl $PD_LO + 3, PDPT_LO
	movl $PD_APIC + 3, PDPT_LO + 3 * 8
	movl $0x83, PD_LO                /* 2-MiB page at 0 */
	/* 0xfee00000: entry 0x1f7 of the fourth GiB, PCD and PWT. */
	movl $APIC + 0x9b, PD_APIC + 0x1f7 * 8
	movl $PD_HI + 3, PDPT_HI
	movl $PT_HI + 3, PD_HI
	movl $PAGE_B + 3, PT_HI
	ret

/* From protected mode with paging off to IA-32e (compatibility) mode on
 * the PML4 (§9.8.5). */
enter_ia32e:
	movl %cr4, %eax
	orl $0x20, %eax                  /* PAE */
	movl %eax, %cr4
	movl $PML4, %eax
	movl %eax, %cr3
	movl $EFER, %ecx
	rdmsr
	orl $0x100, %eax                 /* LME */
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax
	movl %eax, %cr0
	ret

	.code64
bsp64:
	movw %cs, %ax
	movzwl %ax, %eax
	movl %eax, v_lm_cs
	movabsq $ALIAS64, %rbx
	movl $0xcafe0002, (%rbx)
	movl PAGE_B, %eax
	movl %eax, v_lm_alias

	leaq checks(%rip), %rbx
1:	movq (%rbx), %rsi
	testq %rsi, %rsi
	jz 2f
	movq 8(%rbx), %rdx               /* expected */
	movq 16(%rbx), %rax              /* where the value is */
	movl (%rax), %eax
	call check
	addq $24, %rbx
	jmp 1b

	/* INIT, then start-up twice, to APIC ID 1 (§8.4.4.1); the second
	 * start-up is ignored by an AP that has left the wait-for-SIPI
	 * state. */
2:	leaq done_isr(%rip), %rax        /* image below 64 KiB: offset 15:0 */
	movw %ax, idt_done
	lidt idtr64
	movl $APIC, %r8d                 /* 64-bit mode: no disp32 for it */
	movl $0x1ff, APIC_SVR - APIC(%r8) /* software-enable, spurious 0xff */
	movl $1 << 24, APIC_ICR_HI - APIC(%r8)
	movl $0x00004500, APIC_ICR_LO - APIC(%r8) /* INIT, assert */
	call icr_idle
	movl $0x00004600 + (AP_START >> 12), APIC_ICR_LO - APIC(%r8)
	call icr_idle
	movl $0x00004600 + (AP_START >> 12), APIC_ICR_LO - APIC(%r8)
	call icr_idle
1:	sti                              /* hlt in STI's shadow (§6.8.3) */
bsp_hlt:
	hlt
	cli
	cmpl $0, ap_done
	je 1b
	movl fails, %eax
	testl %eax, %eax
	jnz 3f
	leaq msg_pass(%rip), %rsi
	call puts
	xorl %eax, %eax                  /* isa-debug-exit 0: rax status 1 */
	outl %eax, $0xf4
	hlt
3:	leaq msg_fail(%rip), %rsi
	call puts
	movl fails, %eax                 /* in decimal, as the others print */
	xorl %edx, %edx
	movl $10, %ecx
	divl %ecx
	testl %eax, %eax
	jz 4f
	pushq %rdx
	addb $'0', %al                   /* fails < 100: at most 15 here */
	call putc
	popq %rdx
4:	movb %dl, %al
	addb $'0', %al
	call putc
	movb $'\n', %al
	call putc
	movl $1, %eax                    /* rax status 3 */
	outl %eax, $0xf4
	hlt

/* The BSP's handler of the AP's IPI.  One taken before bsp_hlt, in
 * STI's shadow, resumes after it, as if it had woken the HLT: the
 * nested harness's L0 (QEMU 7.2's AMD-V) loses the shadow when L1
 * re-enters the guest there (tests/guest/rt.S, rt_sti_hlt). */
done_isr:
	pushq %rax
	leaq bsp_hlt(%rip), %rax
	cmpq %rax, 8(%rsp)               /* the frame's RIP */
	jne 1f
	incq 8(%rsp)                     /* HLT is one byte */
1:	movl $APIC_EOI, %eax
	movl $0, (%rax)
	popq %rax
	iretq

/* Waits until the ICR's delivery status (bit 12) reads idle (§10.6.1). */
icr_idle:
	movl $1000000, %ecx
1:	testl $0x1000, APIC_ICR_LO - APIC(%r8)
	jz 2f
	pause
	loop 1b
2:	ret

/* check(rsi = name, eax = value, edx = expected): prints "name: value",
 * with " FAIL expected V" and a count in fails when they differ. */
check:
	pushq %rdx
	pushq %rax
	call puts
	leaq msg_colon(%rip), %rsi
	call puts
	movl (%rsp), %eax
	call puthex
	popq %rax
	popq %rdx
	cmpl %edx, %eax
	je 1f
	lock incl fails
	leaq msg_expected(%rip), %rsi
	pushq %rdx
	call puts
	popq %rax
	call puthex
1:	movb $'\n', %al
	jmp putc

/* "0x" and eax in hex without leading zeros. */
puthex:
	pushq %rax
	movb $'0', %al
	call putc
	movb $'x', %al
	call putc
	popq %rax
	movl $8, %ecx
	xorl %edx, %edx                  /* a digit printed yet */
1:	roll $4, %eax
	movl %eax, %edi
	andl $15, %edi
	orl %edi, %edx
	jnz 2f
	cmpl $1, %ecx
	jne 3f
2:	pushq %rax
	leaq hexdig(%rip), %rax
	movb (%rax, %rdi), %al
	call putc
	popq %rax
	movl $1, %edx
3:	loop 1b
	ret

puts:
	lodsb
	testb %al, %al
	jz 1f
	call putc
	jmp puts
1:	ret

/* COM1: wait for THRE (LSR bit 5), then send. */
putc:
	pushq %rax
	pushq %rdx
	movw $COM1 + 5, %dx
1:	inb %dx, %al
	testb $0x20, %al
	jz 1b
	movq 8(%rsp), %rax
	movw $COM1, %dx
	outb %al, %dx
	popq %rdx
	popq %rax
	ret

/* The AP in protected mode, paging off: to 64-bit mode. */
	.code32
ap32:
	movw $DATA32, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl $AP_STACK, %esp
	call enter_ia32e
	ljmpl $CODE64, $ap64

	.code64
ap64:
	movl $APIC, %r8d
	movl APIC_ID - APIC(%r8), %eax
	shrl $24, %eax
	movl %eax, v_ap_id
	movl $EFER, %ecx
	rdmsr
	andl $0x500, %eax
	movl %eax, v_ap_efer
	movw %cs, %ax
	movzwl %ax, %eax
	movl %eax, v_ap_cs64
	leaq ap_checks(%rip), %rbx
1:	movq (%rbx), %rsi
	testq %rsi, %rsi
	jz 2f
	movq 8(%rbx), %rdx
	movq 16(%rbx), %rax
	movl (%rax), %eax
	call check
	addq $24, %rbx
	jmp 1b
2:	movl $1, ap_done
	movl $0, APIC_ICR_HI - APIC(%r8)  /* fixed, V_DONE, to APIC ID 0 */
	movl $0x00004000 + V_DONE, APIC_ICR_LO - APIC(%r8)
1:	cli
	hlt
	jmp 1b

	.balign 8                        /* data: in the image too */
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff         /* 0x08: 32-bit code, flat */
	.quad 0x00cf92000000ffff         /* 0x10: data, flat */
	.quad 0x00af9a000000ffff         /* 0x18: 64-bit code (L = 1) */
gdtr:
	.word gdtr - gdt - 1
	.long gdt

/* The BSP's 64-bit IDT: vector V_DONE only (an interrupt gate, §6.14.1);
 * the offset is filled in by the BSP. */
	.balign 16
idt64:
	.fill V_DONE * 2, 8, 0
idt_done:
	.word 0, CODE64, 0x8e00, 0
	.long 0, 0
idtr64:
	.word idtr64 - idt64 - 1
	.quad idt64

/* The checks: name, the SDM's value, where the program stored what it
 * saw. */
	.balign 8
checks:
	.quad n_rm_pe, 0, v_rm_pe
	.quad n_rm_seg, 0xbeef, v_rm_seg
	.quad n_pm_cs, CODE32, v_pm_cs
	.quad n_pg_cr0, 0x80000001, v_pg_cr0
	.quad n_pg_alias, 0xcafe0001, v_pg_alias
	.quad n_pg_pte, 0x60, v_pg_pte
	.quad n_pg_pde, 0x20, v_pg_pde
	.quad n_cm_efer, 0x500, v_cm_efer
	.quad n_lm_cs, CODE64, v_lm_cs
	.quad n_lm_alias, 0xcafe0002, v_lm_alias
	.quad 0
ap_checks:
	.quad n_ap_cs, AP_START >> 4, v_ap_cs
	.quad n_ap_start, AP_START, v_ap_start
	.quad n_ap_id, 1, v_ap_id
	.quad n_ap_efer, 0x500, v_ap_efer
	.quad n_ap_cs64, CODE64, v_ap_cs64
	.quad 0

	.balign 4
v_rm_pe:	.long 0
v_rm_seg:	.long 0
v_pm_cs:	.long 0
v_pg_cr0:	.long 0
v_pg_alias:	.long 0
v_pg_pte:	.long 0
v_pg_pde:	.long 0
v_cm_efer:	.long 0
v_lm_cs:	.long 0
v_lm_alias:	.long 0
v_ap_cs:	.long 0
v_ap_start:	.long 0
v_ap_id:	.long 0
v_ap_efer:	.long 0
v_ap_cs64:	.long 0
ap_done:	.long 0
fails:		.long 0

n_rm_pe:	.asciz "bsp.rm.cr0-pe"
n_rm_seg:	.asciz "bsp.rm.seg-times-16-plus-offset"
n_pm_cs:	.asciz "bsp.pm32.cs"
n_pg_cr0:	.asciz "bsp.pg32.cr0-pg-pe"
n_pg_alias:	.asciz "bsp.pg32.alias-at-4m"
n_pg_pte:	.asciz "bsp.pg32.pte-accessed-dirty"
n_pg_pde:	.asciz "bsp.pg32.pde-accessed"
n_cm_efer:	.asciz "bsp.compat.efer-lme-lma"
n_lm_cs:	.asciz "bsp.lm.cs"
n_lm_alias:	.asciz "bsp.lm.alias-above-4g"
n_ap_cs:	.asciz "ap.rm.cs"
n_ap_start:	.asciz "ap.rm.start-linear"
n_ap_id:	.asciz "ap.lm.apic-id"
n_ap_efer:	.asciz "ap.lm.efer-lme-lma"
n_ap_cs64:	.asciz "ap.lm.cs"
msg_colon:	.asciz ": "
msg_expected:	.asciz " FAIL expected "
msg_pass:	.asciz "verdict: PASS\n"
msg_fail:	.asciz "verdict: FAIL "
hexdig:		.ascii "0123456789abcdef"

/* The start-up page: CS = 0x0a00, IP = 0 (§10.6.1). */
	.org AP_START - LOAD
	.code16
ap16:
	cli
	xorw %ax, %ax
	movw %cs, %ax
	movzwl %ax, %eax
	xorw %bx, %bx
	movw %bx, %ds
	movl %eax, v_ap_cs
	call 1f                          /* IP of the next instruction */
1:	popw %bx
	subw $1b - ap16, %bx             /* IP of ap16 */
	shll $4, %eax
	movzwl %bx, %ebx
	addl %ebx, %eax
	movl %eax, v_ap_start
	movw %ds, %ax
	movw %ax, %ss
	movw $AP_STACK, %sp
	lgdtl gdtr
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $CODE32, $ap32
