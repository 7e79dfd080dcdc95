/* virtio-net (virtio 1.2 §5.1 "Network Device"): a receive and a
 * transmit queue between the guest and the user-mode network of
 * slirp.c.  Offered: VIRTIO_NET_F_MAC (52:54:00:12:34:56) and
 * VIRTIO_NET_F_STATUS (the link is up); no offloads, so every frame
 * carries a zero virtio_net_hdr (§5.1.6) and at most 1514 bytes, and
 * the driver posts single receive buffers of a header and a full frame.
 *
 * Transmit runs when the driver notifies (the vCPU thread on the
 * interpreter, the worker with KVM).  Receive is host input: every
 * frame for the guest enters through vnet_input(), from the network's
 * thread, or from the transmitting thread when the stack answers at
 * once (ARP, DHCP).  Frames that find no receive buffer wait in a small
 * queue, drained when the driver adds buffers; beyond it they are
 * dropped (TCP retransmits).
 *
 * Under the history (src/history; machine.h struct machine_input) the
 * frames are host input it logs: vnet_input() keeps them in an inbox
 * and tells the history, which gives them to the guest (vnet_feed())
 * on the vCPU thread at a logged point, live and in every replay; a
 * frame that finds no receive buffer then is dropped, not queued, so
 * that the device's state stays the transport's.  While replaying,
 * transmitted frames are dropped: they went out when the run was live.
 * The network stack's own state (connections) is the host's and does
 * not travel back.
 *
 * Locks: the network's lock (slirp.c) is taken before d->lock when a
 * frame arrives, so transmit releases d->lock while the stack runs. */
#include "devices/virtio/transport.h"
#include "devices/virtio/virtio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/dev.h"
#include "log.h"
#include "machine.h"

#define VIRTIO_ID_NET 1
#define PCI_CLASS_ETHERNET 0x020000
#define NET_F_MAC 5             /* §5.1.3 */
#define NET_F_STATUS 16
#define NET_S_LINK_UP 1
#define NET_HDR 12              /* virtio_net_hdr with num_buffers */
#define NET_FRAME_MAX 1514      /* MTU 1500 plus the Ethernet header */
#define NET_TX_MAX 65550        /* what a transmit chain may carry */
#define RXQ 0
#define TXQ 1
#define PENDING_MAX 128

/* §5.1.4, up to status. */
struct net_config {
	uint8_t mac[6];
	uint16_t status;
} __attribute__((packed));
_Static_assert(sizeof(struct net_config) == 8, "virtio_net_config to "
	       "status (§5.1.4)");

struct frame {
	size_t len;
	uint8_t data[NET_FRAME_MAX];
};

struct vnet {
	struct virtio_dev dev;
	struct net_user *user;
	struct net_config cfg;
	struct vq_chain chain;
	uint8_t tx[NET_TX_MAX];
	struct frame *pending[PENDING_MAX]; /* FIFO, waiting for buffers */
	unsigned pend_head, pend_n;
	uint64_t rx_frames, tx_frames, dropped;
	/* Under the history: frames arrived, not yet taken (host side, not
	 * device state), and whether transmissions are dropped. */
	pthread_mutex_t inbox_lock;
	struct frame *inbox[PENDING_MAX];
	unsigned in_head, in_n;
	bool muted;
};

/* Puts one frame into the next receive buffer.  Returns false when the
 * ring has none (lock held). */
static bool deliver(struct vnet *n, const uint8_t *frame, size_t len)
{
	struct virtio_dev *d = &n->dev;
	struct vq *q = &d->vq[RXQ];
	/* §5.1.6.4: flags 0, gso_type NONE, num_buffers 1. */
	uint8_t hdr[NET_HDR] = { [10] = 1 };
	int r;

	if (!virtio_queue_ready(d, RXQ))
		return false;
	r = vq_pop(d->m, q, &n->chain);
	/* Out of buffers: ask for a notification when the driver adds
	 * some (EVENT_IDX: avail_event), and look once more. */
	if (r == 0 && vq_more(q))
		r = vq_pop(d->m, q, &n->chain);
	if (r < 0)
		virtio_dev_broken(d);
	if (r <= 0)
		return false;
	if (n->chain.in_len < NET_HDR + len) {
		/* Too small for this frame: give the buffer back empty. */
		vq_push(d->m, q, &n->chain, 0);
		n->dropped++;
		return true;
	}
	vq_write(&n->chain, 0, hdr, NET_HDR);
	vq_write(&n->chain, NET_HDR, frame, len);
	vq_push(d->m, q, &n->chain, (uint32_t)(NET_HDR + len));
	n->rx_frames++;
	return true;
}

