/* Local APIC, xAPIC and x2APIC modes, one per vCPU (APIC ID = vCPU
 * index, the BSP's 0): registers at IA32_APIC_BASE (default
 * 0xfee00000), IRR/ISR/TMR, TPR/PPR priority, EOI with broadcast to the
 * I/O APIC for level-triggered vectors, IPIs (the ICR; routed by a
 * callback), the LVT, and the timer in one-shot, periodic and
 * TSC-deadline modes.  Pure state machine: time, timer
 * arming and EOI broadcast are callbacks; src/devices/intc.c registers
 * the MMIO page and locks.  Reference: SDM Vol. 3 chapter 10 (11 in
 * newer editions), "Advanced Programmable Interrupt Controller".
 *
 * Timer clock: the APIC timer counts the machine clock at 1 GHz (one
 * tick per machine nanosecond) before the divide configuration, as KVM
 * does.  Linux calibrates it against the PIT in virtual time, so the
 * choice only sets the resolution. */
#ifndef RAX_LAPIC_H
#define RAX_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#define LAPIC_DEFAULT_BASE 0xfee00000ull
#define LAPIC_SIZE 0x1000ull
#define LAPIC_BUS_HZ 1000000000ull
#define LAPIC_VERSION 0x50014u     /* version 0x14, 6 LVT entries */
#define MSR_IA32_TSC_DEADLINE 0x6e0

/* IA32_APIC_BASE fields (SDM Vol. 3 §10.4.4). */
#define APIC_BASE_BSP (1ull << 8)
#define APIC_BASE_EXTD (1ull << 10) /* x2APIC mode (§10.12.1) */
#define APIC_BASE_EN  (1ull << 11)
/* x2APIC registers: MSR 0x800 + (xAPIC offset >> 4) (§10.12.1.2). */
#define MSR_X2APIC_FIRST 0x800
#define MSR_X2APIC_LAST 0x8ff
#define APIC_BASE_ADDR 0x000000fffffff000ull

/* LVT entries in register order (offsets 0x320..0x370). */
enum lapic_lvt {
	LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR,
	LVT_NUM
};

#define DELMODE_SIPI 6 /* ICR only: start-up (§10.6.1) */

#define LVT_MASKED (1u << 16)
#define LVT_DELMODE(v) (((v) >> 8) & 7)
#define SVR_ENABLE (1u << 8)

struct lapic_ops {
	uint64_t (*now)(void *opaque);                 /* machine ns */
	void (*arm)(void *opaque, uint64_t deadline);  /* or TIMER_NEVER */
	void (*eoi_level)(void *opaque, uint8_t vector);
	/* A write to ICR low sent the IPI (lo, hi) = the ICR. */
	void (*ipi)(void *opaque, uint32_t icr_lo, uint32_t icr_hi);
	void *opaque;
};

struct lapic {
	uint64_t apic_base;
	uint32_t id, tpr, ldr, dfr, svr, esr, icr_lo, icr_hi;
	uint32_t lvt[LVT_NUM];
	uint32_t tmict, tdcr;
	uint32_t irr[8], isr[8], tmr[8];
	uint64_t timer_start;  /* ns when TMICT was written */
	uint64_t tsc_deadline; /* IA32_TSC_DEADLINE, 0 = disarmed */
	bool extint_req;       /* an ExtINT message from the I/O APIC */
	bool nmi_req;          /* an NMI message (ICR delivery mode 100b) */
	struct lapic_ops ops;
};

/* Power-up state (SDM Vol. 3 §10.4.7.1): enabled in IA32_APIC_BASE
 * (the BSP flag for ID 0), software-disabled in the SVR, every LVT
 * masked; APIC ID `id`. */
void lapic_reset(struct lapic *l, const struct lapic_ops *ops, unsigned id);
/* INIT (§10.4.7.3): the power-up state but for the APIC ID and
 * IA32_APIC_BASE. */
void lapic_init(struct lapic *l);

/* IA32_APIC_BASE.EN and SVR.enable both set. */
bool lapic_enabled(const struct lapic *l);
/* The PIC's INT reaches the CPU: the APIC is hardware- or software-
 * disabled (virtual wire) or LINT0 is an unmasked ExtINT entry. */
bool lapic_accepts_pic(const struct lapic *l);
/* Does (logical, dest) from an I/O APIC entry or the ICR name us?
 * (SDM Vol. 3 §10.6.2: physical ID or 0xff; flat or cluster LDR.) */
bool lapic_match_dest(const struct lapic *l, bool logical, uint8_t dest);
/* Does the destination of an IPI (the ICR's: in x2APIC mode, x2 set,
 * ICR[63:32], a 32-bit ID, 0xffffffff for all, or cluster << 16 | a
 * bitmap (§10.12.9); else ICR[63:56] as lapic_match_dest()) name l? */
bool lapic_match_icr(const struct lapic *l, bool x2, bool logical,
		     uint32_t dest);
/* In x2APIC mode (IA32_APIC_BASE.EXTD)? */
bool lapic_x2apic(const struct lapic *l);
/* A fixed interrupt message: sets IRR (and TMR for level). */
void lapic_accept(struct lapic *l, uint8_t vector, bool level);
/* The highest IRR vector above the PPR, or -1 (§10.8.3.1). */
int lapic_pending_vector(const struct lapic *l);
/* INTA: moves the pending vector from IRR to ISR and returns it, or -1. */
int lapic_ack(struct lapic *l);
/* The timer deadline passed (called from the machine timer). */
void lapic_timer_expired(struct lapic *l);

/* Registers: a 32-bit access at offset `off` in the APIC page. */
uint32_t lapic_read(struct lapic *l, uint64_t off);
void lapic_write(struct lapic *l, uint64_t off, uint32_t val);

/* IA32_APIC_BASE (hardware disable resets the APIC state; the mode
 * transitions of §10.12.5), IA32_TSC_DEADLINE, and in x2APIC mode the
 * x2APIC registers (§10.12.1.2).  Return 0, -EINVAL for an access that
 * raises #GP (a register that is not there, read-only, write-only or a
 * reserved bit set), or -ENOENT for other MSRs. */
int lapic_rdmsr(struct lapic *l, uint32_t msr, uint64_t *val);
int lapic_wrmsr(struct lapic *l, uint32_t msr, uint64_t val);

#endif
