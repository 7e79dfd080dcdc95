/* The runtime of the system-level guest programs (tests/guest/NAME.S but
 * selftest.S): rax loads a program as an ELF kernel and enters _start in
 * 64-bit mode at CPL 0 with interrupts off.  rt_init installs the
 * runtime's own GDT (kernel and user segments, a TSS with IST stacks),
 * IDT (256 interrupt gates into rt_common) and page tables (0-1 GiB and
 * 3-4 GiB identity-mapped with 2-MiB user pages, the window WIN of 4-KiB
 * pages the tests map themselves), masks the 8259 PICs, then calls the
 * program's test_main.  Results go to COM1 one line per check (CHECK in
 * rt.h); last_hflags and last_hss are RFLAGS and SS inside the handler;
 * the verdict line is "verdict: PASS" or "verdict: FAIL n" and
 * the program ends by writing 0 (pass) or 1 (fail) to isa-debug-exit
 * (port 0xf4: rax exits 1 or 3).
 * Run recipe: tests/guest/run.sh. */
#include "rt.h"

	.code64
	.text
	.globl _start, check, puts, puthex, putc, to_user, idt_set
	.globl resume_rip, last_vec, last_err, last_rip, last_cs, last_ss
	.globl last_rsp, last_rflags, last_cr2, last_frame, last_hflags, last_hss
	.globl vec_count, handlers, pt_win, pd_win, pd_low, pml4, pages, tss
	.globl ist1_top, ist2_top, ist3_top, rsp0_top, ustack_top
	.globl fail_count, rt_sti_hlt

_start:
	cli
	lea stack_top(%rip), %rsp
	call rt_init
	call test_main
	jmp rt_finish

/* Everything the programs assume: see the top of this file. */
rt_init:
	call pic_mask
	call gdt_init
	call idt_init
	call pt_init
	ret

/* ICW1-ICW4 then mask every input (8259A data sheet): vectors 0x20-0x2f,
 * so a stray IRQ can never look like an exception. */
pic_mask:
	mov $0x11, %al
	out %al, $0x20
	out %al, $0xa0
	mov $0x20, %al
	out %al, $0x21
	mov $0x28, %al
	out %al, $0xa1
	mov $4, %al
	out %al, $0x21
	mov $2, %al
	out %al, $0xa1
	mov $1, %al
	out %al, $0x21
	out %al, $0xa1
	mov $0xff, %al
	out %al, $0x21
	out %al, $0xa1
	ret

/* The TSS descriptor holds its base split in pieces (SDM Vol. 3 §7.2.3,
 * Figure 7-4), so it is filled in here; the TSS gets RSP0 and IST1-3. */
gdt_init:
	lea tss(%rip), %rax
	mov %rax, %rcx
	and $0xffff, %ecx
	shl $16, %rcx
	or $0x67, %rcx                  /* limit 103 */
	mov %rax, %rdx
	shr $16, %rdx
	and $0xff, %edx
	shl $32, %rdx
	or %rdx, %rcx
	movabs $0x0000890000000000, %rdx /* P, DPL 0, type 9 (64-bit TSS) */
	or %rdx, %rcx
	mov %rax, %rdx
	shr $24, %rdx
	and $0xff, %edx
	shl $56, %rdx
	or %rdx, %rcx
	mov %rcx, gdt+TSS_SEL
	mov %rax, %rdx
	shr $32, %rdx
	mov %rdx, gdt+TSS_SEL+8
	lea rsp0_top(%rip), %rax
	mov %rax, tss+4
	lea ist1_top(%rip), %rax
	mov %rax, tss+0x24
	lea ist2_top(%rip), %rax
	mov %rax, tss+0x2c
	lea ist3_top(%rip), %rax
	mov %rax, tss+0x34
	movw $104, tss+0x66             /* no I/O bitmap */
	lgdt gdt_ptr(%rip)
	pop %rax                        /* reload CS with a far return */
	push $KCS
	push %rax
	mov $KDS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov $TSS_SEL, %eax
	ltr %ax
	lretq

/* Gate i: 64-bit interrupt gate to stub i (SDM Vol. 3 §6.14.1, Figure
 * 6-8), selector KCS, DPL 0, IST 0; RET_VEC has DPL 3. */
idt_init:
	xor %edi, %edi
