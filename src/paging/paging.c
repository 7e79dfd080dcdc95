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

/* Everything a walk needs to know about a mode, precomputed for both
 * values of EFER.NXE so that the per-level loop only masks and compares
 * (this is the interpreter's TLB refill path).  Levels count from the
 * root: 0 is the PML4 (4-level), the PDPT (PAE) or the PD (32-bit). */
struct mode_desc {
	unsigned levels, pte_size, bits, top_shift;
	unsigned large;          /* bit per level: PS=1 maps a page there */
	uint64_t addr;           /* next-table address bits of an entry */
	uint64_t rsvd[4];        /* reserved bits at each level */
	uint64_t rsvd_large[4];  /* more of them when PS=1 maps a page */
	uint64_t no_rights[4];   /* bits forced to 1 in the combined rights:
				  * PAE PDPTEs carry no R/W, U/S or A */
};

#define NXR(nxe) ((nxe) ? 0 : PTE_NX) /* XD is reserved without NXE */
#define MODE_32                                                          \
	{ 2, 4, 10, 22, 1u << 0, 0xfffff000ull, { 0, 0 }, { RSVD_4M, 0 }, \
	  { 0, 0 } }
#define MODE_PAE(nxe)                                                    \
	{ 3, 8, 9, 30, 1u << 1, ADDR_4K,                                 \
	  { RSVD_HI_PAE | PTE_NX | RSVD_PDPTE, RSVD_HI_PAE | NXR(nxe),     \
	    RSVD_HI_PAE | NXR(nxe) },                                    \
	  { 0, RSVD_2M, 0 }, { PTE_W | PTE_U | PTE_A, 0, 0 } }
#define MODE_4L(nxe)                                                     \
	{ 4, 8, 9, 39, 1u << 1 | 1u << 2, ADDR_4K,                       \
	  { RSVD_HI_4L | NXR(nxe) | PTE_PS, RSVD_HI_4L | NXR(nxe),         \
	    RSVD_HI_4L | NXR(nxe), RSVD_HI_4L | NXR(nxe) },                \
	  { 0, RSVD_1G, RSVD_2M, 0 }, { 0, 0, 0, 0 } }

static const struct mode_desc modes[2][4] = {
	{ [PGM_32] = MODE_32, [PGM_PAE] = MODE_PAE(0), [PGM_4L] = MODE_4L(0) },
	{ [PGM_32] = MODE_32, [PGM_PAE] = MODE_PAE(1), [PGM_4L] = MODE_4L(1) },
};

static enum pg_mode pg_mode_of(const struct pg_ctx *c)
{
	if (!(c->cr0 & CR0_PG))
		return PGM_NONE;
	if (!(c->cr4 & CR4_PAE))
		return PGM_32;
	return (c->efer & EFER_LMA) ? PGM_4L : PGM_PAE;
}

/* NXE only matters with PAE-format entries (§4.1.1). */
static const struct mode_desc *desc_of(const struct pg_ctx *c,
				       enum pg_mode m)
{
	return &modes[m != PGM_32 && (c->efer & EFER_NXE)][m];
}

