/* bm/layout.h: the physical memory map of the bare-metal image (the same
 * numbers as bm/layout.inc, which stages 1 and 2 use).  Identity-mapped:
 * host virtual == host physical, and the EPT maps guest physical ==
 * host physical for the guest's window. */
#ifndef BM_LAYOUT_H
#define BM_LAYOUT_H

#define BM_HANDOFF        0x0500UL   /* u16: VGA cursor (cells) */
#define BM_STAGE3         0x9000UL   /* bm.ld links stage 3 here */
#define BM_HOST_PML4      0x70000UL  /* stage 2's 4 GiB identity map */
#define BM_VMXON          0x76000UL  /* stage 2's VMXON region */
#define BM_STACK_TOP      0x80000UL
#define BM_VGA            0xb8000UL

/* Guest RAM: mapped in the EPT before VMLAUNCH; the guest image is
 * copied to its start and entered there. */
#define BM_GUEST_BASE     0x200000UL
#define BM_GUEST_SIZE     0x200000UL
#define BM_GUEST_STACK    (BM_GUEST_BASE + BM_GUEST_SIZE - 0x1000)
/* EPT violations in this window are served by mapping the page. */
#define BM_DEMAND_LO      0x400000UL
#define BM_DEMAND_HI      0x2000000UL

#define BM_COM1           0x3f8
#define BM_PIC_BASE       0x20       /* IRQ0 vector after bm_pic_init */
#define BM_SHUTDOWN_PORT  0x8900     /* Bochs and QEMU debug exit port */

#endif
