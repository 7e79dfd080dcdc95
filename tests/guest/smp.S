/* SMP start-up and IPIs (SDM Vol. 3 §8.4 "Multiple-Processor (MP)
 * Initialization", §10.6 "Issuing Interprocessor Interrupts"): the BSP
 * wakes the APs with INIT and two start-up IPIs, the APs leave real mode
 * at the start-up vector's page, and IPIs and each AP's APIC timer reach
 * the processors they name.
 *
 * rax loads it as a flat binary at 0x8000 with 4 vCPUs (smp.opts), on
 * both engines.  The BSP, in 32-bit protected mode with interrupts
 * off:
 *   1. sends INIT, then start-up with vector 0x09, to all but itself
 *      (shorthand 11b), then a second start-up: an AP that has left the
 *      wait-for-SIPI state ignores it (§8.4.4.1), so each AP starts
 *      once;
 *   2. waits for the three APs to count themselves in; each sets the
 *      bit of its APIC ID (§10.4.6) in ids; AP 1 first rewrites the
 *      immediate of a function the BSP ran, and the BSP then runs the
 *      new code (the interpreter's decoded code is shared);
 *   3. sends a fixed IPI, vector 0x40, to physical APIC ID 2, then one
 *      to all but itself: APIC 2 takes two, APICs 1 and 3 one each;
 *   4. waits for each AP's one-shot APIC timer (vector 0x41).
 * Each AP runs from 0900:0000 in real mode (CS = vector << 8, IP = 0:
 * §10.6.1), enters protected mode, enables its APIC, arms its timer and
 * halts with interrupts on.  Each line is checked here against the
 * value the SDM gives; smp.expect holds them.
 * Run: tests/guest/run.sh emulator smp (or kvm). */

#define LOAD 0x8000          /* smp.opts: --flat 0x8000 */
#define AP_START 0x9000      /* start-up vector 0x09 */
#define APIC 0xfee00000
#define APIC_ID (APIC + 0x20)
#define APIC_EOI (APIC + 0xb0)
#define APIC_SVR (APIC + 0xf0)
#define APIC_ICR_LO (APIC + 0x300)
#define APIC_ICR_HI (APIC + 0x310)
#define APIC_LVT_TIMER (APIC + 0x320)
#define APIC_TMICT (APIC + 0x380)
#define APIC_TDCR (APIC + 0x3e0)
#define COM1 0x3f8
#define STACKS 0x7000        /* the BSP's; AP n's is n KiB below */
#define SPIN 20000000        /* bound of each wait loop */

	.code16
	.text
	.globl _start
_start:
	cli
	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %ss
	movw $STACKS, %sp
	lgdtl gdtr
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x08, $bsp32

	.code32
bsp32:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl $STACKS, %esp
	movl $0x1ff, APIC_SVR            /* software-enable, spurious 0xff */

	call patchme                     /* decoded now, returns 1 */

	movl $msg_id, %esi               /* §10.4.6: ID in bits 31:24 */
	movl APIC_ID, %eax
	shrl $24, %eax
	call put_hex_line

	/* INIT, start-up, start-up to all excluding self (§8.4.4.1). */
	movl $0x000c4500, APIC_ICR_LO    /* INIT, assert, level */
	movl $0x000c4600 + (AP_START >> 12), APIC_ICR_LO
	movl $0x000c4600 + (AP_START >> 12), APIC_ICR_LO

	movl $SPIN, %ecx
1:	pause
	cmpl $3, count
	je 2f
	loop 1b
2:	movl $msg_started, %esi
	movl count, %eax
	call put_hex_line
	movl $msg_ids, %esi
	movl ids, %eax
	call put_hex_line
	/* AP 1 rewrote patchme's immediate: this vCPU runs the new code
	 * (one decode cache for all: a store by any kills the old). */
	call patchme
	movl $msg_smc, %esi
	call put_hex_line

	/* A fixed IPI to APIC 2 (physical destination, §10.6.2.1). */
	movl $2 << 24, APIC_ICR_HI
	movl $0x00004040, APIC_ICR_LO
	movl $SPIN, %ecx
1:	pause
	cmpl $1, ipis + 8
	je 2f
	loop 1b
2:	movl $msg_ipi2, %esi
	movl $ipis, %ebx
	call put_by_apic

	/* All excluding self. */
	movl $0x000c4040, APIC_ICR_LO
	movl $SPIN, %ecx
1:	pause
	movl ipis + 4, %eax
	addl ipis + 8, %eax
	addl ipis + 12, %eax
	cmpl $4, %eax
	je 2f
	loop 1b
2:	movl $msg_ipiall, %esi
	movl $ipis, %ebx
	call put_by_apic

	/* Each AP's own timer. */
	movl $SPIN, %ecx
