/* The CPU state of the 64-bit boot protocol (boot.rst, "64-bit Boot
 * Protocol"): long mode with paging, a GDT holding __BOOT_CS (0x10) and
 * __BOOT_DS (0x18), interrupts off, RSI = zero page.  The descriptors in
 * guest memory and the segment caches in the registers are built from the
 * same struct rax_seg values, so they cannot disagree. */
#include "loader/ld_int.h"
#include "loader/loader.h"

#include <errno.h>
#include <string.h>

/* Page-table entry bits (SDM Vol. 3 §4.5, Tables 4-15 to 4-18). */
#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_PS (1ull << 7)  /* in a PDE: maps a 2 MiB page */
#define PT_ENTRIES 512
#define PD_PAGE (2ull << 20)

typedef uint64_t pt_page[PT_ENTRIES];
_Static_assert(sizeof(pt_page) == 4096, "a paging structure is 4 KiB");
_Static_assert(LD_PD + LD_PD_COUNT * 4096 <= LD_STACK_TOP - 0x1000,
	       "page directories stay below the boot stack");
_Static_assert(((LD_KERNEL_VIRT >> 39) & 511) == 511 &&
	       ((LD_KERNEL_VIRT >> 30) & 511) == 510,
	       "the kernel map starts at PML4[511], PDPT[510]");

/* Flat 4 GiB segments; 64-bit code has L=1, D=0 (SDM Vol. 3 §5.2.1). */
struct rax_seg ld_flat_seg(uint16_t sel, uint8_t type, uint8_t l,
			       uint8_t db)
{
	struct rax_seg s = {
		.base = 0, .limit = 0xffffffff, .sel = sel, .type = type,
		.s = 1, .present = 1, .l = l, .db = db, .g = 1,
	};
	return s;
}

/* A busy 64-bit TSS (type 0xb, SDM Vol. 3 §7.2.3): KVM needs a usable TR
 * in long mode. */
static struct rax_seg tss_seg(void)
{
	struct rax_seg s = {
		.base = LD_TSS, .limit = LD_TSS_SIZE - 1, .sel = LD_SEL_TSS,
		.type = 0xb, .s = 0, .present = 1,
	};
	return s;
}

/* The low 8 bytes of a descriptor (SDM Vol. 3 §3.4.5, Figure 3-8). */
uint64_t ld_seg_desc(const struct rax_seg *s)
{
	uint32_t lim = s->g ? s->limit >> 12 : s->limit;

	return (lim & 0xffffull) | (s->base & 0xffffffull) << 16 |
	       (uint64_t)(s->type & 0xf) << 40 |
	       (uint64_t)(s->s & 1) << 44 |
	       (uint64_t)(s->dpl & 3) << 45 |
	       (uint64_t)(s->present & 1) << 47 |
	       (uint64_t)(lim >> 16 & 0xf) << 48 |
	       (uint64_t)(s->avl & 1) << 52 |
	       (uint64_t)(s->l & 1) << 53 |
	       (uint64_t)(s->db & 1) << 54 |
	       (uint64_t)(s->g & 1) << 55 |
	       (s->base >> 24 & 0xffull) << 56;
}

static int write_gdt_tss(struct guest_mem *gm)
{
	struct rax_seg cs = ld_flat_seg(LD_SEL_CS, 0xb, 1, 0);
	struct rax_seg ds = ld_flat_seg(LD_SEL_DS, 0x3, 0, 1);
	struct rax_seg tr = tss_seg();
	uint64_t gdt[LD_GDT_SIZE / 8] = { 0 };
	uint8_t tss[LD_TSS_SIZE] = { 0 };
	uint16_t iomap = LD_TSS_SIZE; /* no I/O bitmap (SDM Vol. 3 §7.7) */

	gdt[LD_SEL_CS / 8] = ld_seg_desc(&cs);
	gdt[LD_SEL_DS / 8] = ld_seg_desc(&ds);
	gdt[LD_SEL_TSS / 8] = ld_seg_desc(&tr);
	gdt[LD_SEL_TSS / 8 + 1] = tr.base >> 32; /* 16-byte system desc. */
	memcpy(tss + 0x66, &iomap, sizeof(iomap));
	if (gm_write(gm, LD_GDT, gdt, sizeof(gdt)) ||
	    gm_write(gm, LD_TSS, tss, sizeof(tss)))
		return -EFAULT;
	return 0;
}

