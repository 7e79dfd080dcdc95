/* Page-table walker (SDM Vol. 3 ch. 4): pure code, page-table memory
 * reached through callbacks (STYLE.md habit 8).  The interpreter's TLB
 * refills through it, and the gdb server translates guest-virtual
 * addresses with it on both engines. */
#ifndef RAX_PAGING_H
#define RAX_PAGING_H

#include <stdbool.h>
#include <stdint.h>

/* Access kind and modifiers for pg_walk(). */
#define PG_READ     0u
#define PG_WRITE    1u          /* a data write */
#define PG_FETCH    2u          /* an instruction fetch */
#define PG_USER     4u          /* CPL 3 access (not implicit supervisor) */
#define PG_NO_AD    8u          /* debugger: set no accessed/dirty bits */
#define PG_AC       16u         /* RFLAGS.AC=1 (SMAP override) */

/* Page-fault error code bits (SDM Vol. 3 §4.7). */
#define PF_P    (1u << 0)
#define PF_W    (1u << 1)
#define PF_U    (1u << 2)
#define PF_RSVD (1u << 3)
#define PF_I    (1u << 4)
#define PF_PK   (1u << 5)

/* Paging-structure entry bits. */
#define PTE_P   (1ull << 0)
#define PTE_W   (1ull << 1)
#define PTE_U   (1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_A   (1ull << 5)
#define PTE_D   (1ull << 6)
#define PTE_PS  (1ull << 7)
#define PTE_G   (1ull << 8)
#define PTE_NX  (1ull << 63)

struct pg_ctx {
	uint64_t cr0, cr3, cr4, efer;
	/* Read/write one 8-byte (or, for 32-bit paging, 4-byte in the low
	 * half) paging-structure entry at physical address pa.  Return 0 or
	 * -EFAULT when pa is not RAM. */
	int (*read_pte)(void *opaque, uint64_t pa, uint64_t *pte);
	int (*write_pte)(void *opaque, uint64_t pa, uint64_t pte);
	void *opaque;
};

struct pg_result {
	uint64_t pa;        /* translated physical address */
	uint64_t page_size; /* 4 KiB, 2/4 MiB or 1 GiB */
	bool writable;      /* effective R/W for the access's privilege */
	bool user;          /* effective U/S */
	bool nx;            /* effective execute-disable */
	bool global;
};

/* pg_walk() results. */
#define PG_OK    0
#define PG_FAULT 1 /* page fault; *pf_error holds the error code */

/* Translates linear address va for `access` under the paging mode given by
 * CR0.PG, CR4.PAE and EFER.LMA (no paging, 32-bit, PAE, 4-level), checking
 * permissions (U/S, R/W with CR0.WP, NX with EFER.NXE, SMEP/SMAP with the
 * CR4 bits) and setting accessed/dirty bits unless PG_NO_AD.  Returns
 * PG_OK, PG_FAULT with *pf_error, or -EFAULT when a paging structure is
 * not in RAM. */
int pg_walk(const struct pg_ctx *c, uint64_t va, unsigned access,
	    struct pg_result *r, uint32_t *pf_error);

#endif
