/* KVM engine: gdb breakpoints, watchpoints and single-step through
 * KVM_SET_GUEST_DEBUG (api.rst §4.59).  Software breakpoints are int3
 * bytes patched into guest RAM, kept by guest-physical address; hardware
 * breakpoints and watchpoints use the four debug registers (SDM Vol. 3
 * §17.2). */
#include "kvm/kvm_int.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"

#define DR6_BS (1ull << 14)

int kvm_translate(struct kvm_vcpu *v, uint64_t gva, uint64_t *gpa)
{
	struct kvm_translation t = { .linear_address = gva };

	if (ioctl(v->fd, KVM_TRANSLATE, &t) < 0)
		return -errno;
	if (!t.valid)
		return -EFAULT;
	*gpa = t.physical_address;
	return 0;
}

static int find_swbp(struct kvm_engine *k, uint64_t gva)
{
	for (int i = 0; i < k->nswbp; i++)
		if (k->swbp[i].gva == gva)
			return i;
	return -1;
}

static int swbp_insert(struct machine *m, uint64_t gva)
{
	struct kvm_engine *k = kvm_of(m);
	uint64_t gpa = 0;
	uint8_t *p;
	int ret;

	if (find_swbp(k, gva) >= 0)
		return 0;
	if (k->nswbp == KVM_MAX_SWBP)
		return -ENOSPC;
	/* Through the BSP's page tables: gdb's addresses are the kernel's,
	 * mapped alike on every vCPU. */
	ret = kvm_translate(&k->vcpu[0], gva, &gpa);
	if (ret)
		return ret;
	p = gm_ptr(&m->mem, gpa, 1);
	if (!p)
		return -EFAULT;
	k->swbp[k->nswbp++] = (struct kvm_swbp){ gva, gpa, *p };
	*p = 0xcc;
	rax_log(LOG_DEBUG, kvm, "sw breakpoint %#llx: int3 at guest-physical "
		"%#llx", (unsigned long long)gva, (unsigned long long)gpa);
	return 0;
}

/* After each exit: an int3 the guest has overwritten since (a
 * decompressor or loader rewriting the page, text patching) is put back,
 * and the guest's new byte becomes the one to restore.  The check runs
 * at VM exits, so a guest that overwrites the byte and executes it with
 * no exit in between still misses the breakpoint.  Returns how many
 * were re-inserted. */
int kvm_swbp_refresh(struct machine *m)
{
	struct kvm_engine *k = kvm_of(m);
	int n = 0;

	for (int i = 0; i < k->nswbp; i++) {
		uint8_t *p = gm_ptr(&m->mem, k->swbp[i].gpa, 1);

		if (!p || *p == 0xcc)
			continue;
		k->swbp[i].orig = *p;
		*p = 0xcc;
		n++;
		rax_log(LOG_DEBUG, kvm, "sw breakpoint %#llx: the guest "
			"overwrote the int3 at guest-physical %#llx; "
			"re-inserted", (unsigned long long)k->swbp[i].gva,
			(unsigned long long)k->swbp[i].gpa);
	}
	return n;
}

static int swbp_remove(struct machine *m, uint64_t gva)
{
	struct kvm_engine *k = kvm_of(m);
	int i = find_swbp(k, gva);
	uint8_t *p;

	if (i < 0)
		return -ENOENT;
	p = gm_ptr(&m->mem, k->swbp[i].gpa, 1);
	/* Restore only if the guest has not rewritten the byte since. */
	if (p && *p == 0xcc)
		*p = k->swbp[i].orig;
	k->swbp[i] = k->swbp[--k->nswbp];
	return 0;
}

/* Debug-register length encoding (SDM Vol. 3 §17.2.5). */
static int dr_len_bits(uint64_t len)
{
	switch (len) {
	case 1: return 0;
	case 2: return 1;
	case 8: return 2;
	case 4: return 3;
	default: return -1;
	}
}

static int hwbp_insert(struct machine *m, enum bp_type t, uint64_t addr,
		       uint64_t len)
{
	struct kvm_engine *k = kvm_of(m);

	if (t == BP_READ)
		return -EOPNOTSUPP; /* x86 has no read-only watch */
	if (t == BP_HW)
		len = 1;
	if (dr_len_bits(len) < 0 || (addr & (len - 1)))
		return -EINVAL;
	for (int i = 0; i < 4; i++) {
		if (!k->hwbp[i].used) {
			k->hwbp[i] = (struct kvm_hwbp){ true, t, addr, len };
			return 0;
		}
	}
	return -ENOSPC;
}

static int hwbp_remove(struct machine *m, enum bp_type t, uint64_t addr,
		       uint64_t len)
{
	struct kvm_engine *k = kvm_of(m);

	for (int i = 0; i < 4; i++) {
		struct kvm_hwbp *b = &k->hwbp[i];

		if (b->used && b->type == t && b->addr == addr) {
			b->used = false;
			return 0;
		}
	}
	return -ENOENT;
}

