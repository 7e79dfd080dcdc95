/* The register file: see rsp_regs.h. */
#include "rsp/rsp_regs.h"

#include <string.h>

#include "machine.h"

/* Wire order of the general registers and segment selectors. */
static const uint8_t wire_gpr[16] = {
	R_RAX, R_RBX, R_RCX, R_RDX, R_RSI, R_RDI, R_RBP, R_RSP,
	R_R8, R_R9, R_R10, R_R11, R_R12, R_R13, R_R14, R_R15,
};
static const uint8_t wire_seg[6] = { S_CS, S_SS, S_DS, S_ES, S_FS, S_GS };

unsigned rsp_reg_size(unsigned n)
{
	if (n <= 16 || (n >= 24 && n <= 32))
		return 8;
	if (n <= 23 || (n >= 41 && n <= 48) || n == 65)
		return 4;
	if (n >= 33 && n <= 40)
		return 10;
	if (n >= 49 && n <= 64)
		return 16;
	if (n >= RSP_REG_YMMH0 && n < RSP_NREGS_AVX)
		return 16;
	return 0;
}

/* The 64-bit fields of the snapshot shown as wire registers 24-32. */
static uint64_t *sys_reg(struct rsp_cpu *c, unsigned n)
{
	switch (n) {
	case 24: return &c->r.seg[S_FS].base;
	case 25: return &c->r.seg[S_GS].base;
	case 26: return &c->k_gs_base;
	case 27: return &c->r.cr0;
	case 28: return &c->r.cr2;
	case 29: return &c->r.cr3;
	case 30: return &c->r.cr4;
	case 31: return &c->r.cr8;
	default: return &c->r.efer;
	}
}

/* gdb's ftag is the full x87 tag word (2 bits per physical register);
 * FXSAVE keeps the abridged form (1 bit: empty or not), so classify the
 * register contents as FSTENV would (SDM Vol. 1 §8.1.7, §10.5.1.1). */
static unsigned full_tag(const struct rax_fpu *f)
{
	unsigned top = (f->fx[FX_FSW + 1] >> 3) & 7, tags = 0;

	for (unsigned phys = 0; phys < 8; phys++) {
		const uint8_t *st = f->fx + FX_ST((phys - top) & 7);
		unsigned exp = (st[9] & 0x7f) << 8 | st[8], t;
		uint64_t mant;

		memcpy(&mant, st, 8);
		if (!(f->fx[FX_FTW] & (1u << phys)))
			t = 3;
		else if (exp == 0)
			t = mant ? 2 : 1;       /* denormal : zero */
		else if (exp == 0x7fff || !(mant >> 63))
			t = 2;                  /* NaN/infinity, unnormal */
		else
			t = 0;
		tags |= t << (2 * phys);
	}
	return tags;
}

/* x87 control/status words at wire 41-48, as 32-bit values. */
static uint32_t fpu_word(const struct rax_fpu *f, unsigned n)
{
	uint32_t v = 0;

	switch (n) {
	case 41: memcpy(&v, f->fx + FX_FCW, 2); break;
	case 42: memcpy(&v, f->fx + FX_FSW, 2); break;
	case 43: v = full_tag(f); break;
	case 44: memcpy(&v, f->fx + FX_FIP + 4, 2); break; /* FCS */
	case 45: memcpy(&v, f->fx + FX_FIP, 4); break;
	case 46: memcpy(&v, f->fx + FX_FDP + 4, 2); break; /* FDS */
	case 47: memcpy(&v, f->fx + FX_FDP, 4); break;
	default: memcpy(&v, f->fx + FX_FOP, 2); v &= 0x7ff; break;
	}
	return v;
}

static void set_fpu_word(struct rax_fpu *f, unsigned n, uint32_t v)
{
	uint8_t ftw = 0;

	switch (n) {
	case 41: memcpy(f->fx + FX_FCW, &v, 2); break;
	case 42: memcpy(f->fx + FX_FSW, &v, 2); break;
	case 43:
		for (unsigned i = 0; i < 8; i++)
			if (((v >> (2 * i)) & 3) != 3)
				ftw |= 1u << i;
		f->fx[FX_FTW] = ftw;
		break;
	case 44: memcpy(f->fx + FX_FIP + 4, &v, 2); break;
	case 45: memcpy(f->fx + FX_FIP, &v, 4); break;
	case 46: memcpy(f->fx + FX_FDP + 4, &v, 2); break;
	case 47: memcpy(f->fx + FX_FDP, &v, 4); break;
	default: v &= 0x7ff; memcpy(f->fx + FX_FOP, &v, 2); break;
	}
}

