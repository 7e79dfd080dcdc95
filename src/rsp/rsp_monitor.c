/* The gdb monitor (`monitor CMD`, qRcmd): a small table of commands
 * modelled on QEMU's, answering with text. */
#include "rsp/rsp_cmds.h"

#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"
#include "paging/paging.h"

struct mon_cmd {
	const char *name;
	const char *help;
	int (*fn)(struct rsp_session *s, const char *arg, struct rsp_buf *out);
};

static int mon_version(struct rsp_session *s, const char *arg,
		       struct rsp_buf *out)
{
	rsp_buf_printf(out, "rax %s (engine: %s)\n", PACKAGE_VERSION,
		       s->m->ops->name);
	return 0;
}

static int mon_registers(struct rsp_session *s, const char *arg,
			 struct rsp_buf *out)
{
	struct rax_regs r;
	struct rax_dregs d;
	char buf[4096];

	if (s->m->ops->get_regs(s->m, s->gcpu, &r)) {
		rsp_buf_puts(out, "cannot read the registers\n");
		return -EIO;
	}
	machine_format_regs(&r, buf, sizeof(buf));
	rsp_buf_puts(out, buf);
	if (s->m->ops->get_dregs && !s->m->ops->get_dregs(s->m, s->gcpu, &d)) {
		machine_format_dregs(&d, buf, sizeof(buf));
		rsp_buf_puts(out, buf);
	}
	if (s->engine_error[0])
		rsp_buf_printf(out, "engine: %s\n", s->engine_error);
	return 0;
}

/* ---- info mem ------------------------------------------------------- */

static int read_pte(void *opaque, uint64_t pa, uint64_t *pte)
{
	const struct machine *m = opaque;
	const void *p = gm_ptr(&m->mem, pa, 8);

	if (!p)
		return -EFAULT;
	memcpy(pte, p, 8);
	return 0;
}

/* One line per range: "START-END PHYS PERMS", PERMS as u/-, r, w/-,
 * x/- (QEMU's `info mem` has the same idea without PHYS). */
static int print_range(void *arg, uint64_t va, uint64_t pa, uint64_t len,
		       bool w, bool u, bool nx)
{
	rsp_buf_printf(arg, "%016" PRIx64 "-%016" PRIx64 " %016" PRIx64
		       " %cr%c%c\n", va, va + len, pa, u ? 'u' : '-',
		       w ? 'w' : '-', nx ? '-' : 'x');
	return 0;
}

static int mon_mem(struct rsp_session *s, const char *arg, struct rsp_buf *out)
{
	struct rax_regs r;
	struct pg_ctx c = { .read_pte = read_pte, .opaque = s->m };

	if (s->m->ops->get_regs(s->m, s->gcpu, &r))
		return -EIO;
	if (!(r.cr0 & CR0_PG)) {
		rsp_buf_puts(out, "paging is disabled\n");
		return 0;
	}
	c.cr0 = r.cr0;
	c.cr3 = r.cr3;
	c.cr4 = r.cr4;
	c.efer = r.efer;
	if (pg_for_each_range(&c, print_range, out) == -EFAULT)
		rsp_buf_puts(out, "(a page table is outside RAM)\n");
	return 0;
}

/* ---- info cpus ------------------------------------------------------ */

/* The execution mode by CR0.PE, EFER.LMA, CS.L and CS.D (SDM Vol. 3
 * §2.2, §5.2.1). */
static const char *cpu_mode(const struct rax_regs *r)
{
	const struct rax_seg *cs = &r->seg[S_CS];

	if (!(r->cr0 & CR0_PE))
		return "real";
	if (r->rflags & (1u << 17))
		return "virtual-8086";
	if (r->efer & EFER_LMA)
		return cs->l ? "64-bit" : cs->db ? "compatibility (32-bit)" :
			"compatibility (16-bit)";
	return cs->db ? "protected (32-bit)" : "protected (16-bit)";
}

/* One line per vCPU, "*" before gdb's current thread (Hg): "CPU n
 * (thread n+1): activity, rip R, mode". */
static int mon_cpus(struct rsp_session *s, const char *arg,
		    struct rsp_buf *out)
{
	static const char *const act[] = {
		[VCPU_ACT_RUNNING] = "running", [VCPU_ACT_HALTED] = "halted",
		[VCPU_ACT_WAIT_SIPI] = "waiting for SIPI",
	};
	unsigned n = s->m->ncpus ? s->m->ncpus : 1;

	for (unsigned i = 0; i < n; i++) {
		enum vcpu_activity a = VCPU_ACT_RUNNING;
		struct rax_regs r;
		bool known = s->m->ops->get_activity &&
			!s->m->ops->get_activity(s->m, i, &a);

		rsp_buf_printf(out, "%c CPU %u (thread %u): ",
			       i == s->gcpu ? '*' : ' ', i, i + 1);
		if (s->m->ops->get_regs(s->m, i, &r)) {
			rsp_buf_puts(out, "cannot read the registers\n");
			continue;
		}
		rsp_buf_printf(out, "%s, rip %#018" PRIx64 ", %s\n",
			       known ? act[a] : "?", r.rip, cpu_mode(&r));
	}
	return 0;
}

