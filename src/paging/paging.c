/* Page-table walker: see paging.h.  References are to the Intel SDM
 * Vol. 3A, chapter 4 ("Paging"). */
#include "paging/paging.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "mem.h"
#include "regs.h"

_Static_assert(PG_MAXPHYADDR == 40, "32-bit PSE-36 layout below assumes 40");

#define PHYS_MASK ((1ull << PG_MAXPHYADDR) - 1)
#define ADDR_4K (PHYS_MASK & ~0xfffull)        /* bits M-1:12 */
#define RSVD_HI_4L (0x000fffffffffffffull & ~PHYS_MASK) /* 51:M, §4.5.4 */
#define RSVD_HI_PAE (0x7fffffffffffffffull & ~PHYS_MASK) /* 62:M, §4.4.2 */
#define RSVD_2M 0x1fe000ull    /* bits 20:13 of a 2 MiB leaf */
#define RSVD_1G 0x3fffe000ull  /* bits 29:13 of a 1 GiB leaf */
#define RSVD_4M (1ull << 21)   /* 32-bit 4 MiB PDE, M = 40 (§4.3) */
#define RSVD_PDPTE (0x6ull | 0x1e0ull) /* PAE PDPTE bits 2:1, 8:5 */

_Static_assert(RSVD_HI_4L == 0x000fff0000000000ull, "4-level bits 51:40");
_Static_assert(RSVD_HI_PAE == 0x7fffff0000000000ull, "PAE bits 62:40");

enum pg_mode { PGM_NONE, PGM_32, PGM_PAE, PGM_4L };

/* Shape of one mode: levels from the root, index shift/width per level,
 * whether a PS=1 entry at that level maps a page. */
struct mode_desc {
	unsigned levels, pte_size;
	unsigned shift[4], bits[4];
	bool large[4];
};

static const struct mode_desc modes[] = {
	[PGM_32] = { 2, 4, { 22, 12 }, { 10, 10 }, { true, false } },
	[PGM_PAE] = { 3, 8, { 30, 21, 12 }, { 2, 9, 9 }, { false, true } },
	[PGM_4L] = { 4, 8, { 39, 30, 21, 12 }, { 9, 9, 9, 9 },
		     { false, true, true, false } },
};

static enum pg_mode pg_mode_of(const struct pg_ctx *c)
{
	if (!(c->cr0 & CR0_PG))
		return PGM_NONE;
	if (!(c->cr4 & CR4_PAE))
		return PGM_32;
	return (c->efer & EFER_LMA) ? PGM_4L : PGM_PAE;
}

static uint64_t root_of(const struct pg_ctx *c, enum pg_mode m)
{
	switch (m) {
	case PGM_32:
		return c->cr3 & 0xfffff000ull;
	case PGM_PAE:
		return c->cr3 & 0xffffffe0ull; /* §4.4.1: CR3[31:5] */
	default:
		return c->cr3 & ADDR_4K;       /* PCID in CR3[11:0] */
	}
}

/* Reserved bits of an entry at `lvl`; `leaf_large` when PS=1 maps a page
 * above the last level (§4.3 Table 4-4, §4.4.2 Tables 4-8..4-11, §4.5.4
 * Tables 4-14..4-19). */
static uint64_t rsvd_bits(enum pg_mode m, unsigned lvl, bool leaf_large,
			  bool nxe)
{
	uint64_t r;

	if (m == PGM_32)
		return leaf_large ? RSVD_4M : 0;
	if (m == PGM_PAE) {
		if (lvl == 0)
			return RSVD_HI_PAE | (1ull << 63) | RSVD_PDPTE;
		r = RSVD_HI_PAE | (leaf_large ? RSVD_2M : 0);
	} else {
		r = RSVD_HI_4L;
		if (lvl == 0)
			r |= PTE_PS;            /* PML4E bit 7 */
		else if (leaf_large)
			r |= lvl == 1 ? RSVD_1G : RSVD_2M;
	}
	return nxe ? r : r | PTE_NX;
}

/* Reads the entry at ea; for 32-bit paging `*raw` is the aligned 8-byte
 * pair that holds it (see the read_pte contract). */
static int read_entry(const struct pg_ctx *c, unsigned size, uint64_t ea,
		      uint64_t *pte, uint64_t *raw)
{
	int ret = c->read_pte(c->opaque, ea & ~7ull, raw);

	if (ret)
		return ret;
	if (size == 8)
		*pte = *raw;
	else
		*pte = (ea & 4) ? *raw >> 32 : *raw & 0xffffffffull;
	return 0;
}

static int write_entry(const struct pg_ctx *c, unsigned size, uint64_t ea,
		       uint64_t raw, uint64_t set)
{
	if (size == 4 && (ea & 4))
		set <<= 32;
	return c->write_pte(c->opaque, ea & ~7ull, raw | set);
}