1:	pause
	movl timers + 4, %eax
	addl timers + 8, %eax
	addl timers + 12, %eax
	cmpl $3, %eax
	je 2f
	loop 1b
2:	movl $msg_timers, %esi
	movl $timers, %ebx
	call put_by_apic

	movl $msg_end, %esi
	call puts
	movb $0, %al                     /* isa-debug-exit: rax status 1 */
	outb %al, $0xf4
	hlt

/* Prints the string at esi, then eax in hex (no leading zeros), then a
 * newline. */
put_hex_line:
	pushl %eax
	call puts
	popl %eax
	movl $8, %ecx
	xorl %edx, %edx                  /* a digit printed yet */
1:	roll $4, %eax
	movl %eax, %ebx
	andl $15, %ebx
	orl %ebx, %edx
	jnz 2f
	cmpl $1, %ecx
	jne 3f
2:	pushl %eax
	movb hexdig(%ebx), %al
	call putc
	popl %eax
	movl $1, %edx
3:	loop 1b
	movb $'\n', %al
	call putc
	ret

/* Prints the string at esi, then the counts of APICs 1, 2 and 3 in the
 * array at ebx (one decimal digit each), then a newline. */
put_by_apic:
	call puts
	movl $1, %edi
1:	movb (%ebx, %edi, 4), %al
	addb $'0', %al
	call putc
	movb $' ', %al
	cmpl $3, %edi
	jne 2f
	movb $'\n', %al
2:	call putc
	incl %edi
	cmpl $3, %edi
	jbe 1b
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
	pushl %eax
	movw $COM1 + 5, %dx
1:	inb %dx, %al
	testb $0x20, %al
	jz 1b
	popl %eax
	movw $COM1, %dx
	outb %al, %dx
	ret

/* Returns 1 in eax, or what AP 1 wrote over the immediate. */
patchme:
	movl $1, %eax
	ret

/* The APs' interrupt handlers: count by APIC ID, EOI. */
ipi_isr:
	pushl %eax
	movl APIC_ID, %eax
	shrl $24, %eax
	lock incl ipis(, %eax, 4)
	movl $0, APIC_EOI
	popl %eax
	iret

timer_isr:
	pushl %eax
	movl APIC_ID, %eax
	shrl $24, %eax
	lock incl timers(, %eax, 4)
	movl $0, APIC_EOI
	popl %eax
	iret

/* The AP in protected mode: its stack by APIC ID, the IDT, its APIC
 * enabled with a one-shot timer, counted in, then halted with
 * interrupts on. */
ap32:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl APIC_ID, %ebx
	shrl $24, %ebx
	movl %ebx, %ecx
	shll $10, %ecx
	movl $STACKS, %esp
	subl %ecx, %esp
	lidtl idtr
	movl $0x1ff, APIC_SVR
	movl $0xb, APIC_TDCR             /* divide by 1 */
	movl $0x41, APIC_LVT_TIMER       /* one-shot, vector 0x41 */
	movl %ebx, %eax
	imull $1000, %eax
	addl $20000, %eax
	movl %eax, APIC_TMICT
	cmpl $1, %ebx                    /* AP 1: rewrite patchme */
	jne 1f
	movl $2, patchme + 1
1:	lock btsl %ebx, ids
	lock incl count
	sti
1:	hlt
	jmp 1b

	.balign 8                        /* data: in the image too */
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff         /* 0x08: 32-bit code, flat */
	.quad 0x00cf92000000ffff         /* 0x10: data, flat */
gdtr:
	.word gdtr - gdt - 1
	.long gdt
	.balign 8
idt:
	.fill 0x40, 8, 0
	.word ipi_isr, 0x08, 0x8e00, 0   /* 0x40: interrupt gate */
	.word timer_isr, 0x08, 0x8e00, 0 /* 0x41 */
idtr:
	.word idtr - idt - 1
	.long idt
	.balign 4
count:	.long 0
ids:	.long 0
ipis:	.long 0, 0, 0, 0
timers:	.long 0, 0, 0, 0
hexdig:	.ascii "0123456789abcdef"
msg_id:	.asciz "smp: bsp apic id "
msg_started:	.asciz "smp: aps started "
msg_ids:	.asciz "smp: ap apic id bits "
msg_smc:	.asciz "smp: code written by apic 1, run by apic 0: "
msg_ipi2:	.asciz "smp: fixed ipi to apic 2, taken by apics 1 2 3: "
msg_ipiall:	.asciz "smp: then all excluding self, taken by apics 1 2 3: "
msg_timers:	.asciz "smp: ap timer interrupts by apics 1 2 3: "
msg_end:	.asciz "smp: done\n"

/* The start-up page: CS = 0x0900, IP = 0 (§10.6.1). */
	.org AP_START - LOAD
	.code16
ap16:
	cli
	xorw %ax, %ax
	movw %ax, %ds
	lgdtl gdtr
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x08, $ap32
