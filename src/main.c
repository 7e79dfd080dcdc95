/* rax: command line, engine choice, and the run loop.  The only file that
 * prints errors and exits (STYLE.md habit 4). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "console.h"
#include "devices/devices.h"
#include "devices/virtio/virtio.h"
#include "err.h"
#include "guest.h"
#include "loader/loader.h"
#include "history/hist.h"
#include "log.h"
#include "machine.h"
#include "options.h"
#include "rsp/rsp.h"
#include "symbols.h"

#define DEFAULT_CMDLINE "console=ttyS0 nokaslr reboot=k"

#ifdef HAVE_KVM
#define KVM_OPS (&kvm_vcpu_ops)
#else
#define KVM_OPS NULL
#endif

static struct machine machine;
static struct symtab syms;
static struct virtio_host virtio_host;

static int __attribute__((format(printf, 2, 3)))
die(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("rax: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

/* Why the engine was chosen; printed once the kernel has loaded, so that
 * bad input stays a one-line message (tests/bad-input.sh). */
static char engine_note[700];

#define NOTE(...) snprintf(engine_note, sizeof(engine_note), __VA_ARGS__)

/* --cpu selects the interpreter's CPU model; KVM runs the host's. */
#define CPU_KVM_MSG "the KVM engine runs the host's CPU model; the models " \
	"are the interpreter's (--backend emulator)"

/* Picks the engine for --backend and notes why in engine_note.  Returns
 * the ops or NULL with the reason in *e. */
static const struct vcpu_ops *choose_engine(enum backend b,
					    struct rax_err *e)
{
	struct rax_err why = { "" }, emu = { "" };

	switch (b) {
	case BACKEND_KVM:
#ifdef HAVE_KVM
		if (kvm_vcpu_ops.probe(e))
			return NULL;
		NOTE("rax: engine: kvm (--backend kvm)\n");
		return &kvm_vcpu_ops;
#else
		rax_errf(e, -ENOSYS, "--backend kvm: rax was built without KVM "
			 "(--disable-kvm or no linux/kvm.h)");
		return NULL;
#endif
	case BACKEND_EMULATOR:
		if (cpu_vcpu_ops.probe(e))
			return NULL;
		NOTE("rax: engine: emulator (--backend emulator)\n");
		return &cpu_vcpu_ops;
	case BACKEND_AUTO:
		break;
	}
#ifdef HAVE_KVM
	if (!kvm_vcpu_ops.probe(&why)) {
		NOTE("rax: engine: kvm (/dev/kvm passed the self-test)\n");
		return &kvm_vcpu_ops;
	}
#else
	snprintf(why.msg, sizeof(why.msg), "built without KVM");
#endif
	if (cpu_vcpu_ops.probe(&emu)) {
		rax_errf(e, -ENODEV, "no usable engine: KVM: %s; emulator: %s",
			 why.msg, emu.msg);
		return NULL;
	}
	NOTE("rax: engine: emulator (KVM not used: %s)\n", why.msg);
	return &cpu_vcpu_ops;
}

static int report_stop(struct machine *m, const struct vcpu_stop *st,
		       struct rax_err *e)
{
	struct rax_regs r;
	char dump[2048] = "";

	if (!m->ops->get_regs(m, st->cpu, &r))
		machine_format_regs(&r, dump, sizeof(dump));
	if (st->reason == VCPU_STOP_SHUTDOWN)
		fprintf(stderr, "rax: guest triple fault (shutdown)\n%s", dump);
	else
		fprintf(stderr, "rax: %s\n%s", e->msg[0] ? e->msg :
			"engine stopped unexpectedly", dump);
	return RAX_EXIT_ENGINE;
}

/* --trace-from: the address where tracing starts (a breakpoint), or 0. */
static uint64_t trace_from;

/* SIGHUP, SIGINT and SIGTERM end rax in order (README "Exit status"):
 * blocked in every thread from the start of main() and taken by one
 * thread with sigwait(), which asks the run loop to stop; main() then
 * restores the terminal, tells gdb (an X stop reply) and closes it,
 * and ends by the same signal.  A second one ends rax at once, the
 * terminal restored first. */
