/* Unit tests of Multiboot v1 loading (src/loader/multiboot.c): the header
 * search, ELF32 and a.out-kludge images, the module, the information
 * structure (memory sizes, memory map, command line, module list, loader
 * name), the machine state of the specification's §3.2, one-line errors
 * for bad images, and mutated images that must never crash the loader.
 * Run: ./tests/unit/test_multiboot (from the build folder). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loader/ld_int.h"
#include "loader/loader.h"
#include "loader/multiboot.h"
#include "machine.h"
#include "test.h"

#define MiB (1ull << 20)
#define TEXT_PADDR 0x400000u
#define TEXT_SIZE 0x200u
#define DATA_PADDR 0x401000u
#define DATA_FILESZ 0x10u
#define DATA_MEMSZ 0x3000u
#define ENTRY (TEXT_PADDR + 0x20)

static struct machine m;
static char tmpdir[] = "/tmp/rax-test-multiboot.XXXXXX";

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static uint32_t get32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static const char *path(const char *name)
{
	static char buf[8][256];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
	return buf[i];
}

static void write_file(const char *p, const void *d, size_t n)
{
	FILE *f = fopen(p, "wb");

	CHECK(f != NULL);
	if (!f)
		return;
	CHECK(fwrite(d, 1, n, f) == n);
	fclose(f);
}

static void machine_fresh(uint64_t size)
{
	gm_destroy(&m.mem);
	memset(&m.boot_regs, 0, sizeof(m.boot_regs));
	CHECK(!gm_init(&m.mem, size));
}

/* The Multiboot header at off: magic, flags, checksum (§3.1.1). */
static void put_header(uint8_t *p, size_t off, uint32_t flags)
{
	put32(p + off, MB_HEADER_MAGIC);
	put32(p + off + 4, flags);
	put32(p + off + 8, 0u - (MB_HEADER_MAGIC + flags));
}

/* An ELF32 i386 executable as kvm-unit-tests builds them: text at
 * 4 MiB holding the Multiboot header, data with bss after it. */
static uint8_t *make_elf32(size_t *len)
{
	size_t size = 0x2000;
	uint8_t *p = calloc(1, size), *ph;

	memcpy(p, "\x7f" "ELF\x01\x01\x01", 7);
	put16(p + 16, 2);          /* ET_EXEC */
	put16(p + 18, 3);          /* EM_386 */
	put32(p + 20, 1);
	put32(p + 24, ENTRY);
	put32(p + 28, 52);         /* e_phoff */
	put16(p + 40, 52);         /* e_ehsize */
	put16(p + 42, 32);         /* e_phentsize */
	put16(p + 44, 2);          /* e_phnum */
	ph = p + 52;               /* text: file 0x100, 0x200 bytes */
	put32(ph, 1);
	put32(ph + 4, 0x100);
	put32(ph + 8, TEXT_PADDR);
	put32(ph + 12, TEXT_PADDR);
	put32(ph + 16, TEXT_SIZE);
	put32(ph + 20, TEXT_SIZE);
	ph += 32;                  /* data: file 0x1000, bss after it */
	put32(ph, 1);
	put32(ph + 4, 0x1000);
	put32(ph + 8, DATA_PADDR);
	put32(ph + 12, DATA_PADDR);
	put32(ph + 16, DATA_FILESZ);
	put32(ph + 20, DATA_MEMSZ);
	put_header(p, 0x100, 0);
	p[0x120] = 0xf4;           /* hlt at the entry */
	memset(p + 0x1000, 0xab, DATA_FILESZ);
	*len = size;
	return p;
}

/* A flat binary with the a.out kludge: the header at file offset 0x40
 * says it is at 0x100040, the file loads at 0x100000, bss to 0x104000. */
static uint8_t *make_aout(size_t *len)
{
	size_t size = 0x800;
	uint8_t *p = calloc(1, size);

	put_header(p, 0x40, MB_HF_AOUT_KLUDGE | MB_HF_PAGE_ALIGN |
		   MB_HF_MEMORY);
	put32(p + 0x4c, 0x100040); /* header_addr */
	put32(p + 0x50, 0x100000); /* load_addr */
	put32(p + 0x54, 0x100600); /* load_end_addr */
	put32(p + 0x58, 0x104000); /* bss_end_addr */
	put32(p + 0x5c, 0x100080); /* entry_addr */
	memset(p + 0x100, 0xcd, 0x700);
	*len = size;
	return p;
}

