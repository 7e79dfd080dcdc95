/* Kernel loader: placeholder. */
#include "loader/loader.h"

#include <errno.h>

int ld_load(struct machine *m, const struct ld_config *c, struct ld_info *info,
	    struct rax_err *e)
{
	return rax_errf(e, -ENOSYS, "%s: the loader is not implemented yet",
			c->kernel);
}
