/* The machine: guest memory, the I/O buses, timers, the engine running it
 * and the exit request.  One per process. */
#ifndef RAX_MACHINE_H
#define RAX_MACHINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "iobus.h"
#include "mem.h"
#include "regs.h"
#include "timer.h"
#include "vcpu.h"

/* Exit status of rax (README "Exit status"). */
enum rax_exit {
	RAX_EXIT_OK = 0,       /* guest powered off or reset; Ctrl-A x */
	RAX_EXIT_USAGE = 1,    /* bad option, no usable engine */
	RAX_EXIT_INPUT = 2,    /* bad kernel/initrd/size */
	RAX_EXIT_ENGINE = 3,   /* triple fault, engine or internal error */
};

struct dev_state;
struct console;
struct virtio_host;
struct symtab;
struct hist;

/* Host input besides the console's that the history (src/history) holds
 * back and gives the guest on the vCPU thread at a logged point, so
 * that a replay can give it again: virtio-net's received frames.  The
 * device registers it (machine_add_input()); while the history gates
 * input (machine_input_gated()), the device keeps what arrives for
 * take() and calls machine_input_arrived(). */
struct machine_input {
	const char *name;
	/* The next chunk that arrived into buf (at most cap bytes): its
	 * length, 0 when none is waiting.  The vCPU thread. */
	size_t (*take)(void *opaque, uint8_t *buf, size_t cap);
	/* Gives a chunk to the guest as the device does without the
	 * history.  The vCPU thread. */
	void (*feed)(void *opaque, const uint8_t *buf, size_t len);
	/* While replaying: output to the host is dropped (it went out
	 * when the run was live). */
	void (*mute)(void *opaque, bool on);
	void *opaque;
};
#define MACHINE_MAX_INPUTS 4

struct machine {
	struct guest_mem mem;
	struct io_bus pio, mmio;
	struct timer_list timers;  /* vCPU thread only */

	const struct vcpu_ops *ops;
	void *engine;              /* the engine's private state */

	struct rax_regs boot_regs; /* vCPU state at the first instruction */
	unsigned ncpus;            /* vCPUs (--cpus); 0 reads as 1 */
	unsigned quantum;          /* --quantum: the interpreter's SMP turn
				      in instructions; 0: its default */
	bool acpi_off;             /* --acpi off: no ACPI tables (the loader)
				      and no ACPI PM device (the board) */
	uint64_t e820_ram_top;     /* informational: end of low RAM used */

	bool debug_io;             /* log accesses no device claims */
	bool trace_regs;           /* --trace=regs: registers after each line */
	const struct symtab *syms; /* --symbols, or NULL */
	bool rtc_fixed;            /* --rtc-base: the RTC starts at rtc_base */
	int64_t rtc_base;          /* UTC seconds since the epoch */
	uint64_t start_ns;         /* host CLOCK_MONOTONIC at rax's start */
	bool host_clock;           /* --clock host (the interpreter reads
				      it; KVM always runs on host time) */
	bool stats;                /* --stats: engines may count more */
	bool jit_off;              /* --jit off: the interpreter's walk only */
	unsigned jit_hot;          /* fast-path entries of a trace before it
				      is translated; 0: JIT_HOT (tests set 1) */
	bool jit_tlb_miss;         /* tests: translated memory accesses all
				      take their out-of-line handler */
	unsigned cpu_level;        /* --cpu: the interpreter's x86-64 level
				      (1, 2); 0: the highest the host has */
	struct dev_state *devs;    /* src/devices */
	/* --disk, --net, --rng: opened by main(), made devices by the
	 * board (src/devices/virtio/virtio.h); NULL for none. */
	const struct virtio_host *virtio;
	struct console *con;       /* the terminal, or NULL */
	struct hist *hist;         /* src/history when on, else NULL */
	struct machine_input inputs[MACHINE_MAX_INPUTS];
	unsigned ninputs;
	/* Set by the history: input is gated, and who to tell. */
	atomic_bool inputs_gated;
	void (*input_arrived)(void *opaque);
	void *input_arrived_opaque;

