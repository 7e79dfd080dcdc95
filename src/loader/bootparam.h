/* The Linux x86 boot protocol's data layouts: the setup header and the
 * zero page (struct boot_params), as documented in
 * Documentation/x86/boot.rst ("The real-mode kernel header") and
 * Documentation/x86/zero-page.rst.  Written from the documented offsets;
 * every field the loader touches is pinned with _Static_assert.
 *
 * Freestanding (stdint.h only): the bare-metal image in bm/ reuses it. */
#ifndef RAX_LOADER_BOOTPARAM_H
#define RAX_LOADER_BOOTPARAM_H

#include <stdint.h>

#define BP_SETUP_HDR_OFF 0x1f1     /* in the image and in the zero page */
#define BP_BOOT_FLAG 0xaa55
#define BP_HDRS_MAGIC 0x53726448u  /* "HdrS" at 0x202 */
#define BP_SECTOR 512
#define BP_DEFAULT_SETUP_SECTS 4   /* boot.rst note (1): 0 means 4 */
#define BP_ENTRY64_OFF 0x200       /* 64-bit entry: pm code start + 0x200 */
#define BP_LOADER_UNDEFINED 0xff   /* type_of_loader: "undefined" */

/* loadflags (boot.rst, "loadflags"). */
#define BP_LOADED_HIGH (1u << 0)
#define BP_KASLR_FLAG (1u << 1)
#define BP_QUIET_FLAG (1u << 5)
#define BP_KEEP_SEGMENTS (1u << 6)
#define BP_CAN_USE_HEAP (1u << 7)

/* xloadflags (protocol 2.12+). */
#define BP_XLF_KERNEL_64 (1u << 0)
#define BP_XLF_CAN_BE_LOADED_ABOVE_4G (1u << 1)

/* e820 entry types (ACPI "Address Range Types"). */
#define BP_E820_RAM 1
#define BP_E820_RESERVED 2
#define BP_E820_MAX 128            /* entries in the zero page */

/* Documentation/x86/boot.rst, "The real-mode kernel header": offsets
 * in the comments are from the start of the image / zero page. */
struct bp_setup_header {
	uint8_t setup_sects;           /* 0x1f1 */
	uint16_t root_flags;           /* 0x1f2 */
	uint32_t syssize;              /* 0x1f4: pm code size / 16 */
	uint16_t ram_size;             /* 0x1f8 */
	uint16_t vid_mode;             /* 0x1fa */
	uint16_t root_dev;             /* 0x1fc */
	uint16_t boot_flag;            /* 0x1fe: 0xaa55 */
	uint16_t jump;                 /* 0x200: 2nd byte: header end - 0x202 */
	uint32_t header;               /* 0x202: "HdrS" */
	uint16_t version;              /* 0x206 */
	uint32_t realmode_swtch;       /* 0x208 */
	uint16_t start_sys_seg;        /* 0x20c */
	uint16_t kernel_version;       /* 0x20e */
	uint8_t type_of_loader;        /* 0x210 */
	uint8_t loadflags;             /* 0x211 */
	uint16_t setup_move_size;      /* 0x212 */
	uint32_t code32_start;         /* 0x214 */
	uint32_t ramdisk_image;        /* 0x218 */
	uint32_t ramdisk_size;         /* 0x21c */
	uint32_t bootsect_kludge;      /* 0x220 */
	uint16_t heap_end_ptr;         /* 0x224 */
	uint8_t ext_loader_ver;        /* 0x226 */
	uint8_t ext_loader_type;       /* 0x227 */
	uint32_t cmd_line_ptr;         /* 0x228 */
	uint32_t initrd_addr_max;      /* 0x22c */
	uint32_t kernel_alignment;     /* 0x230 */
	uint8_t relocatable_kernel;    /* 0x234 */
	uint8_t min_alignment;         /* 0x235 */
	uint16_t xloadflags;           /* 0x236 */
	uint32_t cmdline_size;         /* 0x238 */
	uint32_t hardware_subarch;     /* 0x23c */
	uint64_t hardware_subarch_data; /* 0x240 */
	uint32_t payload_offset;       /* 0x248 */
	uint32_t payload_length;       /* 0x24c */
	uint64_t setup_data;           /* 0x250 */
	uint64_t pref_address;         /* 0x258 */
	uint32_t init_size;            /* 0x260 */
	uint32_t handover_offset;      /* 0x264 */
	uint32_t kernel_info_offset;   /* 0x268 */
} __attribute__((packed));

#define BP_HDR_OFF(f) \
	(BP_SETUP_HDR_OFF + __builtin_offsetof(struct bp_setup_header, f))
_Static_assert(sizeof(struct bp_setup_header) == 0x26c - 0x1f1,
	       "setup header spans 0x1f1-0x26b");
