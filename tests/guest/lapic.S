/* The local APIC (SDM Vol. 3 chapter 10; xAPIC mode at 0xfee00000): the
 * timer in one-shot and periodic modes through the IDT with EOI (ISR set
 * in the handler, clear after EOI; TMCCT stops at 0 in one-shot mode),
 * TPR masking (a timer interrupt of a class <= TPR's stays in IRR until
 * TPR drops), CR8 mirroring TPR[7:4], self-IPIs through the ICR taken in
 * priority order, an NMI sent to the own APIC ID through the ICR, and
 * the PIT's IRQ 0 through I/O APIC pin 0 (the MP table's routing).
 * Run: tests/guest/run.sh lapic (expected output: lapic.expect). */
#include "rt.h"

#define APIC 0xfee00000
#define A_ID 0x20
#define A_VER 0x30
#define A_TPR 0x80
#define A_PPR 0xa0
#define A_EOI 0xb0
#define A_SVR 0xf0
#define A_ISR 0x100                     /* + 0x10 * (vector / 32) */
#define A_IRR 0x200
#define A_ICR_LO 0x300
#define A_ICR_HI 0x310
#define A_LVT_TIMER 0x320
#define A_TMICT 0x380
#define A_TMCCT 0x390
#define A_TDCR 0x3e0
#define SPIN 10000000                   /* bound on busy-waits */
#define IOAPIC 0xfec00000               /* IOREGSEL at 0, IOWIN at 0x10 */

/* WAIT_COUNT vector, n: halt with IF = 1 until vec_count[vector] >= n
 * (rt_sti_hlt: STI then HLT in its shadow). */
.macro WAIT_COUNT vector, n
1:	cli
	cmpq $\n, vec_count + \vector * 8
	jae 2f
	call rt_sti_hlt
	jmp 1b
2:
.endm

	.text
	.globl test_main
test_main:
	push %rbx
	push %r12
	push %r15
	mov $APIC, %r15d
	movl $0x1ff, A_SVR(%r15)        /* software-enabled, spurious 0xff */
	mov A_VER(%r15), %eax
	and $0xf0, %eax
	CHECK "version.integrated-apic", %rax, $0x10  /* 1XH (§10.4.8) */

	/* One-shot timer, divide by 1 (§10.5.4). */
	movq $h_timer, handlers + 0x50 * 8
	movl $0xb, A_TDCR(%r15)
	movl $0x50, A_LVT_TIMER(%r15)
	movl $100000, A_TMICT(%r15)
	WAIT_COUNT 0x50, 1
	CHECK "oneshot.count", vec_count+0x50*8, $1
	CHECK "oneshot.isr-bit-in-handler", isr_in_handler, $1
	mov A_ISR + 0x20(%r15), %eax
	bt $16, %eax
	setc %al
	movzbl %al, %eax
	CHECK "oneshot.isr-bit-after-eoi", %rax, $0
	mov A_TMCCT(%r15), %eax
	CHECK "oneshot.tmcct-after", %rax, $0
	sti
	mov $2000000, %ecx
1:	dec %ecx
	jnz 1b
	cli
	CHECK "oneshot.count-later", vec_count+0x50*8, $1

	/* Periodic timer: three interrupts, then masked and stopped. */
	movq $h_eoi, handlers + 0x51 * 8
	movl $(0x51 | 1 << 17), A_LVT_TIMER(%r15)
	movl $200000, A_TMICT(%r15)
	WAIT_COUNT 0x51, 3
	movl $(0x51 | 1 << 16), A_LVT_TIMER(%r15)
	movl $0, A_TMICT(%r15)
	mov vec_count + 0x51 * 8, %rax
	cmp $3, %rax
	setae %al
	movzbl %al, %eax
	CHECK "periodic.count-at-least-3", %rax, $1

	/* TPR 0x60 holds a vector-0x52 (class 5) interrupt in IRR; PPR is
	 * TPR; lowering TPR delivers it (§10.8.3.1). */
	movq $h_eoi, handlers + 0x52 * 8
	movl $0x60, A_TPR(%r15)
	movl $0x52, A_LVT_TIMER(%r15)
	movl $1000, A_TMICT(%r15)
	sti
	mov $SPIN, %ecx
1:	mov A_IRR + 0x20(%r15), %eax
	bt $18, %eax
	jc 2f
	dec %ecx
	jnz 1b
