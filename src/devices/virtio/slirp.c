/* The user-mode network of --net user: libslirp (QEMU's user-mode
 * TCP/IP stack) on its own thread.  The guest's network is 10.0.2.0/24:
 * it gets 10.0.2.15 by DHCP, the host is 10.0.2.2 (connections to it go
 * to the host's loopback), DNS requests to 10.0.2.3 go to the host's
 * resolver.  IPv4 only.  hostfwd listens on the host (127.0.0.1 unless
 * another address is named) and connects to the guest.
 *
 * Threads: slirp is not thread-safe, so u->lock covers every call into
 * it.  The network's thread polls slirp's sockets, runs its timers and
 * hands frames for the guest to the rx callback (virtio-net's one entry
 * point of host input); net_user_send() feeds guest frames in from
 * whichever thread transmits, then wakes the poller, whose set of
 * sockets may have changed.  API: /usr/include/slirp/libslirp.h. */
#include "devices/virtio/virtio.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libslirp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "machine.h"

#define NET_MAX_FWD 16
#define NET_MAX_TIMERS 4

struct net_timer {
	bool used, armed;
	SlirpTimerId id;
	void *cb_opaque;
	int64_t expire_ms;
};

struct net_user {
	Slirp *slirp;
	pthread_mutex_t lock;
	pthread_t thread;
	bool running;
	int wake_fd, stop_fd;
	struct pollfd *pfd;
	unsigned npfd, cap;
	struct net_timer timer[NET_MAX_TIMERS];
	void (*rx)(void *opaque, const uint8_t *frame, size_t len);
	void *rx_opaque;
};

/* ---- slirp's callbacks (u->lock held) ---------------------------------- */

static ssize_t cb_send(const void *buf, size_t len, void *opaque)
{
	struct net_user *u = opaque;

	if (u->rx)
		u->rx(u->rx_opaque, buf, len);
	return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
	rax_log(LOG_WARN, dev, "--net user: guest error: %s", msg);
}

static int64_t cb_clock(void *opaque)
{
	return (int64_t)host_now_ns();
}

static void *cb_timer_new(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct net_user *u = opaque;

	for (unsigned i = 0; i < NET_MAX_TIMERS; i++) {
		if (!u->timer[i].used) {
			u->timer[i] = (struct net_timer){ true, false, id,
							  cb_opaque, 0 };
			return &u->timer[i];
		}
	}
	rax_log(LOG_ERROR, dev, "--net user: out of timers");
	return NULL;
}

static void cb_timer_free(void *timer, void *opaque)
{
	if (timer)
		((struct net_timer *)timer)->used = false;
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct net_timer *t = timer;

	if (t) {
		t->expire_ms = expire_ms;
		t->armed = true;
	}
}

static void cb_poll_fd(int fd, void *opaque)
{
	/* Only needed on Windows: the poller asks slirp each round. */
}

static void wake(struct net_user *u)
{
	uint64_t one = 1;

	if (write(u->wake_fd, &one, 8) != 8 && errno != EAGAIN)
		rax_log(LOG_WARN, dev, "--net user: wake-up: %s",
			strerror(errno));
}

static void cb_notify(void *opaque)
{
	wake(opaque);
}

static const SlirpCb callbacks = {
	.send_packet = cb_send,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_poll_fd,
	.unregister_poll_fd = cb_poll_fd,
	.notify = cb_notify,
	.timer_new_opaque = cb_timer_new,
};

/* ---- the poller ---------------------------------------------------------- */

static int add_poll(int fd, int events, void *opaque)
{
	struct net_user *u = opaque;
	short ev = 0;

	if (u->npfd == u->cap) {
		unsigned cap = u->cap ? 2 * u->cap : 64;
		struct pollfd *p = realloc(u->pfd, cap * sizeof(*p));

		if (!p)
			return -1; /* slirp then skips this socket */
		u->pfd = p;
		u->cap = cap;
	}
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	u->pfd[u->npfd] = (struct pollfd){ .fd = fd, .events = ev };
	return (int)u->npfd++;
}

