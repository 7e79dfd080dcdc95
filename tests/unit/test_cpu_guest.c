/* A tiny 64-bit guest program runs on the interpreter to its report: a
 * loop, REP STOSB, an IDT with #UD and #PF handlers returning by IRETQ,
 * then OUT to port 0xf4, which ends the run.
 * Source (assembled with GNU as, bytes pasted below):
 *	lea ud_handler(%rip),%rax; mov $0x8060,%rdi; call set_gate
 *	lea pf_handler(%rip),%rax; mov $0x80e0,%rdi; call set_gate
 *	lidt idtr(%rip)
 *	xor %eax,%eax; mov $100,%ecx; 1: add %rcx,%rax; loop 1b
 *	mov %rax,%rbx                      # 5050
 *	mov $0x9000,%rdi; mov $0xab,%al; mov $16,%ecx; cld; rep stosb
 *	mov 0x9008,%rdx                    # 0xabababababababab
 *	ud2                                # handler: r8 = 6, skip 2 bytes
 *	movabs $0x400000,%rsi; mov (%rsi),%eax  # #PF: r9 = cr2, skip
 *	mov %rbx,%rax; out %eax,$0xf4; hlt
 * Run: ./tests/unit/test_cpu_guest (from the build folder). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "cpu/cpu.h"
#include "cpu_machine.h"
#include "test.h"
#include "timer.h"

static const uint8_t prog[] = {
  0x48, 0x8d, 0x05, 0x82, 0x00, 0x00, 0x00, 0x48, 0xc7, 0xc7, 0x60, 0x80,
  0x00, 0x00, 0xe8, 0x56, 0x00, 0x00, 0x00, 0x48, 0x8d, 0x05, 0x7c, 0x00,
  0x00, 0x00, 0x48, 0xc7, 0xc7, 0xe0, 0x80, 0x00, 0x00, 0xe8, 0x43, 0x00,
  0x00, 0x00, 0x0f, 0x01, 0x1d, 0x79, 0x00, 0x00, 0x00, 0x31, 0xc0, 0xb9,
  0x64, 0x00, 0x00, 0x00, 0x48, 0x01, 0xc8, 0xe2, 0xfb, 0x48, 0x89, 0xc3,
  0x48, 0xc7, 0xc7, 0x00, 0x90, 0x00, 0x00, 0xb0, 0xab, 0xb9, 0x10, 0x00,
  0x00, 0x00, 0xfc, 0xf3, 0xaa, 0x48, 0x8b, 0x14, 0x25, 0x08, 0x90, 0x00,
  0x00, 0x0f, 0x0b, 0x48, 0xbe, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x8b, 0x06, 0x48, 0x89, 0xd8, 0xe7, 0xf4, 0xf4, 0x66, 0x89, 0x07,
  0x66, 0xc7, 0x47, 0x02, 0x08, 0x00, 0x66, 0xc7, 0x47, 0x04, 0x00, 0x8e,
  0x48, 0xc1, 0xe8, 0x10, 0x66, 0x89, 0x47, 0x06, 0x48, 0xc7, 0x47, 0x08,
  0x00, 0x00, 0x00, 0x00, 0xc3, 0x41, 0xb8, 0x06, 0x00, 0x00, 0x00, 0x48,
  0x83, 0x04, 0x24, 0x02, 0x48, 0xcf, 0x41, 0x0f, 0x20, 0xd1, 0x48, 0x83,
  0x44, 0x24, 0x08, 0x02, 0x48, 0x83, 0xc4, 0x08, 0x48, 0xcf, 0xff, 0x0f,
  0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00
};

static uint32_t reported;
static int reports;

static void report_port(void *opaque, uint64_t off, bool is_write,
			void *data, unsigned size)
{
	struct machine *m = opaque;

	if (!is_write)
		return;
	memcpy(&reported, data, 4);
	reports++;
	machine_request_exit(m, 0, "test program reported");
}

/* A machine with code at CODE_BASE and the report port, no report yet. */
static void load_reporting(struct machine *m, const uint8_t *code, size_t n)
{
	reports = 0;
	CHECK(!test_machine_init(m));
	CHECK(!iobus_register(&m->pio, 0xf4, 1, report_port, m, "report"));
	memcpy(m->mem.host + CODE_BASE, code, n);
}

static void program_runs_to_its_report(void)
{
	struct machine m;
	struct vcpu_stop stop;
	struct rax_err e = { "" };
	struct rax_regs r;
	int ret;

	load_reporting(&m, prog, sizeof(prog));
	ret = m.ops->run(&m, 0, &stop, &e);
	CHECK_EQ(ret, 0);
	CHECK_EQ(stop.reason, VCPU_STOP_KICK);
	CHECK_EQ(reports, 1);
	CHECK_EQ(reported, 5050);
	m.ops->get_regs(&m, 0, &r);
	CHECK_EQ(r.gpr[R_RBX], 5050);
	CHECK_EQ(r.gpr[R_RDX], 0xababababababababull);
	CHECK_EQ(r.gpr[R_R8], 6);
	CHECK_EQ(r.gpr[R_R9], 0x400000);
	CHECK_EQ(r.cr2, 0x400000);
	CHECK_EQ(r.rip, CODE_BASE + 0x68); /* after the OUT, at the HLT */
	test_machine_destroy(&m);
}

