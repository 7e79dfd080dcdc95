/* libFuzzer target for the page-table walker.  Input: CR0, CR3, CR4,
 * EFER and the linear address (8 bytes each, little-endian), one access
 * byte (PG_* bits; bit 7 also runs pg_for_each_range), then the
 * page-table memory image at physical address 0 (up to 64 KiB; other
 * addresses are not RAM).  CR3 is taken from the low 16 bits shifted
 * left by 5 so that it lands in the image.  Checks the contract of a
 * successful walk: a known page size and the page offset preserved.
 * Build and run: bench/fuzz/run.sh paging SECONDS */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "paging/paging.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR 41
#define IMG_MAX 65536

static uint8_t img[IMG_MAX];
static size_t img_len;
static unsigned long ranges;

static int rd(void *opaque, uint64_t pa, uint64_t *pte)
{
	if (pa & 7)
		abort(); /* pg_walk promises aligned addresses */
	if (pa >= img_len || img_len - pa < 8)
		return -EFAULT;
	memcpy(pte, img + pa, 8);
	return 0;
}

static int wr(void *opaque, uint64_t pa, uint64_t pte)
{
	if (pa & 7)
		abort();
	if (pa >= img_len || img_len - pa < 8)
		return -EFAULT;
	memcpy(img + pa, &pte, 8);
	return 0;
}

static int count(void *arg, uint64_t va, uint64_t pa, uint64_t len,
		 bool w, bool u, bool nx)
{
	if (!len)
		abort();
	return ++ranges > 4096; /* enough: stop long walks early */
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pg_ctx c;
	struct pg_result r;
	uint32_t pf = 0;
	uint64_t va, off;
	int ret;

	if (size < HDR)
		return 0;
	c.cr0 = le64(data);
	c.cr3 = (le64(data + 8) & 0xffff) << 5;
	c.cr4 = le64(data + 16);
	c.efer = le64(data + 24);
	va = le64(data + 32);
	c.read_pte = rd;
	c.write_pte = wr;
	c.opaque = NULL;
	img_len = size - HDR < IMG_MAX ? size - HDR : IMG_MAX;
	memcpy(img, data + HDR, img_len);
	ret = pg_walk(&c, va, data[40] & 0x1f, &r, &pf);
	if (ret == PG_OK) {
		if (r.page_size != 4096 && r.page_size != 2u << 20 &&
		    r.page_size != 4u << 20 && r.page_size != 1u << 30)
			abort();
		off = r.page_size - 1;
		if ((r.pa & off) != (va & off))
			abort();
	} else if (ret != PG_FAULT && ret != -EFAULT) {
		abort();
	}
	if (data[40] & 0x80) {
		ranges = 0;
		pg_for_each_range(&c, count, NULL);
	}
	return 0;
}