_Static_assert(BP_HDR_OFF(boot_flag) == 0x1fe, "boot_flag at 0x1fe");
_Static_assert(BP_HDR_OFF(header) == 0x202, "header at 0x202");
_Static_assert(BP_HDR_OFF(version) == 0x206, "version at 0x206");
_Static_assert(BP_HDR_OFF(type_of_loader) == 0x210, "type_of_loader");
_Static_assert(BP_HDR_OFF(code32_start) == 0x214, "code32_start");
_Static_assert(BP_HDR_OFF(ramdisk_image) == 0x218, "ramdisk_image");
_Static_assert(BP_HDR_OFF(heap_end_ptr) == 0x224, "heap_end_ptr");
_Static_assert(BP_HDR_OFF(cmd_line_ptr) == 0x228, "cmd_line_ptr");
_Static_assert(BP_HDR_OFF(initrd_addr_max) == 0x22c, "initrd_addr_max");
_Static_assert(BP_HDR_OFF(kernel_alignment) == 0x230, "kernel_alignment");
_Static_assert(BP_HDR_OFF(xloadflags) == 0x236, "xloadflags");
_Static_assert(BP_HDR_OFF(cmdline_size) == 0x238, "cmdline_size");
_Static_assert(BP_HDR_OFF(payload_offset) == 0x248, "payload_offset");
_Static_assert(BP_HDR_OFF(pref_address) == 0x258, "pref_address");
_Static_assert(BP_HDR_OFF(init_size) == 0x260, "init_size");
_Static_assert(BP_HDR_OFF(kernel_info_offset) == 0x268, "kernel_info");

/* One e820 map entry (ACPI "Address Range Descriptor"), 20 bytes. */
struct bp_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));
_Static_assert(sizeof(struct bp_e820_entry) == 20, "e820 entry is 20 bytes");

/* Documentation/x86/zero-page.rst.  Areas the loader never fills are
 * kept as byte arrays of the documented size. */
struct bp_boot_params {
	uint8_t screen_info[0x40];     /* 0x000 */
	uint8_t apm_bios_info[0x14];   /* 0x040 */
	uint8_t pad2[4];               /* 0x054 */
	uint64_t tboot_addr;           /* 0x058 */
	uint8_t ist_info[0x10];        /* 0x060 */
	uint64_t acpi_rsdp_addr;       /* 0x070 */
	uint8_t pad3[8];               /* 0x078 */
	uint8_t hd0_info[0x10];        /* 0x080 */
	uint8_t hd1_info[0x10];        /* 0x090 */
	uint8_t sys_desc_table[0x10];  /* 0x0a0 */
	uint8_t olpc_ofw_header[0x10]; /* 0x0b0 */
	uint32_t ext_ramdisk_image;    /* 0x0c0 */
	uint32_t ext_ramdisk_size;     /* 0x0c4 */
	uint32_t ext_cmd_line_ptr;     /* 0x0c8 */
	uint8_t pad4[0x13c - 0xcc];    /* 0x0cc */
	uint32_t cc_blob_address;      /* 0x13c */
	uint8_t edid_info[0x80];       /* 0x140 */
	uint8_t efi_info[0x20];        /* 0x1c0 */
	uint32_t alt_mem_k;            /* 0x1e0 */
	uint32_t scratch;              /* 0x1e4 */
	uint8_t e820_entries;          /* 0x1e8 */
	uint8_t eddbuf_entries;        /* 0x1e9 */
	uint8_t edd_mbr_sig_buf_entries; /* 0x1ea */
	uint8_t kbd_status;            /* 0x1eb */
	uint8_t secure_boot;           /* 0x1ec */
	uint8_t pad5[2];               /* 0x1ed */
	uint8_t sentinel;              /* 0x1ef: must stay 0 */
	uint8_t pad6[1];               /* 0x1f0 */
	struct bp_setup_header hdr;    /* 0x1f1 */
	uint8_t pad7[0x290 - 0x26c];   /* 0x26c */
	uint32_t edd_mbr_sig_buffer[16]; /* 0x290 */
	struct bp_e820_entry e820_table[BP_E820_MAX]; /* 0x2d0 */
	uint8_t pad8[0xd00 - 0xcd0];   /* 0xcd0 */
	uint8_t eddbuf[0x1ec];         /* 0xd00 */
	uint8_t pad9[0x1000 - 0xeec];  /* 0xeec */
} __attribute__((packed));

#define BP_OFF(f) __builtin_offsetof(struct bp_boot_params, f)
_Static_assert(sizeof(struct bp_boot_params) == 4096, "zero page is 4 KiB");
_Static_assert(BP_OFF(acpi_rsdp_addr) == 0x070, "acpi_rsdp_addr at 0x070");
_Static_assert(BP_OFF(ext_ramdisk_image) == 0x0c0, "ext_ramdisk_image");
_Static_assert(BP_OFF(ext_ramdisk_size) == 0x0c4, "ext_ramdisk_size");
_Static_assert(BP_OFF(ext_cmd_line_ptr) == 0x0c8, "ext_cmd_line_ptr");
_Static_assert(BP_OFF(cc_blob_address) == 0x13c, "cc_blob_address");
_Static_assert(BP_OFF(alt_mem_k) == 0x1e0, "alt_mem_k at 0x1e0");
_Static_assert(BP_OFF(e820_entries) == 0x1e8, "e820_entries at 0x1e8");
_Static_assert(BP_OFF(sentinel) == 0x1ef, "sentinel at 0x1ef");
_Static_assert(BP_OFF(hdr) == BP_SETUP_HDR_OFF, "setup header at 0x1f1");
_Static_assert(BP_OFF(edd_mbr_sig_buffer) == 0x290, "edd_mbr_sig_buffer");
_Static_assert(BP_OFF(e820_table) == 0x2d0, "e820_table at 0x2d0");
_Static_assert(BP_OFF(eddbuf) == 0xd00, "eddbuf at 0xd00");

#endif
