/* i8259A PIC pair: see pic.h.  Section names refer to the 8259A
 * datasheet ("Programming the 8259A"). */
#include "devices/pic.h"

#include <string.h>

static unsigned prio(const struct pic_chip *c, unsigned irq)
{
	return (irq - c->prio_base) & 7; /* 0 = highest */
}

/* Highest-priority bit of `bits`, or -1. */
static int highest(const struct pic_chip *c, uint8_t bits)
{
	for (unsigned i = 0; i < 8; i++) {
		unsigned irq = (c->prio_base + i) & 7;

		if (bits & (1u << irq))
			return (int)irq;
	}
	return -1;
}

/* The request the chip would present: the highest unmasked IRR bit that
 * outranks every bit in service ("Fully Nested Mode"; in special mask
 * mode only unmasked ISR bits inhibit). */
static int chip_get_irq(const struct pic_chip *c)
{
	int irq = highest(c, c->irr & ~c->imr), in;
	uint8_t isr = c->special_mask ? c->isr & ~c->imr : c->isr;

	if (irq < 0)
		return -1;
	in = highest(c, isr);
	if (in >= 0 && prio(c, (unsigned)in) <= prio(c, (unsigned)irq))
		return -1;
	return irq;
}

/* The slave's INT drives master IR2; modelled as a level so that a
 * request still pending after an INTA is never lost. */
static void cascade(struct pic *p)
{
	if (chip_get_irq(&p->c[1]) >= 0)
		p->c[0].irr |= 1u << 2;
	else
		p->c[0].irr &= ~(1u << 2);
}

static void chip_set_irq(struct pic_chip *c, unsigned irq, int level)
{
	uint8_t mask = 1u << irq;

	if (c->elcr & mask) {
		c->irr = level ? c->irr | mask : c->irr & ~mask;
	} else if (level && !(c->lines & mask)) {
		c->irr |= mask; /* rising edge; latched until INTA */
	}
	c->lines = level ? c->lines | mask : c->lines & ~mask;
}

void pic_set_irq(struct pic *p, unsigned irq, int level)
{
	if (irq >= 16 || irq == 2)
		return; /* IR2 is the cascade */
	chip_set_irq(&p->c[irq >> 3], irq & 7, level);
	cascade(p);
}

bool pic_output(const struct pic *p)
{
	return chip_get_irq(&p->c[0]) >= 0;
}

static void chip_intack(struct pic_chip *c, unsigned irq)
{
	uint8_t mask = 1u << irq;

	if (!(c->elcr & mask))
		c->irr &= ~mask;
	if (!c->aeoi)
		c->isr |= mask;
	else if (c->rotate_aeoi)
		c->prio_base = (irq + 1) & 7;
}

int pic_ack(struct pic *p)
{
	int irq = chip_get_irq(&p->c[0]), irq2;
	int vec;

	if (irq < 0)
		return p->c[0].vbase + 7; /* spurious IR7, nothing in service */
	chip_intack(&p->c[0], (unsigned)irq);
	if (irq == 2 && !p->c[0].single) {
		irq2 = chip_get_irq(&p->c[1]);
		if (irq2 >= 0)
			chip_intack(&p->c[1], (unsigned)irq2);
		vec = p->c[1].vbase + (irq2 >= 0 ? irq2 : 7);
	} else {
		vec = p->c[0].vbase + irq;
	}
	cascade(p);
	return vec;
}

static void chip_reset(struct pic_chip *c, uint8_t elcr_mask)
{
	memset(c, 0, sizeof(*c));
	c->elcr_mask = elcr_mask;
}

void pic_reset(struct pic *p)
{
	/* IRQ 0, 1, 2, 8 and 13 are always edge-triggered (PIIX4). */
	chip_reset(&p->c[0], 0xf8);
	chip_reset(&p->c[1], 0xde);
	/* The power-up state is undefined and no BIOS runs before the
	 * guest: start with every input masked until ICW1 clears the IMR. */
	p->c[0].imr = p->c[1].imr = 0xff;
}

