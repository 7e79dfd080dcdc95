/* The gdb server's run loop and connection thread.
 *
 * Threads: the vCPU runs on the thread that calls rsp_run(), which also
 * parses packets and calls every vcpu_ops function, so the engines never
 * see a second thread (except kick(), which is made for that).  The
 * connection thread accepts gdb and, while the vCPU runs, reads its
 * bytes into `in` and, when bytes other than acks arrive (Ctrl-C, or a
 * newly attached gdb's first packet), kicks the vCPU until the run loop
 * parks.  Parked, the run loop reads gdb's socket itself and the
 * connection thread leaves it alone: a request and its reply then cost
 * no thread hand-off (issue 4: gdb round trips bound stepi and dumps).
 * Every read of the socket is done with `lock` held and `in` is drained
 * before the socket, so bytes keep their order across the two readers.
 *
 * Run loop: run the vCPU as gdb asked (continue, single step, range step);
 * on a stop gdb must hear about, park and serve packets until gdb resumes,
 * detaches or kills.  Exit requests end the loop with m->exit_status.
 *
 * Connections: one gdb at a time, but a connection whose gdb detached
 * (sent D and got OK) or hung up is over even before its teardown is
 * done: a gdb connecting then replaces it (next_gdb()).  Only while the
 * connection is live is a second one refused. */
#include "rsp/rsp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "machine.h"
#include "rsp/rsp_cmds.h"
#include "rsp/rsp_packet.h"
#include "rsp/rsp_transport.h"

#define RSP_IN_CAP 65536u
/* How long a new connection waits for the served one to show its end
 * (next_gdb()) before it is refused. */
#define RSP_END_GRACE_MS 100
/* serve()/do_packet() results besides an exit status (>= 0). */
#define SERVE_RESUME (-1) /* run the guest */
#define SERVE_MORE (-2)   /* stay parked, keep serving */

struct rsp_server {
	struct machine *m;
	struct rsp_transport t;
	bool wait;
	pthread_t thread;
	bool thread_started;
	int wake[2]; /* rsp_close() wakes the connection thread */
	int nudge[2]; /* the run loop unparked or saw EOF: look again */

	/* Shared with the connection thread, under lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int conn;          /* the connected gdb, or -1 */
	bool conn_new;     /* attached since the run loop last looked */
	bool conn_dead;    /* EOF seen: the run loop must let go of conn */
	bool conn_eof;     /* the run loop, parked, read EOF on conn */
	bool conn_detached; /* its last packet was D, answered OK */
	bool parked;       /* the run loop is serving packets */
	bool watching;     /* the connection thread polls conn */
	bool quit;
	atomic_bool stop_req; /* stop the vCPU and serve */
	uint8_t in[RSP_IN_CAP];
	size_t in_len;

	/* Run loop only. */
	int fd;            /* where replies go, or -1 */
	bool running;      /* gdb resumed us and awaits a stop reply */
	bool crashed;      /* triple fault or engine error seen */
	bool held;         /* --gdb-wait: not resumed by any gdb yet */
	struct rsp_parser parser;
	struct rsp_session sess;
	struct rsp_buf reply, console, frame, last;
	uint8_t rx[RSP_IN_CAP]; /* bytes taken from `in`, not yet parsed */
	size_t rx_off, rx_len;
};

/* ---- connection thread ---------------------------------------------- */

static void timed_wait(struct rsp_server *s, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ms * 1000000;
	ts.tv_sec += ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	pthread_cond_timedwait(&s->cond, &s->lock, &ts);
}

/* With the lock held: kick the vCPU until the run loop parks (or drops
 * the request).  Kicks repeat because one sent just before run() starts
 * may be lost on some engine. */
static void kick_until_parked(struct rsp_server *s)
{
	while (!s->quit && !s->parked && atomic_load(&s->stop_req)) {
		s->m->ops->kick(s->m);
		timed_wait(s, 100);
	}
}

static bool only_acks(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != '+')
			return false;
	return true;
}