static sigset_t term_signals;

/* Ends rax by the signal that asked for its exit, as the default action
 * would have: a shell then sees status 128 + sig. */
static void die_of_signal(int sig)
{
	sigset_t one;

	signal(sig, SIG_DFL);
	sigemptyset(&one);
	sigaddset(&one, sig);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	raise(sig);
}

static void *signal_thread(void *opaque)
{
	struct machine *m = opaque;
	bool first = true;
	char why[64];
	int sig;

	for (;;) {
		if (sigwait(&term_signals, &sig))
			continue;
		if (first) {
			first = false;
			snprintf(why, sizeof(why), "terminated by %s",
				 sig == SIGHUP ? "SIGHUP" :
				 sig == SIGINT ? "SIGINT" : "SIGTERM");
			machine_request_exit_signal(m, sig, why);
			continue;
		}
		console_restore_terminal();
		die_of_signal(sig);
		_exit(128 + sig);
	}
	return NULL;
}

/* Blocks the three signals (every thread started later inherits the
 * mask) and starts the thread that takes them.  Without that thread
 * they keep their default action. */
static void catch_term_signals(struct machine *m)
{
	pthread_t t;

	sigemptyset(&term_signals);
	sigaddset(&term_signals, SIGHUP);
	sigaddset(&term_signals, SIGINT);
	sigaddset(&term_signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term_signals, NULL);
	if (pthread_create(&t, NULL, signal_thread, m) ||
	    pthread_detach(t)) {
		fprintf(stderr, "rax: warning: cannot start the signal "
			"thread; SIGTERM and the like end rax at once\n");
		pthread_sigmask(SIG_UNBLOCK, &term_signals, NULL);
	}
}

/* --trace-from WHERE: a hex address, or a symbol of st.  0: neither. */
static uint64_t parse_trace_from(const char *where, const struct symtab *st)
{
	char *end = NULL;
	uint64_t a = strtoull(where, &end, 16);

	if (*where && !*end)
		return a;
	return st ? sym_addr(st, where) : 0;
}

/* Runs the guest until it exits.  Returns rax's exit status. */
static int run_plain(struct machine *m)
{
	struct vcpu_stop st;
	struct rax_err e = { "" };

	for (;;) {
		int ret = m->ops->run(m, 0, &st, &e);

		if (atomic_load(&m->exit_requested))
			break;
		if (!ret && trace_from && (st.reason == VCPU_STOP_HWBREAK ||
					   st.reason == VCPU_STOP_SWBREAK)) {
			m->ops->bp_remove(m, BP_HW, trace_from, 1);
			m->ops->set_trace(m, true);
			trace_from = 0;
			continue;
		}
		if (ret || st.reason == VCPU_STOP_ERROR ||
		    st.reason == VCPU_STOP_SHUTDOWN)
			return report_stop(m, &st, &e);
	}
	return m->exit_status;
}

