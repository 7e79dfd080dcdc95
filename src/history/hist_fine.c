/* Fine snapshots (hist_int.h struct hist_fine): a cache of machine
 * states between two snapshots, made while a seek or a reverse search
 * re-executes, so that the next step back re-executes at most an eighth
 * of a snapshot period instead of a whole one.  Each keeps its guest
 * pages as the difference from its base snapshot: the pages dirty since
 * that snapshot was restored or taken (RAM is always the base's but for
 * those, hist_mem.c). */
#include "history/hist_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"

static void fine_free(struct hist *h, size_t i)
{
	struct hist_fine *f = &h->fines[i];

	for (size_t k = 0; k < f->npages; k++)
		hist_pool_put(&h->pool, f->data[k]);
	h->fine_used -= f->npages * 4096 + f->blob_len;
	free(f->blob);
	free(f->pfns);
	free(f->data);
	h->fines[i] = h->fines[--h->nfines];
}

static void evict(struct hist *h, uint64_t room)
{
	while (h->nfines && (h->nfines == HIST_FINES ||
			     h->fine_used + room > h->budget / 8)) {
		size_t old = 0;

		for (size_t i = 1; i < h->nfines; i++)
			if (h->fines[i].age < h->fines[old].age)
				old = i;
		fine_free(h, old);
	}
}

static size_t count_dirty(const struct hist *h)
{
	size_t n = 0;

	for (size_t pfn = 0; pfn < h->npfn; pfn++)
		n += h->dirty[pfn] != 0;
	return n;
}

int hist_fine_take(struct hist *h, uint64_t t, size_t ev, uint64_t insns,
		   void *blob, size_t blob_len)
{
	const uint8_t *ram = h->m->mem.host;
	size_t n = count_dirty(h), k = 0;
	struct hist_fine *f;

	evict(h, n * 4096 + blob_len);
	if (h->fine_used + n * 4096 + blob_len > h->budget / 8) {
		free(blob);
		return -ENOMEM;
	}
	f = &h->fines[h->nfines];
	memset(f, 0, sizeof(*f));
	f->pfns = malloc((n + 1) * sizeof(*f->pfns));
	f->data = malloc((n + 1) * sizeof(*f->data));
	if (!f->pfns || !f->data)
		goto fail;
	for (size_t pfn = 0; pfn < h->npfn && k < n; pfn++) {
		if (!h->dirty[pfn])
			continue;
		f->data[k] = hist_pool_get(&h->pool);
		if (!f->data[k])
			goto fail;
		memcpy(f->data[k], ram + ((uint64_t)pfn << 12), 4096);
		f->pfns[k++] = (uint32_t)pfn;
	}
	f->t = t;
	f->ev = ev;
	f->insns = insns;
	f->base_seq = h->base_seq;
	f->age = ++h->fine_age;
	f->blob = blob;
	f->blob_len = blob_len;
	f->npages = k;
	h->fine_used += k * 4096 + blob_len;
	h->nfines++;
	return 0;
fail:
	while (k-- > 0)
		hist_pool_put(&h->pool, f->data[k]);
	free(f->pfns);
	free(f->data);
	free(blob);
	return -ENOMEM;
}

bool hist_fine_at(struct hist *h, uint64_t t)
{
	for (size_t i = 0; i < h->nfines; i++)
		if (h->fines[i].t == t)
			return true;
	return false;
}

long hist_snap_by_seq(struct hist *h, uint32_t seq)
{
	size_t lo = 0, hi = h->nsnaps;

	while (lo < hi) { /* seq increases with the index */
		size_t mid = (lo + hi) / 2;

		if (h->snaps[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < h->nsnaps && h->snaps[lo].seq == seq ? (long)lo : -1;
}

long hist_fine_before(struct hist *h, uint64_t t, size_t ev)
{
	long best = -1;

	for (size_t i = 0; i < h->nfines; i++) {
		const struct hist_fine *f = &h->fines[i];

		if (f->t > t || (f->t == t && f->ev > ev))
			continue;
		if (best >= 0 && (f->t < h->fines[best].t ||
				  (f->t == h->fines[best].t &&
				   f->ev <= h->fines[best].ev)))
			continue;
		if (hist_snap_by_seq(h, f->base_seq) >= 0)
			best = (long)i;
	}
	return best;
}

void hist_fine_restore_mem(struct hist *h, size_t i, size_t base)
{
	struct hist_fine *f = &h->fines[i];
	struct guest_mem *gm = &h->m->mem;

	hist_mem_restore(h, &h->snaps[base]);
	for (size_t k = 0; k < f->npages; k++) {
		uint64_t off = (uint64_t)f->pfns[k] << 12;

		memcpy(gm->host + off, f->data[k], 4096);
		h->dirty[f->pfns[k]] = 1;
		if (h->eng->mem_written) /* decoded code is stale */
			h->eng->mem_written(h->m, off < gm->low_size ? off :
					    off - gm->low_size + MEM_4G, 4096);
	}
	f->age = ++h->fine_age;
}

void hist_fine_prune(struct hist *h, uint64_t t, size_t ev)
{
	for (size_t i = h->nfines; i-- > 0;) {
		const struct hist_fine *f = &h->fines[i];

		if (f->t > t || (f->t == t && f->ev > ev) ||
		    hist_snap_by_seq(h, f->base_seq) < 0)
			fine_free(h, i);
	}
}

void hist_fine_free_all(struct hist *h)
{
	while (h->nfines)
		fine_free(h, h->nfines - 1);
}
