/* Where gdb connects: a TCP listener ([HOST:]PORT, host 127.0.0.1 by
 * default), a Unix socket (unix:PATH) or a serial line (a tty path such
 * as /dev/ttyS1, raw at 115200 baud).  One gdb at a time (rsp.c). */
#ifndef RAX_RSP_TRANSPORT_H
#define RAX_RSP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

enum rsp_tkind { RSP_T_TCP, RSP_T_UNIX, RSP_T_TTY };

struct rsp_transport {
	enum rsp_tkind kind;
	int fd;          /* listening socket, or the tty */
	bool tty_used;   /* the tty was handed out once already */
	char path[108];  /* unix socket path (removed on close) */
};

/* Checks addr as rsp_transport_open() reads it, opening nothing (a tty
 * path must name a character device).  Returns 0 or -EINVAL with *e. */
int rsp_transport_check(const char *addr, struct rax_err *e)
	__attribute__((warn_unused_result));

/* Opens the listener (or the tty) named by addr.  Returns 0 or -errno
 * with a message in *e.  Warns through rax_log when a TCP listener binds
 * a wildcard address. */
int rsp_transport_open(struct rsp_transport *t, const char *addr,
		       struct rax_err *e) __attribute__((warn_unused_result));

/* Waits for the next gdb.  Returns a connected descriptor the caller
 * closes, -ECANCELED when wake_fd became readable, or another -errno. */
int rsp_transport_accept(struct rsp_transport *t, int wake_fd);

/* Accepts the connection the listener (a socket, not a tty) holds now:
 * a descriptor the caller closes, or -errno (-EAGAIN: none). */
int rsp_transport_accept_ready(struct rsp_transport *t);

/* Writes all of buf, waiting for room when fd is non-blocking; returns 0
 * or -errno (never raises SIGPIPE). */
int rsp_transport_write(int fd, const void *buf, size_t len);

void rsp_transport_close(struct rsp_transport *t);

#endif
