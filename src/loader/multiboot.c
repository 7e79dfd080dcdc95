/* Multiboot v1 kernels (the GNU Multiboot Specification 0.6.96, cited by
 * section; structures in multiboot.h): an ELF32 image, or any image with
 * the a.out kludge (header flag 16), loaded where it says; the module
 * (--initrd) page-aligned after it; the information structure with the
 * memory map (the e820 map Linux gets), the command line and the boot
 * loader's name; and the machine state of §3.2.
 *
 * The command line is the kernel's path, then a space and --cmdline when
 * given: GRUB and QEMU pass the whole "kernel ARGS" line, and kernels
 * such as kvm-unit-tests take its first word as argv[0].  The module's
 * string is the initrd's path. */
#include "loader/ld_int.h"
#include "loader/multiboot.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "machine.h"

#define PAGE 4096ull
#define LOADER_NAME "rax"

/* Where a loaded piece went, for the overlap checks and the log. */
struct mb_span {
	uint64_t start, end; /* [start, end) */
};

/* The areas rax writes for a Multiboot kernel (ld_int.h), which the
 * image must leave alone. */
static const struct {
	uint64_t start, end;
	const char *what;
} mb_reserved[] = {
	{ LD_GDT, LD_TSS + LD_TSS_SIZE, "GDT and TSS" },
	{ LD_MB_INFO, LD_MB_INFO + PAGE, "Multiboot information" },
	{ LD_CMDLINE, LD_CMDLINE + LD_CMDLINE_MAX, "command line" },
	{ LD_BIOS_START, LD_HIGH_START, "BIOS area, ACPI and MP tables" },
};

int ld_mb_find(const struct ld_image *img, struct mb_header *h, size_t *off)
{
	size_t end = img->size < MB_SEARCH ? img->size : MB_SEARCH;
	uint32_t w[3];
	size_t o, n;

	for (o = 0; o + sizeof(w) <= end; o += 4) {
		memcpy(w, img->p + o, sizeof(w));
		if (w[0] != MB_HEADER_MAGIC || w[0] + w[1] + w[2])
			continue;
		n = img->size - o < sizeof(*h) ? img->size - o : sizeof(*h);
		memset(h, 0, sizeof(*h));
		memcpy(h, img->p + o, n);
		*off = o;
		return 1;
	}
	return 0;
}

/* [start, start + len) must be RAM and outside mb_reserved. */
static int check_span(struct machine *m, const char *path, const char *what,
		      uint64_t start, uint64_t len, struct rax_err *e)
{
	unsigned i;

	if (!gm_ptr(&m->mem, start, len ? len : 1))
		return rax_errf(e, -EFBIG, "%s: %s %#llx-%#llx is outside "
				"guest RAM (%llu MiB below the hole)", path,
				what, (unsigned long long)start,
				(unsigned long long)(start + len),
				(unsigned long long)(m->mem.low_size >> 20));
	for (i = 0; i < sizeof(mb_reserved) / sizeof(mb_reserved[0]); i++)
		if (start < mb_reserved[i].end &&
		    start + len > mb_reserved[i].start)
			return rax_errf(e, -EINVAL, "%s: %s %#llx-%#llx "
					"overlaps rax's %s at %#llx-%#llx",
					path, what, (unsigned long long)start,
					(unsigned long long)(start + len),
					mb_reserved[i].what,
					(unsigned long long)mb_reserved[i].start,
					(unsigned long long)mb_reserved[i].end);
	return 0;
}

static void span_add(struct mb_span *s, uint64_t start, uint64_t end)
{
	if (start < s->start)
		s->start = start;
	if (end > s->end)
		s->end = end;
}

/* --- ELF32 (§3.1.3: "the boot loader loads an ELF image as ELF") ------ */

static Elf32_Phdr phdr32(const struct ld_image *img, const Elf32_Ehdr *eh,
			 unsigned i)
{
	Elf32_Phdr ph;

	memcpy(&ph, img->p + eh->e_phoff + (size_t)i * sizeof(ph), sizeof(ph));
	return ph;
}

static int check_ehdr32(const struct ld_image *img, const Elf32_Ehdr *eh,
			struct rax_err *e)
{
	uint64_t ph_end;

