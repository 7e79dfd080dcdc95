/* bm/exit.c: VM-exit handling.  One handler per basic exit reason in
 * bm_exit_table; each returns what to do next.  Exit qualification
 * layouts are from SDM Vol. 3 §28.2.1 (Tables 28-1 .. 28-7). */
#include "exit.h"

#include "console.h"
#include "cpu.h"
#include "layout.h"
#include "lib.h"
#include "vmx.h"

static uint32_t bm_exit_count[BM_EXIT_MAX];
static uint64_t bm_cr0_fixed0, bm_cr0_fixed1, bm_cr4_fixed0, bm_cr4_fixed1;
static unsigned bm_log_budget = 32; /* lines for ignored accesses */
static int bm_launched;

/* CR0 bits the host keeps to itself: the guest may not disable caching;
 * it sees its own CD/NW through the read shadow (§25.6.6). */
#define BM_CR0_HOST_OWNED (BM_CR0_CD | BM_CR0_NW)
#define BM_CR4_HOST_OWNED BM_CR4_VMXE

void bm_exit_init(uint64_t cr0_fixed0, uint64_t cr0_fixed1,
		  uint64_t cr4_fixed0, uint64_t cr4_fixed1)
{
	bm_cr0_fixed0 = cr0_fixed0;
	bm_cr0_fixed1 = cr0_fixed1;
	bm_cr4_fixed0 = cr4_fixed0;
	bm_cr4_fixed1 = cr4_fixed1;
	bm_vmwrite(VMCS_CR0_MASK, BM_CR0_HOST_OWNED);
	bm_vmwrite(VMCS_CR4_MASK, BM_CR4_HOST_OWNED);
}

static const char *bm_exit_name(uint32_t reason)
{
	switch (reason) {
#define BM_EXIT_CASE(n, name, str) \
	case n:                    \
		return str;
		BM_EXIT_REASONS(BM_EXIT_CASE)
#undef BM_EXIT_CASE
	}
	return "?";
}

static void bm_print_counts(void)
{
	uint32_t i;

	bm_printf("exit counts:\n");
	for (i = 0; i < BM_EXIT_MAX; i++)
		if (bm_exit_count[i])
			bm_printf("  %2u %s: %u\n", i, bm_exit_name(i),
				  bm_exit_count[i]);
}

void bm_log(const char *fmt, ...)
{
	va_list ap;

	if (!bm_log_budget)
		return;
	if (!--bm_log_budget)
		bm_puts("bm: (further log lines suppressed)\n");
	va_start(ap, fmt);
	bm_vprintf(fmt, ap);
	va_end(ap);
}

/* MOV to CR0/CR3/CR4 and MOV from CR3 (Table 28-3: CR in 3:0, access
 * type in 5:4, GPR in 11:8).  The guest's view of host-owned bits goes
 * to the read shadow; the real register keeps the VMX fixed bits
 * (unrestricted guest relaxes CR0.PE and CR0.PG, §27.3.1.1). */
static enum bm_action bm_exit_cr(struct bm_exit *e)
{
	unsigned cr = e->qual & 15, type = e->qual >> 4 & 3;
	unsigned gpr = e->qual >> 8 & 15;
	uint64_t *reg = &e->r->gpr[gpr], v;
	uint64_t fixed0 = bm_cr0_fixed0 & ~(BM_CR0_PE | BM_CR0_PG);

	v = gpr == BM_RSP ? bm_vmread(VMCS_GUEST_RSP) : *reg;
	if (!(bm_vmread(VMCS_GUEST_EFER) & BM_EFER_LMA))
		v = (uint32_t)v; /* outside 64-bit mode MOV CR takes 32 bits */
	if (type == 0 && cr == 0) {
		bm_vmwrite(VMCS_CR0_SHADOW, v);
		bm_vmwrite(VMCS_GUEST_CR0, ((v & ~BM_CR0_HOST_OWNED) | fixed0) &
						   bm_cr0_fixed1);
	} else if (type == 0 && cr == 4) {
		bm_vmwrite(VMCS_CR4_SHADOW, v);
		bm_vmwrite(VMCS_GUEST_CR4, (v | bm_cr4_fixed0) & bm_cr4_fixed1);
	} else if (type == 0 && cr == 3) {
		/* Bit 63 with CR4.PCIDE=1 only says "keep the TLB entries"
		 * and is never loaded (SDM Vol. 3 §4.10.4.1); without VPID
		 * every VM entry flushes them anyway. */
		bm_vmwrite(VMCS_GUEST_CR3, v & ~(1ULL << 63));
	} else if (type == 1 && cr == 3) {
		v = bm_vmread(VMCS_GUEST_CR3);
		if (gpr == BM_RSP)
			bm_vmwrite(VMCS_GUEST_RSP, v);
		else
			*reg = v;
	} else {
		bm_printf("bm: CR access %lx not emulated\n", e->qual);
		return BM_STOP;
	}
	bm_log("bm: MOV %s CR%u %lx\n", type ? "from" : "to", cr, v);
	return BM_NEXT;
}

