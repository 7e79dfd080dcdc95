/* The Bochs/QEMU debug console at port 0xe9: bytes written are gathered
 * into lines and logged as "debugcon: LINE" at info level in the dev
 * category (shown with --log info,dev).  Reading the port returns 0xe9,
 * which is how guests detect it.  Non-printable bytes show as '.', a CR
 * is dropped, and a line longer than the buffer is logged in pieces; a
 * partial line is logged at exit. */
#include "devices/dev.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "log.h"
#include "machine.h"

#define DEBUGCON_PORT 0xe9

struct debugcon {
	char line[200];
	unsigned len;
};

static void debugcon_flush(struct debugcon *s)
{
	s->line[s->len] = '\0';
	rax_log(LOG_INFO, dev, "debugcon: %s", s->line);
	s->len = 0;
}

static void debugcon_putc(struct debugcon *s, uint8_t c)
{
	if (c == '\n') {
		debugcon_flush(s);
		return;
	}
	if (c == '\r')
		return;
	s->line[s->len++] = (c >= 0x20 && c < 0x7f) || c == '\t' ? (char)c : '.';
	if (s->len == sizeof(s->line) - 1)
		debugcon_flush(s);
}

static void debugcon_io(void *opaque, uint64_t off, bool is_write,
			void *data, unsigned size)
{
	struct debugcon *s = opaque;
	uint8_t *p = data;
	unsigned i;

	for (i = 0; i < size; i++) {
		if (is_write)
			debugcon_putc(s, p[i]);
		else
			p[i] = DEBUGCON_PORT;
	}
}

int dev_debugcon_init(struct machine *m, void **state, struct rax_err *e)
{
	struct debugcon *s;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return rax_errf(e, -ENOMEM, "debugcon: out of memory");
	ret = iobus_register(&m->pio, DEBUGCON_PORT, 1, debugcon_io, s,
			     "debugcon");
	if (ret) {
		rax_errf(e, ret, "debugcon: cannot claim port %#x",
			 DEBUGCON_PORT);
		goto out_free;
	}
	*state = s;
	return 0;

out_free:
	free(s);
	return ret;
}

void dev_debugcon_exit(struct machine *m, void *state)
{
	struct debugcon *s = state;

	if (s->len)
		debugcon_flush(s);
	free(s);
}

/* The history's hook (dev.h). */
DEV_SNAP_PLAIN(debugcon, struct debugcon)
