/* The ACPI tables (ACPI 6.0, chapter 5) rax gives a Linux or Multiboot
 * kernel, in the reserved BIOS area below the MP table: the root pointer
 * (§5.2.5: "the BIOS read-only memory space between 0E0000h and
 * 0FFFFFh", on a 16-byte boundary), XSDT and RSDT listing FADT and MADT,
 * the FADT (§5.2.9) with the PM1a event and control blocks and the PM
 * timer of src/devices/acpipm.c, a FACS (required without
 * HW_REDUCED_ACPI, §5.2.10), the MADT (§5.2.12) and a DSDT in AML
 * assembled here (chapter 20).
 *
 * The MADT and the DSDT describe the board as the MP table does
 * (mptable.c), since both engines wire interrupts that way: one local
 * APIC per CPU (APIC ID = ACPI processor UID = the CPU's index), the
 * IOAPIC at GSI base 0, ISA IRQ n on GSI n (the default when no
 * Interrupt Source Override says otherwise, §5.2.12.5: there is no
 * IRQ0 -> GSI 2 override because the PIT is on pin 0), NMI on LINT1 of
 * every local APIC, and the SCI on IRQ 9, level triggered, active high.
 * The DSDT holds \_S5 (§7.4.2.6), a processor device (ACPI0007, §8.4)
 * per CPU and the PCI root bridge \_SB.PCI0 (PNP0A03) with its _CRS
 * (bus 0, I/O 0-0xcf7 and 0xd00-0xffff, the 0xcf8 configuration ports,
 * the memory window pci.c assigns BARs from) and a _PRT (§6.2.13) giving
 * INTA# of slots 1-8 GSI 16-23 (devices/pci.h PCI_INTX_GSI; the MP
 * table's PCI entries say the same).  A _PRT naming GSIs directly (Source
 * 0) makes them level triggered, active low, as the MP table says.
 *
 * Every table is built in host memory, checksummed and copied: the
 * checksums cover the bytes the guest reads. */
#include "loader/ld_int.h"
#include "loader/acpi.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/acpipm.h"
#include "devices/pci.h"

#define ACPI_OEM_ID "RAX   "
#define ACPI_OEM_TABLE "RAX     "
#define ACPI_CREATOR "RAX "
#define ACPI_FADT_MINOR 0        /* FADT 6.0 */
#define ACPI_MADT_REVISION 4     /* ACPI 6.0 */
#define ACPI_DSDT_REVISION 2     /* 64-bit integers in AML */
#define ACPI_FACS_VERSION 2
#define ACPI_MAX_CPUS 255        /* xAPIC IDs 0-254 */
#define AML_MAX 16384

/* ---- table placement ------------------------------------------------ */

struct acpi_area {
	struct guest_mem *gm;
	uint64_t next, end;
};

/* Copies len bytes to the next `align`-aligned address of the area;
 * returns it, or 0 when the area is full. */
static uint64_t place(struct acpi_area *a, const void *p, size_t len,
		      unsigned align)
{
	uint64_t at = (a->next + align - 1) & ~(uint64_t)(align - 1);

	if (at + len > a->end || gm_write(a->gm, at, p, len))
		return 0;
	a->next = at + len;
	return at;
}

static void header(struct acpi_header *h, const char *sig, size_t len,
		   uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = (uint32_t)len;
	h->revision = rev;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE, 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, ACPI_CREATOR, 4);
	h->creator_revision = 1;
}

/* Sets the checksum of a table of h->length bytes and places it. */
static uint64_t place_table(struct acpi_area *a, struct acpi_header *h)
{
	h->checksum = 0;
	h->checksum = (uint8_t)-ld_checksum(h, h->length);
	return place(a, h, h->length, 16);
}

/* ---- AML (chapter 20) ------------------------------------------------ */

struct aml {
	uint8_t b[AML_MAX];
	size_t n;
	bool full;
};

