/* The interpreter's private state and the helpers its instruction
 * handlers share.  Nothing outside src/cpu includes this header; the rest
 * of rax sees only cpu_vcpu_ops (vcpu.h).
 *
 * Execution model: handlers run with c->rip at the instruction start and
 * c->next_rip after it; a fault anywhere (memory access, privilege check)
 * calls cpu_raise(), which longjmps back to the run loop with no partial
 * register update committed.  Handlers therefore read and check every
 * operand before writing any register, and write memory last. */
#ifndef RAX_CPU_CPU_H
#define RAX_CPU_CPU_H

#include <setjmp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "decoder/decoder.h"
#include "regs.h"
#include "vcpu.h"

struct machine;
struct intc;
struct rax_err;

/* Exception vectors (SDM Vol. 3 §6.3.1). */
enum { EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4,
       EXC_BR = 5, EXC_UD = 6, EXC_NM = 7, EXC_DF = 8, EXC_TS = 10,
       EXC_NP = 11, EXC_SS = 12, EXC_GP = 13, EXC_PF = 14, EXC_MF = 16,
       EXC_AC = 17, EXC_MC = 18, EXC_XM = 19 };

#define DR6_BS (1ull << 14) /* single step (SDM Vol. 3 §18.2.3) */

/* Lazy-flag producers: the last ALU result and its inputs stand in for
 * CF PF AF ZF SF OF until someone reads RFLAGS. */
enum { LF_NONE, LF_ADD, LF_SUB, LF_LOGIC, LF_INC, LF_DEC };

enum { TLB_READ, TLB_WRITE, TLB_FETCH, TLB_KINDS };
#define TLB_SIZE 256
#define TLB_INVALID 0xfffull /* never equals a page-aligned tag */

struct tlb_entry {
	uint64_t tag;      /* linear page | 1 when filled for CPL 3 */
	uintptr_t addend;  /* host address = addend + linear address */
	uint64_t pa_page;  /* physical page */
	bool global;
};

/* Decoded-instruction cache: straight-line runs ("blocks") of up to
 * BLK_INSNS instructions within one physical page, keyed by the physical
 * address of the first and the decoding mode.  Sequential execution walks
 * a block without any lookup; a taken branch, a TLB flush, a mode change
 * or a store to the page (cpu_code_write) ends the walk. */
#define BLK_INSNS 24
#define BLK_BITS 15
#define BLK_COUNT (1u << BLK_BITS)
#define BLK_EMPTY (~0ull)

struct block {
	uint64_t tag;      /* as blk_tags[] below, or BLK_EMPTY */
	unsigned n, chain_rr;
	struct dec_insn d[BLK_INSNS];
	/* Chaining: successors seen after this block, valid while the
	 * translation epoch (bumped by every TLB flush), the CPL and the
	 * successor's tag are unchanged; saves the fetch translation and the
	 * set lookup on most taken branches. */
	uint64_t next_rip[2], next_tag[2];
	struct block *next[2];
	uint32_t next_key[2];
} __attribute__((aligned(64)));

/* Decoded in place of an x87/MMX/SSE instruction that raises #NM
 * (CR0.TS, CR0.EM).  0F 3A FE is undefined: the decoder never returns
 * it as a valid opcode. */
#define CPU_OP_NM 0x3fe

/* Tags: physical address (bits 0-47), generation (48-55), mode (56-59),
 * fpu_trap (63).
 * Bumping the generation forgets every block at once. */
static inline uint64_t blk_pa(uint64_t tag)
{
	return tag & ((1ull << 48) - 1);
}

/* Virtual time per instruction.  The clock (and the 1 GHz TSC) advance
 * by this much per retired instruction: a guest that busy-waits on time
 * (PIT calibration, the RNG's jitter-entropy loop, udelay) sees a CPU of
 * 1000 / CPU_INSN_NS MIPS, near what the interpreter really executes, so
 * its waits take about as long in real time as on hardware. */
#ifndef CPU_INSN_NS
#define CPU_INSN_NS 10
#endif

#define CPU_MAX_BP 8

/* Counters printed by --stats: one X-macro list (STYLE.md habit 6). */
#define CPU_STATS(X) \
	X(tlb_hit) X(tlb_miss) X(blk_chain) X(blk_hit) X(blk_miss) X(blk_evict) \
	X(decoded) X(xpage) X(smc_flush) X(irq) X(halt) X(tlb_flush)

