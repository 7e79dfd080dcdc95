/* gdb command handlers: see rsp_cmds.h.  Packet syntax from the gdb
 * manual, "Remote Protocol": "Packets", "Stop Reply Packets", "General
 * Query Packets". */
#include "rsp/rsp_cmds.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "machine.h"
#include "paging/paging.h"
#include "rsp/rsp_regs.h"

/* Largest m reply: what gdb asks for at most (PacketSize / 2 bytes,
 * gdb's remote.c), so a request is never answered in two parts.  The
 * reply buffer grows to fit. */
#define RSP_MAX_MEM (RSP_MAX_PACKET / 2)

void rsp_session_init(struct rsp_session *s, struct machine *m)
{
	memset(s, 0, sizeof(*s));
	s->m = m;
	s->stop.reason = VCPU_STOP_KICK;
	s->signal = RSP_SIGTRAP;
	s->ccpu = -1;
}

void rsp_session_stopped(struct rsp_session *s)
{
	s->gcpu = s->stop.cpu;
}

static unsigned ncpus(const struct rsp_session *s)
{
	return s->m->ncpus ? s->m->ncpus : 1;
}

/* Thread id (hex) at *p: 1..ncpus as vCPU 0..ncpus-1 in *cpu, -1
 * (all) or 0 (any) as -1.  Moves *p past it; false when malformed or
 * no such thread. */
static bool parse_thread(const struct rsp_session *s, const char **p,
			 int *cpu)
{
	uint64_t tid;

	if (**p == 'p') { /* multiprocess pPID.TID */
		const char *dot = strchr(*p, '.');

		if (!dot)
			return false;
		*p = dot + 1;
	}
	if ((*p)[0] == '-' && (*p)[1] == '1') {
		*p += 2;
		*cpu = -1;
		return true;
	}
	if (rsp_parse_hex(p, &tid) || tid > ncpus(s))
		return false;
	*cpu = (int)tid - 1;
	return true;
}

/* ---- memory --------------------------------------------------------- */

/* The guest-physical address of addr and the length of the piece of
 * [addr, addr + len) in its page (*chunk); false when unmapped.  The
 * walk is a supervisor read with AC set, so a debugger sees user pages
 * under SMAP and writes through read-only mappings, and it sets no
 * accessed/dirty bits. */
static bool map_chunk(struct rsp_session *s, const struct rax_regs *r,
		      uint64_t addr, size_t len, uint64_t *pa, size_t *chunk)
{
	uint64_t room = 4096 - (addr & 4095);

	*pa = addr;
	if (!s->phys && pg_translate_gm(&s->m->mem, r->cr0, r->cr3, r->cr4,
					r->efer, addr, PG_READ | PG_AC,
					pa) != PG_OK)
		return false;
	*chunk = len < room ? len : room;
	return true;
}

/* Guest memory goes through the engine's read_mem/write_mem (vcpu.h):
 * a write then invalidates what the interpreter decoded from it. */
size_t rsp_mem_rw(struct rsp_session *s, uint64_t addr, void *buf, size_t len,
		  bool write)
{
	const struct vcpu_ops *ops = s->m->ops;
	struct rax_regs r;
	uint8_t *b = buf;
	size_t done = 0;

	if (!s->phys && ops->get_regs(s->m, s->gcpu, &r))
		return 0;
	while (done < len) {
		uint64_t pa;
		size_t chunk;

		if (!map_chunk(s, &r, addr + done, len - done, &pa, &chunk) ||
		    (write ? ops->write_mem(s->m, pa, b + done, chunk) :
			     ops->read_mem(s->m, pa, b + done, chunk)))
			break;
		done += chunk;
	}
	return done;
}

/* ---- small helpers -------------------------------------------------- */

/* Error replies carry an errno in hex (E16 = EINVAL, E1c = ENOSPC),
 * except unmapped memory, which is E14 as QEMU's stub answers. */
#define RSP_E_FAULT 0x14

