/* bm/ept.c: extended page tables, SDM Vol. 3 §29.3.  Four levels, 2 MiB
 * or 4 KiB leaves, covering GPAs below 1 GiB: one PML4 page, one PDPT
 * page, one PD page and a pool of PT pages. */
#include "bm.h"

#include "console.h"
#include "lib.h"
#include "vmx.h"

#define EPT_RWX 7ULL            /* read, write, execute (Table 29-1..6) */
#define EPT_WB (6ULL << 3)      /* leaf memory type: write-back */
#define EPT_PTE_ADDR 0x000ffffffffff000ULL
#define EPT_LIMIT (1ULL << 30)
#define EPT_LARGE (1ULL << 7)   /* PDE maps a 2 MiB page (Table 29-4) */
#define EPT_2M (1ULL << 21)
#define EPT_2M_MASK (EPT_2M - 1)
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

/* A 2 MiB leaf where the range allows it (both addresses aligned, room
 * left, CPU support), else 4 KiB leaves from a pool page table. */
int bm_ept_map(uint64_t gpa, uint64_t hpa, uint64_t len)
{
	uint64_t end = gpa + len, *pde;

	hpa -= gpa & 0xfff;
	for (gpa &= ~0xfffULL; gpa < end;) {
		if (gpa >= EPT_LIMIT)
			return -1;
		pde = &bm_ept_pd[gpa >> 21 & 511];
		if (!*pde && (bm_ept_cap & BM_EPT_CAP_2M) &&
		    !((gpa | hpa) & EPT_2M_MASK) && end - gpa >= EPT_2M) {
			*pde = hpa | EPT_LARGE | EPT_WB | EPT_RWX;
			gpa += EPT_2M, hpa += EPT_2M;
			continue;
		}
		if (*pde & EPT_LARGE)
			return -1;
		if (!*pde) {
			if (bm_ept_used == EPT_POOL)
				return -1;
			*pde = (uint64_t)bm_ept_pt[bm_ept_used++] | EPT_RWX;
		}
		((uint64_t *)(*pde & EPT_PTE_ADDR))[gpa >> 12 & 511] =
			hpa | EPT_WB | EPT_RWX;
		gpa += 4096, hpa += 4096;
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
