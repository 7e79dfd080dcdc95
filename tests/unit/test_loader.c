/* Unit tests of the kernel loader: setup-header parsing, the zero page,
 * e820, boot page tables (walked by hand), ELF loading, host-side payload
 * decompression (gzip, xz, zstd, lz4 legacy; with the libraries and, when
 * installed, with the exact tool invocations of the kernel build), initrd
 * placement, the MP table, and the real default guest when it is cached.
 * Run: ./tests/unit/test_loader [tools|default-guest] (from the build
 * folder; see main()). */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_ZLIB
#include <zlib.h>
#endif
#ifdef HAVE_LZMA
#include <lzma.h>
#endif
#ifdef HAVE_ZSTD
#include <zstd.h>
#endif
#ifdef HAVE_LZ4
#include <lz4.h>
#endif

#include "guest.h"
#include "loader/ld_int.h"
#include "loader/loader.h"
#include "loader/mptable.h"
#include "machine.h"
#include "test.h"

#define MiB (1ull << 20)
#define ELF_TEXT_PADDR 0x1000000ull
#define ELF_TEXT_VADDR 0xffffffff81000000ull
#define ELF_TEXT_FILESZ 0x100
#define ELF_TEXT_MEMSZ 0x3000
#define ELF_DATA_PADDR 0x1004000ull
#define CMDLINE "console=ttyS0 nokaslr"

static struct machine m;
static char tmpdir[] = "/tmp/rax-test-loader.XXXXXX";

/* --- helpers ------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static const char *tmp_path(const char *name)
{
	static char buf[64][256]; /* a ring: enough for one test's paths */
	static int i;

	i = (i + 1) % 64;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
	return buf[i];
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	CHECK(f != NULL);
	if (!f)
		return;
	CHECK(fwrite(p, 1, n, f) == n);
	fclose(f);
}

static uint8_t *read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	long len;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc(len > 0 ? (size_t)len : 1);
	if (p && fread(p, 1, (size_t)len, f) != (size_t)len) {
		free(p);
		p = NULL;
	}
	fclose(f);
	*n = (size_t)len;
	return p;
}

static void machine_fresh(uint64_t size)
{
	gm_destroy(&m.mem);
	memset(&m.boot_regs, 0, sizeof(m.boot_regs));
	CHECK(!gm_init(&m.mem, size));
}

/* A tiny vmlinux: text at 16 MiB linked at 0xffffffff81000000 with bss,
 * and a percpu-like segment with vaddr 0, as in the real thing. */
static uint8_t *make_elf(uint64_t entry, size_t *len)
{
	size_t size = 0x1000 + 0x200;
	uint8_t *p = calloc(1, size), *ph;
	unsigned i;

	memcpy(p, "\x7f" "ELF\x02\x01\x01", 7);
	put16(p + 16, 2);          /* ET_EXEC */
	put16(p + 18, 62);         /* EM_X86_64 */
	put32(p + 20, 1);
	put64(p + 24, entry);
	put64(p + 32, 64);         /* e_phoff */
	put16(p + 52, 64);         /* e_ehsize */
	put16(p + 54, 56);         /* e_phentsize */
	put16(p + 56, 3);          /* e_phnum */
	ph = p + 64;               /* PT_LOAD text+bss */
	put32(ph, 1);
	put32(ph + 4, 5);
	put64(ph + 8, 0x1000);
	put64(ph + 16, ELF_TEXT_VADDR);
	put64(ph + 24, ELF_TEXT_PADDR);
	put64(ph + 32, ELF_TEXT_FILESZ);
	put64(ph + 40, ELF_TEXT_MEMSZ);
	ph += 56;                  /* PT_NOTE: ignored */
	put32(ph, 4);
	ph += 56;                  /* PT_LOAD percpu, vaddr 0 */
	put32(ph, 1);
	put32(ph + 4, 6);
	put64(ph + 8, 0x1100);
	put64(ph + 16, 0);
	put64(ph + 24, ELF_DATA_PADDR);
	put64(ph + 32, 0x100);
	put64(ph + 40, 0x100);
	for (i = 0; i < 0x200; i++)
		p[0x1000 + i] = (uint8_t)(i * 7 + 1);
	*len = size;
	return p;
}

struct bz_opts {
	uint16_t version;
	uint16_t xloadflags;
	uint8_t setup_sects;
	uint32_t init_size;
};

static const struct bz_opts bz_default = { 0x020f, 3, 4, 0x800000 };

#define BZ_STUB 0x300 /* payload_offset: after the 64-bit entry at 0x200 */

/* A bzImage: setup sectors with the header, then the protected-mode code:
 * a stub (0xf4 hlt at the 64-bit entry) and the payload. */
static uint8_t *make_bzimage(const struct bz_opts *o, const void *payload,
			     size_t plen, size_t *len)
{
	unsigned sects = o->setup_sects ? o->setup_sects : 4;
	size_t setup = (size_t)(sects + 1) * 512;
	size_t pm = (BZ_STUB + plen + 15) & ~(size_t)15;
	uint8_t *p = calloc(1, setup + pm);

	p[0x1f1] = o->setup_sects;
	put32(p + 0x1f4, (uint32_t)(pm / 16));
	put16(p + 0x1fa, 0xffff);
	put16(p + 0x1fe, 0xaa55);
	p[0x200] = 0xeb;
	p[0x201] = 0x6a;           /* header ends at 0x26c */
	memcpy(p + 0x202, "HdrS", 4);
	put16(p + 0x206, o->version);
	p[0x211] = BP_LOADED_HIGH;
	put32(p + 0x214, 0x100000);
	put32(p + 0x22c, 0x7fffffff);
	put32(p + 0x230, 0x200000);
	p[0x234] = 1;
	put16(p + 0x236, o->xloadflags);
	put32(p + 0x238, 2047);
	put32(p + 0x248, BZ_STUB);
	put32(p + 0x24c, (uint32_t)plen);
	put64(p + 0x258, 0x1000000);
	put32(p + 0x260, o->init_size);
	memset(p + setup, 0x90, BZ_STUB);
	p[setup + 0x200] = 0xf4;
	memcpy(p + setup + BZ_STUB, payload, plen);
	*len = setup + pm;
	return p;
}

static int load(const char *kernel, const char *initrd, const char *cmdline,
		bool host, struct ld_info *li, struct rax_err *e)
{
	struct ld_config c = { .kernel = kernel, .initrd = initrd,
			       .cmdline = cmdline, .host_decompress = host };

	e->msg[0] = 0;
	return ld_load(&m, &c, li, e);
}

static const uint8_t *gpa(uint64_t a, uint64_t n)
{
	return gm_ptr(&m.mem, a, n);
}

