/* The interpreter engine: cpu_vcpu_ops, the run loop, exception and
 * interrupt delivery through the long-mode IDT (SDM Vol. 3 §6.14).
 *
 * Time (--clock virtual, the default): the machine clock counts retired
 * instructions, CPU_INSN_NS nanoseconds each (cpu.h), read by the guest
 * as a 1 GHz TSC; HLT with IF=1 advances the clock to the next timer
 * deadline (paced by real time when the guest is idle).  With --clock
 * host the clock is the host's monotonic clock: the run loop looks at
 * the timers every HOST_CHECK_INSNS instructions, and HLT sleeps until
 * the next deadline or until another thread raises an interrupt. */
#include "cpu/cpu.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "devices/intc.h"
#include "err.h"
#include "log.h"
#include "machine.h"
#include "paging/paging.h"
#include "symbols.h"

static void op_device_not_available(struct cpu *c, const struct dec_insn *d)
{
	cpu_raise(c, EXC_NM, 0, false);
}

static void op_unimplemented(struct cpu *c, const struct dec_insn *d)
{
	if (d->op != DEC_OP_UD)
		rax_log(LOG_WARN, cpu, "unimplemented opcode %#x at %#" PRIx64,
			d->op, c->rip);
	cpu_ud(c);
}

/* Every id starts as #UD; opcodes.def overrides the implemented ones. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
static const cpu_handler handlers[DEC_NOPS] = {
	[0 ... DEC_NOPS - 1] = op_unimplemented,
#define X(id, h, mn, ops, fl) [id] = h,
#include "decoder/opcodes.def"
#undef X
	[CPU_OP_NM] = op_device_not_available,
};
#pragma GCC diagnostic pop

#define CHECK_INTERVAL (4096 * CPU_INSN_NS)
#define HOST_CHECK_INSNS 1024 /* about 20 us at the interpreter's speed */

static uint64_t host_ns(void);
static void forget_blocks(struct cpu *c);

void cpu_raise(struct cpu *c, int vec, uint32_t err, bool has_err)
{
	c->exc_vec = vec;
	c->exc_err = err;
	c->exc_has_err = has_err;
	longjmp(c->jb, 1);
}

static int cpu_probe(struct rax_err *e)
{
	return 0;
}

uint64_t cpu_now(struct cpu *c)
{
	return c->host_clock ? host_ns() - c->host_base : c->icount;
}

static uint64_t cpu_clock_ns(struct machine *m)
{
	struct cpu *c = m->engine;

	return c ? cpu_now(c) : 0;
}

/* Wakes an HLT sleeping in idle_wait(), on either clock. */
static void wake_idle(struct cpu *c)
{
	atomic_fetch_add(&c->idle_wake, 1);
	syscall(SYS_futex, (uint32_t *)&c->idle_wake, FUTEX_WAKE_PRIVATE, 1,
		NULL, NULL, 0);
}

/* --- descriptor helpers --------------------------------------------------- */

static uint64_t sys_rd64(struct cpu *c, uint64_t la)
{
	uint64_t v;

	c->sys_access = true; /* implicit supervisor (SDM Vol. 3 §4.6.1) */
	v = rd64(c, la);
	c->sys_access = false;
	return v;
}

static void sys_wr64(struct cpu *c, uint64_t la, uint64_t v)
{
	c->sys_access = true;
	wr64(c, la, v);
	c->sys_access = false;
}

/* --- exception and interrupt delivery ------------------------------------ */

