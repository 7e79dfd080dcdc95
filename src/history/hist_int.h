/* Private to src/history: the history's state (hist.h). */
#ifndef RAX_HISTORY_HIST_INT_H
#define RAX_HISTORY_HIST_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timer.h"
#include "vcpu.h"

struct machine;

/* A saved guest page: its contents at the snapshot with sequence number
 * seq, and the copy before it of the same page (older, or NULL).  The
 * contents come from the pool (hist_pool_get()). */
struct hist_page {
	struct hist_page *prev;
	uint32_t seq, pfn;
	uint8_t *data;
};

/* 4 KiB blocks carved from 2 MiB arenas mapped populated (one system
 * call instead of a page fault per block: fresh memory is most of what a
 * snapshot costs while the history grows; huge pages were slower still,
 * the kernel compacting memory to find them).  Freed blocks are kept
 * for reuse until hist_remove(). */
struct hist_pool {
	void **arenas;
	size_t narenas;
	void *free;             /* a list through each block's first word */
	uint8_t *next;          /* the current arena's unused part */
	size_t left;            /* blocks there */
};

struct hist_snap {
	uint64_t t;             /* the clock */
	uint64_t insns;         /* retired instructions */
	size_t ev;              /* log entries before it */
	uint32_t seq;           /* increases with t */
	struct hist_page **pages; /* saved with it, by pfn */
	size_t npages;
	void *blob;             /* engine, devices, timers, console */
	size_t blob_len;
};

/* A fine snapshot (hist_fine.c): taken while replaying, between two
 * snapshots, so that going back a little does not re-execute from the
 * snapshot before.  Guest RAM as the snapshot base_seq's plus the pages
 * that differ from it (copies of their own).  Dropped freely: a cache. */
struct hist_fine {
	uint64_t t;
	size_t ev;
	uint64_t insns;         /* retired instructions */
	uint32_t base_seq;
	uint64_t age;           /* for eviction: the least recently used */
	void *blob;             /* as a snapshot's */
	size_t blob_len;
	uint32_t *pfns;
	uint8_t **data;
	size_t npages;
};

#define HIST_FINES 64
/* Fine snapshots per snapshot period. */
#define HIST_FINE_DIV 8

/* A logged event, at clock t, the vCPU having stopped there as `at`
 * says (how a replay must arrive). */
enum hist_ev_kind { HEV_STEP, HEV_INPUT, HEV_MEM, HEV_REGS, HEV_FPU,
		    HEV_MSR };

struct hist_ev {
	uint64_t t;
	uint64_t t_end;         /* HEV_STEP: the clock after it */
	enum hist_ev_kind kind;
	enum vcpu_stop_at at;
	unsigned cpu;           /* HEV_REGS, HEV_FPU, HEV_MSR: the vCPU */
	uint64_t addr;          /* HEV_MEM: gpa; HEV_MSR: index */
	size_t len;
	uint8_t *data;          /* bytes, registers, or the MSR value */
};

/* A hit found by a forward scan. */
struct hist_hit {
	bool found;
	uint64_t t;
	size_t ev;
	enum vcpu_stop_at at;
	struct vcpu_stop stop;
};

struct hist {
	struct machine *m;
	const struct vcpu_ops *eng;   /* the engine's operations */
	struct vcpu_ops ops;          /* what m->ops points to */
	uint64_t budget, used;
	uint64_t period;              /* clock between snapshots */

	struct hist_snap *snaps;      /* by time */
	size_t nsnaps, capsnaps;
	uint32_t next_seq;

	struct hist_ev *evs;
	size_t nev, capev;
	size_t cur;                   /* events applied so far */
	uint64_t edge_t;              /* the live edge: the latest point
					 reached, beyond it the guest runs
					 live */
	enum vcpu_stop_at arrival;    /* how the vCPU stopped last */
	enum vcpu_stop_at arrival_edge; /* how it stood at the live edge */

	/* Guest RAM: per page the newest saved copy. */
	struct hist_page **latest;
	size_t npfn;
	uint8_t *dirty;               /* m->mem.dirty */
	struct hist_pool pool;        /* page contents */

	struct hist_fine fines[HIST_FINES]; /* in no order */
	size_t nfines;
	uint64_t fine_age, fine_used;
	uint32_t base_seq;            /* RAM is this snapshot's but for
					 the dirty pages */

	struct vcpu_stop edge_stop;   /* the stop that made the live edge */
	struct hist_bp {
		enum bp_type t;
		uint64_t addr, len;
	} bps[64];                    /* gdb's, for edge_stop */
	unsigned nbps;

	struct rax_timer stop_timer;  /* bounds idling at a stop time */
	bool stop_kick;               /* its callback kicks */

	atomic_bool input;            /* console input is waiting */
	atomic_bool interrupt;        /* kick() from gdb or a signal */
	atomic_uint kicks;            /* every kick we caused or passed */
	bool replaying;               /* console output muted */
	uint64_t replayed_insns;      /* statistics */
	uint64_t snap_ns;             /* host time spent saving */

	struct hist_named {
		char name[32];
		uint64_t t;
		size_t ev;
		enum vcpu_stop_at at;
	} named[16];
};

/* hist_mem.c: guest RAM. */
void *hist_pool_get(struct hist_pool *p);
void hist_pool_put(struct hist_pool *p, void *block);
int hist_mem_init(struct hist *h);
void hist_mem_free(struct hist *h);
/* Saves the dirty pages (all non-zero pages for the first snapshot)
 * into s and clears the dirty map.  Returns 0 or -ENOMEM. */
int hist_mem_save(struct hist *h, struct hist_snap *s, bool first);
/* Puts back RAM as it was at snapshot s. */
void hist_mem_restore(struct hist *h, const struct hist_snap *s);
/* Frees the copies of snapshot i, handing to snapshot i + 1 those it
 * needs (thinning); i + 1 must exist. */
void hist_mem_merge(struct hist *h, size_t i);
/* Frees the copies of the last snapshot (truncation). */
void hist_mem_drop_last(struct hist *h);

/* hist_fine.c: fine snapshots.  Takes one at the present point (t, ev),
 * the vCPU standing after the whole event check, owning blob; evicts the
 * least recently used to stay within HIST_FINES and an eighth of the
 * budget.  Returns 0 or -ENOMEM (the blob freed). */
int hist_fine_take(struct hist *h, uint64_t t, size_t ev, uint64_t insns,
		   void *blob, size_t blob_len);
/* Whether there is one at exactly t. */
bool hist_fine_at(struct hist *h, uint64_t t);
/* The latest at or before (t, ev) whose base snapshot is still there,
 * or -1. */
long hist_fine_before(struct hist *h, uint64_t t, size_t ev);
/* Puts back guest RAM as fine snapshot i had it (its base is snapshot
 * snaps[base]) and marks it used. */
void hist_fine_restore_mem(struct hist *h, size_t i, size_t base);
/* The index of the snapshot with sequence number seq, or -1. */
long hist_snap_by_seq(struct hist *h, uint32_t seq);
/* Drops those after (t, ev), and those based on a snapshot that is no
 * longer there. */
void hist_fine_prune(struct hist *h, uint64_t t, size_t ev);
void hist_fine_free_all(struct hist *h);

#endif
