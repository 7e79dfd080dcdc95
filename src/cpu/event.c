/* The interpreter's events: exception and interrupt delivery in real mode
 * (the IVT), protected mode and IA-32e mode (SDM Vol. 3 ch. 6, §20.1.4),
 * the #DF/shutdown escalation, the
 * event check that the run loop's slow path makes (timers, kicks,
 * NMIs, external interrupts), single-step traps, and HLT's idle wait.
 *
 * Time (--clock virtual, the default): the machine clock counts retired
 * instructions, CPU_INSN_NS nanoseconds each (cpu.h), read by the guest
 * as a 1 GHz TSC; HLT with IF=1 advances the clock to the next timer
 * deadline (paced by real time when the guest is idle).  With --clock
 * host the clock is the host's monotonic clock: the loop looks at the
 * timers every HOST_CHECK_INSNS instructions, and HLT sleeps until the
 * next deadline or until another thread raises an interrupt. */
#include "cpu/cpu.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "devices/intc.h"
#include "err.h"
#include "log.h"
#include "machine.h"

#define CHECK_INTERVAL (4096 * CPU_INSN_NS)
#define HOST_CHECK_INSNS 1024 /* about 20 us at the interpreter's speed */

/* Wakes an HLT sleeping in idle_wait(), on either clock. */
void cpu_wake_idle(struct cpu_engine *eng)
{
	atomic_fetch_add(&eng->idle_wake, 1);
	syscall(SYS_futex, (uint32_t *)&eng->idle_wake, FUTEX_WAKE_PRIVATE, 1,
		NULL, NULL, 0);
}



/* --- exception and interrupt delivery ------------------------------------ */

/* Descriptor fields used here (SDM Vol. 3 §3.4.5, §6.11, §6.14.1). */
#define D_TYPE(d) ((unsigned)((d) >> 40) & 15)
#define D_DPL(d) ((unsigned)((d) >> 45) & 3)
#define D_P (1ull << 47)
#define D_CODE (1ull << 43)
#define D_CONF (1ull << 42)
#define D_S (1ull << 44)

/* Real mode (Vol. 3 §20.1.4): the IVT entry at IDTR.base + vec * 4, a
 * 16-bit FLAGS, CS, IP frame; IF, TF and AC cleared. */
static void deliver_real(struct cpu *c, int vec, uint64_t ret)
{
	struct cpu_stack k;
	uint32_t ent;

	if ((unsigned)vec * 4 + 3 > c->idt.limit)
		cpu_gp(c, 0);
	ent = (uint32_t)cpu_sys_read(c, c->idt.base + (uint64_t)vec * 4, 4);
	cpu_stack_cur(c, &k);
	cpu_stack_push(c, &k, cpu_get_rflags(c) & 0xffff, 2);
	cpu_stack_push(c, &k, c->seg[S_CS].sel, 2);
	cpu_stack_push(c, &k, ret & 0xffff, 2);
	c->r[R_RSP] = k.sp;
	cpu_set_rflags(c, cpu_get_rflags(c) & ~(uint64_t)(RFLAGS_IF |
			RFLAGS_TF | RFLAGS_AC));
	cpu_real_seg(c, S_CS, (uint16_t)(ent >> 16));
	c->rip = c->next_rip = ent & 0xffff;
	cpu_update_mode(c);
}

/* The code segment an IDT gate names, checked (Vol. 2 INT n,
 * "PROTECTED-MODE"/"IA-32e-MODE"): null #GP(EXT); not code or DPL > CPL
 * #GP(sel+EXT); not present #NP(sel+EXT).  Returns the descriptor and
 * the CPL the handler runs at. */
static uint64_t gate_target(struct cpu *c, uint16_t sel, unsigned ext,
			    unsigned *newcpl)
{
	uint64_t d;

	if (!(sel & ~3u))
		cpu_gp(c, ext);
	if (!cpu_read_desc(c, sel, &d, NULL))
		cpu_gp(c, (sel & 0xfffcu) | ext);
	if (!(d & D_S) || !(d & D_CODE) || D_DPL(d) > c->cpl)
		cpu_gp(c, (sel & 0xfffcu) | ext);
	if ((c->efer & EFER_LMA) && (((d >> 53) & 1) == 0 || ((d >> 54) & 1)))
		cpu_gp(c, (sel & 0xfffcu) | ext); /* IA-32e: 64-bit code */
	if (!(d & D_P))
		cpu_raise(c, EXC_NP, (sel & 0xfffcu) | ext, true);
	*newcpl = (d & D_CONF) ? c->cpl : D_DPL(d);
	return d;
}

