/* The MP table (Intel MultiProcessor Specification 1.4) Linux reads to
 * find its processors and IOAPIC: one processor entry per vCPU (local
 * APIC ID = vCPU index, vCPU 0 the BSP; §4.3.1), PCI bus 0 and an ISA bus, one
 * IOAPIC, ISA IRQ n wired to IOAPIC pin n (both engines route it so: no
 * IRQ0 -> pin 2 override), INTA# of PCI slots 1-8 on IOAPIC pins 16-23
 * (devices/pci.h, PCI_INTX_GSI), ExtINT on LINT0 and NMI on LINT1
 * (virtual wire mode, §3.6.2.2).  Linux scans 0xf0000-0xfffff for the
 * floating pointer (§4, "search in the BIOS ROM address space").
 *
 * Bus IDs: Linux matches a PCI device's bus number against the entries'
 * source bus ID (IO_APIC_get_PCI_irq_vector()), so the PCI bus is 0 and
 * the ISA bus follows it, as the spec recommends (§4.3.2: PCI buses
 * first). */
#include "loader/ld_int.h"
#include "loader/mptable.h"

#include <errno.h>
#include <string.h>

#include "devices/pci.h"

#define MP_PCI_BUS 0
#define MP_ISA_BUS 1
/* §4.3.4, Table 4-10: PO = 11b active low, EL = 11b level. */
#define MP_PCI_FLAGS 0x0f

uint8_t ld_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return sum;
}

/* The entries after the processors (which come first, §4.3: "entries
 * ... sorted by type"). */
struct mp_entries {
	struct mp_bus pci, isa;
	struct mp_ioapic ioapic;
	struct mp_intr irq[LD_ISA_IRQS];
	struct mp_intr pci_irq[PCI_INTX_SLOTS];
	struct mp_intr lint[2];
} __attribute__((packed));

#define MP_ENTRY_COUNT (3 + LD_ISA_IRQS + PCI_INTX_SLOTS + 2)

static void fill_cpus(struct mp_processor *p, unsigned ncpus)
{
	for (unsigned i = 0; i < ncpus; i++)
		p[i] = (struct mp_processor){
			.type = MP_PROCESSOR, .lapic_id = (uint8_t)i,
			.lapic_version = LD_LAPIC_VERSION,
			.cpu_flags = MP_CPU_EN | (i ? 0 : MP_CPU_BP),
			.signature = 0x600,        /* family 6 */
			.feature_flags = 0x201,    /* FPU, APIC (CPUID.1:EDX) */
		};
}

static void fill_entries(struct mp_entries *t)
{
	unsigned i;

	t->pci = (struct mp_bus){ .type = MP_BUS, .bus_id = MP_PCI_BUS };
	memcpy(t->pci.bus_type, "PCI   ", 6);
	t->isa = (struct mp_bus){ .type = MP_BUS, .bus_id = MP_ISA_BUS };
	memcpy(t->isa.bus_type, "ISA   ", 6);
	t->ioapic = (struct mp_ioapic){
		.type = MP_IOAPIC, .id = LD_IOAPIC_ID,
		.version = LD_IOAPIC_VERSION, .flags = MP_IOAPIC_EN,
		.addr = LD_IOAPIC_ADDR,
	};
	for (i = 0; i < LD_ISA_IRQS; i++)
		t->irq[i] = (struct mp_intr){
			.type = MP_IOINTR, .irq_type = MP_INT,
			.src_bus = MP_ISA_BUS, .src_irq = (uint8_t)i,
			.dst_apic = LD_IOAPIC_ID, .dst_pin = (uint8_t)i,
		};
	/* A PCI source bus IRQ is the device number in bits 6:2 and the
	 * pin (0 = INTA#) in bits 1:0 (how Linux reads it in
	 * IO_APIC_get_PCI_irq_vector(), arch/x86/kernel/apic/io_apic.c). */
	for (i = 0; i < PCI_INTX_SLOTS; i++)
		t->pci_irq[i] = (struct mp_intr){
			.type = MP_IOINTR, .irq_type = MP_INT,
			.flags = MP_PCI_FLAGS, .src_bus = MP_PCI_BUS,
			.src_irq = (uint8_t)((i + 1) << 2),
			.dst_apic = LD_IOAPIC_ID,
			.dst_pin = (uint8_t)PCI_INTX_GSI(i + 1),
		};
	t->lint[0] = (struct mp_intr){
		.type = MP_LINTR, .irq_type = MP_EXTINT,
		.src_bus = MP_ISA_BUS, .dst_apic = MP_ALL_LAPICS, .dst_pin = 0,
	};
	t->lint[1] = (struct mp_intr){
		.type = MP_LINTR, .irq_type = MP_NMI,
		.src_bus = MP_ISA_BUS, .dst_apic = MP_ALL_LAPICS, .dst_pin = 1,
	};
}

/* Floating pointer at addr, configuration table right after it, then
 * ncpus processor entries and the rest. */
struct mp_image {
	struct mp_floating mpf;
	struct mp_config cfg;
	struct mp_processor cpu[];
} __attribute__((packed));

static void fill_header(struct mp_config *c, unsigned ncpus)
{
	memcpy(c->signature, "PCMP", 4);
	c->length = (uint16_t)(sizeof(struct mp_config) +
			       ncpus * sizeof(struct mp_processor) +
			       sizeof(struct mp_entries));
	c->spec_rev = MP_SPEC_REV;
	memcpy(c->oem_id, "RAX     ", 8);
	memcpy(c->product_id, "RAX VMM     ", 12);
	c->entry_count = (uint16_t)(ncpus + MP_ENTRY_COUNT);
	c->lapic_addr = LD_LAPIC_ADDR;
}

int ld_write_mptable(struct guest_mem *gm, uint64_t addr, unsigned ncpus)
{
	size_t size;
	struct mp_image *t;

	if (!ncpus)
		ncpus = 1;
	if (ncpus > LD_MAX_CPUS)
		return -EINVAL;
	size = sizeof(*t) + ncpus * sizeof(struct mp_processor) +
	       sizeof(struct mp_entries);
	t = gm_ptr(gm, addr, size);
	if (!t || (addr & 15) || addr + size > UINT32_MAX)
		return -EFAULT;
	memset(t, 0, size);
	memcpy(t->mpf.signature, "_MP_", 4);
	t->mpf.physptr = (uint32_t)(addr + sizeof(t->mpf));
	t->mpf.length = 1;
	t->mpf.spec_rev = MP_SPEC_REV;
	fill_header(&t->cfg, ncpus);
	fill_cpus(t->cpu, ncpus);
	fill_entries((struct mp_entries *)(void *)&t->cpu[ncpus]);
	t->cfg.checksum = (uint8_t)-ld_checksum(&t->cfg, t->cfg.length);
	t->mpf.checksum = (uint8_t)-ld_checksum(&t->mpf, sizeof(t->mpf));
	return 0;
}
