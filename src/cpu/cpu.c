/* The interpreter engine: placeholder until issue 3 lands. */
#include "vcpu.h"

#include <errno.h>

#include "err.h"

static int cpu_probe(struct rax_err *e)
{
	return rax_errf(e, -ENOSYS, "the x86-64 interpreter is not "
			"implemented yet");
}

const struct vcpu_ops cpu_vcpu_ops = {
	.name = "emulator",
	.probe = cpu_probe,
};