void cpu_deliver(struct cpu *c, int vec, bool has_err, uint32_t err,
		 bool soft)
{
	uint64_t lo, hi, off, rsp, old_rsp = c->r[R_RSP], rf, desc;
	unsigned type, dpl, ist, newcpl, sel;
	uint16_t old_ss = c->seg[S_SS].sel, old_cs = c->seg[S_CS].sel;

	c->st_vec[vec & 255]++;
	c->delivered = true;
	if (!(c->efer & EFER_LMA))
		cpu_raise(c, EXC_DF, 0, true); /* only long mode is modelled */
	if ((unsigned)vec * 16 + 15 > c->idt.limit)
		cpu_gp(c, (uint32_t)vec * 8 + 2);
	lo = sys_rd64(c, c->idt.base + (uint64_t)vec * 16);
	hi = sys_rd64(c, c->idt.base + (uint64_t)vec * 16 + 8);
	type = (lo >> 40) & 15;
	dpl = (lo >> 45) & 3;
	ist = (lo >> 32) & 7;
	if (type != 14 && type != 15)
		cpu_gp(c, (uint32_t)vec * 8 + 2);
	if (soft && dpl < c->cpl)
		cpu_gp(c, (uint32_t)vec * 8 + 2);
	if (!(lo & (1ull << 47)))
		cpu_raise(c, EXC_NP, (uint32_t)vec * 8 + 2, true);
	off = (lo & 0xffff) | ((lo >> 32) & 0xffff0000ull) | (hi << 32);
	sel = (lo >> 16) & 0xffff;
	if ((sel & ~7u) + 7 > c->gdt.limit || !(sel & ~3u))
		cpu_gp(c, sel & ~3u);
	desc = sys_rd64(c, c->gdt.base + (sel & ~7u));
	newcpl = (desc >> 45) & 3;
	if (newcpl > c->cpl)
		newcpl = c->cpl;
	rsp = c->r[R_RSP];
	if (newcpl < c->cpl)
		rsp = sys_rd64(c, c->tr.base + 4 + 8 * newcpl);
	if (ist)
		rsp = sys_rd64(c, c->tr.base + 0x24 + 8 * (ist - 1));
	rsp &= ~0xfull;
	rf = cpu_get_rflags(c);
	/* Push the frame as supervisor (SDM Vol. 3 Figure 6-9). */
	sys_wr64(c, rsp - 8, old_ss);
	sys_wr64(c, rsp - 16, old_rsp);
	sys_wr64(c, rsp - 24, rf);
	sys_wr64(c, rsp - 32, old_cs);
	sys_wr64(c, rsp - 40, soft || vec == EXC_BP || vec == EXC_OF ||
		 vec == EXC_DB ? c->next_rip : c->rip);
	rsp -= 40;
	if (has_err) {
		sys_wr64(c, rsp - 8, err);
		rsp -= 8;
	}
	if (newcpl != c->cpl) {
		c->seg[S_SS] = (struct rax_seg){ .sel = (uint16_t)newcpl,
						 .unusable = 1 };
	}
	c->r[R_RSP] = rsp;
	c->cpl = newcpl;
	c->seg[S_CS].sel = (uint16_t)((sel & ~3u) | newcpl);
	c->seg[S_CS].l = (desc >> 53) & 1;
	c->seg[S_CS].db = (desc >> 54) & 1;
	c->seg[S_CS].dpl = (uint8_t)newcpl;
	rf &= ~(uint64_t)(RFLAGS_TF | RFLAGS_RF | RFLAGS_VM | (1u << 14));
	if (type == 14)
		rf &= ~(uint64_t)RFLAGS_IF;
	cpu_set_rflags(c, rf);
	c->rip = c->next_rip = off;
	cpu_update_mode(c);
}

/* Handles the exception recorded by cpu_raise(): delivers it, escalating
 * to #DF and to shutdown (SDM Vol. 3 §6.15 "Double Fault").  Returns false
 * on a triple fault. */
static bool handle_exception(struct cpu *c)
{
	int vec = c->exc_vec;

	c->sys_access = false;
	if (c->exc_depth >= 2)
		return false;
	if (c->exc_depth == 1) {
		c->exc_depth = 2;
		c->exc_vec = EXC_DF;
		rax_log(LOG_DEBUG, cpu, "double fault (vector %d at %#" PRIx64 ")",
			vec, c->rip);
		cpu_deliver(c, EXC_DF, true, 0, false);
	} else {
		c->exc_depth = 1;
		rax_log(LOG_DEBUG, cpu, "exception %d err %#x at %#" PRIx64
			" cr2 %#" PRIx64, vec, c->exc_err, c->rip, c->cr2);
		cpu_deliver(c, vec, c->exc_has_err, c->exc_err, false);
	}
	c->exc_depth = 0;
	return true;
}

/* --- event checks: timers, interrupts, kicks ------------------------------ */

static void schedule_check(struct cpu *c)
{
	uint64_t next = timer_next(&c->m->timers);
	uint64_t lim = c->icount + CHECK_INTERVAL;

	if (c->host_clock) /* deadlines are host time: poll */
		c->next_check = c->icount + HOST_CHECK_INSNS * CPU_INSN_NS;
	else
		c->next_check = next < lim ? next : lim;
}

static bool irq_window(const struct cpu *c)
{
	return (c->rflags & RFLAGS_IF) && c->icount >= c->shadow_end;
}

/* Returns true when run() must return (kick or exit request). */
static bool check_events(struct cpu *c)
{
	struct machine *m = c->m;
	uint64_t now = cpu_now(c);

	if (timer_next(&m->timers) <= now)
		timer_run(&m->timers, now);
	if (atomic_load_explicit(&c->dma_code_write, memory_order_relaxed) &&
	    atomic_exchange(&c->dma_code_write, false))
		forget_blocks(c);
	if (atomic_exchange(&c->kick, false) || atomic_load(&m->exit_requested)) {
		schedule_check(c);
		return true;
	}
	if (c->intc && !c->nmi_blocked && c->icount >= c->shadow_end &&
	    intc_pending(c->intc) && intc_take_nmi(c->intc)) {
		/* NMIs ignore IF and block further NMIs until the next
		 * IRET (SDM Vol. 3 §6.7.1). */
		c->halted = false;
		c->nmi_blocked = true;
		c->next_rip = c->rip;
		cpu_deliver(c, EXC_NMI, false, 0, false);
	} else if (c->intc && irq_window(c) && intc_pending(c->intc)) {
		int vec = intc_ack(c->intc);

		if (vec >= 0) {
			c->halted = false;
			c->st_irq++;
			c->next_rip = c->rip;
			cpu_deliver(c, vec, false, 0, false);
		}
	}
	schedule_check(c);
	if (c->icount < c->shadow_end && c->next_check > c->shadow_end)
		c->next_check = c->shadow_end;
	return false;
}

static uint64_t host_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define IDLE_SLACK_NS 1000000ull   /* jump when real time is this close */
#define IDLE_SLEEP_NS 10000000ull  /* longest sleep between checks */

