/* System control port A at 0x92 ("fast A20"; IBM PS/2 Hardware Interface
 * Technical Reference, "System Control Port A"): bit 1 gates A20, bit 0
 * written as 1 resets the CPU ("alternate hot reset").  A reset ends rax
 * with status 0.  A20 is always on in rax (the engines do not wrap at
 * 1 MiB), so bit 1 is only stored. */
#include "devices/dev.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "log.h"
#include "machine.h"

#define PORT92 0x92
#define P92_RESET 0x01
#define P92_A20 0x02

struct port92 {
	struct machine *m;
	uint8_t val;
};

static void port92_io(void *opaque, uint64_t off, bool is_write,
		      void *data, unsigned size)
{
	struct port92 *s = opaque;
	uint8_t *p = data;
	unsigned i;

	if (!is_write) {
		p[0] = s->val;
		for (i = 1; i < size; i++)
			p[i] = 0xff;
		return;
	}
	s->val = p[0] & ~P92_RESET;
	if (p[0] & P92_RESET) {
		rax_log(LOG_INFO, dev, "port92: guest wrote %#x", p[0]);
		machine_request_exit(s->m, RAX_EXIT_OK,
				     "guest requested reset");
	}
}

int dev_port92_init(struct machine *m, void **state, struct rax_err *e)
{
	struct port92 *s;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return rax_errf(e, -ENOMEM, "port92: out of memory");
	s->m = m;
	s->val = P92_A20;
	ret = iobus_register(&m->pio, PORT92, 1, port92_io, s, "port92");
	if (ret) {
		rax_errf(e, ret, "port92: cannot claim port %#x", PORT92);
		goto out_free;
	}
	*state = s;
	return 0;

out_free:
	free(s);
	return ret;
}

void dev_port92_exit(struct machine *m, void *state)
{
	free(state);
}

/* The history's hook (dev.h). */
DEV_SNAP_PLAIN(port92, struct port92)
