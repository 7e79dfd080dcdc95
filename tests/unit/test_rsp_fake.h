/* A fake engine for the gdb server's tests: registers in a struct, guest
 * RAM from gm_init, and a CPU that knows five x86 instructions, enough
 * for gdb to step, break, watch and interrupt without a real engine:
 *
 *   90        nop
 *   f4        hlt     (waits 1 ms per run() iteration until kicked)
 *   aa        stosb   (byte al to physical [rdi], rdi += 1)
 *   48 ff c0  inc rax
 *   eb fe     jmp $   (an endless loop)
 *
 * Any other byte stops with VCPU_STOP_ERROR; 0f 0b (ud2) stops with
 * VCPU_STOP_SHUTDOWN, like a triple fault. */
#ifndef RAX_TEST_RSP_FAKE_H
#define RAX_TEST_RSP_FAKE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "machine.h"

struct fake_bp {
	enum bp_type type;
	uint64_t addr, len;
};

struct fake_cpu {
	struct rax_regs r;
	struct rax_fpu f;
	struct rax_dregs d;
	uint64_t kernel_gs_base;
	struct fake_bp bps[16];
	int nbps;
	int hw_slots;        /* Z1-Z4 beyond this many: -ENOSPC */
	bool no_read_watch;  /* Z3: -EOPNOTSUPP (as on KVM) */
	bool trace;
	atomic_bool kicked;
	uint64_t steps;      /* instructions executed */
	uint64_t mem_writes; /* bytes written through write_mem */
	/* m->ncpus vCPUs share the one register set: the index of the
	 * last register access, and of the last stepped vCPU. */
	unsigned reg_cpu, step_cpu;
};

extern const struct vcpu_ops fake_vcpu_ops;

/* Sets up m with `mem` bytes of RAM and the fake engine in 64-bit mode
 * (CR0.PE, EFER.LMA, CS.L) without paging: virtual = physical.
 * Returns 0 or -errno. */
int fake_machine_init(struct machine *m, uint64_t mem);
void fake_machine_destroy(struct machine *m);

static inline struct fake_cpu *fake_of(struct machine *m)
{
	return m->engine;
}

#endif
