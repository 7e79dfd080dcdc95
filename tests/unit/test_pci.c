/* Unit tests of the PCI host bridge (src/devices/pci.c): configuration
 * mechanism #1, the host bridge's header, empty slots, read-only fields.
 * Run: ./tests/unit/test_pci (from the build folder). */
#include <errno.h>
#include <stdint.h>

#include "devices/pci.h"
#include "fake_machine.h"
#include "test.h"

static uint32_t cfg_addr(unsigned bus, unsigned dev, unsigned fn,
			 unsigned reg)
{
	return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc);
}

static void config_address_holds_dwords_only(void)
{
	struct machine *m = fake_machine(0);

	outl(m, 0xcf8, 0x80000000); /* Linux's pci_check_type1() */
	CHECK_EQ(inl(m, 0xcf8), 0x80000000);
	outl(m, 0xcf8, 0xffffffff);
	CHECK_EQ(inl(m, 0xcf8), 0x80fffffc); /* reserved bits read 0 */
	outb(m, 0xcfb, 0x00); /* not CONFIG_ADDRESS */
	CHECK_EQ(inl(m, 0xcf8), 0x80fffffc);
	fake_machine_free(m);
}

static void host_bridge_answers_at_00_00_0(void)
{
	struct machine *m = fake_machine(0);

	outl(m, 0xcf8, cfg_addr(0, 0, 0, 0x00));
	CHECK_EQ(inl(m, 0xcfc), 0x12378086);
	CHECK_EQ(inw(m, 0xcfc), 0x8086);
	CHECK_EQ(inw(m, 0xcfe), 0x1237);
	CHECK_EQ(inb(m, 0xcfd), 0x80);
	CHECK_EQ(inb(m, 0xcff), 0x12);
	outl(m, 0xcf8, cfg_addr(0, 0, 0, 0x08));
	CHECK_EQ(inl(m, 0xcfc), 0x06000002); /* host bridge, rev 2 */
	CHECK_EQ(inb(m, 0xcfe), 0x00);       /* subclass */
	CHECK_EQ(inb(m, 0xcff), 0x06);       /* class */
	outl(m, 0xcf8, cfg_addr(0, 0, 0, 0x0c));
	CHECK_EQ(inb(m, 0xcfe), 0x00); /* header type 0, one function */
	outl(m, 0xcf8, cfg_addr(0, 0, 0, 0x10));
	CHECK_EQ(inl(m, 0xcfc), 0); /* no BARs */
	fake_machine_free(m);
}

static void empty_slots_and_other_buses_read_all_ones(void)
{
	struct machine *m = fake_machine(0);

	outl(m, 0xcf8, cfg_addr(0, 1, 0, 0));
	CHECK_EQ(inl(m, 0xcfc), 0xffffffff);
	outl(m, 0xcf8, cfg_addr(0, 31, 7, 0x3c));
	CHECK_EQ(inw(m, 0xcfe), 0xffff);
	outl(m, 0xcf8, cfg_addr(0, 0, 1, 0));
	CHECK_EQ(inl(m, 0xcfc), 0xffffffff);
	outl(m, 0xcf8, cfg_addr(1, 0, 0, 0));
	CHECK_EQ(inl(m, 0xcfc), 0xffffffff);
	outl(m, 0xcf8, 0x00000000); /* enable bit clear */
	CHECK_EQ(inl(m, 0xcfc), 0xffffffff);
	fake_machine_free(m);
}

static void read_only_fields_ignore_writes(void)
{
	struct machine *m = fake_machine(0);

	outl(m, 0xcf8, cfg_addr(0, 0, 0, 0x00));
	outl(m, 0xcfc, 0xffffffff);
	CHECK_EQ(inl(m, 0xcfc), 0x12378086);
	outl(m, 0xcf8, cfg_addr(0, 0, 0, 0x04));
	outw(m, 0xcfc, 0xffff);
	CHECK_EQ(inw(m, 0xcfc), 0x0007); /* only the enables stick */
	outb(m, 0xcfc, 0x02);
	CHECK_EQ(inl(m, 0xcfc), 0x00000002); /* status reads 0 */
	outl(m, 0xcf8, cfg_addr(0, 0, 0, 0x0c));
	outb(m, 0xcfd, 0x40); /* latency timer is writable */
	CHECK_EQ(inl(m, 0xcfc), 0x00004000);
	outl(m, 0xcf8, cfg_addr(0, 0, 0, 0x08));
	outl(m, 0xcfc, 0);
	CHECK_EQ(inl(m, 0xcfc), 0x06000002);
	fake_machine_free(m);
}

static void another_function_can_be_attached(void)
{
	struct machine *m = fake_machine(0);
	struct pci_func f;

	pci_func_init(&f, 0x1af4, 0x1000, 0, 0x020000);
	CHECK(!pci_attach(m, 3 << 3, &f));
	CHECK_EQ(pci_attach(m, 3 << 3, &f), -EEXIST);
	CHECK_EQ(pci_attach(m, 0, &f), -EEXIST);
	outl(m, 0xcf8, cfg_addr(0, 3, 0, 0));
	CHECK_EQ(inl(m, 0xcfc), 0x10001af4);
	outl(m, 0xcf8, cfg_addr(0, 3, 0, 0x08));
	CHECK_EQ(inl(m, 0xcfc), 0x02000000);
	fake_machine_free(m);
}

/* §6.7: the list starts at 0x34 and each next pointer is dword
 * aligned; a capability that does not fit is refused. */
static void capabilities_chain_until_the_space_is_full(void)
{
	struct pci_func f;
	uint8_t cap[64] = { 0x09 };
	unsigned off, n = 0, prev = 0;

	pci_func_init(&f, 0x1af4, 0x1000, 0, 0x020000);
	CHECK(!(f.cfg[PCI_STATUS] & 0x10));
	while ((off = pci_add_cap(&f, cap, 18)) != 0) {
		CHECK(off >= 0x40 && !(off & 3) && off + 18 <= 256);
		if (prev)
			CHECK_EQ(f.cfg[prev + 1], off);
		else
			CHECK_EQ(f.cfg[PCI_CAP_PTR], off);
		prev = off;
		n++;
	}
	CHECK_EQ(n, 9); /* 0x40, 0x54, ... 0xe0 */
	CHECK_EQ(f.cfg[prev + 1], 0);
	CHECK(f.cfg[PCI_STATUS] & 0x10);
	CHECK_EQ(pci_add_cap(&f, cap, 4), 0xf4); /* small ones still fit */
	CHECK_EQ(pci_add_cap(&f, cap, 4), 0xf8);
	CHECK_EQ(pci_add_cap(&f, cap, 4), 0xfc);
	CHECK_EQ(pci_add_cap(&f, cap, 2), 0); /* full: nothing overlaps */
	CHECK_EQ(f.cfg[0xfd], 0);
}

int main(void)
{
	config_address_holds_dwords_only();
	host_bridge_answers_at_00_00_0();
	empty_slots_and_other_buses_read_all_ones();
	read_only_fields_ignore_writes();
	another_function_can_be_attached();
	capabilities_chain_until_the_space_is_full();
	return test_summary("test_pci");
}