	if (img->size < sizeof(*eh))
		return rax_errf(e, -EINVAL, "%s: truncated ELF header (%zu "
				"bytes)", img->path, img->size);
	if (eh->e_ident[EI_CLASS] != ELFCLASS32 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_386)
		return rax_errf(e, -ENOEXEC, "%s: a Multiboot ELF must be "
				"ELF32 i386 (or set header flag 16 for the "
				"a.out kludge)", img->path);
	if (eh->e_type != ET_EXEC)
		return rax_errf(e, -ENOEXEC, "%s: ELF type %u is not an "
				"executable (ET_EXEC)", img->path, eh->e_type);
	if (eh->e_phentsize != sizeof(Elf32_Phdr) || !eh->e_phnum)
		return rax_errf(e, -ENOEXEC, "%s: ELF has no usable program "
				"headers", img->path);
	ph_end = eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf32_Phdr);
	if (ph_end > img->size)
		return rax_errf(e, -EINVAL, "%s: truncated ELF: program "
				"headers end at %#llx, the file has %zu bytes",
				img->path, (unsigned long long)ph_end,
				img->size);
	return 0;
}

static int load_seg32(struct machine *m, const struct ld_image *img,
		      const Elf32_Phdr *ph, unsigned i, struct rax_err *e)
{
	char what[32];
	uint8_t *dst;
	int ret;

	if (ph->p_filesz > ph->p_memsz || ph->p_offset > img->size ||
	    ph->p_filesz > img->size - ph->p_offset)
		return rax_errf(e, -EINVAL, "%s: truncated ELF: segment %u "
				"(offset %#x, %#x bytes) is past the end of "
				"the file", img->path, i, ph->p_offset,
				ph->p_filesz);
	snprintf(what, sizeof(what), "ELF segment %u", i);
	ret = check_span(m, img->path, what, ph->p_paddr, ph->p_memsz, e);
	if (ret)
		return ret;
	dst = gm_ptr(&m->mem, ph->p_paddr, ph->p_memsz);
	memcpy(dst, img->p + ph->p_offset, ph->p_filesz);
	memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	return 0;
}

/* e_entry is physical when a segment's physical range holds it (paging
 * is off at entry); otherwise it is translated through the segment whose
 * virtual range holds it, as GRUB does.  0 when none does. */
static uint64_t entry32(const struct ld_image *img, const Elf32_Ehdr *eh)
{
	Elf32_Phdr ph;
	unsigned i;

	for (i = 0; i < eh->e_phnum; i++) {
		ph = phdr32(img, eh, i);
		if (ph.p_type == PT_LOAD && eh->e_entry >= ph.p_paddr &&
		    eh->e_entry - ph.p_paddr < ph.p_memsz)
			return eh->e_entry;
	}
	for (i = 0; i < eh->e_phnum; i++) {
		ph = phdr32(img, eh, i);
		if (ph.p_type == PT_LOAD && eh->e_entry >= ph.p_vaddr &&
		    eh->e_entry - ph.p_vaddr < ph.p_memsz)
			return ph.p_paddr + (eh->e_entry - ph.p_vaddr);
	}
	return 0;
}

static int load_elf32(struct machine *m, const struct ld_image *img,
		      struct mb_span *s, uint64_t *entry, struct rax_err *e)
{
	Elf32_Ehdr eh;
	Elf32_Phdr ph;
	unsigned i, loaded = 0;
	int ret;

	memset(&eh, 0, sizeof(eh));
	memcpy(&eh, img->p, img->size < sizeof(eh) ? img->size : sizeof(eh));
	ret = check_ehdr32(img, &eh, e);
	if (ret)
		return ret;
	for (i = 0; i < eh.e_phnum; i++) {
		ph = phdr32(img, &eh, i);
		if (ph.p_type != PT_LOAD || !ph.p_memsz)
			continue;
		ret = load_seg32(m, img, &ph, i, e);
		if (ret)
			return ret;
		span_add(s, ph.p_paddr, (uint64_t)ph.p_paddr + ph.p_memsz);
		loaded++;
	}
	if (!loaded)
		return rax_errf(e, -ENOEXEC, "%s: ELF has no loadable segments",
				img->path);
	*entry = entry32(img, &eh);
	if (!*entry)
		return rax_errf(e, -ENOEXEC, "%s: ELF entry %#x is outside "
				"its loadable segments", img->path, eh.e_entry);
	return 0;
}

/* --- the a.out kludge (§3.1.3, header flag 16) -------------------------- */

/* The file from load_addr's offset, header_offset - (header_addr -
 * load_addr), goes to load_addr up to load_end_addr (0: the end of the
 * file); bss_end_addr (0: none) ends the zeroed part after it. */
