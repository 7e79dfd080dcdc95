/* I/O dispatch: see iobus.h. */
#include "iobus.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

int iobus_register(struct io_bus *b, uint64_t base, uint64_t len,
		   io_handler fn, void *opaque, const char *name)
{
	int i;

	if (b->n == IOBUS_MAX)
		return -ENOSPC;
	for (i = 0; i < b->n; i++)
		if (base < b->r[i].base + b->r[i].len &&
		    b->r[i].base < base + len)
			return -EEXIST;
	/* Keep the table sorted by base for iobus_find(). */
	for (i = b->n; i > 0 && b->r[i - 1].base > base; i--)
		b->r[i] = b->r[i - 1];
	b->r[i] = (struct io_range){ base, len, fn, opaque, name };
	b->n++;
	return 0;
}

int iobus_unregister(struct io_bus *b, uint64_t base, io_handler fn)
{
	for (int i = 0; i < b->n; i++) {
		if (b->r[i].base == base && b->r[i].fn == fn) {
			memmove(&b->r[i], &b->r[i + 1],
				(size_t)(b->n - i - 1) * sizeof(b->r[0]));
			b->n--;
			return 0;
		}
	}
	return -ENOENT;
}

const struct io_range *iobus_find(const struct io_bus *b, uint64_t addr)
{
	int lo = 0, hi = b->n - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		const struct io_range *r = &b->r[mid];

		if (addr < r->base)
			hi = mid - 1;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}