struct cpu {
	struct machine *m;
	uint64_t r[16];
	uint64_t rip, next_rip;
	uint64_t rflags;          /* arithmetic flags stale when lf_op set */
	uint64_t lf_res, lf_a, lf_b;
	uint8_t lf_op, lf_sz;

	struct rax_seg seg[6], ldt, tr;
	struct rax_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, efer;
	uint64_t dr[4], dr6, dr7;
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base, tsc_aux, pat;
	uint64_t misc_enable, tsc_offset;
	unsigned cpl;
	enum dec_mode mode;

	uint8_t fx[512] __attribute__((aligned(16))); /* FXSAVE image */

	struct tlb_entry tlb[TLB_KINDS][TLB_SIZE];
	struct block *blocks;
	uint64_t *blk_tags;       /* copy of every block's tag, for lookups */
	uint8_t *blk_lru;         /* per 2-way set: the way to refill */
	struct block *blk;        /* block being walked, or NULL */
	unsigned blk_i;           /* next instruction in blk */
	uint64_t blk_rip;         /* rip that continues blk */
	uint32_t epoch;           /* translation epoch for block chaining */
	unsigned blk_gen;         /* block generation, 0-255 */
	uint8_t *code_page;      /* per 4 KiB physical page: decoded code */
	uint64_t code_pages;

	uint64_t icount;          /* the clock in ns: CPU_INSN_NS per
				     retired instruction plus HLT skips
				     (with --clock host: the loop's
				     instruction counter only) */
	uint64_t host_base;       /* CLOCK_MONOTONIC at init, for idling;
				     virtual clock: moved back by the lead
				     cpu_idle() forgives */
	uint64_t idle_ns;         /* clock advanced by HLT, not instructions */
	/* Futex word: kick() and interrupts raised by other threads bump
	 * it and wake an idle sleep on it (event.c cpu_wake_idle), so a halted
	 * guest stops for gdb's Ctrl-C, or takes console input, at once. */
	_Atomic uint32_t idle_wake;
	/* icount of the next event check; other threads (kick, set_irq)
	 * store 0 into it to force a check soon. */
	_Atomic uint64_t next_check;
	uint64_t shadow_end;      /* interrupts inhibited until icount */
	atomic_bool kick;
	/* A device thread wrote a page holding decoded code (cpu.c
	 * cpu_mem_written): forget every decoded block at the next event
	 * check, before the guest can run it. */
	atomic_bool dma_code_write;
	pthread_t thread;         /* the thread in run() */
	/* --clock host: the guest's time is the host's (HLT sleeps in
	 * idle_wait() until the next deadline or a cpu_wake_idle()). */
	bool host_clock;
	bool halted, trace, trace_crlf, step, sys_access;
	bool nmi_blocked;         /* an NMI was delivered, no IRET since */
	/* Single step (RFLAGS.TF): set by MOV SS, by every delivery, and
	 * a trap held over MOV SS (event.c cpu_single_step_trap). */
	bool mov_ss, delivered, db_pending;
	/* SYSCALL and SYSRET single-step by the flags they leave, not the
	 * ones they start with (Xen XSA-204; SDM Vol. 3 §18.3.1.4 does not
	 * say): they set tf_result and db_now = resulting TF. */
	bool tf_result, db_now;
	/* CR0.TS, CR0.EM or !CR4.OSFXSR: x87/MMX/SSE instructions may
	 * fault; decoded under this state into separate blocks (tag bit
	 * 63) with the faulting ones replaced by DEC_OP_UD/CPU_OP_NM. */
	bool fpu_trap;
	/* x87 exception flags the current x87 instruction raised (x87.c). */
	uint16_t x87_raised;
	int exc_vec, exc_depth;
	uint32_t exc_err;
	bool exc_has_err;
	jmp_buf jb;

	struct intc *intc;
	unsigned nbp, nwp;
	uint64_t bp[CPU_MAX_BP];
	enum bp_type bp_type[CPU_MAX_BP];
	struct { uint64_t addr, len; enum bp_type t; } wp[CPU_MAX_BP];
	bool watch_hit;
	enum vcpu_stop_reason last_stop; /* of the previous run() */
	uint64_t watch_addr;
	enum bp_type watch_type;

#define CPU_STAT_FIELD(n) uint64_t st_##n;
	CPU_STATS(CPU_STAT_FIELD)
#undef CPU_STAT_FIELD
	uint64_t st_vec[256];
};

