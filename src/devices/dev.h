/* Private to src/devices: the entry points of each board device, listed
 * once in the table in devices.c (STYLE.md habit 1).
 *
 * init(m, &state, e) registers the device's ranges on m and returns 0 with
 * its private state in *state, or -errno with the reason in *e (and
 * nothing left registered or allocated).  exit(m, state) releases what
 * init made.  Port ranges stay registered after exit: the bus has no
 * unregister, and exit runs only when the machine goes away. */
#ifndef RAX_DEV_H
#define RAX_DEV_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct machine;

/* snap(state, blob, op): the history's hook (src/history, devices.h
 * dev_snap_*()).  DEV_SNAP_SIZE: the bytes of the device's blob, or
 * DEV_SNAP_NONE when it cannot be saved yet; DEV_SNAP_SAVE: copies
 * its guest-visible state into blob; DEV_SNAP_RESTORE: back.  Both
 * return the size.  state is what init made (may be NULL). */
enum dev_snap_op { DEV_SNAP_SIZE, DEV_SNAP_SAVE, DEV_SNAP_RESTORE };
#define DEV_SNAP_NONE SIZE_MAX

/* The usual hook: the whole state struct is plain data (pointers only
 * to things that live as long as the machine), copied as it is; lock
 * (a pthread_mutex_t member, or none) is held for the copy and keeps
 * its own bytes. */
size_t dev_snap_copy(void *state, size_t size, size_t lock_off, void *blob,
		     enum dev_snap_op op);
#define DEV_NO_LOCK SIZE_MAX
#define DEV_SNAP_PLAIN(n, type)                                          \
	size_t dev_##n##_snap(void *state, void *blob, enum dev_snap_op op) \
	{                                                                \
		return dev_snap_copy(state, sizeof(type), DEV_NO_LOCK, blob, op); \
	}
#define DEV_SNAP_LOCKED(n, type, lock)                                   \
	size_t dev_##n##_snap(void *state, void *blob, enum dev_snap_op op) \
	{                                                                \
		return dev_snap_copy(state, sizeof(type), offsetof(type, lock), \
				     blob, op);                          \
	}
/* A device with no state worth saving. */
#define DEV_SNAP_STATELESS(n)                                            \
	size_t dev_##n##_snap(void *state, void *blob, enum dev_snap_op op) \
	{                                                                \
		(void)state; (void)blob; (void)op;                       \
		return 0;                                                \
	}

#define DEV_LIST(X)                                                  \
	X(uart)      /* uart.c: COM1 16550A, IRQ 4; COM2-4 absent */ \
	X(rtc)       /* rtc.c: MC146818 CMOS RTC, 0x70-0x71 */       \
	X(pci)       /* pci.c: config mechanism #1, host bridge */   \
	X(i8042)     /* i8042.c: keyboard controller, reset */       \
	X(rstctl)    /* rstctl.c: 0xcf9 reset control register */    \
	X(acpipm)    /* acpipm.c: ACPI PM1 block, PM timer, S5 */    \
	X(port92)    /* port92.c: fast A20 and reset */              \
	X(debugexit) /* debugexit.c: isa-debug-exit at 0xf4 */       \
	X(debugcon)  /* debugcon.c: Bochs/QEMU debug console 0xe9 */ \
	X(post)      /* post.c: POST code / io-delay port 0x80 */    \
	X(fwcfg)     /* fwcfg.c: QEMU fw_cfg at 0x510-0x511 */       \
	X(testdev)   /* testdev.c: QEMU pc-testdev for test guests */ \
	X(virtio_blk) /* virtio/blk.c: --disk, PCI slots from 1 */   \
	X(virtio_net) /* virtio/net.c: --net */                      \
	X(virtio_rng) /* virtio/rng.c: --rng */

#define DEV_DECLARE(n)                                                  \
	int dev_##n##_init(struct machine *m, void **state,             \
			   struct rax_err *e)                           \
		__attribute__((warn_unused_result));                    \
	void dev_##n##_exit(struct machine *m, void *state);            \
	size_t dev_##n##_snap(void *state, void *blob, enum dev_snap_op op);
DEV_LIST(DEV_DECLARE)
#undef DEV_DECLARE

/* The state of device `name` once its init succeeded, else NULL; lets a
 * device find one before it in the table (a PCI device, the bus). */
void *dev_find(struct machine *m, const char *name);

#endif
