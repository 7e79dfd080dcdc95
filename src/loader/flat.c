/* --flat: a flat binary (no header, no boot protocol) copied to a
 * guest-physical address below 1 MiB and started in real mode there, the
 * way a BIOS starts a boot sector: CS:IP = 0000:7C00 for 0x7c00.  Nothing
 * else is written (no zero page, no firmware tables, no BIOS services:
 * the IVT is zero).  The registers are the reset state of SDM Vol. 3
 * §9.1.1 (Table 9-1) with caches enabled (CR0 = ET) and that CS:IP. */
#include "loader/ld_int.h"
#include "loader/loader.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "machine.h"

/* A real-mode segment: base = sel * 16, 64 KiB, present, read/write
 * data (type 3) or execute/read code (type 11), both accessed. */
static struct rax_seg real_seg(uint16_t sel, uint8_t type)
{
	return (struct rax_seg){ .base = (uint64_t)sel << 4, .limit = 0xffff,
				 .sel = sel, .type = type, .s = 1,
				 .present = 1 };
}

/* CS:IP for addr: IP is its low 16 bits, so a boot sector's 0x7c00 is
 * 0000:7C00; CS the 64 KiB-aligned rest. */
static void flat_regs(struct rax_regs *r, uint64_t addr)
{
	memset(r, 0, sizeof(*r));
	r->seg[S_CS] = real_seg((uint16_t)((addr >> 4) & 0xf000), 11);
	for (int s = 0; s < 6; s++)
		if (s != S_CS)
			r->seg[s] = real_seg(0, 3);
	r->ldt = (struct rax_seg){ .limit = 0xffff, .type = 2, .present = 1 };
	r->tr = (struct rax_seg){ .limit = 0xffff, .type = 11, .present = 1 };
	r->gdt.limit = 0xffff;
	r->idt.limit = 0xffff;
	r->rip = addr & 0xffff;
	r->rflags = 2;
	r->cr0 = CR0_ET;
	r->apic_base = LD_APIC_BASE;
}

int ld_flat_load(struct machine *m, uint64_t addr, const struct ld_image *img,
		 struct ld_info *info, struct rax_err *e)
{
	if (addr >= LD_HIGH_START)
		return rax_errf(e, -EINVAL, "%s: --flat %#llx is not below "
				"1 MiB", img->path, (unsigned long long)addr);
	if (img->size > m->mem.low_size - addr ||
	    gm_write(&m->mem, addr, img->p, img->size))
		return rax_errf(e, -EFBIG, "%s: %zu bytes at %#llx do not fit "
				"in guest memory", img->path, img->size,
				(unsigned long long)addr);
	flat_regs(&m->boot_regs, addr);
	info->entry = addr;
	info->kernel_start = addr;
	info->kernel_end = addr + img->size;
	rax_log(LOG_INFO, boot, "flat binary: %zu bytes at %#llx, real mode "
		"at %04x:%04x", img->size, (unsigned long long)addr,
		m->boot_regs.seg[S_CS].sel, (unsigned)m->boot_regs.rip);
	return 0;
}