typedef void (*cpu_handler)(struct cpu *c, const struct dec_insn *d);

/* --- the loop, time, faults (cpu.c) ------------------------------------ */
/* The guest's time in ns (its clock and its 1 GHz TSC): icount, or with
 * --clock host the host's CLOCK_MONOTONIC since the engine started. */
uint64_t cpu_now(struct cpu *c);
/* Records exception vec and longjmps to the run loop, which delivers it
 * (nothing after a cpu_raise() runs). */
__attribute__((noreturn)) void cpu_raise(struct cpu *c, int vec, uint32_t err,
					  bool has_err);
#define cpu_ud(c) cpu_raise(c, EXC_UD, 0, false)
#define cpu_gp(c, e) cpu_raise(c, EXC_GP, (e), true)

/* --- events: delivery, checks, idle, single step (event.c) ------------- */
/* Delivers vector vec through the IDT with next_rip/rip as the return
 * address (soft: INT n, checked against the gate's DPL). */
void cpu_deliver(struct cpu *c, int vec, bool has_err, uint32_t err,
		 bool soft);
/* Delivers the exception cpu_raise() recorded, escalating to #DF;
 * returns false on a triple fault. */
bool cpu_handle_exception(struct cpu *c);
/* Runs due timers, takes a pending NMI or interrupt, and sets the next
 * check.  Returns true when run() must return (a kick or exit request). */
bool cpu_check_events(struct cpu *c);
/* HLT: advances the clock or sleeps.  Returns 0, or -1 with *e when the
 * guest halted with interrupts disabled. */
int cpu_idle(struct cpu *c, struct rax_err *e);
/* Wakes an HLT sleeping in cpu_idle(), from any thread. */
void cpu_wake_idle(struct cpu *c);
void cpu_single_step_deliver(struct cpu *c);
void cpu_single_step_trap(struct cpu *c, bool tf);
void cpu_tf_from_result(struct cpu *c);

/* --- the decoded-instruction cache (block.c) ---------------------------- */
int cpu_blocks_init(struct cpu *c);
void cpu_blocks_free(struct cpu *c);
void cpu_blocks_flush(struct cpu *c);
void cpu_update_fpu_trap(struct cpu *c);
/* A taken branch or a block end: follows a chain, else looks up (and
 * maybe builds) the block at rip; an instruction that cannot be cached
 * is decoded into *tmp.  Raises #GP/#PF for a bad fetch. */
const struct dec_insn *cpu_fetch_lookup(struct cpu *c, struct dec_insn *tmp);

/* The next instruction: the fast path continues the current block. */
static inline const struct dec_insn *cpu_fetch(struct cpu *c,
					       struct dec_insn *tmp)
{
	struct block *b = c->blk;

	if (b && c->rip == c->blk_rip && c->blk_i < b->n) {
		const struct dec_insn *d = &b->d[c->blk_i++];

		c->blk_rip += d->len;
		return d;
	}
	return cpu_fetch_lookup(c, tmp);
}

/* --- flags (alu.c) ------------------------------------------------------ */
uint64_t cpu_get_rflags(const struct cpu *c);
void cpu_set_rflags(struct cpu *c, uint64_t v);
bool cpu_cond(const struct cpu *c, unsigned cc);
bool cpu_cf(const struct cpu *c);
void cpu_incdec_E(struct cpu *c, const struct dec_insn *d, unsigned n);

/* --- memory (mem.c) ----------------------------------------------------- */
void cpu_tlb_flush(struct cpu *c, bool keep_global);
void cpu_tlb_flush_page(struct cpu *c, uint64_t la);
void cpu_mem_slow(struct cpu *c, uint64_t la, void *buf, unsigned n,
		  int kind);
uint64_t cpu_translate(struct cpu *c, uint64_t la, int kind, bool user);
/* Looks up a physical RAM pointer for fetch: returns host pointer or NULL. */
const uint8_t *cpu_fetch_ptr(struct cpu *c, uint64_t la, uint64_t *pa,
			     unsigned *avail);
