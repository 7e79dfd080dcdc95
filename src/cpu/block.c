/* The decoded-instruction cache (cpu.h "Decoded-instruction cache"),
 * one per machine, shared by its vCPUs:
 *
 * - a pool: traces (struct cpu_trace, a header and n struct cpu_insn)
 *   one after the other; when it is full, everything is forgotten at
 *   once and filling starts again (Bochs's icache does the same);
 * - an index: 2-way sets of pool offsets, hashed by tag (the physical
 *   address of the first instruction and the decode key);
 * - per physical RAM page, the list of traces decoded from it (its
 *   "code mark"): a store to the page kills them (cpu_code_write), and
 *   while a page has a list no vCPU holds a write-TLB entry for it, so
 *   every store to it reaches cpu_code_write();
 * - page-split traces: an instruction that crosses a page boundary is a
 *   trace of its own, listed in both pages, and checked against the
 *   present translation of its second page each time it is looked up.
 *
 * Per vCPU: a jump cache from linear address to trace, valid for one
 * translation epoch, CPL and decode key, and the links each trace keeps
 * to the two that followed it (cpu.h cpu_trace_next()), valid for the
 * key of the vCPU that made them.  Each instruction's handler is chosen
 * as it is decoded (cpu_select_handler(), dispatch.c). */
#include "cpu/cpu.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "machine.h"

#define IC_POOL_SIZE (32u << 20)
/* Translations are about the size of their traces in the pool, and
 * only hot traces get one; when this is full, the next decode empties
 * the pool with it (a translation lives as long as its trace). */
#ifndef IC_CODE_SIZE
#define IC_CODE_SIZE (64u << 20)
#endif
#define IC_POOL_START 64u /* offset 0 means "no trace" */
#define IC_INDEX_BITS 16
#define IC_INDEX (1u << IC_INDEX_BITS)
#define TRACE_BYTES(n) (sizeof(struct cpu_trace) + (n) * sizeof(struct cpu_insn))

_Static_assert(sizeof(struct cpu_trace) % 8 == 0, "traces stay aligned");
_Static_assert(sizeof(struct cpu_insn) % 8 == 0, "traces stay aligned");

struct cpu_icache {
	const struct guest_mem *mem;
	uint8_t *pool;
	size_t used;          /* bytes of the pool in use */
	uint32_t *index;      /* IC_INDEX pool offsets (0: empty), 2-way */
	uint8_t *lru;         /* per set: the way to refill */
	uint32_t *page_head;  /* per RAM page: its first trace, or 0 */
	uint64_t pages;
	struct cpu *cpus;     /* the attached vCPUs, linked by ic_next */
	uint64_t resets;      /* times the pool was emptied */
	uint8_t *code;        /* translations (jit.c), emptied with the pool */
	size_t code_used;
	bool code_full;       /* a translation did not fit: empty both at
				 the next decode */
	uint64_t epochs;      /* the last epoch given to a vCPU */
};

static inline struct cpu_trace *trace_at(const struct cpu_icache *ic,
					 uint32_t off)
{
	return (struct cpu_trace *)(void *)(ic->pool + off);
}

static inline uint32_t trace_off(const struct cpu_icache *ic,
				 const struct cpu_trace *t)
{
	return (uint32_t)((const uint8_t *)t - ic->pool);
}

/* RAM page number of pa (low RAM, then RAM above 4 GiB), or -1. */
static int64_t page_index(const struct cpu_icache *ic, uint64_t pa)
{
	const struct guest_mem *gm = ic->mem;

	if (pa < gm->low_size)
		return (int64_t)(pa >> 12);
	if (pa >= MEM_4G && pa - MEM_4G < gm->high_size)
		return (int64_t)((gm->low_size + pa - MEM_4G) >> 12);
	return -1;
}

/* --- keys ----------------------------------------------------------------- */

void cpu_new_epoch(struct cpu *c)
{
	c->epoch = ++c->ic->epochs;
	cpu_update_dec_key(c);
}

void cpu_update_dec_key(struct cpu *c)
{
	c->dec_key = ((uint64_t)c->mode << 56) | ((uint64_t)c->fpu_trap << 63);
	/* epoch, then the key's bits 56-63 in bits 2-9, the CPL in 0-1 */
	c->jc_base = (c->epoch << 10) | (c->dec_key >> 54);
	c->jc_key = c->jc_base | c->cpl;
	cpu_leave_trace(c);
}

