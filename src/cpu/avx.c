/* AVX and AVX2 on the level-3 model: the VEX forms not in sse.c, ssefp.c
 * and sse4.c (SDM Vol. 2 instruction pages; Vol. 2 §2.4 for the VEX
 * exception classes).
 *
 * Floating-point results (and the rest of the register-to-register
 * operations whose element shapes cross the 128-bit lanes: conversions,
 * VPERMD/VPERMPS, VPMOVSX/ZX, the variable shifts) come from the host's
 * own VEX instruction under the guest's MXCSR, as ssefp.c does for SSE:
 * the guest registers are loaded into host YMM0 (destination), YMM1
 * (VEX.vvvv) and YMM2 (the W operand, memory read by the interpreter),
 * the instruction runs with exceptions masked, and YMM0 is the whole new
 * destination register, upper bits zeroed by the host exactly as the
 * SDM says for the VEX.128 forms.  A level-3 model needs a host with
 * AVX2 and FMA (model.c).  Moves, shuffles, blends, broadcasts and the
 * masked and gathered memory accesses are in C. */
#include "cpu/sse.h"

/* A YMM register's 32 bytes: lane 0 is the XMM register. */
struct vy {
	xmm_t l[2];
};

/* The W operand's n bytes of memory (1-32), or the register. */
static void vex_rd(struct cpu *c, const struct dec_insn *d, struct vy *v,
		   unsigned n)
{
	uint64_t la;

	memset(v, 0, sizeof(*v));
	if (d->mod == 3) {
		sse_get_ymm(c, d->rm, v->l);
		return;
	}
	la = cpu_ea(c, d);
	if (n < 8) {
		uint64_t x = rdn(c, la, n);

		memcpy(v->l[0].b, &x, n);
		return;
	}
	for (unsigned i = 0; i < n / 8; i++)
		v->l[i / 2].q[i % 2] = rd64(c, la + 8 * i);
}

/* Stores n (16 or 32) bytes of v at the W operand's memory, checking the
 * whole write first; `align`: #GP unless n-aligned. */
static void vex_wr_mem(struct cpu *c, const struct dec_insn *d,
		       const struct vy *v, unsigned n, bool align)
{
	uint64_t la = cpu_ea(c, d);

	if (align && (cpu_plain_la(c, la) & (n - 1)))
		cpu_gp(c, 0);
	cpu_probe_write(c, la, n);
	for (unsigned i = 0; i < n / 8; i++)
		wr64(c, la + 8 * i, v->l[i / 2].q[i % 2]);
}

static bool vex_w(const struct dec_insn *d)
{
	return d->rex & 8;
}

/* --- the host's instruction on host YMM0-2 -------------------------------- */

typedef unsigned (*hv_fn)(struct vy *r, const struct vy *a,
			  const struct vy *b, unsigned imm, bool l,
			  uint32_t csr);

#define HV_PRE "stmxcsr %[h]\n\tldmxcsr %[g]\n\t"                           \
	"vmovdqu %[r], %%ymm0\n\tvmovdqu %[a], %%ymm1\n\t"                   \
	"vmovdqu %[b], %%ymm2\n\t"
#define HV_POST "\n\tvmovdqu %%ymm0, %[r]\n\tstmxcsr %[o]\n\t"               \
	"ldmxcsr %[h]\n\tvzeroupper"
#define HV_ASM(t)                                                          \
	__asm__ volatile(HV_PRE t HV_POST                                  \
			 : [r] "+m"(*r), [h] "=m"(host), [o] "=m"(out)      \
			 : [a] "m"(*a), [b] "m"(*b), [g] "m"(csr)          \
			 : "xmm0", "xmm1", "xmm2")
#define HV_ASMI(t, k)                                                      \
	__asm__ volatile(HV_PRE t HV_POST                                  \
			 : [r] "+m"(*r), [h] "=m"(host), [o] "=m"(out)      \
			 : [a] "m"(*a), [b] "m"(*b), [g] "m"(csr),         \
			   [i] "i"(k)                                      \
			 : "xmm0", "xmm1", "xmm2")

/* fn: YMM0 = the instruction t128 (VEX.L 0) or t256 (VEX.L 1). */
#define HV(fn, t128, t256)                                                 \
static unsigned fn(struct vy *r, const struct vy *a, const struct vy *b,  \
		   unsigned imm, bool l, uint32_t csr)                     \
{                                                                          \
	uint32_t host, out = 0;                                            \
	(void)imm;                                                         \
	if (l)                                                             \
		HV_ASM(t256);                                              \
	else                                                               \
		HV_ASM(t128);                                              \
	return out & MX_FLAGS;                                             \
}

/* With an imm8: one host instruction per value that matters. */
#define HK1(t, k) case (k): HV_ASMI(t, k); break;
#define HK4(t, k) HK1(t, k) HK1(t, (k) + 1) HK1(t, (k) + 2) HK1(t, (k) + 3)
#define HK16(t, k) HK4(t, k) HK4(t, (k) + 4) HK4(t, (k) + 8) HK4(t, (k) + 12)
#define HK32(t, k) HK16(t, k) HK16(t, (k) + 16)
#define HK64(t, k) HK32(t, k) HK32(t, (k) + 32)
#define HK256(t, k) HK64(t, k) HK64(t, (k) + 64) HK64(t, (k) + 128) \
	HK64(t, (k) + 192)
