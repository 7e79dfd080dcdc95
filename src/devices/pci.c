/* The PCI host bridge: configuration mechanism #1 on ports 0xcf8
 * (CONFIG_ADDRESS) and 0xcfc-0xcff (CONFIG_DATA), bus 0 only.
 *
 * Reference: PCI Local Bus Specification 3.0 §3.2.2.3.2.  CONFIG_ADDRESS
 * is a 32-bit register: bit 31 enable, 23:16 bus, 15:11 device, 10:8
 * function, 7:2 register; bits 30:24 and 1:0 read 0.  Only dword
 * accesses reach it; smaller ones (Linux's probe writes a byte to 0xcfb)
 * pass through as ordinary I/O, which nothing answers.  CONFIG_DATA
 * takes byte, word and dword accesses at any offset; port 0xcfc + n
 * addresses configuration byte register + n.  Port 0xcf9 belongs to the
 * reset control register (rstctl.c), hence the split ranges.
 *
 * Memory BARs (§6.2.5.1) are assigned addresses in a window under the
 * IOAPIC when a function is attached, as firmware would; the guest may
 * move them.  A BAR is claimed on the machine's MMIO bus while the
 * command register's memory enable is set, and re-claimed whenever the
 * guest rewrites the BAR or the command register.
 *
 * 00:00.0 is a host bridge that identifies as the Intel 82441FX PMC
 * (8086:1237 rev 02, the i440FX that QEMU's "pc" machine also shows), so
 * Linux's pci_sanity_check() finds an Intel host bridge.  Only its
 * header is modelled; the PAM and SMRAM registers read 0 and ignore
 * writes. */
#include "devices/pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/dev.h"
#include "log.h"
#include "machine.h"

#define PCI_ADDR_PORT 0xcf8
#define PCI_DATA_PORT 0xcfc
#define PCI_ADDR_ENABLE 0x80000000u
#define PCI_ADDR_MASK 0x80fffffcu /* reserved bits read 0 */

#define HB_VENDOR 0x8086 /* Intel */
#define HB_DEVICE 0x1237 /* 82441FX PCI and memory controller */
#define HB_REVISION 0x02
#define HB_CLASS 0x060000 /* bridge, host bridge */

struct pci_bus {
	struct machine *m;
	uint32_t addr;              /* CONFIG_ADDRESS */
	struct pci_func *fn[256];   /* bus 0, by devfn */
	struct pci_func host;       /* 00:00.0 */
	uint64_t next_mmio;         /* next free address in the window */
};

void pci_func_init(struct pci_func *f, uint16_t vendor, uint16_t device,
		   uint8_t revision, uint32_t class)
{
	unsigned i;

	for (i = 0; i < PCI_CFG_SIZE; i++)
		f->cfg[i] = f->wmask[i] = 0;
	for (i = 0; i < PCI_BARS; i++)
		f->bar[i] = (struct pci_bar){ 0 };
	f->cap_next = 0x40; /* after the type-0 header */
	f->devfn = -1;
	f->m = NULL;
	f->hook = NULL;
	f->opaque = NULL;
	f->cfg[PCI_VENDOR_ID] = (uint8_t)vendor;
	f->cfg[PCI_VENDOR_ID + 1] = (uint8_t)(vendor >> 8);
	f->cfg[PCI_DEVICE_ID] = (uint8_t)device;
	f->cfg[PCI_DEVICE_ID + 1] = (uint8_t)(device >> 8);
	f->cfg[PCI_REVISION] = revision;
	f->cfg[PCI_CLASS_PROG] = (uint8_t)class;
	f->cfg[PCI_CLASS_PROG + 1] = (uint8_t)(class >> 8);
	f->cfg[PCI_CLASS_PROG + 2] = (uint8_t)(class >> 16);
	f->wmask[PCI_COMMAND] = 0x07; /* I/O, memory, bus master (§6.2.2) */
	f->wmask[PCI_LATENCY] = 0xff;
}

void pci_func_set_bar(struct pci_func *f, unsigned n, uint32_t size,
		      io_handler fn, void *opaque, const char *name)
{
	unsigned off = PCI_BAR0 + 4 * n, i;
	uint32_t mask = ~(size - 1);

	f->bar[n] = (struct pci_bar){ size, fn, opaque, name, 0 };
	/* Bits 3:0: memory space, 32-bit, not prefetchable: all 0. */
	for (i = 0; i < 4; i++)
		f->wmask[off + i] = (uint8_t)(mask >> (8 * i));
}