void rsp_reg_get(const struct rsp_cpu *c, unsigned n, uint8_t *out)
{
	uint32_t v32;

	if (n < 16) {
		memcpy(out, &c->r.gpr[wire_gpr[n]], 8);
	} else if (n == RSP_REG_RIP) {
		memcpy(out, &c->r.rip, 8);
	} else if (n == RSP_REG_EFLAGS) {
		v32 = (uint32_t)c->r.rflags;
		memcpy(out, &v32, 4);
	} else if (n < 24) {
		v32 = c->r.seg[wire_seg[n - 18]].sel;
		memcpy(out, &v32, 4);
	} else if (n < 33) {
		memcpy(out, sys_reg((struct rsp_cpu *)c, n), 8);
	} else if (n < 41) {
		memcpy(out, c->f.fx + FX_ST(n - 33), 10);
	} else if (n < 49) {
		v32 = fpu_word(&c->f, n);
		memcpy(out, &v32, 4);
	} else if (n < 65) {
		memcpy(out, c->f.fx + FX_XMM(n - 49), 16);
	} else if (n == 65) {
		memcpy(out, c->f.fx + FX_MXCSR, 4);
	} else {
		memcpy(out, c->y.h[(n - RSP_REG_YMMH0) & 15], 16);
	}
}

void rsp_reg_set(struct rsp_cpu *c, unsigned n, const uint8_t *in)
{
	uint32_t v32 = 0;

	if (rsp_reg_size(n) == 4)
		memcpy(&v32, in, 4);
	if (n < 16)
		memcpy(&c->r.gpr[wire_gpr[n]], in, 8);
	else if (n == RSP_REG_RIP)
		memcpy(&c->r.rip, in, 8);
	else if (n == RSP_REG_EFLAGS)
		c->r.rflags = v32 | RFLAGS_FIXED;
	else if (n < 24)
		c->r.seg[wire_seg[n - 18]].sel = (uint16_t)v32;
	else if (n < 33)
		memcpy(sys_reg(c, n), in, 8);
	else if (n < 41)
		memcpy(c->f.fx + FX_ST(n - 33), in, 10);
	else if (n < 49)
		set_fpu_word(&c->f, n, v32);
	else if (n < 65)
		memcpy(c->f.fx + FX_XMM(n - 49), in, 16);
	else if (n == 65)
		memcpy(c->f.fx + FX_MXCSR, in, 4);
	else if (n >= RSP_REG_YMMH0 && n < RSP_NREGS_AVX)
		memcpy(c->y.h[n - RSP_REG_YMMH0], in, 16);
}

int rsp_cpu_load(struct machine *m, unsigned cpu, struct rsp_cpu *c)
{
	const struct vcpu_ops *ops = m->ops;

	memset(c, 0, sizeof(*c));
	c->fpu_ok = ops->get_fpu && !ops->get_fpu(m, cpu, &c->f);
	if (!c->fpu_ok)
		memset(&c->f, 0, sizeof(c->f));
	c->avx_ok = ops->get_ymmh && !ops->get_ymmh(m, cpu, &c->y);
	if (!c->avx_ok)
		memset(&c->y, 0, sizeof(c->y));
	c->kgs_ok = ops->get_msr &&
		    !ops->get_msr(m, cpu, MSR_KERNEL_GS_BASE, &c->k_gs_base);
	if (!c->kgs_ok)
		c->k_gs_base = 0;
	return ops->get_regs(m, cpu, &c->r);
}

