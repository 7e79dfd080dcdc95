/* Guest physical memory: see mem.h. */
#include "mem.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int gm_init(struct guest_mem *gm, uint64_t size)
{
	void *p;

	memset(gm, 0, sizeof(*gm));
	if (size < (1u << 20) || (size & 0xfff))
		return -EINVAL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	gm->host = p;
	gm->size = size;
	gm->low_size = size < MEM_HOLE_START ? size : MEM_HOLE_START;
	gm->high_size = size - gm->low_size;
	return 0;
}

void gm_destroy(struct guest_mem *gm)
{
	if (gm->host)
		munmap(gm->host, gm->size);
	memset(gm, 0, sizeof(*gm));
}

int gm_read(const struct guest_mem *gm, uint64_t gpa, void *buf, size_t len)
{
	const void *p = gm_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

int gm_write(struct guest_mem *gm, uint64_t gpa, const void *buf, size_t len)
{
	void *p = gm_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, buf, len);
	for (size_t o = 0; o < len; o = (o | 0xfff) + 1)
		gm_dirty_host(gm, (uint8_t *)p + o);
	if (len)
		gm_dirty_host(gm, (uint8_t *)p + len - 1);
	return 0;
}

int gm_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	case '\0': break;
	default: return -EINVAL;
	}
	if ((*end == 'i' || *end == 'I') && shift)
		end++; /* accept "MiB"-style suffixes */
	if ((*end == 'b' || *end == 'B') && shift)
		end++;
	if (*end || v == 0 || (shift && v > (~0ull >> shift)))
		return -EINVAL;
	*out = v << shift;
	return 0;
}
