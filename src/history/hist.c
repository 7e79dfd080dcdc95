/* The history: snapshots, the log, replay and reverse execution (see
 * hist.h; guest RAM in hist_mem.c).
 *
 * Positions: a point of the recorded execution is (t, ev): the clock t
 * and the number of log entries applied.  The live edge is the latest
 * point reached; before it the guest replays the log (console output
 * muted, input held back), at it the guest runs live and every input
 * and single step is logged.
 *
 * Determinism: between two logged events the engine is a function of
 * its state.  What a replay must reproduce besides the events is how
 * the vCPU stood at each event's time (vcpu.h enum vcpu_stop_at): a
 * single step masks the event check, a breakpoint's stop follows it, a
 * kick's stop falls inside it.  Each event records that, and a replay
 * stops there the same way (vcpu_snap_ops.stop_at, and a machine timer
 * at that time so that an idle guest does not jump past it). */
#include "history/hist.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "devices/devices.h"
#include "history/hist_int.h"
#include "log.h"
#include "machine.h"

/* Clock time between periodic snapshots: 2,000,000 instructions at the
 * interpreter's 10 ns each.  A reverse step replays at most that. */
#define HIST_PERIOD_NS 20000000ull

static struct hist *H(struct machine *m)
{
	return m->hist;
}

static uint64_t now(struct hist *h)
{
	return h->eng->clock_ns(h->m);
}

static bool live(struct hist *h)
{
	return h->cur == h->nev && now(h) >= h->edge_t;
}

static void set_replaying(struct hist *h, bool on)
{
	struct machine *m = h->m;

	if (h->replaying != on) {
		console_set_quiet(m->con, on);
		for (unsigned i = 0; i < m->ninputs; i++)
			m->inputs[i].mute(m->inputs[i].opaque, on);
	}
	h->replaying = on;
}

/* --- snapshots ------------------------------------------------------------ */

struct blob_head {
	struct rax_timer *timers;
	struct console_fed fed;
};

static void snap_free(struct hist_snap *s)
{
	free(s->blob);
	free(s->pages);
}

/* Drops the snapshot whose loss leaves the smallest gap for its age
 * (older points may be further apart), never the first or the last. */
static void thin(struct hist *h)
{
	while (h->used > h->budget && h->nsnaps > 2) {
		size_t best = 0;
		double best_cost = 0;

		for (size_t i = 1; i + 1 < h->nsnaps; i++) {
			double gap = (double)(h->snaps[i + 1].t - h->snaps[i - 1].t);
			double age = (double)(h->edge_t - h->snaps[i].t) + 1.0;
			double cost = gap / age;

			if (!best || cost < best_cost) {
				best = i;
				best_cost = cost;
			}
		}
		if (!best)
			return;
		hist_mem_merge(h, best);
		h->used -= h->snaps[best].blob_len;
		snap_free(&h->snaps[best]);
		memmove(&h->snaps[best], &h->snaps[best + 1],
			(h->nsnaps - best - 1) * sizeof(*h->snaps));
		h->nsnaps--;
		hist_fine_prune(h, UINT64_MAX, SIZE_MAX);
	}
}

/* The last snapshot at or before (t, ev), or -1. */
static long snap_before(struct hist *h, uint64_t t, size_t ev, bool strict)
{
	for (size_t i = h->nsnaps; i-- > 0;) {
		const struct hist_snap *s = &h->snaps[i];

		if (s->t < t || (s->t == t && (strict ? s->ev < ev : s->ev <= ev)))
			return (long)i;
	}
	return -1;
}

/* The machine but guest RAM, as a snapshot keeps it: the engine, the
 * devices, the timers, the console's fed input.  NULL when out of
 * memory. */
static void *blob_make(struct hist *h, size_t *len)
{
	struct machine *m = h->m;
	const struct vcpu_snap_ops *so = h->eng->snap;
	size_t elen = so->size(m), dlen = dev_snap_size(m);
	struct blob_head bh;
	uint8_t *b;

	*len = sizeof(bh) + elen + dlen;
	b = malloc(*len);
	if (!b)
		return NULL;
	memset(&bh, 0, sizeof(bh));
	bh.timers = m->timers.head;
	if (m->con)
		console_fed_save(m->con, &bh.fed);
	memcpy(b, &bh, sizeof(bh));
	so->save(m, b + sizeof(bh));
	dev_snap_save(m, b + sizeof(bh) + elen);
	return b;
}

static void blob_load(struct hist *h, const uint8_t *b)
{
	struct machine *m = h->m;
	const struct vcpu_snap_ops *so = h->eng->snap;
	struct blob_head bh;

	memcpy(&bh, b, sizeof(bh));
	m->timers.head = bh.timers;
	if (m->con)
		console_fed_restore(m->con, &bh.fed);
	so->restore(m, b + sizeof(bh));
	dev_snap_restore(m, b + sizeof(bh) + so->size(m));
	so->dirty_rearm(m);
}

