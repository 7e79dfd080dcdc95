/* Interrupt controllers and timers for the interpreter, in user space:
 * i8259 PIC pair, i8254 PIT (with port 0x61), IOAPIC, a local APIC per
 * vCPU (m->ncpus, APIC ID = vCPU index).  The KVM
 * engine uses KVM's in-kernel models instead and never creates these.
 *
 * Routing: ISA IRQ n is PIC input n and IOAPIC pin n (identity, as the MP
 * table from src/loader describes), GSI 16-23 are IOAPIC pins only.  The
 * LAPIC sits at 0xfee00000 (one page: each vCPU sees its own APIC
 * there, the one intc_set_current() names), the IOAPIC at 0xfec00000.
 * The PIC's output reaches vCPU 0 only.  IPIs go between the APICs
 * (fixed, lowest priority, NMI, INIT, start-up; physical or logical
 * destinations, shorthands); INIT and start-up wait in the target's
 * APIC until the engine takes them (intc_take_startup()).  Timers run on
 * m->timers against machine_now_ns(m).  The interpreter's TSC counts
 * machine-clock nanoseconds (a 1 GHz TSC), which IA32_TSC_DEADLINE uses.
 *
 * Models (one per file, wired in intc.c): pic.c (inputs masked until
 * ICW1), pit.c (also owns port 0x61), ioapic.c (ID 1 as in the MP table,
 * version 0x20 with the EOI register), lapic.c (xAPIC only, version
 * 0x50014; its timer counts machine ns at 1 GHz before the divider, the
 * crystal frequency CPUID leaf 0x15 reports, so Linux skips calibrating
 * it).  When the APIC is hardware- or software-disabled, or LINT0 is an
 * unmasked ExtINT entry, the PIC's output reaches the CPU (virtual
 * wire); intc_ack() then runs the PIC's INTA cycle. */
#ifndef RAX_INTC_H
#define RAX_INTC_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct machine;
struct intc;

/* Creates the models, one APIC for each of m->ncpus vCPUs (0 reads as
 * 1), and registers their ports and MMIO ranges on m.  Returns 0 or
 * -errno with *e. */
int intc_create(struct machine *m, struct intc **out, struct rax_err *e)
	__attribute__((warn_unused_result));
void intc_destroy(struct intc *ic);

/* The vCPU about to run (the engine's thread only): its APIC answers
 * at the APIC page. */
void intc_set_current(struct intc *ic, unsigned cpu);

/* A device's interrupt line.  Thread-safe (the console thread raises the
 * UART's). */
void intc_set_irq(struct intc *ic, unsigned gsi, int level);

/* A message-signalled interrupt (SDM Vol. 3 §10.11: address 0xfeeXXXXX
 * with the destination in bits 19:12 and the mode in bit 2; data with
 * the vector, delivery mode and trigger mode).  Fixed, lowest-priority,
 * NMI and ExtINT messages are delivered; others, and addresses outside
 * 0xfee00000-0xfeefffff, are dropped.  Thread-safe. */
void intc_msi(struct intc *ic, uint64_t addr, uint32_t data);

/* The functions below name the vCPU (0..ncpus-1) they act for. */

/* Cheap check, safe in the dispatch loop: may an interrupt (or an NMI,
 * INIT or start-up IPI) be pending? */
bool intc_pending(struct intc *ic, unsigned cpu);
/* At an instruction boundary with RFLAGS.IF=1 and no interrupt shadow:
 * returns the vector to deliver now (and marks it in service), or -1. */
int intc_ack(struct intc *ic, unsigned cpu);

/* An NMI is pending (ICR delivery mode NMI to this APIC): clears it and
 * returns true.  NMIs ignore RFLAGS.IF; the CPU blocks them until IRET. */
bool intc_take_nmi(struct intc *ic, unsigned cpu);

/* An INIT IPI (INTC_INIT: the APIC is already reset; the vCPU resets
 * and waits for a start-up IPI) or a start-up IPI (INTC_SIPI, with its
 * vector) was received: clears it and returns which, INIT first; else
 * INTC_NONE. */
enum { INTC_NONE, INTC_INIT, INTC_SIPI };
int intc_take_startup(struct intc *ic, unsigned cpu, uint8_t *vector);

/* CR8 is the LAPIC TPR[7:4] (SDM Vol. 3 §10.8.6.1). */
uint64_t intc_get_cr8(struct intc *ic, unsigned cpu);
void intc_set_cr8(struct intc *ic, unsigned cpu, uint64_t cr8);

/* MSRs owned by the LAPIC (IA32_APIC_BASE, IA32_TSC_DEADLINE).  Return 0,
 * or -ENOENT when msr is not one of them. */
int intc_rdmsr(struct intc *ic, unsigned cpu, uint32_t msr, uint64_t *val);
int intc_wrmsr(struct intc *ic, unsigned cpu, uint32_t msr, uint64_t val);

#endif
