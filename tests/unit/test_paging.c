/* Unit tests of the page-table walker (src/paging): page tables are built
 * in a 16 MiB guest_mem and walked in every paging mode.
 * Run: ./tests/unit/test_paging (from the build folder). */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "mem.h"
#include "paging/paging.h"
#include "regs.h"
#include "test.h"

static struct guest_mem gm;
static uint64_t next_page;
static int pte_writes;

static uint64_t alloc_page(void)
{
	uint64_t pa = next_page;

	next_page += 4096;
	memset(gm_ptr(&gm, pa, 4096), 0, 4096);
	return pa;
}

static uint64_t rd64(uint64_t pa)
{
	uint64_t v;

	memcpy(&v, gm_ptr(&gm, pa, 8), 8);
	return v;
}

static void wr64(uint64_t pa, uint64_t v)
{
	memcpy(gm_ptr(&gm, pa, 8), &v, 8);
}

static uint32_t rd32(uint64_t pa)
{
	uint32_t v;

	memcpy(&v, gm_ptr(&gm, pa, 4), 4);
	return v;
}

static void wr32(uint64_t pa, uint32_t v)
{
	memcpy(gm_ptr(&gm, pa, 4), &v, 4);
}

static int t_read_pte(void *opaque, uint64_t pa, uint64_t *pte)
{
	void *p = gm_ptr(&gm, pa, 8);

	if (!p || (pa & 7))
		return -EFAULT;
	memcpy(pte, p, 8);
	return 0;
}

static int t_write_pte(void *opaque, uint64_t pa, uint64_t pte)
{
	void *p = gm_ptr(&gm, pa, 8);

	if (!p || (pa & 7))
		return -EFAULT;
	memcpy(p, &pte, 8);
	pte_writes++;
	return 0;
}

#define LM_CR0 (CR0_PG | CR0_PE | CR0_WP)
#define LM_CR4 CR4_PAE
#define LM_EFER (EFER_LME | EFER_LMA | EFER_NXE)

static struct pg_ctx ctx(uint64_t cr0, uint64_t cr3, uint64_t cr4,
			 uint64_t efer)
{
	return (struct pg_ctx){ cr0, cr3, cr4, efer, t_read_pte, t_write_pte,
				NULL };
}

/* Entry address of va's entry in the table at `table` (4-level/PAE). */
static uint64_t slot(uint64_t table, uint64_t va, unsigned shift,
		     unsigned bits)
{
	return table + ((va >> shift) & ((1u << bits) - 1)) * 8;
}

/* Maps va -> pa in the 4-level tables at cr3 with a leaf at `leaf_shift`
 * (12, 21 or 30).  Intermediate entries get `mid` flags, the leaf `leaf`
 * (PS added for large pages).  Returns the leaf entry's address. */
static uint64_t map4(uint64_t cr3, uint64_t va, uint64_t pa,
		     unsigned leaf_shift, uint64_t mid, uint64_t leaf)
{
	uint64_t table = cr3;

	for (unsigned shift = 39; shift > leaf_shift; shift -= 9) {
		uint64_t e = slot(table, va, shift, 9), v = rd64(e);

		if (!(v & PTE_P)) {
			v = alloc_page() | mid;
			wr64(e, v);
		}
		table = v & 0xffffffffff000ull;
	}
	uint64_t e = slot(table, va, leaf_shift, 9);

	wr64(e, pa | leaf | (leaf_shift > 12 ? PTE_PS : 0));
	return e;
}

static void reset(void)
{
	next_page = 0x10000;
	pte_writes = 0;
}

static int walk(struct pg_ctx *c, uint64_t va, unsigned acc,
		struct pg_result *r, uint32_t *err)
{
	*err = 0xdead;
	return pg_walk(c, va, acc, r, err);
}

static void no_paging_is_the_identity_on_32_bits(void)
{
	struct pg_ctx c = ctx(CR0_PE, 0, 0, 0);
	struct pg_result r;
	uint32_t err;

	CHECK_EQ(walk(&c, 0x1234567ull, PG_WRITE | PG_USER, &r, &err), PG_OK);
	CHECK_EQ(r.pa, 0x1234567);
	CHECK(r.writable && r.user && !r.nx);
	CHECK_EQ(walk(&c, 0x100000123ull, PG_READ, &r, &err), PG_OK);
	CHECK_EQ(r.pa, 0x123);
}

