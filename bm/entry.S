/* bm/entry.S: stage 3's entry, the VM-exit trampoline and the host's
 * exception stubs (GNU as, AT&T syntax). */

	.section .text.start, "ax"
	.globl bm_start
/* Stage 2 jumps here in 64-bit mode after VMXON. */
bm_start:
	mov $0x80000, %rsp		/* BM_STACK_TOP */
	cld
	lea __bss_start(%rip), %rdi
	lea __bss_end(%rip), %rcx
	sub %rdi, %rcx
	xor %eax, %eax
	rep stosb
	call bm_main
1:	cli
	hlt
	jmp 1b

	.text
/* VMLAUNCH with the guest's general registers zeroed (RSP, RIP come
 * from the VMCS): returns 1 (VMfailInvalid) or 2 (VMfailValid) on
 * failure, with the callee-saved registers restored; on success the next
 * host instruction is bm_vmexit_entry, on its own stack. */
	.globl bm_vmlaunch
bm_vmlaunch:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	xor %eax, %eax
	xor %ebx, %ebx
	xor %ecx, %ecx
	xor %edx, %edx
	mov %rdi, %rsi			/* the guest's RSI (boot protocol) */
	xor %edi, %edi
	xor %ebp, %ebp
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r11d, %r11d
	xor %r12d, %r12d
	xor %r13d, %r13d
	xor %r14d, %r14d
	xor %r15d, %r15d
	vmlaunch
	mov $1, %eax
	jc 1f
	mov $2, %eax
1:	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret

/* HOST_RIP.  The CPU loads HOST_RSP (16-byte aligned, the top of
 * bm_exit_stack) and nothing else of the guest's registers: save all 16
 * slots of struct bm_regs (RSP as a placeholder), handle, restore,
 * VMRESUME. */
	.globl bm_vmexit_entry
bm_vmexit_entry:
	push %r15
	push %r14
	push %r13
	push %r12
	push %r11
	push %r10
	push %r9
	push %r8
	push %rdi
	push %rsi
	push %rbp
	push $0				/* RSP: in the VMCS */
	push %rbx
	push %rdx
	push %rcx
	push %rax
	mov %rsp, %rdi
	call bm_vmexit			/* 16 pushes keep RSP 16-aligned */
	pop %rax
	pop %rcx
	pop %rdx
	pop %rbx
	add $8, %rsp
	pop %rbp
	pop %rsi
	pop %rdi
	pop %r8
	pop %r9
	pop %r10
	pop %r11
	pop %r12
	pop %r13
	pop %r14
	pop %r15
	vmresume
	call bm_vmresume_failed

/* Host exception stubs, 16 bytes apart (host.c computes the gate
 * addresses).  Vectors 8, 10-14, 17, 21, 29 and 30 push an error code
 * (SDM Vol. 3 §7.3 Table 7-1); the others push 0 in its place. */
	.macro isr n
	.balign 16
	.if (\n == 8) || (\n >= 10 && \n <= 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
	.else
	pushq $0
	.endif
	pushq $\n
	jmp isr_common
	.endm

	.balign 16
	.globl bm_isr_stubs
bm_isr_stubs:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	isr \n
	.endr

isr_common:
	mov %rsp, %rdi
	and $-16, %rsp
	call bm_host_fault

	.section .note.GNU-stack, "", @progbits
