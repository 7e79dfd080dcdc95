/* The interpreter's integer and SSE2 results and flags match the host
 * CPU's: each instruction runs natively (copied into an executable page
 * between a register load/store harness) and in the interpreter, from the
 * same RAX/RBX/RCX/RDX/RFLAGS/XMM0/XMM1, and the results are compared.
 * Run: ./tests/unit/test_cpu_alu (from the build folder). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <xmmintrin.h>

#include "cpu_machine.h"
#include "test.h"

struct st {
	uint64_t rax, rbx, rcx, rdx, flags;
	uint8_t xmm0[16], xmm1[16];
	uint32_t mxcsr, pad;     /* offset 72 */
	uint64_t mm0, mm1;       /* offsets 80, 88: MMX cases only */
	uint8_t mem[16];         /* offset 96: memory operand [rdi+0x60] */
} __attribute__((aligned(16)));
_Static_assert(__builtin_offsetof(struct st, mxcsr) == 72, "harness layout");
_Static_assert(__builtin_offsetof(struct st, mem) == 96, "harness layout");

/* The interpreter's RDI: the guest address of struct st, so [rdi+0x60]
 * is st.mem in both runs. */
#define ST_GUEST 0x180000ull

static uint8_t *native_page;

/* Harness around `insn` (rdi = struct st *): load, popf, insn, pushf,
 * store; with `mmx`, MM0 and MM1 too (then EMMS).  Hand-assembled, see
 * the byte comments. */
static void run_native_ex(const uint8_t *insn, unsigned len, struct st *s,
			  bool mmx)
{
	static const uint8_t pre[] = {
		0x53,                   /* push rbx */
		0x48, 0x8b, 0x07,       /* mov rax, [rdi] */
		0x48, 0x8b, 0x5f, 0x08, /* mov rbx, [rdi+8] */
		0x48, 0x8b, 0x4f, 0x10, /* mov rcx, [rdi+16] */
		0x48, 0x8b, 0x57, 0x18, /* mov rdx, [rdi+24] */
		0xf3, 0x0f, 0x6f, 0x47, 0x28, /* movdqu xmm0, [rdi+40] */
		0xf3, 0x0f, 0x6f, 0x4f, 0x38, /* movdqu xmm1, [rdi+56] */
		0x0f, 0xae, 0x57, 0x48, /* ldmxcsr [rdi+72] */
		0xff, 0x77, 0x20,       /* push qword [rdi+32] */
		0x9d,                   /* popfq */
	};
	static const uint8_t pre_mmx[] = {
		0x0f, 0x6f, 0x47, 0x50, /* movq mm0, [rdi+80] */
		0x0f, 0x6f, 0x4f, 0x58, /* movq mm1, [rdi+88] */
	};
	static const uint8_t post_mmx[] = {
		0x0f, 0x7f, 0x47, 0x50, /* movq [rdi+80], mm0 */
		0x0f, 0x7f, 0x4f, 0x58, /* movq [rdi+88], mm1 */
		0x0f, 0x77,             /* emms */
	};
	static const uint8_t post[] = {
		0x9c,                   /* pushfq */
		0x8f, 0x47, 0x20,       /* pop qword [rdi+32] */
		0x0f, 0xae, 0x5f, 0x48, /* stmxcsr [rdi+72] */
		0x48, 0x89, 0x07,       /* mov [rdi], rax */
		0x48, 0x89, 0x5f, 0x08, /* mov [rdi+8], rbx */
		0x48, 0x89, 0x4f, 0x10, /* mov [rdi+16], rcx */
		0x48, 0x89, 0x57, 0x18, /* mov [rdi+24], rdx */
		0xf3, 0x0f, 0x7f, 0x47, 0x28, /* movdqu [rdi+40], xmm0 */
		0xf3, 0x0f, 0x7f, 0x4f, 0x38, /* movdqu [rdi+56], xmm1 */
		0x5b,                   /* pop rbx */
		0xc3,                   /* ret */
	};
	uint8_t *p = native_page;
	unsigned o = 0, host_csr = _mm_getcsr();

	memcpy(p, pre, sizeof(pre));
	o += sizeof(pre);
	if (mmx) {
		memcpy(p + o, pre_mmx, sizeof(pre_mmx));
		o += sizeof(pre_mmx);
	}
	memcpy(p + o, insn, len);
	o += len;
	if (mmx) {
		memcpy(p + o, post_mmx, sizeof(post_mmx));
		o += sizeof(post_mmx);
	}
	memcpy(p + o, post, sizeof(post));
	__builtin___clear_cache((char *)p, (char *)p + 256);
	((void (*)(struct st *))(void *)p)(s);
	_mm_setcsr(host_csr);
}

static void run_native(const uint8_t *insn, unsigned len, struct st *s)
{
	run_native_ex(insn, len, s, false);
}

/* Each case gets its own code slot: the decode cache is keyed by address
 * and (like a CPU's) sees stores only through the guest's own writes. */
static int run_interp_ex(struct machine *m, uint64_t code,
			 const uint8_t *insn, unsigned len, struct st *s,
			 unsigned steps, bool mmx);

static int run_interp_n(struct machine *m, uint64_t code, const uint8_t *insn,
			unsigned len, struct st *s, unsigned steps)
{
	return run_interp_ex(m, code, insn, len, s, steps, false);
}

static int run_interp(struct machine *m, uint64_t code, const uint8_t *insn,
		      unsigned len, struct st *s)
{
	return run_interp_n(m, code, insn, len, s, 1);
}

static int run_interp_ex(struct machine *m, uint64_t code,
			 const uint8_t *insn, unsigned len, struct st *s,
			 unsigned steps, bool mmx)
{
	struct rax_regs r;
	struct rax_fpu f;
	struct vcpu_stop stop;
	struct rax_err e;

	m->ops->write_mem(m, code, insn, len); /* forgets decoded code */
	m->ops->get_fpu(m, 0, &f);
	memcpy(f.fx + FX_XMM(0), s->xmm0, 16);
	memcpy(f.fx + FX_XMM(1), s->xmm1, 16);
	memcpy(f.fx + FX_MXCSR, &s->mxcsr, 4);
	if (mmx) { /* as after MOVQ mm0/mm1: every tag valid */
		memcpy(f.fx + FX_ST(0), &s->mm0, 8);
		memcpy(f.fx + FX_ST(1), &s->mm1, 8);
		f.fx[FX_FTW] = 0xff;
	}
	m->ops->set_fpu(m, 0, &f);
	m->ops->write_mem(m, ST_GUEST + 96, s->mem, 16);
	m->ops->get_regs(m, 0, &r);
	r.rip = code;
	r.gpr[R_RAX] = s->rax;
	r.gpr[R_RBX] = s->rbx;
	r.gpr[R_RCX] = s->rcx;
	r.gpr[R_RDX] = s->rdx;
	r.gpr[R_RDI] = ST_GUEST;
	r.rflags = s->flags;
	m->ops->set_regs(m, 0, &r);
	for (unsigned i = 0; i < steps; i++) {
		if (m->ops->run(m, VCPU_RUN_STEP, &stop, &e))
			return -1;
		m->ops->get_regs(m, 0, &r);
		if (r.rip == code + len)
			break;
	}
	s->rax = r.gpr[R_RAX];
	s->rbx = r.gpr[R_RBX];
	s->rcx = r.gpr[R_RCX];
	s->rdx = r.gpr[R_RDX];
	s->flags = r.rflags;
	m->ops->get_fpu(m, 0, &f);
	memcpy(s->xmm0, f.fx + FX_XMM(0), 16);
	memcpy(s->xmm1, f.fx + FX_XMM(1), 16);
	memcpy(&s->mxcsr, f.fx + FX_MXCSR, 4);
	memcpy(s->mem, m->mem.host + ST_GUEST + 96, 16);
	if (mmx) {
		memcpy(&s->mm0, f.fx + FX_ST(0), 8);
		memcpy(&s->mm1, f.fx + FX_ST(1), 8);
		f.fx[FX_FTW] = 0; /* EMMS, as the native harness */
		m->ops->set_fpu(m, 0, &f);
	}
	return r.rip == code + len ? 0 : -2;
}

#define ARITH (RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | \
	       RFLAGS_OF)

struct insn_case {
	const char *name;
	uint8_t bytes[16];
	unsigned len;
	uint64_t defined; /* flags whose value is architecturally defined */
};

/* Cases are one instruction, or a short sequence (MASKMOV* between two
 * LEAs of RDI): the interpreter steps until it reaches the end. */
#define MAX_STEPS 3

static const uint64_t values[] = {
	0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff,
	0x80000000, 0xffffffff, 0x7fffffffffffffffull, 0x8000000000000000ull,
	0xffffffffffffffffull, 0x123456789abcdef0ull, 0xfedcba9876543210ull,
	3, 31, 32, 33, 63, 64, 0x10, 0xf,
};

