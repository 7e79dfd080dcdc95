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
struct cpu_icache;
struct rax_err;

/* Exception vectors (SDM Vol. 3 §6.3.1). */
enum { EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4,
       EXC_BR = 5, EXC_UD = 6, EXC_NM = 7, EXC_DF = 8, EXC_TS = 10,
       EXC_NP = 11, EXC_SS = 12, EXC_GP = 13, EXC_PF = 14, EXC_MF = 16,
       EXC_AC = 17, EXC_MC = 18, EXC_XM = 19 };

#define DR6_BS (1ull << 14) /* single step (SDM Vol. 3 §18.2.3) */

/* Lazy-flag producers: the last ALU result and its inputs stand in for
 * CF PF AF ZF SF OF until someone reads RFLAGS.  LF_ADC and LF_SBB are
 * ADC and SBB with a carry (borrow) in; without one they are LF_ADD and
 * LF_SUB.  LF_CO (MUL, IMUL, shifts): CF and OF given (lf_a, lf_b: 0
 * or 1), AF clear, SF ZF PF from lf_res (for MUL and IMUL the SDM leaves
 * those four undefined, for shifts AF). */
enum { LF_NONE, LF_ADD, LF_SUB, LF_LOGIC, LF_INC, LF_DEC, LF_ADC, LF_SBB,
       LF_CO };

enum { TLB_READ, TLB_WRITE, TLB_FETCH, TLB_KINDS };
#define TLB_SIZE 256
#define TLB_INVALID 0xfffull /* never equals a page-aligned tag */
#define TLB_LOG 64

struct tlb_entry {
	uint64_t tag;      /* linear page | 1 when filled for CPL 3 */
	uintptr_t addend;  /* host address = addend + linear address */
	uint64_t pa_page;  /* physical page */
	bool global;
};

struct cpu;
typedef void (*cpu_handler)(struct cpu *c, const struct dec_insn *d);

/* A handler's variants for one operand form and size, chosen at decode
 * (cpu_select_handler()): r[] for a register operand (ModRM.mod 3), b[]
 * for a memory operand at base + displacement in 64-bit mode (no index,
 * no RIP, no segment prefix: cpu_ea_k()), m[] for any other memory
 * operand, each [0] for 4-byte and [1] for 8-byte operands; any, the
 * generic handler, for the rest.  The variants are compiled from the
 * same body with the form (FORM_REG, FORM_BASE, FORM_MEM) and size
 * constant, so they test neither at run time.  Lists end with a NULL
 * any. */
enum { FORM_ANY, FORM_REG, FORM_MEM, FORM_BASE, FORM_SIB };
#define FORM_IS_MEM(k) ((k) == FORM_MEM || (k) == FORM_BASE || \
			(k) == FORM_SIB)
struct cpu_forms {
	cpu_handler any, r[2], m[2], b[2], x[2];
};
extern const struct cpu_forms cpu_alu_forms[], cpu_ops_forms[];
extern const struct cpu_forms cpu_alu_byte_forms[], cpu_ops_byte_forms[];
/* PUSH/POP r64, CALL rel32 and RET in 64-bit mode with 8-byte operands:
 * { generic, variant } pairs, ending with NULLs. */
extern const cpu_handler cpu_stack64_forms[][2];
/* Jcc (70-7F, 0F 80-8F) per condition code. */
extern const cpu_handler cpu_jcc_forms[16];
/* Per condition code: SETcc (0F 90-9F, any form), CMOVcc (0F 40-4F)
 * with a register source, 4-byte and 8-byte operands. */
extern const cpu_handler cpu_cc_forms[16][3];

/* A trace's translation (jit.c): runs the trace from its start at rip
 * with the clock at icount; returns the instructions retired, with
 * c->rip and c->icount stored. */
typedef unsigned (*cpu_jit_fn)(struct cpu *c, uint64_t rip, uint64_t icount);

/* One instruction as the decode cache holds it: the decoder's result and
 * the handler chosen for it at decode time (cpu_select_handler()). */
struct cpu_insn {
	cpu_handler fn;
	struct dec_insn d;
};

/* Decoded-instruction cache (block.c), shared by every vCPU of a machine
 * (struct cpu_icache): traces, straight-line runs of up to TRACE_MAX
 * instructions ended by a branch, keyed by the physical address of the
 * first and the decode key (mode, fpu_trap), packed one after the other
 * in a pool with a small hash index.  An instruction that crosses a page
 * is a trace of its own, a "split" trace, also tied to its second page.
 * Each physical page holding decoded code lists its traces; a store to
 * such a page (cpu_code_write) kills them (tag TRACE_DEAD), and
 * sequential execution walks a trace without any lookup.  64: lib/mpi's
 * limb loops (Linux's crypto self-tests) are 36 instructions, which 32
 * cut in two traces, a lookup each time round. */
#define TRACE_MAX 64
#define TRACE_DEAD (~0ull)

