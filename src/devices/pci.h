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

#include <stdint.h>

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

struct pci_func {
	uint8_t cfg[PCI_CFG_SIZE];   /* little-endian, as on the bus */
	uint8_t wmask[PCI_CFG_SIZE]; /* 1 bits are guest-writable */
};

_Static_assert(sizeof(struct pci_func) == 2 * PCI_CFG_SIZE,
	       "configuration space is 256 bytes (§6.1)");

/* Zeroes f and fills the identification registers; class is the 24-bit
 * class code (class << 16 | subclass << 8 | prog-if).  Only the command
 * register's I/O, memory and bus-master enables and the latency timer
 * are writable; devices widen wmask for their own registers. */
void pci_func_init(struct pci_func *f, uint16_t vendor, uint16_t device,
		   uint8_t revision, uint32_t class);

/* size is 1, 2 or 4 and off + size <= 256. */
uint32_t pci_cfg_read(const struct pci_func *f, unsigned off, unsigned size);
void pci_cfg_write(struct pci_func *f, unsigned off, unsigned size,
		   uint32_t v);

/* Puts f at 00:dev.fn (devfn = dev << 3 | fn).  For devices after "pci"
 * in the table.  Returns 0, -ENODEV (no PCI bus yet) or -EEXIST. */
int pci_attach(struct machine *m, unsigned devfn, struct pci_func *f)
	__attribute__((warn_unused_result));

#endif
