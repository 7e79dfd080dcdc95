/* i8254 programmable interval timer at 0x40-0x43: three channels in
 * modes 0-5, lobyte/hibyte/word access, counter latch and read-back;
 * channel 0 pulses IRQ 0 on each rising edge of its OUT, channel 2 is
 * gated and observed through port 0x61 (bit 0 gate, bit 5 OUT2, bit 4
 * refresh toggle), which Linux uses to calibrate the TSC and the APIC
 * timer.  Counting is derived from the machine clock (no host time):
 * the count at time t is a function of the ns elapsed since the load.
 * Pure state machine: src/devices/intc.c registers the ports, locks and
 * owns the machine timer.  Reference: Intel 82C54 datasheet (231244). */
#ifndef RAX_PIT_H
#define RAX_PIT_H

#include <stdbool.h>
#include <stdint.h>

#define PIT_HZ 1193182ull

struct pit_channel {
	uint16_t reload;        /* the count last written */
	uint8_t mode, rw, bcd;  /* control word fields */
	bool loaded;            /* a count was written after the control word */
	bool gate;
	bool triggered;         /* modes 1 and 5: a gate edge started it */
	bool null_count;
	bool latched, status_latched;
	bool read_hi, write_hi; /* byte pointers for lobyte/hibyte access */
	uint8_t write_lo, status;
	uint16_t latch;
	uint64_t load_ns;       /* machine ns when counting started */
	uint64_t frozen;        /* ticks counted when the gate fell */
};

struct pit_ops {
	uint64_t (*now)(void *opaque);                /* machine ns */
	void (*arm)(void *opaque, uint64_t deadline); /* or TIMER_NEVER */
	void (*pulse_irq0)(void *opaque);
	void *opaque;
};

struct pit {
	struct pit_channel ch[3];
	uint8_t port61; /* bits 3:0 as written */
	struct pit_ops ops;
};

void pit_reset(struct pit *p, const struct pit_ops *ops);
/* Ports 0x40-0x43 and 0x61. */
uint8_t pit_read(struct pit *p, uint16_t port);
void pit_write(struct pit *p, uint16_t port, uint8_t val);
/* The channel-0 deadline armed through ops->arm passed. */
void pit_timer_expired(struct pit *p);

#endif
