/* bm/lib.h: the freestanding image's libc subset. */
#ifndef BM_LIB_H
#define BM_LIB_H

#include <stddef.h>

void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#endif