static int mon_info(struct rsp_session *s, const char *arg,
		    struct rsp_buf *out)
{
	if (!strcmp(arg, "cpus"))
		return mon_cpus(s, arg, out);
	if (!strcmp(arg, "version"))
		return mon_version(s, arg, out);
	if (!strcmp(arg, "registers"))
		return mon_registers(s, arg, out);
	if (!strcmp(arg, "mem"))
		return mon_mem(s, arg, out);
	rsp_buf_puts(out, "info version|registers|mem|cpus\n");
	return -EINVAL;
}

static int mon_rdmsr(struct rsp_session *s, const char *arg,
		     struct rsp_buf *out)
{
	char *end;
	unsigned long idx = strtoul(arg, &end, 0);
	uint64_t v;

	if (!*arg || *end || idx > 0xffffffffu) {
		rsp_buf_puts(out, "usage: rdmsr INDEX (e.g. 0xc0000080)\n");
		return -EINVAL;
	}
	if (!s->m->ops->get_msr ||
	    s->m->ops->get_msr(s->m, s->gcpu, (uint32_t)idx, &v)) {
		rsp_buf_printf(out, "rdmsr %#lx: cannot read\n", idx);
		return -EIO;
	}
	rsp_buf_printf(out, "%#018" PRIx64 "\n", v);
	return 0;
}

/* Parses "on"/"off" into *on; -EINVAL otherwise. */
static int on_off(const char *arg, bool *on)
{
	if (!strcmp(arg, "on") || !strcmp(arg, "off")) {
		*on = arg[1] == 'n';
		return 0;
	}
	return -EINVAL;
}

static int mon_phys(struct rsp_session *s, const char *arg,
		    struct rsp_buf *out)
{
	if (on_off(arg, &s->phys)) {
		rsp_buf_puts(out, "usage: phys on|off\n");
		return -EINVAL;
	}
	rsp_buf_printf(out, "memory accesses are now guest-%s\n",
		       s->phys ? "physical" : "virtual");
	return 0;
}

static int mon_trace(struct rsp_session *s, const char *arg,
		     struct rsp_buf *out)
{
	bool on;

	if (on_off(arg, &on)) {
		rsp_buf_puts(out, "usage: trace on|off\n");
		return -EINVAL;
	}
	if (!s->m->ops->set_trace || s->m->ops->set_trace(s->m, on)) {
		rsp_buf_printf(out, "trace: not supported on this engine "
			       "(%s)\n", s->m->ops->name);
		return -EOPNOTSUPP;
	}
	rsp_buf_printf(out, "tracing %s\n", on ? "on" : "off");
	return 0;
}

static int mon_help(struct rsp_session *s, const char *arg,
		    struct rsp_buf *out);

/* icount, goto, checkpoint, restore, history: served by the history
 * (vcpu.h hist_monitor) when it is on. */
static int mon_history(struct rsp_session *s, const char *cmd,
		       struct rsp_buf *out)
{
	char buf[16384];

	if (!s->m->ops->hist_monitor) {
		rsp_buf_puts(out, "history: off (--history off, or the engine "
			     "cannot save its state: reverse execution needs "
			     "--backend emulator)\n");
		return -EOPNOTSUPP;
	}
	buf[0] = 0;
	if (s->m->ops->hist_monitor(s->m, cmd, buf, sizeof(buf))) {
		rsp_buf_printf(out, "usage: %s\n", cmd);
		return -EINVAL;
	}
	rsp_buf_puts(out, buf);
	return 0;
}

static const struct mon_cmd mon_cmds[] = {
	{ "info", "info version|registers|mem|cpus", mon_info },
	{ "rdmsr", "rdmsr INDEX: read a model-specific register", mon_rdmsr },
	{ "phys", "phys on|off: m/M/X use guest-physical addresses",
	  mon_phys },
	{ "trace", "trace on|off: per-instruction trace (emulator)",
	  mon_trace },
	{ "help", "help: this list", mon_help },
	{ "icount", "icount: instructions retired (with the history)", NULL },
	{ "goto", "goto N: travel to instruction count N (history)", NULL },
	{ "checkpoint", "checkpoint NAME: name this point (history)", NULL },
	{ "restore", "restore NAME: travel to checkpoint NAME (history)",
	  NULL },
	{ "history", "history: snapshots and memory used", NULL },
	{ "ramhash", "ramhash: a hash of all guest RAM (history, for tests)",
	  NULL },
};

static int mon_help(struct rsp_session *s, const char *arg,
		    struct rsp_buf *out)
{
	for (size_t i = 0; i < sizeof(mon_cmds) / sizeof(*mon_cmds); i++)
		rsp_buf_printf(out, "%s\n", mon_cmds[i].help);
	return 0;
}

int rsp_monitor(struct rsp_session *s, const char *cmd, struct rsp_buf *out)
{
	size_t n;

	cmd += strspn(cmd, " ");
	n = strcspn(cmd, " ");
	for (size_t i = 0; i < sizeof(mon_cmds) / sizeof(*mon_cmds); i++) {
		const struct mon_cmd *c = &mon_cmds[i];
		const char *arg = cmd + n;

		if (strlen(c->name) != n || strncmp(cmd, c->name, n))
			continue;
		arg += strspn(arg, " ");
		if (!c->fn)
			return mon_history(s, cmd, out);
		return c->fn(s, arg, out);
	}
	rsp_buf_printf(out, "unknown command: %s\n", cmd);
	mon_help(s, "", out);
	return -EINVAL;
}