static const struct insn_case cases[] = {
	/* ModRM 0xd8: reg = rbx (3), rm = rax (0). */
	{ "add rax,rbx", { 0x48, 0x01, 0xd8 }, 3, ARITH },
	{ "add eax,ebx", { 0x01, 0xd8 }, 2, ARITH },
	{ "add ax,bx", { 0x66, 0x01, 0xd8 }, 3, ARITH },
	{ "add al,bl", { 0x00, 0xd8 }, 2, ARITH },
	{ "add ah,bl", { 0x00, 0xdc }, 2, ARITH },
	{ "or rax,rbx", { 0x48, 0x09, 0xd8 }, 3, ARITH & ~RFLAGS_AF },
	{ "adc rax,rbx", { 0x48, 0x11, 0xd8 }, 3, ARITH },
	{ "adc al,bl", { 0x10, 0xd8 }, 2, ARITH },
	{ "sbb rax,rbx", { 0x48, 0x19, 0xd8 }, 3, ARITH },
	{ "sbb ax,bx", { 0x66, 0x19, 0xd8 }, 3, ARITH },
	{ "and eax,ebx", { 0x21, 0xd8 }, 2, ARITH & ~RFLAGS_AF },
	{ "sub rax,rbx", { 0x48, 0x29, 0xd8 }, 3, ARITH },
	{ "sub al,bl", { 0x28, 0xd8 }, 2, ARITH },
	{ "xor rax,rbx", { 0x48, 0x31, 0xd8 }, 3, ARITH & ~RFLAGS_AF },
	{ "cmp eax,ebx", { 0x39, 0xd8 }, 2, ARITH },
	{ "cmp rax,rbx", { 0x48, 0x39, 0xd8 }, 3, ARITH },
	{ "test rax,rbx", { 0x48, 0x85, 0xd8 }, 3, ARITH & ~RFLAGS_AF },
	{ "add rax,-2", { 0x48, 0x83, 0xc0, 0xfe }, 4, ARITH },
	{ "inc rax", { 0x48, 0xff, 0xc0 }, 3, ARITH },
	{ "dec ax", { 0x66, 0xff, 0xc8 }, 3, ARITH },
	{ "inc bl", { 0xfe, 0xc3 }, 2, ARITH },
	{ "neg rax", { 0x48, 0xf7, 0xd8 }, 3, ARITH },
	{ "neg ax", { 0x66, 0xf7, 0xd8 }, 3, ARITH },
	{ "not rax", { 0x48, 0xf7, 0xd0 }, 3, ARITH },
	{ "mul rbx", { 0x48, 0xf7, 0xe3 }, 3, RFLAGS_CF | RFLAGS_OF },
	{ "mul ebx", { 0xf7, 0xe3 }, 2, RFLAGS_CF | RFLAGS_OF },
	{ "mul bl", { 0xf6, 0xe3 }, 2, RFLAGS_CF | RFLAGS_OF },
	{ "imul rbx", { 0x48, 0xf7, 0xeb }, 3, RFLAGS_CF | RFLAGS_OF },
	{ "imul ebx", { 0xf7, 0xeb }, 2, RFLAGS_CF | RFLAGS_OF },
	{ "imul cx", { 0x66, 0xf7, 0xe9 }, 3, RFLAGS_CF | RFLAGS_OF },
	{ "imul rax,rbx", { 0x48, 0x0f, 0xaf, 0xc3 }, 4, RFLAGS_CF | RFLAGS_OF },
	{ "imul eax,ebx,7", { 0x6b, 0xc3, 0x07 }, 3, RFLAGS_CF | RFLAGS_OF },
	{ "shl rax,1", { 0x48, 0xd1, 0xe0 }, 3, ARITH & ~RFLAGS_AF },
	{ "shr eax,1", { 0xd1, 0xe8 }, 2, ARITH & ~RFLAGS_AF },
	{ "sar ax,1", { 0x66, 0xd1, 0xf8 }, 3, ARITH & ~RFLAGS_AF },
	{ "rol rax,1", { 0x48, 0xd1, 0xc0 }, 3, RFLAGS_CF | RFLAGS_OF },
	{ "ror al,1", { 0xd0, 0xc8 }, 2, RFLAGS_CF | RFLAGS_OF },
	{ "rcl rax,1", { 0x48, 0xd1, 0xd0 }, 3, RFLAGS_CF | RFLAGS_OF },
	{ "rcr eax,1", { 0xd1, 0xd8 }, 2, RFLAGS_CF | RFLAGS_OF },
	{ "shl rax,cl", { 0x48, 0xd3, 0xe0 }, 3, RFLAGS_CF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_PF },
	{ "shr eax,cl", { 0xd3, 0xe8 }, 2, RFLAGS_CF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_PF },
	{ "sar rax,cl", { 0x48, 0xd3, 0xf8 }, 3, RFLAGS_CF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_PF },
	{ "rol eax,cl", { 0xd3, 0xc0 }, 2, RFLAGS_CF },
	{ "ror rax,cl", { 0x48, 0xd3, 0xc8 }, 3, RFLAGS_CF },
	{ "shld rax,rbx,cl", { 0x48, 0x0f, 0xa5, 0xd8 }, 4, RFLAGS_CF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_PF },
	{ "shrd eax,ebx,5", { 0x0f, 0xac, 0xd8, 0x05 }, 4, RFLAGS_CF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_PF },
	{ "bt rax,rbx", { 0x48, 0x0f, 0xa3, 0xd8 }, 4, RFLAGS_CF },
	{ "bts eax,ebx", { 0x0f, 0xab, 0xd8 }, 3, RFLAGS_CF },
	{ "btc rax,3", { 0x48, 0x0f, 0xba, 0xf8, 0x03 }, 5, RFLAGS_CF },
	{ "bsf rax,rbx", { 0x48, 0x0f, 0xbc, 0xc3 }, 4, RFLAGS_ZF },
	{ "bsr eax,ebx", { 0x0f, 0xbd, 0xc3 }, 3, RFLAGS_ZF },
	{ "popcnt rax,rbx", { 0xf3, 0x48, 0x0f, 0xb8, 0xc3 }, 5, ARITH },
	{ "xadd rax,rbx", { 0x48, 0x0f, 0xc1, 0xd8 }, 4, ARITH },
	{ "cmpxchg ebx,ecx", { 0x0f, 0xb1, 0xcb }, 3, ARITH },
	{ "cmovl rax,rbx", { 0x48, 0x0f, 0x4c, 0xc3 }, 4, ARITH },
	{ "cmova eax,ebx", { 0x0f, 0x47, 0xc3 }, 3, ARITH },
	{ "setle cl", { 0x0f, 0x9e, 0xc1 }, 3, ARITH },
	{ "setp dl", { 0x0f, 0x9a, 0xc2 }, 3, ARITH },
	{ "movsx rax,bl", { 0x48, 0x0f, 0xbe, 0xc3 }, 4, ARITH },
	{ "movzx eax,bx", { 0x0f, 0xb7, 0xc3 }, 3, ARITH },
	{ "movsxd rax,ebx", { 0x48, 0x63, 0xc3 }, 3, ARITH },
	{ "cqo", { 0x48, 0x99 }, 2, ARITH },
	{ "cwde", { 0x98 }, 1, ARITH },
	{ "bswap rbx", { 0x48, 0x0f, 0xcb }, 3, ARITH },
	{ "xchg eax,ebx", { 0x93 }, 1, ARITH },
	{ "lea rax,[rbx+rcx*4-8]", { 0x48, 0x8d, 0x44, 0x8b, 0xf8 }, 5, ARITH },
	{ "sahf", { 0x9e }, 1, ARITH & ~RFLAGS_OF },
	{ "lahf", { 0x9f }, 1, ARITH },
	{ "cmc", { 0xf5 }, 1, ARITH },
	{ "div rbx (small)", { 0x48, 0xf7, 0xf3 }, 3, 0 },
};

static void alu_results_and_flags_match_the_host(struct machine *m)
{
	static const uint64_t cfs[] = { 0x2, 0x2 | RFLAGS_CF | RFLAGS_ZF | RFLAGS_OF };

	for (size_t k = 0; k < sizeof(cases) / sizeof(*cases); k++) {
		const struct insn_case *ic = &cases[k];
		unsigned fails = 0;
		bool is_div = !strncmp(ic->name, "div", 3);

		for (size_t i = 0; i < sizeof(values) / sizeof(*values); i++)
		for (size_t j = 0; j < sizeof(values) / sizeof(*values); j++)
		for (size_t f = 0; f < 2; f++) {
			struct st a = { values[i], values[j], values[j] ^ 5,
					values[i] >> 3, cfs[f], { 0 }, { 0 },
					0x1f80, 0, 0, 0, { 0 } };
			struct st b;

			if (is_div) { /* avoid #DE: small dividend, rbx != 0 */
				a.rdx = 0;
				if (!a.rbx)
					continue;
			}
			b = a;
			run_native(ic->bytes, ic->len, &a);
			if (run_interp(m, CODE_BASE + 16 * k, ic->bytes,
				       ic->len, &b)) {
				fails++;
				continue;
			}
			if (a.rax != b.rax || a.rbx != b.rbx || a.rcx != b.rcx ||
			    a.rdx != b.rdx || memcmp(a.xmm0, b.xmm0, 16) ||
			    (a.flags & ic->defined) != (b.flags & ic->defined)) {
				if (fails++ < 3)
					fprintf(stderr, "%s: in %#llx %#llx f %#llx: "
						"native rax %#llx rbx %#llx rcx %#llx rdx %#llx f %#llx; "
						"interp rax %#llx rbx %#llx rcx %#llx rdx %#llx f %#llx\n",
						ic->name, (unsigned long long)values[i],
						(unsigned long long)values[j],
						(unsigned long long)cfs[f],
						(unsigned long long)a.rax, (unsigned long long)a.rbx,
						(unsigned long long)a.rcx, (unsigned long long)a.rdx,
						(unsigned long long)(a.flags & ic->defined),
						(unsigned long long)b.rax, (unsigned long long)b.rbx,
						(unsigned long long)b.rcx, (unsigned long long)b.rdx,
						(unsigned long long)(b.flags & ic->defined));
			}
		}
		CHECK(fails == 0);
		if (fails)
			fprintf(stderr, "  %s: %u mismatches\n", ic->name, fails);
	}
}

