/* Guest memory access for the interpreter: the software TLB (direct
 * mapped, one table per access kind, hit = tag compare + host pointer),
 * the slow path through pg_walk() to RAM or MMIO.  Self-modifying code:
 * pages holding decoded code (block.c) never get write-TLB entries, so
 * every store to them takes the slow path, which calls cpu_code_write(). */
#include "cpu/cpu.h"

#include <errno.h>

#include "machine.h"
#include "paging/paging.h"

/* A full flush (keep_global false) after at most TLB_LOG fills clears
 * just the logged entries: a guest toggling CR0.WP or CR4.PGE in a loop
 * pays for what it filled, not for the whole TLB.  A flush that keeps
 * the global entries (MOV CR3 with CR4.PGE) walks the whole TLB as
 * before and leaves the log overflowed: the kept entries are not in it. */
void cpu_tlb_flush(struct cpu *c, bool keep_global)
{
	if (!keep_global && c->tlb_fills <= TLB_LOG) {
		for (unsigned i = 0; i < c->tlb_fills; i++) {
			unsigned n = c->tlb_log[i];

			c->tlb[n / TLB_SIZE][n % TLB_SIZE].tag = TLB_INVALID;
		}
	} else {
		for (int k = 0; k < TLB_KINDS; k++)
			for (int i = 0; i < TLB_SIZE; i++)
				if (!keep_global || !c->tlb[k][i].global)
					c->tlb[k][i].tag = TLB_INVALID;
	}
	c->tlb_fills = keep_global ? TLB_LOG + 1 : 0;
	c->st_tlb_flush++;
	cpu_new_epoch(c);
	c->next_check = 0;
}

void cpu_tlb_flush_page(struct cpu *c, uint64_t la)
{
	for (int k = 0; k < TLB_KINDS; k++) {
		struct tlb_entry *e = &c->tlb[k][(la >> 12) & (TLB_SIZE - 1)];

		if ((e->tag & ~0xfffull) == (la & ~0xfffull))
			e->tag = TLB_INVALID;
	}
	cpu_new_epoch(c);
	c->next_check = 0;
}

static int read_pte(void *opaque, uint64_t pa, uint64_t *pte)
{
	struct cpu *c = opaque;

	return gm_read(&c->m->mem, pa, pte, 8);
}

/* PAE paging outside IA-32e mode: the PDPTEs come from the registers
 * MOV to CR3 loaded (SDM Vol. 3 §4.4.1), not from memory. */
static int read_pte_pae(void *opaque, uint64_t pa, uint64_t *pte)
{
	struct cpu *c = opaque;
	uint64_t pdpt = c->cr3 & 0xffffffe0ull;

	if (pa - pdpt < 32) {
		*pte = c->pdpte[(pa - pdpt) / 8];
		return 0;
	}
	return gm_read(&c->m->mem, pa, pte, 8);
}

static int write_pte(void *opaque, uint64_t pa, uint64_t pte)
{
	struct cpu *c = opaque;

	cpu_code_write(c, pa, 8);
	return gm_write(&c->m->mem, pa, &pte, 8);
}

static bool has_watch(const struct cpu *c, uint64_t page)
{
	for (unsigned i = 0; i < c->nwp; i++)
		if (c->wp[i].addr < page + 4096 &&
		    page < c->wp[i].addr + c->wp[i].len)
			return true;
	return false;
}

bool cpu_load_pdptes(struct cpu *c, uint64_t cr0, uint64_t cr3, uint64_t cr4)
{
	struct pg_ctx pc = { cr0, cr3, cr4, 0, read_pte, write_pte, c };
	uint64_t p[4];
	int ret = pg_load_pdptes(&pc, p);

	if (ret == PG_FAULT)
		return false;
	if (ret)
		memset(p, 0, sizeof(p));
	memcpy(c->pdpte, p, sizeof(p));
	return true;
}

uint64_t cpu_translate(struct cpu *c, uint64_t la, int kind, bool user)
{
	struct pg_ctx pc = { c->cr0, c->cr3, c->cr4, c->efer, read_pte,
			     write_pte, c };
	struct pg_result r;
	uint32_t pf = 0;
	unsigned acc = kind == TLB_WRITE ? PG_WRITE :
		       kind == TLB_FETCH ? PG_FETCH : PG_READ;
	int ret;

	if (c->mode == DEC_MODE64 && !cpu_canonical(la)) {
		/* Through SS: #SS(0) (the operand or stack access may
		 * reach up to a page past the address formed). */
		if (kind != TLB_FETCH && la - c->nc_ss < 4096) {
			c->nc_ss = 0;
			cpu_raise(c, EXC_SS, 0, true);
		}
		cpu_gp(c, 0);
	}
	if (!(c->cr0 & CR0_PG)) {
		r.pa = la;
		r.global = false;
		r.user = false;
	} else {
		if (!(c->efer & EFER_LMA) && (c->cr4 & CR4_PAE))
			pc.read_pte = read_pte_pae;
		if (user)
			acc |= PG_USER;
		if (c->rflags & RFLAGS_AC)
			acc |= PG_AC;
		ret = pg_walk(&pc, la, acc, &r, &pf);
		if (ret == PG_FAULT || ret < 0) {
			c->cr2 = la;
			cpu_raise(c, EXC_PF, ret < 0 ? pf | PF_RSVD : pf, true);
		}
	}
	{
		uint64_t pa_page = r.pa & ~0xfffull;
		uint8_t *host = gm_ptr(&c->m->mem, pa_page, 4096);
		struct tlb_entry *e = &c->tlb[kind][(la >> 12) & (TLB_SIZE - 1)];

		if (host && !(kind == TLB_WRITE && cpu_is_code_page(c, pa_page)) &&
		    !(kind != TLB_FETCH && c->nwp && has_watch(c, la & ~0xfffull)) &&
		    !(kind != TLB_FETCH && c->dr_data &&
		      cpu_dr_watch_page(c, la & ~0xfffull)) &&
		    /* SMAP: a supervisor access to a user page depends
		     * on RFLAGS.AC, which the TLB tag does not hold. */
		    !(kind != TLB_FETCH && !user && r.user &&
		      (c->cr4 & CR4_SMAP))) {
			if (c->tlb_fills < TLB_LOG)
				c->tlb_log[c->tlb_fills] = (uint16_t)(kind *
					TLB_SIZE + ((la >> 12) & (TLB_SIZE - 1)));
			if (c->tlb_fills <= TLB_LOG)
				c->tlb_fills++;
			e->tag = (la & ~0xfffull) | user;
			e->addend = (uintptr_t)host - (uintptr_t)(la & ~0xfffull);
			e->pa_page = pa_page;
			e->global = r.global;
			if (kind == TLB_WRITE) /* the history's dirty map */
				gm_dirty_host(&c->m->mem, host);
		}
	}
	c->st_tlb_miss++;
	return r.pa;
}

