/* The guest's own debug registers (SDM Vol. 3B "Debug Registers" and
 * "Debug Exceptions"): DR4/DR5 alias DR6/DR7 with CR4.DE = 0 and are
 * #UD with CR4.DE = 1; an instruction breakpoint is a fault (RIP of
 * the instruction, B0-B3 say which, RF in the frame lets the IRETQ
 * back run it; on Intel none right after MOV SS); data breakpoints are traps (RIP of the next
 * instruction), R/W = 01 on writes only, 11 on reads too, any byte
 * of the access in the LEN range; DR7.GD makes a MOV DR a fault with DR6.BD and
 * the #DB delivery clears GD; ICEBP (F1) is a trap setting no DR6
 * bit; a write of DR6 or DR7 bits 63:32 is #GP(0).  Also (SDM Vol. 3A
 * §6.15, Interrupt 12 and 13; Vol. 2A JMP): a non-canonical RSP- or
 * RBP-based address is #SS(0), any other #GP(0), and a near JMP to a
 * non-canonical target faults at the JMP.
 * Run: tests/guest/run.sh debug (expected output: debug.expect). */
#include "rt.h"

#define DR6_FIXED 0xffff0ff0
#define RF (1 << 16)

	.text
	.globl test_main
test_main:
	push %rbx
	movq $h_db, handlers + 1 * 8

	/* CR4.DE = 0: DR4 is DR6 (the fixed ones read as 1). */
	mov %cr4, %rax
	and $~8, %rax
	mov %rax, %cr4
	mov $0x4001, %eax
	mov %rax, %dr4
	mov %dr6, %rax
	CHECK "dr4.alias-dr6", %rax, $(DR6_FIXED|0x4001)
	xor %eax, %eax
	mov %rax, %dr6
	/* CR4.DE = 1: #UD. */
	mov %cr4, %rax
	or $8, %rax
	mov %rax, %cr4
	movq $0, vec_count+48
	TRY de_done
de_insn:
	mov %dr4, %rax
de_done:
	CHECK "dr4.cr4-de.ud", vec_count+48, $1
	CHECK_AT "dr4.cr4-de.rip-insn", last_rip, de_insn
	mov %cr4, %rax
	and $~8, %rax
	mov %rax, %cr4

	/* DR7 bits 63:32: #GP(0). */
	movabs $0x100000400, %rax
	TRY dr7_done
	mov %rax, %dr7
dr7_done:
	CHECK "dr7.high-bits.vector", last_vec, $13
	CHECK "dr7.high-bits.error", last_err, $0

	/* An instruction breakpoint through DR2 (L2, R/W 00, LEN 00). */
	movq $0, vec_count+8
	xor %eax, %eax
	mov %rax, %dr6
	mov $bp_insn, %eax
	mov %rax, %dr2
	mov $0x10, %eax
	mov %rax, %dr7
bp_insn:
	nop
	CHECK "ibp.count", vec_count+8, $1
	CHECK_AT "ibp.rip-insn", last_rip, bp_insn
	CHECK "ibp.dr6", db_dr6, $(DR6_FIXED|4)
	/* DR6.BS set by software stays; B1 (no match) is cleared. */
	mov $0x4002, %eax
	mov %rax, %dr6
	mov $bp_insn2, %eax
	mov %rax, %dr2
bp_insn2:
	nop
	CHECK "ibp.again.count", vec_count+8, $2
	CHECK "ibp.again.dr6", db_dr6, $(DR6_FIXED|0x4004)
	/* Not recognized after MOV SS on Intel (SDM Vol. 3A §6.8.3). */
	mov $bp_insn3, %eax
	mov %rax, %dr2
	mov %ss, %ax
	mov %ax, %ss
