/* KVM engine: conversion between struct rax_regs and KVM's kvm_regs,
 * kvm_sregs, kvm_fpu, kvm_debugregs and MSRs (Documentation/virt/kvm/api.rst). */
#include "kvm/kvm_int.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

void kvm_to_rax_seg(const struct kvm_segment *k, struct rax_seg *s)
{
	*s = (struct rax_seg){
		.base = k->base, .limit = k->limit, .sel = k->selector,
		.type = k->type, .s = k->s, .dpl = k->dpl,
		.present = k->present, .avl = k->avl, .l = k->l, .db = k->db,
		.g = k->g, .unusable = k->unusable,
	};
}

void kvm_from_rax_seg(const struct rax_seg *s, struct kvm_segment *k)
{
	*k = (struct kvm_segment){
		.base = s->base, .limit = s->limit, .selector = s->sel,
		.type = s->type, .s = s->s, .dpl = s->dpl,
		.present = s->present, .avl = s->avl, .l = s->l, .db = s->db,
		.g = s->g, .unusable = s->unusable,
	};
}

/* kvm_regs lists the GPRs in the order rax rbx rcx rdx rsi rdi rsp rbp
 * r8..r15; map them to encoding order. */
static uint64_t *kvm_gpr(struct kvm_regs *k, int i)
{
	uint64_t *const map[8] = {
		(uint64_t *)&k->rax, (uint64_t *)&k->rcx, (uint64_t *)&k->rdx,
		(uint64_t *)&k->rbx, (uint64_t *)&k->rsp, (uint64_t *)&k->rbp,
		(uint64_t *)&k->rsi, (uint64_t *)&k->rdi,
	};

	return i < 8 ? map[i] : (uint64_t *)&k->r8 + (i - 8);
}

int kvm_get_regs(struct kvm_vcpu *v, struct rax_regs *r)
{
	struct kvm_regs kr;
	struct kvm_sregs ks;
	struct kvm_segment *const segs[6] = { &ks.es, &ks.cs, &ks.ss, &ks.ds,
					      &ks.fs, &ks.gs };

	if (ioctl(v->fd, KVM_GET_REGS, &kr) < 0 ||
	    ioctl(v->fd, KVM_GET_SREGS, &ks) < 0)
		return -errno;
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < 16; i++)
		r->gpr[i] = *kvm_gpr(&kr, i);
	r->rip = kr.rip;
	r->rflags = kr.rflags;
	for (int i = 0; i < 6; i++)
		kvm_to_rax_seg(segs[i], &r->seg[i]);
	kvm_to_rax_seg(&ks.ldt, &r->ldt);
	kvm_to_rax_seg(&ks.tr, &r->tr);
	r->gdt = (struct rax_dtable){ ks.gdt.base, ks.gdt.limit };
	r->idt = (struct rax_dtable){ ks.idt.base, ks.idt.limit };
	r->cr0 = ks.cr0;
	r->cr2 = ks.cr2;
	r->cr3 = ks.cr3;
	r->cr4 = ks.cr4;
	r->cr8 = ks.cr8;
	r->efer = ks.efer;
	r->apic_base = ks.apic_base;
	return 0;
}

int kvm_set_regs(struct kvm_vcpu *v, const struct rax_regs *r)
{
	struct kvm_regs kr;
	struct kvm_sregs ks;
	struct kvm_segment *const segs[6] = { &ks.es, &ks.cs, &ks.ss, &ks.ds,
					      &ks.fs, &ks.gs };

	/* Read first so fields rax_regs does not carry (the pending
	 * interrupt bitmap) keep their values. */
	if (ioctl(v->fd, KVM_GET_SREGS, &ks) < 0)
		return -errno;
	memset(&kr, 0, sizeof(kr));
	for (int i = 0; i < 16; i++)
		*kvm_gpr(&kr, i) = r->gpr[i];
	kr.rip = r->rip;
	kr.rflags = r->rflags | RFLAGS_FIXED;
	for (int i = 0; i < 6; i++)
		kvm_from_rax_seg(&r->seg[i], segs[i]);
	kvm_from_rax_seg(&r->ldt, &ks.ldt);
	kvm_from_rax_seg(&r->tr, &ks.tr);
	ks.gdt.base = r->gdt.base;
	ks.gdt.limit = r->gdt.limit;
	ks.idt.base = r->idt.base;
	ks.idt.limit = r->idt.limit;
	ks.cr0 = r->cr0;
	ks.cr2 = r->cr2;
	ks.cr3 = r->cr3;
	ks.cr4 = r->cr4;
	ks.cr8 = r->cr8;
	ks.efer = r->efer;
	if (r->apic_base)
		ks.apic_base = r->apic_base;
	if (ioctl(v->fd, KVM_SET_SREGS, &ks) < 0 ||
	    ioctl(v->fd, KVM_SET_REGS, &kr) < 0)
		return -errno;
	return 0;
}