static void four_level_maps_4k_2m_and_1g_pages(void)
{
	uint64_t cr3, e4k, e2m, e1g;
	struct pg_ctx c;
	struct pg_result r;
	uint32_t err;

	reset();
	cr3 = alloc_page();
	e4k = map4(cr3, 0x400000, 0x7000, 12, PTE_P | PTE_W | PTE_U,
		   PTE_P | PTE_W | PTE_U);
	e2m = map4(cr3, 0xffffffff80000000ull, 0x1000000, 21, PTE_P | PTE_W,
		   PTE_P | PTE_W | PTE_G);
	e1g = map4(cr3, 0xffff888000000000ull, 0xc0000000, 30, PTE_P | PTE_W,
		   PTE_P | PTE_W | PTE_NX);
	c = ctx(LM_CR0, cr3, LM_CR4 | CR4_PGE, LM_EFER);

	CHECK_EQ(walk(&c, 0x400abc, PG_READ | PG_USER, &r, &err), PG_OK);
	CHECK_EQ(r.pa, 0x7abc);
	CHECK_EQ(r.page_size, 4096);
	CHECK(r.writable && r.user && !r.nx && !r.global);
	CHECK(rd64(e4k) & PTE_A);
	CHECK(!(rd64(e4k) & PTE_D));
	CHECK(rd64(cr3) & PTE_A);

	CHECK_EQ(walk(&c, 0xffffffff80134567ull, PG_FETCH, &r, &err), PG_OK);
	CHECK_EQ(r.pa, 0x1134567);
	CHECK_EQ(r.page_size, 2ull << 20);
	CHECK(r.global && !r.user && !r.nx);
	CHECK(rd64(e2m) & PTE_A);

	CHECK_EQ(walk(&c, 0xffff888012345678ull, PG_WRITE, &r, &err), PG_OK);
	CHECK_EQ(r.pa, 0xd2345678);
	CHECK_EQ(r.page_size, 1ull << 30);
	CHECK(r.nx && r.writable && r.dirty);
	CHECK((rd64(e1g) & (PTE_A | PTE_D)) == (PTE_A | PTE_D));
}

static void not_present_faults_report_the_access_in_the_error_code(void)
{
	uint64_t cr3;
	struct pg_ctx c;
	struct pg_result r;
	uint32_t err;

	reset();
	cr3 = alloc_page();
	map4(cr3, 0x400000, 0x7000, 12, PTE_P | PTE_W | PTE_U, 0);
	c = ctx(LM_CR0, cr3, LM_CR4, LM_EFER);
	CHECK_EQ(walk(&c, 0x400000, PG_READ, &r, &err), PG_FAULT);
	CHECK_EQ(err, 0);
	CHECK_EQ(walk(&c, 0x400000, PG_WRITE | PG_USER, &r, &err), PG_FAULT);
	CHECK_EQ(err, PF_W | PF_U);
	CHECK_EQ(walk(&c, 0x400000, PG_FETCH, &r, &err), PG_FAULT);
	CHECK_EQ(err, PF_I);
	/* Missing PML4E: same codes. */
	CHECK_EQ(walk(&c, 0x7f0000000000ull, PG_READ | PG_USER, &r, &err),
		 PG_FAULT);
	CHECK_EQ(err, PF_U);
	/* I/D only with NXE or SMEP (§4.7). */
	c.efer &= ~EFER_NXE;
	CHECK_EQ(walk(&c, 0x400000, PG_FETCH, &r, &err), PG_FAULT);
	CHECK_EQ(err, 0);
	c.cr4 |= CR4_SMEP;
	CHECK_EQ(walk(&c, 0x400000, PG_FETCH, &r, &err), PG_FAULT);
	CHECK_EQ(err, PF_I);
	CHECK(!(rd64(cr3) & PTE_A));
	CHECK_EQ(pte_writes, 0);
}