/* XSETBV: XCR0 only, bit 0 (x87) set, bit 2 (AVX) needs bit 1 (SSE),
 * nothing the CPU does not report in CPUID.(EAX=0DH,ECX=0) (SDM Vol. 1
 * §13.3).  A valid value is loaded for real: the host uses no extended
 * state. */
static enum bm_action bm_exit_xsetbv(struct bm_exit *e)
{
	struct bm_regs *r = e->r;
	uint64_t v = (uint32_t)r->gpr[BM_RAX] | r->gpr[BM_RDX] << 32;
	struct bm_cpuid c = bm_cpuid(0xd, 0);
	uint64_t ok = (uint64_t)c.edx << 32 | c.eax;

	if ((uint32_t)r->gpr[BM_RCX] != 0 || !(v & 1) || (v & ~ok) ||
	    ((v & 4) && !(v & 2))) {
		bm_printf("bm: XSETBV xcr%u <- %lx rejected\n",
			  (unsigned)r->gpr[BM_RCX], v);
		return BM_STOP;
	}
	if (bm_read_cr4() & BM_CR4_OSXSAVE)
		bm_xsetbv(0, v);
	bm_log("bm: XSETBV xcr0 <- %lx\n", v);
	return BM_NEXT;
}

/* EPT violation (Table 28-7): inside the on-demand window, map the page
 * and retry; elsewhere report and stop. */
static enum bm_action bm_exit_ept_violation(struct bm_exit *e)
{
	uint64_t gpa = bm_vmread(VMCS_GUEST_PHYS_ADDR);

	bm_printf("bm: EPT violation at GPA %lx (qualification %lx, %s)\n",
		  gpa, e->qual, e->qual & 2 ? "write" : e->qual & 4 ? "fetch"
								  : "read");
	if (gpa < BM_DEMAND_LO || gpa >= BM_DEMAND_HI) {
		bm_printf("bm: GPA outside guest memory\n");
		return BM_STOP;
	}
	gpa &= ~0xfffULL;
	memset((void *)gpa, 0, 4096);
	if (bm_ept_map(gpa, gpa, 4096)) {
		bm_printf("bm: EPT page-table pool exhausted\n");
		return BM_STOP;
	}
	bm_ept_flush();
	bm_printf("bm: mapped GPA %lx on demand\n", gpa);
	return BM_RETRY;
}

/* HLT with interrupts enabled waits for the next one (intr.c); with
 * IF=0 nothing can wake the guest: it is done. */
static enum bm_action bm_exit_hlt(struct bm_exit *e)
{
	if (bm_vmread(VMCS_GUEST_RFLAGS) & 0x200)
		return bm_intr_halt();
	bm_printf("guest halted at rip %lx\n", bm_vmread(VMCS_GUEST_RIP));
	return BM_STOP;
}

static void bm_dump(struct bm_exit *e)
{
	static const char names[16][4] = { "rax", "rcx", "rdx", "rbx", "rsp",
		"rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
		"r14", "r15" };
	uint64_t rip = bm_vmread(VMCS_GUEST_RIP);
	const uint8_t *code = (const uint8_t *)rip;
	int i;

	e->r->gpr[BM_RSP] = bm_vmread(VMCS_GUEST_RSP);
	for (i = 0; i < 16; i++)
		bm_printf("%s=%016lx%c", names[i], e->r->gpr[i],
			  i % 4 == 3 ? '\n' : ' ');
	bm_printf("rip=%016lx cr0=%lx cr3=%lx cr4=%lx code:", rip,
		  bm_vmread(VMCS_GUEST_CR0), bm_vmread(VMCS_GUEST_CR3),
		  bm_vmread(VMCS_GUEST_CR4));
	if (rip >= BM_GUEST_BASE && rip + 8 <= BM_GUEST_BASE + BM_GUEST_SIZE)
		for (i = 0; i < 8; i++)
			bm_printf(" %02x", code[i]);
	bm_putc('\n');
}

