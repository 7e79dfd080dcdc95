/* Port 0x80, the POST code port.  Linux writes to it as an I/O delay
 * (io_delay_type "0x80"), firmware for progress codes; nothing listens.
 * Claimed so these writes are ignored quietly even with --debug-io;
 * reads return 0xff. */
#include "devices/dev.h"

#include <errno.h>
#include <string.h>

#include "machine.h"

#define POST_PORT 0x80

static void post_io(void *opaque, uint64_t off, bool is_write, void *data,
		    unsigned size)
{
	if (!is_write)
		memset(data, 0xff, size);
}

int dev_post_init(struct machine *m, void **state, struct rax_err *e)
{
	int ret;

	ret = iobus_register(&m->pio, POST_PORT, 1, post_io, NULL, "post");
	if (ret)
		return rax_errf(e, ret, "post: cannot claim port %#x",
				POST_PORT);
	*state = NULL;
	return 0;
}

void dev_post_exit(struct machine *m, void *state)
{
}

/* The history's hook (dev.h). */
DEV_SNAP_STATELESS(post)
