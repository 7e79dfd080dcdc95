/* XSAVE-managed state of the x86-64-v3 model (SDM Vol. 1 ch. 13, Vol. 2
 * XGETBV, XSETBV, XSAVE, XRSTOR): XCR0 with the x87 (bit 0), SSE (1) and
 * AVX (2) components, the standard (non-compacted) XSAVE area: the
 * 512-byte legacy region (the FXSAVE image), the 64-byte header
 * (XSTATE_BV) and the AVX region (YMM0-15 bits 255:128) at 576.  No
 * XSAVEOPT, XSAVEC, XSAVES or XGETBV with ECX = 1 (CPUID leaf 0DH
 * sub-leaf 1 is zero).
 *
 * Only a model of level 3 has it (CPUID.1:ECX.XSAVE, CR4.OSXSAVE);
 * below, the instructions raise #UD and CR4.OSXSAVE is reserved. */
#include "cpu/cpu.h"

#define XCR0_X87 1ull
#define XCR0_SSE 2ull
#define XCR0_AVX 4ull
#define XCR0_SUPPORTED (XCR0_X87 | XCR0_SSE | XCR0_AVX)

#define XS_HEADER 512u  /* XSTATE_BV, XCOMP_BV, reserved: 64 bytes */
#define XS_AVX    576u  /* YMM_Hi128: 256 bytes */
#define XS_SIZE   832u

uint64_t cpu_xcr0_supported(const struct cpu *c)
{
	return c->level >= 3 ? XCR0_SUPPORTED : 0;
}

/* CPUID leaf 0DH sub-leaf `sub` (SDM Vol. 2 CPUID, Table 3-8): the
 * components, the area's size for the XCR0 in force and at most, and
 * the AVX region's size and offset. */
void cpu_xsave_cpuid(const struct cpu *c, uint32_t sub, uint32_t *a,
		     uint32_t *b, uint32_t *cx, uint32_t *dx)
{
	*a = *b = *cx = *dx = 0;
	if (c->level < 3)
		return;
	if (sub == 0) {
		*a = (uint32_t)XCR0_SUPPORTED;
		*b = c->xcr0 & XCR0_AVX ? XS_SIZE : XS_AVX;
		*cx = XS_SIZE;
	} else if (sub == 2) {
		*a = 256;
		*b = XS_AVX;
	}
}

/* #UD without CR4.OSXSAVE (which only a level-3 model can set). */
static void need_osxsave(struct cpu *c)
{
	if (!(c->cr4 & CR4_OSXSAVE))
		cpu_ud(c);
}

void cpu_xgetbv(struct cpu *c)
{
	need_osxsave(c);
	if ((uint32_t)c->r[R_RCX] != 0)
		cpu_gp(c, 0);
	c->r[R_RAX] = (uint32_t)c->xcr0;
	c->r[R_RDX] = c->xcr0 >> 32;
}

/* XSETBV: CPL 0, XCR0 only; bit 0 set, no unsupported bit, AVX only
 * with SSE (Vol. 1 §13.3). */
void cpu_xsetbv(struct cpu *c)
{
	uint64_t v = ((c->r[R_RDX] & 0xffffffffull) << 32) |
		     (c->r[R_RAX] & 0xffffffffull);

	need_osxsave(c);
	if (c->cpl || (uint32_t)c->r[R_RCX] != 0 || !(v & XCR0_X87) ||
	    (v & ~XCR0_SUPPORTED) || ((v & XCR0_AVX) && !(v & XCR0_SSE)))
		cpu_gp(c, 0);
	c->xcr0 = v;
}

/* The checks both take: OSXSAVE, CR0.TS (#NM), 64-byte alignment. */
static uint64_t xs_enter(struct cpu *c, uint64_t la)
{
	need_osxsave(c);
	if (c->cr0 & CR0_TS)
		cpu_raise(c, EXC_NM, 0, false);
	if (cpu_plain_la(c, la) & 63)
		cpu_gp(c, 0);
	return (((c->r[R_RDX] & 0xffffffffull) << 32) |
		(c->r[R_RAX] & 0xffffffffull)) & c->xcr0;
}

static void put_bytes(struct cpu *c, uint64_t la, const uint8_t *p,
		      unsigned n)
{
	for (unsigned i = 0; i < n; i += 8) {
		uint64_t v;

		memcpy(&v, p + i, 8);
		wr64(c, cpu_la_add(c, la, i), v);
	}
}

static void get_bytes(struct cpu *c, uint64_t la, uint8_t *p, unsigned n)
{
	for (unsigned i = 0; i < n; i += 8) {
		uint64_t v = rd64(c, cpu_la_add(c, la, i));

		memcpy(p + i, &v, 8);
	}
}

/* XSAVE: each requested component (RFBM = XCR0 AND EDX:EAX) to its
 * place; MXCSR and MXCSR_MASK with SSE or AVX; XSTATE_BV[i] = 1 for
 * each (every component counts as in use), its other bits and the rest
 * of the header left as they were.  The whole area is probed first. */