static void steps_and_breakpoints_stop_where_asked(void)
{
	struct machine m;
	struct vcpu_stop stop;
	struct rax_err e = { "" };
	struct rax_regs r;

	CHECK(!test_machine_init(&m));
	memcpy(m.mem.host + CODE_BASE, prog, sizeof(prog));
	CHECK_EQ(m.ops->run(&m, VCPU_RUN_STEP, &stop, &e), 0);
	CHECK_EQ(stop.reason, VCPU_STOP_STEP);
	m.ops->get_regs(&m, 0, &r);
	CHECK_EQ(r.rip, CODE_BASE + 7);
	CHECK_EQ(r.gpr[R_RAX], CODE_BASE + 7 + 0x82);
	CHECK_EQ(m.ops->bp_insert(&m, BP_SW, CODE_BASE + 0x2d, 1), 0);
	CHECK_EQ(m.ops->run(&m, 0, &stop, &e), 0);
	CHECK_EQ(stop.reason, VCPU_STOP_SWBREAK);
	m.ops->get_regs(&m, 0, &r);
	CHECK_EQ(r.rip, CODE_BASE + 0x2d); /* xor eax, eax */
	CHECK_EQ(m.ops->bp_remove(&m, BP_SW, CODE_BASE + 0x2d, 1), 0);
	CHECK_EQ(m.ops->bp_insert(&m, BP_HW, CODE_BASE + 0x34, 1), 0);
	CHECK_EQ(m.ops->run(&m, 0, &stop, &e), 0);
	CHECK_EQ(stop.reason, VCPU_STOP_HWBREAK);
	m.ops->get_regs(&m, 0, &r);
	CHECK_EQ(r.rip, CODE_BASE + 0x34); /* add rax, rcx: first pass */
	CHECK_EQ(r.gpr[R_RAX], 0);
	CHECK_EQ(r.gpr[R_RCX], 100);
	/* Resuming from a breakpoint executes it; the loop comes back. */
	CHECK_EQ(m.ops->run(&m, 0, &stop, &e), 0);
	CHECK_EQ(stop.reason, VCPU_STOP_HWBREAK);
	m.ops->get_regs(&m, 0, &r);
	CHECK_EQ(r.gpr[R_RAX], 100);
	CHECK_EQ(r.gpr[R_RCX], 99);
	test_machine_destroy(&m);
}

static void write_watchpoints_report_the_address(void)
{
	struct machine m;
	struct vcpu_stop stop;
	struct rax_err e = { "" };
	struct rax_regs r;

	CHECK(!test_machine_init(&m));
	memcpy(m.mem.host + CODE_BASE, prog, sizeof(prog));
	CHECK_EQ(m.ops->bp_insert(&m, BP_WRITE, 0x9008, 8), 0);
	CHECK_EQ(m.ops->run(&m, 0, &stop, &e), 0);
	CHECK_EQ(stop.reason, VCPU_STOP_WATCH);
	CHECK_EQ(stop.watch_type, BP_WRITE);
	CHECK_EQ(stop.addr, 0x9008);
	m.ops->get_regs(&m, 0, &r);
	CHECK_EQ(r.rip, CODE_BASE + 0x4d); /* after the rep stosb */
	CHECK_EQ(m.ops->bp_remove(&m, BP_WRITE, 0x9008, 8), 0);
	test_machine_destroy(&m);
}

/* Single-step traps (RFLAGS.TF, SDM Vol. 3 §18.3.1.4) and LOCK #UD
 * (Vol. 2 LOCK).  The #DB handler logs the pushed RIP (at 0x9100) and
 * DR6 (at 0x9200) and counts in r12; the #UD handler counts in r13 and
 * resumes at r15.  Offsets (objdump): popfq 0x3e, a1-a8 0x3f 0x40 0x42
 * 0x44 0x45 0x46 0x4e 0x4f, db_handler 0xbf.
 * Source (GNU as; `.byte 0xf0` where as refuses LOCK):
 *	lea db_handler(%rip),%rax; mov $0x8010,%rdi; call set_gate
 *	lea ud_handler(%rip),%rax; mov $0x8060,%rdi; call set_gate
 *	lidt idtr(%rip)
 *	xor %r12d,%r12d
 *	xor %r13d,%r13d
 *	mov %ss,%eax
 *	pushfq
 *	orq $0x100,(%rsp)
 *	popfq
 *	a1:	nop
 *	a2:	mov %ss,%eax
 *	a3:	mov %eax,%ss
 *	a4:	nop
 *	a5:	pushfq
 *	a6:	andq $~0x100,(%rsp)
 *	a7:	popfq
 *	a8:	nop
 *	lea 1f(%rip),%r15
 *	.byte 0xf0; add %eax,%ebx
 *	1:	lea 1f(%rip),%r15
 *	.byte 0xf0; cmp %eax,(%rsp)
 *	1:	lea 1f(%rip),%r15
 *	.byte 0xf0; nop
 *	1:	lea 1f(%rip),%r15
 *	lock addl $1,(%rsp)
 *	1:	lea 1f(%rip),%r15
 *	lock xadd %eax,(%rsp)
 *	1:	lea 1f(%rip),%r15
 *	.byte 0xf0; btsl $3,%eax
 *	1:	mov %r13,%rax
 *	shl $8,%rax
 *	or %r12,%rax
 *	out %eax,$0xf4
 *	hlt
 *	set_gate:
 *	mov %ax,(%rdi)
 *	movw $8,2(%rdi)
 *	movw $0x8e00,4(%rdi)
 *	shr $16,%rax
 *	mov %ax,6(%rdi)
 *	movq $0,8(%rdi)
 *	ret
 *	db_handler:
 *	mov (%rsp),%rax
 *	mov %rax,0x9100(,%r12,8)
 *	mov %dr6,%rax
 *	mov %rax,0x9200(,%r12,8)
 *	xor %eax,%eax
 *	mov %rax,%dr6
 *	inc %r12
 *	iretq
 *	ud_handler:
 *	inc %r13
 *	mov %r15,(%rsp)
 *	iretq
 *	idtr:	.word 0xfff
 *	.quad 0x8000
 */
