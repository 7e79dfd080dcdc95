/* bm/exit.h: what the VM-exit handlers share (exit.c dispatches; msr.c
 * and intr.c hold handlers too). */
#ifndef BM_EXIT_H
#define BM_EXIT_H

#include "bm.h"

enum bm_action {
	BM_NEXT,  /* skip the exiting instruction, VMRESUME */
	BM_RETRY, /* VMRESUME at the same RIP */
	BM_STOP,  /* print the exit counts and shut down */
};

struct bm_exit {
	struct bm_regs *r;
	uint32_t reason;
	uint64_t qual;
};

typedef enum bm_action (*bm_exit_fn)(struct bm_exit *e);

/* Log lines for ignored guest actions, limited to a budget so that a
 * guest cannot flood the console. */
void bm_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Write a 32-bit result to a guest register, zero-extended as a 32-bit
 * operation in 64-bit mode does. */
static inline void bm_set32(struct bm_regs *r, int reg, uint64_t v)
{
	r->gpr[reg] = (uint32_t)v;
}

enum bm_action bm_exit_rdmsr(struct bm_exit *e);
enum bm_action bm_exit_wrmsr(struct bm_exit *e);
enum bm_action bm_exit_cpuid(struct bm_exit *e);
enum bm_action bm_exit_io(struct bm_exit *e);
enum bm_action bm_exit_ext_intr(struct bm_exit *e);
enum bm_action bm_exit_intr_window(struct bm_exit *e);
/* Before every VM entry: re-inject an event whose delivery the exit
 * interrupted, inject a pending interrupt or ask for an interrupt window. */
void bm_intr_before_entry(void);
/* HLT with RFLAGS.IF=1: the guest waits in the HLT activity state for
 * its next interrupt. */
enum bm_action bm_intr_halt(void);

/* The guest's view of the 8259A pair (io.c): the vector the guest
 * programmed for host IRQ "irq", or -1 if the guest masked it. */
int bm_vpic_vector(unsigned irq);
/* The real UART interrupted (io.c): the guest's IRQ4 if it asked for
 * receive interrupts and data is waiting. */
void bm_com1_host_irq(void);
/* Make guest IRQ "irq" pending (intr.c). */
void bm_raise_irq(unsigned irq);

#endif
