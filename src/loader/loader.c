/* ld_load(): reads the kernel (bzImage or vmlinux ELF) and the initrd into
 * guest RAM, writes the zero page, the boot GDT and page tables and the MP
 * table, and sets m->boot_regs for the 64-bit boot protocol.  The memory
 * map is in ld_int.h. */
#include "loader/loader.h"
#include "loader/ld_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader/multiboot.h"
#include "log.h"
#include "machine.h"

/* boot.rst, "heap_end_ptr": end of the setup heap relative to the
 * real-mode code, minus 0x200.  Unused on the 64-bit entry. */
#define LD_HEAP_END 0xfe00

int ld_open_regular(const char *path, const char *what, int *fd,
		    uint64_t *size, struct rax_err *e)
{
	struct stat st;
	int ret;

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return rax_errf(e, -errno, "%s: cannot open the %s: %s", path,
				what, strerror(errno));
	if (fstat(*fd, &st)) {
		ret = rax_errf(e, -errno, "%s: %s", path, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = rax_errf(e, -EINVAL, "%s: the %s is not a regular file",
			       path, what);
		goto out_close;
	}
	if (!st.st_size) {
		ret = rax_errf(e, -EINVAL, "%s: the %s is empty", path, what);
		goto out_close;
	}
	*size = (uint64_t)st.st_size;
	return 0;
out_close:
	close(*fd);
	return ret;
}

/* Maps the whole kernel file read-only (a vmlinux with debug info can be
 * far larger than guest RAM; only its segments are copied). */
static int map_kernel(const char *path, struct ld_image *img,
		      struct rax_err *e)
{
	uint64_t size;
	void *p;
	int fd, ret;

	ret = ld_open_regular(path, "kernel", &fd, &size, e);
	if (ret)
		return ret;
	p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	ret = p == MAP_FAILED ? -errno : 0;
	close(fd);
	if (ret)
		return rax_errf(e, ret, "%s: cannot map the kernel: %s", path,
				strerror(-ret));
	img->path = path;
	img->p = p;
	img->size = size;
	return 0;
}

static void set_elf_info(struct ld_info *info, const struct ld_elf_result *r)
{
	info->entry = r->entry;
	info->kernel_start = r->start;
	info->kernel_end = r->end;
	info->elf = true;
}

static int load_vmlinux(struct machine *m, const struct ld_image *img,
			struct bp_boot_params *zp, struct ld_info *info,
			struct rax_err *e)
{
	struct ld_elf_result r;
	int ret;

	ld_elf_setup_header(&zp->hdr);
	ret = ld_elf_load(&m->mem, img, &r, e);
	if (ret)
		return ret;
	set_elf_info(info, &r);
	rax_log(LOG_INFO, boot, "vmlinux ELF: %#llx-%#llx, entry %#llx",
		(unsigned long long)r.start, (unsigned long long)r.end,
		(unsigned long long)r.entry);
	return 0;
}

/* The payload's ELF: its segments, not the bzImage, are the kernel. */
static int load_payload_elf(struct machine *m, const struct ld_image *elf,
			    const char *how, struct ld_info *info,
			    struct rax_err *e)
{
	struct ld_elf_result r;
	int ret;

	ret = ld_elf_load(&m->mem, elf, &r, e);
	if (ret)
		return ret;
	set_elf_info(info, &r);
	rax_log(LOG_INFO, boot, "payload (%s) loaded by the host: %zu "
		"bytes, ELF %#llx-%#llx, entry %#llx", how, elf->size,
		(unsigned long long)r.start, (unsigned long long)r.end,
		(unsigned long long)r.entry);
	return 0;
}

/* Decompresses the payload (an ELF vmlinux, boot.rst "payload_offset")
 * into a scratch mapping as large as low RAM and loads it.  An
 * uncompressed payload (CONFIG_KERNEL_UNCOMPRESSED) is loaded as is. */
static int load_payload(struct machine *m, const struct ld_image *img,
			const struct ld_bzimage *bz, struct ld_info *info,
			struct rax_err *e)
{
	struct ld_image pl = { img->path, bz->pm + bz->hdr.payload_offset,
			       bz->hdr.payload_length };
	struct ld_image elf = { img->path, NULL, 0 };
	size_t cap = m->mem.low_size;
	uint8_t *out;
	int ret;

	if (bz->hdr.version < 0x0208 || !bz->hdr.payload_length)
		return rax_errf(e, -ENOEXEC, "%s: no payload to decompress "
				"(boot protocol %#x); use --decompress guest",
				img->path, bz->hdr.version);
	if (ld_is_elf(&pl))
		return load_payload_elf(m, &pl, "not compressed", info, e);
	out = mmap(NULL, cap, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (out == MAP_FAILED)
		return rax_errf(e, -ENOMEM, "%s: no memory to decompress the "
				"kernel", img->path);
	ret = ld_decompress(&pl, out, cap, &elf.size, e);
	if (ret)
		goto out_unmap;
	elf.p = out;
	if (!ld_is_elf(&elf)) {
		ret = rax_errf(e, -EINVAL, "%s: the decompressed %s payload "
			       "is not an ELF image", img->path,
			       ld_payload_format(pl.p, pl.size));
		goto out_unmap;
	}
	ret = load_payload_elf(m, &elf, ld_payload_format(pl.p, pl.size),
			       info, e);
out_unmap:
	munmap(out, cap);
	return ret;
}

/* Protected-mode code at 1 MiB; it decompresses itself within
 * footprint_end (init_size from its chosen address). */
static int load_pm_code(struct machine *m, const struct ld_image *img,
			const struct ld_bzimage *bz, struct ld_info *info,
			struct rax_err *e)
{
	if (bz->pm_size <= BP_ENTRY64_OFF)
		return rax_errf(e, -EINVAL, "%s: truncated bzImage: %zu bytes "
				"of protected-mode code", img->path,
				bz->pm_size);
	if (bz->footprint_end > m->mem.low_size)
		return rax_errf(e, -EFBIG, "%s: the kernel needs %llu MiB of "
				"RAM (init_size %#x), the guest has %llu MiB "
				"below the hole", img->path,
				(unsigned long long)(bz->footprint_end >> 20),
				bz->hdr.init_size,
				(unsigned long long)(m->mem.low_size >> 20));
	if (gm_write(&m->mem, LD_KERNEL, bz->pm, bz->pm_size))
		return rax_errf(e, -EFAULT, "%s: cannot write the kernel",
				img->path);
	info->entry = LD_KERNEL + BP_ENTRY64_OFF;
	info->kernel_start = LD_KERNEL;
	info->kernel_end = bz->footprint_end;
	rax_log(LOG_INFO, boot, "bzImage: %zu bytes of protected-mode code "
		"at %#llx, needs up to %#llx", bz->pm_size,
		(unsigned long long)LD_KERNEL,
		(unsigned long long)bz->footprint_end);
	return 0;
}

static int load_bzimage(struct machine *m, const struct ld_config *c,
			const struct ld_image *img, struct bp_boot_params *zp,
			struct ld_info *info, struct rax_err *e)
{
	struct ld_bzimage bz;
	int ret;

	ret = ld_bz_parse(img, &bz, e);
	if (ret)
		return ret;
	zp->hdr = bz.hdr;
	info->protocol = bz.hdr.version;
	rax_log(LOG_INFO, boot, "bzImage: boot protocol %u.%02u, setup %zu "
		"bytes, init_size %#x, payload %#x+%#x", bz.hdr.version >> 8,
		bz.hdr.version & 0xff, bz.setup_size, bz.hdr.init_size,
		bz.hdr.payload_offset, bz.hdr.payload_length);
	if (c->host_decompress)
		return load_payload(m, img, &bz, info, e);
	return load_pm_code(m, img, &bz, info, e);
}

static int load_kernel(struct machine *m, const struct ld_config *c,
		       const struct ld_image *img, struct bp_boot_params *zp,
		       struct ld_info *info, struct rax_err *e)
{
	if (ld_is_elf(img))
		return load_vmlinux(m, img, zp, info, e);
	if (ld_is_bzimage(img))
		return load_bzimage(m, c, img, zp, info, e);
	return rax_errf(e, -ENOEXEC, "%s: not a bzImage or ELF kernel, and "
			"no Multiboot header in its first 8 KiB", img->path);
}

/* cmdline_size excludes the terminating NUL (boot.rst). */
static int load_cmdline(struct machine *m, const struct ld_config *c,
			struct bp_boot_params *zp, struct rax_err *e)
{
	const char *cl = c->cmdline ? c->cmdline :
			 c->default_cmdline ? c->default_cmdline : "";
	size_t len = strlen(cl);
	uint64_t max = zp->hdr.cmdline_size ? zp->hdr.cmdline_size : 255;

	if (max > LD_CMDLINE_MAX - 1)
		max = LD_CMDLINE_MAX - 1;
	if (len > max)
		return rax_errf(e, -E2BIG, "%s: the command line has %zu "
				"bytes; the kernel takes at most %llu",
				c->kernel, len, (unsigned long long)max);
	if (gm_write(&m->mem, LD_CMDLINE, cl, len + 1))
		return rax_errf(e, -EFAULT, "cannot write the command line");
	zp->hdr.cmd_line_ptr = (uint32_t)LD_CMDLINE;
	return 0;
}

int ld_read_all(int fd, uint8_t *dst, uint64_t size)
{
	uint64_t done = 0;
	ssize_t n;

	while (done < size) {
		n = pread(fd, dst + done, size - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (uint64_t)n;
	}
	return 0;
}

static int place_initrd(struct machine *m, const char *path, uint64_t size,
			const struct bp_boot_params *zp,
			const struct ld_info *info, uint64_t *addr,
			struct rax_err *e)
{
	if (size > m->mem.low_size)
		return rax_errf(e, -EFBIG, "%s: the initrd (%llu MiB) is "
				"larger than guest memory (%llu MiB below "
				"the hole)",
				path, (unsigned long long)(size >> 20),
				(unsigned long long)(m->mem.low_size >> 20));
	if (ld_place_initrd(&m->mem, size, zp->hdr.initrd_addr_max,
			    info->kernel_end, addr))
		return rax_errf(e, -EFBIG, "%s: the initrd (%llu MiB) does not "
				"fit between the kernel (ends %#llx) and %#llx",
				path, (unsigned long long)(size >> 20),
				(unsigned long long)info->kernel_end,
				(unsigned long long)m->mem.low_size);
	return 0;
}

static int load_initrd(struct machine *m, const char *path,
		       struct bp_boot_params *zp, struct ld_info *info,
		       struct rax_err *e)
{
	uint64_t size, addr;
	int fd, ret;

	ret = ld_open_regular(path, "initrd", &fd, &size, e);
	if (ret)
		return ret;
	ret = place_initrd(m, path, size, zp, info, &addr, e);
	if (ret)
		goto out_close;
	ret = ld_read_all(fd, gm_ptr(&m->mem, addr, size), size);
	if (ret) {
		ret = rax_errf(e, ret, "%s: cannot read the initrd: %s", path,
			       strerror(-ret));
		goto out_close;
	}
	zp->hdr.ramdisk_image = (uint32_t)addr;
	zp->hdr.ramdisk_size = (uint32_t)size;
	zp->ext_ramdisk_image = (uint32_t)(addr >> 32);
	zp->ext_ramdisk_size = (uint32_t)(size >> 32);
	info->initrd_start = addr;
	info->initrd_size = size;
	rax_log(LOG_INFO, boot, "initrd %#llx-%#llx",
		(unsigned long long)addr, (unsigned long long)(addr + size));
out_close:
	close(fd);
	return ret;
}

int ld_write_firmware(struct machine *m, struct rax_err *e)
{
	int ret;

	if (ld_write_mptable(&m->mem, LD_MPTABLE, m->ncpus))
		return rax_errf(e, -EFAULT, "cannot write the MP table");
	if (m->acpi_off)
		return 0;
	ret = ld_write_acpi(&m->mem, LD_ACPI, LD_MPTABLE, m->ncpus);
	if (ret)
		return rax_errf(e, ret, "cannot write the ACPI tables for %u "
				"CPUs: %s", m->ncpus, strerror(-ret));
	return 0;
}

/* The zero page, boot tables, MP table, ACPI tables and registers. */
static int finish(struct machine *m, struct bp_boot_params *zp,
		  struct ld_info *info, struct rax_err *e)
{
	int ret;

	ret = ld_write_firmware(m, e);
	if (ret)
		return ret;
	/* boot.rst, "acpi_rsdp_addr" (protocol 2.14): older kernels scan
	 * for the RSDP and find it at the same place. */
	zp->acpi_rsdp_addr = m->acpi_off ? 0 : LD_ACPI;
	zp->hdr.type_of_loader = BP_LOADER_UNDEFINED;
	zp->hdr.loadflags |= BP_LOADED_HIGH | BP_CAN_USE_HEAP;
	zp->hdr.heap_end_ptr = LD_HEAP_END;
	zp->e820_entries = (uint8_t)ld_e820(&m->mem, zp->e820_table,
					    BP_E820_MAX);
	if (gm_write(&m->mem, LD_ZERO_PAGE, zp, sizeof(*zp)) ||
	    ld_write_boot_tables(&m->mem))
		return rax_errf(e, -EFAULT, "cannot write the boot tables");
	ld_boot_regs(&m->boot_regs, info->entry, LD_ZERO_PAGE);
	m->e820_ram_top = m->mem.low_size;
	info->boot_params = LD_ZERO_PAGE;
	info->cmdline = LD_CMDLINE;
	rax_log(LOG_INFO, boot, "zero page %#llx, command line %#llx, GDT "
		"%#llx, PML4 %#llx, MP table %#llx, ACPI RSDP %#llx, %u e820 "
		"entries", LD_ZERO_PAGE, LD_CMDLINE, LD_GDT, LD_PML4,
		LD_MPTABLE, (unsigned long long)zp->acpi_rsdp_addr,
		zp->e820_entries);
	return 0;
}

/* A Linux kernel: bzImage or vmlinux ELF, the command line, the initrd,
 * the zero page and the boot tables. */
static int load_linux(struct machine *m, const struct ld_config *c,
		      const struct ld_image *img, struct ld_info *info,
		      struct rax_err *e)
{
	struct bp_boot_params *zp;
	int ret;

	zp = calloc(1, sizeof(*zp));
	if (!zp)
		return rax_errf(e, -ENOMEM, "out of memory");
	ret = load_kernel(m, c, img, zp, info, e);
	if (!ret)
		ret = load_cmdline(m, c, zp, e);
	if (!ret && c->initrd)
		ret = load_initrd(m, c->initrd, zp, info, e);
	if (!ret)
		ret = finish(m, zp, info, e);
	free(zp);
	return ret;
}

int ld_load(struct machine *m, const struct ld_config *c, struct ld_info *info,
	    struct rax_err *e)
{
	struct mb_header mbh;
	struct ld_image img;
	size_t mb_off;
	int ret;

	memset(info, 0, sizeof(*info));
	if (!c->kernel)
		return rax_errf(e, -EINVAL, "no kernel given");
	ret = map_kernel(c->kernel, &img, e);
	if (ret)
		return ret;
	if (c->flat)
		ret = ld_flat_load(m, c->flat_addr, &img, info, e);
	else if (!ld_is_bzimage(&img) && ld_mb_find(&img, &mbh, &mb_off))
		ret = ld_mb_load(m, c, &img, &mbh, mb_off, info, e);
	else
		ret = load_linux(m, c, &img, info, e);
	munmap((void *)img.p, img.size);
	return ret;
}