static const uint8_t tf_prog[] = {
  0x48, 0x8d, 0x05, 0xb8, 0x00, 0x00, 0x00, 0x48, 0xc7, 0xc7, 0x10, 0x80,
  0x00, 0x00, 0xe8, 0x8c, 0x00, 0x00, 0x00, 0x48, 0x8d, 0x05, 0xc6, 0x00,
  0x00, 0x00, 0x48, 0xc7, 0xc7, 0x60, 0x80, 0x00, 0x00, 0xe8, 0x79, 0x00,
  0x00, 0x00, 0x0f, 0x01, 0x1d, 0xbc, 0x00, 0x00, 0x00, 0x45, 0x31, 0xe4,
  0x45, 0x31, 0xed, 0x8c, 0xd0, 0x9c, 0x48, 0x81, 0x0c, 0x24, 0x00, 0x01,
  0x00, 0x00, 0x9d, 0x90, 0x8c, 0xd0, 0x8e, 0xd0, 0x90, 0x9c, 0x48, 0x81,
  0x24, 0x24, 0xff, 0xfe, 0xff, 0xff, 0x9d, 0x90, 0x4c, 0x8d, 0x3d, 0x03,
  0x00, 0x00, 0x00, 0xf0, 0x01, 0xc3, 0x4c, 0x8d, 0x3d, 0x04, 0x00, 0x00,
  0x00, 0xf0, 0x39, 0x04, 0x24, 0x4c, 0x8d, 0x3d, 0x02, 0x00, 0x00, 0x00,
  0xf0, 0x90, 0x4c, 0x8d, 0x3d, 0x05, 0x00, 0x00, 0x00, 0xf0, 0x83, 0x04,
  0x24, 0x01, 0x4c, 0x8d, 0x3d, 0x05, 0x00, 0x00, 0x00, 0xf0, 0x0f, 0xc1,
  0x04, 0x24, 0x4c, 0x8d, 0x3d, 0x05, 0x00, 0x00, 0x00, 0xf0, 0x0f, 0xba,
  0xe8, 0x03, 0x4c, 0x89, 0xe8, 0x48, 0xc1, 0xe0, 0x08, 0x4c, 0x09, 0xe0,
  0xe7, 0xf4, 0xf4, 0x66, 0x89, 0x07, 0x66, 0xc7, 0x47, 0x02, 0x08, 0x00,
  0x66, 0xc7, 0x47, 0x04, 0x00, 0x8e, 0x48, 0xc1, 0xe8, 0x10, 0x66, 0x89,
  0x47, 0x06, 0x48, 0xc7, 0x47, 0x08, 0x00, 0x00, 0x00, 0x00, 0xc3, 0x48,
  0x8b, 0x04, 0x24, 0x4a, 0x89, 0x04, 0xe5, 0x00, 0x91, 0x00, 0x00, 0x0f,
  0x21, 0xf0, 0x4a, 0x89, 0x04, 0xe5, 0x00, 0x92, 0x00, 0x00, 0x31, 0xc0,
  0x0f, 0x23, 0xf0, 0x49, 0xff, 0xc4, 0x48, 0xcf, 0x49, 0xff, 0xc5, 0x4c,
  0x89, 0x3c, 0x24, 0x48, 0xcf, 0xff, 0x0f, 0x00, 0x80, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00
};

/* The SDM's answers: POPF that sets TF takes no trap, each later
 * instruction traps with RIP after it, the trap after MOV SS waits for
 * the next instruction (one trap for both), the POPF that clears TF
 * still traps.  LOCK on a register destination, on CMP and on NOP is
 * #UD; on ADD and XADD to memory it is not. */
static void single_step_traps_and_lock_ud_follow_the_sdm(void)
{
	static const uint64_t trap_rip[] = { 0x40, 0x42, 0x45, 0x46, 0x4e,
					     0x4f };
	struct machine m;
	struct vcpu_stop stop;
	struct rax_err e = { "" };

	load_reporting(&m, tf_prog, sizeof(tf_prog));
	CHECK_EQ(m.ops->run(&m, 0, &stop, &e), 0);
	CHECK_EQ(reports, 1);
	CHECK_EQ(reported & 0xff, 6);       /* single-step traps */
	CHECK_EQ(reported >> 8, 4);         /* LOCK #UDs */
	for (unsigned i = 0; i < 6; i++) {
		uint64_t rip, dr6;

		memcpy(&rip, m.mem.host + 0x9100 + 8 * i, 8);
		memcpy(&dr6, m.mem.host + 0x9200 + 8 * i, 8);
		CHECK_EQ(rip, CODE_BASE + trap_rip[i]);
		CHECK(dr6 & (1u << 14)); /* DR6.BS */
	}
	test_machine_destroy(&m);
}

/* gdb's own single step (VCPU_RUN_STEP) still stops after each
 * instruction while the guest single-steps itself: one run from POPF
 * executes it, the next executes the NOP and delivers the trap. */
static void debugger_steps_work_with_guest_tf(void)
{
	struct machine m;
	struct vcpu_stop stop;
	struct rax_err e = { "" };
	struct rax_regs r;

	CHECK(!test_machine_init(&m));
	memcpy(m.mem.host + CODE_BASE, tf_prog, sizeof(tf_prog));
	CHECK_EQ(m.ops->bp_insert(&m, BP_HW, CODE_BASE + 0x3e, 1), 0);
	CHECK_EQ(m.ops->run(&m, 0, &stop, &e), 0);
	CHECK_EQ(stop.reason, VCPU_STOP_HWBREAK);
	CHECK_EQ(m.ops->bp_remove(&m, BP_HW, CODE_BASE + 0x3e, 1), 0);
	CHECK_EQ(m.ops->run(&m, VCPU_RUN_STEP, &stop, &e), 0);
	CHECK_EQ(stop.reason, VCPU_STOP_STEP);
	m.ops->get_regs(&m, 0, &r);
	CHECK_EQ(r.rip, CODE_BASE + 0x3f);  /* after POPF: no trap */
	CHECK(r.rflags & RFLAGS_TF);
	CHECK_EQ(m.ops->run(&m, VCPU_RUN_STEP, &stop, &e), 0);
	CHECK_EQ(stop.reason, VCPU_STOP_STEP);
	m.ops->get_regs(&m, 0, &r);
	CHECK_EQ(r.rip, CODE_BASE + 0xbf);  /* the #DB handler */
	CHECK(!(r.rflags & RFLAGS_TF));
	test_machine_destroy(&m);
}

