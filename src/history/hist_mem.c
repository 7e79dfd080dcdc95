/* The history's guest RAM: each snapshot keeps the pages written since
 * the one before it (the dirty map the engine and the devices mark,
 * guest_mem.dirty); the first keeps every page that is not all zero.
 * The copies of one page form a chain, newest first (latest[pfn]), so
 * the page as it was at snapshot s is the first copy of its chain with
 * seq <= s->seq, or zeros.  RAM is always the snapshot base_seq's but
 * for the pages dirty now; restoring s (before or after it) puts back
 * those and the pages saved by a snapshot between the two. */
#include "history/hist_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "machine.h"

#define POOL_ARENA (2u << 20)
/* What a saved page costs the budget. */
#define PAGE_COST (sizeof(struct hist_page) + 4096)

void *hist_pool_get(struct hist_pool *p)
{
	void *b = p->free;
	void **na;
	uint8_t *a;

	if (b) {
		memcpy(&p->free, b, sizeof(void *));
		return b;
	}
	if (!p->left) {
		/* Twice the size, so that a 2 MiB-aligned arena fits. */
		a = mmap(NULL, POOL_ARENA, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (a == MAP_FAILED)
			return NULL;
		na = realloc(p->arenas, (p->narenas + 1) * sizeof(*na));
		if (!na) {
			munmap(a, POOL_ARENA);
			return NULL;
		}
		p->arenas = na;
		p->arenas[p->narenas++] = a;
		p->next = a;
		p->left = POOL_ARENA / 4096;
	}
	b = p->next;
	p->next += 4096;
	p->left--;
	return b;
}

void hist_pool_put(struct hist_pool *p, void *block)
{
	memcpy(block, &p->free, sizeof(void *));
	p->free = block;
}

static void pool_free(struct hist_pool *p)
{
	for (size_t i = 0; i < p->narenas; i++)
		munmap(p->arenas[i], POOL_ARENA);
	free(p->arenas);
	memset(p, 0, sizeof(*p));
}

static struct hist_page *page_new(struct hist *h)
{
	struct hist_page *p = malloc(sizeof(*p));

	if (p && !(p->data = hist_pool_get(&h->pool))) {
		free(p);
		p = NULL;
	}
	return p;
}

static void page_free(struct hist *h, struct hist_page *p)
{
	hist_pool_put(&h->pool, p->data);
	free(p);
}

int hist_mem_init(struct hist *h)
{
	struct guest_mem *gm = &h->m->mem;

	h->npfn = gm->size >> 12;
	h->latest = calloc(h->npfn, sizeof(*h->latest));
	h->dirty = malloc(h->npfn);
	if (!h->latest || !h->dirty)
		return -ENOMEM;
	memset(h->dirty, 1, h->npfn); /* the first snapshot looks at all */
	gm->dirty = h->dirty;
	return 0;
}

void hist_mem_free(struct hist *h)
{
	h->m->mem.dirty = NULL;
	for (size_t i = 0; i < h->npfn; i++) {
		struct hist_page *p = h->latest[i], *prev;

		for (; p; p = prev) {
			prev = p->prev;
			free(p);
		}
	}
	pool_free(&h->pool);
	free(h->latest);
	free(h->dirty);
}

static bool page_zero(const uint8_t *p)
{
	static const uint8_t zero[4096];

	return !memcmp(p, zero, sizeof(zero));
}

/* The guest-physical address of page pfn of the mapping. */
static uint64_t pfn_gpa(const struct guest_mem *gm, size_t pfn)
{
	uint64_t off = (uint64_t)pfn << 12;

	return off < gm->low_size ? off : off - gm->low_size + MEM_4G;
}

/* For the first snapshot: clears the dirty marks of the pages of guest
 * RAM the host never gave memory to (neither present nor swapped in
 * /proc/self/pagemap, Documentation/admin-guide/mm/pagemap.rst), which
 * read as zeros; reading each to compare it with zeros would fault it
 * in.  Without pagemap every page stays to be compared. */
static void skip_untouched(struct hist *h)
{
	const struct guest_mem *gm = &h->m->mem;
	uint64_t e[512];
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	for (size_t pfn = 0; pfn < h->npfn; pfn += 512) {
		size_t n = h->npfn - pfn < 512 ? h->npfn - pfn : 512;
		uint64_t va = (uint64_t)(uintptr_t)gm->host + ((uint64_t)pfn << 12);
		ssize_t got = pread(fd, e, n * 8, (off_t)(va >> 12) * 8);

		if (got != (ssize_t)(n * 8))
			break;
		for (size_t i = 0; i < n; i++) {
			if (!(e[i] >> 62)) /* bit 63 present, 62 swapped */
				h->dirty[pfn + i] = 0;
		}
	}
	close(fd);
}

int hist_mem_save(struct hist *h, struct hist_snap *s, bool first)
{
	struct guest_mem *gm = &h->m->mem;
	size_t n = 0, cap = 0;

	s->pages = NULL;
	if (first)
		skip_untouched(h);
	for (size_t pfn = 0; pfn < h->npfn; pfn++) {
		const uint8_t *src = gm->host + ((uint64_t)pfn << 12);
		struct hist_page *p;

		if (!h->dirty[pfn])
			continue;
		h->dirty[pfn] = 0;
		if (first && page_zero(src))
			continue;
		if (n == cap) {
			struct hist_page **np;

			cap = cap ? 2 * cap : 256;
			np = realloc(s->pages, cap * sizeof(*np));
			if (!np)
				return -ENOMEM;
			s->pages = np;
		}
		p = page_new(h);
		if (!p)
			return -ENOMEM;
		p->prev = h->latest[pfn];
		p->seq = s->seq;
		p->pfn = (uint32_t)pfn;
		memcpy(p->data, src, 4096);
		h->latest[pfn] = p;
		s->pages[n++] = p;
	}
	s->npages = n;
	h->used += n * PAGE_COST;
	h->base_seq = s->seq;
	return 0;
}

void hist_mem_restore(struct hist *h, const struct hist_snap *s)
{
	struct guest_mem *gm = &h->m->mem;
	struct machine *m = h->m;
	size_t i;

	uint32_t lo = h->base_seq < s->seq ? h->base_seq : s->seq;
	uint32_t hi = h->base_seq < s->seq ? s->seq : h->base_seq;

	/* Pages saved between the base and s differ between the two. */
	for (i = 0; i < h->nsnaps; i++) {
		if (h->snaps[i].seq <= lo || h->snaps[i].seq > hi)
			continue;
		for (size_t k = 0; k < h->snaps[i].npages; k++)
			h->dirty[h->snaps[i].pages[k]->pfn] = 1;
	}
	h->base_seq = s->seq;
	for (size_t pfn = 0; pfn < h->npfn; pfn++) {
		uint8_t *dst = gm->host + ((uint64_t)pfn << 12);
		const struct hist_page *p = h->latest[pfn];

		if (!h->dirty[pfn])
			continue;
		h->dirty[pfn] = 0;
		while (p && p->seq > s->seq)
			p = p->prev;
		if (p)
			memcpy(dst, p->data, 4096);
		else
			memset(dst, 0, 4096);
		/* Decoded code of the page is stale now. */
		if (h->eng->mem_written)
			h->eng->mem_written(m, pfn_gpa(gm, pfn), 4096);
	}
}

static struct hist_page *find_page(const struct hist_snap *s, uint32_t pfn,
				   size_t *at)
{
	size_t lo = 0, hi = s->npages;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->pages[mid]->pfn < pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return lo < s->npages && s->pages[lo]->pfn == pfn ? s->pages[lo] : NULL;
}

void hist_mem_merge(struct hist *h, size_t i)
{
	struct hist_snap *s = &h->snaps[i], *t = &h->snaps[i + 1];
	struct hist_page **merged;
	size_t n = 0, a = 0, b = 0;

	merged = malloc((s->npages + t->npages) * sizeof(*merged) + 1);
	if (!merged)
		return; /* no thinning this time */
	for (size_t k = 0; k < s->npages; k++) {
		struct hist_page *p = s->pages[k];
		size_t at;
		struct hist_page *q = find_page(t, p->pfn, &at);

		if (q) { /* superseded: unlink and free */
			q->prev = p->prev;
			page_free(h, p);
			s->pages[k] = NULL;
			h->used -= PAGE_COST;
		} else {
			p->seq = t->seq;
		}
	}
	while (a < s->npages || b < t->npages) {
		if (a < s->npages && !s->pages[a]) {
			a++;
		} else if (b >= t->npages ||
			   (a < s->npages && s->pages[a]->pfn < t->pages[b]->pfn)) {
			merged[n++] = s->pages[a++];
		} else {
			merged[n++] = t->pages[b++];
		}
	}
	free(t->pages);
	free(s->pages);
	s->pages = NULL;
	s->npages = 0;
	t->pages = merged;
	t->npages = n;
}

void hist_mem_drop_last(struct hist *h)
{
	struct hist_snap *s = &h->snaps[h->nsnaps - 1];

	for (size_t k = 0; k < s->npages; k++) {
		struct hist_page *p = s->pages[k];

		/* The newest copy of its page: the head of the chain. */
		h->latest[p->pfn] = p->prev;
		h->dirty[p->pfn] = 1;
		page_free(h, p);
		h->used -= PAGE_COST;
	}
	free(s->pages);
	s->pages = NULL;
	s->npages = 0;
}