struct cpu_trace {
	uint64_t tag;      /* physical address | decode key, or TRACE_DEAD */
	uint64_t pa;       /* physical address of the first instruction */
	uint64_t pa2;      /* split: the physical page of its second part */
	uint32_t link[2];  /* next trace (pool offset) in the lists of the
			      start page and, if split, of page pa2 */
	uint16_t n;        /* instructions */
	bool split;
	uint8_t chain_rr;  /* the link to replace next */
	uint32_t heat;     /* fast-path entries before translation (jit.c) */
	cpu_jit_fn jit;    /* its translation, or NULL */
	/* Chaining: two traces that followed this one, each valid for the
	 * key (epoch, CPL, decode key) of the vCPU that linked it.  Epochs
	 * are unique among the vCPUs of a cache, so a vCPU never follows
	 * another's link (cpu_trace_next()). */
	uint64_t next_la[2], next_key[2];
	struct cpu_trace *next[2];
	struct cpu_insn insn[];
};

/* Per vCPU: the trace last entered at each (hashed) linear address under
 * the present translation (epoch), CPL and decode key; it saves the
 * fetch translation and the index lookup on most trace transitions. */
#define JC_BITS 14
struct cpu_jc_entry {
	uint64_t la, key;
	struct cpu_trace *t;
};

/* Decode key: tag bits above the physical address (bits 0-51): mode
 * (56-59), fpu_trap (63) (cpu_update_dec_key()). */

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
	X(tlb_miss) X(chain) X(jc_hit) X(trace_hit) X(trace_miss) X(trace_kill) \
	X(decoded) X(xpage) X(ic_flush) X(smc_flush) X(irq) X(halt) X(tlb_flush) \
	X(jit) X(jit_chain)

struct cpu_engine;

struct cpu {
	struct machine *m;
	struct cpu_engine *eng;   /* the machine's vCPUs */
	unsigned id;              /* vCPU index = APIC ID */
	uint64_t r[16];
	uint64_t rip, next_rip;
	uint64_t rflags;          /* arithmetic flags stale when lf_op set */
	uint64_t lf_res, lf_a, lf_b;
	uint8_t lf_op, lf_sz;

	struct rax_seg seg[6], ldt, tr;
	struct rax_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, efer;
	uint64_t pdpte[4];        /* PAE paging: loaded from CR3 (mem.c) */
	uint64_t dr[4], dr6, dr7;
	/* The guest's breakpoints (debugreg.c): DR7-enabled instruction
	 * and data breakpoints (bit i: DRi), the data breakpoints the
	 * current instruction hit, and those of a trap MOV SS holds. */
	uint8_t dr_exec, dr_data, db_hits, db_trap;
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base, tsc_aux, pat;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t misc_enable, tsc_offset;
	uint64_t mcg_status;      /* IA32_MCG_STATUS (sys.c) */
	uint64_t tsc_adjust;      /* IA32_TSC_ADJUST (sys.c) */
	unsigned cpl;
	enum dec_mode mode;
	unsigned level;           /* the CPU model: x86-64 level 1 or 2
				     (--cpu; CPUID and #UD follow it) */

	uint8_t fx[512] __attribute__((aligned(16))); /* FXSAVE image */
	uint64_t xcr0;            /* XSAVE components enabled (xsave.c) */
	uint8_t ymmh[16][16];     /* YMM0-15 bits 255:128 (level 3) */

	struct tlb_entry tlb[TLB_KINDS][TLB_SIZE];
	/* The entries filled since the last flush (kind * TLB_SIZE + index;
	 * tlb_fills > TLB_LOG: more than the log holds), so a flush after
	 * few fills (a guest toggling CR0.WP or CR4.PGE in a loop) clears
	 * those instead of the whole TLB (mem.c). */
	uint16_t tlb_log[TLB_LOG];
	unsigned tlb_fills;
	struct cpu_icache *ic;    /* the machine's decode cache */
	struct cpu *ic_next;      /* the other vCPUs sharing it */
	/* The trace being walked: its next instruction, at rip cur_rip,
	 * and its end (both NULL: none, look up the next one). */
	const struct cpu_insn *cur_next, *cur_end;
	uint64_t cur_rip;
	/* The trace whose translation returned: a translation may go on
	 * into the next one's (jit.c emit_chain()). */
	struct cpu_trace *jit_t;
	uint64_t epoch;           /* translation epoch: bumped by every TLB
				     flush and decode-key change */
	uint64_t dec_key;         /* tag bits of the decode key */
	uint64_t jc_base;         /* jump-cache key but the CPL */
	uint64_t jc_key;          /* jc_base | cpl, for translated code's
				     chaining (jit.c) */
	struct cpu_jc_entry *jc;  /* 1 << JC_BITS entries */