/* Walks 4-level paging by hand (SDM Vol. 3 §4.5): returns the physical
 * address or ~0 when not present. */
static uint64_t walk(uint64_t cr3, uint64_t va)
{
	uint64_t t = cr3 & ~0xfffull, e = 0;
	int level;

	for (level = 3; level >= 0; level--) {
		unsigned idx = (va >> (12 + 9 * level)) & 511;
		const uint8_t *p = gpa(t + 8 * idx, 8);

		if (!p)
			return ~0ull;
		e = get64(p);
		if (!(e & 1))
			return ~0ull;
		if (level == 1 && (e & 0x80))
			return (e & 0xfffffffe00000ull) | (va & 0x1fffff);
		if (level == 2 && (e & 0x80))
			return ~1ull; /* 1 GiB pages: not expected */
		t = e & 0xffffffffff000ull;
	}
	return t | (va & 0xfff);
}

/* --- setup header -------------------------------------------------- */

static void setup_header_of_a_bzimage_is_parsed_and_sized(void)
{
	uint8_t pl[64] = { 0x1f, 0x8b };
	struct ld_image img = { "bz", NULL, 0 };
	struct ld_bzimage bz;
	struct rax_err e;
	struct bz_opts o = bz_default;
	uint8_t *p;

	img.p = p = make_bzimage(&o, pl, sizeof(pl), &img.size);
	CHECK(ld_is_bzimage(&img));
	CHECK(!ld_is_elf(&img));
	CHECK_EQ(ld_bz_parse(&img, &bz, &e), 0);
	CHECK_EQ(bz.setup_size, 5 * 512);
	CHECK_EQ(bz.pm_size, (BZ_STUB + sizeof(pl) + 15) & ~15u);
	CHECK(bz.pm == p + 5 * 512);
	CHECK_EQ(bz.hdr.version, 0x020f);
	CHECK_EQ(bz.hdr_len, 0x26c - 0x1f1);
	CHECK_EQ(bz.hdr.payload_offset, BZ_STUB);
	CHECK_EQ(bz.hdr.init_size, 0x800000);
	/* relocatable, 2 MiB alignment: rounds 1 MiB up to 2 MiB, but
	 * never below pref_address (16 MiB) */
	CHECK_EQ(bz.footprint_end, 0x1000000 + 0x800000);
	free(p);

	o.setup_sects = 0; /* means 4 */
	img.p = p = make_bzimage(&o, pl, sizeof(pl), &img.size);
	p[0x1f1] = 0;
	CHECK_EQ(ld_bz_parse(&img, &bz, &e), 0);
	CHECK_EQ(bz.setup_size, 5 * 512);
	free(p);
}

static void setup_header_rejects_old_32_bit_and_truncated_images(void)
{
	uint8_t pl[64] = { 0 };
	struct ld_image img = { "bz", NULL, 0 };
	struct ld_bzimage bz;
	struct rax_err e;
	struct bz_opts o = bz_default;
	uint8_t *p;

	o.version = 0x0205;
	img.p = p = make_bzimage(&o, pl, sizeof(pl), &img.size);
	CHECK_EQ(ld_bz_parse(&img, &bz, &e), -ENOEXEC);
	CHECK(strstr(e.msg, "too old") != NULL);
	memcpy(p + 0x202, "Hdr!", 4);
	CHECK_EQ(ld_bz_parse(&img, &bz, &e), -ENOEXEC);
	CHECK(strstr(e.msg, "too old") != NULL);
	free(p);

	o = bz_default;
	o.xloadflags = 0;
	img.p = p = make_bzimage(&o, pl, sizeof(pl), &img.size);
	CHECK_EQ(ld_bz_parse(&img, &bz, &e), -ENOEXEC);
	CHECK(strstr(e.msg, "not a 64-bit kernel") != NULL);
	free(p);

	o = bz_default;
	o.version = 0x020b; /* 64-bit entry needs xloadflags (2.12) */
	img.p = p = make_bzimage(&o, pl, sizeof(pl), &img.size);
	CHECK_EQ(ld_bz_parse(&img, &bz, &e), -ENOEXEC);
	free(p);

	img.p = p = make_bzimage(&bz_default, pl, sizeof(pl), &img.size);
	img.size -= 16;
	CHECK_EQ(ld_bz_parse(&img, &bz, &e), -EINVAL);
	CHECK(strstr(e.msg, "truncated") != NULL);
	img.size += 16;
	put32(p + 0x24c, 0x10000); /* payload past the code */
	CHECK_EQ(ld_bz_parse(&img, &bz, &e), -EINVAL);
	img.size = 0x210;
	CHECK_EQ(ld_bz_parse(&img, &bz, &e), -EINVAL);
	free(p);
}

/* --- ld_load of a bzImage: memory, zero page, registers ---------------- */

static void bzimage_loads_at_1mib_with_a_complete_zero_page(void)
{
	uint8_t pl[64] = { 0x1f, 0x8b }, rd[5000];
	size_t n, i;
	uint8_t *p = make_bzimage(&bz_default, pl, sizeof(pl), &n);
	const char *kpath = tmp_path("bzImage"), *rpath = tmp_path("initrd");
	const struct bp_boot_params *zp;
	struct ld_info li;
	struct rax_err e;

	for (i = 0; i < sizeof(rd); i++)
		rd[i] = (uint8_t)(i ^ 0x5a);
	write_file(kpath, p, n);
	write_file(rpath, rd, sizeof(rd));
	machine_fresh(64 * MiB);
	CHECK_EQ(load(kpath, rpath, CMDLINE, false, &li, &e), 0);
	CHECK(!memcmp(gpa(0x100000, n - 2560), p + 2560, n - 2560));
	CHECK_EQ(li.entry, 0x100200);
	CHECK_EQ(li.protocol, 0x020f);
	CHECK(!li.elf);
	CHECK_EQ(m.boot_regs.rip, 0x100200);
	CHECK_EQ(m.boot_regs.gpr[R_RSI], LD_ZERO_PAGE);
	CHECK_EQ(li.boot_params, LD_ZERO_PAGE);
	CHECK(m.boot_regs.gpr[R_RSP] < LD_ZERO_PAGE &&
	      m.boot_regs.gpr[R_RSP] > LD_PD + 4 * 4096);

	zp = (const void *)gpa(LD_ZERO_PAGE, 4096);
	CHECK_EQ(zp->hdr.boot_flag, 0xaa55);
	CHECK_EQ(zp->hdr.header, BP_HDRS_MAGIC);
	CHECK_EQ(zp->hdr.version, 0x020f);
	CHECK_EQ(zp->hdr.type_of_loader, 0xff);
	CHECK_EQ(zp->hdr.loadflags & (BP_LOADED_HIGH | BP_CAN_USE_HEAP),
		 BP_LOADED_HIGH | BP_CAN_USE_HEAP);
	CHECK(zp->hdr.heap_end_ptr != 0);
	CHECK_EQ(zp->hdr.init_size, 0x800000);
	CHECK_EQ(zp->hdr.kernel_alignment, 0x200000);
	CHECK_EQ(zp->hdr.cmd_line_ptr, LD_CMDLINE);
	CHECK(!strcmp((const char *)gpa(LD_CMDLINE, 32), CMDLINE));
	CHECK_EQ(zp->hdr.ramdisk_size, sizeof(rd));
	CHECK_EQ(zp->hdr.ramdisk_image, li.initrd_start);
	CHECK_EQ(zp->hdr.ramdisk_image & 0xfff, 0);
	CHECK(zp->hdr.ramdisk_image >= 0x1800000); /* above init_size */
	CHECK(zp->hdr.ramdisk_image + sizeof(rd) <= 64 * MiB);
	CHECK(!memcmp(gpa(li.initrd_start, sizeof(rd)), rd, sizeof(rd)));
	CHECK_EQ(zp->sentinel, 0);
	CHECK_EQ(zp->e820_entries, 3);
	CHECK_EQ(get16((const uint8_t *)zp + 0x1fe), 0xaa55);
	CHECK_EQ(*((const uint8_t *)zp + 0x1e8), 3);
	CHECK_EQ(get32((const uint8_t *)zp + 0x228), LD_CMDLINE);
	CHECK_EQ(m.e820_ram_top, 64 * MiB);
	free(p);
}

