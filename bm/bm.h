/* bm/bm.h: interfaces between the parts of stage 3. */
#ifndef BM_BM_H
#define BM_BM_H

#include <stddef.h>
#include <stdint.h>

/* Guest general registers as bm_vmexit_entry (entry.S) pushes them,
 * indexed by the SDM's register numbering (0 RAX, 1 RCX, 2 RDX, 3 RBX,
 * 4 RSP, ... 15 R15; Vol. 3 Table 28-3).  The RSP slot is a placeholder:
 * the guest's RSP lives in the VMCS. */
struct bm_regs {
	uint64_t gpr[16];
};
_Static_assert(sizeof(struct bm_regs) == 16 * 8, "entry.S pushes 16 slots");
#define BM_RAX 0
#define BM_RCX 1
#define BM_RDX 2
#define BM_RBX 3
#define BM_RSP 4

/* VMCS access that cannot fail unless the code is wrong: a failure is
 * reported with the field and the VM-instruction error, then shutdown. */
void bm_vmwrite(uint32_t field, uint64_t v);

/* host.c: the host's own GDT (with a 64-bit TSS) and IDT. */
struct bm_host_tables {
	uint64_t gdt_base, idt_base, tr_base;
};
void bm_host_tables_load(struct bm_host_tables *t);

/* ept.c: a 4-level EPT (SDM Vol. 3 §29.3).
 * bm_ept_init returns the EPTP (0 if the CPU lacks what we need). */
uint64_t bm_ept_init(uint64_t cap);
/* Map [gpa, gpa + len) to host-physical [hpa, hpa + len), read/write/
 * execute, write-back.  Returns 0, or -1 when the page-table pool is
 * exhausted, the range is beyond 1 GiB or it splits a 2 MiB leaf. */
int bm_ept_map(uint64_t gpa, uint64_t hpa, uint64_t len);
/* Flush the EPT-derived translations after a change. */
void bm_ept_flush(void);

/* exit.c: the VM-exit dispatcher, called by entry.S with the guest's
 * registers; returns to VMRESUME or does not return. */
void bm_vmexit(struct bm_regs *r);
_Noreturn void bm_vmresume_failed(void);
/* cpuid.c: hide what the secondary controls "proc2" do not enable. */
void bm_cpuid_init(uint32_t proc2);
/* intr.c: IA32_VMX_MISC says whether the HLT activity state exists. */
void bm_intr_init(uint64_t vmx_misc);
void bm_exit_init(uint64_t cr0_fixed0, uint64_t cr0_fixed1,
		  uint64_t cr4_fixed0, uint64_t cr4_fixed1);

/* ata.c: read "count" 512-byte sectors from LBA "lba" of the primary
 * master into "buf" by PIO.  Returns 0, or -1 on a device error. */
int bm_ata_read(uint32_t lba, uint32_t count, void *buf);

/* linux.c: if the disk carries a Linux payload after the image (the
 * header at BM_LINUX_HDR_LBA), load it into a guest of its own and set
 * the guest state for the 32-bit boot protocol; returns the guest's
 * initial RSI (the zero page) or 0 when there is no payload. */
uint64_t bm_linux_setup(void);

/* entry.S */
extern char bm_vmexit_entry[];
extern char bm_isr_stubs[];
extern const char bm_guest_blob[], bm_guest_blob_end[];
/* VMLAUNCH with the guest's RSI = rsi, every other register 0; returns
 * only on failure (1 VMfailInvalid, 2 VMfailValid). */
int bm_vmlaunch(uint64_t rsi);

#endif