int kvm_bp_insert(struct machine *m, enum bp_type t, uint64_t addr,
		  uint64_t len)
{
	return t == BP_SW ? swbp_insert(m, addr) : hwbp_insert(m, t, addr, len);
}

int kvm_bp_remove(struct machine *m, enum bp_type t, uint64_t addr,
		  uint64_t len)
{
	return t == BP_SW ? swbp_remove(m, addr) : hwbp_remove(m, t, addr, len);
}

static int set_guest_debug(struct machine *m, struct kvm_vcpu *v, bool step,
			   uint32_t extra)
{
	struct kvm_engine *k = kvm_of(m);
	struct kvm_guest_debug dbg;
	bool hw = false;

	memset(&dbg, 0, sizeof(dbg));
	for (int i = 0; i < 4; i++) {
		struct kvm_hwbp *b = &k->hwbp[i];
		uint64_t rw;

		if (!b->used)
			continue;
		hw = true;
		rw = b->type == BP_HW ? 0 : b->type == BP_WRITE ? 1 : 3;
		dbg.arch.debugreg[i] = b->addr;
		dbg.arch.debugreg[7] |= (2ull << (i * 2)) |
			(rw << (16 + i * 4)) |
			((uint64_t)dr_len_bits(b->len) << (18 + i * 4));
	}
	if (step || hw || k->nswbp || extra)
		dbg.control = KVM_GUESTDBG_ENABLE | extra;
	if (step)
		dbg.control |= KVM_GUESTDBG_SINGLESTEP | KVM_GUESTDBG_BLOCKIRQ;
	if (hw)
		dbg.control |= KVM_GUESTDBG_USE_HW_BP;
	if (k->nswbp)
		dbg.control |= KVM_GUESTDBG_USE_SW_BP;
	if (!dbg.control && !v->dbg_applied)
		return 0;
	if (ioctl(v->fd, KVM_SET_GUEST_DEBUG, &dbg) < 0) {
		if (errno != EINVAL || !(dbg.control & KVM_GUESTDBG_BLOCKIRQ))
			return -errno;
		/* Older kernels lack BLOCKIRQ: step without it. */
		dbg.control &= ~KVM_GUESTDBG_BLOCKIRQ;
		if (ioctl(v->fd, KVM_SET_GUEST_DEBUG, &dbg) < 0)
			return -errno;
	}
	rax_log(LOG_DEBUG, kvm, "vCPU %u: KVM_SET_GUEST_DEBUG control %#x "
		"dr7 %#llx dr0-3 %#llx %#llx %#llx %#llx", v->index, dbg.control,
		(unsigned long long)dbg.arch.debugreg[7],
		(unsigned long long)dbg.arch.debugreg[0],
		(unsigned long long)dbg.arch.debugreg[1],
		(unsigned long long)dbg.arch.debugreg[2],
		(unsigned long long)dbg.arch.debugreg[3]);
	v->dbg_applied = dbg.control != 0;
	v->step = step;
	return 0;
}

int kvm_debug_apply(struct machine *m, struct kvm_vcpu *v, bool step)
{
	return set_guest_debug(m, v, step, 0);
}

bool kvm_debug_exit(struct machine *m, struct kvm_vcpu *v,
		    struct vcpu_stop *st)
{
	struct kvm_engine *k = kvm_of(m);
	struct kvm_debug_exit_arch *d = &v->run->debug.arch;

	rax_log(LOG_DEBUG, kvm, "vCPU %u: KVM_EXIT_DEBUG exception %u pc %#llx "
		"dr6 %#llx dr7 %#llx", v->index, d->exception,
		(unsigned long long)d->pc,
		(unsigned long long)d->dr6, (unsigned long long)d->dr7);
	if (d->exception == 3) {
		if (find_swbp(k, d->pc) >= 0) {
			st->reason = VCPU_STOP_SWBREAK;
			return true;
		}
		/* The guest's own int3: deliver it to the guest. */
		rax_log(LOG_DEBUG, kvm, "re-injecting guest #BP at %#llx",
			(unsigned long long)d->pc);
		(void)set_guest_debug(m, v, v->step, KVM_GUESTDBG_INJECT_BP);
		return false;
	}
	for (int i = 0; i < 4; i++) {
		struct kvm_hwbp *b = &k->hwbp[i];

		if (!b->used || !(d->dr6 & (1ull << i)))
			continue;
		if (b->type == BP_HW) {
			st->reason = VCPU_STOP_HWBREAK;
		} else {
			st->reason = VCPU_STOP_WATCH;
			st->watch_type = b->type;
			st->addr = b->addr;
		}
		return true;
	}
	if ((d->dr6 & DR6_BS) || v->step) {
		st->reason = VCPU_STOP_STEP;
		return true;
	}
	rax_log(LOG_DEBUG, kvm, "re-injecting guest #DB at %#llx",
		(unsigned long long)d->pc);
	(void)set_guest_debug(m, v, v->step, KVM_GUESTDBG_INJECT_DB);
	return false;
}