2:	cli
	setc %al
	movzbl %al, %eax
	CHECK "tpr-masked.irr-bit", %rax, $1
	CHECK "tpr-masked.count", vec_count+0x52*8, $0
	mov A_PPR(%r15), %eax
	CHECK "tpr-masked.ppr", %rax, $0x60
	movl $0, A_TPR(%r15)
	WAIT_COUNT 0x52, 1
	CHECK "tpr-lowered.count", vec_count+0x52*8, $1

	/* CR8 is TPR[7:4] (§10.8.6.1); CR8[63:4] are reserved: #GP(0). */
	mov $3, %eax
	mov %rax, %cr8
	mov A_TPR(%r15), %eax
	CHECK "cr8-write.tpr", %rax, $0x30
	movl $0x70, A_TPR(%r15)
	mov %cr8, %rax
	CHECK "tpr-write.cr8", %rax, $7
	mov $0x10, %eax
	movq $-1, last_vec
	TRY cr8_done
	mov %rax, %cr8
cr8_done:
	CHECK "cr8-bit4.vector", last_vec, $13
	CHECK "cr8-bit4.error", last_err, $0
	xor %eax, %eax
	mov %rax, %cr8

	/* A fixed self-IPI (ICR shorthand 01b, §10.6.1). */
	movq $h_eoi, handlers + 0x53 * 8
	movl $0, A_ICR_HI(%r15)
	movl $(0x40000 | 0x53), A_ICR_LO(%r15)
	WAIT_COUNT 0x53, 1
	CHECK "self-ipi.count", vec_count+0x53*8, $1

	/* Two pending with IF = 0: the higher vector first (§10.8.3). */
	movq $h_eoi, handlers + 0x54 * 8
	movq $h_eoi, handlers + 0x64 * 8
	movq $0, log_n
	movl $(0x40000 | 0x54), A_ICR_LO(%r15)
	movl $(0x40000 | 0x64), A_ICR_LO(%r15)
	WAIT_COUNT 0x54, 1
	WAIT_COUNT 0x64, 1
	CHECK "priority.first", log, $0x64
	CHECK "priority.second", log + 8, $0x54

	/* NMI to the own APIC ID, no shorthand (self is not valid with NMI,
	 * §10.6.1 Table 10-3): vector 2, whatever the TPR and IF. */
	movq $h_noop, handlers + 2 * 8
	mov A_ID(%r15), %eax
	and $0xff000000, %eax
	mov %eax, A_ICR_HI(%r15)
	movl $0x400, A_ICR_LO(%r15)     /* delivery mode 100b */
	mov $SPIN, %ecx
1:	cmpq $0, vec_count + 2 * 8
	jne 2f
	dec %ecx
	jnz 1b
2:	CHECK "nmi-ipi.count", vec_count+2*8, $1

	/* PIT channel 0 in mode 2 (rate generator, 1193 counts, about
	 * 1 ms; 8254 data sheet) on ISA IRQ 0 = I/O APIC pin 0: redirection
	 * entry 0 (registers 0x10, 0x11; 82093AA data sheet) = vector 0x60,
	 * fixed, physical, edge, unmasked, to our APIC ID. */
	movq $h_eoi, handlers + 0x60 * 8
	mov $IOAPIC, %ebx
	mov A_ID(%r15), %eax
	movl $0x11, (%rbx)
	mov %eax, 0x10(%rbx)
	movl $0x10, (%rbx)
	movl $0x60, 0x10(%rbx)
	mov $0x34, %al                  /* channel 0, lo/hi, mode 2 */
	out %al, $0x43
	mov $(1193 & 0xff), %al
	out %al, $0x40
	mov $(1193 >> 8), %al
	out %al, $0x40
	WAIT_COUNT 0x60, 2
	movl $0x10, (%rbx)
	movl $0x10060, 0x10(%rbx)       /* masked */
	mov vec_count + 0x60 * 8, %rax
	cmp $2, %rax
	setae %al
	movzbl %al, %eax
	CHECK "pit-ioapic-pin0.count-at-least-2", %rax, $1

	pop %r15
	pop %r12
	pop %rbx
	ret

/* The one-shot handler: is vector 0x50's ISR bit (ISR 2, bit 16) set? */
h_timer:
	mov $APIC, %eax
	mov A_ISR + 0x20(%rax), %eax
	shr $16, %eax
	and $1, %eax
	mov %rax, isr_in_handler
	jmp h_eoi

/* Log the vector, then EOI. */
h_eoi:
	mov F_VEC(%rdi), %rax
	mov log_n, %rcx
	mov %rax, log(,%rcx,8)
	inc %rcx
	and $7, %ecx
	mov %rcx, log_n
	mov $APIC, %eax
	movl $0, A_EOI(%rax)
h_noop:
	ret

	.bss
isr_in_handler: .quad 0
log_n: .quad 0
log: .skip 8 * 8