#define HVI(fn, t128, t256, n)                                             \
static unsigned fn(struct vy *r, const struct vy *a, const struct vy *b,  \
		   unsigned imm, bool l, uint32_t csr)                     \
{                                                                          \
	uint32_t host, out = 0;                                            \
	if (l) {                                                           \
		switch (imm & ((n) - 1)) { HK##n(t256, 0) }                \
	} else {                                                           \
		switch (imm & ((n) - 1)) { HK##n(t128, 0) }                \
	}                                                                  \
	return out & MX_FLAGS;                                             \
}

/* Operand texts: three operands (dst, vvvv, W), two (dst, W). */
#define T3(op, x) op " %%" x "2, %%" x "1, %%" x "0"
#define T2(op, s, d) op " %%" s "2, %%" d "0"
#define T3I(op, x) op " %[i], %%" x "2, %%" x "1, %%" x "0"
#define T2I(op, x) op " %[i], %%" x "2, %%" x "0"
#define HV3(fn, op) HV(fn, T3(op, "xmm"), T3(op, "ymm"))
#define HV2(fn, op) HV(fn, T2(op, "xmm", "xmm"), T2(op, "ymm", "ymm"))
#define HVS(fn, op) HV(fn, T3(op, "xmm"), T3(op, "xmm"))
/* Widening (xmm source) and narrowing (ymm source, xmm result). */
#define HVW(fn, op) HV(fn, T2(op, "xmm", "xmm"), T2(op, "xmm", "ymm"))
#define HVN(fn, op) HV(fn, T2(op, "xmm", "xmm"), T2(op, "ymm", "xmm"))

HV3(h_vunpcklps, "vunpcklps")
HV3(h_vunpcklpd, "vunpcklpd")
HV3(h_vunpckhps, "vunpckhps")
HV3(h_vunpckhpd, "vunpckhpd")
HV2(h_vrcpps, "vrcpps")
HVS(h_vrcpss, "vrcpss")
HV2(h_vrsqrtps, "vrsqrtps")
HVS(h_vrsqrtss, "vrsqrtss")
HVW(h_vcvtps2pd, "vcvtps2pd")
HVN(h_vcvtpd2ps, "vcvtpd2ps")
HVS(h_vcvtss2sd, "vcvtss2sd")
HVS(h_vcvtsd2ss, "vcvtsd2ss")
HV2(h_vcvtdq2ps, "vcvtdq2ps")
HV2(h_vcvtps2dq, "vcvtps2dq")
HV2(h_vcvttps2dq, "vcvttps2dq")
HVN(h_vcvttpd2dq, "vcvttpd2dq")
HVW(h_vcvtdq2pd, "vcvtdq2pd")
HVN(h_vcvtpd2dq, "vcvtpd2dq")
HV3(h_vhaddpd, "vhaddpd")
HV3(h_vhaddps, "vhaddps")
HV3(h_vhsubpd, "vhsubpd")
HV3(h_vhsubps, "vhsubps")
HV3(h_vaddsubpd, "vaddsubpd")
HV3(h_vaddsubps, "vaddsubps")
HV2(h_vmovsldup, "vmovsldup")
HV2(h_vmovshdup, "vmovshdup")
HV2(h_vmovddup, "vmovddup")
HV3(h_vpermilps, "vpermilps")
HV3(h_vpermilpd, "vpermilpd")
HV(h_vpermps, T3("vpermps", "ymm"), T3("vpermps", "ymm"))
HV(h_vpermd, T3("vpermd", "ymm"), T3("vpermd", "ymm"))
HV3(h_vpsrlvd, "vpsrlvd")
HV3(h_vpsrlvq, "vpsrlvq")
HV3(h_vpsravd, "vpsravd")
HV3(h_vpsllvd, "vpsllvd")
HV3(h_vpsllvq, "vpsllvq")
HV(h_vphminposuw, T2("vphminposuw", "xmm", "xmm"),
   T2("vphminposuw", "xmm", "xmm"))
HVW(h_vpmovsxbw, "vpmovsxbw")
HVW(h_vpmovsxbd, "vpmovsxbd")
HVW(h_vpmovsxbq, "vpmovsxbq")
HVW(h_vpmovsxwd, "vpmovsxwd")
HVW(h_vpmovsxwq, "vpmovsxwq")
HVW(h_vpmovsxdq, "vpmovsxdq")
HVW(h_vpmovzxbw, "vpmovzxbw")
HVW(h_vpmovzxbd, "vpmovzxbd")
HVW(h_vpmovzxbq, "vpmovzxbq")
HVW(h_vpmovzxwd, "vpmovzxwd")
HVW(h_vpmovzxwq, "vpmovzxwq")
HVW(h_vpmovzxdq, "vpmovzxdq")
HVI(h_vcmpps, T3I("vcmpps", "xmm"), T3I("vcmpps", "ymm"), 32)
HVI(h_vcmppd, T3I("vcmppd", "xmm"), T3I("vcmppd", "ymm"), 32)
HVI(h_vcmpss, T3I("vcmpss", "xmm"), T3I("vcmpss", "xmm"), 32)
HVI(h_vcmpsd, T3I("vcmpsd", "xmm"), T3I("vcmpsd", "xmm"), 32)
HVI(h_vroundps, T2I("vroundps", "xmm"), T2I("vroundps", "ymm"), 16)
HVI(h_vroundpd, T2I("vroundpd", "xmm"), T2I("vroundpd", "ymm"), 16)
HVI(h_vroundss, T3I("vroundss", "xmm"), T3I("vroundss", "xmm"), 16)
HVI(h_vroundsd, T3I("vroundsd", "xmm"), T3I("vroundsd", "xmm"), 16)
HVI(h_vdpps, T3I("vdpps", "xmm"), T3I("vdpps", "ymm"), 256)
HVI(h_vdppd, T3I("vdppd", "xmm"), T3I("vdppd", "xmm"), 256)
HVI(h_vmpsadbw, T3I("vmpsadbw", "xmm"), T3I("vmpsadbw", "ymm"), 64)

/* One form of an opcode: its host instruction, the W operand's memory
 * size for VEX.L 0 and 1 (0: that VEX.L is #UD), VEX.W and VEX.L rules. */
struct vd {
	hv_fn fn;
	uint8_t n[2];
	uint8_t fl;
};
#define VD_W0 1  /* VEX.W 1 is #UD */
#define VD_LIG 2 /* scalar: VEX.L ignored, the 128-bit operation */

/* reg = fn(reg, vvvv, W, imm8) for the form of VEX.pp (t[pfx]). */
static void vrun(struct cpu *c, const struct dec_insn *d, const struct vd *t)
{
	const struct vd *v = &t[d->pfx];
	unsigned L = DEC_VEX_L(d);
	struct vy r, a, b;
	unsigned f;

	if (!v->fn || !v->n[L] || ((v->fl & VD_W0) && vex_w(d)))
		cpu_ud(c);
	sse_vex_enter(c);
	vex_rd(c, d, &b, v->n[L]);
	sse_get_ymm(c, DEC_VEX_V(d), a.l);
	sse_get_ymm(c, d->reg, r.l);
	f = v->fn(&r, &a, &b, (unsigned)d->imm & 0xff,
		  L && !(v->fl & VD_LIG), sse_host_csr(c));
	sse_flags(c, f);
	sse_put_ymm(c, d->reg, r.l, true);
}

#define VRUN(name, ...)                                                    \
void name(struct cpu *c, const struct dec_insn *d)                        \
{                                                                          \
	static const struct vd t[4] = { __VA_ARGS__ };                     \
	vrun(c, d, t);                                                     \
}
#define P_ { NULL, { 0, 0 }, 0 }
#define PK(fn) { fn, { 16, 32 }, 0 }       /* packed */
#define PS(fn, n) { fn, { n, n }, VD_LIG } /* scalar, n bytes */

/* VEX.0F */
VRUN(op_vunpcklps_Vx_Hx_Wx, PK(h_vunpcklps), PK(h_vunpcklpd), P_, P_)
VRUN(op_vunpckhps_Vx_Hx_Wx, PK(h_vunpckhps), PK(h_vunpckhpd), P_, P_)
VRUN(op_vrsqrtps_Vx_Hx_Wx, PK(h_vrsqrtps), P_, PS(h_vrsqrtss, 4), P_)
VRUN(op_vrcpps_Vx_Hx_Wx, PK(h_vrcpps), P_, PS(h_vrcpss, 4), P_)
VRUN(op_vcvtps2pd_Vx_Hx_Wx, { h_vcvtps2pd, { 8, 16 }, 0 }, PK(h_vcvtpd2ps),
     PS(h_vcvtss2sd, 4), PS(h_vcvtsd2ss, 8))
VRUN(op_vcvtdq2ps_Vx_Wx, PK(h_vcvtdq2ps), PK(h_vcvtps2dq), PK(h_vcvttps2dq),
     P_)
VRUN(op_vcvtpd2dq_Vx_Wx, P_, PK(h_vcvttpd2dq), { h_vcvtdq2pd, { 8, 16 }, 0 },
     PK(h_vcvtpd2dq))
VRUN(op_vhaddps_Vx_Hx_Wx, P_, PK(h_vhaddpd), P_, PK(h_vhaddps))
VRUN(op_vhsubps_Vx_Hx_Wx, P_, PK(h_vhsubpd), P_, PK(h_vhsubps))
VRUN(op_vaddsubps_Vx_Hx_Wx, P_, PK(h_vaddsubpd), P_, PK(h_vaddsubps))
VRUN(op_vcmpps_Vx_Hx_Wx_Ib, PK(h_vcmpps), PK(h_vcmppd), PS(h_vcmpss, 4),
     PS(h_vcmpsd, 8))
/* VEX.0F38 */
VRUN(op_vpermilps_Vx_Hx_Wx, P_, { h_vpermilps, { 16, 32 }, VD_W0 }, P_, P_)
VRUN(op_vpermilpd_Vx_Hx_Wx, P_, { h_vpermilpd, { 16, 32 }, VD_W0 }, P_, P_)
VRUN(op_vpermps_Vx_Hx_Wx, P_, { h_vpermps, { 0, 32 }, VD_W0 }, P_, P_)
VRUN(op_vpermd_Vx_Hx_Wx, P_, { h_vpermd, { 0, 32 }, VD_W0 }, P_, P_)
VRUN(op_vpsravd_Vx_Hx_Wx, P_, { h_vpsravd, { 16, 32 }, VD_W0 }, P_, P_)
VRUN(op_vphminposuw_Vx_Wx, P_, { h_vphminposuw, { 16, 0 }, 0 }, P_, P_)
/* VEX.0F3A */
VRUN(op_vroundps_Vx_Wx_Ib, P_, PK(h_vroundps), P_, P_)
VRUN(op_vroundpd_Vx_Wx_Ib, P_, PK(h_vroundpd), P_, P_)
VRUN(op_vroundss_Vx_Hx_Wx_Ib, P_, PS(h_vroundss, 4), P_, P_)
VRUN(op_vroundsd_Vx_Hx_Wx_Ib, P_, PS(h_vroundsd, 8), P_, P_)
VRUN(op_vdpps_Vx_Hx_Wx_Ib, P_, PK(h_vdpps), P_, P_)
VRUN(op_vdppd_Vx_Hx_Wx_Ib, P_, { h_vdppd, { 16, 0 }, 0 }, P_, P_)
VRUN(op_vmpsadbw_Vx_Hx_Wx_Ib, P_, PK(h_vmpsadbw), P_, P_)

/* VEX.F3.0F 12, 16, VEX.F2.0F 12: VMOVSLDUP, VMOVSHDUP, VMOVDDUP (whose
 * VEX.128 memory operand is 8 bytes); the rest of 12 and 16 are the
 * 64-bit half moves below. */
static const struct vd dup12[4] = { P_, P_, PK(h_vmovsldup),
				    { h_vmovddup, { 8, 32 }, 0 } };
static const struct vd dup16[4] = { P_, P_, PK(h_vmovshdup), P_ };

/* VEX.66.0F38 45, 47: VPSRLVD/Q, VPSLLVD/Q by VEX.W. */
void op_vpsrlv_Vx_Hx_Wx(struct cpu *c, const struct dec_insn *d)
{
	static const struct vd t[2][4] = { { P_, PK(h_vpsrlvd), P_, P_ },
					   { P_, PK(h_vpsrlvq), P_, P_ } };
	vrun(c, d, t[vex_w(d)]);
}

void op_vpsllv_Vx_Hx_Wx(struct cpu *c, const struct dec_insn *d)
{
	static const struct vd t[2][4] = { { P_, PK(h_vpsllvd), P_, P_ },
					   { P_, PK(h_vpsllvq), P_, P_ } };
	vrun(c, d, t[vex_w(d)]);
}

/* VEX.66.0F38 20-25, 30-35: VPMOVSX/VPMOVZX BW BD BQ WD WQ DQ; the
 * source is 16 bytes scaled down by the widening (VEX.256: twice). */
void op_vpmovx_Vx_Wx(struct cpu *c, const struct dec_insn *d)
{
	static const hv_fn fns[2][6] = {
		{ h_vpmovsxbw, h_vpmovsxbd, h_vpmovsxbq, h_vpmovsxwd,
		  h_vpmovsxwq, h_vpmovsxdq },
		{ h_vpmovzxbw, h_vpmovzxbd, h_vpmovzxbq, h_vpmovzxwd,
		  h_vpmovzxwq, h_vpmovzxdq } };
	static const uint8_t n[6] = { 8, 4, 2, 8, 4, 8 };
	unsigned k = d->op & 7;
	struct vd t[4] = { P_, P_, P_, P_ };

	if (k > 5)
		cpu_ud(c);
	t[DEC_PFX_66] = (struct vd){ fns[(d->op >> 4) & 1][k], { n[k],
				     (uint8_t)(2 * n[k]) }, 0 };
	vrun(c, d, t);
}

/* --- scalar conversions and compares with general registers, flags ------- */

#define HCVTSI(fn, insn, T)                                                \
static unsigned fn(struct vy *r, T v, uint32_t csr)                       \
{                                                                          \
	uint32_t host, out;                                                \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t"                \
			 "vmovdqu %[r], %%ymm1\n\t"                        \
			 insn " %[v], %%xmm1, %%xmm0\n\t"                  \
			 "vmovdqu %%ymm0, %[r]\n\tstmxcsr %[o]\n\t"        \
			 "ldmxcsr %[h]\n\tvzeroupper"                      \
			 : [r] "+m"(*r), [h] "=m"(host), [o] "=m"(out)      \
			 : [v] "r"(v), [g] "m"(csr) : "xmm0", "xmm1");     \
	return out & MX_FLAGS;                                             \
}
HCVTSI(h_vcvtsi2ssl, "vcvtsi2ssl", int32_t)
HCVTSI(h_vcvtsi2ssq, "vcvtsi2ssq", int64_t)
HCVTSI(h_vcvtsi2sdl, "vcvtsi2sdl", int32_t)
HCVTSI(h_vcvtsi2sdq, "vcvtsi2sdq", int64_t)

/* VEX.F3/F2.0F 2A: VCVTSI2SS/SD xmm1, xmm2, r/m32/64 (VEX.W; VEX.LIG):
 * the low element converted under MXCSR.RC, the rest of xmm2's. */
void op_vcvtsi2ss_Vx_Hx_Ey(struct cpu *c, const struct dec_insn *d)
{
	bool q = vex_w(d) && c->mode == DEC_MODE64;
	struct vy r;
	uint64_t v;
	unsigned f;

	if (d->pfx < DEC_PFX_F3)
		cpu_ud(c);
	sse_vex_enter(c);
	v = rd_E(c, d, q ? 8 : 4);
	sse_get_ymm(c, DEC_VEX_V(d), r.l);
	if (d->pfx == DEC_PFX_F3)
		f = q ? h_vcvtsi2ssq(&r, (int64_t)v, sse_host_csr(c)) :
			h_vcvtsi2ssl(&r, (int32_t)v, sse_host_csr(c));
	else
		f = q ? h_vcvtsi2sdq(&r, (int64_t)v, sse_host_csr(c)) :
			h_vcvtsi2sdl(&r, (int32_t)v, sse_host_csr(c));
	sse_flags(c, f);
	sse_put_ymm(c, d->reg, r.l, true);
}

#define HCVTI(fn, insn, T)                                                 \
static unsigned fn(const struct vy *b, uint64_t *res, uint32_t csr)       \
{                                                                          \
	uint32_t host, out;                                                \
	T v;                                                               \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t"                \
			 "vmovdqu %[b], %%xmm2\n\t"                        \
			 insn " %%xmm2, %[v]\n\t"                          \
			 "stmxcsr %[o]\n\tldmxcsr %[h]"                    \
			 : [v] "=r"(v), [h] "=m"(host), [o] "=m"(out)      \
			 : [b] "m"(b->l[0]), [g] "m"(csr) : "xmm2");       \
	*res = v;                                                          \
	return out & MX_FLAGS;                                             \
}
HCVTI(h_vcvtss2si32, "vcvtss2si", uint32_t)
HCVTI(h_vcvtss2si64, "vcvtss2si", uint64_t)
HCVTI(h_vcvttss2si32, "vcvttss2si", uint32_t)
HCVTI(h_vcvttss2si64, "vcvttss2si", uint64_t)
HCVTI(h_vcvtsd2si32, "vcvtsd2si", uint32_t)
HCVTI(h_vcvtsd2si64, "vcvtsd2si", uint64_t)
HCVTI(h_vcvttsd2si32, "vcvttsd2si", uint32_t)
HCVTI(h_vcvttsd2si64, "vcvttsd2si", uint64_t)

typedef unsigned (*hcvti_fn)(const struct vy *b, uint64_t *res, uint32_t csr);

/* VEX.F3/F2.0F 2C/2D: VCVT(T)SS2SI, VCVT(T)SD2SI r32/64, xmm/m32/64
 * (VEX.W: the 64-bit forms; VEX.LIG). */
static void vcvt2si(struct cpu *c, const struct dec_insn *d, bool trunc)
{
	static const hcvti_fn fns[2][2][2] = {
		{ { h_vcvtss2si32, h_vcvtss2si64 },
		  { h_vcvtsd2si32, h_vcvtsd2si64 } },
		{ { h_vcvttss2si32, h_vcvttss2si64 },
		  { h_vcvttsd2si32, h_vcvttsd2si64 } } };
	bool q = vex_w(d) && c->mode == DEC_MODE64, sd = d->pfx == DEC_PFX_F2;
	struct vy b;
	uint64_t res;

	if (d->pfx < DEC_PFX_F3)
		cpu_ud(c);
	sse_vex_enter(c);
	vex_rd(c, d, &b, sd ? 8 : 4);
	sse_flags(c, fns[trunc][sd][q](&b, &res, sse_host_csr(c)));
	sreg_w(c, d->reg, q ? 8 : 4, d->rex, res);
}

void op_vcvttss2si_Gy_Wx(struct cpu *c, const struct dec_insn *d) { vcvt2si(c, d, true); }
void op_vcvtss2si_Gy_Wx(struct cpu *c, const struct dec_insn *d) { vcvt2si(c, d, false); }

#define HCOMI(fn, insn)                                                    \
static unsigned fn(const struct vy *a, const struct vy *b, uint32_t csr,  \
		   uint64_t *fl)                                           \
{                                                                          \
	uint32_t host, out;                                                \
	bool z, p, cf;                                                     \
	__asm__ volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t"                \
			 "vmovdqu %[a], %%xmm1\n\tvmovdqu %[b], %%xmm2\n\t" \
			 insn " %%xmm2, %%xmm1\n\t"                        \
			 "stmxcsr %[o]\n\tldmxcsr %[h]"                    \
			 : "=@ccz"(z), "=@ccp"(p), "=@ccc"(cf),            \
			   [h] "=m"(host), [o] "=m"(out)                   \
			 : [a] "m"(a->l[0]), [b] "m"(b->l[0]), [g] "m"(csr) \
			 : "xmm1", "xmm2");                                \
	*fl = (z ? RFLAGS_ZF : 0) | (p ? RFLAGS_PF : 0) |                  \
	      (cf ? RFLAGS_CF : 0);                                        \
	return out & MX_FLAGS;                                             \
}
HCOMI(h_vcomiss, "vcomiss")
HCOMI(h_vcomisd, "vcomisd")
HCOMI(h_vucomiss, "vucomiss")
HCOMI(h_vucomisd, "vucomisd")

/* ZF PF CF as given, OF SF AF cleared. */
static void set_zpc(struct cpu *c, uint64_t zpc)
{
	uint64_t f = cpu_get_rflags(c) &
		     ~(uint64_t)(RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF |
				 RFLAGS_SF | RFLAGS_OF);

	cpu_set_rflags(c, f | zpc);
}

/* VEX.0F/66.0F 2E, 2F: VUCOMISS/SD, VCOMISS/SD (VEX.LIG). */
static void vcomis(struct cpu *c, const struct dec_insn *d, bool quiet)
{
	bool dbl = d->pfx == DEC_PFX_66;
	struct vy a, b;
	uint64_t res;

	if (d->pfx >= DEC_PFX_F3)
		cpu_ud(c);
	sse_vex_enter(c);
	vex_rd(c, d, &b, dbl ? 8 : 4);
	sse_get_ymm(c, d->reg, a.l);
	sse_flags(c, (quiet ? (dbl ? h_vucomisd : h_vucomiss) :
		      (dbl ? h_vcomisd : h_vcomiss))(&a, &b, sse_host_csr(c),
						      &res));
	set_zpc(c, res);
}

void op_vucomiss_Vx_Wx(struct cpu *c, const struct dec_insn *d) { vcomis(c, d, true); }
void op_vcomiss_Vx_Wx(struct cpu *c, const struct dec_insn *d) { vcomis(c, d, false); }

/* --- moves ------------------------------------------------------------- */

/* VEX.F3/F2.0F 10, 11: VMOVSS/VMOVSD.  The memory load zeroes the rest of
 * the register, the register form merges with VEX.vvvv's; the memory
 * forms need VEX.vvvv 1111b.  VEX.LIG. */
static void vmovs(struct cpu *c, const struct dec_insn *d, bool store)
{
	unsigned n = d->pfx == DEC_PFX_F3 ? 4 : 8;
	unsigned dst = store ? d->rm : d->reg, src = store ? d->reg : d->rm;
	struct vy r, s;

	if (d->mod != 3 && DEC_VEX_V(d))
		cpu_ud(c);
	sse_vex_enter(c);
	memset(&r, 0, sizeof(r));
	if (d->mod != 3) {
		if (store) {
			sse_get_ymm(c, d->reg, s.l);
			wrn(c, cpu_ea(c, d), s.l[0].q[0], n);
			return;
		}
		vex_rd(c, d, &r, n);
		sse_put_ymm(c, d->reg, r.l, false);
		return;
	}
	sse_get_ymm(c, DEC_VEX_V(d), r.l);
	sse_get_ymm(c, src, s.l);
	memcpy(r.l[0].b, s.l[0].b, n);
	sse_put_ymm(c, dst, r.l, false);
}

void op_vmovs_Vx_Hx_Wx(struct cpu *c, const struct dec_insn *d) { vmovs(c, d, false); }
void op_vmovs_Wx_Hx_Vx(struct cpu *c, const struct dec_insn *d) { vmovs(c, d, true); }

/* VEX.0F/66.0F 12, 16 (VEX.128): VMOVLPS/VMOVLPD, VMOVHPS/VMOVHPD xmm1,
 * xmm2, m64 and (no prefix, registers) VMOVHLPS, VMOVLHPS xmm1, xmm2,
 * xmm3: the other half from VEX.vvvv.  F3/F2: the duplicating moves. */
static void vmovhl(struct cpu *c, const struct dec_insn *d, bool hi)
{
	struct vy r, s;

	if (d->pfx >= DEC_PFX_F3) {
		vrun(c, d, hi ? dup16 : dup12);
		return;
	}
	if (DEC_VEX_L(d) || (d->mod == 3 && d->pfx == DEC_PFX_66))
		cpu_ud(c);
	sse_vex_enter(c);
	vex_rd(c, d, &s, 8);
	sse_get_ymm(c, DEC_VEX_V(d), r.l);
	if (hi)
		r.l[0].q[1] = s.l[0].q[0];
	else
		r.l[0].q[0] = s.l[0].q[d->mod == 3];
	sse_put_ymm(c, d->reg, r.l, false);
}

void op_vmovlps_Vx_Hx_Mq(struct cpu *c, const struct dec_insn *d) { vmovhl(c, d, false); }
void op_vmovhps_Vx_Hx_Mq(struct cpu *c, const struct dec_insn *d) { vmovhl(c, d, true); }

/* VEX.0F/66.0F 13, 17: VMOVLPS/VMOVLPD, VMOVHPS/VMOVHPD m64, xmm
 * (VEX.128, memory only). */
static void vmovhl_st(struct cpu *c, const struct dec_insn *d, bool hi)
{
	xmm_t s;

	if (d->pfx >= DEC_PFX_F3 || d->mod == 3 || DEC_VEX_L(d))
		cpu_ud(c);
	sse_vex_enter(c);
	get_x(c, d->reg, &s);
	wr64(c, cpu_ea(c, d), s.q[hi]);
}

void op_vmovlps_Mq_Vx(struct cpu *c, const struct dec_insn *d) { vmovhl_st(c, d, false); }
void op_vmovhps_Mq_Vx(struct cpu *c, const struct dec_insn *d) { vmovhl_st(c, d, true); }

/* VEX.0F/66.0F 2B: VMOVNTPS/PD; VEX.66.0F E7: VMOVNTDQ: aligned stores
 * (no cache here: plain stores). */
static void vmovnt(struct cpu *c, const struct dec_insn *d, bool ok)
{
	struct vy s;

	if (!ok || d->mod == 3)
		cpu_ud(c);
	sse_vex_enter(c);
	sse_get_ymm(c, d->reg, s.l);
	vex_wr_mem(c, d, &s, DEC_VEX_L(d) ? 32 : 16, true);
}

void op_vmovntps_Mx_Vx(struct cpu *c, const struct dec_insn *d) { vmovnt(c, d, d->pfx < DEC_PFX_F3); }
void op_vmovntdq_Mx_Vx(struct cpu *c, const struct dec_insn *d) { vmovnt(c, d, d->pfx == DEC_PFX_66); }

/* VEX.F2.0F F0: VLDDQU; VEX.66.0F38 2A: VMOVNTDQA (aligned): loads. */
static void vload(struct cpu *c, const struct dec_insn *d, unsigned pfx,
		  bool align)
{
	unsigned n = DEC_VEX_L(d) ? 32 : 16;
	struct vy r;

	if (d->pfx != pfx || d->mod == 3)
		cpu_ud(c);
	sse_vex_enter(c);
	if (align && (cpu_plain_la(c, cpu_ea(c, d)) & (n - 1)))
		cpu_gp(c, 0);
	vex_rd(c, d, &r, n);
	sse_put_ymm(c, d->reg, r.l, true);
}

void op_vlddqu_Vx_Mx(struct cpu *c, const struct dec_insn *d) { vload(c, d, DEC_PFX_F2, false); }
void op_vmovntdqa_Vx_Mx(struct cpu *c, const struct dec_insn *d) { vload(c, d, DEC_PFX_66, true); }

/* VEX.0F/66.0F 50: VMOVMSKPS/PD r32, x/ymm: the elements' sign bits. */
void op_vmovmskps_Gd_Ux(struct cpu *c, const struct dec_insn *d)
{
	unsigned w = d->pfx == DEC_PFX_66 ? 8 : 4, n = (DEC_VEX_L(d) ? 32 : 16) / w;
	struct vy s;
	uint64_t m = 0;

	if (d->pfx >= DEC_PFX_F3 || d->mod != 3)
		cpu_ud(c);
	sse_vex_enter(c);
	sse_get_ymm(c, d->rm, s.l);
	for (unsigned i = 0; i < n; i++)
		m |= (uint64_t)(((const uint8_t *)&s)[w * i + w - 1] >> 7) << i;
	c->r[d->reg] = m;
}

/* --- inserts and extracts (VEX.128) -------------------------------------- */

static void need_l0_66(struct cpu *c, const struct dec_insn *d)
{
	if (d->pfx != DEC_PFX_66 || DEC_VEX_L(d))
		cpu_ud(c);
	sse_vex_enter(c);
}

/* d for a legacy handler: VEX.W (its REX.W) is ignored outside 64-bit
 * mode (VPEXTRD/Q, VPCMPESTRx's 64-bit lengths). */
static const struct dec_insn *legacy_d(const struct cpu *c,
				       const struct dec_insn *d,
				       struct dec_insn *t)
{
	if (c->mode == DEC_MODE64)
		return d;
	*t = *d;
	t->rex &= (uint8_t)~8;
	return t;
}

/* VEX.66.0F3A 14-17: VPEXTRB, VPEXTRW, VPEXTRD/Q, VEXTRACTPS (the legacy
 * handlers' semantics; VEX.vvvv 1111b). */
void op_vpextrb_Ey_Vx_Ib(struct cpu *c, const struct dec_insn *d) { need_l0_66(c, d); op_pextrb_Ey_Vx_Ib(c, d); }
void op_vpextrw_Ey_Vx_Ib(struct cpu *c, const struct dec_insn *d) { need_l0_66(c, d); op_pextrw_Ey_Vx_Ib(c, d); }

void op_vpextrd_Ey_Vx_Ib(struct cpu *c, const struct dec_insn *d)
{
	struct dec_insn t;

	need_l0_66(c, d);
	op_pextrd_Ey_Vx_Ib(c, legacy_d(c, d, &t));
}

void op_vextractps_Ed_Vx_Ib(struct cpu *c, const struct dec_insn *d) { need_l0_66(c, d); op_extractps_Ed_Vx_Ib(c, d); }

/* VEX.66.0F C5: VPEXTRW r32, xmm, imm8 (register source only). */
void op_vpextrw_Gd_Ux_Ib(struct cpu *c, const struct dec_insn *d)
{
	xmm_t s;

	need_l0_66(c, d);
	if (d->mod != 3)
		cpu_ud(c);
	get_x(c, d->rm, &s);
	c->r[d->reg] = s.w[d->imm & 7];
}

/* VEX.66.0F C4, VEX.66.0F3A 20, 22: VPINSRW, VPINSRB, VPINSRD/Q xmm1,
 * xmm2, r/m, imm8: xmm2 with one element replaced; 21: VINSERTPS. */
static void vpinsr(struct cpu *c, const struct dec_insn *d, unsigned n)
{
	struct vy r;
	uint64_t v;
	unsigned i = (unsigned)d->imm;

	need_l0_66(c, d);
	v = rd_E(c, d, d->mod == 3 && n < 4 ? 4 : n);
	sse_get_ymm(c, DEC_VEX_V(d), r.l);
	switch (n) {
	case 1: r.l[0].b[i & 15] = (uint8_t)v; break;
	case 2: r.l[0].w[i & 7] = (uint16_t)v; break;
	case 4: r.l[0].d[i & 3] = (uint32_t)v; break;
	default: r.l[0].q[i & 1] = v; break;
	}
	sse_put_ymm(c, d->reg, r.l, false);
}

void op_vpinsrb_Vx_Hx_Ey_Ib(struct cpu *c, const struct dec_insn *d) { vpinsr(c, d, 1); }
void op_vpinsrw_Vx_Hx_Ey_Ib(struct cpu *c, const struct dec_insn *d) { vpinsr(c, d, 2); }
void op_vpinsrd_Vx_Hx_Ey_Ib(struct cpu *c, const struct dec_insn *d)
{
	vpinsr(c, d, vex_w(d) && c->mode == DEC_MODE64 ? 8 : 4);
}

void op_vinsertps_Vx_Hx_Wx_Ib(struct cpu *c, const struct dec_insn *d)
{
	unsigned im = (unsigned)d->imm;
	struct vy r, s;
	uint32_t v;

	need_l0_66(c, d);
	vex_rd(c, d, &s, 4);
	v = s.l[0].d[d->mod == 3 ? (im >> 6 & 3) : 0];
	sse_get_ymm(c, DEC_VEX_V(d), r.l);
	r.l[0].d[im >> 4 & 3] = v;
	for (unsigned i = 0; i < 4; i++)
		if (im >> i & 1)
			r.l[0].d[i] = 0;
	sse_put_ymm(c, d->reg, r.l, false);
}

/* VEX.66.0F3A 60-63: VPCMPESTRM/ESTRI/ISTRM/ISTRI (VEX.128): the legacy
 * operation; the mask forms write XMM0 with bits 255:128 zeroed. */
static void vpcmpstr(struct cpu *c, const struct dec_insn *d,
		     void (*fn)(struct cpu *c, const struct dec_insn *d),
		     bool mask)
{
	struct dec_insn t;

	need_l0_66(c, d);
	fn(c, legacy_d(c, d, &t));
	if (mask)
		memset(c->ymmh[0], 0, 16);
}

void op_vpcmpestrm_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d) { vpcmpstr(c, d, op_pcmpestrm_Vx_Wx_Ib, true); }
void op_vpcmpestri_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d) { vpcmpstr(c, d, op_pcmpestri_Vx_Wx_Ib, false); }
void op_vpcmpistrm_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d) { vpcmpstr(c, d, op_pcmpistrm_Vx_Wx_Ib, true); }
void op_vpcmpistri_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d) { vpcmpstr(c, d, op_pcmpistri_Vx_Wx_Ib, false); }

/* VEX.66.0F F7: VMASKMOVDQU xmm, xmm (VEX.128): MASKMOVDQU's store. */
void op_vmaskmovdqu_Vx_Ux(struct cpu *c, const struct dec_insn *d)
{
	need_l0_66(c, d);
	op_maskmovq_Pq_Nq(c, d);
}

/* VEX.0F AE /2, /3: VLDMXCSR, VSTMXCSR m32 (VEX.LZ). */
void op_vgrp15_Md(struct cpu *c, const struct dec_insn *d)
{
	if (d->pfx || DEC_VEX_L(d) || d->mod == 3 ||
	    ((d->reg & 7) != 2 && (d->reg & 7) != 3))
		cpu_ud(c);
	sse_vex_enter(c);
	if ((d->reg & 7) == 2)
		op_ldmxcsr_Md(c, d);
	else
		op_stmxcsr_Md(c, d);
}

/* --- shuffles, blends, permutes (C) -------------------------------------- */

/* The operands of a dst = f(vvvv, W[, imm]) shuffle: checks VEX.pp, the
 * VEX.L allowed (lmask bit L) and VEX.W 0 where w0. */
static bool vshuf_in(struct cpu *c, const struct dec_insn *d, unsigned pfx,
		     unsigned lmask, bool w0, struct vy *a, struct vy *b)
{
	bool l = DEC_VEX_L(d);

	if (d->pfx != pfx || !(lmask >> l & 1) || (w0 && vex_w(d)))
		cpu_ud(c);
	sse_vex_enter(c);
	vex_rd(c, d, b, l ? 32 : 16);
	sse_get_ymm(c, DEC_VEX_V(d), a->l);
	return l;
}

/* VEX.0F C6: VSHUFPS; VEX.66.0F C6: VSHUFPD (per 128-bit lane). */
void op_vshufps_Vx_Hx_Wx_Ib(struct cpu *c, const struct dec_insn *d)
{
	unsigned im = (unsigned)d->imm & 0xff;
	struct vy a, b, r;
	bool l;

	if (d->pfx >= DEC_PFX_F3)
		cpu_ud(c);
	l = vshuf_in(c, d, d->pfx, 3, false, &a, &b);
	for (unsigned k = 0; k < 2; k++) {
		xmm_t *x = &r.l[k];

		if (d->pfx == DEC_PFX_NONE) {
			x->d[0] = a.l[k].d[im & 3];
			x->d[1] = a.l[k].d[im >> 2 & 3];
			x->d[2] = b.l[k].d[im >> 4 & 3];
			x->d[3] = b.l[k].d[im >> 6 & 3];
		} else {
			x->q[0] = a.l[k].q[im >> (2 * k) & 1];
			x->q[1] = b.l[k].q[im >> (2 * k + 1) & 1];
		}
	}
	sse_put_ymm(c, d->reg, r.l, l);
}

/* Elements of w bytes from b where imm8 (or, per 128-bit lane, its bit
 * i % per) is set, else from a. */
static void blend(struct vy *r, const struct vy *a, const struct vy *b,
		  unsigned w, unsigned im, unsigned per)
{
	for (unsigned i = 0; i < 32 / w; i++)
		memcpy((uint8_t *)r + w * i, (im >> (i % per) & 1 ?
		       (const uint8_t *)b : (const uint8_t *)a) + w * i, w);
}

/* VEX.66.0F3A 0C, 0D, 0E, 02: VBLENDPS, VBLENDPD, VPBLENDW, VPBLENDD. */
static void vblendi(struct cpu *c, const struct dec_insn *d, unsigned w,
		    unsigned per, bool w0)
{
	struct vy a, b, r;
	bool l = vshuf_in(c, d, DEC_PFX_66, 3, w0, &a, &b);

	blend(&r, &a, &b, w, (unsigned)d->imm & 0xff, per);
	sse_put_ymm(c, d->reg, r.l, l);
}

void op_vblendps_Vx_Hx_Wx_Ib(struct cpu *c, const struct dec_insn *d) { vblendi(c, d, 4, 8, false); }
void op_vblendpd_Vx_Hx_Wx_Ib(struct cpu *c, const struct dec_insn *d) { vblendi(c, d, 8, 4, false); }
void op_vpblendw_Vx_Hx_Wx_Ib(struct cpu *c, const struct dec_insn *d) { vblendi(c, d, 2, 8, false); }
void op_vpblendd_Vx_Hx_Wx_Ib(struct cpu *c, const struct dec_insn *d) { vblendi(c, d, 4, 8, true); }

/* VEX.66.0F3A 4A, 4B, 4C: VBLENDVPS, VBLENDVPD, VPBLENDVB x, Hx, Wx, Lx:
 * the mask register in imm8[7:4] (bit 7 ignored outside 64-bit mode),
 * each element's sign bit selecting W over VEX.vvvv.  VEX.W 0. */
static void vblendv(struct cpu *c, const struct dec_insn *d, unsigned w)
{
	unsigned mr = ((unsigned)d->imm >> 4) & (c->mode == DEC_MODE64 ? 15 : 7);
	struct vy a, b, m, r;
	bool l = vshuf_in(c, d, DEC_PFX_66, 3, true, &a, &b);

	sse_get_ymm(c, mr, m.l);
	for (unsigned i = 0; i < 32 / w; i++) {
		bool s = ((const uint8_t *)&m)[w * i + w - 1] >> 7;

		memcpy((uint8_t *)&r + w * i, (s ? (const uint8_t *)&b :
		       (const uint8_t *)&a) + w * i, w);
	}
	sse_put_ymm(c, d->reg, r.l, l);
}

void op_vblendvps_Vx_Hx_Wx_Lx(struct cpu *c, const struct dec_insn *d) { vblendv(c, d, 4); }
void op_vblendvpd_Vx_Hx_Wx_Lx(struct cpu *c, const struct dec_insn *d) { vblendv(c, d, 8); }
void op_vpblendvb_Vx_Hx_Wx_Lx(struct cpu *c, const struct dec_insn *d) { vblendv(c, d, 1); }

/* VEX.66.0F3A 00, 01: VPERMQ, VPERMPD ymm, ymm/m256, imm8 (VEX.256,
 * VEX.W 1): qword i = source qword imm8[2i+1:2i]. */
void op_vpermq_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d)
{
	unsigned im = (unsigned)d->imm;
	struct vy s, r;

	if (d->pfx != DEC_PFX_66 || !DEC_VEX_L(d) || !vex_w(d))
		cpu_ud(c);
	sse_vex_enter(c);
	vex_rd(c, d, &s, 32);
	for (unsigned i = 0; i < 4; i++) {
		unsigned j = im >> (2 * i) & 3;

		r.l[i / 2].q[i % 2] = s.l[j / 2].q[j % 2];
	}
	sse_put_ymm(c, d->reg, r.l, true);
}