static void write_protect_governs_supervisor_writes_to_read_only_pages(void)
{
	uint64_t cr3, e;
	struct pg_ctx c;
	struct pg_result r;
	uint32_t err;

	reset();
	cr3 = alloc_page();
	e = map4(cr3, 0x400000, 0x7000, 12, PTE_P | PTE_U, PTE_P | PTE_W);
	c = ctx(LM_CR0, cr3, LM_CR4, LM_EFER);
	/* R/W=0 in the PML4E makes the page read-only (combined rights). */
	CHECK_EQ(walk(&c, 0x400000, PG_WRITE, &r, &err), PG_FAULT);
	CHECK_EQ(err, PF_P | PF_W);
	CHECK(!(rd64(e) & PTE_A));
	CHECK_EQ(walk(&c, 0x400000, PG_READ, &r, &err), PG_OK);
	CHECK(!r.writable);
	c.cr0 &= ~CR0_WP;
	CHECK_EQ(walk(&c, 0x400000, PG_WRITE, &r, &err), PG_OK);
	CHECK(r.writable);
	CHECK(rd64(e) & PTE_D);
}

static void user_accesses_need_user_and_writable_at_every_level(void)
{
	uint64_t cr3;
	struct pg_ctx c;
	struct pg_result r;
	uint32_t err;

	reset();
	cr3 = alloc_page();
	map4(cr3, 0x400000, 0x7000, 12, PTE_P | PTE_W | PTE_U, PTE_P | PTE_U);
	map4(cr3, 0x600000, 0x8000, 12, PTE_P | PTE_W, PTE_P | PTE_W | PTE_U);
	c = ctx(LM_CR0, cr3, LM_CR4, LM_EFER);
	CHECK_EQ(walk(&c, 0x400000, PG_READ | PG_USER, &r, &err), PG_OK);
	CHECK(r.user && !r.writable);
	CHECK_EQ(walk(&c, 0x400000, PG_WRITE | PG_USER, &r, &err), PG_FAULT);
	CHECK_EQ(err, PF_P | PF_W | PF_U);
	/* 0x600000 shares the PML4E and PDPTE, but its PDE lacks U/S. */
	CHECK_EQ(walk(&c, 0x600000, PG_READ | PG_USER, &r, &err), PG_FAULT);
	CHECK_EQ(err, PF_P | PF_U);
	CHECK_EQ(walk(&c, 0x600000, PG_READ, &r, &err), PG_OK);
	CHECK(!r.user);
}

static void execute_disable_needs_nxe_and_is_reserved_without_it(void)
{
	uint64_t cr3;
	struct pg_ctx c;
	struct pg_result r;
	uint32_t err;

	reset();
	cr3 = alloc_page();
	map4(cr3, 0x400000, 0x7000, 12, PTE_P | PTE_W | PTE_NX,
	     PTE_P | PTE_W);
	c = ctx(LM_CR0, cr3, LM_CR4, LM_EFER);
	CHECK_EQ(walk(&c, 0x400000, PG_FETCH, &r, &err), PG_FAULT);
	CHECK_EQ(err, PF_P | PF_I);
	CHECK_EQ(walk(&c, 0x400000, PG_READ, &r, &err), PG_OK);
	CHECK(r.nx);
	c.efer &= ~EFER_NXE;
	CHECK_EQ(walk(&c, 0x400000, PG_READ, &r, &err), PG_FAULT);
	CHECK_EQ(err, PF_P | PF_RSVD);
}

static void smep_and_smap_guard_supervisor_use_of_user_pages(void)
{
	uint64_t cr3;
	struct pg_ctx c;
	struct pg_result r;
	uint32_t err;

	reset();
	cr3 = alloc_page();
	map4(cr3, 0x400000, 0x7000, 12, PTE_P | PTE_W | PTE_U,
	     PTE_P | PTE_W | PTE_U);
	c = ctx(LM_CR0, cr3, LM_CR4, LM_EFER);
	CHECK_EQ(walk(&c, 0x400000, PG_FETCH, &r, &err), PG_OK);
	CHECK_EQ(walk(&c, 0x400000, PG_WRITE, &r, &err), PG_OK);
	c.cr4 |= CR4_SMEP;
	CHECK_EQ(walk(&c, 0x400000, PG_FETCH, &r, &err), PG_FAULT);
	CHECK_EQ(err, PF_P | PF_I);
	CHECK_EQ(walk(&c, 0x400000, PG_FETCH | PG_USER, &r, &err), PG_OK);
	CHECK_EQ(walk(&c, 0x400000, PG_READ, &r, &err), PG_OK);
	CHECK(r.nx);
	c.cr4 |= CR4_SMAP;
	CHECK_EQ(walk(&c, 0x400000, PG_READ, &r, &err), PG_FAULT);
	CHECK_EQ(err, PF_P);
	CHECK_EQ(walk(&c, 0x400000, PG_WRITE, &r, &err), PG_FAULT);
	CHECK_EQ(err, PF_P | PF_W);
	CHECK_EQ(walk(&c, 0x400000, PG_WRITE | PG_AC, &r, &err), PG_OK);
	CHECK(r.writable);
	CHECK_EQ(walk(&c, 0x400000, PG_WRITE | PG_USER, &r, &err), PG_OK);
}