void cpu_update_fpu_trap(struct cpu *c)
{
	bool t = (c->cr0 & (CR0_TS | CR0_EM)) || !(c->cr4 & CR4_OSFXSR);

	if (t != c->fpu_trap) {
		c->fpu_trap = t;
		cpu_update_dec_key(c);
		c->next_check = 0; /* leave a trace decoded under the old key */
	}
}

/* --- index ---------------------------------------------------------------- */

static inline unsigned index_set(uint64_t tag)
{
	return (unsigned)((tag * 0x9e3779b97f4a7c15ull) >>
			  (64 - IC_INDEX_BITS)) & ~1u;
}

static struct cpu_trace *index_find(struct cpu_icache *ic, uint64_t tag)
{
	unsigned set = index_set(tag);

	for (unsigned k = 0; k < 2; k++) {
		uint32_t off = ic->index[set + k];

		if (off && trace_at(ic, off)->tag == tag) {
			ic->lru[set / 2] = (uint8_t)(k ^ 1);
			return trace_at(ic, off);
		}
	}
	return NULL;
}

/* Enters t, replacing an entry with its tag (a stale split trace), an
 * empty or dead one, or the least recently used. */
static void index_insert(struct cpu_icache *ic, struct cpu_trace *t)
{
	unsigned set = index_set(t->tag), way = ic->lru[set / 2];

	for (unsigned k = 0; k < 2; k++) {
		uint32_t off = ic->index[set + k];

		if (!off || trace_at(ic, off)->tag == t->tag ||
		    trace_at(ic, off)->tag == TRACE_DEAD) {
			way = k;
			break;
		}
	}
	ic->index[set + way] = trace_off(ic, t);
	ic->lru[set / 2] = (uint8_t)(way ^ 1);
}

/* --- code marks ----------------------------------------------------------- */

bool cpu_is_code_page(const struct cpu *c, uint64_t pa)
{
	int64_t i = page_index(c->ic, pa);

	return i >= 0 && c->ic->page_head[i];
}

/* Lists t in the page of pa (which = 0: its start page, 1: the second
 * page of a split trace).  A page's first trace takes away every vCPU's
 * write-TLB entries for it. */
static void page_link(struct cpu_icache *ic, struct cpu_trace *t,
		      uint64_t pa, unsigned which)
{
	int64_t i = page_index(ic, pa);
	uint64_t page = pa & ~0xfffull;

	if (i < 0)
		return;
	if (!ic->page_head[i]) {
		for (struct cpu *v = ic->cpus; v; v = v->ic_next)
			for (unsigned k = 0; k < TLB_SIZE; k++)
				if (v->tlb[TLB_WRITE][k].pa_page == page)
					v->tlb[TLB_WRITE][k].tag = TLB_INVALID;
	}
	t->link[which] = ic->page_head[i];
	ic->page_head[i] = trace_off(ic, t);
}

/* Is page the second page of split trace t (listed there by link[1])? */
static inline unsigned second_page(const struct cpu_trace *t, uint64_t page)
{
	return t->split && t->pa2 == page && (t->pa & ~0xfffull) != page;
}

/* Every vCPU leaves the trace it walks and looks again at its next
 * instruction. */
static void drop_walks(struct cpu_icache *ic)
{
	for (struct cpu *v = ic->cpus; v; v = v->ic_next) {
		cpu_leave_trace(v);
		v->next_check = 0;
	}
}

void cpu_code_write(struct cpu *c, uint64_t pa, unsigned n)
{
	struct cpu_icache *ic = c->ic;
	int64_t i = page_index(ic, pa);
	uint64_t page = pa & ~0xfffull;
	uint32_t off;

	if (i < 0 || !ic->page_head[i])
		return;
	c->st_smc_flush++;
	for (off = ic->page_head[i]; off;) {
		struct cpu_trace *t = trace_at(ic, off);

		if (t->tag != TRACE_DEAD) {
			t->tag = TRACE_DEAD;
			c->st_trace_kill++;
		}
		off = t->link[second_page(t, page)];
	}
	ic->page_head[i] = 0;
	drop_walks(ic);
}

/* --- decoding ------------------------------------------------------------- */

/* A trace ends after every instruction that can move RIP other than by
 * its length, since the run loop walks a trace without comparing RIP:
 * the DF_END rows of the opcode list (transfers, INT n, SYSCALL..., HLT,
 * UD2) and undefined opcodes. */