1:	xor %esi, %esi
	xor %edx, %edx
	cmp $RET_VEC, %edi
	jne 2f
	mov $3, %edx
2:	mov $0xe, %ecx
	call idt_set
	inc %edi
	cmp $256, %edi
	jb 1b
	lidt idt_ptr(%rip)
	ret

/* idt_set(rdi = vector, rsi = IST, rdx = DPL, rcx = type: 0xe interrupt
 * gate, 0xf trap gate, | 0x80 to leave P clear).  Preserves registers. */
idt_set:
	push %rax
	push %rbx
	push %r8
	mov %rdi, %rax
	shl $4, %rax
	lea stubs(%rip), %rbx
	add %rbx, %rax                  /* handler address */
	mov %rax, %r8
	and $0xffff, %r8d
	or $(KCS << 16), %r8
	mov %rsi, %rbx
	and $7, %ebx
	shl $32, %rbx
	or %rbx, %r8
	mov %rcx, %rbx
	and $0xf, %ebx
	shl $40, %rbx
	or %rbx, %r8
	mov %rdx, %rbx
	and $3, %ebx
	shl $45, %rbx
	or %rbx, %r8
	test $0x80, %cl
	jnz 1f
	bts $47, %r8                    /* P */
1:	mov %rax, %rbx
	shr $16, %rbx
	and $0xffff, %ebx
	shl $48, %rbx
	or %rbx, %r8
	shr $32, %rax                   /* offset 63:32 */
	mov %rdi, %rbx
	shl $4, %rbx
	mov %r8, idt(%rbx)
	mov %rax, idt+8(%rbx)
	pop %r8
	pop %rbx
	pop %rax
	ret

/* PML4[0] -> pdpt: [0] -> pd_low (0-1 GiB, 2-MiB pages, user), [1] ->
 * pd_win, whose entry 0 -> pt_win (WIN, 4-KiB pages, all absent at
 * first), [3] -> pd_high (3-4 GiB: the LAPIC and IOAPIC, supervisor,
 * uncached).  Every upper level is present, writable and user. */
pt_init:
	lea pdpt(%rip), %rax
	or $(PTE_P | PTE_W | PTE_U), %rax
	mov %rax, pml4
	lea pd_low(%rip), %rax
	or $(PTE_P | PTE_W | PTE_U), %rax
	mov %rax, pdpt
	lea pd_win(%rip), %rax
	or $(PTE_P | PTE_W | PTE_U), %rax
	mov %rax, pdpt+8
	lea pd_high(%rip), %rax
	or $(PTE_P | PTE_W | PTE_U), %rax
	mov %rax, pdpt+24
	lea pt_win(%rip), %rax
	or $(PTE_P | PTE_W | PTE_U), %rax
	mov %rax, pd_win
	xor %ecx, %ecx
1:	mov %rcx, %rax
	shl $21, %rax
	or $(PTE_P | PTE_W | PTE_U | 0x80), %rax        /* PS */
	mov %rax, pd_low(,%rcx,8)
	movabs $0xc0000000, %rdx
	add %rdx, %rax
	xor $(PTE_U | 0x18), %rax                        /* PCD, PWT */
	mov %rax, pd_high(,%rcx,8)
	inc %ecx
	cmp $512, %ecx
	jb 1b
	lea pml4(%rip), %rax
	mov %rax, %cr3
	ret

rt_finish:
	mov fail_count, %rax
	lea msg_pass(%rip), %rsi
	test %rax, %rax
	jz 1f
	lea msg_fail(%rip), %rsi
	call puts
	mov %rax, %rdi
	call putdec
	lea msg_nl(%rip), %rsi
1:	call puts
	test %rax, %rax
	setnz %al
	movzbl %al, %eax
	out %eax, $0xf4
2:	cli
	hlt
	jmp 2b

/* Halts with interrupts on until one is taken, then returns (IF = 1).
 * The HLT is in STI's shadow (SDM Vol. 3 §6.8.3), so an interrupt
 * pending at the STI wakes the HLT instead of slipping in before it.
 * The nested harness's L0 breaks that: QEMU's TCG AMD-V saves the
 * shadow in the VMCB at #VMEXIT (int_state, do_vmexit() in
 * target/i386/tcg/sysemu/svm_helper.c) but its VMRUN never loads it
 * back, so when L1 takes an exit at the HLT and injects the interrupt
 * on re-entry, the interrupt comes before the HLT and returns to it,
 * and the HLT waits for an interrupt that already came (14 hangs in
 * 371 nested runs of lapic.S on 2026-12-07, each with the vector
 * counted and the frame's RIP at the HLT).  rt_common resumes such an
 * interrupt after the HLT, as if it had woken it: on a CPU that keeps
 * the shadow the case never arises. */