/* PML4[0] -> identity PDPT -> 4 PDs (0-4 GiB); PML4[511] -> kernel PDPT
 * whose entries 510 and 511 reuse the first two PDs, so
 * 0xffffffff80000000 + x maps physical x for x < 2 GiB, as the kernel's
 * own early page tables do. */
static void build_page_tables(pt_page *pml4, pt_page *pdpt_id,
			      pt_page *pdpt_k, pt_page *pd)
{
	unsigned i, j;

	(*pml4)[0] = LD_PDPT_ID | PTE_P | PTE_RW;
	(*pml4)[511] = LD_PDPT_K | PTE_P | PTE_RW;
	for (i = 0; i < LD_PD_COUNT; i++) {
		(*pdpt_id)[i] = (LD_PD + 4096ull * i) | PTE_P | PTE_RW;
		for (j = 0; j < PT_ENTRIES; j++)
			pd[i][j] = ((uint64_t)i * PT_ENTRIES + j) * PD_PAGE |
				   PTE_P | PTE_RW | PTE_PS;
	}
	(*pdpt_k)[510] = LD_PD | PTE_P | PTE_RW;
	(*pdpt_k)[511] = (LD_PD + 4096) | PTE_P | PTE_RW;
}

int ld_write_boot_tables(struct guest_mem *gm)
{
	pt_page *pml4 = gm_ptr(gm, LD_PML4, sizeof(pt_page));
	pt_page *pdpt_id = gm_ptr(gm, LD_PDPT_ID, sizeof(pt_page));
	pt_page *pdpt_k = gm_ptr(gm, LD_PDPT_K, sizeof(pt_page));
	pt_page *pd = gm_ptr(gm, LD_PD, LD_PD_COUNT * sizeof(pt_page));

	if (!pml4 || !pdpt_id || !pdpt_k || !pd)
		return -EFAULT;
	memset(pml4, 0, sizeof(*pml4));
	memset(pdpt_id, 0, sizeof(*pdpt_id));
	memset(pdpt_k, 0, sizeof(*pdpt_k));
	build_page_tables(pml4, pdpt_id, pdpt_k, pd);
	return write_gdt_tss(gm);
}

void ld_boot_regs(struct rax_regs *r, uint64_t entry, uint64_t zero_page)
{
	struct rax_seg ds = ld_flat_seg(LD_SEL_DS, 0x3, 0, 1);
	unsigned i;

	memset(r, 0, sizeof(*r));
	r->gpr[R_RSI] = zero_page;
	r->gpr[R_RSP] = LD_STACK_TOP;
	r->rip = entry;
	r->rflags = RFLAGS_FIXED; /* IF = 0 */
	for (i = 0; i < 6; i++)
		r->seg[i] = ds;
	r->seg[S_CS] = ld_flat_seg(LD_SEL_CS, 0xb, 1, 0);
	r->ldt.type = 0x2; /* LDT, selector 0, unusable */
	r->ldt.unusable = 1;
	r->tr = tss_seg();
	r->gdt.base = LD_GDT;
	r->gdt.limit = LD_GDT_SIZE - 1;
	r->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_PG;
	r->cr3 = LD_PML4;
	r->cr4 = CR4_PAE;
	r->efer = EFER_LME | EFER_LMA; /* Linux sets SCE and NXE itself */
	r->apic_base = LD_APIC_BASE;
}

int ld_boot_state(struct guest_mem *gm, uint64_t entry, struct rax_regs *r)
{
	int ret = ld_write_boot_tables(gm);

	if (ret)
		return ret;
	ld_boot_regs(r, entry, 0);
	return 0;
}