/* The guest's TSC across an OUT whose handler sleeps 20 ms on the host:
 *	rdtsc; shl $32,%rdx; or %rdx,%rax; mov %rax,%rbx
 *	out %al,$0xf5                      # the host sleeps here
 *	rdtsc; shl $32,%rdx; or %rdx,%rax; sub %rbx,%rax
 *	out %eax,$0xf4; hlt */
static const uint8_t clk_prog[] = {
  0x0f, 0x31, 0x48, 0xc1, 0xe2, 0x20, 0x48, 0x09, 0xd0, 0x48, 0x89, 0xc3,
  0xe6, 0xf5, 0x0f, 0x31, 0x48, 0xc1, 0xe2, 0x20, 0x48, 0x09, 0xd0, 0x48,
  0x29, 0xd8, 0xe7, 0xf4, 0xf4
};

static void sleep_port(void *opaque, uint64_t off, bool is_write,
		       void *data, unsigned size)
{
	struct timespec ts = { 0, 20000000 };

	while (nanosleep(&ts, &ts))
		;
}

static uint32_t tsc_delta(bool host_clock)
{
	struct machine m;
	struct vcpu_stop stop;
	struct rax_err e = { "" };

	reports = 0;
	CHECK(!test_machine_init_clock(&m, host_clock));
	CHECK(!iobus_register(&m.pio, 0xf4, 1, report_port, &m, "report"));
	CHECK(!iobus_register(&m.pio, 0xf5, 1, sleep_port, &m, "sleep"));
	memcpy(m.mem.host + CODE_BASE, clk_prog, sizeof(clk_prog));
	CHECK_EQ(m.ops->run(&m, 0, &stop, &e), 0);
	CHECK_EQ(reports, 1);
	test_machine_destroy(&m);
	return reported;
}

/* --clock virtual: time is the instruction count, 5 instructions of
 * CPU_INSN_NS whatever the host does, give or take the TSC's jitter (less
 * than one instruction, the same in every run: sys.c tsc_jitter());
 * --clock host: the 20 ms the host slept show in the guest's 1 GHz TSC
 * (a lower bound: nanosleep never returns early). */
static void the_clock_is_instructions_or_host_time(void)
{
	uint32_t d = tsc_delta(false);

	CHECK(d > 5 * 10 - 10 && d < 5 * 10 + 10);
	CHECK_EQ(tsc_delta(false), d);
	CHECK(tsc_delta(true) >= 20000000);
}

/* A halted guest whose clock leads real time (the interpreter ran faster
 * than CPU_INSN_NS per instruction; here by an hour) gets to its next
 * timer deadline, 1 ms ahead, in about 1 ms of real time: cpu_idle()
 * forgives the lead rather than sleeping until real time catches up
 * (which held the first shell command after Debian's crypto self-tests
 * for a second).  Each single step of a halted guest calls cpu_idle()
 * once, which sleeps at most 10 ms: the clock must jump to the deadline
 * within 100 of them.
 *	sti; 1: hlt; jmp 1b */
static const uint8_t hlt_prog[] = { 0xfb, 0xf4, 0xeb, 0xfd };

static void no_op(void *opaque)
{
}

static void a_clock_ahead_of_real_time_is_not_slept_off(void)
{
	const uint64_t lead = 3600 * 1000000000ull, deadline = lead + 1000000;
	struct machine m;
	struct vcpu_stop stop;
	struct rax_err e = { "" };
	struct rax_timer t;
	struct cpu *c;

	CHECK(!test_machine_init(&m));
	memcpy(m.mem.host + CODE_BASE, hlt_prog, sizeof(hlt_prog));
	c = ((struct cpu_engine *)m.engine)->cpu[0];
	c->icount = lead;
	timer_init(&t, no_op, NULL);
	timer_arm(&m.timers, &t, deadline);
	for (int i = 0; i < 100 && c->icount < deadline; i++)
		CHECK_EQ(m.ops->run(&m, VCPU_RUN_STEP, &stop, &e), 0);
	CHECK(c->icount >= deadline);
	timer_cancel(&m.timers, &t);
	test_machine_destroy(&m);
}

/* SYSCALL single-steps by the flags it leaves (SFMASK may clear TF), as
 * SYSRET does (Xen XSA-204 found the rule; the SDM is silent): the first
 * SYSCALL masks TF and takes no trap, the second keeps TF and traps at
 * its target.  Offsets (objdump): t1 0x55, t2-t5 0x7d 0x7e 0x86 0x87.
 * Source (GNU as; set_gate, db_handler and idtr as in tf_prog, the
 * handler logging only the RIPs):
 *	lea db_handler(%rip),%rax; mov $0x8010,%rdi; call set_gate
 *	lidt idtr(%rip)
 *	xor %r12d,%r12d
 *	mov $0xc0000081,%ecx; xor %eax,%eax; mov $0x00100008,%edx; wrmsr
 *	mov $0xc0000082,%ecx; lea t1(%rip),%rax; xor %edx,%edx; wrmsr
 *	mov $0xc0000084,%ecx; mov $0x100,%eax; xor %edx,%edx; wrmsr
 *	pushfq
 *	orq $0x100,(%rsp)
 *	popfq
 *	b1:	syscall
 *	t1:	nop
 *	mov $0xc0000082,%ecx; lea t2(%rip),%rax; xor %edx,%edx; wrmsr
 *	mov $0xc0000084,%ecx; xor %eax,%eax; xor %edx,%edx; wrmsr
 *	pushfq
 *	orq $0x100,(%rsp)
 *	popfq
 *	b2:	syscall
 *	t2:	pushfq
 *	t3:	andq $~0x100,(%rsp)
 *	t4:	popfq
 *	t5:	nop
 *	mov %r12,%rax
 *	out %eax,$0xf4
 *	hlt
 */
