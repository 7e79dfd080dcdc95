/* bzImage parsing: the setup header of Documentation/x86/boot.rst,
 * validated against the file before anything is trusted. */
#include "loader/ld_int.h"

#include <errno.h>
#include <string.h>

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

int ld_is_bzimage(const struct ld_image *img)
{
	return img->size >= BP_HDR_OFF(boot_flag) + 2 &&
	       get16(img->p + BP_HDR_OFF(boot_flag)) == BP_BOOT_FLAG;
}

/* Saturating add, so garbage in pref_address cannot wrap around. */
static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/* Where the kernel decompresses itself: a relocatable kernel rounds its
 * load address up to kernel_alignment but never goes below pref_address
 * (LOAD_PHYSICAL_ADDR); it then needs init_size bytes from there. */
static uint64_t footprint_end(const struct ld_bzimage *bz)
{
	const struct bp_setup_header *h = &bz->hdr;
	uint64_t align = h->kernel_alignment, out = h->pref_address;
	uint64_t end;

	if (h->relocatable_kernel && align && !(align & (align - 1))) {
		out = (LD_KERNEL + align - 1) & ~(align - 1);
		if (out < h->pref_address)
			out = h->pref_address;
	}
	if (out < LD_KERNEL)
		out = LD_KERNEL;
	end = add_sat(out, h->init_size);
	if (end < LD_KERNEL + bz->pm_size)
		end = LD_KERNEL + bz->pm_size;
	return end;
}

/* Copies the header: its end is 0x202 + the byte at 0x201 (boot.rst,
 * "64-bit Boot Protocol"), clipped to the fields we know. */
static int copy_header(const struct ld_image *img, struct ld_bzimage *bz,
		       struct rax_err *e)
{
	size_t end = 0x202 + (size_t)img->p[0x201];

	if (end > BP_SETUP_HDR_OFF + sizeof(bz->hdr))
		end = BP_SETUP_HDR_OFF + sizeof(bz->hdr);
	if (end > img->size)
		return rax_errf(e, -EINVAL, "%s: truncated bzImage: the setup "
				"header ends at %#zx, the file has %zu bytes",
				img->path, end, img->size);
	bz->hdr_len = end - BP_SETUP_HDR_OFF;
	memcpy(&bz->hdr, img->p + BP_SETUP_HDR_OFF, bz->hdr_len);
	return 0;
}

static int check_version(const struct ld_image *img,
			 const struct bp_setup_header *h, struct rax_err *e)
{
	if (h->header != BP_HDRS_MAGIC)
		return rax_errf(e, -ENOEXEC, "%s: boot protocol too old (no "
				"\"HdrS\" header); need 2.06 or later",
				img->path);
	if (h->version < 0x0206)
		return rax_errf(e, -ENOEXEC, "%s: boot protocol %u.%02u is too "
				"old; need 2.06 or later", img->path,
				h->version >> 8, h->version & 0xff);
	/* xloadflags exists from 2.12 on (boot.rst, "Protocol 2.12"). */
	if (h->version < 0x020c || !(h->xloadflags & BP_XLF_KERNEL_64))
		return rax_errf(e, -ENOEXEC, "%s: not a 64-bit kernel (boot "
				"protocol %u.%02u, no XLF_KERNEL_64 in "
				"xloadflags)", img->path, h->version >> 8,
				h->version & 0xff);
	return 0;
}

/* Sizes of the real-mode and protected-mode parts (boot.rst, "Loading
 * the rest of the kernel"; syssize is in 16-byte units, 2.04+). */
static int split_image(const struct ld_image *img, struct ld_bzimage *bz,
		       struct rax_err *e)
{
	unsigned sects = bz->hdr.setup_sects;
	uint64_t want;

	bz->setup_size = (size_t)((sects ? sects : BP_DEFAULT_SETUP_SECTS) + 1)
			 * BP_SECTOR;
	bz->pm_size = (size_t)bz->hdr.syssize * 16;
	if (!bz->pm_size && img->size > bz->setup_size)
		bz->pm_size = img->size - bz->setup_size;
	want = (uint64_t)bz->setup_size + bz->pm_size;
	if (!bz->pm_size || want > img->size)
		return rax_errf(e, -EINVAL, "%s: truncated bzImage: the setup "
				"header says %llu bytes, the file has %zu",
				img->path, (unsigned long long)want, img->size);
	bz->pm = img->p + bz->setup_size;
	return 0;
}

static int check_payload(const struct ld_image *img,
			 const struct ld_bzimage *bz, struct rax_err *e)
{
	uint64_t end = (uint64_t)bz->hdr.payload_offset +
		       bz->hdr.payload_length;

	if (end > bz->pm_size)
		return rax_errf(e, -EINVAL, "%s: truncated bzImage: payload "
				"%#x+%#x lies past the protected-mode code "
				"(%#zx bytes)", img->path,
				bz->hdr.payload_offset,
				bz->hdr.payload_length, bz->pm_size);
	return 0;
}

int ld_bz_parse(const struct ld_image *img, struct ld_bzimage *bz,
		struct rax_err *e)
{
	int ret;

	memset(bz, 0, sizeof(*bz));
	if (img->size < BP_HDR_OFF(version) + 2)
		return rax_errf(e, -EINVAL, "%s: truncated bzImage (%zu bytes)",
				img->path, img->size);
	ret = copy_header(img, bz, e);
	if (!ret)
		ret = check_version(img, &bz->hdr, e);
	if (!ret)
		ret = split_image(img, bz, e);
	if (!ret)
		ret = check_payload(img, bz, e);
	if (ret)
		return ret;
	bz->footprint_end = footprint_end(bz);
	return 0;
}