	/* The machine's clock, carried by the vCPU running (cpu.c passes
	 * it on to the next one with host_base): */
	uint64_t icount;          /* the clock in ns: CPU_INSN_NS per
				     retired instruction plus HLT skips
				     (with --clock host: the loop's
				     instruction counter only) */
	uint64_t host_base;       /* CLOCK_MONOTONIC at init, for idling;
				     virtual clock: moved back by the lead
				     cpu_idle() forgives */
	uint64_t idle_ns;         /* clock advanced by HLT, not instructions */
	uint64_t insn_ns;         /* SMP: this vCPU's instructions, in ns */
	uint64_t slice_end;       /* SMP: its turn ends at this icount */
	uint64_t ran_until;       /* SMP: the clock after its last
				     retired instruction (the history's
				     reverse step of one vCPU) */
	/* icount of the next event check; other threads (kick, set_irq)
	 * store 0 into it to force a check soon. */
	_Atomic uint64_t next_check;
	uint64_t shadow_end;      /* interrupts inhibited until icount */
	/* SMP: wait-for-SIPI state (an AP before its start-up IPI, any
	 * vCPU after INIT); yield: run_loop() returned at the end of the
	 * turn or at HLT, for the next vCPU. */
	bool wait_sipi, yield;
	/* --clock host: the guest's time is the host's (HLT sleeps in
	 * idle_wait() until the next deadline or a cpu_wake_idle()). */
	bool host_clock;
	bool halted, trace, trace_crlf, step, sys_access;
	bool user;                /* cpu_user() */
	bool stats;               /* --stats: count the hit paths too */
	bool jit;                 /* translate hot traces (jit.c) */
	uint32_t jit_hot;         /* after this many fast-path entries */
	bool jit_tlb_miss;        /* machine.jit_tlb_miss (tests) */
	bool nmi_blocked;         /* an NMI was delivered, no IRET since */
	/* Single step (RFLAGS.TF): set by MOV SS, by every delivery, and
	 * a trap held over MOV SS (event.c cpu_single_step_trap). */
	bool mov_ss, delivered, db_pending;
	/* SYSCALL and SYSRET single-step by the flags they leave, not the
	 * ones they start with (Xen XSA-204; SDM Vol. 3 §18.3.1.4 does not
	 * say): they set tf_result and db_now = resulting TF. */
	bool tf_result, db_now;
	/* CR0.TS, CR0.EM or !CR4.OSFXSR: x87/MMX/SSE instructions may
	 * fault; decoded under this state into separate traces (tag bit
	 * 63) whose handlers for the faulting ones raise #UD or #NM
	 * (dispatch.c). */
	bool fpu_trap;
	/* x87 exception flags the current x87 instruction raised (x87.c). */
	uint16_t x87_raised;
	int exc_vec, exc_depth;
	int exc_first;            /* the exception being delivered */
	uint32_t exc_err;
	bool exc_has_err;
	jmp_buf jb;
	/* The slow path's instruction restores RSP when it faults. */
	uint64_t rsp_start;
	bool rsp_valid;
	/* 64-bit mode: the last non-canonical address an instruction
	 * formed through SS (an RSP- or RBP-based operand, a stack
	 * access): its access raises #SS(0), not #GP(0) (SDM Vol. 3A
	 * §6.15, Interrupt 12; cpu_translate()). */
	uint64_t nc_ss;
	char fail_msg[160];       /* cpu_fail() */

	struct intc *intc;
	unsigned nbp, nwp;
	uint64_t bp[CPU_MAX_BP];
	enum bp_type bp_type[CPU_MAX_BP];
	struct { uint64_t addr, len; enum bp_type t; } wp[CPU_MAX_BP];
	bool watch_hit;
	uint64_t watch_addr;
	enum bp_type watch_type;
	/* The history's stop (snap.c cpu_snap_ops.stop_at): run() returns
	 * once icount reaches stop_at, before the event check there
	 * (stop_pre) or after it. */
	uint64_t stop_at;
	bool stop_pre;

#define CPU_STAT_FIELD(n) uint64_t st_##n;
	CPU_STATS(CPU_STAT_FIELD)
#undef CPU_STAT_FIELD
	uint64_t st_vec[256];
};

/* The machine's vCPUs (m->engine).  One host thread runs them in turns
 * (cpu.c cpu_run): a vCPU runs until it has retired `quantum`
 * instructions, halts or stops, then the next one in index order gets
 * the clock; the machine idles only when every vCPU is halted.  An
 * SMP run thus repeats to the instruction, as a single vCPU's does. */
struct cpu_engine {
	struct machine *m;
	unsigned n;               /* vCPUs */
	unsigned cur;             /* the one running, or that ran last: it
				     holds the clock */
	uint64_t quantum_ns;      /* a turn, in clock ns */
	/* Where the turns stand, kept across run() calls (a stop in the
	 * middle of a turn does not restart it: the history's stops must
	 * not change the schedule) and saved by the history: cur's turn
	 * has begun (its slice_end is set), and the turns in a row in
	 * which no vCPU ran. */
	bool turn_open;
	unsigned idle_turns;
	atomic_bool kick;         /* kick(): run() returns */
	/* Futex word: kick() and interrupts raised by other threads bump
	 * it and wake an idle sleep on it (event.c cpu_wake_idle), so a
	 * halted guest stops for gdb's Ctrl-C, or takes console input, at
	 * once. */
	_Atomic uint32_t idle_wake;
	/* A device thread wrote a page holding decoded code (cpu.c
	 * cpu_mem_written): forget every decoded block at the next event
	 * check, before the guest can run it. */
	atomic_bool dma_code_write;
	pthread_t thread;         /* the thread in run() */
	struct cpu *cpu[];        /* n of them; cpu[0] is the BSP */
};