/* SSE2 cases: ModRM 0xc1 = xmm0, xmm1 (reg, rm). */
static const struct insn_case sse_cases[] = {
	{ "pxor", { 0x66, 0x0f, 0xef, 0xc1 }, 4, 0 },
	{ "pand", { 0x66, 0x0f, 0xdb, 0xc1 }, 4, 0 },
	{ "pandn", { 0x66, 0x0f, 0xdf, 0xc1 }, 4, 0 },
	{ "por", { 0x66, 0x0f, 0xeb, 0xc1 }, 4, 0 },
	{ "pcmpeqb", { 0x66, 0x0f, 0x74, 0xc1 }, 4, 0 },
	{ "pcmpeqw", { 0x66, 0x0f, 0x75, 0xc1 }, 4, 0 },
	{ "pcmpeqd", { 0x66, 0x0f, 0x76, 0xc1 }, 4, 0 },
	{ "pcmpgtb", { 0x66, 0x0f, 0x64, 0xc1 }, 4, 0 },
	{ "pcmpgtw", { 0x66, 0x0f, 0x65, 0xc1 }, 4, 0 },
	{ "pcmpgtd", { 0x66, 0x0f, 0x66, 0xc1 }, 4, 0 },
	{ "pmovmskb eax,xmm1", { 0x66, 0x0f, 0xd7, 0xc1 }, 4, 0 },
	{ "pminub", { 0x66, 0x0f, 0xda, 0xc1 }, 4, 0 },
	{ "pmaxub", { 0x66, 0x0f, 0xde, 0xc1 }, 4, 0 },
	{ "pminsw", { 0x66, 0x0f, 0xea, 0xc1 }, 4, 0 },
	{ "pmaxsw", { 0x66, 0x0f, 0xee, 0xc1 }, 4, 0 },
	{ "psubb", { 0x66, 0x0f, 0xf8, 0xc1 }, 4, 0 },
	{ "psubw", { 0x66, 0x0f, 0xf9, 0xc1 }, 4, 0 },
	{ "psubd", { 0x66, 0x0f, 0xfa, 0xc1 }, 4, 0 },
	{ "psubq", { 0x66, 0x0f, 0xfb, 0xc1 }, 4, 0 },
	{ "paddb", { 0x66, 0x0f, 0xfc, 0xc1 }, 4, 0 },
	{ "paddw", { 0x66, 0x0f, 0xfd, 0xc1 }, 4, 0 },
	{ "paddd", { 0x66, 0x0f, 0xfe, 0xc1 }, 4, 0 },
	{ "paddq", { 0x66, 0x0f, 0xd4, 0xc1 }, 4, 0 },
	{ "psubusb", { 0x66, 0x0f, 0xd8, 0xc1 }, 4, 0 },
	{ "psubusw", { 0x66, 0x0f, 0xd9, 0xc1 }, 4, 0 },
	{ "paddusb", { 0x66, 0x0f, 0xdc, 0xc1 }, 4, 0 },
	{ "paddusw", { 0x66, 0x0f, 0xdd, 0xc1 }, 4, 0 },
	{ "psubsb", { 0x66, 0x0f, 0xe8, 0xc1 }, 4, 0 },
	{ "psubsw", { 0x66, 0x0f, 0xe9, 0xc1 }, 4, 0 },
	{ "paddsb", { 0x66, 0x0f, 0xec, 0xc1 }, 4, 0 },
	{ "paddsw", { 0x66, 0x0f, 0xed, 0xc1 }, 4, 0 },
	{ "punpcklbw", { 0x66, 0x0f, 0x60, 0xc1 }, 4, 0 },
	{ "punpcklwd", { 0x66, 0x0f, 0x61, 0xc1 }, 4, 0 },
	{ "punpckldq", { 0x66, 0x0f, 0x62, 0xc1 }, 4, 0 },
	{ "punpcklqdq", { 0x66, 0x0f, 0x6c, 0xc1 }, 4, 0 },
	{ "punpckhbw", { 0x66, 0x0f, 0x68, 0xc1 }, 4, 0 },
	{ "punpckhwd", { 0x66, 0x0f, 0x69, 0xc1 }, 4, 0 },
	{ "punpckhdq", { 0x66, 0x0f, 0x6a, 0xc1 }, 4, 0 },
	{ "punpckhqdq", { 0x66, 0x0f, 0x6d, 0xc1 }, 4, 0 },
	{ "packsswb", { 0x66, 0x0f, 0x63, 0xc1 }, 4, 0 },
	{ "packuswb", { 0x66, 0x0f, 0x67, 0xc1 }, 4, 0 },
	{ "packssdw", { 0x66, 0x0f, 0x6b, 0xc1 }, 4, 0 },
	{ "pshufd", { 0x66, 0x0f, 0x70, 0xc1, 0x1b }, 5, 0 },
	{ "pshufhw", { 0xf3, 0x0f, 0x70, 0xc1, 0x4e }, 5, 0 },
	{ "pshuflw", { 0xf2, 0x0f, 0x70, 0xc1, 0xb1 }, 5, 0 },
	{ "psrldq 3", { 0x66, 0x0f, 0x73, 0xd8, 0x03 }, 5, 0 },
	{ "pslldq 5", { 0x66, 0x0f, 0x73, 0xf8, 0x05 }, 5, 0 },
	{ "psrlq 7", { 0x66, 0x0f, 0x73, 0xd0, 0x07 }, 5, 0 },
	{ "psllq 33", { 0x66, 0x0f, 0x73, 0xf0, 0x21 }, 5, 0 },
	{ "psrad 3", { 0x66, 0x0f, 0x72, 0xe0, 0x03 }, 5, 0 },
	{ "psrld 31", { 0x66, 0x0f, 0x72, 0xd0, 0x1f }, 5, 0 },
	{ "psraw 20", { 0x66, 0x0f, 0x71, 0xe0, 0x14 }, 5, 0 },
	{ "psllw 4", { 0x66, 0x0f, 0x71, 0xf0, 0x04 }, 5, 0 },
	{ "psrlw xmm1", { 0x66, 0x0f, 0xd1, 0xc1 }, 4, 0 },
	{ "pslld xmm1", { 0x66, 0x0f, 0xf2, 0xc1 }, 4, 0 },
	{ "psrlq xmm1", { 0x66, 0x0f, 0xd3, 0xc1 }, 4, 0 },
	{ "pmullw", { 0x66, 0x0f, 0xd5, 0xc1 }, 4, 0 },
	{ "pmulhw", { 0x66, 0x0f, 0xe5, 0xc1 }, 4, 0 },
	{ "pmulhuw", { 0x66, 0x0f, 0xe4, 0xc1 }, 4, 0 },
	{ "pmuludq", { 0x66, 0x0f, 0xf4, 0xc1 }, 4, 0 },
	{ "pavgb", { 0x66, 0x0f, 0xe0, 0xc1 }, 4, 0 },
	{ "pavgw", { 0x66, 0x0f, 0xe3, 0xc1 }, 4, 0 },
	{ "movaps", { 0x0f, 0x28, 0xc1 }, 3, 0 },
	{ "xorps", { 0x0f, 0x57, 0xc1 }, 3, 0 },
	{ "andps", { 0x0f, 0x54, 0xc1 }, 3, 0 },
	{ "andnpd", { 0x66, 0x0f, 0x55, 0xc1 }, 4, 0 },
	{ "orps", { 0x0f, 0x56, 0xc1 }, 3, 0 },
	{ "addsd", { 0xf2, 0x0f, 0x58, 0xc1 }, 4, 0 },
	{ "mulsd", { 0xf2, 0x0f, 0x59, 0xc1 }, 4, 0 },
	{ "subsd", { 0xf2, 0x0f, 0x5c, 0xc1 }, 4, 0 },
	{ "divsd", { 0xf2, 0x0f, 0x5e, 0xc1 }, 4, 0 },
	{ "minsd", { 0xf2, 0x0f, 0x5d, 0xc1 }, 4, 0 },
	{ "maxsd", { 0xf2, 0x0f, 0x5f, 0xc1 }, 4, 0 },
	{ "sqrtsd", { 0xf2, 0x0f, 0x51, 0xc1 }, 4, 0 },
	{ "addss", { 0xf3, 0x0f, 0x58, 0xc1 }, 4, 0 },
	{ "mulps", { 0x0f, 0x59, 0xc1 }, 3, 0 },
	{ "addpd", { 0x66, 0x0f, 0x58, 0xc1 }, 4, 0 },
	{ "minps", { 0x0f, 0x5d, 0xc1 }, 3, 0 },
	{ "ucomisd", { 0x66, 0x0f, 0x2e, 0xc1 }, 4, ARITH },
	{ "comiss", { 0x0f, 0x2f, 0xc1 }, 3, ARITH },
	{ "cvttsd2si rax,xmm1", { 0xf2, 0x48, 0x0f, 0x2c, 0xc1 }, 5, 0 },
	{ "cvtsd2si eax,xmm1", { 0xf2, 0x0f, 0x2d, 0xc1 }, 4, 0 },
	{ "cvttss2si eax,xmm1", { 0xf3, 0x0f, 0x2c, 0xc1 }, 4, 0 },
	{ "cvtsi2sd xmm0,rbx", { 0xf2, 0x48, 0x0f, 0x2a, 0xc3 }, 5, 0 },
	{ "cvtsi2ss xmm0,ebx", { 0xf3, 0x0f, 0x2a, 0xc3 }, 4, 0 },
	{ "cvtss2sd", { 0xf3, 0x0f, 0x5a, 0xc1 }, 4, 0 },
	{ "cvtsd2ss", { 0xf2, 0x0f, 0x5a, 0xc1 }, 4, 0 },
	{ "cvtps2pd", { 0x0f, 0x5a, 0xc1 }, 3, 0 },
	{ "cvtdq2ps", { 0x0f, 0x5b, 0xc1 }, 3, 0 },
	{ "cvttps2dq", { 0xf3, 0x0f, 0x5b, 0xc1 }, 4, 0 },
	{ "shufps", { 0x0f, 0xc6, 0xc1, 0x1b }, 4, 0 },
	{ "shufpd", { 0x66, 0x0f, 0xc6, 0xc1, 0x01 }, 5, 0 },
	{ "unpcklps", { 0x0f, 0x14, 0xc1 }, 3, 0 },
	{ "unpckhpd", { 0x66, 0x0f, 0x15, 0xc1 }, 4, 0 },
	{ "movq xmm0,rbx", { 0x66, 0x48, 0x0f, 0x6e, 0xc3 }, 5, 0 },
	{ "movd xmm0,ebx", { 0x66, 0x0f, 0x6e, 0xc3 }, 4, 0 },
	{ "movq rbx,xmm0", { 0x66, 0x48, 0x0f, 0x7e, 0xc3 }, 5, 0 },
	{ "movq xmm0,xmm1", { 0xf3, 0x0f, 0x7e, 0xc1 }, 4, 0 },
	{ "movq xmm0,xmm1 (d6)", { 0x66, 0x0f, 0xd6, 0xc8 }, 4, 0 },
	{ "movhlps", { 0x0f, 0x12, 0xc1 }, 3, 0 },
	{ "movlhps", { 0x0f, 0x16, 0xc1 }, 3, 0 },
	{ "movmskps eax,xmm1", { 0x0f, 0x50, 0xc1 }, 3, 0 },
	{ "movmskpd eax,xmm1", { 0x66, 0x0f, 0x50, 0xc1 }, 4, 0 },
	{ "pinsrw xmm0,ebx,5", { 0x66, 0x0f, 0xc4, 0xc3, 0x05 }, 5, 0 },
	{ "pextrw eax,xmm1,3", { 0x66, 0x0f, 0xc5, 0xc1, 0x03 }, 5, 0 },
	{ "movsd xmm0,xmm1", { 0xf2, 0x0f, 0x10, 0xc1 }, 4, 0 },
	{ "movss xmm0,xmm1", { 0xf3, 0x0f, 0x10, 0xc1 }, 4, 0 },
	{ "cmpltps", { 0x0f, 0xc2, 0xc1, 0x01 }, 4, 0 },
	{ "cmplesd", { 0xf2, 0x0f, 0xc2, 0xc1, 0x02 }, 5, 0 },
	{ "cmpunordpd", { 0x66, 0x0f, 0xc2, 0xc1, 0x03 }, 5, 0 },
	{ "cmpeqps", { 0x0f, 0xc2, 0xc1, 0x00 }, 4, 0 },
	{ "cmpps imm 0x0d (legacy: imm8[2:0])", { 0x0f, 0xc2, 0xc1, 0x0d }, 4, 0 },
	{ "cmpneqss", { 0xf3, 0x0f, 0xc2, 0xc1, 0x04 }, 5, 0 },
	{ "cmpnltpd", { 0x66, 0x0f, 0xc2, 0xc1, 0x05 }, 5, 0 },
	{ "cmpnleps", { 0x0f, 0xc2, 0xc1, 0x06 }, 4, 0 },
	{ "cmpordsd", { 0xf2, 0x0f, 0xc2, 0xc1, 0x07 }, 5, 0 },
	{ "divps", { 0x0f, 0x5e, 0xc1 }, 3, 0 },
	{ "divpd", { 0x66, 0x0f, 0x5e, 0xc1 }, 4, 0 },
	{ "subps", { 0x0f, 0x5c, 0xc1 }, 3, 0 },
	{ "maxpd", { 0x66, 0x0f, 0x5f, 0xc1 }, 4, 0 },
	{ "sqrtps", { 0x0f, 0x51, 0xc1 }, 3, 0 },
	{ "sqrtss", { 0xf3, 0x0f, 0x51, 0xc1 }, 4, 0 },
	{ "ucomiss", { 0x0f, 0x2e, 0xc1 }, 3, ARITH },
	{ "comisd", { 0x66, 0x0f, 0x2f, 0xc1 }, 4, ARITH },
	{ "cvtpd2ps", { 0x66, 0x0f, 0x5a, 0xc1 }, 4, 0 },
	{ "cvtps2dq", { 0x66, 0x0f, 0x5b, 0xc1 }, 4, 0 },
	{ "cvtss2si rax,xmm1", { 0xf3, 0x48, 0x0f, 0x2d, 0xc1 }, 5, 0 },
	{ "cvttsd2si eax,xmm1", { 0xf2, 0x0f, 0x2c, 0xc1 }, 4, 0 },
	{ "cvtsi2ss xmm0,rbx", { 0xf3, 0x48, 0x0f, 0x2a, 0xc3 }, 5, 0 },
	{ "cvtsi2sd xmm0,ebx", { 0xf2, 0x0f, 0x2a, 0xc3 }, 4, 0 },
	/* Added for issue 3. */
	{ "pmaddwd", { 0x66, 0x0f, 0xf5, 0xc1 }, 4, 0 },
	{ "psadbw", { 0x66, 0x0f, 0xf6, 0xc1 }, 4, 0 },
	{ "psraw xmm1", { 0x66, 0x0f, 0xe1, 0xc1 }, 4, 0 },
	{ "psrad xmm1", { 0x66, 0x0f, 0xe2, 0xc1 }, 4, 0 },
	{ "psraw 3", { 0x66, 0x0f, 0x71, 0xe0, 0x03 }, 5, 0 },
	{ "psrad 40", { 0x66, 0x0f, 0x72, 0xe0, 0x28 }, 5, 0 },
	{ "rcpps", { 0x0f, 0x53, 0xc1 }, 3, 0 },
	{ "rcpss", { 0xf3, 0x0f, 0x53, 0xc1 }, 4, 0 },
	{ "rsqrtps", { 0x0f, 0x52, 0xc1 }, 3, 0 },
	{ "rsqrtss", { 0xf3, 0x0f, 0x52, 0xc1 }, 4, 0 },
	{ "cvtdq2pd", { 0xf3, 0x0f, 0xe6, 0xc1 }, 4, 0 },
	{ "cvtpd2dq", { 0xf2, 0x0f, 0xe6, 0xc1 }, 4, 0 },
	{ "cvttpd2dq", { 0x66, 0x0f, 0xe6, 0xc1 }, 4, 0 },
	{ "maskmovdqu", { 0x48, 0x8d, 0x7f, 0x60, /* lea rdi,[rdi+0x60] */
	  0x66, 0x0f, 0xf7, 0xc1, 0x48, 0x8d, 0x7f, 0xa0 }, 12, 0 },
	/* Memory forms: [rdi+0x60] is st.mem (16-byte aligned). */
	{ "pmaddwd m128", { 0x66, 0x0f, 0xf5, 0x47, 0x60 }, 5, 0 },
	{ "psadbw m128", { 0x66, 0x0f, 0xf6, 0x47, 0x60 }, 5, 0 },
	{ "psraw m128", { 0x66, 0x0f, 0xe1, 0x47, 0x60 }, 5, 0 },
	{ "psrad m128", { 0x66, 0x0f, 0xe2, 0x47, 0x60 }, 5, 0 },
	{ "rcpps m128", { 0x0f, 0x53, 0x47, 0x60 }, 4, 0 },
	{ "rcpss m32", { 0xf3, 0x0f, 0x53, 0x47, 0x60 }, 5, 0 },
	{ "rsqrtps m128", { 0x0f, 0x52, 0x47, 0x60 }, 4, 0 },
	{ "rsqrtss m32", { 0xf3, 0x0f, 0x52, 0x47, 0x60 }, 5, 0 },
	{ "cvtdq2pd m64", { 0xf3, 0x0f, 0xe6, 0x47, 0x60 }, 5, 0 },
	{ "cvtpd2dq m128", { 0xf2, 0x0f, 0xe6, 0x47, 0x60 }, 5, 0 },
	{ "cvttpd2dq m128", { 0x66, 0x0f, 0xe6, 0x47, 0x60 }, 5, 0 },
	{ "addsd m64", { 0xf2, 0x0f, 0x58, 0x47, 0x60 }, 5, 0 },
	{ "mulps m128", { 0x0f, 0x59, 0x47, 0x60 }, 4, 0 },
	{ "cvtps2pd m64", { 0x0f, 0x5a, 0x47, 0x60 }, 4, 0 },
	{ "cvtss2sd m32", { 0xf3, 0x0f, 0x5a, 0x47, 0x60 }, 5, 0 },
	{ "cmpltss m32", { 0xf3, 0x0f, 0xc2, 0x47, 0x60, 0x01 }, 6, 0 },
	{ "ucomisd m64", { 0x66, 0x0f, 0x2e, 0x47, 0x60 }, 5, ARITH },
	{ "cvtsd2si rax,m64", { 0xf2, 0x48, 0x0f, 0x2d, 0x47, 0x60 }, 6, 0 },
	{ "cvtpi2pd xmm0,m64", { 0x66, 0x0f, 0x2a, 0x47, 0x60 }, 5, 0 },
	{ "cvtpi2ps xmm0,m64", { 0x0f, 0x2a, 0x47, 0x60 }, 4, 0 },
};

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Lane patterns: random bits, small ints, and floats incl. NaN, zeros. */
static void fill_xmm(uint8_t *x, unsigned kind)
{
	static const double dv[] = { 1.5, -2.25, 0.0, -0.0, 1e300, -3e-310,
		123456789.75, 2147483648.0, -2147483649.0, 0.5, 2.5,
		__builtin_nan(""), __builtin_inf(), -__builtin_inf(),
		__builtin_nans(""), 2.2250738585072014e-308, 1e-300,
		-2147483648.5, 0.1 };
	static const float fv[] = { 1.5f, -2.25f, 0.0f, -0.0f, 3e38f, 1e-40f,
		-7.5f, 2147483648.0f, 0.5f, 1.5e9f, 1.0f,
		__builtin_nanf(""), __builtin_inff(), -__builtin_inff(),
		__builtin_nansf(""), 1.17549435e-38f, 1e-30f, 16777217.0f,
		0.1f };
	const unsigned nd = sizeof(dv) / sizeof(*dv), nf = sizeof(fv) / sizeof(*fv);
	uint64_t q[2] = { next_rand(), next_rand() };

	switch (kind % 4) {
	case 1:
		for (int i = 0; i < 2; i++) {
			double v = dv[next_rand() % nd];

			memcpy(&q[i], &v, 8);
		}
		break;
	case 2:
		for (int i = 0; i < 4; i++) {
			float v = fv[next_rand() % nf];

			memcpy((uint8_t *)q + 4 * i, &v, 4);
		}
		break;
	case 3:
		q[0] &= 0x00ff00ff00ff00ffull;
		q[1] &= 0x8000ffff7fff0001ull;
		if (next_rand() & 1) /* PMADDWD's one overflow */
			q[next_rand() & 1] = 0x8000800080008000ull;
		break;
	}
	memcpy(x, q, 16);
}

