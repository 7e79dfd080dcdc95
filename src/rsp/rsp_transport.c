/* gdb transports: see rsp_transport.h. */
#include "rsp/rsp_transport.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"

/* Listeners are non-blocking (an accept after poll never sleeps when the
 * connection went away meanwhile) and queue a few connections: a gdb
 * that re-attaches right after detaching, while rax still tears the old
 * connection down, waits in that queue (rsp.c). */
#define RSP_BACKLOG 8

static int check_unix(const char *path, struct rax_err *e)
{
	struct sockaddr_un sa;

	if (!*path || strlen(path) >= sizeof(sa.sun_path))
		return rax_errf(e, -EINVAL, "--gdb unix:%s: bad socket path",
				path);
	return 0;
}

static int open_unix(struct rsp_transport *t, const char *path,
		     struct rax_err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret = check_unix(path, e);

	if (ret)
		return ret;
	strcpy(sa.sun_path, path);
	/* A stale socket from an earlier run; never remove anything else. */
	if (!lstat(path, &st) && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return rax_errf(e, -errno, "--gdb: socket: %s",
				strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, RSP_BACKLOG)) {
		int err = errno;

		close(fd);
		return rax_errf(e, -err, "--gdb unix:%s: %s", path,
				strerror(err));
	}
	t->kind = RSP_T_UNIX;
	t->fd = fd;
	snprintf(t->path, sizeof(t->path), "%s", path);
	return 0;
}

/* Splits "[HOST:]PORT" (HOST may be "[v6]") into host and port.  An
 * absent or empty HOST is 127.0.0.1; every interface must be asked for
 * explicitly (0.0.0.0, ::, or *), and then rax warns. */
static int split_host_port(const char *addr, char *host, size_t hlen,
			   const char **port)
{
	const char *colon = strrchr(addr, ':');

	strcpy(host, "127.0.0.1");
	*port = addr;
	if (!colon)
		return 0;
	*port = colon + 1;
	if (addr[0] == '[' && colon > addr && colon[-1] == ']')
		addr++, colon--;
	if ((size_t)(colon - addr) >= hlen)
		return -EINVAL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	if (!host[0])
		strcpy(host, "127.0.0.1"); /* ":PORT": the default host too */
	else if (!strcmp(host, "*"))
		strcpy(host, "0.0.0.0");
	return 0;
}

/* HOST is a numeric IPv4/IPv6 address or "localhost": no name service,
 * so the static rax (tests/nested) resolves the same way. */
static int parse_host(const char *host, unsigned port,
		      struct sockaddr_storage *sa, socklen_t *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;

	memset(sa, 0, sizeof(*sa));
	if (!strcmp(host, "localhost"))
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof(*v4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*v6);
		return 0;
	}
	return -EINVAL;
}

/* [HOST:]PORT into a socket address and host (256 bytes). */
static int parse_tcp(const char *addr, struct sockaddr_storage *sa,
		     socklen_t *salen, char *host, struct rax_err *e)
{
	char *end;
	const char *port;
	unsigned long pnum;

	if (split_host_port(addr, host, 256, &port) || !*port ||
	    (pnum = strtoul(port, &end, 10)) > 65535 || *end)
		return rax_errf(e, -EINVAL, "--gdb %s: expected [HOST:]PORT, "
				"unix:PATH or a tty path", addr);
	if (parse_host(host, (unsigned)pnum, sa, salen))
		return rax_errf(e, -EINVAL, "--gdb %s: HOST must be a numeric "
				"IPv4/IPv6 address or localhost", addr);
	return 0;
}

static int open_tcp(struct rsp_transport *t, const char *addr,
		    struct rax_err *e)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	char host[256];
	int fd, one = 1, ret = parse_tcp(addr, &sa, &salen, host, e);

	if (ret)
		return ret;
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0)
		return rax_errf(e, -errno, "--gdb: socket: %s",
				strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, salen) || listen(fd, RSP_BACKLOG)) {
		int err = errno;

		close(fd);
		return rax_errf(e, -err, "--gdb %s: %s", addr, strerror(err));
	}
	if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::"))
		rax_log(LOG_WARN, rsp, "--gdb %s: the gdb server listens on "
			"every interface; anyone who can reach it controls "
			"the guest", addr);
	t->kind = RSP_T_TCP;
	t->fd = fd;
	return 0;
}

