/* XSAVE-managed state of the x86-64-v3 model (SDM Vol. 1 ch. 13, Vol. 2
 * XGETBV, XSETBV, XSAVE, XRSTOR): XCR0 with the x87 (bit 0), SSE (1) and
 * AVX (2) components, the standard (non-compacted) XSAVE area: the
 * 512-byte legacy region (the FXSAVE image), the 64-byte header
 * (XSTATE_BV) and the AVX region (YMM0-15 bits 255:128) at 576.
 * XSAVEOPT and XSAVEC (CPUID.(EAX=0DH,ECX=1):EAX bits 0 and 1) and the
 * compacted form of XRSTOR; no XSAVES/XRSTORS (no IA32_XSS) and no
 * XGETBV with ECX = 1 (EAX bits 3 and 2 clear).
 *
 * The model tracks no XINUSE: every enabled component counts as in use
 * (SDM Vol. 1 §13.6 lets XINUSE[i] be 1 for a component in its initial
 * configuration), so neither the init nor the modified optimization
 * (§13.9) ever applies: XSAVEOPT stores what XSAVE stores, and XSAVEC
 * stores every requested component and XSTATE_BV = RFBM.  With AVX the
 * only extended component, the compacted AVX region starts at 576 as in
 * the standard format (its 64-byte alignment bit, CPUID.(0DH,2):ECX[1],
 * is 0).
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
	} else if (sub == 1) { /* XSAVEOPT, XSAVEC; EBX: the compacted
				  size for XCR0 (IA32_XSS is 0) */
		*a = 3;
		*b = c->xcr0 & XCR0_AVX ? XS_SIZE : XS_AVX;
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

/* XSAVEC, besides: XSTATE_BV = RFBM (all 64 bits) and XCOMP_BV = bit 63
 * | RFBM, the rest of the header left as it was (Vol. 1 §13.10); MXCSR
 * and MXCSR_MASK only with SSE requested, as the compacted XRSTOR loads
 * MXCSR (§13.8.2; an AMD EPYC host's XSAVEC with EDX:EAX = 4 leaves
 * them unwritten, whether AVX is in use or not). */
static void xsave_any(struct cpu *c, uint64_t la, bool compact)
{
	uint64_t rfbm = xs_enter(c, la), bv;
	unsigned nx = nxmm(c);

	cpu_probe_write(c, la, XS_AVX);
	if (rfbm & XCR0_AVX)
		cpu_probe_write(c, cpu_la_add(c, la, XS_AVX), 256);
	bv = compact ? 0 : rd64(c, cpu_la_add(c, la, XS_HEADER));
	if (rfbm & XCR0_X87) {
		put_bytes(c, la, c->fx, 24);
		put_bytes(c, cpu_la_add(c, la, FX_ST(0)), c->fx + FX_ST(0),
			  8 * 16);
	}
	if (rfbm & (compact ? XCR0_SSE : XCR0_SSE | XCR0_AVX))
		put_bytes(c, cpu_la_add(c, la, FX_MXCSR), c->fx + FX_MXCSR, 8);
	if (rfbm & XCR0_SSE)
		put_bytes(c, cpu_la_add(c, la, FX_XMM(0)), c->fx + FX_XMM(0),
			  16 * nx);
	if (rfbm & XCR0_AVX)
		put_bytes(c, cpu_la_add(c, la, XS_AVX), &c->ymmh[0][0], 16 * nx);
	if (compact) {
		wr64(c, cpu_la_add(c, la, XS_HEADER), rfbm);
		wr64(c, cpu_la_add(c, la, XS_HEADER + 8), rfbm | 1ull << 63);
	} else {
		wr64(c, cpu_la_add(c, la, XS_HEADER), bv | rfbm);
	}
}

void cpu_xsave(struct cpu *c, uint64_t la)
{
	xsave_any(c, la, false);
}

/* XRSTOR.  XCOMP_BV[63] picks the form (SDM Vol. 1 §13.8).  Standard:
 * #GP for XSTATE_BV bits outside XCR0 and nonzero header bytes 23:8
 * (XCOMP_BV and the first reserved ones; bytes 63:24 are not checked,
 * §13.8.1); MXCSR loaded with SSE or AVX requested.  Compacted: #GP for
 * XCOMP_BV[62:0] bits outside XCR0, XSTATE_BV bits outside XCOMP_BV and
 * nonzero bytes 63:16; MXCSR loaded only with SSE requested, from the
 * area where XSTATE_BV[1] is set, 1F80H where not (§13.8.2).  Both:
 * #GP for reserved MXCSR bits loaded; each requested component loaded
 * where XSTATE_BV has it, set to its initial state where not. */
void cpu_xrstor(struct cpu *c, uint64_t la)
{
	uint64_t rfbm = xs_enter(c, la), bv, comp;
	uint8_t hdr[64], img[XS_SIZE];
	uint32_t mx;
	unsigned nx = nxmm(c);
	bool mx_load;

	get_bytes(c, cpu_la_add(c, la, XS_HEADER), hdr, 64);
	memcpy(&bv, hdr, 8);
	memcpy(&comp, hdr + 8, 8);
	if (comp >> 63) {
		if ((comp & ~(1ull << 63) & ~c->xcr0) || (bv & ~comp))
			cpu_gp(c, 0);
		for (unsigned i = 16; i < 64; i++)
			if (hdr[i])
				cpu_gp(c, 0);
	} else {
		if (bv & ~c->xcr0)
			cpu_gp(c, 0);
		for (unsigned i = 8; i < 24; i++)
			if (hdr[i])
				cpu_gp(c, 0);
	}
	get_bytes(c, la, img, XS_HEADER);
	if (rfbm & XCR0_AVX)
		get_bytes(c, cpu_la_add(c, la, XS_AVX), img + XS_AVX, 256);
	memcpy(&mx, img + FX_MXCSR, 4);
	if (comp >> 63) {
		mx_load = rfbm & XCR0_SSE;
		if (!(bv & XCR0_SSE))
			mx = 0x1f80;
	} else {
		mx_load = rfbm & (XCR0_SSE | XCR0_AVX);
	}
	if (mx_load && (mx >> 16))
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
	if (mx_load)
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

/* The forms of groups.def: 0F 01 D0, D1; 0F AE /4, /5, /6 (XSAVEOPT:
 * XSAVE, see above); 0F C7 /4 (memory). */
void op_xgetbv(struct cpu *c, const struct dec_insn *d) { cpu_xgetbv(c); }
void op_xsetbv(struct cpu *c, const struct dec_insn *d) { cpu_xsetbv(c); }
void op_xsave_M(struct cpu *c, const struct dec_insn *d) { cpu_xsave(c, cpu_ea(c, d)); }
void op_xrstor_M(struct cpu *c, const struct dec_insn *d) { cpu_xrstor(c, cpu_ea(c, d)); }
void op_xsaveopt_M(struct cpu *c, const struct dec_insn *d) { cpu_xsave(c, cpu_ea(c, d)); }
void op_xsavec_M(struct cpu *c, const struct dec_insn *d) { xsave_any(c, cpu_ea(c, d), true); }
