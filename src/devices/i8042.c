/* The i8042 keyboard controller at ports 0x60 (data) and 0x64 (status
 * and command), with no keyboard or mouse attached.  It exists for the
 * controller commands software relies on: self-test, the command byte,
 * and the reset line (Linux "reboot=k" pulses it with command 0xfe).
 *
 * References: IBM PS/2 Hardware Interface Technical Reference, "Keyboard
 * and Auxiliary Device Controller" (status bits, commands 0x20-0xff);
 * the output port's bit 0 drives the CPU reset line and bit 1 the A20
 * gate.  A reset request ends rax with status 0 (rax has no warm reset).
 *
 * Bytes written to port 0x60 outside a command go to the keyboard, which
 * is absent: the controller answers 0xfe with the status timeout bit,
 * as for a device that never clocked the byte in, so Linux's atkbd probe
 * fails at once instead of waiting.  The auxiliary (mouse) port reports
 * a stuck clock line in its interface test (0xa9 -> 0x01) and its loop
 * command (0xd3) returns keyboard data, which Linux's i8042_check_aux()
 * reads as "no AUX port".  IRQ 1 is high while the output buffer is full
 * and the command byte enables it; IRQ 12 is never raised. */
#include "devices/dev.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "log.h"
#include "machine.h"

#define I8042_DATA 0x60
#define I8042_CMD 0x64
#define I8042_IRQ 1

/* Status register. */
#define STS_OBF 0x01     /* output buffer full */
#define STS_IBF 0x02     /* input buffer full: always drained at once */
#define STS_SYS 0x04     /* system flag, from the command byte */
#define STS_CMD 0x08     /* last write was to port 0x64 */
#define STS_UNLOCK 0x10  /* keyboard not inhibited by the keylock */
#define STS_TIMEOUT 0x40

/* Command byte. */
#define CTR_KBDINT 0x01
#define CTR_SYS 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE 0x40

/* Output port. */
#define OUT_RESET 0x01 /* 0 asserts CPU reset */
#define OUT_A20 0x02

struct i8042 {
	struct machine *m;
	uint8_t ctr;     /* command byte */
	uint8_t outport;
	uint8_t out;     /* output buffer */
	bool obf, timeout, last_cmd;
	uint8_t pending; /* command waiting for its data byte, or 0 */
	int irq_level;
};

static void i8042_update_irq(struct i8042 *s)
{
	int level = s->obf && (s->ctr & CTR_KBDINT);

	if (level != s->irq_level) {
		s->irq_level = level;
		machine_set_irq(s->m, I8042_IRQ, level);
	}
}

static void i8042_reply(struct i8042 *s, uint8_t v)
{
	s->out = v;
	s->obf = true;
	s->timeout = false;
}

static void i8042_reset(struct i8042 *s)
{
	rax_log(LOG_INFO, dev, "i8042: guest pulsed the reset line");
	machine_request_exit(s->m, RAX_EXIT_OK, "guest requested reset");
}

static void i8042_command(struct i8042 *s, uint8_t cmd)
{
	switch (cmd) {
	case 0x20: /* read command byte */
		i8042_reply(s, s->ctr);
		break;
	case 0x60: /* write command byte */
	case 0xd1: /* write output port */
	case 0xd2: /* write keyboard output buffer */
	case 0xd3: /* write auxiliary output buffer */
	case 0xd4: /* write to auxiliary device */
		s->pending = cmd;
		break;
	case 0xa7: /* disable auxiliary port */
		s->ctr |= CTR_AUXDIS;
		break;
	case 0xa8:
		s->ctr &= ~CTR_AUXDIS;
		break;
	case 0xa9: /* auxiliary interface test: clock line stuck low */
		i8042_reply(s, 0x01);
		break;
	case 0xaa: /* controller self-test: passed */
		s->ctr |= CTR_SYS;
		i8042_reply(s, 0x55);
		break;
	case 0xab: /* keyboard interface test: no error */
		i8042_reply(s, 0x00);
		break;
	case 0xad: /* disable keyboard */
		s->ctr |= CTR_KBDDIS;
		break;
	case 0xae:
		s->ctr &= ~CTR_KBDDIS;
		break;
	case 0xc0: /* read input port: keylock unlocked */
		i8042_reply(s, 0x80);
		break;
	case 0xd0: /* read output port */
		i8042_reply(s, s->outport);
		break;
	case 0xdd: /* A20 off, on (HP extension) */
		s->outport &= ~OUT_A20;
		break;
	case 0xdf:
		s->outport |= OUT_A20;
		break;
	default:
		/* 0xf0-0xff pulse output port bits 3:0 that are 0 in the
		 * command; bit 0 is the reset line. */
		if (cmd >= 0xf0 && !(cmd & OUT_RESET))
			i8042_reset(s);
		else if (cmd < 0xf0)
			rax_log(LOG_DEBUG, dev, "i8042: command %#x ignored",
				cmd);
		break;
	}
}