/* MXCSR values the SSE cases run under: each rounding mode, DAZ, FTZ. */
static const uint32_t mxcsrs[] = {
	0x1f80,          /* round to nearest */
	0x3f80,          /* round down */
	0x5f80,          /* round up */
	0x7f80,          /* round toward zero */
	0x9f80 | 0x40,   /* FTZ and DAZ, nearest */
	0x7f80 | 0x40,   /* DAZ, toward zero */
	0x1f80 | 0x3f,   /* every sticky flag already set */
};

/* Every SSE case, from the same registers, memory operand and MXCSR
 * (each rounding mode, DAZ, FTZ), gives the host's results and MXCSR. */
static void sse_results_and_mxcsr_match_the_host(struct machine *m)
{
	for (size_t k = 0; k < sizeof(sse_cases) / sizeof(*sse_cases); k++) {
		const struct insn_case *ic = &sse_cases[k];
		unsigned fails = 0;

		for (unsigned t = 0; t < 420; t++) {
			struct st a = { next_rand(), (uint32_t)next_rand(),
					next_rand(), next_rand(), 0x2, { 0 }, { 0 },
					mxcsrs[t % 7], 0, 0, 0, { 0 } }, b;

			if (t & 1)
				a.rbx = (uint64_t)(int64_t)(int32_t)(next_rand() % 1000000);
			fill_xmm(a.xmm0, t);
			fill_xmm(a.xmm1, t / 4);
			fill_xmm(a.mem, t / 2 + 1);
			b = a;
			run_native(ic->bytes, ic->len, &a);
			if (run_interp_n(m, CODE_BASE + 0x10000 + 16 * k, ic->bytes,
					 ic->len, &b, MAX_STEPS)) {
				fails++;
				continue;
			}
			if (a.rax != b.rax || a.rbx != b.rbx ||
			    memcmp(a.xmm0, b.xmm0, 16) ||
			    memcmp(a.xmm1, b.xmm1, 16) ||
			    memcmp(a.mem, b.mem, 16) || a.mxcsr != b.mxcsr ||
			    (a.flags & ic->defined) != (b.flags & ic->defined)) {
				if (fails++ < 2) {
					uint64_t na[2], nb[2];

					memcpy(na, a.xmm0, 16);
					memcpy(nb, b.xmm0, 16);
					fprintf(stderr, "%s: native xmm0 %016llx%016llx "
						"rax %#llx f %#llx mxcsr %#x; interp "
						"%016llx%016llx rax %#llx f %#llx mxcsr %#x\n",
						ic->name,
						(unsigned long long)na[1],
						(unsigned long long)na[0],
						(unsigned long long)a.rax,
						(unsigned long long)(a.flags & ic->defined),
						a.mxcsr,
						(unsigned long long)nb[1],
						(unsigned long long)nb[0],
						(unsigned long long)b.rax,
						(unsigned long long)(b.flags & ic->defined),
						b.mxcsr);
				}
			}
		}
		CHECK(fails == 0);
		if (fails)
			fprintf(stderr, "  %s: %u mismatches\n", ic->name, fails);
	}
}

/* MMX cases (no prefix): ModRM 0xc1 = mm0, mm1 (reg, rm); ModRM 0x47
 * 0x60 = mm0, [rdi+0x60]. */
static const struct insn_case mmx_cases[] = {
	{ "paddb", { 0x0f, 0xfc, 0xc1 }, 3, 0 },
	{ "paddw", { 0x0f, 0xfd, 0xc1 }, 3, 0 },
	{ "paddd", { 0x0f, 0xfe, 0xc1 }, 3, 0 },
	{ "paddq", { 0x0f, 0xd4, 0xc1 }, 3, 0 },
	{ "psubb", { 0x0f, 0xf8, 0xc1 }, 3, 0 },
	{ "psubw", { 0x0f, 0xf9, 0xc1 }, 3, 0 },
	{ "psubd", { 0x0f, 0xfa, 0xc1 }, 3, 0 },
	{ "psubq", { 0x0f, 0xfb, 0xc1 }, 3, 0 },
	{ "paddusb", { 0x0f, 0xdc, 0xc1 }, 3, 0 },
	{ "paddusw", { 0x0f, 0xdd, 0xc1 }, 3, 0 },
	{ "psubusb", { 0x0f, 0xd8, 0xc1 }, 3, 0 },
	{ "psubusw", { 0x0f, 0xd9, 0xc1 }, 3, 0 },
	{ "paddsb", { 0x0f, 0xec, 0xc1 }, 3, 0 },
	{ "paddsw", { 0x0f, 0xed, 0xc1 }, 3, 0 },
	{ "psubsb", { 0x0f, 0xe8, 0xc1 }, 3, 0 },
	{ "psubsw", { 0x0f, 0xe9, 0xc1 }, 3, 0 },
	{ "pminub", { 0x0f, 0xda, 0xc1 }, 3, 0 },
	{ "pmaxub", { 0x0f, 0xde, 0xc1 }, 3, 0 },
	{ "pminsw", { 0x0f, 0xea, 0xc1 }, 3, 0 },
	{ "pmaxsw", { 0x0f, 0xee, 0xc1 }, 3, 0 },
	{ "pavgb", { 0x0f, 0xe0, 0xc1 }, 3, 0 },
	{ "pavgw", { 0x0f, 0xe3, 0xc1 }, 3, 0 },
	{ "pmullw", { 0x0f, 0xd5, 0xc1 }, 3, 0 },
	{ "pmulhw", { 0x0f, 0xe5, 0xc1 }, 3, 0 },
	{ "pmulhuw", { 0x0f, 0xe4, 0xc1 }, 3, 0 },
	{ "pmuludq", { 0x0f, 0xf4, 0xc1 }, 3, 0 },
	{ "pmaddwd", { 0x0f, 0xf5, 0xc1 }, 3, 0 },
	{ "psadbw", { 0x0f, 0xf6, 0xc1 }, 3, 0 },
	{ "pand", { 0x0f, 0xdb, 0xc1 }, 3, 0 },
	{ "pandn", { 0x0f, 0xdf, 0xc1 }, 3, 0 },
	{ "por", { 0x0f, 0xeb, 0xc1 }, 3, 0 },
	{ "pxor", { 0x0f, 0xef, 0xc1 }, 3, 0 },
	{ "pcmpeqb", { 0x0f, 0x74, 0xc1 }, 3, 0 },
	{ "pcmpeqw", { 0x0f, 0x75, 0xc1 }, 3, 0 },
	{ "pcmpeqd", { 0x0f, 0x76, 0xc1 }, 3, 0 },
	{ "pcmpgtb", { 0x0f, 0x64, 0xc1 }, 3, 0 },
	{ "pcmpgtw", { 0x0f, 0x65, 0xc1 }, 3, 0 },
	{ "pcmpgtd", { 0x0f, 0x66, 0xc1 }, 3, 0 },
	{ "punpcklbw", { 0x0f, 0x60, 0xc1 }, 3, 0 },
	{ "punpcklwd", { 0x0f, 0x61, 0xc1 }, 3, 0 },
	{ "punpckldq", { 0x0f, 0x62, 0xc1 }, 3, 0 },
	{ "punpckhbw", { 0x0f, 0x68, 0xc1 }, 3, 0 },
	{ "punpckhwd", { 0x0f, 0x69, 0xc1 }, 3, 0 },
	{ "punpckhdq", { 0x0f, 0x6a, 0xc1 }, 3, 0 },
	{ "packsswb", { 0x0f, 0x63, 0xc1 }, 3, 0 },
	{ "packuswb", { 0x0f, 0x67, 0xc1 }, 3, 0 },
	{ "packssdw", { 0x0f, 0x6b, 0xc1 }, 3, 0 },
	{ "psrlw mm1", { 0x0f, 0xd1, 0xc1 }, 3, 0 },
	{ "psrld mm1", { 0x0f, 0xd2, 0xc1 }, 3, 0 },
	{ "psrlq mm1", { 0x0f, 0xd3, 0xc1 }, 3, 0 },
	{ "psraw mm1", { 0x0f, 0xe1, 0xc1 }, 3, 0 },
	{ "psrad mm1", { 0x0f, 0xe2, 0xc1 }, 3, 0 },
	{ "psllw mm1", { 0x0f, 0xf1, 0xc1 }, 3, 0 },
	{ "pslld mm1", { 0x0f, 0xf2, 0xc1 }, 3, 0 },
	{ "psllq mm1", { 0x0f, 0xf3, 0xc1 }, 3, 0 },
	{ "psrlw 5", { 0x0f, 0x71, 0xd0, 0x05 }, 4, 0 },
	{ "psraw 9", { 0x0f, 0x71, 0xe0, 0x09 }, 4, 0 },
	{ "psllw 17", { 0x0f, 0x71, 0xf0, 0x11 }, 4, 0 },
	{ "psrld 3", { 0x0f, 0x72, 0xd0, 0x03 }, 4, 0 },
	{ "psrad 31", { 0x0f, 0x72, 0xe0, 0x1f }, 4, 0 },
	{ "pslld 8", { 0x0f, 0x72, 0xf0, 0x08 }, 4, 0 },
	{ "psrlq 60", { 0x0f, 0x73, 0xd0, 0x3c }, 4, 0 },
	{ "psllq 1", { 0x0f, 0x73, 0xf0, 0x01 }, 4, 0 },
	{ "pshufw", { 0x0f, 0x70, 0xc1, 0x1b }, 4, 0 },
	{ "pinsrw mm0,ebx,2", { 0x0f, 0xc4, 0xc3, 0x02 }, 4, 0 },
	{ "pextrw eax,mm1,3", { 0x0f, 0xc5, 0xc1, 0x03 }, 4, 0 },
	{ "pmovmskb eax,mm1", { 0x0f, 0xd7, 0xc1 }, 3, 0 },
	{ "movd mm0,ebx", { 0x0f, 0x6e, 0xc3 }, 3, 0 },
	{ "movq mm0,rbx", { 0x48, 0x0f, 0x6e, 0xc3 }, 4, 0 },
	{ "movd eax,mm1", { 0x0f, 0x7e, 0xc8 }, 3, 0 },
	{ "movq rax,mm1", { 0x48, 0x0f, 0x7e, 0xc8 }, 4, 0 },
	{ "movq mm0,mm1", { 0x0f, 0x6f, 0xc1 }, 3, 0 },
	{ "movq mm1,mm0 (7f)", { 0x0f, 0x7f, 0xc1 }, 3, 0 },
	{ "movq2dq xmm0,mm1", { 0xf3, 0x0f, 0xd6, 0xc1 }, 4, 0 },
	{ "movdq2q mm0,xmm1", { 0xf2, 0x0f, 0xd6, 0xc1 }, 4, 0 },
	{ "cvtpi2ps xmm0,mm1", { 0x0f, 0x2a, 0xc1 }, 3, 0 },
	{ "cvtpi2pd xmm0,mm1", { 0x66, 0x0f, 0x2a, 0xc1 }, 4, 0 },
	{ "cvtps2pi mm0,xmm1", { 0x0f, 0x2d, 0xc1 }, 3, 0 },
	{ "cvttps2pi mm0,xmm1", { 0x0f, 0x2c, 0xc1 }, 3, 0 },
	{ "cvtpd2pi mm0,xmm1", { 0x66, 0x0f, 0x2d, 0xc1 }, 4, 0 },
	{ "cvttpd2pi mm0,xmm1", { 0x66, 0x0f, 0x2c, 0xc1 }, 4, 0 },
	{ "maskmovq", { 0x48, 0x8d, 0x7f, 0x60, /* lea rdi,[rdi+0x60] */
	  0x0f, 0xf7, 0xc1, 0x48, 0x8d, 0x7f, 0xa0 }, 11, 0 },
	{ "paddsw m64", { 0x0f, 0xed, 0x47, 0x60 }, 4, 0 },
	{ "pmaddwd m64", { 0x0f, 0xf5, 0x47, 0x60 }, 4, 0 },
	{ "psadbw m64", { 0x0f, 0xf6, 0x47, 0x60 }, 4, 0 },
	{ "psrad m64", { 0x0f, 0xe2, 0x47, 0x60 }, 4, 0 },
	{ "punpckhbw m64", { 0x0f, 0x68, 0x47, 0x60 }, 4, 0 },
	{ "pshufw m64", { 0x0f, 0x70, 0x47, 0x60, 0x9c }, 5, 0 },
	{ "movq m64,mm0", { 0x0f, 0x7f, 0x47, 0x60 }, 4, 0 },
	{ "movntq m64,mm1", { 0x0f, 0xe7, 0x4f, 0x60 }, 4, 0 },
	{ "movd m32,mm1", { 0x0f, 0x7e, 0x4f, 0x60 }, 4, 0 },
	{ "pinsrw mm0,m16,1", { 0x0f, 0xc4, 0x47, 0x60, 0x01 }, 5, 0 },
	{ "cvtps2pi mm0,m64", { 0x0f, 0x2d, 0x47, 0x60 }, 4, 0 },
	{ "cvttpd2pi mm0,m128", { 0x66, 0x0f, 0x2c, 0x47, 0x60 }, 5, 0 },
};

