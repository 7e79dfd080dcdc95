/* The KVM engine: placeholder. */
#include "vcpu.h"

#include <errno.h>

#include "err.h"

static int kvm_probe(struct rax_err *e)
{
	return rax_errf(e, -ENOSYS, "the KVM engine is not implemented yet");
}

const struct vcpu_ops kvm_vcpu_ops = {
	.name = "kvm",
	.probe = kvm_probe,
};
