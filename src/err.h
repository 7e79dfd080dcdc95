/* A message buffer that library code fills and only main() prints
 * (STYLE.md habit 4: library code returns -errno, main prints and exits). */
#ifndef RAX_ERR_H
#define RAX_ERR_H

#include <stddef.h>

struct rax_err {
	char msg[512];
};

/* Formats into e->msg (if e is non-NULL) and returns ret, so callers can
 * write `return rax_errf(e, -EINVAL, "%s: bad magic", path);`. */
int rax_errf(struct rax_err *e, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