static int get_revents(int idx, void *opaque)
{
	struct net_user *u = opaque;
	short r;
	int ev = 0;

	if (idx < 0 || (unsigned)idx >= u->npfd)
		return 0;
	r = u->pfd[idx].revents;
	if (r & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (r & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (r & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (r & POLLERR)
		ev |= SLIRP_POLL_ERR;
	if (r & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

/* Runs expired timers; returns ms until the next one (or `limit`). */
static uint32_t run_timers(struct net_user *u, uint32_t limit)
{
	int64_t now = (int64_t)(host_now_ns() / 1000000);

	for (unsigned i = 0; i < NET_MAX_TIMERS; i++) {
		struct net_timer *t = &u->timer[i];

		if (!t->used || !t->armed)
			continue;
		if (t->expire_ms <= now) {
			t->armed = false;
			slirp_handle_timer(u->slirp, t->id, t->cb_opaque);
		} else if (t->expire_ms - now < limit) {
			limit = (uint32_t)(t->expire_ms - now);
		}
	}
	return limit;
}

static void *poller(void *opaque)
{
	struct net_user *u = opaque;
	uint32_t timeout;
	uint64_t v;
	int ret;

	for (;;) {
		pthread_mutex_lock(&u->lock);
		u->npfd = 0;
		add_poll(u->stop_fd, SLIRP_POLL_IN, u);
		add_poll(u->wake_fd, SLIRP_POLL_IN, u);
		timeout = run_timers(u, 1000);
		slirp_pollfds_fill(u->slirp, &timeout, add_poll, u);
		pthread_mutex_unlock(&u->lock);
		ret = poll(u->pfd, u->npfd, (int)timeout);
		if (ret < 0 && errno != EINTR) {
			rax_log(LOG_ERROR, dev, "--net user: poll: %s",
				strerror(errno));
			return NULL;
		}
		if (ret > 0 && u->pfd[0].revents)
			return NULL; /* net_user_stop() */
		if (ret > 0 && u->pfd[1].revents &&
		    read(u->wake_fd, &v, 8) != 8 && errno != EAGAIN)
			rax_log(LOG_WARN, dev, "--net user: wake-up read: %s",
				strerror(errno));
		pthread_mutex_lock(&u->lock);
		slirp_pollfds_poll(u->slirp, ret < 0, get_revents, u);
		run_timers(u, 0);
		pthread_mutex_unlock(&u->lock);
	}
}

/* ---- the contract (virtio.h) -------------------------------------------- */

/* "[ADDR]:PORT" into *addr (left alone when ADDR is empty) and *port. */
static int parse_endpoint(const char *s, size_t len, struct in_addr *addr,
			  int *port)
{
	char buf[64], *colon, *end;
	long p;

	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	colon = strrchr(buf, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	if (buf[0] && !inet_aton(buf, addr))
		return -EINVAL;
	p = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || p < 1 || p > 65535)
		return -EINVAL;
	*port = (int)p;
	return 0;
}

/* hostfwd=PROTO:[HADDR]:HPORT-[GADDR]:GPORT */
static int add_forward(struct net_user *u, const char *spec, size_t len,
		       struct rax_err *e)
{
	struct in_addr haddr = { htonl(INADDR_LOOPBACK) }, gaddr;
	const char *p = spec, *dash, *end = spec + len;
	int udp, hport, gport;

	inet_aton("10.0.2.15", &gaddr);
	if (len > 4 && !strncmp(p, "tcp:", 4))
		udp = 0;
	else if (len > 4 && !strncmp(p, "udp:", 4))
		udp = 1;
	else
		goto bad;
	p += 4;
	dash = memchr(p, '-', (size_t)(end - p));
	if (!dash || parse_endpoint(p, (size_t)(dash - p), &haddr, &hport) ||
	    parse_endpoint(dash + 1, (size_t)(end - dash - 1), &gaddr, &gport))
		goto bad;
	errno = 0;
	if (slirp_add_hostfwd(u->slirp, udp, haddr, hport, gaddr, gport) < 0)
		return rax_errf(e, errno ? -errno : -EADDRINUSE, "--net "
				"hostfwd=%.*s: cannot listen on %s:%d: %s",
				(int)len, spec, inet_ntoa(haddr), hport,
				strerror(errno ? errno : EADDRINUSE));
	rax_log(LOG_INFO, dev, "--net user: %s %s:%d -> guest port %d",
		udp ? "udp" : "tcp", inet_ntoa(haddr), hport, gport);
	return 0;
bad:
	return rax_errf(e, -EINVAL, "--net hostfwd=%.*s: expected "
			"hostfwd=tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT",
			(int)len, spec);
}

int net_user_open(struct net_user **out, const char *spec, struct rax_err *e)
{
	SlirpConfig cfg = { .version = 4 };
	struct net_user *u;
	const char *p, *next;
	int ret;

	*out = NULL;
	if (strncmp(spec, "user", 4) || (spec[4] && spec[4] != ','))
		return rax_errf(e, -EINVAL, "--net %s: expected user[,hostfwd="
				"tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]",
				spec);
	u = calloc(1, sizeof(*u));
	if (!u)
		return rax_errf(e, -ENOMEM, "--net: out of memory");
	u->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	u->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->wake_fd < 0 || u->stop_fd < 0) {
		ret = rax_errf(e, -errno, "--net: eventfd: %s", strerror(errno));
		goto out_fds;
	}
	pthread_mutex_init(&u->lock, NULL);
	cfg.in_enabled = true;
	inet_aton("10.0.2.0", &cfg.vnetwork);
	inet_aton("255.255.255.0", &cfg.vnetmask);
	inet_aton("10.0.2.2", &cfg.vhost);
	inet_aton("10.0.2.15", &cfg.vdhcp_start);
	inet_aton("10.0.2.3", &cfg.vnameserver);
	cfg.vhostname = "rax";
	u->slirp = slirp_new(&cfg, &callbacks, u);
	if (!u->slirp) {
		ret = rax_errf(e, -ENOMEM, "--net: the user-mode network "
			       "(libslirp) failed to start");
		goto out_mutex;
	}
	for (p = spec + 4; *p; p = next) {
		size_t len;

		p++; /* the comma */
		next = strchr(p, ',');
		if (!next)
			next = p + strlen(p);
		len = (size_t)(next - p);
		if (len > 8 && !strncmp(p, "hostfwd=", 8))
			ret = add_forward(u, p + 8, len - 8, e);
		else
			ret = rax_errf(e, -EINVAL, "--net %s: unknown "
				       "parameter '%.*s' (expected hostfwd=)",
				       spec, (int)len, p);
		if (ret)
			goto out_slirp;
	}
	*out = u;
	return 0;

out_slirp:
	slirp_cleanup(u->slirp);
out_mutex:
	pthread_mutex_destroy(&u->lock);
out_fds:
	if (u->wake_fd >= 0)
		close(u->wake_fd);
	if (u->stop_fd >= 0)
		close(u->stop_fd);
	free(u);
	return ret;
}

int net_user_start(struct net_user *u,
		   void (*rx)(void *opaque, const uint8_t *frame, size_t len),
		   void *opaque)
{
	int ret;

	pthread_mutex_lock(&u->lock);
	u->rx = rx;
	u->rx_opaque = opaque;
	pthread_mutex_unlock(&u->lock);
	ret = pthread_create(&u->thread, NULL, poller, u);
	if (ret)
		return -ret;
	u->running = true;
	return 0;
}

void net_user_send(struct net_user *u, const uint8_t *frame, size_t len)
{
	pthread_mutex_lock(&u->lock);
	slirp_input(u->slirp, frame, (int)len);
	pthread_mutex_unlock(&u->lock);
	wake(u);
}

void net_user_stop(struct net_user *u)
{
	uint64_t one = 1;

	if (u->running) {
		if (write(u->stop_fd, &one, 8) != 8)
			rax_log(LOG_ERROR, dev, "--net user: cannot stop the "
				"network thread");
		pthread_join(u->thread, NULL);
		u->running = false;
	}
	pthread_mutex_lock(&u->lock);
	u->rx = NULL;
	pthread_mutex_unlock(&u->lock);
}

void net_user_close(struct net_user *u)
{
	if (!u)
		return;
	net_user_stop(u);
	slirp_cleanup(u->slirp);
	pthread_mutex_destroy(&u->lock);
	close(u->wake_fd);
	close(u->stop_fd);
	free(u->pfd);
	free(u);
}