static void e820_map_has_low_ram_the_bios_area_and_high_ram(void)
{
	struct bp_e820_entry t[BP_E820_MAX];
	struct guest_mem gm;

	CHECK(!gm_init(&gm, 64 * MiB));
	CHECK_EQ(ld_e820(&gm, t, BP_E820_MAX), 3);
	CHECK(t[0].addr == 0 && t[0].size == 0x9fc00 && t[0].type == 1);
	CHECK(t[1].addr == 0x9fc00 && t[1].size == 0x100000 - 0x9fc00 &&
	      t[1].type == 2);
	CHECK(t[2].addr == 0x100000 && t[2].size == 63 * MiB &&
	      t[2].type == 1);
	CHECK(t[1].addr <= LD_MPTABLE && LD_MPTABLE < t[1].addr + t[1].size);
	gm_destroy(&gm);

	CHECK(!gm_init(&gm, 5ull << 30));
	CHECK_EQ(ld_e820(&gm, t, BP_E820_MAX), 4);
	CHECK(t[2].addr == 0x100000 && t[2].addr + t[2].size == MEM_HOLE_START);
	CHECK(t[3].addr == MEM_4G && t[3].size == (5ull << 30) - MEM_HOLE_START
	      && t[3].type == 1);
	gm_destroy(&gm);
}

static void boot_page_tables_map_low_memory_and_the_kernel_half(void)
{
	uint64_t cr3;

	machine_fresh(64 * MiB);
	CHECK_EQ(ld_write_boot_tables(&m.mem), 0);
	ld_boot_regs(&m.boot_regs, 0x1000000, LD_ZERO_PAGE);
	cr3 = m.boot_regs.cr3;
	CHECK_EQ(cr3, LD_PML4);
	CHECK_EQ(walk(cr3, 0), 0);
	CHECK_EQ(walk(cr3, 0x100200), 0x100200);
	CHECK_EQ(walk(cr3, 0x1234567), 0x1234567);
	CHECK_EQ(walk(cr3, 0xbfffffff), 0xbfffffff);
	CHECK_EQ(walk(cr3, 0xfec00000), 0xfec00000);
	CHECK_EQ(walk(cr3, 0xffffffff), 0xffffffff);
	CHECK_EQ(walk(cr3, 0x100000000ull), ~0ull);
	CHECK_EQ(walk(cr3, 0xffffffff80000000ull), 0);
	CHECK_EQ(walk(cr3, 0xffffffff81000000ull), 0x1000000);
	CHECK_EQ(walk(cr3, 0xffffffff8234abcdull), 0x234abcd);
	CHECK_EQ(walk(cr3, 0xffffffffc0000000ull), 0x40000000);
	CHECK_EQ(walk(cr3, 0xffffffffffffffffull), 0x7fffffff);
	CHECK_EQ(walk(cr3, 0xffff800000000000ull), ~0ull);
	CHECK_EQ(walk(cr3, 0x00007f0000000000ull), ~0ull);
}

static void boot_registers_and_gdt_describe_64_bit_mode(void)
{
	const struct rax_regs *r = &m.boot_regs;
	const uint8_t *gdt, *tss;
	unsigned i;

	machine_fresh(64 * MiB);
	CHECK_EQ(ld_write_boot_tables(&m.mem), 0);
	ld_boot_regs(&m.boot_regs, 0x100200, LD_ZERO_PAGE);
	CHECK_EQ(r->rip, 0x100200);
	CHECK_EQ(r->rflags, 2);
	CHECK_EQ(r->cr0, CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_PG);
	CHECK_EQ(r->cr4, CR4_PAE);
	CHECK_EQ(r->efer, EFER_LME | EFER_LMA);
	CHECK_EQ(r->apic_base, 0xfee00900);
	CHECK(r->seg[S_CS].sel == 0x10 && r->seg[S_CS].l == 1 &&
	      r->seg[S_CS].db == 0 && r->seg[S_CS].type == 0xb &&
	      r->seg[S_CS].s == 1 && r->seg[S_CS].present == 1);
	for (i = 0; i < 6; i++) {
		if (i == S_CS)
			continue;
		CHECK(r->seg[i].sel == 0x18 && r->seg[i].type == 3 &&
		      r->seg[i].s == 1 && r->seg[i].present == 1 &&
		      !r->seg[i].unusable);
	}
	CHECK(r->tr.type == 0xb && r->tr.s == 0 && r->tr.present &&
	      !r->tr.unusable && r->tr.limit >= 0x67);
	CHECK(r->ldt.unusable);
	CHECK_EQ(r->idt.limit, 0);
	CHECK_EQ(r->gdt.base, LD_GDT);
	CHECK(r->gdt.limit >= 0x2f);

	gdt = gpa(r->gdt.base, r->gdt.limit + 1u);
	CHECK(gdt != NULL);
	if (!gdt)
		return;
	CHECK_EQ(get64(gdt + 0x10), 0x00af9b000000ffffull);
	CHECK_EQ(get64(gdt + 0x18), 0x00cf93000000ffffull);
	CHECK_EQ((get64(gdt + 0x20) >> 40) & 0x9f, 0x8b); /* P, busy TSS */
	CHECK_EQ((get64(gdt + 0x20) >> 16 & 0xffffff) |
		 (get64(gdt + 0x20) >> 56) << 24 | get64(gdt + 0x28) << 32,
		 r->tr.base);
	CHECK_EQ(get64(gdt + 0x20) & 0xffff, r->tr.limit);
	tss = gpa(r->tr.base, 0x68);
	CHECK(tss && get16(tss + 0x66) == 0x68);
}

