/* gdb command handlers over struct vcpu_ops: one decoded packet in, one
 * reply payload (plus console text for qRcmd) and an action out.  No I/O
 * and no threads here; src/rsp/rsp.c drives it, the unit tests drive it
 * with a fake engine. */
#ifndef RAX_RSP_CMDS_H
#define RAX_RSP_CMDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsp/rsp_packet.h"
#include "vcpu.h"

struct machine;

/* What the server does after sending the reply. */
enum rsp_action {
	RSP_ACT_REPLY,  /* stay stopped, wait for the next packet */
	RSP_ACT_RESUME, /* no reply now: run per s->resume, then stop reply */
	RSP_ACT_DETACH, /* reply sent; breakpoints removed; guest runs on */
	RSP_ACT_KILL,   /* reply (if any) sent; rax exits */
};

enum rsp_resume_kind { RSP_RES_CONT, RSP_RES_STEP, RSP_RES_RANGE };

struct rsp_resume {
	enum rsp_resume_kind kind;
	uint64_t start, end; /* RSP_RES_RANGE: step while start <= rip < end */
	unsigned cpu;        /* STEP and RANGE: the vCPU (thread cpu + 1) */
};

/* Signals in stop replies (gdb's numbering, include/gdb/signals.def). */
#define RSP_SIGINT 2
#define RSP_SIGTRAP 5
#define RSP_SIGSEGV 11

#define RSP_MAX_BPS 64

struct rsp_bp {
	enum bp_type type;
	uint64_t addr, len;
};

/* One debugging session (reset on each attach). */
struct rsp_session {
	struct machine *m;
	bool phys;          /* monitor phys on: m/M/X are guest-physical */
	bool no_ack;        /* QStartNoAckMode was accepted */
	struct rsp_resume resume;
	/* The last stop, for `?` and the stop reply (thread stop.cpu + 1). */
	struct vcpu_stop stop;
	/* Threads are vCPUs, thread id = vCPU index + 1.  gcpu: the vCPU
	 * whose registers g/G/p/P and the page walk of m/M use (Hg, else
	 * the one that stopped); ccpu: the one s steps (Hc), or -1. */
	unsigned gcpu;
	int ccpu;
	int signal;
	char engine_error[512]; /* shown by `monitor info registers` */
	struct rsp_bp bps[RSP_MAX_BPS];
	int nbps;
};

void rsp_session_init(struct rsp_session *s, struct machine *m);

/* Handles one packet (pkt[0..len), NUL-terminated).  The reply payload
 * goes to *reply (unframed), console text for `O` packets to *console.
 * Returns what to do next. */
enum rsp_action rsp_handle(struct rsp_session *s, const char *pkt, size_t len,
			   struct rsp_buf *reply, struct rsp_buf *console);

/* A new stop in s->stop: registers go to the vCPU that stopped. */
void rsp_session_stopped(struct rsp_session *s);

/* Formats the stop reply for s->stop / s->signal (T05thread:01;...). */
void rsp_stop_reply(const struct rsp_session *s, struct rsp_buf *reply);

/* Removes every breakpoint the session inserted (detach, disconnect). */
void rsp_remove_all_bps(struct rsp_session *s);

/* Guest memory through the vCPU's page tables (or physical with phys).
 * Returns the number of bytes copied before the first unmapped byte (0
 * when the first is unmapped). */
size_t rsp_mem_rw(struct rsp_session *s, uint64_t addr, void *buf, size_t len,
		  bool write);

/* The monitor (qRcmd): runs `cmd`, output to *out.  Returns 0 or -EINVAL
 * for an unknown command (the usage is then in *out as well). */
int rsp_monitor(struct rsp_session *s, const char *cmd, struct rsp_buf *out);

#endif
