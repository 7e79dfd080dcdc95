/* The loader's internal interfaces, shared by its files and the unit
 * tests (tests/unit/test_loader.c).  Everything returns 0 or -errno and
 * fills the rax_err with a one-line message naming the file.
 *
 * Guest-physical memory map at the first instruction, the one place it is
 * written down (all of it RAM in the e820 map except the BIOS area):
 *
 *   0x000000-0x000fff  left zero (real-mode IVT and BIOS data area)
 *   0x001000           GDT: 0x10 code64, 0x18 data, 0x20 TSS (16 bytes)
 *   0x001100           the 104-byte 64-bit TSS TR points at
 *   0x002000           PML4
 *   0x003000           PDPT for PML4[0]: identity, 0-4 GiB
 *   0x004000           PDPT for PML4[511]: 0xffffffff80000000 -> 0
 *   0x005000-0x008fff  four page directories of 2 MiB pages, 0-4 GiB,
 *                      shared by both PDPTs
 *   0x009000-0x00ffff  boot stack, RSP = 0xfff0
 *   0x010000           zero page (struct bp_boot_params)
 *   0x020000-0x02ffff  kernel command line
 *   0x09fc00-0x0fffff  reserved in e820 (EBDA, VGA, BIOS)
 *   0x0e0000-0x0effff  ACPI: the RSDP, then the tables it leads to
 *                      (none with --acpi off)
 *   0x0f0000           MP floating pointer, then the MP config table
 *   0x100000           bzImage protected-mode code (64-bit entry +0x200);
 *                      ELF segments go to their p_paddr (>= 1 MiB)
 *   below min(initrd_addr_max, top of low RAM), page-aligned: initrd
 *
 * A multiboot kernel (multiboot.c) starts in 32-bit protected mode
 * without paging, so only some of these areas are written for it:
 *
 *   0x001000           GDT: 0x08 code32, 0x10 data, 0x18 32-bit TSS
 *   0x001100           the 104-byte TSS TR points at
 *   0x010000           Multiboot information (EBX), then at +0x100 its
 *                      memory map, +0x200 the module list, +0x300 the
 *                      boot loader's name
 *   0x020000-0x02ffff  the command line, then the module's string
 *   0x0e0000           the ACPI tables (none with --acpi off)
 *   0x0f0000           MP floating pointer, then the MP config table
 *   anywhere else the image says, outside those areas and the BIOS area;
 *   the module (--initrd) page-aligned after the image and 1 MiB
 */
#ifndef RAX_LOADER_LD_INT_H
#define RAX_LOADER_LD_INT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "loader/bootparam.h"
#include "loader/loader.h"
#include "mem.h"
#include "regs.h"

#define LD_GDT 0x1000ull
#define LD_TSS 0x1100ull
#define LD_TSS_SIZE 0x68
#define LD_PML4 0x2000ull
#define LD_PDPT_ID 0x3000ull
#define LD_PDPT_K 0x4000ull
#define LD_PD 0x5000ull
#define LD_PD_COUNT 4            /* 4 x 1 GiB */
#define LD_STACK_TOP 0xfff0ull
#define LD_ZERO_PAGE 0x10000ull
#define LD_CMDLINE 0x20000ull
#define LD_CMDLINE_MAX 0x10000ull
#define LD_BIOS_START 0x9fc00ull /* 639 KiB: e820 reserved from here */
#define LD_ACPI 0xe0000ull
#define LD_MPTABLE 0xf0000ull
#define LD_HIGH_START 0x100000ull
#define LD_KERNEL LD_HIGH_START

#define LD_MB_INFO LD_ZERO_PAGE
#define LD_MB_MMAP (LD_MB_INFO + 0x100)
#define LD_MB_MODS (LD_MB_INFO + 0x200)
#define LD_MB_NAME (LD_MB_INFO + 0x300)
#define LD_MB_SEL_CS 0x08
#define LD_MB_SEL_DS 0x10
#define LD_MB_SEL_TSS 0x18
#define LD_MB_GDT_SIZE 0x20

