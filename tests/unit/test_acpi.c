/* Unit tests of the ACPI tables (src/loader/acpi.c) and the ACPI PM
 * device (src/devices/acpipm.c).  The tables are read back from guest
 * memory after ld_load() the way a kernel finds them: a scan of
 * 0xe0000-0xfffff for the RSDP, then the XSDT, checksums, lengths, the
 * FADT's blocks, the MADT's CPUs, and the DSDT walked as AML (every
 * PkgLength must close exactly at its parent's end).  The interrupt
 * routing is compared with the MP table in the same memory: the MADT's
 * overrides with its ISA entries, the _PRT with its PCI entries.
 * Run: ./tests/unit/test_acpi (from the build folder). */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/acpipm.h"
#include "devices/pci.h"
#include "fake_machine.h"
#include "loader/acpi.h"
#include "loader/ld_int.h"
#include "loader/loader.h"
#include "loader/mptable.h"
#include "machine.h"
#include "test.h"

#define MiB (1ull << 20)

static char tmpdir[] = "/tmp/rax-test-acpi.XXXXXX";

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }

/* ---- a bzImage ld_load() accepts (boot.rst, setup header 2.15) -------- */

static const char *write_bzimage(void)
{
	static char path[64];
	size_t setup = 5 * 512, size = setup + 0x400;
	uint8_t *p = calloc(1, size);
	FILE *f;

	snprintf(path, sizeof(path), "%s/bzImage", tmpdir);
	p[0x1f1] = 4;                   /* setup_sects */
	put32(p + 0x1f4, 0x400 / 16);   /* syssize */
	put16(p + 0x1fe, 0xaa55);
	p[0x200] = 0xeb;
	p[0x201] = 0x6a;
	memcpy(p + 0x202, "HdrS", 4);
	put16(p + 0x206, 0x020f);
	p[0x211] = BP_LOADED_HIGH;
	put32(p + 0x214, 0x100000);
	put32(p + 0x22c, 0x7fffffff);   /* initrd_addr_max */
	put32(p + 0x230, 0x200000);     /* kernel_alignment */
	p[0x234] = 1;                   /* relocatable */
	put16(p + 0x236, 3);            /* XLF_KERNEL_64 | CAN_BE_LOADED_ABOVE_4G */
	put32(p + 0x238, 2047);
	put32(p + 0x248, 0x300);        /* payload_offset */
	put32(p + 0x24c, 0x100);
	put32(p + 0x260, 0x800000);     /* init_size */
	p[setup + 0x200] = 0xf4;
	p[setup + 0x300] = 0x1f;        /* a gzip magic the guest would */
	p[setup + 0x301] = 0x8b;        /* decompress */
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, size, f) != size)
		abort();
	fclose(f);
	free(p);
	return path;
}

static struct machine *loaded_machine(unsigned ncpus, bool acpi_off)
{
	struct machine *m = calloc(1, sizeof(*m));
	struct ld_config c = { .kernel = write_bzimage(), .cmdline = "x" };
	struct ld_info li;
	struct rax_err e;

	if (!m || gm_init(&m->mem, 64 * MiB))
		abort();
	m->ncpus = ncpus;
	m->acpi_off = acpi_off;
	CHECK_EQ(ld_load(m, &c, &li, &e), 0);
	return m;
}

static void free_machine(struct machine *m)
{
	gm_destroy(&m->mem);
	free(m);
}

static const uint8_t *gpa(struct machine *m, uint64_t a, uint64_t n)
{
	return gm_ptr(&m->mem, a, n);
}

/* §5.2.5.1: the RSDP on a 16-byte boundary of 0xe0000-0xfffff. */
static const uint8_t *find_rsdp(struct machine *m)
{
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16)
		if (!memcmp(gpa(m, a, 8), "RSD PTR ", 8))
			return gpa(m, a, 36);
	return NULL;
}

/* A table at a: its signature, and a length and checksum that hold. */
static const uint8_t *table(struct machine *m, uint64_t a, const char *sig)
{
	const uint8_t *h = gpa(m, a, 36);

	CHECK(h != NULL);
	if (!h)
		return NULL;
	CHECK(!memcmp(h, sig, 4));
	CHECK(get32(h + 4) >= 36);
	/* in the BIOS area, below the MP table */
	CHECK(a >= 0xe0000 && a + get32(h + 4) <= LD_MPTABLE);
	h = gpa(m, a, get32(h + 4));
	CHECK(h != NULL);
	if (h)
		CHECK_EQ(ld_checksum(h, get32(h + 4)), 0);
	return h;
}

