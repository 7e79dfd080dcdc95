/* The register file as gdb sees it: QEMU's x86-64 wire layout (the
 * numbers in p/P and the offsets in g/G), in every CPU mode, described to
 * gdb by target.xml.  Measured against QEMU 7.2's gdbstub with
 * `maint print remote-registers`:
 *
 *   0-15  rax rbx rcx rdx rsi rdi rbp rsp r8-r15    8 bytes
 *   16    rip                                       8
 *   17    eflags                                    4
 *   18-23 cs ss ds es fs gs (selectors)             4
 *   24-26 fs_base gs_base k_gs_base                 8
 *   27-32 cr0 cr2 cr3 cr4 cr8 efer                  8
 *   33-40 st0-st7                                  10
 *   41-48 fctrl fstat ftag fiseg fioff foseg fooff fop  4
 *   49-64 xmm0-xmm15                               16
 *   65    mxcsr                                     4
 *
 * 608 bytes in all.  A vCPU with AVX state (the interpreter's x86-64-v3
 * model, vcpu_ops get_ymmh) adds gdb's org.gnu.gdb.i386.avx feature:
 *
 *   66-81 ymm0h-ymm15h (bits 255:128)             16
 *
 * 864 bytes then; gdb shows $ymm0..$ymm15 made of xmmN and ymmNh.
 * Values are little-endian. */
#ifndef RAX_RSP_REGS_H
#define RAX_RSP_REGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "regs.h"

#define RSP_NREGS 66
#define RSP_REG_RIP 16
#define RSP_REG_EFLAGS 17
#define RSP_G_BYTES 608
#define RSP_NREGS_AVX 82
#define RSP_REG_YMMH0 66

struct machine;

/* A snapshot of everything the register file shows. */
struct rsp_cpu {
	struct rax_regs r;
	struct rax_fpu f;
	struct rax_ymmh y;
	uint64_t k_gs_base;
	bool fpu_ok, kgs_ok, avx_ok; /* the engine provided them */
};

/* The wire registers of the snapshot: RSP_NREGS_AVX with AVX state,
 * else RSP_NREGS. */
static inline unsigned rsp_nregs(const struct rsp_cpu *c)
{
	return c->avx_ok ? RSP_NREGS_AVX : RSP_NREGS;
}

/* Size in bytes of wire register n (0 when n is out of range). */
unsigned rsp_reg_size(unsigned n);

/* Reads or writes wire register n in the snapshot; out/in hold
 * rsp_reg_size(n) bytes. */
void rsp_reg_get(const struct rsp_cpu *c, unsigned n, uint8_t *out);
void rsp_reg_set(struct rsp_cpu *c, unsigned n, const uint8_t *in);

/* Fill a snapshot from the engine, and write one back.  Return 0 or
 * -errno from get_regs/set_regs; the FPU and K_GS_BASE are best effort. */
int rsp_cpu_load(struct machine *m, unsigned cpu, struct rsp_cpu *c);
int rsp_cpu_store(struct machine *m, unsigned cpu, const struct rsp_cpu *c);

/* The target descriptions served through qXfer:features:read: without
 * and with the AVX feature. */
extern const char rsp_target_xml[];
extern const char rsp_target_xml_avx[];

/* Whether vCPU 0 of m has AVX state (the description gdb gets). */
bool rsp_has_avx(struct machine *m);

#endif