static bool ends_trace(unsigned op)
{
	return op == DEC_OP_UD || (dec_attrs[op].flags & DF_END);
}

/* Physical address of the fetch at la: the TLB, else a walk (which may
 * raise #PF). */
static uint64_t fetch_pa(struct cpu *c, uint64_t la)
{
	struct tlb_entry *e = tlb_hit(c, TLB_FETCH, la, 1);

	if (e)
		return e->pa_page | (la & 0xfff);
	return cpu_translate(c, la, TLB_FETCH, cpu_user(c));
}

/* The linear address of the page after the one holding la. */
static uint64_t next_page(const struct cpu *c, uint64_t la)
{
	uint64_t la2 = (la | 0xfff) + 1;

	return c->mode == DEC_MODE64 ? la2 : la2 & 0xffffffffull;
}

/* Decodes the instruction at la that crosses into the next page (avail
 * bytes in this one, at p) into ci; returns the second page's physical
 * address.  Raises #PF for an absent second page, #GP for one that is
 * not RAM or an instruction longer than 15 bytes. */
static uint64_t decode_split(struct cpu *c, struct cpu_insn *ci, uint64_t la,
			     const uint8_t *p, unsigned avail)
{
	uint8_t buf[15];
	uint64_t pa2 = fetch_pa(c, next_page(c, la));
	const uint8_t *p2 = gm_ptr(&c->m->mem, pa2, 15 - avail);

	if (!p2)
		cpu_gp(c, 0); /* fetch from MMIO */
	memcpy(buf, p, avail);
	memcpy(buf + avail, p2, 15 - avail);
	if (dec_decode(&ci->d, buf, 15, c->mode))
		cpu_gp(c, 0);
	return pa2 & ~0xfffull;
}

static void icache_reset(struct cpu_icache *ic);

/* Decodes the trace at la (physical pa, host p, avail bytes to the page
 * end) into the pool and enters it into the index and page lists. */
static struct cpu_trace *build(struct cpu *c, uint64_t la, uint64_t pa,
			       const uint8_t *p, unsigned avail, uint64_t tag)
{
	struct cpu_icache *ic = c->ic;
	struct cpu_trace *t;
	unsigned n = 0, off = 0;

	if (ic->used + TRACE_BYTES(TRACE_MAX) > IC_POOL_SIZE || ic->code_full) {
		c->st_ic_flush++;
		icache_reset(ic);
	}
	t = trace_at(ic, (uint32_t)ic->used);
	memset(t, 0, sizeof(*t));
	while (n < TRACE_MAX && off < avail) {
		struct cpu_insn *ci = &t->insn[n];
		int ret = dec_decode(&ci->d, p + off, avail - off, c->mode);

		if (ret == -EAGAIN && n == 0) {
			c->st_xpage++;
			t->pa2 = decode_split(c, ci, la, p, avail);
			t->split = true;
		} else if (ret && n == 0) {
			cpu_gp(c, 0);
		} else if (ret) {
			break; /* the next trace starts there */
		}
		ci->fn = cpu_select_handler(c, &ci->d);
		off += ci->d.len;
		n++;
		if (t->split || ends_trace(ci->d.op))
			break;
	}
	c->st_decoded += n;
	t->n = (uint16_t)n;
	t->tag = tag;
	t->pa = pa;
	ic->used += TRACE_BYTES(n);
	page_link(ic, t, pa, 0);
	if (second_page(t, t->pa2))
		page_link(ic, t, t->pa2, 1);
	index_insert(ic, t);
	return t;
}

/* --- lookup --------------------------------------------------------------- */

static void jc_clear(struct cpu *c)
{
	for (unsigned i = 0; i < 1u << JC_BITS; i++)
		c->jc[i] = (struct cpu_jc_entry){ .la = 0, .key = ~0ull };
}

struct cpu_trace *cpu_trace_find(struct cpu *c, uint64_t la,
				 struct cpu_jc_entry *e, uint64_t key,
				 struct cpu_trace *prev)
{
	uint64_t resets = c->ic->resets;
	struct cpu_trace *t;
	const uint8_t *p;
	unsigned avail;
	uint64_t pa;