unsigned pci_add_cap(struct pci_func *f, const void *body, unsigned len)
{
	unsigned off = f->cap_next, prev;

	if (!off || len < 2 || off + len > PCI_CFG_SIZE)
		return 0; /* cap_next 0: the space is full */
	memcpy(f->cfg + off, body, len);
	f->cfg[off + 1] = 0;
	/* Link it at the end of the list (§6.7: the pointer at 0x34, then
	 * each capability's next byte). */
	if (!(f->cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST)) {
		f->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
		f->cfg[PCI_CAP_PTR] = (uint8_t)off;
	} else {
		for (prev = f->cfg[PCI_CAP_PTR]; f->cfg[prev + 1];
		     prev = f->cfg[prev + 1])
			;
		f->cfg[prev + 1] = (uint8_t)off;
	}
	/* The next one dword-aligned (§6.7), or none past the end. */
	f->cap_next = off + len + 3 < PCI_CFG_SIZE ?
		      (uint8_t)((off + len + 3) & ~3u) : 0;
	return off;
}

uint32_t pci_cfg_read(const struct pci_func *f, unsigned off, unsigned size)
{
	uint32_t v = 0;
	unsigned i;

	for (i = 0; i < size; i++)
		v |= (uint32_t)f->cfg[off + i] << (8 * i);
	return v;
}

void pci_cfg_write(struct pci_func *f, unsigned off, unsigned size,
		   uint32_t v)
{
	unsigned i;
	uint8_t b, m;

	for (i = 0; i < size; i++) {
		b = (uint8_t)(v >> (8 * i));
		m = f->wmask[off + i];
		f->cfg[off + i] = (uint8_t)((f->cfg[off + i] & ~m) | (b & m));
	}
}

/* Firmware's part: BAR addresses in the window (each aligned to its
 * size, §6.2.5.1) and the INTx line. */
static int assign(struct pci_bus *bus, unsigned devfn, struct pci_func *f)
{
	uint64_t next = bus->next_mmio;
	unsigned slot = devfn >> 3, i, j;

	for (i = 0; i < PCI_BARS; i++) {
		uint64_t size = f->bar[i].size, a;

		if (!size)
			continue;
		a = (next + size - 1) & ~(size - 1);
		if (a + size > PCI_MMIO_END)
			return -ENOSPC;
		for (j = 0; j < 4; j++)
			f->cfg[PCI_BAR0 + 4 * i + j] = (uint8_t)(a >> (8 * j));
		next = a + size;
	}
	bus->next_mmio = next;
	if (f->cfg[PCI_INTR_PIN] && slot >= 1 && slot <= PCI_INTX_SLOTS) {
		f->cfg[PCI_INTR_PIN] = 1; /* INTA# */
		f->cfg[PCI_INTR_LINE] = (uint8_t)PCI_INTX_GSI(slot);
	} else {
		f->cfg[PCI_INTR_PIN] = 0;
	}
	f->wmask[PCI_INTR_LINE] = 0xff; /* scratch for the OS (§6.2.4) */
	return 0;
}

int pci_attach(struct machine *m, unsigned devfn, struct pci_func *f)
{
	struct pci_bus *bus = dev_find(m, "pci");
	int ret;

	if (!bus)
		return -ENODEV;
	if (devfn > 255 || bus->fn[devfn])
		return -EEXIST;
	ret = assign(bus, devfn, f);
	if (ret)
		return ret;
	f->devfn = (int)devfn;
	f->m = m;
	bus->fn[devfn] = f;
	return 0;
}

int pci_attach_free(struct machine *m, struct pci_func *f)
{
	struct pci_bus *bus = dev_find(m, "pci");
	unsigned slot;

	if (!bus)
		return -ENODEV;
	for (slot = 1; slot < 32; slot++)
		if (!bus->fn[slot << 3])
			return pci_attach(m, slot << 3, f);
	return -ENOSPC;
}

void pci_detach(struct pci_func *f)
{
	struct pci_bus *bus;
	unsigned i;

	if (f->devfn < 0 || !(bus = dev_find(f->m, "pci")))
		return;
	for (i = 0; i < PCI_BARS; i++)
		if (f->bar[i].mapped)
			iobus_unregister(&f->m->mmio, f->bar[i].mapped,
					 f->bar[i].fn);
	bus->fn[f->devfn] = NULL;
	f->devfn = -1;
}

int pci_intx_gsi(const struct pci_func *f)
{
	if (f->devfn < 0 || !f->cfg[PCI_INTR_PIN])
		return -1;
	return (int)PCI_INTX_GSI((unsigned)f->devfn >> 3);
}

/* Claims or releases f's BARs on the MMIO bus after a write to the
 * command register or a BAR. */