static int snap_take(struct hist *h, bool first)
{
	struct machine *m = h->m;
	const struct vcpu_snap_ops *so = h->eng->snap;
	struct hist_snap *s;
	uint64_t t0 = host_now_ns();

	if (h->nsnaps == h->capsnaps) {
		size_t cap = h->capsnaps ? 2 * h->capsnaps : 64;
		struct hist_snap *ns = realloc(h->snaps, cap * sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		h->snaps = ns;
		h->capsnaps = cap;
	}
	s = &h->snaps[h->nsnaps];
	memset(s, 0, sizeof(*s));
	s->t = now(h);
	s->insns = so->insns(m);
	s->ev = h->nev;
	s->seq = h->next_seq++;
	s->blob = blob_make(h, &s->blob_len);
	if (!s->blob)
		return -ENOMEM;
	if (hist_mem_save(h, s, first)) {
		snap_free(s);
		return -ENOMEM;
	}
	so->dirty_rearm(m);
	h->used += s->blob_len;
	h->nsnaps++;
	h->snap_ns += host_now_ns() - t0;
	rax_log(LOG_DEBUG, hist, "snapshot %u at %" PRIu64 " ns: %zu pages, "
		"%" PRIu64 " us", s->seq, s->t, s->npages,
		(host_now_ns() - t0) / 1000);
	thin(h);
	return 0;
}

static void snap_restore(struct hist *h, size_t i)
{
	const struct hist_snap *s = &h->snaps[i];

	timer_cancel(&h->m->timers, &h->stop_timer);
	hist_mem_restore(h, s);
	blob_load(h, s->blob);
	h->cur = s->ev;
	h->arrival = VCPU_AT_POST;
}

static void fine_restore(struct hist *h, size_t f)
{
	const struct hist_fine *x = &h->fines[f];

	timer_cancel(&h->m->timers, &h->stop_timer);
	hist_fine_restore_mem(h, f, (size_t)hist_snap_by_seq(h, x->base_seq));
	blob_load(h, x->blob);
	h->cur = x->ev;
	h->arrival = VCPU_AT_POST;
}

/* Restores the nearest snapshot or fine snapshot at or before (t, ev). */
static void restore_before(struct hist *h, uint64_t t, size_t ev)
{
	long i = snap_before(h, t, ev, false);
	long f = hist_fine_before(h, t, ev);
	const struct hist_fine *x;

	if (i < 0)
		i = 0;
	x = f >= 0 ? &h->fines[f] : NULL;
	if (!x || x->t < h->snaps[i].t ||
	    (x->t == h->snaps[i].t && x->ev <= h->snaps[i].ev)) {
		snap_restore(h, (size_t)i);
		return;
	}
	fine_restore(h, (size_t)f);
}

/* Takes a fine snapshot at the present point when replaying (the vCPU
 * stands after the whole event check). */
static void fine_take(struct hist *h)
{
	long i = snap_before(h, now(h), h->cur, false);
	size_t len;
	void *b;

	if (hist_fine_at(h, now(h)) || (i >= 0 && h->snaps[i].t == now(h)))
		return;
	b = blob_make(h, &len);
	if (b)
		(void)hist_fine_take(h, now(h), h->cur,
				     h->eng->snap->insns(h->m), b, len);
}

/* --- the log ------------------------------------------------------------ */

static void ev_free(struct hist_ev *ev)
{
	free(ev->data);
}

/* A write in the past starts a new future: forget the old one. */
static void truncate_future(struct hist *h)
{
	uint64_t t = now(h);

	for (size_t i = h->cur; i < h->nev; i++)
		ev_free(&h->evs[i]);
	h->nev = h->cur;
	while (h->nsnaps > 1) {
		struct hist_snap *s = &h->snaps[h->nsnaps - 1];

		if (s->t < t || (s->t == t && s->ev <= h->cur))
			break;
		hist_mem_drop_last(h);
		h->used -= s->blob_len;
		snap_free(s);
		h->nsnaps--;
	}
	hist_fine_prune(h, t, h->cur);
	h->edge_t = t;
	set_replaying(h, false);
}

static struct hist_ev *log_add(struct hist *h, enum hist_ev_kind kind,
			       uint64_t addr, const void *data, size_t len)
{
	struct hist_ev *ev;

	if (!live(h))
		truncate_future(h);
	if (h->nev == h->capev) {
		size_t cap = h->capev ? 2 * h->capev : 1024;
		struct hist_ev *ne = realloc(h->evs, cap * sizeof(*ne));

		if (!ne)
			return NULL;
		h->evs = ne;
		h->capev = cap;
	}
	ev = &h->evs[h->nev];
	memset(ev, 0, sizeof(*ev));
	if (len) {
		ev->data = malloc(len);
		if (!ev->data)
			return NULL;
		memcpy(ev->data, data, len);
	}
	ev->t = now(h);
	ev->kind = kind;
	ev->at = h->arrival;
	ev->addr = addr;
	ev->len = len;
	h->nev++;
	h->cur = h->nev;
	return ev;
}

/* --- running to a point ------------------------------------------------- */

static void stop_timer_cb(void *opaque)
{
	struct hist *h = opaque;

	if (h->stop_kick)
		h->eng->kick(h->m);
}

static void note_hit(struct hist *h, struct hist_hit *hit,
		     const struct vcpu_stop *st)
{
	if (!hit)
		return;
	hit->found = true;
	hit->ev = h->cur;
	hit->stop = *st;
	if (st->reason == VCPU_STOP_WATCH) { /* before the writing insn */
		hit->t = now(h) - h->eng->snap->insn_ns;
		hit->at = VCPU_AT_PRE;
	} else {
		hit->t = now(h);
		hit->at = VCPU_AT_POST;
	}
}

static bool is_hit(const struct vcpu_stop *st)
{
	return st->reason == VCPU_STOP_SWBREAK ||
	       st->reason == VCPU_STOP_HWBREAK ||
	       st->reason == VCPU_STOP_WATCH;
}

/* Is a breakpoint of gdb's at rip?  Our own stop at a POST point came
 * before the engine's breakpoint check there, and the next run steps
 * over the first instruction: report the stop the engine would have. */
static bool bp_here(struct hist *h, struct vcpu_stop *st)
{
	struct rax_regs r;
	bool found = false;

	if (!h->nbps || h->eng->get_regs(h->m, st->cpu, &r))
		return false;
	for (unsigned i = 0; i < h->nbps; i++) {
		const struct hist_bp *b = &h->bps[i];
		uint64_t la = r.rip + ((r.efer & EFER_LMA) ? 0 :
				       r.seg[S_CS].base);

		if ((b->t == BP_SW || b->t == BP_HW) && b->addr == la) {
			if (!found || b->t == BP_SW)
				st->reason = b->t == BP_SW ? VCPU_STOP_SWBREAK :
					     VCPU_STOP_HWBREAK;
			found = true;
		}
	}
	return found;
}

/* Runs until the clock reaches t, arriving as `at`.  Returns 0 there;
 * 1 at a breakpoint or watchpoint hit when stop_on_hit (*st says which);
 * -EINTR when gdb or an exit request interrupted; another -errno with
 * *st and *e for an engine failure. */
static int run_until(struct hist *h, uint64_t t, enum vcpu_stop_at at,
		     struct hist_hit *hit, bool stop_on_hit,
		     struct vcpu_stop *st, struct rax_err *e)
{
	struct machine *m = h->m;
	const struct vcpu_snap_ops *so = h->eng->snap;

	while (now(h) < t) {
		uint64_t i0 = so->insns(m);
		int ret;

		if (atomic_load(&h->interrupt) ||
		    atomic_load(&m->exit_requested))
			return -EINTR;
		h->stop_kick = at == VCPU_AT_KICK;
		timer_arm(&m->timers, &h->stop_timer, t);
		so->stop_at(m, t, at);
		ret = h->eng->run(m, 0, st, e);
		so->stop_at(m, UINT64_MAX, VCPU_AT_POST);
		timer_cancel(&m->timers, &h->stop_timer);
		h->replayed_insns += so->insns(m) - i0;
		if (ret || st->reason == VCPU_STOP_ERROR ||
		    st->reason == VCPU_STOP_SHUTDOWN)
			return ret ? ret : -EIO;
		if (is_hit(st)) {
			h->arrival = st->reason == VCPU_STOP_WATCH ?
				     VCPU_AT_PRE : VCPU_AT_POST;
			note_hit(h, hit, st);
			if (stop_on_hit)
				return 1;
		} else {
			h->arrival = now(h) >= t ? at : VCPU_AT_KICK;
			if (now(h) >= t && at == VCPU_AT_POST &&
			    bp_here(h, st)) {
				note_hit(h, hit, st);
				if (stop_on_hit)
					return 1;
			}
		}
	}
	return 0;
}

/* run_until() in steps of an eighth of the snapshot period, taking a
 * fine snapshot at each (a replay: the recorded execution). */
static int run_fine(struct hist *h, uint64_t t, enum vcpu_stop_at at,
		    struct hist_hit *hit, bool stop_on_hit,
		    struct vcpu_stop *st, struct rax_err *e)
{
	uint64_t fp = h->period / HIST_FINE_DIV;

	while (fp) {
		uint64_t b = (now(h) / fp + 1) * fp;
		int ret;

		if (b >= t)
			break;
		ret = run_until(h, b, VCPU_AT_POST, hit, stop_on_hit, st, e);
		if (ret)
			return ret;
		if (now(h) == b && h->arrival == VCPU_AT_POST)
			fine_take(h);
	}
	return run_until(h, t, at, hit, stop_on_hit, st, e);
}

/* Applies log entry h->evs[h->cur] (the clock is at its time). */
static int apply(struct hist *h, struct hist_hit *hit, struct vcpu_stop *st,
		 struct rax_err *e)
{
	struct machine *m = h->m;
	const struct hist_ev *ev = &h->evs[h->cur];
	int ret = 0;

	if (now(h) != ev->t)
		rax_log(LOG_WARN, hist, "replay diverged: event at %" PRIu64
			" ns applied at %" PRIu64, ev->t, now(h));
	switch (ev->kind) {
	case HEV_STEP:
		ret = h->eng->run(m, VCPU_RUN_STEP | VCPU_RUN_CPU(ev->cpu), st,
				  e);
		if (!ret && st->reason == VCPU_STOP_WATCH && hit) {
			hit->found = true;
			hit->t = ev->t;
			hit->ev = h->cur;
			hit->at = ev->at;
			hit->stop = *st;
		}
		h->arrival = VCPU_AT_PRE;
		break;
	case HEV_INPUT: /* addr: 0 the console, k machine input k - 1 */
		if (!ev->addr)
			console_feed(m->con, ev->data, ev->len);
		else if (ev->addr <= m->ninputs)
			m->inputs[ev->addr - 1].feed(m->inputs[ev->addr - 1].opaque,
						     ev->data, ev->len);
		break;
	case HEV_MEM:
		ret = h->eng->write_mem(m, ev->addr, ev->data, ev->len);
		break;
	case HEV_REGS:
		ret = h->eng->set_regs(m, ev->cpu,
				       (const struct rax_regs *)ev->data);
		break;
	case HEV_FPU:
		ret = h->eng->set_fpu(m, ev->cpu,
				      (const struct rax_fpu *)ev->data);
		break;
	case HEV_MSR: {
		uint64_t v;

		memcpy(&v, ev->data, 8);
		ret = h->eng->set_msr(m, ev->cpu, (uint32_t)ev->addr, v);
		break;
	}
	}
	h->cur++;
	if (ret && (ret != -EFAULT && ret != -ENOENT))
		return ret;
	if (st->reason == VCPU_STOP_ERROR || st->reason == VCPU_STOP_SHUTDOWN)
		return -EIO;
	return 0;
}

/* From the present point (not after it) to (t, ev), arriving as at. */
static int replay_to(struct hist *h, uint64_t t, size_t ev,
		     enum vcpu_stop_at at, struct hist_hit *hit,
		     bool stop_on_hit, struct vcpu_stop *st, struct rax_err *e)
{
	int ret;

	for (;;) {
		if (h->cur < ev && h->cur < h->nev && h->evs[h->cur].t <= t) {
			const struct hist_ev *x = &h->evs[h->cur];

			if (now(h) < x->t) {
				ret = run_fine(h, x->t, x->at, hit,
					       stop_on_hit, st, e);
				if (ret)
					return ret;
				continue;
			}
			ret = apply(h, hit, st, e);
			if (ret)
				return ret;
			if (stop_on_hit && hit && hit->found)
				return 1;
			continue;
		}
		if (now(h) < t) {
			ret = run_fine(h, t, at, hit, stop_on_hit, st, e);
			if (ret)
				return ret;
			continue;
		}
		return 0;
	}
}

/* Travels to (t, ev) from the nearest snapshot or fine snapshot at or
 * before it. */
static int seek(struct hist *h, uint64_t t, size_t ev, enum vcpu_stop_at at,
		struct vcpu_stop *st, struct rax_err *e)
{
	uint64_t t0 = host_now_ns(), t1, r0 = h->replayed_insns;
	int ret;

	set_replaying(h, true);
	restore_before(h, t, ev);
	t1 = host_now_ns();
	ret = replay_to(h, t, ev, at, NULL, false, st, e);
	rax_log(LOG_DEBUG, hist, "seek: restore %" PRIu64 " us, replay %"
		PRIu64 " instructions in %" PRIu64 " us", (t1 - t0) / 1000,
		h->replayed_insns - r0, (host_now_ns() - t1) / 1000);
	return ret;
}

/* --- the engine's operations, wrapped ------------------------------------ */

static void take_input(struct hist *h)
{
	struct machine *m = h->m;
	uint8_t buf[2048];
	size_t n;

	if (!atomic_exchange(&h->input, false))
		return;
	while (m->con && (n = console_take(m->con, buf, 256)) > 0) {
		if (!log_add(h, HEV_INPUT, 0, buf, n))
			rax_log(LOG_WARN, hist, "out of memory: input not "
				"logged");
		console_feed(m->con, buf, n);
	}
	for (unsigned i = 0; i < m->ninputs; i++) {
		const struct machine_input *in = &m->inputs[i];

		while ((n = in->take(in->opaque, buf, sizeof(buf))) > 0) {
			if (!log_add(h, HEV_INPUT, i + 1, buf, n))
				rax_log(LOG_WARN, hist, "out of memory: %s "
					"input not logged", in->name);
			in->feed(in->opaque, buf, n);
		}
	}
}

static int live_run(struct hist *h, unsigned flags, struct vcpu_stop *st,
		    struct rax_err *e)
{
	struct machine *m = h->m;
	const struct vcpu_snap_ops *so = h->eng->snap;
	int ret;

	set_replaying(h, false);
	take_input(h);
	if (flags & VCPU_RUN_STEP) {
		struct hist_ev *ev = log_add(h, HEV_STEP, 0, NULL, 0);
		size_t i = h->nev - 1;

		if (ev)
			ev->cpu = VCPU_RUN_CPU_OF(flags);
		ret = h->eng->run(m, flags, st, e);
		if (ev)
			h->evs[i].t_end = now(h);
		h->arrival = VCPU_AT_PRE;
		h->edge_t = now(h);
		h->edge_stop = *st;
		return ret;
	}
	for (;;) {
		uint64_t next = h->snaps[h->nsnaps - 1].t + h->period;
		unsigned kicks = atomic_load(&h->kicks);

		if (next <= now(h)) {
			if (snap_take(h, false))
				rax_log(LOG_WARN, hist, "out of memory: no "
					"snapshot at %" PRIu64, now(h));
			next = now(h) + h->period;
		}
		h->stop_kick = false;
		timer_arm(&m->timers, &h->stop_timer, next);
		so->stop_at(m, next, VCPU_AT_POST);
		ret = h->eng->run(m, 0, st, e);
		so->stop_at(m, UINT64_MAX, VCPU_AT_POST);
		timer_cancel(&m->timers, &h->stop_timer);
		h->edge_t = now(h);
		h->edge_stop = *st;
		if (ret)
			return ret;
		switch (st->reason) {
		case VCPU_STOP_KICK:
			if (now(h) >= next && atomic_load(&h->kicks) == kicks) {
				h->arrival = VCPU_AT_POST; /* ours */
				if (bp_here(h, st)) {
					h->edge_stop = *st;
					return 0;
				}
				continue;
			}
			h->arrival = VCPU_AT_KICK;
			if (atomic_load(&h->interrupt) ||
			    atomic_load(&m->exit_requested))
				return 0;
			take_input(h);
			continue;
		case VCPU_STOP_SWBREAK:
		case VCPU_STOP_HWBREAK:
			h->arrival = VCPU_AT_POST;
			return 0;
		default:
			h->arrival = VCPU_AT_PRE;
			return 0;
		}
	}
}

static bool edge_hit_stands(struct hist *h)
{
	const struct vcpu_stop *st = &h->edge_stop;
	struct rax_regs r;

	if (!is_hit(st) || h->eng->get_regs(h->m, st->cpu, &r))
		return false;
	for (unsigned i = 0; i < h->nbps; i++) {
		const struct hist_bp *b = &h->bps[i];

		if (st->reason == VCPU_STOP_WATCH) {
			if (b->t == st->watch_type && st->addr >= b->addr &&
			    st->addr < b->addr + (b->len ? b->len : 1))
				return true;
		} else if ((b->t == BP_SW || b->t == BP_HW) &&
			   b->addr == r.rip + ((r.efer & EFER_LMA) ? 0 :
					       r.seg[S_CS].base)) {
			return true;
		}
	}
	return false;
}

/* On the recorded timeline, to just after vCPU cpu's next instruction:
 * one instruction's time on at a time until that vCPU has run (with one
 * vCPU, once), not past the next logged event nor the live edge. */
static int replay_step(struct hist *h, unsigned cpu, struct vcpu_stop *st,
		       struct rax_err *e)
{
	const struct vcpu_snap_ops *so = h->eng->snap;
	uint64_t before = so->last_end(h->m, cpu);
	unsigned turns = 0;
	int ret;

	do { /* bounded: a vCPU halted while another runs may not run */
		uint64_t target = now(h) + so->insn_ns;

		if (h->cur < h->nev && h->evs[h->cur].t < target)
			target = h->evs[h->cur].t;
		if (target > h->edge_t)
			target = h->edge_t;
		ret = replay_to(h, target, h->cur, VCPU_AT_PRE, NULL, false,
				st, e);
		if (ret)
			return ret;
	} while (h->m->ncpus > 1 && so->last_end(h->m, cpu) == before &&
		 ++turns < 1000000 &&
		 now(h) < h->edge_t &&
		 !(h->cur < h->nev && h->evs[h->cur].t <= now(h)));
	return 0;
}

/* Forward in the past: the log's way, one instruction or to the next
 * hit, the live edge at the latest. */
static int replay_run(struct hist *h, unsigned flags, struct vcpu_stop *st,
		      struct rax_err *e)
{
	uint64_t target = h->edge_t;
	size_t k = h->nev;
	int ret;

	set_replaying(h, true);
	if (flags & VCPU_RUN_STEP) {
		/* Events due now, up to a logged step, which is the step. */
		while (h->cur < h->nev && h->evs[h->cur].t <= now(h)) {
			bool step = h->evs[h->cur].kind == HEV_STEP;

			ret = apply(h, NULL, st, e);
			if (ret)
				return ret;
			if (step) {
				if (st->reason != VCPU_STOP_WATCH)
					st->reason = VCPU_STOP_STEP;
				return 0;
			}
		}
		if (live(h))
			return live_run(h, flags, st, e);
		ret = replay_step(h, VCPU_RUN_CPU_OF(flags), st, e);
		if (ret == -EINTR) {
			st->reason = VCPU_STOP_KICK;
			return 0;
		}
		if (ret)
			return ret;
		st->reason = VCPU_STOP_STEP;
		st->cpu = VCPU_RUN_CPU_OF(flags);
		return 0;
	}
	{
		struct hist_hit hit = { 0 };

		ret = replay_to(h, target, k, h->arrival_edge, &hit, true, st,
				e);
	}
	if (ret == 1)
		return 0;
	if (ret == -EINTR) {
		st->reason = VCPU_STOP_KICK;
		return 0;
	}
	if (ret)
		return ret;
	/* At the live edge: if gdb stopped there at a hit that still
	 * stands, this is that stop again (a run from the edge would step
	 * over it). */
	if (edge_hit_stands(h)) {
		*st = h->edge_stop;
		h->arrival = h->arrival_edge;
		return 0;
	}
	return live_run(h, flags, st, e);
}

static int hist_run(struct machine *m, unsigned flags, struct vcpu_stop *st,
		    struct rax_err *e)
{
	struct hist *h = H(m);

	memset(st, 0, sizeof(*st));
	atomic_store(&h->interrupt, false);
	if (!h->nsnaps && snap_take(h, true))
		return rax_errf(e, -ENOMEM, "history: out of memory for the "
				"first snapshot");
	if (!live(h))
		return replay_run(h, flags, st, e);
	return live_run(h, flags, st, e);
}

static void hist_kick(struct machine *m)
{
	struct hist *h = H(m);

	atomic_store(&h->interrupt, true);
	atomic_fetch_add(&h->kicks, 1);
	h->eng->kick(m);
}

/* Console input arrived (the reader thread). */
static void hist_gate(void *opaque)
{
	struct hist *h = opaque;

	atomic_store(&h->input, true);
	atomic_fetch_add(&h->kicks, 1);
	h->eng->kick(h->m);
}

static int hist_set_regs(struct machine *m, unsigned cpu,
			 const struct rax_regs *r)
{
	struct hist *h = H(m);
	struct hist_ev *ev = log_add(h, HEV_REGS, 0, r, sizeof(*r));

	if (!ev)
		return -ENOMEM;
	ev->cpu = cpu;
	return h->eng->set_regs(m, cpu, r);
}

static int hist_set_fpu(struct machine *m, unsigned cpu,
			const struct rax_fpu *f)
{
	struct hist *h = H(m);
	struct hist_ev *ev = log_add(h, HEV_FPU, 0, f, sizeof(*f));

	if (!ev)
		return -ENOMEM;
	ev->cpu = cpu;
	return h->eng->set_fpu(m, cpu, f);
}

static int hist_set_msr(struct machine *m, unsigned cpu, uint32_t idx,
			uint64_t val)
{
	struct hist *h = H(m);
	struct hist_ev *ev = log_add(h, HEV_MSR, idx, &val, sizeof(val));

	if (!ev)
		return -ENOMEM;
	ev->cpu = cpu;
	return h->eng->set_msr(m, cpu, idx, val);
}

static int hist_write_mem(struct machine *m, uint64_t gpa, const void *buf,
			  size_t len)
{
	struct hist *h = H(m);

	if (!gm_ptr(&m->mem, gpa, len))
		return -EFAULT;
	if (!log_add(h, HEV_MEM, gpa, buf, len))
		return -ENOMEM;
	return h->eng->write_mem(m, gpa, buf, len);
}

static int hist_bp_insert(struct machine *m, enum bp_type t, uint64_t addr,
			  uint64_t len)
{
	struct hist *h = H(m);
	int ret = h->eng->bp_insert(m, t, addr, len);

	if (!ret && h->nbps < sizeof(h->bps) / sizeof(h->bps[0]))
		h->bps[h->nbps++] = (struct hist_bp){ t, addr, len };
	return ret;
}

static int hist_bp_remove(struct machine *m, enum bp_type t, uint64_t addr,
			  uint64_t len)
{
	struct hist *h = H(m);
	int ret = h->eng->bp_remove(m, t, addr, len);

	for (unsigned i = 0; i < h->nbps; i++) {
		if (h->bps[i].t == t && h->bps[i].addr == addr) {
			h->bps[i] = h->bps[--h->nbps];
			break;
		}
	}
	return ret;
}

/* --- reverse execution ---------------------------------------------------- */

static int at_start(struct hist *h, struct vcpu_stop *st, struct rax_err *e)
{
	snap_restore(h, 0);
	memset(st, 0, sizeof(*st));
	st->reason = VCPU_STOP_HISTORY;
	(void)e;
	return 0;
}

/* Back to just before vCPU cpu's last instruction (with several, the
 * others go back there too: one clock for all). */
static int reverse_step(struct hist *h, unsigned cpu, struct vcpu_stop *st,
			struct rax_err *e)
{
	uint64_t ns = h->eng->snap->insn_ns;
	uint64_t t = h->eng->snap->last_end(h->m, cpu);
	size_t k;
	int ret;

	/* The last step, if it was a logged one of this vCPU's. */
	for (k = h->cur; k-- > 0;) {
		const struct hist_ev *x = &h->evs[k];

		if (x->kind != HEV_STEP)
			continue;
		if (x->t_end < t)
			break;
		if (x->cpu == cpu && x->t_end == t && x->t != t) {
			ret = seek(h, x->t, k, x->at, st, e);
			goto out;
		}
	}
	if (t <= h->snaps[0].t + ns)
		return at_start(h, st, e);
	t -= ns;
	for (k = 0; k < h->cur && h->evs[k].t <= t; k++)
		;
	ret = seek(h, t, k, VCPU_AT_PRE, st, e);
out:
	if (ret == -EINTR) {
		st->reason = VCPU_STOP_KICK;
		return 0;
	}
	if (ret)
		return ret;
	memset(st, 0, sizeof(*st));
	st->reason = VCPU_STOP_STEP;
	st->cpu = cpu;
	return 0;
}

/* Back to the last breakpoint or watchpoint hit before now: a forward
 * scan from the snapshot before, then one snapshot further back at a
 * time. */
static int reverse_cont(struct hist *h, struct vcpu_stop *st,
			struct rax_err *e)
{
	uint64_t end_t = now(h);
	size_t end_ev = h->cur;
	enum vcpu_stop_at end_at = h->arrival;
	long i = snap_before(h, end_t, end_ev, true);
	int ret;

	set_replaying(h, true);
	for (; i >= 0; i--) {
		struct hist_hit hit = { 0 };
		struct hist_hit last = { 0 };

		snap_restore(h, (size_t)i);
		for (;;) {
			memset(&hit, 0, sizeof(hit));
			ret = replay_to(h, end_t, end_ev, end_at, &hit, true,
					st, e);
			if (ret < 0)
				goto fail;
			if (ret == 0)
				break;
			if (hit.t < end_t || (hit.t == end_t && hit.ev < end_ev))
				last = hit;
		}
		if (last.found) {
			ret = seek(h, last.t, last.ev, last.at, st, e);
			if (ret)
				goto fail;
			*st = last.stop;
			return 0;
		}
		end_t = h->snaps[i].t;
		end_ev = h->snaps[i].ev;
		end_at = VCPU_AT_POST;
	}
	return at_start(h, st, e);
fail:
	if (ret == -EINTR) {
		memset(st, 0, sizeof(*st));
		st->reason = VCPU_STOP_KICK;
		return 0;
	}
	return ret;
}

static int hist_reverse(struct machine *m, unsigned flags,
			struct vcpu_stop *st, struct rax_err *e)
{
	struct hist *h = H(m);

	memset(st, 0, sizeof(*st));
	atomic_store(&h->interrupt, false);
	if (!h->nsnaps)
		return at_start(h, st, e);
	if (live(h))
		h->arrival_edge = h->arrival;
	if (flags & VCPU_RUN_STEP)
		return reverse_step(h, VCPU_RUN_CPU_OF(flags), st, e);
	return reverse_cont(h, st, e);
}

/* --- monitor ----------------------------------------------------------- */

/* Travels to retired-instruction count n (at most the live edge). */
static int goto_insns(struct hist *h, uint64_t n, struct rax_err *e)
{
	const struct vcpu_snap_ops *so = h->eng->snap;
	struct vcpu_stop st;
	long i;
	int ret;

	long f = -1;

	for (i = (long)h->nsnaps - 1; i > 0 && h->snaps[i].insns > n; i--)
		;
	for (size_t k = 0; k < h->nfines; k++) {
		const struct hist_fine *x = &h->fines[k];

		if (x->insns <= n && x->t > h->snaps[i].t &&
		    (f < 0 || x->t > h->fines[f].t) &&
		    hist_snap_by_seq(h, x->base_seq) >= 0)
			f = (long)k;
	}
	if (live(h))
		h->arrival_edge = h->arrival;
	set_replaying(h, true);
	if (f >= 0)
		fine_restore(h, (size_t)f);
	else
		snap_restore(h, (size_t)i);
	while (so->insns(h->m) < n && now(h) < h->edge_t) {
		uint64_t t = now(h) + (n - so->insns(h->m)) * so->insn_ns;
		size_t k;

		if (t > h->edge_t)
			t = h->edge_t;
		for (k = h->cur; k < h->nev && h->evs[k].t <= t; k++)
			;
		ret = replay_to(h, t, k, VCPU_AT_PRE, NULL, false, &st, e);
		if (ret)
			return ret;
	}
	return 0;
}

static int mon_named(struct hist *h, const char *name, bool save, char *out,
		     size_t n, struct rax_err *e)
{
	struct vcpu_stop st;
	size_t i, free_i = SIZE_MAX;

	for (i = 0; i < sizeof(h->named) / sizeof(h->named[0]); i++) {
		if (!strcmp(h->named[i].name, name))
			break;
		if (!h->named[i].name[0] && free_i == SIZE_MAX)
			free_i = i;
	}
	if (save) {
		if (i == sizeof(h->named) / sizeof(h->named[0]))
			i = free_i;
		if (i == SIZE_MAX) {
			snprintf(out, n, "checkpoint: all 16 names in use\n");
			return 0;
		}
		snprintf(h->named[i].name, sizeof(h->named[i].name), "%s",
			 name);
		h->named[i].t = now(h);
		h->named[i].ev = h->cur;
		h->named[i].at = h->arrival;
		snprintf(out, n, "checkpoint %s at %" PRIu64 " instructions\n",
			 name, h->eng->snap->insns(h->m));
		return 0;
	}
	if (i == sizeof(h->named) / sizeof(h->named[0])) {
		snprintf(out, n, "restore: no checkpoint %s\n", name);
		return 0;
	}
	if (h->named[i].t > h->edge_t) {
		snprintf(out, n, "restore: %s is no longer in the history\n",
			 name);
		return 0;
	}
	if (live(h))
		h->arrival_edge = h->arrival;
	if (seek(h, h->named[i].t, h->named[i].ev, h->named[i].at, &st, e))
		return -EIO;
	snprintf(out, n, "at %s: %" PRIu64 " instructions (flushregs in gdb "
		 "to see it)\n", name, h->eng->snap->insns(h->m));
	return 0;
}

static int hist_monitor(struct machine *m, const char *cmd, char *out,
			size_t n)
{
	struct hist *h = H(m);
	const struct vcpu_snap_ops *so = h->eng->snap;
	struct rax_err e = { "" };
	char name[32];
	unsigned long long v;

	/* A kick that came in since the last stop (gdb's connection thread
	 * kicks when packets arrive) must not cut a travel short. */
	atomic_store(&h->interrupt, false);

	if (!strcmp(cmd, "icount")) {
		size_t o;

		if (m->ncpus == 1) {
			snprintf(out, n, "vcpu0: %" PRIu64 " instructions, "
				 "clock %" PRIu64 " ns%s\n", so->insns(m),
				 now(h), live(h) ? "" :
				 " (replaying the history)");
			return 0;
		}
		o = (size_t)snprintf(out, n, "all: %" PRIu64 " instructions, "
				     "clock %" PRIu64 " ns%s\n", so->insns(m),
				     now(h), live(h) ? "" :
				     " (replaying the history)");
		for (unsigned i = 0; i < m->ncpus && o < n; i++)
			o += (size_t)snprintf(out + o, n - o, "vcpu%u: %" PRIu64
					      " instructions\n", i,
					      so->cpu_insns(m, i));
		return 0;
	}
	if (!strcmp(cmd, "history")) {
		size_t o = (size_t)snprintf(out, n, "history: %zu snapshots, "
			"%zu events, %.1f MiB of %.1f MiB, snapshots took %.1f "
			"ms, %" PRIu64 " instructions replayed\n", h->nsnaps,
			h->nev, (double)h->used / 1048576.0,
			(double)h->budget / 1048576.0,
			(double)h->snap_ns / 1e6, h->replayed_insns);

		for (size_t i = 0; i < h->nsnaps && o < n; i++)
			o += (size_t)snprintf(out + o, n - o, "  %" PRIu64
				" instructions (clock %" PRIu64 " ns): %zu "
				"pages\n", h->snaps[i].insns, h->snaps[i].t,
				h->snaps[i].npages);
		return 0;
	}
	if (!strcmp(cmd, "ramhash")) { /* for tests: all of guest RAM */
		const uint64_t *p = (const uint64_t *)m->mem.host;
		uint64_t x = 0xcbf29ce484222325ull;

		for (uint64_t i = 0; i < m->mem.size / 8; i++)
			x = (x ^ p[i]) * 0x100000001b3ull;
		snprintf(out, n, "ram %016" PRIx64 "\n", x);
		return 0;
	}
	if (sscanf(cmd, "goto %llu", &v) == 1) {
		int ret = goto_insns(h, v, &e);

		if (ret)
			snprintf(out, n, "goto: %s\n", ret == -EINTR ?
				 "interrupted" : e.msg[0] ? e.msg :
				 "the replay ended in a triple fault");
		else
			snprintf(out, n, "at %" PRIu64 " instructions (flushregs "
				 "in gdb to see it)\n", so->insns(m));
		return 0;
	}
	if (sscanf(cmd, "checkpoint %31s", name) == 1)
		return mon_named(h, name, true, out, n, &e);
	if (sscanf(cmd, "restore %31s", name) == 1)
		return mon_named(h, name, false, out, n, &e) ? -EIO : 0;
	return -EINVAL;
}

/* --- set-up ---------------------------------------------------------------- */

int hist_check(struct machine *m, struct rax_err *e)
{
	const char *who = NULL;

	if (!m->ops->snap)
		return rax_errf(e, -ENOTSUP, "the %s engine cannot save its "
				"state", m->ops->name);
	if (m->host_clock)
		return rax_errf(e, -ENOTSUP, "--clock host is not "
				"deterministic");
	if (dev_snap_check(m, &who))
		return rax_errf(e, -ENOTSUP, "device %s cannot be saved yet",
				who);
	return 0;
}

int hist_install(struct machine *m, uint64_t budget, struct rax_err *e)
{
	struct hist *h;
	int ret = hist_check(m, e);

	if (ret)
		return ret;
	h = calloc(1, sizeof(*h));
	if (!h)
		return rax_errf(e, -ENOMEM, "history: out of memory");
	h->m = m;
	h->eng = m->ops;
	h->budget = budget;
	h->period = HIST_PERIOD_NS;
	h->arrival = h->arrival_edge = VCPU_AT_POST;
	timer_init(&h->stop_timer, stop_timer_cb, h);
	if (hist_mem_init(h)) {
		hist_mem_free(h);
		free(h);
		return rax_errf(e, -ENOMEM, "history: out of memory");
	}
	h->ops = *m->ops;
	h->ops.run = hist_run;
	h->ops.kick = hist_kick;
	h->ops.set_regs = hist_set_regs;
	h->ops.set_fpu = hist_set_fpu;
	h->ops.set_msr = hist_set_msr;
	h->ops.write_mem = hist_write_mem;
	h->ops.bp_insert = hist_bp_insert;
	h->ops.bp_remove = hist_bp_remove;
	h->ops.reverse = hist_reverse;
	h->ops.hist_monitor = hist_monitor;
	m->hist = h;
	m->ops = &h->ops;
	if (m->con)
		console_set_gate(m->con, hist_gate, h);
	m->input_arrived = hist_gate;
	m->input_arrived_opaque = h;
	atomic_store(&m->inputs_gated, true);
	return 0;
}

void hist_set_period(struct machine *m, uint64_t ns)
{
	if (m->hist)
		H(m)->period = ns ? ns : HIST_PERIOD_NS;
}

void hist_remove(struct machine *m)
{
	struct hist *h = m->hist;

	if (!h)
		return;
	if (m->con)
		console_set_gate(m->con, NULL, NULL);
	console_set_quiet(m->con, false);
	atomic_store(&m->inputs_gated, false);
	for (unsigned i = 0; i < m->ninputs; i++)
		m->inputs[i].mute(m->inputs[i].opaque, false);
	m->ops = h->eng;
	m->hist = NULL;
	timer_cancel(&m->timers, &h->stop_timer);
	for (size_t i = 0; i < h->nsnaps; i++)
		snap_free(&h->snaps[i]);
	free(h->snaps);
	for (size_t i = 0; i < h->nev; i++)
		ev_free(&h->evs[i]);
	free(h->evs);
	hist_fine_free_all(h);
	hist_mem_free(h);
	free(h);
}
