/* Self-modifying code (SDM Vol. 3 §11.6): a store to an instruction that
 * has run before must be seen the next time it runs, whether the store
 * goes through the same linear address, through another mapping of the
 * same physical page, or crosses from a data page into the code page;
 * a store to the very next instruction is seen by it (§11.6: the
 * prefetch queue is checked by linear address).  An instruction that
 * crosses a page boundary follows stores to either page, a new
 * translation of its second page after INVLPG, and takes a #PF with CR2
 * = the second page when that page is absent.  Every modified
 * instruction is reached by a CALL after the store, as §11.6 asks of
 * portable code.  The interpreter caches decoded instructions per
 * physical page (src/cpu/block.c), so each check names a way that cache
 * could serve a stale instruction.
 * Run: tests/guest/run.sh smc (expected output: smc.expect). */
#include "rt.h"

#define P0 (pages + 0 * 0x1000)         /* physical pages */
#define P1 (pages + 1 * 0x1000)
#define P2 (pages + 2 * 0x1000)
#define P3 (pages + 3 * 0x1000)
#define P4 (pages + 4 * 0x1000)
#define A WIN_PAGE(20)                  /* -> P0 */
#define B WIN_PAGE(21)                  /* -> P1, then P2, then absent */
#define B_ALIAS WIN_PAGE(30)            /* -> P1 */
#define C WIN_PAGE(22)                  /* -> P3 */
#define D WIN_PAGE(23)                  /* -> P4 */
#define SPLIT (B - 3)                   /* b8 imm32 c3: 3 bytes in A */

/* MAP page, pa: window page `page` -> pa, present and writable. */
.macro MAP page, pa
	mov $(\pa), %eax
	or $(PTE_P|PTE_W), %rax
	mov %rax, pt_win + \page * 8
	invlpg WIN_PAGE(\page)
.endm

/* RUN name, address, expected: call the code at address, check eax. */
.macro RUN name, addr, exp
	mov $(\addr), %eax
	call *%rax
	CHECK "\name", %rax, $(\exp)
.endm

	.text
	.globl test_main
test_main:
	MAP 20, P0
	MAP 21, P1
	MAP 30, P1
	MAP 22, P3
	MAP 23, P4

	/* mov $0x11, %eax; ret at A + 0x100, run, patch the immediate. */
	movl $0x000011b8, A + 0x100
	movw $0xc300, A + 0x104
	RUN "same-page.first", A + 0x100, 0x11
	RUN "same-page.again", A + 0x100, 0x11
	movb $0x22, A + 0x101
	RUN "same-page.patched-imm", A + 0x100, 0x22

	/* A store into the instruction that follows it:
	 *   movb $0x33, 1f+1(%rip); 1: mov $0, %eax; ret */
	lea next_insn(%rip), %rsi
	mov $A + 0x200, %rdi
	mov $(next_insn_end - next_insn), %ecx
	rep movsb
	RUN "next-instruction.patched", A + 0x200, 0x33
	movb $0, A + 0x200 + (next_mov - next_insn) + 1 /* 0 again */
	RUN "next-instruction.again", A + 0x200, 0x33

	/* mov $0x44332211, %eax across A|B (b8 11 22 | 33 44 c3). */
	movb $0xb8, SPLIT
	movw $0x2211, SPLIT + 1
	movw $0x4433, B
	movb $0xc3, B + 2
	RUN "split.first", SPLIT, 0x44332211
	RUN "split.again", SPLIT, 0x44332211
	movb $0x55, B + 1
	RUN "split.store-second-page", SPLIT, 0x55332211
	movb $0x66, B_ALIAS
	RUN "split.store-second-page-alias", SPLIT, 0x55662211
	movb $0x77, SPLIT + 1
	RUN "split.store-first-page", SPLIT, 0x55662277
	/* B -> P2, which holds other bytes. */
	movw $0xaa99, P2
	movb $0xc3, P2 + 2
	MAP 21, P2
	RUN "split.second-page-remapped", SPLIT, 0xaa992277
	movb $0xbb, P2 + 1
	RUN "split.store-remapped-page", SPLIT, 0xbb992277
	/* B absent: the fetch of its second part faults. */
	movq $0, pt_win + 21 * 8
	invlpg B
	movq $-1, last_vec
	mov %rsp, %rbx                  /* the fault leaves CALL's push */
	TRY split_fault_done
	mov $SPLIT, %eax
	call *%rax
split_fault_done:
	mov %rbx, %rsp
	CHECK "split.absent.vector", last_vec, $14
	CHECK_AT "split.absent.cr2", last_cr2, B
	CHECK_AT "split.absent.rip", last_rip, SPLIT
	mov last_err, %rax
	and $7, %eax
	CHECK "split.absent.error-p-w-u", %rax, $0
	MAP 21, P2
	RUN "split.present-again", SPLIT, 0xbb992277

	/* mov $0x1, %eax; ret at D, then a 4-byte store from C into D
	 * rewrites its first two bytes (b8 05: mov $5, %eax). */
	movl $0x000001b8, D
	movw $0xc300, D + 4
	RUN "store-across-into-code.first", D, 1
	movl $0x05b8ffff, D - 2
	RUN "store-across-into-code.patched", D, 5
	ret

	.section .rodata
next_insn:
	movb $0x33, next_mov + 1(%rip)
next_mov:
	mov $0, %eax
	ret
next_insn_end:
