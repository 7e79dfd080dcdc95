/* Board devices: one per file, registered in one explicit table in
 * devices.c (STYLE.md habit 1).
 *
 * dev_init_all() registers the devices every engine uses (COM1 16550A
 * UART, CMOS RTC, PCI host bridge, i8042, the 0xcf9 and 0x92 reset
 * ports, isa-debug-exit, debugcon, port 0x80) on m->pio / m->mmio, in
 * the order of DEV_LIST in dev.h, and sets m->devs.  On failure it runs
 * the exits of the devices already made and returns -errno with the
 * reason in *e; their port ranges stay claimed (the bus has no
 * unregister), so the caller must give up on the machine.
 * dev_exit_all() tears down in reverse; calling it again is harmless.
 * The UART binds to m->con by itself when the console appears, so the
 * console may be opened before or after dev_init_all().
 *
 * The interrupt controllers and timers the interpreter needs (PIC, PIT,
 * LAPIC, IOAPIC) are created by that engine through intc.h; the KVM
 * engine uses KVM's in-kernel ones instead. */
#ifndef RAX_DEVICES_H
#define RAX_DEVICES_H

#include <stddef.h>

#include "err.h"

struct machine;

int dev_init_all(struct machine *m, struct rax_err *e)
	__attribute__((warn_unused_result));
void dev_exit_all(struct machine *m);

/* The history (src/history): the guest-visible state of every board
 * device as one blob.  dev_snap_check() returns 0, or -ENOTSUP with the
 * name of a device that cannot be saved yet in *who (virtio: its
 * queues' host pointers are not re-derived yet).  Save and restore on
 * the vCPU thread, with the vCPU stopped. */
int dev_snap_check(struct machine *m, const char **who);
size_t dev_snap_size(struct machine *m);
void dev_snap_save(struct machine *m, void *blob);
void dev_snap_restore(struct machine *m, const void *blob);

#endif
