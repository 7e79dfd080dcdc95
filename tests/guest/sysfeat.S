/* System features the CPU advertises (SDM Vol. 2A CPUID, leaf 7):
 * UMIP (CPUID.(EAX=7,ECX=0):ECX[2], Vol. 3A "User-Mode Instruction
 * Prevention"): with CR4.UMIP = 1, SGDT, SIDT, SLDT, STR and SMSW raise
 * #GP(0) at CPL 3 and run at CPL 0; IA32_TSC_ADJUST
 * (CPUID.(EAX=7,ECX=0):EBX[1], Vol. 3B "Time-Stamp Counter
 * Adjustment"): a write to it moves the TSC by its change, a write to
 * the TSC moves it by the TSC's change; IA32_MCG_CAP (CPUID.1:EDX[14],
 * Vol. 3B "Machine-Check MSRs") is read-only.  A feature the CPU lacks
 * prints its CPUID bit as 0 and the checks that follow as not raised
 * (0).
 * Run: tests/guest/run.sh sysfeat (expected output: sysfeat.expect). */
#include "rt.h"

#define MSR_TSC 0x10
#define MSR_TSC_ADJUST 0x3b
#define MSR_MCG_CAP 0x179
#define MSR_MCG_STATUS 0x17a

/* UMIP_USER insn, name: run insn at CPL 3 (user_umip), print the vector
 * it raised (0 for none). */
.macro UMIP_USER insn, name
	movq $0, u_vec
	lea 1f(%rip), %rdi
	mov $2, %esi
	call to_user
	jmp 3f
1:	TRY 2f
	\insn
2:	mov last_vec, %rax
	cmpq $0, resume_rip             /* still armed: nothing raised */
	jne 4f
	mov %rax, u_vec
4:	movq $0, resume_rip
	int $RET_VEC
3:	CHECK "\name", u_vec, $13
.endm

	.text
	.globl test_main
test_main:
	push %rbx

	/* UMIP. */
	mov $7, %eax
	xor %ecx, %ecx
	cpuid
	shr $2, %ecx
	and $1, %ecx
	mov %rcx, %rbx
	CHECK "umip.cpuid", %rbx, $1
	test %rbx, %rbx
	jz 1f
	mov %cr4, %rax
	or $(1 << 11), %rax
	mov %rax, %cr4
1:	movq $0, vec_count + 13 * 8
	sgdt scratch
	sidt scratch
	sldt %ax
	str %ax
	smsw %ax
	CHECK "umip.cpl0.gp-count", vec_count+104, $0
	UMIP_USER "sgdt ustack_top - 64", "umip.cpl3.sgdt.vector"
	UMIP_USER "sidt ustack_top - 64", "umip.cpl3.sidt.vector"
	UMIP_USER "sldt %ax", "umip.cpl3.sldt.vector"
	UMIP_USER "str %ax", "umip.cpl3.str.vector"
	UMIP_USER "smsw %ax", "umip.cpl3.smsw.vector"
	mov %cr4, %rax
	and $~(1 << 11), %rax
	mov %rax, %cr4

	/* IA32_TSC_ADJUST. */
	mov $7, %eax
	xor %ecx, %ecx
	cpuid
	shr $1, %ebx
	and $1, %ebx
	CHECK "tsc-adjust.cpuid", %rbx, $1
	movq $0, adj0
	movq $0, adj1
	movq $0, jumped
	test %rbx, %rbx
	jz 2f
	mov $MSR_TSC_ADJUST, %ecx
	rdmsr
	shl $32, %rdx
	or %rax, %rdx
	mov %rdx, adj0
	/* Adding 2^40 to IA32_TSC_ADJUST moves the TSC on by 2^40. */
	rdtsc
	shl $32, %rdx
	or %rax, %rdx
	mov %rdx, %rbx
	mov $MSR_TSC_ADJUST, %ecx
	xor %eax, %eax
	mov $0x100, %edx
	wrmsr
	rdtsc
	shl $32, %rdx
	or %rax, %rdx
	sub %rbx, %rdx
	shr $40, %rdx
	mov %rdx, jumped
	/* Writing TSC + 2^40 + 2^32 to the TSC adds about that much to
	 * IA32_TSC_ADJUST (the TSC moves on between the two). */
	rdtsc
	add $0x101, %edx
	mov $MSR_TSC, %ecx
	wrmsr
	mov $MSR_TSC_ADJUST, %ecx
	rdmsr
	shl $32, %rdx
	or %rax, %rdx
	shr $40, %rdx
	mov %rdx, adj1
	mov $MSR_TSC_ADJUST, %ecx
	xor %eax, %eax
	xor %edx, %edx
	wrmsr
2:	CHECK "tsc-adjust.initial", adj0, $0
	CHECK "tsc-adjust.write.tsc-moved-2^40", jumped, $1
	CHECK "tsc-adjust.tsc-write.adjust-over-2^41", adj1, $2

	/* IA32_MCG_CAP is read-only: WRMSR raises #GP(0). */
	mov $1, %eax
	cpuid
	shr $14, %edx
	and $1, %edx
	CHECK "mca.cpuid", %rdx, $1
	movq $0, vec_count + 13 * 8
	mov $MSR_MCG_CAP, %ecx
	TRY 3f
	rdmsr
3:	CHECK "mcg-cap.rdmsr.gp-count", vec_count+104, $0
	TRY 4f
	wrmsr
4:	CHECK "mcg-cap.wrmsr.gp-count", vec_count+104, $1
	movq $0, resume_rip

	pop %rbx
	ret

	.bss
	.balign 8
u_vec:   .quad 0
adj0:    .quad 0
adj1:    .quad 0
jumped:  .quad 0
scratch: .skip 16
