/* The KVM engine's device-interface operations (vcpu.h): MSIs through
 * KVM_SIGNAL_MSI, ioeventfds (KVM_IOEVENTFD) and irqfds for MSIs
 * (KVM_IRQFD on a GSI whose route is the MSI).  API:
 * Documentation/virt/kvm/api.rst, the sections of KVM_SIGNAL_MSI,
 * KVM_IOEVENTFD, KVM_IRQFD and KVM_SET_GSI_ROUTING.
 *
 * KVM_SET_GSI_ROUTING replaces the whole table, including the routes
 * of the in-kernel irqchip that KVM sets up by default
 * (kvm_setup_default_irq_routing() in Linux's arch/x86/kvm/irq_comm.c):
 * GSI 0-7 to the master PIC and IOAPIC pins 0-7, GSI 8-15 to the slave
 * PIC and pins 8-15, GSI 16-23 to IOAPIC pins 16-23.  The table built
 * here repeats those and appends one MSI route per irqfd from GSI 24 up,
 * so KVM_IRQ_LINE (machine_set_irq) keeps working unchanged. */
#include "kvm/kvm_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"

#define KVM_IRQCHIP_GSIS 24

void kvm_msi(struct machine *m, uint64_t addr, uint32_t data)
{
	struct kvm_engine *k = kvm_of(m);
	struct kvm_msi msg = {
		.address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32),
		.data = data,
	};

	/* Returns > 0 delivered, 0 blocked by the guest (masked). */
	if (k && ioctl(k->vm_fd, KVM_SIGNAL_MSI, &msg) < 0)
		rax_log(LOG_WARN, irq, "KVM_SIGNAL_MSI %#llx/%#x: %s",
			(unsigned long long)addr, data, strerror(errno));
}

int kvm_ioeventfd(struct machine *m, uint64_t gpa, unsigned len, int fd,
		  bool assign)
{
	struct kvm_engine *k = kvm_of(m);
	struct kvm_ioeventfd io = {
		.addr = gpa, .len = len, .fd = fd,
		.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};

	if (!k)
		return -ENODEV;
	if (ioctl(k->vm_fd, KVM_IOEVENTFD, &io) < 0)
		return -errno;
	rax_log(LOG_DEBUG, kvm, "ioeventfd %#llx len %u fd %d %s",
		(unsigned long long)gpa, len, fd, assign ? "on" : "off");
	return 0;
}

static void route_irqchip(struct kvm_irq_routing_entry *e, unsigned gsi,
			  unsigned chip, unsigned pin)
{
	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_IRQCHIP;
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

/* Installs the default irqchip routes plus every MSI route in use.
 * Called with k->irq_lock held. */
static int set_routing(struct kvm_engine *k)
{
	struct kvm_irq_routing *r;
	struct kvm_irq_routing_entry *e;
	unsigned gsi, i, n = 0;
	int ret = 0;

	r = calloc(1, sizeof(*r) + (16 + KVM_IRQCHIP_GSIS + KVM_MAX_MSI_ROUTES)
		   * sizeof(r->entries[0]));
	if (!r)
		return -ENOMEM;
	e = r->entries;
	for (gsi = 0; gsi < 16; gsi++)
		route_irqchip(&e[n++], gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER :
			      KVM_IRQCHIP_PIC_SLAVE, gsi & 7);
	for (gsi = 0; gsi < KVM_IRQCHIP_GSIS; gsi++)
		route_irqchip(&e[n++], gsi, KVM_IRQCHIP_IOAPIC, gsi);
	for (i = 0; i < KVM_MAX_MSI_ROUTES; i++) {
		const struct kvm_msi_route *mr = &k->msi_route[i];

		if (mr->fd < 0)
			continue;
		memset(&e[n], 0, sizeof(e[n]));
		e[n].gsi = KVM_IRQCHIP_GSIS + i;
		e[n].type = KVM_IRQ_ROUTING_MSI;
		e[n].u.msi.address_lo = (uint32_t)mr->addr;
		e[n].u.msi.address_hi = (uint32_t)(mr->addr >> 32);
		e[n].u.msi.data = mr->data;
		n++;
	}
	r->nr = n;
	if (ioctl(k->vm_fd, KVM_SET_GSI_ROUTING, r) < 0)
		ret = -errno;
	free(r);
	return ret;
}

static int irqfd(struct kvm_engine *k, int fd, unsigned gsi, bool assign)
{
	struct kvm_irqfd f = {
		.fd = (uint32_t)fd, .gsi = gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	return ioctl(k->vm_fd, KVM_IRQFD, &f) < 0 ? -errno : 0;
}

int kvm_irqfd_msi(struct machine *m, int fd, uint64_t addr, uint32_t data,
		  bool assign)
{
	struct kvm_engine *k = kvm_of(m);
	struct kvm_msi_route *mr = NULL, *free_slot = NULL;
	int ret = 0, i;

	if (!k)
		return -ENODEV;
	pthread_mutex_lock(&k->irq_lock);
	for (i = 0; i < KVM_MAX_MSI_ROUTES; i++) {
		if (k->msi_route[i].fd == fd)
			mr = &k->msi_route[i];
		else if (k->msi_route[i].fd < 0 && !free_slot)
			free_slot = &k->msi_route[i];
	}
	if (!assign) {
		if (mr) {
			ret = irqfd(k, fd, KVM_IRQCHIP_GSIS +
				    (unsigned)(mr - k->msi_route), false);
			mr->fd = -1;
			if (!ret)
				ret = set_routing(k);
		}
		goto out;
	}
	if (mr && mr->addr == addr && mr->data == data)
		goto out;
	if (!mr) {
		if (!free_slot) {
			ret = -ENOSPC;
			goto out;
		}
		mr = free_slot;
		mr->fd = fd;
		mr->addr = addr;
		mr->data = data;
		ret = set_routing(k);
		if (!ret)
			ret = irqfd(k, fd, KVM_IRQCHIP_GSIS +
				    (unsigned)(mr - k->msi_route), true);
		if (ret)
			mr->fd = -1;
		goto out;
	}
	mr->addr = addr;
	mr->data = data;
	ret = set_routing(k);
out:
	pthread_mutex_unlock(&k->irq_lock);
	if (ret)
		rax_log(LOG_DEBUG, kvm, "irqfd %d msi %#llx/%#x %s: %s", fd,
			(unsigned long long)addr, data,
			assign ? "assign" : "release", strerror(-ret));
	return ret;
}

void kvm_irq_init(struct kvm_engine *k)
{
	pthread_mutex_init(&k->irq_lock, NULL);
	for (int i = 0; i < KVM_MAX_MSI_ROUTES; i++)
		k->msi_route[i].fd = -1;
}
