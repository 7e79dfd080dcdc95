/* The board: one explicit table of devices, initialised in order and
 * torn down in reverse (STYLE.md habit 1).  See devices.h. */
#include "devices/devices.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/dev.h"
#include "log.h"
#include "machine.h"

struct dev_desc {
	const char *name;
	int (*init)(struct machine *m, void **state, struct rax_err *e);
	void (*exit)(struct machine *m, void *state);
};

static const struct dev_desc dev_table[] = {
#define DEV_ENTRY(n) { #n, dev_##n##_init, dev_##n##_exit },
	DEV_LIST(DEV_ENTRY)
#undef DEV_ENTRY
};

#define DEV_COUNT (sizeof(dev_table) / sizeof(dev_table[0]))

struct dev_state {
	void *state[DEV_COUNT];
	unsigned n; /* entries of dev_table initialised so far */
};

int dev_init_all(struct machine *m, struct rax_err *e)
{
	struct dev_state *ds;
	int ret;

	ds = calloc(1, sizeof(*ds));
	if (!ds)
		return rax_errf(e, -ENOMEM, "devices: out of memory");
	m->devs = ds;
	for (ds->n = 0; ds->n < DEV_COUNT; ds->n++) {
		ret = dev_table[ds->n].init(m, &ds->state[ds->n], e);
		if (ret)
			goto out_unwind;
		rax_log(LOG_DEBUG, dev, "%s ready", dev_table[ds->n].name);
	}
	return 0;

out_unwind:
	while (ds->n--)
		dev_table[ds->n].exit(m, ds->state[ds->n]);
	free(ds);
	m->devs = NULL;
	return ret;
}

void *dev_find(struct machine *m, const char *name)
{
	struct dev_state *ds = m->devs;
	unsigned i;

	for (i = 0; ds && i < ds->n; i++)
		if (!strcmp(dev_table[i].name, name))
			return ds->state[i];
	return NULL;
}

void dev_exit_all(struct machine *m)
{
	struct dev_state *ds = m->devs;

	if (!ds)
		return;
	while (ds->n--)
		dev_table[ds->n].exit(m, ds->state[ds->n]);
	free(ds);
	m->devs = NULL;
}
