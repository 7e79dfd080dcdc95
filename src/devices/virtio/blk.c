/* virtio-blk (virtio 1.2 §5.2 "Block Device"): one request queue over a
 * raw image opened by virtio_host_open() (host.c).  Requests complete
 * before the notification that carried them returns (on the vCPU
 * thread on the interpreter, on the device's worker with KVM), data
 * moving between the image and guest RAM with preadv/pwritev.
 *
 * Offered: VIRTIO_BLK_F_SEG_MAX, _BLK_SIZE (512), _FLUSH (a flush is
 * fdatasync(2) of the image) and, for ",ro" images, _RO; a write to a
 * read-only image still fails with VIRTIO_BLK_S_IOERR.  Requests:
 * IN, OUT, FLUSH, GET_ID (§5.2.6); others answer VIRTIO_BLK_S_UNSUPP.
 * A request that runs past the end of the image, or whose data is not
 * whole sectors, answers VIRTIO_BLK_S_IOERR.
 *
 * Under the history (src/history) the image is copy-on-write: a reverse
 * seek must give the guest the disk as it was then, and a replay must
 * not write it a second time, so the guest's writes go to an overlay in
 * memory, kept in the order they came, and the image file is never
 * written (as QEMU's -snapshot; the writes are gone when rax exits).
 * How many of the overlay's writes are in effect is device state, saved
 * with each snapshot; a replay re-doing write k finds it there (the same
 * sectors and bytes) and only counts it, a different write k (a new
 * future, after gdb changed the past) drops k and those after it. */
#include "devices/virtio/transport.h"
#include "devices/virtio/virtio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devices/dev.h"
#include "log.h"
#include "machine.h"

#define VIRTIO_ID_BLOCK 2
#define PCI_CLASS_STORAGE_SCSI 0x010000 /* what QEMU's virtio-blk shows */
#define SECTOR 512u

/* Feature bits (§5.2.3). */
#define BLK_F_SEG_MAX 2
#define BLK_F_RO 5
#define BLK_F_BLK_SIZE 6
#define BLK_F_FLUSH 9

/* Request types and status (§5.2.6). */
#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define BLK_T_GET_ID 8
#define BLK_S_OK 0
#define BLK_S_IOERR 1
#define BLK_S_UNSUPP 2
#define BLK_ID_BYTES 20

/* The configuration layout (§5.2.4), up to blk_size. */
struct blk_config {
	uint64_t capacity;      /* in 512-byte sectors */
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads, sectors;
	uint32_t blk_size;
} __attribute__((packed));
_Static_assert(sizeof(struct blk_config) == 24, "virtio_blk_config to "
	       "blk_size (§5.2.4)");

/* A write the guest made under the history. */
struct blk_wr {
	uint64_t sector;
	uint64_t len;             /* bytes: whole sectors */
	uint8_t *data;
};

/* The overlay: plain data but for the records, which outlive restores. */
struct blk_cow {
	bool on;
	size_t applied;           /* writes in effect */
};

struct blk {
	struct virtio_dev dev;
	struct blk_cow cow;       /* saved with the snapshots */
	struct blk_wr *wr;        /* every write kept, in order */
	size_t nwr, capwr;
	const struct virtio_disk *disk;
	struct blk_config cfg;
	char id[BLK_ID_BYTES];
	struct vq_chain chain;    /* the request being served */
	struct iovec iov[VQ_MAX_SEGS];
	uint64_t reads, writes, flushes; /* requests served (--log dev) */
};

/* The chain's data buffers: [skip, skip + len) of its readable (out)
 * or writable side, as an iovec. */
static int data_iov(struct blk *b, bool out, uint64_t skip, uint64_t len)
{
	const struct vq_chain *c = &b->chain;
	unsigned i = out ? 0 : c->nout, end = out ? c->nout : c->nout + c->nin;
	int n = 0;

	for (; i < end && len; i++) {
		uint64_t bl = c->buf[i].len, take;

		if (skip >= bl) {
			skip -= bl;
			continue;
		}
		take = bl - skip < len ? bl - skip : len;
		b->iov[n].iov_base = c->buf[i].p + skip;
		b->iov[n].iov_len = take;
		n++;
		len -= take;
		skip = 0;
	}
	return n;
}

/* preadv/pwritev of the whole iovec at off, resuming after short
 * transfers.  Returns 0 or -errno. */
