/* Port-I/O and MMIO dispatch: devices claim address ranges with a
 * callback; engines forward each access they cannot handle themselves. */
#ifndef RAX_IOBUS_H
#define RAX_IOBUS_H

#include <stdbool.h>
#include <stdint.h>

/* A device's access handler.  `off` is the offset from the range base,
 * `data` holds `size` (1, 2, 4 or 8) little-endian bytes: filled by the
 * handler on reads, consumed on writes.  Handlers are called on the vCPU
 * thread; a device touched from other threads locks its own state. */
typedef void (*io_handler)(void *opaque, uint64_t off, bool is_write,
			   void *data, unsigned size);

struct io_range {
	uint64_t base, len;
	io_handler fn;
	void *opaque;
	const char *name;
};

#define IOBUS_MAX 48

struct io_bus {
	struct io_range r[IOBUS_MAX];
	int n;
};

/* Claims [base, base+len).  Returns 0, -EEXIST on overlap with a claimed
 * range, -ENOSPC when the bus is full. */
int iobus_register(struct io_bus *b, uint64_t base, uint64_t len,
		   io_handler fn, void *opaque, const char *name)
	__attribute__((warn_unused_result));

/* Releases the range at `base` claimed with handler fn (PCI BARs move
 * when the guest reprograms them).  Returns 0 or -ENOENT. */
int iobus_unregister(struct io_bus *b, uint64_t base, io_handler fn);

/* The range claiming addr, or NULL. */
const struct io_range *iobus_find(const struct io_bus *b, uint64_t addr);

#endif