	p = cpu_fetch_ptr(c, la, &pa, &avail);
	if (!p)
		cpu_gp(c, 0); /* fetch from MMIO */
	t = index_find(c->ic, pa | c->dec_key);
	/* A split trace holds for the second page it was decoded from;
	 * in the jump cache, while the epoch lasts. */
	if (t && t->split && fetch_pa(c, next_page(c, la)) >> 12 != t->pa2 >> 12)
		t = NULL;
	if (t) {
		c->st_trace_hit++;
	} else {
		c->st_trace_miss++;
		t = build(c, la, pa, p, avail, pa | c->dec_key);
	}
	/* A split trace too: its second page's translation holds until the
	 * epoch changes. */
	e->la = la;
	e->key = key;
	e->t = t;
	if (prev && c->ic->resets == resets) /* else prev is gone */
		cpu_trace_link(prev, la, key, t);
	return t;
}

/* --- life cycle ----------------------------------------------------------- */

/* Forgets every trace: empty pool, index and page lists; every vCPU's
 * jump cache and walk. */
static void icache_reset(struct cpu_icache *ic)
{
	ic->resets++;
	ic->used = IC_POOL_START;
	ic->code_used = 0;
	ic->code_full = false;
	memset(ic->index, 0, IC_INDEX * sizeof(*ic->index));
	memset(ic->page_head, 0, ic->pages * sizeof(*ic->page_head));
	for (struct cpu *v = ic->cpus; v; v = v->ic_next)
		jc_clear(v);
	drop_walks(ic);
}

bool cpu_trace_translate(struct cpu *c, struct cpu_trace *t)
{
	struct cpu_icache *ic = c->ic;
	size_t n;

	if (!ic->code || !c->jit)
		return false;
	n = cpu_jit_emit(t, ic->code + ic->code_used,
			 IC_CODE_SIZE - ic->code_used, c->jit_tlb_miss);
	if (!n) {
		/* full (a trace's code is far below 64 KiB) */
		if (IC_CODE_SIZE - ic->code_used < 65536)
			ic->code_full = true;
		return false;
	}
	t->jit = (cpu_jit_fn)(void *)(ic->code + ic->code_used);
	ic->code_used = (ic->code_used + n + 15) & ~(size_t)15;
	c->st_jit++;
	return true;
}

void cpu_icache_flush(struct cpu *c)
{
	c->st_ic_flush++;
	icache_reset(c->ic);
}

static void icache_free(struct cpu_icache *ic)
{
	if (ic->pool)
		munmap(ic->pool, IC_POOL_SIZE);
	if (ic->code)
		munmap(ic->code, IC_CODE_SIZE);
	free(ic->index);
	free(ic->lru);
	free(ic->page_head);
	free(ic);
}

int cpu_icache_attach(struct cpu *c, struct cpu_icache *ic)
{
	c->jc = malloc((1u << JC_BITS) * sizeof(*c->jc));
	if (!c->jc)
		return -ENOMEM;
	jc_clear(c);
	c->ic = ic;
	c->ic_next = ic->cpus;
	ic->cpus = c;
	cpu_update_dec_key(c);
	return 0;
}

int cpu_icache_create(struct cpu *c)
{
	struct cpu_icache *ic = calloc(1, sizeof(*ic));
	void *pool;

	if (!ic)
		return -ENOMEM;
	ic->mem = &c->m->mem;
	ic->pages = c->m->mem.size >> 12;
	/* Untouched pool pages cost nothing (MAP_NORESERVE). */
	pool = mmap(NULL, IC_POOL_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ic->pool = pool == MAP_FAILED ? NULL : pool;
	/* Without executable memory (a host that forbids it) traces run
	 * on the walk alone. */
	pool = mmap(NULL, IC_CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ic->code = pool == MAP_FAILED ? NULL : pool;
	ic->index = calloc(IC_INDEX, sizeof(*ic->index));
	ic->lru = calloc(IC_INDEX / 2, 1);
	ic->page_head = calloc(ic->pages ? ic->pages : 1,
			       sizeof(*ic->page_head));
	if (!ic->pool || !ic->index || !ic->lru || !ic->page_head ||
	    cpu_icache_attach(c, ic)) {
		icache_free(ic);
		return -ENOMEM;
	}
	ic->used = IC_POOL_START;
	return 0;
}

void cpu_icache_detach(struct cpu *c)
{
	struct cpu_icache *ic = c->ic;

	if (!ic)
		return;
	for (struct cpu **p = &ic->cpus; *p; p = &(*p)->ic_next) {
		if (*p == c) {
			*p = c->ic_next;
			break;
		}
	}
	free(c->jc);
	c->jc = NULL;
	c->ic = NULL;
	if (!ic->cpus)
		icache_free(ic);
}