static int transfer(struct blk *b, int n, uint64_t off, bool write)
{
	struct iovec *iov = b->iov;

	while (n > 0) {
		ssize_t r = write ? pwritev(b->disk->fd, iov, n, (off_t)off)
				  : preadv(b->disk->fd, iov, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		off += (uint64_t)r;
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

static void cow_drop_from(struct blk *b, size_t k)
{
	while (b->nwr > k)
		free(b->wr[--b->nwr].data);
}

/* An OUT under the history: into the overlay (the chain's data after
 * its 16-byte header).  Returns 0 or -ENOMEM. */
static int cow_write(struct blk *b, uint64_t sector, uint64_t len)
{
	uint8_t *data = malloc(len ? len : 1);
	struct blk_wr *w;

	if (!data)
		return -ENOMEM;
	vq_read(&b->chain, 16, data, len);
	if (b->cow.applied < b->nwr) {
		w = &b->wr[b->cow.applied];
		if (w->sector == sector && w->len == len &&
		    !memcmp(w->data, data, len)) {
			free(data); /* a replay: the same write again */
			b->cow.applied++;
			return 0;
		}
		cow_drop_from(b, b->cow.applied);
	}
	if (b->nwr == b->capwr) {
		size_t cap = b->capwr ? 2 * b->capwr : 64;
		struct blk_wr *nw = realloc(b->wr, cap * sizeof(*nw));

		if (!nw) {
			free(data);
			return -ENOMEM;
		}
		b->wr = nw;
		b->capwr = cap;
	}
	b->wr[b->nwr++] = (struct blk_wr){ sector, len, data };
	b->cow.applied = b->nwr;
	return 0;
}

/* After an IN of len bytes at sector read the image: the overlay's
 * writes in effect over it, oldest first. */
static void cow_read(struct blk *b, uint64_t sector, uint64_t len)
{
	uint64_t lo = sector * SECTOR, hi = lo + len;

	for (size_t k = 0; k < b->cow.applied; k++) {
		const struct blk_wr *w = &b->wr[k];
		uint64_t wlo = w->sector * SECTOR, whi = wlo + w->len;
		uint64_t a = wlo > lo ? wlo : lo, z = whi < hi ? whi : hi;

		if (a < z)
			vq_write(&b->chain, a - lo, w->data + (a - wlo), z - a);
	}
}

/* IN or OUT of len bytes at sector. */
static uint8_t rw(struct blk *b, bool write, uint64_t sector, uint64_t len)
{
	uint64_t size = b->cfg.capacity * SECTOR;
	int n, ret;

	if (write && b->disk->ro)
		return BLK_S_IOERR;
	if (len % SECTOR || sector > size / SECTOR ||
	    len > size - sector * SECTOR)
		return BLK_S_IOERR;
	if (write && b->cow.on) {
		ret = cow_write(b, sector, len);
		if (ret)
			return BLK_S_IOERR;
		b->writes++;
		return BLK_S_OK;
	}
	n = write ? data_iov(b, true, 16, len) : data_iov(b, false, 0, len);
	ret = transfer(b, n, sector * SECTOR, write);
	if (!ret && !write && b->cow.on)
		cow_read(b, sector, len);
	if (ret) {
		rax_log(LOG_WARN, dev, "virtio-blk %s: %s at sector %llu: %s",
			b->disk->path, write ? "write" : "read",
			(unsigned long long)sector, strerror(-ret));
		return BLK_S_IOERR;
	}
	if (write)
		b->writes++;
	else
		b->reads++;
	return BLK_S_OK;
}

/* One request (§5.2.6): a 16-byte header the device reads, data, and
 * a status byte, the last writable one.  Returns the bytes written. */
static uint32_t request(struct blk *b)
{
	struct vq_chain *c = &b->chain;
	struct { uint32_t type, reserved; uint64_t sector; } h;
	uint8_t status = BLK_S_OK;
	uint64_t data_in = 0;

	if (c->in_len < 1)
		return 0; /* no room for a status: nothing to answer */
	if (vq_read(c, 0, &h, sizeof(h)) != sizeof(h)) {
		status = BLK_S_IOERR;
		goto out;
	}
	switch (h.type) {
	case BLK_T_IN:
		data_in = c->in_len - 1;
		status = rw(b, false, h.sector, data_in);
		if (status)
			data_in = 0;
		break;
	case BLK_T_OUT:
		status = rw(b, true, h.sector, c->out_len - sizeof(h));
		break;
	case BLK_T_FLUSH:
		b->flushes++;
		if (!b->disk->ro && !b->cow.on && fdatasync(b->disk->fd))
			status = BLK_S_IOERR;
		break;
	case BLK_T_GET_ID:
		data_in = vq_write(c, 0, b->id, c->in_len - 1 < BLK_ID_BYTES ?
				   c->in_len - 1 : BLK_ID_BYTES);
		break;
	default:
		status = BLK_S_UNSUPP;
	}
out:
	vq_write(c, c->in_len - 1, &status, 1);
	return (uint32_t)(data_in + 1);
}

static void blk_notify(struct virtio_dev *d, unsigned qi)
{
	struct blk *b = d->priv;
	struct vq *q = &d->vq[qi];
	int r;

	do {
		while ((r = vq_pop(d->m, q, &b->chain)) == 1)
			vq_push(d->m, q, &b->chain, request(b));
		if (r < 0) {
			virtio_dev_broken(d);
			return;
		}
	} while (vq_more(q));
	virtio_queue_interrupt(d, qi);
}

static const struct virtio_dev_ops blk_ops = {
	.name = "virtio-blk",
	.id = VIRTIO_ID_BLOCK,
	.pci_class = PCI_CLASS_STORAGE_SCSI,
	.nqueues = 1,
	.features = 1ull << BLK_F_SEG_MAX | 1ull << BLK_F_BLK_SIZE |
		    1ull << BLK_F_FLUSH,
	.notify = blk_notify,
};

static const struct virtio_dev_ops blk_ro_ops = {
	.name = "virtio-blk",
	.id = VIRTIO_ID_BLOCK,
	.pci_class = PCI_CLASS_STORAGE_SCSI,
	.nqueues = 1,
	.features = 1ull << BLK_F_SEG_MAX | 1ull << BLK_F_BLK_SIZE |
		    1ull << BLK_F_FLUSH | 1ull << BLK_F_RO,
	.notify = blk_notify,
};

/* The board's virtio-blk entry: one device per --disk. */
struct blk_set {
	struct blk *b[VIRTIO_MAX_DISKS];
	unsigned n;
};

static void blk_free(struct blk_set *s)
{
	while (s->n--) {
		struct blk *b = s->b[s->n];

		rax_log(LOG_DEBUG, dev, "virtio-blk %s: %llu reads, %llu "
			"writes, %llu flushes", b->disk->path,
			(unsigned long long)b->reads,
			(unsigned long long)b->writes,
			(unsigned long long)b->flushes);
		if (b->nwr)
			rax_log(LOG_INFO, dev, "virtio-blk %s: the guest's %zu "
				"writes under the history were kept in memory, "
				"not written to the image", b->disk->path,
				b->nwr);
		cow_drop_from(b, 0);
		free(b->wr);
		virtio_dev_exit(&b->dev);
		free(b);
	}
	free(s);
}

int dev_virtio_blk_init(struct machine *m, void **state, struct rax_err *e)
{
	const struct virtio_host *h = m->virtio;
	struct blk_set *s;
	int ret;

	*state = NULL;
	if (!h || !h->ndisks)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return rax_errf(e, -ENOMEM, "virtio-blk: out of memory");
	for (unsigned i = 0; i < h->ndisks; i++) {
		struct blk *b = calloc(1, sizeof(*b));
		const char *base;

		if (!b) {
			ret = rax_errf(e, -ENOMEM, "virtio-blk: out of memory");
			goto out_free;
		}
		b->disk = &h->disk[i];
		b->cfg.capacity = b->disk->size / SECTOR;
		b->cfg.seg_max = VQ_MAX_SEGS - 2; /* header and status */
		b->cfg.blk_size = SECTOR;
		/* The serial (GET_ID): the image's name, NUL-padded, not
		 * terminated at 20 bytes (§5.2.6). */
		base = strrchr(b->disk->path, '/');
		base = base ? base + 1 : b->disk->path;
		memcpy(b->id, base, strnlen(base, BLK_ID_BYTES));
		ret = virtio_dev_init(m, &b->dev, b->disk->ro ? &blk_ro_ops :
				      &blk_ops, b, (const uint8_t *)&b->cfg,
				      sizeof(b->cfg), e);
		if (ret) {
			free(b);
			goto out_free;
		}
		s->b[s->n++] = b;
	}
	*state = s;
	return 0;

out_free:
	blk_free(s);
	return ret;
}

void dev_virtio_blk_exit(struct machine *m, void *state)
{
	if (state)
		blk_free(state);
}

/* The history's hook (dev.h): each disk's transport and overlay
 * position; the first save turns the overlays on. */
size_t dev_virtio_blk_snap(void *state, void *blob, enum dev_snap_op op)
{
	struct blk_set *s = state;
	uint8_t *p = blob;
	size_t total = 0;

	if (!s)
		return 0;
	for (unsigned i = 0; i < s->n; i++) {
		struct blk *b = s->b[i];
		size_t n;

		if (op == DEV_SNAP_SAVE && !b->cow.on) {
			pthread_mutex_lock(&b->dev.lock);
			b->cow.on = true;
			pthread_mutex_unlock(&b->dev.lock);
		}
		n = virtio_dev_snap(&b->dev, p ? p + total : NULL, op,
				    &b->cow, sizeof(b->cow));
		if (n == DEV_SNAP_NONE)
			return n;
		total += n;
	}
	return total;
}