struct tables {
	const uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt, *facs;
};

static void find_tables(struct machine *m, struct tables *t)
{
	const uint8_t *rsdt;
	unsigned n, i;

	memset(t, 0, sizeof(*t));
	t->rsdp = find_rsdp(m);
	CHECK(t->rsdp != NULL);
	if (!t->rsdp)
		return;
	CHECK_EQ(ld_checksum(t->rsdp, 20), 0);
	CHECK_EQ(ld_checksum(t->rsdp, 36), 0);
	CHECK_EQ(t->rsdp[15], 2);            /* revision: XSDT present */
	CHECK_EQ(get32(t->rsdp + 20), 36);
	t->xsdt = table(m, get64(t->rsdp + 24), "XSDT");
	rsdt = table(m, get32(t->rsdp + 16), "RSDT");
	if (!t->xsdt || !rsdt)
		return;
	n = (get32(t->xsdt + 4) - 36) / 8;
	CHECK_EQ(get32(t->xsdt + 4), 36 + 8 * n);
	CHECK_EQ(get32(rsdt + 4), 36 + 4 * n);   /* the same tables */
	for (i = 0; i < n; i++) {
		uint64_t a = get64(t->xsdt + 36 + 8 * i);
		const uint8_t *h = gpa(m, a, 4);

		CHECK_EQ(get32(rsdt + 36 + 4 * i), a);
		if (h && !memcmp(h, "FACP", 4))
			t->fadt = table(m, a, "FACP");
		else if (h && !memcmp(h, "APIC", 4))
			t->madt = table(m, a, "APIC");
		else
			CHECK(!"an unexpected table in the XSDT");
	}
	CHECK(t->fadt && t->madt);
	if (!t->fadt)
		return;
	t->dsdt = table(m, get32(t->fadt + 40), "DSDT");
	CHECK_EQ(get64(t->fadt + 140), get32(t->fadt + 40)); /* X_DSDT */
	t->facs = gpa(m, get32(t->fadt + 36), 64);
	CHECK(t->facs && !memcmp(t->facs, "FACS", 4));
	CHECK_EQ(get32(t->fadt + 36) & 63, 0);
	if (t->facs)
		CHECK_EQ(get32(t->facs + 4), 64);
}

/* ---- the MP table's routing, to compare with ------------------------ */

struct mp_routes {
	int isa_pin[16];        /* ISA IRQ -> IOAPIC pin, -1: none */
	int pci_gsi[32][4];     /* slot, INTx# -> pin, -1: none */
	unsigned cpus;
};

static void mp_routes(struct machine *m, struct mp_routes *r)
{
	const uint8_t *mpf = NULL, *cfg, *p;
	unsigned i, count;

	memset(r, 0xff, sizeof(*r));
	r->cpus = 0;
	for (uint64_t a = 0xf0000; a < 0x100000 && !mpf; a += 16)
		if (!memcmp(gpa(m, a, 4), "_MP_", 4))
			mpf = gpa(m, a, 16);
	CHECK(mpf != NULL);
	if (!mpf)
		return;
	cfg = gpa(m, get32(mpf + 4), 44);
	CHECK_EQ(ld_checksum(cfg, get16(cfg + 4)), 0);
	count = get16(cfg + 34);
	for (i = 0, p = cfg + 44; i < count; i++) {
		if (p[0] == MP_PROCESSOR) {
			r->cpus++;
			p += 20;
			continue;
		}
		/* bus 0 is PCI, bus 1 ISA (mptable.c) */
		if (p[0] == MP_IOINTR && p[1] == MP_INT && p[4] == 1 &&
		    p[5] < 16)
			r->isa_pin[p[5]] = p[7];
		if (p[0] == MP_IOINTR && p[1] == MP_INT && p[4] == 0)
			r->pci_gsi[p[5] >> 2][p[5] & 3] = p[7];
		p += 8;
	}
}

/* ---- FADT and MADT --------------------------------------------------- */

