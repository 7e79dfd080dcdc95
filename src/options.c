/* Command-line parsing: see options.h. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mem.h"
#include "vcpu.h"

const char opt_usage[] =
"Usage: rax [OPTIONS]\n"
"Boot a Linux kernel on KVM or on rax's x86-64 interpreter.\n"
"\n"
"  -k, --kernel IMG        bzImage, vmlinux ELF or Multiboot kernel (default:\n"
"                          the default guest)\n"
"  -i, --initrd FILE       initramfs / initrd image (Multiboot: the module)\n"
"  -a, --cmdline STR       kernel command line\n"
"  -m, --mem SIZE          guest RAM, e.g. 512M, 2G (default 512M)\n"
"      --cpus N            vCPUs, 1-64 (default 1)\n"
"      --quantum N         emulator: instructions a vCPU runs before the\n"
"                          next one's turn (default 4000)\n"
"      --flat ADDR         the kernel is a flat binary: load it at physical\n"
"                          ADDR (below 1 MiB) and start it in real mode\n"
"  -b, --backend ENGINE    auto (default), kvm or emulator\n"
"      --decompress WHERE  auto (default), host or guest: who decompresses a\n"
"                          bzImage (auto: host on the emulator, guest on KVM)\n"
"      --log LEVEL[,CATS]  error|warn|info|debug|trace, categories:\n"
"                          boot,io,mmio,exit,irq,dev,kvm,cpu,rsp,timer,all\n"
"      --debug-io          log port/MMIO accesses no device claims\n"
"  -g, --gdb ADDR          gdb server on [HOST:]PORT, unix:PATH or a tty\n"
"      --gdb-wait          stop before the first instruction until gdb resumes\n"
"      --trace[=regs]      print each instruction (emulator); regs adds registers\n"
"      --trace-from WHERE  start tracing at an address or symbol\n"
"      --symbols VMLINUX   kernel symbols for traces\n"
"      --stats             print execution statistics at exit\n"
"      --clock MODE        virtual (default: the emulator's time is its\n"
"                          instruction count) or host (host time); KVM\n"
"                          always runs on host time\n"
"      --rtc-base WHEN     the CMOS clock's start: now (default), UTC seconds\n"
"                          or YYYY-MM-DDTHH:MM:SS (UTC); a fixed base makes\n"
"                          emulator boots repeat to the instruction\n"
"      --disk FILE[,ro]    a raw disk image on virtio-blk; again for more\n"
"                          (the guest's vda, vdb, ...); ,ro: read-only\n"
"      --net user[,hostfwd=tcp:[HOSTADDR]:PORT-[GUESTADDR]:GPORT]\n"
"                          user-mode network on virtio-net (guest 10.0.2.15\n"
"                          by DHCP, host 10.0.2.2); forwards listen on\n"
"                          127.0.0.1 unless HOSTADDR says otherwise\n"
"      --rng               entropy from the host on virtio-rng\n"
"      --history SIZE|off  time travel for gdb (reverse-step, reverse-continue)\n"
"                          on the emulator, SIZE the memory budget of its\n"
"                          snapshots (default 512M, on with --gdb)\n"
"      --acpi on|off       ACPI tables and power management (default on);\n"
"                          off: the guest finds its CPUs and interrupts\n"
"                          through the MP table alone\n"
"      --jit on|off        emulator: translate hot traces to host code\n"
"                          (default on); off: every instruction through\n"
"                          the interpreter's walk\n"
"      --cpu MODEL         the interpreter's CPU: v1 (x86-64, SSE2), v2\n"
"                          (x86-64-v2) or v3 (x86-64-v3: AVX2, FMA, BMI);\n"
"                          default: the highest the host CPU also has\n"
"  -h, --help              this text\n"
"  -V, --version           version\n"
"\n"
"The console is the terminal; type Ctrl-A x to quit, Ctrl-A Ctrl-A for Ctrl-A.\n"
"Environment: RAX_LOG=LEVEL[,CATS] as --log.\n";

enum {
	O_DECOMP = 256, O_LOG, O_DEBUG_IO, O_GDB_WAIT, O_TRACE, O_TRACE_FROM,
	O_SYMBOLS, O_STATS, O_CLOCK, O_RTC_BASE, O_DISK, O_NET, O_RNG,
	O_FLAT, O_HISTORY, O_CPUS, O_QUANTUM, O_ACPI, O_CPU, O_JIT,
};

static const struct option long_opts[] = {
	{ "kernel", required_argument, NULL, 'k' },
	{ "initrd", required_argument, NULL, 'i' },
	{ "cmdline", required_argument, NULL, 'a' },
	{ "append", required_argument, NULL, 'a' },
	{ "mem", required_argument, NULL, 'm' },
	{ "flat", required_argument, NULL, O_FLAT },
	{ "backend", required_argument, NULL, 'b' },
	{ "decompress", required_argument, NULL, O_DECOMP },
	{ "log", required_argument, NULL, O_LOG },
	{ "debug-io", no_argument, NULL, O_DEBUG_IO },
	{ "gdb", required_argument, NULL, 'g' },
	{ "gdb-wait", no_argument, NULL, O_GDB_WAIT },
	{ "trace", optional_argument, NULL, O_TRACE },
	{ "trace-from", required_argument, NULL, O_TRACE_FROM },
	{ "symbols", required_argument, NULL, O_SYMBOLS },
	{ "stats", no_argument, NULL, O_STATS },
	{ "clock", required_argument, NULL, O_CLOCK },
	{ "rtc-base", required_argument, NULL, O_RTC_BASE },
	{ "disk", required_argument, NULL, O_DISK },
	{ "net", required_argument, NULL, O_NET },
	{ "rng", no_argument, NULL, O_RNG },
	{ "history", required_argument, NULL, O_HISTORY },
	{ "cpus", required_argument, NULL, O_CPUS },
	{ "quantum", required_argument, NULL, O_QUANTUM },
	{ "acpi", required_argument, NULL, O_ACPI },
	{ "cpu", required_argument, NULL, O_CPU },
	{ "jit", required_argument, NULL, O_JIT },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* Index of `s` in the NULL-terminated `names`, or -1. */