/* Sleeps up to gap ns (at most IDLE_SLEEP_NS), or until a
 * wake_idle() from another thread (kick, an interrupt) has bumped
 * idle_wake since it read `seen` (futex(2), FUTEX_WAIT). */
static void idle_wait(struct cpu *c, uint32_t seen, uint64_t gap)
{
	struct timespec ts;

	if (gap > IDLE_SLEEP_NS)
		gap = IDLE_SLEEP_NS;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)gap;
	if (!atomic_load(&c->kick))
		syscall(SYS_futex, (uint32_t *)&c->idle_wake,
			FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
}

/* HLT with IF=1: advance the clock to the next timer deadline.  While the
 * guest is busy its clock (one instruction = 1 ns) runs slower than real
 * time, so a halt normally catches up at once; when the clock would pass
 * real time (an idle guest), sleep instead, so an idle guest neither
 * burns the host CPU nor races its clock ahead of the wall clock.  With no
 * timer armed, wait for an interrupt from another thread (the console).
 * Returns -1 for a stop with error, 0 to go on. */
static int idle(struct cpu *c, struct rax_err *e)
{
	struct machine *m = c->m;
	uint64_t next = timer_next(&m->timers), now;
	uint32_t wake = atomic_load(&c->idle_wake);

	if (!(c->rflags & RFLAGS_IF)) {
		rax_errf(e, -EDEADLK, "guest halted with interrupts disabled "
			 "at %#" PRIx64, c->rip);
		return -1;
	}
	c->st_halt++;
	now = host_ns() - c->host_base;
	if (c->host_clock) { /* sleep until the deadline (host time) */
		if (next > now)
			idle_wait(c, wake, next - now);
		return 0;
	}
	if (next != TIMER_NEVER && next <= now + IDLE_SLACK_NS) {
		if (next > c->icount) {
			c->idle_ns += next - c->icount;
			c->icount = next;
		}
		return 0;
	}
	/* No timer armed: 1 ms, then look again. */
	idle_wait(c, wake, next != TIMER_NEVER ? next - now : 1000000);
	return 0;
}

/* --- tracing -------------------------------------------------------------- */

/* One line per instruction: address, symbol+offset (--symbols), code
 * bytes, disassembly; --trace=regs adds the registers after it. */
static void trace_insn(struct cpu *c, const struct dec_insn *d)
{
	const struct machine *m = c->m;
	/* The console may have put the terminal in raw mode: end lines
	 * with CR LF there. */
	const char *nl = c->trace_crlf ? "\r\n" : "\n";
	char buf[160], sym[96] = "", hex[3 * 15 + 1] = "";
	static const char *const reg[16] = {
		"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
	};
	const uint8_t *p = NULL;
	uint64_t pa;

	dec_disasm(d, c->rip, buf, sizeof(buf));
	if (m->syms)
		sym_format(m->syms, c->rip, sym, sizeof(sym));
	if (!pg_translate_gm(&m->mem, c->cr0, c->cr3, c->cr4, c->efer, c->rip,
			     PG_FETCH, &pa))
		p = gm_ptr(&m->mem, pa, d->len);
	for (unsigned i = 0; p && i < d->len; i++)
		snprintf(hex + 3 * i, sizeof(hex) - 3 * i, "%02x ", p[i]);
	fprintf(stderr, "%016" PRIx64 " %-28s %-30s %s%s", c->rip, sym, hex,
		buf, nl);
	if (!m->trace_regs)
		return;
	for (int i = 0; i < 16; i++)
		fprintf(stderr, "  %-3s=%016" PRIx64 "%s", reg[i],
			c->r[i], (i & 3) == 3 ? nl : "");
	fprintf(stderr, "  rflags=%08" PRIx64 "%s", cpu_get_rflags(c), nl);
}

/* --- the run loop --------------------------------------------------------- */

/* The block for tag: a 2-way set (slots 2i, 2i+1) looked up in the
 * compact tag array; on a miss, returns the way to refill. */
static inline struct block *block_slot(struct cpu *c, uint64_t pa,
				       uint64_t tag, bool *hit)
{
	unsigned set = (unsigned)((pa * 0x9e3779b97f4a7c15ull) >>
				  (64 - BLK_BITS)) & ~1u;
	unsigned way;

	if (c->blk_tags[set] == tag) {
		way = 0;
	} else if (c->blk_tags[set + 1] == tag) {
		way = 1;
	} else {
		*hit = false;
		way = c->blk_lru[set / 2];
		c->blk_lru[set / 2] = (uint8_t)(way ^ 1);
		return &c->blocks[set + way];
	}
	*hit = true;
	c->blk_lru[set / 2] = (uint8_t)(way ^ 1);
	return &c->blocks[set + way];
}

static inline void set_block_tag(struct cpu *c, struct block *b, uint64_t tag)
{
	b->tag = tag;
	c->blk_tags[b - c->blocks] = tag;
}

void cpu_update_fpu_trap(struct cpu *c)
{
	bool t = (c->cr0 & (CR0_TS | CR0_EM)) || !(c->cr4 & CR4_OSFXSR);

	if (t != c->fpu_trap) {
		c->fpu_trap = t;
		c->blk = NULL;  /* leave the block decoded under the old state */
		c->epoch++;     /* and every chain */
	}
}