static void fadt_points_at_the_pm_device(const uint8_t *f)
{
	CHECK_EQ(get32(f + 4), 276);
	CHECK_EQ(f[8], 6);                       /* revision */
	CHECK_EQ(get16(f + 46), ACPIPM_SCI_IRQ);
	CHECK_EQ(get32(f + 48), 0);              /* no SMI_CMD */
	CHECK_EQ(get32(f + 56), ACPIPM_EVT);
	CHECK_EQ(get32(f + 64), ACPIPM_CNT);
	CHECK_EQ(get32(f + 76), ACPIPM_TMR);
	CHECK_EQ(f[88], 4);
	CHECK_EQ(f[89], 2);
	CHECK_EQ(f[91], 4);
	CHECK_EQ(get32(f + 112) & ACPI_FADT_HW_REDUCED, 0);
	CHECK(get32(f + 112) & ACPI_FADT_RESET_REG_SUP);
	CHECK_EQ(f[116], ACPI_GAS_IO);           /* RESET_REG: 0xcf9 */
	CHECK_EQ(get64(f + 120), 0xcf9);
	CHECK_EQ(f[128], 0x06);
	CHECK(get16(f + 109) & ACPI_BOOT_8042);
}

static void madt_lists_cpus_and_ioapic(const uint8_t *t, unsigned ncpus,
				       const struct mp_routes *r)
{
	unsigned len = get32(t + 4), off, cpus = 0, ioapics = 0, nmis = 0;
	bool seen[256] = { false };

	CHECK_EQ(get32(t + 36), 0xfee00000);
	CHECK_EQ(get32(t + 40) & ACPI_MADT_PCAT_COMPAT, 1);
	for (off = 44; off + 2 <= len; off += t[off + 1]) {
		const uint8_t *e = t + off;

		CHECK(e[1] >= 2 && off + e[1] <= len);
		if (e[1] < 2)
			return;
		switch (e[0]) {
		case ACPI_MADT_LAPIC:
			CHECK_EQ(e[1], 8);
			CHECK_EQ(e[2], e[3]);    /* UID = APIC ID */
			CHECK_EQ(get32(e + 4) & 1, 1);
			CHECK(!seen[e[3]] && e[3] < ncpus);
			seen[e[3]] = true;
			cpus++;
			break;
		case ACPI_MADT_IOAPIC:
			CHECK_EQ(e[2], LD_IOAPIC_ID);
			CHECK_EQ(get32(e + 4), 0xfec00000);
			CHECK_EQ(get32(e + 8), 0);
			ioapics++;
			break;
		case ACPI_MADT_ISO:
			/* An override must send the IRQ where the MP
			 * table (and the engines) do. */
			CHECK_EQ(e[2], 0);
			CHECK(e[3] < 16);
			if (e[3] < 16)
				CHECK_EQ(get32(e + 4), r->isa_pin[e[3]]);
			break;
		case ACPI_MADT_LAPIC_NMI:
			CHECK_EQ(e[2], 0xff);
			CHECK_EQ(e[5], 1);       /* LINT1, as the MP table */
			nmis++;
			break;
		default:
			CHECK(!"an unexpected MADT entry");
		}
	}
	CHECK_EQ(off, len);
	CHECK_EQ(cpus, ncpus);
	CHECK_EQ(ioapics, 1);
	CHECK_EQ(nmis, 1);
	/* Without an override ISA IRQ n is GSI n (§5.2.12.5): the MP table
	 * must say the same for every ISA IRQ. */
	for (unsigned i = 0; i < 16; i++)
		CHECK_EQ(r->isa_pin[i], i);
}

/* ---- an AML reader for what the DSDT holds (chapter 20) -------------- */

#define MAX_NAMES 600
struct aml_names {
	unsigned n;
	char path[MAX_NAMES][48];
	const uint8_t *obj[MAX_NAMES];   /* the data object */
	bool bad;
};

/* §20.2.4: returns the PkgLength at p and its size in *used, or 0. */
static size_t pkglen(const uint8_t *p, const uint8_t *end, unsigned *used)
{
	unsigned k = (p[0] >> 6) + 1;
	size_t len;

	if (p + k > end)
		return 0;
	if (k == 1) {
		*used = 1;
		return p[0] & 0x3f;
	}
	if (p[0] & 0x30)
		return 0;                /* bits 5:4 must be 0 */
	len = p[0] & 0x0f;
	for (unsigned i = 1; i < k; i++)
		len |= (size_t)p[i] << (4 + 8 * (i - 1));
	*used = k;
	return len;
}