static int load(const char *kernel, const char *cmdline, const char *initrd,
		struct ld_info *info, struct rax_err *e)
{
	struct ld_config c = { .kernel = kernel, .initrd = initrd,
			       .cmdline = cmdline,
			       .default_cmdline = "console=ttyS0" };

	return ld_load(&m, &c, info, e);
}

static const char *gstr(uint64_t gpa)
{
	return (const char *)gm_ptr(&m.mem, gpa, 1);
}

static void header_is_found_only_aligned_in_8_kib_with_its_checksum(void)
{
	uint8_t buf[MB_SEARCH + 64] = { 0 };
	struct ld_image img = { "x", buf, sizeof(buf) };
	struct mb_header h;
	size_t off = 0;

	put_header(buf, 0x1000, 0x10003);
	CHECK_EQ(ld_mb_find(&img, &h, &off), 1);
	CHECK_EQ(off, 0x1000);
	CHECK_EQ(h.flags, 0x10003);
	memset(buf, 0, sizeof(buf));
	put_header(buf, 0x1002, 0);            /* not 32-bit aligned */
	CHECK_EQ(ld_mb_find(&img, &h, &off), 0);
	memset(buf, 0, sizeof(buf));
	put_header(buf, 0x1000, 0);
	put32(buf + 0x1008, 0);                /* wrong checksum */
	CHECK_EQ(ld_mb_find(&img, &h, &off), 0);
	memset(buf, 0, sizeof(buf));
	put_header(buf, MB_SEARCH, 0);         /* past the first 8 KiB */
	CHECK_EQ(ld_mb_find(&img, &h, &off), 0);
	put_header(buf, MB_SEARCH - 12, 0);    /* the last place it fits */
	CHECK_EQ(ld_mb_find(&img, &h, &off), 1);
	img.size = 10;                         /* shorter than a header */
	CHECK_EQ(ld_mb_find(&img, &h, &off), 0);
}

