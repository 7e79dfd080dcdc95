/* A bare 64-bit machine for the interpreter's unit tests: 4 MiB of RAM,
 * identity-mapped with 2 MiB pages (PML4 0x1000, PDPT 0x2000, PD 0x3000),
 * a flat GDT at 0x500, code at CODE_BASE, stack below STACK_TOP. */
#ifndef RAX_TEST_CPU_MACHINE_H
#define RAX_TEST_CPU_MACHINE_H

#include <string.h>

#include "err.h"
#include "machine.h"
#include "mem.h"
#include "regs.h"
#include "vcpu.h"

#define CODE_BASE 0x100000ull
#define STACK_TOP 0x200000ull

static inline void put64(struct machine *m, uint64_t pa, uint64_t v)
{
	memcpy(m->mem.host + pa, &v, 8);
}

/* Returns 0 or -errno.  host_clock: as --clock host; level: as --cpu
 * vN (0: the default model); ncpus: as --cpus (vCPU 0 runs the program,
 * the others wait for a start-up IPI). */
static inline int test_machine_init_smp(struct machine *m, bool host_clock,
					unsigned level, unsigned ncpus)
{
	struct rax_err e;
	struct rax_regs *r = &m->boot_regs;
	int ret;

	memset(m, 0, sizeof(*m));
	ret = gm_init(&m->mem, 4u << 20);
	if (ret)
		return ret;
	put64(m, 0x1000, 0x2000 | 3);
	put64(m, 0x2000, 0x3000 | 3);
	put64(m, 0x3000, 0x000000 | 0x83);
	put64(m, 0x3008, 0x200000 | 0x83);
	put64(m, 0x508, 0x00af9b000000ffffull); /* 0x08: 64-bit code */
	put64(m, 0x510, 0x00cf93000000ffffull); /* 0x10: data */
	memset(r, 0, sizeof(*r));
	r->rip = CODE_BASE;
	r->rflags = 2;
	r->gpr[R_RSP] = STACK_TOP;
	r->seg[S_CS] = (struct rax_seg){ .sel = 8, .type = 11, .s = 1,
		.present = 1, .l = 1, .g = 1, .limit = 0xffffffff };
	for (int s = 0; s < 6; s++)
		if (s != S_CS)
			r->seg[s] = (struct rax_seg){ .sel = 0x10, .type = 3,
				.s = 1, .present = 1, .db = 1, .g = 1,
				.limit = 0xffffffff };
	r->gdt.base = 0x500;
	r->gdt.limit = 0x17;
	r->cr0 = CR0_PE | CR0_PG | CR0_ET | CR0_WP;
	r->cr3 = 0x1000;
	r->cr4 = CR4_PAE | CR4_OSFXSR;
	r->efer = EFER_LME | EFER_LMA | EFER_SCE;
	m->ops = &cpu_vcpu_ops;
	m->host_clock = host_clock;
	m->cpu_level = level;
	m->ncpus = ncpus;
	return cpu_vcpu_ops.init(m, &e);
}

static inline int test_machine_init_model(struct machine *m, bool host_clock,
					  unsigned level)
{
	return test_machine_init_smp(m, host_clock, level, 1);
}

static inline int test_machine_init_clock(struct machine *m, bool host_clock)
{
	return test_machine_init_model(m, host_clock, 0);
}

static inline int test_machine_init(struct machine *m)
{
	return test_machine_init_clock(m, false);
}

static inline void test_machine_destroy(struct machine *m)
{
	m->ops->destroy(m);
	gm_destroy(&m->mem);
}

#endif