/* struct kvm_fpu is the FXSAVE image unpacked (api.rst, KVM_GET_FPU). */
int kvm_get_fpu(struct kvm_vcpu *v, struct rax_fpu *f)
{
	struct kvm_fpu kf;
	uint8_t *fx = f->fx;

	if (ioctl(v->fd, KVM_GET_FPU, &kf) < 0)
		return -errno;
	memset(f, 0, sizeof(*f));
	memcpy(fx + FX_FCW, &kf.fcw, 2);
	memcpy(fx + FX_FSW, &kf.fsw, 2);
	fx[FX_FTW] = kf.ftwx;
	memcpy(fx + FX_FOP, &kf.last_opcode, 2);
	memcpy(fx + FX_FIP, &kf.last_ip, 8);
	memcpy(fx + FX_FDP, &kf.last_dp, 8);
	memcpy(fx + FX_MXCSR, &kf.mxcsr, 4);
	for (int i = 0; i < 8; i++)
		memcpy(fx + FX_ST(i), kf.fpr[i], 16);
	for (int i = 0; i < 16; i++)
		memcpy(fx + FX_XMM(i), kf.xmm[i], 16);
	return 0;
}

int kvm_set_fpu(struct kvm_vcpu *v, const struct rax_fpu *f)
{
	struct kvm_fpu kf;
	const uint8_t *fx = f->fx;

	memset(&kf, 0, sizeof(kf));
	memcpy(&kf.fcw, fx + FX_FCW, 2);
	memcpy(&kf.fsw, fx + FX_FSW, 2);
	kf.ftwx = fx[FX_FTW];
	memcpy(&kf.last_opcode, fx + FX_FOP, 2);
	memcpy(&kf.last_ip, fx + FX_FIP, 8);
	memcpy(&kf.last_dp, fx + FX_FDP, 8);
	memcpy(&kf.mxcsr, fx + FX_MXCSR, 4);
	for (int i = 0; i < 8; i++)
		memcpy(kf.fpr[i], fx + FX_ST(i), 16);
	for (int i = 0; i < 16; i++)
		memcpy(kf.xmm[i], fx + FX_XMM(i), 16);
	if (ioctl(v->fd, KVM_SET_FPU, &kf) < 0)
		return -errno;
	return 0;
}

/* The YMM upper halves from the vCPU's XSAVE image (KVM_GET_XSAVE: the
 * standard format, api.rst): the AVX component at byte 576 when
 * XSTATE_BV (byte 512) has bit 2, else in its initial state (zero).
 * -ENOTSUP when the guest's CPUID has no AVX. */
#define XS_BV 512
#define XS_AVX 576

int kvm_get_ymmh(struct kvm_vcpu *v, struct rax_ymmh *y)
{
	struct kvm_xsave xs;
	uint64_t bv;

	if (!v->avx)
		return -ENOTSUP;
	if (ioctl(v->fd, KVM_GET_XSAVE, &xs) < 0)
		return -errno;
	memcpy(&bv, (uint8_t *)xs.region + XS_BV, 8);
	if (bv & 4)
		memcpy(y->h, (uint8_t *)xs.region + XS_AVX, sizeof(y->h));
	else
		memset(y->h, 0, sizeof(y->h));
	return 0;
}

/* Writes them into the image (XSTATE_BV bit 2 set: the component is
 * then loaded, not initialised). */
int kvm_set_ymmh(struct kvm_vcpu *v, const struct rax_ymmh *y)
{
	struct kvm_xsave xs;
	uint64_t bv;

	if (!v->avx)
		return -ENOTSUP;
	if (ioctl(v->fd, KVM_GET_XSAVE, &xs) < 0)
		return -errno;
	memcpy((uint8_t *)xs.region + XS_AVX, y->h, sizeof(y->h));
	memcpy(&bv, (uint8_t *)xs.region + XS_BV, 8);
	bv |= 4;
	memcpy((uint8_t *)xs.region + XS_BV, &bv, 8);
	if (ioctl(v->fd, KVM_SET_XSAVE, &xs) < 0)
		return -errno;
	return 0;
}

int kvm_get_dregs(struct kvm_vcpu *v, struct rax_dregs *d)
{
	struct kvm_debugregs kd;

	if (ioctl(v->fd, KVM_GET_DEBUGREGS, &kd) < 0)
		return -errno;
	memcpy(d->dr, kd.db, sizeof(d->dr));
	d->dr6 = kd.dr6;
	d->dr7 = kd.dr7;
	return 0;
}

/* KVM_GET_MSRS/KVM_SET_MSRS take a struct kvm_msrs header followed by
 * its entries; build the one-entry form in an aligned buffer (a struct
 * embedding kvm_msrs would be a GNU extension: its last member is a
 * flexible array). */
union one_msr {
	struct kvm_msrs hdr;
	uint8_t buf[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
};

int kvm_get_msr(struct kvm_vcpu *v, uint32_t idx, uint64_t *val)
{
	union one_msr msr;
	int n;

	memset(&msr, 0, sizeof(msr));
	msr.hdr.nmsrs = 1;
	msr.hdr.entries[0].index = idx;
	n = ioctl(v->fd, KVM_GET_MSRS, &msr);
	if (n < 0)
		return -errno;
	if (n != 1)
		return -ENOENT;
	*val = msr.hdr.entries[0].data;
	return 0;
}

int kvm_set_msr(struct kvm_vcpu *v, uint32_t idx, uint64_t val)
{
	union one_msr msr;
	int n;

	memset(&msr, 0, sizeof(msr));
	msr.hdr.nmsrs = 1;
	msr.hdr.entries[0].index = idx;
	msr.hdr.entries[0].data = val;
	n = ioctl(v->fd, KVM_SET_MSRS, &msr);
	if (n < 0)
		return -errno;
	return n == 1 ? 0 : -EINVAL;
}
