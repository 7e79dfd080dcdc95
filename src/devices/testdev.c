/* QEMU's pc-testdev (hw/misc/pc-testdev.c, "-device pc-testdev"), the
 * ISA test device kvm-unit-tests' x86 tests drive, as QEMU documents and
 * implements it:
 *
 *   ports 0xe0-0xe3   a 32-bit scratch register, read and written in
 *                     naturally aligned bytes, words or the whole (QEMU
 *                     drops unaligned accesses: reads give all ones here)
 *   ports 0xe4-0xe7   a 32-bit write of a guest-physical address "flushes"
 *                     its page: the host mapping goes PROT_NONE and back,
 *                     so KVM drops its mapping of the page (the MMU
 *                     notifier) and the guest's next access faults into
 *                     KVM again; the guest sees the same memory
 *   ports 0x2000-0x2017  a byte written to 0x2000 + n sets interrupt line
 *                     n (GSI n: ISA IRQ n, IOAPIC pin n) to (value != 0)
 *   MMIO 0xff000000-0xff00ffff  64 KiB of device memory, read and written
 *                     at any width
 *
 * QEMU also aliases the scratch register, byte by byte, at 0xe8-0xeb;
 * rax's debug console (debugcon.c) holds 0xe9, and kvm-unit-tests uses
 * only 0xe0, so that alias is left out.
 *
 * While the page of a flush is PROT_NONE, anything else touching it (an
 * other vCPU, a device thread) faults; QEMU takes the same window.  The
 * interpreter keeps no mapping of its own that a flush must drop. */
#include "devices/dev.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "machine.h"

#define TESTDEV_PORT 0xe0     /* scratch, then flush at +4 */
#define TESTDEV_PORTS 8
#define TESTDEV_FLUSH 4
#define TESTDEV_IRQ_PORT 0x2000
#define TESTDEV_IRQS 24
#define TESTDEV_IOMEM 0xff000000ull
#define TESTDEV_IOMEM_LEN 0x10000u
#define PAGE 4096ull

struct testdev {
	struct machine *m;
	pthread_mutex_t lock;   /* vCPUs may share the device */
	uint32_t scratch;
	uint8_t iomem[TESTDEV_IOMEM_LEN];
};

/* Byte lanes off .. off + size - 1 of the scratch register; off is a
 * multiple of size, so they lie within the register. */
static void scratch_io(struct testdev *s, unsigned off, bool is_write,
		       uint8_t *d, unsigned size)
{
	for (unsigned i = 0; i < size; i++) {
		unsigned shift = 8 * (off + i);

		if (is_write)
			s->scratch = (s->scratch & ~(0xffu << shift)) |
				     (uint32_t)d[i] << shift;
		else
			d[i] = (uint8_t)(s->scratch >> shift);
	}
}

static void flush_page(struct testdev *s, uint32_t gpa)
{
	void *p = gm_ptr(&s->m->mem, gpa & ~(PAGE - 1), PAGE);

	if (!p) {
		rax_log(LOG_DEBUG, dev, "testdev: flush of %#x: not RAM", gpa);
		return;
	}
	if (mprotect(p, PAGE, PROT_NONE) ||
	    mprotect(p, PAGE, PROT_READ | PROT_WRITE))
		rax_log(LOG_WARN, dev, "testdev: flush of %#x: mprotect: %s",
			gpa, strerror(errno));
}

static void testdev_port_io(void *opaque, uint64_t off, bool is_write,
			    void *data, unsigned size)
{
	struct testdev *s = opaque;
	uint32_t v = 0;

	if (off >= TESTDEV_FLUSH) {
		if (!is_write) {
			memset(data, 0xff, size); /* write-only in QEMU */
			return;
		}
		if (off == TESTDEV_FLUSH && size == 4) {
			memcpy(&v, data, 4);
			flush_page(s, v);
		}
		return;
	}
	if (off % size || size > 4) {
		if (!is_write)
			memset(data, 0xff, size);
		return;
	}
	pthread_mutex_lock(&s->lock);
	scratch_io(s, (unsigned)off, is_write, data, size);
	pthread_mutex_unlock(&s->lock);
}

static void testdev_irq_io(void *opaque, uint64_t off, bool is_write,
			   void *data, unsigned size)
{
	struct testdev *s = opaque;
	const uint8_t *d = data;

	if (!is_write) {
		memset(data, 0xff, size); /* write-only in QEMU */
		return;
	}
	if (size == 1) /* QEMU accepts byte writes only */
		machine_set_irq(s->m, (unsigned)off, d[0] != 0);
}

static void testdev_iomem_io(void *opaque, uint64_t off, bool is_write,
			     void *data, unsigned size)
{
	struct testdev *s = opaque;
	unsigned n = off + size > TESTDEV_IOMEM_LEN ?
		     TESTDEV_IOMEM_LEN - (unsigned)off : size;

	pthread_mutex_lock(&s->lock);
	if (is_write) {
		memcpy(s->iomem + off, data, n);
	} else {
		memset(data, 0, size);
		memcpy(data, s->iomem + off, n);
	}
	pthread_mutex_unlock(&s->lock);
}

int dev_testdev_init(struct machine *m, void **state, struct rax_err *e)
{
	struct testdev *s;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return rax_errf(e, -ENOMEM, "testdev: out of memory");
	s->m = m;
	pthread_mutex_init(&s->lock, NULL);
	ret = iobus_register(&m->pio, TESTDEV_PORT, TESTDEV_PORTS,
			     testdev_port_io, s, "pc-testdev");
	if (!ret)
		ret = iobus_register(&m->pio, TESTDEV_IRQ_PORT, TESTDEV_IRQS,
				     testdev_irq_io, s, "pc-testdev-irq");
	if (!ret)
		ret = iobus_register(&m->mmio, TESTDEV_IOMEM,
				     TESTDEV_IOMEM_LEN, testdev_iomem_io, s,
				     "pc-testdev-iomem");
	if (ret) {
		rax_errf(e, ret, "testdev: cannot claim its ports and memory");
		goto out_free;
	}
	*state = s;
	return 0;

out_free:
	pthread_mutex_destroy(&s->lock);
	free(s);
	return ret;
}

void dev_testdev_exit(struct machine *m, void *state)
{
	struct testdev *s = state;

	(void)m;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* The history's hook (dev.h). */
DEV_SNAP_LOCKED(testdev, struct testdev, lock)