/* VEX.66.0F3A 04, 05: VPERMILPS, VPERMILPD x/ymm, W, imm8 (VEX.W 0):
 * within each 128-bit lane, by the immediate's selectors. */
void op_vpermilps_Vx_Wx_Ib(struct cpu *c, const struct dec_insn *d)
{
	unsigned im = (unsigned)d->imm;
	bool l = DEC_VEX_L(d), pd = (d->op & 0xff) == 0x05;
	struct vy s, r;

	if (d->pfx != DEC_PFX_66 || vex_w(d))
		cpu_ud(c);
	sse_vex_enter(c);
	vex_rd(c, d, &s, l ? 32 : 16);
	for (unsigned k = 0; k < 2; k++)
		for (unsigned i = 0; i < (pd ? 2u : 4u); i++) {
			if (pd)
				r.l[k].q[i] = s.l[k].q[im >> (2 * k + i) & 1];
			else
				r.l[k].d[i] = s.l[k].d[im >> (2 * i) & 3];
		}
	sse_put_ymm(c, d->reg, r.l, l);
}

/* VEX.66.0F3A 06, 46: VPERM2F128, VPERM2I128 ymm, ymm, ymm/m256, imm8
 * (VEX.256, VEX.W 0): each 128-bit half picked from the four, or zeroed
 * by imm8 bit 3 / 7. */