static int load_aout(struct machine *m, const struct ld_image *img,
		     const struct mb_header *h, size_t off, struct mb_span *s,
		     uint64_t *entry, struct rax_err *e)
{
	uint64_t foff, size, end;
	uint8_t *dst;
	int ret;

	if (img->size - off < offsetof(struct mb_header, mode_type))
		return rax_errf(e, -EINVAL, "%s: truncated Multiboot header "
				"at %#zx: its address fields (flag 16) are past "
				"the end of the file", img->path, off);
	if (h->load_addr > h->header_addr ||
	    h->header_addr - h->load_addr > off)
		return rax_errf(e, -ENOEXEC, "%s: Multiboot load_addr %#x "
				"does not fit header_addr %#x with the header "
				"at file offset %#zx", img->path, h->load_addr,
				h->header_addr, off);
	foff = off - (h->header_addr - h->load_addr);
	size = img->size - foff;
	if (h->load_end_addr) {
		if (h->load_end_addr < h->load_addr ||
		    h->load_end_addr - h->load_addr > size)
			return rax_errf(e, -EINVAL, "%s: Multiboot "
					"load_end_addr %#x: the file holds "
					"%#llx bytes from load_addr %#x",
					img->path, h->load_end_addr,
					(unsigned long long)size, h->load_addr);
		size = h->load_end_addr - h->load_addr;
	}
	end = h->load_addr + size;
	if (h->bss_end_addr) {
		if (h->bss_end_addr < end)
			return rax_errf(e, -ENOEXEC, "%s: Multiboot "
					"bss_end_addr %#x is below the end of "
					"the loaded image %#llx", img->path,
					h->bss_end_addr,
					(unsigned long long)end);
		end = h->bss_end_addr;
	}
	ret = check_span(m, img->path, "the image", h->load_addr,
			 end - h->load_addr, e);
	if (ret)
		return ret;
	if (h->entry_addr < h->load_addr || h->entry_addr >= end)
		return rax_errf(e, -ENOEXEC, "%s: Multiboot entry_addr %#x is "
				"outside the image %#x-%#llx", img->path,
				h->entry_addr, h->load_addr,
				(unsigned long long)end);
	dst = gm_ptr(&m->mem, h->load_addr, end - h->load_addr);
	memcpy(dst, img->p + foff, size);
	memset(dst + size, 0, end - h->load_addr - size);
	span_add(s, h->load_addr, end);
	*entry = h->entry_addr;
	return 0;
}

/* --- the module, strings and information structure ---------------------- */

/* The module (§3.3 mods_*): page-aligned after the image, at or above
 * 1 MiB (always page-aligned, so header flag 0 is met). */
static int load_module(struct machine *m, const char *path,
		       const struct mb_span *img, struct mb_span *mod,
		       struct rax_err *e)
{
	uint64_t size, addr;
	int fd, ret;

	ret = ld_open_regular(path, "initrd", &fd, &size, e);
	if (ret)
		return ret;
	addr = img->end > LD_HIGH_START ? img->end : LD_HIGH_START;
	addr = (addr + PAGE - 1) & ~(PAGE - 1);
	if (addr + size > m->mem.low_size) {
		ret = rax_errf(e, -EFBIG, "%s: the initrd (%llu KiB) does not "
			       "fit between the kernel (ends %#llx) and the "
			       "end of low RAM %#llx", path,
			       (unsigned long long)(size >> 10),
			       (unsigned long long)img->end,
			       (unsigned long long)m->mem.low_size);
		goto out_close;
	}
	ret = ld_read_all(fd, gm_ptr(&m->mem, addr, size), size);
	if (ret) {
		ret = rax_errf(e, ret, "%s: cannot read the initrd: %s", path,
			       strerror(-ret));
		goto out_close;
	}
	mod->start = addr;
	mod->end = addr + size;
out_close:
	close(fd);
	return ret;
}

/* "KERNEL[ CMDLINE]\0INITRD\0" at LD_CMDLINE; *mod_str is where the
 * module's string went. */
