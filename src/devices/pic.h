/* i8259A programmable interrupt controller pair (master at 0x20/0x21,
 * slave at 0xa0/0xa1 cascaded on master IR2) with the ELCR at
 * 0x4d0/0x4d1.  Pure state machine: src/devices/intc.c registers the
 * ports, locks, and routes the output to the local APIC's LINT0.
 * Reference: Intel 8259A datasheet (order 231468); ELCR per the PIIX4
 * datasheet §12.1.2. */
#ifndef RAX_PIC_H
#define RAX_PIC_H

#include <stdbool.h>
#include <stdint.h>

struct pic_chip {
	uint8_t irr, isr, imr;
	uint8_t elcr, elcr_mask; /* 1 = level-triggered input */
	uint8_t lines;           /* input levels, for edge detection */
	uint8_t vbase;           /* ICW2 & 0xf8 */
	uint8_t prio_base;       /* the IR with the highest priority */
	uint8_t init_step;       /* 0 ready, 2/3/4 expecting ICW2/3/4 */
	bool icw4, single, aeoi, rotate_aeoi, read_isr, poll, special_mask;
};

struct pic {
	struct pic_chip c[2]; /* master, slave */
};

void pic_reset(struct pic *p);
/* Input line `irq` (0-15) to `level`. */
void pic_set_irq(struct pic *p, unsigned irq, int level);
/* The master's INT output: an unmasked request outranks those in
 * service. */
bool pic_output(const struct pic *p);
/* The INTA cycle: returns the vector and marks it in service (spurious
 * IR7 of the chip concerned when nothing is pending). */
int pic_ack(struct pic *p);
/* Ports: 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1. */
uint8_t pic_read(struct pic *p, uint16_t port);
void pic_write(struct pic *p, uint16_t port, uint8_t val);

#endif
