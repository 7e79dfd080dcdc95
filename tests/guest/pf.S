/* Page faults (SDM Vol. 3 §4.7, Figure 4-12): the error-code bits P, W/R,
 * U/S, RSVD and I/D (with EFER.NXE), CR2 = the faulting linear address,
 * the saved RIP = the faulting instruction; CR0.WP on supervisor writes
 * to read-only pages; the accessed and dirty flags the walk sets (§4.8).
 * Window page i maps pages + i * 4096 with the flags a check gives it.
 * Run: tests/guest/run.sh pf (expected output: pf.expect). */
#include "rt.h"

/* PROBE name, how, page, offset, flags: map window page `page` with
 * `flags`, access WIN_PAGE(page) + offset with k_read/k_write/k_fetch
 * (CPL 0) or u_read/u_write/u_fetch (CPL 3), then print name.vector,
 * name.error and name.cr2-addr (CR2 minus the address).  Vector and
 * error read 0xffffffffffffffff when nothing faulted. */
.macro PROBE name, how, page, offset, flags
	mov $\page, %edi
	movabs $(\flags), %rsi
	call setpte
	mov $(WIN_PAGE(\page) + \offset), %eax
	mov %rax, u_addr
	movq $-1, u_vec
	movq $-1, u_err
	movq $0, u_cr2
	lea \how(%rip), %rdi
	call probe
	CHECK "\name\().vector", u_vec, $14
	mov u_cr2, %rax
	sub u_addr, %rax
	CHECK "\name\().cr2-addr", %rax, $0
.endm

	.text
	.globl test_main
test_main:
	push %rbx
	push %r12

	/* Not present: P = 0; W/R = 1 on writes; RIP of the access. */
	PROBE "read-absent", k_read, 0, 0x123, 0
	CHECK "read-absent.error", u_err, $0
	CHECK_AT "read-absent.rip-insn", last_rip, k_read_insn
	PROBE "write-absent", k_write, 0, 0xff8, 0
	CHECK "write-absent.error", u_err, $2

	/* Supervisor write to a read-only page: allowed with CR0.WP = 0,
	 * a protection fault (P | W) with CR0.WP = 1 (§4.6.1). */
	mov %cr0, %rax
	btr $16, %rax
	mov %rax, %cr0
	mov $1, %edi
	mov $PTE_P, %esi
	call setpte
	movq $0x1234, u_val
	mov $WIN_PAGE(1) + 8, %edi
	call k_write
	CHECK "write-ro-wp0.vector", last_vec, $-1
	CHECK "write-ro-wp0.memory", pages + 0x1000 + 8, $0x1234
	mov %cr0, %rax
	bts $16, %rax
	mov %rax, %cr0
	movq $0x5678, u_val
	PROBE "write-ro-wp1", k_write, 1, 8, PTE_P
	CHECK "write-ro-wp1.error", u_err, $3
	CHECK "write-ro-wp1.memory", pages + 0x1000 + 8, $0x1234

	/* CPL 3 on a supervisor page: P | U (| W); CPL 3 writes to a
	 * read-only user page: P | W | U, whatever CR0.WP (§4.6.1). */
	PROBE "user-read-supervisor", u_read, 2, 0x10, PTE_P|PTE_W
	CHECK "user-read-supervisor.error", u_err, $5
	PROBE "user-write-supervisor", u_write, 2, 0x10, PTE_P|PTE_W
	CHECK "user-write-supervisor.error", u_err, $7
	PROBE "user-write-ro", u_write, 3, 0x20, PTE_P|PTE_U
	CHECK "user-write-ro.error", u_err, $7
	PROBE "user-read-absent", u_read, 0, 0x30, 0
	CHECK "user-read-absent.error", u_err, $4

	/* Rights combine over all levels (§4.6.1): a supervisor PDE makes
	 * a user PTE supervisor; a read-only PDE makes a writable PTE
	 * read-only (for CPL 0 too with CR0.WP = 1). */
	andq $~PTE_U, pd_win
	PROBE "user-read-pde-supervisor", u_read, 3, 0x28, PTE_P|PTE_U
	CHECK "user-read-pde-supervisor.error", u_err, $5
	orq $PTE_U, pd_win
	andq $~PTE_W, pd_win
	PROBE "write-pde-readonly-wp1", k_write, 2, 0x38, PTE_P|PTE_W
	CHECK "write-pde-readonly-wp1.error", u_err, $3
	orq $PTE_W, pd_win

	/* A reserved bit (bit 51: above MAXPHYADDR, which is at most 52 and
	 * 40 on both engines' CPUID) in a present PTE: P | RSVD (§4.7). */
	PROBE "read-reserved-bit", k_read, 4, 0x40, PTE_P|PTE_W|(1<<51)
	CHECK "read-reserved-bit.error", u_err, $9

	/* Instruction fetches with EFER.NXE = 1 report I/D (§4.7): from an
	 * XD page (P | I/D), an absent page (I/D), and a supervisor page at
	 * CPL 3 (P | U | I/D).  The saved RIP is the target. */
	mov $0xc0000080, %ecx
	rdmsr
	bts $11, %eax
	wrmsr
	movb $0xc3, pages + 5 * 0x1000 + 0x50  /* ret */
	movb $0xc3, pages + 6 * 0x1000 + 0x60
	PROBE "fetch-xd", k_fetch, 5, 0x50, PTE_P|PTE_W|PTE_XD
	CHECK "fetch-xd.error", u_err, $0x11
	mov last_rip, %rax
	sub u_addr, %rax
	CHECK "fetch-xd.rip-target", %rax, $0
	PROBE "fetch-absent", k_fetch, 0, 0x70, 0
	CHECK "fetch-absent.error", u_err, $0x10
	PROBE "user-fetch-supervisor", u_fetch, 6, 0x60, PTE_P|PTE_W
	CHECK "user-fetch-supervisor.error", u_err, $0x15

	/* The walk sets A in every entry it uses and D in the final one on
	 * a write (§4.8). */
	mov $7, %edi
	mov $(PTE_P | PTE_W), %esi
	call setpte
	andq $~PTE_A, pd_win
	invlpg WIN_PAGE(7)
	mov WIN_PAGE(7), %rax
	mov pt_win + 7 * 8, %rax
	and $(PTE_A | PTE_D), %eax
	CHECK "read.pte-a-d", %rax, $PTE_A
	mov pd_win, %rax
	and $PTE_A, %eax
	CHECK "read.pde-a", %rax, $PTE_A
	movq $1, WIN_PAGE(7)
	mov pt_win + 7 * 8, %rax
	and $(PTE_A | PTE_D), %eax
	CHECK "write.pte-a-d", %rax, $(PTE_A | PTE_D)

	pop %r12
	pop %rbx
	ret