static void reserved_bits_fault_with_rsvd_and_present(void)
{
	uint64_t cr3, e, pml4e;
	struct pg_ctx c;
	struct pg_result r;
	uint32_t err;

	reset();
	cr3 = alloc_page();
	e = map4(cr3, 0x400000, 0x7000, 12, PTE_P | PTE_W, PTE_P | PTE_W);
	c = ctx(LM_CR0, cr3, LM_CR4, LM_EFER);
	wr64(e, rd64(e) | 1ull << PG_MAXPHYADDR);
	CHECK_EQ(walk(&c, 0x400000, PG_WRITE | PG_USER, &r, &err), PG_FAULT);
	CHECK_EQ(err, PF_P | PF_W | PF_U | PF_RSVD);
	wr64(e, 0x7000 | PTE_P | PTE_W | 1ull << 52); /* 52+ ignored */
	CHECK_EQ(walk(&c, 0x400000, PG_READ, &r, &err), PG_OK);
	/* PS in a PML4E is reserved. */
	pml4e = slot(cr3, 0x400000, 39, 9);
	wr64(pml4e, rd64(pml4e) | PTE_PS);
	CHECK_EQ(walk(&c, 0x400000, PG_READ, &r, &err), PG_FAULT);
	CHECK_EQ(err, PF_P | PF_RSVD);
	/* Bits 20:13 of a 2 MiB leaf and 29:13 of a 1 GiB leaf. */
	reset();
	cr3 = alloc_page();
	e = map4(cr3, 0x200000, 0x200000 | 1u << 13, 21, PTE_P, PTE_P);
	c.cr3 = cr3;
	CHECK_EQ(walk(&c, 0x200000, PG_FETCH, &r, &err), PG_FAULT);
	CHECK_EQ(err, PF_P | PF_RSVD | PF_I);
	e = map4(cr3, 0x40000000, 0x40000000 | 1u << 21, 30, PTE_P, PTE_P);
	CHECK_EQ(walk(&c, 0x40000000, PG_READ, &r, &err), PG_FAULT);
	CHECK_EQ(err, PF_P | PF_RSVD);
	CHECK_EQ(pte_writes, 0);
}

static void accessed_and_dirty_bits_stay_clear_for_debugger_walks(void)
{
	uint64_t cr3, e;
	struct pg_ctx c;
	struct pg_result r;
	uint32_t err;

	reset();
	cr3 = alloc_page();
	e = map4(cr3, 0x400000, 0x7000, 12, PTE_P | PTE_W, PTE_P | PTE_W);
	c = ctx(LM_CR0, cr3, LM_CR4, LM_EFER);
	CHECK_EQ(walk(&c, 0x400000, PG_WRITE | PG_NO_AD, &r, &err), PG_OK);
	CHECK_EQ(pte_writes, 0);
	CHECK(!(rd64(e) & (PTE_A | PTE_D)));
	CHECK(!r.dirty);
	CHECK_EQ(walk(&c, 0x400000, PG_READ, &r, &err), PG_OK);
	CHECK_EQ(pte_writes, 4);
	CHECK_EQ(rd64(e) & (PTE_A | PTE_D), PTE_A);
	CHECK(!r.dirty);
	CHECK_EQ(walk(&c, 0x400000, PG_WRITE, &r, &err), PG_OK);
	CHECK_EQ(pte_writes, 5); /* only the leaf's D */
	CHECK(r.dirty && (rd64(e) & PTE_D));
	CHECK_EQ(walk(&c, 0x400000, PG_WRITE, &r, &err), PG_OK);
	CHECK_EQ(pte_writes, 5);
}

static void non_canonical_addresses_walk_with_bits_47_to_0(void)
{
	uint64_t cr3;
	struct pg_ctx c;
	struct pg_result r;
	uint32_t err;

	/* Canonical checks are the CPU's (#GP); the walker ignores 63:48. */
	reset();
	cr3 = alloc_page();
	map4(cr3, 0xffff800000000000ull, 0x9000, 12, PTE_P, PTE_P);
	c = ctx(LM_CR0, cr3, LM_CR4, LM_EFER);
	CHECK_EQ(walk(&c, 0x0000800000000010ull, PG_READ, &r, &err), PG_OK);
	CHECK_EQ(r.pa, 0x9010);
}

