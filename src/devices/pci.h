/* PCI configuration space for board devices (private to src/devices).
 *
 * A function is 256 bytes of type-0 configuration header and device
 * registers plus a mask of the bits the guest may write; everything
 * else is read-only (PCI Local Bus Specification 3.0 §6.1: writes to
 * read-only fields have no effect).  pci.c decodes configuration
 * mechanism #1 (§3.2.2.3.2) and routes accesses on bus 0; functions
 * nobody attached read all ones, which is how software finds empty
 * slots (§6.1 "Vendor ID ... 0FFFFh"). */
#ifndef RAX_PCI_H
#define RAX_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "iobus.h"

struct machine;

/* Type-0 header offsets (§6.1, figure 6-1). */
enum {
	PCI_VENDOR_ID = 0x00,
	PCI_DEVICE_ID = 0x02,
	PCI_COMMAND = 0x04,
	PCI_STATUS = 0x06,
	PCI_REVISION = 0x08,
	PCI_CLASS_PROG = 0x09, /* class code: prog-if, subclass, class */
	PCI_CACHE_LINE = 0x0c,
	PCI_LATENCY = 0x0d,
	PCI_HEADER_TYPE = 0x0e,
	PCI_BAR0 = 0x10,
	PCI_SUBSYS_VENDOR = 0x2c,
	PCI_SUBSYS_ID = 0x2e,
	PCI_CAP_PTR = 0x34,
	PCI_INTR_LINE = 0x3c,
	PCI_INTR_PIN = 0x3d,
	PCI_CFG_SIZE = 0x100,
};

#define PCI_COMMAND_MEMORY 0x0002     /* §6.2.2: memory space enable */
#define PCI_COMMAND_INTX_OFF 0x0400   /* §6.2.2: interrupt disable */
#define PCI_STATUS_INTX 0x0008        /* §6.2.3: interrupt status */
#define PCI_STATUS_CAP_LIST 0x0010    /* §6.2.3: capabilities list */
#define PCI_BARS 6
#define PCI_CAP_ID_MSIX 0x11          /* §6.8.2 */
#define PCI_CAP_ID_VNDR 0x09          /* vendor specific (virtio) */

/* Where pci_attach() places memory BARs, as firmware would: a window
 * below the IOAPIC, inside the hole under 4 GiB (mem.h). */
#define PCI_MMIO_BASE 0xe0000000ull
#define PCI_MMIO_END 0xfec00000ull

/* INTx wiring of the board (the MP table in src/loader describes it;
 * DEVELOPERS.md "PCI interrupts"): INTA# of slot s, 1 <= s <= 8, is GSI
 * 15 + s (IOAPIC pins 16-23, level triggered, active low).  Functions
 * in other slots have no INTx (interrupt pin 0) and use MSI-X. */
#define PCI_INTX_SLOTS 8
#define PCI_INTX_GSI(slot) (15u + (slot))

/* A 32-bit, non-prefetchable memory BAR (§6.2.5.1). */
struct pci_bar {
	uint32_t size;          /* a power of two >= 4 KiB; 0: unused */
	io_handler fn;          /* accesses, offsets from the BAR */
	void *opaque;
	const char *name;
	uint64_t mapped;        /* where it is claimed on m->mmio, or 0 */
};

struct pci_func {
	uint8_t cfg[PCI_CFG_SIZE];   /* little-endian, as on the bus */
	uint8_t wmask[PCI_CFG_SIZE]; /* 1 bits are guest-writable */
	struct pci_bar bar[PCI_BARS];
	uint8_t cap_next;            /* where pci_add_cap() puts the next
					(0: no room left) */
	int devfn;                   /* set by pci_attach(), else -1 */
	struct machine *m;           /* set by pci_attach() */
	/* Optional: called on the vCPU thread before the guest reads
	 * [off, off+size) (is_write false: the device may refresh cfg[])
	 * and after it wrote there (the masked write is applied; BARs are
	 * already remapped). */
	void (*hook)(struct pci_func *f, unsigned off, unsigned size,
		     bool is_write);
	void *opaque;
};

/* Zeroes f and fills the identification registers; class is the 24-bit
 * class code (class << 16 | subclass << 8 | prog-if).  Only the command
 * register's I/O, memory and bus-master enables and the latency timer
 * are writable; devices widen wmask for their own registers. */
void pci_func_init(struct pci_func *f, uint16_t vendor, uint16_t device,
		   uint8_t revision, uint32_t class);

/* Declares BAR n (0-5) as a 32-bit memory BAR of `size` bytes (a power
 * of two, at least 4 KiB) whose accesses go to fn(opaque, offset...).
 * Sizing works as §6.2.5.1 says: the low log2(size) bits read 0. */
void pci_func_set_bar(struct pci_func *f, unsigned n, uint32_t size,
		      io_handler fn, void *opaque, const char *name);

/* Appends a capability (§6.7) of `len` bytes (body[0] is its ID; bytes
 * 0-1 are rewritten as ID and next pointer) to the list and returns its
 * offset, or 0 when it does not fit.  The body is read-only; devices
 * widen wmask for writable fields. */
unsigned pci_add_cap(struct pci_func *f, const void *body, unsigned len);

/* size is 1, 2 or 4 and off + size <= 256. */
uint32_t pci_cfg_read(const struct pci_func *f, unsigned off, unsigned size);
void pci_cfg_write(struct pci_func *f, unsigned off, unsigned size,
		   uint32_t v);

/* Puts f at 00:dev.fn (devfn = dev << 3 | fn).  For devices after "pci"
 * in the table.  Assigns its BARs addresses in the PCI window, and, when
 * it has an interrupt pin and the slot has INTx wiring, the interrupt
 * line (else the pin reads 0).  Returns 0, -ENODEV (no PCI bus yet),
 * -EEXIST or -ENOSPC (the window is full). */
int pci_attach(struct machine *m, unsigned devfn, struct pci_func *f)
	__attribute__((warn_unused_result));
/* pci_attach() at function 0 of the lowest free slot.  Returns 0,
 * -ENODEV, or -ENOSPC when the bus or the window is full. */
int pci_attach_free(struct machine *m, struct pci_func *f)
	__attribute__((warn_unused_result));

/* Releases f's slot and BAR claims (a device's exit, before pci's). */
void pci_detach(struct pci_func *f);
/* The history (src/history): puts back a configuration space saved from
 * f->cfg and claims the BARs where it places them. */
void pci_cfg_restore(struct pci_func *f, const uint8_t *cfg);

/* The GSI of f's INTx line, or -1 when it has none (after attach). */
int pci_intx_gsi(const struct pci_func *f);

#endif