/* Every MMX case gives the host's MM0, MM1, XMM0, RAX and memory; shift
 * counts in MM1 cover the in-range and too-large cases. */
static void mmx_results_match_the_host(struct machine *m)
{
	for (size_t k = 0; k < sizeof(mmx_cases) / sizeof(*mmx_cases); k++) {
		const struct insn_case *ic = &mmx_cases[k];
		unsigned fails = 0;

		for (unsigned t = 0; t < 300; t++) {
			uint8_t x[16];
			struct st a = { next_rand(), next_rand(), next_rand(),
					next_rand(), 0x2, { 0 }, { 0 },
					mxcsrs[t % 7], 0, 0, 0, { 0 } }, b, in;

			fill_xmm(x, t);
			memcpy(&a.mm0, x, 8);
			fill_xmm(x, t / 4);
			memcpy(&a.mm1, x + 8 * (t & 1), 8);
			if (t % 5 == 0)
				a.mm1 = t % 70; /* shift counts */
			fill_xmm(a.xmm0, t / 2);
			fill_xmm(a.xmm1, t / 3);
			fill_xmm(a.mem, t + 1);
			b = in = a;
			run_native_ex(ic->bytes, ic->len, &a, true);
			if (run_interp_ex(m, CODE_BASE + 0x40000 + 16 * k,
					  ic->bytes, ic->len, &b, MAX_STEPS, true)) {
				fails++;
				continue;
			}
			if (a.rax != b.rax || a.mm0 != b.mm0 || a.mm1 != b.mm1 ||
			    memcmp(a.xmm0, b.xmm0, 16) || memcmp(a.mem, b.mem, 16) ||
			    a.mxcsr != b.mxcsr) {
				if (fails++ < 2)
					fprintf(stderr, "%s: in %#llx %#llx: native mm0 "
						"%#llx mm1 %#llx rax %#llx; interp mm0 %#llx "
						"mm1 %#llx rax %#llx\n", ic->name,
						(unsigned long long)in.mm0,
						(unsigned long long)in.mm1,
						(unsigned long long)a.mm0,
						(unsigned long long)a.mm1,
						(unsigned long long)a.rax,
						(unsigned long long)b.mm0,
						(unsigned long long)b.mm1,
						(unsigned long long)b.rax);
			}
		}
		CHECK(fails == 0);
		if (fails)
			fprintf(stderr, "  %s: %u mismatches\n", ic->name, fails);
	}
}

/* Every condition code read right after each lazy-flag producer (the
 * interpreter evaluates conditions without materializing RFLAGS). */
static void conditions_after_each_flag_producer_match_the_host(struct machine *m)
{
	static const struct { const char *name; uint8_t b[4]; unsigned len; }
	ops[] = {
		{ "add rax,rbx", { 0x48, 0x01, 0xd8 }, 3 },
		{ "sub eax,ebx", { 0x29, 0xd8 }, 2 },
		{ "cmp al,bl", { 0x38, 0xd8 }, 2 },
		{ "test rax,rbx", { 0x48, 0x85, 0xd8 }, 3 },
		{ "and ax,bx", { 0x66, 0x21, 0xd8 }, 3 },
		{ "inc eax", { 0xff, 0xc0 }, 2 },
		{ "dec rax", { 0x48, 0xff, 0xc8 }, 3 },
		{ "neg rax", { 0x48, 0xf7, 0xd8 }, 3 },
		{ "adc rax,rbx", { 0x48, 0x11, 0xd8 }, 3 },
		{ "shl eax,1", { 0xd1, 0xe0 }, 2 },
		{ "sar rax,1", { 0x48, 0xd1, 0xf8 }, 3 },
		{ "rol rax,1", { 0x48, 0xd1, 0xc0 }, 3 },
	};
	unsigned slot = 0;

	for (size_t k = 0; k < sizeof(ops) / sizeof(*ops); k++)
	for (unsigned cc = 0; cc < 16; cc++) {
		uint8_t code[8];
		unsigned len = ops[k].len, fails = 0;
		bool rot = !strncmp(ops[k].name, "rol", 3);

		/* rol leaves SF ZF PF AF alone: only O and B are produced. */
		if (rot && (cc >> 1) != 0 && (cc >> 1) != 1)
			continue;
		memcpy(code, ops[k].b, len);
		code[len] = 0x0f;
		code[len + 1] = (uint8_t)(0x90 + cc); /* setcc cl */
		code[len + 2] = 0xc1;
		for (size_t i = 0; i < sizeof(values) / sizeof(*values); i++)
		for (size_t j = 0; j < sizeof(values) / sizeof(*values); j++) {
			struct st a = { values[i], values[j], 0, 0,
					0x2 | (j & 1 ? RFLAGS_CF : 0), { 0 }, { 0 },
					0x1f80, 0, 0, 0, { 0 } };
			struct st b = a;

			run_native(code, len + 3, &a);
			if (run_interp_n(m, CODE_BASE + 0x20000 + 16 * slot, code,
					 len + 3, &b, 2) || (a.rcx & 0xff) != (b.rcx & 0xff)) {
				if (!fails++)
					fprintf(stderr, "%s; set%x: in %#llx %#llx: "
						"native %llu interp %llu\n",
						ops[k].name, cc,
						(unsigned long long)values[i],
						(unsigned long long)values[j],
						(unsigned long long)(a.rcx & 0xff),
						(unsigned long long)(b.rcx & 0xff));
			}
		}
		slot++;
		CHECK(fails == 0);
	}
}

/* x87 sequences over two integers loaded from the stack; each leaves the
 * FPU stack empty (the host's too) and its result in RAX/RCX/RDX. */
#define X87_PRE 0x48, 0x83, 0xec, 0x20, /* sub rsp, 32 */ \
	0x48, 0x89, 0x04, 0x24,             /* mov [rsp], rax */ \
	0x48, 0x89, 0x5c, 0x24, 0x08,       /* mov [rsp+8], rbx */ \
	0xdf, 0x2c, 0x24,                   /* fild qword [rsp] */ \
	0xdf, 0x6c, 0x24, 0x08              /* fild qword [rsp+8] */
#define X87_POST 0xdd, 0x5c, 0x24, 0x10,  /* fstp qword [rsp+16] */ \
	0x48, 0x8b, 0x44, 0x24, 0x10,       /* mov rax, [rsp+16] */ \
	0x48, 0x83, 0xc4, 0x20              /* add rsp, 32 */

static const struct {
	const char *name;
	uint8_t b[64];
	unsigned len, steps;
} x87_cases[] = {
	{ "faddp", { X87_PRE, 0xde, 0xc1, X87_POST }, 35, 9 },
	{ "fsubp", { X87_PRE, 0xde, 0xe9, X87_POST }, 35, 9 },
	{ "fsubrp", { X87_PRE, 0xde, 0xe1, X87_POST }, 35, 9 },
	{ "fmulp", { X87_PRE, 0xde, 0xc9, X87_POST }, 35, 9 },
	{ "fdivp", { X87_PRE, 0xde, 0xf9, X87_POST }, 35, 9 },
	{ "fdivrp", { X87_PRE, 0xde, 0xf1, X87_POST }, 35, 9 },
	{ "fxch; fsubp", { X87_PRE, 0xd9, 0xc9, 0xde, 0xe9, X87_POST }, 37, 10 },
	{ "fsqrt; faddp", { X87_PRE, 0xd9, 0xfa, 0xde, 0xc1, X87_POST }, 37, 10 },
	{ "fdivp; frndint", { X87_PRE, 0xde, 0xf9, 0xd9, 0xfc, X87_POST }, 37, 10 },
	{ "fxch; fprem; fstp st1", { X87_PRE, 0xd9, 0xc9, 0xd9, 0xf8, 0xdd,
	  0xd9, X87_POST }, 39, 11 },
	{ "fldpi; fmulp; faddp", { X87_PRE, 0xd9, 0xeb, 0xde, 0xc9, 0xde, 0xc1,
	  X87_POST }, 39, 11 },
	{ "fchs; fabs; fsubp", { X87_PRE, 0xd9, 0xe0, 0xd9, 0xe1, 0xde, 0xe9,
	  X87_POST }, 39, 11 },
	{ "fsin; faddp", { X87_PRE, 0xd9, 0xfe, 0xde, 0xc1, X87_POST }, 37, 10 },
	{ "fpatan", { X87_PRE, 0xd9, 0xf3, X87_POST }, 35, 9 },
	{ "fyl2x", { X87_PRE, 0xd9, 0xf1, X87_POST }, 35, 9 },
	{ "fscale; fstp st1", { X87_PRE, 0xd9, 0xfd, 0xdd, 0xd9, X87_POST }, 37, 10 },
	{ "fstp/fld m80; faddp", { X87_PRE, 0xdb, 0x7c, 0x24, 0x10, 0xdb, 0x6c,
	  0x24, 0x10, 0xde, 0xc1, X87_POST }, 43, 11 },
	{ "fucomi; fcmovb; fstp st1", { X87_PRE, 0xdb, 0xe9, 0xda, 0xc1, 0xdd,
	  0xd9, X87_POST }, 39, 11 },
	{ "fdivp; fistp m64", { X87_PRE, 0xde, 0xf9, 0xdf, 0x7c, 0x24, 0x10,
	  0x48, 0x8b, 0x44, 0x24, 0x10, 0x48, 0x83, 0xc4, 0x20 }, 35, 9 },
	{ "fcomip; fstp; setb cl; seta dl", { X87_PRE, 0xdf, 0xf1, 0xdd, 0xd8,
	  0x0f, 0x92, 0xc1, 0x0f, 0x97, 0xc2, 0x48, 0x83, 0xc4, 0x20 }, 34, 10 },
	/* fnsave [rsp-0x80] (the FPU is reset), frstor [rsp-0x80] */
	{ "fnsave; frstor; fsubp", { X87_PRE, 0xdd, 0x74, 0x24, 0x80, 0xdd,
	  0x64, 0x24, 0x80, 0xde, 0xe9, X87_POST }, 43, 11 },
	/* fbstp [rsp+16]; fbld [rsp+16]: packed BCD there and back (2^62
	 * is out of range: the BCD indefinite) */
	{ "fbstp; fbld; faddp", { X87_PRE, 0xdf, 0x74, 0x24, 0x10, 0xdf,
	  0x64, 0x24, 0x10, 0xde, 0xc1, X87_POST }, 43, 11 },
	{ "fdivp; fbstp; fbld", { X87_PRE, 0xde, 0xf9, 0xdf, 0x74, 0x24, 0x10,
	  0xdf, 0x64, 0x24, 0x10, X87_POST }, 43, 11 },
	/* fnsave alone leaves an empty stack: fld1 is then ST0 */
	{ "fnsave; fld1", { X87_PRE, 0xdd, 0x74, 0x24, 0x80, 0xd9, 0xe8,
	  X87_POST }, 39, 10 },
};