/* Frame of a leaf entry mapping a page of 2^shift bytes. */
static uint64_t leaf_frame(enum pg_mode m, uint64_t pte, unsigned shift)
{
	if (m == PGM_32) {
		if (shift == 12)
			return pte & 0xfffff000ull;
		/* PSE-36: PA[39:32] in PDE[20:13] (§4.3 Table 4-4). */
		return (pte & 0xffc00000ull) | ((pte >> 13) & 0xffull) << 32;
	}
	return pte & ADDR_4K & ~((1ull << shift) - 1);
}

/* Combined rights of the entries walked (§4.6: U/S and R/W must be 1 at
 * every level, XD at any level forbids fetches). */
struct rights {
	bool w, u, xd;
};

/* Checks the access against the combined rights and fills the effective
 * permission fields.  Returns true when the access is allowed (§4.6.1). */
static bool check_access(const struct pg_ctx *c, struct rights rt,
			 unsigned access, struct pg_result *r)
{
	bool user = access & PG_USER;
	bool wp = c->cr0 & CR0_WP;
	bool smap_blocks = rt.u && (c->cr4 & CR4_SMAP) && !(access & PG_AC);

	r->user = rt.u;
	if (user) {
		r->writable = rt.u && rt.w;
		r->nx = !rt.u || rt.xd;
	} else {
		r->writable = (rt.w || !wp) && !smap_blocks;
		r->nx = rt.xd || (rt.u && (c->cr4 & CR4_SMEP));
	}
	if (access & PG_FETCH)
		return !r->nx;
	if (access & PG_WRITE)
		return r->writable;
	return user ? rt.u : !smap_blocks;
}

static uint32_t access_bits(const struct pg_ctx *c, unsigned access)
{
	uint32_t e = 0;

	if (access & PG_WRITE)
		e |= PF_W;
	if (access & PG_USER)
		e |= PF_U;
	/* §4.7: I/D is reported only when SMEP or PAE-style NX is on. */
	if ((access & PG_FETCH) &&
	    ((c->cr4 & CR4_SMEP) ||
	     ((c->cr4 & CR4_PAE) && (c->efer & EFER_NXE))))
		e |= PF_I;
	return e;
}

int pg_walk(const struct pg_ctx *c, uint64_t va, unsigned access,
	    struct pg_result *r, uint32_t *pf_error)
{
	enum pg_mode m = pg_mode_of(c);
	const struct mode_desc *d;
	bool nxe = (c->efer & EFER_NXE) && m != PGM_32;
	struct rights rt = { true, true, false };
	uint64_t ea[4], e_val[4], raw, pte = 0, table;
	unsigned lvl, shift = 12;
	int ret;

	if (m == PGM_NONE) {
		*r = (struct pg_result){ .pa = va & 0xffffffffull,
					 .page_size = 4096, .writable = true,
					 .user = true, .dirty = true };
		return PG_OK;
	}
	d = &modes[m];
	table = root_of(c, m);
	for (lvl = 0; lvl < d->levels; lvl++) {
		uint64_t idx = (va >> d->shift[lvl]) & ((1u << d->bits[lvl]) - 1);
		bool large;

		ea[lvl] = table + idx * d->pte_size;
		ret = read_entry(c, d->pte_size, ea[lvl], &pte, &raw);
		if (ret)
			return ret;
		e_val[lvl] = pte;
		if (!(pte & PTE_P)) {
			*pf_error = access_bits(c, access);
			return PG_FAULT;
		}
		large = d->large[lvl] && (pte & PTE_PS) &&
			(m != PGM_32 || (c->cr4 & CR4_PSE));
		if (pte & rsvd_bits(m, lvl, large, nxe)) {
			*pf_error = access_bits(c, access) | PF_P | PF_RSVD;
			return PG_FAULT;
		}
		if (m != PGM_PAE || lvl != 0) { /* PDPTEs carry no rights */
			rt.w &= !!(pte & PTE_W);
			rt.u &= !!(pte & PTE_U);
			rt.xd |= nxe && (pte & PTE_NX);
		}
		shift = d->shift[lvl];
		if (large || lvl == d->levels - 1)
			break;
		table = m == PGM_32 ? pte & 0xfffff000ull : pte & ADDR_4K;
	}
	if (!check_access(c, rt, access, r)) {
		*pf_error = access_bits(c, access) | PF_P;
		return PG_FAULT;
	}
	r->page_size = 1ull << shift;
	r->pa = leaf_frame(m, pte, shift) | (va & (r->page_size - 1));
	r->global = (pte & PTE_G) && (c->cr4 & CR4_PGE);
	r->dirty = pte & PTE_D;
	if (access & PG_NO_AD)
		return PG_OK;
	/* §4.8: A on every entry used, D on the leaf for a write.  Re-read
	 * before writing: with a self-referencing table two levels can share
	 * an entry (or, 32-bit, an 8-byte pair). */
	for (unsigned i = (m == PGM_PAE); i <= lvl; i++) {
		uint64_t set = (e_val[i] & PTE_A) ? 0 : PTE_A;

		if (i == lvl && (access & PG_WRITE) && !(e_val[i] & PTE_D))
			set |= PTE_D;
		if (!set)
			continue;
		ret = read_entry(c, d->pte_size, ea[i], &e_val[i], &raw);
		if (!ret)
			ret = write_entry(c, d->pte_size, ea[i], raw, set);
		if (ret)
			return ret;
	}
	r->dirty |= (access & PG_WRITE) != 0;
	return PG_OK;
}