static void reply_err(struct rsp_buf *reply, int code)
{
	rsp_buf_printf(reply, "E%02x", code & 0xff);
}

/* Parses "ADDR,LEN" (and the following separator into *end). */
static int parse_addr_len(const char *p, uint64_t *addr, uint64_t *len,
			  const char **end)
{
	if (rsp_parse_hex(&p, addr) || *p++ != ',' || rsp_parse_hex(&p, len))
		return -1;
	*end = p;
	return 0;
}

static bool starts(const char *pkt, const char *prefix)
{
	return !strncmp(pkt, prefix, strlen(prefix));
}

/* ---- registers ------------------------------------------------------ */

static void cmd_read_all(struct rsp_session *s, struct rsp_buf *reply)
{
	struct rsp_cpu c;
	uint8_t v[16];

	if (rsp_cpu_load(s->m, s->gcpu, &c)) {
		reply_err(reply, 1);
		return;
	}
	for (unsigned n = 0; n < rsp_nregs(&c); n++) {
		rsp_reg_get(&c, n, v);
		rsp_buf_hex(reply, v, rsp_reg_size(n));
	}
}

static void cmd_write_all(struct rsp_session *s, const char *hex, size_t len,
			  struct rsp_buf *reply)
{
	struct rsp_cpu c;
	uint8_t v[16];

	if (rsp_cpu_load(s->m, s->gcpu, &c)) {
		reply_err(reply, 1);
		return;
	}
	/* gdb may send fewer registers than it knows of; keep the rest. */
	for (unsigned n = 0; n < rsp_nregs(&c); n++) {
		unsigned sz = rsp_reg_size(n);

		if (len < 2 * sz)
			break;
		if (rsp_unhex(hex, v, sz)) {
			reply_err(reply, 22);
			return;
		}
		rsp_reg_set(&c, n, v);
		hex += 2 * sz;
		len -= 2 * sz;
	}
	if (rsp_cpu_store(s->m, s->gcpu, &c))
		reply_err(reply, 1);
	else
		rsp_buf_puts(reply, "OK");
}

static void cmd_read_reg(struct rsp_session *s, const char *p,
			 struct rsp_buf *reply)
{
	struct rsp_cpu c;
	uint64_t n;
	uint8_t v[16];

	if (rsp_parse_hex(&p, &n) || *p || n >= RSP_NREGS_AVX) {
		reply_err(reply, 22);
		return;
	}
	if (rsp_cpu_load(s->m, s->gcpu, &c)) {
		reply_err(reply, 1);
		return;
	}
	if (n >= rsp_nregs(&c)) { /* ymmNh without AVX state */
		reply_err(reply, 22);
		return;
	}
	rsp_reg_get(&c, (unsigned)n, v);
	rsp_buf_hex(reply, v, rsp_reg_size((unsigned)n));
}

static void cmd_write_reg(struct rsp_session *s, const char *p,
			  struct rsp_buf *reply)
{
	struct rsp_cpu c;
	uint64_t n;
	uint8_t v[16];

	if (rsp_parse_hex(&p, &n) || *p++ != '=' || n >= RSP_NREGS_AVX ||
	    strlen(p) != 2 * rsp_reg_size((unsigned)n) ||
	    rsp_unhex(p, v, rsp_reg_size((unsigned)n))) {
		reply_err(reply, 22);
		return;
	}
	if (rsp_cpu_load(s->m, s->gcpu, &c)) {
		reply_err(reply, 1);
		return;
	}
	if (n >= rsp_nregs(&c)) {
		reply_err(reply, 22);
		return;
	}
	rsp_reg_set(&c, (unsigned)n, v);
	if (rsp_cpu_store(s->m, s->gcpu, &c))
		reply_err(reply, 1);
	else
		rsp_buf_puts(reply, "OK");
}

/* ---- memory packets ------------------------------------------------- */

static void cmd_read_mem(struct rsp_session *s, const char *p,
			 struct rsp_buf *reply)
{
	static uint8_t buf[RSP_MAX_MEM];
	uint64_t addr, len;
	size_t got;

