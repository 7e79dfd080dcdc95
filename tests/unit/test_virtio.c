/* Unit tests of the virtio-pci devices (src/devices/virtio): the PCI
 * function and its capabilities, feature negotiation, split virtqueues
 * (indirect descriptors, EVENT_IDX, malformed chains), INTx and MSI-X,
 * virtio-blk requests on a real image file, the image locks, and
 * virtio-rng.  A small driver written here from the virtio 1.2 spec
 * drives the devices through machine_pio()/machine_mmio() on a machine
 * with RAM and no engine; the fake engine records interrupts, MSIs and
 * DMA notices.
 * Run: ./tests/unit/test_virtio (from the build folder). */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/devices.h"
#include "devices/virtio/virtio.h"
#include "machine.h"
#include "options.h"
#include "test.h"

#define MiB (1ull << 20)

/* ---- the fake engine ---------------------------------------------------- */

static int irq_level[24];
static unsigned msi_count;
static uint64_t msi_addr;
static uint32_t msi_data;
static uint64_t written_gpa, written_len;

static void fake_set_irq(struct machine *m, unsigned gsi, int level)
{
	if (gsi < 24)
		irq_level[gsi] = level;
}

static void fake_msi(struct machine *m, uint64_t addr, uint32_t data)
{
	msi_count++;
	msi_addr = addr;
	msi_data = data;
}

static void fake_mem_written(struct machine *m, uint64_t gpa, uint64_t len)
{
	written_gpa = gpa;
	written_len = len;
}

static const struct vcpu_ops fake_ops = {
	.name = "fake",
	.set_irq = fake_set_irq,
	.msi = fake_msi,
	.mem_written = fake_mem_written,
};

static struct virtio_host host;
static char img_path[2][64];

/* A 64 MiB machine with the devices o asks for. */
static struct machine *machine_with(const struct rax_options *o)
{
	struct machine *m = calloc(1, sizeof(*m));
	struct rax_err e = { "" };

	if (!m || gm_init(&m->mem, 64 * MiB))
		abort();
	m->ops = &fake_ops;
	if (virtio_host_open(&host, o, &e)) {
		fprintf(stderr, "virtio_host_open: %s\n", e.msg);
		abort();
	}
	m->virtio = &host;
	if (dev_init_all(m, &e)) {
		fprintf(stderr, "dev_init_all: %s\n", e.msg);
		abort();
	}
	memset(irq_level, 0, sizeof(irq_level));
	msi_count = 0;
	return m;
}

static void machine_free(struct machine *m)
{
	dev_exit_all(m);
	virtio_host_close(&host);
	gm_destroy(&m->mem);
	free(m);
}

