/* bm/main.c: stage 3.  Stage 2 left us in 64-bit mode, in VMX root
 * operation, on an identity map.  Build the VMCS from the capability
 * MSRs, the EPT and the guest, then VMLAUNCH; exit.c takes it from
 * there.  SDM Vol. 3 chapter 25 (VMCS), 27 (VM entry), 28 (VM exit). */
#include "bm.h"

#include "console.h"
#include "cpu.h"
#include "layout.h"
#include "lib.h"
#include "vmx.h"

static uint8_t bm_vmcs[4096] __attribute__((aligned(4096)));
static uint8_t bm_exit_stack[16384] __attribute__((aligned(16)));

void bm_vmwrite(uint32_t field, uint64_t v)
{
	if (bm_vmwrite_raw(field, v))
		bm_panic("VMWRITE %x failed: VM-instruction error %lu", field,
			 bm_vmread(VMCS_VM_INSTR_ERROR));
}

/* A control word: "want" as far as allowed, with the must-be-one bits
 * added (allowed 0-settings in bits 31:0, allowed 1-settings in 63:32;
 * SDM Vol. 3 App. A.3-A.5).  "need" bits missing is fatal. */
static uint32_t bm_control(const char *name, uint32_t msr, uint32_t want,
			   uint32_t need)
{
	uint64_t cap = bm_rdmsr(msr);
	uint32_t v = (want | (uint32_t)cap) & (uint32_t)(cap >> 32);

	if ((v & need) != need)
		bm_panic("%s controls: CPU lacks %x (MSR %x = %lx)", name,
			 need & ~v, msr, cap);
	bm_printf("  %s controls %08x\n", name, v);
	return v;
}