static void thirty_two_bit_paging_maps_4k_and_pse_4m_pages(void)
{
	uint64_t pd, pt;
	struct pg_ctx c;
	struct pg_result r;
	uint32_t err;

	reset();
	pd = alloc_page();
	pt = alloc_page();
	wr32(pd + 1 * 4, (uint32_t)pt | PTE_P | PTE_W | PTE_U);
	wr32(pt + 5 * 4, 0x9000 | PTE_P | PTE_U);
	wr32(pt + 4 * 4, 0x1234000 | PTE_P); /* neighbour in the same pair */
	/* 4 MiB page at 0xc0000000 -> PA 0x3_0040_0000 (PSE-36). */
	wr32(pd + 0x300 * 4, 0x00400000 | 3u << 13 | PTE_P | PTE_W | PTE_PS);
	c = ctx(CR0_PG | CR0_PE, pd, 0, EFER_NXE);

	CHECK_EQ(walk(&c, 0x405123, PG_READ | PG_USER, &r, &err), PG_OK);
	CHECK_EQ(r.pa, 0x9123);
	CHECK(r.user && !r.writable && !r.nx);
	CHECK(rd32(pt + 5 * 4) & PTE_A);
	CHECK_EQ(rd32(pt + 4 * 4), 0x1234000 | PTE_P);
	CHECK(rd32(pd + 4) & PTE_A);
	CHECK_EQ(walk(&c, 0x405000, PG_WRITE | PG_USER, &r, &err), PG_FAULT);
	CHECK_EQ(err, PF_P | PF_W | PF_U);
	/* No I/D bit without PAE even with NXE (§4.7). */
	CHECK_EQ(walk(&c, 0x406000, PG_FETCH, &r, &err), PG_FAULT);
	CHECK_EQ(err, 0);

	/* Without CR4.PSE the PS bit is ignored: the PDE points to a table
	 * at 0x406000 holding zeroes, so the access faults not-present. */
	memset(gm_ptr(&gm, 0x406000, 4096), 0, 4096);
	CHECK_EQ(walk(&c, 0xc0000000, PG_READ, &r, &err), PG_FAULT);
	CHECK_EQ(err, 0);
	c.cr4 = CR4_PSE;
	CHECK_EQ(walk(&c, 0xc0012345, PG_WRITE, &r, &err), PG_OK);
	CHECK_EQ(r.pa, 0x300412345ull);
	CHECK_EQ(r.page_size, 4ull << 20);
	CHECK((rd32(pd + 0x300 * 4) & (PTE_A | PTE_D)) == (PTE_A | PTE_D));
	/* Bit 21 of a 4 MiB PDE is reserved. */
	wr32(pd + 0x300 * 4, rd32(pd + 0x300 * 4) | 1u << 21);
	CHECK_EQ(walk(&c, 0xc0000000, PG_READ, &r, &err), PG_FAULT);
	CHECK_EQ(err, PF_P | PF_RSVD);
}