	if (parse_addr_len(p, &addr, &len, &p) || *p) {
		reply_err(reply, 22);
		return;
	}
	if (len > RSP_MAX_MEM)
		len = RSP_MAX_MEM;
	got = rsp_mem_rw(s, addr, buf, len, false);
	if (!got && len)
		reply_err(reply, RSP_E_FAULT);
	else
		rsp_buf_hex(reply, buf, got);
}

/* M (hex) and X (binary) writes; all or nothing is not guaranteed by the
 * protocol, so a partial write reports E14 like an unmapped one. */
static void cmd_write_mem(struct rsp_session *s, const char *pkt, size_t n,
			  bool binary, struct rsp_buf *reply)
{
	static uint8_t buf[RSP_MAX_PACKET];
	const char *p = pkt + 1;
	uint64_t addr, len;
	size_t avail;

	if (parse_addr_len(p, &addr, &len, &p) || *p++ != ':') {
		reply_err(reply, 22);
		return;
	}
	avail = n - (size_t)(p - pkt);
	if ((binary ? len : 2 * len) != avail || len > sizeof(buf) ||
	    (!binary && rsp_unhex(p, buf, len))) {
		reply_err(reply, 22);
		return;
	}
	if (binary)
		memcpy(buf, p, len);
	if (rsp_mem_rw(s, addr, buf, len, true) != len)
		reply_err(reply, RSP_E_FAULT);
	else
		rsp_buf_puts(reply, "OK");
}

/* ---- breakpoints ---------------------------------------------------- */

static void track_bp(struct rsp_session *s, enum bp_type t, uint64_t addr,
		     uint64_t len, bool insert)
{
	for (int i = 0; i < s->nbps; i++) {
		struct rsp_bp *b = &s->bps[i];

		if (b->type == t && b->addr == addr && b->len == len) {
			if (!insert)
				*b = s->bps[--s->nbps];
			return;
		}
	}
	if (insert && s->nbps < RSP_MAX_BPS)
		s->bps[s->nbps++] = (struct rsp_bp){ t, addr, len };
}

/* Z/z TYPE,ADDR,KIND: KIND is the length for watchpoints and the
 * breakpoint size in bytes (1 on x86) for Z0/Z1.  An empty reply says
 * "not supported" so gdb falls back (gdb manual, "insert breakpoint or
 * watchpoint packet"). */
static void cmd_breakpoint(struct rsp_session *s, const char *pkt,
			   struct rsp_buf *reply)
{
	bool insert = pkt[0] == 'Z';
	const char *p = pkt + 1;
	uint64_t type, addr, kind;
	enum bp_type t;
	int ret;

	if (rsp_parse_hex(&p, &type) || *p++ != ',' ||
	    parse_addr_len(p, &addr, &kind, &p) || (*p && *p != ';')) {
		reply_err(reply, 22);
		return;
	}
	if (type > BP_ACCESS || !s->m->ops->bp_insert)
		return;
	t = (enum bp_type)type;
	ret = insert ? s->m->ops->bp_insert(s->m, t, addr, kind)
		     : s->m->ops->bp_remove(s->m, t, addr, kind);
	if (ret == -EOPNOTSUPP || ret == -ENOSYS)
		return;
	if (ret) {
		reply_err(reply, ret == -ENOSPC ? 28 : 22);
		return;
	}
	track_bp(s, t, addr, kind, insert);
	rsp_buf_puts(reply, "OK");
}

void rsp_remove_all_bps(struct rsp_session *s)
{
	for (int i = 0; i < s->nbps; i++)
		s->m->ops->bp_remove(s->m, s->bps[i].type, s->bps[i].addr,
				     s->bps[i].len);
	s->nbps = 0;
}

/* ---- resuming ------------------------------------------------------- */

/* The vCPU c/s act on: Hc's, else the one that stopped. */
static unsigned resume_cpu(const struct rsp_session *s)
{
	return s->ccpu >= 0 ? (unsigned)s->ccpu : s->stop.cpu;
}

