/* Intel MultiProcessor Specification 1.4 structures (chapter 4, "MP
 * Configuration Table"): the floating pointer, the configuration table
 * header and the base-table entries Linux reads to find the local APIC
 * and the IOAPIC.  Freestanding (stdint.h only) for reuse by bm/. */
#ifndef RAX_LOADER_MPTABLE_H
#define RAX_LOADER_MPTABLE_H

#include <stdint.h>

#define MP_SPEC_REV 4 /* version 1.4 */

/* MP spec §4.1, Table 4-1: MP Floating Pointer Structure. */
struct mp_floating {
	char signature[4];   /* "_MP_" */
	uint32_t physptr;    /* configuration table */
	uint8_t length;      /* in 16-byte units: 1 */
	uint8_t spec_rev;
	uint8_t checksum;    /* all 16 bytes sum to 0 */
	uint8_t feature[5];  /* feature[0] = 0: a table exists; feature[1]
				bit 7 clear: virtual wire mode, no IMCR */
} __attribute__((packed));
_Static_assert(sizeof(struct mp_floating) == 16, "MP floating pointer");

/* MP spec §4.2, Table 4-2: MP Configuration Table Header. */
struct mp_config {
	char signature[4];   /* "PCMP" */
	uint16_t length;     /* base table including the entries */
	uint8_t spec_rev;
	uint8_t checksum;    /* base table sums to 0 */
	char oem_id[8];
	char product_id[12];
	uint32_t oem_table;
	uint16_t oem_table_size;
	uint16_t entry_count;
	uint32_t lapic_addr;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct mp_config) == 44, "MP config header");
_Static_assert(__builtin_offsetof(struct mp_config, entry_count) == 34,
	       "entry count at 34");
_Static_assert(__builtin_offsetof(struct mp_config, lapic_addr) == 36,
	       "local APIC address at 36");

/* Entry types, Table 4-3. */
enum { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_IOINTR, MP_LINTR };

/* §4.3.1, Table 4-4 and 4-5. */
#define MP_CPU_EN 1
#define MP_CPU_BP 2
struct mp_processor {
	uint8_t type, lapic_id, lapic_version, cpu_flags;
	uint32_t signature, feature_flags;
	uint32_t reserved[2];
} __attribute__((packed));
_Static_assert(sizeof(struct mp_processor) == 20, "processor entry");

/* §4.3.2, Table 4-6 and 4-8. */
struct mp_bus {
	uint8_t type, bus_id;
	char bus_type[6];    /* "ISA   " */
} __attribute__((packed));
_Static_assert(sizeof(struct mp_bus) == 8, "bus entry");

/* §4.3.3, Table 4-9. */
#define MP_IOAPIC_EN 1
struct mp_ioapic {
	uint8_t type, id, version, flags;
	uint32_t addr;
} __attribute__((packed));
_Static_assert(sizeof(struct mp_ioapic) == 8, "IOAPIC entry");

/* §4.3.4-4.3.5, Tables 4-10 to 4-13: I/O and local interrupt
 * assignment entries share a layout.  flags 0: polarity and trigger
 * mode conform to the bus (ISA: active high, edge). */
enum { MP_INT, MP_NMI, MP_SMI, MP_EXTINT };
#define MP_ALL_LAPICS 0xff
struct mp_intr {
	uint8_t type, irq_type;
	uint16_t flags;
	uint8_t src_bus, src_irq, dst_apic, dst_pin;
} __attribute__((packed));
_Static_assert(sizeof(struct mp_intr) == 8, "interrupt entry");

#endif