/* An image of `sectors` sectors, sector n filled with byte n. */
static const char *make_image(unsigned idx, unsigned sectors)
{
	uint8_t s[512];
	int fd;

	snprintf(img_path[idx], sizeof(img_path[idx]),
		 "/tmp/rax-test-virtio-%d-%u.img", (int)getpid(), idx);
	fd = open(img_path[idx], O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (fd < 0)
		abort();
	for (unsigned i = 0; i < sectors; i++) {
		memset(s, (int)i, sizeof(s));
		if (write(fd, s, sizeof(s)) != sizeof(s))
			abort();
	}
	close(fd);
	return img_path[idx];
}

static void read_image(unsigned idx, uint64_t off, void *buf, size_t len)
{
	int fd = open(img_path[idx], O_RDONLY);

	if (fd < 0 || pread(fd, buf, len, (off_t)off) != (ssize_t)len)
		abort();
	close(fd);
}

/* ---- configuration space and MMIO --------------------------------------- */

static uint32_t cfg_rd(struct machine *m, unsigned slot, unsigned off,
		       unsigned size)
{
	uint8_t b[4] = { 0 };
	uint32_t a = 0x80000000u | slot << 11 | (off & 0xfc);

	machine_pio(m, 0xcf8, true, &a, 4);
	machine_pio(m, (uint16_t)(0xcfc + (off & 3)), false, b, size);
	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

static void cfg_wr(struct machine *m, unsigned slot, unsigned off,
		   unsigned size, uint32_t v)
{
	uint32_t a = 0x80000000u | slot << 11 | (off & 0xfc);

	machine_pio(m, 0xcf8, true, &a, 4);
	machine_pio(m, (uint16_t)(0xcfc + (off & 3)), true, &v, size);
}

static uint64_t mmio_rd(struct machine *m, uint64_t gpa, unsigned size)
{
	uint64_t v = 0;

	machine_mmio(m, gpa, false, &v, size);
	return v;
}

static void mmio_wr(struct machine *m, uint64_t gpa, unsigned size,
		    uint64_t v)
{
	machine_mmio(m, gpa, true, &v, size);
}

static void *ram(struct machine *m, uint64_t gpa, uint64_t len)
{
	return gm_ptr(&m->mem, gpa, len);
}

/* ---- a driver (virtio 1.2 §3.1, §4.1) ----------------------------------- */

struct drv {
	struct machine *m;
	unsigned slot;
	uint64_t common, notify, isr, device, msix;
	uint32_t notify_mult;
	uint16_t qsize;
	uint64_t desc, avail, used;
	uint16_t avail_idx, used_seen;
};

/* Finds the capabilities, enables memory decoding. */
static void drv_probe(struct drv *d, struct machine *m, unsigned slot)
{
	uint64_t bar;
	unsigned cap;

	memset(d, 0, sizeof(*d));
	d->m = m;
	d->slot = slot;
	cfg_wr(m, slot, 0x04, 2, 0x0006); /* memory, bus master */
	bar = cfg_rd(m, slot, 0x10, 4) & ~0xfull;
	for (cap = cfg_rd(m, slot, 0x34, 1); cap;
	     cap = cfg_rd(m, slot, cap + 1, 1)) {
		unsigned id = cfg_rd(m, slot, cap, 1);
		unsigned type = cfg_rd(m, slot, cap + 3, 1);
		uint64_t off = cfg_rd(m, slot, cap + 8, 4);

		if (id == 0x11) {
			d->msix = bar + (cfg_rd(m, slot, cap + 4, 4) & ~7u);
			continue;
		}
		if (id != 0x09)
			continue;
		if (type == 1)
			d->common = bar + off;
		else if (type == 2) {
			d->notify = bar + off;
			d->notify_mult = cfg_rd(m, slot, cap + 16, 4);
		} else if (type == 3)
			d->isr = bar + off;
		else if (type == 4)
			d->device = bar + off;
	}
}

static uint64_t drv_features(struct drv *d)
{
	uint64_t f;

	mmio_wr(d->m, d->common + 0x00, 4, 0);
	f = mmio_rd(d->m, d->common + 0x04, 4);
	mmio_wr(d->m, d->common + 0x00, 4, 1);
	return f | mmio_rd(d->m, d->common + 0x04, 4) << 32;
}

/* Status ACKNOWLEDGE | DRIVER, features, FEATURES_OK; returns the
 * status read back. */
static uint8_t drv_negotiate(struct drv *d, uint64_t features)
{
	mmio_wr(d->m, d->common + 0x14, 1, 0);
	mmio_wr(d->m, d->common + 0x14, 1, 3);
	mmio_wr(d->m, d->common + 0x08, 4, 0);
	mmio_wr(d->m, d->common + 0x0c, 4, (uint32_t)features);
	mmio_wr(d->m, d->common + 0x08, 4, 1);
	mmio_wr(d->m, d->common + 0x0c, 4, (uint32_t)(features >> 32));
	mmio_wr(d->m, d->common + 0x14, 1, 3 | 8);
	return (uint8_t)mmio_rd(d->m, d->common + 0x14, 1);
}

/* Queue 0 of size 16 at 1 MiB, then DRIVER_OK. */
static void drv_queue(struct drv *d, uint16_t vector)
{
	d->qsize = 16;
	d->desc = 0x100000;
	d->avail = 0x101000;
	d->used = 0x102000;
	memset(ram(d->m, d->desc, 0x3000), 0, 0x3000);
	d->avail_idx = d->used_seen = 0;
	mmio_wr(d->m, d->common + 0x16, 2, 0);
	mmio_wr(d->m, d->common + 0x18, 2, d->qsize);
	mmio_wr(d->m, d->common + 0x1a, 2, vector);
	mmio_wr(d->m, d->common + 0x20, 4, (uint32_t)d->desc);
	mmio_wr(d->m, d->common + 0x24, 4, 0);
	mmio_wr(d->m, d->common + 0x28, 8, d->avail);
	mmio_wr(d->m, d->common + 0x30, 8, d->used);
	mmio_wr(d->m, d->common + 0x1c, 2, 1);
	mmio_wr(d->m, d->common + 0x14, 1, 3 | 8 | 4);
}

static void put_desc(uint8_t *table, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *p = table + 16 * i;

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

/* Makes the chain at head available and notifies queue 0. */
static void drv_submit(struct drv *d, uint16_t head)
{
	uint8_t *av = ram(d->m, d->avail, 6 + 2 * d->qsize);
	uint16_t slot = d->avail_idx % d->qsize;

	memcpy(av + 4 + 2 * slot, &head, 2);
	d->avail_idx++;
	memcpy(av + 2, &d->avail_idx, 2);
	mmio_wr(d->m, d->notify, 2, 0);
}

static uint16_t used_idx(struct drv *d)
{
	uint16_t v;

	memcpy(&v, ram(d->m, d->used + 2, 2), 2);
	return v;
}

static uint32_t used_len(struct drv *d, uint16_t i)
{
	uint32_t v;

	memcpy(&v, ram(d->m, d->used + 4 + 8 * (i % d->qsize) + 4, 4), 4);
	return v;
}

/* A blk request: header at 0x200000, data at 0x201000, status at
 * 0x210000, descriptors 0-2 (or an indirect table at 0x300000). */
static uint8_t blk_req(struct drv *d, uint32_t type, uint64_t sector,
		       uint32_t len, bool indirect)
{
	uint8_t *hdr = ram(d->m, 0x200000, 16), *st = ram(d->m, 0x210000, 1);
	uint8_t *table = indirect ? ram(d->m, 0x300000, 48) :
			 ram(d->m, d->desc, 48);
	bool in = type == 0 || type == 8;
	unsigned i = 0;

	memset(hdr, 0, 16);
	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
	*st = 0xff;
	put_desc(table, i, 0x200000, 16, 1, (uint16_t)(i + 1));
	i++;
	if (len) {
		put_desc(table, i, 0x201000, len, (uint16_t)(1 | (in ? 2 : 0)),
			 (uint16_t)(i + 1));
		i++;
	}
	put_desc(table, i, 0x210000, 1, 2, 0);
	if (indirect)
		put_desc(ram(d->m, d->desc, 16), 0, 0x300000, 16 * (i + 1), 4,
			 0);
	drv_submit(d, 0);
	return *st;
}

/* ---- tests -------------------------------------------------------------- */

static struct rax_options one_disk(const char *path, bool ro)
{
	struct rax_options o;

	memset(&o, 0, sizeof(o));
	o.disk[0] = (struct opt_disk){ path, ro };
	o.ndisks = 1;
	return o;
}

static void pci_function_has_virtio_ids_caps_and_a_sized_bar(void)
{
	struct rax_options o = one_disk(make_image(0, 8), false);
	struct machine *m = machine_with(&o);
	unsigned cap, types = 0, msix = 0;
	uint32_t bar;

	CHECK_EQ(cfg_rd(m, 1, 0x00, 4), 0x10421af4); /* 0x1040 + blk */
	CHECK_EQ(cfg_rd(m, 1, 0x08, 1), 1);          /* modern only */
	CHECK_EQ(cfg_rd(m, 1, 0x08, 4) >> 16, 0x0100); /* mass storage */
	CHECK_EQ(cfg_rd(m, 1, 0x2c, 4), 0x10421af4);
	CHECK(cfg_rd(m, 1, 0x06, 2) & 0x10);          /* capability list */
	CHECK_EQ(cfg_rd(m, 1, 0x3d, 1), 1);           /* INTA# */
	CHECK_EQ(cfg_rd(m, 1, 0x3c, 1), 16);          /* GSI 16, slot 1 */
	for (cap = cfg_rd(m, 1, 0x34, 1); cap; cap = cfg_rd(m, 1, cap + 1, 1)) {
		if (cfg_rd(m, 1, cap, 1) == 0x11) {
			msix++;
			CHECK_EQ(cfg_rd(m, 1, cap + 2, 2) & 0x7ff, 1); /* 2 */
		} else if (cfg_rd(m, 1, cap, 1) == 0x09) {
			types |= 1u << cfg_rd(m, 1, cap + 3, 1);
			CHECK_EQ(cfg_rd(m, 1, cap + 4, 1), 0); /* BAR 0 */
		}
	}
	CHECK_EQ(msix, 1);
	CHECK_EQ(types, 0x3e); /* common, notify, ISR, device, PCI cfg */
	/* §6.2.5.1 sizing: all ones back reads the size mask. */
	bar = cfg_rd(m, 1, 0x10, 4);
	CHECK(bar >= 0xe0000000u && !(bar & 0x7fff));
	cfg_wr(m, 1, 0x10, 4, 0xffffffff);
	CHECK_EQ(cfg_rd(m, 1, 0x10, 4), 0xffff8000);
	cfg_wr(m, 1, 0x10, 4, bar);
	/* The BAR decodes only with memory space enabled. */
	CHECK_EQ(mmio_rd(m, bar + 0x12, 2), 0xffff); /* unclaimed */
	cfg_wr(m, 1, 0x04, 2, 0x0002);
	CHECK_EQ(mmio_rd(m, bar + 0x12, 2), 1);      /* num_queues */
	/* Moving it moves the registers. */
	cfg_wr(m, 1, 0x10, 4, 0xe8000000);
	CHECK_EQ(mmio_rd(m, bar + 0x12, 2), 0xffff);
	CHECK_EQ(mmio_rd(m, 0xe8000000ull + 0x12, 2), 1);
	machine_free(m);
}

static void features_need_version_1_and_a_subset(void)
{
	struct rax_options o = one_disk(make_image(0, 8), false);
	struct machine *m = machine_with(&o);
	struct drv d;
	uint64_t f;

	drv_probe(&d, m, 1);
	f = drv_features(&d);
	CHECK(f & 1ull << 32);  /* VERSION_1 */
	CHECK(f & 1ull << 28);  /* INDIRECT_DESC */
	CHECK(f & 1ull << 29);  /* EVENT_IDX */
	CHECK(f & 1ull << 9);   /* FLUSH */
	CHECK(!(f & 1ull << 5)); /* not RO */
	CHECK(!(drv_negotiate(&d, f & ~(1ull << 32)) & 8));
	CHECK(!(drv_negotiate(&d, f | 1ull << 40) & 8));
	CHECK(drv_negotiate(&d, f) & 8);
	/* Device configuration: capacity in sectors, blk_size. */
	CHECK_EQ(mmio_rd(m, d.device, 8), 8);
	CHECK_EQ(mmio_rd(m, d.device + 20, 4), 512);
	machine_free(m);
}

static void blk_reads_writes_flushes_and_checks_bounds(void)
{
	struct rax_options o = one_disk(make_image(0, 8), false);
	struct machine *m = machine_with(&o);
	uint8_t *data, buf[1024], want[1024];
	struct drv d;

	drv_probe(&d, m, 1);
	drv_negotiate(&d, drv_features(&d) & ~(1ull << 29));
	drv_queue(&d, 0xffff);
	data = ram(m, 0x201000, 4096);

	CHECK_EQ(blk_req(&d, 0, 3, 1024, false), 0); /* IN sectors 3-4 */
	memset(want, 3, 512);
	memset(want + 512, 4, 512);
	CHECK(!memcmp(data, want, 1024));
	CHECK_EQ(used_idx(&d), 1);
	CHECK_EQ(used_len(&d, 0), 1025);
	CHECK_EQ(written_gpa, 0x210000); /* DMA notices, status last */

	memset(data, 0xab, 512);
	CHECK_EQ(blk_req(&d, 1, 6, 512, false), 0); /* OUT sector 6 */
	read_image(0, 6 * 512, buf, 512);
	memset(want, 0xab, 512);
	CHECK(!memcmp(buf, want, 512));
	CHECK_EQ(used_len(&d, 1), 1);

	CHECK_EQ(blk_req(&d, 4, 0, 0, false), 0);     /* FLUSH */
	CHECK_EQ(blk_req(&d, 0, 7, 1024, false), 1);  /* past the end */
	CHECK_EQ(blk_req(&d, 0, 1, 100, false), 1);   /* not whole sectors */
	CHECK_EQ(blk_req(&d, 99, 0, 0, false), 2);    /* UNSUPP */
	CHECK_EQ(blk_req(&d, 8, 0, 20, false), 0);    /* GET_ID */
	CHECK(!memcmp(data, "rax-test-virtio-", 16));
	/* Through an indirect table (§2.7.5.3). */
	CHECK_EQ(blk_req(&d, 0, 5, 512, true), 0);
	memset(want, 5, 512);
	CHECK(!memcmp(data, want, 512));
	CHECK_EQ(used_idx(&d), 8);
	machine_free(m);
}

static void read_only_images_offer_ro_and_refuse_writes(void)
{
	struct rax_options o = one_disk(make_image(0, 8), true);
	struct machine *m = machine_with(&o);
	uint8_t buf[512], want[512];
	struct drv d;

	drv_probe(&d, m, 1);
	CHECK(drv_features(&d) & 1ull << 5); /* VIRTIO_BLK_F_RO */
	drv_negotiate(&d, drv_features(&d));
	drv_queue(&d, 0xffff);
	memset(ram(m, 0x201000, 512), 0xcd, 512);
	CHECK_EQ(blk_req(&d, 1, 2, 512, false), 1); /* IOERR */
	read_image(0, 2 * 512, buf, 512);
	memset(want, 2, 512);
	CHECK(!memcmp(buf, want, 512));
	CHECK_EQ(blk_req(&d, 0, 2, 512, false), 0); /* reads still work */
	machine_free(m);
}

static void images_are_locked_against_a_second_writer(void)
{
	struct rax_options rw = one_disk(make_image(1, 8), false);
	struct rax_options ro = one_disk(img_path[1], true);
	struct virtio_host a, b;
	struct rax_err e = { "" };

	CHECK_EQ(virtio_host_open(&a, &rw, &e), 0);
	CHECK_EQ(virtio_host_open(&b, &rw, &e), -EBUSY);
	CHECK(strstr(e.msg, "locked") != NULL);
	CHECK_EQ(virtio_host_open(&b, &ro, &e), -EBUSY);
	virtio_host_close(&a);
	CHECK_EQ(virtio_host_open(&a, &ro, &e), 0);
	CHECK_EQ(virtio_host_open(&b, &ro, &e), 0); /* readers share */
	virtio_host_close(&b);
	CHECK_EQ(virtio_host_open(&b, &rw, &e), -EBUSY);
	virtio_host_close(&a);
	CHECK_EQ(virtio_host_open(&a, &(struct rax_options){
		.disk = { { "/nonexistent/rax.img", false } }, .ndisks = 1 },
		&e), -ENOENT);
	CHECK_EQ(virtio_host_open(&a, &(struct rax_options){
		.disk = { { "/tmp", false } }, .ndisks = 1 }, &e), -EISDIR);
	CHECK(strstr(e.msg, "is a directory") != NULL);
}

static void malformed_chains_set_needs_reset_until_reset(void)
{
	struct rax_options o = one_disk(make_image(0, 8), false);
	struct machine *m = machine_with(&o);
	uint8_t *table;
	struct drv d;

	drv_probe(&d, m, 1);
	drv_negotiate(&d, drv_features(&d));
	drv_queue(&d, 0xffff);
	table = ram(m, d.desc, 64);
	put_desc(table, 0, 0x200000, 16, 1, 1); /* a loop: 0 -> 1 -> 0 */
	put_desc(table, 1, 0x201000, 16, 1, 0);
	drv_submit(&d, 0);
	CHECK(mmio_rd(m, d.common + 0x14, 1) & 64);  /* NEEDS_RESET */
	CHECK_EQ(used_idx(&d), 0);
	/* Reset, then a buffer outside RAM. */
	drv_negotiate(&d, drv_features(&d));
	CHECK(!(mmio_rd(m, d.common + 0x14, 1) & 64));
	drv_queue(&d, 0xffff);
	put_desc(table, 0, 0xd0000000ull, 16, 0, 0);
	drv_submit(&d, 0);
	CHECK(mmio_rd(m, d.common + 0x14, 1) & 64);
	/* Rings outside RAM are refused at queue_enable. */
	drv_negotiate(&d, drv_features(&d));
	mmio_wr(m, d.common + 0x16, 2, 0);
	mmio_wr(m, d.common + 0x20, 8, 0xfff00000ull);
	mmio_wr(m, d.common + 0x1c, 2, 1);
	CHECK_EQ(mmio_rd(m, d.common + 0x1c, 2), 0);
	CHECK(mmio_rd(m, d.common + 0x14, 1) & 64);
	machine_free(m);
}

/* Each chain breaks the queue; a reset brings it back (§2.7.5.3.1,
 * §2.7.4.2: the driver requirements a device must not trust). */
static void every_kind_of_bad_chain_is_caught(void)
{
	struct rax_options o = one_disk(make_image(0, 8), false);
	struct machine *m = machine_with(&o);
	uint8_t *table, *ind = NULL;
	uint16_t ahead = 40;
	struct drv d;
	int k;

	drv_probe(&d, m, 1);
	for (k = 0; k < 6; k++) {
		drv_negotiate(&d, drv_features(&d));
		drv_queue(&d, 0xffff);
		table = ram(m, d.desc, 64);
		ind = ram(m, 0x300000, 16 * 1024);
		memset(ind, 0, 16 * 1024);
		switch (k) {
		case 0: /* an indirect table longer than VQ_MAX_SEGS */
			put_desc(table, 0, 0x300000, 16 * 1024, 4, 0);
			break;
		case 1: /* an indirect descriptor inside a table */
			put_desc(table, 0, 0x300000, 32, 4, 0);
			put_desc(ind, 0, 0x300000, 32, 4, 0);
			break;
		case 2: /* a readable buffer after a writable one */
			put_desc(table, 0, 0x200000, 16, 2 | 1, 1);
			put_desc(table, 1, 0x201000, 16, 0, 0);
			break;
		case 3: /* next beyond the table */
			put_desc(table, 0, 0x200000, 16, 1, 99);
			break;
		case 4: /* INDIRECT together with NEXT */
			put_desc(table, 0, 0x300000, 32, 4 | 1, 1);
			break;
		case 5: /* the available index runs ahead of the ring */
			memcpy(ram(m, d.avail + 2, 2), &ahead, 2);
			mmio_wr(m, d.notify, 2, 0);
			break;
		}
		if (k != 5)
			drv_submit(&d, 0);
		CHECK(mmio_rd(m, d.common + 0x14, 1) & 64);
		CHECK_EQ(used_idx(&d), 0);
	}
	drv_negotiate(&d, drv_features(&d));
	drv_queue(&d, 0xffff);
	CHECK_EQ(blk_req(&d, 0, 1, 512, false), 0); /* usable again */
	machine_free(m);
}

static void intx_follows_isr_and_the_interrupt_disable_bit(void)
{
	struct rax_options o = one_disk(make_image(0, 8), false);
	struct machine *m = machine_with(&o);
	struct drv d;

	drv_probe(&d, m, 1);
	drv_negotiate(&d, drv_features(&d) & ~(1ull << 29));
	drv_queue(&d, 0xffff);
	blk_req(&d, 0, 0, 512, false);
	CHECK_EQ(irq_level[16], 1);
	CHECK(cfg_rd(m, 1, 0x06, 2) & 0x08);       /* interrupt status */
	CHECK_EQ(mmio_rd(m, d.isr, 1), 1);         /* queue interrupt */
	CHECK_EQ(irq_level[16], 0);                /* the read cleared it */
	CHECK_EQ(mmio_rd(m, d.isr, 1), 0);
	cfg_wr(m, 1, 0x04, 2, 0x0406);             /* interrupt disable */
	blk_req(&d, 0, 0, 512, false);
	CHECK_EQ(irq_level[16], 0);
	cfg_wr(m, 1, 0x04, 2, 0x0006);
	CHECK_EQ(irq_level[16], 1);
	/* No interrupt when the driver asks for none (§2.7.7). */
	mmio_rd(m, d.isr, 1);
	*(uint16_t *)ram(m, d.avail, 2) = 1;       /* NO_INTERRUPT */
	blk_req(&d, 0, 0, 512, false);
	CHECK_EQ(irq_level[16], 0);
	CHECK_EQ(msi_count, 0);
	machine_free(m);
}

static unsigned msix_cap(struct machine *m, unsigned slot)
{
	unsigned cap;

	for (cap = cfg_rd(m, slot, 0x34, 1); cap;
	     cap = cfg_rd(m, slot, cap + 1, 1))
		if (cfg_rd(m, slot, cap, 1) == 0x11)
			return cap;
	return 0;
}

static void msix_delivers_masks_and_holds_pending_vectors(void)
{
	struct rax_options o = one_disk(make_image(0, 8), false);
	struct machine *m = machine_with(&o);
	unsigned cap = msix_cap(m, 1);
	struct drv d;

	drv_probe(&d, m, 1);
	cfg_wr(m, 1, cap + 2, 2, 0x8000);          /* MSI-X enable */
	/* Entry 1: APIC 0, vector 0x41; still masked. */
	mmio_wr(m, d.msix + 16, 4, 0xfee00000);
	mmio_wr(m, d.msix + 20, 4, 0);
	mmio_wr(m, d.msix + 24, 4, 0x41);
	drv_negotiate(&d, drv_features(&d) & ~(1ull << 29));
	mmio_wr(m, d.common + 0x10, 2, 0);
	CHECK_EQ(mmio_rd(m, d.common + 0x10, 2), 0); /* config vector */
	mmio_wr(m, d.common + 0x16, 2, 0);
	mmio_wr(m, d.common + 0x1a, 2, 7);         /* no such vector */
	CHECK_EQ(mmio_rd(m, d.common + 0x1a, 2), 0xffff);
	drv_queue(&d, 1);
	CHECK_EQ(mmio_rd(m, d.common + 0x1a, 2), 1);
	blk_req(&d, 0, 0, 512, false);
	CHECK_EQ(msi_count, 0);                     /* masked: pending */
	CHECK_EQ(mmio_rd(m, d.msix + 0x1000, 8), 2); /* PBA bit 1 */
	CHECK_EQ(irq_level[16], 0);                 /* no INTx with MSI-X */
	mmio_wr(m, d.msix + 28, 4, 0);              /* unmask */
	CHECK_EQ(msi_count, 1);
	CHECK_EQ(msi_addr, 0xfee00000);
	CHECK_EQ(msi_data, 0x41);
	CHECK_EQ(mmio_rd(m, d.msix + 0x1000, 8), 0);
	blk_req(&d, 0, 0, 512, false);
	CHECK_EQ(msi_count, 2);
	cfg_wr(m, 1, cap + 2, 2, 0xc000);          /* function mask */
	blk_req(&d, 0, 0, 512, false);
	CHECK_EQ(msi_count, 2);
	cfg_wr(m, 1, cap + 2, 2, 0x8000);
	CHECK_EQ(msi_count, 3);
	machine_free(m);
}

static void event_idx_suppresses_until_used_event(void)
{
	struct rax_options o = one_disk(make_image(0, 8), false);
	struct machine *m = machine_with(&o);
	uint16_t *used_event, avail_event;
	struct drv d;

	drv_probe(&d, m, 1);
	drv_negotiate(&d, drv_features(&d)); /* with EVENT_IDX */
	drv_queue(&d, 0xffff);
	used_event = ram(m, d.avail + 4 + 2 * d.qsize, 2);
	*used_event = 5; /* interrupt when used idx passes 5 */
	blk_req(&d, 0, 0, 512, false);
	CHECK_EQ(irq_level[16], 0);
	memcpy(&avail_event, ram(m, d.used + 4 + 8 * d.qsize, 2), 2);
	CHECK_EQ(avail_event, 1); /* notify me at the next one */
	for (int i = 0; i < 4; i++)
		blk_req(&d, 0, 0, 512, false);
	CHECK_EQ(irq_level[16], 0); /* used idx 5 */
	blk_req(&d, 0, 0, 512, false);
	CHECK_EQ(irq_level[16], 1); /* used idx 6 passed used_event 5 */
	machine_free(m);
}

static void pci_cfg_capability_reaches_the_bar(void)
{
	struct rax_options o = one_disk(make_image(0, 8), false);
	struct machine *m = machine_with(&o);
	unsigned cap;

	for (cap = cfg_rd(m, 1, 0x34, 1); cap; cap = cfg_rd(m, 1, cap + 1, 1))
		if (cfg_rd(m, 1, cap, 1) == 0x09 &&
		    cfg_rd(m, 1, cap + 3, 1) == 5)
			break;
	CHECK(cap != 0);
	/* num_queues (common config + 0x12), 2 bytes, through the window
	 * with memory decoding off (§4.1.4.9). */
	cfg_wr(m, 1, cap + 4, 1, 0);
	cfg_wr(m, 1, cap + 8, 4, 0x12);
	cfg_wr(m, 1, cap + 12, 4, 2);
	CHECK_EQ(cfg_rd(m, 1, cap + 16, 2), 1);
	machine_free(m);
}

static void disks_take_slots_in_order_then_rng(void)
{
	struct rax_options o = one_disk(make_image(0, 8), false);
	struct machine *m;
	uint8_t *buf, zero[64] = { 0 };
	struct drv d;

	o.disk[1] = (struct opt_disk){ make_image(1, 16), true };
	o.ndisks = 2;
	o.rng = true;
	m = machine_with(&o);
	CHECK_EQ(cfg_rd(m, 1, 0, 4), 0x10421af4);
	CHECK_EQ(cfg_rd(m, 2, 0, 4), 0x10421af4);
	CHECK_EQ(cfg_rd(m, 3, 0, 4), 0x10441af4);  /* 0x1040 + entropy */
	CHECK_EQ(cfg_rd(m, 4, 0, 4), 0xffffffff);
	drv_probe(&d, m, 2);
	CHECK_EQ(mmio_rd(m, d.device, 8), 16);      /* vdb's capacity */
	/* rng: a 64-byte buffer comes back full of host entropy. */
	drv_probe(&d, m, 3);
	drv_negotiate(&d, drv_features(&d));
	drv_queue(&d, 0xffff);
	buf = ram(m, 0x201000, 64);
	memset(buf, 0, 64);
	put_desc(ram(m, d.desc, 16), 0, 0x201000, 64, 2, 0);
	drv_submit(&d, 0);
	CHECK_EQ(used_idx(&d), 1);
	CHECK_EQ(used_len(&d, 0), 64);
	CHECK(memcmp(buf, zero, 64) != 0); /* 2^-512 to fail by chance */
	machine_free(m);
}

int main(void)
{
	pci_function_has_virtio_ids_caps_and_a_sized_bar();
	features_need_version_1_and_a_subset();
	blk_reads_writes_flushes_and_checks_bounds();
	read_only_images_offer_ro_and_refuse_writes();
	images_are_locked_against_a_second_writer();
	malformed_chains_set_needs_reset_until_reset();
	every_kind_of_bad_chain_is_caught();
	intx_follows_isr_and_the_interrupt_disable_bit();
	msix_delivers_masks_and_holds_pending_vectors();
	event_idx_suppresses_until_used_event();
	pci_cfg_capability_reaches_the_bar();
	disks_take_slots_in_order_then_rng();
	unlink(img_path[0]);
	unlink(img_path[1]);
	return test_summary("test_virtio");
}