static int pick(const char *s, const char *const *names)
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

/* --rtc-base: "now", seconds since the epoch, or an ISO 8601 UTC date. */
static int parse_rtc_base(const char *s, struct rax_options *o)
{
	struct tm tm;
	char *end;
	long long v;

	if (!strcmp(s, "now")) {
		o->rtc_fixed = false;
		return 0;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s && !*end && !errno && v >= 0) {
		o->rtc_base = v;
		o->rtc_fixed = true;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end || *end)
		return -EINVAL;
	o->rtc_base = (int64_t)timegm(&tm);
	o->rtc_fixed = true;
	return 0;
}

/* A decimal number in [lo, hi] into *v; -EINVAL if it is not one. */
static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *v)
{
	char *end;
	unsigned long n;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (*end || errno || n < lo || n > hi)
		return -EINVAL;
	*v = (unsigned)n;
	return 0;
}

/* --disk FILE[,ro]: a last ",ro" or ",rw" is the mode, anything else
 * belongs to the file name (which may hold commas). */
static int parse_disk(char *arg, struct rax_options *o, struct rax_err *e)
{
	struct opt_disk *d = &o->disk[o->ndisks];
	char *comma = strrchr(arg, ',');

	if (o->ndisks == OPT_MAX_DISKS)
		return rax_errf(e, -EINVAL, "--disk %s: at most %d disks",
				arg, OPT_MAX_DISKS);
	d->ro = false;
	if (comma && (!strcmp(comma, ",ro") || !strcmp(comma, ",rw"))) {
		d->ro = comma[2] == 'o';
		*comma = '\0';
	}
	if (!*arg)
		return rax_errf(e, -EINVAL, "--disk: expected FILE[,ro]");
	d->path = arg;
	o->ndisks++;
	return 0;
}