void op_vperm2f128_Vx_Hx_Wx_Ib(struct cpu *c, const struct dec_insn *d)
{
	unsigned im = (unsigned)d->imm;
	struct vy a, b, r;

	vshuf_in(c, d, DEC_PFX_66, 2, true, &a, &b);
	for (unsigned k = 0; k < 2; k++) {
		unsigned s = im >> (4 * k);

		if (s & 8)
			memset(&r.l[k], 0, 16);
		else
			r.l[k] = (s & 2 ? b : a).l[s & 1];
	}
	sse_put_ymm(c, d->reg, r.l, true);
}

/* --- broadcasts, tests ---------------------------------------------------- */

/* VEX.66.0F38 18, 19, 1A, 5A: VBROADCASTSS (m32; AVX2: xmm), VBROADCASTSD
 * (VEX.256; m64 or AVX2 xmm), VBROADCASTF128 and VBROADCASTI128
 * (VEX.256, m128 only).  VEX.W 0. */
void op_vbroadcast_Vx_Wx(struct cpu *c, const struct dec_insn *d)
{
	unsigned op = d->op & 0xff, n = op == 0x18 ? 4 : op == 0x19 ? 8 : 16;
	bool l = DEC_VEX_L(d);
	struct vy s, r;

	if (d->pfx != DEC_PFX_66 || vex_w(d) || (n > 4 && !l) ||
	    (n == 16 && d->mod == 3))
		cpu_ud(c);
	sse_vex_enter(c);
	vex_rd(c, d, &s, n);
	for (unsigned i = 0; i < 32; i += n)
		memcpy((uint8_t *)&r + i, &s, n);
	sse_put_ymm(c, d->reg, r.l, l);
}