static void elf32_image_loads_with_info_module_and_32_bit_state(void)
{
	const uint8_t mod[] = "NR_CPUS=1\nMEMSIZE=128\n";
	struct ld_info info;
	struct rax_err e = { "" };
	const struct rax_regs *r = &m.boot_regs;
	const struct mb_info *mi;
	const struct mb_module *mm;
	const struct mb_mmap *map;
	uint8_t *img, *gp;
	size_t len, i;
	uint64_t gdt;

	machine_fresh(128 * MiB);
	img = make_elf32(&len);
	write_file(path("k.flat"), img, len);
	write_file(path("env"), mod, sizeof(mod) - 1);
	CHECK_EQ(load(path("k.flat"), "-pause_filter_test tscdeadline",
		      path("env"), &info, &e), 0);
	CHECK(info.multiboot && info.elf);
	CHECK_EQ(info.entry, ENTRY);
	CHECK_EQ(info.kernel_start, TEXT_PADDR);
	CHECK_EQ(info.kernel_end, DATA_PADDR + DATA_MEMSZ);
	gp = gm_ptr(&m.mem, TEXT_PADDR, TEXT_SIZE);
	CHECK(gp && !memcmp(gp, img + 0x100, TEXT_SIZE));
	gp = gm_ptr(&m.mem, DATA_PADDR, DATA_MEMSZ);
	CHECK(gp && gp[0] == 0xab && gp[DATA_FILESZ - 1] == 0xab);
	for (i = DATA_FILESZ; gp && i < DATA_MEMSZ; i++)
		if (gp[i])
			break;
	CHECK_EQ(i, DATA_MEMSZ);

	/* §3.2: EAX, EBX, flat 32-bit segments, PE without PG, IF = 0. */
	CHECK_EQ(r->gpr[R_RAX], MB_BOOT_MAGIC);
	CHECK_EQ(r->gpr[R_RBX], LD_MB_INFO);
	CHECK_EQ(r->rip, ENTRY);
	CHECK_EQ(r->cr0 & (CR0_PE | CR0_PG), CR0_PE);
	CHECK_EQ(r->efer, 0);
	CHECK_EQ(r->cr4, 0);
	CHECK_EQ(r->rflags & (RFLAGS_IF | RFLAGS_VM), 0);
	CHECK_EQ(r->seg[S_CS].db, 1);
	CHECK_EQ(r->seg[S_CS].l, 0);
	CHECK_EQ(r->seg[S_CS].type, 0xb);
	for (i = 0; i < 6; i++) {
		CHECK_EQ(r->seg[i].base, 0);
		CHECK_EQ(r->seg[i].limit, 0xffffffff);
		CHECK_EQ(r->seg[i].present, 1);
	}
	CHECK_EQ(r->seg[S_SS].type, 0x3);
	CHECK_EQ(r->seg[S_SS].db, 1);
	/* The GDT in memory holds what the segment caches say. */
	gdt = r->gdt.base;
	gp = gm_ptr(&m.mem, gdt, LD_MB_GDT_SIZE);
	CHECK(gp != NULL);
	CHECK_EQ(r->gdt.limit, LD_MB_GDT_SIZE - 1);
	if (gp) {
		CHECK_EQ(get32(gp + r->seg[S_CS].sel + 4), 0x00cf9b00);
		CHECK_EQ(get32(gp + r->seg[S_CS].sel), 0x0000ffff);
		CHECK_EQ(get32(gp + r->seg[S_DS].sel + 4), 0x00cf9300);
		CHECK_EQ((get32(gp + r->tr.sel + 4) >> 8) & 0x9f, 0x8b);
	}

	/* §3.3: the information structure. */
	mi = gm_ptr(&m.mem, LD_MB_INFO, sizeof(*mi));
	CHECK(mi != NULL);
	if (!mi)
		return;
	CHECK_EQ(mi->flags, MB_IF_MEMORY | MB_IF_CMDLINE | MB_IF_MODS |
		 MB_IF_MMAP | MB_IF_LOADER_NAME);
	CHECK_EQ(mi->mem_lower, 639);
	CHECK_EQ(mi->mem_upper, 127 * 1024);
	CHECK(!strcmp(gstr(mi->boot_loader_name), "rax"));
	CHECK_EQ(mi->mods_count, 1);
	mm = gm_ptr(&m.mem, mi->mods_addr, sizeof(*mm));
	CHECK(mm != NULL);
	if (mm) {
		CHECK_EQ(mm->mod_start % 4096, 0);
		CHECK(mm->mod_start >= DATA_PADDR + DATA_MEMSZ);
		CHECK_EQ(mm->mod_end - mm->mod_start, sizeof(mod) - 1);
		gp = gm_ptr(&m.mem, mm->mod_start, sizeof(mod) - 1);
		CHECK(gp && !memcmp(gp, mod, sizeof(mod) - 1));
		CHECK(!strcmp(gstr(mm->string), path("env")));
		CHECK_EQ(info.initrd_start, mm->mod_start);
	}
	/* "KERNEL ARGS": argv[0] is the kernel, as GRUB and QEMU pass it. */
	{
		char want[512];

		snprintf(want, sizeof(want), "%s -pause_filter_test "
			 "tscdeadline", path("k.flat"));
		CHECK(!strcmp(gstr(mi->cmdline), want));
	}
	/* The e820 map as mmap: low RAM, the BIOS area, RAM from 1 MiB. */
	CHECK_EQ(mi->mmap_length, 3 * sizeof(*map));
	map = gm_ptr(&m.mem, mi->mmap_addr, mi->mmap_length);
	CHECK(map != NULL);
	if (map) {
		CHECK_EQ(map[0].size, 20);
		CHECK_EQ(map[0].base_addr, 0);
		CHECK_EQ(map[0].length, LD_BIOS_START);
		CHECK_EQ(map[0].type, MB_MMAP_RAM);
		CHECK_EQ(map[1].base_addr, LD_BIOS_START);
		CHECK_EQ(map[1].type, MB_MMAP_RESERVED);
		CHECK_EQ(map[2].base_addr, MiB);
		CHECK_EQ(map[2].length, 127 * MiB);
		CHECK_EQ(map[2].type, MB_MMAP_RAM);
	}
	/* The MP table is there too (a Multiboot kernel may look for it). */
	gp = gm_ptr(&m.mem, LD_MPTABLE, 4);
	CHECK(gp && !memcmp(gp, "_MP_", 4));
	free(img);
}

static void no_cmdline_passes_the_kernel_path_alone_and_no_module(void)
{
	struct ld_info info;
	struct rax_err e = { "" };
	const struct mb_info *mi;
	uint8_t *img;
	size_t len;

	machine_fresh(64 * MiB);
	img = make_elf32(&len);
	write_file(path("k.flat"), img, len);
	CHECK_EQ(load(path("k.flat"), NULL, NULL, &info, &e), 0);
	mi = gm_ptr(&m.mem, LD_MB_INFO, sizeof(*mi));
	CHECK(mi != NULL);
	if (mi) {
		/* Linux's default command line is not a Multiboot kernel's. */
		CHECK(!strcmp(gstr(mi->cmdline), path("k.flat")));
		CHECK_EQ(mi->mods_count, 0);
		CHECK_EQ(mi->mem_upper, 63 * 1024);
	}
	free(img);
}