/* Delivers waiting frames while buffers last (lock held). */
static void drain(struct vnet *n)
{
	bool any = false;

	while (n->pend_n) {
		struct frame *f = n->pending[n->pend_head];

		if (!deliver(n, f->data, f->len))
			break;
		free(f);
		n->pend_head = (n->pend_head + 1) % PENDING_MAX;
		n->pend_n--;
		any = true;
	}
	if (any)
		virtio_queue_interrupt(&n->dev, RXQ);
}

/* Host network input: the one entry point of frames for the guest. */
static void vnet_input(void *opaque, const uint8_t *frame, size_t len)
{
	struct vnet *n = opaque;
	struct frame *f;

	if (len > NET_FRAME_MAX)
		return;
	if (machine_input_gated(n->dev.m)) {
		pthread_mutex_lock(&n->inbox_lock);
		if (n->in_n < PENDING_MAX && (f = malloc(sizeof(*f)))) {
			f->len = len;
			memcpy(f->data, frame, len);
			n->inbox[(n->in_head + n->in_n) % PENDING_MAX] = f;
			n->in_n++;
		}
		pthread_mutex_unlock(&n->inbox_lock);
		machine_input_arrived(n->dev.m);
		return;
	}
	pthread_mutex_lock(&n->dev.lock);
	drain(n);
	if (!n->pend_n && deliver(n, frame, len)) {
		virtio_queue_interrupt(&n->dev, RXQ);
	} else if (n->pend_n < PENDING_MAX && (f = malloc(sizeof(*f)))) {
		f->len = len;
		memcpy(f->data, frame, len);
		n->pending[(n->pend_head + n->pend_n) % PENDING_MAX] = f;
		n->pend_n++;
	} else {
		n->dropped++;
	}
	pthread_mutex_unlock(&n->dev.lock);
}

/* The history's side (machine.h struct machine_input). */
static size_t vnet_take(void *opaque, uint8_t *buf, size_t cap)
{
	struct vnet *n = opaque;
	struct frame *f = NULL;
	size_t len = 0;

	pthread_mutex_lock(&n->inbox_lock);
	if (n->in_n && n->inbox[n->in_head]->len <= cap) {
		f = n->inbox[n->in_head];
		n->in_head = (n->in_head + 1) % PENDING_MAX;
		n->in_n--;
	}
	pthread_mutex_unlock(&n->inbox_lock);
	if (f) {
		len = f->len;
		memcpy(buf, f->data, len);
		free(f);
	}
	return len;
}

static void vnet_feed(void *opaque, const uint8_t *buf, size_t len)
{
	struct vnet *n = opaque;

	if (len > NET_FRAME_MAX)
		return;
	pthread_mutex_lock(&n->dev.lock);
	if (deliver(n, buf, len))
		virtio_queue_interrupt(&n->dev, RXQ);
	else
		n->dropped++;
	pthread_mutex_unlock(&n->dev.lock);
}

static void vnet_mute(void *opaque, bool on)
{
	struct vnet *n = opaque;

	pthread_mutex_lock(&n->dev.lock);
	n->muted = on;
	pthread_mutex_unlock(&n->dev.lock);
}

/* Transmit: each chain is a header and a frame (§5.1.6.2).  The stack
 * may answer with frames for the guest at once, which takes its lock
 * and then d->lock: drop d->lock around it. */
static void transmit(struct vnet *n)
{
	struct virtio_dev *d = &n->dev;
	struct vq *q = &d->vq[TXQ];
	uint64_t len;
	int r;

	do {
		while ((r = vq_pop(d->m, q, &n->chain)) == 1) {
			len = vq_read(&n->chain, 0, n->tx, sizeof(n->tx));
			vq_push(d->m, q, &n->chain, 0);
			if (len <= NET_HDR || n->chain.out_len > sizeof(n->tx)) {
				n->dropped++;
				continue;
			}
			n->tx_frames++;
			if (n->muted)
				continue;
			pthread_mutex_unlock(&d->lock);
			net_user_send(n->user, n->tx + NET_HDR, len - NET_HDR);
			pthread_mutex_lock(&d->lock);
			if (!virtio_queue_ready(d, TXQ))
				return; /* reset meanwhile */
		}
		if (r < 0) {
			virtio_dev_broken(d);
			return;
		}
	} while (vq_more(q));
	virtio_queue_interrupt(d, TXQ);
}

