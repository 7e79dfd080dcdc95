/* Operand helpers shared by the SSE/SSE2/MMX handlers (sse.c, ssefp.c).
 * Private to src/cpu.
 *
 * MMX registers alias the x87 registers (SDM Vol. 1 §9.5): MMi is the
 * low 64 bits of physical register Ri.  The interpreter keeps the x87
 * stack with TOP always 0 (x87.c), so Ri is the FXSAVE slot FX_ST(i).
 * An MMX instruction sets TOP to 0 and tags every register valid; a write
 * to MMi sets the exponent bits of Ri to all ones (§9.5.1). */
#ifndef RAX_CPU_SSE_H
#define RAX_CPU_SSE_H

#include "cpu/cpu.h"

typedef union {
	uint8_t b[16];
	int8_t sb[16];
	uint16_t w[8];
	int16_t sw[8];
	uint32_t d[4];
	int32_t sd[4];
	uint64_t q[2];
	float f[4];
	double df[2];
} xmm_t;

static inline uint8_t *xr(struct cpu *c, unsigned i)
{
	return c->fx + FX_XMM(i & 15);
}

static inline void get_x(struct cpu *c, unsigned i, xmm_t *v)
{
	memcpy(v, xr(c, i), 16);
}

static inline void put_x(struct cpu *c, unsigned i, const xmm_t *v)
{
	memcpy(xr(c, i), v, 16);
}

/* MMX registers take ModRM.reg/rm without REX extension. */
static inline void get_mm(const struct cpu *c, unsigned i, xmm_t *v)
{
	memset(v, 0, sizeof(*v));
	memcpy(v, c->fx + FX_ST(i & 7), 8);
}

static inline void put_mm(struct cpu *c, unsigned i, const xmm_t *v)
{
	uint8_t *p = c->fx + FX_ST(i & 7);

	memcpy(p, v, 8);
	p[8] = 0xff;
	p[9] = 0xff;
	c->fx[FX_FTW] = 0xff;
}

/* The x87-to-MMX transition (TOP = 0, always so here; all tags valid),
 * made when the instruction completes: a fault on its memory operand
 * leaves the tags as they were, like hardware.  put_mm() does it for
 * instructions that write an MMX register. */
static inline void mmx_tags(struct cpu *c)
{
	c->fx[FX_FTW] = 0xff;
}

/* Every MMX instruction but EMMS: #UD with CR0.EM, #NM with CR0.TS,
 * #MF with a pending unmasked x87 exception (SDM Vol. 2 MMX instruction
 * pages, "Protected Mode Exceptions").  The tag update comes at the end
 * (put_mm, mmx_tags). */
static inline void mmx_enter(struct cpu *c)
{
	if (c->cr0 & CR0_EM)
		cpu_ud(c);
	if (c->cr0 & CR0_TS)
		cpu_raise(c, EXC_NM, 0, false);
	cpu_x87_wait(c); /* #MF: a pending unmasked x87 exception */
}

static inline void need_66(struct cpu *c, const struct dec_insn *d)
{
	if (d->pfx != DEC_PFX_66)
		cpu_ud(c);
}

/* The W operand: an XMM register or 16 bytes of memory (aligned unless
 * `unaligned`: legacy SSE packed operands need 16-byte alignment). */
void sse_rd_W(struct cpu *c, const struct dec_insn *d, xmm_t *v,
	      bool unaligned);
/* Scalar W operand of n bytes (4 or 8) into the low lanes (the rest of v
 * is the register's, or zero for memory). */
void sse_rd_Ws(struct cpu *c, const struct dec_insn *d, xmm_t *v,
	       unsigned n);
/* The Q operand: an MMX register or 8 bytes of memory (low half of v,
 * the high half zero). */
void sse_rd_Q(struct cpu *c, const struct dec_insn *d, xmm_t *v);
/* The operands of a packed-integer instruction: no prefix is the MMX
 * form (mm, mm/m64), 66 the XMM form (xmm, xmm/m128 aligned), other
 * prefixes #UD.  Returns the vector size in bytes, 8 or 16; the store
 * writes the result to the reg operand of that size. */
/* The MXCSR the host runs a guest floating-point operation under (the
 * guest's RC, DAZ, FTZ; every exception masked, no flag set). */
uint32_t sse_host_csr(const struct cpu *c);
/* Folds the MXCSR flags an operation raised into the guest's MXCSR;
 * #XM (or #UD without CR4.OSXMMEXCPT) for an unmasked one. */
void sse_flags(struct cpu *c, unsigned raised);
#define MX_FLAGS 0x3fu
/* The checks every VEX instruction makes first (#UD, #NM). */
void sse_vex_enter(struct cpu *c);
/* YMM i as two 128-bit lanes; the write of a VEX.128 result (l false)
 * zeroes bits 255:128. */
void sse_get_ymm(struct cpu *c, unsigned i, xmm_t y[2]);
void sse_put_ymm(struct cpu *c, unsigned i, const xmm_t y[2], bool l);
/* A VEX W operand: a YMM/XMM register, or 32/16 bytes of memory (no
 * alignment check unless `align`). */
void sse_vex_rd_W(struct cpu *c, const struct dec_insn *d, xmm_t y[2],
		  bool l, bool align);
/* VEX.F3/F2.0F 10, 11: VMOVSS, VMOVSD (avx.c; the rows are VMOVUPS's). */
void op_vmovs_Vx_Hx_Wx(struct cpu *c, const struct dec_insn *d);
void op_vmovs_Wx_Hx_Vx(struct cpu *c, const struct dec_insn *d);
/* A packed-integer operation on 16-byte vectors (n: 8 or 16 bytes). */
typedef void (*sse_lanes_fn)(xmm_t *r, const xmm_t *a, const xmm_t *b,
			     unsigned n);
/* Its VEX form: dst = fn(vvvv, W) per 128-bit lane (cnt: W is a shift
 * count from xmm/m128 for both lanes). */
void sse_vex_pint(struct cpu *c, const struct dec_insn *d, sse_lanes_fn fn,
		  bool cnt);
unsigned sse_pint_load(struct cpu *c, const struct dec_insn *d, xmm_t *a,
		       xmm_t *b);
void sse_pint_store(struct cpu *c, const struct dec_insn *d, const xmm_t *r,
		    unsigned n);

/* A packed-integer instruction in both forms; body computes r from a and
 * b over n bytes. */
/* The body of each as a function of n-byte vectors (name##_lanes): the
 * legacy forms and the VEX forms (sse_vex_pint(), one call per 128-bit
 * lane) share it. */
#define PINT_LANES(name, body)                                             \
static void name##_lanes(xmm_t *rp, const xmm_t *ap, const xmm_t *bp,     \
			 unsigned n)                                       \
{                                                                          \
	xmm_t a = *ap, b = *bp, r = a;                                     \
	/* n is 8 or 16 (one MMX or XMM register, one lane of a YMM): said \
	 * so that GCC, after profile-guided path splitting, does not warn \
	 * of writes past r for larger n (make pgo). */                    \
	if (n > sizeof(xmm_t))                                             \
		__builtin_unreachable();                                   \
	body;                                                              \
	*rp = r;                                                           \
}

#define PINT(name, body)                                                   \
PINT_LANES(name, body)                                                     \
void name(struct cpu *c, const struct dec_insn *d)                        \
{                                                                          \
	xmm_t a, b, r;                                                     \
	unsigned n = sse_pint_load(c, d, &a, &b);                          \
	name##_lanes(&r, &a, &b, n);                                       \
	sse_pint_store(c, d, &r, n);                                       \
}

#endif