/* --- the loop, time, faults (cpu.c) ------------------------------------ */
/* The guest's time in ns (its clock and its 1 GHz TSC): icount, or with
 * --clock host the host's CLOCK_MONOTONIC since the engine started. */
uint64_t cpu_now(struct cpu *c);
/* The guest's debug registers (debugreg.c): after a write to DR0-DR3
 * or DR7; the instruction breakpoint check before each instruction
 * (raises #DB); data breakpoints of an access; whether a page holds
 * one; general detect before a MOV DR (raises #DB); GD cleared by a
 * #DB delivery. */
void cpu_dr_update(struct cpu *c);
void cpu_dr_exec_check(struct cpu *c);
void cpu_dr_watch(struct cpu *c, uint64_t la, unsigned n, int kind);
bool cpu_dr_watch_page(const struct cpu *c, uint64_t page);
void cpu_dr_access(struct cpu *c);
void cpu_dr_clear_gd(struct cpu *c);
/* Records exception vec and longjmps to the run loop, which delivers it
 * (nothing after a cpu_raise() runs). */
__attribute__((noreturn)) void cpu_raise(struct cpu *c, int vec, uint32_t err,
					  bool has_err);
#define cpu_ud(c) cpu_raise(c, EXC_UD, 0, false)
/* #UD unless the CPU model is x86-64 level n or higher. */
#define cpu_need_level(c, n) do { if ((c)->level < (n)) cpu_ud(c); } while (0)
#define cpu_gp(c, e) cpu_raise(c, EXC_GP, (e), true)
/* Ends the run with an engine error (exit status 3 and a register dump)
 * for what the interpreter does not implement, e.g. a hardware task
 * switch: the message is one line, printf-style. */
__attribute__((noreturn, format(printf, 2, 3)))
void cpu_fail(struct cpu *c, const char *fmt, ...);

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
/* The same without the check, for a machine whose vCPUs are all halted
 * (c holds the clock). */
void cpu_idle_clock(struct cpu *c);
/* Wakes an HLT sleeping in cpu_idle(), from any thread. */
void cpu_wake_idle(struct cpu_engine *eng);
void cpu_single_step_deliver(struct cpu *c);
void cpu_single_step_trap(struct cpu *c, bool tf);
void cpu_tf_from_result(struct cpu *c);

/* --- the history's support (snap.c) ----------------------------------- */
extern const struct vcpu_snap_ops cpu_snap_ops;

/* --- handler selection (dispatch.c) ------------------------------------ */
/* The handler that runs d in c's present state, chosen once when d is
 * decoded into the cache: the opcode list's, or the #UD/#NM that CR0.TS,
 * CR0.EM and CR4.OSFXSR give x87/MMX/SSE instructions under fpu_trap. */
cpu_handler cpu_select_handler(const struct cpu *c, const struct dec_insn *d);
/* The opcode list's handler of op (before any form is chosen). */
cpu_handler cpu_opcode_handler(unsigned op);

/* --- the trace translator (jit.c) --------------------------------------- */
/* Fast-path entries of a trace before it is translated. */
#define JIT_HOT 16
/* Writes the translation of t into buf (cap bytes); returns its size,
 * 0 when it does not fit (a trace of calls alone is translated too:
 * direct calls and chaining).  tlb_miss (tests): every translated
 * memory access takes its out-of-line handler. */
size_t cpu_jit_emit(const struct cpu_trace *t, uint8_t *buf, size_t cap,
		    bool tlb_miss);

/* --- the decoded-instruction cache (block.c) ---------------------------- */
/* Creates the machine's decode cache and attaches c to it; further vCPUs
 * attach with cpu_icache_attach().  Returns 0 or -ENOMEM. */
int cpu_icache_create(struct cpu *c);
int cpu_icache_attach(struct cpu *c, struct cpu_icache *ic);
/* Detaches c; the last vCPU frees the cache. */
void cpu_icache_detach(struct cpu *c);
/* Forgets every decoded instruction of every vCPU. */
void cpu_icache_flush(struct cpu *c);
/* Translates t (jit.c) if it is worth it and there is room: true when
 * t->jit is then set. */
bool cpu_trace_translate(struct cpu *c, struct cpu_trace *t);
/* Recomputes the decode key and the jump-cache key from the mode,
 * fpu_trap and epoch; every change to them calls it. */
