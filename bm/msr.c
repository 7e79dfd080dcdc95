/* bm/msr.c: RDMSR and WRMSR exits (every MSR access exits: no MSR
 * bitmaps).  MSR numbers from SDM Vol. 4 chapter 2. */
#include "exit.h"

#include "console.h"
#include "cpu.h"
#include "vmx.h"

/* MSRs backed by guest-state fields of the VMCS. */
static const struct {
	uint32_t msr;
	uint32_t field;
} bm_msr_fields[] = {
	{ BM_MSR_SYSENTER_CS, VMCS_GUEST_SYSENTER_CS },
	{ BM_MSR_SYSENTER_ESP, VMCS_GUEST_SYSENTER_ESP },
	{ BM_MSR_SYSENTER_EIP, VMCS_GUEST_SYSENTER_EIP },
	{ BM_MSR_EFER, VMCS_GUEST_EFER },
	{ BM_MSR_FS_BASE, VMCS_GUEST_FS_BASE },
	{ BM_MSR_GS_BASE, VMCS_GUEST_GS_BASE },
};

/* MSRs the guest may own outright: the host never executes SYSCALL or
 * SWAPGS (SDM Vol. 3 §5.8.8), so STAR, LSTAR, CSTAR, SFMASK and
 * KERNEL_GS_BASE hold the guest's values in the hardware itself. */
static int bm_msr_passthrough(uint32_t msr)
{
	return (msr >= BM_MSR_STAR && msr <= BM_MSR_SFMASK) ||
	       msr == BM_MSR_KERNEL_GS_BASE;
}

/* IA32_PAT is the guest's in name only: the host's stays in force (the
 * EPT leaves do not ignore it; §29.3.7).  Power-on value, §13.12.4. */
static uint64_t bm_guest_pat = 0x0007040600070406ULL;

static int bm_msr_field(uint32_t msr)
{
	unsigned i;

	for (i = 0; i < sizeof(bm_msr_fields) / sizeof(bm_msr_fields[0]); i++)
		if (bm_msr_fields[i].msr == msr)
			return (int)bm_msr_fields[i].field;
	return -1;
}

enum bm_action bm_exit_rdmsr(struct bm_exit *e)
{
	struct bm_regs *r = e->r;
	uint32_t msr = r->gpr[BM_RCX];
	int field = bm_msr_field(msr);
	uint64_t v = 0;

	if (field >= 0)
		v = bm_vmread(field);
	else if (bm_msr_passthrough(msr))
		v = bm_rdmsr(msr);
	else if (msr == BM_MSR_PAT)
		v = bm_guest_pat;
	else if (msr == BM_MSR_FEATURE_CONTROL)
		v = 1; /* locked, VMX off: no nested VMX here */
	else if (msr == BM_MSR_APIC_BASE)
		v = 0xfee00900; /* BSP, enabled, default base */
	else if (msr == BM_MSR_TSC)
		v = bm_rdtsc();
	else
		bm_log("bm: RDMSR %x unknown -> 0\n", msr);
	bm_set32(r, BM_RAX, v);
	bm_set32(r, BM_RDX, v >> 32);
	return BM_NEXT;
}

enum bm_action bm_exit_wrmsr(struct bm_exit *e)
{
	struct bm_regs *r = e->r;
	uint32_t msr = r->gpr[BM_RCX];
	uint64_t v = (uint32_t)r->gpr[BM_RAX] | r->gpr[BM_RDX] << 32;
	int field = bm_msr_field(msr);

	/* EFER: SCE, LME, NXE are the guest's; LMA is the CPU's (set when
	 * the guest enables paging with LME=1, §10.8.5). */
	if (msr == BM_MSR_EFER)
		v = (v & (BM_EFER_SCE | BM_EFER_LME | BM_EFER_NXE)) |
		    (bm_vmread(VMCS_GUEST_EFER) & BM_EFER_LMA);
	if (field >= 0)
		bm_vmwrite(field, v);
	else if (bm_msr_passthrough(msr))
		bm_wrmsr(msr, v);
	else if (msr == BM_MSR_PAT)
		bm_guest_pat = v;
	else
		bm_log("bm: WRMSR %x <- %lx ignored\n", msr, v);
	return BM_NEXT;
}