/* Levels at which PS=1 maps a page: 32-bit paging needs CR4.PSE. */
static unsigned large_levels(const struct pg_ctx *c, enum pg_mode m,
			     const struct mode_desc *d)
{
	return m == PGM_32 && !(c->cr4 & CR4_PSE) ? 0 : d->large;
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

/* §4.8: A on every entry used, D on the leaf for a write.  Re-read
 * before writing: with a self-referencing table two levels can share an
 * entry (or, 32-bit, an 8-byte pair). */
static int set_ad(const struct pg_ctx *c, const struct mode_desc *d,
		  const uint64_t *ea, const uint64_t *val, unsigned leaf,
		  bool write)
{
	uint64_t raw, e;
	int ret;

	for (unsigned i = 0; i <= leaf; i++) {
		uint64_t set = (val[i] & PTE_A) ? 0 : PTE_A;

		if (d->no_rights[i] & PTE_A)
			continue; /* PAE PDPTE */
		if (i == leaf && write && !(val[i] & PTE_D))
			set |= PTE_D;
		if (!set)
			continue;
		ret = read_entry(c, d->pte_size, ea[i], &e, &raw);
		if (!ret)
			ret = write_entry(c, d->pte_size, ea[i], raw, set);
		if (ret)
			return ret;
	}
	return 0;
}

int pg_walk(const struct pg_ctx *c, uint64_t va, unsigned access,
	    struct pg_result *r, uint32_t *pf_error)
{
	enum pg_mode m = pg_mode_of(c);
	const struct mode_desc *d;
	uint64_t ea[4], val[4], raw, pte = 0, table, all = ~0ull, any = 0;
	unsigned lvl, shift, large_ok, idx_mask;
	struct rights rt;
	bool write = access & PG_WRITE;
	int ret;

	if (m == PGM_NONE) {
		*r = (struct pg_result){ .pa = va & 0xffffffffull,
					 .page_size = 4096, .writable = true,
					 .user = true, .dirty = true };
		return PG_OK;
	}
	if (m != PGM_4L)
		va &= 0xffffffffull; /* 32-bit linear addresses */
	d = desc_of(c, m);
	large_ok = large_levels(c, m, d);
	idx_mask = (1u << d->bits) - 1;
	table = root_of(c, m);
	shift = d->top_shift;
	for (lvl = 0;; lvl++, shift -= d->bits) {
		bool large;

		ea[lvl] = table + ((va >> shift) & idx_mask) * d->pte_size;
		ret = read_entry(c, d->pte_size, ea[lvl], &pte, &raw);
		if (ret)
			return ret;
		val[lvl] = pte;
		if (!(pte & PTE_P)) {
			*pf_error = access_bits(c, access);
			return PG_FAULT;
		}
		large = ((large_ok >> lvl) & 1) && (pte & PTE_PS);
		if (pte & (d->rsvd[lvl] | (large ? d->rsvd_large[lvl] : 0))) {
			*pf_error = access_bits(c, access) | PF_P | PF_RSVD;
			return PG_FAULT;
		}
		all &= pte | d->no_rights[lvl];
		any |= pte;
		if (large || lvl == d->levels - 1)
			break;
		table = pte & d->addr;
	}
	/* Without NXE, a set XD bit already faulted as reserved. */
	rt = (struct rights){ all & PTE_W, all & PTE_U, any & PTE_NX };
	if (!check_access(c, rt, access, r)) {
		*pf_error = access_bits(c, access) | PF_P;
		return PG_FAULT;
	}
	r->page_size = 1ull << shift;
	r->pa = leaf_frame(m, pte, shift) | (va & (r->page_size - 1));
	r->global = (pte & PTE_G) && (c->cr4 & CR4_PGE);
	r->dirty = (pte & PTE_D) || write;
	if (access & PG_NO_AD) {
		r->dirty = pte & PTE_D;
		return PG_OK;
	}
	if ((all & PTE_A) && (!write || (pte & PTE_D)))
		return PG_OK; /* nothing to set: the common case */
	return set_ad(c, d, ea, val, lvl, write);
}

int pg_load_pdptes(const struct pg_ctx *c, uint64_t pdpte[4])
{
	uint64_t base = root_of(c, PGM_PAE);
	int ret;

	for (unsigned i = 0; i < 4; i++) {
		ret = c->read_pte(c->opaque, base + 8 * i, &pdpte[i]);
		if (ret)
			return ret;
		if ((pdpte[i] & PTE_P) &&
		    (pdpte[i] & (RSVD_HI_PAE | PTE_NX | RSVD_PDPTE)))
			return PG_FAULT;
	}
	return 0;
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
	const struct mode_desc *d;
	enum pg_mode m;
	unsigned large_ok;
	bool nxe;
	int (*fn)(void *arg, uint64_t va, uint64_t pa, uint64_t len, bool w,
		  bool u, bool nx);
	void *arg;
	bool have, stopped; /* stopped: fn returned non-zero */
	uint64_t va, pa, len;
	struct rights rt;
	uint64_t budget;    /* entries left to read (PG_RANGE_MAX_ENTRIES) */
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
	const struct mode_desc *d = w->d;
	unsigned n = 1u << d->bits, sz = d->pte_size;
	unsigned shift = d->top_shift - lvl * d->bits;
	uint64_t pte, raw;
	int ret;

	if (w->m == PGM_PAE && lvl == 0)
		n = 4;
	for (unsigned i = 0; i < n; i++) {
		uint64_t va = va_base | (uint64_t)i << shift;
		uint64_t r = d->no_rights[lvl];
		struct rights rt = up;
		bool large;

		if (!w->budget--)
			return -E2BIG;
		if ((ret = read_entry(w->c, sz, table + i * sz, &pte, &raw)))
			return ret;
		if (!(pte & PTE_P))
			continue;
		large = ((w->large_ok >> lvl) & 1) && (pte & PTE_PS);
		if (pte & (d->rsvd[lvl] | (large ? d->rsvd_large[lvl] : 0)))
			continue;
		rt.w &= !!((pte | r) & PTE_W);
		rt.u &= !!((pte | r) & PTE_U);
		rt.xd |= w->nxe && (pte & PTE_NX);
		if (large || lvl == d->levels - 1)
			ret = range_emit(w, va, leaf_frame(w->m, pte, shift),
					 1ull << shift, rt);
		else
			ret = range_table(w, lvl + 1, pte & d->addr, va, rt);
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
				.arg = arg, .budget = PG_RANGE_MAX_ENTRIES };
	int ret, ret2;

	if (w.m == PGM_NONE)
		return fn(arg, 0, 0, MEM_4G, true, true, false);
	w.nxe = (c->efer & EFER_NXE) && w.m != PGM_32;
	w.d = desc_of(c, w.m);
	w.large_ok = large_levels(c, w.m, w.d);
	ret = range_table(&w, 0, root_of(c, w.m), 0,
			  (struct rights){ true, true, false });
	if (w.stopped || !w.have)
		return ret;
	ret2 = fn(arg, w.va, w.pa, w.len, w.rt.w, w.rt.u, w.rt.xd);
	return ret ? ret : ret2;
}