/* --- ELF ----------------------------------------------------------- */

static void vmlinux_elf_loads_at_physical_addresses_with_zeroed_bss(void)
{
	size_t n;
	uint8_t *p = make_elf(ELF_TEXT_PADDR, &n);
	const char *path = tmp_path("vmlinux");
	const struct bp_boot_params *zp;
	struct ld_info li;
	struct rax_err e;

	write_file(path, p, n);
	machine_fresh(64 * MiB);
	memset(m.mem.host + ELF_TEXT_PADDR, 0xaa, 0x10000);
	CHECK_EQ(load(path, NULL, NULL, false, &li, &e), 0);
	CHECK(li.elf);
	CHECK_EQ(li.entry, ELF_TEXT_PADDR);
	CHECK_EQ(li.kernel_start, ELF_TEXT_PADDR);
	CHECK_EQ(li.kernel_end, ELF_DATA_PADDR + 0x100);
	CHECK_EQ(m.boot_regs.rip, ELF_TEXT_PADDR);
	CHECK(!memcmp(gpa(ELF_TEXT_PADDR, ELF_TEXT_FILESZ), p + 0x1000,
		      ELF_TEXT_FILESZ));
	CHECK_EQ(*gpa(ELF_TEXT_PADDR + ELF_TEXT_FILESZ, 1), 0);
	CHECK_EQ(*gpa(ELF_TEXT_PADDR + ELF_TEXT_MEMSZ - 1, 1), 0);
	CHECK_EQ(*gpa(ELF_TEXT_PADDR + ELF_TEXT_MEMSZ, 1), 0xaa);
	CHECK(!memcmp(gpa(ELF_DATA_PADDR, 0x100), p + 0x1100, 0x100));
	zp = (const void *)gpa(LD_ZERO_PAGE, 4096);
	CHECK_EQ(zp->hdr.boot_flag, 0xaa55);
	CHECK_EQ(zp->hdr.header, BP_HDRS_MAGIC);
	CHECK_EQ(zp->hdr.version, 0x020f);
	CHECK_EQ(zp->hdr.type_of_loader, 0xff);
	CHECK_EQ(zp->hdr.kernel_alignment, 0x1000000);
	CHECK_EQ(zp->hdr.cmd_line_ptr, LD_CMDLINE);
	CHECK_EQ(*gpa(LD_CMDLINE, 1), 0);
	CHECK_EQ(zp->e820_entries, 3);
	free(p);
}

static void elf_entry_given_virtually_is_translated_to_physical(void)
{
	size_t n;
	uint8_t *p = make_elf(ELF_TEXT_VADDR + 0x10, &n);
	struct ld_image img = { "vmlinux", p, n };
	struct ld_elf_result r;
	struct rax_err e;

	machine_fresh(64 * MiB);
	CHECK_EQ(ld_elf_load(&m.mem, &img, &r, &e), 0);
	CHECK_EQ(r.entry, ELF_TEXT_PADDR + 0x10);
	put64(p + 24, 0x12345678);
	CHECK_EQ(ld_elf_load(&m.mem, &img, &r, &e), -ENOEXEC);
	free(p);
}

static void elf_rejects_foreign_truncated_and_oversized_images(void)
{
	size_t n;
	uint8_t *p = make_elf(ELF_TEXT_PADDR, &n);
	struct ld_image img = { "vmlinux", p, n };
	struct ld_elf_result r;
	struct rax_err e;

	machine_fresh(16 * MiB); /* segments at 16 MiB do not fit */
	CHECK_EQ(ld_elf_load(&m.mem, &img, &r, &e), -EFBIG);
	CHECK(strstr(e.msg, "does not fit") != NULL);
	machine_fresh(64 * MiB);
	img.size = 0x1000 + 0x80;
	CHECK_EQ(ld_elf_load(&m.mem, &img, &r, &e), -EINVAL);
	CHECK(strstr(e.msg, "truncated") != NULL);
	img.size = 100;
	CHECK_EQ(ld_elf_load(&m.mem, &img, &r, &e), -EINVAL);
	img.size = n;
	p[4] = 1; /* ELFCLASS32 */
	CHECK_EQ(ld_elf_load(&m.mem, &img, &r, &e), -ENOEXEC);
	p[4] = 2;
	put16(p + 18, 3); /* EM_386 */
	CHECK_EQ(ld_elf_load(&m.mem, &img, &r, &e), -ENOEXEC);
	put16(p + 18, 62);
	put16(p + 16, 3); /* ET_DYN */
	CHECK_EQ(ld_elf_load(&m.mem, &img, &r, &e), -ENOEXEC);
	put16(p + 16, 2);
	put64(p + 32, ~0ull - 8); /* e_phoff overflow */
	CHECK_EQ(ld_elf_load(&m.mem, &img, &r, &e), -EINVAL);
	put64(p + 32, 64);
	put64(p + 64 + 24, 0x1000); /* below 1 MiB */
	CHECK_EQ(ld_elf_load(&m.mem, &img, &r, &e), -EINVAL);
	put64(p + 64 + 24, ~0ull - 0x10); /* paddr + memsz wraps */
	CHECK_EQ(ld_elf_load(&m.mem, &img, &r, &e), -EFBIG);
	free(p);
}

/* --- payload decompression ---------------------------------------- */

struct blob {
	uint8_t *p;
	size_t n;
};

static void append_size(struct blob *b, uint32_t size)
{
	b->p = realloc(b->p, b->n + 4);
	put32(b->p + b->n, size);
	b->n += 4;
}

#ifdef HAVE_ZLIB
static struct blob compress_gzip(const uint8_t *in, size_t n)
{
	struct blob b = { malloc(n + 1024), 0 };
	z_stream z;

	memset(&z, 0, sizeof(z));
	CHECK(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
			   Z_DEFAULT_STRATEGY) == Z_OK);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = b.p;
	z.avail_out = (uInt)(n + 1024);
	CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
	b.n = z.total_out;
	deflateEnd(&z);
	return b;
}
#endif

