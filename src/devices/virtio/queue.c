/* Split virtqueues: see queue.h.  References are to the virtio 1.2
 * specification, §2.7 "Split Virtqueues". */
#include "devices/virtio/queue.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "machine.h"

/* Ring layouts (§2.7.5, §2.7.6, §2.7.8), little-endian like the host. */
#define DESC_SIZE 16
#define AVAIL_IDX 2
#define AVAIL_RING 4
#define USED_IDX 2
#define USED_RING 4
#define USED_ELEM 8

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static uint16_t ld16_acquire(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}

static uint16_t ld16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

void vq_reset(struct vq *q, uint16_t max_size)
{
	memset(q, 0, sizeof(*q));
	q->size = max_size;
	q->msix_vector = 0xffff; /* VIRTIO_MSI_NO_VECTOR */
}

int vq_enable(struct machine *m, struct vq *q, bool indirect, bool event_idx)
{
	uint64_t n = q->size;

	if (!n || (n & (n - 1)) || n > VQ_MAX_SIZE)
		return -EINVAL;
	/* §2.7: alignment 16, 2 and 4; sizes 16n, 6 + 2n, 6 + 8n (the
	 * last two include used_event and avail_event). */
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return -EINVAL;
	q->desc = gm_ptr(&m->mem, q->desc_gpa, DESC_SIZE * n);
	q->avail = gm_ptr(&m->mem, q->avail_gpa, 6 + 2 * n);
	q->used = gm_ptr(&m->mem, q->used_gpa, 6 + USED_ELEM * n);
	if (!q->desc || !q->avail || !q->used) {
		q->desc = q->avail = q->used = NULL;
		return -EINVAL;
	}
	q->indirect = indirect;
	q->event_idx = event_idx;
	q->last_avail = q->used_idx = q->signalled = 0;
	q->broken = false;
	q->enabled = true;
	return 0;
}

static void read_desc(const uint8_t *table, unsigned i, struct desc *d)
{
	const uint8_t *p = table + (size_t)DESC_SIZE * i;

	memcpy(&d->addr, p, 8);
	memcpy(&d->len, p + 8, 4);
	memcpy(&d->flags, p + 12, 2);
	memcpy(&d->next, p + 14, 2);
}

static int broken(struct vq *q, const char *why, unsigned head)
{
	rax_log(LOG_WARN, dev, "virtqueue: chain at descriptor %u: %s; the "
		"queue stops until the driver resets the device", head, why);
	q->broken = true;
	return -EIO;
}

/* Appends the buffer of descriptor d to c. */
static int add_buf(struct machine *m, struct vq *q, struct vq_chain *c,
		   const struct desc *d)
{
	struct vq_buf *b;
	uint8_t *p;

	if (!d->len)
		return 0; /* nothing to transfer */
	if (c->nout + c->nin == VQ_MAX_SEGS)
		return broken(q, "too many buffers", c->head);
	p = gm_ptr(&m->mem, d->addr, d->len);
	if (!p)
		return broken(q, "buffer outside guest RAM", c->head);
	if (d->flags & VQ_DESC_F_WRITE) {
		c->nin++;
		c->in_len += d->len;
	} else {
		/* §2.7.4.2: readable buffers come first. */
		if (c->nin)
			return broken(q, "readable buffer after a writable one",
				      c->head);
		c->nout++;
		c->out_len += d->len;
	}
	b = &c->buf[c->nout + c->nin - 1];
	b->p = p;
	b->len = d->len;
	b->gpa = d->addr;
	return 0;
}

/* Walks the indirect table of descriptor d (§2.7.5.3). */
static int walk_indirect(struct machine *m, struct vq *q, struct vq_chain *c,
			 const struct desc *d)
{
	const uint8_t *table;
	unsigned n = d->len / DESC_SIZE, i = 0, steps;
	struct desc e;
	int ret;

	if (!q->indirect)
		return broken(q, "indirect descriptor not negotiated", c->head);
	if (d->flags & VQ_DESC_F_NEXT)
		return broken(q, "indirect descriptor with NEXT", c->head);
	/* A table longer than the buffers a chain may have would only let
	 * zero-length descriptors keep the device busy. */
	if (!n || d->len % DESC_SIZE || n > VQ_MAX_SEGS)
		return broken(q, "bad indirect table length", c->head);
	table = gm_ptr(&m->mem, d->addr, d->len);
	if (!table)
		return broken(q, "indirect table outside guest RAM", c->head);
	for (steps = 0;; steps++) {
		if (steps == n)
			return broken(q, "loop in an indirect table", c->head);
		read_desc(table, i, &e);
		if (e.flags & VQ_DESC_F_INDIRECT)
			return broken(q, "nested indirect table", c->head);
		ret = add_buf(m, q, c, &e);
		if (ret)
			return ret;
		if (!(e.flags & VQ_DESC_F_NEXT))
			return 0;
		i = e.next;
		if (i >= n)
			return broken(q, "next beyond the indirect table",
				      c->head);
	}
}