static void bm_setup_controls(uint64_t basic)
{
	/* With IA32_VMX_BASIC[55] the TRUE_ MSRs (0x48d..0x490) report
	 * which default-1 controls may be 0 (App. A.2). */
	uint32_t t = basic & BM_VMX_BASIC_TRUE_CTLS ? 0xc : 0;
	uint32_t proc, proc2, exitc;

	bm_vmwrite(VMCS_PIN_CONTROLS,
		   bm_control("pin-based", BM_MSR_VMX_PINBASED + t,
			      BM_PIN_EXT_INTR, BM_PIN_EXT_INTR));
	proc = BM_PROC_HLT | BM_PROC_UNCOND_IO | BM_PROC_CR3_LOAD |
	       BM_PROC_SECONDARY; /* no MSR bitmaps: every RDMSR/WRMSR exits */
	/* Interrupt-window exiting is switched on only when needed (exit.c),
	 * but must be available. */
	bm_vmwrite(VMCS_PROC_CONTROLS,
		   bm_control("primary", BM_MSR_VMX_PROCBASED + t, proc,
			      proc) & ~BM_PROC_INTR_WINDOW);
	if (!(bm_rdmsr(BM_MSR_VMX_PROCBASED + t) >> 32 & BM_PROC_INTR_WINDOW))
		bm_panic("no interrupt-window exiting");
	/* RDTSCP, INVPCID and XSAVES #UD in a guest unless enabled here;
	 * what the CPU cannot enable, CPUID hides (cpuid.c). */
	proc2 = bm_control("secondary", BM_MSR_VMX_PROCBASED2,
			   BM_PROC2_EPT | BM_PROC2_UNRESTRICTED |
				   BM_PROC2_RDTSCP | BM_PROC2_INVPCID |
				   BM_PROC2_XSAVES,
			   BM_PROC2_EPT | BM_PROC2_UNRESTRICTED);
	bm_vmwrite(VMCS_PROC2_CONTROLS, proc2);
	bm_cpuid_init(proc2);
	/* EFER is switched on every entry and exit: the guest must not
	 * inherit the host's EFER.LME, and exit.c follows the guest's
	 * EFER.LMA.  Every CPU with unrestricted guest has these controls. */
	exitc = BM_EXIT_HOST_64 | BM_EXIT_ACK_INTR | BM_EXIT_SAVE_EFER |
		BM_EXIT_LOAD_EFER;
	bm_vmwrite(VMCS_EXIT_CONTROLS,
		   bm_control("VM-exit", BM_MSR_VMX_EXIT + t, exitc, exitc));
	bm_vmwrite(VMCS_ENTRY_CONTROLS,
		   bm_control("VM-entry", BM_MSR_VMX_ENTRY + t,
			      BM_ENTRY_LOAD_EFER, BM_ENTRY_LOAD_EFER));
	bm_vmwrite(VMCS_EXCEPTION_BITMAP, 0);
	bm_vmwrite(VMCS_CR3_TARGET_COUNT, 0);
	bm_vmwrite(VMCS_EXIT_MSR_STORE_COUNT, 0);
	bm_vmwrite(VMCS_EXIT_MSR_LOAD_COUNT, 0);
	bm_vmwrite(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
	bm_vmwrite(VMCS_ENTRY_INTR_INFO, 0);
}

/* Host state, §25.5 and the checks of §27.2.3. */
static void bm_setup_host(void)
{
	struct bm_host_tables t;
	static const uint32_t sels[] = { VMCS_HOST_ES_SEL, VMCS_HOST_SS_SEL,
		VMCS_HOST_DS_SEL, VMCS_HOST_FS_SEL, VMCS_HOST_GS_SEL };
	unsigned i;

	bm_host_tables_load(&t);
	for (i = 0; i < sizeof(sels) / sizeof(sels[0]); i++)
		bm_vmwrite(sels[i], 0x10);
	bm_vmwrite(VMCS_HOST_CS_SEL, 0x08);
	bm_vmwrite(VMCS_HOST_TR_SEL, 0x18);
	bm_vmwrite(VMCS_HOST_CR0, bm_read_cr0());
	bm_vmwrite(VMCS_HOST_CR3, bm_read_cr3());
	bm_vmwrite(VMCS_HOST_CR4, bm_read_cr4());
	bm_vmwrite(VMCS_HOST_FS_BASE, 0);
	bm_vmwrite(VMCS_HOST_GS_BASE, 0);
	bm_vmwrite(VMCS_HOST_TR_BASE, t.tr_base);
	bm_vmwrite(VMCS_HOST_GDTR_BASE, t.gdt_base);
	bm_vmwrite(VMCS_HOST_IDTR_BASE, t.idt_base);
	bm_vmwrite(VMCS_HOST_SYSENTER_CS, 0);
	bm_vmwrite(VMCS_HOST_SYSENTER_ESP, 0);
	bm_vmwrite(VMCS_HOST_SYSENTER_EIP, 0);
	bm_vmwrite(VMCS_HOST_EFER, bm_rdmsr(BM_MSR_EFER));
	bm_vmwrite(VMCS_HOST_RSP, (uint64_t)bm_exit_stack + sizeof(bm_exit_stack));
	bm_vmwrite(VMCS_HOST_RIP, (uint64_t)bm_vmexit_entry);
}

/* The built-in guest: 32-bit protected mode, flat segments, paging off
 * (allowed by "unrestricted guest"), at BM_GUEST_BASE.
 * Access rights per §25.4.1 Table 25-2: 0xc09b = G, D/B, P, S, type 11
 * (code, read, accessed); 0xc093 data; 0x8b busy 32-bit TSS; bit 16
 * marks LDTR unusable.  Checks: §27.3.1. */
static void bm_setup_guest(void)
{
	static const struct {
		uint16_t sel;
		uint32_t limit, ar;
	} segs[8] = {
		{ 0x10, 0xffffffff, 0xc093 }, /* ES */
		{ 0x08, 0xffffffff, 0xc09b }, /* CS */
		{ 0x10, 0xffffffff, 0xc093 }, /* SS */
		{ 0x10, 0xffffffff, 0xc093 }, /* DS */
		{ 0x10, 0xffffffff, 0xc093 }, /* FS */
		{ 0x10, 0xffffffff, 0xc093 }, /* GS */
		{ 0, 0, 0x10000 },            /* LDTR */
		{ 0x18, 0x67, 0x8b },         /* TR */
	};
	uint64_t cr0_fixed0 = bm_rdmsr(BM_MSR_VMX_CR0_FIXED0);
	uint64_t cr0_fixed1 = bm_rdmsr(BM_MSR_VMX_CR0_FIXED1);
	uint64_t cr4_fixed0 = bm_rdmsr(BM_MSR_VMX_CR4_FIXED0);
	uint64_t cr4_fixed1 = bm_rdmsr(BM_MSR_VMX_CR4_FIXED1);
	uint64_t cr0 = BM_CR0_PE | BM_CR0_ET | BM_CR0_NE;
	unsigned i;

	for (i = 0; i < 8; i++) {
		bm_vmwrite(VMCS_GUEST_ES_SEL + 2 * i, segs[i].sel);
		bm_vmwrite(VMCS_GUEST_ES_LIMIT + 2 * i, segs[i].limit);
		bm_vmwrite(VMCS_GUEST_ES_AR + 2 * i, segs[i].ar);
		bm_vmwrite(VMCS_GUEST_ES_BASE + 2 * i, 0);
	}
	bm_vmwrite(VMCS_GUEST_GDTR_BASE, 0);
	bm_vmwrite(VMCS_GUEST_GDTR_LIMIT, 0);
	bm_vmwrite(VMCS_GUEST_IDTR_BASE, 0);
	bm_vmwrite(VMCS_GUEST_IDTR_LIMIT, 0);
	bm_vmwrite(VMCS_GUEST_CR0, (cr0 | (cr0_fixed0 & ~(BM_CR0_PE | BM_CR0_PG))) &
					   cr0_fixed1);
	bm_vmwrite(VMCS_CR0_SHADOW, cr0);
	bm_vmwrite(VMCS_GUEST_CR3, 0);
	bm_vmwrite(VMCS_GUEST_CR4, cr4_fixed0 & cr4_fixed1);
	bm_vmwrite(VMCS_CR4_SHADOW, 0);
	bm_vmwrite(VMCS_GUEST_DR7, 0x400);
	bm_vmwrite(VMCS_GUEST_RSP, BM_GUEST_STACK);
	bm_vmwrite(VMCS_GUEST_RIP, BM_GUEST_BASE);
	bm_vmwrite(VMCS_GUEST_RFLAGS, 2); /* IF=0 until the guest has an IDT */
	bm_vmwrite(VMCS_GUEST_PENDING_DBG, 0);
	bm_vmwrite(VMCS_GUEST_SYSENTER_CS, 0);
	bm_vmwrite(VMCS_GUEST_SYSENTER_ESP, 0);
	bm_vmwrite(VMCS_GUEST_SYSENTER_EIP, 0);
	bm_vmwrite(VMCS_GUEST_INTERRUPTIBILITY, 0);
	bm_vmwrite(VMCS_GUEST_ACTIVITY, 0);
	bm_vmwrite(VMCS_GUEST_DEBUGCTL, 0);
	bm_vmwrite(VMCS_GUEST_EFER, 0);
	bm_vmwrite(VMCS_VMCS_LINK_POINTER, ~0ULL);
	bm_exit_init(cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1);
	bm_intr_init(bm_rdmsr(BM_MSR_VMX_MISC));

	memset((void *)BM_GUEST_BASE, 0, BM_GUEST_SIZE);
	memcpy((void *)BM_GUEST_BASE, bm_guest_blob,
	       bm_guest_blob_end - bm_guest_blob);
}

static const char *bm_vm_error(uint64_t n)
{
	/* SDM Vol. 3 §31.4 Table 31-1 (the ones a VMLAUNCH can give). */
	switch (n) {
	case 4: return "VMLAUNCH with non-clear VMCS";
	case 7: return "VM entry with invalid control field(s)";
	case 8: return "VM entry with invalid host-state field(s)";
	case 26: return "VM entry with events blocked by MOV SS";
	}
	return "see SDM Vol. 3 Table 31-1";
}

static void bm_enable_xsave(void)
{
	/* The host itself uses no extended state; CR4.OSXSAVE lets the
	 * XSETBV handler load the guest's XCR0 for real. */
	if ((bm_cpuid(1, 0).ecx & 1U << 26) &&
	    (bm_rdmsr(BM_MSR_VMX_CR4_FIXED1) & BM_CR4_OSXSAVE))
		bm_write_cr4(bm_read_cr4() | BM_CR4_OSXSAVE);
}

/* The 8259A pair, reprogrammed so that IRQs do not share vectors with
 * exceptions (the BIOS leaves the master at 8): master at 0x20, slave at
 * 0x28, cascade on IRQ2, 8086 mode (ICW1-ICW4; Intel 8259A datasheet).
 * Only IRQ0, the BIOS-programmed PIT at 18.2 Hz, and IRQ4, COM1's
 * receive interrupt (bm_console_init), stay unmasked.  The
 * host runs with IF=0; the ticks arrive as external-interrupt exits,
 * acknowledged by the exit itself ("acknowledge interrupt on exit"). */
static void bm_pic_init(void)
{
	static const uint8_t icw[2][4] = {
		{ 0x11, BM_PIC_BASE, 0x04, 0x01 },
		{ 0x11, BM_PIC_BASE + 8, 0x02, 0x01 },
	};
	int i;

	for (i = 0; i < 2; i++) {
		bm_outb(i ? 0xa0 : 0x20, icw[i][0]);
		bm_outb(i ? 0xa1 : 0x21, icw[i][1]);
		bm_outb(i ? 0xa1 : 0x21, icw[i][2]);
		bm_outb(i ? 0xa1 : 0x21, icw[i][3]);
	}
	bm_outb(0x21, 0xee);
	bm_outb(0xa1, 0xff);
}

void bm_main(void);
void bm_main(void)
{
	uint64_t basic, cap, eptp, rsi;
	int err;

	bm_console_init();
	bm_puts("stage 3: VMCS setup\n");
	bm_enable_xsave();
	bm_pic_init();

	basic = bm_rdmsr(BM_MSR_VMX_BASIC);
	cap = bm_rdmsr(BM_MSR_VMX_EPT_VPID_CAP);
	bm_printf("  VMX basic %lx, EPT/VPID cap %lx\n", basic, cap);
	*(uint32_t *)bm_vmcs = basic & 0x7fffffff; /* revision id, §25.2 */
	if (bm_vmclear((uint64_t)bm_vmcs) || bm_vmptrld((uint64_t)bm_vmcs))
		bm_panic("VMCLEAR/VMPTRLD failed");

	bm_setup_controls(basic);
	eptp = bm_ept_init(cap);
	if (!eptp)
		bm_panic("EPT lacks a 4-level walk or write-back memory");
	bm_vmwrite(VMCS_EPT_POINTER, eptp);
	bm_setup_host();
	bm_setup_guest();
	rsi = bm_linux_setup();
	if (rsi) {
		bm_printf("VMLAUNCH Linux\n");
	} else {
		if (bm_ept_map(BM_GUEST_BASE, BM_GUEST_BASE, BM_GUEST_SIZE))
			bm_panic("EPT map of guest memory failed");
		bm_printf("VMLAUNCH guest at %lx (%lu bytes)\n", BM_GUEST_BASE,
			  (uint64_t)(bm_guest_blob_end - bm_guest_blob));
	}
	err = bm_vmlaunch(rsi);
	if (err == 2) {
		uint64_t n = bm_vmread(VMCS_VM_INSTR_ERROR);

		bm_panic("VMLAUNCH failed: VM-instruction error %lu (%s)", n,
			 bm_vm_error(n));
	}
	bm_panic("VMLAUNCH failed: VMfailInvalid (no current VMCS)");
}
