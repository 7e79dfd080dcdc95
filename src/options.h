/* Command-line options (README "Options", rax.1). */
#ifndef RAX_OPTIONS_H
#define RAX_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

enum backend { BACKEND_AUTO, BACKEND_KVM, BACKEND_EMULATOR };
enum decompress { DECOMP_AUTO, DECOMP_HOST, DECOMP_GUEST };
enum trace_mode { TRACE_OFF, TRACE_INSN, TRACE_REGS };
enum clock_mode { CLOCK_ICOUNT, CLOCK_HOST };

/* --disk FILE[,ro] (src/devices/virtio). */
#define OPT_MAX_DISKS 16
struct opt_disk {
	const char *path;
	bool ro;
};

struct rax_options {
	const char *kernel;   /* NULL: the default guest */
	const char *initrd;
	const char *cmdline;  /* NULL: the default command line */
	uint64_t mem;
	bool flat;            /* --flat: the kernel is a flat binary ... */
	uint64_t flat_addr;   /* ... loaded here, started in real mode */
	enum backend backend;
	enum decompress decompress;
	const char *log;      /* LEVEL[,CATEGORIES]; else $RAX_LOG */
	bool debug_io;
	const char *gdb;      /* [HOST:]PORT, unix:PATH or a tty path */
	bool gdb_wait;
	enum trace_mode trace;
	const char *trace_from; /* address or symbol */
	const char *symbols;    /* vmlinux for symbol names */
	bool stats;
	enum clock_mode clock;
	bool rtc_fixed;       /* --rtc-base given as a date */
	int64_t rtc_base;     /* its UTC seconds since the epoch */
	struct opt_disk disk[OPT_MAX_DISKS]; /* in order: vda, vdb, ... */
	unsigned ndisks;
	const char *net;      /* --net: "user[,hostfwd=...]" */
	bool rng;             /* --rng: virtio-rng */
	/* --history: HIST_AUTO (on with --gdb where possible), on with a
	 * memory budget of history_size bytes, or off. */
	enum { HIST_AUTO, HIST_ON, HIST_OFF } history;
	uint64_t history_size;
	unsigned cpus;        /* --cpus: vCPUs, 1..OPT_MAX_CPUS */
	unsigned quantum;     /* --quantum: emulator instructions per vCPU
				 turn, 0: OPT_DEFAULT_QUANTUM */
	bool acpi_off;        /* --acpi off: no ACPI tables or PM device */
	bool jit_off;         /* --jit off: the interpreter translates nothing */
	unsigned cpu_level;   /* --cpu vN: x86-64 level N; 0: the default */
	bool help, version;
};

#define OPT_DEFAULT_MEM (512ull << 20)
#define OPT_MAX_CPUS 64
#define OPT_DEFAULT_QUANTUM 4000
#define OPT_MAX_QUANTUM 100000000u

/* Parses argv into *o (defaults first).  Returns 0, or with a one-line
 * message in *e: -ERANGE for a malformed --mem (bad input, exit 2),
 * -EINVAL for any other bad option (exit 1). */
int opt_parse(int argc, char **argv, struct rax_options *o, struct rax_err *e)
	__attribute__((warn_unused_result));

extern const char opt_usage[];

#endif
