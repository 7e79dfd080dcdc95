/* A tiny 64-bit guest that checks a handful of instruction results and
 * reports through the hardware rax models: text on COM1 (port 0x3f8) and
 * the verdict through isa-debug-exit (port 0xf4; write 0 = pass, rax
 * exits 1; 1 = fail, rax exits 3).  Loaded as an ELF kernel: rax enters
 * _start in 64-bit mode on identity-mapped low memory.
 * Run: sh tests/guest/run.sh (make check does it). */
	.code64
	.text
	.globl _start
_start:
	/* SSE needs CR4.OSFXSR (SDM Vol. 3 §13.1.3); rax enters with only
	 * CR4.PAE set, as a kernel expects, so enable it as a kernel does. */
	mov %cr4, %rax
	or $0x200, %rax
	mov %rax, %cr4
	lea msg_hello(%rip), %rsi
	call puts
	xor %r15d, %r15d               /* failure count */

	/* 1. loop: sum 1..1000 */
	xor %eax, %eax
	mov $1000, %ecx
1:	add %rcx, %rax
	loop 1b
	cmp $500500, %rax
	setne %bl
	movzbl %bl, %ebx
	add %rbx, %r15

	/* 2. 128-bit multiply and divide */
	movabs $0x123456789abcdef1, %rax
	mov $1000003, %rcx
	mul %rcx
	div %rcx
	movabs $0x123456789abcdef1, %rbx
	cmp %rbx, %rax
	setne %bl
	movzbl %bl, %ebx
	add %rbx, %r15

	/* 3. rep stosq / rep movsb / repe cmpsb on a scratch buffer */
	lea buf(%rip), %rdi
	mov $0x5a5a5a5a5a5a5a5a, %rax
	mov $64, %ecx
	cld
	rep stosq
	lea buf(%rip), %rsi
	lea buf+512(%rip), %rdi
	mov $512, %ecx
	rep movsb
	lea buf(%rip), %rsi
	lea buf+512(%rip), %rdi
	mov $512, %ecx
	repe cmpsb
	setne %bl
	movzbl %bl, %ebx
	add %rbx, %r15

	/* 4. SSE2: pcmpeqb + pmovmskb finds byte 5 */
	lea pattern(%rip), %rax
	movdqu (%rax), %xmm0
	pxor %xmm1, %xmm1
	pcmpeqb %xmm0, %xmm1
	pmovmskb %xmm1, %eax
	bsf %eax, %eax
	cmp $5, %eax
	setne %bl
	movzbl %bl, %ebx
	add %rbx, %r15

	/* 5. flags: adc chain over 128 bits */
	mov $-1, %rax
	mov $0, %rdx
	add $1, %rax
	adc $0, %rdx
	cmp $1, %rdx
	setne %bl
	movzbl %bl, %ebx
	add %rbx, %r15

	/* 6. cpuid says long mode and SSE2 */
	mov $0x80000001, %eax
	cpuid
	bt $29, %edx
	setnc %bl
	movzbl %bl, %ebx
	add %rbx, %r15

	lea msg_pass(%rip), %rsi
	test %r15, %r15
	jz 2f
	lea msg_fail(%rip), %rsi
2:	call puts
	mov %r15d, %eax
	test %eax, %eax
	setnz %al
	movzbl %al, %eax
	out %eax, $0xf4
3:	hlt
	jmp 3b

/* puts(rsi): write a NUL-terminated string to COM1. */
puts:
	mov $0x3f8, %dx
4:	lodsb
	test %al, %al
	jz 5f
	out %al, %dx
	jmp 4b
5:	ret

	.data
msg_hello: .asciz "rax-guest-selftest: "
msg_pass:  .asciz "PASS\n"
msg_fail:  .asciz "FAIL\n"
pattern:   .byte 1, 2, 3, 4, 5, 0, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
	.bss
	.align 16
buf:	.skip 1024
