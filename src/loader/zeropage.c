/* Zero-page contents that do not come from the image: the e820 map,
 * where the initrd goes, and the setup header of a bare vmlinux. */
#include "loader/ld_int.h"

#include <errno.h>
#include <string.h>

#define PAGE 4096ull

static unsigned e820_add(struct bp_e820_entry *t, unsigned n, unsigned max,
			 uint64_t addr, uint64_t end, uint32_t type)
{
	if (n >= max || end <= addr)
		return n;
	t[n].addr = addr;
	t[n].size = end - addr;
	t[n].type = type;
	return n + 1;
}

/* RAM below 639 KiB; the EBDA/VGA/BIOS area reserved (it holds the MP
 * table); RAM from 1 MiB to the hole; RAM above 4 GiB (mem.h). */
unsigned ld_e820(const struct guest_mem *gm, struct bp_e820_entry *t,
		 unsigned max)
{
	uint64_t low = gm->low_size;
	unsigned n = 0;

	n = e820_add(t, n, max, 0, low < LD_BIOS_START ? low : LD_BIOS_START,
		     BP_E820_RAM);
	n = e820_add(t, n, max, LD_BIOS_START, LD_HIGH_START,
		     BP_E820_RESERVED);
	n = e820_add(t, n, max, LD_HIGH_START, low, BP_E820_RAM);
	if (gm->high_size)
		n = e820_add(t, n, max, MEM_4G, MEM_4G + gm->high_size,
			     BP_E820_RAM);
	return n;
}

/* boot.rst, "initrd_addr_max": the initrd must end at or below it.  It
 * goes as high as possible in low RAM, page-aligned, and must not overlap
 * [.., kernel_end).  Returns 0 or -EFBIG. */
int ld_place_initrd(const struct guest_mem *gm, uint64_t size,
		    uint32_t addr_max, uint64_t kernel_end, uint64_t *addr)
{
	uint64_t top = (uint64_t)addr_max + 1, floor;

	if (!addr_max)
		top = 0x38000000ull; /* pre-2.03 default */
	if (top > gm->low_size)
		top = gm->low_size;
	top &= ~(PAGE - 1);
	floor = (kernel_end + PAGE - 1) & ~(PAGE - 1);
	if (!size || size > top || ((top - size) & ~(PAGE - 1)) < floor)
		return -EFBIG;
	*addr = (top - size) & ~(PAGE - 1);
	return 0;
}

/* A vmlinux has no setup header: make the fields the kernel reads
 * (boot.rst, protocol 2.15 layout). */
void ld_elf_setup_header(struct bp_setup_header *h)
{
	memset(h, 0, sizeof(*h));
	h->boot_flag = BP_BOOT_FLAG;
	h->header = BP_HDRS_MAGIC;
	h->version = LD_ELF_PROTOCOL;
	h->type_of_loader = BP_LOADER_UNDEFINED;
	h->loadflags = BP_LOADED_HIGH;
	h->vid_mode = 0xffff;         /* "normal" */
	h->initrd_addr_max = LD_INITRD_MAX_DEFAULT;
	h->kernel_alignment = LD_ELF_ALIGN;
	h->xloadflags = BP_XLF_KERNEL_64;
	h->cmdline_size = LD_ELF_CMDLINE_SIZE;
}
