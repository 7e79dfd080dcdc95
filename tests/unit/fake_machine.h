/* A machine for device tests: the board from dev_init_all(), no engine,
 * and an ops table whose set_irq records each line's level (atomically:
 * the console thread raises the UART's line). */
#ifndef RAX_FAKE_MACHINE_H
#define RAX_FAKE_MACHINE_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "devices/devices.h"
#include "machine.h"

static atomic_int fake_irq_level[24];
static atomic_int fake_irq_changes[24];

static void fake_set_irq(struct machine *m, unsigned gsi, int level)
{
	if (gsi < 24) {
		atomic_store(&fake_irq_level[gsi], level);
		atomic_fetch_add(&fake_irq_changes[gsi], 1);
	}
}

/* The machine clock tests advance by hand (fake_clock = ns). */
static _Atomic uint64_t fake_clock;

static uint64_t fake_clock_ns(struct machine *m)
{
	(void)m;
	return atomic_load(&fake_clock);
}

static const struct vcpu_ops fake_ops = {
	.name = "fake",
	.set_irq = fake_set_irq,
	.clock_ns = fake_clock_ns,
};

/* mem_mib > 0 maps that much guest RAM (the RTC reports its size). */
static inline struct machine *fake_machine(unsigned mem_mib)
{
	struct machine *m = calloc(1, sizeof(*m));
	struct rax_err e;

	if (!m)
		abort();
	m->ops = &fake_ops;
	for (int i = 0; i < 24; i++)
		atomic_store(&fake_irq_level[i], 0);
	if (mem_mib && gm_init(&m->mem, (uint64_t)mem_mib << 20))
		abort();
	if (dev_init_all(m, &e)) {
		fprintf(stderr, "dev_init_all: %s\n", e.msg);
		abort();
	}
	return m;
}

static inline void fake_machine_free(struct machine *m)
{
	dev_exit_all(m);
	if (m->mem.host)
		gm_destroy(&m->mem);
	free(m);
}

static inline uint8_t inb(struct machine *m, uint16_t port)
{
	uint8_t v;

	machine_pio(m, port, false, &v, 1);
	return v;
}

static inline void outb(struct machine *m, uint16_t port, uint8_t v)
{
	machine_pio(m, port, true, &v, 1);
}

static inline uint16_t inw(struct machine *m, uint16_t port)
{
	uint8_t b[2];

	machine_pio(m, port, false, b, 2);
	return (uint16_t)(b[0] | b[1] << 8);
}

static inline void outw(struct machine *m, uint16_t port, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	machine_pio(m, port, true, b, 2);
}

static inline uint32_t inl(struct machine *m, uint16_t port)
{
	uint8_t b[4];

	machine_pio(m, port, false, b, 4);
	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline void outl(struct machine *m, uint16_t port, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 24) };

	machine_pio(m, port, true, b, 4);
}

static inline void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

#endif