/* With the lock held: queues bytes from gdb; waits while the run loop
 * has not caught up. */
static void queue_input(struct rsp_server *s, const uint8_t *b, size_t n)
{
	while (!s->quit && s->in_len + n > RSP_IN_CAP) {
		if (only_acks(s->in, s->in_len)) { /* nothing to serve */
			s->in_len = 0;
			break;
		}
		timed_wait(s, 100);
	}
	if (!s->quit) {
		memcpy(s->in + s->in_len, b, n);
		s->in_len += n;
		pthread_cond_broadcast(&s->cond);
		if (!s->parked && !only_acks(b, n)) {
			atomic_store(&s->stop_req, true);
			kick_until_parked(s);
		}
	}
}

static void nudge(struct rsp_server *s)
{
	if (write(s->nudge[1], "n", 1) < 0 && errno != EAGAIN)
		rax_log(LOG_WARN, rsp, "cannot wake the gdb thread");
}

/* Reads gdb's bytes while the vCPU runs.  Returns false at EOF or on a
 * read error. */
static bool read_running(struct rsp_server *s, int fd)
{
	uint8_t buf[4096];
	bool alive = true;
	ssize_t n;

	pthread_mutex_lock(&s->lock);
	if (!s->parked) { /* parked, the run loop reads */
		n = read(fd, buf, sizeof(buf));
		if (n > 0)
			queue_input(s, buf, (size_t)n);
		else if (!n || (errno != EINTR && errno != EAGAIN))
			alive = false;
	}
	pthread_mutex_unlock(&s->lock);
	return alive;
}

/* Is the connection on fd over: its gdb detached, or hung up?  An end
 * not seen yet gets RSP_END_GRACE_MS to arrive: on loopback, a client's
 * FIN and its next SYN can be processed on two CPUs, the SYN first. */
static bool conn_over(struct rsp_server *s, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };
	bool over;

	pthread_mutex_lock(&s->lock);
	over = s->conn_detached || s->conn_eof;
	pthread_mutex_unlock(&s->lock);
	return over || (poll(&p, 1, RSP_END_GRACE_MS) > 0 &&
			(p.revents & (POLLRDHUP | POLLHUP | POLLERR)));
}

/* A new connection while fd is served: returns it, to be served once fd
 * is over, or -1 after refusing it (closed at once: gdb reports "Remote
 * connection closed" rather than hanging in the backlog). */
static int next_gdb(struct rsp_server *s, int fd)
{
	int nfd = rsp_transport_accept_ready(&s->t);

	if (nfd < 0 || conn_over(s, fd))
		return nfd < 0 ? -1 : nfd;
	rax_log(LOG_WARN, rsp, "gdb: refused a second connection while "
		"one is attached");
	close(nfd);
	return -1;
}

/* Serves the connection fd until it ends.  Returns the next gdb's
 * connection, accepted meanwhile, or -1. */
