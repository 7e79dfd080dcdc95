/* virtio-rng (virtio 1.2 §5.4 "Entropy Device"): one request queue
 * whose device-writable buffers are filled from the host's getrandom(2),
 * before the notification returns.  No features, no configuration.
 *
 * The bytes are host input: they steer the guest (its random pool,
 * userspace address randomisation).  That is why --rng is off unless
 * asked for: a fixed --rtc-base boot on the interpreter repeats to the
 * instruction without it.  Under the history (src/history), whose
 * replays must give the guest the same bytes again, the device draws
 * them instead from a ChaCha20 keystream (RFC 8439 §2.3, §2.4) keyed
 * from getrandom(2) when the first snapshot is taken: its key and
 * position are device state, saved with every snapshot, so a replay
 * from one repeats what the guest read. */
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

/* The history's generator: plain data, saved as the device's state. */
struct rng_stream {
	bool on;
	uint32_t key[8];
	uint64_t block;           /* the next block's counter */
	uint8_t ks[64];           /* the current block's keystream */
	unsigned used;            /* bytes of ks given */
};

struct rng {
	struct virtio_dev dev;
	struct vq_chain chain;
	uint64_t bytes;           /* given to the guest (--log dev) */
	struct rng_stream st;
};

static uint32_t rotl(uint32_t v, unsigned n)
{
	return (v << n) | (v >> (32 - n));
}

#define QR(x, a, b, c, d)                                              \
	do {                                                           \
		x[a] += x[b]; x[d] = rotl(x[d] ^ x[a], 16);            \
		x[c] += x[d]; x[b] = rotl(x[b] ^ x[c], 12);            \
		x[a] += x[b]; x[d] = rotl(x[d] ^ x[a], 8);             \
		x[c] += x[d]; x[b] = rotl(x[b] ^ x[c], 7);             \
	} while (0)

/* The ChaCha20 block function (RFC 8439 §2.3): "expand 32-byte k", the
 * key, a 64-bit block counter and a zero nonce; 20 rounds. */
static void chacha_block(struct rng_stream *s)
{
	uint32_t in[16] = { 0x61707865, 0x3320646e, 0x79622d32, 0x6b206574 };
	uint32_t x[16];

	memcpy(&in[4], s->key, sizeof(s->key));
	in[12] = (uint32_t)s->block;
	in[13] = (uint32_t)(s->block >> 32);
	memcpy(x, in, sizeof(x));
	for (int i = 0; i < 10; i++) {
		QR(x, 0, 4, 8, 12); QR(x, 1, 5, 9, 13);
		QR(x, 2, 6, 10, 14); QR(x, 3, 7, 11, 15);
		QR(x, 0, 5, 10, 15); QR(x, 1, 6, 11, 12);
		QR(x, 2, 7, 8, 13); QR(x, 3, 4, 9, 14);
	}
	for (int i = 0; i < 16; i++) {
		uint32_t v = x[i] + in[i];

		s->ks[4 * i] = (uint8_t)v;
		s->ks[4 * i + 1] = (uint8_t)(v >> 8);
		s->ks[4 * i + 2] = (uint8_t)(v >> 16);
		s->ks[4 * i + 3] = (uint8_t)(v >> 24);
	}
	s->block++;
	s->used = 0;
}

static void stream_fill(struct rng_stream *s, uint8_t *buf, size_t len)
{
	while (len) {
		size_t n;

		if (s->used == sizeof(s->ks))
			chacha_block(s);
		n = sizeof(s->ks) - s->used;
		if (n > len)
			n = len;
		memcpy(buf, s->ks + s->used, n);
		s->used += (unsigned)n;
		buf += n;
		len -= n;
	}
}

/* Host entropy into buf: the one place it enters the guest (directly,
 * or as the key of the history's stream).  Returns the bytes filled. */
static size_t host_fill(uint8_t *buf, size_t len)
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

static size_t rng_fill(struct rng *r, uint8_t *buf, size_t len)
{
	if (!r->st.on)
		return host_fill(buf, len);
	stream_fill(&r->st, buf, len);
	return len;
}

static uint32_t request(struct rng *r)
{
	struct vq_chain *c = &r->chain;
	uint32_t given = 0;

	for (unsigned i = c->nout; i < c->nout + c->nin; i++) {
		size_t want = c->buf[i].len, got;

		if (want > RNG_MAX_CHAIN - given)
			want = RNG_MAX_CHAIN - given;
		got = rng_fill(r, c->buf[i].p, want);
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

/* The history's hook (dev.h): the transport and the stream, which the
 * first save starts (keyed from the host) so that replays repeat it. */
size_t dev_virtio_rng_snap(void *state, void *blob, enum dev_snap_op op)
{
	struct rng *r = state;

	if (!r)
		return 0;
	if (op == DEV_SNAP_SAVE && !r->st.on) {
		pthread_mutex_lock(&r->dev.lock);
		if (host_fill((uint8_t *)r->st.key, sizeof(r->st.key)) !=
		    sizeof(r->st.key))
			rax_log(LOG_WARN, dev, "virtio-rng: the stream's key "
				"is short of host entropy");
		r->st.block = 0;
		r->st.used = sizeof(r->st.ks);
		r->st.on = true;
		pthread_mutex_unlock(&r->dev.lock);
	}
	return virtio_dev_snap(&r->dev, blob, op, &r->st, sizeof(r->st));
}