void cpu_update_dec_key(struct cpu *c);
/* A new translation epoch (a TLB flush): unique among the vCPUs sharing
 * the cache, it invalidates c's jump-cache entries and links. */
void cpu_new_epoch(struct cpu *c);
void cpu_update_fpu_trap(struct cpu *c);
/* Does physical page pa hold decoded code?  Such pages get no write-TLB
 * entry, so every store to them reaches cpu_code_write().  (A racy read
 * from a device thread is harmless: marks change on the vCPU thread.) */
bool cpu_is_code_page(const struct cpu *c, uint64_t pa);
/* A store to [pa, pa + n), within one page: kills the traces decoded
 * from that page (every vCPU's). */
void cpu_code_write(struct cpu *c, uint64_t pa, unsigned n);
/* The trace at linear address la when jump-cache entry e (for key)
 * missed: from the index or decoded now; enters it into e and links it
 * from prev (if not NULL).  Raises #GP/#PF for a bad fetch. */
struct cpu_trace *cpu_trace_find(struct cpu *c, uint64_t la,
				 struct cpu_jc_entry *e, uint64_t key,
				 struct cpu_trace *prev);

/* Makes t the trace that follows prev at la for key. */
static inline void cpu_trace_link(struct cpu_trace *prev, uint64_t la,
				  uint64_t key, struct cpu_trace *t)
{
	unsigned k = prev->chain_rr ^= 1;

	prev->next_la[k] = la;
	prev->next_key[k] = key;
	prev->next[k] = t;
}

static inline unsigned cpu_jc_hash(uint64_t la)
{
	return (unsigned)((la * 0x9e3779b97f4a7c15ull) >> (64 - JC_BITS));
}

/* A taken branch or a trace end: the trace at rip, after prev (NULL:
 * none known): a link of prev, else the jump cache, else
 * cpu_trace_find().  stats: count the hits (--stats; the run loop has a
 * variant for it). */
static inline struct cpu_trace *cpu_trace_next(struct cpu *c,
					       struct cpu_trace *prev,
					       bool stats)
{
	uint64_t la = c->rip, key = c->jc_key;
	struct cpu_jc_entry *e;

	if (c->mode != DEC_MODE64)
		la = (la + c->seg[S_CS].base) & 0xffffffffull;
	if (prev) {
		for (unsigned k = 0; k < 2; k++) {
			if (prev->next_la[k] == la && prev->next_key[k] == key &&
			    prev->next[k]->tag != TRACE_DEAD) {
				if (stats)
					c->st_chain++;
				return prev->next[k];
			}
		}
	}
	e = &c->jc[cpu_jc_hash(la)];
	if (e->la == la && e->key == key && e->t->tag != TRACE_DEAD) {
		if (stats)
			c->st_jc_hit++;
		if (prev)
			cpu_trace_link(prev, la, key, e->t);
		return e->t;
	}
	return cpu_trace_find(c, la, e, key, prev);
}

static inline struct cpu_trace *cpu_trace_lookup(struct cpu *c, bool stats)
{
	return cpu_trace_next(c, NULL, stats);
}

/* Leaves the trace being walked: the next instruction is looked up. */
static inline void cpu_leave_trace(struct cpu *c)
{
	c->cur_next = c->cur_end = NULL;
}

/* The next instruction (the run loop's slow path): continues the trace
 * being walked, else looks up the trace at rip. */
static inline const struct cpu_insn *cpu_fetch(struct cpu *c)
{
	const struct cpu_insn *ci = c->cur_next;

	if (ci == c->cur_end || c->rip != c->cur_rip) {
		struct cpu_trace *t = cpu_trace_lookup(c, c->stats);

		ci = t->insn;
		c->cur_end = ci + t->n;
		c->cur_rip = c->rip;
	}
	c->cur_next = ci + 1;
	c->cur_rip += ci->d.len;
	return ci;
}

/* --- flags (alu.c) ------------------------------------------------------ */
uint64_t cpu_get_rflags(const struct cpu *c);
void cpu_set_rflags(struct cpu *c, uint64_t v);
bool cpu_cond(const struct cpu *c, unsigned cc);
bool cpu_cf(const struct cpu *c);

/* cpu_cond() for a constant cc: the common cases inline.  ZF and SF
 * come from any lazy result; after CMP/SUB the condition compares the
 * operands themselves, after a logic operation (CF = OF = 0) the result
 * against 0 in the same way. */
static inline __attribute__((always_inline)) bool
cpu_cond_inline(const struct cpu *c, unsigned cc)
{
	unsigned sh = 64 - 8 * c->lf_sz, t = cc & ~1u;
	uint64_t a, b;
	bool v;

	if (c->lf_op == LF_NONE || t == 0 || t == 10 ||
	    (c->lf_op != LF_SUB && c->lf_op != LF_LOGIC && t != 4 && t != 8))
		return cpu_cond(c, cc);
	if (t == 4 || t == 8) {
		a = c->lf_res << sh;
		v = t == 4 ? a == 0 : (int64_t)a < 0;
		return v ^ (cc & 1);
	}
	a = (c->lf_op == LF_SUB ? c->lf_a : c->lf_res) << sh;
	b = c->lf_op == LF_SUB ? c->lf_b << sh : 0;
	switch (t) {
	case 2: v = a < b; break;
	case 6: v = a <= b; break;
	case 12: v = (int64_t)a < (int64_t)b; break;
	default: v = (int64_t)a <= (int64_t)b; break;
	}
	return v ^ (cc & 1);
}

