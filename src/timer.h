/* Virtual timers for device models that the interpreter drives (PIT,
 * LAPIC timer, RTC periodic interrupt).  Deadlines are in nanoseconds of
 * the machine clock (machine_now_ns()); with the interpreter that clock is
 * derived from the retired-instruction count, so timer expiry is
 * deterministic.  Timers are armed, cancelled and run on the vCPU thread
 * only. */
#ifndef RAX_TIMER_H
#define RAX_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct rax_timer {
	uint64_t deadline;
	void (*cb)(void *opaque);
	void *opaque;
	struct rax_timer *next;
	bool armed;
};

struct timer_list {
	struct rax_timer *head; /* sorted by deadline */
};

#define TIMER_NEVER UINT64_MAX

void timer_init(struct rax_timer *t, void (*cb)(void *), void *opaque);
/* (Re)arms t to fire once at `deadline`. */
void timer_arm(struct timer_list *l, struct rax_timer *t, uint64_t deadline);
void timer_cancel(struct timer_list *l, struct rax_timer *t);
/* Earliest armed deadline, or TIMER_NEVER. */
static inline uint64_t timer_next(const struct timer_list *l)
{
	return l->head ? l->head->deadline : TIMER_NEVER;
}
/* Fires (and disarms) every timer with deadline <= now, in order;
 * callbacks may re-arm.  Returns the number fired. */
int timer_run(struct timer_list *l, uint64_t now);

#endif
