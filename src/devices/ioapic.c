/* I/O APIC: see ioapic.h.  Section numbers refer to the 82093AA
 * datasheet. */
#include "devices/ioapic.h"

#include <string.h>

#include "log.h"

#define IOAPIC_VERSION 0x20 /* has the EOI register (as in ICH) */

#define REG_ID  0x00
#define REG_VER 0x01
#define REG_ARB 0x02
#define REG_REDIR 0x10

_Static_assert(IOAPIC_PINS <= 32, "struct ioapic.lines is a 32-bit mask");
_Static_assert(REG_REDIR + 2 * IOAPIC_PINS - 1 == 0x3f,
	       "redirection table ends at register 0x3f (82093AA §3.2.4)");

/* Writable bits of a redirection entry. */
#define IORED_RW (IORED_VECTOR | IORED_DELMODE | IORED_DESTLOG | \
		  IORED_POLARITY | IORED_LEVEL | IORED_MASK | \
		  (0xffull << IORED_DEST_SHIFT))

void ioapic_reset(struct ioapic *io, ioapic_deliver_fn deliver,
		  void *opaque)
{
	memset(io, 0, sizeof(*io));
	io->id = IOAPIC_DEFAULT_ID;
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		io->redir[i] = IORED_MASK; /* §3.2.4: masked at reset */
	io->deliver = deliver;
	io->opaque = opaque;
}

static void deliver(struct ioapic *io, unsigned pin)
{
	uint64_t e = io->redir[pin];
	bool level = e & IORED_LEVEL;
	unsigned mode = (unsigned)((e & IORED_DELMODE) >> 8);

	if (e & IORED_MASK)
		return;
	if (level && (e & IORED_REMOTE))
		return; /* waiting for the EOI */
	if (mode != DELMODE_FIXED && mode != DELMODE_LOWEST &&
	    mode != DELMODE_EXTINT) {
		rax_log(LOG_DEBUG, irq, "ioapic: pin %u delivery mode %u "
			"ignored", pin, mode);
		return;
	}
	if (io->deliver(io->opaque, (uint8_t)(e & IORED_VECTOR), mode,
			level, e & IORED_DESTLOG,
			(uint8_t)(e >> IORED_DEST_SHIFT)) && level)
		io->redir[pin] |= IORED_REMOTE;
}

void ioapic_set_irq(struct ioapic *io, unsigned pin, int level)
{
	uint32_t mask;
	bool was;

	if (pin >= IOAPIC_PINS)
		return;
	mask = 1u << pin;
	was = io->lines & mask;
	io->lines = level ? io->lines | mask : io->lines & ~mask;
	if (!level)
		return;
	if ((io->redir[pin] & IORED_LEVEL) || !was)
		deliver(io, pin); /* level: while asserted; edge: rising */
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t e = io->redir[pin];

		if (!(e & IORED_LEVEL) || (e & IORED_VECTOR) != vector ||
		    !(e & IORED_REMOTE))
			continue;
		io->redir[pin] &= ~IORED_REMOTE;
		if (io->lines & (1u << pin))
			deliver(io, pin);
	}
}

static uint32_t read_reg(struct ioapic *io, unsigned reg)
{
	switch (reg) {
	case REG_ID:
	case REG_ARB:
		return io->id << 24;
	case REG_VER: /* max redirection entry in 23:16 */
		return (IOAPIC_PINS - 1) << 16 | IOAPIC_VERSION;
	}
	if (reg >= REG_REDIR && reg < REG_REDIR + 2 * IOAPIC_PINS) {
		uint64_t e = io->redir[(reg - REG_REDIR) / 2];

		return (reg & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
	}
	return 0;
}

static void write_reg(struct ioapic *io, unsigned reg, uint32_t val)
{
	uint64_t *e, old;
	unsigned pin;

	if (reg == REG_ID) {
		io->id = (val >> 24) & 0xf;
		return;
	}
	if (reg < REG_REDIR || reg >= REG_REDIR + 2 * IOAPIC_PINS)
		return; /* read-only or absent */
	pin = (reg - REG_REDIR) / 2;
	e = &io->redir[pin];
	old = *e;
	if (reg & 1)
		*e = (*e & 0xffffffffull) | (uint64_t)val << 32;
	else
		*e = (*e & ~0xffffffffull) | val;
	*e = (*e & IORED_RW) | (old & ~IORED_RW);
	if (!(*e & IORED_LEVEL))
		*e &= ~IORED_REMOTE;
	/* An asserted level pin that is unmasked (or re-pointed) fires. */
	if ((*e & IORED_LEVEL) && (io->lines & (1u << pin)))
		deliver(io, pin);
}

uint32_t ioapic_read(struct ioapic *io, uint64_t off)
{
	switch (off) {
	case 0x00:
		return io->sel;
	case 0x10:
		return read_reg(io, io->sel);
	}
	return 0;
}

void ioapic_write(struct ioapic *io, uint64_t off, uint32_t val)
{
	switch (off) {
	case 0x00:
		io->sel = (uint8_t)val;
		break;
	case 0x10:
		write_reg(io, io->sel, val);
		break;
	case 0x40:
		ioapic_eoi(io, (uint8_t)val);
		break;
	}
}
