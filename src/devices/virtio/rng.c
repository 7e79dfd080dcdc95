/* virtio-rng (virtio 1.2 §5.4 "Entropy Device"): one request queue
 * whose device-writable buffers are filled from the host's getrandom(2),
 * before the notification returns.  No features, no configuration.
 *
 * The bytes are host input: a replay log (DEVELOPERS.md "virtio") has
 * to record what rng_fill() returns, since they steer the guest (its
 * random pool, userspace address randomisation).  That is why --rng is
 * off unless asked for: a fixed --rtc-base boot on the interpreter
 * repeats to the instruction without it. */
#include "devices/virtio/transport.h"
#include "devices/virtio/virtio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "devices/dev.h"
#include "log.h"
#include "machine.h"

#define VIRTIO_ID_ENTROPY 4
#define PCI_CLASS_OTHER 0xff0000 /* what QEMU's virtio-rng shows */
#define RNG_MAX_CHAIN 4096       /* bytes given per request at most */

struct rng {
	struct virtio_dev dev;
	struct vq_chain chain;
	uint64_t bytes;           /* given to the guest (--log dev) */
};

/* Host entropy into buf: the one place it enters the guest.  Returns
 * the bytes filled. */
static size_t rng_fill(uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = getrandom(buf + done, len - done, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rax_log(LOG_WARN, dev, "virtio-rng: getrandom: %s",
				r < 0 ? strerror(errno) : "no bytes");
			break;
		}
		done += (size_t)r;
	}
	return done;
}

static uint32_t request(struct rng *r)
{
	struct vq_chain *c = &r->chain;
	uint32_t given = 0;

	for (unsigned i = c->nout; i < c->nout + c->nin; i++) {
		size_t want = c->buf[i].len, got;

		if (want > RNG_MAX_CHAIN - given)
			want = RNG_MAX_CHAIN - given;
		got = rng_fill(c->buf[i].p, want);
		given += (uint32_t)got;
		if (got < want || given == RNG_MAX_CHAIN)
			break;
	}
	r->bytes += given;
	return given;
}

static void rng_notify(struct virtio_dev *d, unsigned qi)
{
	struct rng *r = d->priv;
	struct vq *q = &d->vq[qi];
	int ret;

	do {
		while ((ret = vq_pop(d->m, q, &r->chain)) == 1)
			vq_push(d->m, q, &r->chain, request(r));
		if (ret < 0) {
			virtio_dev_broken(d);
			return;
		}
	} while (vq_more(q));
	virtio_queue_interrupt(d, qi);
}

static const struct virtio_dev_ops rng_ops = {
	.name = "virtio-rng",
	.id = VIRTIO_ID_ENTROPY,
	.pci_class = PCI_CLASS_OTHER,
	.nqueues = 1,
	.notify = rng_notify,
};

int dev_virtio_rng_init(struct machine *m, void **state, struct rax_err *e)
{
	const struct virtio_host *h = m->virtio;
	struct rng *r;
	int ret;

	*state = NULL;
	if (!h || !h->rng)
		return 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		return rax_errf(e, -ENOMEM, "virtio-rng: out of memory");
	ret = virtio_dev_init(m, &r->dev, &rng_ops, r, NULL, 0, e);
	if (ret) {
		free(r);
		return ret;
	}
	*state = r;
	return 0;
}

void dev_virtio_rng_exit(struct machine *m, void *state)
{
	struct rng *r = state;

	if (!r)
		return;
	rax_log(LOG_DEBUG, dev, "virtio-rng: %llu bytes given",
		(unsigned long long)r->bytes);
	virtio_dev_exit(&r->dev);
	free(r);
}

/* The history's hook (dev.h): not yet.  Saving needs the queues' ring
 * positions and re-derived host pointers (vq_enable()), and restoring a
 * disk needs its writes undone; the history refuses the device. */
size_t dev_virtio_rng_snap(void *state, void *blob, enum dev_snap_op op)
{
	(void)blob;
	(void)op;
	return state ? DEV_SNAP_NONE : 0;
}
