/* ACPI 6.0 table layouts rax writes (acpi.c): the root pointer, the
 * common table header, FADT, FACS and MADT with the entries rax uses.
 * Chapter 5, "ACPI Software Programming Model", §5.2.  Freestanding
 * (stdint.h only), like mptable.h. */
#ifndef RAX_LOADER_ACPI_H
#define RAX_LOADER_ACPI_H

#include <stdint.h>

/* §5.2.5.3: Root System Description Pointer, revision 2. */
struct acpi_rsdp {
	char signature[8];       /* "RSD PTR " */
	uint8_t checksum;        /* the first 20 bytes sum to 0 */
	char oem_id[6];
	uint8_t revision;        /* 2: ACPI 2.0 and later, with an XSDT */
	uint32_t rsdt;
	uint32_t length;         /* 36 */
	uint64_t xsdt;
	uint8_t ext_checksum;    /* all 36 bytes sum to 0 */
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");
_Static_assert(__builtin_offsetof(struct acpi_rsdp, xsdt) == 24,
	       "XSDT address at 24");

/* §5.2.6: the header every description table starts with. */
struct acpi_header {
	char signature[4];
	uint32_t length;         /* of the whole table, header included */
	uint8_t revision;
	uint8_t checksum;        /* the whole table sums to 0 */
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_header) == 36, "SDT header");

/* §5.2.3.2: Generic Address Structure. */
enum { ACPI_GAS_MEMORY, ACPI_GAS_IO };
struct acpi_gas {
	uint8_t space_id, bit_width, bit_offset, access_size;
	uint64_t address;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS");

/* §5.2.9: Fixed ACPI Description Table, revision 6. */
struct acpi_fadt {
	struct acpi_header h;    /* "FACP" */
	uint32_t firmware_ctrl;  /* FACS */
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;        /* 0: no SMM, always in ACPI mode */
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
	uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat;
	uint16_t flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl, x_dsdt;
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk, x_gpe1_blk;
	struct acpi_gas sleep_control_reg, sleep_status_reg;
	uint64_t hypervisor_vendor;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6");
_Static_assert(__builtin_offsetof(struct acpi_fadt, sci_int) == 46,
	       "SCI_INT at 46");
_Static_assert(__builtin_offsetof(struct acpi_fadt, pm1a_evt_blk) == 56,
	       "PM1a_EVT_BLK at 56");
_Static_assert(__builtin_offsetof(struct acpi_fadt, pm_tmr_blk) == 76,
	       "PM_TMR_BLK at 76");
_Static_assert(__builtin_offsetof(struct acpi_fadt, pm1_evt_len) == 88,
	       "PM1_EVT_LEN at 88");
_Static_assert(__builtin_offsetof(struct acpi_fadt, century) == 108,
	       "CENTURY at 108");
_Static_assert(__builtin_offsetof(struct acpi_fadt, iapc_boot_arch) == 109,
	       "IAPC_BOOT_ARCH at 109");
_Static_assert(__builtin_offsetof(struct acpi_fadt, flags) == 112,
	       "Flags at 112");
_Static_assert(__builtin_offsetof(struct acpi_fadt, reset_reg) == 116,
	       "RESET_REG at 116");
_Static_assert(__builtin_offsetof(struct acpi_fadt, minor_version) == 131,
	       "FADT Minor Version at 131");
_Static_assert(__builtin_offsetof(struct acpi_fadt, x_dsdt) == 140,
	       "X_DSDT at 140");
_Static_assert(__builtin_offsetof(struct acpi_fadt, x_pm_tmr_blk) == 208,
	       "X_PM_TMR_BLK at 208");
_Static_assert(__builtin_offsetof(struct acpi_fadt, hypervisor_vendor) == 268,
	       "Hypervisor Vendor Identity at 268");

/* FADT Flags (§5.2.9.1) and IA-PC Boot Architecture Flags (§5.2.9.3)
 * rax sets. */
#define ACPI_FADT_WBINVD (1u << 0)
#define ACPI_FADT_PROC_C1 (1u << 2)
#define ACPI_FADT_PWR_BUTTON (1u << 4)   /* no fixed power button */
#define ACPI_FADT_SLP_BUTTON (1u << 5)   /* no fixed sleep button */
#define ACPI_FADT_FIX_RTC (1u << 6)      /* no RTC wake status */
#define ACPI_FADT_RESET_REG_SUP (1u << 10)
#define ACPI_FADT_HW_REDUCED (1u << 20)
#define ACPI_BOOT_LEGACY_DEVICES (1u << 0)
#define ACPI_BOOT_8042 (1u << 1)
#define ACPI_BOOT_NO_VGA (1u << 2)

/* §5.2.10: Firmware ACPI Control Structure (no checksum),
 * 64-byte aligned. */
struct acpi_facs {
	char signature[4];       /* "FACS" */
	uint32_t length;         /* 64 */
	uint32_t hardware_signature;
	uint32_t firmware_waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_firmware_waking_vector;
	uint8_t version;         /* 2 */
	uint8_t reserved0[3];
	uint32_t ospm_flags;
	uint8_t reserved1[24];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS");
_Static_assert(__builtin_offsetof(struct acpi_facs, version) == 32,
	       "FACS version at 32");

/* §5.2.12: Multiple APIC Description Table header. */
#define ACPI_MADT_PCAT_COMPAT 1  /* dual 8259s are present */
struct acpi_madt {
	struct acpi_header h;    /* "APIC" */
	uint32_t lapic_addr;
	uint32_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT header");

/* Interrupt controller structure types. */
enum {
	ACPI_MADT_LAPIC = 0,
	ACPI_MADT_IOAPIC = 1,
	ACPI_MADT_ISO = 2,
	ACPI_MADT_LAPIC_NMI = 4,
};

/* §5.2.12.2: Processor Local APIC Structure. */
#define ACPI_MADT_ENABLED 1
struct acpi_madt_lapic {
	uint8_t type, length, uid, apic_id;
	uint32_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt_lapic) == 8, "MADT local APIC");

/* §5.2.12.3: I/O APIC Structure. */
struct acpi_madt_ioapic {
	uint8_t type, length, id, reserved;
	uint32_t addr;
	uint32_t gsi_base;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt_ioapic) == 12, "MADT I/O APIC");

/* §5.2.12.5: Interrupt Source Override; flags
 * bits 1:0 polarity (01 active high, 11 active low), bits 3:2 trigger
 * mode (01 edge, 11 level). */
#define ACPI_MPS_ACTIVE_HIGH 0x1
#define ACPI_MPS_ACTIVE_LOW 0x3
#define ACPI_MPS_EDGE (0x1 << 2)
#define ACPI_MPS_LEVEL (0x3 << 2)
struct acpi_madt_iso {
	uint8_t type, length, bus, source;
	uint32_t gsi;
	uint16_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt_iso) == 10, "MADT override");

/* §5.2.12.7: Local APIC NMI Structure. */
#define ACPI_ALL_PROCESSORS 0xff
struct acpi_madt_lapic_nmi {
	uint8_t type, length, uid;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt_lapic_nmi) == 6, "MADT LAPIC NMI");

#endif
