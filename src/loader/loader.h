/* Kernel loading: the Linux x86 boot protocol for bzImage
 * (Documentation/arch/x86/boot.rst), vmlinux ELF, host-side payload
 * decompression, the firmware tables Linux reads (e820, MP table), and
 * Multiboot v1 kernels.
 *
 * ld_load() fills guest RAM and m->boot_regs.  A Linux kernel starts in
 * 64-bit mode at its 64-bit entry with RSI = the zero page, on boot page
 * tables that identity-map low memory and map the kernel at
 * 0xffffffff80000000.  A Multiboot kernel starts as the Multiboot
 * specification says: 32-bit protected mode, paging off, EAX =
 * 0x2badb002, EBX = the information structure (multiboot.c). */
#ifndef RAX_LOADER_H
#define RAX_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "mem.h"
#include "regs.h"

struct machine;

struct ld_config {
	const char *kernel;   /* path to bzImage or vmlinux ELF */
	const char *initrd;   /* path or NULL */
	const char *cmdline;  /* NULL: default_cmdline for Linux, none for
				 a Multiboot kernel */
	bool host_decompress; /* bzImage: decompress the payload on the host
				 and enter the kernel proper directly */
	const char *default_cmdline; /* NULL: "" */
	bool flat;            /* kernel is a flat binary loaded at flat_addr
				 (below 1 MiB) and started in real mode at
				 CS:IP = (flat_addr >> 4) & 0xf000 :
				 flat_addr & 0xffff (flat.c) */
	uint64_t flat_addr;
};

/* What was loaded, for logs, the gdb server and tests. */
struct ld_info {
	uint64_t entry;        /* guest-physical address of the first insn */
	uint64_t kernel_start, kernel_end; /* physical */
	uint64_t initrd_start, initrd_size;
	uint64_t boot_params;  /* zero page (RSI at entry) */
	uint64_t cmdline;      /* command line */
	uint16_t protocol;     /* boot protocol version, 0 for ELF */
	bool elf;              /* loaded as ELF (vmlinux or decompressed) */
	bool multiboot;        /* a Multiboot kernel (boot_params: its
				  information structure) */
};

/* Loads the kernel described by c into m.  Returns 0, or a negative errno
 * with a one-line message naming the file and the problem in *e (the
 * caller exits with status 2 for -EINVAL/-ENOENT/-EFBIG/-ENOEXEC...). */
int ld_load(struct machine *m, const struct ld_config *c, struct ld_info *info,
	    struct rax_err *e) __attribute__((warn_unused_result));

/* Writes rax's boot GDT, TSS and page tables (the ones ld_load gives a
 * kernel) into gm and fills *r for a 64-bit start at `entry` with IF=0 and
 * IDT limit 0.  gm must hold at least 1 MiB.  Returns 0 or -EFAULT.  The
 * KVM engine's self-test starts its guest this way. */
int ld_boot_state(struct guest_mem *gm, uint64_t entry, struct rax_regs *r)
	__attribute__((warn_unused_result));

#endif