static int write_strings(struct machine *m, const struct ld_config *c,
			 uint64_t *mod_str, struct rax_err *e)
{
	size_t kl = strlen(c->kernel), cl = c->cmdline ? strlen(c->cmdline) : 0;
	size_t il = c->initrd ? strlen(c->initrd) : 0;
	size_t len = kl + (c->cmdline ? 1 + cl : 0);
	uint8_t *p;

	if (len + 1 + il + 1 > LD_CMDLINE_MAX)
		return rax_errf(e, -E2BIG, "%s: the Multiboot command line "
				"and module string take %zu bytes; rax has "
				"room for %llu", c->kernel, len + il + 2,
				LD_CMDLINE_MAX);
	p = gm_ptr(&m->mem, LD_CMDLINE, LD_CMDLINE_MAX);
	if (!p)
		return rax_errf(e, -EFAULT, "cannot write the command line");
	memcpy(p, c->kernel, kl);
	if (c->cmdline) {
		p[kl] = ' ';
		memcpy(p + kl + 1, c->cmdline, cl);
	}
	p[len] = 0;
	*mod_str = LD_CMDLINE + len + 1;
	memcpy(p + len + 1, c->initrd ? c->initrd : "", il + 1);
	return 0;
}

/* §3.3: mem_lower and mem_upper in KiB (upper memory: from 1 MiB to the
 * first hole), the e820 map as mmap, the command line, the module. */
static int write_info(struct machine *m, const struct mb_span *mod,
		      uint64_t mod_str, struct rax_err *e)
{
	struct bp_e820_entry t[8];
	struct mb_mmap mm[8];
	struct mb_module mb = { (uint32_t)mod->start, (uint32_t)mod->end,
				(uint32_t)mod_str, 0 };
	struct mb_info mi;
	uint64_t low = m->mem.low_size;
	unsigned i, n = ld_e820(&m->mem, t, 8);

	for (i = 0; i < n; i++)
		mm[i] = (struct mb_mmap){
			sizeof(mm[i]) - sizeof(mm[i].size), t[i].addr,
			t[i].size, t[i].type == BP_E820_RAM ?
			MB_MMAP_RAM : MB_MMAP_RESERVED };
	memset(&mi, 0, sizeof(mi));
	mi.flags = MB_IF_MEMORY | MB_IF_CMDLINE | MB_IF_MODS | MB_IF_MMAP |
		   MB_IF_LOADER_NAME;
	mi.mem_lower = (uint32_t)((low < LD_BIOS_START ? low : LD_BIOS_START)
				  >> 10);
	mi.mem_upper = (uint32_t)((low - LD_HIGH_START) >> 10);
	mi.cmdline = LD_CMDLINE;
	mi.mods_count = mod->end ? 1 : 0;
	mi.mods_addr = LD_MB_MODS;
	mi.mmap_length = n * sizeof(mm[0]);
	mi.mmap_addr = LD_MB_MMAP;
	mi.boot_loader_name = LD_MB_NAME;
	if (gm_write(&m->mem, LD_MB_INFO, &mi, sizeof(mi)) ||
	    gm_write(&m->mem, LD_MB_MMAP, mm, n * sizeof(mm[0])) ||
	    gm_write(&m->mem, LD_MB_MODS, &mb, sizeof(mb)) ||
	    gm_write(&m->mem, LD_MB_NAME, LOADER_NAME, sizeof(LOADER_NAME)))
		return rax_errf(e, -EFAULT, "cannot write the Multiboot "
				"information");
	return 0;
}

/* --- the machine state (§3.2) ------------------------------------------- */

/* A 32-bit busy TSS (type 11, SDM Vol. 3 §7.2.2): VM entry on Intel
 * needs a usable TR in protected mode too. */
static struct rax_seg tss32(void)
{
	struct rax_seg s = {
		.base = LD_TSS, .limit = LD_TSS_SIZE - 1, .sel = LD_MB_SEL_TSS,
		.type = 0xb, .s = 0, .present = 1,
	};
	return s;
}

/* §3.2 leaves the GDT to the kernel ("GDTR may be invalid"); rax gives
 * it one that holds the segments it starts with, and a TSS without an
 * I/O bitmap (SDM Vol. 3 §7.7). */
static int write_gdt32(struct guest_mem *gm)
{
	struct rax_seg cs = ld_flat_seg(LD_MB_SEL_CS, 0xb, 0, 1);
	struct rax_seg ds = ld_flat_seg(LD_MB_SEL_DS, 0x3, 0, 1);
	struct rax_seg tr = tss32();
	uint64_t gdt[LD_MB_GDT_SIZE / 8] = { 0 };
	uint8_t tss[LD_TSS_SIZE] = { 0 };
	uint16_t iomap = LD_TSS_SIZE;

	gdt[LD_MB_SEL_CS / 8] = ld_seg_desc(&cs);
	gdt[LD_MB_SEL_DS / 8] = ld_seg_desc(&ds);
	gdt[LD_MB_SEL_TSS / 8] = ld_seg_desc(&tr);
	memcpy(tss + 0x66, &iomap, sizeof(iomap));
	if (gm_write(gm, LD_GDT, gdt, sizeof(gdt)) ||
	    gm_write(gm, LD_TSS, tss, sizeof(tss)))
		return -EFAULT;
	return 0;
}

