/* The interpreter side of the differential test: a long-mode machine
 * whose user pages (4 KiB, U/S=1) sit at the same virtual addresses as
 * the native child's, a Linux-like GDT (user CS 0x33, SS 0x2b), a TSS
 * whose RSP0 is a kernel stack, and an IDT whose gate for vector v
 * points to KSTUB + 8 v.  The sequence runs at CPL 3 one step at a time
 * (VCPU_RUN_STEP) until RIP reaches its end, or until a step lands on a
 * stub: the exception was delivered, and the frame on the kernel stack
 * gives the faulting RIP, RFLAGS, RSP and error code.  32-bit sequences
 * run in compatibility mode from the 32-bit user code segment 0x23 with
 * DS = ES = 0x2b, as the native harness enters them. */
#include "diffexec.h"

#include <string.h>

#include "err.h"
#include "machine.h"
#include "mem.h"
#include "regs.h"
#include "timer.h"
#include "vcpu.h"

/* Physical layout (the low 2 MiB are also mapped, supervisor-only). */
#define P_PML4  0x1000ull
#define P_PDPT  0x2000ull
#define P_PD    0x3000ull
#define P_PT    0x4000ull
#define P_TSS   0x5000ull
#define P_IDT   0x6000ull
#define P_STUB  0x7000ull     /* vector v's gate: P_STUB + 8 v */
#define P_KSTK  0xc000ull     /* RSP0 */
#define P_GDT   0x500ull
#define P_CODE  0x100000ull
#define P_DATA  0x110000ull
#define P_STACK 0x120000ull

#define MAX_STEPS 20000
#define EXC_BP_VEC 3

static void put64(struct machine *m, uint64_t pa, uint64_t v)
{
	memcpy(m->mem.host + pa, &v, 8);
}

static uint64_t get64(struct machine *m, uint64_t pa)
{
	uint64_t v;

	memcpy(&v, m->mem.host + pa, 8);
	return v;
}

static void map_page(struct machine *m, uint64_t va, uint64_t pa)
{
	put64(m, P_PT + ((va >> 12) & 511) * 8, pa | 7); /* P RW U/S */
}

static void build_tables(struct machine *m)
{
	put64(m, P_PML4, P_PDPT | 7);
	put64(m, P_PDPT, P_PD | 7);
	put64(m, P_PD, 0x83);                    /* 0-2 MiB, supervisor */
	put64(m, P_PD + ((DX_CODE >> 21) & 511) * 8, P_PT | 7);
	map_page(m, DX_CODE, P_CODE);
	for (unsigned i = 0; i < DX_DATA_SIZE / 4096; i++)
		map_page(m, DX_DATA + 4096 * i, P_DATA + 4096 * i);
	map_page(m, DX_STACK, P_STACK);
	put64(m, P_GDT + 0x08, 0x00af9b000000ffffull); /* kernel code 64 */
	put64(m, P_GDT + 0x10, 0x00cf93000000ffffull); /* kernel data */
	put64(m, P_GDT + 0x20, 0x00cffb000000ffffull); /* 0x23 user code 32 */
	put64(m, P_GDT + 0x28, 0x00cff3000000ffffull); /* 0x2b user data */
	put64(m, P_GDT + 0x30, 0x00affb000000ffffull); /* 0x33 user code 64 */
	for (uint64_t v = 0; v < 256; v++) {
		uint64_t off = P_STUB + 8 * v;

		/* 64-bit interrupt gate, selector 0x08 (SDM Vol. 3 Figure
		 * 6-8), DPL 0 but for #BP and #OF, which Linux gives DPL 3
		 * so that INT3 and INTO work at CPL 3 (its idt.c SYSG). */
		uint64_t dpl = v == 3 || v == 4 ? 3 : 0;

		/* jmp $ : the fast path's run (dx_interp_run_jit()) waits
		 * there for its stop; the step-by-step run never executes
		 * a stub */
		m->mem.host[off] = 0xeb;
		m->mem.host[off + 1] = 0xfe;
		put64(m, P_IDT + 16 * v, (off & 0xffff) | (0x08ull << 16) |
		      ((0x8eull | dpl << 5) << 40) | ((off >> 16) << 48));
		put64(m, P_IDT + 16 * v + 8, off >> 32);
	}
	put64(m, P_TSS + 4, P_KSTK);                   /* RSP0 */
	/* No I/O permission bit map: its base beyond the limit, as Linux
	 * gives a task without ioperm() (SDM Vol. 1 §19.5.2), so IN/OUT
	 * at CPL 3 raise #GP as on the host. */
	m->mem.host[P_TSS + 0x66] = 0x68;
}

/* A level-3 model runs with the AVX state enabled, as Linux leaves it
 * for user code (the host side's): CR4.OSXSAVE (user_regs) and XCR0 =
 * x87 | SSE | AVX, set by XSETBV at CPL 0 from a stub in the supervisor
 * low 2 MiB (mov eax, 7; xor edx, edx; xor ecx, ecx; xsetbv). */
