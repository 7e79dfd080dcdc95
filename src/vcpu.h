/* The one interface between the execution engines (src/kvm: KVM,
 * src/cpu: the interpreter) and everything else (STYLE.md habit 2).
 * The main loop, the gdb server, the devices and the loader call only
 * these operations and never ask which engine runs. */
#ifndef RAX_VCPU_H
#define RAX_VCPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "regs.h"

struct machine;
struct rax_err;

/* Why vcpu_ops.run() returned. */
enum vcpu_stop_reason {
	VCPU_STOP_KICK,     /* kick() was called or an exit was requested */
	VCPU_STOP_STEP,     /* the single step asked for completed */
	VCPU_STOP_SWBREAK,  /* reached a Z0 breakpoint (rip = its address) */
	VCPU_STOP_HWBREAK,  /* reached a Z1 breakpoint */
	VCPU_STOP_WATCH,    /* a Z2/Z3/Z4 watchpoint triggered (see addr) */
	VCPU_STOP_SHUTDOWN, /* triple fault */
	VCPU_STOP_ERROR,    /* engine failure; message in the rax_err */
	VCPU_STOP_HISTORY,  /* reverse execution reached the start of the
			       history (src/history) */
};

/* What a vCPU does between stops (`monitor info cpus`). */
enum vcpu_activity {
	VCPU_ACT_RUNNING,   /* runs guest code */
	VCPU_ACT_HALTED,    /* HLT: waits for an interrupt */
	VCPU_ACT_WAIT_SIPI, /* an AP before its start-up IPI, or after INIT */
};

/* Breakpoint kinds, numbered as gdb's Z packets. */
enum bp_type { BP_SW = 0, BP_HW = 1, BP_WRITE = 2, BP_READ = 3, BP_ACCESS = 4 };

struct vcpu_stop {
	enum vcpu_stop_reason reason;
	unsigned cpu;            /* the vCPU that stopped (index) */
	enum bp_type watch_type; /* for VCPU_STOP_WATCH */
	uint64_t addr;           /* watched data address that triggered */
};

#define VCPU_RUN_STEP 1u /* execute one instruction, interrupts masked */
/* With VCPU_RUN_STEP: the vCPU to step (index n; 0 with one vCPU). */
#define VCPU_RUN_CPU(n) ((unsigned)(n) << 8)
#define VCPU_RUN_CPU_OF(flags) ((flags) >> 8)

/* Where a stop set by vcpu_snap_ops.stop_at() leaves the vCPU at its
 * time, as the stop it replays left it: before the event check there
 * (a single step's or a watchpoint's stop), after the timers due then
 * but before any interrupt delivery (a kick), or after the whole check
 * (a breakpoint's). */
enum vcpu_stop_at { VCPU_AT_PRE, VCPU_AT_KICK, VCPU_AT_POST };

/* Optional engine support for the history (src/history): the state of
 * every vCPU as one blob, a stop at a given time, and the dirty-page
 * tracking of guest RAM (guest_mem.dirty).  The interpreter has it; KVM
 * does not (its vcpu_ops.snap is NULL). */
struct vcpu_snap_ops {
	/* Bytes of the blob for all vCPUs and the engine's interrupt
	 * controllers and timers. */
	size_t (*size)(struct machine *m);
	void (*save)(struct machine *m, void *blob);
	/* Loads a blob saved by this machine; every cached translation and
	 * decoded instruction is forgotten. */
	void (*restore)(struct machine *m, const void *blob);
	/* From now on every guest store marks its page in m->mem.dirty
	 * again (the interpreter: drops its write-TLB entries, which mark
	 * the page when filled). */
	void (*dirty_rearm)(struct machine *m);
	/* The next run() stops (VCPU_STOP_KICK) when the clock reaches t,
	 * where `at` says; TIMER_NEVER: no such stop.  The caller keeps a
	 * machine timer armed at t so that idling does not pass it. */
	void (*stop_at)(struct machine *m, uint64_t t, enum vcpu_stop_at at);
	/* Retired instructions so far, of every vCPU: with one clock for
	 * all (SMP passes it from vCPU to vCPU), a point of the run.  The
	 * clock also counts idle time. */
	uint64_t (*insns)(struct machine *m);
	/* Retired instructions of vCPU i. */
	uint64_t (*cpu_insns)(struct machine *m, unsigned i);
	/* The clock after vCPU i's last retired instruction (one vCPU: the
	 * clock). */
	uint64_t (*last_end)(struct machine *m, unsigned i);
	/* Clock time one instruction takes. */
	uint64_t insn_ns;
};

struct vcpu_ops {
	const char *name;
	/* Checks that the engine can run guests on this host.  Returns 0, or
	 * -errno with the reason in *e (KVM: the start-up self-test). */
	int (*probe)(struct rax_err *e);
	/* Creates the VM for m (memory already mapped, devices registered) and
	 * loads m->boot_regs into the vCPU.  Returns 0 or -errno with *e. */
	int (*init)(struct machine *m, struct rax_err *e);
	void (*destroy)(struct machine *m);
	/* Runs the vCPUs (m->ncpus of them) until a stop event.  Returns 0
	 * with *stop filled, or -errno with *e (then stop->reason is
	 * VCPU_STOP_ERROR). */
	int (*run)(struct machine *m, unsigned flags, struct vcpu_stop *stop,
		   struct rax_err *e);
	/* Makes a run() in progress on another thread return VCPU_STOP_KICK
	 * soon.  Async-signal-safe and thread-safe. */
	void (*kick)(struct machine *m);

