/* The interpreter engine: cpu_vcpu_ops and the run loop.  Its jobs live
 * beside it: the decoded-instruction cache in block.c, exception and
 * interrupt delivery, event checks and idling in event.c (with the time
 * model), memory and the TLB in mem.c, instruction handlers in alu.c,
 * ops.c, sys.c, x87.c, sse.c and ssefp.c. */
#include "cpu/cpu.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
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
	return c->host_clock ? host_now_ns() - c->host_base : c->icount;
}

static uint64_t cpu_clock_ns(struct machine *m)
{
	struct cpu *c = m->engine;

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

static int cpu_run(struct machine *m, unsigned flags, struct vcpu_stop *stop,
		   struct rax_err *e)
{
	struct cpu *c = m->engine;
	int ret;

	memset(stop, 0, sizeof(*stop));
	c->watch_hit = false;
	/* After a debugger stop the guest's memory may have been written
	 * behind the interpreter's back (gdb M packets): forget every
	 * decoded instruction. */
	c->thread = pthread_self();
	if (c->last_stop != VCPU_STOP_KICK ||
	    atomic_exchange(&c->dma_code_write, false))
		cpu_blocks_flush(c);
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
	for (;;) {
		if (c->icount < c->next_check) {
			d = cpu_fetch(c, &tmp);
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
			cpu_single_step_deliver(c);
		if (!step && cpu_check_events(c)) {
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
		d = cpu_fetch(c, &tmp);
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

static void cpu_kick(struct machine *m)
{
	struct cpu *c = m->engine;

	if (!c)
		return;
	atomic_store(&c->kick, true);
	c->next_check = 0;
	cpu_wake_idle(c);
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
		cpu_wake_idle(c);
	}
}

static void cpu_msi(struct machine *m, uint64_t addr, uint32_t data)
{
	struct cpu *c = m->engine;

	if (c && c->intc) {
		intc_msi(c->intc, addr, data);
		c->next_check = 0;
		cpu_wake_idle(c);
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
	cpu_blocks_free(c);
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

/* Exception and interrupt delivery are modelled for long mode only
 * (cpu_deliver), so a guest the loader starts in protected mode outside
 * it (a Multiboot kernel: 32-bit, paging off) is refused here rather
 * than run until its first event.  (An all-zero start, real mode, is
 * what tests that set their own state through set_regs() begin with.) */
static int check_start_mode(const struct rax_regs *r, struct rax_err *e)
{
	if ((r->efer & EFER_LMA) || !(r->cr0 & CR0_PE))
		return 0;
	return rax_errf(e, -ENOTSUP, "emulator: the guest starts in %s "
			"(a Multiboot kernel?); the interpreter lacks 32-bit "
			"protected mode and runs only 64-bit long mode",
			r->seg[S_CS].db ? "32-bit protected mode" :
			"16-bit protected mode");
}

static int cpu_init(struct machine *m, struct rax_err *e)
{
	struct cpu *c;
	int ret;

	ret = check_start_mode(&m->boot_regs, e);
	if (ret)
		return ret;
	c = aligned_alloc(64, (sizeof(*c) + 63) & ~(size_t)63);
	if (!c)
		return rax_errf(e, -ENOMEM, "emulator: out of memory");
	memset(c, 0, sizeof(*c));
	c->m = m;
	c->code_pages = m->mem.size >> 12;
	c->code_page = calloc(c->code_pages ? c->code_pages : 1, 1);
	if (!c->code_page || cpu_blocks_init(c)) {
		ret = rax_errf(e, -ENOMEM, "emulator: out of memory");
		goto out_free;
	}
	m->engine = c;
	ret = intc_create(m, &c->intc, e);
	if (ret)
		goto out_free;
	reset_fpu(c);
	c->pat = 0x0007040600070406ull;
	c->misc_enable = 1; /* fast strings enabled, as firmware leaves it */
	c->host_base = host_now_ns();
	c->host_clock = m->host_clock;
	cpu_set_regs(m, &m->boot_regs);
	return 0;
out_free:
	m->engine = NULL;
	cpu_blocks_free(c);
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

