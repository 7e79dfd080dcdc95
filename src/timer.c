/* Virtual timers: see timer.h. */
#include "timer.h"

#include <stddef.h>

void timer_init(struct rax_timer *t, void (*cb)(void *), void *opaque)
{
	t->deadline = TIMER_NEVER;
	t->cb = cb;
	t->opaque = opaque;
	t->next = NULL;
	t->armed = false;
}

void timer_cancel(struct timer_list *l, struct rax_timer *t)
{
	struct rax_timer **pp;

	if (!t->armed)
		return;
	for (pp = &l->head; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->armed = false;
	t->next = NULL;
}

void timer_arm(struct timer_list *l, struct rax_timer *t, uint64_t deadline)
{
	struct rax_timer **pp;

	timer_cancel(l, t);
	t->deadline = deadline;
	for (pp = &l->head; *pp && (*pp)->deadline <= deadline; pp = &(*pp)->next)
		;
	t->next = *pp;
	*pp = t;
	t->armed = true;
}

int timer_run(struct timer_list *l, uint64_t now)
{
	int fired = 0;

	while (l->head && l->head->deadline <= now) {
		struct rax_timer *t = l->head;

		l->head = t->next;
		t->next = NULL;
		t->armed = false;
		t->cb(t->opaque);
		fired++;
	}
	return fired;
}
