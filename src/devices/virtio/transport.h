/* The virtio 1.x PCI transport (virtio 1.2 §4.1 "Virtio Over PCI Bus"),
 * modern devices only, private to src/devices/virtio: a PCI function
 * with vendor 0x1af4 and device 0x1040 + the virtio device ID, one
 * memory BAR holding the common configuration, ISR, device
 * configuration and notification structures and the MSI-X table, the
 * virtio capabilities that locate them (§4.1.4) and an MSI-X capability
 * (PCI 3.0 §6.8.2).  INTx goes through the IOAPIC (pci.h: slots 1-8)
 * when MSI-X is off.
 *
 * Where device work runs (DEVELOPERS.md "virtio"):
 * - Without engine help (the interpreter), a notification is an MMIO
 *   write: ops->notify runs synchronously on the vCPU thread, so a
 *   request completes at a deterministic point.
 * - When the engine takes ioeventfds (KVM), notifications become
 *   eventfd signals that the device's worker thread serves, and MSI-X
 *   vectors become irqfds when the engine takes those.
 * Every entry into device code holds d->lock; ops->notify may drop it
 * around work that must not hold it (net.c: the user-mode stack). */
#ifndef RAX_VIRTIO_TRANSPORT_H
#define RAX_VIRTIO_TRANSPORT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/dev.h"
#include "devices/pci.h"
#include "devices/virtio/queue.h"
#include "err.h"

struct machine;
struct virtio_dev;

#define VIRTIO_MAX_QUEUES 4
#define VIRTIO_NO_VECTOR 0xffff

/* Feature bits the transport offers (virtio 1.2 §6 "Reserved Feature
 * Bits"); devices add their own below bit 24. */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

/* Device status bits (§2.1). */
#define VIRTIO_S_ACKNOWLEDGE 1
#define VIRTIO_S_DRIVER 2
#define VIRTIO_S_DRIVER_OK 4
#define VIRTIO_S_FEATURES_OK 8
#define VIRTIO_S_NEEDS_RESET 64
#define VIRTIO_S_FAILED 128

/* What a device type tells the transport. */
struct virtio_dev_ops {
	const char *name;       /* for logs and the BAR's name */
	uint16_t id;            /* virtio device ID (§5) */
	uint32_t pci_class;     /* 24-bit class code */
	unsigned nqueues;
	uint64_t features;      /* device-specific features offered */
	/* The driver made buffers available on queue q (lock held). */
	void (*notify)(struct virtio_dev *d, unsigned q);
	/* Optional: device reset (status 0) after the queues were reset
	 * (lock held). */
	void (*reset)(struct virtio_dev *d);
};

/* MSI-X table entry (PCI 3.0 §6.8.2.6-9). */
struct virtio_msix {
	uint64_t addr;
	uint32_t data, ctrl;    /* ctrl bit 0: masked */
	bool pending;           /* the PBA bit */
	int irqfd;              /* eventfd, or -1 */
	uint64_t irqfd_addr;    /* the message the engine routes it to */
	uint32_t irqfd_data;
	bool irqfd_routed;
};

/* The transport state of one device: every register the guest sees,
 * so a save/restore hook would serialise this plus the device's own
 * struct (d->priv). */
struct virtio_dev {
	struct machine *m;
	const struct virtio_dev_ops *ops;
	void *priv;                 /* the device type's state */
	pthread_mutex_t lock;
	struct pci_func pci;

	/* Common configuration (§4.1.4.3). */
	uint32_t dfselect, gfselect;
	uint64_t driver_features;
	uint16_t msix_config, qselect;
	uint8_t status, isr, config_gen;
	struct vq vq[VIRTIO_MAX_QUEUES];

	/* Device configuration space (§4.1.4.6): cfg_len bytes the device
	 * type keeps up to date; read-only for the driver. */
	const uint8_t *cfg;
	unsigned cfg_len;

	/* MSI-X (PCI 3.0 §6.8.2) and INTx. */
	unsigned nvec;
	struct virtio_msix msix[VIRTIO_MAX_QUEUES + 1];
	unsigned msix_cap;          /* capability offset in config space */
	unsigned pcicfg_cap;        /* VIRTIO_PCI_CAP_PCI_CFG offset */
	int gsi;                    /* INTx line, or -1 */
	bool intx_level;
	bool irqfd_failed;          /* the engine refused: use machine_msi */

	/* Notifications through ioeventfds (KVM) and the worker serving
	 * them. */
	int kick_fd[VIRTIO_MAX_QUEUES];
	uint64_t kick_gpa;          /* where they are registered, or 0 */
	int stop_fd;
	bool worker;                /* thread started */
	pthread_t thread;
};

/* Creates the PCI function for device type ops on the next free slot,
 * with cfg_len bytes of device configuration at cfg.  Returns 0 or
 * -errno with *e. */
int virtio_dev_init(struct machine *m, struct virtio_dev *d,
		    const struct virtio_dev_ops *ops, void *priv,
		    const uint8_t *cfg, unsigned cfg_len, struct rax_err *e)
	__attribute__((warn_unused_result));
/* Stops the worker, releases eventfds and the slot. */
void virtio_dev_exit(struct virtio_dev *d);

/* Negotiated feature bit? (lock held) */
static inline bool virtio_has(const struct virtio_dev *d, unsigned bit)
{
	return (d->driver_features >> bit) & 1;
}

/* Is the queue usable (DRIVER_OK, enabled, not broken)? (lock held) */
bool virtio_queue_ready(const struct virtio_dev *d, unsigned q);

/* After pushing used buffers on queue q: sends the used-buffer
 * notification the driver asked for (lock held). */
void virtio_queue_interrupt(struct virtio_dev *d, unsigned q);

/* The history's hook for a virtio device (dev.h): the transport's
 * guest-visible state (the PCI configuration space, the common
 * configuration, the queues, the MSI-X table, the INTx level), then
 * extra_len bytes of the device type's at extra (plain data).  Only on
 * an engine without ioeventfds (the interpreter: no worker thread).
 * Returns the size, as dev.h's hooks. */
size_t virtio_dev_snap(struct virtio_dev *d, void *blob,
		       enum dev_snap_op op, void *extra, size_t extra_len);

/* A queue broke (vq_pop returned -EIO): DEVICE_NEEDS_RESET and a
 * configuration-change notification (§2.1.2). (lock held) */
void virtio_dev_broken(struct virtio_dev *d);

#endif
