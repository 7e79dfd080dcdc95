/* The default guest built by examples/build-guest.sh: where its files are
 * cached and how rax finds them when no --kernel is given. */
#ifndef RAX_GUEST_H
#define RAX_GUEST_H

#include "err.h"

struct guest_paths {
	char dir[512];
	char kernel[600];  /* bzImage */
	char vmlinux[600];
	char initrd[600];
};

/* Fills *p from $RAX_GUEST_DIR, else the cache directory keyed by the
 * guest configuration's hash.  Returns 0, or -ENOENT with a message that
 * says how to build the guest. */
int guest_default(struct guest_paths *p, struct rax_err *e)
	__attribute__((warn_unused_result));

#endif