static void vnet_notify(struct virtio_dev *d, unsigned q)
{
	struct vnet *n = d->priv;

	if (q == RXQ)
		drain(n);
	else
		transmit(n);
}

static void vnet_reset(struct virtio_dev *d)
{
	struct vnet *n = d->priv;

	while (n->pend_n) {
		free(n->pending[n->pend_head]);
		n->pend_head = (n->pend_head + 1) % PENDING_MAX;
		n->pend_n--;
	}
}

static const struct virtio_dev_ops vnet_ops = {
	.name = "virtio-net",
	.id = VIRTIO_ID_NET,
	.pci_class = PCI_CLASS_ETHERNET,
	.nqueues = 2,
	.features = 1ull << NET_F_MAC | 1ull << NET_F_STATUS,
	.notify = vnet_notify,
	.reset = vnet_reset,
};

int dev_virtio_net_init(struct machine *m, void **state, struct rax_err *e)
{
	const struct virtio_host *h = m->virtio;
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	struct vnet *n;
	int ret;

	*state = NULL;
	if (!h || !h->net)
		return 0;
	n = calloc(1, sizeof(*n));
	if (!n)
		return rax_errf(e, -ENOMEM, "virtio-net: out of memory");
	n->user = h->net;
	memcpy(n->cfg.mac, mac, 6);
	n->cfg.status = NET_S_LINK_UP;
	ret = pthread_mutex_init(&n->inbox_lock, NULL);
	if (ret) {
		free(n);
		return rax_errf(e, -ret, "virtio-net: mutex: %s",
				strerror(ret));
	}
	ret = machine_add_input(m, &(struct machine_input){
		"virtio-net", vnet_take, vnet_feed, vnet_mute, n });
	if (ret) {
		rax_errf(e, ret, "virtio-net: no room for its input");
		goto out_mutex;
	}
	ret = virtio_dev_init(m, &n->dev, &vnet_ops, n,
			      (const uint8_t *)&n->cfg, sizeof(n->cfg), e);
	if (ret)
		goto out_input;
	ret = net_user_start(n->user, vnet_input, n);
	if (ret) {
		rax_errf(e, ret, "--net: cannot start the network thread: %s",
			 strerror(-ret));
		virtio_dev_exit(&n->dev);
		goto out_input;
	}
	*state = n;
	return 0;

out_input:
	m->ninputs--; /* ours, the last registered */
out_mutex:
	pthread_mutex_destroy(&n->inbox_lock);
	free(n);
	return ret;
}

void dev_virtio_net_exit(struct machine *m, void *state)
{
	struct vnet *n = state;

	if (!n)
		return;
	net_user_stop(n->user);
	rax_log(LOG_DEBUG, dev, "virtio-net: %llu frames in, %llu out, %llu "
		"dropped", (unsigned long long)n->rx_frames,
		(unsigned long long)n->tx_frames,
		(unsigned long long)n->dropped);
	virtio_dev_exit(&n->dev); /* no thread touches n after this */
	vnet_reset(&n->dev);
	while (n->in_n) {
		free(n->inbox[n->in_head]);
		n->in_head = (n->in_head + 1) % PENDING_MAX;
		n->in_n--;
	}
	pthread_mutex_destroy(&n->inbox_lock);
	free(n);
}

/* Without libslirp (configure did not find it, or rax-static, which
 * cannot link it: Debian ships no static libslirp), slirp.c is not
 * linked and these say so.  slirp.c's definitions replace them. */
__attribute__((weak)) int net_user_open(struct net_user **out,
					const char *spec, struct rax_err *e)
{
	*out = NULL;
	return rax_errf(e, -ENOSYS, "--net %s: this rax was built without "
			"libslirp (install libslirp-dev and rebuild)", spec);
}

__attribute__((weak)) int net_user_start(struct net_user *u,
	void (*rx)(void *opaque, const uint8_t *frame, size_t len),
	void *opaque)
{
	return -ENOSYS;
}

__attribute__((weak)) void net_user_send(struct net_user *u,
					 const uint8_t *frame, size_t len)
{
}

__attribute__((weak)) void net_user_stop(struct net_user *u)
{
}

__attribute__((weak)) void net_user_close(struct net_user *u)
{
}

/* The history's hook (dev.h): the transport; the frames waiting for
 * buffers are none under the history (vnet_feed() drops them). */
size_t dev_virtio_net_snap(void *state, void *blob, enum dev_snap_op op)
{
	struct vnet *n = state;

	return n ? virtio_dev_snap(&n->dev, blob, op, NULL, 0) : 0;
}