static bool sse_op(unsigned op)
{
	return (op >= 0x110 && op <= 0x117) || (op >= 0x128 && op <= 0x12f) ||
	       (op >= 0x150 && op <= 0x17f) || op == 0x1c2 ||
	       (op >= 0x1c4 && op <= 0x1c6) || op >= 0x1d0;
}

/* With fpu_trap: the opcode d runs as, by the "Protected Mode
 * Exceptions" of SDM Vol. 2: x87 and FXSAVE/FXRSTOR #NM under EM or TS
 * (WAIT: TS with MP); MMX #UD under EM, #NM under TS; SSE and
 * LDMXCSR/STMXCSR also #UD without CR4.OSFXSR. */
static uint16_t fpu_checked_op(const struct cpu *c, const struct dec_insn *d)
{
	unsigned op = d->op, r = d->reg & 7;
	bool em = c->cr0 & CR0_EM, ts = c->cr0 & CR0_TS;
	bool mmx, sse;

	if (op >= DEC_MAP_0F38) /* none here; DEC_OP_UD stays */
		return (uint16_t)op;
	if ((op >= 0x0d8 && op <= 0x0df) ||
	    (op == 0x1ae && d->mod != 3 && r < 2))
		return em || ts ? CPU_OP_NM : (uint16_t)op;
	if (op == 0x09b)
		return ts && (c->cr0 & CR0_MP) ? CPU_OP_NM : (uint16_t)op;
	sse = sse_op(op) || (op == 0x1ae && d->mod != 3 && (r == 2 || r == 3));
	if (!sse)
		return (uint16_t)op;
	mmx = op == 0x177 || ((dec_attrs[op].flags & DF_MMX) &&
			      d->pfx == DEC_PFX_NONE);
	if (em || (!mmx && !(c->cr4 & CR4_OSFXSR)))
		return DEC_OP_UD;
	return ts ? CPU_OP_NM : (uint16_t)op;
}

/* Decodes the run of instructions at pa (host p, avail bytes to the page
 * end) into b.  Returns the number decoded (0: the first one crosses the
 * page end or is malformed). */
static unsigned build_block(struct cpu *c, struct block *b, const uint8_t *p,
			    unsigned avail)
{
	unsigned n = 0, off = 0;

	while (n < BLK_INSNS && off < avail) {
		struct dec_insn *d = &b->d[n];
		uint16_t op;

		if (dec_decode(d, p + off, avail - off, c->mode))
			break;
		if (c->fpu_trap)
			d->op = fpu_checked_op(c, d);
		off += d->len;
		n++;
		c->st_decoded++;
		op = d->op;
		/* Stop after unconditional transfers: what follows is
		 * often data or padding. */
		if (op == 0x0e9 || op == 0x0eb || op == 0x0c3 || op == 0x0c2 ||
		    op == 0x0cf || op == 0x0cb || op == 0x0ca || op == 0x10b ||
		    op == 0x0f4 || op == DEC_OP_UD)
			break;
		/* Also after conditional branches and calls: the rest is
		 * decoded when (and if) execution falls through to it. */
		if ((op >= 0x070 && op <= 0x07f) || (op >= 0x180 && op <= 0x18f) ||
		    op == 0x0e8 || op == 0x0ff || (op >= 0x0e0 && op <= 0x0e3))
			break;
	}
	return n;
}

static const struct dec_insn *fetch_lookup(struct cpu *c,
					   struct dec_insn *tmp);

/* The next instruction: the fast path continues the current block. */
static inline const struct dec_insn *fetch_decode(struct cpu *c,
						  struct dec_insn *tmp)
{
	struct block *b = c->blk;

	if (b && c->rip == c->blk_rip && c->blk_i < b->n) {
		const struct dec_insn *d = &b->d[c->blk_i++];

		c->blk_rip += d->len;
		return d;
	}
	return fetch_lookup(c, tmp);
}

/* A taken branch or a block end: follow a chain, else look up (and
 * maybe build) the block at rip. */