/* --- memory (mem.c) ----------------------------------------------------- */
void cpu_tlb_flush(struct cpu *c, bool keep_global);
void cpu_tlb_flush_page(struct cpu *c, uint64_t la);
void cpu_mem_slow(struct cpu *c, uint64_t la, void *buf, unsigned n,
		  int kind);
uint64_t cpu_translate(struct cpu *c, uint64_t la, int kind, bool user);
/* PAE paging outside IA-32e mode: loads into c->pdpte the PDPTEs a MOV
 * to CR0/CR3/CR4 with these values loads (SDM Vol. 3 §4.4.1).  Returns
 * false, changing nothing, when a present one has reserved bits set (the
 * MOV raises #GP(0)); a table outside RAM reads as absent entries. */
bool cpu_load_pdptes(struct cpu *c, uint64_t cr0, uint64_t cr3,
		     uint64_t cr4);
/* Whether these values select PAE paging outside IA-32e mode. */
static inline bool cpu_pae_legacy(uint64_t cr0, uint64_t cr4, uint64_t efer)
{
	return (cr0 & CR0_PG) && (cr4 & CR4_PAE) && !(efer & EFER_LMA);
}
/* Looks up a physical RAM pointer for fetch: returns host pointer or NULL. */
const uint8_t *cpu_fetch_ptr(struct cpu *c, uint64_t la, uint64_t *pa,
			     unsigned *avail);

/* A 48-bit canonical address: bits 63:47 all equal (Vol. 1 §3.3.7.1). */
static inline bool cpu_canonical(uint64_t la)
{
	return (uint64_t)((int64_t)(la << 16) >> 16) == la;
}

/* A user-mode access: CPL 3 and not an implicit supervisor access (the
 * TLB's tag bit 0).  Kept in c->user by the two setters below, which
 * every change of cpl and sys_access goes through: the TLB hit path
 * reads one byte. */
static inline bool cpu_user(const struct cpu *c)
{
	return c->user;
}

static inline void cpu_set_cpl(struct cpu *c, unsigned cpl)
{
	c->cpl = cpl;
	c->user = cpl == 3 && !c->sys_access;
	c->jc_key = c->jc_base | cpl;
}

static inline void cpu_set_sys_access(struct cpu *c, bool sys)
{
	c->sys_access = sys;
	c->user = c->cpl == 3 && !sys;
}

