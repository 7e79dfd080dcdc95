/* Default guest lookup: see guest.h. */
#include "guest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "src/guest-key.h"	/* generated: RAX_GUEST_KEY (examples/local.mk) */

#ifndef RAX_GUEST_KEY
#define RAX_GUEST_KEY "unknown"
#endif

int guest_default(struct guest_paths *p, struct rax_err *e)
{
	const char *dir = getenv("RAX_GUEST_DIR");
	const char *home = getenv("HOME");

	if (dir && *dir)
		snprintf(p->dir, sizeof(p->dir), "%s", dir);
	else
		snprintf(p->dir, sizeof(p->dir), "%s/.cache/rax/guest-%s",
			 home ? home : "/root", RAX_GUEST_KEY);
	snprintf(p->kernel, sizeof(p->kernel), "%s/bzImage", p->dir);
	snprintf(p->vmlinux, sizeof(p->vmlinux), "%s/vmlinux", p->dir);
	snprintf(p->initrd, sizeof(p->initrd), "%s/initramfs.cpio.gz", p->dir);
	if (access(p->kernel, R_OK) || access(p->initrd, R_OK))
		return rax_errf(e, -ENOENT, "no --kernel given and the default "
				"guest is not built (%s): run 'make guest' or "
				"examples/build-guest.sh", p->dir);
	return 0;
}