int opt_parse(int argc, char **argv, struct rax_options *o, struct rax_err *e)
{
	static const char *const backends[] = { "auto", "kvm", "emulator", NULL };
	static const char *const decomps[] = { "auto", "host", "guest", NULL };
	static const char *const clocks[] = { "virtual", "host", "icount",
					       NULL };
	static const char *const on_off[] = { "on", "off", NULL };
	static const char *const cpus[] = { "v1", "v2", "v3", "x86-64",
					    "x86-64-v2", "x86-64-v3", NULL };
	int c, v;

	memset(o, 0, sizeof(*o));
	o->mem = OPT_DEFAULT_MEM;
	o->cpus = 1;
	o->quantum = OPT_DEFAULT_QUANTUM;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":k:i:a:m:b:g:hV", long_opts,
				NULL)) != -1) {
		switch (c) {
		case 'k': o->kernel = optarg; break;
		case 'i': o->initrd = optarg; break;
		case 'a': o->cmdline = optarg; break;
		case 'm':
			if (gm_parse_size(optarg, &o->mem) || o->mem < (16ull << 20) ||
			    (o->mem & 0xfff))
				return rax_errf(e, -ERANGE, "--mem %s: not a size "
						"of at least 16M in whole pages "
						"(e.g. 512M, 2G)", optarg);
			break;
		case 'b':
			if ((v = pick(optarg, backends)) < 0)
				return rax_errf(e, -EINVAL, "--backend %s: expected "
						"auto, kvm or emulator", optarg);
			o->backend = (enum backend)v;
			break;
		case O_DECOMP:
			if ((v = pick(optarg, decomps)) < 0)
				return rax_errf(e, -EINVAL, "--decompress %s: "
						"expected auto, host or guest", optarg);
			o->decompress = (enum decompress)v;
			break;
		case O_LOG: o->log = optarg; break;
		case O_DEBUG_IO: o->debug_io = true; break;
		case 'g': o->gdb = optarg; break;
		case O_GDB_WAIT: o->gdb_wait = true; break;
		case O_TRACE:
			if (!optarg)
				o->trace = TRACE_INSN;
			else if (!strcmp(optarg, "regs"))
				o->trace = TRACE_REGS;
			else
				return rax_errf(e, -EINVAL, "--trace=%s: expected "
						"--trace or --trace=regs", optarg);
			break;
		case O_TRACE_FROM: o->trace_from = optarg; break;
		case O_SYMBOLS: o->symbols = optarg; break;
		case O_STATS: o->stats = true; break;
		case O_CLOCK:
			if ((v = pick(optarg, clocks)) < 0)
				return rax_errf(e, -EINVAL, "--clock %s: expected "
						"virtual or host", optarg);
			/* "icount": the old name of "virtual" */
			o->clock = v == 1 ? CLOCK_HOST : CLOCK_ICOUNT;
			break;
		case O_RTC_BASE:
			if (parse_rtc_base(optarg, o))
				return rax_errf(e, -EINVAL, "--rtc-base %s: expected "
						"now, UTC seconds or "
						"YYYY-MM-DDTHH:MM:SS", optarg);
			break;
		case O_FLAT: {
			char *end;

			errno = 0;
			o->flat_addr = strtoull(optarg, &end, 0);
			if (!*optarg || *end || errno || o->flat_addr >= 0x100000)
				return rax_errf(e, -EINVAL, "--flat %s: expected "
						"an address below 1 MiB (0x100000)",
						optarg);
			o->flat = true;
			break;
		}
		case O_DISK:
			if (parse_disk(optarg, o, e))
				return -EINVAL;
			break;
		case O_NET:
			if (o->net)
				return rax_errf(e, -EINVAL, "--net: given twice "
						"(one network only)");
			o->net = optarg;
			break;
		case O_RNG: o->rng = true; break;
		case O_HISTORY:
			if (!strcmp(optarg, "off")) {
				o->history = HIST_OFF;
				break;
			}
			if (gm_parse_size(optarg, &o->history_size) ||
			    o->history_size < (16ull << 20))
				return rax_errf(e, -EINVAL, "--history %s: "
						"expected off or a size of at "
						"least 16M (e.g. 512M, 2G)",
						optarg);
			o->history = HIST_ON;
			break;
		case O_CPUS:
			if (parse_uint(optarg, 1, OPT_MAX_CPUS, &o->cpus))
				return rax_errf(e, -EINVAL, "--cpus %s: expected "
						"a number of vCPUs from 1 to %d",
						optarg, OPT_MAX_CPUS);
			break;
		case O_QUANTUM:
			if (parse_uint(optarg, 1, OPT_MAX_QUANTUM, &o->quantum))
				return rax_errf(e, -EINVAL, "--quantum %s: expected "
						"a number of instructions from 1 "
						"to %u", optarg, OPT_MAX_QUANTUM);
			break;
		case O_ACPI:
			if ((v = pick(optarg, on_off)) < 0)
				return rax_errf(e, -EINVAL, "--acpi %s: expected "
						"on or off", optarg);
			o->acpi_off = v == 1;
			break;
		case O_JIT:
			if ((v = pick(optarg, on_off)) < 0)
				return rax_errf(e, -EINVAL, "--jit %s: expected "
						"on or off", optarg);
			o->jit_off = v == 1;
			break;
		case O_CPU:
			/* v1 v2 v3, also as the psABI's names */
			if ((v = pick(optarg, cpus)) < 0)
				return rax_errf(e, -EINVAL, "--cpu %s: expected "
						"v1, v2 or v3", optarg);
			o->cpu_level = 1 + (unsigned)v % 3;
			break;
		case 'h': o->help = true; break;
		case 'V': o->version = true; break;
		case ':':
			return rax_errf(e, -EINVAL, "option %s needs an argument",
					argv[optind - 1]);
		default:
			return rax_errf(e, -EINVAL, "unknown option %s (see rax --help)",
					argv[optind - 1]);
		}
	}
	if (optind < argc)
		return rax_errf(e, -EINVAL, "unexpected argument '%s' (see rax --help)",
				argv[optind]);
	if (o->gdb_wait && !o->gdb)
		return rax_errf(e, -EINVAL, "--gdb-wait needs --gdb");
	if (o->flat && !o->kernel)
		return rax_errf(e, -EINVAL, "--flat needs --kernel (the flat "
				"binary)");
	if (o->flat && (o->initrd || o->cmdline))
		return rax_errf(e, -EINVAL, "--flat: a flat binary takes no "
				"--initrd or --cmdline");
	if (o->trace_from && o->trace == TRACE_OFF)
		o->trace = TRACE_INSN;
	if (o->history == HIST_ON && o->clock == CLOCK_HOST)
		return rax_errf(e, -EINVAL, "--history and --clock host: time "
				"travel needs the virtual clock");
	if (o->history == HIST_ON && o->backend == BACKEND_KVM)
		return rax_errf(e, -EINVAL, "--history: the KVM engine cannot "
				"save its state; use --backend emulator");
	return 0;
}