#ifdef HAVE_LZMA
/* As the kernel's xz_wrap.sh: x86 BCJ then LZMA2, CRC32 check. */
static struct blob compress_xz(const uint8_t *in, size_t n)
{
	struct blob b = { malloc(n + 1024), 0 };
	lzma_options_lzma opt;
	lzma_filter f[3];

	CHECK(!lzma_lzma_preset(&opt, 6));
	f[0].id = LZMA_FILTER_X86;
	f[0].options = NULL;
	f[1].id = LZMA_FILTER_LZMA2;
	f[1].options = &opt;
	f[2].id = LZMA_VLI_UNKNOWN;
	CHECK(lzma_stream_buffer_encode(f, LZMA_CHECK_CRC32, NULL, in, n, b.p,
					&b.n, n + 1024) == LZMA_OK);
	return b;
}
#endif

#ifdef HAVE_ZSTD
static struct blob compress_zstd(const uint8_t *in, size_t n)
{
	struct blob b = { malloc(ZSTD_compressBound(n)), 0 };

	b.n = ZSTD_compress(b.p, ZSTD_compressBound(n), in, n, 19);
	CHECK(!ZSTD_isError(b.n));
	return b;
}
#endif

#ifdef HAVE_LZ4
/* The legacy frame: magic, then (size, block) pairs of <= 8 MiB input;
 * the test uses 1 KiB input blocks to exercise several of them. */
static struct blob compress_lz4(const uint8_t *in, size_t n)
{
	size_t cap = 4 + n / 1024 * 8 + LZ4_compressBound((int)n) * 2 + 64;
	struct blob b = { malloc(cap), 4 };
	size_t off, chunk;
	int r;

	put32(b.p, 0x184c2102);
	for (off = 0; off < n; off += chunk) {
		chunk = n - off < 1024 ? n - off : 1024;
		r = LZ4_compress_default((const char *)in + off,
					 (char *)b.p + b.n + 4, (int)chunk,
					 (int)(cap - b.n - 4));
		CHECK(r > 0);
		put32(b.p + b.n, (uint32_t)r);
		b.n += 4 + (size_t)r;
	}
	return b;
}
#endif

/* Loads a bzImage carrying payload b with host decompression and checks
 * it ended up as the ELF, with the bzImage's setup header kept. */
static void check_payload(const char *what, struct blob b, const uint8_t *elf)
{
	size_t n;
	uint8_t *p = make_bzimage(&bz_default, b.p, b.n, &n);
	const char *path = tmp_path("bzImage-payload");
	const struct bp_boot_params *zp;
	struct ld_info li;
	struct rax_err e;
	int ret;

	write_file(path, p, n);
	machine_fresh(64 * MiB);
	ret = load(path, NULL, "", true, &li, &e);
	if (ret)
		fprintf(stderr, "%s: %s\n", what, e.msg);
	CHECK_EQ(ret, 0);
	CHECK(li.elf);
	CHECK_EQ(li.entry, ELF_TEXT_PADDR);
	CHECK_EQ(li.protocol, 0x020f);
	CHECK_EQ(m.boot_regs.rip, ELF_TEXT_PADDR);
	CHECK(!memcmp(gpa(ELF_TEXT_PADDR, ELF_TEXT_FILESZ), elf + 0x1000,
		      ELF_TEXT_FILESZ));
	zp = (const void *)gpa(LD_ZERO_PAGE, 4096);
	CHECK_EQ(zp->hdr.kernel_alignment, 0x200000); /* the bzImage's */
	CHECK_EQ(zp->hdr.init_size, 0x800000);
	CHECK_EQ(zp->hdr.payload_offset, BZ_STUB);
	free(p);
}

/* The ELF followed by filler, like vmlinux.bin + vmlinux.relocs. */
static uint8_t *payload_source(size_t *n)
{
	size_t elf_n, i;
	uint8_t *elf = make_elf(ELF_TEXT_PADDR, &elf_n);
	uint8_t *p = malloc(elf_n + 40000);

	memcpy(p, elf, elf_n);
	for (i = 0; i < 40000; i++)
		p[elf_n + i] = (uint8_t)(i % 251 == 0 ? i : i / 100);
	free(elf);
	*n = elf_n + 40000;
	return p;
}

static void host_decompression_handles_raw_gzip_xz_zstd_and_lz4(void)
{
	size_t n;
	uint8_t *src = payload_source(&n);
	struct blob b;

	b.p = malloc(n);
	b.n = n;
	memcpy(b.p, src, n);
	check_payload("uncompressed", b, src);
	free(b.p);
#ifdef HAVE_ZLIB
	b = compress_gzip(src, n);
	append_size(&b, (uint32_t)n);
	check_payload("gzip", b, src);
	free(b.p);
#endif
#ifdef HAVE_LZMA
	b = compress_xz(src, n);
	append_size(&b, (uint32_t)n);
	check_payload("xz", b, src);
	free(b.p);
#endif
#ifdef HAVE_ZSTD
	b = compress_zstd(src, n);
	append_size(&b, (uint32_t)n);
	check_payload("zstd", b, src);
	free(b.p);
#endif
#ifdef HAVE_LZ4
	b = compress_lz4(src, n);
	append_size(&b, (uint32_t)n);
	check_payload("lz4", b, src);
	b.n -= 4; /* and without the appended size */
	check_payload("lz4 without size", b, src);
	free(b.p);
#endif
	free(src);
}

/* 1 when configure found the library for payloads of kind x. */
#define HAVE_LIB(x) HAVE_LIB_(HAVE_##x)
#define HAVE_LIB_(v) HAVE_LIB__(v)
#define HAVE_LIB__(v) (#v[0] == '1')

/* The exact commands of scripts/Makefile.lib (gzip -n -f -9,
 * xz_wrap.sh's "xz --check=crc32 --x86 --lzma2=,dict=32MiB",
 * zstd -22 --ultra, lz4 -l -9), with the size appended. */
static void host_decompression_reads_what_the_kernel_build_tools_write(void)
{
	static const struct { const char *name, *cmd; bool built; } tools[] = {
		{ "gzip", "gzip -n -f -9", HAVE_LIB(ZLIB) },
		{ "xz", "xz --check=crc32 --x86 --lzma2=,dict=32MiB",
		  HAVE_LIB(LZMA) },
		{ "zstd", "zstd -q -22 --ultra", HAVE_LIB(ZSTD) },
		{ "lz4", "lz4 -q -l -9 - -", HAVE_LIB(LZ4) },
	};
	size_t n, i;
	uint8_t *src = payload_source(&n);
	const char *in = tmp_path("payload.elf"), *out = tmp_path("payload.z");
	char cmd[1024], probe[64];
	struct blob b;

	write_file(in, src, n);
	for (i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		snprintf(probe, sizeof(probe), "command -v %s >/dev/null",
			 tools[i].name);
		if (!tools[i].built) {
			TEST_SKIP("rax was built without the %s library: its "
				  "payload is not checked", tools[i].name);
			continue;
		}
		if (system(probe)) {
			TEST_SKIP("%s is not installed: its payload is not "
				  "checked", tools[i].name);
			continue;
		}
		snprintf(cmd, sizeof(cmd), "%s < %s > %s", tools[i].cmd, in,
			 out);
		CHECK(system(cmd) == 0);
		b.p = read_file(out, &b.n);
		CHECK(b.p != NULL);
		if (!b.p)
			continue;
		append_size(&b, (uint32_t)n);
		check_payload(tools[i].name, b, src);
		free(b.p);
	}
	free(src);
}