/* c/s/C/S with an optional resume address ("c ADDR", "C SIG;ADDR"). */
static enum rsp_action cmd_resume(struct rsp_session *s, const char *pkt,
				  struct rsp_buf *reply)
{
	const char *p = pkt + 1;
	unsigned cpu = resume_cpu(s);
	uint64_t v;

	if ((pkt[0] == 'C' || pkt[0] == 'S') && *p) {
		if (rsp_parse_hex(&p, &v)) /* the signal: not delivered */
			goto bad;
		if (*p == ';')
			p++;
	}
	if (*p) {
		struct rax_regs r;

		if (rsp_parse_hex(&p, &v) || *p ||
		    s->m->ops->get_regs(s->m, cpu, &r))
			goto bad;
		r.rip = v;
		if (s->m->ops->set_regs(s->m, cpu, &r))
			goto bad;
	}
	s->resume.kind = pkt[0] == 's' || pkt[0] == 'S' ? RSP_RES_STEP
							 : RSP_RES_CONT;
	s->resume.cpu = cpu;
	return RSP_ACT_RESUME;
bad:
	reply_err(reply, 22);
	return RSP_ACT_REPLY;
}

/* The thread vCont action `a` (up to ';' or NUL) names: the vCPU in
 * *cpu, -1 for all (no thread id, -1 or 0).  False when it names no
 * thread of ours. */
static bool vcont_thread(const struct rsp_session *s, const char *a,
			 int *cpu)
{
	const char *t = strchr(a, ':');
	const char *semi = strchr(a, ';');

	*cpu = -1;
	if (!t || (semi && semi < t))
		return true;
	t++;
	return parse_thread(s, &t, cpu);
}

/* vCont;ACTION[:TID][;ACTION...]: the first action that applies to a
 * thread of ours wins (gdb manual, "vCont").  All-stop: a step steps
 * the thread it names (without one, Hc's or the one that stopped)
 * while the others wait; a continue runs them all.  Range stepping
 * "r START,END" is done by the server with single steps. */
static enum rsp_action cmd_vcont(struct rsp_session *s, const char *p,
				 struct rsp_buf *reply)
{
	while (*p == ';') {
		const char *a = ++p;
		uint64_t start, end;
		int cpu;

		p += strcspn(p, ";");
		if (!vcont_thread(s, a, &cpu))
			continue;
		if (cpu < 0)
			cpu = (int)resume_cpu(s);
		switch (a[0]) {
		case 'c':
		case 'C':
			s->resume.kind = RSP_RES_CONT;
			return RSP_ACT_RESUME;
		case 's':
		case 'S':
			s->resume.kind = RSP_RES_STEP;
			s->resume.cpu = (unsigned)cpu;
			return RSP_ACT_RESUME;
		case 'r':
			a++;
			if (parse_addr_len(a, &start, &end, &a))
				goto bad;
			s->resume = (struct rsp_resume){ RSP_RES_RANGE, start,
							 end, (unsigned)cpu };
			return RSP_ACT_RESUME;
		case 't': /* stop: we already are */
			rsp_buf_puts(reply, "OK");
			return RSP_ACT_REPLY;
		default:
			goto bad;
		}
	}
bad:
	reply_err(reply, 22);
	return RSP_ACT_REPLY;
}

/* ---- queries -------------------------------------------------------- */

static enum rsp_action q_supported(struct rsp_session *s, const char *arg,
				   struct rsp_buf *reply, struct rsp_buf *con)
{
	rsp_buf_printf(reply, "PacketSize=%x;qXfer:features:read+;"
		       "qXfer:threads:read+;QStartNoAckMode+;swbreak+;"
		       "hwbreak+;vContSupported+",
		       RSP_MAX_PACKET);
	/* Reverse execution: only when something serves it (vcpu.h). */
	if (s->m->ops->reverse)
		rsp_buf_puts(reply, ";ReverseStep+;ReverseContinue+");
	return RSP_ACT_REPLY;
}