static __attribute__((noinline)) const struct dec_insn *
fetch_lookup(struct cpu *c, struct dec_insn *tmp)
{
	uint64_t la = c->rip, pa, tag;
	unsigned avail;
	const uint8_t *p;
	struct block *b = c->blk;
	int ret;

	struct block *prev = b;
	bool hit;

	if (b) {
		for (int k = 0; k < 2; k++) {
			struct block *nb = b->next[k];

			if (b->next_rip[k] == c->rip &&
			    b->next_key[k] == c->epoch * 4 + c->cpl &&
			    nb->tag == b->next_tag[k]) {
				c->st_blk_chain++;
				c->blk = nb;
				c->blk_i = 1;
				c->blk_rip = c->rip + nb->d[0].len;
				return &nb->d[0];
			}
		}
	}
	c->blk = NULL;
	if (c->mode != DEC_MODE64)
		la = (la + c->seg[S_CS].base) & 0xffffffffull;
	p = cpu_fetch_ptr(c, la, &pa, &avail);
	if (!p)
		cpu_raise(c, EXC_GP, 0, true); /* fetch from MMIO */
	tag = pa | ((uint64_t)c->blk_gen << 48) | ((uint64_t)c->mode << 56) |
	      ((uint64_t)c->fpu_trap << 63);
	b = block_slot(c, pa, tag, &hit);
	if (hit) {
		c->st_blk_hit++;
	} else {
		c->st_blk_miss++;
		if (b->tag != BLK_EMPTY)
			c->st_blk_evict++;
		cpu_mark_code(c, pa);
		set_block_tag(c, b, BLK_EMPTY);
		b->n = build_block(c, b, p, avail);
		if (b->n)
			set_block_tag(c, b, tag);
	}
	if (b->n) {
		if (prev) {
			unsigned k = (prev->chain_rr ^= 1) & 1;

			prev->next_rip[k] = c->rip;
			prev->next_tag[k] = b->tag;
			prev->next[k] = b;
			prev->next_key[k] = c->epoch * 4 + c->cpl;
		}
		c->blk = b;
		c->blk_i = 1;
		c->blk_rip = c->rip + b->d[0].len;
		return &b->d[0];
	}
	c->st_decoded++;
	ret = dec_decode(tmp, p, avail, c->mode);
	if (ret == -EAGAIN) {
		uint8_t buf[16];
		unsigned n = avail < 15 ? avail : 15;

		/* The instruction crosses a page: gather and do not cache. */
		c->st_xpage++;
		memcpy(buf, p, n);
		cpu_mem_slow(c, la + n, buf + n, 15 - n, TLB_FETCH);
		ret = dec_decode(tmp, buf, 15, c->mode);
	}
	if (!ret && c->fpu_trap)
		tmp->op = fpu_checked_op(c, tmp);
	if (!ret)
		return tmp;
	cpu_gp(c, 0);
}

/* The breakpoint at rip: BP_SW, BP_HW, or -1. */
static int at_breakpoint(const struct cpu *c)
{
	int t = -1;

	for (unsigned i = 0; i < c->nbp; i++)
		if (c->bp[i] == c->rip && (t < 0 || c->bp_type[i] == BP_SW))
			t = (int)c->bp_type[i];
	return t;
}

static int run_loop(struct cpu *c, unsigned flags, struct vcpu_stop *stop,
		    struct rax_err *e);

/* Forgets every decoded instruction: a new block generation. */
static void forget_blocks(struct cpu *c)
{
	c->blk_gen = (c->blk_gen + 1) & 0xff;
	if (!c->blk_gen) /* wrapped: old tags could match again */
		for (unsigned i = 0; i < BLK_COUNT; i++)
			set_block_tag(c, &c->blocks[i], BLK_EMPTY);
	c->blk = NULL;
	c->epoch++;
}

static int cpu_run(struct machine *m, unsigned flags, struct vcpu_stop *stop,
		   struct rax_err *e)
{
	struct cpu *c = m->engine;
	int ret;

	memset(stop, 0, sizeof(*stop));
	c->watch_hit = false;
	c->thread = pthread_self();
	/* After a debugger stop the guest's memory may have been written
	 * behind the interpreter's back (gdb M packets): forget every
	 * decoded instruction. */
	if (c->last_stop != VCPU_STOP_KICK ||
	    atomic_exchange(&c->dma_code_write, false))
		forget_blocks(c);
	ret = run_loop(c, flags, stop, e);
	c->last_stop = stop->reason;
	return ret;
}

/* True while every instruction must go through the slow path. */
static bool needs_slow_path(const struct cpu *c, bool step)
{
	return step || c->trace || c->nbp || c->halted || c->watch_hit ||
	       c->mode != DEC_MODE64 || (c->rflags & RFLAGS_TF) ||
	       c->db_pending || c->db_now;
}

/* After an instruction that began with RFLAGS.TF set: the single-step
 * trap, #DB with DR6.BS, RIP of the next instruction on the handler's
 * stack (SDM Vol. 3 §18.3.1.4).  MOV SS holds it until after the next
 * instruction (§6.8.3).  INT n, INT3, INTO and INT1 clear TF and take
 * no trap (§18.3.1.4); a faulting instruction never gets here. */
static void single_step_deliver(struct cpu *c)
{
	c->db_pending = false;
	c->db_now = false;
	c->halted = false;
	c->dr6 |= DR6_BS;
	c->next_rip = c->rip;
	cpu_deliver(c, EXC_DB, false, 0, false);
}

static void single_step_trap(struct cpu *c, bool tf)
{
	if (c->mov_ss) {
		c->db_pending = tf || c->db_pending;
		return;
	}
	single_step_deliver(c);
}

void cpu_tf_from_result(struct cpu *c)
{
	c->tf_result = true;
	c->db_now = (c->rflags & RFLAGS_TF) != 0;
	if (c->db_now)
		c->next_check = 0;
}

/* The interpreter loop.  The fast path (fetch, dispatch, retire) runs
 * until icount reaches next_check; everything rare (timers, interrupts,
 * kicks, HLT, breakpoints, tracing, single steps, watchpoint stops,
 * non-64-bit modes) sits behind that one compare: whoever needs the slow
 * path stores 0 into next_check. */
static int run_loop(struct cpu *c, unsigned flags, struct vcpu_stop *stop,
		    struct rax_err *e)
{
	struct dec_insn tmp;
	bool step = flags & VCPU_RUN_STEP, tf;
	volatile bool first = true;
	const struct dec_insn *d;
	int ret;

