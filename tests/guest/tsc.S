/* The TSC as a source of timing jitter, measured the way Linux 6.1's
 * jitter-entropy RNG does at start-up (crypto/jitterentropy.c,
 * jent_entropy_init()): 1124 times, read the TSC, run a fixed piece of
 * code whose instruction count does not depend on the data, read the
 * TSC again; the first 100 deltas warm up.  Linux rejects the timer
 * (error 9, JENT_EHEALTH, or 8, JENT_ESTUCK) when
 *   - 30 deltas in a row are "stuck": the delta, its change from the
 *     previous delta, or the change of that change is 0 (the repetition
 *     count test, JENT_RCT_CUTOFF);
 *   - more than 90% of them are stuck;
 *   - one delta value fills 325 of a window of 512 (the adaptive
 *     proportion test, JENT_APT_CUTOFF; the window starts at its first
 *     delta and counts the later ones equal to it);
 *   - more than 90% of the deltas are multiples of 100 (ECOARSETIME);
 *   - the TSC goes backwards more than 3 times (ENOMONOTONIC).
 * Each check prints 1 when the TSC passes with the same margin as Linux
 * (backwards: none at all).  A clock that is the retired-instruction
 * count with no jitter gives the same delta every time: every reading
 * stuck.  Also the rate: the TSC over 10 ms of PIT channel 2 (mode 0,
 * 11932 ticks of 1.193182 MHz, OUT2 on port 0x61 bit 5; 8254 data sheet)
 * within 1% of the frequency CPUID leaf 0x15 gives (crystal Hz * EBX /
 * EAX; SDM Vol. 2A CPUID), or 1 when the CPU has no leaf 0x15.
 * Run: tests/guest/run.sh tsc (expected output: tsc.expect). */
#include "rt.h"

#define LOOPS 1124                      /* TESTLOOPCOUNT + CLEARCACHE */
#define WARMUP 100                      /* CLEARCACHE */
#define APT_WINDOW 512
#define PIT_COUNT 11932                 /* 10.0 ms */
#define SPIN 100000000                  /* bound on the OUT2 poll */

/* TSC: rax = the time stamp counter (clobbers rdx). */
.macro TSC
	rdtsc
	shl $32, %rdx
	or %rdx, %rax
.endm

	.text
	.globl test_main
test_main:
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	xor %r12d, %r12d                /* last delta */
	xor %r13d, %r13d                /* last change of delta */
	xor %r14d, %r14d                /* measurement number */
	xor %r15d, %r15d                /* current run of stuck ones */
measure:
	TSC
	mov %rax, %rbx
	/* The measured code: 64 rounds of multiply and rotate. */
	mov $64, %ecx
	mov $0x9e3779b9, %r8d
1:	imul $0x6b43a9b5, %r8, %r8
	rol $13, %r8
	dec %ecx
	jnz 1b
	mov %r8, sink
	TSC
	cmp %rbx, %rax
	ja 2f
	incq backwards
2:	sub %rbx, %rax                  /* delta */
	mov %rax, %r9
	sub %r12, %r9                   /* its change */
	mov %r9, %r10
	sub %r13, %r10                  /* the change of the change */
	mov %rax, %r12
	mov %r9, %r13
	xor %r11d, %r11d                /* stuck? */
	test %rax, %rax
	setz %dl
	or %dl, %r11b
	test %r9, %r9
	setz %dl
	or %dl, %r11b
	test %r10, %r10
	setz %dl
	or %dl, %r11b

	/* The APT window, over every delta as jent_apt_insert() does. */
	cmpq $0, apt_n
	jne 3f
	mov %rax, apt_base
	jmp 4f
3:	cmp apt_base, %rax
	jne 4f
	incq apt_count
	mov apt_count, %rdx
	cmp apt_max, %rdx
	jbe 4f
	mov %rdx, apt_max
4:	incq apt_n
	cmpq $APT_WINDOW, apt_n
	jb 5f
	movq $0, apt_n
	movq $0, apt_count

5:	cmp $WARMUP, %r14
	jb 7f
	test %r11, %r11
	jz 6f
	incq stuck
	inc %r15
	cmp run_max, %r15
	jbe 8f
	mov %r15, run_max
	jmp 8f
6:	xor %r15d, %r15d
8:	xor %edx, %edx                  /* a multiple of 100? */
	mov $100, %ecx
	div %rcx
	test %rdx, %rdx
	jnz 7f
	incq mod100
7:	inc %r14
	cmp $LOOPS, %r14
	jb measure

	CHECK "backwards", backwards, $0
	mov run_max, %rax
	cmp $30, %rax
	setb %al
	movzbl %al, %eax
	CHECK "stuck-run-below-30", %rax, $1
	mov stuck, %rax
	cmp $((LOOPS - WARMUP) * 9 / 10), %rax
	setb %al
	movzbl %al, %eax
	CHECK "stuck-below-90-percent", %rax, $1
	mov apt_max, %rax
	cmp $325, %rax
	setb %al
	movzbl %al, %eax
	CHECK "apt-count-below-325", %rax, $1
	mov mod100, %rax
	cmp $((LOOPS - WARMUP) * 9 / 10), %rax
	setb %al
	movzbl %al, %eax
	CHECK "multiples-of-100-below-90-percent", %rax, $1

	call rate
	CHECK "rate-within-1-percent-of-cpuid-15", %rax, $1

	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	ret

/* rate: rax = 1 when the TSC ticks over PIT_COUNT PIT ticks are within
 * 1% of CPUID leaf 0x15's frequency (or there is no leaf 0x15), else 0. */
rate:
	push %rbx
	push %r12
	xor %eax, %eax
	cpuid
	cmp $0x15, %eax
	jb no_leaf
	mov $0x15, %eax
	xor %ecx, %ecx
	cpuid
	test %eax, %eax
	jz no_leaf
	test %ebx, %ebx
	jz no_leaf
	test %ecx, %ecx
	jz no_leaf
	/* expected = crystal * EBX / EAX * PIT_COUNT / 1193182 */
	mov %eax, %r8d
	mov %ecx, %eax
	mul %rbx
	div %r8
	mov $PIT_COUNT, %ecx
	mul %rcx
	mov $1193182, %ecx
	div %rcx
	mov %rax, %r12

	in $0x61, %al                   /* gate 2 low, speaker off */
	and $0xfc, %al
	out %al, $0x61
	mov $0xb0, %al                  /* channel 2, lo/hi, mode 0 */
	out %al, $0x43
	mov $(PIT_COUNT & 0xff), %al
	out %al, $0x42
	mov $(PIT_COUNT >> 8), %al
	out %al, $0x42
	in $0x61, %al
	or $1, %al
	mov %eax, %ebx
	TSC
	mov %rax, %r8
	mov %ebx, %eax
	out %al, $0x61                  /* gate high: count */
	mov $SPIN, %ecx
1:	in $0x61, %al
	test $0x20, %al
	jnz 2f
	dec %ecx
	jnz 1b
2:	TSC
	sub %r8, %rax                   /* |ticks - expected| * 100 */
	sub %r12, %rax
	jns 3f
	neg %rax
3:	imul $100, %rax, %rax
	cmp %r12, %rax
	setb %al
	movzbl %al, %eax
	jmp 4f
no_leaf:
	mov $1, %eax
4:	pop %r12
	pop %rbx
	ret

	.data
	.balign 8
sink:      .quad 0
backwards: .quad 0
stuck:     .quad 0
run_max:   .quad 0
mod100:    .quad 0
apt_base:  .quad 0
apt_n:     .quad 0
apt_count: .quad 0
apt_max:   .quad 0