static void i8042_data(struct i8042 *s, uint8_t v)
{
	uint8_t cmd = s->pending;

	s->pending = 0;
	switch (cmd) {
	case 0x60:
		s->ctr = v;
		break;
	case 0xd1:
		s->outport = v;
		if (!(v & OUT_RESET))
			i8042_reset(s);
		break;
	case 0xd2:
	case 0xd3: /* no AUX port: comes back as keyboard data */
		i8042_reply(s, v);
		break;
	default: /* to the absent keyboard (or, after 0xd4, mouse) */
		i8042_reply(s, 0xfe);
		s->timeout = true;
		break;
	}
}

static uint8_t i8042_status(const struct i8042 *s)
{
	return (s->obf ? STS_OBF : 0) | (s->ctr & CTR_SYS ? STS_SYS : 0) |
	       (s->last_cmd ? STS_CMD : 0) | STS_UNLOCK |
	       (s->timeout ? STS_TIMEOUT : 0);
}

/* One access; cmd_port: 0x64 rather than 0x60. */
static void i8042_access(struct i8042 *s, bool cmd_port, bool is_write,
			 uint8_t *p, unsigned size)
{
	unsigned i;

	if (is_write) {
		s->last_cmd = cmd_port;
		if (cmd_port)
			i8042_command(s, p[0]);
		else
			i8042_data(s, p[0]);
	} else if (cmd_port) {
		p[0] = i8042_status(s);
	} else {
		p[0] = s->out;
		s->obf = false;
		s->timeout = false;
	}
	for (i = 1; !is_write && i < size; i++)
		p[i] = 0xff;
	i8042_update_irq(s);
}

/* Ports 0x60 and 0x64 are two ranges: 0x61 belongs to the PIT (intc). */
static void i8042_data_io(void *opaque, uint64_t off, bool is_write,
			  void *data, unsigned size)
{
	i8042_access(opaque, false, is_write, data, size);
}

static void i8042_cmd_io(void *opaque, uint64_t off, bool is_write,
			 void *data, unsigned size)
{
	i8042_access(opaque, true, is_write, data, size);
}

int dev_i8042_init(struct machine *m, void **state, struct rax_err *e)
{
	struct i8042 *s;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return rax_errf(e, -ENOMEM, "i8042: out of memory");
	s->m = m;
	/* As firmware leaves it: interrupts on, POST passed, translation,
	 * no mouse; reset line high and A20 on. */
	s->ctr = CTR_KBDINT | CTR_SYS | CTR_AUXDIS | CTR_XLATE;
	s->outport = OUT_RESET | OUT_A20;
	ret = iobus_register(&m->pio, I8042_DATA, 1, i8042_data_io, s,
			     "i8042-data");
	if (!ret)
		ret = iobus_register(&m->pio, I8042_CMD, 1, i8042_cmd_io, s,
				     "i8042-cmd");
	if (ret) {
		rax_errf(e, ret, "i8042: cannot claim ports %#x and %#x",
			 I8042_DATA, I8042_CMD);
		goto out_free;
	}
	*state = s;
	return 0;

out_free:
	free(s);
	return ret;
}

void dev_i8042_exit(struct machine *m, void *state)
{
	free(state);
}

/* The history's hook (dev.h). */
DEV_SNAP_PLAIN(i8042, struct i8042)
