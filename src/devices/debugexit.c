/* isa-debug-exit (QEMU's convention, "-device isa-debug-exit,
 * iobase=0xf4,iosize=4"): writing v to port 0xf4 ends rax with status
 * (v << 1) | 1, so a test guest reports pass or fail as an exit status
 * that cannot be confused with 0.  Accesses of 1, 2 or 4 bytes; reads
 * return 0. */
#include "devices/dev.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"

#define DEBUG_EXIT_PORT 0xf4

struct debugexit {
	struct machine *m;
};

static void debugexit_io(void *opaque, uint64_t off, bool is_write,
			 void *data, unsigned size)
{
	struct debugexit *s = opaque;
	uint32_t v = 0;
	char why[64];

	if (!is_write) {
		memset(data, 0, size);
		return;
	}
	memcpy(&v, data, size < 4 ? size : 4);
	snprintf(why, sizeof(why), "guest wrote %#x to isa-debug-exit", v);
	machine_request_exit(s->m, (int)((v << 1) | 1), why);
}

int dev_debugexit_init(struct machine *m, void **state, struct rax_err *e)
{
	struct debugexit *s;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return rax_errf(e, -ENOMEM, "debugexit: out of memory");
	s->m = m;
	ret = iobus_register(&m->pio, DEBUG_EXIT_PORT, 4, debugexit_io, s,
			     "isa-debug-exit");
	if (ret) {
		rax_errf(e, ret, "debugexit: cannot claim port %#x",
			 DEBUG_EXIT_PORT);
		goto out_free;
	}
	*state = s;
	return 0;

out_free:
	free(s);
	return ret;
}

void dev_debugexit_exit(struct machine *m, void *state)
{
	free(state);
}

/* The history's hook (dev.h). */
DEV_SNAP_STATELESS(debugexit)