void cpu_code_write(struct cpu *c, uint64_t pa, unsigned n);
/* Does physical page pa hold decoded code?  (A racy read is harmless:
 * marks are only set on the vCPU thread.) */
bool cpu_is_code_page(const struct cpu *c, uint64_t pa);
void cpu_mark_code(struct cpu *c, uint64_t pa);

static inline bool cpu_user(const struct cpu *c)
{
	return c->cpl == 3 && !c->sys_access;
}

static inline struct tlb_entry *tlb_hit(struct cpu *c, int kind,
					uint64_t la, unsigned n)
{
	struct tlb_entry *e = &c->tlb[kind][(la >> 12) & (TLB_SIZE - 1)];

	if (e->tag == ((la & ~0xfffull) | cpu_user(c)) &&
	    (la & 0xfff) <= 4096 - n) {
		c->st_tlb_hit++; /* a miss is counted by cpu_translate() */
		return e;
	}
	return NULL;
}

#define DEF_MEM(bits)                                                     \
static inline uint##bits##_t rd##bits(struct cpu *c, uint64_t la)         \
{                                                                         \
	struct tlb_entry *e = tlb_hit(c, TLB_READ, la, bits / 8);         \
	uint##bits##_t v;                                                 \
	if (e) {                                                          \
		memcpy(&v, (void *)(e->addend + (uintptr_t)la), sizeof(v)); \
		return v;                                                 \
	}                                                                 \
	cpu_mem_slow(c, la, &v, bits / 8, TLB_READ);                      \
	return v;                                                         \
}                                                                         \
static inline void wr##bits(struct cpu *c, uint64_t la, uint##bits##_t v) \
{                                                                         \
	struct tlb_entry *e = tlb_hit(c, TLB_WRITE, la, bits / 8);        \
	if (e) {                                                          \
		memcpy((void *)(e->addend + (uintptr_t)la), &v, sizeof(v)); \
		return;                                                   \
	}                                                                 \
	cpu_mem_slow(c, la, &v, bits / 8, TLB_WRITE);                     \
}
DEF_MEM(8)
DEF_MEM(16)
DEF_MEM(32)
DEF_MEM(64)
#undef DEF_MEM

/* Sized access: n = 1, 2, 4, 8. */
static inline uint64_t rdn(struct cpu *c, uint64_t la, unsigned n)
{
	switch (n) {
	case 1: return rd8(c, la);
	case 2: return rd16(c, la);
	case 4: return rd32(c, la);
	default: return rd64(c, la);
	}
}

static inline void wrn(struct cpu *c, uint64_t la, uint64_t v, unsigned n)
{
	switch (n) {
	case 1: wr8(c, la, (uint8_t)v); break;
	case 2: wr16(c, la, (uint16_t)v); break;
	case 4: wr32(c, la, (uint32_t)v); break;
	default: wr64(c, la, v); break;
	}
}

/* Checks a write to [la, la+n) can complete (for read-modify-write
 * ordering): raises the fault now if not. */
void cpu_probe_write(struct cpu *c, uint64_t la, unsigned n);

/* --- operands (ops.c) --------------------------------------------------- */
static inline uint64_t sz_mask(unsigned n)
{
	return n >= 8 ? ~0ull : (1ull << (8 * n)) - 1;
}

/* Linear address of a memory operand (segment base only for FS/GS in
 * 64-bit mode: SDM Vol. 3 §3.2.4). */
static inline uint64_t cpu_ea(const struct cpu *c, const struct dec_insn *d)
{
	uint64_t ea = (uint64_t)(int64_t)d->disp;
	unsigned s;

	if (d->riprel)
		ea += c->next_rip;
	if (d->base != DEC_NOREG)
		ea += c->r[d->base];
	if (d->index != DEC_NOREG)
		ea += c->r[d->index] << d->scale;
	if (d->adsz != 8)
		ea &= sz_mask(d->adsz);
	s = d->seg;
	if (c->mode == DEC_MODE64) {
		if (s == S_FS || s == S_GS)
			ea += c->seg[s].base;
		return ea;
	}
	if (s == DEC_NOREG)
		s = (d->base == R_RSP || d->base == R_RBP) ? S_SS : S_DS;
	return (ea + c->seg[s].base) & 0xffffffffull;
}