/* setpte(rdi = window page, rsi = flags): map it to pages + rdi * 4096
 * and flush its translation. */
setpte:
	mov %rdi, %rax
	shl $12, %rax
	add $pages, %rax
	or %rsi, %rax
	mov %rax, pt_win(,%rdi,8)
	shl $12, %rdi
	add $WIN, %rdi
	invlpg (%rdi)
	ret

/* probe(rdi = k_* or u_*): run it on u_addr, at CPL 3 for u_*. */
probe:
	cmp $u_read, %rdi
	jae 1f
	mov %rdi, %rcx
	mov u_addr, %rdi
	jmp *%rcx
1:	mov $2, %esi
	jmp to_user

/* k_read/k_write/k_fetch(rdi = address): the access at CPL 0; last_vec
 * is -1 unless it faulted; then copy to u_vec, u_err, u_cr2. */
k_read:
	movq $-1, last_vec
	TRY k_done
k_read_insn:
	mov (%rdi), %rax
	jmp k_done
k_write:
	movq $-1, last_vec
	mov u_val, %rax
	TRY k_done
	mov %rax, (%rdi)
	jmp k_done
k_fetch:
	movq $-1, last_vec
	TRY k_done
	jmp *%rdi
k_done:
	mov last_vec, %rax
	mov %rax, u_vec
	mov last_err, %rax
	mov %rax, u_err
	mov last_cr2, %rax
	mov %rax, u_cr2
	ret

/* The same at CPL 3 (to_user's functions): the address is u_addr. */
u_read:
	movq $-1, last_vec
	mov u_addr, %rdi
	TRY u_done
	mov (%rdi), %rax
	jmp u_done
u_write:
	movq $-1, last_vec
	mov u_addr, %rdi
	TRY u_done
	mov %rax, (%rdi)
	jmp u_done
u_fetch:
	movq $-1, last_vec
	mov u_addr, %rdi
	TRY u_done
	jmp *%rdi
u_done:
	mov last_vec, %rax
	mov %rax, u_vec
	mov last_err, %rax
	mov %rax, u_err
	mov last_cr2, %rax
	mov %rax, u_cr2
	int $RET_VEC

	.bss
u_addr: .quad 0
u_val:  .quad 0
u_vec:  .quad 0
u_err:  .quad 0
u_cr2:  .quad 0