/* VEX.66.0F38 0E, 0F: VTESTPS, VTESTPD: ZF and CF from the sign bits of
 * (reg AND W) and (NOT reg AND W); AF OF PF SF cleared.  VEX.W 0. */
void op_vtestps_Vx_Wx(struct cpu *c, const struct dec_insn *d)
{
	unsigned w = (d->op & 0xff) == 0x0f ? 8 : 4;
	bool l = DEC_VEX_L(d), z = true, cf = true;
	struct vy a, b;

	if (d->pfx != DEC_PFX_66 || vex_w(d))
		cpu_ud(c);
	sse_vex_enter(c);
	vex_rd(c, d, &b, l ? 32 : 16);
	sse_get_ymm(c, d->reg, a.l);
	for (unsigned i = w - 1; i < (l ? 32u : 16u); i += w) {
		uint8_t x = ((uint8_t *)&a)[i], y = ((uint8_t *)&b)[i];

		z &= !((x & y) >> 7);
		cf &= !((~x & y) >> 7);
	}
	set_zpc(c, (z ? RFLAGS_ZF : 0) | (cf ? RFLAGS_CF : 0));
}

/* --- masked loads and stores --------------------------------------------- */

/* VEX.66.0F38 2C-2F: VMASKMOVPS/PD (VEX.W 0) and 8C, 8E: VPMASKMOVD/Q
 * (VEX.W: D or Q): the elements whose mask (VEX.vvvv) sign bit is set
 * are loaded (the others zeroed) or stored; a masked-off element is
 * never accessed, so it cannot fault (SDM: VMASKMOV, "Faults occur only
 * due to mask-bit required memory accesses").  A store checks every
 * element it writes before writing any. */