static void x87_sequences_match_the_host(struct machine *m)
{
	static const int64_t iv[] = { 0, 1, -1, 2, 3, 7, -10, 1000000007,
		-123456789012345ll, 1ll << 62, 100, 355, 113 };

	for (size_t k = 0; k < sizeof(x87_cases) / sizeof(*x87_cases); k++) {
		unsigned fails = 0;

		for (size_t i = 0; i < sizeof(iv) / sizeof(*iv); i++)
		for (size_t j = 0; j < sizeof(iv) / sizeof(*iv); j++) {
			struct st a = { (uint64_t)iv[i], (uint64_t)iv[j], 0, 0, 0x2,
					{ 0 }, { 0 }, 0x1f80, 0, 0, 0, { 0 } }, b = a;

			run_native(x87_cases[k].b, x87_cases[k].len, &a);
			if (run_interp_n(m, CODE_BASE + 0x30000 + 64 * k,
					 x87_cases[k].b, x87_cases[k].len, &b,
					 x87_cases[k].steps) ||
			    a.rax != b.rax || a.rcx != b.rcx || a.rdx != b.rdx) {
				if (!fails++)
					fprintf(stderr, "%s: %lld %lld: native %#llx "
						"interp %#llx\n", x87_cases[k].name,
						(long long)iv[i], (long long)iv[j],
						(unsigned long long)a.rax,
						(unsigned long long)b.rax);
			}
		}
		CHECK(fails == 0);
	}
}

/* An IDT whose vector v handler is a HLT at IDT_STUBS + 16 v: after one
 * step, RIP names the vector delivered. */
#define IDT_BASE 0x70000ull
#define IDT_STUBS 0x80000ull

static void install_idt(struct machine *m)
{
	struct rax_regs r;

	for (uint64_t v = 0; v < 256; v++) {
		uint64_t off = IDT_STUBS + 16 * v;

		put64(m, IDT_BASE + 16 * v, (off & 0xffff) | (8ull << 16) |
		      (0x8eull << 40) | (((off >> 16) & 0xffff) << 48));
		put64(m, IDT_BASE + 16 * v + 8, 0);
		m->mem.host[off] = 0xf4;
	}
	m->ops->get_regs(m, 0, &r);
	r.idt.base = IDT_BASE;
	r.idt.limit = 0xfff;
	m->ops->set_regs(m, 0, &r);
}

#define ONE_STEP_DATA 0x190000ull

/* Runs one instruction at code with the given CR0/CR4 bits flipped and
 * MXCSR; returns the vector delivered, or -1 when none was. */
static int one_step(struct machine *m, uint64_t code, const uint8_t *insn,
		    unsigned len, uint64_t cr0, uint64_t cr4, uint32_t mx,
		    struct rax_fpu *f)
{
	struct rax_regs r;
	struct vcpu_stop stop;
	struct rax_err e;
	uint64_t cr0_0, cr4_0;
	int vec = -1;

	m->ops->write_mem(m, code, insn, len); /* forgets decoded code */
	memcpy(f->fx + FX_MXCSR, &mx, 4);
	m->ops->set_fpu(m, 0, f);
	m->ops->get_regs(m, 0, &r);
	cr0_0 = r.cr0;
	cr4_0 = r.cr4;
	r.cr0 ^= cr0;
	r.cr4 ^= cr4;
	r.rip = code;
	r.gpr[R_RSP] = STACK_TOP;
	r.gpr[R_RDI] = ONE_STEP_DATA; /* [rdi]: 16-byte aligned RAM */
	m->ops->set_regs(m, 0, &r);
	CHECK_EQ(m->ops->run(m, VCPU_RUN_STEP, &stop, &e), 0);
	m->ops->get_regs(m, 0, &r);
	if (r.rip >= IDT_STUBS && r.rip < IDT_STUBS + 16 * 256) {
		uint64_t pushed;

		vec = (int)((r.rip - IDT_STUBS) / 16);
		/* over the error code of #DF, #TS-#PF, #AC */
		memcpy(&pushed, m->mem.host + r.gpr[R_RSP] +
		       (vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 ?
			8 : 0), 8);
		CHECK_EQ(pushed, code); /* a fault: RIP of the instruction */
	} else {
		CHECK_EQ(r.rip, code + len);
	}
	m->ops->get_fpu(m, 0, f);
	r.cr0 = cr0_0;
	r.cr4 = cr4_0;
	m->ops->set_regs(m, 0, &r);
	return vec;
}

/* SDM Vol. 1 §11.5 and the MMX/x87 interplay of §9.5-9.6: unmasked SIMD
 * exceptions fault with #XM (#UD without CR4.OSXMMEXCPT), set the flag
 * and leave the destination alone; masked ones set the flag only; an MMX
 * instruction tags every x87 register valid, EMMS empties them. */
static void simd_exceptions_and_mmx_state_follow_the_sdm(struct machine *m)
{
	static const uint8_t divss[] = { 0xf3, 0x0f, 0x5e, 0xc1 };
	static const uint8_t sqrtsd[] = { 0xf2, 0x0f, 0x51, 0xc1 };
	static const uint8_t paddb[] = { 0x0f, 0xfc, 0xc1 };
	static const uint8_t emms[] = { 0x0f, 0x77 };
	static const uint8_t emms66[] = { 0x66, 0x0f, 0x77 };
	const uint64_t code = CODE_BASE + 0x60000;
	struct rax_fpu f;
	float one = 1.0f, x;
	double minus1 = -1.0;
	uint32_t mx;

	install_idt(m);
	m->ops->get_fpu(m, 0, &f);
	memset(f.fx + FX_XMM(0), 0, 32);
	memcpy(f.fx + FX_XMM(0), &one, 4);
	/* 1 / 0 with ZE unmasked: #XM, ZE set, xmm0 unchanged. */
	CHECK_EQ(one_step(m, code, divss, 4, 0, CR4_OSXMMEXCPT, 0x1d80, &f),
		 19);
	memcpy(&mx, f.fx + FX_MXCSR, 4);
	CHECK_EQ(mx, 0x1d80 | 0x4);
	memcpy(&x, f.fx + FX_XMM(0), 4);
	CHECK(x == 1.0f);
	/* The same without CR4.OSXMMEXCPT: #UD. */
	CHECK_EQ(one_step(m, code, divss, 4, 0, 0, 0x1d80, &f), 6);
	/* Masked: no exception, ZE set, +inf. */
	CHECK_EQ(one_step(m, code, divss, 4, 0, CR4_OSXMMEXCPT, 0x1f80, &f),
		 -1);
	memcpy(&mx, f.fx + FX_MXCSR, 4);
	CHECK_EQ(mx, 0x1f80 | 0x4);
	memcpy(&x, f.fx + FX_XMM(0), 4);
	CHECK(x == __builtin_inff());
	/* sqrt(-1) with IE unmasked: #XM with IE set. */
	memcpy(f.fx + FX_XMM(1), &minus1, 8);
	CHECK_EQ(one_step(m, code, sqrtsd, 4, 0, CR4_OSXMMEXCPT, 0x1f00, &f),
		 19);
	memcpy(&mx, f.fx + FX_MXCSR, 4);
	CHECK_EQ(mx, 0x1f00 | 0x1);
	/* xmm0 unchanged: still the +inf of the masked divide. */
	CHECK(!memcmp(f.fx + FX_XMM(0), &(float){ __builtin_inff() }, 4));
	/* MMX: all tags valid and the exponent of R0 all ones; EMMS. */
	f.fx[FX_FTW] = 0;
	CHECK_EQ(one_step(m, code, paddb, 3, 0, 0, 0x1f80, &f), -1);
	CHECK_EQ(f.fx[FX_FTW], 0xff);
	CHECK_EQ(f.fx[FX_ST(0) + 8], 0xff);
	CHECK_EQ(f.fx[FX_ST(0) + 9], 0xff);
	CHECK_EQ(one_step(m, code, emms, 2, 0, 0, 0x1f80, &f), -1);
	CHECK_EQ(f.fx[FX_FTW], 0);
	/* 66 0F 77 is undefined; MMX with CR0.TS is #NM, with CR0.EM #UD. */
	CHECK_EQ(one_step(m, code, emms66, 3, 0, 0, 0x1f80, &f), 6);
	CHECK_EQ(one_step(m, code, paddb, 3, CR0_TS, 0, 0x1f80, &f), 7);
	CHECK_EQ(one_step(m, code, paddb, 3, CR0_EM, 0, 0x1f80, &f), 6);
	f.fx[FX_FTW] = 0;
	m->ops->set_fpu(m, 0, &f);
}

/* SDM Vol. 2 "Protected Mode Exceptions" of x87, MMX, SSE, FXSAVE,
 * LDMXCSR and WAIT under CR0.TS, CR0.EM and CR4.OSFXSR = 0. */
static void fpu_availability_faults_follow_the_sdm(struct machine *m)
{
	static const struct {
		const char *name;
		uint8_t b[6];
		unsigned len;
		uint64_t cr0, cr4; /* flipped from TS=EM=MP=0, OSFXSR=1 */
		int vec;
		unsigned level;    /* the x86-64 level it needs */
	} t[] = {
		{ "addps, TS", { 0x0f, 0x58, 0xc1 }, 3, CR0_TS, 0, 7, 1 },
		{ "addps, EM", { 0x0f, 0x58, 0xc1 }, 3, CR0_EM, 0, 6, 1 },
		{ "addps, no OSFXSR", { 0x0f, 0x58, 0xc1 }, 3, 0, CR4_OSFXSR, 6, 1 },
		{ "addps", { 0x0f, 0x58, 0xc1 }, 3, 0, 0, -1, 1 },
		{ "paddb mm, no OSFXSR", { 0x0f, 0xfc, 0xc1 }, 3, 0, CR4_OSFXSR, -1, 1 },
		{ "paddb xmm, no OSFXSR", { 0x66, 0x0f, 0xfc, 0xc1 }, 4, 0, CR4_OSFXSR, 6, 1 },
		{ "paddb xmm, TS", { 0x66, 0x0f, 0xfc, 0xc1 }, 4, CR0_TS, 0, 7, 1 },
		{ "emms, TS", { 0x0f, 0x77 }, 2, CR0_TS, 0, 7, 1 },
		{ "fninit, TS", { 0xdb, 0xe3 }, 2, CR0_TS, 0, 7, 1 },
		{ "fninit, EM", { 0xdb, 0xe3 }, 2, CR0_EM, 0, 7, 1 },
		{ "fninit, no OSFXSR", { 0xdb, 0xe3 }, 2, 0, CR4_OSFXSR, -1, 1 },
		{ "fxsave [rsp], TS", { 0x0f, 0xae, 0x04, 0x24 }, 4, CR0_TS, 0, 7, 1 },
		{ "ldmxcsr [rsp], no OSFXSR", { 0x0f, 0xae, 0x14, 0x24 }, 4, 0, CR4_OSFXSR, 6, 1 },
		{ "stmxcsr [rsp], TS", { 0x0f, 0xae, 0x1c, 0x24 }, 4, CR0_TS, 0, 7, 1 },
		{ "mfence, TS", { 0x0f, 0xae, 0xf0 }, 3, CR0_TS, 0, -1, 1 },
		{ "wait, TS", { 0x9b }, 1, CR0_TS, 0, -1, 1 },
		{ "wait, TS and MP", { 0x9b }, 1, CR0_TS | CR0_MP, 0, 7, 1 },
		/* The 0F 38 / 0F 3A maps (x86-64-v2): SSSE3's MMX forms are
		 * MMX-class, the rest SSE-class; CRC32 is neither. */
		{ "pshufb mm, TS", { 0x0f, 0x38, 0x00, 0xc1 }, 4, CR0_TS, 0, 7, 2 },
		{ "pshufb mm, EM", { 0x0f, 0x38, 0x00, 0xc1 }, 4, CR0_EM, 0, 6, 2 },
		{ "pshufb mm, no OSFXSR", { 0x0f, 0x38, 0x00, 0xc1 }, 4, 0, CR4_OSFXSR, -1, 2 },
		{ "pshufb xmm, no OSFXSR", { 0x66, 0x0f, 0x38, 0x00, 0xc1 }, 5, 0, CR4_OSFXSR, 6, 2 },
		{ "pshufb xmm, TS", { 0x66, 0x0f, 0x38, 0x00, 0xc1 }, 5, CR0_TS, 0, 7, 2 },
		{ "roundps, TS", { 0x66, 0x0f, 0x3a, 0x08, 0xc1, 0 }, 6, CR0_TS, 0, 7, 2 },
		{ "crc32, TS and EM", { 0xf2, 0x0f, 0x38, 0xf1, 0xc1 }, 5, CR0_TS | CR0_EM, 0, -1, 2 },
	};
	const uint64_t code = CODE_BASE + 0x61000;
	struct rax_fpu f;

	install_idt(m);
	m->ops->get_fpu(m, 0, &f);
	for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++) {
		int v;

		if (t[i].level > cpu_host_level()) /* the default model's */
			continue;
		v = one_step(m, code + 16 * i, t[i].b, t[i].len, t[i].cr0,
			     t[i].cr4, 0x1f80, &f);
		if (v != t[i].vec)
			fprintf(stderr, "%s: vector %d, want %d\n", t[i].name, v,
				t[i].vec);
		CHECK_EQ(v, t[i].vec);
	}
	f.fx[FX_FTW] = 0;
	m->ops->set_fpu(m, 0, &f);
}