static int gm_read_pte(void *opaque, uint64_t pa, uint64_t *pte)
{
	const void *p = gm_ptr(opaque, pa, 8);

	if (!p)
		return -EFAULT;
	memcpy(pte, p, 8);
	return 0;
}

static int gm_write_pte(void *opaque, uint64_t pa, uint64_t pte)
{
	return -EPERM; /* never called: PG_NO_AD */
}

int pg_translate_gm(const struct guest_mem *gm, uint64_t cr0, uint64_t cr3,
		    uint64_t cr4, uint64_t efer, uint64_t va, unsigned access,
		    uint64_t *pa)
{
	struct pg_ctx c = { cr0, cr3, cr4, efer, gm_read_pte, gm_write_pte,
			    (void *)gm };
	struct pg_result r;
	uint32_t err;
	int ret = pg_walk(&c, va, access | PG_NO_AD, &r, &err);

	if (ret == PG_OK)
		*pa = r.pa;
	return ret;
}

/* pg_for_each_range(): a depth-first walk holding one pending range. */
struct range_walk {
	const struct pg_ctx *c;
	enum pg_mode m;
	bool nxe;
	int (*fn)(void *arg, uint64_t va, uint64_t pa, uint64_t len, bool w,
		  bool u, bool nx);
	void *arg;
	bool have, stopped; /* stopped: fn returned non-zero */
	uint64_t va, pa, len;
	struct rights rt;
};

static int range_emit(struct range_walk *w, uint64_t va, uint64_t pa,
		      uint64_t len, struct rights rt)
{
	int ret;

	if (w->m == PGM_4L) /* sign-extend from bit 47 */
		va = (uint64_t)((int64_t)(va << 16) >> 16);
	if (w->have && w->va + w->len == va && w->pa + w->len == pa &&
	    w->rt.w == rt.w && w->rt.u == rt.u && w->rt.xd == rt.xd) {
		w->len += len;
		return 0;
	}
	if (w->have && (ret = w->fn(w->arg, w->va, w->pa, w->len, w->rt.w,
				    w->rt.u, w->rt.xd))) {
		w->stopped = true;
		return ret;
	}
	w->have = true;
	w->va = va;
	w->pa = pa;
	w->len = len;
	w->rt = rt;
	return 0;
}

static int range_table(struct range_walk *w, unsigned lvl, uint64_t table,
		       uint64_t va_base, struct rights up)
{
	const struct mode_desc *d = &modes[w->m];
	unsigned n = 1u << d->bits[lvl], sz = d->pte_size;
	uint64_t pte, raw;
	int ret;

	for (unsigned i = 0; i < n; i++) {
		uint64_t va = va_base | (uint64_t)i << d->shift[lvl];
		struct rights rt = up;
		bool large;

		if ((ret = read_entry(w->c, sz, table + i * sz, &pte, &raw)))
			return ret;
		if (!(pte & PTE_P))
			continue;
		large = d->large[lvl] && (pte & PTE_PS) &&
			(w->m != PGM_32 || (w->c->cr4 & CR4_PSE));
		if (pte & rsvd_bits(w->m, lvl, large, w->nxe))
			continue;
		if (w->m != PGM_PAE || lvl != 0) {
			rt.w &= !!(pte & PTE_W);
			rt.u &= !!(pte & PTE_U);
			rt.xd |= w->nxe && (pte & PTE_NX);
		}
		if (large || lvl == d->levels - 1)
			ret = range_emit(w, va, leaf_frame(w->m, pte,
							   d->shift[lvl]),
					 1ull << d->shift[lvl], rt);
		else
			ret = range_table(w, lvl + 1, w->m == PGM_32 ?
					  pte & 0xfffff000ull : pte & ADDR_4K,
					  va, rt);
		if (ret)
			return ret;
	}
	return 0;
}

int pg_for_each_range(const struct pg_ctx *c,
		      int (*fn)(void *arg, uint64_t va, uint64_t pa,
				uint64_t len, bool w, bool u, bool nx),
		      void *arg)
{
	struct range_walk w = { .c = c, .m = pg_mode_of(c), .fn = fn,
				.arg = arg };
	int ret, ret2;

	if (w.m == PGM_NONE)
		return fn(arg, 0, 0, MEM_4G, true, true, false);
	w.nxe = (c->efer & EFER_NXE) && w.m != PGM_32;
	ret = range_table(&w, 0, root_of(c, w.m), 0,
			  (struct rights){ true, true, false });
	if (w.stopped || !w.have)
		return ret;
	ret2 = fn(arg, w.va, w.pa, w.len, w.rt.w, w.rt.u, w.rt.xd);
	return ret ? ret : ret2;
}
