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

#include "err.h"

struct machine;

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
	void dev_##n##_exit(struct machine *m, void *state);
DEV_LIST(DEV_DECLARE)
#undef DEV_DECLARE

/* The state of device `name` once its init succeeded, else NULL; lets a
 * device find one before it in the table (a PCI device, the bus). */
void *dev_find(struct machine *m, const char *name);

#endif
