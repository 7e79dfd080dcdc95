/* QEMU's firmware configuration device, fw_cfg, on its x86 I/O ports
 * (QEMU docs/specs/fw_cfg.rst, "Guest-side Hardware Interface"): a
 * 16-bit little-endian write to the selector port 0x510 picks an item
 * and resets the data offset; each byte read from the data port 0x511
 * returns the item's next byte, and 0 past its end or for an item that
 * does not exist.  Writes to the data port are ignored (items are
 * read-only here); there is no DMA interface (the ID item's bit 1 is
 * clear), so port 0x514 stays unclaimed.
 *
 * The items are those of the "legacy" selector list in the same
 * document that a test kernel reads (kvm-unit-tests' lib/x86/fwcfg.c:
 * the CPU count and RAM size), with the values QEMU's pc machine gives
 * them: RAM_SIZE is all guest RAM, NB_CPUS the vCPUs present at boot,
 * MAX_CPUS the number of vCPU slots (rax has no CPU hot-plug, so the
 * same).  The file directory is empty.  Multi-byte integers are
 * little-endian, except the file directory's big-endian count. */
#include "devices/dev.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "machine.h"

#define FWCFG_PORT 0x510          /* selector; data at +1 */
#define FWCFG_PORTS 2

/* Selector values (fw_cfg.rst, "Selector Reg. Range Usage"). */
enum {
	FW_CFG_SIGNATURE = 0x00,
	FW_CFG_ID = 0x01,
	FW_CFG_UUID = 0x02,
	FW_CFG_RAM_SIZE = 0x03,
	FW_CFG_NOGRAPHIC = 0x04,
	FW_CFG_NB_CPUS = 0x05,
	FW_CFG_MAX_CPUS = 0x0f,
	FW_CFG_FILE_DIR = 0x19,
};
#define FW_CFG_ID_TRADITIONAL 1u  /* the I/O port interface */
#define FW_CFG_ITEM_MAX 16        /* bytes of the largest item here */

struct fwcfg {
	struct machine *m;
	pthread_mutex_t lock;     /* the vCPUs share the selection */
	uint16_t key;
	uint32_t off;
	uint8_t item[FW_CFG_ITEM_MAX];
	uint32_t len;
};

static uint32_t put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return n;
}

/* The item's bytes, computed when it is selected (the CPU count may
 * change between boots of the machine, never during one). */
static uint32_t fwcfg_item(const struct machine *m, uint16_t key,
			   uint8_t *p)
{
	unsigned cpus = m->ncpus ? m->ncpus : 1;

	switch (key) {
	case FW_CFG_SIGNATURE:
		memcpy(p, "QEMU", 4);
		return 4;
	case FW_CFG_ID:
		return put_le(p, FW_CFG_ID_TRADITIONAL, 4);
	case FW_CFG_UUID:
		memset(p, 0, 16);
		return 16;
	case FW_CFG_RAM_SIZE:
		return put_le(p, m->mem.size, 8);
	case FW_CFG_NOGRAPHIC:
		return put_le(p, 1, 2);
	case FW_CFG_NB_CPUS:
	case FW_CFG_MAX_CPUS:
		return put_le(p, cpus, 2);
	case FW_CFG_FILE_DIR:
		memset(p, 0, 4); /* no files: a big-endian count of 0 */
		return 4;
	default:
		return 0;
	}
}

static void fwcfg_io(void *opaque, uint64_t off, bool is_write, void *data,
		     unsigned size)
{
	struct fwcfg *s = opaque;
	uint8_t *d = data;
	uint16_t key;

	pthread_mutex_lock(&s->lock);
	if (off == 0 && is_write && size >= 2) {
		memcpy(&key, data, 2);
		s->key = key;
		s->off = 0;
		s->len = fwcfg_item(s->m, key, s->item);
		rax_log(LOG_DEBUG, dev, "fw_cfg: item %#x (%u bytes)", key,
			s->len);
	} else if (off == 1 && !is_write) {
		for (unsigned i = 0; i < size; i++, s->off++)
			d[i] = s->off < s->len ? s->item[s->off] : 0;
	} else if (!is_write) {
		memset(data, 0, size);
	}
	pthread_mutex_unlock(&s->lock);
}

int dev_fwcfg_init(struct machine *m, void **state, struct rax_err *e)
{
	struct fwcfg *s;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return rax_errf(e, -ENOMEM, "fw_cfg: out of memory");
	s->m = m;
	pthread_mutex_init(&s->lock, NULL);
	ret = iobus_register(&m->pio, FWCFG_PORT, FWCFG_PORTS, fwcfg_io, s,
			     "fw_cfg");
	if (ret) {
		rax_errf(e, ret, "fw_cfg: cannot claim ports %#x-%#x",
			 FWCFG_PORT, FWCFG_PORT + FWCFG_PORTS - 1);
		goto out_free;
	}
	*state = s;
	return 0;

out_free:
	pthread_mutex_destroy(&s->lock);
	free(s);
	return ret;
}

void dev_fwcfg_exit(struct machine *m, void *state)
{
	struct fwcfg *s = state;

	(void)m;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* The history's hook (dev.h). */
DEV_SNAP_LOCKED(fwcfg, struct fwcfg, lock)