/* The part [off, off + len) of a qXfer object: m<data> when more
 * follows, l<data> for the last part (gdb manual, "qXfer read"). */
static void xfer_part(const char *obj, const char *p, struct rsp_buf *reply)
{
	size_t total = strlen(obj);
	uint64_t off, len;

	if (parse_addr_len(p, &off, &len, &p) || *p) {
		reply_err(reply, 22);
		return;
	}
	if (off >= total) {
		rsp_buf_puts(reply, "l");
		return;
	}
	if (len > RSP_MAX_PACKET / 2) /* room for escapes */
		len = RSP_MAX_PACKET / 2;
	if (len > total - off)
		len = total - off;
	rsp_buf_puts(reply, off + len < total ? "m" : "l");
	rsp_buf_add(reply, obj + off, len);
}

/* qXfer:threads:read::OFFSET,LENGTH: a thread per vCPU (id = index + 1,
 * core = index).  gdb refreshes its thread list at every stop; this
 * answers in one round trip where qfThreadInfo/qsThreadInfo take two. */
static enum rsp_action q_threads(struct rsp_session *s, const char *p,
				 struct rsp_buf *reply, struct rsp_buf *con)
{
	char xml[64 + 48 * 64];
	size_t o;

	if (*p++ != ':') { /* the annex is empty */
		rsp_buf_puts(reply, "E00");
		return RSP_ACT_REPLY;
	}
	o = (size_t)snprintf(xml, sizeof(xml),
			     "<?xml version=\"1.0\"?>\n<threads>\n");
	for (unsigned i = 0; i < ncpus(s) && o < sizeof(xml); i++)
		o += (size_t)snprintf(xml + o, sizeof(xml) - o,
				      "<thread id=\"%x\" core=\"%u\"/>\n",
				      i + 1, i);
	if (o < sizeof(xml))
		snprintf(xml + o, sizeof(xml) - o, "</threads>\n");
	xfer_part(xml, p, reply);
	return RSP_ACT_REPLY;
}

/* qfThreadInfo: every thread in one reply; qsThreadInfo then ends it. */
static enum rsp_action q_fthreads(struct rsp_session *s, const char *p,
				  struct rsp_buf *reply, struct rsp_buf *con)
{
	for (unsigned i = 0; i < ncpus(s); i++)
		rsp_buf_printf(reply, "%s%x", i ? "," : "m", i + 1);
	return RSP_ACT_REPLY;
}

static enum rsp_action q_current(struct rsp_session *s, const char *p,
				 struct rsp_buf *reply, struct rsp_buf *con)
{
	rsp_buf_printf(reply, "QC%x", s->stop.cpu + 1);
	return RSP_ACT_REPLY;
}

/* Hg/Hc THREAD: the thread later register (g) or resume (c) packets
 * act on; -1 and 0 mean any (g: the one that stopped).  T THREAD: is
 * it alive (all vCPUs are)? */
static void cmd_thread(struct rsp_session *s, const char *pkt,
		       struct rsp_buf *reply)
{
	const char *p = pkt + (pkt[0] == 'H' ? 2 : 1);
	int cpu;

	if (!parse_thread(s, &p, &cpu) || *p ||
	    (pkt[0] == 'H' && pkt[1] != 'g' && pkt[1] != 'c') ||
	    (pkt[0] == 'T' && cpu < 0)) {
		reply_err(reply, pkt[0] == 'T' ? 1 : 22);
		return;
	}
	if (pkt[0] == 'H' && pkt[1] == 'g')
		s->gcpu = cpu < 0 ? s->stop.cpu : (unsigned)cpu;
	else if (pkt[0] == 'H')
		s->ccpu = cpu;
	rsp_buf_puts(reply, "OK");
}