static int serve_connection(struct rsp_server *s, int fd)
{
	struct pollfd p[4] = { { .fd = fd, .events = POLLIN },
			       { .fd = s->wake[0], .events = POLLIN },
			       { .fd = s->nudge[0], .events = POLLIN },
			       { .fd = s->t.fd, .events = POLLIN } };
	int next = -1;
	char drain[64];

	/* Non-blocking: a reader that finds the bytes gone (the other
	 * thread took them) must not sleep holding the lock. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK))
		rax_log(LOG_WARN, rsp, "gdb: cannot make the connection "
			"non-blocking: %s", strerror(errno));
	pthread_mutex_lock(&s->lock);
	s->conn = fd;
	s->conn_new = true;
	s->conn_eof = false;
	s->conn_detached = false;
	s->in_len = 0;
	/* A socket connection is gdb attaching: stop now, as QEMU does.  A
	 * tty is "connected" from the start; its first packet stops us. */
	if (!s->parked && s->t.kind != RSP_T_TTY) {
		atomic_store(&s->stop_req, true);
		kick_until_parked(s);
	}
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	for (;;) {
		/* A tty has no listener; a next gdb waits for this one's end. */
		nfds_t np = s->t.kind == RSP_T_TTY || next >= 0 ? 3 : 4;
		bool dead, detached;

		pthread_mutex_lock(&s->lock);
		dead = s->conn_eof; /* the run loop read EOF */
		detached = s->conn_detached;
		s->watching = !s->parked;
		p[0].fd = s->watching ? fd : -1; /* poll skips fd -1 */
		pthread_mutex_unlock(&s->lock);
		/* Detached and replaced: nothing more to read from it.  Hung
		 * up: its last bytes are read (and served) up to the EOF. */
		if (dead || (detached && next >= 0))
			break;
		if (poll(p, np, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (p[2].revents && read(s->nudge[0], drain, sizeof(drain)) < 0 &&
		    errno != EAGAIN)
			break;
		if (np > 3 && p[3].revents)
			next = next_gdb(s, fd);
		if (p[0].revents && !read_running(s, fd))
			break;
	}
	/* Let the run loop drop the connection before closing it. */
	pthread_mutex_lock(&s->lock);
	s->conn_dead = true;
	s->watching = false;
	pthread_cond_broadcast(&s->cond);
	while (!s->quit && s->conn_dead) {
		if (!s->parked)
			s->m->ops->kick(s->m);
		timed_wait(s, 100);
	}
	s->conn = -1;
	pthread_mutex_unlock(&s->lock);
	close(fd);
	return next;
}

static void *conn_thread(void *opaque)
{
	struct rsp_server *s = opaque;
	int next = -1;

	for (;;) {
		int fd = next >= 0 ? next : rsp_transport_accept(&s->t,
								  s->wake[0]);
		bool quit;

		if (fd == -ECANCELED)
			break;
		if (fd < 0) {
			rax_log(LOG_WARN, rsp, "gdb: accept: %s",
				strerror(-fd));
			usleep(100000);
			continue;
		}
		pthread_mutex_lock(&s->lock);
		quit = s->quit;
		pthread_mutex_unlock(&s->lock);
		if (quit) {
			close(fd);
			break;
		}
		rax_log(LOG_INFO, rsp, "gdb connected");
		next = serve_connection(s, fd);
		rax_log(LOG_INFO, rsp, "gdb disconnected");
	}
	return NULL;
}

/* ---- sending -------------------------------------------------------- */

static void send_raw(struct rsp_server *s, const void *b, size_t n)
{
	int ret = s->fd >= 0 ? rsp_transport_write(s->fd, b, n) : 0;

	if (ret)
		rax_log(LOG_DEBUG, rsp, "gdb: write: %s", strerror(-ret));
}

static void send_packet(struct rsp_server *s, const char *payload, size_t n)
{
	rsp_buf_reset(&s->frame);
	rsp_frame(&s->frame, payload, n);
	rax_log(LOG_DEBUG, rsp, "-> %.*s", (int)(n > 200 ? 200 : n), payload);
	send_raw(s, s->frame.p, s->frame.len);
	rsp_buf_reset(&s->last); /* for a `-` from gdb */
	rsp_buf_add(&s->last, s->frame.p, s->frame.len);
}

/* Monitor output as `O` packets (hex text), a few hundred bytes each. */
static void send_console(struct rsp_server *s, const char *text, size_t n)
{
	struct rsp_buf o = { NULL };

	for (size_t i = 0; i < n; i += 256) {
		rsp_buf_reset(&o);
		rsp_buf_puts(&o, "O");
		rsp_buf_hex(&o, text + i, n - i < 256 ? n - i : 256);
		if (!o.oom)
			send_packet(s, o.p, o.len);
	}
	rsp_buf_free(&o);
}

static void send_stop(struct rsp_server *s)
{
	rsp_buf_reset(&s->reply);
	rsp_stop_reply(&s->sess, &s->reply);
	send_packet(s, s->reply.p, s->reply.len);
	s->running = false;
}

/* ---- the run loop: serving while parked ----------------------------- */

static void set_parked(struct rsp_server *s, bool parked)
{
	bool wake;

	pthread_mutex_lock(&s->lock);
	s->parked = parked;
	/* Parked, the run loop sees all input; leaving, it must come back
	 * for bytes that arrived meanwhile (Ctrl-C right after `c`). */
	atomic_store(&s->stop_req, !parked && s->in_len &&
		     !only_acks(s->in, s->in_len));
	/* Running, the connection thread must watch gdb's socket again. */
	wake = !parked && !s->watching && s->conn >= 0;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (wake)
		nudge(s);
}

/* Picks up attach/detach news from the connection thread.  Returns true
 * when the gdb connection went away. */
static bool take_conn_events(struct rsp_server *s)
{
	bool dead = false;

	pthread_mutex_lock(&s->lock);
	/* A dead connection's last bytes (often a `k`) are served first;
	 * lone acks need no serving. */
	if (s->conn_dead && only_acks(s->in, s->in_len))
		s->in_len = 0;
	if (s->conn_dead && !s->in_len) {
		dead = s->fd >= 0;
		s->fd = -1;
		s->conn_dead = false;
		pthread_cond_broadcast(&s->cond);
	}
	if (s->conn_new && s->conn >= 0) {
		s->conn_new = false;
		s->fd = s->conn;
		rsp_session_init(&s->sess, s->m);
		rsp_parser_init(&s->parser);
		rsp_buf_reset(&s->last); /* a `-` resends nothing of the old */
		s->rx_len = s->rx_off = 0;
		s->running = false;
	}
	pthread_mutex_unlock(&s->lock);
	if (dead)
		rsp_remove_all_bps(&s->sess);
	return dead;
}

/* Parked: reads gdb's socket into rx, waiting up to 50 ms for bytes.
 * EOF or a read error is passed on to the connection thread, which ends
 * the connection as when it reads the EOF itself. */
static bool read_parked(struct rsp_server *s)
{
	struct pollfd p = { .fd = s->fd, .events = POLLIN };
	bool got = false, dead = false;
	ssize_t n;

	if (poll(&p, 1, 50) <= 0)
		return false;
	pthread_mutex_lock(&s->lock);
	if (!s->conn_dead && !s->conn_eof && !s->conn_new && !s->in_len) {
		n = read(s->fd, s->rx, sizeof(s->rx));
		if (n > 0) {
			s->rx_len = (size_t)n;
			s->rx_off = 0;
			got = true;
		} else if (!n || (errno != EINTR && errno != EAGAIN)) {
			/* The connection thread ends the connection as if
			 * it had read the EOF (conn_dead, then close). */
			s->conn_eof = dead = true;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (dead)
		nudge(s);
	return got;
}

/* Moves queued bytes to rx, or reads the socket, waiting up to 50 ms for
 * some.  Returns false when nothing arrived. */
static bool fetch_input(struct rsp_server *s)
{
	bool got, direct;

	if (s->rx_off < s->rx_len)
		return true;
	pthread_mutex_lock(&s->lock);
	direct = s->fd >= 0 && !s->in_len && !s->conn_dead &&
		 !s->conn_eof && !s->conn_new;
	if (!direct && !s->in_len && !s->conn_dead && !s->conn_new)
		timed_wait(s, 50);
	/* Connection news first: take_conn_events() adopts the new fd. */
	got = s->in_len > 0 && !s->conn_new;
	if (got) {
		memcpy(s->rx, s->in, s->in_len);
		s->rx_len = s->in_len;
		s->rx_off = 0;
		s->in_len = 0;
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	return got || (direct && read_parked(s));
}

static int kill_status(struct rsp_server *s)
{
	return s->crashed ? RAX_EXIT_ENGINE : RAX_EXIT_OK;
}

/* Runs one packet.  Returns SERVE_RESUME to run the guest, an exit
 * status to end rsp_run, or SERVE_MORE. */
static int do_packet(struct rsp_server *s)
{
	const char *pkt = (const char *)s->parser.buf;
	enum rsp_action act;

	if (!s->sess.no_ack)
		send_raw(s, "+", 1);
	rax_log(LOG_DEBUG, rsp, "<- %.*s", (int)(s->parser.len > 200 ? 200 :
		s->parser.len), pkt);
	rsp_buf_reset(&s->reply);
	rsp_buf_reset(&s->console);
	act = rsp_handle(&s->sess, pkt, s->parser.len, &s->reply, &s->console);
	/* Before the OK reaches gdb: from then on a new gdb replaces it. */
	pthread_mutex_lock(&s->lock);
	s->conn_detached = act == RSP_ACT_DETACH;
	pthread_mutex_unlock(&s->lock);
	if (s->console.len)
		send_console(s, s->console.p, s->console.len);
	if (act != RSP_ACT_RESUME && (act == RSP_ACT_REPLY || s->reply.len))
		send_packet(s, s->reply.oom ? "E0c" : s->reply.p,
			    s->reply.oom ? 3 : s->reply.len);
	switch (act) {
	case RSP_ACT_RESUME:
		s->running = true;
		return SERVE_RESUME;
	case RSP_ACT_DETACH:
		if (s->crashed)
			return RAX_EXIT_ENGINE;
		/* Keep the line: gdb usually closes it, but a tty stays and
		 * the next packet on it starts a new session. */
		rsp_session_init(&s->sess, s->m);
		s->running = false;
		return SERVE_RESUME;
	case RSP_ACT_KILL:
		machine_request_exit(s->m, kill_status(s), "killed from gdb");
		return kill_status(s);
	case RSP_ACT_REPLY:
		break;
	}
	return SERVE_MORE;
}

/* Parses what is in rx.  Returns like do_packet(). */
static int do_input(struct rsp_server *s)
{
	while (s->rx_off < s->rx_len) {
		enum rsp_event ev;
		int ret;

		s->rx_off += rsp_parse(&s->parser, s->rx + s->rx_off,
				       s->rx_len - s->rx_off, &ev);
		switch (ev) {
		case RSP_EV_PACKET:
			ret = do_packet(s);
			if (ret != SERVE_MORE)
				return ret;
			break;
		case RSP_EV_BAD_CSUM:
			if (!s->sess.no_ack)
				send_raw(s, "-", 1);
			break;
		case RSP_EV_OVERSIZE:
			if (!s->sess.no_ack)
				send_raw(s, "+", 1);
			send_packet(s, "E07", 3); /* E2BIG */
			break;
		case RSP_EV_INTERRUPT:
			if (s->running) { /* else we are already stopped */
				s->sess.stop.reason = VCPU_STOP_KICK;
				s->sess.signal = RSP_SIGINT;
				send_stop(s);
			}
			break;
		case RSP_EV_NAK:
			if (!s->sess.no_ack && s->last.len)
				send_raw(s, s->last.p, s->last.len);
			break;
		case RSP_EV_ACK:
		case RSP_EV_NONE:
			break;
		}
	}
	return SERVE_MORE;
}

/* Exit requested: tell a waiting gdb (W with the exit status, or X
 * with the signal that ends rax: SIGHUP, SIGINT and SIGTERM have the
 * same numbers in gdb's numbering) and end. */
static int finish_exit(struct rsp_server *s)
{
	char w[8];

	if (s->fd >= 0 && s->running) {
		if (s->m->exit_signal)
			snprintf(w, sizeof(w), "X%02x", s->m->exit_signal & 0xff);
		else
			snprintf(w, sizeof(w), "W%02x", s->m->exit_status & 0xff);
		send_packet(s, w, strlen(w));
	}
	return s->m->exit_status;
}

/* Serves gdb with the vCPU parked; `report` sends the stop reply first.
 * Returns SERVE_RESUME or rax's exit status. */
static int serve(struct rsp_server *s, bool report)
{
	int ret = SERVE_MORE;
	bool drained = false;

	set_parked(s, true);
	take_conn_events(s);
	if (report && s->fd >= 0)
		send_stop(s);
	while (ret == SERVE_MORE) {
		if (atomic_load(&s->m->exit_requested)) {
			/* What gdb sent before the exit is served first: a `c`
			 * it sent just before a SIGTERM waits for the X that
			 * finish_exit() sends a running target only. */
			if (!drained && s->fd >= 0 && !s->running) {
				drained = true;
				if (fetch_input(s) &&
				    (ret = do_input(s)) == SERVE_MORE)
					continue;
				if (ret != SERVE_MORE && ret != SERVE_RESUME)
					break; /* a kill or detach ends rax */
			}
			ret = finish_exit(s);
			break;
		}
		/* gdb went away: the guest runs on, unless --gdb-wait still
		 * holds it for a gdb that has not resumed it yet. */
		if (take_conn_events(s) && !s->held) {
			ret = s->crashed ? RAX_EXIT_ENGINE : SERVE_RESUME;
			s->sess.resume.kind = RSP_RES_CONT;
			break;
		}
		if (fetch_input(s))
			ret = do_input(s);
	}
	set_parked(s, false);
	if (ret == SERVE_RESUME)
		s->held = false;
	return ret;
}

/* ---- the run loop: running ------------------------------------------ */

/* Steps while rip stays in [start, end) (vCont;r), stopping early for
 * gdb or an exit request; those report VCPU_STOP_KICK. */
static int range_step(struct rsp_server *s, struct vcpu_stop *st,
		      struct rax_err *e)
{
	struct machine *m = s->m;
	const struct rsp_resume *r = &s->sess.resume;
	struct rax_regs regs;

	for (;;) {
		int ret = m->ops->run(m, VCPU_RUN_STEP | VCPU_RUN_CPU(r->cpu),
				      st, e);

		if (ret || st->reason != VCPU_STOP_STEP)
			return ret;
		if (m->ops->get_regs(m, st->cpu, &regs) || regs.rip < r->start ||
		    regs.rip >= r->end)
			return 0;
		if (atomic_load(&s->stop_req) ||
		    atomic_load(&m->exit_requested)) {
			st->reason = VCPU_STOP_KICK;
			return 0;
		}
	}
}

static int run_vcpu(struct rsp_server *s, struct vcpu_stop *st,
		    struct rax_err *e)
{
	enum rsp_resume_kind k = s->running ? s->sess.resume.kind
					     : RSP_RES_CONT;

	if (k == RSP_RES_RANGE)
		return range_step(s, st, e);
	if (k == RSP_RES_BSTEP || k == RSP_RES_BCONT)
		return s->m->ops->reverse(s->m, k == RSP_RES_BSTEP ?
					  VCPU_RUN_STEP |
					  VCPU_RUN_CPU(s->sess.resume.cpu) :
					  0, st, e);
	return s->m->ops->run(s->m, k == RSP_RES_STEP ? VCPU_RUN_STEP |
			      VCPU_RUN_CPU(s->sess.resume.cpu) : 0, st, e);
}

/* A triple fault or engine failure: log it; with gdb attached report it
 * as SIGSEGV and let gdb look around.  Returns true to serve gdb. */
static bool crash(struct rsp_server *s, const struct vcpu_stop *st,
		  const struct rax_err *e)
{
	struct rax_regs r;
	char dump[2048] = "";

	s->crashed = true;
	snprintf(s->sess.engine_error, sizeof(s->sess.engine_error), "%s",
		 st->reason == VCPU_STOP_SHUTDOWN ? "triple fault (shutdown)" :
		 e->msg[0] ? e->msg : "engine stopped unexpectedly");
	if (!s->m->ops->get_regs(s->m, st->cpu, &r))
		machine_format_regs(&r, dump, sizeof(dump));
	rax_log(LOG_ERROR, rsp, "%s", s->sess.engine_error);
	for (char *l = strtok(dump, "\n"); l; l = strtok(NULL, "\n"))
		rax_log(LOG_ERROR, rsp, "%s", l);
	if (s->fd < 0)
		return false;
	s->sess.stop.reason = st->reason;
	s->sess.stop.cpu = st->cpu;
	rsp_session_stopped(&s->sess);
	s->sess.signal = RSP_SIGSEGV;
	return true;
}

int rsp_run(struct rsp_server *s)
{
	struct machine *m = s->m;
	bool need_serve = s->wait, report = false;

	for (;;) {
		struct vcpu_stop st = { .reason = VCPU_STOP_KICK };
		struct rax_err e = { "" };
		int ret;

		if (atomic_load(&m->exit_requested))
			return finish_exit(s);
		if (take_conn_events(s))
			s->running = false;
		if (need_serve || atomic_load(&s->stop_req)) {
			ret = serve(s, report);
			if (ret != SERVE_RESUME)
				return ret;
			need_serve = report = false;
		}
		ret = run_vcpu(s, &st, &e);
		if (ret || st.reason == VCPU_STOP_ERROR ||
		    st.reason == VCPU_STOP_SHUTDOWN) {
			if (!crash(s, &st, &e))
				return RAX_EXIT_ENGINE;
			report = s->running;
			need_serve = true;
			continue;
		}
		if (st.reason == VCPU_STOP_KICK && s->running) {
			/* gdb's Ctrl-C: the reply names the vCPU that ran */
			s->sess.stop.cpu = st.cpu;
			rsp_session_stopped(&s->sess);
		}
		if (st.reason == VCPU_STOP_KICK || !s->running || s->fd < 0)
			continue; /* no gdb waiting: run on */
		s->sess.stop = st;
		rsp_session_stopped(&s->sess);
		s->sess.signal = RSP_SIGTRAP;
		need_serve = report = true;
	}
}

int rsp_check_addr(const char *addr, struct rax_err *e)
{
	return rsp_transport_check(addr, e);
}

int rsp_open(struct machine *m, const char *addr, bool wait,
	     struct rsp_server **out, struct rax_err *e)
{
	struct rsp_server *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return rax_errf(e, -ENOMEM, "--gdb: out of memory");
	s->m = m;
	s->wait = wait;
	s->held = wait;
	s->conn = s->fd = -1;
	s->wake[0] = s->wake[1] = -1;
	s->nudge[0] = s->nudge[1] = -1;
	rsp_session_init(&s->sess, m);
	rsp_parser_init(&s->parser);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	ret = rsp_transport_open(&s->t, addr, e);
	if (ret)
		goto out_free;
	if (pipe2(s->wake, O_CLOEXEC) ||
	    pipe2(s->nudge, O_CLOEXEC | O_NONBLOCK)) {
		ret = rax_errf(e, -errno, "--gdb: pipe: %s", strerror(errno));
		goto out_close;
	}
	ret = -pthread_create(&s->thread, NULL, conn_thread, s);
	if (ret) {
		rax_errf(e, ret, "--gdb: cannot start the server thread");
		goto out_close;
	}
	s->thread_started = true;
	*out = s;
	return 0;
out_close:
	rsp_transport_close(&s->t);
out_free:
	rsp_close(s);
	return ret;
}

void rsp_close(struct rsp_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->quit = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->wake[1] >= 0 && write(s->wake[1], "q", 1) < 0)
		rax_log(LOG_WARN, rsp, "cannot wake the gdb thread");
	if (s->thread_started)
		pthread_join(s->thread, NULL);
	rsp_transport_close(&s->t);
	if (s->wake[0] >= 0)
		close(s->wake[0]);
	if (s->wake[1] >= 0)
		close(s->wake[1]);
	if (s->nudge[0] >= 0)
		close(s->nudge[0]);
	if (s->nudge[1] >= 0)
		close(s->nudge[1]);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	rsp_buf_free(&s->reply);
	rsp_buf_free(&s->console);
	rsp_buf_free(&s->frame);
	rsp_buf_free(&s->last);
	free(s);
}
