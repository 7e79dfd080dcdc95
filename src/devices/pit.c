/* i8254 PIT: see pit.h.  Mode descriptions follow the 82C54 datasheet
 * ("Modes of Operation"). */
#include "devices/pit.h"

#include <string.h>

#include "timer.h"

#define NS_PER_S 1000000000ull
#define REFRESH_NS 15085 /* port 0x61 bit 4 toggles every 15.085 us */

static uint64_t ns_to_ticks(uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * PIT_HZ / NS_PER_S);
}

/* Rounded up, so that ns_to_ticks(ticks_to_ns(t)) >= t. */
static uint64_t ticks_to_ns(uint64_t t)
{
	return (uint64_t)(((unsigned __int128)t * NS_PER_S + PIT_HZ - 1) /
			  PIT_HZ);
}

/* The initial count: 0 means 2^16 (10^4 in BCD). */
static uint64_t period(const struct pit_channel *c)
{
	return c->reload ? c->reload : c->bcd ? 10000 : 65536;
}

static bool started(const struct pit_channel *c)
{
	return c->loaded && (c->triggered || (c->mode != 1 && c->mode != 5));
}

/* Ticks counted since the load (or trigger). */
static uint64_t elapsed(const struct pit_channel *c, uint64_t now)
{
	if (!started(c))
		return 0;
	if (!c->gate) {
		if (c->mode == 0 || c->mode == 4)
			return c->frozen; /* gate low suspends counting */
		if (c->mode == 2 || c->mode == 3)
			return 0;         /* and holds modes 2, 3 reloaded */
	}
	return ns_to_ticks(now - c->load_ns);
}

static uint16_t count_at(const struct pit_channel *c, uint64_t d)
{
	uint64_t n = period(c), ph, half;

	if (!started(c))
		return c->reload;
	switch (c->mode) {
	case 2:
		return (uint16_t)(n - d % n);
	case 3: /* counts down by two, twice per period */
		ph = d % n;
		half = (n + 1) / 2;
		return (uint16_t)((n - 2 * (ph < half ? ph : ph - half)) & ~1u);
	default: /* 0, 1, 4, 5: one pass, then wraps */
		return (uint16_t)(n - d);
	}
}

static bool out_at(const struct pit_channel *c, uint64_t d)
{
	uint64_t n = period(c);

	switch (c->mode) {
	case 0: /* low from the control word until terminal count */
		return c->loaded && d >= n;
	case 1: /* low from the trigger until terminal count */
		return !started(c) || d >= n;
	case 2: /* low for the last tick of each period */
		return n < 2 || d % n != n - 1;
	case 3: /* high for the first half-period */
		return d % n < (n + 1) / 2;
	default: /* 4, 5: low for one tick at terminal count */
		return !started(c) || d != n;
	}
}

/* Machine time of channel 0's next rising OUT edge after `now`. */
static uint64_t next_edge(const struct pit_channel *c, uint64_t now)
{
	uint64_t d, n = period(c), t;

	if (!started(c) || !c->gate)
		return TIMER_NEVER;
	d = elapsed(c, now);
	switch (c->mode) {
	case 0:
		if (d >= n)
			return TIMER_NEVER;
		t = n;
		break;
	case 2:
	case 3:
		t = (d / n + 1) * n;
		break;
	case 4:
		if (d > n)
			return TIMER_NEVER;
		t = n + 1;
		break;
	default:
		return TIMER_NEVER;
	}
	return c->load_ns + ticks_to_ns(t);
}

static uint64_t now_ns(struct pit *p)
{
	return p->ops.now(p->ops.opaque);
}

static void update_timer(struct pit *p)
{
	p->ops.arm(p->ops.opaque, next_edge(&p->ch[0], now_ns(p)));
}

void pit_reset(struct pit *p, const struct pit_ops *ops)
{
	memset(p, 0, sizeof(*p));
	p->ops = *ops;
	p->ch[0].gate = p->ch[1].gate = true; /* wired high on a PC */
	for (unsigned i = 0; i < 3; i++)
		p->ch[i].rw = 3;
	p->ops.arm(p->ops.opaque, TIMER_NEVER);
}

void pit_timer_expired(struct pit *p)
{
	p->ops.pulse_irq0(p->ops.opaque);
	update_timer(p);
}

static void latch_count(struct pit *p, struct pit_channel *c)
{
	if (c->latched)
		return; /* the first latch holds until read */
	c->latch = count_at(c, elapsed(c, now_ns(p)));
	c->latched = true;
	c->read_hi = false;
}