enum {
	AML_ZERO = 0x00, AML_ONE = 0x01, AML_NAME = 0x08,
	AML_BYTE = 0x0a, AML_WORD = 0x0b, AML_DWORD = 0x0c,
	AML_STRING = 0x0d, AML_QWORD = 0x0e, AML_SCOPE = 0x10,
	AML_BUFFER = 0x11, AML_PACKAGE = 0x12, AML_EXT = 0x5b,
	AML_DEVICE = 0x82, AML_ROOT = 0x5c,
};

static void aml_bytes(struct aml *a, const void *p, size_t len)
{
	if (a->full || a->n + len > AML_MAX) {
		a->full = true;
		return;
	}
	memcpy(a->b + a->n, p, len);
	a->n += len;
}

static void aml_byte(struct aml *a, uint8_t v)
{
	aml_bytes(a, &v, 1);
}

/* A NameSeg (§20.2.2): four characters, '\' first for the root. */
static void aml_name(struct aml *a, const char *s)
{
	if (*s == '\\')
		aml_byte(a, *s++);
	aml_bytes(a, s, 4);
}

/* An integer in its shortest encoding (§20.2.3 ComputationalData). */
static void aml_int(struct aml *a, uint64_t v)
{
	uint8_t le[8];
	unsigned len = v > 0xffffffffu ? 8 : v > 0xffff ? 4 : v > 0xff ? 2 : 1;

	if (v <= 1) {
		aml_byte(a, v ? AML_ONE : AML_ZERO);
		return;
	}
	for (unsigned i = 0; i < 8; i++)
		le[i] = (uint8_t)(v >> 8 * i);
	aml_byte(a, len == 1 ? AML_BYTE : len == 2 ? AML_WORD :
		 len == 4 ? AML_DWORD : AML_QWORD);
	aml_bytes(a, le, len);
}

static void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING);
	aml_bytes(a, s, strlen(s) + 1);
}

/* A PkgLength goes before the bytes from `start` on, which it counts
 * together with itself (§20.2.4): one byte up to 63, else a lead byte
 * (count of following bytes in bits 7:6, the low nibble in 3:0) and
 * 1-3 bytes with the rest. */