#define LD_SEL_CS 0x10           /* __BOOT_CS (boot.rst, 64-bit protocol) */
#define LD_SEL_DS 0x18           /* __BOOT_DS */
#define LD_SEL_TSS 0x20
#define LD_GDT_SIZE 0x30         /* 4 descriptors + a 16-byte TSS one */
#define LD_KERNEL_VIRT 0xffffffff80000000ull /* __START_KERNEL_map */
#define LD_APIC_BASE 0xfee00900ull /* 0xfee00000 | enable | BSP */

#define LD_IOAPIC_ADDR 0xfec00000u
#define LD_LAPIC_ADDR 0xfee00000u
#define LD_IOAPIC_ID 1
#define LD_IOAPIC_VERSION 0x11
#define LD_LAPIC_VERSION 0x14
#define LD_ISA_IRQS 16

/* Synthesized setup header for a bare vmlinux (no real-mode part). */
#define LD_ELF_PROTOCOL 0x020f
#define LD_ELF_ALIGN 0x1000000u
#define LD_ELF_CMDLINE_SIZE 2047u   /* COMMAND_LINE_SIZE - 1 */
#define LD_INITRD_MAX_DEFAULT 0x7fffffffu

/* The areas of the memory map must not overlap. */
_Static_assert(LD_GDT + LD_GDT_SIZE <= LD_TSS, "GDT below the TSS");
_Static_assert(LD_TSS + LD_TSS_SIZE <= LD_PML4, "TSS below the PML4");
_Static_assert(LD_PD + LD_PD_COUNT * 0x1000 < LD_STACK_TOP,
	       "page directories below the stack");
_Static_assert(LD_STACK_TOP < LD_ZERO_PAGE, "stack below the zero page");
_Static_assert(LD_ZERO_PAGE + 0x1000 <= LD_CMDLINE, "zero page, cmdline");
_Static_assert(LD_CMDLINE + LD_CMDLINE_MAX <= LD_BIOS_START,
	       "command line below the BIOS area");
_Static_assert(LD_GDT + LD_MB_GDT_SIZE <= LD_TSS, "multiboot GDT, TSS");
_Static_assert(LD_MB_NAME + 0x100 <= LD_MB_INFO + 0x1000,
	       "the Multiboot information fits in one page");
_Static_assert(LD_BIOS_START <= LD_MPTABLE && LD_MPTABLE < LD_HIGH_START,
	       "the MP table is in the reserved BIOS area");
_Static_assert(LD_BIOS_START <= LD_ACPI && LD_ACPI < LD_MPTABLE,
	       "the ACPI tables are in the reserved BIOS area, below the "
	       "MP table");

/* A kernel or payload image in host memory. */
struct ld_image {
	const char *path;            /* for messages */
	const uint8_t *p;
	size_t size;
};

/* bzimage.c: a parsed bzImage. */
struct ld_bzimage {
	struct bp_setup_header hdr;  /* as in the image, zero past its end */
	size_t hdr_len;              /* bytes of header from 0x1f1 */
	size_t setup_size;           /* (setup_sects + 1) * 512 */
	const uint8_t *pm;           /* protected-mode code */
	size_t pm_size;
	uint64_t footprint_end;      /* end of what the kernel needs from
					LD_KERNEL: decompression buffer */
};

/* True if img starts like a bzImage (boot_flag and "HdrS"). */
int ld_is_bzimage(const struct ld_image *img);
/* Validates the setup header and the file size against it. */
int ld_bz_parse(const struct ld_image *img, struct ld_bzimage *bz,
		struct rax_err *e) __attribute__((warn_unused_result));

/* elf.c: loads the PT_LOAD segments of an ELF64 x86-64 executable at
 * their physical addresses.  *entry is physical. */
struct ld_elf_result {
	uint64_t entry, start, end;
};
int ld_is_elf(const struct ld_image *img);
int ld_elf_load(struct guest_mem *gm, const struct ld_image *img,
		struct ld_elf_result *r, struct rax_err *e)
	__attribute__((warn_unused_result));