static void latch_status(struct pit *p, struct pit_channel *c)
{
	if (c->status_latched)
		return;
	c->status = (uint8_t)(out_at(c, elapsed(c, now_ns(p))) << 7 |
			      c->null_count << 6 | c->rw << 4 |
			      c->mode << 1 | c->bcd);
	c->status_latched = true;
}

static void write_control(struct pit *p, uint8_t val)
{
	unsigned sc = val >> 6, rw = (val >> 4) & 3;
	struct pit_channel *c;

	if (sc == 3) { /* read-back: bits 3:1 select, 5 = !count, 4 = !status */
		for (unsigned i = 0; i < 3; i++) {
			if (!(val & (2u << i)))
				continue;
			if (!(val & 0x10))
				latch_status(p, &p->ch[i]);
			if (!(val & 0x20))
				latch_count(p, &p->ch[i]);
		}
		return;
	}
	c = &p->ch[sc];
	if (rw == 0) {
		latch_count(p, c);
		return;
	}
	c->rw = (uint8_t)rw;
	c->mode = (val >> 1) & 7;
	if (c->mode > 5)
		c->mode -= 4; /* 6, 7 are 2, 3 */
	c->bcd = val & 1;
	c->loaded = c->triggered = c->latched = false;
	c->read_hi = c->write_hi = false;
	c->null_count = true;
	if (sc == 0)
		update_timer(p);
}

static void load_count(struct pit *p, unsigned i, uint16_t v)
{
	struct pit_channel *c = &p->ch[i];

	c->reload = v;
	c->loaded = true;
	c->null_count = false;
	c->load_ns = now_ns(p);
	c->frozen = 0;
	if (i == 0)
		update_timer(p);
}

static void write_counter(struct pit *p, unsigned i, uint8_t val)
{
	struct pit_channel *c = &p->ch[i];

	switch (c->rw) {
	case 1:
		load_count(p, i, val);
		break;
	case 2:
		load_count(p, i, (uint16_t)(val << 8));
		break;
	default:
		if (!c->write_hi) {
			c->write_lo = val;
			c->write_hi = true;
		} else {
			c->write_hi = false;
			load_count(p, i, (uint16_t)(c->write_lo | val << 8));
		}
		break;
	}
}

static uint8_t read_counter(struct pit *p, unsigned i)
{
	struct pit_channel *c = &p->ch[i];
	uint16_t v;
	bool hi;

	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	v = c->latched ? c->latch : count_at(c, elapsed(c, now_ns(p)));
	if (c->rw == 3) {
		hi = c->read_hi;
		c->read_hi = !c->read_hi;
	} else {
		hi = c->rw == 2;
	}
	if (c->latched && (c->rw != 3 || hi))
		c->latched = false;
	return hi ? (uint8_t)(v >> 8) : (uint8_t)v;
}

static void set_gate2(struct pit *p, bool gate)
{
	struct pit_channel *c = &p->ch[2];
	uint64_t now = now_ns(p);

	if (gate == c->gate)
		return;
	if (!gate && started(c))
		c->frozen = elapsed(c, now);
	c->gate = gate;
	if (!gate || !c->loaded)
		return;
	if (c->mode == 0 || c->mode == 4) {
		c->load_ns = now - ticks_to_ns(c->frozen); /* resume */
	} else {
		c->triggered = true; /* 1, 5 trigger; 2, 3 reload */
		c->load_ns = now;
	}
}

uint8_t pit_read(struct pit *p, uint16_t port)
{
	uint64_t now;

	if (port >= 0x40 && port <= 0x42)
		return read_counter(p, port - 0x40u);
	if (port == 0x61) {
		now = now_ns(p);
		return (uint8_t)(p->port61 |
				 (out_at(&p->ch[2], elapsed(&p->ch[2], now))
				  << 5) |
				 ((now / REFRESH_NS) & 1) << 4);
	}
	return 0xff; /* the control port is write-only */
}

void pit_write(struct pit *p, uint16_t port, uint8_t val)
{
	if (port >= 0x40 && port <= 0x42) {
		write_counter(p, port - 0x40u, val);
	} else if (port == 0x43) {
		write_control(p, val);
	} else if (port == 0x61) {
		p->port61 = val & 0x0f;
		set_gate2(p, val & 1);
	}
}