static const uint8_t syscall_prog[] = {
  0x48, 0x8d, 0x05, 0xa7, 0x00, 0x00, 0x00, 0x48, 0xc7, 0xc7, 0x10, 0x80,
  0x00, 0x00, 0xe8, 0x7b, 0x00, 0x00, 0x00, 0x0f, 0x01, 0x1d, 0xa5, 0x00,
  0x00, 0x00, 0x45, 0x31, 0xe4, 0xb9, 0x81, 0x00, 0x00, 0xc0, 0x31, 0xc0,
  0xba, 0x08, 0x00, 0x10, 0x00, 0x0f, 0x30, 0xb9, 0x82, 0x00, 0x00, 0xc0,
  0x48, 0x8d, 0x05, 0x1e, 0x00, 0x00, 0x00, 0x31, 0xd2, 0x0f, 0x30, 0xb9,
  0x84, 0x00, 0x00, 0xc0, 0xb8, 0x00, 0x01, 0x00, 0x00, 0x31, 0xd2, 0x0f,
  0x30, 0x9c, 0x48, 0x81, 0x0c, 0x24, 0x00, 0x01, 0x00, 0x00, 0x9d, 0x0f,
  0x05, 0x90, 0xb9, 0x82, 0x00, 0x00, 0xc0, 0x48, 0x8d, 0x05, 0x1b, 0x00,
  0x00, 0x00, 0x31, 0xd2, 0x0f, 0x30, 0xb9, 0x84, 0x00, 0x00, 0xc0, 0x31,
  0xc0, 0x31, 0xd2, 0x0f, 0x30, 0x9c, 0x48, 0x81, 0x0c, 0x24, 0x00, 0x01,
  0x00, 0x00, 0x9d, 0x0f, 0x05, 0x9c, 0x48, 0x81, 0x24, 0x24, 0xff, 0xfe,
  0xff, 0xff, 0x9d, 0x90, 0x4c, 0x89, 0xe0, 0xe7, 0xf4, 0xf4, 0x66, 0x89,
  0x07, 0x66, 0xc7, 0x47, 0x02, 0x08, 0x00, 0x66, 0xc7, 0x47, 0x04, 0x00,
  0x8e, 0x48, 0xc1, 0xe8, 0x10, 0x66, 0x89, 0x47, 0x06, 0x48, 0xc7, 0x47,
  0x08, 0x00, 0x00, 0x00, 0x00, 0xc3, 0x48, 0x8b, 0x04, 0x24, 0x4a, 0x89,
  0x04, 0xe5, 0x00, 0x91, 0x00, 0x00, 0x49, 0xff, 0xc4, 0x48, 0xcf, 0xff,
  0x0f, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00
};

static void syscall_single_steps_by_its_resulting_flags(void)
{
	static const uint64_t trap_rip[] = { 0x7d, 0x7e, 0x86, 0x87 };
	struct machine m;
	struct vcpu_stop stop;
	struct rax_err e = { "" };

	load_reporting(&m, syscall_prog, sizeof(syscall_prog));
	CHECK_EQ(m.ops->run(&m, 0, &stop, &e), 0);
	CHECK_EQ(reports, 1);
	CHECK_EQ(reported, 4);
	for (unsigned i = 0; i < 4; i++) {
		uint64_t rip;

		memcpy(&rip, m.mem.host + 0x9100 + 8 * i, 8);
		CHECK_EQ(rip, CODE_BASE + trap_rip[i]);
	}
	test_machine_destroy(&m);
}

/* An unmasked x87 divide by zero (SDM Vol. 1 §8.6): FDIV with ZM clear
 * leaves its operands and sets ZE, ES and B; the next waiting
 * instruction, the FWAIT at 0x3c, raises #MF (vector 16) with RIP at
 * itself, and runs again after the handler's FNCLEX.  CR0.NE comes from
 * 0x9000: rax raises #MF the same way with NE clear (no FERR#/IRQ13,
 * README Limitations).  The handler logs RIP at 0x9100 and FSW at
 * 0x9108; ST0 (still 1.0) lands at 0x9110.
 * Source (GNU as; set_gate and idtr as in tf_prog):
 *	lea mf_handler(%rip),%rax; mov $0x8100,%rdi; call set_gate
 *	lidt idtr(%rip)
 *	xor %r12d,%r12d
 *	mov 0x9000,%rbx
 *	mov %cr0,%rax; or %rbx,%rax; mov %rax,%cr0
 *	fninit
 *	fldcw cw(%rip)
 *	fldz
 *	fld1
 *	fdiv %st(1),%st
 *	w:	fwait
 *	fstpl 0x9110
 *	mov %r12,%rax
 *	out %eax,$0xf4
 *	hlt
 *	mf_handler:
 *	mov (%rsp),%rax
 *	mov %rax,0x9100
 *	fnstsw 0x9108
 *	fnclex
 *	inc %r12
 *	iretq
 *	cw:	.word 0x37b
 */