#define P_XSTUB 0x9000ull
static void user_regs(struct rax_regs *r, const struct dx_state *in,
		      bool m32, bool osxsave);

static int enable_avx(struct machine *m)
{
	static const uint8_t stub[] = { 0xb8, 7, 0, 0, 0, 0x31, 0xd2, 0x31,
					0xc9, 0x0f, 0x01, 0xd1 };
	struct dx_state none;
	struct rax_regs r;
	struct vcpu_stop stop;
	struct rax_err e;

	memset(&none, 0, sizeof(none));
	memcpy(m->mem.host + P_XSTUB, stub, sizeof(stub));
	user_regs(&r, &none, false, true);
	r.seg[S_CS] = (struct rax_seg){ .sel = 0x08, .type = 11, .s = 1,
		.present = 1, .l = 1, .g = 1, .limit = 0xffffffff };
	r.seg[S_SS] = (struct rax_seg){ .sel = 0x10, .type = 3, .s = 1,
		.present = 1, .db = 1, .g = 1, .limit = 0xffffffff };
	r.rip = P_XSTUB;
	r.gpr[R_RSP] = P_KSTK;
	m->ops->set_regs(m, 0, &r);
	for (unsigned i = 0; i < 4; i++)
		if (m->ops->run(m, VCPU_RUN_STEP, &stop, &e) ||
		    stop.reason != VCPU_STOP_STEP)
			return -1;
	m->ops->get_regs(m, 0, &r);
	return r.rip == P_XSTUB + sizeof(stub) ? 0 : -1;
}

int dx_interp_init(struct machine *m, unsigned level, bool jit,
		   bool tlb_miss)
{
	struct rax_err e;
	int ret;

	memset(m, 0, sizeof(*m));
	m->cpu_level = level;
	m->jit_hot = jit ? 1 : 0;
	m->jit_tlb_miss = tlb_miss;
	ret = gm_init(&m->mem, 4u << 20);
	if (ret)
		return ret;
	build_tables(m);
	m->ops = &cpu_vcpu_ops;
	ret = cpu_vcpu_ops.init(m, &e);
	if (ret) {
		gm_destroy(&m->mem);
		return ret;
	}
	if (level >= 3 && enable_avx(m)) {
		dx_interp_destroy(m);
		return -1;
	}
	return 0;
}

void dx_interp_destroy(struct machine *m)
{
	m->ops->destroy(m);
	gm_destroy(&m->mem);
}

static void user_regs(struct rax_regs *r, const struct dx_state *in,
		      bool m32, bool osxsave)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->gpr, in->gpr, sizeof(r->gpr));
	r->rip = DX_SEQ;
	r->rflags = in->rflags;
	r->seg[S_CS] = (struct rax_seg){ .sel = 0x33, .type = 11, .s = 1,
		.dpl = 3, .present = 1, .l = 1, .g = 1, .limit = 0xffffffff };
	r->seg[S_SS] = (struct rax_seg){ .sel = 0x2b, .type = 3, .s = 1,
		.dpl = 3, .present = 1, .db = 1, .g = 1, .limit = 0xffffffff };
	for (int s = 0; s < 6; s++)
		if (s != S_CS && s != S_SS)
			r->seg[s] = (struct rax_seg){ .unusable = 1 };
	if (m32) { /* compatibility mode: CS 0x23, DS = ES = 0x2b */
		r->seg[S_CS].sel = 0x23;
		r->seg[S_CS].l = 0;
		r->seg[S_CS].db = 1;
		r->seg[S_DS] = r->seg[S_ES] = r->seg[S_SS];
	}
	r->tr = (struct rax_seg){ .base = P_TSS, .limit = 0x67, .type = 11,
		.present = 1, .sel = 0x40 };
	r->gdt = (struct rax_dtable){ .base = P_GDT, .limit = 0x37 };
	r->idt = (struct rax_dtable){ .base = P_IDT, .limit = 0xfff };
	r->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
	r->cr3 = P_PML4;
	r->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT |
		 (osxsave ? CR4_OSXSAVE : 0);
	r->efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
}

/* Vectors that push an error code (SDM Vol. 3 Table 6-1). */
static bool has_error_code(int v)
{
	return v == 8 || (v >= 10 && v <= 14) || v == 17;
}

/* Fills the user state at the exception from the frame on the kernel
 * stack (SDM Vol. 3 Figure 6-9). */
static void from_frame(struct machine *m, const struct rax_regs *r,
		       struct dx_state *o)
{
	uint64_t sp = r->gpr[R_RSP];