int vq_pop(struct machine *m, struct vq *q, struct vq_chain *c)
{
	uint16_t avail_idx, i;
	unsigned steps;
	struct desc d;
	int ret;

	if (!q->enabled || q->broken)
		return q->broken ? -EIO : 0;
	avail_idx = ld16_acquire(q->avail + AVAIL_IDX);
	if (avail_idx == q->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - q->last_avail) > q->size)
		return broken(q, "available index ran ahead of the ring", 0);
	c->head = ld16(q->avail + AVAIL_RING +
		       2 * (q->last_avail & (q->size - 1)));
	c->nout = c->nin = 0;
	c->out_len = c->in_len = 0;
	if (c->head >= q->size)
		return broken(q, "head beyond the table", c->head);
	q->last_avail++;
	i = c->head;
	/* A chain is at most size descriptors long (§2.7.5.3.1), the
	 * last of which may be indirect. */
	for (steps = 0;; steps++) {
		if (steps == q->size)
			return broken(q, "loop in the descriptor chain", c->head);
		read_desc(q->desc, i, &d);
		if (d.flags & VQ_DESC_F_INDIRECT)
			return walk_indirect(m, q, c, &d) ? -EIO : 1;
		ret = add_buf(m, q, c, &d);
		if (ret)
			return ret;
		if (!(d.flags & VQ_DESC_F_NEXT))
			return 1;
		i = d.next;
		if (i >= q->size)
			return broken(q, "next beyond the table", c->head);
	}
}

void vq_push(struct machine *m, struct vq *q, const struct vq_chain *c,
	     uint32_t written)
{
	uint8_t *e = q->used + USED_RING + USED_ELEM * (q->used_idx &
							 (q->size - 1));
	uint32_t id = c->head, left = written;

	for (unsigned i = c->nout; i < c->nout + c->nin && left; i++) {
		uint32_t n = c->buf[i].len < left ? c->buf[i].len : left;

		machine_mem_written(m, c->buf[i].gpa, n);
		left -= n;
	}
	memcpy(e, &id, 4);
	memcpy(e + 4, &written, 4);
	q->used_idx++;
	/* §2.7.8.2: the element is visible before the index. */
	__atomic_store_n((uint16_t *)(q->used + USED_IDX), q->used_idx,
			 __ATOMIC_RELEASE);
}

bool vq_should_interrupt(struct vq *q)
{
	uint16_t old = q->signalled, now = q->used_idx, event;

	if (old == now)
		return false; /* nothing used since the last decision */
	/* The used index store must be visible before the driver's
	 * used_event or flags are read (store-load: a full fence). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->signalled = now;
	if (!q->event_idx)
		return !(ld16(q->avail) & VQ_AVAIL_F_NO_INTERRUPT);
	/* §2.7.7.2: notify when used_event lies in [old, now). */
	event = ld16(q->avail + AVAIL_RING + 2 * q->size);
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

bool vq_more(struct vq *q)
{
	if (!q->enabled || q->broken)
		return false;
	if (q->event_idx) /* §2.7.10: avail_event after the used ring */
		__atomic_store_n((uint16_t *)(q->used + USED_RING +
					      USED_ELEM * q->size),
				 q->last_avail, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return ld16_acquire(q->avail + AVAIL_IDX) != q->last_avail;
}

uint64_t vq_read(const struct vq_chain *c, uint64_t off, void *dst,
		 uint64_t len)
{
	uint8_t *out = dst;
	uint64_t done = 0;

	for (unsigned i = 0; i < c->nout && done < len; i++) {
		const struct vq_buf *b = &c->buf[i];
		uint64_t n;

		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		n = b->len - off < len - done ? b->len - off : len - done;
		memcpy(out + done, b->p + off, n);
		done += n;
		off = 0;
	}
	return done;
}

uint64_t vq_write(const struct vq_chain *c, uint64_t off, const void *src,
		  uint64_t len)
{
	const uint8_t *in = src;
	uint64_t done = 0;

	for (unsigned i = c->nout; i < c->nout + c->nin && done < len; i++) {
		const struct vq_buf *b = &c->buf[i];
		uint64_t n;

		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		n = b->len - off < len - done ? b->len - off : len - done;
		memcpy(b->p + off, in + done, n);
		done += n;
		off = 0;
	}
	return done;
}