/* OCW2: EOI and rotation commands (datasheet Figure 8). */
static void chip_ocw2(struct pic_chip *c, uint8_t val)
{
	unsigned cmd = val >> 5, level = val & 7;
	int irq;

	switch (cmd) {
	case 1: /* non-specific EOI */
	case 5: /* rotate on non-specific EOI */
		irq = highest(c, c->isr);
		if (irq < 0)
			break;
		c->isr &= ~(1u << irq);
		if (cmd == 5)
			c->prio_base = (irq + 1) & 7;
		break;
	case 3: /* specific EOI */
		c->isr &= ~(1u << level);
		break;
	case 7: /* rotate on specific EOI */
		c->isr &= ~(1u << level);
		c->prio_base = (level + 1) & 7;
		break;
	case 6: /* set priority: `level` becomes the lowest */
		c->prio_base = (level + 1) & 7;
		break;
	case 4: /* set / clear rotate in automatic EOI mode */
	case 0:
		c->rotate_aeoi = cmd == 4;
		break;
	default: /* 2: no operation */
		break;
	}
}

static void chip_write_cmd(struct pic_chip *c, uint8_t val)
{
	if (val & 0x10) { /* ICW1 */
		uint8_t elcr = c->elcr, lines = c->lines, mask = c->elcr_mask;

		chip_reset(c, mask);
		c->elcr = elcr;
		c->lines = lines;
		c->irr = lines & elcr; /* edge-sense latches are cleared */
		c->icw4 = val & 1;
		c->single = val & 2;
		c->init_step = 2;
	} else if (val & 0x08) { /* OCW3 */
		if (val & 0x02)
			c->read_isr = val & 0x01;
		c->poll = val & 0x04;
		if (val & 0x40)
			c->special_mask = val & 0x20;
	} else {
		chip_ocw2(c, val);
	}
}

static void chip_write_data(struct pic_chip *c, uint8_t val)
{
	switch (c->init_step) {
	case 0: /* OCW1 */
		c->imr = val;
		break;
	case 2: /* ICW2 */
		c->vbase = val & 0xf8;
		c->init_step = c->single ? (c->icw4 ? 4 : 0) : 3;
		break;
	case 3: /* ICW3: the cascade wiring is fixed */
		c->init_step = c->icw4 ? 4 : 0;
		break;
	default: /* ICW4: only AEOI matters (SFNM, buffering ignored) */
		c->aeoi = val & 0x02;
		c->init_step = 0;
		break;
	}
}

/* Poll command: the next read of the command port acknowledges the
 * highest request ("The Poll Command"). */
static uint8_t pic_poll(struct pic *p, unsigned chip)
{
	struct pic_chip *c = &p->c[chip];
	int irq = chip_get_irq(c);

	c->poll = false;
	if (irq < 0)
		return 0;
	chip_intack(c, (unsigned)irq);
	if (chip == 1) /* the master saw IR2 acknowledged too */
		chip_intack(&p->c[0], 2);
	cascade(p);
	return 0x80 | (uint8_t)irq;
}

uint8_t pic_read(struct pic *p, uint16_t port)
{
	unsigned chip = (port & 0x80) ? 1 : 0;
	struct pic_chip *c = &p->c[chip];

	if (port == 0x4d0 || port == 0x4d1)
		return p->c[port & 1].elcr;
	if (port & 1)
		return c->imr;
	if (c->poll)
		return pic_poll(p, chip);
	return c->read_isr ? c->isr : c->irr;
}

void pic_write(struct pic *p, uint16_t port, uint8_t val)
{
	struct pic_chip *c;

	if (port == 0x4d0 || port == 0x4d1) {
		c = &p->c[port & 1];
		c->elcr = val & c->elcr_mask;
		c->irr = (c->irr & ~c->elcr) | (c->lines & c->elcr);
	} else {
		c = &p->c[(port & 0x80) ? 1 : 0];
		if (port & 1)
			chip_write_data(c, val);
		else
			chip_write_cmd(c, val);
	}
	cascade(p);
}