/* Legacy protected mode (Vol. 3 §6.12): 16- and 32-bit interrupt and
 * trap gates, a stack switch through the TSS to an inner level, the
 * frame sized by the gate.  Task gates end the run (cpu_task_switch). */
static void deliver_prot(struct cpu *c, int vec, bool has_err, uint32_t err,
			 bool soft, uint64_t ret, uint64_t rf)
{
	unsigned ext = !soft, idx = (unsigned)vec * 8 + 2 + ext;
	unsigned type, n, newcpl;
	uint64_t g, d, off;
	struct cpu_stack k;
	uint16_t sel;

	if ((unsigned)vec * 8 + 7 > c->idt.limit)
		cpu_gp(c, idx);
	g = cpu_sys_read(c, c->idt.base + (uint64_t)vec * 8, 8);
	type = D_TYPE(g);
	if (type == 5 && !(g & (1ull << 44)))
		cpu_task_switch(c, (uint16_t)(g >> 16), "IDT task gate");
	if ((g & D_S) || (type != 6 && type != 7 && type != 14 && type != 15))
		cpu_gp(c, idx);
	if (soft && D_DPL(g) < c->cpl)
		cpu_gp(c, idx);
	if (!(g & D_P))
		cpu_raise(c, EXC_NP, idx, true);
	n = type >= 14 ? 4 : 2;
	off = (g & 0xffff) | (n == 4 ? (g >> 32) & 0xffff0000ull : 0);
	sel = (uint16_t)(g >> 16);
	d = gate_target(c, sel, ext, &newcpl);
	if (off > cpu_desc_seg(d, sel).limit)
		cpu_gp(c, ext);
	if (newcpl < c->cpl) {
		cpu_tss_stack(c, newcpl, ext, &k);
		cpu_stack_push(c, &k, c->seg[S_SS].sel, n);
		cpu_stack_push(c, &k, c->r[R_RSP], n);
	} else {
		cpu_stack_cur(c, &k);
	}
	cpu_stack_push(c, &k, rf, n);
	cpu_stack_push(c, &k, c->seg[S_CS].sel, n);
	cpu_stack_push(c, &k, ret, n);
	if (has_err)
		cpu_stack_push(c, &k, err, n);
	c->seg[S_SS] = k.ss;
	c->r[R_RSP] = k.sp;
	c->seg[S_CS] = cpu_desc_seg(d | (1ull << 40),
				    (uint16_t)((sel & ~3u) | newcpl));
	cpu_set_cpl(c, newcpl);
	rf &= ~(uint64_t)(RFLAGS_TF | RFLAGS_RF | RFLAGS_VM | (1u << 14));
	if (!(type & 1)) /* an interrupt gate */
		rf &= ~(uint64_t)RFLAGS_IF;
	cpu_set_rflags(c, rf);
	c->rip = c->next_rip = off;
	cpu_update_mode(c);
}

/* IA-32e mode (Vol. 3 §6.14): 16-byte gates, 64-bit handlers, the stack
 * from the 64-bit TSS (RSPn or ISTn) aligned to 16 bytes, an 8-byte
 * frame always with SS:RSP. */
