/* Board devices: one per file, registered in one explicit table in
 * devices.c (STYLE.md habit 1).
 *
 * dev_init_all() registers the devices every engine uses (COM1 16550A
 * UART, CMOS RTC, PCI host bridge, i8042, isa-debug-exit, debugcon) on
 * m->pio / m->mmio.  The interrupt controllers and timers the interpreter
 * needs (PIC, PIT, LAPIC, IOAPIC) are created by that engine through
 * intc.h; the KVM engine uses KVM's in-kernel ones instead. */
#ifndef RAX_DEVICES_H
#define RAX_DEVICES_H

#include "err.h"

struct machine;

int dev_init_all(struct machine *m, struct rax_err *e)
	__attribute__((warn_unused_result));
void dev_exit_all(struct machine *m);

#endif