/* qXfer:features:read:ANNEX:OFFSET,LENGTH -> m<data> or l<data>. */
static enum rsp_action q_features(struct rsp_session *s, const char *p,
				  struct rsp_buf *reply, struct rsp_buf *con)
{
	if (!starts(p, "target.xml:")) {
		rsp_buf_puts(reply, "E00");
		return RSP_ACT_REPLY;
	}
	xfer_part(rsp_has_avx(s->m) ? rsp_target_xml_avx : rsp_target_xml,
		  p + strlen("target.xml:"), reply);
	return RSP_ACT_REPLY;
}

static enum rsp_action q_rcmd(struct rsp_session *s, const char *hex,
			      struct rsp_buf *reply, struct rsp_buf *con)
{
	char cmd[512];
	size_t n = strlen(hex) / 2;

	if (strlen(hex) % 2 || n >= sizeof(cmd) || rsp_unhex(hex, cmd, n)) {
		reply_err(reply, 22);
		return RSP_ACT_REPLY;
	}
	cmd[n] = 0;
	rsp_monitor(s, cmd, con);
	rsp_buf_puts(reply, "OK");
	return RSP_ACT_REPLY;
}

static enum rsp_action q_no_ack(struct rsp_session *s, const char *arg,
				struct rsp_buf *reply, struct rsp_buf *con)
{
	s->no_ack = true; /* the server stops acking after this reply */
	rsp_buf_puts(reply, "OK");
	return RSP_ACT_REPLY;
}

static enum rsp_action v_cont(struct rsp_session *s, const char *arg,
			      struct rsp_buf *reply, struct rsp_buf *con)
{
	return cmd_vcont(s, arg - 1, reply); /* from the ';' */
}

static enum rsp_action v_kill(struct rsp_session *s, const char *arg,
			      struct rsp_buf *reply, struct rsp_buf *con)
{
	rsp_buf_puts(reply, "OK");
	return RSP_ACT_KILL;
}

/* Packets with names (q, Q and v): the name, whether more follows it
 * (prefix match, the handler gets the rest), and either a fixed reply or
 * a handler.  Anything else gets the empty reply. */
static const struct named_cmd {
	const char *name;
	bool prefix;
	const char *fixed;
	enum rsp_action (*fn)(struct rsp_session *s, const char *arg,
			      struct rsp_buf *reply, struct rsp_buf *con);
} named_cmds[] = {
	{ "qSupported", true, NULL, q_supported },
	{ "qXfer:features:read:", true, NULL, q_features },
	{ "qXfer:threads:read:", true, NULL, q_threads },
	{ "qRcmd,", true, NULL, q_rcmd },
	{ "qC", false, NULL, q_current },
	{ "qfThreadInfo", false, NULL, q_fthreads },
	{ "qsThreadInfo", false, "l", NULL },
	{ "qAttached", true, "1", NULL },
	{ "qOffsets", false, "Text=0;Data=0;Bss=0", NULL },
	{ "QStartNoAckMode", false, NULL, q_no_ack },
	{ "vCont?", false, "vCont;c;C;s;S;r", NULL },
	{ "vCont;", true, NULL, v_cont },
	{ "vKill", true, NULL, v_kill },
};

static enum rsp_action cmd_named(struct rsp_session *s, const char *pkt,
				 struct rsp_buf *reply, struct rsp_buf *con)
{
	for (size_t i = 0; i < sizeof(named_cmds) / sizeof(*named_cmds); i++) {
		const struct named_cmd *c = &named_cmds[i];

		if (c->prefix ? !starts(pkt, c->name) : strcmp(pkt, c->name))
			continue;
		if (c->fixed) {
			rsp_buf_puts(reply, c->fixed);
			return RSP_ACT_REPLY;
		}
		return c->fn(s, pkt + strlen(c->name), reply, con);
	}
	return RSP_ACT_REPLY;
}

/* ---- stop replies --------------------------------------------------- */

/* rbp, rsp and rip in the stop reply ("n:value;", target byte order):
 * with them gdb prints the stop and unwinds the first frame without a
 * `g` packet, one round trip fewer per stepi.  Left out when the engine
 * cannot give its registers (gdb then asks with `g` and sees the error). */