rt_sti_hlt:
	sti
rt_hlt:
	hlt
	ret

/* The 256 entry stubs, 16 bytes apart: push a zero error code where the
 * CPU pushes none (SDM Vol. 3 §6.13, Table 6-1: 8, 10-14, 17, 21, 29, 30
 * push one), push the vector, and join rt_common. */
	.balign 16
stubs:
	.set vec, 0
	.rept 256
	.balign 16
	.if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq $0
	.endif
	pushq $vec
	jmp rt_common
	.set vec, vec + 1
	.endr

/* Every interrupt and exception: record what the CPU delivered in last_*,
 * count it, then (in this order) call handlers[vector] with rdi = the
 * frame (F_* in rt.h), or return from to_user for RET_VEC, or resume at
 * resume_rip, or fail for an unexpected exception (vectors 0-31). */
rt_common:
	push %rax
	pushfq
	pop %rax
	mov %rax, last_hflags
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	cld
	mov %rsp, %rdi
	lea rt_hlt(%rip), %rax          /* taken before rt_sti_hlt's HLT */
	cmp %rax, F_RIP(%rdi)
	jne 1f
	incq F_RIP(%rdi)                /* HLT is one byte */
1:	lea F_RIP(%rdi), %rax
	mov %rax, last_frame
	mov F_VEC(%rdi), %rbx
	mov %rbx, last_vec
	mov F_ERR(%rdi), %rax
	mov %rax, last_err
	mov F_RIP(%rdi), %rax
	mov %rax, last_rip
	mov F_CS(%rdi), %rax
	mov %rax, last_cs
	mov F_RFLAGS(%rdi), %rax
	mov %rax, last_rflags
	mov F_RSP(%rdi), %rax
	mov %rax, last_rsp
	mov F_SS(%rdi), %rax
	mov %rax, last_ss
	mov %cr2, %rax
	mov %rax, last_cr2
	xor %eax, %eax
	mov %ss, %ax
	mov %rax, last_hss
	lea vec_count(%rip), %rax
	incq (%rax,%rbx,8)
	lea handlers(%rip), %rax
	mov (%rax,%rbx,8), %rax
	test %rax, %rax
	jz 1f
	call *%rax
	jmp 9f
1:	cmp $RET_VEC, %rbx
	je user_return
	mov resume_rip, %rax
	test %rax, %rax
	jz 2f
	mov %rax, F_RIP(%rdi)
	movq $0, resume_rip
	jmp 9f
2:	cmp $32, %rbx
	jae 9f
	lea msg_unexp(%rip), %rsi
	call puts
	mov %rbx, %rdi
	call puthex
	lea msg_err(%rip), %rsi
	call puts
	mov last_err, %rdi
	call puthex
	lea msg_rip(%rip), %rsi
	call puts
	mov last_rip, %rdi
	call puthex
	lea msg_nl(%rip), %rsi
	call puts
	incq fail_count
	jmp rt_finish
9:	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp
	iretq

/* to_user(rdi = function, rsi = RFLAGS): run it at CPL 3 (CS UCS, SS
 * UDS, RSP ustack_top) through IRETQ; it comes back with int $RET_VEC,
 * and to_user returns with rax = the user's rax at that point. */
to_user:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, kern_rsp
	push $UDS
	lea ustack_top(%rip), %rax
	push %rax
	push %rsi
	push $UCS
	push %rdi
	iretq
user_return:
	mov F_RAX(%rdi), %rax
	mov kern_rsp, %rsp
	mov $KDS, %ecx                  /* IRET to CPL 3 nulled DS and ES */
	mov %ecx, %ds
	mov %ecx, %es
	mov %ecx, %ss
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret

/* check(rsi = name, rdi = value, rdx = expected): "name: value" and a
 * failure when value != expected.  Preserves registers. */
