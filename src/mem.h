/* Guest physical memory: one anonymous host mapping, split around the
 * 32-bit MMIO hole as PCs do.
 *
 *   [0, low_size)                    RAM (low_size <= MEM_HOLE_START)
 *   [MEM_HOLE_START, 4 GiB)          MMIO hole (IOAPIC, LAPIC, ...)
 *   [4 GiB, 4 GiB + high_size)       RAM above the hole
 *
 * Both engines, the loader, the devices and the gdb server reach guest
 * RAM through gm_ptr(). */
#ifndef RAX_MEM_H
#define RAX_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEM_HOLE_START 0xc0000000ull /* 3 GiB */
#define MEM_4G 0x100000000ull

struct guest_mem {
	uint8_t *host;      /* whole mapping: low RAM then high RAM */
	uint64_t size;      /* total RAM bytes */
	uint64_t low_size;  /* RAM below the hole */
	uint64_t high_size; /* RAM at and above 4 GiB */
	/* The history's dirty map (src/history), or NULL: one byte per
	 * 4 KiB page of the mapping, set when the page may have been
	 * written since the history last cleared it. */
	uint8_t *dirty;
};

/* Marks the page holding host byte p of the mapping dirty. */
static inline void gm_dirty_host(const struct guest_mem *gm, const void *p)
{
	if (gm->dirty)
		gm->dirty[((const uint8_t *)p - gm->host) >> 12] = 1;
}

/* Maps `size` bytes (a multiple of 4 KiB, at least 1 MiB) of zeroed RAM.
 * Returns 0 or -errno. */
int gm_init(struct guest_mem *gm, uint64_t size) __attribute__((warn_unused_result));
void gm_destroy(struct guest_mem *gm);

/* Host pointer for [gpa, gpa+len) if the whole range is RAM in one
 * region, else NULL.  Never faults. */
static inline void *gm_ptr(const struct guest_mem *gm, uint64_t gpa,
			   uint64_t len)
{
	if (gpa < gm->low_size) {
		if (len > gm->low_size - gpa)
			return NULL;
		return gm->host + gpa;
	}
	if (gpa >= MEM_4G && gpa - MEM_4G < gm->high_size &&
	    len <= gm->high_size - (gpa - MEM_4G))
		return gm->host + gm->low_size + (gpa - MEM_4G);
	return NULL;
}

/* Copy helpers: return 0, or -EFAULT when any byte is outside RAM. */
int gm_read(const struct guest_mem *gm, uint64_t gpa, void *buf, size_t len);
int gm_write(struct guest_mem *gm, uint64_t gpa, const void *buf, size_t len);

/* Parse a size such as "512M", "1G", "268435456", "64k".  Returns 0 or
 * -EINVAL for anything malformed, zero or overflowing. */
int gm_parse_size(const char *s, uint64_t *out) __attribute__((warn_unused_result));

#endif