	o->vec = (int)((r->rip - P_STUB) / 8);
	if (has_error_code(o->vec)) {
		o->err = get64(m, sp);
		sp += 8;
	}
	o->rip = get64(m, sp);
	o->rflags = get64(m, sp + 16);
	o->gpr[R_RSP] = get64(m, sp + 24);
	o->cr2 = o->vec == 14 ? r->cr2 : 0;
}

/* Loads s into the machine; in_jmp: with a JMP to it just before it
 * (dx_interp_run_jit()). */
static void load(struct machine *m, const struct dx_seq *s,
		 struct rax_regs *r, bool in_jmp)
{
	struct rax_fpu f;
	uint8_t page[4096];

	/* Through write_mem, as a debugger writes: the interpreter forgets
	 * the previous sequence's decoded instructions (vcpu.h). */
	memset(page, 0xcc, sizeof(page));
	memcpy(page + (DX_SEQ - DX_CODE), s->code, s->len);
	if (in_jmp) { /* jmp short DX_SEQ */
		page[DX_SEQ - DX_CODE - 2] = 0xeb;
		page[DX_SEQ - DX_CODE - 1] = 0x00;
	}
	m->ops->write_mem(m, P_CODE, page, sizeof(page));
	m->ops->write_mem(m, P_DATA, s->in.data, DX_DATA_SIZE);
	m->ops->write_mem(m, P_STACK, s->in.stack, DX_STACK_SIZE);
	user_regs(r, &s->in, s->m32, m->cpu_level >= 3);
	if (in_jmp)
		r->rip -= 2;
	m->ops->set_regs(m, 0, r);
	memcpy(f.fx, s->in.fx, 512);
	m->ops->set_fpu(m, 0, &f);
}

/* The end state after the run that left the vCPU with registers r. */
static void collect(struct machine *m, struct rax_regs *r,
		    struct dx_state *o)
{
	struct rax_fpu f;

	memcpy(o->gpr, r->gpr, sizeof(o->gpr));
	o->rip = r->rip;
	o->rflags = r->rflags;
	if ((r->seg[S_CS].sel & 3) == 0)
		from_frame(m, r, o);
	m->ops->get_fpu(m, 0, &f);
	memcpy(o->fx, f.fx, 512);
	memcpy(o->data, m->mem.host + P_DATA, DX_DATA_SIZE);
	memcpy(o->stack, m->mem.host + P_STACK, DX_STACK_SIZE);
}

int dx_interp_run(struct machine *m, const struct dx_seq *s,
		  struct dx_state *o)
{
	uint64_t end = DX_SEQ + s->len;
	struct rax_regs r;
	struct vcpu_stop stop;
	struct rax_err e;
	unsigned i;

	load(m, s, &r, false);
	o->vec = -1;
	o->err = o->cr2 = 0;
	for (i = 0;; i++) {
		if (i == MAX_STEPS || m->ops->run(m, VCPU_RUN_STEP, &stop, &e) ||
		    stop.reason != VCPU_STOP_STEP) {
			o->vec = -2;
			return -1;
		}
		m->ops->get_regs(m, 0, &r);
		if (r.rip == end && (r.seg[S_CS].sel & 3) == 3)
			break;
		if ((r.seg[S_CS].sel & 3) == 0 && r.rip >= P_STUB &&
		    r.rip < P_STUB + 8 * 256)
			break;
	}
	collect(m, &r, o);
	return (int)i + 1;
}

int dx_interp_run_jit(struct machine *m, const struct dx_seq *s,
		      unsigned steps, struct dx_state *o)
{
	const struct vcpu_snap_ops *sn = m->ops->snap;
	uint64_t end = DX_SEQ + s->len;
	struct rax_regs r;
	struct vcpu_stop stop;
	struct rax_err e;

	load(m, s, &r, true);
	o->vec = -1;
	o->err = o->cr2 = 0;
	/* The JMP, the sequence's instructions and the INT3 after it, or
	 * the fault, then the stub's JMP $ until the clock stops the run
	 * (a margin: a fault retires nothing). */
	sn->stop_at(m, sn->last_end(m, 0) + (steps + 2 + 16) * sn->insn_ns,
		    VCPU_AT_POST);
	if (m->ops->run(m, 0, &stop, &e) || stop.reason != VCPU_STOP_KICK) {
		sn->stop_at(m, TIMER_NEVER, VCPU_AT_POST);
		o->vec = -2;
		return -1;
	}
	sn->stop_at(m, TIMER_NEVER, VCPU_AT_POST);
	m->ops->get_regs(m, 0, &r);
	if ((r.seg[S_CS].sel & 3) || r.rip < P_STUB ||
	    r.rip >= P_STUB + 8 * 256 || (r.rip - P_STUB) % 8) {
		o->vec = -2;
		o->rip = r.rip;
		return -1;
	}
	collect(m, &r, o);
	if (o->vec == EXC_BP_VEC && o->rip == end + 1) {
		o->vec = -1; /* the sequence's end, as the step-by-step run */
		o->rip = end;
	}
	return 0;
}