check:
	push %rsi
	call puts
	lea msg_colon(%rip), %rsi
	call puts
	call puthex
	cmp %rdx, %rdi
	je 1f
	incq fail_count
	lea msg_expected(%rip), %rsi
	call puts
	push %rdi
	mov %rdx, %rdi
	call puthex
	pop %rdi
1:	lea msg_nl(%rip), %rsi
	call puts
	pop %rsi
	ret

/* puts(rsi): a NUL-terminated string to COM1.  Preserves registers. */
puts:
	push %rax
	push %rsi
1:	mov (%rsi), %al
	test %al, %al
	jz 2f
	call putc
	inc %rsi
	jmp 1b
2:	pop %rsi
	pop %rax
	ret

/* putc(al).  Preserves registers. */
putc:
	push %rdx
	mov $0x3f8, %dx
	out %al, %dx
	pop %rdx
	ret

/* puthex(rdi): "0x" and the hex digits without leading zeros. */
puthex:
	push %rax
	push %rcx
	push %rdx
	mov $'0', %al
	call putc
	mov $'x', %al
	call putc
	mov $60, %ecx
	xor %edx, %edx                  /* 1 once a digit was printed */
1:	mov %rdi, %rax
	shr %cl, %rax
	and $0xf, %eax
	test %ecx, %ecx
	jz 2f
	test %edx, %edx
	jnz 2f
	test %eax, %eax
	jz 3f
2:	mov $1, %edx
	add $'0', %al
	cmp $'9', %al
	jbe 4f
	add $('a' - '0' - 10), %al
4:	call putc
3:	sub $4, %ecx
	jns 1b
	pop %rdx
	pop %rcx
	pop %rax
	ret

/* putdec(rdi): decimal.  Preserves registers. */
putdec:
	push %rax
	push %rdx
	push %rdi
	mov %rdi, %rax
	xor %edx, %edx
	mov $10, %edi
	div %rdi
	test %rax, %rax
	jz 1f
	mov %rax, %rdi
	call putdec
1:	lea '0'(%rdx), %eax
	call putc
	pop %rdi
	pop %rdx
	pop %rax
	ret

	.data
	.balign 16
gdt:
	.quad 0
	.quad 0x00af9b000000ffff        /* KCS: 64-bit code, DPL 0 */
	.quad 0x00cf93000000ffff        /* KDS: data, DPL 0 */
	.quad 0x00cffb000000ffff        /* UCS32: 32-bit code, DPL 3 */
	.quad 0x00cff3000000ffff        /* UDS: data, DPL 3 */
	.quad 0x00affb000000ffff        /* UCS: 64-bit code, DPL 3 */
	.quad 0, 0                      /* TSS_SEL: filled by gdt_init */
gdt_end:
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt
idt_ptr:
	.word 256 * 16 - 1
	.quad idt

	.section .rodata
msg_pass:     .asciz "verdict: PASS\n"
msg_fail:     .asciz "verdict: FAIL "
msg_nl:       .asciz "\n"
msg_colon:    .asciz ": "
msg_expected: .asciz " FAIL expected "
msg_unexp:    .asciz "unexpected exception "
msg_err:      .asciz " error code "
msg_rip:      .asciz " at "

	.bss
	.balign 4096
pml4:    .skip 4096
pdpt:    .skip 4096
pd_low:  .skip 4096
pd_win:  .skip 4096
pd_high: .skip 4096
pt_win:  .skip 4096
pages:   .skip 16 * 4096                /* physical pages for the tests */
idt:     .skip 256 * 16
	.skip 4096
stack_top:
	.skip 4096
rsp0_top:
	.skip 4096
ist1_top:
	.skip 4096
ist2_top:
	.skip 4096
ist3_top:
	.skip 4096
ustack_top:
	.balign 64
tss:         .skip 104
vec_count:   .skip 256 * 8
handlers:    .skip 256 * 8
resume_rip:  .quad 0
kern_rsp:    .quad 0
fail_count:  .quad 0
last_vec:    .quad 0
last_err:    .quad 0
last_rip:    .quad 0
last_cs:     .quad 0
last_ss:     .quad 0
last_rsp:    .quad 0
last_rflags: .quad 0
last_cr2:    .quad 0
last_frame:  .quad 0
last_hflags: .quad 0
last_hss:    .quad 0