static int decompress(const void *p, size_t n, uint8_t *out, size_t cap,
		      struct rax_err *e)
{
	struct ld_image img = { "bz", p, n };
	size_t len;

	return ld_decompress(&img, out, cap, &len, e);
}

static void corrupt_and_unsupported_payloads_fail_with_a_message(void)
{
	size_t n, i;
	uint8_t *src = payload_source(&n), *out = malloc(1 << 20);
	struct rax_err e;
	struct blob b;

	CHECK_EQ(decompress("BZh91AY&SY", 10, out, 1 << 20, &e), -ENOTSUP);
	CHECK(strstr(e.msg, "compression bzip2 not supported on the host; "
			    "use --decompress guest") != NULL);
	CHECK_EQ(decompress("\x5d\0\0\x80\0", 5, out, 1 << 20, &e), -ENOTSUP);
	CHECK(strstr(e.msg, "lzma") != NULL);
	CHECK_EQ(decompress("\x89LZO\0", 5, out, 1 << 20, &e), -ENOTSUP);
	CHECK_EQ(decompress("hello", 5, out, 1 << 20, &e), -ENOEXEC);
	CHECK(strstr(e.msg, "unknown") != NULL);
	CHECK_EQ(decompress("", 0, out, 1 << 20, &e), -ENOEXEC);
	(void)b;
	(void)i;
#ifdef HAVE_ZLIB
	b = compress_gzip(src, n);
	CHECK_EQ(decompress(b.p, b.n, out, 1 << 20, &e), 0);
	CHECK_EQ(decompress(b.p, b.n, out, 4096, &e), -EFBIG);
	CHECK(strstr(e.msg, "larger than guest memory") != NULL);
	CHECK_EQ(decompress(b.p, b.n / 2, out, 1 << 20, &e), -EINVAL);
	CHECK(strstr(e.msg, "corrupt gzip payload") != NULL);
	for (i = 20; i < 60; i++)
		b.p[i] ^= 0x55;
	CHECK_EQ(decompress(b.p, b.n, out, 1 << 20, &e), -EINVAL);
	free(b.p);
#endif
#ifdef HAVE_LZMA
	b = compress_xz(src, n);
	CHECK_EQ(decompress(b.p, b.n, out, 4096, &e), -EFBIG);
	CHECK_EQ(decompress(b.p, b.n - 20, out, 1 << 20, &e), -EINVAL);
	b.p[b.n / 2] ^= 0xff;
	CHECK_EQ(decompress(b.p, b.n, out, 1 << 20, &e), -EINVAL);
	free(b.p);
#endif
#ifdef HAVE_ZSTD
	b = compress_zstd(src, n);
	CHECK_EQ(decompress(b.p, b.n, out, 4096, &e), -EFBIG);
	CHECK_EQ(decompress(b.p, b.n - 20, out, 1 << 20, &e), -EINVAL);
	free(b.p);
#endif
#ifdef HAVE_LZ4
	b = compress_lz4(src, n);
	CHECK_EQ(decompress(b.p, b.n, out, 1 << 20, &e), 0);
	CHECK_EQ(decompress(b.p, b.n, out, 4096, &e), -EFBIG);
	CHECK_EQ(decompress(b.p, b.n - 20, out, 1 << 20, &e), -EINVAL);
	CHECK_EQ(decompress(b.p, 4, out, 1 << 20, &e), -EINVAL);
	put32(b.p + 4, 0x7fffffff);
	CHECK_EQ(decompress(b.p, b.n, out, 1 << 20, &e), -EINVAL);
	free(b.p);
#endif
	free(out);
	free(src);
}

/* --- initrd, MP table ---------------------------------------------- */

static void initrd_goes_high_page_aligned_below_initrd_addr_max(void)
{
	struct guest_mem gm;
	uint64_t a = 0;

	CHECK(!gm_init(&gm, 64 * MiB));
	CHECK_EQ(ld_place_initrd(&gm, MiB + 5, 0x7fffffff, 0x1800000, &a), 0);
	CHECK_EQ(a, (64 * MiB - MiB - 5) & ~0xfffull);
	CHECK_EQ(ld_place_initrd(&gm, 4096, 0x7fffffff, 0x1800000, &a), 0);
	CHECK_EQ(a, 64 * MiB - 4096);
	CHECK_EQ(ld_place_initrd(&gm, MiB, 0x2ffffff, 0x1800000, &a), 0);
	CHECK_EQ(a, 47 * MiB);
	CHECK(a + MiB - 1 <= 0x2ffffff);
	CHECK_EQ(ld_place_initrd(&gm, 41 * MiB, 0x7fffffff, 0x1800000, &a),
		 -EFBIG);
	CHECK_EQ(ld_place_initrd(&gm, 40 * MiB, 0x7fffffff, 24 * MiB, &a), 0);
	CHECK_EQ(a, 24 * MiB);
	CHECK_EQ(ld_place_initrd(&gm, 40 * MiB, 0x7fffffff, 24 * MiB + 1, &a),
		 -EFBIG);
	CHECK_EQ(ld_place_initrd(&gm, 128 * MiB, 0x7fffffff, 0, &a), -EFBIG);
	gm_destroy(&gm);
}

static const uint8_t *find_mpf(void)
{
	uint64_t a;

	for (a = 0xf0000; a < 0x100000; a += 16)
		if (!memcmp(gpa(a, 4), "_MP_", 4))
			return gpa(a, 16);
	return NULL;
}

