/* bm/ept.c: extended page tables, SDM Vol. 3 §29.3.  Four levels, 4 KiB
 * leaves, identity (GPA == HPA), covering GPAs below 1 GiB: one PML4
 * page, one PDPT page, one PD page and a pool of PT pages. */
#include "bm.h"

#include "console.h"
#include "lib.h"
#include "vmx.h"

#define EPT_RWX 7ULL            /* read, write, execute (Table 29-1..6) */
#define EPT_WB (6ULL << 3)      /* leaf memory type: write-back */
#define EPT_PTE_ADDR 0x000ffffffffff000ULL
#define EPT_LIMIT (1ULL << 30)
#define EPT_POOL 8

static uint64_t bm_ept_pml4[512] __attribute__((aligned(4096)));
static uint64_t bm_ept_pdpt[512] __attribute__((aligned(4096)));
static uint64_t bm_ept_pd[512] __attribute__((aligned(4096)));
static uint64_t bm_ept_pt[EPT_POOL][512] __attribute__((aligned(4096)));
static unsigned bm_ept_used;
static uint64_t bm_eptp, bm_ept_cap;

uint64_t bm_ept_init(uint64_t cap)
{
	if (!(cap & BM_EPT_CAP_WALK4) || !(cap & BM_EPT_CAP_WB))
		return 0;
	bm_ept_cap = cap;
	bm_ept_pml4[0] = (uint64_t)bm_ept_pdpt | EPT_RWX;
	bm_ept_pdpt[0] = (uint64_t)bm_ept_pd | EPT_RWX;
	/* EPTP: memory type WB (bits 2:0 = 6), walk length - 1 (bits 5:3);
	 * §25.6.11 Table 25-9. */
	bm_eptp = (uint64_t)bm_ept_pml4 | 3 << 3 | 6;
	return bm_eptp;
}

int bm_ept_map(uint64_t gpa, uint64_t len)
{
	uint64_t end = gpa + len, *pde;

	for (gpa &= ~0xfffULL; gpa < end; gpa += 4096) {
		if (gpa >= EPT_LIMIT)
			return -1;
		pde = &bm_ept_pd[gpa >> 21 & 511];
		if (!*pde) {
			if (bm_ept_used == EPT_POOL)
				return -1;
			*pde = (uint64_t)bm_ept_pt[bm_ept_used++] | EPT_RWX;
		}
		((uint64_t *)(*pde & EPT_PTE_ADDR))[gpa >> 12 & 511] =
			gpa | EPT_WB | EPT_RWX;
	}
	return 0;
}

void bm_ept_flush(void)
{
	/* INVEPT types: 1 single-context, 2 all-context (§31.3 INVEPT). */
	if (!(bm_ept_cap & BM_EPT_CAP_INVEPT))
		return;
	if (bm_invept(bm_ept_cap & BM_EPT_CAP_INVEPT_SINGLE ? 1 : 2, bm_eptp))
		bm_printf("bm: INVEPT failed\n");
}
