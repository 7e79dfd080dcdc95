/* The virtio 1.x PCI transport: see transport.h.  References are to the
 * virtio 1.2 specification, §4.1 "Virtio Over PCI Bus", and to the PCI
 * Local Bus Specification 3.0 §6.8.2 for MSI-X. */
#include "devices/virtio/transport.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "machine.h"

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_DEVICE_BASE 0x1040   /* §4.1.2: 0x1040 + device ID */
#define VIRTIO_REVISION 1           /* §4.1.2.1: modern-only device */

/* The one BAR: a structure per page (§4.1.4: any BAR and offset). */
#define BAR_SIZE 0x8000
#define BAR_COMMON 0x0000
#define BAR_ISR 0x1000
#define BAR_DEVICE 0x2000
#define BAR_NOTIFY 0x3000
#define BAR_MSIX 0x4000
#define BAR_PBA 0x5000
#define NOTIFY_MULT 4               /* notify_off_multiplier */

/* §4.1.4: virtio_pci_cap.cfg_type. */
enum { CAP_COMMON = 1, CAP_NOTIFY = 2, CAP_ISR = 3, CAP_DEVICE = 4,
       CAP_PCI_CFG = 5 };

/* §4.1.4.3: the common configuration structure. */
enum {
	CC_DFSELECT = 0x00, CC_DF = 0x04, CC_GFSELECT = 0x08, CC_GF = 0x0c,
	CC_MSIX_CONFIG = 0x10, CC_NUM_QUEUES = 0x12, CC_STATUS = 0x14,
	CC_CONFIG_GEN = 0x15, CC_Q_SELECT = 0x16, CC_Q_SIZE = 0x18,
	CC_Q_MSIX = 0x1a, CC_Q_ENABLE = 0x1c, CC_Q_NOTIFY_OFF = 0x1e,
	CC_Q_DESC = 0x20, CC_Q_DRIVER = 0x28, CC_Q_DEVICE = 0x30,
	CC_SIZE = 0x38,
};

#define ISR_QUEUE 1
#define ISR_CONFIG 2

/* MSI-X (PCI 3.0 §6.8.2): message control bits, table entry layout. */
#define MSIX_ENABLE 0x8000
#define MSIX_MASKALL 0x4000
#define MSIX_ENTRY 16
#define MSIX_CTRL_MASKED 1

static uint64_t offered(const struct virtio_dev *d)
{
	return d->ops->features | 1ull << VIRTIO_F_VERSION_1 |
	       1ull << VIRTIO_F_INDIRECT_DESC | 1ull << VIRTIO_F_EVENT_IDX;
}

static uint16_t msix_control(const struct virtio_dev *d)
{
	return (uint16_t)pci_cfg_read(&d->pci, d->msix_cap + 2, 2);
}

static bool msix_on(const struct virtio_dev *d)
{
	return msix_control(d) & MSIX_ENABLE;
}

/* ---- interrupts --------------------------------------------------------- */

/* INTx follows ISR while MSI-X is off, unless the command register's
 * interrupt disable is set (§4.1.4.5.1; PCI 3.0 §6.2.2). */