	c->next_check = 0;
	if (setjmp(c->jb)) {
		if (!handle_exception(c)) {
			stop->reason = VCPU_STOP_SHUTDOWN;
			c->exc_depth = 0;
			return 0;
		}
		if (step) {
			stop->reason = VCPU_STOP_STEP;
			return 0;
		}
		c->next_check = 0;
	}
	for (;;) {
		if (c->icount < c->next_check) {
			d = fetch_decode(c, &tmp);
			c->next_rip = c->rip + d->len;
			handlers[d->op](c, d);
			c->rip = c->next_rip;
			c->icount += CPU_INSN_NS;
			continue;
		}
		if (c->watch_hit) {
			c->watch_hit = false;
			stop->reason = VCPU_STOP_WATCH;
			stop->addr = c->watch_addr;
			stop->watch_type = c->watch_type;
			return 0;
		}
		if (c->db_now) /* after a SYSRET/SYSCALL in the fast path */
			single_step_deliver(c);
		if (!step && check_events(c)) {
			stop->reason = VCPU_STOP_KICK;
			return 0;
		}
		if (c->halted) {
			ret = idle(c, e);
			if (ret < 0) {
				stop->reason = VCPU_STOP_ERROR;
				return -EDEADLK;
			}
			c->next_check = 0;
			if (step) {
				stop->reason = VCPU_STOP_STEP;
				return 0;
			}
			continue;
		}
		if (c->nbp && !first && at_breakpoint(c) >= 0) {
			stop->reason = at_breakpoint(c) == BP_SW ?
				       VCPU_STOP_SWBREAK : VCPU_STOP_HWBREAK;
			return 0;
		}
		first = false;
		d = fetch_decode(c, &tmp);
		c->next_rip = c->rip + d->len;
		if (c->mode != DEC_MODE64 && c->seg[S_CS].db == 0)
			c->next_rip &= 0xffff;
		if (c->trace)
			trace_insn(c, d);
		tf = (c->rflags & RFLAGS_TF) != 0;
		c->mov_ss = false;
		c->delivered = false;
		c->tf_result = false;
		handlers[d->op](c, d);
		c->rip = c->next_rip;
		c->icount += CPU_INSN_NS;
		if (c->tf_result) /* SYSCALL, SYSRET: the resulting TF */
			tf = c->db_now;
		if ((tf && !c->delivered) || c->db_pending)
			single_step_trap(c, tf && !c->delivered);
		if (step) {
			if (c->watch_hit) {
				c->watch_hit = false;
				stop->reason = VCPU_STOP_WATCH;
				stop->addr = c->watch_addr;
				stop->watch_type = c->watch_type;
				return 0;
			}
			stop->reason = VCPU_STOP_STEP;
			return 0;
		}
		if (needs_slow_path(c, step))
			c->next_check = 0;
	}
}

static void cpu_kick(struct machine *m)
{
	struct cpu *c = m->engine;

	if (!c)
		return;
	atomic_store(&c->kick, true);
	c->next_check = 0;
	wake_idle(c);
}

/* --- registers ------------------------------------------------------------ */

static int cpu_get_regs(struct machine *m, struct rax_regs *r)
{
	struct cpu *c = m->engine;

	memset(r, 0, sizeof(*r));
	memcpy(r->gpr, c->r, sizeof(r->gpr));
	r->rip = c->rip;
	r->rflags = cpu_get_rflags(c);
	memcpy(r->seg, c->seg, sizeof(r->seg));
	r->ldt = c->ldt;
	r->tr = c->tr;
	r->gdt = c->gdt;
	r->idt = c->idt;
	r->cr0 = c->cr0;
	r->cr2 = c->cr2;
	r->cr3 = c->cr3;
	r->cr4 = c->cr4;
	r->cr8 = c->intc ? intc_get_cr8(c->intc) : 0;
	r->efer = c->efer;
	if (!c->intc || intc_rdmsr(c->intc, MSR_IA32_APIC_BASE, &r->apic_base))
		r->apic_base = 0xfee00900;
	return 0;
}

static int cpu_set_regs(struct machine *m, const struct rax_regs *r)
{
	struct cpu *c = m->engine;

	memcpy(c->r, r->gpr, sizeof(c->r));
	c->rip = r->rip;
	cpu_set_rflags(c, r->rflags);
	memcpy(c->seg, r->seg, sizeof(c->seg));
	c->ldt = r->ldt;
	c->tr = r->tr;
	c->gdt = r->gdt;
	c->idt = r->idt;
	c->cr0 = r->cr0;
	c->cr2 = r->cr2;
	c->cr3 = r->cr3;
	c->cr4 = r->cr4;
	c->efer = r->efer;
	if (c->intc)
		intc_set_cr8(c->intc, r->cr8);
	c->cpl = c->seg[S_CS].sel & 3;
	cpu_update_mode(c);
	cpu_update_fpu_trap(c);
	cpu_tlb_flush(c, false);
	c->next_check = 0;
	return 0;
}

static int cpu_get_fpu(struct machine *m, struct rax_fpu *f)
{
	struct cpu *c = m->engine;

	memcpy(f->fx, c->fx, sizeof(f->fx));
	return 0;
}