static void expedite_regs(const struct rsp_session *s, struct rsp_buf *reply)
{
	static const unsigned regs[] = { 6, 7, 16 }; /* rbp, rsp, rip */
	struct rsp_cpu c = { .fpu_ok = false };
	uint8_t v[8];

	/* The general registers only: no FPU or MSR fetch (ioctls on KVM)
	 * for a stop gdb may never look further into. */
	if (s->m->ops->get_regs(s->m, s->stop.cpu, &c.r))
		return;
	for (size_t i = 0; i < sizeof(regs) / sizeof(*regs); i++) {
		rsp_reg_get(&c, regs[i], v);
		rsp_buf_printf(reply, "%02x:", regs[i]);
		rsp_buf_hex(reply, v, sizeof(v));
		rsp_buf_puts(reply, ";");
	}
}

void rsp_stop_reply(const struct rsp_session *s, struct rsp_buf *reply)
{
	static const char *const watch[] = {
		[BP_WRITE] = "watch", [BP_READ] = "rwatch",
		[BP_ACCESS] = "awatch",
	};

	rsp_buf_printf(reply, "T%02xthread:%02x;", s->signal,
		       s->stop.cpu + 1);
	switch (s->stop.reason) {
	case VCPU_STOP_SWBREAK:
		rsp_buf_puts(reply, "swbreak:;");
		break;
	case VCPU_STOP_HWBREAK:
		rsp_buf_puts(reply, "hwbreak:;");
		break;
	case VCPU_STOP_WATCH:
		if (s->stop.watch_type >= BP_WRITE &&
		    s->stop.watch_type <= BP_ACCESS)
			rsp_buf_printf(reply, "%s:%llx;",
				       watch[s->stop.watch_type],
				       (unsigned long long)s->stop.addr);
		break;
	case VCPU_STOP_HISTORY: /* gdb: "No more reverse-execution history" */
		rsp_buf_puts(reply, "replaylog:begin;");
		break;
	default:
		break;
	}
	expedite_regs(s, reply);
}

/* ---- dispatch ------------------------------------------------------- */

enum rsp_action rsp_handle(struct rsp_session *s, const char *pkt, size_t len,
			   struct rsp_buf *reply, struct rsp_buf *console)
{
	switch (pkt[0]) {
	case '?':
		rsp_stop_reply(s, reply);
		break;
	case 'g':
		cmd_read_all(s, reply);
		break;
	case 'G':
		cmd_write_all(s, pkt + 1, len - 1, reply);
		break;
	case 'p':
		cmd_read_reg(s, pkt + 1, reply);
		break;
	case 'P':
		cmd_write_reg(s, pkt + 1, reply);
		break;
	case 'm':
		cmd_read_mem(s, pkt + 1, reply);
		break;
	case 'M':
	case 'X':
		cmd_write_mem(s, pkt, len, pkt[0] == 'X', reply);
		break;
	case 'Z':
	case 'z':
		cmd_breakpoint(s, pkt, reply);
		break;
	case 'c':
	case 'C':
	case 's':
	case 'S':
		return cmd_resume(s, pkt, reply);
	case 'b': /* bs, bc: reverse step and continue (gdb manual) */
		if (!s->m->ops->reverse || len != 2 ||
		    (pkt[1] != 's' && pkt[1] != 'c'))
			break; /* unsupported: the empty reply */
		s->resume.kind = pkt[1] == 's' ? RSP_RES_BSTEP : RSP_RES_BCONT;
		s->resume.cpu = resume_cpu(s);
		return RSP_ACT_RESUME;
	case 'H':
	case 'T':
		cmd_thread(s, pkt, reply);
		break;
	case 'D':
		rsp_remove_all_bps(s);
		rsp_buf_puts(reply, "OK");
		return RSP_ACT_DETACH;
	case 'k':
		return RSP_ACT_KILL;
	case 'q':
	case 'Q':
	case 'v':
		return cmd_named(s, pkt, reply, console);
	default:
		break; /* unknown: the empty reply */
	}
	return RSP_ACT_REPLY;
}
