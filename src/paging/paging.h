/* Page-table walker (SDM Vol. 3 ch. 4): pure code, page-table memory
 * reached through callbacks (STYLE.md habit 8).  The interpreter's TLB
 * refills through it, and the gdb server translates guest-virtual
 * addresses with it on both engines. */
#ifndef RAX_PAGING_H
#define RAX_PAGING_H

#include <stdbool.h>
#include <stdint.h>

struct guest_mem;

/* The guest's physical-address width (CPUID 0x80000008 EAX[7:0]; the
 * interpreter advertises this value).  Entry bits MAXPHYADDR..51 (PAE:
 * ..62) are reserved (SDM Vol. 3 §4.4.2, §4.5.4).  40 also makes the
 * PSE-36 field of a 32-bit 4 MiB PDE exactly bits 20:13, with only bit
 * 21 reserved (§4.3).  The interpreter should advertise PSE36 and
 * Page1GB, which the walker implements. */
#define PG_MAXPHYADDR 40

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
	 * -EFAULT when pa is not RAM.  pg_walk() passes only 8-byte aligned
	 * pa: for 32-bit paging it reads the aligned pair holding the entry
	 * and writes the pair back with the other half unchanged, so a
	 * callback that always moves 8 bytes is correct in every mode. */
	int (*read_pte)(void *opaque, uint64_t pa, uint64_t *pte);
	int (*write_pte)(void *opaque, uint64_t pa, uint64_t pte);
	void *opaque;
};

/* Permission fields describe the page as seen by an access of the same
 * privilege (PG_USER) and PG_AC as the walk's, so the interpreter can
 * cache one translation per privilege:
 *   writable: a data write would pass the R/W, WP and SMAP checks;
 *   user:     U/S=1 at every level (a "user-mode address", §4.6);
 *   nx:       an instruction fetch would fault (XD with NXE, or SMEP,
 *             or a user fetch from a supervisor page);
 *   global:   G=1 in the leaf and CR4.PGE=1;
 *   dirty:    the leaf's D flag is set (after this walk).  A translation
 *             filled by a read walk must be re-walked with PG_WRITE on the
 *             first write, so that D gets set (§4.8). */
struct pg_result {
	uint64_t pa;        /* translated physical address */
	uint64_t page_size; /* 4 KiB, 2/4 MiB or 1 GiB */
	bool writable;      /* effective R/W for the access's privilege */
	bool user;          /* effective U/S */
	bool nx;            /* effective execute-disable */
	bool global;
	bool dirty;         /* added: the leaf entry's D flag */
};

/* pg_walk() results. */
#define PG_OK    0
#define PG_FAULT 1 /* page fault; *pf_error holds the error code */

/* Translates linear address va for `access` under the paging mode given by
 * CR0.PG, CR4.PAE and EFER.LMA (no paging, 32-bit, PAE, 4-level), checking
 * permissions (U/S, R/W with CR0.WP, NX with EFER.NXE, SMEP/SMAP with the
 * CR4 bits) and setting accessed/dirty bits unless PG_NO_AD.  Returns
 * PG_OK, PG_FAULT with *pf_error, or -EFAULT when a paging structure is
 * not in RAM.
 *
 * Contract details:
 *  - Canonical checks are the CPU's job (#GP/#SS before any walk, SDM
 *    Vol. 3 §3.3.7.1); the 4-level walker uses va[47:0] only.  Without
 *    paging the linear address is va[31:0].  CR4.LA57 and protection
 *    keys (CR4.PKE) are not supported.
 *  - Accessed flags are set on every entry used and D on the leaf for
 *    writes, through write_pte, only when the walk succeeds (§4.8).
 *  - PAE PDPTEs are read through read_pte like every entry.  The CPU
 *    loads them into registers at MOV to CR3 (§4.4.1, pg_load_pdptes())
 *    and never re-reads them at a walk: the interpreter's read_pte
 *    serves them from those registers.  Read from memory (the gdb
 *    server), a PDPTE with reserved bits set faults with PF_RSVD where
 *    the CPU would have raised #GP at the MOV CR3.
 *  - PG_USER accesses are CPL 3; all others are supervisor.  Pass PG_AC
 *    only for explicit supervisor accesses with RFLAGS.AC=1: implicit
 *    ones (descriptor tables, TSS at CPL 3) ignore AC under SMAP
 *    (§4.6.1).
 *  - No allocation and no I/O besides the two callbacks: this is the
 *    interpreter's TLB refill path. */
int pg_walk(const struct pg_ctx *c, uint64_t va, unsigned access,
	    struct pg_result *r, uint32_t *pf_error);

/* PAE paging's PDPTE load (§4.4.1): reads the four entries of the table
 * at CR3[31:5] into pdpte[].  Returns 0, PG_FAULT when a present entry
 * has reserved bits set (the MOV to CR0/CR3/CR4 that loads them raises
 * #GP(0) and changes nothing), or -EFAULT when the table is not RAM. */
int pg_load_pdptes(const struct pg_ctx *c, uint64_t pdpte[4]);

/* Translates va through the tables in gm (read-only: PG_NO_AD is forced)
 * for the gdb server and tests.  Returns PG_OK with *pa, PG_FAULT, or
 * -EFAULT when a paging structure is outside RAM. */
int pg_translate_gm(const struct guest_mem *gm, uint64_t cr0, uint64_t cr3,
		    uint64_t cr4, uint64_t efer, uint64_t va, unsigned access,
		    uint64_t *pa);

/* Calls fn for every mapped range, in ascending linear-address order
 * (4-level addresses sign-extended from bit 47), merging neighbours whose
 * linear and physical addresses are both contiguous and whose effective
 * permissions (w: R/W at every level, u: U/S at every level, nx: XD at
 * any level with NXE) are equal.  Entries with reserved bits set are
 * skipped.  Sets no accessed bits.  Without paging, reports one identity
 * range of 4 GiB.  Stops when fn returns non-zero and returns that value;
 * returns 0 after the last range, -EFAULT when a table is not in RAM, or
 * -E2BIG after reading PG_RANGE_MAX_ENTRIES entries (garbage or aliased
 * tables could otherwise mean 2^36 of them); either error comes after
 * the ranges before it were reported. */
#define PG_RANGE_MAX_ENTRIES (1ull << 22)
int pg_for_each_range(const struct pg_ctx *c,
		      int (*fn)(void *arg, uint64_t va, uint64_t pa,
				uint64_t len, bool w, bool u, bool nx),
		      void *arg);

#endif
