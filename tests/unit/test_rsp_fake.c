/* The fake engine: see test_rsp_fake.h. */
#include "test_rsp_fake.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"

static int fake_probe(struct rax_err *e)
{
	return 0;
}

static int fake_init(struct machine *m, struct rax_err *e)
{
	fake_of(m)->r = m->boot_regs;
	return 0;
}

static void fake_destroy(struct machine *m)
{
}

static int find_bp(struct fake_cpu *c, enum bp_type t, uint64_t addr)
{
	for (int i = 0; i < c->nbps; i++)
		if (c->bps[i].type == t && c->bps[i].addr == addr)
			return i;
	return -1;
}

static bool write_watched(struct fake_cpu *c, uint64_t addr, struct vcpu_stop *st)
{
	for (int i = 0; i < c->nbps; i++) {
		struct fake_bp *b = &c->bps[i];

		if ((b->type == BP_WRITE || b->type == BP_ACCESS) &&
		    addr >= b->addr && addr < b->addr + b->len) {
			st->reason = VCPU_STOP_WATCH;
			st->watch_type = b->type;
			st->addr = addr;
			return true;
		}
	}
	return false;
}

/* Executes one instruction.  Returns 1 to go on, 0 when *st is set. */
static int step(struct machine *m, struct fake_cpu *c, struct vcpu_stop *st,
		struct rax_err *e)
{
	const uint8_t *p = gm_ptr(&m->mem, c->r.rip, 3);
	struct timespec ms = { 0, 1000000 };

	if (!p) {
		st->reason = VCPU_STOP_ERROR;
		rax_errf(e, -EFAULT, "fake: rip %#llx outside RAM",
			 (unsigned long long)c->r.rip);
		return -EFAULT;
	}
	c->steps++;
	switch (p[0]) {
	case 0x90:
		c->r.rip += 1;
		return 1;
	case 0xf4:
		nanosleep(&ms, NULL);
		return 1;
	case 0xeb:
		if (p[1] != 0xfe)
			break;
		return 1;
	case 0xaa: {
		uint8_t *d = gm_ptr(&m->mem, c->r.gpr[R_RDI], 1);

		if (!d)
			break;
		*d = (uint8_t)c->r.gpr[R_RAX];
		c->r.rip += 1;
		c->r.gpr[R_RDI] += 1;
		return write_watched(c, c->r.gpr[R_RDI] - 1, st) ? 0 : 1;
	}
	case 0x48:
		if (p[1] != 0xff || p[2] != 0xc0)
			break;
		c->r.gpr[R_RAX]++;
		c->r.rip += 3;
		return 1;
	case 0x0f:
		if (p[1] != 0x0b)
			break;
		st->reason = VCPU_STOP_SHUTDOWN;
		return 0;
	}
	st->reason = VCPU_STOP_ERROR;
	rax_errf(e, -EIO, "fake: unknown opcode %02x at %#llx", p[0],
		 (unsigned long long)c->r.rip);
	return -EIO;
}

/* Like hardware: a breakpoint at the first instruction of a run does not
 * fire (gdb steps off it with breakpoints removed anyway). */
static int fake_run(struct machine *m, unsigned flags, struct vcpu_stop *st,
		    struct rax_err *e)
{
	struct fake_cpu *c = fake_of(m);
	bool first = true;

	memset(st, 0, sizeof(*st));
	if (flags & VCPU_RUN_STEP)
		c->step_cpu = VCPU_RUN_CPU_OF(flags);
	for (;;) {
		int ret;

		if (atomic_exchange(&c->kicked, false) ||
		    atomic_load(&m->exit_requested)) {
			st->reason = VCPU_STOP_KICK;
			return 0;
		}
		if (!first && find_bp(c, BP_SW, c->r.rip) >= 0) {
			st->reason = VCPU_STOP_SWBREAK;
			return 0;
		}
		if (!first && find_bp(c, BP_HW, c->r.rip) >= 0) {
			st->reason = VCPU_STOP_HWBREAK;
			return 0;
		}
		first = false;
		ret = step(m, c, st, e);
		if (ret <= 0)
			return ret < 0 ? ret : 0;
		if (flags & VCPU_RUN_STEP) {
			st->reason = VCPU_STOP_STEP;
			return 0;
		}
	}
}

static void fake_kick(struct machine *m)
{
	atomic_store(&fake_of(m)->kicked, true);
}

/* The per-vCPU operations: -ENOENT beyond m->ncpus. */
static int no_cpu(struct machine *m, unsigned cpu)
{
	if (cpu >= (m->ncpus ? m->ncpus : 1))
		return -ENOENT;
	fake_of(m)->reg_cpu = cpu;
	return 0;
}

static int fake_get_regs(struct machine *m, unsigned cpu, struct rax_regs *r)
{
	if (no_cpu(m, cpu))
		return -ENOENT;
	*r = fake_of(m)->r;
	return 0;
}

static int fake_set_regs(struct machine *m, unsigned cpu, const struct rax_regs *r)
{
	if (no_cpu(m, cpu))
		return -ENOENT;
	fake_of(m)->r = *r;
	return 0;
}

