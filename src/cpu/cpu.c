/* The interpreter engine: cpu_vcpu_ops and the run loop.  Its jobs live
 * beside it: the decoded-instruction cache in block.c, the handler
 * chosen for each decoded instruction in dispatch.c, exception and
 * interrupt delivery, event checks and idling in event.c (with the time
 * model), memory and the TLB in mem.c, instruction handlers in alu.c,
 * ops.c, sys.c, x87.c, sse.c and ssefp.c. */
#include "cpu/cpu.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "devices/intc.h"
#include "err.h"
#include "log.h"
#include "machine.h"
#include "paging/paging.h"
#include "symbols.h"

void cpu_raise(struct cpu *c, int vec, uint32_t err, bool has_err)
{
	c->exc_vec = vec;
	c->exc_err = err;
	c->exc_has_err = has_err;
	longjmp(c->jb, 1);
}

void cpu_fail(struct cpu *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->fail_msg, sizeof(c->fail_msg), fmt, ap);
	va_end(ap);
	longjmp(c->jb, 2);
}

static int cpu_probe(struct rax_err *e)
{
	return 0;
}

uint64_t cpu_now(struct cpu *c)
{
	return c->host_clock ? host_now_ns() - c->host_base : c->icount;
}

/* The vCPU that holds the clock: the one running, or that ran last. */
static struct cpu *cur_cpu(struct machine *m)
{
	struct cpu_engine *eng = m->engine;

	return eng ? eng->cpu[eng->cur] : NULL;
}

/* vCPU i, or NULL when there is none of that index. */
static struct cpu *vcpu(struct machine *m, unsigned i)
{
	struct cpu_engine *eng = m->engine;

	return eng && i < eng->n ? eng->cpu[i] : NULL;
}