static void pae_paging_walks_pdptes_from_cr3(void)
{
	uint64_t pdpt, pd, pt;
	struct pg_ctx c;
	struct pg_result r;
	uint32_t err;

	reset();
	pdpt = alloc_page() + 0x20; /* 32-byte aligned */
	pd = alloc_page();
	pt = alloc_page();
	wr64(pdpt + 3 * 8, pd | PTE_P);
	wr64(pd + 0 * 8, pt | PTE_P | PTE_W);
	wr64(pt + 1 * 8, 0x5000 | PTE_P | PTE_W | PTE_NX);
	wr64(pd + 1 * 8, 0x800000 | PTE_P | PTE_PS);
	c = ctx(CR0_PG | CR0_PE | CR0_WP, pdpt, CR4_PAE, EFER_NXE);

	CHECK_EQ(walk(&c, 0xc0001010, PG_WRITE, &r, &err), PG_OK);
	CHECK_EQ(r.pa, 0x5010);
	CHECK(r.nx && r.writable && r.dirty);
	CHECK(!(rd64(pdpt + 3 * 8) & PTE_A)); /* PDPTEs have no A bit */
	CHECK(rd64(pd) & PTE_A);
	CHECK_EQ(walk(&c, 0xc0001000, PG_FETCH, &r, &err), PG_FAULT);
	CHECK_EQ(err, PF_P | PF_I);
	CHECK_EQ(walk(&c, 0xc0234567, PG_READ, &r, &err), PG_OK);
	CHECK_EQ(r.pa, 0x834567);
	CHECK_EQ(r.page_size, 2ull << 20);
	CHECK_EQ(walk(&c, 0xc0234567, PG_WRITE, &r, &err), PG_FAULT);
	CHECK_EQ(err, PF_P | PF_W);
	CHECK_EQ(walk(&c, 0x00001000, PG_READ, &r, &err), PG_FAULT);
	CHECK_EQ(err, 0);
	/* PAE entries reserve bits 62:M, not just 51:M. */
	wr64(pt + 1 * 8, 0x5000 | PTE_P | 1ull << 55);
	CHECK_EQ(walk(&c, 0xc0001000, PG_READ, &r, &err), PG_FAULT);
	CHECK_EQ(err, PF_P | PF_RSVD);
}

/* The PDPTE load of MOV CR3 in PAE mode (SDM Vol. 3 §4.4.1): the four
 * entries at CR3[31:5]; a present one with bits 2:1, 8:5 or 63:M set
 * is refused (the MOV raises #GP); absent ones may hold anything. */
static void pae_pdpte_load_refuses_reserved_bits(void)
{
	uint64_t pdpt, e[4];
	struct pg_ctx c;

	reset();
	pdpt = alloc_page() + 0x40;
	wr64(pdpt, 0x3000 | PTE_P);
	wr64(pdpt + 8, 0xfff0 | PTE_W);        /* absent: not checked */
	wr64(pdpt + 16, 0);
	wr64(pdpt + 24, 0x7000 | PTE_P | PTE_PWT | PTE_PCD);
	c = ctx(CR0_PG | CR0_PE, pdpt, CR4_PAE, 0);
	CHECK_EQ(pg_load_pdptes(&c, e), 0);
	CHECK_EQ(e[0], 0x3000 | PTE_P);
	CHECK_EQ(e[1], 0xfff0 | PTE_W);
	CHECK_EQ(e[3], 0x7000 | PTE_P | PTE_PWT | PTE_PCD);
	wr64(pdpt, 0x3000 | PTE_P | PTE_W);
	CHECK_EQ(pg_load_pdptes(&c, e), PG_FAULT);
	wr64(pdpt, 0x3000 | PTE_P | PTE_A);
	CHECK_EQ(pg_load_pdptes(&c, e), PG_FAULT);
	wr64(pdpt, 0x3000 | PTE_P | PTE_NX);
	CHECK_EQ(pg_load_pdptes(&c, e), PG_FAULT);
	wr64(pdpt, 0x3000 | PTE_P | 1ull << PG_MAXPHYADDR);
	CHECK_EQ(pg_load_pdptes(&c, e), PG_FAULT);
	c = ctx(CR0_PG | CR0_PE, 0xfff0000, CR4_PAE, 0);
	CHECK_EQ(pg_load_pdptes(&c, e), -EFAULT);
}

static void tables_outside_ram_return_efault(void)
{
	struct pg_ctx c = ctx(LM_CR0, 0xf0000000, LM_CR4, LM_EFER);
	struct pg_result r;
	uint32_t err;

	CHECK_EQ(walk(&c, 0, PG_READ, &r, &err), -EFAULT);
}

static void translate_gm_leaves_the_tables_untouched(void)
{
	uint64_t cr3, e, pa = 0;

	reset();
	cr3 = alloc_page();
	e = map4(cr3, 0x400000, 0x7000, 12, PTE_P | PTE_W, PTE_P | PTE_W);
	CHECK_EQ(pg_translate_gm(&gm, LM_CR0, cr3, LM_CR4, LM_EFER, 0x400321,
				 PG_WRITE, &pa), PG_OK);
	CHECK_EQ(pa, 0x7321);
	CHECK_EQ(rd64(e) & (PTE_A | PTE_D), 0);
	CHECK_EQ(pg_translate_gm(&gm, LM_CR0, cr3, LM_CR4, LM_EFER, 0x401000,
				 PG_READ, &pa), PG_FAULT);
}