static int cpu_set_fpu(struct machine *m, const struct rax_fpu *f)
{
	struct cpu *c = m->engine;

	memcpy(c->fx, f->fx, sizeof(c->fx));
	return 0;
}

static int cpu_get_dregs(struct machine *m, struct rax_dregs *dr)
{
	struct cpu *c = m->engine;

	memcpy(dr->dr, c->dr, sizeof(dr->dr));
	dr->dr6 = c->dr6;
	dr->dr7 = c->dr7;
	return 0;
}

static int cpu_get_msr(struct machine *m, uint32_t idx, uint64_t *val)
{
	return cpu_rdmsr(m->engine, idx, val) ? -ENOENT : 0;
}

static int cpu_set_msr(struct machine *m, uint32_t idx, uint64_t val)
{
	return cpu_wrmsr(m->engine, idx, val) ? -ENOENT : 0;
}

/* --- breakpoints ---------------------------------------------------------- */

static int cpu_bp_insert(struct machine *m, enum bp_type t, uint64_t addr,
			 uint64_t len)
{
	struct cpu *c = m->engine;

	if (t == BP_SW || t == BP_HW) {
		if (c->nbp == CPU_MAX_BP)
			return -ENOSPC;
		c->bp_type[c->nbp] = t;
		c->bp[c->nbp++] = addr;
		c->next_check = 0;
		return 0;
	}
	if (c->nwp == CPU_MAX_BP)
		return -ENOSPC;
	c->wp[c->nwp].addr = addr;
	c->wp[c->nwp].len = len ? len : 1;
	c->wp[c->nwp].t = t;
	c->nwp++;
	cpu_tlb_flush(c, false); /* watched pages must miss */
	return 0;
}

static int cpu_bp_remove(struct machine *m, enum bp_type t, uint64_t addr,
			 uint64_t len)
{
	struct cpu *c = m->engine;

	if (t == BP_SW || t == BP_HW) {
		for (unsigned i = 0; i < c->nbp; i++) {
			if (c->bp[i] == addr && c->bp_type[i] == t) {
				c->nbp--;
				c->bp[i] = c->bp[c->nbp];
				c->bp_type[i] = c->bp_type[c->nbp];
				return 0;
			}
		}
		return -ENOENT;
	}
	for (unsigned i = 0; i < c->nwp; i++) {
		if (c->wp[i].addr == addr && c->wp[i].t == t) {
			c->wp[i] = c->wp[--c->nwp];
			return 0;
		}
	}
	return -ENOENT;
}

static void cpu_set_irq(struct machine *m, unsigned gsi, int level)
{
	struct cpu *c = m->engine;

	if (c && c->intc) {
		intc_set_irq(c->intc, gsi, level);
		c->next_check = 0;
		wake_idle(c);
	}
}

static void cpu_msi(struct machine *m, uint64_t addr, uint32_t data)
{
	struct cpu *c = m->engine;

	if (c && c->intc) {
		intc_msi(c->intc, addr, data);
		c->next_check = 0;
		wake_idle(c);
	}
}

/* Device DMA into guest RAM.  On the vCPU thread (a device working
 * synchronously inside an MMIO write) the written pages drop their
 * decoded blocks at once, as a store by the guest would.  Another thread
 * (a device's I/O thread, host network input) must not touch the decode
 * cache: when it wrote a page holding decoded code, every block is
 * forgotten at the next event check.  The device publishes the data to
 * the guest (a used-ring index) only after this returns, and the guest
 * needs at least that one more instruction, after which the check
 * runs (next_check = 0), to reach the new bytes. */
static void cpu_mem_written(struct machine *m, uint64_t gpa, uint64_t len)
{
	struct cpu *c = m->engine;
	bool here = c && pthread_equal(pthread_self(), c->thread);
	uint64_t pa;

	if (!c || !len)
		return;
	for (pa = gpa & ~0xfffull; pa < gpa + len; pa += 4096) {
		if (here) {
			cpu_code_write(c, pa, 1);
		} else if (cpu_is_code_page(c, pa)) {
			atomic_store(&c->dma_code_write, true);
			c->next_check = 0;
			return;
		}
	}
}