static void update_intx(struct virtio_dev *d)
{
	uint16_t cmd = (uint16_t)pci_cfg_read(&d->pci, PCI_COMMAND, 2);
	bool level = d->isr && !msix_on(d) && !(cmd & PCI_COMMAND_INTX_OFF);

	if (d->isr && !msix_on(d))
		d->pci.cfg[PCI_STATUS] |= PCI_STATUS_INTX;
	else
		d->pci.cfg[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTX;
	if (d->gsi < 0 || level == d->intx_level)
		return;
	d->intx_level = level;
	machine_set_irq(d->m, (unsigned)d->gsi, level);
}

/* Delivers MSI-X vector v: through its irqfd when the engine routes
 * one, else machine_msi(). */
static void msix_send(struct virtio_dev *d, unsigned v)
{
	struct virtio_msix *x = &d->msix[v];
	uint64_t one = 1;

	if (x->irqfd < 0 && !d->irqfd_failed) {
		x->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (x->irqfd < 0)
			d->irqfd_failed = true;
	}
	if (x->irqfd >= 0 && !d->irqfd_failed &&
	    (!x->irqfd_routed || x->irqfd_addr != x->addr ||
	     x->irqfd_data != x->data)) {
		if (machine_irqfd_msi(d->m, x->irqfd, x->addr, x->data,
				      true)) {
			d->irqfd_failed = true;
		} else {
			if (!x->irqfd_routed)
				rax_log(LOG_INFO, dev, "%s: MSI-X vector %u "
					"through an irqfd", d->ops->name, v);
			x->irqfd_routed = true;
			x->irqfd_addr = x->addr;
			x->irqfd_data = x->data;
		}
	}
	if (x->irqfd >= 0 && x->irqfd_routed && !d->irqfd_failed &&
	    write(x->irqfd, &one, 8) == 8)
		return;
	machine_msi(d->m, x->addr, x->data);
}

/* A masked vector keeps its message pending in the PBA (§6.8.2.9). */
static void msix_fire(struct virtio_dev *d, unsigned v)
{
	if (v >= d->nvec)
		return;
	if ((msix_control(d) & MSIX_MASKALL) ||
	    (d->msix[v].ctrl & MSIX_CTRL_MASKED)) {
		d->msix[v].pending = true;
		return;
	}
	d->msix[v].pending = false;
	msix_send(d, v);
}

static void msix_unmasked(struct virtio_dev *d)
{
	if (!msix_on(d) || (msix_control(d) & MSIX_MASKALL))
		return;
	for (unsigned v = 0; v < d->nvec; v++)
		if (d->msix[v].pending && !(d->msix[v].ctrl & MSIX_CTRL_MASKED))
			msix_fire(d, v);
}

static void raise_irq(struct virtio_dev *d, uint16_t vector, uint8_t isr)
{
	if (msix_on(d)) {
		/* §4.1.4.5.1: with MSI-X only the configuration bit of
		 * ISR is set; VIRTIO_MSI_NO_VECTOR means no interrupt. */
		d->isr |= isr & ISR_CONFIG;
		if (vector != VIRTIO_NO_VECTOR)
			msix_fire(d, vector);
		return;
	}
	d->isr |= isr;
	update_intx(d);
}

void virtio_queue_interrupt(struct virtio_dev *d, unsigned q)
{
	if (vq_should_interrupt(&d->vq[q]))
		raise_irq(d, d->vq[q].msix_vector, ISR_QUEUE);
}

void virtio_dev_broken(struct virtio_dev *d)
{
	if (d->status & VIRTIO_S_NEEDS_RESET)
		return;
	d->status |= VIRTIO_S_NEEDS_RESET;
	if (d->status & VIRTIO_S_DRIVER_OK)
		raise_irq(d, d->msix_config, ISR_CONFIG);
}

bool virtio_queue_ready(const struct virtio_dev *d, unsigned q)
{
	return q < d->ops->nqueues && (d->status & VIRTIO_S_DRIVER_OK) &&
	       d->vq[q].enabled && !d->vq[q].broken;
}

/* ---- notifications: MMIO or ioeventfd ----------------------------------- */

static void kick(struct virtio_dev *d, unsigned q)
{
	if (virtio_queue_ready(d, q))
		d->ops->notify(d, q);
}

static void *worker_main(void *opaque)
{
	struct virtio_dev *d = opaque;
	struct pollfd p[VIRTIO_MAX_QUEUES + 1];
	unsigned nq = d->ops->nqueues, q;
	uint64_t v;

	for (q = 0; q < nq; q++)
		p[q] = (struct pollfd){ .fd = d->kick_fd[q], .events = POLLIN };
	p[nq] = (struct pollfd){ .fd = d->stop_fd, .events = POLLIN };
	for (;;) {
		if (poll(p, nq + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			rax_log(LOG_ERROR, dev, "%s: poll: %s", d->ops->name,
				strerror(errno));
			return NULL;
		}
		if (p[nq].revents)
			return NULL;
		for (q = 0; q < nq; q++) {
			if (!p[q].revents || read(d->kick_fd[q], &v, 8) != 8)
				continue;
			pthread_mutex_lock(&d->lock);
			kick(d, q);
			pthread_mutex_unlock(&d->lock);
		}
	}
}

/* Moves the queues' ioeventfds to `gpa` (the notify structure's
 * address; 0: unregister).  Returns false when the engine refused. */
static bool kicks_at(struct virtio_dev *d, uint64_t gpa)
{
	unsigned q, nq = d->ops->nqueues;

	if (gpa == d->kick_gpa)
		return true;
	for (q = 0; d->kick_gpa && q < nq; q++)
		machine_ioeventfd(d->m, d->kick_gpa + NOTIFY_MULT * q, 2,
				  d->kick_fd[q], false);
	d->kick_gpa = 0;
	for (q = 0; gpa && q < nq; q++) {
		if (machine_ioeventfd(d->m, gpa + NOTIFY_MULT * q, 2,
				      d->kick_fd[q], true)) {
			while (q--)
				machine_ioeventfd(d->m, gpa + NOTIFY_MULT * q,
						  2, d->kick_fd[q], false);
			return false;
		}
	}
	d->kick_gpa = gpa;
	return true;
}

/* DRIVER_OK: where the engine offers ioeventfds, notifications go to
 * the worker thread from now on; otherwise they stay MMIO writes. */
static void start_kicks(struct virtio_dev *d)
{
	uint64_t bar = d->pci.bar[0].mapped;

	if (d->kick_fd[0] < 0 || !bar || !kicks_at(d, bar + BAR_NOTIFY))
		return;
	if (!d->worker) {
		if (pthread_create(&d->thread, NULL, worker_main, d)) {
			kicks_at(d, 0);
			return;
		}
		d->worker = true;
	}
	rax_log(LOG_INFO, dev, "%s: notifications through ioeventfds",
		d->ops->name);
}

/* ---- the common configuration ------------------------------------------- */

static void reset(struct virtio_dev *d)
{
	unsigned q;

	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vq_reset(&d->vq[q], VQ_MAX_SIZE);
	d->dfselect = d->gfselect = 0;
	d->driver_features = 0;
	d->msix_config = VIRTIO_NO_VECTOR;
	d->qselect = 0;
	d->status = 0;
	d->isr = 0;
	update_intx(d);
	if (d->ops->reset)
		d->ops->reset(d);
}

static void set_status(struct virtio_dev *d, uint8_t v)
{
	uint8_t old = d->status;
	uint64_t f = d->driver_features;

	if (!v) {
		reset(d);
		return;
	}
	/* §2.2.2 and §6.1: FEATURES_OK only for a subset of what was
	 * offered that includes VIRTIO_F_VERSION_1. */
	if ((v & VIRTIO_S_FEATURES_OK) && !(old & VIRTIO_S_FEATURES_OK) &&
	    ((f & ~offered(d)) || !(f >> VIRTIO_F_VERSION_1 & 1))) {
		rax_log(LOG_WARN, dev, "%s: driver features %#llx refused",
			d->ops->name, (unsigned long long)f);
		v &= (uint8_t)~VIRTIO_S_FEATURES_OK;
	}
	d->status = (uint8_t)((v & ~VIRTIO_S_NEEDS_RESET) |
			      (old & VIRTIO_S_NEEDS_RESET));
	if ((v & VIRTIO_S_DRIVER_OK) && !(old & VIRTIO_S_DRIVER_OK)) {
		start_kicks(d);
		for (unsigned q = 0; q < d->ops->nqueues; q++)
			kick(d, q); /* buffers added before DRIVER_OK */
	}
}

static struct vq *selected(struct virtio_dev *d)
{
	return d->qselect < d->ops->nqueues ? &d->vq[d->qselect] : NULL;
}

static uint64_t common_read(struct virtio_dev *d, unsigned off)
{
	struct vq *q = selected(d);

	switch (off) {
	case CC_DFSELECT: return d->dfselect;
	case CC_DF:
		return d->dfselect < 2 ? (uint32_t)(offered(d) >>
						    (32 * d->dfselect)) : 0;
	case CC_GFSELECT: return d->gfselect;
	case CC_GF:
		return d->gfselect < 2 ? (uint32_t)(d->driver_features >>
						    (32 * d->gfselect)) : 0;
	case CC_MSIX_CONFIG: return d->msix_config;
	case CC_NUM_QUEUES: return d->ops->nqueues;
	case CC_STATUS: return d->status;
	case CC_CONFIG_GEN: return d->config_gen;
	case CC_Q_SELECT: return d->qselect;
	case CC_Q_SIZE: return q ? q->size : 0; /* 0: no such queue */
	case CC_Q_MSIX: return q ? q->msix_vector : VIRTIO_NO_VECTOR;
	case CC_Q_ENABLE: return q ? q->enabled : 0;
	case CC_Q_NOTIFY_OFF: return d->qselect; /* × NOTIFY_MULT */
	case CC_Q_DESC: return q ? q->desc_gpa : 0;
	case CC_Q_DESC + 4: return q ? q->desc_gpa >> 32 : 0;
	case CC_Q_DRIVER: return q ? q->avail_gpa : 0;
	case CC_Q_DRIVER + 4: return q ? q->avail_gpa >> 32 : 0;
	case CC_Q_DEVICE: return q ? q->used_gpa : 0;
	case CC_Q_DEVICE + 4: return q ? q->used_gpa >> 32 : 0;
	default: return 0;
	}
}

/* A 64-bit queue address written as one 8-byte or two 4-byte halves
 * (§4.1.3.1: natural width, 64-bit fields in two 32-bit accesses). */
static void set_addr(uint64_t *a, unsigned half, uint64_t v, unsigned size)
{
	if (size == 8)
		*a = v;
	else if (half)
		*a = (*a & 0xffffffffull) | (v << 32);
	else
		*a = (*a & ~0xffffffffull) | (uint32_t)v;
}

static uint16_t vector_or_none(const struct virtio_dev *d, uint64_t v)
{
	return v < d->nvec ? (uint16_t)v : VIRTIO_NO_VECTOR;
}

static void queue_enable(struct virtio_dev *d, struct vq *q)
{
	if (q->enabled)
		return;
	if (vq_enable(d->m, q, virtio_has(d, VIRTIO_F_INDIRECT_DESC),
		      virtio_has(d, VIRTIO_F_EVENT_IDX))) {
		rax_log(LOG_WARN, dev, "%s: queue %u: bad size %u or rings "
			"outside RAM (desc %#llx avail %#llx used %#llx)",
			d->ops->name, d->qselect, q->size,
			(unsigned long long)q->desc_gpa,
			(unsigned long long)q->avail_gpa,
			(unsigned long long)q->used_gpa);
		virtio_dev_broken(d);
	}
}

static void common_write(struct virtio_dev *d, unsigned off, uint64_t v,
			 unsigned size)
{
	struct vq *q = selected(d);
	bool q_open = q && !q->enabled;

	switch (off) {
	case CC_DFSELECT: d->dfselect = (uint32_t)v; break;
	case CC_GFSELECT: d->gfselect = (uint32_t)v; break;
	case CC_GF:
		/* §3.1.1: features are fixed once FEATURES_OK is set. */
		if (d->gfselect < 2 && !(d->status & VIRTIO_S_FEATURES_OK)) {
			unsigned sh = 32 * d->gfselect;

			d->driver_features &= ~(0xffffffffull << sh);
			d->driver_features |= (uint64_t)(uint32_t)v << sh;
		}
		break;
	case CC_MSIX_CONFIG: d->msix_config = vector_or_none(d, v); break;
	case CC_STATUS: set_status(d, (uint8_t)v); break;
	case CC_Q_SELECT: d->qselect = (uint16_t)v; break;
	case CC_Q_SIZE:
		/* §4.1.4.3.2: a power of two up to the maximum offered. */
		if (q_open && v && v <= VQ_MAX_SIZE && !(v & (v - 1)))
			q->size = (uint16_t)v;
		break;
	case CC_Q_MSIX:
		if (q)
			q->msix_vector = vector_or_none(d, v);
		break;
	case CC_Q_ENABLE:
		if (q && v == 1)
			queue_enable(d, q);
		break;
	case CC_Q_DESC: case CC_Q_DESC + 4:
		if (q_open)
			set_addr(&q->desc_gpa, off & 4, v, size);
		break;
	case CC_Q_DRIVER: case CC_Q_DRIVER + 4:
		if (q_open)
			set_addr(&q->avail_gpa, off & 4, v, size);
		break;
	case CC_Q_DEVICE: case CC_Q_DEVICE + 4:
		if (q_open)
			set_addr(&q->used_gpa, off & 4, v, size);
		break;
	default:
		break; /* read-only or reserved */
	}
}

/* The natural width of the field at off (§4.1.3.1), 0 for none. */
static unsigned field_size(unsigned off)
{
	switch (off) {
	case CC_DFSELECT: case CC_DF: case CC_GFSELECT: case CC_GF:
		return 4;
	case CC_STATUS: case CC_CONFIG_GEN:
		return 1;
	case CC_Q_DESC: case CC_Q_DRIVER: case CC_Q_DEVICE:
		return 8;
	case CC_Q_DESC + 4: case CC_Q_DRIVER + 4: case CC_Q_DEVICE + 4:
		return 4;
	default:
		return off < CC_Q_DESC && !(off & 1) ? 2 : 0;
	}
}

static void common_io(struct virtio_dev *d, unsigned off, bool is_write,
		      uint8_t *data, unsigned size)
{
	unsigned want = field_size(off);
	uint64_t v = 0;

	/* 64-bit fields also take 32-bit halves. */
	if (!(want == size || (want == 8 && size == 4))) {
		rax_log(LOG_DEBUG, dev, "%s: common config %s of %u bytes "
			"at %#x ignored", d->ops->name,
			is_write ? "write" : "read", size, off);
		if (!is_write)
			memset(data, 0, size);
		return;
	}
	if (is_write) {
		memcpy(&v, data, size);
		common_write(d, off, v, size);
		return;
	}
	v = common_read(d, off);
	if (size == 8 && (off == CC_Q_DESC || off == CC_Q_DRIVER ||
			  off == CC_Q_DEVICE))
		v |= common_read(d, off + 4) << 32;
	memcpy(data, &v, size);
}

/* ---- MSI-X table and PBA ------------------------------------------------ */

static void msix_io(struct virtio_dev *d, unsigned off, bool is_write,
		    uint8_t *data, unsigned size)
{
	unsigned v = off / MSIX_ENTRY, field = off % MSIX_ENTRY;
	struct virtio_msix *x;
	uint64_t val = 0;

	if (v >= d->nvec || (size != 4 && size != 8) || (off & (size - 1))) {
		if (!is_write)
			memset(data, 0, size);
		return;
	}
	x = &d->msix[v];
	if (!is_write) {
		uint8_t e[MSIX_ENTRY];

		memcpy(e, &x->addr, 8);
		memcpy(e + 8, &x->data, 4);
		memcpy(e + 12, &x->ctrl, 4);
		memcpy(data, e + field, size);
		return;
	}
	memcpy(&val, data, size);
	for (unsigned i = 0; i < size; i += 4, field += 4) {
		uint32_t w = (uint32_t)(val >> (8 * i));

		switch (field) {
		case 0: x->addr = (x->addr & ~0xffffffffull) | w; break;
		case 4: x->addr = (x->addr & 0xffffffffull) |
				  (uint64_t)w << 32; break;
		case 8: x->data = w; break;
		case 12: x->ctrl = w & MSIX_CTRL_MASKED; break;
		}
	}
	msix_unmasked(d);
}

static void pba_io(struct virtio_dev *d, unsigned off, bool is_write,
		   uint8_t *data, unsigned size)
{
	uint64_t bits = 0;

	if (is_write)
		return; /* read-only (§6.8.2.10) */
	for (unsigned v = 0; v < d->nvec; v++)
		bits |= (uint64_t)d->msix[v].pending << v;
	memset(data, 0, size);
	if (off < 8)
		memcpy(data, (uint8_t *)&bits + off,
		       size < 8 - off ? size : 8 - off);
}

/* ---- the BAR ------------------------------------------------------------ */

static void bar_access(struct virtio_dev *d, uint64_t off, bool is_write,
		       uint8_t *data, unsigned size)
{
	unsigned page = (unsigned)off & ~0xfffu, o = (unsigned)off & 0xfff;

	switch (page) {
	case BAR_COMMON:
		if (o + size <= CC_SIZE)
			common_io(d, o, is_write, data, size);
		else if (!is_write)
			memset(data, 0, size);
		return;
	case BAR_ISR:
		if (is_write)
			return;
		memset(data, 0, size);
		if (o == 0) { /* reading ISR clears it (§4.1.4.5) */
			data[0] = d->isr;
			d->isr = 0;
			update_intx(d);
		}
		return;
	case BAR_DEVICE:
		if (!is_write) {
			memset(data, 0, size);
			if (o + size <= d->cfg_len)
				memcpy(data, d->cfg + o, size);
		}
		return;
	case BAR_NOTIFY:
		if (is_write && !(o % NOTIFY_MULT))
			kick(d, o / NOTIFY_MULT);
		else if (!is_write)
			memset(data, 0, size);
		return;
	case BAR_MSIX:
		msix_io(d, o, is_write, data, size);
		return;
	case BAR_PBA:
		pba_io(d, o, is_write, data, size);
		return;
	default:
		if (!is_write)
			memset(data, 0, size);
	}
}

static void bar_io(void *opaque, uint64_t off, bool is_write, void *data,
		   unsigned size)
{
	struct virtio_dev *d = opaque;

	pthread_mutex_lock(&d->lock);
	bar_access(d, off, is_write, data, size);
	pthread_mutex_unlock(&d->lock);
}

/* ---- configuration space hooks ------------------------------------------ */

/* VIRTIO_PCI_CAP_PCI_CFG (§4.1.4.9): the driver names a BAR window in
 * the capability and accesses it through pci_cfg_data. */
static void pcicfg_access(struct virtio_dev *d, bool is_write)
{
	uint8_t *c = d->pci.cfg + d->pcicfg_cap;
	uint32_t off, len;

	memcpy(&off, c + 8, 4);
	memcpy(&len, c + 12, 4);
	if (c[4] != 0 || (len != 1 && len != 2 && len != 4) ||
	    (off & (len - 1)) || off + len > BAR_SIZE)
		return;
	bar_access(d, off, is_write, c + 16, len);
}

static void cfg_hook(struct pci_func *f, unsigned off, unsigned size,
		     bool is_write)
{
	struct virtio_dev *d = f->opaque;
	unsigned data = d->pcicfg_cap + 16, mc = d->msix_cap + 2;

	pthread_mutex_lock(&d->lock);
	if (off < data + 4 && off + size > data)
		pcicfg_access(d, is_write);
	if (is_write) {
		/* Memory enable or BAR moves carry the ioeventfds along. */
		if (d->kick_gpa && d->pci.bar[0].mapped + BAR_NOTIFY !=
		    d->kick_gpa)
			kicks_at(d, d->pci.bar[0].mapped ?
				 d->pci.bar[0].mapped + BAR_NOTIFY : 0);
		if (off < mc + 2 && off + size > mc)
			msix_unmasked(d);
		update_intx(d);
	}
	pthread_mutex_unlock(&d->lock);
}

/* ---- set-up ------------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* A struct virtio_pci_cap (§4.1.4) of len bytes. */
static unsigned add_vcap(struct pci_func *f, uint8_t type, uint32_t off,
			 uint32_t len, unsigned caplen, uint32_t extra)
{
	uint8_t c[20] = { PCI_CAP_ID_VNDR, 0, (uint8_t)caplen, type, 0 };

	put32(c + 8, off);
	put32(c + 12, len);
	if (caplen == 20)
		put32(c + 16, extra);
	return pci_add_cap(f, c, caplen);
}

static int add_caps(struct virtio_dev *d, struct rax_err *e)
{
	struct pci_func *f = &d->pci;
	uint8_t mx[12] = { PCI_CAP_ID_MSIX, 0 };
	unsigned ok;

	/* MSI-X: table size N-1 in bits 10:0, table and PBA in BAR 0. */
	mx[2] = (uint8_t)(d->nvec - 1);
	put32(mx + 4, BAR_MSIX);
	put32(mx + 8, BAR_PBA);
	d->msix_cap = pci_add_cap(f, mx, sizeof(mx));
	f->wmask[d->msix_cap + 3] = 0xc0; /* enable, function mask */
	ok = d->msix_cap &&
	     add_vcap(f, CAP_COMMON, BAR_COMMON, CC_SIZE, 16, 0) &&
	     add_vcap(f, CAP_NOTIFY, BAR_NOTIFY,
		      NOTIFY_MULT * d->ops->nqueues, 20, NOTIFY_MULT) &&
	     add_vcap(f, CAP_ISR, BAR_ISR, 1, 16, 0) &&
	     (!d->cfg_len || add_vcap(f, CAP_DEVICE, BAR_DEVICE, d->cfg_len,
				      16, 0));
	d->pcicfg_cap = ok ? add_vcap(f, CAP_PCI_CFG, 0, 0, 20, 0) : 0;
	if (!d->pcicfg_cap)
		return rax_errf(e, -ENOSPC, "%s: PCI capabilities do not fit",
				d->ops->name);
	/* bar, offset, length and pci_cfg_data are the driver's. */
	f->wmask[d->pcicfg_cap + 4] = 0xff;
	memset(f->wmask + d->pcicfg_cap + 8, 0xff, 12);
	return 0;
}

int virtio_dev_init(struct machine *m, struct virtio_dev *d,
		    const struct virtio_dev_ops *ops, void *priv,
		    const uint8_t *cfg, unsigned cfg_len, struct rax_err *e)
{
	unsigned q;
	int ret;

	memset(d, 0, sizeof(*d));
	d->m = m;
	d->ops = ops;
	d->priv = priv;
	d->cfg = cfg;
	d->cfg_len = cfg_len;
	d->nvec = ops->nqueues + 1; /* configuration + one per queue */
	d->gsi = -1;
	d->stop_fd = -1;
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		d->kick_fd[q] = -1;
	for (q = 0; q <= VIRTIO_MAX_QUEUES; q++)
		d->msix[q] = (struct virtio_msix){ .ctrl = MSIX_CTRL_MASKED,
						   .irqfd = -1 };
	ret = pthread_mutex_init(&d->lock, NULL);
	if (ret)
		return rax_errf(e, -ret, "%s: mutex: %s", ops->name,
				strerror(ret));
	pci_func_init(&d->pci, VIRTIO_VENDOR, VIRTIO_DEVICE_BASE + ops->id,
		      VIRTIO_REVISION, ops->pci_class);
	/* §4.1.2: subsystem IDs are free; rax uses the virtio ones. */
	d->pci.cfg[PCI_SUBSYS_VENDOR] = VIRTIO_VENDOR & 0xff;
	d->pci.cfg[PCI_SUBSYS_VENDOR + 1] = VIRTIO_VENDOR >> 8;
	d->pci.cfg[PCI_SUBSYS_ID] = (uint8_t)(VIRTIO_DEVICE_BASE + ops->id);
	d->pci.cfg[PCI_SUBSYS_ID + 1] =
		(uint8_t)((VIRTIO_DEVICE_BASE + ops->id) >> 8);
	d->pci.cfg[PCI_INTR_PIN] = 1; /* INTA#, if the slot has it */
	d->pci.wmask[PCI_COMMAND + 1] = PCI_COMMAND_INTX_OFF >> 8;
	pci_func_set_bar(&d->pci, 0, BAR_SIZE, bar_io, d, ops->name);
	d->pci.hook = cfg_hook;
	d->pci.opaque = d;
	ret = add_caps(d, e);
	if (ret)
		goto out_mutex;
	reset(d);
	/* Eventfds for ioeventfd notifications (used only when the engine
	 * accepts them at DRIVER_OK). */
	d->stop_fd = eventfd(0, EFD_CLOEXEC);
	for (q = 0; q < ops->nqueues && d->stop_fd >= 0; q++)
		d->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ret = pci_attach_free(m, &d->pci);
	if (ret) {
		rax_errf(e, ret, "%s: no PCI slot: %s", ops->name,
			 strerror(-ret));
		goto out_fds;
	}
	d->gsi = pci_intx_gsi(&d->pci);
	rax_log(LOG_DEBUG, dev, "%s at 00:%02x.0, INTx %s%d", ops->name,
		d->pci.devfn >> 3, d->gsi < 0 ? "none " : "GSI ", d->gsi);
	return 0;

out_fds:
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (d->kick_fd[q] >= 0)
			close(d->kick_fd[q]);
	if (d->stop_fd >= 0)
		close(d->stop_fd);
out_mutex:
	pthread_mutex_destroy(&d->lock);
	return ret;
}

void virtio_dev_exit(struct virtio_dev *d)
{
	uint64_t one = 1;
	unsigned q;

	if (d->worker) {
		if (write(d->stop_fd, &one, 8) != 8)
			rax_log(LOG_ERROR, dev, "%s: cannot stop the worker",
				d->ops->name);
		pthread_join(d->thread, NULL);
		d->worker = false;
	}
	kicks_at(d, 0);
	for (q = 0; q < d->nvec; q++) {
		if (d->msix[q].irqfd < 0)
			continue;
		if (d->msix[q].irqfd_routed)
			machine_irqfd_msi(d->m, d->msix[q].irqfd, 0, 0, false);
		close(d->msix[q].irqfd);
	}
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (d->kick_fd[q] >= 0)
			close(d->kick_fd[q]);
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	if (d->intx_level && d->gsi >= 0)
		machine_set_irq(d->m, (unsigned)d->gsi, 0);
	pci_detach(&d->pci);
	pthread_mutex_destroy(&d->lock);
}

/* --- the history's save and restore ---------------------------------------- */

struct virtio_snap {
	uint8_t cfg[PCI_CFG_SIZE];
	uint32_t dfselect, gfselect;
	uint64_t driver_features;
	uint16_t msix_config, qselect;
	uint8_t status, isr, config_gen;
	bool intx_level;
	struct vq vq[VIRTIO_MAX_QUEUES];  /* host views re-derived */
	struct {
		uint64_t addr;
		uint32_t data, ctrl;
		bool pending;
	} msix[VIRTIO_MAX_QUEUES + 1];
};

static void snap_save(struct virtio_dev *d, struct virtio_snap *s)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->cfg, d->pci.cfg, sizeof(s->cfg));
	s->dfselect = d->dfselect;
	s->gfselect = d->gfselect;
	s->driver_features = d->driver_features;
	s->msix_config = d->msix_config;
	s->qselect = d->qselect;
	s->status = d->status;
	s->isr = d->isr;
	s->config_gen = d->config_gen;
	s->intx_level = d->intx_level;
	memcpy(s->vq, d->vq, sizeof(s->vq));
	for (unsigned v = 0; v <= VIRTIO_MAX_QUEUES; v++) {
		s->msix[v].addr = d->msix[v].addr;
		s->msix[v].data = d->msix[v].data;
		s->msix[v].ctrl = d->msix[v].ctrl;
		s->msix[v].pending = d->msix[v].pending;
	}
}