static void vmaskmov(struct cpu *c, const struct dec_insn *d, unsigned w,
		     bool store)
{
	unsigned n = (DEC_VEX_L(d) ? 32 : 16) / w;
	struct vy m, v;
	uint64_t la;

	if (d->pfx != DEC_PFX_66 || d->mod == 3)
		cpu_ud(c);
	sse_vex_enter(c);
	sse_get_ymm(c, DEC_VEX_V(d), m.l);
	la = cpu_ea(c, d);
	if (!store) {
		memset(&v, 0, sizeof(v));
		for (unsigned i = 0; i < n; i++) {
			uint64_t x;

			if (!(((uint8_t *)&m)[w * i + w - 1] >> 7))
				continue;
			x = rdn(c, la + w * i, w);
			memcpy((uint8_t *)&v + w * i, &x, w);
		}
		sse_put_ymm(c, d->reg, v.l, DEC_VEX_L(d));
		return;
	}
	sse_get_ymm(c, d->reg, v.l);
	for (int pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < n; i++) {
			uint64_t x = 0;

			if (!(((uint8_t *)&m)[w * i + w - 1] >> 7))
				continue;
			if (!pass) {
				cpu_probe_write(c, la + w * i, w);
				continue;
			}
			memcpy(&x, (uint8_t *)&v + w * i, w);
			wrn(c, la + w * i, x, w);
		}
}

