/* bm/cpuid.c: CPUID exits (CPUID always exits, SDM Vol. 3 §26.1.2).
 * The guest sees the host's values minus what this hypervisor does not
 * give it: VMX, a local APIC (none is virtualized: its MMIO page is
 * outside the EPT), and instructions that would #UD in the guest because
 * their secondary control is off.  Bits: SDM Vol. 2A CPUID. */
#include "exit.h"

#include "cpu.h"
#include "vmx.h"

enum { EAX, EBX, ECX, EDX };

struct bm_cpuid_mask {
	uint32_t leaf;
	int32_t sub; /* -1: any */
	uint8_t reg;
	uint32_t bits;
};

static struct bm_cpuid_mask bm_cpuid_hide[8] = {
	{ 1, -1, ECX, 1U << 5 },  /* VMX */
	{ 1, -1, ECX, 1U << 21 }, /* x2APIC */
	{ 1, -1, EDX, 1U << 9 },  /* APIC */
};
static unsigned bm_cpuid_nhide = 3;

static void bm_cpuid_hide_unless(uint32_t proc2, uint32_t ctl,
				 struct bm_cpuid_mask m)
{
	if (!(proc2 & ctl) &&
	    bm_cpuid_nhide < sizeof(bm_cpuid_hide) / sizeof(bm_cpuid_hide[0]))
		bm_cpuid_hide[bm_cpuid_nhide++] = m;
}

void bm_cpuid_init(uint32_t proc2)
{
	bm_cpuid_hide_unless(proc2, BM_PROC2_RDTSCP,
			     (struct bm_cpuid_mask){ 0x80000001, -1, EDX,
						     1U << 27 });
	bm_cpuid_hide_unless(proc2, BM_PROC2_INVPCID,
			     (struct bm_cpuid_mask){ 7, 0, EBX, 1U << 10 });
	bm_cpuid_hide_unless(proc2, BM_PROC2_XSAVES,
			     (struct bm_cpuid_mask){ 0xd, 1, EAX, 1U << 3 });
}

enum bm_action bm_exit_cpuid(struct bm_exit *e)
{
	struct bm_regs *r = e->r;
	uint32_t leaf = r->gpr[BM_RAX], sub = r->gpr[BM_RCX], v[4];
	struct bm_cpuid c = bm_cpuid(leaf, sub);
	unsigned i;

	v[EAX] = c.eax, v[EBX] = c.ebx, v[ECX] = c.ecx, v[EDX] = c.edx;
	for (i = 0; i < bm_cpuid_nhide; i++)
		if (bm_cpuid_hide[i].leaf == leaf &&
		    (bm_cpuid_hide[i].sub < 0 ||
		     (uint32_t)bm_cpuid_hide[i].sub == sub))
			v[bm_cpuid_hide[i].reg] &= ~bm_cpuid_hide[i].bits;
	if (leaf == 1) {
		/* Hypervisor present (bit 31); OSXSAVE (bit 27) is the
		 * guest's CR4.OSXSAVE, not the host's. */
		v[ECX] |= 1U << 31;
		v[ECX] &= ~(1U << 27);
		if (bm_vmread(VMCS_GUEST_CR4) & BM_CR4_OSXSAVE)
			v[ECX] |= 1U << 27;
	}
	for (i = 0; i < 4; i++)
		bm_set32(r, (int[]){ BM_RAX, BM_RBX, BM_RCX, BM_RDX }[i], v[i]);
	return BM_NEXT;
}
