/* Device registration table: placeholder. */
#include "devices/devices.h"

int dev_init_all(struct machine *m, struct rax_err *e)
{
	return 0;
}

void dev_exit_all(struct machine *m)
{
}