int main(int argc, char **argv)
{
	struct machine *m = &machine;
	struct rax_options o;
	struct rax_err e = { "" }, engine_err = { "" };
	struct guest_paths gp;
	struct ld_config lc = { 0 };
	struct ld_info li;
	struct rsp_server *gdb = NULL;
	const char *env;
	bool default_guest = false, want_history = false;
	int ret, status;

	m->start_ns = host_now_ns();
	catch_term_signals(m);
	ret = opt_parse(argc, argv, &o, &e);
	if (ret)
		return die(ret == -ERANGE ? RAX_EXIT_INPUT : RAX_EXIT_USAGE,
			   "%s", e.msg);
	if (o.help) {
		fputs(opt_usage, stdout);
		return 0;
	}
	if (o.version) {
		printf("rax %s\n", PACKAGE_VERSION);
		return 0;
	}
	env = getenv("RAX_LOG");
	if (env && *env && log_configure(env))
		return die(RAX_EXIT_USAGE, "RAX_LOG=%s: expected LEVEL[,CATEGORIES]", env);
	if (o.log && log_configure(o.log))
		return die(RAX_EXIT_USAGE, "--log %s: expected LEVEL[,CATEGORIES]", o.log);

	/* Every option is checked before any engine is probed (and before
	 * the default guest is looked up). */
	if (o.trace != TRACE_OFF && o.backend == BACKEND_KVM)
		return die(RAX_EXIT_USAGE, "--trace: %s",
			   "the KVM engine cannot trace; use --backend emulator");
	if (o.cpu_level && o.backend == BACKEND_KVM)
		return die(RAX_EXIT_USAGE, "--cpu: %s", CPU_KVM_MSG);
	if (o.cpu_level > cpu_host_level())
		return die(RAX_EXIT_USAGE, "--cpu v%u: the host CPU lacks "
			   "x86-64-v%u (the interpreter computes with the host's "
			   "own SSE and AVX instructions)", o.cpu_level, o.cpu_level);
	/* The address only: gdb can connect once the machine is ready. */
	if (o.gdb && rsp_check_addr(o.gdb, &e))
		return die(RAX_EXIT_USAGE, "%s", e.msg);

	if (!o.kernel) {
		if (guest_default(&gp, &e))
			return die(RAX_EXIT_USAGE, "%s", e.msg);
		o.kernel = gp.kernel;
		default_guest = true;
		if (!o.initrd)
			o.initrd = gp.initrd;
		rax_log(LOG_INFO, boot, "default guest from %s", gp.dir);
	}

	if (o.symbols || (o.trace != TRACE_OFF && default_guest)) {
		const char *path = o.symbols ? o.symbols : gp.vmlinux;

		if (sym_load(&syms, path, &e))
			return die(RAX_EXIT_INPUT, "--symbols: %s", e.msg);
		m->syms = &syms;
	}
	if (o.trace_from && !(trace_from = parse_trace_from(o.trace_from,
							    m->syms)))
		return die(RAX_EXIT_USAGE, "--trace-from %s: not a hex "
			   "address%s", o.trace_from, m->syms ?
			   " or a known symbol" :
			   " (symbols need --symbols VMLINUX)");

	m->ncpus = o.cpus;
	m->quantum = o.quantum;
	m->acpi_off = o.acpi_off;
	m->jit_off = o.jit_off;
	m->debug_io = o.debug_io;
	m->rtc_fixed = o.rtc_fixed;
	m->rtc_base = o.rtc_base;
	ret = gm_init(&m->mem, o.mem);
	if (ret)
		return die(RAX_EXIT_USAGE, "--mem: cannot map guest memory: %s",
			   strerror(-ret));
	/* --disk, --net, before any engine is probed: a malformed --net or
	 * a missing libslirp is a usage error, an unusable image or port is
	 * bad input. */
	ret = virtio_host_open(&virtio_host, &o, &e);
	if (ret)
		return die(ret == -EINVAL || ret == -ENOSYS ? RAX_EXIT_USAGE :
			   RAX_EXIT_INPUT, "%s", e.msg);
	m->virtio = &virtio_host;
	/* Bad input is reported before a missing engine: load first. */
	m->ops = choose_engine(o.backend, &engine_err);

	if (dev_init_all(m, &e))
		return die(RAX_EXIT_ENGINE, "%s", e.msg);

	lc.kernel = o.kernel;
	lc.flat = o.flat;
	lc.flat_addr = o.flat_addr;
	lc.initrd = o.initrd;
	lc.cmdline = o.cmdline;
	lc.default_cmdline = DEFAULT_CMDLINE;
	lc.host_decompress = o.decompress == DECOMP_HOST ||
		(o.decompress == DECOMP_AUTO && m->ops != KVM_OPS);
	if (ld_load(m, &lc, &li, &e))
		return die(RAX_EXIT_INPUT, "%s", e.msg);
	fputs(engine_note, stderr);
	if (!m->ops)
		return die(RAX_EXIT_USAGE, "%s", engine_err.msg);
	rax_log(LOG_INFO, boot, "kernel %#llx-%#llx entry %#llx protocol %#x",
		(unsigned long long)li.kernel_start,
		(unsigned long long)li.kernel_end,
		(unsigned long long)li.entry, li.protocol);

	m->host_clock = o.clock == CLOCK_HOST; /* KVM: always host time */
	m->stats = o.stats;
	if (o.cpu_level && m->ops == KVM_OPS) /* --backend auto chose KVM */
		return die(RAX_EXIT_USAGE, "--cpu: %s", CPU_KVM_MSG);
	m->cpu_level = o.cpu_level;
	/* The signal thread runs from the start of main() and its exit
	 * request kicks the engine: not while init builds it (or, on
	 * failure, frees it again).  machine_kicks_on() passes on a
	 * request that came meanwhile. */
	machine_kicks_off(m);
	if (m->ops->init(m, &e))
		return die(RAX_EXIT_ENGINE, "%s", e.msg);
	machine_kicks_on(m);
	if (o.trace != TRACE_OFF) {
		/* --backend auto chose KVM. */
		if (!m->ops->set_trace)
			return die(RAX_EXIT_USAGE, "--trace: %s",
				   "the KVM engine cannot trace; use --backend emulator");
		m->trace_regs = o.trace == TRACE_REGS;
		if (trace_from) {
			if (m->ops->bp_insert(m, BP_HW, trace_from, 1))
				return die(RAX_EXIT_USAGE, "--trace-from: no "
					   "breakpoint slot");
		} else {
			m->ops->set_trace(m, true);
		}
	}
	/* The history: asked for, or by default with gdb where it can. */
	if (o.history == HIST_ON || (o.history == HIST_AUTO && o.gdb)) {
		/* Under the history a disk is copy-on-write (virtio/blk.c):
		 * only when asked for, so that --gdb alone keeps writing
		 * the image as before. */
		if (o.history == HIST_AUTO && m->virtio && m->virtio->ndisks)
			rax_log(LOG_INFO, hist, "no history for gdb by default "
				"with --disk (its writes would stay in memory): "
				"--history SIZE asks for it");
		else if (!hist_check(m, &e))
			want_history = true;
		else if (o.history == HIST_ON)
			return die(RAX_EXIT_USAGE, "--history: %s", e.msg);
		else
			rax_log(LOG_INFO, hist, "no history for gdb: %s", e.msg);
	}
	if (o.gdb) {
		ret = rsp_open(m, o.gdb, o.gdb_wait, &gdb, &e);
		if (ret)
			return die(RAX_EXIT_USAGE, "%s", e.msg);
	}

	ret = console_open(m, &m->con);
	if (ret)
		return die(RAX_EXIT_ENGINE, "cannot open the console: %s",
			   strerror(-ret));

	if (want_history && hist_install(m, o.history_size ? o.history_size :
					 HIST_DEFAULT_BUDGET, &e))
		return die(RAX_EXIT_ENGINE, "%s", e.msg);

	status = gdb ? rsp_run(gdb) : run_plain(m);

	hist_remove(m);
	console_close(m->con);
	m->con = NULL;
	if (m->exit_reason[0])
		fprintf(stderr, "rax: %s\n", m->exit_reason);
	if (o.stats && m->ops->print_stats)
		m->ops->print_stats(m);
	if (gdb)
		rsp_close(gdb);
	/* Devices first: their threads may still signal the engine.  The
	 * console's reader and gdb's thread are joined above.  The signal
	 * thread is never joined (it waits in sigwait() until rax ends):
	 * kicks off, so that a SIGTERM now cannot kick the engine while
	 * destroy frees it (it still sets the exit status and signal). */
	dev_exit_all(m);
	machine_kicks_off(m);
	m->ops->destroy(m);
	virtio_host_close(&virtio_host);
	sym_free(&syms);
	gm_destroy(&m->mem);
	if (m->exit_signal)
		die_of_signal(m->exit_signal);
	return status;
}