static void mp_table_check(unsigned ncpus)
{
	const uint8_t *mpf, *cfg, *p;
	unsigned i, count, irqs = 0, lints = 0, cpus = 0, ioapics = 0;
	unsigned buses = 0, pci_irqs = 0;

	machine_fresh(64 * MiB);
	CHECK_EQ(ld_write_mptable(&m.mem, LD_MPTABLE, ncpus), 0);
	mpf = find_mpf();
	CHECK(mpf != NULL);
	if (!mpf)
		return;
	CHECK_EQ(ld_checksum(mpf, 16), 0);
	CHECK_EQ(mpf[8], 1);
	CHECK_EQ(mpf[9], 4);
	CHECK_EQ(mpf[11], 0);      /* a configuration table follows */
	cfg = gpa(get32(mpf + 4), 44);
	CHECK(cfg && !memcmp(cfg, "PCMP", 4));
	if (!cfg)
		return;
	CHECK_EQ(ld_checksum(cfg, get16(cfg + 4)), 0);
	CHECK_EQ(get32(cfg + 36), 0xfee00000);
	count = get16(cfg + 34);
	p = cfg + 44;
	for (i = 0; i < count; i++) {
		switch (p[0]) {
		case MP_PROCESSOR:
			/* local APIC ID = index, the first is the BSP */
			CHECK(p[1] == cpus && p[3] == (MP_CPU_EN |
						       (cpus ? 0 : MP_CPU_BP)));
			cpus++;
			p += 20;
			break;
		case MP_BUS: /* PCI bus 0, then the ISA bus */
			CHECK(!memcmp(p + 2, buses ? "ISA   " : "PCI   ", 6));
			CHECK_EQ(p[1], buses);
			buses++;
			p += 8;
			break;
		case MP_IOAPIC:
			CHECK(p[1] == 1 && p[3] == 1 &&
			      get32(p + 4) == 0xfec00000);
			ioapics++;
			p += 8;
			break;
		case MP_IOINTR:
			if (p[4] == 0) { /* PCI: INTA# of slot s on pin 15+s */
				pci_irqs++;
				CHECK(p[1] == MP_INT && p[6] == 1 &&
				      get16(p + 2) == 0x0f &&
				      p[5] == pci_irqs << 2 &&
				      p[7] == 15 + pci_irqs);
				p += 8;
				break;
			}
			CHECK(p[1] == MP_INT && p[5] == p[7] && p[6] == 1 &&
			      p[4] == 1 && p[5] == irqs);
			irqs++;
			p += 8;
			break;
		case MP_LINTR:
			CHECK(p[7] == lints && p[1] == (lints ? MP_NMI
							      : MP_EXTINT));
			lints++;
			p += 8;
			break;
		default:
			CHECK(!"unknown MP entry type");
			return;
		}
	}
	CHECK_EQ(p - cfg, get16(cfg + 4));
	CHECK_EQ(cpus, ncpus);
	CHECK_EQ(ioapics, 1);
	CHECK_EQ(irqs, 16);
	CHECK_EQ(pci_irqs, 8);
	CHECK_EQ(buses, 2);
	CHECK_EQ(lints, 2);
}

/* One processor entry per vCPU (rax --cpus), APIC IDs 0..n-1. */
static void mp_table_has_valid_checksums_isa_and_pci_routing(void)
{
	mp_table_check(1);
	mp_table_check(4);
	mp_table_check(LD_MAX_CPUS);
	machine_fresh(64 * MiB);
	CHECK_EQ(ld_write_mptable(&m.mem, LD_MPTABLE, LD_MAX_CPUS + 1),
		 -EINVAL);
}

/* --- whole-file errors, robustness, the real guest ------------------ */

static void bad_files_give_negative_errno_and_a_message(void)
{
	uint8_t pl[64] = { 0x1f, 0x8b };
	struct bz_opts o = bz_default;
	const char *k = tmp_path("bad-kernel"), *rd = tmp_path("big-initrd");
	struct ld_info li;
	struct rax_err e;
	char *longcl;
	size_t n;
	uint8_t *p;

	machine_fresh(64 * MiB);
	CHECK_EQ(load(tmp_path("missing"), NULL, "", false, &li, &e), -ENOENT);
	CHECK(strstr(e.msg, "missing") && strstr(e.msg, "cannot open"));
	CHECK_EQ(load(tmpdir, NULL, "", false, &li, &e), -EINVAL);
	write_file(k, "", 0);
	CHECK_EQ(load(k, NULL, "", false, &li, &e), -EINVAL);
	CHECK(strstr(e.msg, "empty") != NULL);
	write_file(k, "#!/bin/sh\necho hi\n", 19);
	CHECK_EQ(load(k, NULL, "", false, &li, &e), -ENOEXEC);
	CHECK(strstr(e.msg, "not a bzImage or ELF") != NULL);

	o.init_size = 0x8000000; /* 128 MiB at 16 MiB */
	p = make_bzimage(&o, pl, sizeof(pl), &n);
	write_file(k, p, n);
	CHECK_EQ(load(k, NULL, "", false, &li, &e), -EFBIG);
	CHECK(strstr(e.msg, "needs") != NULL);
	free(p);

	p = make_bzimage(&bz_default, pl, sizeof(pl), &n);
	write_file(k, p, n);
	write_file(rd, "x", 1);
	CHECK(truncate(rd, 60 * MiB) == 0);
	CHECK_EQ(load(k, rd, "", false, &li, &e), -EFBIG);
	CHECK(strstr(e.msg, "initrd") && strstr(e.msg, "does not fit"));
	CHECK(truncate(rd, 65 * MiB) == 0);
	CHECK_EQ(load(k, rd, "", false, &li, &e), -EFBIG);
	CHECK(strstr(e.msg, "larger than guest memory") != NULL);
	CHECK_EQ(load(k, tmp_path("nordisk"), "", false, &li, &e), -ENOENT);

	longcl = malloc(3000);
	memset(longcl, 'a', 2999);
	longcl[2999] = 0;
	CHECK_EQ(load(k, NULL, longcl, false, &li, &e), -E2BIG);
	longcl[2047] = 0;
	CHECK_EQ(load(k, NULL, longcl, false, &li, &e), 0);
	free(longcl);
	free(p);
	unlink(rd);
}

static uint32_t rng = 12345;
static uint32_t next_rand(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 8;
}