	/* The state of vCPU `cpu` (0 .. m->ncpus - 1; 0 is the BSP).
	 * Return 0, or -errno (-ENOENT: no such vCPU or MSR). */
	int (*get_regs)(struct machine *m, unsigned cpu, struct rax_regs *r);
	int (*set_regs)(struct machine *m, unsigned cpu,
			const struct rax_regs *r);
	int (*get_fpu)(struct machine *m, unsigned cpu, struct rax_fpu *f);
	int (*set_fpu)(struct machine *m, unsigned cpu,
		       const struct rax_fpu *f);
	/* Optional: bits 255:128 of the YMM registers; -ENOTSUP when the
	 * vCPU's model has no AVX state. */
	int (*get_ymmh)(struct machine *m, unsigned cpu, struct rax_ymmh *y);
	int (*set_ymmh)(struct machine *m, unsigned cpu,
			const struct rax_ymmh *y);
	int (*get_dregs)(struct machine *m, unsigned cpu,
			 struct rax_dregs *d);
	int (*get_msr)(struct machine *m, unsigned cpu, uint32_t idx,
		       uint64_t *val);
	int (*set_msr)(struct machine *m, unsigned cpu, uint32_t idx,
		       uint64_t val);
	/* Optional: what vCPU `cpu` does (with run() not in progress). */
	int (*get_activity)(struct machine *m, unsigned cpu,
			    enum vcpu_activity *a);

	/* Guest RAM for the debugger, by guest-physical address: copy len
	 * bytes; return 0, or -EFAULT when [gpa, gpa + len) is not all RAM.
	 * Every debugger write goes through write_mem, so an engine that
	 * caches decoded instructions forgets exactly the ones it changed
	 * (and a recording can log the write as an input). */
	int (*read_mem)(struct machine *m, uint64_t gpa, void *buf,
			size_t len);
	int (*write_mem)(struct machine *m, uint64_t gpa, const void *buf,
			 size_t len);

	/* Breakpoints and watchpoints by guest linear address, for every
	 * vCPU.  Return 0,
	 * -ENOSPC (out of hardware slots) or -EOPNOTSUPP (kind unsupported). */
	int (*bp_insert)(struct machine *m, enum bp_type t, uint64_t addr,
			 uint64_t len);
	int (*bp_remove)(struct machine *m, enum bp_type t, uint64_t addr,
			 uint64_t len);

	/* Device interrupt line (GSI 0-23) to the engine's interrupt
	 * controllers.  Thread-safe. */
	void (*set_irq)(struct machine *m, unsigned gsi, int level);
	/* The machine clock in nanoseconds (interpreter: retired-instruction
	 * count based; KVM: host monotonic). */
	uint64_t (*clock_ns)(struct machine *m);

	/* Optional (NULL when unsupported): per-instruction tracing and the
	 * statistics printed by --stats. */
	int (*set_trace)(struct machine *m, bool on);
	void (*print_stats)(struct machine *m);

	/* Optional operations for DMA-capable devices (src/devices/virtio);
	 * call them through the machine_*() wrappers in machine.h, which
	 * say what happens without them.  All thread-safe.
	 *
	 * msi: a message-signalled interrupt, the address/data pair a
	 * device writes (PCI 3.0 §6.8.3; SDM Vol. 3 §10.11), to the local
	 * APIC it names. */
	void (*msi)(struct machine *m, uint64_t addr, uint32_t data);
	/* mem_written: a device wrote guest RAM [gpa, gpa+len); an engine
	 * that caches decoded instructions forgets those of that range
	 * before the guest runs them. */
	void (*mem_written)(struct machine *m, uint64_t gpa, uint64_t len);
	/* ioeventfd: from now on a guest write of len (1, 2, 4 or 8) bytes
	 * at gpa signals eventfd fd instead of reaching machine_mmio();
	 * assign false undoes it.  Returns 0 or -errno. */
	int (*ioeventfd)(struct machine *m, uint64_t gpa, unsigned len,
			 int fd, bool assign);
	/* irqfd_msi: from now on signalling eventfd fd delivers the MSI
	 * (addr, data) inside the engine; called again for the same fd, it
	 * changes the message; assign false releases it.  Returns 0 or
	 * -errno. */
	int (*irqfd_msi)(struct machine *m, int fd, uint64_t addr,
			 uint32_t data, bool assign);

	/* Optional: the engine's support for the history (above). */
	const struct vcpu_snap_ops *snap;
	/* Optional, served by the history (src/history) when it is on:
	 * reverse execution.  flags VCPU_RUN_STEP: back one instruction of
	 * vCPU VCPU_RUN_CPU_OF(flags), the machine with it;
	 * 0: back to the last breakpoint or watchpoint hit before now
	 * (VCPU_STOP_SWBREAK/HWBREAK/WATCH), or to the start of the
	 * history (VCPU_STOP_HISTORY).  A kick() interrupts the search
	 * (VCPU_STOP_KICK, at some earlier point). */
	int (*reverse)(struct machine *m, unsigned flags,
		       struct vcpu_stop *stop, struct rax_err *e);
	/* Optional: the history's monitor commands (icount, goto,
	 * checkpoint, restore, history).  Returns 0 with the answer in
	 * out, or -EINVAL when cmd is not one of them. */
	int (*hist_monitor)(struct machine *m, const char *cmd, char *out,
			    size_t n);
};

extern const struct vcpu_ops kvm_vcpu_ops;   /* src/kvm, when HAVE_KVM */
extern const struct vcpu_ops cpu_vcpu_ops;   /* src/cpu */

/* The highest x86-64 level the interpreter implements (--cpu vN). */
#define CPU_LEVEL_MAX 3
/* The highest x86-64 level (1, 2, 3) whose extensions the host CPU has:
 * the interpreter's models need them (src/cpu/model.c, --cpu). */
unsigned cpu_host_level(void);

#endif
