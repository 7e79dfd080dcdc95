/* The interpreter's support for the history (src/history, vcpu.h
 * struct vcpu_snap_ops): the vCPU state as a blob, the stop at a given
 * time, the dirty-page tracking of guest RAM.
 *
 * The blob is struct cpu as it is, then the interrupt controllers'
 * (intc_snap_save()).  A restore takes from it the architectural state
 * and keeps what belongs to the host or to gdb: the machine and cache
 * pointers, the decode cache's walk and epoch, the host clock base,
 * the threads' flags, the breakpoints, the counters.  Every vCPU of the
 * machine is one blob after the other (one today). */
#include "cpu/cpu.h"

#include <stdlib.h>

#include "devices/intc.h"
#include "machine.h"

/* The vCPUs of m, in order (one today: m->engine). */
static struct cpu *cpu_first(struct machine *m)
{
	return m->engine;
}

static struct cpu *cpu_next(struct machine *m, struct cpu *c)
{
	(void)m;
	(void)c;
	return NULL;
}

#define FOR_EACH_CPU(m, c) \
	for (struct cpu *c = cpu_first(m); c; c = cpu_next(m, c))

static size_t one_size(void)
{
	return sizeof(struct cpu) + intc_snap_size();
}

static size_t snap_size(struct machine *m)
{
	size_t n = 0;

	FOR_EACH_CPU(m, c)
		n += one_size();
	return n;
}

static void snap_save(struct machine *m, void *blob)
{
	uint8_t *p = blob;

	FOR_EACH_CPU(m, c) {
		memcpy(p, c, sizeof(*c));
		if (c->intc)
			intc_snap_save(c->intc, p + sizeof(*c));
		p += one_size();
	}
}

/* The fields a restore keeps from the running vCPU. */
#define CPU_KEEP(X) \
	X(m) X(ic) X(ic_next) X(epoch) X(jc) X(host_base) X(thread) \
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
	/* Flags other threads set stay as they are now. */
	atomic_store(&t.kick, atomic_load(&keep.kick));
	atomic_store(&t.dma_code_write, atomic_load(&keep.dma_code_write));
	atomic_store(&t.idle_wake, atomic_load(&keep.idle_wake));
	t.watch_hit = false;
	memcpy(c, &t, sizeof(*c));
	cpu_leave_trace(c);
	cpu_tlb_flush(c, false); /* new epoch and decode key, next_check 0 */
}

static void snap_restore(struct machine *m, const void *blob)
{
	const uint8_t *p = blob;

	FOR_EACH_CPU(m, c) {
		restore_one(c, (const struct cpu *)p);
		if (c->intc)
			intc_snap_restore(c->intc, p + sizeof(*c));
		c->next_check = 0;
		p += one_size();
	}
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

static uint64_t snap_insns(struct machine *m)
{
	struct cpu *c = cpu_first(m);

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