/* decompress.c: decompresses a bzImage payload into out (capacity cap).
 * Returns -EFBIG when the output does not fit, -EINVAL for a corrupt
 * stream, -ENOTSUP for formats the host cannot decode. */
const char *ld_payload_format(const uint8_t *p, size_t len);
int ld_decompress(const struct ld_image *in, uint8_t *out, size_t cap,
		  size_t *out_len, struct rax_err *e)
	__attribute__((warn_unused_result));

/* boot64.c: GDT, TSS and page tables in guest memory; the registers
 * for the 64-bit boot protocol.  ld_flat_seg() is a flat 4 GiB segment
 * (base 0, G=1) and ld_seg_desc() the low 8 bytes of its descriptor. */
int ld_write_boot_tables(struct guest_mem *gm)
	__attribute__((warn_unused_result));
void ld_boot_regs(struct rax_regs *r, uint64_t entry, uint64_t zero_page);
struct rax_seg ld_flat_seg(uint16_t sel, uint8_t type, uint8_t l,
			   uint8_t db);
uint64_t ld_seg_desc(const struct rax_seg *s);

/* loader.c: opens a regular, non-empty file (`what` names it in
 * messages) and reads all of it. */
int ld_open_regular(const char *path, const char *what, int *fd,
		    uint64_t *size, struct rax_err *e)
	__attribute__((warn_unused_result));
int ld_read_all(int fd, uint8_t *dst, uint64_t size)
	__attribute__((warn_unused_result));

/* multiboot.c: ld_mb_find() returns 1 and the header (zero past the end
 * of the file) with its file offset when the first 8 KiB of img hold a
 * Multiboot v1 header whose checksum is right, else 0.  ld_mb_load()
 * loads such an image, the module (c->initrd), the information
 * structure and the MP table, and sets m->boot_regs. */
struct mb_header;
int ld_mb_find(const struct ld_image *img, struct mb_header *h,
	       size_t *off);
int ld_mb_load(struct machine *m, const struct ld_config *c,
	       const struct ld_image *img, const struct mb_header *h,
	       size_t off, struct ld_info *info, struct rax_err *e)
	__attribute__((warn_unused_result));

/* zeropage.c: the e820 map (returns the entry count) and the initrd
 * placement rule. */
unsigned ld_e820(const struct guest_mem *gm, struct bp_e820_entry *t,
		 unsigned max);
int ld_place_initrd(const struct guest_mem *gm, uint64_t size,
		    uint32_t addr_max, uint64_t kernel_end, uint64_t *addr)
	__attribute__((warn_unused_result));
void ld_elf_setup_header(struct bp_setup_header *h);

/* mptable.c: MP floating pointer and configuration table at addr, with
 * ncpus (1..LD_MAX_CPUS; 0 reads as 1) processors. */
#define LD_MAX_CPUS 64
int ld_write_mptable(struct guest_mem *gm, uint64_t addr, unsigned ncpus)
	__attribute__((warn_unused_result));
uint8_t ld_checksum(const void *p, size_t len);

/* loader.c: the MP table and, unless m->acpi_off, the ACPI tables for
 * m->ncpus CPUs, at LD_MPTABLE and LD_ACPI. */
int ld_write_firmware(struct machine *m, struct rax_err *e)
	__attribute__((warn_unused_result));

/* acpi.c: the ACPI tables for ncpus CPUs (0 means 1) in [addr, end):
 * the RSDP at addr (16-byte aligned, within 0xe0000-0xfffff for a
 * kernel to find it), the rest after it.  Returns 0, -EINVAL for more
 * than 255 CPUs, -ENOSPC when they do not fit, -EFAULT for an area
 * outside RAM or above 4 GiB. */
int ld_write_acpi(struct guest_mem *gm, uint64_t addr, uint64_t end,
		  unsigned ncpus) __attribute__((warn_unused_result));

struct machine;
struct ld_info;

/* --flat (flat.c): copies img to guest-physical addr and sets
 * m->boot_regs for a real-mode start there. */
int ld_flat_load(struct machine *m, uint64_t addr, const struct ld_image *img,
		 struct ld_info *info, struct rax_err *e);

#endif