static int cpu_set_trace(struct machine *m, bool on)
{
	struct cpu *c = m->engine;

	c->trace = on;
	c->trace_crlf = isatty(STDERR_FILENO);
	c->next_check = 0;
	return 0;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* --stats: counters, then the rates derived from them.  TLB lookups are
 * hits (counted in tlb_hit()) plus walks (cpu_translate()); the decode
 * cache serves every instruction it did not have to decode. */
static void cpu_print_stats(struct machine *m)
{
	struct cpu *c = m->engine;
	uint64_t insns = (c->icount - c->idle_ns) / CPU_INSN_NS;
	uint64_t tlb = c->st_tlb_hit + c->st_tlb_miss;
	uint64_t blk = c->st_blk_chain + c->st_blk_hit + c->st_blk_miss;
	uint64_t exc = 0, irq = 0;

	fprintf(stderr, "rax: emulator: %" PRIu64 " instructions retired "
		"(%s clock %" PRIu64 " ns)\n", insns, c->host_clock ? "host" :
		"virtual", cpu_now(c));
#define CPU_STAT_PRINT(n) \
	fprintf(stderr, "rax:   %-12s %" PRIu64 "\n", #n, c->st_##n);
	CPU_STATS(CPU_STAT_PRINT)
#undef CPU_STAT_PRINT
	fprintf(stderr, "rax:   tlb: %" PRIu64 " lookups, %" PRIu64
		" misses (%.2f%% hit)\n", tlb, c->st_tlb_miss,
		pct(c->st_tlb_hit, tlb));
	fprintf(stderr, "rax:   decode cache: %" PRIu64 " block lookups, %"
		PRIu64 " misses (%.2f%% hit); %" PRIu64 " of %" PRIu64
		" instructions decoded (%.2f%% hit)\n", blk, c->st_blk_miss,
		pct(c->st_blk_hit + c->st_blk_chain, blk),
		c->st_decoded, insns,
		insns > c->st_decoded ? pct(insns - c->st_decoded, insns) : 0.0);
	/* Vectors 0-31 are exceptions; above, interrupts (external, or
	 * INT n: the interpreter counts deliveries per vector). */
	for (int v = 0; v < 256; v++) {
		if (!c->st_vec[v])
			continue;
		if (v < 32)
			exc += c->st_vec[v];
		else
			irq += c->st_vec[v];
		fprintf(stderr, "rax:   %s %3d: %" PRIu64 "\n",
			v < 32 ? "exception" : "interrupt", v, c->st_vec[v]);
	}
	fprintf(stderr, "rax:   %" PRIu64 " exceptions, %" PRIu64
		" interrupts delivered\n", exc, irq);
}

/* --- life cycle ----------------------------------------------------------- */

static void cpu_destroy(struct machine *m)
{
	struct cpu *c = m->engine;

	if (!c)
		return;
	if (c->intc)
		intc_destroy(c->intc);
	free(c->blocks);
	free(c->blk_tags);
	free(c->blk_lru);
	free(c->code_page);
	free(c);
	m->engine = NULL;
}

static void reset_fpu(struct cpu *c)
{
	memset(c->fx, 0, sizeof(c->fx));
	c->fx[FX_FCW] = 0x7f;
	c->fx[FX_FCW + 1] = 0x03;
	c->fx[FX_MXCSR] = 0x80;
	c->fx[FX_MXCSR + 1] = 0x1f;
	/* MXCSR_MASK: every MXCSR bit, DAZ included, is writable (the
	 * host's SSE unit runs the guest's operations, ssefp.c). */
	c->fx[FX_MXCSR + 4] = 0xff;
	c->fx[FX_MXCSR + 5] = 0xff;
}

static int cpu_init(struct machine *m, struct rax_err *e)
{
	struct cpu *c;
	int ret;

	c = aligned_alloc(64, (sizeof(*c) + 63) & ~(size_t)63);
	if (!c)
		return rax_errf(e, -ENOMEM, "emulator: out of memory");
	memset(c, 0, sizeof(*c));
	c->m = m;
	c->blocks = aligned_alloc(64, BLK_COUNT * sizeof(*c->blocks));
	c->blk_tags = calloc(BLK_COUNT, sizeof(*c->blk_tags));
	c->blk_lru = calloc(BLK_COUNT / 2, 1);
	c->code_pages = m->mem.size >> 12;
	c->code_page = calloc(c->code_pages ? c->code_pages : 1, 1);
	if (!c->blocks || !c->blk_tags || !c->blk_lru || !c->code_page) {
		ret = rax_errf(e, -ENOMEM, "emulator: out of memory");
		goto out_free;
	}
	memset(c->blocks, 0, BLK_COUNT * sizeof(*c->blocks));
	for (unsigned i = 0; i < BLK_COUNT; i++)
		set_block_tag(c, &c->blocks[i], BLK_EMPTY);
	m->engine = c;
	ret = intc_create(m, &c->intc, e);
	if (ret)
		goto out_free;
	reset_fpu(c);
	c->pat = 0x0007040600070406ull;
	c->misc_enable = 1; /* fast strings enabled, as firmware leaves it */
	c->host_base = host_ns();
	c->host_clock = m->host_clock;
	cpu_set_regs(m, &m->boot_regs);
	return 0;
out_free:
	m->engine = NULL;
	free(c->blocks);
	free(c->blk_tags);
	free(c->blk_lru);
	free(c->code_page);
	free(c);
	return ret;
}

const struct vcpu_ops cpu_vcpu_ops = {
	.name = "emulator",
	.probe = cpu_probe,
	.init = cpu_init,
	.destroy = cpu_destroy,
	.run = cpu_run,
	.kick = cpu_kick,
	.get_regs = cpu_get_regs,
	.set_regs = cpu_set_regs,
	.get_fpu = cpu_get_fpu,
	.set_fpu = cpu_set_fpu,
	.get_dregs = cpu_get_dregs,
	.get_msr = cpu_get_msr,
	.set_msr = cpu_set_msr,
	.bp_insert = cpu_bp_insert,
	.bp_remove = cpu_bp_remove,
	.set_irq = cpu_set_irq,
	.clock_ns = cpu_clock_ns,
	.set_trace = cpu_set_trace,
	.print_stats = cpu_print_stats,
	.msi = cpu_msi,
	.mem_written = cpu_mem_written,
};