int rsp_cpu_store(struct machine *m, unsigned cpu, const struct rsp_cpu *c)
{
	const struct vcpu_ops *ops = m->ops;
	int ret = ops->set_regs(m, cpu, &c->r);

	if (ret)
		return ret;
	if (c->fpu_ok && ops->set_fpu)
		ret = ops->set_fpu(m, cpu, &c->f);
	if (!ret && c->avx_ok && ops->set_ymmh)
		ret = ops->set_ymmh(m, cpu, &c->y);
	if (!ret && c->kgs_ok && ops->set_msr)
		ret = ops->set_msr(m, cpu, MSR_KERNEL_GS_BASE, c->k_gs_base);
	return ret;
}

/* gdb checks the register names of the standard features (gdb manual,
 * "Standard Target Features", i386 Features); the wire numbers come from
 * regnum, so grouping the QEMU layout into features changes nothing on
 * the wire while gdb treats xmm/fs_base as its own. */
#define REG(name, bits, type, num) \
	"<reg name=\"" name "\" bitsize=\"" #bits "\" type=\"" type \
	"\" regnum=\"" #num "\"/>"
#define R64(name, type, num) REG(name, 64, type, num)
#define R32(name, type, num) REG(name, 32, type, num)
#define RFP(name, num) \
	"<reg name=\"" name "\" bitsize=\"32\" type=\"int\" " \
	"group=\"float\" regnum=\"" #num "\"/>"
#define RXMM(i, num) REG("xmm" #i, 128, "vec128", num)