static bool aml_integer(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	unsigned n;

	switch (*p) {
	case 0x00: *v = 0; *pp = p + 1; return true;
	case 0x01: *v = 1; *pp = p + 1; return true;
	case 0x0a: n = 1; break;
	case 0x0b: n = 2; break;
	case 0x0c: n = 4; break;
	case 0x0e: n = 8; break;
	default: return false;
	}
	if (p + 1 + n > end)
		return false;
	*v = 0;
	for (unsigned i = 0; i < n; i++)
		*v |= (uint64_t)p[1 + i] << 8 * i;
	*pp = p + 1 + n;
	return true;
}

/* Skips a DataRefObject; packages must hold exactly their elements. */
static bool aml_skip_data(const uint8_t **pp, const uint8_t *end)
{
	const uint8_t *p = *pp, *obj_end;
	unsigned used, count;
	uint64_t v;
	size_t len;

	if (aml_integer(pp, end, &v))
		return true;
	if (*p == 0x0d) {
		const uint8_t *z = memchr(p + 1, 0, (size_t)(end - p - 1));

		if (!z)
			return false;
		*pp = z + 1;
		return true;
	}
	if (*p != 0x11 && *p != 0x12)
		return false;
	len = pkglen(p + 1, end, &used);
	obj_end = p + 1 + len;
	if (!len || obj_end > end)
		return false;
	*pp = obj_end;
	if (*p == 0x11)
		return true;
	p += 1 + used;
	count = *p++;
	for (unsigned i = 0; i < count; i++)
		if (p >= obj_end || !aml_skip_data(&p, obj_end))
			return false;
	return p == obj_end;
}

static bool aml_namestring(const uint8_t **pp, const uint8_t *end,
			   const char *scope, char *out)
{
	const uint8_t *p = *pp;
	bool root = *p == '\\';

	p += root;
	if (p + 4 > end)
		return false;
	for (unsigned i = 0; i < 4; i++)
		if (!(p[i] == '_' || (p[i] >= 'A' && p[i] <= 'Z') ||
		      (i && p[i] >= '0' && p[i] <= '9')))
			return false;
	snprintf(out, 48, "%s%s%.4s", root ? "\\" : scope,
		 root || !strcmp(scope, "\\") ? "" : ".", (const char *)p);
	*pp = p + 4;
	return true;
}

static void aml_walk(const uint8_t *p, const uint8_t *end, const char *scope,
		     struct aml_names *an)
{
	char path[48];

	while (p < end && !an->bad) {
		bool dev = p[0] == 0x5b && p + 1 < end && p[1] == 0x82;

		if (p[0] == 0x08) {          /* DefName */
			p++;
			if (!aml_namestring(&p, end, scope, path) ||
			    an->n == MAX_NAMES)
				break;
			strcpy(an->path[an->n], path);
			an->obj[an->n++] = p;
			if (!aml_skip_data(&p, end))
				break;
		} else if (p[0] == 0x10 || dev) { /* DefScope, DefDevice */
			const uint8_t *start = p += dev ? 2 : 1, *obj_end;
			unsigned used;
			size_t len = pkglen(p, end, &used);

			obj_end = start + len;
			if (!len || obj_end > end)
				break;
			p += used;
			if (!aml_namestring(&p, obj_end, scope, path))
				break;
			aml_walk(p, obj_end, path, an);
			p = obj_end;
		} else {
			break;
		}
	}
	if (p != end)
		an->bad = true;
}

static const uint8_t *aml_find(const struct aml_names *an, const char *path)
{
	for (unsigned i = 0; i < an->n; i++)
		if (!strcmp(an->path[i], path))
			return an->obj[i];
	return NULL;
}

/* A Package of integers: up to max values into v, the count returned
 * (or -1 when it is not one). */
static int aml_int_package(const uint8_t *p, const uint8_t *end, uint64_t *v,
			   unsigned max)
{
	unsigned used, count;

	if (*p != 0x12 || !pkglen(p + 1, end, &used))
		return -1;
	p += 1 + used;
	count = *p++;
	for (unsigned i = 0; i < count; i++)
		if (i >= max || !aml_integer(&p, end, &v[i]))
			return -1;
	return (int)count;
}