/* The MMX, SSE and SSE2 encodings of the 0F map, by mandatory prefix, as
 * SDM Vol. 2 Appendix A (Tables) and the instruction pages
 * define them: "b" valid with a register and a memory operand, "r" with
 * a register only, "m" with memory only; every other opcode of the
 * scanned ranges is #UD (SSE3 and later are not advertised). */
static const struct { uint8_t op; char none, p66, f3, f2; } sse_map[] = {
	{ 0x10, 'b', 'b', 'b', 'b' }, { 0x11, 'b', 'b', 'b', 'b' },
	{ 0x12, 'b', 'm', 0, 0 },     { 0x13, 'm', 'm', 0, 0 },
	{ 0x14, 'b', 'b', 0, 0 },     { 0x15, 'b', 'b', 0, 0 },
	{ 0x16, 'b', 'm', 0, 0 },     { 0x17, 'm', 'm', 0, 0 },
	{ 0x28, 'b', 'b', 0, 0 },     { 0x29, 'b', 'b', 0, 0 },
	{ 0x2a, 'b', 'b', 'b', 'b' }, { 0x2b, 'm', 'm', 0, 0 },
	{ 0x2c, 'b', 'b', 'b', 'b' }, { 0x2d, 'b', 'b', 'b', 'b' },
	{ 0x2e, 'b', 'b', 0, 0 },     { 0x2f, 'b', 'b', 0, 0 },
	{ 0x50, 'r', 'r', 0, 0 },     { 0x51, 'b', 'b', 'b', 'b' },
	{ 0x52, 'b', 0, 'b', 0 },     { 0x53, 'b', 0, 'b', 0 },
	{ 0x54, 'b', 'b', 0, 0 },     { 0x55, 'b', 'b', 0, 0 },
	{ 0x56, 'b', 'b', 0, 0 },     { 0x57, 'b', 'b', 0, 0 },
	{ 0x58, 'b', 'b', 'b', 'b' }, { 0x59, 'b', 'b', 'b', 'b' },
	{ 0x5a, 'b', 'b', 'b', 'b' }, { 0x5b, 'b', 'b', 'b', 0 },
	{ 0x5c, 'b', 'b', 'b', 'b' }, { 0x5d, 'b', 'b', 'b', 'b' },
	{ 0x5e, 'b', 'b', 'b', 'b' }, { 0x5f, 'b', 'b', 'b', 'b' },
	{ 0x60, 'b', 'b', 0, 0 }, { 0x61, 'b', 'b', 0, 0 }, { 0x62, 'b', 'b', 0, 0 },
	{ 0x63, 'b', 'b', 0, 0 }, { 0x64, 'b', 'b', 0, 0 }, { 0x65, 'b', 'b', 0, 0 },
	{ 0x66, 'b', 'b', 0, 0 }, { 0x67, 'b', 'b', 0, 0 }, { 0x68, 'b', 'b', 0, 0 },
	{ 0x69, 'b', 'b', 0, 0 }, { 0x6a, 'b', 'b', 0, 0 }, { 0x6b, 'b', 'b', 0, 0 },
	{ 0x6c, 0, 'b', 0, 0 },       { 0x6d, 0, 'b', 0, 0 },
	{ 0x6e, 'b', 'b', 0, 0 },     { 0x6f, 'b', 'b', 'b', 0 },
	{ 0x70, 'b', 'b', 'b', 'b' },
	{ 0x74, 'b', 'b', 0, 0 }, { 0x75, 'b', 'b', 0, 0 }, { 0x76, 'b', 'b', 0, 0 },
	{ 0x78, 0, 0, 0, 0 }, { 0x79, 0, 0, 0, 0 }, { 0x7a, 0, 0, 0, 0 },
	{ 0x7b, 0, 0, 0, 0 }, { 0x7c, 0, 0, 0, 0 }, { 0x7d, 0, 0, 0, 0 },
	{ 0x7e, 'b', 'b', 'b', 0 },   { 0x7f, 'b', 'b', 'b', 0 },
	{ 0xc2, 'b', 'b', 'b', 'b' }, { 0xc4, 'b', 'b', 0, 0 },
	{ 0xc5, 'r', 'r', 0, 0 },     { 0xc6, 'b', 'b', 0, 0 },
	{ 0xd0, 0, 0, 0, 0 },
	{ 0xd1, 'b', 'b', 0, 0 }, { 0xd2, 'b', 'b', 0, 0 }, { 0xd3, 'b', 'b', 0, 0 },
	{ 0xd4, 'b', 'b', 0, 0 }, { 0xd5, 'b', 'b', 0, 0 },
	{ 0xd6, 0, 'b', 'r', 'r' },   { 0xd7, 'r', 'r', 0, 0 },
	{ 0xd8, 'b', 'b', 0, 0 }, { 0xd9, 'b', 'b', 0, 0 }, { 0xda, 'b', 'b', 0, 0 },
	{ 0xdb, 'b', 'b', 0, 0 }, { 0xdc, 'b', 'b', 0, 0 }, { 0xdd, 'b', 'b', 0, 0 },
	{ 0xde, 'b', 'b', 0, 0 }, { 0xdf, 'b', 'b', 0, 0 }, { 0xe0, 'b', 'b', 0, 0 },
	{ 0xe1, 'b', 'b', 0, 0 }, { 0xe2, 'b', 'b', 0, 0 }, { 0xe3, 'b', 'b', 0, 0 },
	{ 0xe4, 'b', 'b', 0, 0 }, { 0xe5, 'b', 'b', 0, 0 },
	{ 0xe6, 0, 'b', 'b', 'b' },   { 0xe7, 'm', 'm', 0, 0 },
	{ 0xe8, 'b', 'b', 0, 0 }, { 0xe9, 'b', 'b', 0, 0 }, { 0xea, 'b', 'b', 0, 0 },
	{ 0xeb, 'b', 'b', 0, 0 }, { 0xec, 'b', 'b', 0, 0 }, { 0xed, 'b', 'b', 0, 0 },
	{ 0xee, 'b', 'b', 0, 0 }, { 0xef, 'b', 'b', 0, 0 }, { 0xf0, 0, 0, 0, 0 },
	{ 0xf1, 'b', 'b', 0, 0 }, { 0xf2, 'b', 'b', 0, 0 }, { 0xf3, 'b', 'b', 0, 0 },
	{ 0xf4, 'b', 'b', 0, 0 }, { 0xf5, 'b', 'b', 0, 0 }, { 0xf6, 'b', 'b', 0, 0 },
	{ 0xf7, 'r', 'r', 0, 0 },     { 0xf8, 'b', 'b', 0, 0 },
	{ 0xf9, 'b', 'b', 0, 0 }, { 0xfa, 'b', 'b', 0, 0 }, { 0xfb, 'b', 'b', 0, 0 },
	{ 0xfc, 'b', 'b', 0, 0 }, { 0xfd, 'b', 'b', 0, 0 }, { 0xfe, 'b', 'b', 0, 0 },
};

static void set_rax_rcx_rdx(struct machine *m, uint64_t a, uint64_t c,
			    uint64_t d)
{
	struct rax_regs r;

	m->ops->get_regs(m, 0, &r);
	r.gpr[R_RAX] = a;
	r.gpr[R_RCX] = c;
	r.gpr[R_RDX] = d;
	m->ops->set_regs(m, 0, &r);
}

static uint64_t get_gpr(struct machine *m, unsigned i)
{
	struct rax_regs r;

	m->ops->get_regs(m, 0, &r);
	return r.gpr[i];
}

/* IA32_ARCH_CAPABILITIES (src/cpu/sys.c): CPUID.(EAX=7,ECX=0):EDX[29]
 * says it is there; RDMSR reads the immunity bits a Linux guest checks
 * before it turns on page-table isolation and buffer clearing (RDCL_NO,
 * MDS_NO, TAA_NO, the MMIO stale data trio), and not IBRS_ALL or RSBA,
 * which would promise a branch predictor's behaviour; WRMSR faults (the
 * MSR is read-only). */
static void arch_capabilities_report_no_speculation(struct machine *m)
{
	static const uint8_t cpuid[] = { 0x0f, 0xa2 };
	static const uint8_t rdmsr[] = { 0x0f, 0x32 };
	static const uint8_t wrmsr[] = { 0x0f, 0x30 };
	const uint64_t code = CODE_BASE + 0x64000;
	const uint64_t want = (1u << 0) | (1u << 5) | (1u << 8) | (1u << 13) |
			      (1u << 14) | (1u << 15);
	struct rax_fpu f;
	uint64_t v;

	install_idt(m);
	m->ops->get_fpu(m, 0, &f);
	set_rax_rcx_rdx(m, 7, 0, 0);
	CHECK_EQ(one_step(m, code, cpuid, sizeof(cpuid), 0, 0, 0x1f80, &f), -1);
	CHECK(get_gpr(m, R_RDX) & (1u << 29));
	set_rax_rcx_rdx(m, 0, 0x10a, 0);
	CHECK_EQ(one_step(m, code + 16, rdmsr, sizeof(rdmsr), 0, 0, 0x1f80, &f),
		 -1);
	v = get_gpr(m, R_RAX) | get_gpr(m, R_RDX) << 32;
	CHECK_EQ(v & want, want);
	CHECK_EQ(v & ((1u << 1) | (1u << 2) | (1u << 19)), 0u);
	set_rax_rcx_rdx(m, 0, 0x10a, 0);
	CHECK_EQ(one_step(m, code + 32, wrmsr, sizeof(wrmsr), 0, 0, 0x1f80, &f),
		 13);
}

/* The XSAVE part of a level-3 model (src/cpu/xsave.c; SDM Vol. 1 ch. 13,
 * Vol. 2 XGETBV, XSETBV, XSAVE, XRSTOR): #UD without CR4.OSXSAVE; XCR0
 * checks; the standard-form area (XMM at 160, XSTATE_BV at 512, YMM
 * upper halves at 576); XRSTOR's init for components whose XSTATE_BV bit
 * is clear, its header checks; alignment, CR0.TS.  A v2 model has none
 * of it (CR4.OSXSAVE reserved). */