static inline struct tlb_entry *tlb_hit(struct cpu *c, int kind,
					uint64_t la, unsigned n)
{
	struct tlb_entry *e = &c->tlb[kind][(la >> 12) & (TLB_SIZE - 1)];

	if (e->tag == ((la & ~0xfffull) | cpu_user(c)) &&
	    (la & 0xfff) <= 4096 - n)
		return e; /* hits are not counted: this is every access */
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

/* --- segmentation (seg.c) ----------------------------------------------- */
/* Outside 64-bit mode a data operand's address carries its segment
 * register: bit 63 set and bit 62 clear (never a canonical address), the
 * register in bits 48-50 and the 32-bit linear address below.  The inline
 * TLB lookup never matches it; cpu_mem_slow() checks the segment's limit
 * and rights with cpu_seg_check() and goes on with the linear address. */
#define LA_SEG_TAG (1ull << 63)
static inline bool la_tagged(uint64_t la)
{
	return (la >> 62) == 2;
}

static inline uint64_t cpu_seg_la(const struct cpu *c, unsigned s,
				  uint64_t off)
{
	return ((c->seg[s].base + off) & 0xffffffffull) | LA_SEG_TAG |
	       (uint64_t)s << 48;
}

/* la + delta: outside 64-bit mode the sum wraps in the 32-bit linear
 * address and keeps the segment tag (a negative delta would borrow from
 * it otherwise). */
static inline uint64_t cpu_la_add(const struct cpu *c, uint64_t la,
				  uint64_t delta)
{
	if (c->mode == DEC_MODE64)
		return la + delta;
	return (la & ~0xffffffffull & ~(1ull << 32)) | (uint32_t)(la + delta);
}

/* The limit and rights checks of an n-byte access of kind TLB_* at the
 * tagged address la (#GP(0), or #SS(0) through SS; Vol. 3 §5.3, §5.6).
 * Returns the 32-bit linear address. */
uint64_t cpu_seg_check(struct cpu *c, uint64_t la, unsigned n, int kind);
/* la without its segment tag (for INVLPG, CLFLUSH, watchpoints). */
uint64_t cpu_plain_la(const struct cpu *c, uint64_t la);
/* Outside 64-bit mode: #GP(0) unless the instruction d at rip lies within
 * CS's limit; wraps next_rip in 16-bit code. */
void cpu_fetch_limit(struct cpu *c, const struct dec_insn *d);
/* Implicit supervisor accesses (descriptor tables, TSS) at linear la. */
uint64_t cpu_sys_read(struct cpu *c, uint64_t la, unsigned n);
void cpu_sys_write(struct cpu *c, uint64_t la, uint64_t v, unsigned n);
/* The descriptor cache for an 8-byte descriptor d loaded with sel. */
struct rax_seg cpu_desc_seg(uint64_t d, uint16_t sel);
/* Reads sel's descriptor from the GDT or LDT; false when sel is beyond
 * the table's limit (or the LDT is unusable). */
bool cpu_read_desc(struct cpu *c, uint16_t sel, uint64_t *desc,
		   uint64_t *la);
/* LLDT (tss false) and LTR. */
void cpu_load_system_seg(struct cpu *c, bool tss, uint16_t sel);
/* LAR (which 0), LSL (1), VERR (2), VERW (3): sets ZF; *out for LAR/LSL
 * when it returns true. */
bool cpu_check_selector(struct cpu *c, uint16_t sel, int which,
			uint64_t *out);
/* Ends the run: hardware task switches are not implemented. */
__attribute__((noreturn)) void cpu_task_switch(struct cpu *c, uint16_t sel,
						const char *how);

/* A stack that a far transfer or an event delivery pushes or pops: the
 * SS descriptor cache it uses (for a new stack not loaded yet), the stack
 * pointer, the error code of its #SS (0, or the new SS selector), l64
 * for a 64-bit stack (no limit checks), sup for implicit supervisor
 * accesses (a new inner stack). */
struct cpu_stack {
	struct rax_seg ss;
	uint64_t sp;
	uint32_t err;
	bool l64, sup;
};
void cpu_stack_cur(const struct cpu *c, struct cpu_stack *k);
/* The inner stack for privilege dpl from the TSS (ext: the EXT bit of
 * its #TS/#SS error codes). */
void cpu_tss_stack(struct cpu *c, unsigned dpl, unsigned ext,
		   struct cpu_stack *k);
/* A segment load in real mode: base = sel * 16, limit and attributes
 * kept. */
void cpu_real_seg(struct cpu *c, unsigned s, uint16_t sel);
void cpu_stack_push(struct cpu *c, struct cpu_stack *k, uint64_t v,
		    unsigned n);
uint64_t cpu_stack_pop(struct cpu *c, struct cpu_stack *k, unsigned n);

/* --- operands (ops.c) --------------------------------------------------- */
static inline uint64_t sz_mask(unsigned n)
{
	return n >= 8 ? ~0ull : (1ull << (8 * n)) - 1;
}

/* Outside 64-bit mode: the segmented address (cpu_seg_la()) of offset
 * ea through d's segment, SS for a BP or SP base (seg.c). */
uint64_t cpu_ea_seg(const struct cpu *c, const struct dec_insn *d,
		    uint64_t ea);

/* Linear address of a memory operand (segment base only for FS/GS in
 * 64-bit mode: SDM Vol. 3 §3.2.4). */
static inline uint64_t cpu_ea(struct cpu *c, const struct dec_insn *d)
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
	if (__builtin_expect(c->mode == DEC_MODE64, 1)) {
		if (s == S_FS || s == S_GS)
			ea += c->seg[s].base;
		else if (__builtin_expect(!cpu_canonical(ea), 0) &&
			 (s == S_SS || (s == DEC_NOREG &&
			  (d->base == R_RSP || d->base == R_RBP))))
			c->nc_ss = ea;
		return ea;
	}
	return cpu_ea_seg(c, d, ea);
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

/* cpu_ea() of a memory operand in form k: FORM_BASE, base +
 * displacement in 64-bit mode, without segment prefix; FORM_SIB, the
 * same plus an index register scaled. */
static inline __attribute__((always_inline)) uint64_t
cpu_ea_k(struct cpu *c, const struct dec_insn *d, int k)
{
	uint64_t ea;

	if (k != FORM_BASE && k != FORM_SIB)
		return cpu_ea(c, d);
	ea = c->r[d->base] + (uint64_t)(int64_t)d->disp;
	if (k == FORM_SIB)
		ea += c->r[d->index] << d->scale;
	if ((d->base == R_RSP || d->base == R_RBP) &&
	    __builtin_expect(!cpu_canonical(ea), 0))
		c->nc_ss = ea;
	return ea;
}

/* The E operand of size n in form k (FORM_*: FORM_ANY tests d->mod). */
static inline __attribute__((always_inline)) uint64_t
rd_E_k(struct cpu *c, const struct dec_insn *d, unsigned n, int k)
{
	if (k == FORM_REG)
		return greg(c, d->rm, n, d->rex);
	if (FORM_IS_MEM(k))
		return rdn(c, cpu_ea_k(c, d, k), n);
	return rd_E(c, d, n);
}

/* The 32- and 64-bit register and memory forms of a handler with
 * operand size (cpu_forms, chosen by cpu_select_handler()): body(c, d,
 * n, k) with n and k constants. */
#define FORMS(h, body)							\
static void h##_r4(struct cpu *c, const struct dec_insn *d)		\
{ body(c, d, 4, FORM_REG); }						\
static void h##_r8(struct cpu *c, const struct dec_insn *d)		\
{ body(c, d, 8, FORM_REG); }						\
static void h##_m4(struct cpu *c, const struct dec_insn *d)		\
{ body(c, d, 4, FORM_MEM); }						\
static void h##_m8(struct cpu *c, const struct dec_insn *d)		\
{ body(c, d, 8, FORM_MEM); }						\
static void h##_b4(struct cpu *c, const struct dec_insn *d)		\
{ body(c, d, 4, FORM_BASE); }						\
static void h##_b8(struct cpu *c, const struct dec_insn *d)		\
{ body(c, d, 8, FORM_BASE); }						\
static void h##_x4(struct cpu *c, const struct dec_insn *d)		\
{ body(c, d, 4, FORM_SIB); }						\
static void h##_x8(struct cpu *c, const struct dec_insn *d)		\
{ body(c, d, 8, FORM_SIB); }
/* The byte forms (cpu_byte_forms: r[], m[], b[] of size 1, both
 * entries the same). */
#define FORMS1(h, body)							\
static void h##_r1(struct cpu *c, const struct dec_insn *d)		\
{ body(c, d, 1, FORM_REG); }						\
static void h##_m1(struct cpu *c, const struct dec_insn *d)		\
{ body(c, d, 1, FORM_MEM); }						\
static void h##_b1(struct cpu *c, const struct dec_insn *d)		\
{ body(c, d, 1, FORM_BASE); }						\
static void h##_x1(struct cpu *c, const struct dec_insn *d)		\
{ body(c, d, 1, FORM_SIB); }
#define FORMS1_ROW(h)							\
	{ h, { h##_r1, h##_r1 }, { h##_m1, h##_m1 }, { h##_b1, h##_b1 },	\
	  { h##_x1, h##_x1 } }
#define FORMS_ROW(h)							\
	{ h, { h##_r4, h##_r8 }, { h##_m4, h##_m8 }, { h##_b4, h##_b8 },	\
	  { h##_x4, h##_x8 } }

/* Stack: push/pop with the operand size given. */
static inline uint64_t stack_mask(const struct cpu *c)
{
	if (c->mode == DEC_MODE64)
		return ~0ull;
	return c->seg[S_SS].db ? 0xffffffffull : 0xffffull;
}

/* The address of stack offset sp (SS-relative outside 64-bit mode). */
static inline uint64_t cpu_stack_la(struct cpu *c, uint64_t sp)
{
	if (c->mode != DEC_MODE64)
		return cpu_seg_la(c, S_SS, sp);
	if (__builtin_expect(!cpu_canonical(sp), 0))
		c->nc_ss = sp;
	return sp;
}

static inline void cpu_push(struct cpu *c, uint64_t v, unsigned n)
{
	uint64_t sp = (c->r[R_RSP] - n) & stack_mask(c);

	wrn(c, cpu_stack_la(c, sp), v, n);
	c->r[R_RSP] = (c->r[R_RSP] & ~stack_mask(c)) | sp;
}

static inline uint64_t cpu_pop(struct cpu *c, unsigned n)
{
	uint64_t sp = c->r[R_RSP] & stack_mask(c);
	uint64_t v = rdn(c, cpu_stack_la(c, sp), n);

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

/* --- the CPU model (model.c) ------------------------------------------- */
/* CPUID leaf 1 ECX, leaf 7 EBX and leaf 80000001H ECX of x86-64 level
 * n's model. */
uint32_t cpu_model_ecx1(unsigned level);
uint32_t cpu_model_ebx7(unsigned level);
uint32_t cpu_model_ecx81(unsigned level);

/* --- BMI, LZCNT, MOVBE (bmi.c; level-3 models) --------------------------- */
void cpu_tzlzcnt(struct cpu *c, const struct dec_insn *d, bool lz);
void cpu_movbe(struct cpu *c, const struct dec_insn *d, bool store);

/* --- XSAVE (xsave.c; level-3 models) ----------------------------------- */
uint64_t cpu_xcr0_supported(const struct cpu *c);
void cpu_xsave_cpuid(const struct cpu *c, uint32_t sub, uint32_t *a,
		     uint32_t *b, uint32_t *cx, uint32_t *dx);
void cpu_xgetbv(struct cpu *c);
void cpu_xsetbv(struct cpu *c);
void cpu_xsave(struct cpu *c, uint64_t la);
void cpu_xrstor(struct cpu *c, uint64_t la);

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