void op_vmaskmovps_Vx_Hx_Mx(struct cpu *c, const struct dec_insn *d)
{
	if (vex_w(d))
		cpu_ud(c);
	vmaskmov(c, d, d->op & 1 ? 8 : 4, d->op & 2);
}

void op_vpmaskmov_Vx_Hx_Mx(struct cpu *c, const struct dec_insn *d)
{
	vmaskmov(c, d, vex_w(d) ? 8 : 4, d->op & 2);
}

/* --- gathers (AVX2) -------------------------------------------------------- */

/* VEX.66.0F38 90-93: VPGATHERDD/DQ, VPGATHERQD/QQ, VGATHERDPS/DPD,
 * VGATHERQPS/QPD x, [base + index(j) * scale + disp], mask: VSIB memory
 * operand (SIB required, ModRM.rm 100b), its index a vector register of
 * 32-bit (90, 92) or 64-bit (91, 93) signed elements, the elements 32-bit
 * (VEX.W 0) or 64-bit.  Element j is loaded where the mask (VEX.vvvv)
 * element's sign bit is set, from the lowest up; each element done
 * (loaded or masked off) has its whole mask element cleared, so a fault
 * leaves the earlier ones done and the instruction restartable (SDM
 * Vol. 2 VPGATHERDD, "Operation"; the host clears the masked-off ones
 * too).  At
 * the end the mask register is zero and the destination's bits above
 * the elements gathered are zeroed.  #UD when two of destination, index
 * and mask are the same register. */
