/* Unit tests of the two QEMU devices kvm-unit-tests drive: fw_cfg
 * (selector and data ports, the items and their byte order, the CPU
 * count from the machine) and pc-testdev (the scratch register's byte
 * lanes, interrupt lines, device memory, the page flush).
 * Run: ./tests/unit/test_qemudev (from the build folder). */
#include <stdint.h>
#include <string.h>

#include "fake_machine.h"
#include "test.h"

/* fw_cfg item `key`, `n` bytes, as the guest reads them: select with a
 * 16-bit write to 0x510, then byte reads of 0x511. */
static void fwcfg_read(struct machine *m, uint16_t key, uint8_t *buf,
		       unsigned n)
{
	outw(m, 0x510, key);
	for (unsigned i = 0; i < n; i++)
		buf[i] = inb(m, 0x511);
}

static uint64_t fwcfg_le(struct machine *m, uint16_t key, unsigned n)
{
	uint8_t b[8] = { 0 };
	uint64_t v = 0;

	fwcfg_read(m, key, b, n);
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static void fwcfg_answers_signature_ram_size_and_cpu_count(void)
{
	struct machine *m = fake_machine(64);
	uint8_t b[8];

	fwcfg_read(m, 0x0000, b, 5);
	CHECK(!memcmp(b, "QEMU", 4));
	CHECK_EQ(b[4], 0);                        /* past the end: 0 */
	CHECK_EQ(fwcfg_le(m, 0x0001, 4), 1);      /* port interface, no DMA */
	CHECK_EQ(fwcfg_le(m, 0x0003, 8), 64ull << 20);
	CHECK_EQ(fwcfg_le(m, 0x0005, 2), 1);      /* ncpus 0 reads as 1 */
	m->ncpus = 4;
	CHECK_EQ(fwcfg_le(m, 0x0005, 2), 4);
	CHECK_EQ(fwcfg_le(m, 0x000f, 2), 4);
	CHECK_EQ(fwcfg_le(m, 0x0019, 4), 0);      /* no files */
	/* Unknown items, including kvm-unit-tests' FW_CFG_MAX_RAM (0x11),
	 * read as zeros; so does the data port before any selection of a
	 * known item. */
	CHECK_EQ(fwcfg_le(m, 0x0011, 8), 0);
	CHECK_EQ(fwcfg_le(m, 0x8000, 8), 0);
	fake_machine_free(m);
}

static void fwcfg_selection_restarts_the_item_and_writes_are_ignored(void)
{
	struct machine *m = fake_machine(64);
	uint8_t b[4];

	fwcfg_read(m, 0x0000, b, 2);
	CHECK(!memcmp(b, "QE", 2));
	CHECK_EQ(inb(m, 0x511), 'M');             /* the offset moves on */
	outb(m, 0x511, 0x55);                     /* ignored */
	CHECK_EQ(inb(m, 0x511), 'U');
	fwcfg_read(m, 0x0000, b, 4);              /* reselect: from 0 */
	CHECK(!memcmp(b, "QEMU", 4));
	outb(m, 0x510, 0x03);                     /* not a 16-bit write */
	CHECK_EQ(inb(m, 0x511), 0);               /* still past QEMU's end */
	fake_machine_free(m);
}

static void testdev_scratch_register_keeps_byte_lanes(void)
{
	struct machine *m = fake_machine(0);

	outl(m, 0xe0, 0x11223344);
	CHECK_EQ(inl(m, 0xe0), 0x11223344);
	CHECK_EQ(inb(m, 0xe0), 0x44);
	CHECK_EQ(inb(m, 0xe3), 0x11);
	CHECK_EQ(inw(m, 0xe2), 0x1122);
	outb(m, 0xe2, 0xaa);
	CHECK_EQ(inl(m, 0xe0), 0x11aa3344);
	outw(m, 0xe0, 0x9999);
	CHECK_EQ(inl(m, 0xe0), 0x11aa9999);
	/* QEMU drops accesses that are not naturally aligned. */
	CHECK_EQ(inw(m, 0xe1), 0xffff);
	outw(m, 0xe1, 0x5555);
	outl(m, 0xe2, 0x55667788);
	CHECK_EQ(inl(m, 0xe0), 0x11aa9999);
	fake_machine_free(m);
}

static void testdev_irq_ports_set_lines_by_byte_writes(void)
{
	struct machine *m = fake_machine(0);

	outb(m, 0x2000 + 14, 1);
	CHECK_EQ(atomic_load(&fake_irq_level[14]), 1);
	outb(m, 0x2000 + 14, 0);
	CHECK_EQ(atomic_load(&fake_irq_level[14]), 0);
	outb(m, 0x2000 + 23, 0x80);               /* nonzero: raised */
	CHECK_EQ(atomic_load(&fake_irq_level[23]), 1);
	/* QEMU takes byte writes only: a 4-byte write changes nothing. */
	outl(m, 0x2000 + 11, 1);
	CHECK_EQ(atomic_load(&fake_irq_changes[11]), 0);
	CHECK_EQ(atomic_load(&fake_irq_level[11]), 0);
	fake_machine_free(m);
}

static void testdev_iomem_is_64_kib_of_device_memory(void)
{
	struct machine *m = fake_machine(0);
	uint64_t v = 0x0123456789abcdefull, r = 0;
	uint8_t b = 0;

	CHECK(machine_mmio(m, 0xff000000, true, &v, 8));
	CHECK(machine_mmio(m, 0xff000000, false, &r, 8));
	CHECK_EQ(r, v);
	CHECK(machine_mmio(m, 0xff000003, false, &b, 1));
	CHECK_EQ(b, 0x89);
	v = 0x5a;
	CHECK(machine_mmio(m, 0xff00ffff, true, &v, 1));
	CHECK(machine_mmio(m, 0xff00ffff, false, &b, 1));
	CHECK_EQ(b, 0x5a);
	CHECK(!machine_mmio(m, 0xff010000, false, &b, 1)); /* past its end */
	fake_machine_free(m);
}

static void testdev_flush_keeps_the_page_contents(void)
{
	struct machine *m = fake_machine(16);
	uint8_t *p = gm_ptr(&m->mem, 0x5000, 4096);

	CHECK(p != NULL);
	if (!p)
		return;
	memset(p, 0x6b, 4096);
	outl(m, 0xe4, 0x5123);                    /* any address in it */
	CHECK_EQ(p[0], 0x6b);
	CHECK_EQ(p[4095], 0x6b);
	p[7] = 1;                                 /* still writable */
	CHECK_EQ(p[7], 1);
	outl(m, 0xe4, 0xfff00000);                /* not RAM: ignored */
	CHECK_EQ(inl(m, 0xe4), 0xffffffff);       /* write-only */
	fake_machine_free(m);
}

int main(void)
{
	fwcfg_answers_signature_ram_size_and_cpu_count();
	fwcfg_selection_restarts_the_item_and_writes_are_ignored();
	testdev_scratch_register_keeps_byte_lanes();
	testdev_irq_ports_set_lines_by_byte_writes();
	testdev_iomem_is_64_kib_of_device_memory();
	testdev_flush_keeps_the_page_contents();
	return test_summary("test_qemudev");
}