struct range { uint64_t va, pa, len; bool w, u, nx; };
static struct range ranges[16];
static int nranges;

static int collect(void *arg, uint64_t va, uint64_t pa, uint64_t len,
		   bool w, bool u, bool nx)
{
	if (nranges < 16)
		ranges[nranges] = (struct range){ va, pa, len, w, u, nx };
	nranges++;
	return 0;
}

static void range_listing_merges_contiguous_equal_pages(void)
{
	uint64_t cr3;
	struct pg_ctx c;

	reset();
	cr3 = alloc_page();
	map4(cr3, 0x400000, 0x7000, 12, PTE_P | PTE_W | PTE_U,
	     PTE_P | PTE_W | PTE_U);
	map4(cr3, 0x401000, 0x8000, 12, PTE_P | PTE_W | PTE_U,
	     PTE_P | PTE_W | PTE_U);
	map4(cr3, 0x402000, 0x9000, 12, PTE_P | PTE_W | PTE_U,
	     PTE_P | PTE_U);                        /* read-only: splits */
	map4(cr3, 0x403000, 0x20000, 12, PTE_P | PTE_W | PTE_U,
	     PTE_P | PTE_U);                        /* pa jump: splits */
	map4(cr3, 0xffffffff80000000ull, 0x1000000, 21, PTE_P | PTE_W,
	     PTE_P | PTE_W);
	map4(cr3, 0xffffffff80200000ull, 0x1200000, 21, PTE_P | PTE_W,
	     PTE_P | PTE_W);
	c = ctx(LM_CR0, cr3, LM_CR4, LM_EFER);
	nranges = 0;
	CHECK_EQ(pg_for_each_range(&c, collect, NULL), 0);
	CHECK_EQ(nranges, 4);
	CHECK(ranges[0].va == 0x400000 && ranges[0].pa == 0x7000 &&
	      ranges[0].len == 0x2000 && ranges[0].w && ranges[0].u);
	CHECK(ranges[1].va == 0x402000 && ranges[1].len == 0x1000 &&
	      !ranges[1].w);
	CHECK(ranges[2].va == 0x403000 && ranges[2].pa == 0x20000);
	CHECK(ranges[3].va == 0xffffffff80000000ull &&
	      ranges[3].pa == 0x1000000 && ranges[3].len == 4ull << 20 &&
	      !ranges[3].u && !ranges[3].nx);
	CHECK(!(rd64(cr3) & PTE_A));
}

static int stop_at_two(void *arg, uint64_t va, uint64_t pa, uint64_t len,
		       bool w, bool u, bool nx)
{
	return ++*(int *)arg == 2 ? 7 : 0;
}

static void range_listing_stops_when_the_callback_says_so(void)
{
	uint64_t cr3;
	struct pg_ctx c;
	int n = 0;

	reset();
	cr3 = alloc_page();
	map4(cr3, 0x400000, 0x7000, 12, PTE_P, PTE_P);
	map4(cr3, 0x500000, 0x7000, 12, PTE_P, PTE_P);
	map4(cr3, 0x600000, 0x7000, 12, PTE_P, PTE_P);
	c = ctx(LM_CR0, cr3, LM_CR4, LM_EFER);
	CHECK_EQ(pg_for_each_range(&c, stop_at_two, &n), 7);
	CHECK_EQ(n, 2);
	c = ctx(CR0_PE, 0, 0, 0);
	nranges = 0;
	CHECK_EQ(pg_for_each_range(&c, collect, NULL), 0);
	CHECK(nranges == 1 && ranges[0].len == MEM_4G);
}