/* EAX = magic, EBX = the information; flat 32-bit CS and data segments;
 * CR0 = PE | ET (paging off; the reset value's cache-disable bits are
 * left clear); EFLAGS with IF and VM clear; ESP on rax's boot stack
 * (the specification leaves ESP to the kernel). */
static void mb_boot_regs(struct rax_regs *r, uint64_t entry)
{
	struct rax_seg ds = ld_flat_seg(LD_MB_SEL_DS, 0x3, 0, 1);
	unsigned i;

	memset(r, 0, sizeof(*r));
	r->gpr[R_RAX] = MB_BOOT_MAGIC;
	r->gpr[R_RBX] = LD_MB_INFO;
	r->gpr[R_RSP] = LD_STACK_TOP;
	r->rip = entry;
	r->rflags = RFLAGS_FIXED;
	for (i = 0; i < 6; i++)
		r->seg[i] = ds;
	r->seg[S_CS] = ld_flat_seg(LD_MB_SEL_CS, 0xb, 0, 1);
	r->ldt.type = 0x2;
	r->ldt.unusable = 1;
	r->tr = tss32();
	r->gdt.base = LD_GDT;
	r->gdt.limit = LD_MB_GDT_SIZE - 1;
	r->cr0 = CR0_PE | CR0_ET;
	r->apic_base = LD_APIC_BASE;
}

int ld_mb_load(struct machine *m, const struct ld_config *c,
	       const struct ld_image *img, const struct mb_header *h,
	       size_t off, struct ld_info *info, struct rax_err *e)
{
	struct mb_span s = { UINT64_MAX, 0 }, mod = { 0, 0 };
	uint32_t unknown = h->flags & MB_HF_REQUIRED &
			   ~(MB_HF_PAGE_ALIGN | MB_HF_MEMORY);
	uint64_t entry = 0, mod_str = 0;
	int ret;

	if (h->flags & MB_HF_VIDEO)
		return rax_errf(e, -ENOEXEC, "%s: the Multiboot header asks "
				"for a video mode (flag 2); rax has no "
				"display", img->path);
	if (unknown)
		return rax_errf(e, -ENOEXEC, "%s: the Multiboot header requires "
				"features rax does not know (flags %#x)",
				img->path, unknown);
	if (h->flags & MB_HF_AOUT_KLUDGE)
		ret = load_aout(m, img, h, off, &s, &entry, e);
	else if (ld_is_elf(img))
		ret = load_elf32(m, img, &s, &entry, e);
	else
		ret = rax_errf(e, -ENOEXEC, "%s: a Multiboot image that is "
			       "not ELF needs the a.out kludge (header flag "
			       "16)", img->path);
	if (!ret && c->initrd)
		ret = load_module(m, c->initrd, &s, &mod, e);
	if (!ret)
		ret = write_strings(m, c, &mod_str, e);
	if (!ret)
		ret = write_info(m, &mod, mod_str, e);
	if (ret)
		return ret;
	if (write_gdt32(&m->mem))
		return rax_errf(e, -EFAULT, "cannot write the boot tables");
	ret = ld_write_firmware(m, e);
	if (ret)
		return ret;
	mb_boot_regs(&m->boot_regs, entry);
	m->e820_ram_top = m->mem.low_size;
	info->entry = entry;
	info->kernel_start = s.start;
	info->kernel_end = s.end;
	info->initrd_start = mod.start;
	info->initrd_size = mod.end - mod.start;
	info->boot_params = LD_MB_INFO;
	info->cmdline = LD_CMDLINE;
	info->elf = !(h->flags & MB_HF_AOUT_KLUDGE);
	info->multiboot = true;
	rax_log(LOG_INFO, boot, "Multiboot %s: %#llx-%#llx, entry %#llx, "
		"information %#llx, module %#llx-%#llx",
		info->elf ? "ELF" : "a.out kludge",
		(unsigned long long)s.start, (unsigned long long)s.end,
		(unsigned long long)entry, LD_MB_INFO,
		(unsigned long long)mod.start, (unsigned long long)mod.end);
	return 0;
}