static void aml_close(struct aml *a, size_t start)
{
	size_t body = a->n - start, total;
	unsigned k = body + 1 < 0x40 ? 1 : body + 2 < 0x1000 ? 2 :
		     body + 3 < 0x100000 ? 3 : 4;
	uint8_t pk[4];

	if (a->full || a->n + k > AML_MAX || body + k >= (1u << 28)) {
		a->full = true;
		return;
	}
	total = body + k;
	if (k == 1) {
		pk[0] = (uint8_t)total;
	} else {
		pk[0] = (uint8_t)(((k - 1) << 6) | (total & 0xf));
		for (unsigned i = 1; i < k; i++)
			pk[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	memmove(a->b + start + k, a->b + start, body);
	memcpy(a->b + start, pk, k);
	a->n += k;
}

/* Package (§20.2.5.4 DefPackage) of DWORD integers. */
static void aml_package_ints(struct aml *a, const uint32_t *v, unsigned n)
{
	size_t start;

	aml_byte(a, AML_PACKAGE);
	start = a->n;
	aml_byte(a, (uint8_t)n);
	for (unsigned i = 0; i < n; i++)
		aml_int(a, v[i]);
	aml_close(a, start);
}

/* ---- resource descriptors (§6.4) for the root bridge's _CRS ---------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

/* General flags of an address space descriptor (§6.4.3.5.1): _MIF and
 * _MAF set (a fixed window), positive decode. */
#define RES_FIXED 0x0c
enum { RES_MEMORY, RES_IO, RES_BUS };

/* §6.4.3.5.3: Word Address Space Descriptor, 16 bytes. */
static void res_word(struct aml *a, uint8_t type, uint8_t tflags,
		     uint16_t min, uint16_t max)
{
	uint8_t d[16] = { 0x88, 13, 0, type, RES_FIXED, tflags };

	put16(d + 8, min);
	put16(d + 10, max);
	put16(d + 14, (uint16_t)(max - min + 1));
	aml_bytes(a, d, sizeof(d));
}

/* §6.4.3.5.2: DWord Address Space Descriptor, 26 bytes. */
static void res_dword_mem(struct aml *a, uint32_t min, uint32_t max)
{
	uint8_t d[26] = { 0x87, 23, 0, RES_MEMORY, RES_FIXED,
			  0x01 /* _RW read-write, _MEM non-cacheable */ };

	put32(d + 10, min);
	put32(d + 14, max);
	put32(d + 22, max - min + 1);
	aml_bytes(a, d, sizeof(d));
}

/* §6.4.2.5: I/O Port Descriptor, 16-bit decode, 8 bytes. */
static void res_io(struct aml *a, uint16_t port, uint8_t len)
{
	uint8_t d[8] = { 0x47, 0x01, 0, 0, 0, 0, 1, len };

	put16(d + 2, port);
	put16(d + 4, port);
	aml_bytes(a, d, sizeof(d));
}

static void pci0_crs(struct aml *a)
{
	size_t start, size_at;

	aml_byte(a, AML_NAME);
	aml_name(a, "_CRS");
	aml_byte(a, AML_BUFFER);
	start = a->n;
	aml_byte(a, AML_WORD);   /* BufferSize, patched below */
	size_at = a->n;
	aml_bytes(a, "\0", 2);
	res_word(a, RES_BUS, 0, 0x00, 0xff);
	res_io(a, 0xcf8, 8);
	res_word(a, RES_IO, 0x03 /* _RNG: ISA and non-ISA */, 0x0000, 0x0cf7);
	res_word(a, RES_IO, 0x03, 0x0d00, 0xffff);
	res_dword_mem(a, (uint32_t)PCI_MMIO_BASE, (uint32_t)(PCI_MMIO_END - 1));
	aml_bytes(a, "\x79\x00", 2); /* End Tag, §6.4.2.9: checksum 0 */
	if (!a->full)
		put16(a->b + size_at, (uint16_t)(a->n - size_at - 2));
	aml_close(a, start);
}

/* _PRT (§6.2.13): {address 0xSSSSFFFF (any function of slot S), pin
 * (0 = INTA#), source 0 (a GSI), GSI}. */
static void pci0_prt(struct aml *a)
{
	size_t start;

	aml_byte(a, AML_NAME);
	aml_name(a, "_PRT");
	aml_byte(a, AML_PACKAGE);
	start = a->n;
	aml_byte(a, PCI_INTX_SLOTS);
	for (unsigned s = 1; s <= PCI_INTX_SLOTS; s++) {
		uint32_t e[4] = { s << 16 | 0xffff, 0, 0, PCI_INTX_GSI(s) };

		aml_package_ints(a, e, 4);
	}
	aml_close(a, start);
}

static void aml_device_begin(struct aml *a, const char *name, size_t *start)
{
	aml_byte(a, AML_EXT);
	aml_byte(a, AML_DEVICE);
	*start = a->n;
	aml_name(a, name);
}

/* _HID "PNP0A03" as a compressed EISA ID (§6.1.5): three letters of 5
 * bits, then four hex digits, stored big-endian. */
#define EISA_PNP0A03 0x030ad041u

static void dsdt_body(struct aml *a, unsigned ncpus)
{
	static const uint32_t s5[4] = { ACPIPM_SLP_TYP_S5,
					ACPIPM_SLP_TYP_S5, 0, 0 };
	size_t sb, dev;
	char name[5];

	aml_byte(a, AML_NAME);
	aml_name(a, "_S5_");
	aml_package_ints(a, s5, 4);

	aml_byte(a, AML_SCOPE);
	sb = a->n;
	aml_name(a, "\\_SB_");
	for (unsigned i = 0; i < ncpus; i++) {
		snprintf(name, sizeof(name), "C%03X", i);
		aml_device_begin(a, name, &dev);
		aml_byte(a, AML_NAME);
		aml_name(a, "_HID");
		aml_string(a, "ACPI0007");
		aml_byte(a, AML_NAME);
		aml_name(a, "_UID");
		aml_int(a, i);
		aml_close(a, dev);
	}
	aml_device_begin(a, "PCI0", &dev);
	aml_byte(a, AML_NAME);
	aml_name(a, "_HID");
	aml_int(a, EISA_PNP0A03);
	aml_byte(a, AML_NAME);
	aml_name(a, "_UID");
	aml_int(a, 0);
	aml_byte(a, AML_NAME);
	aml_name(a, "_BBN");
	aml_int(a, 0);
	pci0_crs(a);
	pci0_prt(a);
	aml_close(a, dev);
	aml_close(a, sb);
}

/* ---- the tables ------------------------------------------------------ */

static uint64_t write_dsdt(struct acpi_area *area, unsigned ncpus)
{
	struct aml *a = calloc(1, sizeof(*a));
	uint64_t at = 0;

	if (!a)
		return 0;
	a->n = sizeof(struct acpi_header);
	dsdt_body(a, ncpus);
	if (!a->full) {
		header((struct acpi_header *)a->b, "DSDT", a->n,
		       ACPI_DSDT_REVISION);
		at = place_table(area, (struct acpi_header *)a->b);
	}
	free(a);
	return at;
}

static uint64_t write_facs(struct acpi_area *area)
{
	struct acpi_facs f = { .length = sizeof(f),
			       .version = ACPI_FACS_VERSION };

	memcpy(f.signature, "FACS", 4);
	return place(area, &f, sizeof(f), 64);
}

static uint64_t write_fadt(struct acpi_area *area, uint64_t facs,
			   uint64_t dsdt)
{
	struct acpi_fadt f;

	memset(&f, 0, sizeof(f));
	header(&f.h, "FACP", sizeof(f), 6);
	f.firmware_ctrl = (uint32_t)facs;
	f.dsdt = (uint32_t)dsdt;
	f.x_dsdt = dsdt;
	f.sci_int = ACPIPM_SCI_IRQ;
	f.pm1a_evt_blk = ACPIPM_EVT;
	f.pm1a_cnt_blk = ACPIPM_CNT;
	f.pm_tmr_blk = ACPIPM_TMR;
	f.pm1_evt_len = ACPIPM_EVT_LEN;
	f.pm1_cnt_len = ACPIPM_CNT_LEN;
	f.pm_tmr_len = ACPIPM_TMR_LEN;
	f.p_lvl2_lat = 101;      /* > 100: no C2 (§5.2.9) */
	f.p_lvl3_lat = 1001;     /* > 1000: no C3 */
	f.century = 0x32;        /* the CMOS century byte (devices/rtc.c) */
	f.iapc_boot_arch = ACPI_BOOT_LEGACY_DEVICES | ACPI_BOOT_8042 |
			   ACPI_BOOT_NO_VGA;
	f.flags = ACPI_FADT_WBINVD | ACPI_FADT_PROC_C1 |
		  ACPI_FADT_PWR_BUTTON | ACPI_FADT_SLP_BUTTON |
		  ACPI_FADT_FIX_RTC | ACPI_FADT_RESET_REG_SUP;
	/* Reset through devices/rstctl.c: 0x06 (SYS_RST | RST_CPU) to
	 * port 0xcf9, what Linux's reboot=p writes last. */
	f.reset_reg = (struct acpi_gas){ .space_id = ACPI_GAS_IO,
					 .bit_width = 8, .access_size = 1,
					 .address = 0xcf9 };
	f.reset_value = 0x06;
	f.minor_version = ACPI_FADT_MINOR;
	return place_table(area, &f.h);
}

static uint64_t write_madt(struct acpi_area *area, unsigned ncpus)
{
	size_t len = sizeof(struct acpi_madt) +
		     ncpus * sizeof(struct acpi_madt_lapic) +
		     sizeof(struct acpi_madt_ioapic) +
		     sizeof(struct acpi_madt_iso) +
		     sizeof(struct acpi_madt_lapic_nmi);
	uint8_t *t = calloc(1, len), *p;
	struct acpi_madt *h = (struct acpi_madt *)t;
	uint64_t at;

	if (!t)
		return 0;
	header(&h->h, "APIC", len, ACPI_MADT_REVISION);
	h->lapic_addr = LD_LAPIC_ADDR;
	h->flags = ACPI_MADT_PCAT_COMPAT;
	p = t + sizeof(*h);
	for (unsigned i = 0; i < ncpus; i++, p += sizeof(struct acpi_madt_lapic))
		*(struct acpi_madt_lapic *)p = (struct acpi_madt_lapic){
			.type = ACPI_MADT_LAPIC, .length = 8,
			.uid = (uint8_t)i, .apic_id = (uint8_t)i,
			.flags = ACPI_MADT_ENABLED,
		};
	*(struct acpi_madt_ioapic *)p = (struct acpi_madt_ioapic){
		.type = ACPI_MADT_IOAPIC, .length = 12, .id = LD_IOAPIC_ID,
		.addr = LD_IOAPIC_ADDR, .gsi_base = 0,
	};
	p += sizeof(struct acpi_madt_ioapic);
	*(struct acpi_madt_iso *)p = (struct acpi_madt_iso){
		.type = ACPI_MADT_ISO, .length = 10, .bus = 0,
		.source = ACPIPM_SCI_IRQ, .gsi = ACPIPM_SCI_IRQ,
		.flags = ACPI_MPS_ACTIVE_HIGH | ACPI_MPS_LEVEL,
	};
	p += sizeof(struct acpi_madt_iso);
	*(struct acpi_madt_lapic_nmi *)p = (struct acpi_madt_lapic_nmi){
		.type = ACPI_MADT_LAPIC_NMI, .length = 6,
		.uid = ACPI_ALL_PROCESSORS,
		.flags = 0, /* conforms to the bus */
		.lint = 1,
	};
	at = place_table(area, &h->h);
	free(t);
	return at;
}

/* RSDT (§5.2.7, 32-bit entries) or XSDT (§5.2.8, 64-bit entries) of
 * at most ACPI_SDT_MAX tables. */
#define ACPI_SDT_MAX 4
static uint64_t write_sdt(struct acpi_area *area, const char *sig,
			  const uint64_t *tables, unsigned n, unsigned width)
{
	uint8_t t[sizeof(struct acpi_header) + ACPI_SDT_MAX * 8];
	size_t len = sizeof(struct acpi_header) + n * width;

	assert(n <= ACPI_SDT_MAX && width <= 8);
	memset(t, 0, sizeof(t));
	header((struct acpi_header *)t, sig, len, 1);
	for (unsigned i = 0; i < n; i++)
		for (unsigned b = 0; b < width; b++)
			t[sizeof(struct acpi_header) + i * width + b] =
				(uint8_t)(tables[i] >> 8 * b);
	return place_table(area, (struct acpi_header *)t);
}

int ld_write_acpi(struct guest_mem *gm, uint64_t addr, uint64_t end,
		  unsigned ncpus)
{
	struct acpi_area area = { gm, addr + sizeof(struct acpi_rsdp), end };
	uint64_t facs, dsdt, tables[2], rsdt, xsdt;
	struct acpi_rsdp r;

	if (ncpus == 0)
		ncpus = 1;
	if (ncpus > ACPI_MAX_CPUS)
		return -EINVAL;
	if ((addr & 15) || end > UINT32_MAX || addr >= end)
		return -EFAULT;
	facs = write_facs(&area);
	dsdt = write_dsdt(&area, ncpus);
	tables[0] = facs && dsdt ? write_fadt(&area, facs, dsdt) : 0;
	tables[1] = write_madt(&area, ncpus);
	if (!tables[0] || !tables[1])
		return -ENOSPC;
	rsdt = write_sdt(&area, "RSDT", tables, 2, 4);
	xsdt = write_sdt(&area, "XSDT", tables, 2, 8);
	if (!rsdt || !xsdt)
		return -ENOSPC;

	memset(&r, 0, sizeof(r));
	memcpy(r.signature, "RSD PTR ", 8);
	memcpy(r.oem_id, ACPI_OEM_ID, 6);
	r.revision = 2;
	r.rsdt = (uint32_t)rsdt;
	r.length = sizeof(r);
	r.xsdt = xsdt;
	r.checksum = (uint8_t)-ld_checksum(&r, 20);
	r.ext_checksum = (uint8_t)-ld_checksum(&r, sizeof(r));
	return gm_write(gm, addr, &r, sizeof(r)) ? -EFAULT : 0;
}