static void check_watch(struct cpu *c, uint64_t la, unsigned n, int kind)
{
	for (unsigned i = 0; i < c->nwp; i++) {
		enum bp_type t = c->wp[i].t;

		if (la < c->wp[i].addr + c->wp[i].len && c->wp[i].addr < la + n &&
		    (t == BP_ACCESS || (t == BP_WRITE) == (kind == TLB_WRITE)) &&
		    !c->watch_hit) { /* the first access in the instruction */
			c->watch_hit = true;
			c->next_check = 0;
			c->watch_addr = la > c->wp[i].addr ? la : c->wp[i].addr;
			c->watch_type = t;
		}
	}
}

/* The physical address of [la, la + n), within one page: the TLB, else
 * a walk (an access that crosses a page misses tlb_hit() as a whole, but
 * each of its parts may hit). */
static uint64_t slow_pa(struct cpu *c, uint64_t la, unsigned n, int kind,
			bool user)
{
	struct tlb_entry *e = tlb_hit(c, kind, la, n);

	if (e)
		return e->pa_page | (la & 0xfff);
	return cpu_translate(c, la, kind, user);
}

void cpu_mem_slow(struct cpu *c, uint64_t la, void *buf, unsigned n,
		  int kind)
{
	unsigned first;
	uint64_t pa[2];
	unsigned len[2];
	int parts = 1;
	bool user = cpu_user(c);

	/* Outside 64-bit mode: the segment checks, then the TLB with the
	 * linear address (seg.c). */
	if (la_tagged(la) && c->mode != DEC_MODE64) {
		struct tlb_entry *e;

		la = cpu_seg_check(c, la, n, kind);
		e = tlb_hit(c, kind, la, n);
		if (e && !c->nwp && !c->dr_data) {
			if (kind == TLB_WRITE)
				memcpy((void *)(e->addend + (uintptr_t)la), buf, n);
			else
				memcpy(buf, (void *)(e->addend + (uintptr_t)la), n);
			return;
		}
	}
	first = 4096 - (la & 0xfff);
	if (first >= n) {
		len[0] = n;
	} else {
		len[0] = first;
		len[1] = n - first;
		parts = 2;
	}
	/* Translate every page before touching any (no partial writes). */
	pa[0] = slow_pa(c, la, len[0], kind, user);
	if (parts == 2)
		pa[1] = slow_pa(c, la + first, len[1], kind, user);
	if (c->nwp)
		check_watch(c, la, n, kind);
	if (c->dr_data)
		cpu_dr_watch(c, la, n, kind);
	for (int i = 0, off = 0; i < parts; off += len[i], i++) {
		uint8_t *p = gm_ptr(&c->m->mem, pa[i], len[i]);
		uint8_t *b = (uint8_t *)buf + off;

		if (kind == TLB_WRITE) {
			if (p) {
				cpu_code_write(c, pa[i], len[i]);
				gm_dirty_host(&c->m->mem, p);
				memcpy(p, b, len[i]);
			} else {
				machine_mmio(c->m, pa[i], true, b, len[i]);
				/* A device write may unmask or raise an
				 * interrupt (the LAPIC's TPR, EOI, a self-IPI):
				 * the events are checked after this
				 * instruction, as after OUT (SDM Vol. 3A,
				 * "Task and Processor Priorities"). */
				c->next_check = 0;
			}
		} else if (p) {
			memcpy(b, p, len[i]);
		} else {
			machine_mmio(c->m, pa[i], false, b, len[i]);
		}
	}
}

void cpu_probe_write(struct cpu *c, uint64_t la, unsigned n)
{
	unsigned first;

	if (c->mode != DEC_MODE64 && la_tagged(la))
		la = cpu_seg_check(c, la, n, TLB_WRITE);
	first = 4096 - (la & 0xfff);
	if (tlb_hit(c, TLB_WRITE, la, n))
		return;
	cpu_translate(c, la, TLB_WRITE, cpu_user(c));
	if (first < n)
		cpu_translate(c, la + first, TLB_WRITE, cpu_user(c));
}

const uint8_t *cpu_fetch_ptr(struct cpu *c, uint64_t la, uint64_t *pa,
			     unsigned *avail)
{
	struct tlb_entry *e = tlb_hit(c, TLB_FETCH, la, 1);

	*avail = 4096 - (la & 0xfff);
	if (e) {
		*pa = e->pa_page | (la & 0xfff);
		return (const uint8_t *)(e->addend + (uintptr_t)la);
	}
	*pa = cpu_translate(c, la, TLB_FETCH, cpu_user(c));
	return gm_ptr(&c->m->mem, *pa, *avail);
}
