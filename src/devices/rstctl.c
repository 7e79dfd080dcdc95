/* The reset control register at port 0xcf9 (Intel ICH/PCH, e.g. the
 * "Intel I/O Controller Hub 9 Family Datasheet" §13.7.5 RST_CNT): bit 1
 * SYS_RST selects a hard reset, bit 2 RST_CPU starts the reset when it
 * goes from 0 to 1, bit 3 FULL_RST.  Linux "reboot=p" writes 0x02 then
 * 0x06.  A reset ends rax with status 0 (rax has no warm reset).  Byte
 * accesses only; the dword at 0xcf8 is PCI's CONFIG_ADDRESS (pci.c). */
#include "devices/dev.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "log.h"
#include "machine.h"

#define RST_CNT_PORT 0xcf9
#define RST_SYS 0x02
#define RST_CPU 0x04
#define RST_FULL 0x08

struct rstctl {
	struct machine *m;
	uint8_t val;
};

static void rstctl_io(void *opaque, uint64_t off, bool is_write,
		      void *data, unsigned size)
{
	struct rstctl *s = opaque;
	uint8_t *p = data, v = p[0] & (RST_SYS | RST_CPU | RST_FULL);
	unsigned i;

	if (!is_write) {
		p[0] = s->val;
		for (i = 1; i < size; i++)
			p[i] = 0xff;
		return;
	}
	if ((v & RST_CPU) && !(s->val & RST_CPU)) {
		rax_log(LOG_INFO, dev, "rstctl: guest wrote %#x to 0xcf9",
			p[0]);
		machine_request_exit(s->m, RAX_EXIT_OK,
				     "guest requested reset");
	}
	s->val = v & ~RST_CPU; /* RST_CPU is self-clearing */
}

int dev_rstctl_init(struct machine *m, void **state, struct rax_err *e)
{
	struct rstctl *s;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return rax_errf(e, -ENOMEM, "rstctl: out of memory");
	s->m = m;
	ret = iobus_register(&m->pio, RST_CNT_PORT, 1, rstctl_io, s, "rstctl");
	if (ret) {
		rax_errf(e, ret, "rstctl: cannot claim port %#x", RST_CNT_PORT);
		goto out_free;
	}
	*state = s;
	return 0;

out_free:
	free(s);
	return ret;
}

void dev_rstctl_exit(struct machine *m, void *state)
{
	free(state);
}

/* The history's hook (dev.h). */
DEV_SNAP_PLAIN(rstctl, struct rstctl)
