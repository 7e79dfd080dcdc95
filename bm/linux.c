/* bm/linux.c: the optional Linux guest.  "make bm/rax-bm-linux.img"
 * appends a header sector, a bzImage and an initramfs to the image; if
 * the header is there, stage 3 runs that kernel instead of the built-in
 * guest, through the 32-bit boot protocol (Documentation/x86/boot.rst,
 * "32-bit boot protocol"): protected mode, paging off, flat __BOOT_CS
 * (0x10) and __BOOT_DS (0x18) from a GDT, ESI = the zero page, entry at
 * code32_start.  Guest RAM is GPA 0 to BM_LINUX_RAM, mapped by the EPT
 * to host memory at BM_LINUX_HPA.  Layouts: src/loader/bootparam.h. */
#include "bm.h"

#include "console.h"
#include "layout.h"
#include "lib.h"
#include "loader/bootparam.h"
#include "vmx.h"

#define BM_LINUX_HDR_LBA 2016         /* right after rax-bm.img */
#define BM_LINUX_HPA     0x2000000UL  /* guest RAM in host memory */
#define BM_LINUX_RAM     0x6000000UL  /* 96 MiB */
#define GPA_GDT          0x97000UL
#define GPA_ZERO_PAGE    0x90000UL
#define GPA_CMDLINE      0x98000UL
#define GPA_STACK        0x8f000UL

/* The header sector bm/linux-hdr.asm writes. */
struct bm_linux_hdr {
	char magic[8]; /* "RAXBMLNX" */
	uint32_t kernel_lba, kernel_size, initrd_lba, initrd_size;
	char cmdline[488];
};
_Static_assert(sizeof(struct bm_linux_hdr) == 512, "one sector");

static void *bm_gpa(uint64_t gpa)
{
	return (void *)(BM_LINUX_HPA + gpa);
}

static uint32_t bm_sectors(uint32_t bytes)
{
	return (bytes + 511) / 512;
}

static void bm_linux_guest_state(void)
{
	static const uint64_t gdt[4] = {
		0, 0,
		0x00cf9a000000ffffULL, /* 0x10: __BOOT_CS, flat 32-bit code */
		0x00cf92000000ffffULL, /* 0x18: __BOOT_DS, flat data */
	};
	unsigned i;

	memcpy(bm_gpa(GPA_GDT), gdt, sizeof(gdt));
	for (i = 0; i < 6; i++)
		bm_vmwrite(VMCS_GUEST_ES_SEL + 2 * i, i == 1 ? 0x10 : 0x18);
	bm_vmwrite(VMCS_GUEST_GDTR_BASE, GPA_GDT);
	bm_vmwrite(VMCS_GUEST_GDTR_LIMIT, sizeof(gdt) - 1);
	bm_vmwrite(VMCS_GUEST_RSP, GPA_STACK);
}

uint64_t bm_linux_setup(void)
{
	static struct bm_linux_hdr hdr;
	static uint8_t setup[1024]; /* the setup header ends at 0x26c */
	struct bm_linux_hdr *h = &hdr;
	struct bp_boot_params *zp = bm_gpa(GPA_ZERO_PAGE);
	uint32_t setup_sects, initrd;

	if (bm_ata_read(BM_LINUX_HDR_LBA, 1, h) ||
	    memcmp(h->magic, "RAXBMLNX", 8))
		return 0;
	h->cmdline[sizeof(h->cmdline) - 1] = 0;
	if (bm_ept_map(0, BM_LINUX_HPA, BM_LINUX_RAM))
		bm_panic("EPT map of Linux guest RAM failed");
	bm_printf("Linux payload: bzImage %u B, initramfs %u B, \"%s\"\n",
		  h->kernel_size, h->initrd_size, h->cmdline);
	if (bm_ata_read(h->kernel_lba, 2, setup))
		bm_panic("reading the bzImage failed");
	memset(zp, 0, sizeof(*zp));
	memcpy(&zp->hdr, setup + BP_SETUP_HDR_OFF, sizeof(zp->hdr));
	if (zp->hdr.header != BP_HDRS_MAGIC || zp->hdr.version < 0x20c)
		bm_panic("bzImage header missing or older than protocol 2.12");
	setup_sects = zp->hdr.setup_sects ? zp->hdr.setup_sects
					  : BP_DEFAULT_SETUP_SECTS;
	if (bm_ata_read(h->kernel_lba + setup_sects + 1,
			bm_sectors(h->kernel_size) - setup_sects - 1,
			bm_gpa(zp->hdr.code32_start)))
		bm_panic("reading the bzImage failed");
	initrd = (BM_LINUX_RAM - h->initrd_size) & ~0xfffU;
	if (h->initrd_size &&
	    bm_ata_read(h->initrd_lba, bm_sectors(h->initrd_size),
			bm_gpa(initrd)))
		bm_panic("reading the initramfs failed");

	zp->hdr.type_of_loader = BP_LOADER_UNDEFINED;
	zp->hdr.cmd_line_ptr = GPA_CMDLINE;
	zp->hdr.ramdisk_image = h->initrd_size ? initrd : 0;
	zp->hdr.ramdisk_size = h->initrd_size;
	memcpy(bm_gpa(GPA_CMDLINE), h->cmdline, sizeof(h->cmdline));
	zp->e820_table[0] = (struct bp_e820_entry){ 0, 0x9f000, BP_E820_RAM };
	zp->e820_table[1] = (struct bp_e820_entry){ 0x9f000, 0x61000,
						    BP_E820_RESERVED };
	zp->e820_table[2] = (struct bp_e820_entry){
		0x100000, BM_LINUX_RAM - 0x100000, BP_E820_RAM };
	zp->e820_entries = 3;

	bm_linux_guest_state();
	bm_vmwrite(VMCS_GUEST_RIP, zp->hdr.code32_start);
	return GPA_ZERO_PAGE;
}