static int fake_get_fpu(struct machine *m, unsigned cpu, struct rax_fpu *f)
{
	*f = fake_of(m)->f;
	return 0;
}

static int fake_set_fpu(struct machine *m, unsigned cpu, const struct rax_fpu *f)
{
	fake_of(m)->f = *f;
	return 0;
}

static int fake_get_dregs(struct machine *m, unsigned cpu, struct rax_dregs *d)
{
	*d = fake_of(m)->d;
	return 0;
}

static int fake_get_msr(struct machine *m, unsigned cpu, uint32_t idx, uint64_t *v)
{
	struct fake_cpu *c = fake_of(m);

	switch (idx) {
	case MSR_EFER: *v = c->r.efer; return 0;
	case MSR_FS_BASE: *v = c->r.seg[S_FS].base; return 0;
	case MSR_GS_BASE: *v = c->r.seg[S_GS].base; return 0;
	case MSR_KERNEL_GS_BASE: *v = c->kernel_gs_base; return 0;
	default: return -EINVAL;
	}
}

static int fake_set_msr(struct machine *m, unsigned cpu, uint32_t idx, uint64_t v)
{
	if (idx != MSR_KERNEL_GS_BASE)
		return -EINVAL;
	fake_of(m)->kernel_gs_base = v;
	return 0;
}

static int fake_bp_insert(struct machine *m, enum bp_type t, uint64_t addr,
			  uint64_t len)
{
	struct fake_cpu *c = fake_of(m);
	int hw = 0;

	if (t == BP_READ && c->no_read_watch)
		return -EOPNOTSUPP;
	if (find_bp(c, t, addr) >= 0)
		return 0;
	for (int i = 0; i < c->nbps; i++)
		hw += c->bps[i].type != BP_SW;
	if ((t != BP_SW && hw >= c->hw_slots) || c->nbps == 16)
		return -ENOSPC;
	c->bps[c->nbps++] = (struct fake_bp){ t, addr, len };
	return 0;
}

static int fake_bp_remove(struct machine *m, enum bp_type t, uint64_t addr,
			  uint64_t len)
{
	struct fake_cpu *c = fake_of(m);
	int i = find_bp(c, t, addr);

	if (i < 0)
		return -ENOENT;
	c->bps[i] = c->bps[--c->nbps];
	return 0;
}

static uint64_t fake_clock_ns(struct machine *m)
{
	return fake_of(m)->steps;
}

static int fake_set_trace(struct machine *m, bool on)
{
	fake_of(m)->trace = on;
	return 0;
}

static int fake_read_mem(struct machine *m, uint64_t gpa, void *buf,
			 size_t len)
{
	return gm_read(&m->mem, gpa, buf, len);
}

static int fake_write_mem(struct machine *m, uint64_t gpa, const void *buf,
			  size_t len)
{
	struct fake_cpu *c = m->engine;

	int ret = gm_write(&m->mem, gpa, buf, len);

	if (!ret)
		c->mem_writes += len;
	return ret;
}

const struct vcpu_ops fake_vcpu_ops = {
	.name = "fake",
	.probe = fake_probe,
	.init = fake_init,
	.destroy = fake_destroy,
	.run = fake_run,
	.kick = fake_kick,
	.get_regs = fake_get_regs,
	.set_regs = fake_set_regs,
	.get_fpu = fake_get_fpu,
	.set_fpu = fake_set_fpu,
	.get_dregs = fake_get_dregs,
	.get_msr = fake_get_msr,
	.set_msr = fake_set_msr,
	.read_mem = fake_read_mem,
	.write_mem = fake_write_mem,
	.bp_insert = fake_bp_insert,
	.bp_remove = fake_bp_remove,
	.clock_ns = fake_clock_ns,
	.set_trace = fake_set_trace,
};

static void flat_seg(struct rax_seg *s, uint16_t sel, uint8_t type, bool code)
{
	*s = (struct rax_seg){ .base = 0, .limit = 0xffffffff, .sel = sel,
			       .type = type, .s = 1, .present = 1, .g = 1,
			       .l = code, .db = !code };
}

int fake_machine_init(struct machine *m, uint64_t mem)
{
	struct fake_cpu *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	memset(m, 0, sizeof(*m));
	ret = gm_init(&m->mem, mem);
	if (ret) {
		free(c);
		return ret;
	}
	c->hw_slots = 4;
	m->engine = c;
	m->ops = &fake_vcpu_ops;
	m->boot_regs.cr0 = CR0_PE | CR0_ET | CR0_NE;
	m->boot_regs.efer = EFER_LME | EFER_LMA;
	m->boot_regs.rflags = RFLAGS_FIXED;
	flat_seg(&m->boot_regs.seg[S_CS], 0x10, 0xb, true);
	for (int i = 0; i < 6; i++)
		if (i != S_CS)
			flat_seg(&m->boot_regs.seg[i], 0x18, 0x3, false);
	c->r = m->boot_regs;
	return 0;
}

void fake_machine_destroy(struct machine *m)
{
	free(m->engine);
	m->engine = NULL;
	gm_destroy(&m->mem);
}