static void deliver_long(struct cpu *c, int vec, bool has_err, uint32_t err,
			 bool soft, uint64_t ret, uint64_t rf)
{
	uint64_t lo, hi, off, rsp, old_rsp = c->r[R_RSP], d;
	unsigned type, ist, newcpl, sel, ext = !soft;
	unsigned idx = (unsigned)vec * 8 + 2 + ext;
	uint16_t old_ss = c->seg[S_SS].sel, old_cs = c->seg[S_CS].sel;

	if ((unsigned)vec * 16 + 15 > c->idt.limit)
		cpu_gp(c, idx);
	lo = cpu_sys_read(c, c->idt.base + (uint64_t)vec * 16, 8);
	hi = cpu_sys_read(c, c->idt.base + (uint64_t)vec * 16 + 8, 8);
	type = D_TYPE(lo);
	ist = (lo >> 32) & 7;
	if (type != 14 && type != 15)
		cpu_gp(c, idx);
	if (soft && D_DPL(lo) < c->cpl)
		cpu_gp(c, idx);
	if (!(lo & D_P))
		cpu_raise(c, EXC_NP, idx, true);
	off = (lo & 0xffff) | ((lo >> 32) & 0xffff0000ull) | (hi << 32);
	sel = (lo >> 16) & 0xffff;
	d = gate_target(c, (uint16_t)sel, ext, &newcpl);
	if (!cpu_canonical(off))
		cpu_gp(c, ext);
	rsp = c->r[R_RSP];
	if (newcpl < c->cpl)
		rsp = cpu_sys_read(c, c->tr.base + 4 + 8 * newcpl, 8);
	if (ist)
		rsp = cpu_sys_read(c, c->tr.base + 0x24 + 8 * (ist - 1), 8);
	rsp &= ~0xfull;
	/* Push the frame as supervisor (SDM Vol. 3 Figure 6-9). */
	cpu_sys_write(c, rsp - 8, old_ss, 8);
	cpu_sys_write(c, rsp - 16, old_rsp, 8);
	cpu_sys_write(c, rsp - 24, rf, 8);
	cpu_sys_write(c, rsp - 32, old_cs, 8);
	cpu_sys_write(c, rsp - 40, ret, 8);
	rsp -= 40;
	if (has_err) {
		cpu_sys_write(c, rsp - 8, err, 8);
		rsp -= 8;
	}
	if (newcpl != c->cpl) {
		c->seg[S_SS] = (struct rax_seg){ .sel = (uint16_t)newcpl,
						 .unusable = 1,
						 .dpl = (uint8_t)newcpl };
	}
	c->r[R_RSP] = rsp;
	cpu_set_cpl(c, newcpl);
	c->seg[S_CS] = cpu_desc_seg(d | (1ull << 40),
				    (uint16_t)((sel & ~3u) | newcpl));
	rf &= ~(uint64_t)(RFLAGS_TF | RFLAGS_RF | RFLAGS_VM | (1u << 14));
	if (type == 14)
		rf &= ~(uint64_t)RFLAGS_IF;
	cpu_set_rflags(c, rf);
	c->rip = c->next_rip = off;
	cpu_update_mode(c);
}

/* Delivers vec by the current mode.  The saved instruction pointer is
 * the next instruction's for INT n, INT3, INTO and traps (#DB, #OF,
 * #BP), else the faulting one's.  Error codes of faults during the
 * delivery carry EXT unless vec is a software interrupt (soft).  The
 * EFLAGS image of a fault has RF set (Vol. 3 §18.3.1.1: so that the
 * IRET back re-executes the instruction without an instruction
 * breakpoint); the run loop's slow path clears RF before each
 * instruction, and an IRET (which loads RF) always ends in it. */
static void deliver(struct cpu *c, int vec, bool has_err, uint32_t err,
		    bool soft, bool fault)
{
	uint64_t ret = soft || vec == EXC_BP || vec == EXC_OF ||
		       vec == EXC_DB ? c->next_rip : c->rip;
	uint64_t rf = cpu_get_rflags(c) | (fault ? RFLAGS_RF : 0);

	c->st_vec[vec & 255]++;
	c->delivered = true;
	if (vec == EXC_DB && !soft) /* SDM Vol. 3B, DR7 GD flag */
		cpu_dr_clear_gd(c);
	if (!(c->cr0 & CR0_PE))
		deliver_real(c, vec, ret);
	else if (!(c->efer & EFER_LMA))
		deliver_prot(c, vec, has_err, err, soft, ret, rf);
	else
		deliver_long(c, vec, has_err, err, soft, ret, rf);
}

void cpu_deliver(struct cpu *c, int vec, bool has_err, uint32_t err,
		 bool soft)
{
	deliver(c, vec, has_err, err, soft, false);
}

