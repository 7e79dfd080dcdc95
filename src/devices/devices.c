/* The board: one explicit table of devices, initialised in order and
 * torn down in reverse (STYLE.md habit 1).  See devices.h. */
#include "devices/devices.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "devices/dev.h"
#include "log.h"
#include "machine.h"

struct dev_desc {
	const char *name;
	int (*init)(struct machine *m, void **state, struct rax_err *e);
	void (*exit)(struct machine *m, void *state);
	size_t (*snap)(void *state, void *blob, enum dev_snap_op op);
};

static const struct dev_desc dev_table[] = {
#define DEV_ENTRY(n) { #n, dev_##n##_init, dev_##n##_exit, dev_##n##_snap },
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

/* --- the history's hooks (devices.h) -------------------------------------- */

size_t dev_snap_copy(void *state, size_t size, size_t lock_off, void *blob,
		     enum dev_snap_op op)
{
	pthread_mutex_t *lock = NULL;
	uint8_t keep[sizeof(pthread_mutex_t)];

	if (op == DEV_SNAP_SIZE || !state)
		return state ? size : 0;
	if (lock_off != DEV_NO_LOCK) {
		lock = (pthread_mutex_t *)((uint8_t *)state + lock_off);
		pthread_mutex_lock(lock);
	}
	if (op == DEV_SNAP_SAVE) {
		memcpy(blob, state, size);
	} else {
		if (lock)
			memcpy(keep, lock, sizeof(keep));
		memcpy(state, blob, size);
		if (lock)
			memcpy(lock, keep, sizeof(keep));
	}
	if (lock)
		pthread_mutex_unlock(lock);
	return size;
}

int dev_snap_check(struct machine *m, const char **who)
{
	struct dev_state *ds = m->devs;

	for (unsigned i = 0; ds && i < ds->n; i++) {
		if (dev_table[i].snap(ds->state[i], NULL, DEV_SNAP_SIZE) ==
		    DEV_SNAP_NONE) {
			*who = dev_table[i].name;
			return -ENOTSUP;
		}
	}
	return 0;
}

size_t dev_snap_size(struct machine *m)
{
	struct dev_state *ds = m->devs;
	size_t n = 0;

	for (unsigned i = 0; ds && i < ds->n; i++)
		n += dev_table[i].snap(ds->state[i], NULL, DEV_SNAP_SIZE);
	return n;
}

void dev_snap_save(struct machine *m, void *blob)
{
	struct dev_state *ds = m->devs;
	uint8_t *p = blob;

	for (unsigned i = 0; ds && i < ds->n; i++)
		p += dev_table[i].snap(ds->state[i], p, DEV_SNAP_SAVE);
}

void dev_snap_restore(struct machine *m, const void *blob)
{
	struct dev_state *ds = m->devs;
	uint8_t *p = (uint8_t *)blob;

	for (unsigned i = 0; ds && i < ds->n; i++)
		p += dev_table[i].snap(ds->state[i], p, DEV_SNAP_RESTORE);
}