/* _PRT: a Package of Packages {address, pin, source, index}. */
static void prt_matches_the_mp_table(const uint8_t *p, const uint8_t *end,
				     const struct mp_routes *r)
{
	unsigned used, count, entries = 0;
	const uint8_t *obj_end;
	size_t len;

	CHECK_EQ(*p, 0x12);
	len = pkglen(p + 1, end, &used);
	obj_end = p + 1 + len;
	p += 1 + used;
	count = *p++;
	for (unsigned i = 0; i < count && p < obj_end; i++) {
		uint64_t e[4];
		const uint8_t *q = p;

		CHECK_EQ(aml_int_package(p, obj_end, e, 4), 4);
		CHECK(aml_skip_data(&q, obj_end));
		p = q;
		CHECK_EQ(e[0] & 0xffff, 0xffff);   /* any function */
		CHECK_EQ(e[2], 0);                 /* a GSI, not a link */
		CHECK(e[0] >> 16 < 32 && e[1] < 4);
		if (e[0] >> 16 < 32 && e[1] < 4)
			CHECK_EQ(e[3], r->pci_gsi[e[0] >> 16][e[1]]);
		entries++;
	}
	CHECK_EQ(p, obj_end);
	/* every PCI route of the MP table is in the _PRT */
	for (unsigned s = 0; s < 32; s++)
		for (unsigned pin = 0; pin < 4; pin++)
			if (r->pci_gsi[s][pin] >= 0)
				entries--;
	CHECK_EQ(entries, 0);
}

/* _CRS: the resource template of the root bridge (§6.4). */
static void crs_has_bus_0_and_the_pci_window(const uint8_t *p,
					     const uint8_t *end)
{
	unsigned used, found = 0;
	const uint8_t *d, *buf_end;
	uint64_t size;

	CHECK_EQ(*p, 0x11);
	buf_end = p + 1 + pkglen(p + 1, end, &used);
	d = p + 1 + used;
	CHECK(aml_integer(&d, buf_end, &size));
	CHECK_EQ(d + size, buf_end);
	while (d < buf_end) {
		if (d[0] == 0x79) {                 /* End Tag */
			d += 2;
			break;
		}
		if (d[0] == 0x47) {                 /* I/O port */
			if (get16(d + 2) == 0xcf8 && d[7] == 8)
				found |= 1;
			d += 8;
		} else if (d[0] == 0x88) {          /* Word address space */
			if (d[3] == 2 && get16(d + 8) == 0 &&
			    get16(d + 10) == 0xff)
				found |= 2;
			CHECK_EQ(get16(d + 14),
				 get16(d + 10) - get16(d + 8) + 1);
			d += 3 + get16(d + 1);
		} else if (d[0] == 0x87) {          /* DWord address space */
			if (d[3] == 0 && get32(d + 10) == PCI_MMIO_BASE &&
			    get32(d + 14) == PCI_MMIO_END - 1)
				found |= 4;
			CHECK_EQ(get32(d + 22),
				 get32(d + 14) - get32(d + 10) + 1);
			d += 3 + get16(d + 1);
		} else {
			CHECK(!"an unexpected resource descriptor");
			return;
		}
	}
	CHECK_EQ(d, buf_end);
	CHECK_EQ(found, 7);
}

static void dsdt_has_s5_cpus_and_the_root_bridge(const uint8_t *t,
						 unsigned ncpus,
						 const struct mp_routes *r)
{
	static struct aml_names an;
	const uint8_t *end = t + get32(t + 4), *o;
	uint64_t v[4];
	char path[48];

	memset(&an, 0, sizeof(an));
	CHECK(t[8] >= 2);        /* 64-bit integers */
	aml_walk(t + 36, end, "\\", &an);
	CHECK(!an.bad);
	o = aml_find(&an, "\\_S5_");
	CHECK(o != NULL);
	if (o) {
		CHECK_EQ(aml_int_package(o, end, v, 4), 4);
		CHECK_EQ(v[0], ACPIPM_SLP_TYP_S5);
	}
	o = aml_find(&an, "\\_SB_.PCI0._HID");
	CHECK(o && aml_integer(&o, end, v) && v[0] == 0x030ad041);
	o = aml_find(&an, "\\_SB_.PCI0._PRT");
	CHECK(o != NULL);
	if (o)
		prt_matches_the_mp_table(o, end, r);
	o = aml_find(&an, "\\_SB_.PCI0._CRS");
	CHECK(o != NULL);
	if (o)
		crs_has_bus_0_and_the_pci_window(o, end);
	for (unsigned i = 0; i <= ncpus; i++) {
		snprintf(path, sizeof(path), "\\_SB_.C%03X._UID", i);
		o = aml_find(&an, path);
		if (i == ncpus) {
			CHECK(o == NULL);
			break;
		}
		CHECK(o && aml_integer(&o, end, v) && v[0] == i);
		snprintf(path, sizeof(path), "\\_SB_.C%03X._HID", i);
		o = aml_find(&an, path);
		CHECK(o && !memcmp(o, "\x0d" "ACPI0007", 10));
	}
}