/* A serial line: raw 8N1 at 115200 baud. */
static int open_tty(struct rsp_transport *t, const char *path,
		    struct rax_err *e)
{
	struct termios tio;
	int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return rax_errf(e, -errno, "--gdb %s: %s", path,
				strerror(errno));
	if (tcgetattr(fd, &tio)) {
		int err = errno;

		close(fd);
		return rax_errf(e, -err, "--gdb %s: not a terminal: %s", path,
				strerror(err));
	}
	cfmakeraw(&tio);
	cfsetispeed(&tio, B115200);
	cfsetospeed(&tio, B115200);
	tio.c_cflag |= CLOCAL | CREAD;
	if (tcsetattr(fd, TCSANOW, &tio)) {
		int err = errno;

		close(fd);
		return rax_errf(e, -err, "--gdb %s: %s", path, strerror(err));
	}
	t->kind = RSP_T_TTY;
	t->fd = fd;
	return 0;
}

int rsp_transport_check(const char *addr, struct rax_err *e)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	struct stat st;
	char host[256];

	if (!strncmp(addr, "unix:", 5))
		return check_unix(addr + 5, e);
	if (!strchr(addr, '/'))
		return parse_tcp(addr, &sa, &salen, host, e);
	if (stat(addr, &st))
		return rax_errf(e, -EINVAL, "--gdb %s: %s", addr,
				strerror(errno));
	if (!S_ISCHR(st.st_mode))
		return rax_errf(e, -EINVAL, "--gdb %s: not a terminal", addr);
	return 0;
}

int rsp_transport_open(struct rsp_transport *t, const char *addr,
		       struct rax_err *e)
{
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	if (!strncmp(addr, "unix:", 5))
		return open_unix(t, addr + 5, e);
	if (strchr(addr, '/'))
		return open_tty(t, addr, e);
	return open_tcp(t, addr, e);
}

int rsp_transport_accept_ready(struct rsp_transport *t)
{
	int fd, one = 1;

	do
		fd = accept4(t->fd, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -errno;
	/* An ack then a reply are two small writes: without this, Nagle
	 * holds the reply for gdb's delayed ack. */
	if (t->kind == RSP_T_TCP)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int rsp_transport_accept(struct rsp_transport *t, int wake_fd)
{
	struct pollfd p[2] = { { .fd = t->fd, .events = POLLIN },
			       { .fd = wake_fd, .events = POLLIN } };
	int fd;

	/* A tty has no connections: hand it out again, but after a read
	 * error wait a little so a dead line does not spin. */
	if (t->kind == RSP_T_TTY) {
		if (t->tty_used && poll(p + 1, 1, 1000) > 0)
			return -ECANCELED;
		t->tty_used = true;
		fd = dup(t->fd);
		return fd < 0 ? -errno : fd;
	}
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[1].revents)
			return -ECANCELED;
		fd = rsp_transport_accept_ready(t);
		if (fd >= 0 || (fd != -ECONNABORTED && fd != -EAGAIN))
			return fd;
	}
}

int rsp_transport_write(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		/* A tty: ENOTSOCK, or ENOSYS on a kernel without sockets
		 * (the L1 of tests/nested). */
		if (n < 0 && (errno == ENOTSOCK || errno == ENOSYS))
			n = write(fd, p, len);
		if (n < 0) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };

			if (errno == EINTR)
				continue;
			/* The connection is non-blocking (rsp.c): wait for
			 * room as a blocking write would. */
			if (errno == EAGAIN && (poll(&pf, 1, -1) >= 0 ||
						errno == EINTR))
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void rsp_transport_close(struct rsp_transport *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	if (t->kind == RSP_T_UNIX && t->path[0])
		unlink(t->path);
}