static void range_listing_covers_32_bit_and_pae_tables(void)
{
	uint64_t pd, pt, pdpt;
	struct pg_ctx c;

	reset();
	pd = alloc_page();
	pt = alloc_page();
	wr32(pd + 1 * 4, (uint32_t)pt | PTE_P | PTE_W | PTE_U);
	wr32(pt + 0 * 4, 0x9000 | PTE_P | PTE_U);
	wr32(pt + 1 * 4, 0xa000 | PTE_P | PTE_U);
	wr32(pd + 0x300 * 4, 0x00400000 | PTE_P | PTE_W | PTE_PS);
	c = ctx(CR0_PG | CR0_PE, pd, CR4_PSE, 0);
	nranges = 0;
	CHECK_EQ(pg_for_each_range(&c, collect, NULL), 0);
	CHECK_EQ(nranges, 2);
	CHECK(ranges[0].va == 0x400000 && ranges[0].pa == 0x9000 &&
	      ranges[0].len == 0x2000 && !ranges[0].w && ranges[0].u);
	CHECK(ranges[1].va == 0xc0000000 && ranges[1].pa == 0x400000 &&
	      ranges[1].len == 4ull << 20 && ranges[1].w && !ranges[1].u);

	reset();
	pdpt = alloc_page();
	pd = alloc_page();
	wr64(pdpt + 3 * 8, pd | PTE_P);
	wr64(pd + 0 * 8, 0x200000 | PTE_P | PTE_W | PTE_PS | PTE_NX);
	wr64(pd + 1 * 8, 0x400000 | PTE_P | PTE_W | PTE_PS | PTE_NX);
	c = ctx(CR0_PG | CR0_PE, pdpt, CR4_PAE, EFER_NXE);
	nranges = 0;
	CHECK_EQ(pg_for_each_range(&c, collect, NULL), 0);
	CHECK_EQ(nranges, 1);
	CHECK(ranges[0].va == 0xc0000000 && ranges[0].pa == 0x200000 &&
	      ranges[0].len == 4ull << 20 && ranges[0].nx && ranges[0].w);
}

static void self_referencing_tables_keep_every_accessed_bit(void)
{
	uint64_t cr3;
	struct pg_ctx c;
	struct pg_result r;
	uint32_t err;

	/* PML4[511] points to the PML4 itself (the recursive-map trick): a
	 * walk of 0xffffffffffe00000 uses the same entry at two levels. */
	reset();
	cr3 = alloc_page();
	map4(cr3, 0x400000, 0x7000, 12, PTE_P | PTE_W, PTE_P | PTE_W);
	wr64(cr3 + 511 * 8, cr3 | PTE_P | PTE_W);
	c = ctx(LM_CR0, cr3, LM_CR4, LM_EFER);
	CHECK_EQ(walk(&c, 0xffffff8000000000ull + (0x400000ull >> 9 & ~7ull),
		      PG_WRITE, &r, &err), PG_OK);
	CHECK(rd64(cr3 + 511 * 8) & PTE_A);
	CHECK(rd64(cr3) & PTE_A); /* PML4[0] used as a PDPTE */
}

static void range_listing_gives_up_on_endlessly_aliased_tables(void)
{
	uint64_t cr3;
	struct pg_ctx c;

	/* Every PML4 entry points back to the PML4: 2^36 leaves. */
	reset();
	cr3 = alloc_page();
	for (unsigned i = 0; i < 512; i++)
		wr64(cr3 + i * 8, cr3 | PTE_P | PTE_W);
	c = ctx(LM_CR0, cr3, LM_CR4, LM_EFER);
	nranges = 0;
	CHECK_EQ(pg_for_each_range(&c, collect, NULL), -E2BIG);
	CHECK(nranges > 0);
}

int main(void)
{
	if (gm_init(&gm, 16ull << 20)) {
		fprintf(stderr, "gm_init failed\n");
		return 1;
	}
	no_paging_is_the_identity_on_32_bits();
	four_level_maps_4k_2m_and_1g_pages();
	not_present_faults_report_the_access_in_the_error_code();
	write_protect_governs_supervisor_writes_to_read_only_pages();
	user_accesses_need_user_and_writable_at_every_level();
	execute_disable_needs_nxe_and_is_reserved_without_it();
	smep_and_smap_guard_supervisor_use_of_user_pages();
	reserved_bits_fault_with_rsvd_and_present();
	accessed_and_dirty_bits_stay_clear_for_debugger_walks();
	non_canonical_addresses_walk_with_bits_47_to_0();
	thirty_two_bit_paging_maps_4k_and_pse_4m_pages();
	pae_paging_walks_pdptes_from_cr3();
	pae_pdpte_load_refuses_reserved_bits();
	tables_outside_ram_return_efault();
	translate_gm_leaves_the_tables_untouched();
	range_listing_merges_contiguous_equal_pages();
	range_listing_stops_when_the_callback_says_so();
	range_listing_covers_32_bit_and_pae_tables();
	self_referencing_tables_keep_every_accessed_bit();
	range_listing_gives_up_on_endlessly_aliased_tables();
	gm_destroy(&gm);
	return test_summary("test_paging");
}