/* Random corruption of the headers must give errors, never crashes. */
static void mutated_images_never_crash_the_parsers(void)
{
	size_t en, bn;
	uint8_t *elf = make_elf(ELF_TEXT_PADDR, &en);
	uint8_t *bz = make_bzimage(&bz_default, elf, en, &bn);
	uint8_t *buf = malloc(bn > en ? bn : en);
	struct ld_image img = { "fuzz", buf, 0 };
	struct ld_elf_result r;
	struct ld_bzimage pz;
	struct rax_err e;
	unsigned i, k, fails = 0;
	int ret = 0;

	machine_fresh(32 * MiB);
	for (i = 0; i < 4000; i++) {
		int is_bz = i & 1;
		size_t len = is_bz ? bn : en;
		size_t base = is_bz ? 0x1f0 : 0;
		size_t span = is_bz ? 0x80 : 64 + 3 * 56;

		memcpy(buf, is_bz ? bz : elf, len);
		for (k = 0; k < 1 + next_rand() % 8; k++)
			buf[base + next_rand() % span] ^=
				(uint8_t)(1u << (next_rand() % 8));
		img.size = next_rand() % 4 ? len : next_rand() % len;
		if (ld_is_elf(&img))
			ret = ld_elf_load(&m.mem, &img, &r, &e);
		else if (ld_is_bzimage(&img))
			ret = ld_bz_parse(&img, &pz, &e);
		fails += ret != 0;
	}
	CHECK(fails > 0);
	free(buf);
	free(bz);
	free(elf);
}

static void fuzz_payload(struct blob b)
{
	uint8_t *buf = malloc(b.n), *out = malloc(1 << 20);
	unsigned i, k;

	for (i = 0; i < 300; i++) {
		memcpy(buf, b.p, b.n);
		for (k = 0; k < 1 + next_rand() % 4; k++)
			buf[next_rand() % b.n] ^=
				(uint8_t)(1 + next_rand() % 255);
		(void)decompress(buf, next_rand() % 4 ? b.n : next_rand() % b.n,
				 out, 1 << 20, NULL);
	}
	free(b.p);
	free(buf);
	free(out);
}

/* Corrupted compressed streams must give errors, never crashes. */
static void mutated_payloads_never_crash_the_decoders(void)
{
	size_t n;
	uint8_t *src = payload_source(&n);

#ifdef HAVE_ZLIB
	fuzz_payload(compress_gzip(src, n));
#endif
#ifdef HAVE_LZMA
	fuzz_payload(compress_xz(src, n));
#endif
#ifdef HAVE_ZSTD
	fuzz_payload(compress_zstd(src, n));
#endif
#ifdef HAVE_LZ4
	fuzz_payload(compress_lz4(src, n));
#endif
	CHECK(1);
	free(src);
}

/* The bzImage's payload decompressed on the host is the vmlinux. */
static void same_as_vmlinux(const struct guest_paths *gp,
			    const struct ld_info *bz)
{
	uint64_t len = bz->kernel_end - bz->kernel_start;
	uint8_t *copy = malloc(len);
	struct ld_info li;
	struct rax_err e;

	CHECK(copy && gpa(bz->kernel_start, len));
	if (!copy || !gpa(bz->kernel_start, len))
		return;
	memcpy(copy, gpa(bz->kernel_start, len), len);
	machine_fresh(512 * MiB);
	CHECK_EQ(load(gp->vmlinux, NULL, "", false, &li, &e), 0);
	CHECK_EQ(li.entry, 0x1000000);
	CHECK_EQ(li.kernel_start, bz->kernel_start);
	CHECK_EQ(li.kernel_end, bz->kernel_end);
	CHECK(!memcmp(copy, gpa(bz->kernel_start, len), len));
	free(copy);
}

/* The default guest kernel (examples/build-guest.sh), when cached. */
static void the_default_guest_kernel_loads_both_ways(void)
{
	struct guest_paths gp;
	struct ld_info li;
	struct rax_err e;

	if (guest_default(&gp, &e) || access(gp.kernel, R_OK)) {
		TEST_SKIP("the default guest is not built: run 'make guest'");
		return;
	}
	machine_fresh(512 * MiB);
	CHECK_EQ(load(gp.kernel, NULL, "console=ttyS0", false, &li, &e), 0);
	CHECK_EQ(li.entry, 0x100200);
	CHECK(li.protocol >= 0x020c);
	machine_fresh(512 * MiB);
	CHECK_EQ(load(gp.kernel, NULL, "console=ttyS0", true, &li, &e), 0);
	if (e.msg[0])
		fprintf(stderr, "%s\n", e.msg);
	CHECK(li.elf);
	CHECK_EQ(li.entry, 0x1000000);
	CHECK_EQ(walk(m.boot_regs.cr3, 0xffffffff81000000ull), 0x1000000);
	if (!access(gp.vmlinux, R_OK))
		same_as_vmlinux(&gp, &li);
	if (!access(gp.initrd, R_OK)) {
		machine_fresh(512 * MiB);
		CHECK_EQ(load(gp.kernel, gp.initrd, "", true, &li, &e), 0);
		CHECK(li.initrd_size > 0);
	}
	gm_destroy(&m.mem);
}

/* Groups (the argument): none, the self-contained checks; "tools", the
 * payloads the kernel build's compressors write (skips for a tool that
 * is not installed); "default-guest", the cached default guest (skips
 * when it is not built).  make check runs each as its own test. */
int main(int argc, char **argv)
{
	const char *group = argc > 1 ? argv[1] : "";

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	if (!strcmp(group, "tools")) {
		host_decompression_reads_what_the_kernel_build_tools_write();
	} else if (!strcmp(group, "default-guest")) {
		the_default_guest_kernel_loads_both_ways();
	} else if (!*group) {
		setup_header_of_a_bzimage_is_parsed_and_sized();
		setup_header_rejects_old_32_bit_and_truncated_images();
		bzimage_loads_at_1mib_with_a_complete_zero_page();
		e820_map_has_low_ram_the_bios_area_and_high_ram();
		boot_page_tables_map_low_memory_and_the_kernel_half();
		boot_registers_and_gdt_describe_64_bit_mode();
		vmlinux_elf_loads_at_physical_addresses_with_zeroed_bss();
		elf_entry_given_virtually_is_translated_to_physical();
		elf_rejects_foreign_truncated_and_oversized_images();
		host_decompression_handles_raw_gzip_xz_zstd_and_lz4();
		corrupt_and_unsupported_payloads_fail_with_a_message();
		initrd_goes_high_page_aligned_below_initrd_addr_max();
		mp_table_has_valid_checksums_isa_and_pci_routing();
		bad_files_give_negative_errno_and_a_message();
		mutated_images_never_crash_the_parsers();
		mutated_payloads_never_crash_the_decoders();
	} else {
		fprintf(stderr, "usage: test_loader [tools|default-guest]\n");
		rmdir(tmpdir);
		return 99;
	}
	gm_destroy(&m.mem);
	unlink(tmp_path("bzImage"));
	unlink(tmp_path("initrd"));
	unlink(tmp_path("vmlinux"));
	unlink(tmp_path("bzImage-payload"));
	unlink(tmp_path("payload.elf"));
	unlink(tmp_path("payload.z"));
	unlink(tmp_path("bad-kernel"));
	rmdir(tmpdir);
	return test_summary("test_loader");
}
