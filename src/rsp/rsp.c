/* GDB server: placeholder until issue 4 lands. */
#include "rsp/rsp.h"

#include <errno.h>

int rsp_open(struct machine *m, const char *addr, bool wait,
	     struct rsp_server **out, struct rax_err *e)
{
	return rax_errf(e, -ENOSYS, "--gdb %s: the gdb server is not "
			"implemented yet", addr);
}

int rsp_run(struct rsp_server *s)
{
	return 1;
}

void rsp_close(struct rsp_server *s)
{
}