static void snap_restore(struct virtio_dev *d, const struct virtio_snap *s)
{
	struct guest_mem *gm = &d->m->mem;

	pci_cfg_restore(&d->pci, s->cfg);
	d->dfselect = s->dfselect;
	d->gfselect = s->gfselect;
	d->driver_features = s->driver_features;
	d->msix_config = s->msix_config;
	d->qselect = s->qselect;
	d->status = s->status;
	d->isr = s->isr;
	d->config_gen = s->config_gen;
	d->intx_level = s->intx_level; /* the IOAPIC keeps the pin's own */
	memcpy(d->vq, s->vq, sizeof(d->vq));
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		struct vq *v = &d->vq[q];
		uint64_t n = v->size;

		/* The views vq_enable() checked when the driver enabled the
		 * queue; the same guest addresses, so still valid. */
		v->desc = v->enabled ? gm_ptr(gm, v->desc_gpa, 16 * n) : NULL;
		v->avail = v->enabled ? gm_ptr(gm, v->avail_gpa, 6 + 2 * n) :
			   NULL;
		v->used = v->enabled ? gm_ptr(gm, v->used_gpa, 6 + 8 * n) :
			  NULL;
	}
	for (unsigned v = 0; v <= VIRTIO_MAX_QUEUES; v++) {
		d->msix[v].addr = s->msix[v].addr;
		d->msix[v].data = s->msix[v].data;
		d->msix[v].ctrl = s->msix[v].ctrl;
		d->msix[v].pending = s->msix[v].pending;
	}
}

size_t virtio_dev_snap(struct virtio_dev *d, void *blob,
		       enum dev_snap_op op, void *extra, size_t extra_len)
{
	size_t size = sizeof(struct virtio_snap) + extra_len;
	struct virtio_snap s;
	uint8_t *b = blob;

	if (op == DEV_SNAP_SIZE)
		return d->worker ? DEV_SNAP_NONE : size;
	pthread_mutex_lock(&d->lock);
	if (op == DEV_SNAP_SAVE) {
		snap_save(d, &s);
		memcpy(b, &s, sizeof(s));
		if (extra_len)
			memcpy(b + sizeof(s), extra, extra_len);
	} else {
		memcpy(&s, b, sizeof(s));
		snap_restore(d, &s);
		if (extra_len)
			memcpy(extra, b + sizeof(s), extra_len);
	}
	pthread_mutex_unlock(&d->lock);
	return size;
}
