/* SYSCALL and SYSRET in 64-bit mode (SDM Vol. 2B SYSCALL, SYSRET): #UD
 * while EFER.SCE = 0; the selectors from IA32_STAR, RIP from IA32_LSTAR,
 * RCX = the next RIP, R11 = RFLAGS, RFLAGS masked with IA32_FMASK, RSP
 * untouched; SYSRET's selectors, RIP = RCX and RFLAGS = (R11 & 3C7FD7H)
 * | 2 (so never VM, bit 17); SYSRET at CPL 3 is #GP(0).  CPL-3 round
 * trips.
 * Run: tests/guest/run.sh syscall (expected output: syscall.expect). */
#include "rt.h"

#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_FMASK 0xc0000084
#define FMASK 0x4700                    /* NT, DF, IF, TF */
#define USER_FLAGS 0x683                /* DF, IF, SF, CF and bit 1 */
#define SYSRET_R11 0xffffffff00008eff   /* bits 3, 5, 15, 63:32 masked */
#define SYSRET_R11_VM 0x20202           /* VM (bit 17) masked too */

	.text
	.globl test_main
test_main:
	/* EFER.SCE = 0 (the boot state): #UD, RIP of the SYSCALL. */
	TRY sce0_done
sce0_insn:
	syscall
sce0_done:
	CHECK "syscall-sce0.vector", last_vec, $6
	CHECK_AT "syscall-sce0.rip-insn", last_rip, sce0_insn

	mov $MSR_EFER, %ecx
	rdmsr
	bts $0, %eax
	wrmsr
	mov $MSR_STAR, %ecx
	xor %eax, %eax
	mov $((UCS32 & ~3) << 16 | KCS), %edx
	wrmsr
	mov $MSR_LSTAR, %ecx
	lea sys_entry(%rip), %rax
	mov %rax, %rdx
	shr $32, %rdx
	wrmsr
	mov $MSR_FMASK, %ecx
	mov $FMASK, %eax
	xor %edx, %edx
	wrmsr

	lea user_fn(%rip), %rdi
	mov $USER_FLAGS, %esi
	call to_user

	CHECK "user.rflags-before", u_flags, $USER_FLAGS
	mov k_rcx, %rax
	sub $u_after_syscall, %rax
	CHECK "syscall.rcx-next-rip", %rax, $0
	CHECK "syscall.r11-rflags", k_r11, $USER_FLAGS
	CHECK "syscall.rflags-masked", k_flags, $(USER_FLAGS & ~FMASK)
	CHECK "syscall.cs", k_cs, $KCS
	CHECK "syscall.ss", k_ss, $KDS
	mov k_rsp, %rax
	sub u_rsp, %rax
	CHECK "syscall.rsp-unchanged", %rax, $0
	CHECK "sysret.rflags", u_flags2, $0xed7
	CHECK "sysret.cs", u_cs, $UCS
	CHECK "sysret.ss", u_ss, $UDS
	CHECK "sysret-r11-vm.rflags", u_flags3, $0x202
	CHECK "sysret-cpl3.vector", u_gp_vec, $13
	CHECK "sysret-cpl3.error", u_gp_err, $0
	CHECK "sysret-cpl3.cs", u_gp_cs, $UCS
	ret

/* CPL 3: SYSCALL, back through SYSRET at u_after_sysret, then SYSRET at
 * CPL 3. */
user_fn:
	pushfq
	pop u_flags
	mov %rsp, u_rsp
	syscall
u_after_syscall:
	ud2                             /* sys_entry never returns here */
u_after_sysret:
	pushfq
	pop u_flags2
	cld
	SREG cs
	mov %rax, u_cs
	SREG ss
	mov %rax, u_ss
	movq $1, k_pass
	syscall                         /* back at u_after_sysret_vm */
	ud2
u_after_sysret_vm:
	pushfq
	pop u_flags3
u_vm_fault:
	movq $0, handlers + 13 * 8
	TRY u_gp_done
	sysretq
u_gp_done:
	mov last_vec, %rax
	mov %rax, u_gp_vec
	mov last_err, %rax
	mov %rax, u_gp_err
	mov last_cs, %rax
	mov %rax, u_gp_cs
	int $RET_VEC

/* IA32_LSTAR: record the state SYSCALL made, then SYSRET to
 * u_after_sysret with R11 = SYSRET_R11; the second time, to
 * u_after_sysret_vm with R11 = SYSRET_R11_VM (h_gp_vm catches the #GP an
 * engine that sets RFLAGS.VM would raise at the PUSHF there). */
sys_entry:
	pushfq
	cmpq $0, k_pass
	je 1f
	add $8, %rsp
	movq $h_gp_vm, handlers + 13 * 8
	mov $u_after_sysret_vm, %ecx
	mov $SYSRET_R11_VM, %r11d
	sysretq
1:	pop k_flags
	mov %rsp, k_rsp
	mov %rcx, k_rcx
	mov %r11, k_r11
	SREG cs
	mov %rax, k_cs
	SREG ss
	mov %rax, k_ss
	mov $u_after_sysret, %ecx
	movabs $SYSRET_R11, %r11
	sysretq

h_gp_vm:
	movq $u_vm_fault, F_RIP(%rdi)
	btrq $17, F_RFLAGS(%rdi)
	movq $-1, u_flags3
	ret

	.bss
k_pass:   .quad 0
u_flags3: .quad 0
u_flags:  .quad 0
u_flags2: .quad 0
u_rsp:    .quad 0
u_cs:     .quad 0
u_ss:     .quad 0
u_gp_vec: .quad 0
u_gp_err: .quad 0
u_gp_cs:  .quad 0
k_flags:  .quad 0
k_rsp:    .quad 0
k_rcx:    .quad 0
k_r11:    .quad 0
k_cs:     .quad 0
k_ss:     .quad 0
