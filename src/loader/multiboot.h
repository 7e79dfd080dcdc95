/* Multiboot version 1 (the GNU Multiboot Specification, version 0.6.96):
 * the header a kernel carries and the information structure the boot
 * loader passes in EBX.  Section numbers below are the specification's. */
#ifndef RAX_LOADER_MULTIBOOT_H
#define RAX_LOADER_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>

/* §3.1.1: the header lies within the first 8192 bytes of the image,
 * 32-bit aligned; magic + flags + checksum == 0 (mod 2^32). */
#define MB_HEADER_MAGIC 0x1badb002u
#define MB_SEARCH 8192
#define MB_BOOT_MAGIC 0x2badb002u /* EAX at entry (§3.2) */

/* §3.1.2 header flags.  Bits 0-15 are requirements: a loader that does
 * not understand one of them must refuse the image.  Bits 16-31 are
 * optional. */
#define MB_HF_PAGE_ALIGN (1u << 0) /* modules on 4 KiB boundaries */
#define MB_HF_MEMORY (1u << 1)     /* mem_* and mmap_* wanted */
#define MB_HF_VIDEO (1u << 2)      /* video mode table wanted */
#define MB_HF_REQUIRED 0xffffu
#define MB_HF_AOUT_KLUDGE (1u << 16) /* address fields are valid */

/* §3.1.1, Table "The layout of the Multiboot header". */
struct mb_header {
	uint32_t magic, flags, checksum;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr;
	uint32_t entry_addr;                  /* flag bit 16 */
	uint32_t mode_type, width, height, depth; /* flag bit 2 */
};
_Static_assert(sizeof(struct mb_header) == 48, "Multiboot header");
_Static_assert(offsetof(struct mb_header, entry_addr) == 28,
	       "entry_addr at 28");

/* §3.3 information flags: which fields of struct mb_info are valid. */
#define MB_IF_MEMORY (1u << 0)
#define MB_IF_CMDLINE (1u << 2)
#define MB_IF_MODS (1u << 3)
#define MB_IF_MMAP (1u << 6)
#define MB_IF_LOADER_NAME (1u << 9)

/* §3.3, "Boot information format".  All addresses are physical. */
struct mb_info {
	uint32_t flags;
	uint32_t mem_lower, mem_upper;        /* KiB below 640 K, above 1 M */
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
	uint32_t drives_length, drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name;
	uint32_t apm_table;
	uint32_t vbe_control_info, vbe_mode_info;
	uint16_t vbe_mode, vbe_interface_seg, vbe_interface_off;
	uint16_t vbe_interface_len;
	uint64_t framebuffer_addr;
	uint32_t framebuffer_pitch, framebuffer_width, framebuffer_height;
	uint8_t framebuffer_bpp, framebuffer_type, color_info[6];
} __attribute__((packed)); /* 116 bytes: no tail padding after u64 */
_Static_assert(sizeof(struct mb_info) == 116, "Multiboot information");
_Static_assert(offsetof(struct mb_info, cmdline) == 16, "cmdline at 16");
_Static_assert(offsetof(struct mb_info, mods_count) == 20, "mods at 20");
_Static_assert(offsetof(struct mb_info, mmap_length) == 44, "mmap at 44");
_Static_assert(offsetof(struct mb_info, boot_loader_name) == 64,
	       "boot_loader_name at 64");
_Static_assert(offsetof(struct mb_info, framebuffer_addr) == 88,
	       "framebuffer at 88");

/* §3.3 module list entry. */
struct mb_module {
	uint32_t mod_start, mod_end; /* [start, end) */
	uint32_t string;             /* the module's command line */
	uint32_t reserved;
};
_Static_assert(sizeof(struct mb_module) == 16, "Multiboot module");

/* §3.3 memory map entry: `size` counts the bytes after itself; type 1 is
 * available RAM, anything else reserved. */
struct mb_mmap {
	uint32_t size;
	uint64_t base_addr, length;
	uint32_t type;
} __attribute__((packed));
_Static_assert(sizeof(struct mb_mmap) == 24, "Multiboot mmap entry");
#define MB_MMAP_RAM 1
#define MB_MMAP_RESERVED 2

#endif