static void aout_kludge_loads_by_the_header_address_fields(void)
{
	struct ld_info info;
	struct rax_err e = { "" };
	uint8_t *img, *gp;
	size_t len, i;

	machine_fresh(64 * MiB);
	img = make_aout(&len);
	write_file(path("k.bin"), img, len);
	CHECK_EQ(load(path("k.bin"), "x", NULL, &info, &e), 0);
	CHECK(info.multiboot && !info.elf);
	CHECK_EQ(info.entry, 0x100080);
	CHECK_EQ(m.boot_regs.rip, 0x100080);
	CHECK_EQ(info.kernel_start, 0x100000);
	CHECK_EQ(info.kernel_end, 0x104000);
	gp = gm_ptr(&m.mem, 0x100000, 0x4000);
	CHECK(gp && !memcmp(gp, img, 0x600));
	for (i = 0x600; gp && i < 0x4000; i++)
		if (gp[i])
			break;
	CHECK_EQ(i, 0x4000);               /* the tail of the file and bss */
	/* load_end_addr 0: the rest of the file. */
	put32(img + 0x54, 0);
	put32(img + 0x58, 0);
	write_file(path("k.bin"), img, len);
	CHECK_EQ(load(path("k.bin"), NULL, NULL, &info, &e), 0);
	CHECK_EQ(info.kernel_end, 0x100000 + len);
	free(img);
}

/* expect_error(image, len, pattern): loading fails with -errno and a
 * one-line message naming the file that contains pattern. */
static void expect_error(const char *name, const uint8_t *img, size_t len,
			 const char *initrd, const char *pattern)
{
	struct ld_info info;
	struct rax_err e = { "" };
	int ret;

	write_file(path(name), img, len);
	ret = load(path(name), NULL, initrd, &info, &e);
	CHECK(ret < 0);
	CHECK(strstr(e.msg, pattern) != NULL);
	CHECK(strstr(e.msg, path(name)) != NULL || initrd);
	CHECK(strchr(e.msg, '\n') == NULL);
	if (ret >= 0 || !strstr(e.msg, pattern))
		fprintf(stderr, "  %s: got '%s', wanted '%s'\n", name, e.msg,
			pattern);
}

static void bad_images_fail_with_one_line_naming_the_problem(void)
{
	uint8_t *img, *copy, big[0x200];
	size_t len;

	machine_fresh(64 * MiB);
	img = make_elf32(&len);
	copy = malloc(len);

	memcpy(copy, img, len);
	put32(copy + 0x108, 0x12345678);
	expect_error("cksum", copy, len, NULL, "without a Multiboot header");
	memcpy(copy, img, len);
	put_header(copy, 0x100, MB_HF_VIDEO);
	expect_error("video", copy, len, NULL, "video mode");
	memcpy(copy, img, len);
	put_header(copy, 0x100, 1u << 7);
	expect_error("flags", copy, len, NULL, "features rax does not know "
		     "(flags 0x80)");
	memcpy(copy, img, len);
	copy[4] = 2;                           /* ELFCLASS64 */
	expect_error("elf64", copy, len, NULL, "must be ELF32 i386");
	memcpy(copy, img, len);
	put16(copy + 18, 62);                  /* EM_X86_64 */
	expect_error("machine", copy, len, NULL, "must be ELF32 i386");
	memcpy(copy, img, len);
	put32(copy + 52 + 32 + 16, 0x2000);    /* data filesz past EOF */
	put32(copy + 52 + 32 + 20, 0x3000);
	expect_error("trunc", copy, len, NULL, "truncated ELF: segment 1");
	memcpy(copy, img, len);
	put32(copy + 52 + 8, 0x20000);         /* text over the cmdline */
	put32(copy + 52 + 12, 0x20000);
	expect_error("overlap", copy, len, NULL, "overlaps rax's command "
		     "line");
	memcpy(copy, img, len);
	put32(copy + 52 + 12, 0xf0000);        /* text in the BIOS area */
	expect_error("bios", copy, len, NULL, "overlaps rax's BIOS area");
	memcpy(copy, img, len);
	put32(copy + 52 + 32 + 12, 0x3fff000); /* bss past 64 MiB */
	expect_error("big", copy, len, NULL, "outside guest RAM");
	memcpy(copy, img, len);
	put32(copy + 24, 0x800000);            /* entry in no segment */
	expect_error("entry", copy, len, NULL, "outside its loadable");
	memcpy(copy, img, len);
	put32(copy + 28, 0x1ff0);              /* phdrs past the end */
	expect_error("phdrs", copy, len, NULL, "program headers end");
	memcpy(copy, img, len);
	put16(copy + 44, 0);
	expect_error("nophdr", copy, len, NULL, "no usable program headers");
	memcpy(copy, img, len);
	memset(copy, 0, 52);                   /* no ELF, no kludge */
	expect_error("raw", copy, len, NULL, "needs the a.out kludge");
	free(img);
	free(copy);

	img = make_aout(&len);
	copy = malloc(len);
	memcpy(copy, img, len);
	put32(copy + 0x50, 0x100050);          /* load_addr > header_addr */
	expect_error("aout1", copy, len, NULL, "does not fit header_addr");
	memcpy(copy, img, len);
	put32(copy + 0x50, 0x0fff00);          /* would start before file */
	expect_error("aout2", copy, len, NULL, "does not fit header_addr");
	memcpy(copy, img, len);
	put32(copy + 0x54, 0x101000);          /* load_end past the file */
	expect_error("aout3", copy, len, NULL, "load_end_addr 0x101000");
	memcpy(copy, img, len);
	put32(copy + 0x58, 0x100100);          /* bss_end below load_end */
	expect_error("aout4", copy, len, NULL, "bss_end_addr 0x100100");
	memcpy(copy, img, len);
	put32(copy + 0x5c, 0x200000);          /* entry outside */
	expect_error("aout5", copy, len, NULL, "entry_addr 0x200000");
	memcpy(copy, img, len);
	put32(copy + 0x58, 0x8000000);         /* bss past RAM */
	expect_error("aout6", copy, len, NULL, "outside guest RAM");
	/* The address fields past the end of the file. */
	memset(big, 0, sizeof(big));
	put_header(big, sizeof(big) - 16, MB_HF_AOUT_KLUDGE);
	expect_error("aout7", big, sizeof(big), NULL, "truncated Multiboot "
		     "header");
	/* A module that does not fit in RAM after the image. */
	machine_fresh(2 * MiB);
	memset(big, 0x11, sizeof(big));
	write_file(path("bigmod"), big, sizeof(big));
	{
		size_t n = 3 * MiB;
		uint8_t *mod = calloc(1, n);

		write_file(path("bigmod"), mod, n);
		free(mod);
	}
	expect_error("aoutmod", img, len, path("bigmod"), "does not fit");
	free(img);
	free(copy);
}