static uint64_t cpu_clock_ns(struct machine *m)
{
	struct cpu *c = cur_cpu(m);

	return c ? cpu_now(c) : 0;
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
	if (c->eng->n > 1) /* SMP: which vCPU ran it */
		fprintf(stderr, "cpu%u ", c->id);
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

/* Whether one of gdb's breakpoints is on the 4 KiB page of linear
 * address la (64-bit mode: rip).  The fast path leaves such a page for
 * the slow path, which checks each instruction; a trace never spans two
 * pages (block.c), so checking where each trace starts is enough. */
static inline bool bp_page(const struct cpu *c, uint64_t la)
{
	for (unsigned i = 0; i < c->nbp; i++)
		if (!((c->bp[i] ^ la) & ~0xfffull))
			return true;
	return false;
}

/* The breakpoint at the linear address of rip: BP_SW, BP_HW, or -1. */
static int at_breakpoint(const struct cpu *c)
{
	uint64_t la = c->rip;
	int t = -1;

	if (c->mode != DEC_MODE64)
		la = (la + c->seg[S_CS].base) & 0xffffffffull;
	for (unsigned i = 0; i < c->nbp; i++)
		if (c->bp[i] == la && (t < 0 || c->bp_type[i] == BP_SW))
			t = (int)c->bp_type[i];
	return t;
}

static int run_loop(struct cpu *c, unsigned flags, struct vcpu_stop *stop,
		    struct rax_err *e);

static int run_smp(struct cpu_engine *eng, unsigned flags,
		   struct vcpu_stop *stop, struct rax_err *e);

static int cpu_run(struct machine *m, unsigned flags, struct vcpu_stop *stop,
		   struct rax_err *e)
{
	struct cpu_engine *eng = m->engine;
	struct cpu *c = eng->cpu[0];
	uint64_t icount0, idle0;
	int ret;

	memset(stop, 0, sizeof(*stop));
	eng->thread = pthread_self();
	/* A device thread wrote a page holding decoded code (DMA,
	 * cpu_mem_written()): forget every decoded instruction.  A
	 * debugger's writes come through write_mem and need nothing here. */
	if (atomic_load_explicit(&eng->dma_code_write, memory_order_relaxed) &&
	    atomic_exchange(&eng->dma_code_write, false))
		cpu_icache_flush(c);
	if (eng->n > 1)
		return run_smp(eng, flags, stop, e);
	c->watch_hit = false;
	icount0 = c->icount;
	idle0 = c->idle_ns;
	ret = run_loop(c, flags, stop, e);
	c->insn_ns += (c->icount - icount0) - (c->idle_ns - idle0);
	return ret;
}

/* True while every instruction must go through the slow path and
 * check the events before it.  gdb's breakpoints (c->nbp) put only the
 * instructions on their pages on the slow path (bp_page()), and without
 * an event check at each: that stays where the fast path makes it
 * (next_check).  A reverse search with a breakpoint set ran every
 * instruction on the slow path, checking events, 2.5 times slower. */
static bool needs_slow_path(const struct cpu *c, bool step)
{
	return step || c->trace || c->halted || c->watch_hit ||
	       c->mode != DEC_MODE64 || (c->rflags & RFLAGS_TF) ||
	       c->db_pending || c->db_now || c->dr_exec || c->dr_data ||
	       c->db_trap;
}

/* The fast path: trace after trace, each run in a tight loop that calls
 * the stored handlers one after the other, until icount reaches
 * next_check.  The compare follows every instruction, so an event is
 * taken at the same instruction count however the code was cut into
 * traces (after a gdb stop, a cache flush, with or without --stats).
 * Whatever makes the walk invalid (a store to decoded code, a TLB
 * flush, a mode or CPL change) leaves the trace and stores 0 into
 * next_check; every instruction that moves RIP other than by its length
 * ends its trace (block.c) or does the same.  stats: the --stats
 * variant, which also counts the hit paths. */
static inline __attribute__((always_inline)) void run_fast(struct cpu *c,
							   const bool stats)
{
	struct cpu_trace *t = NULL; /* the trace run last, whole */
	/* Handlers read rip and icount but never change them (a jump
	 * stores next_rip; only the slow path's idle moves icount), so the
	 * loop keeps both in registers and only stores them. */
	uint64_t rip = c->rip, icount = c->icount;

	do {
		const struct cpu_insn *ci = c->cur_next, *end = c->cur_end;

		if (ci == end || rip != c->cur_rip) {
			if (c->nbp && bp_page(c, rip)) {
				c->next_check = 0; /* the slow path */
				break;
			}
			t = cpu_trace_next(c, t, stats);
			ci = t->insn;
			end = ci + t->n;
			c->cur_end = end;
			/* Its translation runs when the whole trace
			 * retires before next_check (jit.c). */
			if ((t->jit || (++t->heat == c->jit_hot &&
					cpu_trace_translate(c, t))) &&
			    icount + (uint64_t)(t->n - 1) * CPU_INSN_NS <
				    c->next_check) {
				unsigned k;

				k = t->jit(c, rip, icount);
				/* it may have gone on into other
				 * translations: the trace it returned
				 * from, walked still unless a handler
				 * left it (cpu_leave_trace()) */
				t = c->jit_t;
				ci = t->insn + k;
				end = t->insn + t->n;
				if (c->cur_end)
					c->cur_end = end;
				rip = c->rip;
				icount = c->icount;
				goto walked;
			}
		}
		do {
			c->next_rip = rip + ci->d.len;
			ci->fn(c, &ci->d);
			c->rip = rip = c->next_rip;
			c->icount = icount += CPU_INSN_NS;
		} while (++ci != end && icount < c->next_check);
	walked:
		if (c->cur_end == end) { /* still walking it: the slow path */
			c->cur_next = ci; /* may continue it */
			c->cur_rip = rip;
		}
		if (ci != end)
			t = NULL; /* left in the middle: no link from it */
	} while (icount < c->next_check);
}

static __attribute__((noinline)) void run_fast_plain(struct cpu *c)
{
	run_fast(c, false);
}

static __attribute__((noinline)) void run_fast_stats(struct cpu *c)
{
	run_fast(c, true);
}

/* The interpreter loop.  The fast path (run_fast) runs until icount
 * reaches next_check; everything rare (timers, interrupts, kicks, HLT,
 * breakpoints, tracing, single steps, watchpoint stops, non-64-bit
 * modes) sits behind that one compare: whoever needs the slow path
 * stores 0 into next_check.  The slow path runs one instruction at a
 * time. */
static int run_loop(struct cpu *c, unsigned flags, struct vcpu_stop *stop,
		    struct rax_err *e)
{
	bool step = flags & VCPU_RUN_STEP, tf;
	uint64_t fall;
	volatile bool first = true;
	const struct cpu_insn *ci;
	int ret;

	c->next_check = 0;
	switch (setjmp(c->jb)) {
	case 0:
		break;
	case 2: /* cpu_fail(): the instruction did not complete */
		if (c->rsp_valid)
			c->r[R_RSP] = c->rsp_start;
		c->rsp_valid = false;
		cpu_set_sys_access(c, false);
		stop->reason = VCPU_STOP_ERROR;
		return rax_errf(e, -ENOTSUP, "%s", c->fail_msg);
	default:
		/* A fault leaves RSP as the instruction found it (the slow
		 * path's instructions: pushes may precede a CS limit or
		 * privilege check there). */
		if (c->rsp_valid)
			c->r[R_RSP] = c->rsp_start;
		c->rsp_valid = false;
		if (!cpu_handle_exception(c)) {
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
	/* A fault ends the walk where it was (and this run may follow a
	 * stop anywhere): the next instruction is looked up. */
	cpu_leave_trace(c);
	for (;;) {
		if (c->icount < c->next_check &&
		    !(c->nbp && bp_page(c, c->rip))) {
			if (c->stats)
				run_fast_stats(c);
			else
				run_fast_plain(c);
			continue;
		}
		if (c->watch_hit) {
			c->watch_hit = false;
			stop->reason = VCPU_STOP_WATCH;
			stop->addr = c->watch_addr;
			stop->watch_type = c->watch_type;
			return 0;
		}
		if (c->icount >= c->slice_end) { /* SMP: the turn is over */
			c->yield = true;
			stop->reason = VCPU_STOP_KICK;
			return 0;
		}
		if (c->db_now) /* after a SYSRET/SYSCALL in the fast path */
			cpu_single_step_deliver(c);
		if (!step && c->icount >= c->stop_at && c->stop_pre) {
			stop->reason = VCPU_STOP_KICK; /* the history's stop */
			return 0;
		}
		if (!step && c->icount >= c->next_check &&
		    cpu_check_events(c)) {
			stop->reason = VCPU_STOP_KICK;
			return 0;
		}
		if (!step && c->icount >= c->stop_at) {
			stop->reason = VCPU_STOP_KICK;
			return 0;
		}
		if (c->halted && c->eng->n > 1 && !step) {
			/* SMP: the others run; the machine idles only when
			 * all of them are halted (run_smp). */
			c->st_halt++;
			c->yield = true;
			stop->reason = VCPU_STOP_KICK;
			return 0;
		}
		if (c->halted) {
			ret = cpu_idle(c, e);
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
		if (c->dr_exec) /* the guest's instruction breakpoints */
			cpu_dr_exec_check(c);
		ci = cpu_fetch(c);
		c->next_rip = c->rip + ci->d.len;
		if (c->mode != DEC_MODE64 && c->seg[S_CS].db == 0)
			c->next_rip &= 0xffff;
		if (c->trace)
			trace_insn(c, &ci->d);
		if (c->mode != DEC_MODE64)
			cpu_fetch_limit(c, &ci->d);
		fall = c->next_rip;
		tf = (c->rflags & RFLAGS_TF) != 0;
		c->mov_ss = false;
		c->delivered = false;
		c->tf_result = false;
		c->db_hits = 0;
		c->rsp_start = c->r[R_RSP];
		c->rsp_valid = true;
		/* RF lasts one instruction (Vol. 3 §18.3.1.1); only IRET and
		 * faults set it, and after an IRET this path runs the next
		 * one (cpu_far_return stores 0 into next_check). */
		c->rflags &= ~(uint64_t)RFLAGS_RF;
		ci->fn(c, &ci->d);
		/* A near branch beyond CS's limit faults on the branch, RSP
		 * as it was (SDM Vol. 2 JMP, CALL, RET, Jcc: #GP(0)). */
		if (c->mode != DEC_MODE64 && c->next_rip != fall &&
		    c->next_rip > c->seg[S_CS].limit)
			cpu_gp(c, 0);
		c->rsp_valid = false;
		c->rip = c->next_rip;
		c->icount += CPU_INSN_NS;
		if (c->tf_result) /* SYSCALL, SYSRET: the resulting TF */
			tf = c->db_now;
		c->db_trap |= c->db_hits; /* data breakpoints: a trap */
		if ((tf && !c->delivered) || c->db_pending || c->db_trap)
			cpu_single_step_trap(c, tf && !c->delivered);
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

/* --- SMP: INIT, start-up, turns ------------------------------------------- */

static void set_regs(struct cpu *c, const struct rax_regs *r);

/* INIT (sipi < 0) or a start-up IPI with vector sipi: the state of SDM
 * Vol. 3 §9.1.1 Table 9-1 (INIT column: x87, SSE and most MSRs keep
 * their values), starting at F000:FFF0, or at vector << 12 in real
 * mode (CS = vector << 8, IP 0: §8.4.4.1, §10.6.1).  After INIT the
 * vCPU waits for a start-up IPI. */
static void cpu_reset_init(struct cpu *c, int sipi)
{
	struct rax_regs r;
	uint16_t cs = sipi < 0 ? 0xf000 : (uint16_t)(sipi << 8);

	memset(&r, 0, sizeof(r));
	r.rip = sipi < 0 ? 0xfff0 : 0;
	r.rflags = 2;
	r.gpr[R_RDX] = 0x6fb; /* the CPUID.1 signature */
	for (int s = 0; s < 6; s++)
		r.seg[s] = (struct rax_seg){ .limit = 0xffff, .type = 3,
					     .s = 1, .present = 1 };
	r.seg[S_CS] = (struct rax_seg){ .sel = cs, .limit = 0xffff,
					.base = sipi < 0 ? 0xffff0000ull :
					(uint64_t)cs << 4,
					.type = 11, .s = 1, .present = 1 };
	r.ldt = (struct rax_seg){ .limit = 0xffff, .type = 2, .present = 1 };
	r.tr = (struct rax_seg){ .limit = 0xffff, .type = 11, .present = 1 };
	r.gdt.limit = 0xffff;
	r.idt.limit = 0xffff;
	r.cr0 = CR0_CD | CR0_NW | CR0_ET;
	set_regs(c, &r);
	memset(c->dr, 0, sizeof(c->dr));
	c->dr6 = 0xffff0ff0;
	c->dr7 = 0x400;
	c->halted = c->nmi_blocked = false;
	c->mov_ss = c->db_pending = c->db_now = false;
	c->exc_depth = 0;
	c->shadow_end = 0;
	c->wait_sipi = sipi < 0;
}

/* INIT and start-up IPIs received since c's last turn. */
static void take_startup(struct cpu *c)
{
	uint8_t vec = 0;
	int k;

	while ((k = intc_take_startup(c->intc, c->id, &vec)) != INTC_NONE) {
		if (k == INTC_INIT) {
			rax_log(LOG_DEBUG, cpu, "cpu%u: INIT", c->id);
			cpu_reset_init(c, -1);
		} else if (c->wait_sipi) { /* else ignored (§8.4.4.1) */
			rax_log(LOG_DEBUG, cpu, "cpu%u: start-up at %#x",
				c->id, vec << 12);
			cpu_reset_init(c, vec);
		}
	}
}

/* Has c something to do: running, or halted with an interrupt (or an
 * NMI) it can take now? */
static bool runnable(struct cpu *c)
{
	if (c->wait_sipi)
		return false;
	if (!c->halted)
		return true;
	return intc_pending(c->intc, c->id) &&
	       ((c->rflags & RFLAGS_IF) || !c->nmi_blocked);
}

/* Every vCPU is halted: with interrupts disabled or waiting for a
 * start-up IPI, none can ever run again. */
static bool all_dead(const struct cpu_engine *eng)
{
	for (unsigned i = 0; i < eng->n; i++) {
		const struct cpu *c = eng->cpu[i];

		if (!c->wait_sipi && (c->rflags & RFLAGS_IF))
			return false;
	}
	return true;
}

/* Hands the clock from the vCPU that holds it to vCPU i. */
static void pass_clock(struct cpu_engine *eng, unsigned i)
{
	struct cpu *from = eng->cpu[eng->cur], *to = eng->cpu[i];

	/* An interrupt shadow (STI, MOV SS) that outlasted i's last turn
	 * still covers its next instruction. */
	if (to->shadow_end > to->icount)
		to->shadow_end += from->icount - to->icount;
	to->icount = from->icount;
	to->host_base = from->host_base;
	eng->cur = i;
}

/* The vCPU a kick's stop names.  The history's stop (stop_at reached)
 * names c.  A user's (gdb's Ctrl-C): c if it runs guest code, else the
 * next in turn order that does (a halted vCPU is never what an
 * interrupt meant to catch: gdb would show it in its idle loop while
 * another spins), else c on an idle machine.  The clock stays with cur;
 * a step of the vCPU named passes it there. */
static unsigned kick_cpu(const struct cpu_engine *eng, const struct cpu *c)
{
	if (c->icount >= c->stop_at)
		return c->id;
	for (unsigned k = 0; k < eng->n; k++) {
		const struct cpu *o = eng->cpu[(c->id + k) % eng->n];

		if (!o->halted && !o->wait_sipi)
			return o->id;
	}
	return c->id;
}

/* The SMP run loop: vCPUs in turns of quantum_ns of the clock, in
 * index order, each turn a run_loop() that returns at its end (or at
 * HLT) with c->yield set; any other return of run_loop() (a kick, a
 * breakpoint, an error) ends run() with stop->cpu naming the vCPU.  A
 * round of turns in which no vCPU retired an instruction or took an
 * event idles the machine (cpu_idle_clock: the clock jumps to the next
 * timer) and runs the timers due.  A single step steps the vCPU flags
 * name (VCPU_RUN_CPU), the others waiting. */
static int run_smp(struct cpu_engine *eng, unsigned flags,
		   struct vcpu_stop *stop, struct rax_err *e)
{
	struct machine *m = eng->m;
	bool step = flags & VCPU_RUN_STEP;

	/* A step of another vCPU than cur ends cur's turn there. */
	if (step && VCPU_RUN_CPU_OF(flags) < eng->n &&
	    VCPU_RUN_CPU_OF(flags) != eng->cur) {
		eng->turn_open = false;
		pass_clock(eng, VCPU_RUN_CPU_OF(flags));
	}
	for (;;) {
		struct cpu *c = eng->cpu[eng->cur];
		uint64_t icount0 = c->icount, idle0 = c->idle_ns;
		int ret;

		if (atomic_load(&m->exit_requested) ||
		    atomic_exchange(&eng->kick, false) ||
		    (!step && c->icount >= c->stop_at)) {
			/* the last: the history's stop, which idling (every
			 * vCPU halted) reaches between turns, names c */
			stop->reason = VCPU_STOP_KICK;
			stop->cpu = kick_cpu(eng, c);
			return 0;
		}
		take_startup(c);
		/* A vCPU that waits for a start-up IPI, or is halted with
		 * nothing it may take, steps without moving. */
		if ((flags & VCPU_RUN_STEP) && !runnable(c)) {
			stop->reason = VCPU_STOP_STEP;
			stop->cpu = c->id;
			return 0;
		}
		if (step || runnable(c)) {
			uint64_t slice = c->slice_end;

			intc_set_current(c->intc, c->id);
			c->watch_hit = false;
			c->yield = false;
			if (step) {
				c->slice_end = UINT64_MAX;
			} else if (!eng->turn_open) {
				c->slice_end = c->icount + eng->quantum_ns;
				eng->turn_open = true;
			}
			ret = run_loop(c, flags, stop, e);
			if (step)
				c->slice_end = slice;
			c->insn_ns += (c->icount - icount0) -
				      (c->idle_ns - idle0);
			if (c->icount != icount0)
				c->ran_until = c->icount;
			if (ret || !c->yield) {
				/* a kick seen in c's turn, c halted by then */
				stop->cpu = !ret && stop->reason ==
					VCPU_STOP_KICK ? kick_cpu(eng, c) :
					c->id;
				return ret;
			}
			if (c->icount != icount0 || !c->halted)
				eng->idle_turns = 0;
		}
		eng->turn_open = false;
		if (++eng->idle_turns > eng->n) {
			uint64_t now;

			if (all_dead(eng)) {
				stop->reason = VCPU_STOP_ERROR;
				stop->cpu = c->id;
				return rax_errf(e, -EDEADLK, "every vCPU halted "
						"with interrupts disabled or "
						"waits for a start-up IPI");
			}
			cpu_idle_clock(c);
			now = cpu_now(c);
			if (timer_next(&m->timers) <= now)
				timer_run(&m->timers, now);
			eng->idle_turns = 0;
		}
		pass_clock(eng, (eng->cur + 1) % eng->n);
	}
}

static void cpu_kick(struct machine *m)
{
	struct cpu_engine *eng = m->engine;

	if (!eng)
		return;
	atomic_store(&eng->kick, true);
	for (unsigned i = 0; i < eng->n; i++)
		eng->cpu[i]->next_check = 0;
	cpu_wake_idle(eng);
}

/* --- registers ------------------------------------------------------------ */

static int cpu_get_activity(struct machine *m, unsigned cpu,
			    enum vcpu_activity *a)
{
	struct cpu *c = vcpu(m, cpu);

	if (!c)
		return -ENOENT;
	*a = c->wait_sipi ? VCPU_ACT_WAIT_SIPI :
		c->halted ? VCPU_ACT_HALTED : VCPU_ACT_RUNNING;
	return 0;
}

static int cpu_get_regs(struct machine *m, unsigned cpu, struct rax_regs *r)
{
	struct cpu *c = vcpu(m, cpu);

	if (!c)
		return -ENOENT;

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
	r->cr8 = c->intc ? intc_get_cr8(c->intc, c->id) : 0;
	r->efer = c->efer;
	if (!c->intc || intc_rdmsr(c->intc, c->id, MSR_IA32_APIC_BASE,
				   &r->apic_base))
		r->apic_base = 0xfee00900;
	return 0;
}

static void set_regs(struct cpu *c, const struct rax_regs *r)
{

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
		intc_set_cr8(c->intc, c->id, r->cr8);
	cpu_set_cpl(c, c->cr0 & CR0_PE ? c->seg[S_CS].sel & 3 : 0);
	/* As KVM_SET_SREGS: the PDPTEs come from CR3's table. */
	if (cpu_pae_legacy(c->cr0, c->cr4, c->efer))
		(void)cpu_load_pdptes(c, c->cr0, c->cr3, c->cr4);
	cpu_update_mode(c);
	cpu_update_fpu_trap(c);
	cpu_tlb_flush(c, false);
	c->next_check = 0;
}

static int cpu_set_regs(struct machine *m, unsigned cpu,
			const struct rax_regs *r)
{
	struct cpu *c = vcpu(m, cpu);

	if (!c)
		return -ENOENT;
	set_regs(c, r);
	return 0;
}

static int cpu_get_fpu(struct machine *m, unsigned cpu, struct rax_fpu *f)
{
	struct cpu *c = vcpu(m, cpu);

	if (!c)
		return -ENOENT;
	memcpy(f->fx, c->fx, sizeof(f->fx));
	return 0;
}

static int cpu_set_fpu(struct machine *m, unsigned cpu,
		       const struct rax_fpu *f)
{
	struct cpu *c = vcpu(m, cpu);

	if (!c)
		return -ENOENT;
	memcpy(c->fx, f->fx, sizeof(c->fx));
	return 0;
}

/* The YMM upper halves: level-3 models only (the others have no AVX
 * state for gdb to show). */
static int cpu_get_ymmh(struct machine *m, unsigned cpu, struct rax_ymmh *y)
{
	struct cpu *c = vcpu(m, cpu);

	if (!c)
		return -ENOENT;
	if (c->level < 3)
		return -ENOTSUP;
	memcpy(y->h, c->ymmh, sizeof(y->h));
	return 0;
}

static int cpu_set_ymmh(struct machine *m, unsigned cpu,
			const struct rax_ymmh *y)
{
	struct cpu *c = vcpu(m, cpu);

	if (!c)
		return -ENOENT;
	if (c->level < 3)
		return -ENOTSUP;
	memcpy(c->ymmh, y->h, sizeof(c->ymmh));
	return 0;
}

static int cpu_get_dregs(struct machine *m, unsigned cpu,
			 struct rax_dregs *dr)
{
	struct cpu *c = vcpu(m, cpu);

	if (!c)
		return -ENOENT;
	memcpy(dr->dr, c->dr, sizeof(dr->dr));
	dr->dr6 = c->dr6;
	dr->dr7 = c->dr7;
	return 0;
}

static int cpu_get_msr(struct machine *m, unsigned cpu, uint32_t idx,
		       uint64_t *val)
{
	struct cpu *c = vcpu(m, cpu);

	return !c || cpu_rdmsr(c, idx, val) ? -ENOENT : 0;
}

static int cpu_set_msr(struct machine *m, unsigned cpu, uint32_t idx,
		       uint64_t val)
{
	struct cpu *c = vcpu(m, cpu);

	return !c || cpu_wrmsr(c, idx, val) ? -ENOENT : 0;
}

/* --- the debugger's memory access ------------------------------------------ */

static int cpu_read_mem(struct machine *m, uint64_t gpa, void *buf, size_t len)
{
	return gm_read(&m->mem, gpa, buf, len);
}

/* A write kills the decoded instructions of each page it touches, as a
 * guest store would (cpu_code_write()): nothing else is forgotten. */
static int cpu_write_mem(struct machine *m, uint64_t gpa, const void *buf,
			 size_t len)
{
	struct cpu *c = cur_cpu(m);

	if (!gm_ptr(&m->mem, gpa, len))
		return -EFAULT;
	for (uint64_t pa = gpa; pa < gpa + len; pa = (pa | 0xfff) + 1)
		cpu_code_write(c, pa, 1);
	return gm_write(&m->mem, gpa, buf, len);
}

/* --- breakpoints ---------------------------------------------------------- */

/* Breakpoints and watchpoints are the machine's: every vCPU has the
 * same list. */
static int bp_insert(struct cpu *c, enum bp_type t, uint64_t addr,
		     uint64_t len)
{
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

static int bp_remove(struct cpu *c, enum bp_type t, uint64_t addr,
		     uint64_t len)
{
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

static int cpu_bp_insert(struct machine *m, enum bp_type t, uint64_t addr,
			 uint64_t len)
{
	struct cpu_engine *eng = m->engine;

	for (unsigned i = 0; i < eng->n; i++) {
		int ret = bp_insert(eng->cpu[i], t, addr, len);

		if (ret) { /* all or nothing */
			while (i--)
				(void)bp_remove(eng->cpu[i], t, addr, len);
			return ret;
		}
	}
	return 0;
}

static int cpu_bp_remove(struct machine *m, enum bp_type t, uint64_t addr,
			 uint64_t len)
{
	struct cpu_engine *eng = m->engine;
	int ret = 0;

	for (unsigned i = 0; i < eng->n; i++)
		ret = bp_remove(eng->cpu[i], t, addr, len);
	return ret;
}

/* An interrupt from another thread: every vCPU looks soon (the one
 * running, and any halted one idling the machine). */
static void wake_all(struct cpu_engine *eng)
{
	for (unsigned i = 0; i < eng->n; i++)
		eng->cpu[i]->next_check = 0;
	cpu_wake_idle(eng);
}

static void cpu_set_irq(struct machine *m, unsigned gsi, int level)
{
	struct cpu_engine *eng = m->engine;

	if (eng && eng->cpu[0]->intc) {
		intc_set_irq(eng->cpu[0]->intc, gsi, level);
		wake_all(eng);
	}
}

static void cpu_msi(struct machine *m, uint64_t addr, uint32_t data)
{
	struct cpu_engine *eng = m->engine;

	if (eng && eng->cpu[0]->intc) {
		intc_msi(eng->cpu[0]->intc, addr, data);
		wake_all(eng);
	}
}

/* Device DMA into guest RAM.  On the vCPU thread (a device working
 * synchronously inside an MMIO write) the written pages drop their
 * decoded blocks at once, as a store by the guest would.  Another thread
 * (a device's I/O thread, host network input) must not touch the decode
 * cache: when it wrote a page holding decoded code, every block is
 * forgotten at the next event check (event.c).  The device publishes
 * the data to the guest (a used-ring index) only after this returns, and
 * the guest needs at least that one more instruction, after which the
 * check runs (next_check = 0), to reach the new bytes. */
static void cpu_mem_written(struct machine *m, uint64_t gpa, uint64_t len)
{
	struct cpu_engine *eng = m->engine;
	struct cpu *c = cur_cpu(m);
	bool here = c && pthread_equal(pthread_self(), eng->thread);
	uint64_t pa;

	if (!c || !len)
		return;
	for (pa = gpa & ~0xfffull; pa < gpa + len; pa += 4096) {
		if (here) {
			cpu_code_write(c, pa, 1);
		} else if (cpu_is_code_page(c, pa)) {
			atomic_store(&eng->dma_code_write, true);
			for (unsigned i = 0; i < eng->n; i++)
				eng->cpu[i]->next_check = 0;
			return;
		}
	}
}

static int cpu_set_trace(struct machine *m, bool on)
{
	struct cpu_engine *eng = m->engine;

	for (unsigned i = 0; i < eng->n; i++) {
		struct cpu *c = eng->cpu[i];

		c->trace = on;
		c->trace_crlf = isatty(STDERR_FILENO);
		c->next_check = 0;
	}
	return 0;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* The counters of every vCPU added up. */
struct cpu_stats_sum {
#define CPU_STAT_FIELD(n) uint64_t st_##n;
	CPU_STATS(CPU_STAT_FIELD)
#undef CPU_STAT_FIELD
	uint64_t st_vec[256];
};

/* --stats: counters (the sums over the vCPUs), then the rates derived
 * from them, then each vCPU's instructions.  The TLB counts only its
 * misses (cpu_translate(): walks and fills), not the hits, which are
 * every memory access; the decode cache serves every instruction it did
 * not have to decode. */
static void cpu_print_stats(struct machine *m)
{
	struct cpu_engine *eng = m->engine;
	struct cpu_stats_sum sum, *c = &sum;
	struct cpu *now_c = cur_cpu(m);
	uint64_t insns = 0, lookups;
	uint64_t exc = 0, irq = 0;

	memset(&sum, 0, sizeof(sum));
	for (unsigned i = 0; i < eng->n; i++) {
		const struct cpu *v = eng->cpu[i];

#define CPU_STAT_ADD(n) sum.st_##n += v->st_##n;
		CPU_STATS(CPU_STAT_ADD)
#undef CPU_STAT_ADD
		for (int k = 0; k < 256; k++)
			sum.st_vec[k] += v->st_vec[k];
		insns += v->insn_ns / CPU_INSN_NS;
	}
	lookups = c->st_chain + c->st_jit_chain + c->st_jc_hit + c->st_trace_hit +
		  c->st_trace_miss;

	fprintf(stderr, "rax: emulator: %" PRIu64 " instructions retired "
		"(%s clock %" PRIu64 " ns)\n", insns, now_c->host_clock ?
		"host" : "virtual", cpu_now(now_c));
#define CPU_STAT_PRINT(n) \
	fprintf(stderr, "rax:   %-12s %" PRIu64 "\n", #n, c->st_##n);
	CPU_STATS(CPU_STAT_PRINT)
#undef CPU_STAT_PRINT
	fprintf(stderr, "rax:   tlb: %" PRIu64 " misses, %.2f per 1000 "
		"instructions\n", c->st_tlb_miss,
		insns ? 1000.0 * (double)c->st_tlb_miss / (double)insns : 0.0);
	fprintf(stderr, "rax:   decode cache: %" PRIu64 " trace transitions, %"
		PRIu64 " misses (%.2f%% hit); %" PRIu64 " of %" PRIu64
		" instructions decoded (%.2f%% hit)\n", lookups,
		c->st_trace_miss, pct(lookups - c->st_trace_miss, lookups),
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
	for (unsigned i = 0; i < eng->n; i++)
		fprintf(stderr, "rax:   vcpu %u: %" PRIu64 " instructions, %"
			PRIu64 " interrupts\n", i,
			eng->cpu[i]->insn_ns / CPU_INSN_NS,
			eng->cpu[i]->st_irq);
}

/* --- life cycle ----------------------------------------------------------- */

static void cpu_destroy(struct machine *m)
{
	struct cpu_engine *eng = m->engine;

	if (!eng)
		return;
	if (eng->cpu[0] && eng->cpu[0]->intc)
		intc_destroy(eng->cpu[0]->intc);
	for (unsigned i = eng->n; i--;) {
		if (!eng->cpu[i])
			continue;
		cpu_icache_detach(eng->cpu[i]);
		free(eng->cpu[i]);
	}
	free(eng);
	m->engine = NULL;
}

static void reset_fpu(struct cpu *c)
{
	memset(c->fx, 0, sizeof(c->fx));
	memset(c->ymmh, 0, sizeof(c->ymmh));
	c->xcr0 = 1; /* x87 only (SDM Vol. 1 §13.3) */
	c->fx[FX_FCW] = 0x7f;
	c->fx[FX_FCW + 1] = 0x03;
	c->fx[FX_MXCSR] = 0x80;
	c->fx[FX_MXCSR + 1] = 0x1f;
	/* MXCSR_MASK: every MXCSR bit, DAZ included, is writable (the
	 * host's SSE unit runs the guest's operations, ssefp.c). */
	c->fx[FX_MXCSR + 4] = 0xff;
	c->fx[FX_MXCSR + 5] = 0xff;
}

static struct cpu *new_cpu(struct cpu_engine *eng, unsigned id)
{
	struct cpu *c = aligned_alloc(64, (sizeof(*c) + 63) & ~(size_t)63);

	if (!c)
		return NULL;
	memset(c, 0, sizeof(*c));
	c->m = eng->m;
	c->eng = eng;
	c->id = id;
	c->slice_end = UINT64_MAX;
	c->tlb_fills = TLB_LOG + 1; /* tags of 0: the first flush clears all */
	reset_fpu(c);
	c->pat = 0x0007040600070406ull;
	c->misc_enable = 1; /* fast strings enabled, as firmware leaves it */
	c->host_clock = eng->m->host_clock;
	c->stats = eng->m->stats;
	c->jit = !eng->m->jit_off;
	c->jit_hot = eng->m->jit_hot ? eng->m->jit_hot : JIT_HOT;
	c->jit_tlb_miss = eng->m->jit_tlb_miss;
	c->level = eng->m->cpu_level;
	c->stop_at = UINT64_MAX;
	if (!c->level)
		c->level = cpu_host_level() < CPU_LEVEL_MAX ?
			   cpu_host_level() : CPU_LEVEL_MAX;
	return c;
}

/* vCPU 0 starts at m->boot_regs; the others (APs) wait for INIT and a
 * start-up IPI, as at power-up (SDM Vol. 3 §8.4.1). */
static int cpu_init(struct machine *m, struct rax_err *e)
{
	unsigned n = m->ncpus ? m->ncpus : 1;
	struct cpu_engine *eng;
	struct intc *intc;
	uint64_t host_base = host_now_ns();
	int ret;

	eng = calloc(1, sizeof(*eng) + n * sizeof(eng->cpu[0]));
	if (!eng)
		return rax_errf(e, -ENOMEM, "emulator: out of memory");
	eng->m = m;
	eng->n = n;
	eng->quantum_ns = (uint64_t)(m->quantum ? m->quantum : 4000) *
			  CPU_INSN_NS;
	m->engine = eng;
	for (unsigned i = 0; i < n; i++) {
		struct cpu *c = new_cpu(eng, i);

		eng->cpu[i] = c;
		if (!c || (i ? cpu_icache_attach(c, eng->cpu[0]->ic) :
			   cpu_icache_create(c))) {
			ret = rax_errf(e, -ENOMEM, "emulator: out of memory");
			goto out_free;
		}
		c->host_base = host_base;
	}
	ret = intc_create(m, &intc, e);
	if (ret)
		goto out_free;
	for (unsigned i = 0; i < n; i++) {
		eng->cpu[i]->intc = intc;
		if (i)
			cpu_reset_init(eng->cpu[i], -1);
	}
	set_regs(eng->cpu[0], &m->boot_regs);
	return 0;
out_free:
	cpu_destroy(m);
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
	.get_ymmh = cpu_get_ymmh,
	.set_ymmh = cpu_set_ymmh,
	.get_dregs = cpu_get_dregs,
	.get_msr = cpu_get_msr,
	.set_msr = cpu_set_msr,
	.get_activity = cpu_get_activity,
	.read_mem = cpu_read_mem,
	.write_mem = cpu_write_mem,
	.bp_insert = cpu_bp_insert,
	.bp_remove = cpu_bp_remove,
	.set_irq = cpu_set_irq,
	.clock_ns = cpu_clock_ns,
	.set_trace = cpu_set_trace,
	.print_stats = cpu_print_stats,
	.msi = cpu_msi,
	.mem_written = cpu_mem_written,
	.snap = &cpu_snap_ops,
};

