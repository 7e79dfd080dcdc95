/* The CPUID leaves a vCPU advertises, for tests/kut/run.py to decide
 * which kvm-unit-tests cases ask for a feature rax's engine lacks.  A
 * 64-bit ELF kernel (rax enters _start in 64-bit mode on identity-mapped
 * low memory) that prints, on COM1, one line per leaf it may read:
 *     cpuid LEAF SUBLEAF: EAX EBX ECX EDX
 * (eight hex digits each) for leaves 0, 1, 7.0, 0x80000000, 0x80000001
 * and 0x8000000a, each only when the maximum leaf of its range (leaf 0,
 * leaf 0x80000000) reaches it (SDM Vol. 2A CPUID: a leaf above the
 * maximum returns another leaf's data), then "cpuid end" and exits
 * through isa-debug-exit with 0 (rax status 1).
 * Build and run by hand, from the build folder:
 *     cc -c -o /tmp/cpuid.o ../tests/kut/cpuid.S &&
 *     ld -static -nostdlib -Ttext=0x200000 -e _start -o /tmp/cpuid.elf \
 *        /tmp/cpuid.o && ./rax --kernel /tmp/cpuid.elf --mem 16M */
	.code64
	.text
	.globl _start
_start:
	xor %eax, %eax
	cpuid
	mov %eax, %r13d                /* maximum basic leaf */
	mov $0x80000000, %eax
	cpuid
	mov %eax, %r14d                /* maximum extended leaf */
	lea leaves(%rip), %r12
1:	mov (%r12), %eax
	cmp $0xffffffff, %eax
	je 9f
	mov %r13d, %ebx                /* the range's maximum */
	test %eax, %eax
	jns 2f
	mov %r14d, %ebx
	cmp $0x80000000, %ebx          /* no extended leaves at all */
	jb 3f
2:	cmp %ebx, %eax
	ja 3f
	call print_leaf
3:	add $8, %r12
	jmp 1b
9:	lea msg_end(%rip), %rsi
	call puts
	xor %eax, %eax
	mov $0xf4, %dx
	out %eax, %dx
8:	hlt
	jmp 8b

/* Prints "cpuid LEAF SUBLEAF: EAX EBX ECX EDX" for the pair at (%r12). */
print_leaf:
	lea msg_cpuid(%rip), %rsi
	call puts
	mov (%r12), %edi
	call hex32
	mov $' ', %dil
	call putc
	mov 4(%r12), %edi
	call hex32
	mov $':', %dil
	call putc
	mov (%r12), %eax
	mov 4(%r12), %ecx
	cpuid
	mov %edx, %r15d
	mov %ecx, %ebp
	mov %ebx, %r11d
	mov %eax, %r10d
	mov %r10d, %edi
	call space_hex32
	mov %r11d, %edi
	call space_hex32
	mov %ebp, %edi
	call space_hex32
	mov %r15d, %edi
	call space_hex32
	mov $'\n', %dil
	jmp putc

/* " " then edi as eight hex digits; keeps r10, r11, rbp, r15. */
space_hex32:
	push %rdi
	mov $' ', %dil
	call putc
	pop %rdi
hex32:
	mov %edi, %r8d
	mov $8, %r9d
1:	rol $4, %r8d
	mov %r8d, %edi
	and $15, %edi
	lea hexdigits(%rip), %rax
	movzbl (%rax,%rdi), %edi
	call putc
	dec %r9d
	jnz 1b
	ret

/* The byte in dil to COM1 once its transmitter holding register is
 * empty (16550A LSR bit 5). */
putc:
	mov $0x3fd, %dx
1:	in %dx, %al
	test $0x20, %al
	jz 1b
	mov $0x3f8, %dx
	mov %dil, %al
	out %al, %dx
	ret

/* The NUL-terminated string at rsi. */
puts:
	movzbl (%rsi), %edi
	test %edi, %edi
	jz 1f
	call putc
	inc %rsi
	jmp puts
1:	ret

	.section .rodata
leaves:
	.long 0, 0
	.long 1, 0
	.long 7, 0
	.long 0x80000000, 0
	.long 0x80000001, 0
	.long 0x8000000a, 0
	.long 0xffffffff, 0
hexdigits:
	.ascii "0123456789abcdef"
msg_cpuid:
	.asciz "cpuid "
msg_end:
	.asciz "cpuid end\n"