	/* Exit requests from devices (debug-exit, i8042 reset), the
	 * console (Ctrl-A x) and signals (main.c), from any thread. */
	atomic_bool exit_requested; /* set after the three below */
	atomic_bool exit_claimed;   /* the first machine_request_exit() */
	int exit_status;
	int exit_signal;            /* the host signal that ends rax, or 0 */
	char exit_reason[128];
	/* Whether an exit request may kick the engine: see
	 * machine_kicks_off().  Zero (kicks on) suits a machine whose
	 * engine lives as long as it does, as in the unit tests. */
	atomic_bool kicks_off;
	atomic_uint kicking;        /* exit requests inside ops->kick */
};

/* Port and MMIO accesses from the engines.  Unclaimed reads return all
 * ones, unclaimed writes are dropped; both are logged with --debug-io.
 * machine_mmio() returns false when no device claims gpa. */
void machine_pio(struct machine *m, uint16_t port, bool is_write, void *data,
		 unsigned size);
bool machine_mmio(struct machine *m, uint64_t gpa, bool is_write, void *data,
		  unsigned size);

/* Raise or lower a device interrupt line (GSI). Thread-safe. */
void machine_set_irq(struct machine *m, unsigned gsi, int level);

/* Device DMA and message-signalled interrupts (vcpu.h, the optional
 * operations).  Thread-safe.
 * machine_msi(): the MSI (addr, data); dropped (logged) when the engine
 * has no MSI delivery.
 * machine_mem_written(): a device wrote guest RAM [gpa, gpa+len).
 * machine_ioeventfd(), machine_irqfd_msi(): -EOPNOTSUPP when the engine
 * lacks them; the device then takes its notifications through
 * machine_mmio() on the vCPU thread and raises its interrupts with
 * machine_msi(). */
void machine_msi(struct machine *m, uint64_t addr, uint32_t data);
void machine_mem_written(struct machine *m, uint64_t gpa, uint64_t len);

/* Registers a gated input source (above).  Returns 0 or -ENOSPC. */
int machine_add_input(struct machine *m, const struct machine_input *in)
	__attribute__((warn_unused_result));
/* Whether the history gates input now (any thread). */
bool machine_input_gated(struct machine *m);
/* A gated source has input waiting (any thread). */
void machine_input_arrived(struct machine *m);
int machine_ioeventfd(struct machine *m, uint64_t gpa, unsigned len, int fd,
		      bool assign);
int machine_irqfd_msi(struct machine *m, int fd, uint64_t addr,
		      uint32_t data, bool assign);

/* Ask the run loop to stop and rax to exit with `status`; the first
 * request wins.  Thread-safe. */
void machine_request_exit(struct machine *m, int status, const char *why);
/* The same for host signal sig (SIGHUP, SIGINT, SIGTERM): status
 * 128 + sig, exit_signal = sig; rax then ends by that signal (main.c). */
void machine_request_exit_signal(struct machine *m, int sig, const char *why);

/* The engine is built and destroyed while main.c's signal thread may ask
 * for an exit (SIGTERM at any moment), and that request kicks the
 * engine: it must not touch one half built or freed.
 * machine_kicks_off(): no exit request kicks the engine from now on;
 * returns once a kick under way has ended, so the engine may then be
 * destroyed.  machine_kicks_on(): kicks again, and kicks the engine at
 * once when an exit was asked for while they were off (so that a
 * SIGTERM during start-up still stops the first run). */
void machine_kicks_off(struct machine *m);
void machine_kicks_on(struct machine *m);

static inline uint64_t machine_now_ns(struct machine *m)
{
	return m->ops->clock_ns(m);
}

/* Host CLOCK_MONOTONIC in nanoseconds. */
uint64_t host_now_ns(void);

/* Format the registers of `r` as a multi-line dump (QEMU-like) into buf.
 * Used for fatal errors and the gdb monitor. */
void machine_format_regs(const struct rax_regs *r, char *buf, unsigned len);
/* The debug registers, one line for DR0-3 and one for DR6/DR7. */
void machine_format_dregs(const struct rax_dregs *d, char *buf, unsigned len);

#endif