/* Outside 64-bit mode XSAVE and XRSTOR reach XMM0-7 and YMM0-7 only,
 * as FXSAVE (SDM Vol. 1 §13.5.2, §13.5.3). */
static unsigned nxmm(const struct cpu *c)
{
	return c->mode == DEC_MODE64 ? 16 : 8;
}

void cpu_xsave(struct cpu *c, uint64_t la)
{
	uint64_t rfbm = xs_enter(c, la), bv;
	unsigned nx = nxmm(c);

	cpu_probe_write(c, la, XS_AVX);
	if (rfbm & XCR0_AVX)
		cpu_probe_write(c, cpu_la_add(c, la, XS_AVX), 256);
	bv = rd64(c, cpu_la_add(c, la, XS_HEADER));
	if (rfbm & XCR0_X87) {
		put_bytes(c, la, c->fx, 24);
		put_bytes(c, cpu_la_add(c, la, FX_ST(0)), c->fx + FX_ST(0),
			  8 * 16);
	}
	if (rfbm & (XCR0_SSE | XCR0_AVX))
		put_bytes(c, cpu_la_add(c, la, FX_MXCSR), c->fx + FX_MXCSR, 8);
	if (rfbm & XCR0_SSE)
		put_bytes(c, cpu_la_add(c, la, FX_XMM(0)), c->fx + FX_XMM(0),
			  16 * nx);
	if (rfbm & XCR0_AVX)
		put_bytes(c, cpu_la_add(c, la, XS_AVX), &c->ymmh[0][0], 16 * nx);
	wr64(c, cpu_la_add(c, la, XS_HEADER), bv | rfbm);
}

/* XRSTOR (standard form): #GP for XSTATE_BV bits outside XCR0, nonzero
 * header bytes 23:8 (XCOMP_BV: no compaction here, and the first
 * reserved ones; bytes 63:24 are not checked, SDM Vol. 1 §13.8.1), and
 * reserved MXCSR bits; each requested component loaded where XSTATE_BV
 * has it, set to its initial state where not. */
void cpu_xrstor(struct cpu *c, uint64_t la)
{
	uint64_t rfbm = xs_enter(c, la), bv;
	uint8_t hdr[64], img[XS_SIZE];
	uint32_t mx;
	unsigned nx = nxmm(c);

	get_bytes(c, cpu_la_add(c, la, XS_HEADER), hdr, 64);
	memcpy(&bv, hdr, 8);
	if (bv & ~c->xcr0)
		cpu_gp(c, 0);
	for (unsigned i = 8; i < 24; i++)
		if (hdr[i])
			cpu_gp(c, 0);
	get_bytes(c, la, img, XS_HEADER);
	if (rfbm & XCR0_AVX)
		get_bytes(c, cpu_la_add(c, la, XS_AVX), img + XS_AVX, 256);
	memcpy(&mx, img + FX_MXCSR, 4);
	if ((rfbm & (XCR0_SSE | XCR0_AVX)) && (mx >> 16))
		cpu_gp(c, 0);
	if (rfbm & XCR0_X87) {
		if (bv & XCR0_X87) {
			memcpy(c->fx, img, 24);
			memcpy(c->fx + FX_ST(0), img + FX_ST(0), 8 * 16);
		} else { /* FNINIT's state, registers zero (Vol. 1 §13.6) */
			memset(c->fx, 0, 24);
			memset(c->fx + FX_ST(0), 0, 8 * 16);
			c->fx[FX_FCW] = 0x7f;
			c->fx[FX_FCW + 1] = 0x03;
		}
		cpu_x87_sync_es(c);
	}
	if (rfbm & (XCR0_SSE | XCR0_AVX))
		memcpy(c->fx + FX_MXCSR, &mx, 4);
	if (rfbm & XCR0_SSE) {
		if (bv & XCR0_SSE)
			memcpy(c->fx + FX_XMM(0), img + FX_XMM(0), 16 * nx);
		else
			memset(c->fx + FX_XMM(0), 0, 16 * nx);
	}
	if (rfbm & XCR0_AVX) {
		if (bv & XCR0_AVX)
			memcpy(&c->ymmh[0][0], img + XS_AVX, 16 * nx);
		else
			memset(&c->ymmh[0][0], 0, 16 * nx);
	}
}

/* The forms of groups.def: 0F 01 D0, D1; 0F AE /4, /5 (memory). */
void op_xgetbv(struct cpu *c, const struct dec_insn *d) { cpu_xgetbv(c); }
void op_xsetbv(struct cpu *c, const struct dec_insn *d) { cpu_xsetbv(c); }
void op_xsave_M(struct cpu *c, const struct dec_insn *d) { cpu_xsave(c, cpu_ea(c, d)); }
void op_xrstor_M(struct cpu *c, const struct dec_insn *d) { cpu_xrstor(c, cpu_ea(c, d)); }
