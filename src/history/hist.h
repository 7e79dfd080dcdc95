/* Time travel on an engine with snapshot support (the interpreter):
 * periodic in-memory snapshots of the whole machine (every vCPU, every
 * device model, the timers, the console's fed input, guest RAM as the
 * pages written since the previous snapshot) and a log of every input
 * that is not a function of the machine state (console bytes, gdb's
 * writes to memory and registers) and of gdb's single steps, each with
 * the clock time at which it happened.  Going back is: restore the
 * nearest snapshot before the target, replay the log up to the target.
 *
 * hist_install() puts the history between the machine and its engine:
 * m->ops becomes a copy of the engine's operations whose run(), kick()
 * and writes log and replay, with reverse() and hist_monitor() added
 * (vcpu.h).  The gdb server and the main loop use it as any engine. */
#ifndef RAX_HISTORY_HIST_H
#define RAX_HISTORY_HIST_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct machine;

/* The default memory budget of --history. */
#define HIST_DEFAULT_BUDGET (512ull << 20)

/* Whether the history can run on m (the engine saves its state, the
 * clock is virtual, every device can be saved).  Returns 0 or -ENOTSUP
 * with the reason in *e. */
int hist_check(struct machine *m, struct rax_err *e)
	__attribute__((warn_unused_result));

/* Installs the history on m (engine initialised, devices and console
 * made) with a memory budget in bytes; takes the first snapshot at the
 * first run.  Returns 0 or -errno with *e. */
int hist_install(struct machine *m, uint64_t budget, struct rax_err *e)
	__attribute__((warn_unused_result));
/* The clock time between periodic snapshots (default 2,000,000
 * instructions on the interpreter); for tests and benches. */
void hist_set_period(struct machine *m, uint64_t ns);

/* Puts the engine's operations back and frees the history. */
void hist_remove(struct machine *m);

#endif