static void xsave_state_follows_the_sdm(struct machine *m, unsigned level)
{
	static const uint8_t xgetbv[] = { 0x0f, 0x01, 0xd0 };
	static const uint8_t xsetbv[] = { 0x0f, 0x01, 0xd1 };
	static const uint8_t xsave[] = { 0x0f, 0xae, 0x27 };   /* [rdi] */
	static const uint8_t xrstor[] = { 0x0f, 0xae, 0x2f };
	static const uint8_t xsave1[] = { 0x0f, 0xae, 0x67, 0x08 }; /* [rdi+8] */
	static const uint8_t cpuid[] = { 0x0f, 0xa2 };
	static const uint8_t vpxor[] = { 0xc5, 0xf9, 0xef, 0xc1 };
	static const uint8_t mov_cr4[] = { 0x0f, 0x22, 0xe0 }; /* mov cr4, rax */
	const uint64_t code = CODE_BASE + 0x62000;
	uint8_t *area = m->mem.host + ONE_STEP_DATA;
	struct rax_fpu f;
	uint64_t bv, cr4;
	unsigned slot = 0;

	/* one_step() restores CR4 after each step: cr4x flips OSXSAVE on
	 * for the step alone. */
#define STEP(b, cr4x) one_step(m, code + 16 * slot++, b, sizeof(b), 0, \
			       cr4x, 0x1f80, &f)
#define STEPX(b, cr0x) one_step(m, code + 16 * slot++, b, sizeof(b), cr0x, \
				CR4_OSXSAVE, 0x1f80, &f)
	install_idt(m);
	m->ops->get_fpu(m, 0, &f);
	CHECK_EQ(STEP(xgetbv, 0), 6);
	CHECK_EQ(STEP(xsave, 0), 6);
	CHECK_EQ(STEP(vpxor, 0), 6);
	set_rax_rcx_rdx(m, 0xd, 0, 0);
	CHECK_EQ(STEP(cpuid, 0), -1);
	CHECK_EQ(get_gpr(m, R_RCX), level >= 3 ? 832u : 0u);
	cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXSAVE;
	set_rax_rcx_rdx(m, cr4, 0, 0);
	CHECK_EQ(STEP(mov_cr4, 0), level >= 3 ? -1 : 13);
	if (level < 3)
		return;
	set_rax_rcx_rdx(m, 0, 0, 0);
	CHECK_EQ(STEPX(xgetbv, 0), -1);
	CHECK_EQ(get_gpr(m, R_RAX), 1u); /* x87 only after reset */
	set_rax_rcx_rdx(m, 5, 0, 0);     /* AVX without SSE */
	CHECK_EQ(STEPX(xsetbv, 0), 13);
	set_rax_rcx_rdx(m, 0xf, 0, 0);   /* an unsupported bit */
	CHECK_EQ(STEPX(xsetbv, 0), 13);
	set_rax_rcx_rdx(m, 7, 1, 0);     /* XCR1 */
	CHECK_EQ(STEPX(xsetbv, 0), 13);
	/* AVX (VEX): #UD until XCR0 enables SSE and AVX state, #NM under
	 * CR0.TS (SDM Vol. 2 §2.4). */
	CHECK_EQ(STEPX(vpxor, 0), 6);
	set_rax_rcx_rdx(m, 3, 0, 0);
	CHECK_EQ(STEPX(xsetbv, 0), -1);
	CHECK_EQ(STEPX(vpxor, 0), 6);
	set_rax_rcx_rdx(m, 7, 0, 0);
	CHECK_EQ(STEPX(xsetbv, 0), -1);
	CHECK_EQ(STEPX(vpxor, 0), -1);
	CHECK_EQ(STEPX(vpxor, CR0_TS), 7);
	CHECK_EQ(STEP(vpxor, 0), 6); /* CR4.OSXSAVE clear */
	set_rax_rcx_rdx(m, 0xd, 0, 0);
	CHECK_EQ(STEPX(cpuid, 0), -1);
	CHECK_EQ(get_gpr(m, R_RAX), 7u);
	CHECK_EQ(get_gpr(m, R_RBX), 832u);
	/* XSAVE of all three: the XMM registers, XSTATE_BV 7 with the old
	 * bit 5 kept, the rest of the header untouched. */
	memset(area, 0xa5, 1024);
	memset(area + 512, 0, 64);
	area[512] = 0x20;
	for (unsigned i = 0; i < 16 * 16; i++)
		f.fx[160 + i] = (uint8_t)i;
	m->ops->set_fpu(m, 0, &f);
	set_rax_rcx_rdx(m, ~0ull, 0, ~0ull);
	CHECK_EQ(STEPX(xsave, 0), -1);
	CHECK_EQ(memcmp(area + 160, f.fx + 160, 256), 0);
	CHECK_EQ(area[0], 0x7f); /* FCW */
	memcpy(&bv, area + 512, 8);
	CHECK_EQ(bv, 0x27u);
	CHECK_EQ(area[576], 0);  /* YMM1-15 upper halves: zero */
	CHECK_EQ(area[832], 0xa5);
	CHECK_EQ(area[416], 0xa5); /* the legacy region's free bytes */
	CHECK_EQ(STEPX(xsave1, 0), 13); /* not 64-byte aligned */
	CHECK_EQ(STEPX(xsave, CR0_TS), 7);
	/* XRSTOR: a header with bit 5 set is beyond XCR0: #GP. */
	CHECK_EQ(STEPX(xrstor, 0), 13);
	area[512] = 0x07;
	area[160] = 0x42;
	f.fx[160] = 0;
	m->ops->set_fpu(m, 0, &f);
	CHECK_EQ(STEPX(xrstor, 0), -1);
	CHECK_EQ(f.fx[160], 0x42);
	area[530] = 1; /* reserved header byte */
	CHECK_EQ(STEPX(xrstor, 0), 13);
	area[530] = 0;
	/* XSTATE_BV without SSE: XMM registers to their initial zero. */
	area[512] = 0x01;
	CHECK_EQ(STEPX(xrstor, 0), -1);
	CHECK_EQ(f.fx[160], 0);
	CHECK_EQ(f.fx[161 + 16], 0);
	/* RFBM without x87 (EAX = 6): FCW not loaded. */
	area[0] = 0x7b;
	area[512] = 0x07;
	set_rax_rcx_rdx(m, 6, 0, 0);
	CHECK_EQ(STEPX(xrstor, 0), -1);
	CHECK_EQ(f.fx[0], 0x7f);
	set_rax_rcx_rdx(m, 7, 0, 0);
	CHECK_EQ(STEPX(xrstor, 0), -1);
	CHECK_EQ(f.fx[0], 0x7b);
#undef STEP
#undef STEPX
	f.fx[0] = 0x7f;
	f.fx[FX_FTW] = 0;
	m->ops->set_fpu(m, 0, &f);
}

/* The SSE3 forms of the 0F map (x86-64-v2 models): op, prefix (1 66,
 * 2 F3, 3 F2), as in sse_map. */
static const struct { uint8_t op, p; char v; } sse3_map[] = {
	{ 0x12, 2, 'b' }, { 0x12, 3, 'b' }, { 0x16, 2, 'b' },
	{ 0x7c, 1, 'b' }, { 0x7c, 3, 'b' }, { 0x7d, 1, 'b' }, { 0x7d, 3, 'b' },
	{ 0xd0, 1, 'b' }, { 0xd0, 3, 'b' }, { 0xf0, 3, 'm' },
};

/* Every defined MMX/SSE/SSE2 encoding above runs (no exception) and every
 * undefined one is #UD, in register and memory forms with each prefix;
 * then the 0F 71-73 shift groups (register forms, /0-/7) and EMMS.  On
 * a model of level 2 (m's --cpu) the SSE3 forms run too. */
static void every_0f_sse_opcode_the_sdm_defines_runs_and_no_other(
	struct machine *m, unsigned level)
{
	static const uint8_t pfx[4] = { 0, 0x66, 0xf3, 0xf2 };
	/* 0F 71-73 /r valid: bit r set (no prefix: MMX; 66: XMM). */
	static const uint8_t grp[3][2] = { { 0x54, 0x54 }, { 0x54, 0x54 },
					   { 0x44, 0xcc } };
	const uint64_t code = CODE_BASE + 0x70000;
	struct rax_fpu f;
	unsigned slot = 0;

	install_idt(m);
	m->ops->get_fpu(m, 0, &f);
	for (size_t k = 0; k < sizeof(sse_map) / sizeof(*sse_map); k++)
	for (unsigned p = 0; p < 4; p++)
	for (unsigned mem = 0; mem < 2; mem++) {
		char v = p == 0 ? sse_map[k].none : p == 1 ? sse_map[k].p66 :
			 p == 2 ? sse_map[k].f3 : sse_map[k].f2;
		bool ok;
		uint8_t b[8];
		unsigned n = 0;
		int vec;

		for (size_t j = 0; level >= 2 &&
		     j < sizeof(sse3_map) / sizeof(*sse3_map); j++)
			if (sse3_map[j].op == sse_map[k].op && sse3_map[j].p == p)
				v = sse3_map[j].v;
		ok = v == 'b' || (v == 'r' && !mem) || (v == 'm' && mem);
		if (pfx[p])
			b[n++] = pfx[p];
		b[n++] = 0x0f;
		b[n++] = sse_map[k].op;
		b[n++] = mem ? 0x07 : 0xc1; /* [rdi] or xmm0/mm0, xmm1/mm1 */
		if (sse_map[k].op == 0x70 || sse_map[k].op == 0xc2 ||
		    (sse_map[k].op >= 0xc4 && sse_map[k].op <= 0xc6))
			b[n++] = 1;
		vec = one_step(m, code + 16 * (slot++ % 4096), b, n, 0, 0,
			       0x1f80, &f);
		if (vec != (ok ? -1 : 6))
			fprintf(stderr, "v%u: %02x 0f %02x %s: vector %d, "
				"want %d\n", level, pfx[p], sse_map[k].op,
				mem ? "mem" : "reg", vec, ok ? -1 : 6);
		CHECK_EQ(vec, ok ? -1 : 6);
	}
	for (unsigned g = 0; g < 3; g++)
	for (unsigned p = 0; p < 4; p++)
	for (unsigned r = 0; r < 8; r++)
	for (unsigned mem = 0; mem < 2; mem++) {
		bool ok = !mem && p < 2 && (grp[g][p] >> r & 1);
		uint8_t b[6] = { pfx[p], 0x0f, (uint8_t)(0x71 + g),
				 (uint8_t)((mem ? 0x07 : 0xc1) | r << 3), 3 };
		int vec = one_step(m, code + 16 * (slot++ % 4096), p ? b : b + 1,
				   p ? 5 : 4, 0, 0, 0x1f80, &f);

		if (vec != (ok ? -1 : 6))
			fprintf(stderr, "%02x 0f %02x /%u %s: vector %d\n", pfx[p],
				0x71 + g, r, mem ? "mem" : "reg", vec);
		CHECK_EQ(vec, ok ? -1 : 6);
	}
	for (unsigned p = 0; p < 4; p++) {
		uint8_t b[3] = { pfx[p], 0x0f, 0x77 };

		CHECK_EQ(one_step(m, code + 16 * (slot++ % 4096), p ? b : b + 1,
				  p ? 3 : 2, 0, 0, 0x1f80, &f), p ? 6 : -1);
	}
	f.fx[FX_FTW] = 0;
	m->ops->set_fpu(m, 0, &f);
}

int main(void)
{
	struct machine m;

	native_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (native_page == MAP_FAILED) {
		printf("test_cpu_alu: cannot map an executable page: SKIP\n");
		return 77;
	}
	if (test_machine_init(&m)) {
		printf("test_cpu_alu: cannot create the machine\n");
		return 1;
	}
	alu_results_and_flags_match_the_host(&m);
	sse_results_and_mxcsr_match_the_host(&m);
	mmx_results_match_the_host(&m);
	conditions_after_each_flag_producer_match_the_host(&m);
	x87_sequences_match_the_host(&m);
	simd_exceptions_and_mmx_state_follow_the_sdm(&m);
	fpu_availability_faults_follow_the_sdm(&m);
	arch_capabilities_report_no_speculation(&m);
	test_machine_destroy(&m);
	for (unsigned level = 1; level <= CPU_LEVEL_MAX &&
	     level <= cpu_host_level(); level++) {
		if (test_machine_init_model(&m, false, level)) {
			printf("test_cpu_alu: cannot create the machine\n");
			return 1;
		}
		every_0f_sse_opcode_the_sdm_defines_runs_and_no_other(&m, level);
		test_machine_destroy(&m);
	}
	/* Level 3 is not selectable yet (--cpu); its XSAVE part is. */
	for (unsigned level = 2; level <= 3; level++) {
		if (test_machine_init_model(&m, false, level)) {
			printf("test_cpu_alu: cannot create the machine\n");
			return 1;
		}
		xsave_state_follows_the_sdm(&m, level);
		test_machine_destroy(&m);
	}
	return test_summary("test_cpu_alu");
}