static const uint8_t mf_prog[] = {
  0x48, 0x8d, 0x05, 0x63, 0x00, 0x00, 0x00, 0x48, 0xc7, 0xc7, 0x00, 0x81,
  0x00, 0x00, 0xe8, 0x37, 0x00, 0x00, 0x00, 0x0f, 0x01, 0x1d, 0x6c, 0x00,
  0x00, 0x00, 0x45, 0x31, 0xe4, 0x48, 0x8b, 0x1c, 0x25, 0x00, 0x90, 0x00,
  0x00, 0x0f, 0x20, 0xc0, 0x48, 0x09, 0xd8, 0x0f, 0x22, 0xc0, 0xdb, 0xe3,
  0xd9, 0x2d, 0x4e, 0x00, 0x00, 0x00, 0xd9, 0xee, 0xd9, 0xe8, 0xd8, 0xf1,
  0x9b, 0xdd, 0x1c, 0x25, 0x10, 0x91, 0x00, 0x00, 0x4c, 0x89, 0xe0, 0xe7,
  0xf4, 0xf4, 0x66, 0x89, 0x07, 0x66, 0xc7, 0x47, 0x02, 0x08, 0x00, 0x66,
  0xc7, 0x47, 0x04, 0x00, 0x8e, 0x48, 0xc1, 0xe8, 0x10, 0x66, 0x89, 0x47,
  0x06, 0x48, 0xc7, 0x47, 0x08, 0x00, 0x00, 0x00, 0x00, 0xc3, 0x48, 0x8b,
  0x04, 0x24, 0x48, 0x89, 0x04, 0x25, 0x00, 0x91, 0x00, 0x00, 0xdd, 0x3c,
  0x25, 0x08, 0x91, 0x00, 0x00, 0xdb, 0xe2, 0x49, 0xff, 0xc4, 0x48, 0xcf,
  0x7b, 0x03, 0xff, 0x0f, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00
};

static void unmasked_x87_divide_by_zero_raises_mf_at_the_next_wait(
	uint64_t ne)
{
	struct machine m;
	struct vcpu_stop stop;
	struct rax_err e = { "" };
	uint64_t rip, st0;
	uint16_t sw;

	load_reporting(&m, mf_prog, sizeof(mf_prog));
	memcpy(m.mem.host + 0x9000, &ne, 8);
	CHECK_EQ(m.ops->run(&m, 0, &stop, &e), 0);
	CHECK_EQ(reports, 1);
	CHECK_EQ(reported, 1); /* one #MF */
	memcpy(&rip, m.mem.host + 0x9100, 8);
	memcpy(&sw, m.mem.host + 0x9108, 2);
	memcpy(&st0, m.mem.host + 0x9110, 8);
	CHECK_EQ(rip, CODE_BASE + 0x3c);
	CHECK_EQ(sw & 0x80ff, 0x8084); /* B, ES, ZE */
	CHECK_EQ(st0, 0x3ff0000000000000ull);
	test_machine_destroy(&m);
}

/* x87 stack faults (SDM Vol. 1 §8.5.1.1), IM masked: the ninth FLD1
 * overflows (IE, SF, C1 = 1), FADD of an empty ST1 underflows (IE, SF,
 * C1 = 0); both leave the QNaN indefinite in ST0.  Expected status
 * words are this host's (FNSTSW after the same code natively: 3a41 and
 * 0041), TOP masked: rax keeps TOP at 0.
 * Source (GNU as):
 *	fninit
 *	fld1 (nine times)
 *	fnstsw 0x9100
 *	fstpt 0x9110
 *	fninit
 *	fadd %st(1),%st
 *	fnstsw 0x9102
 *	fstpt 0x9120
 *	xor %eax,%eax
 *	out %eax,$0xf4
 *	hlt
 */
static const uint8_t sf_prog[] = {
  0xdb, 0xe3, 0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xe8,
  0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xe8, 0xdd, 0x3c, 0x25, 0x00,
  0x91, 0x00, 0x00, 0xdb, 0x3c, 0x25, 0x10, 0x91, 0x00, 0x00, 0xdb, 0xe3,
  0xd8, 0xc1, 0xdd, 0x3c, 0x25, 0x02, 0x91, 0x00, 0x00, 0xdb, 0x3c, 0x25,
  0x20, 0x91, 0x00, 0x00, 0x31, 0xc0, 0xe7, 0xf4, 0xf4
};

static void x87_stack_overflow_and_underflow_give_the_indefinite(void)
{
	static const uint8_t indef[10] = { 0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff,
					   0xff };
	struct machine m;
	struct vcpu_stop stop;
	struct rax_err e = { "" };
	uint16_t sw[2];

	load_reporting(&m, sf_prog, sizeof(sf_prog));
	CHECK_EQ(m.ops->run(&m, 0, &stop, &e), 0);
	CHECK_EQ(reports, 1);
	memcpy(sw, m.mem.host + 0x9100, 4);
	CHECK_EQ(sw[0] & ~0x3800, 0x0241);
	CHECK_EQ(sw[1] & ~0x3800, 0x0041);
	CHECK(!memcmp(m.mem.host + 0x9110, indef, 10));
	CHECK(!memcmp(m.mem.host + 0x9120, indef, 10));
	test_machine_destroy(&m);
}

/* SMP: the run ends (EDEADLK) once every vCPU is halted with interrupts
 * off or waits for a start-up IPI; registers are per vCPU. */
static void smp_ends_when_no_vcpu_can_run(void)
{
	static const uint8_t cli_hlt[] = { 0xfa, 0xf4 };
	struct machine m;
	struct vcpu_stop stop;
	struct rax_err e = { "" };
	struct rax_regs r;

	CHECK(!test_machine_init_smp(&m, false, 0, 3));
	memcpy(m.mem.host + CODE_BASE, cli_hlt, sizeof(cli_hlt));
	CHECK_EQ(m.ops->run(&m, 0, &stop, &e), -EDEADLK);
	CHECK_EQ(stop.reason, VCPU_STOP_ERROR);
	CHECK(strstr(e.msg, "every vCPU halted") != NULL);
	CHECK_EQ(m.ops->get_regs(&m, 0, &r), 0);
	CHECK_EQ(r.rip, CODE_BASE + 2);
	CHECK_EQ(m.ops->get_regs(&m, 2, &r), 0);  /* INIT state */
	CHECK_EQ(r.rip, 0xfff0);
	CHECK_EQ(r.seg[S_CS].base, 0xffff0000);
	CHECK_EQ(m.ops->get_regs(&m, 3, &r), -ENOENT);
	test_machine_destroy(&m);
}