static void check_machine(struct machine *m, unsigned ncpus)
{
	struct mp_routes r;
	struct tables t;

	mp_routes(m, &r);
	find_tables(m, &t);
	if (t.fadt)
		fadt_points_at_the_pm_device(t.fadt);
	if (t.madt)
		madt_lists_cpus_and_ioapic(t.madt, ncpus, &r);
	if (t.dsdt)
		dsdt_has_s5_cpus_and_the_root_bridge(t.dsdt, ncpus, &r);
}

/* ---- the tests -------------------------------------------------------- */

static void tables_after_ld_load_are_found_checksummed_and_agree(void)
{
	struct machine *m = loaded_machine(0, false);  /* 0 reads as 1 */
	const struct bp_boot_params *zp = (const void *)gpa(m, LD_ZERO_PAGE,
							  4096);

	check_machine(m, 1);
	/* the zero page points where the scan finds it */
	CHECK_EQ(zp->acpi_rsdp_addr, LD_ACPI);
	CHECK(find_rsdp(m) == gpa(m, LD_ACPI, 36));
	free_machine(m);
}

static void tables_for_n_cpus_list_each_cpu(void)
{
	static const unsigned counts[] = { 2, 4, 64 };  /* --cpus: 1..64 */

	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct machine *m = loaded_machine(counts[i], false);

		check_machine(m, counts[i]);
		free_machine(m);
	}
}

static void acpi_off_writes_no_tables(void)
{
	struct machine *m = loaded_machine(1, true);
	const struct bp_boot_params *zp = (const void *)gpa(m, LD_ZERO_PAGE,
							  4096);
	struct mp_routes r;

	CHECK(find_rsdp(m) == NULL);
	CHECK_EQ(zp->acpi_rsdp_addr, 0);
	mp_routes(m, &r);                 /* the MP table is still there */
	CHECK_EQ(r.cpus, 1);
	free_machine(m);
}

static void bad_cpu_counts_and_small_areas_are_refused(void)
{
	struct guest_mem gm;

	CHECK(!gm_init(&gm, 16 * MiB));
	CHECK_EQ(ld_write_acpi(&gm, LD_ACPI, LD_MPTABLE, 256), -EINVAL);
	CHECK_EQ(ld_write_acpi(&gm, LD_ACPI, LD_ACPI + 256, 1), -ENOSPC);
	CHECK_EQ(ld_write_acpi(&gm, LD_ACPI + 8, LD_MPTABLE, 1), -EFAULT);
	CHECK_EQ(ld_write_acpi(&gm, LD_ACPI, LD_MPTABLE, 1), 0);
	gm_destroy(&gm);
}

/* ---- the PM device ---------------------------------------------------- */

static void pm_timer_counts_3579545_hz_in_24_bits(void)
{
	struct machine *m = fake_machine(0);

	atomic_store(&fake_clock, 0);
	CHECK_EQ(inl(m, ACPIPM_TMR), 0);
	atomic_store(&fake_clock, 1000000000ull);            /* 1 s */
	CHECK_EQ(inl(m, ACPIPM_TMR), 3579545);
	atomic_store(&fake_clock, 1000);                     /* 1 us */
	CHECK_EQ(inl(m, ACPIPM_TMR), 3);
	/* 10 s: 35795450 ticks, wrapped to 24 bits */
	atomic_store(&fake_clock, 10000000000ull);
	CHECK_EQ(inl(m, ACPIPM_TMR), 35795450u & 0xffffff);
	/* bytes read the same counter */
	CHECK_EQ(inb(m, ACPIPM_TMR + 2), (35795450u >> 16) & 0xff);
	fake_machine_free(m);
}

