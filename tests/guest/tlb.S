/* TLB maintenance (SDM Vol. 3 §4.10.4): after a PTE changes, INVLPG, a
 * MOV to CR3 (non-global pages) and toggling CR4.PGE (global pages too)
 * must make the next access use the new translation; INVLPG of any
 * address in a 2-MiB page flushes the whole page.  A processor may or
 * may not keep a stale entry before that (§4.10.4.3), so no check relies
 * on a stale translation being used.  Also MOV to CR0/CR4 read-back and
 * #GP(0) for reserved bits (SDM Vol. 2B MOV to/from control registers).
 * Run: tests/guest/run.sh tlb (expected output: tlb.expect). */
#include "rt.h"

#define PAGE_A (pages + 8 * 0x1000)
#define PAGE_B (pages + 9 * 0x1000)
#define VA WIN_PAGE(10)
#define BIG_VA 0x20000000               /* pd_low[256], a 2-MiB page */
#define BIG_PA1 0x200000                /* 2 MiB: the program itself */
#define BIG_PA2 0x1000000               /* 16 MiB: free RAM */

/* SETPTE value: point window page 10 at it. */
.macro SETPTE pa, flags
	mov $(\pa), %eax
	or $(\flags), %rax
	mov %rax, pt_win + 10 * 8
.endm

	.text
	.globl test_main
test_main:
	movq $0xaaaa, PAGE_A
	movq $0xbbbb, PAGE_B

	SETPTE PAGE_A, PTE_P|PTE_W
	invlpg VA
	CHECK "first-access", VA, $0xaaaa
	SETPTE PAGE_B, PTE_P|PTE_W
	invlpg VA
	CHECK "invlpg.new-translation", VA, $0xbbbb
	SETPTE PAGE_A, PTE_P|PTE_W
	mov %cr3, %rax
	mov %rax, %cr3
	CHECK "cr3-write.new-translation", VA, $0xaaaa
	mov %cr3, %rax
	sub $pml4, %rax
	CHECK "cr3.read-back-minus-pml4", %rax, $0

	/* Global pages: CR4.PGE = 1 and PTE.G = 1 (§4.10.2.4). */
	mov %cr4, %rax
	bts $7, %rax
	mov %rax, %cr4
	mov %cr4, %rax
	and $0xa0, %eax
	CHECK "cr4.read-back-pge-pae", %rax, $0xa0
	SETPTE PAGE_B, PTE_P|PTE_W|PTE_G
	invlpg VA
	CHECK "global.invlpg.new-translation", VA, $0xbbbb
	SETPTE PAGE_A, PTE_P|PTE_W|PTE_G
	mov %cr4, %rax
	btr $7, %rax
	mov %rax, %cr4
	bts $7, %rax
	mov %rax, %cr4
	CHECK "global.pge-toggle.new-translation", VA, $0xaaaa
	SETPTE PAGE_B, PTE_P|PTE_W|PTE_G
	invlpg VA
	CHECK "global.invlpg-again.new-translation", VA, $0xbbbb
	mov %cr4, %rax
	btr $7, %rax
	mov %rax, %cr4

	/* A 2-MiB page, flushed by INVLPG of another 4-KiB part of it. */
	movq $0xcccc, BIG_PA2 + 0x8000
	movq $0x200000 + PTE_P + PTE_W + 0x80, pd_low + 256 * 8
	invlpg BIG_VA
	mov $(BIG_VA + PAGE_A - BIG_PA1), %eax
	mov (%rax), %rbx
	CHECK "big-page.first-access", %rbx, $0xaaaa
	movq $BIG_PA2 + PTE_P + PTE_W + 0x80, pd_low + 256 * 8
	invlpg BIG_VA + 0x1ff000
	CHECK "big-page.invlpg-other-4k.new-translation", BIG_VA + 0x8000, $0xcccc

	/* CR0.WP read-back. */
	mov %cr0, %rax
	bts $16, %rax
	mov %rax, %cr0
	mov %cr0, %rax
	shr $16, %rax
	and $1, %eax
	CHECK "cr0.read-back-wp", %rax, $1

	/* Reserved bits: CR4[63:32] and CR0[63:32] are #GP(0) in 64-bit
	 * mode, and the register keeps its value. */
	mov %cr4, %rbx
	mov %rbx, %rax
	bts $63, %rax
	movq $-1, last_vec
	TRY cr4_done
	mov %rax, %cr4
cr4_done:
	CHECK "cr4-bit63.vector", last_vec, $13
	CHECK "cr4-bit63.error", last_err, $0
	mov %cr4, %rax
	sub %rbx, %rax
	CHECK "cr4-bit63.unchanged", %rax, $0
	mov %cr0, %rbx
	mov %rbx, %rax
	bts $32, %rax
	movq $-1, last_vec
	TRY cr0_done
	mov %rax, %cr0
cr0_done:
	CHECK "cr0-bit32.vector", last_vec, $13
	CHECK "cr0-bit32.error", last_err, $0
	ret