static enum bm_action bm_exit_triple_fault(struct bm_exit *e)
{
	bm_printf("bm: guest triple fault\n");
	bm_dump(e);
	return BM_STOP;
}

static const bm_exit_fn bm_exit_table[BM_EXIT_MAX] = {
	[BM_EXIT_EXT_INTR] = bm_exit_ext_intr,
	[BM_EXIT_TRIPLE_FAULT] = bm_exit_triple_fault,
	[BM_EXIT_INTR_WINDOW] = bm_exit_intr_window,
	[BM_EXIT_CPUID] = bm_exit_cpuid,
	[BM_EXIT_HLT] = bm_exit_hlt,
	[BM_EXIT_CR_ACCESS] = bm_exit_cr,
	[BM_EXIT_IO] = bm_exit_io,
	[BM_EXIT_RDMSR] = bm_exit_rdmsr,
	[BM_EXIT_WRMSR] = bm_exit_wrmsr,
	[BM_EXIT_EPT_VIOLATION] = bm_exit_ept_violation,
	[BM_EXIT_XSETBV] = bm_exit_xsetbv,
};

/* A VM exit stores EFER.LMA into the "IA-32e mode guest" entry control
 * (§28.3.1), so a guest that enabled paging with EFER.LME=1 re-enters in
 * IA-32e mode; say so once per change.  The explicit update keeps the
 * entry control and the saved EFER consistent (§27.3.1.1) should a CPU
 * not do it. */
static void bm_track_ia32e(void)
{
	static int ia32e;
	uint64_t entry = bm_vmread(VMCS_ENTRY_CONTROLS);
	int lma = !!(bm_vmread(VMCS_GUEST_EFER) & BM_EFER_LMA);

	if (lma != !!(entry & BM_ENTRY_IA32E))
		bm_vmwrite(VMCS_ENTRY_CONTROLS, lma ? entry | BM_ENTRY_IA32E :
						      entry & ~BM_ENTRY_IA32E);
	if (lma != ia32e)
		bm_printf("bm: guest %s IA-32e mode\n", lma ? "entered" : "left");
	ia32e = lma;
}

/* Past the exiting instruction: a skipped STI or MOV SS no longer
 * shadows the next one (blocking bits 1:0 of the interruptibility state,
 * §25.4.2 Table 25-3). */
static void bm_skip_instruction(void)
{
	uint64_t intr = bm_vmread(VMCS_GUEST_INTERRUPTIBILITY);

	bm_vmwrite(VMCS_GUEST_RIP, bm_vmread(VMCS_GUEST_RIP) +
					   bm_vmread(VMCS_EXIT_INSTR_LEN));
	if (intr & 3)
		bm_vmwrite(VMCS_GUEST_INTERRUPTIBILITY, intr & ~3ULL);
}

void bm_vmexit(struct bm_regs *r)
{
	struct bm_exit e = { r, bm_vmread(VMCS_EXIT_REASON),
			     bm_vmread(VMCS_EXIT_QUALIFICATION) };
	uint32_t basic = e.reason & 0xffff;
	enum bm_action act = BM_STOP;

	if (e.reason & BM_EXIT_ENTRY_FAIL) {
		bm_printf("VM entry failed: exit reason %u (%s), "
			  "qualification %lx\n", basic, bm_exit_name(basic),
			  e.qual);
		bm_dump(&e);
		bm_shutdown();
	}
	if (!bm_launched++)
		bm_printf("VMLAUNCH ok (first VM exit: %s)\n",
			  bm_exit_name(basic));
	bm_track_ia32e();
	if (basic < BM_EXIT_MAX) {
		bm_exit_count[basic]++;
		if (bm_exit_table[basic])
			act = bm_exit_table[basic](&e);
	}
	if (basic >= BM_EXIT_MAX || !bm_exit_table[basic]) {
		bm_printf("bm: unhandled VM exit %u (%s), qualification %lx\n",
			  basic, bm_exit_name(basic), e.qual);
		bm_dump(&e);
	}
	if (act == BM_NEXT)
		bm_skip_instruction();
	if (act == BM_STOP) {
		bm_print_counts();
		bm_shutdown();
	}
	bm_intr_before_entry();
}

_Noreturn void bm_vmresume_failed(void)
{
	bm_panic("VMRESUME failed: VM-instruction error %lu",
		 bm_vmread(VMCS_VM_INSTR_ERROR));
}