/* SMP: a kick (gdb's Ctrl-C) names a vCPU that runs guest code, not
 * the halted one that holds the clock.  vCPU 0 turns on x2APIC, starts
 * vCPU 1 (INIT, start-up at 0x10000), waits for its flag, then idles
 * in STI; HLT.  vCPU 1 (real mode) sets the flag, counts down 100000,
 * writes port 0xf6 (a kick) and spins.  A step of halted vCPU 0 hands
 * it the clock without moving it; the next kick must name vCPU 1.
 * Source (GNU as):
 *	.code64
 *	mov $0x1b,%ecx; rdmsr; or $0xc00,%eax; wrmsr
 *	mov $0x830,%ecx; mov $1,%edx
 *	mov $0x4500,%eax; wrmsr; mov $0x4610,%eax; wrmsr
 *	1: cmpb $0,0x10100; je 1b
 *	sti; 2: hlt; jmp 2b
 *	.code16 (at 0x10000)
 *	movb $1,%cs:0x100; mov $100000,%ecx; 1: dec %ecx; jnz 1b
 *	out %al,$0xf6; jmp .
 */
static const uint8_t kick_bsp[] = {
  0xb9, 0x1b, 0x00, 0x00, 0x00, 0x0f, 0x32, 0x0d, 0x00, 0x0c, 0x00, 0x00,
  0x0f, 0x30, 0xb9, 0x30, 0x08, 0x00, 0x00, 0xba, 0x01, 0x00, 0x00, 0x00,
  0xb8, 0x00, 0x45, 0x00, 0x00, 0x0f, 0x30, 0xb8, 0x10, 0x46, 0x00, 0x00,
  0x0f, 0x30, 0x80, 0x3c, 0x25, 0x00, 0x01, 0x01, 0x00, 0x00, 0x74, 0xf6,
  0xfb, 0xf4, 0xeb, 0xfd
};
static const uint8_t kick_ap[] = {
  0x2e, 0xc6, 0x06, 0x00, 0x01, 0x01, 0x66, 0xb9, 0xa0, 0x86, 0x01, 0x00,
  0x66, 0x49, 0x75, 0xfc, 0xe6, 0xf6, 0xeb, 0xfe
};

static void kick_port(void *opaque, uint64_t off, bool is_write,
		      void *data, unsigned size)
{
	struct machine *m = opaque;

	if (is_write)
		m->ops->kick(m);
}

static void smp_kick_names_a_running_vcpu(void)
{
	struct machine m;
	struct vcpu_stop stop;
	struct rax_err e = { "" };
	enum vcpu_activity a;

	CHECK(!test_machine_init_smp(&m, false, 0, 2));
	CHECK(!iobus_register(&m.pio, 0xf6, 1, kick_port, &m, "kick"));
	memcpy(m.mem.host + CODE_BASE, kick_bsp, sizeof(kick_bsp));
	memcpy(m.mem.host + 0x10000, kick_ap, sizeof(kick_ap));
	CHECK_EQ(m.ops->run(&m, 0, &stop, &e), 0);
	CHECK_EQ(stop.reason, VCPU_STOP_KICK);
	CHECK_EQ(stop.cpu, 1);
	CHECK_EQ(m.ops->get_activity(&m, 0, &a), 0);
	CHECK_EQ(a, VCPU_ACT_HALTED);
	CHECK_EQ(m.ops->run(&m, VCPU_RUN_STEP | VCPU_RUN_CPU(0), &stop, &e),
		 0);
	CHECK_EQ(stop.reason, VCPU_STOP_STEP);
	CHECK_EQ(stop.cpu, 0);
	m.ops->kick(&m);
	CHECK_EQ(m.ops->run(&m, 0, &stop, &e), 0);
	CHECK_EQ(stop.reason, VCPU_STOP_KICK);
	CHECK_EQ(stop.cpu, 1);
	CHECK_EQ(m.ops->get_activity(&m, 1, &a), 0);
	CHECK_EQ(a, VCPU_ACT_RUNNING);
	test_machine_destroy(&m);
}

/* RDFSBASE, RDGSBASE, WRFSBASE, WRGSBASE (SDM Vol. 2B): with
 * CR4.FSGSBASE the program moves 0x7fffdeadb000 through the FS base,
 * writes the GS base from EAX = 0xffffffff (the 32-bit form
 * zero-extends), reads the FS base's low half into EDX (zero-extended),
 * then writes a non-canonical FS base: #GP(0), the base unchanged.
 * Without CR4.FSGSBASE each of the seven is #UD.  The #UD and #GP
 * handlers count in R9, leave the vector in R8 and skip the 5-byte
 * instruction; the count is reported on port 0xf4.
 * Source (GNU as; the two 32-bit forms carry a REX prefix, 0x40, so
 * that all seven are 5 bytes):
 *	lea ud_handler(%rip),%rax; mov $0x8060,%rdi; call set_gate
 *	lea gp_handler(%rip),%rax; mov $0x80d0,%rdi; call set_gate
 *	lidt idtr(%rip)
 *	xor %r8d,%r8d; xor %r9d,%r9d
 *	xor %ebx,%ebx; xor %ecx,%ecx; xor %edx,%edx; xor %esi,%esi
 *	movabs $0x00007fffdeadb000,%rax; wrfsbase %rax; rdfsbase %rbx
 *	mov $-1,%rax; rex wrgsbase %eax; rdgsbase %rcx
 *	mov $-1,%rdx; rex rdfsbase %edx
 *	movabs $0x0000800000000000,%rax; wrfsbase %rax; rdfsbase %rsi
 *	mov %r9d,%eax; out %eax,$0xf4; hlt
 *	set_gate: (as in prog above)
 *	ud_handler: mov $6,%r8d; inc %r9d; addq $5,(%rsp); iretq
 *	gp_handler: mov $13,%r8d; inc %r9d; add $8,%rsp; addq $5,(%rsp); iretq
 *	idtr: .word 0xfff; .quad 0x8000
 */