bp_insn3:
	nop
	CHECK "ibp.after-mov-ss.count", vec_count+8, $2

	/* A data breakpoint on writes through DR1 (L1, R/W 01, LEN 11:
	 * four bytes). */
	xor %eax, %eax
	mov %rax, %dr7
	mov %rax, %dr6
	movq $0, vec_count+8
	mov $var, %eax
	mov %rax, %dr1
	mov $0xd00004, %eax
	mov %rax, %dr7
	mov var, %eax                   /* a read: no #DB */
	CHECK "wbp.read.count", vec_count+8, $0
	movl $1, var
wbp_next:
	CHECK "wbp.write.count", vec_count+8, $1
	CHECK_AT "wbp.write.rip-next", last_rip, wbp_next
	CHECK "wbp.write.dr6", db_dr6, $(DR6_FIXED|2)
	movb $1, var + 3                /* inside the four bytes */
	CHECK "wbp.byte-inside.count", vec_count+8, $2
	movb $1, var + 4                /* past them */
	CHECK "wbp.byte-past.count", vec_count+8, $2
	/* R/W 11 (reads too), LEN 10 (eight bytes; family 6 model 15 has
	 * it, SDM Vol. 3B "Debug Control Register (DR7)"). */
	mov $var, %eax
	mov %rax, %dr1
	mov $0xb00004, %eax
	mov %rax, %dr7
	mov var + 7, %al
rbp_next:
	CHECK "rwbp.read.count", vec_count+8, $3
	CHECK_AT "rwbp.read.rip-next", last_rip, rbp_next
	xor %eax, %eax
	mov %rax, %dr7

	/* General detect: MOV DR with DR7.GD = 1 is a fault with DR6.BD;
	 * the delivery clears GD (the handler reads DR6). */
	xor %eax, %eax
	mov %rax, %dr6
	movq $0, vec_count+8
	mov $0x2000, %eax
	mov %rax, %dr7
gd_insn:
	mov %dr0, %rax
	CHECK "gd.count", vec_count+8, $1
	CHECK_AT "gd.rip-insn", last_rip, gd_insn
	CHECK "gd.dr6", db_dr6, $(DR6_FIXED|0x2000)
	mov %dr7, %rax
	CHECK "gd.dr7-after", %rax, $0x400

	/* ICEBP: a trap, no DR6 bit. */
	xor %eax, %eax
	mov %rax, %dr7
	mov %rax, %dr6
	movq $0, vec_count+8
	TRY icebp_next
	.byte 0xf1
icebp_next:
	movq $0, resume_rip
	CHECK "icebp.count", vec_count+8, $1
	CHECK_AT "icebp.rip-next", last_rip, icebp_next
	CHECK "icebp.dr6", db_dr6, $DR6_FIXED

	/* Non-canonical addresses. */
	movabs $0x8000000000000000, %rbx
	TRY nc_rax_done
	orq $0, (%rbx)
nc_rax_done:
	CHECK "noncanonical.rbx.vector", last_vec, $13
	TRY nc_rsp_done
	orq $0, (%rsp,%rbx,1)
nc_rsp_done:
	CHECK "noncanonical.rsp-based.vector", last_vec, $12
	CHECK "noncanonical.rsp-based.error", last_err, $0
	TRY nc_rbp_done
	orq $0, (%rbp,%rbx,1)
nc_rbp_done:
	CHECK "noncanonical.rbp-based.vector", last_vec, $12
	mov %rbx, nc_target
	TRY nc_jmp_done
nc_jmp:
	jmp *nc_target
nc_jmp_done:
	CHECK "noncanonical.jmp.vector", last_vec, $13
	CHECK_AT "noncanonical.jmp.rip-insn", last_rip, nc_jmp

	pop %rbx
	ret

/* #DB: record DR6, set RF in the frame (an instruction breakpoint's
 * IRETQ then runs the instruction). */
h_db:
	mov %dr6, %rax
	mov %rax, db_dr6
	orq $RF, F_RFLAGS(%rdi)
	ret

	.data
	.balign 8
var:       .quad 0
nc_target: .quad 0
db_dr6:    .quad 0
