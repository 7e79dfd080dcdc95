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

/* The blob: the engine's current vCPU (it holds the clock), each
 * struct cpu, then the interrupt controllers, which they share. */
static size_t snap_size(struct machine *m)
{
	struct cpu_engine *eng = m->engine;

	return sizeof(unsigned) + eng->n * sizeof(struct cpu) +
	       intc_snap_size(eng->cpu[0]->intc);
}

static void snap_save(struct machine *m, void *blob)
{
	struct cpu_engine *eng = m->engine;
	uint8_t *p = blob;

	memcpy(p, &eng->cur, sizeof(unsigned));
	p += sizeof(unsigned);
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

	memcpy(&eng->cur, p, sizeof(unsigned));
	p += sizeof(unsigned);
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

/* One vCPU's (the history runs on one; with SMP the clock moves from
 * vCPU to vCPU). */
static uint64_t snap_insns(struct machine *m)
{
	struct cpu_engine *eng = m->engine;
	struct cpu *c = eng->cpu[eng->cur];

	return (c->icount - c->idle_ns) / CPU_INSN_NS;
}

const struct vcpu_snap_ops cpu_snap_ops = {
	.size = snap_size,
	.save = snap_save,
	.restore = snap_restore,
	.dirty_rearm = snap_dirty_rearm,
	.stop_at = snap_stop_at,
	.insns = snap_insns,
	.insn_ns = CPU_INSN_NS,
};