static const uint8_t fsgs_prog[] = {
  0x48, 0x8d, 0x05, 0x9f, 0x00, 0x00, 0x00, 0x48, 0xc7, 0xc7, 0x60, 0x80,
  0x00, 0x00, 0xe8, 0x73, 0x00, 0x00, 0x00, 0x48, 0x8d, 0x05, 0x9c, 0x00,
  0x00, 0x00, 0x48, 0xc7, 0xc7, 0xd0, 0x80, 0x00, 0x00, 0xe8, 0x60, 0x00,
  0x00, 0x00, 0x0f, 0x01, 0x1d, 0x9d, 0x00, 0x00, 0x00, 0x45, 0x31, 0xc0,
  0x45, 0x31, 0xc9, 0x31, 0xdb, 0x31, 0xc9, 0x31, 0xd2, 0x31, 0xf6, 0x48,
  0xb8, 0x00, 0xb0, 0xad, 0xde, 0xff, 0x7f, 0x00, 0x00, 0xf3, 0x48, 0x0f,
  0xae, 0xd0, 0xf3, 0x48, 0x0f, 0xae, 0xc3, 0x48, 0xc7, 0xc0, 0xff, 0xff,
  0xff, 0xff, 0xf3, 0x40, 0x0f, 0xae, 0xd8, 0xf3, 0x48, 0x0f, 0xae, 0xc9,
  0x48, 0xc7, 0xc2, 0xff, 0xff, 0xff, 0xff, 0xf3, 0x40, 0x0f, 0xae, 0xc2,
  0x48, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0xf3, 0x48,
  0x0f, 0xae, 0xd0, 0xf3, 0x48, 0x0f, 0xae, 0xc6, 0x44, 0x89, 0xc8, 0xe7,
  0xf4, 0xf4, 0x66, 0x89, 0x07, 0x66, 0xc7, 0x47, 0x02, 0x08, 0x00, 0x66,
  0xc7, 0x47, 0x04, 0x00, 0x8e, 0x48, 0xc1, 0xe8, 0x10, 0x66, 0x89, 0x47,
  0x06, 0x48, 0xc7, 0x47, 0x08, 0x00, 0x00, 0x00, 0x00, 0xc3, 0x41, 0xb8,
  0x06, 0x00, 0x00, 0x00, 0x41, 0xff, 0xc1, 0x48, 0x83, 0x04, 0x24, 0x05,
  0x48, 0xcf, 0x41, 0xb8, 0x0d, 0x00, 0x00, 0x00, 0x41, 0xff, 0xc1, 0x48,
  0x83, 0xc4, 0x08, 0x48, 0x83, 0x04, 0x24, 0x05, 0x48, 0xcf, 0xff, 0x0f,
  0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00
};

static void fsgsbase_moves_the_bases_when_cr4_allows_it(bool on)
{
	struct machine m;
	struct vcpu_stop stop;
	struct rax_regs r;
	struct rax_err e = { "" };

	load_reporting(&m, fsgs_prog, sizeof(fsgs_prog));
	CHECK_EQ(m.ops->get_regs(&m, 0, &r), 0);
	if (on)
		r.cr4 |= CR4_FSGSBASE;
	r.seg[S_FS].base = 0x1000;
	r.seg[S_GS].base = 0x2000;
	CHECK_EQ(m.ops->set_regs(&m, 0, &r), 0);
	CHECK_EQ(m.ops->run(&m, 0, &stop, &e), 0);
	CHECK_EQ(reports, 1);
	CHECK_EQ(m.ops->get_regs(&m, 0, &r), 0);
	if (on) {
		CHECK_EQ(reported, 1);          /* the #GP only */
		CHECK_EQ(r.gpr[R_R8], 13);
		CHECK_EQ(r.gpr[R_RBX], 0x7fffdeadb000ull);
		CHECK_EQ(r.gpr[R_RCX], 0xffffffffull);
		CHECK_EQ(r.gpr[R_RDX], 0xdeadb000ull);
		CHECK_EQ(r.gpr[R_RSI], 0x7fffdeadb000ull);
		CHECK_EQ(r.seg[S_FS].base, 0x7fffdeadb000ull);
		CHECK_EQ(r.seg[S_GS].base, 0xffffffffull);
	} else {
		CHECK_EQ(reported, 7);          /* seven #UD */
		CHECK_EQ(r.gpr[R_R8], 6);
		CHECK_EQ(r.gpr[R_RBX], 0);
		CHECK_EQ(r.gpr[R_RCX], 0);
		CHECK_EQ(r.gpr[R_RDX], ~0ull);
		CHECK_EQ(r.gpr[R_RSI], 0);
		CHECK_EQ(r.seg[S_FS].base, 0x1000);
		CHECK_EQ(r.seg[S_GS].base, 0x2000);
	}
	test_machine_destroy(&m);
}

int main(void)
{
	program_runs_to_its_report();
	steps_and_breakpoints_stop_where_asked();
	write_watchpoints_report_the_address();
	single_step_traps_and_lock_ud_follow_the_sdm();
	debugger_steps_work_with_guest_tf();
	syscall_single_steps_by_its_resulting_flags();
	the_clock_is_instructions_or_host_time();
	a_clock_ahead_of_real_time_is_not_slept_off();
	unmasked_x87_divide_by_zero_raises_mf_at_the_next_wait(0x20);
	unmasked_x87_divide_by_zero_raises_mf_at_the_next_wait(0);
	x87_stack_overflow_and_underflow_give_the_indefinite();
	smp_ends_when_no_vcpu_can_run();
	smp_kick_names_a_running_vcpu();
	fsgsbase_moves_the_bases_when_cr4_allows_it(true);
	fsgsbase_moves_the_bases_when_cr4_allows_it(false);
	return test_summary("test_cpu_guest");
}
