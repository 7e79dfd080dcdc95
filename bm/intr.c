/* bm/intr.c: interrupts for the guest: external-interrupt and
 * interrupt-window exits, and event injection on VM entry. */
#include "exit.h"

#include "console.h"
#include "cpu.h"
#include "layout.h"
#include "vmx.h"

/* Interrupts for the guest.  The host owns the PIC: an external
 * interrupt exit has acknowledged it (its vector is in the exit
 * interruption information, §28.2.2) and the host sends the EOI.  The
 * IRQ is then pending for the guest (an edge-triggered IRR bit per IRQ;
 * device models raise IRQs too, bm_raise_irq), translated through the
 * guest's PIC programming and injected, lowest IRQ first, at a VM entry
 * where the guest can take it (RFLAGS.IF=1, no STI/MOV SS blocking;
 * §27.6.2); until then interrupt-window exiting asks for that moment
 * (§26.7.5).  Guest EOIs to the PIC are ignored. */
static uint16_t bm_irr;

void bm_raise_irq(unsigned irq)
{
	bm_irr |= 1U << irq;
}

static void bm_set_window_exiting(int on)
{
	uint64_t proc = bm_vmread(VMCS_PROC_CONTROLS);

	bm_vmwrite(VMCS_PROC_CONTROLS, on ? proc | BM_PROC_INTR_WINDOW :
					    proc & ~BM_PROC_INTR_WINDOW);
}

/* The lowest pending IRQ the guest has not masked (masked ones are
 * dropped: an edge the guest did not want), or -1. */
static int bm_next_irq(int *vector)
{
	unsigned irq;

	for (irq = 0; irq < 16; irq++) {
		if (!(bm_irr >> irq & 1))
			continue;
		*vector = bm_vpic_vector(irq);
		if (*vector >= 0)
			return (int)irq;
		bm_irr &= ~(1U << irq);
	}
	return -1;
}

static void bm_inject_pending(void)
{
	int vector, irq;

	if (bm_vmread(VMCS_ENTRY_INTR_INFO) & BM_INTR_VALID)
		return;
	irq = bm_next_irq(&vector);
	if (irq < 0) {
		bm_set_window_exiting(0);
		return;
	}
	if (!(bm_vmread(VMCS_GUEST_RFLAGS) & 0x200) ||
	    (bm_vmread(VMCS_GUEST_INTERRUPTIBILITY) & 3)) {
		bm_set_window_exiting(1);
		return;
	}
	bm_vmwrite(VMCS_ENTRY_INTR_INFO, BM_INTR_VALID | (uint32_t)vector);
	bm_vmwrite(VMCS_GUEST_ACTIVITY, 0); /* an interrupt ends a HLT */
	bm_irr &= ~(1U << irq);
	bm_set_window_exiting(bm_irr != 0);
}

enum bm_action bm_exit_ext_intr(struct bm_exit *e)
{
	uint32_t vector = bm_vmread(VMCS_EXIT_INTR_INFO) & 0xff;
	unsigned irq = (vector - BM_PIC_BASE) & 15;
	int gv = bm_vpic_vector(irq);

	if (irq >= 8)
		bm_outb(0xa0, 0x20);
	bm_outb(0x20, 0x20);
	bm_log("bm: IRQ%u (host vector %x) -> guest vector %x%s\n", irq,
	       vector, gv & 0xff, gv < 0 ? " masked" : "");
	if (irq == 4)
		bm_com1_host_irq(); /* COM1 receive (bm_console_init) */
	else
		bm_raise_irq(irq);
	return BM_RETRY;
}

static int bm_hlt_state; /* IA32_VMX_MISC[6]: HLT activity state */

void bm_intr_init(uint64_t vmx_misc)
{
	bm_hlt_state = vmx_misc >> 6 & 1; /* SDM Vol. 3 App. A.6 */
}

enum bm_action bm_intr_halt(void)
{
	/* The HLT is done (RIP moves on); the guest sleeps in the HLT
	 * activity state (§25.4.2, value 1) until an
	 * external interrupt exit brings something to inject.  Without
	 * that state, the HLT just returns, as if woken spuriously. */
	int vector;

	if (bm_hlt_state && bm_next_irq(&vector) < 0)
		bm_vmwrite(VMCS_GUEST_ACTIVITY, 1);
	return BM_NEXT;
}

enum bm_action bm_exit_intr_window(struct bm_exit *e)
{
	return BM_RETRY; /* bm_inject_pending does the work */
}

/* An exit in the middle of delivering an event (an injected one
 * included) must deliver it again on the next entry (§28.2.4, §27.6.1). */
static void bm_reinject_vectoring(void)
{
	uint32_t info = bm_vmread(VMCS_IDT_VECTORING_INFO);

	if (!(info & BM_INTR_VALID))
		return;
	bm_vmwrite(VMCS_ENTRY_INTR_INFO, info & ~(1U << 12));
	if (info & BM_INTR_ERROR)
		bm_vmwrite(VMCS_ENTRY_EXCEPTION_ERROR,
			   bm_vmread(VMCS_IDT_VECTORING_ERROR));
	bm_vmwrite(VMCS_ENTRY_INSTR_LEN, bm_vmread(VMCS_EXIT_INSTR_LEN));
}

void bm_intr_before_entry(void)
{
	bm_reinject_vectoring();
	bm_inject_pending();
}
