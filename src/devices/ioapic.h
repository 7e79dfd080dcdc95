/* I/O APIC (82093AA-style, version 0x20 with the EOI register) at
 * 0xfec00000: 24 pins, redirection table, remote IRR for level-triggered
 * pins.  Pure state machine: delivery goes through a callback to the
 * local APIC; src/devices/intc.c registers the MMIO range and locks.
 * Reference: Intel 82093AA I/O APIC datasheet (290566), §3. */
#ifndef RAX_IOAPIC_H
#define RAX_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#define IOAPIC_BASE 0xfec00000ull
#define IOAPIC_SIZE 0x1000ull
#define IOAPIC_PINS 24
/* The ID at reset: the one the MP table from src/loader announces (the
 * BSP's local APIC is ID 0). */
#define IOAPIC_DEFAULT_ID 1

/* Redirection-entry fields (82093AA §3.2.4). */
#define IORED_VECTOR   0xffull
#define IORED_DELMODE  (7ull << 8)  /* 0 fixed, 1 lowest, 7 ExtINT */
#define IORED_DESTLOG  (1ull << 11) /* logical destination mode */
#define IORED_DELIVS   (1ull << 12) /* delivery status (read-only) */
#define IORED_POLARITY (1ull << 13) /* 1 = active low */
#define IORED_REMOTE   (1ull << 14) /* remote IRR (read-only) */
#define IORED_LEVEL    (1ull << 15) /* trigger mode: 1 = level */
#define IORED_MASK     (1ull << 16)
#define IORED_DEST_SHIFT 56

#define DELMODE_FIXED  0
#define DELMODE_LOWEST 1
#define DELMODE_NMI    4
#define DELMODE_INIT   5
#define DELMODE_EXTINT 7

/* An interrupt message to the local APIC.  Returns true when accepted
 * (the remote IRR of a level pin is set only then). */
typedef bool (*ioapic_deliver_fn)(void *opaque, uint8_t vector,
				  unsigned delmode, bool level, bool logical,
				  uint8_t dest);

struct ioapic {
	uint32_t id;
	uint8_t sel;                    /* IOREGSEL */
	uint64_t redir[IOAPIC_PINS];
	uint32_t lines;                 /* asserted pins */
	ioapic_deliver_fn deliver;
	void *opaque;
};

void ioapic_reset(struct ioapic *io, ioapic_deliver_fn deliver,
		  void *opaque);
/* Pin `pin` asserted (level != 0) or deasserted.  Polarity is not
 * applied: devices pass the logical "asserted" state, whatever the
 * electrical polarity the guest programs. */
void ioapic_set_irq(struct ioapic *io, unsigned pin, int level);
/* End of interrupt for `vector` (LAPIC EOI broadcast or the EOI
 * register): clears remote IRR of matching level pins and re-delivers
 * those still asserted. */
void ioapic_eoi(struct ioapic *io, uint8_t vector);
/* 32-bit accesses at offset 0x00 (IOREGSEL), 0x10 (IOWIN), 0x40 (EOI). */
uint32_t ioapic_read(struct ioapic *io, uint64_t off);
void ioapic_write(struct ioapic *io, uint64_t off, uint32_t val);

#endif
