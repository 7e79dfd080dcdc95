/* Split virtqueues (virtio 1.2 §2.7 "Split Virtqueues"): the device's
 * side of the descriptor table, the available ring and the used ring,
 * with indirect descriptors (§2.7.5.3) and VIRTIO_F_EVENT_IDX
 * notification suppression (§2.7.7, §2.7.10).  Private to
 * src/devices/virtio.
 *
 * The rings live in guest RAM and are reached through host pointers
 * (gm_ptr) checked once when the driver enables the queue; every buffer
 * a descriptor names is checked when its chain is taken.  The driver
 * owns the available ring, the device the used ring (§2.7): indices are
 * read with acquire and published with release ordering, since the
 * guest runs on other threads (KVM) or its stores were made by the
 * interpreter on the vCPU thread while a device thread reads them. */
#ifndef RAX_VIRTIO_QUEUE_H
#define RAX_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

struct machine;

#define VQ_MAX_SIZE 256  /* the largest queue size rax offers */
#define VQ_MAX_SEGS 512  /* buffers in one chain, indirect included */

/* Descriptor flags (§2.7.5). */
#define VQ_DESC_F_NEXT 1
#define VQ_DESC_F_WRITE 2
#define VQ_DESC_F_INDIRECT 4
/* Ring flags (§2.7.6, §2.7.8). */
#define VQ_AVAIL_F_NO_INTERRUPT 1

/* A queue's registers as the transport holds them, and the device's
 * position in the rings.  Everything a save/restore needs is here. */
struct vq {
	uint16_t size;           /* queue_size: a power of two */
	uint16_t msix_vector;    /* queue_msix_vector */
	bool enabled;            /* queue_enable, once the rings checked */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool indirect, event_idx;/* negotiated features */
	uint16_t last_avail;     /* next available-ring entry to take */
	uint16_t used_idx;       /* next used-ring entry to fill */
	uint16_t signalled;      /* used_idx at the last interrupt decision */
	bool broken;             /* a malformed chain stopped the queue */
	/* Host views, valid while enabled. */
	uint8_t *desc, *avail, *used;
};

/* One buffer of a chain: host pointer and length (checked RAM). */
struct vq_buf {
	uint8_t *p;
	uint32_t len;
	uint64_t gpa;
};

/* A descriptor chain taken from the available ring: the device-readable
 * buffers first (nout of them), then the device-writable ones. */
struct vq_chain {
	uint16_t head;
	unsigned nout, nin;
	uint64_t out_len, in_len;   /* bytes in each direction */
	struct vq_buf buf[VQ_MAX_SEGS];
};

/* Resets the device's side (queue registers to their reset values,
 * size = max). */
void vq_reset(struct vq *q, uint16_t max_size);

/* queue_enable = 1: checks the queue's size and that the three areas
 * are in RAM and aligned (§2.7 table), and maps them.  Returns 0 or
 * -EINVAL (the queue stays disabled). */
int vq_enable(struct machine *m, struct vq *q, bool indirect,
	      bool event_idx);

/* Takes the next available chain into *c.  Returns 1, 0 when the ring
 * is empty, or -EIO for a malformed chain (a loop, a buffer outside
 * RAM, readable after writable buffers, a nested or misused indirect
 * table, more than VQ_MAX_SEGS buffers): the queue is then broken and
 * returns -EIO until reset. */
int vq_pop(struct machine *m, struct vq *q, struct vq_chain *c);

/* Returns chain c to the driver with `written` bytes written into its
 * device-writable buffers (machine_mem_written() is told about them). */
void vq_push(struct machine *m, struct vq *q, const struct vq_chain *c,
	     uint32_t written);

/* After pushes: does the driver want a used-buffer notification (its
 * used_event with EVENT_IDX, else the NO_INTERRUPT flag)? */
bool vq_should_interrupt(struct vq *q);

/* Before the device stops looking at the ring: asks the driver to
 * notify when it adds more (EVENT_IDX: avail_event = last_avail), then
 * returns true if more chains arrived meanwhile (look again). */
bool vq_more(struct vq *q);

/* Copies up to len bytes out of the device-readable buffers of c,
 * starting at byte `off` of them.  Returns the bytes copied. */
uint64_t vq_read(const struct vq_chain *c, uint64_t off, void *dst,
		 uint64_t len);
/* Copies up to len bytes into the device-writable buffers of c, starting
 * at byte `off` of them.  Returns the bytes copied. */
uint64_t vq_write(const struct vq_chain *c, uint64_t off, const void *src,
		  uint64_t len);

#endif
