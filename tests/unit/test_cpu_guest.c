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
#include <stdint.h>
#include <stdio.h>

#include "cpu_machine.h"
#include "test.h"

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

static void program_runs_to_its_report(void)
{
	struct machine m;
	struct vcpu_stop stop;
	struct rax_err e = { "" };
	struct rax_regs r;
	int ret;

	CHECK(!test_machine_init(&m));
	CHECK(!iobus_register(&m.pio, 0xf4, 1, report_port, &m, "report"));
	memcpy(m.mem.host + CODE_BASE, prog, sizeof(prog));
	ret = m.ops->run(&m, 0, &stop, &e);
	CHECK_EQ(ret, 0);
	CHECK_EQ(stop.reason, VCPU_STOP_KICK);
	CHECK_EQ(reports, 1);
	CHECK_EQ(reported, 5050);
	m.ops->get_regs(&m, &r);
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
	m.ops->get_regs(&m, &r);
	CHECK_EQ(r.rip, CODE_BASE + 7);
	CHECK_EQ(r.gpr[R_RAX], CODE_BASE + 7 + 0x82);
	CHECK_EQ(m.ops->bp_insert(&m, BP_SW, CODE_BASE + 0x2d, 1), 0);
	CHECK_EQ(m.ops->run(&m, 0, &stop, &e), 0);
	CHECK_EQ(stop.reason, VCPU_STOP_SWBREAK);
	m.ops->get_regs(&m, &r);
	CHECK_EQ(r.rip, CODE_BASE + 0x2d); /* xor eax, eax */
	CHECK_EQ(m.ops->bp_remove(&m, BP_SW, CODE_BASE + 0x2d, 1), 0);
	CHECK_EQ(m.ops->bp_insert(&m, BP_HW, CODE_BASE + 0x34, 1), 0);
	CHECK_EQ(m.ops->run(&m, 0, &stop, &e), 0);
	CHECK_EQ(stop.reason, VCPU_STOP_HWBREAK);
	m.ops->get_regs(&m, &r);
	CHECK_EQ(r.rip, CODE_BASE + 0x34); /* add rax, rcx: first pass */
	CHECK_EQ(r.gpr[R_RAX], 0);
	CHECK_EQ(r.gpr[R_RCX], 100);
	/* Resuming from a breakpoint executes it; the loop comes back. */
	CHECK_EQ(m.ops->run(&m, 0, &stop, &e), 0);
	CHECK_EQ(stop.reason, VCPU_STOP_HWBREAK);
	m.ops->get_regs(&m, &r);
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
	m.ops->get_regs(&m, &r);
	CHECK_EQ(r.rip, CODE_BASE + 0x4d); /* after the rep stosb */
	CHECK_EQ(m.ops->bp_remove(&m, BP_WRITE, 0x9008, 8), 0);
	test_machine_destroy(&m);
}

int main(void)
{
	program_runs_to_its_report();
	steps_and_breakpoints_stop_where_asked();
	write_watchpoints_report_the_address();
	return test_summary("test_cpu_guest");
}