/* Register read/write honouring 8-bit high registers and the 32-bit
 * zero-extension rule (SDM Vol. 1 §3.4.1.1). */
static inline uint64_t greg(const struct cpu *c, unsigned r, unsigned n,
			    bool rex)
{
	if (n == 1) {
		if (!rex && r >= 4 && r < 8)
			return (c->r[r - 4] >> 8) & 0xff;
		return c->r[r] & 0xff;
	}
	return c->r[r] & sz_mask(n);
}

static inline void sreg_w(struct cpu *c, unsigned r, unsigned n, bool rex,
			  uint64_t v)
{
	switch (n) {
	case 1:
		if (!rex && r >= 4 && r < 8)
			c->r[r - 4] = (c->r[r - 4] & ~0xff00ull) |
				      ((v & 0xff) << 8);
		else
			c->r[r] = (c->r[r] & ~0xffull) | (v & 0xff);
		break;
	case 2: c->r[r] = (c->r[r] & ~0xffffull) | (v & 0xffff); break;
	case 4: c->r[r] = (uint32_t)v; break;
	default: c->r[r] = v; break;
	}
}

/* The E operand (ModRM r/m) of size n. */
static inline uint64_t rd_E(struct cpu *c, const struct dec_insn *d,
			    unsigned n)
{
	if (d->mod == 3)
		return greg(c, d->rm, n, d->rex);
	return rdn(c, cpu_ea(c, d), n);
}

static inline void wr_E(struct cpu *c, const struct dec_insn *d, unsigned n,
			uint64_t v)
{
	if (d->mod == 3)
		sreg_w(c, d->rm, n, d->rex, v);
	else
		wrn(c, cpu_ea(c, d), v, n);
}

/* Stack: push/pop with the operand size given. */
static inline uint64_t stack_mask(const struct cpu *c)
{
	if (c->mode == DEC_MODE64)
		return ~0ull;
	return c->seg[S_SS].db ? 0xffffffffull : 0xffffull;
}

static inline void cpu_push(struct cpu *c, uint64_t v, unsigned n)
{
	uint64_t sp = (c->r[R_RSP] - n) & stack_mask(c);

	wrn(c, sp + (c->mode == DEC_MODE64 ? 0 : c->seg[S_SS].base), v, n);
	c->r[R_RSP] = (c->r[R_RSP] & ~stack_mask(c)) | sp;
}

static inline uint64_t cpu_pop(struct cpu *c, unsigned n)
{
	uint64_t sp = c->r[R_RSP] & stack_mask(c);
	uint64_t v = rdn(c, sp + (c->mode == DEC_MODE64 ? 0 :
			 c->seg[S_SS].base), n);

	c->r[R_RSP] = (c->r[R_RSP] & ~stack_mask(c)) |
		      ((sp + n) & stack_mask(c));
	return v;
}

/* --- x87 (x87.c) -------------------------------------------------------- */
/* Recomputes FSW.ES and B from the exception flags and FCW masks after
 * FXRSTOR. */
void cpu_x87_sync_es(struct cpu *c);
/* Raises #MF when FSW.ES is set (WAIT/FWAIT and waiting x87). */
void cpu_x87_wait(struct cpu *c);

/* --- flags masks (ops.c) ------------------------------------------------ */
uint64_t cpu_flags_mask(const struct cpu *c);

/* --- system (sys.c) ----------------------------------------------------- */
void cpu_load_seg(struct cpu *c, unsigned s, uint16_t sel);
void cpu_set_cr0(struct cpu *c, uint64_t v);
void cpu_set_cr4(struct cpu *c, uint64_t v);
void cpu_update_mode(struct cpu *c);
int cpu_rdmsr(struct cpu *c, uint32_t msr, uint64_t *v);
int cpu_wrmsr(struct cpu *c, uint32_t msr, uint64_t v);
void cpu_far_jump(struct cpu *c, uint16_t sel, uint64_t off, bool call,
		  unsigned n);
void cpu_far_return(struct cpu *c, unsigned n, uint16_t pop_extra,
		    bool iret);

/* Handlers: every name in opcodes.def. */
#define X(id, h, mn, ops, fl) void h(struct cpu *c, const struct dec_insn *d);
#include "decoder/opcodes.def"
#undef X

#endif