#define TARGET_XML_BODY \
	"<?xml version=\"1.0\"?>\n" \
	"<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n" \
	"<target version=\"1.0\">\n" \
	"<architecture>i386:x86-64</architecture>\n" \
	"<feature name=\"org.gnu.gdb.i386.core\">\n" \
	"<flags id=\"rax_eflags\" size=\"4\">" \
	"<field name=\"CF\" start=\"0\" end=\"0\"/>" \
	"<field name=\"\" start=\"1\" end=\"1\"/>" \
	"<field name=\"PF\" start=\"2\" end=\"2\"/>" \
	"<field name=\"AF\" start=\"4\" end=\"4\"/>" \
	"<field name=\"ZF\" start=\"6\" end=\"6\"/>" \
	"<field name=\"SF\" start=\"7\" end=\"7\"/>" \
	"<field name=\"TF\" start=\"8\" end=\"8\"/>" \
	"<field name=\"IF\" start=\"9\" end=\"9\"/>" \
	"<field name=\"DF\" start=\"10\" end=\"10\"/>" \
	"<field name=\"OF\" start=\"11\" end=\"11\"/>" \
	"<field name=\"NT\" start=\"14\" end=\"14\"/>" \
	"<field name=\"RF\" start=\"16\" end=\"16\"/>" \
	"<field name=\"VM\" start=\"17\" end=\"17\"/>" \
	"<field name=\"AC\" start=\"18\" end=\"18\"/>" \
	"<field name=\"VIF\" start=\"19\" end=\"19\"/>" \
	"<field name=\"VIP\" start=\"20\" end=\"20\"/>" \
	"<field name=\"ID\" start=\"21\" end=\"21\"/>" \
	"</flags>\n" \
	R64("rax", "int64", 0) R64("rbx", "int64", 1) R64("rcx", "int64", 2) \
	R64("rdx", "int64", 3) R64("rsi", "int64", 4) R64("rdi", "int64", 5) \
	R64("rbp", "data_ptr", 6) R64("rsp", "data_ptr", 7) \
	R64("r8", "int64", 8) R64("r9", "int64", 9) R64("r10", "int64", 10) \
	R64("r11", "int64", 11) R64("r12", "int64", 12) \
	R64("r13", "int64", 13) R64("r14", "int64", 14) \
	R64("r15", "int64", 15) "\n" \
	R64("rip", "code_ptr", 16) R32("eflags", "rax_eflags", 17) "\n" \
	R32("cs", "int32", 18) R32("ss", "int32", 19) R32("ds", "int32", 20) \
	R32("es", "int32", 21) R32("fs", "int32", 22) R32("gs", "int32", 23) \
	"\n" \
	"<reg name=\"st0\" bitsize=\"80\" type=\"i387_ext\" regnum=\"33\"/>" \
	"<reg name=\"st1\" bitsize=\"80\" type=\"i387_ext\" regnum=\"34\"/>" \
	"<reg name=\"st2\" bitsize=\"80\" type=\"i387_ext\" regnum=\"35\"/>" \
	"<reg name=\"st3\" bitsize=\"80\" type=\"i387_ext\" regnum=\"36\"/>" \
	"<reg name=\"st4\" bitsize=\"80\" type=\"i387_ext\" regnum=\"37\"/>" \
	"<reg name=\"st5\" bitsize=\"80\" type=\"i387_ext\" regnum=\"38\"/>" \
	"<reg name=\"st6\" bitsize=\"80\" type=\"i387_ext\" regnum=\"39\"/>" \
	"<reg name=\"st7\" bitsize=\"80\" type=\"i387_ext\" regnum=\"40\"/>\n" \
	RFP("fctrl", 41) RFP("fstat", 42) RFP("ftag", 43) RFP("fiseg", 44) \
	RFP("fioff", 45) RFP("foseg", 46) RFP("fooff", 47) RFP("fop", 48) \
	"\n</feature>\n" \
	"<feature name=\"org.gnu.gdb.i386.segments\">\n" \
	R64("fs_base", "int64", 24) R64("gs_base", "int64", 25) \
	"\n</feature>\n" \
	"<feature name=\"org.rax.x86.system\">\n" \
	R64("k_gs_base", "int64", 26) R64("cr0", "int64", 27) \
	R64("cr2", "int64", 28) R64("cr3", "int64", 29) \
	R64("cr4", "int64", 30) R64("cr8", "int64", 31) \
	R64("efer", "int64", 32) \
	"\n</feature>\n" \
	"<feature name=\"org.gnu.gdb.i386.sse\">\n" \
	"<vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/>" \
	"<vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>" \
	"<vector id=\"v16i8\" type=\"int8\" count=\"16\"/>" \
	"<vector id=\"v8i16\" type=\"int16\" count=\"8\"/>" \
	"<vector id=\"v4i32\" type=\"int32\" count=\"4\"/>" \
	"<vector id=\"v2i64\" type=\"int64\" count=\"2\"/>" \
	"<union id=\"vec128\">" \
	"<field name=\"v4_float\" type=\"v4f\"/>" \
	"<field name=\"v2_double\" type=\"v2d\"/>" \
	"<field name=\"v16_int8\" type=\"v16i8\"/>" \
	"<field name=\"v8_int16\" type=\"v8i16\"/>" \
	"<field name=\"v4_int32\" type=\"v4i32\"/>" \
	"<field name=\"v2_int64\" type=\"v2i64\"/>" \
	"<field name=\"uint128\" type=\"uint128\"/>" \
	"</union>\n" \
	RXMM(0, 49) RXMM(1, 50) RXMM(2, 51) RXMM(3, 52) RXMM(4, 53) \
	RXMM(5, 54) RXMM(6, 55) RXMM(7, 56) RXMM(8, 57) RXMM(9, 58) \
	RXMM(10, 59) RXMM(11, 60) RXMM(12, 61) RXMM(13, 62) RXMM(14, 63) \
	RXMM(15, 64) "\n" \
	R32("mxcsr", "int", 65) \
	"\n</feature>\n"

#define RYMMH(i, num) REG("ymm" #i "h", 128, "uint128", num)

const char rsp_target_xml[] = TARGET_XML_BODY "</target>\n";

/* gdb's i386 AVX feature: the upper halves, named ymmNh. */
const char rsp_target_xml_avx[] = TARGET_XML_BODY
	"<feature name=\"org.gnu.gdb.i386.avx\">\n"
	RYMMH(0, 66) RYMMH(1, 67) RYMMH(2, 68) RYMMH(3, 69) RYMMH(4, 70)
	RYMMH(5, 71) RYMMH(6, 72) RYMMH(7, 73) RYMMH(8, 74) RYMMH(9, 75)
	RYMMH(10, 76) RYMMH(11, 77) RYMMH(12, 78) RYMMH(13, 79)
	RYMMH(14, 80) RYMMH(15, 81)
	"\n</feature>\n"
	"</target>\n";

bool rsp_has_avx(struct machine *m)
{
	struct rax_ymmh y;

	return m->ops->get_ymmh && !m->ops->get_ymmh(m, 0, &y);
}