static void pm1_status_enable_and_the_sci(void)
{
	struct machine *m = fake_machine(0);
	uint64_t half = (1ull << 23) * 1000000000ull / 3579545 + 1;

	atomic_store(&fake_clock, 0);
	CHECK_EQ(inw(m, ACPIPM_CNT) & 1, 1);           /* SCI_EN */
	CHECK_EQ(inw(m, ACPIPM_EVT), 0);
	CHECK_EQ(inw(m, ACPIPM_EVT + 2), 0);
	/* bit 23 of the timer flips: TMR_STS */
	atomic_store(&fake_clock, half);
	CHECK_EQ(inw(m, ACPIPM_EVT) & 1, 1);
	CHECK_EQ(atomic_load(&fake_irq_level[ACPIPM_SCI_IRQ]), 0);
	outw(m, ACPIPM_EVT + 2, 1);                   /* TMR_EN */
	CHECK_EQ(inw(m, ACPIPM_EVT + 2), 1);
	CHECK_EQ(atomic_load(&fake_irq_level[ACPIPM_SCI_IRQ]), 1);
	outw(m, ACPIPM_EVT, 1);                       /* write 1 clears */
	CHECK_EQ(inw(m, ACPIPM_EVT) & 1, 0);
	CHECK_EQ(atomic_load(&fake_irq_level[ACPIPM_SCI_IRQ]), 0);
	outw(m, ACPIPM_EVT + 2, 0);
	/* reserved enable bits stay 0 */
	outw(m, ACPIPM_EVT + 2, 0x8000);
	CHECK_EQ(inw(m, ACPIPM_EVT + 2), 0);
	fake_machine_free(m);
}

static void slp_en_with_s5_powers_off_and_others_wake(void)
{
	struct machine *m = fake_machine(0);
	uint16_t s3 = 3 << 10, s5 = ACPIPM_SLP_TYP_S5 << 10;

	/* SLP_TYP alone is a plain write */
	outw(m, ACPIPM_CNT, (uint16_t)(s5 | 1));
	CHECK_EQ(inw(m, ACPIPM_CNT), s5 | 1);
	CHECK(!atomic_load(&m->exit_requested));
	/* another sleep type: no exit, WAK_STS at once */
	outw(m, ACPIPM_CNT, (uint16_t)(s3 | 0x2000 | 1));
	CHECK(!atomic_load(&m->exit_requested));
	CHECK_EQ(inw(m, ACPIPM_EVT) & 0x8000, 0x8000);
	CHECK_EQ(inw(m, ACPIPM_CNT) & 0x2000, 0);     /* SLP_EN reads 0 */
	outw(m, ACPIPM_EVT, 0x8000);
	CHECK_EQ(inw(m, ACPIPM_EVT) & 0x8000, 0);
	/* the low byte alone cannot start a sleep; the high byte with
	 * SLP_EN and S5 powers off with status 0 */
	outb(m, ACPIPM_CNT, 1);
	CHECK(!atomic_load(&m->exit_requested));
	outb(m, ACPIPM_CNT + 1, (uint8_t)((s5 | 0x2000) >> 8));
	CHECK(atomic_load(&m->exit_requested));
	CHECK_EQ(m->exit_status, RAX_EXIT_OK);
	fake_machine_free(m);
}

static void acpi_off_leaves_the_ports_unclaimed(void)
{
	struct machine *m = calloc(1, sizeof(*m));
	struct rax_err e;

	m->ops = &fake_ops;
	m->acpi_off = true;
	CHECK_EQ(dev_init_all(m, &e), 0);
	CHECK_EQ(inl(m, ACPIPM_TMR), 0xffffffffu);
	outw(m, ACPIPM_CNT, (uint16_t)(ACPIPM_SLP_TYP_S5 << 10 | 0x2000));
	CHECK(!atomic_load(&m->exit_requested));
	fake_machine_free(m);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	tables_after_ld_load_are_found_checksummed_and_agree();
	tables_for_n_cpus_list_each_cpu();
	acpi_off_writes_no_tables();
	bad_cpu_counts_and_small_areas_are_refused();
	pm_timer_counts_3579545_hz_in_24_bits();
	pm1_status_enable_and_the_sci();
	slp_en_with_s5_powers_off_and_others_wake();
	acpi_off_leaves_the_ports_unclaimed();
	{
		char path[64];

		snprintf(path, sizeof(path), "%s/bzImage", tmpdir);
		unlink(path);
		rmdir(tmpdir);
	}
	return test_summary("test_acpi");
}