/* Flip bytes of both kinds of image at random: the loader must answer 0
 * or -errno with a message, never crash (run under ASan in
 * make check-asan). */
static void mutated_images_never_crash_the_loader(void)
{
	uint8_t *elf, *aout, *p;
	size_t elen, alen;
	unsigned seed = 1;
	int i, j;

	machine_fresh(32 * MiB);
	elf = make_elf32(&elen);
	aout = make_aout(&alen);
	p = malloc(elen > alen ? elen : alen);
	for (i = 0; i < 400; i++) {
		const uint8_t *src = i & 1 ? aout : elf;
		size_t len = i & 1 ? alen : elen;
		struct ld_info info;
		struct rax_err e = { "" };
		int ret;

		memcpy(p, src, len);
		for (j = 0; j < 4; j++) {
			seed = seed * 1103515245u + 12345u;
			/* Bias to the headers, where the parsing is. */
			p[(seed >> 8) % (j < 2 ? 0x160 : len)] ^=
				(uint8_t)(seed >> 24);
		}
		write_file(path("mut"), p, (seed & 4) ? len : len / 2);
		ret = load(path("mut"), "a", NULL, &info, &e);
		CHECK(ret == 0 || (ret < 0 && e.msg[0]));
	}
	free(p);
	free(elf);
	free(aout);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	header_is_found_only_aligned_in_8_kib_with_its_checksum();
	elf32_image_loads_with_info_module_and_32_bit_state();
	no_cmdline_passes_the_kernel_path_alone_and_no_module();
	aout_kludge_loads_by_the_header_address_fields();
	bad_images_fail_with_one_line_naming_the_problem();
	mutated_images_never_crash_the_loader();
	gm_destroy(&m.mem);
	{
		static const char *const names[] = {
			"k.flat", "env", "k.bin", "cksum", "video", "flags",
			"elf64", "machine", "trunc", "overlap", "bios", "big",
			"entry", "phdrs", "nophdr", "raw", "aout1", "aout2",
			"aout3", "aout4", "aout5", "aout6", "aout7", "bigmod",
			"aoutmod", "mut",
		};

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			unlink(path(names[i]));
	}
	rmdir(tmpdir);
	return test_summary("test_multiboot");
}