static void remap_bars(struct pci_func *f)
{
	bool on = pci_cfg_read(f, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY;
	unsigned i;

	for (i = 0; i < PCI_BARS; i++) {
		struct pci_bar *b = &f->bar[i];
		uint64_t a = pci_cfg_read(f, PCI_BAR0 + 4 * i, 4) &
			     ~(uint64_t)(b->size - 1);

		if (!b->size)
			continue;
		if (!on || a + b->size > PCI_MMIO_END || !a)
			a = 0;
		if (a == b->mapped)
			continue;
		if (b->mapped)
			iobus_unregister(&f->m->mmio, b->mapped, b->fn);
		b->mapped = 0;
		if (a && iobus_register(&f->m->mmio, a, b->size, b->fn,
					b->opaque, b->name)) {
			rax_log(LOG_WARN, dev, "pci %02x.%x: BAR%u at %#llx "
				"overlaps another range: not mapped",
				f->devfn >> 3, f->devfn & 7, i,
				(unsigned long long)a);
			continue;
		}
		b->mapped = a;
		rax_log(LOG_DEBUG, dev, "pci %02x.%x: BAR%u %s at %#llx",
			f->devfn >> 3, f->devfn & 7, i, a ? "mapped" : "off",
			(unsigned long long)a);
	}
}

void pci_cfg_restore(struct pci_func *f, const uint8_t *cfg)
{
	memcpy(f->cfg, cfg, sizeof(f->cfg));
	if (f->m)
		remap_bars(f);
}

/* The function CONFIG_ADDRESS selects, or NULL (disabled, another bus,
 * nobody there). */
static struct pci_func *pci_selected(const struct pci_bus *bus)
{
	if (!(bus->addr & PCI_ADDR_ENABLE) || ((bus->addr >> 16) & 0xff))
		return NULL;
	return bus->fn[(bus->addr >> 8) & 0xff];
}

static void pci_addr_io(void *opaque, uint64_t off, bool is_write,
			void *data, unsigned size)
{
	struct pci_bus *bus = opaque;
	uint8_t *p = data;
	unsigned i;

	if (size != 4) {
		for (i = 0; !is_write && i < size; i++)
			p[i] = 0xff;
		return;
	}
	if (is_write)
		bus->addr = (p[0] | p[1] << 8 | p[2] << 16 |
			     (uint32_t)p[3] << 24) & PCI_ADDR_MASK;
	else
		for (i = 0; i < 4; i++)
			p[i] = (uint8_t)(bus->addr >> (8 * i));
}

static void pci_data_io(void *opaque, uint64_t off, bool is_write,
			void *data, unsigned size)
{
	struct pci_bus *bus = opaque;
	struct pci_func *f = pci_selected(bus);
	unsigned reg = (bus->addr & 0xfc) + (unsigned)off;
	uint8_t *p = data;
	uint32_t v = 0;
	unsigned i;

	if (off + size > 4) { /* runs past 0xcff: keep what fits */
		for (i = 4 - (unsigned)off; !is_write && i < size; i++)
			p[i] = 0xff;
		size = 4 - (unsigned)off;
	}
	if (is_write) {
		for (i = 0; i < size; i++)
			v |= (uint32_t)p[i] << (8 * i);
		if (!f)
			return;
		pci_cfg_write(f, reg, size, v);
		if (f->m && reg < PCI_BAR0 + 4 * PCI_BARS &&
		    reg + size > PCI_COMMAND)
			remap_bars(f);
		if (f->hook)
			f->hook(f, reg, size, true);
		return;
	}
	if (f && f->hook)
		f->hook(f, reg, size, false);
	v = f ? pci_cfg_read(f, reg, size) : 0xffffffffu;
	for (i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Byte and word accesses to 0xcfa-0xcfb are not configuration cycles;
 * claimed so they stay quiet under --debug-io. */
static void pci_ignore_io(void *opaque, uint64_t off, bool is_write,
			  void *data, unsigned size)
{
	uint8_t *p = data;
	unsigned i;

	for (i = 0; !is_write && i < size; i++)
		p[i] = 0xff;
}

int dev_pci_init(struct machine *m, void **state, struct rax_err *e)
{
	struct pci_bus *bus;
	int ret;

	bus = calloc(1, sizeof(*bus));
	if (!bus)
		return rax_errf(e, -ENOMEM, "pci: out of memory");
	bus->m = m;
	bus->next_mmio = PCI_MMIO_BASE;
	pci_func_init(&bus->host, HB_VENDOR, HB_DEVICE, HB_REVISION, HB_CLASS);
	bus->host.cfg[PCI_COMMAND] = 0x06; /* memory, bus master */
	bus->fn[0] = &bus->host;
	ret = iobus_register(&m->pio, PCI_ADDR_PORT, 1, pci_addr_io, bus,
			     "pci-addr");
	if (!ret)
		ret = iobus_register(&m->pio, PCI_ADDR_PORT + 2, 2,
				     pci_ignore_io, bus, "pci-addr-hi");
	if (!ret)
		ret = iobus_register(&m->pio, PCI_DATA_PORT, 4, pci_data_io,
				     bus, "pci-data");
	if (ret) {
		rax_errf(e, ret, "pci: cannot claim ports %#x-%#x",
			 PCI_ADDR_PORT, PCI_DATA_PORT + 3);
		goto out_free;
	}
	*state = bus;
	return 0;

out_free:
	free(bus);
	return ret;
}

void dev_pci_exit(struct machine *m, void *state)
{
	free(state);
}

/* The history's hook (dev.h). */
DEV_SNAP_PLAIN(pci, struct pci_bus)