void op_vgather_Vx_Mx_Hx(struct cpu *c, const struct dec_insn *d)
{
	unsigned ix = d->op & 1 ? 8 : 4, ew = vex_w(d) ? 8 : 4;
	unsigned vb = DEC_VEX_L(d) ? 32 : 16, n, vi, mr = DEC_VEX_V(d);
	struct vy dst, idx, m;

	n = vb / (ix > ew ? ix : ew);
	vi = d->index == DEC_NOREG ? 4 : d->index; /* SIB index 100b: xmm4 */
	if (d->pfx != DEC_PFX_66 || d->mod == 3 || (d->rm & 7) != 4 ||
	    d->adsz == 2 || d->reg == vi || d->reg == mr || vi == mr)
		cpu_ud(c);
	sse_vex_enter(c);
	sse_get_ymm(c, vi, idx.l);
	/* First every mask element becomes its sign bit, extended (the
	 * SDM's Operation), so a fault part-way leaves the elements still
	 * to do all ones: an Intel Xeon's does (diffexec), an AMD EPYC
	 * left them as they were. */
	sse_get_ymm(c, mr, m.l);
	for (unsigned j = 0; j < (n > 16 / ew ? n : 16 / ew); j++) {
		/* (a whole XMM register at least: the two dwords above
		 * VGATHERQPS xmm's two elements too) */
		uint8_t *me = (uint8_t *)&m + ew * j;

		memset(me, me[ew - 1] >> 7 ? 0xff : 0, ew);
	}
	sse_put_ymm(c, mr, m.l, true);
	for (unsigned j = 0; j < n; j++) {
		uint8_t *me = (uint8_t *)&m + ew * j;
		int64_t off;
		uint64_t ea, v;

		sse_get_ymm(c, mr, m.l);
		if (!(me[ew - 1] >> 7)) { /* done: its mask element cleared */
			memset(me, 0, ew);
			sse_put_ymm(c, mr, m.l, true);
			continue;
		}
		if (ix == 4)
			off = ((const int32_t *)&idx)[j];
		else
			off = ((const int64_t *)&idx)[j];
		ea = (uint64_t)(int64_t)d->disp + ((uint64_t)off << d->scale);
		if (d->base != DEC_NOREG)
			ea += c->r[d->base];
		if (d->adsz != 8)
			ea &= sz_mask(d->adsz);
		if (c->mode != DEC_MODE64)
			ea = cpu_ea_seg(c, d, ea);
		else if (d->seg == S_FS || d->seg == S_GS)
			ea += c->seg[d->seg].base;
		else if (!cpu_canonical(ea) && (d->seg == S_SS ||
			 (d->seg == DEC_NOREG && (d->base == R_RSP ||
						  d->base == R_RBP))))
			c->nc_ss = ea; /* #SS, as cpu_ea() */
		v = rdn(c, ea, ew);
		sse_get_ymm(c, d->reg, dst.l);
		memcpy((uint8_t *)&dst + ew * j, &v, ew);
		memset(me, 0, ew);
		sse_put_ymm(c, d->reg, dst.l, true);
		sse_put_ymm(c, mr, m.l, true);
	}
	sse_get_ymm(c, d->reg, dst.l);
	memset((uint8_t *)&dst + ew * n, 0, 32 - ew * n);
	sse_put_ymm(c, d->reg, dst.l, true);
	memset(&m, 0, sizeof(m));
	sse_put_ymm(c, mr, m.l, true);
}