/* The fault-class exceptions (Vol. 3 §6.15, Table 6-1): #DE, #BR, #UD,
 * #NM, #TS, #NP, #SS, #GP, #PF, #MF, #AC, #XM, #VE, #CP.  #DB is a fault
 * only for instruction breakpoints, which pass RF clear. */
#define FAULT_VECTORS 0x3b7ce1u

/* The classes of SDM Vol. 3A Table 6-4: 1 contributory (#DE, #TS,
 * #NP, #SS, #GP, #CP), 2 page fault, 0 benign. */
static int exc_class(int vec)
{
	if (vec == EXC_PF)
		return 2;
	return vec == EXC_DE || (vec >= 10 && vec <= 13) || vec == 21;
}

/* Handles the exception recorded by cpu_raise(): delivers it, escalating
 * to #DF and to shutdown (SDM Vol. 3 §6.15 "Double Fault", Table 6-5):
 * an exception while delivering another is a #DF when both are
 * contributory, or the first a #PF and the second a #PF or contributory;
 * otherwise the second is delivered alone (the first recurs when its
 * instruction runs again).  Any exception while delivering the #DF is
 * a shutdown.  Returns false on a triple fault. */
bool cpu_handle_exception(struct cpu *c)
{
	int vec = c->exc_vec;

	cpu_set_sys_access(c, false);
	if (c->exc_depth >= 2)
		return false;
	if (c->exc_depth == 1 &&
	    ((exc_class(c->exc_first) == 1 && exc_class(vec) == 1) ||
	     (exc_class(c->exc_first) == 2 && exc_class(vec) != 0))) {
		c->exc_depth = 2;
		c->exc_vec = EXC_DF;
		rax_log(LOG_DEBUG, cpu, "double fault (vector %d at %#" PRIx64 ")",
			vec, c->rip);
		deliver(c, EXC_DF, true, 0, false, false);
	} else {
		c->exc_depth = 1;
		c->exc_first = vec;
		rax_log(LOG_DEBUG, cpu, "exception %d err %#x at %#" PRIx64
			" cr2 %#" PRIx64, vec, c->exc_err, c->rip, c->cr2);
		deliver(c, vec, c->exc_has_err, c->exc_err, false,
			(unsigned)vec < 32 && ((FAULT_VECTORS >> vec) & 1));
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
		next = c->icount + HOST_CHECK_INSNS * CPU_INSN_NS;
	else if (lim < next)
		next = lim;
	/* SMP: the turn ends at slice_end (UINT64_MAX for one vCPU). */
	c->next_check = next < c->slice_end ? next : c->slice_end;
}

static bool irq_window(const struct cpu *c)
{
	return (c->rflags & RFLAGS_IF) && c->icount >= c->shadow_end;
}

/* Returns true when run() must return (kick or exit request). */
bool cpu_check_events(struct cpu *c)
{
	struct machine *m = c->m;
	uint64_t now = cpu_now(c);

	if (timer_next(&m->timers) <= now)
		timer_run(&m->timers, now);
	/* A device thread wrote a page of decoded code (cpu.c
	 * cpu_mem_written). */
	if (atomic_load_explicit(&c->eng->dma_code_write,
				 memory_order_relaxed) &&
	    atomic_exchange(&c->eng->dma_code_write, false))
		cpu_icache_flush(c);
	if (atomic_exchange(&c->eng->kick, false) ||
	    atomic_load(&m->exit_requested)) {
		schedule_check(c);
		return true;
	}
	if (c->intc && !c->nmi_blocked && c->icount >= c->shadow_end &&
	    intc_pending(c->intc, c->id) && intc_take_nmi(c->intc, c->id)) {
		/* NMIs ignore IF and block further NMIs until the next
		 * IRET (SDM Vol. 3 §6.7.1). */
		c->halted = false;
		c->nmi_blocked = true;
		c->next_rip = c->rip;
		cpu_deliver(c, EXC_NMI, false, 0, false);
	} else if (c->intc && irq_window(c) && intc_pending(c->intc, c->id)) {
		int vec = intc_ack(c->intc, c->id);

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
	if (!atomic_load(&c->eng->kick))
		syscall(SYS_futex, (uint32_t *)&c->eng->idle_wake,
			FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
}

/* HLT with IF=1: advance the clock to the next timer deadline.  While the
 * guest is busy its clock (CPU_INSN_NS per instruction) may run slower
 * than real time, and a halt then catches up at once; when the clock
 * would pass real time (an idle guest), sleep instead, so an idle guest
 * neither burns the host CPU nor races its clock ahead of the wall clock.
 * With no timer armed, wait for an interrupt from another thread (the
 * console).  Returns -1 for a stop with error, 0 to go on.
 *
 * When the interpreter retired instructions faster than CPU_INSN_NS each,
 * the clock is ahead of real time when the guest halts: more than
 * IDLE_SLACK_NS of that lead is forgiven (host_base moves back), not
 * slept off.  Sleeping it off froze the guest at every halt until real
 * time caught up: Debian's cloud kernel reached its shell prompt with
 * its clock 0.8 s ahead (13.1 s of guest time in 12.3 s, busy in crypto
 * self-tests), and the first command waited 1.1 s for its answer.
 * Jumps never pass now + IDLE_SLACK_NS, so only instructions build a
 * lead: an idle guest is still paced. */
int cpu_idle(struct cpu *c, struct rax_err *e)
{
	if (!(c->rflags & RFLAGS_IF)) {
		rax_errf(e, -EDEADLK, "guest halted with interrupts disabled "
			 "at %#" PRIx64, c->rip);
		return -1;
	}
	c->st_halt++;
	cpu_idle_clock(c);
	return 0;
}

void cpu_idle_clock(struct cpu *c)
{
	struct machine *m = c->m;
	uint64_t next = timer_next(&m->timers), now;
	uint32_t wake = atomic_load(&c->eng->idle_wake);

	now = host_now_ns() - c->host_base;
	if (c->host_clock) { /* sleep until the deadline (host time) */
		if (next > now)
			idle_wait(c, wake, next - now);
		return;
	}
	if (c->icount > now + IDLE_SLACK_NS) {
		c->host_base -= c->icount - IDLE_SLACK_NS - now;
		now = c->icount - IDLE_SLACK_NS;
	}
	if (next != TIMER_NEVER && next <= now + IDLE_SLACK_NS) {
		if (next > c->icount) {
			c->idle_ns += next - c->icount;
			c->icount = next;
		}
		return;
	}
	/* No timer armed: 1 ms, then look again. */
	idle_wait(c, wake, next != TIMER_NEVER ? next - now : 1000000);
}


/* --- single step -------------------------------------------------------- */

/* After an instruction that began with RFLAGS.TF set: the single-step
 * trap, #DB with DR6.BS, RIP of the next instruction on the handler's
 * stack (SDM Vol. 3 §18.3.1.4).  MOV SS holds it until after the next
 * instruction (§6.8.3).  INT n, INT3, INTO and INT1 clear TF and take
 * no trap (§18.3.1.4); a faulting instruction never gets here.  Data
 * breakpoints the instruction hit (db_trap, debugreg.c) come in the
 * same #DB: DR6's B0-B3 say which; BS only with a single step. */
static void debug_trap(struct cpu *c, bool bs)
{
	if (c->db_trap)
		c->dr6 = (c->dr6 & ~0xfull) | c->db_trap;
	if (bs)
		c->dr6 |= DR6_BS;
	c->db_pending = false;
	c->db_now = false;
	c->db_trap = 0;
	c->halted = false;
	c->next_rip = c->rip;
	cpu_deliver(c, EXC_DB, false, 0, false);
}

void cpu_single_step_deliver(struct cpu *c)
{
	debug_trap(c, true);
}

void cpu_single_step_trap(struct cpu *c, bool tf)
{
	if (c->mov_ss) {
		c->db_pending = tf || c->db_pending;
		return;
	}
	debug_trap(c, tf || c->db_pending);
}

void cpu_tf_from_result(struct cpu *c)
{
	c->tf_result = true;
	c->db_now = (c->rflags & RFLAGS_TF) != 0;
	if (c->db_now)
		c->next_check = 0;
}
