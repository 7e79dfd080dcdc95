/* The interpreter's support for the history (src/history, vcpu.h
 * struct vcpu_snap_ops): the vCPU state as a blob, the stop at a given
 * time, the dirty-page tracking of guest RAM.
 *
 * The blob is struct cpu as it is, then the interrupt controllers'
 * (intc_snap_save()).  A restore takes from it the architectural state
 * and keeps what belongs to the host or to gdb: the machine and cache
 * pointers, the decode cache's walk and epoch, the host clock base,
 * the breakpoints, the counters.  Every vCPU of the machine is one
 * struct after the other. */
#include "cpu/cpu.h"

#include <stdlib.h>

#include "devices/intc.h"
#include "machine.h"

#define FOR_EACH_CPU(m, c)                                             \
	for (unsigned i_ = 0, n_ = ((struct cpu_engine *)(m)->engine)->n;  \
	     i_ < n_; i_++)                                              \
		for (struct cpu *c = ((struct cpu_engine *)(m)->engine)->cpu[i_]; \
		     c; c = NULL)

/* Where the SMP turns stand: the engine's current vCPU (it holds the
 * clock), whether its turn has begun, the idle turns in a row. */
struct snap_turns {
	unsigned cur, idle_turns;
	bool turn_open;
};

/* The blob: the turns, each struct cpu, then the interrupt
 * controllers, which they share. */
static size_t snap_size(struct machine *m)
{
	struct cpu_engine *eng = m->engine;

	return sizeof(struct snap_turns) + eng->n * sizeof(struct cpu) +
	       intc_snap_size(eng->cpu[0]->intc);
}

static void snap_save(struct machine *m, void *blob)
{
	struct cpu_engine *eng = m->engine;
	struct snap_turns tu = { eng->cur, eng->idle_turns, eng->turn_open };
	uint8_t *p = blob;

	memcpy(p, &tu, sizeof(tu));
	p += sizeof(tu);
	FOR_EACH_CPU(m, c) {
		memcpy(p, c, sizeof(*c));
		p += sizeof(*c);
	}
	intc_snap_save(eng->cpu[0]->intc, p);
}

/* The fields a restore keeps from the running vCPU. */
#define CPU_KEEP(X) \
	X(m) X(eng) X(id) X(ic) X(ic_next) X(epoch) X(jc) X(host_base) \
	X(host_clock) X(trace) X(trace_crlf) X(stats) X(jb) X(fail_msg) \
	X(intc) X(nbp) X(nwp) X(bp) X(bp_type) X(wp) X(stop_at) X(stop_pre)

static void restore_one(struct cpu *c, const struct cpu *s)
{
	/* vCPU thread only; too big for the stack. */
	static struct cpu keep, t;

	memcpy(&keep, c, sizeof(keep));
	memcpy(&t, s, sizeof(t));
#define KEEP_BACK(f) memcpy(&t.f, &keep.f, sizeof(t.f));
	CPU_KEEP(KEEP_BACK)
#undef KEEP_BACK
#define STAT_BACK(n) t.st_##n = keep.st_##n;
	CPU_STATS(STAT_BACK)
#undef STAT_BACK
	memcpy(t.st_vec, keep.st_vec, sizeof(t.st_vec));
	t.watch_hit = false;
	t.tlb_fills = TLB_LOG + 1; /* the flush below clears every entry */
	memcpy(c, &t, sizeof(*c));
	cpu_leave_trace(c);
	cpu_tlb_flush(c, false); /* new epoch and decode key, next_check 0 */
}

static void snap_restore(struct machine *m, const void *blob)
{
	struct cpu_engine *eng = m->engine;
	const uint8_t *p = blob;

	struct snap_turns tu;

	memcpy(&tu, p, sizeof(tu));
	p += sizeof(tu);
	eng->cur = tu.cur;
	eng->idle_turns = tu.idle_turns;
	eng->turn_open = tu.turn_open;
	FOR_EACH_CPU(m, c) {
		restore_one(c, (const struct cpu *)p);
		c->next_check = 0;
		p += sizeof(*c);
	}
	intc_snap_restore(eng->cpu[0]->intc, p);
}

/* Write-TLB entries let stores skip cpu_translate(), where the page is
 * marked dirty: drop them, so the next store to each page marks it. */
static void snap_dirty_rearm(struct machine *m)
{
	FOR_EACH_CPU(m, c) {
		for (int i = 0; i < TLB_SIZE; i++)
			c->tlb[TLB_WRITE][i].tag = TLB_INVALID;
	}
}

static void snap_stop_at(struct machine *m, uint64_t t, enum vcpu_stop_at at)
{
	FOR_EACH_CPU(m, c) {
		c->stop_at = at == VCPU_AT_KICK ? UINT64_MAX : t;
		c->stop_pre = at == VCPU_AT_PRE;
		c->next_check = 0;
	}
}

/* Every vCPU's: the clock (which SMP passes from vCPU to vCPU) less
 * the time the machine idled, which each idle jump adds to the idle_ns
 * of the vCPU holding the clock then. */
static uint64_t snap_insns(struct machine *m)
{
	struct cpu_engine *eng = m->engine;
	uint64_t idle = 0;

	FOR_EACH_CPU(m, c)
		idle += c->idle_ns;
	return (eng->cpu[eng->cur]->icount - idle) / CPU_INSN_NS;
}

/* vCPU i's own; insn_ns is brought up to date when run() returns. */
static uint64_t snap_cpu_insns(struct machine *m, unsigned i)
{
	struct cpu_engine *eng = m->engine;

	if (eng->n == 1)
		return snap_insns(m);
	return i < eng->n ? eng->cpu[i]->insn_ns / CPU_INSN_NS : 0;
}

static uint64_t snap_last_end(struct machine *m, unsigned i)
{
	struct cpu_engine *eng = m->engine;

	if (eng->n == 1 || i >= eng->n)
		return cpu_now(eng->cpu[eng->cur]);
	return eng->cpu[i]->ran_until;
}

const struct vcpu_snap_ops cpu_snap_ops = {
	.size = snap_size,
	.save = snap_save,
	.restore = snap_restore,
	.dirty_rearm = snap_dirty_rearm,
	.stop_at = snap_stop_at,
	.insns = snap_insns,
	.cpu_insns = snap_cpu_insns,
	.last_end = snap_last_end,
	.insn_ns = CPU_INSN_NS,
};
