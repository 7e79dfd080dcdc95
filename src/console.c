/* The terminal as the guest's serial console: see console.h.
 *
 * stdin goes into raw mode when it is a tty (restored by console_close,
 * at exit and on fatal signals).  A reader thread polls stdin and a
 * self-pipe (the stop request), handles the Ctrl-A escape and fills a
 * 4 KiB ring that the UART drains with console_read().  When the ring is
 * full and stdin is a pipe or file, the thread stops reading, so input
 * waits in the kernel's buffers instead of being dropped; a terminal is
 * still read, so Ctrl-A x works when the guest has stopped reading, and
 * what the ring cannot take is dropped (as a serial line overruns).
 * stdin that is not a tty (a pipe, a file, /dev/null) is otherwise read
 * the same way; end of input stops the thread, not rax.
 *
 * The read after poll can still block: another reader of the same
 * terminal or pipe may take the bytes first.  console_close() then
 * cancels the thread, whose cancellation is enabled only around that
 * read(2) (see con_read_in()).  O_NONBLOCK would be no way out: it
 * belongs to the open file description, which stdin shares with the
 * shell and any other reader of the terminal.
 *
 * Escape (as QEMU's -serial mon:stdio): Ctrl-A x quits, Ctrl-A Ctrl-A
 * sends one Ctrl-A, Ctrl-A then any other byte sends both.
 *
 * Locks: c->lock guards the ring and the stop flag; c->notify_lock is
 * held while the notify callback runs, so console_set_notify() returns
 * only once no call to the old callback is in flight.  The callback may
 * call console_read() (it takes c->lock only). */
#include "console.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "machine.h"

#define CON_RING 4096
#define CTRL_A 0x01

struct console {
	struct machine *m;
	int in_fd, out_fd;
	int wake[2]; /* self-pipe: a byte asks the reader thread to stop */
	pthread_t thread;

	pthread_mutex_t lock;
	pthread_cond_t space; /* signalled when console_read frees room */
	uint8_t ring[CON_RING];
	unsigned head, count;
	bool stop;
	bool reading; /* the reader thread is in (or about to call) read(2) */
	bool escape;  /* reader thread only: Ctrl-A seen */
	bool is_tty;  /* keep reading when full, dropping input */
	bool dropped; /* warned about dropped input */

	pthread_mutex_t notify_lock;
	void (*notify)(void *);
	void *notify_opaque;

	/* The history's gate (console.h console_set_gate()): input waits in
	 * the ring until fed, the guest reads what was fed; output is
	 * dropped while quiet.  gate and its opaque under notify_lock, the
	 * fed queue under lock. */
	void (*gate)(void *);
	void *gate_opaque;
	struct console_fed fed;
	atomic_bool gated;       /* gate != NULL, read without the lock */
	atomic_bool quiet;
};

/* The terminal's saved mode.  Process-wide because the atexit handler
 * and signal handlers need it; there is one console per process. */
static struct termios con_saved;
static volatile sig_atomic_t con_raw_fd = -1;
static bool con_atexit_registered;

static const int con_fatal_signals[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGABRT, SIGSEGV, SIGBUS, SIGFPE,
	SIGILL,
};
#define CON_NSIG (sizeof(con_fatal_signals) / sizeof(con_fatal_signals[0]))
static bool con_sig_installed[CON_NSIG];

/* TCSANOW: output already written was processed when written, and a
 * terminal stopped by Ctrl-S must not keep rax from ending. */
void console_restore_terminal(void)
{
	int fd = con_raw_fd;

	if (fd >= 0) {
		con_raw_fd = -1;
		tcsetattr(fd, TCSANOW, &con_saved);
	}
}

/* Installed with SA_RESETHAND, over the default action only: restore
 * the terminal, then die of the same signal.  Async-signal-safe.
 * (main.c takes SIGHUP, SIGINT and SIGTERM first, with sigwait.) */
static void con_fatal(int sig)
{
	console_restore_terminal();
	raise(sig);
}

static void con_install_signals(void)
{
	struct sigaction sa, old;
	unsigned i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = con_fatal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < CON_NSIG; i++) {
		if (sigaction(con_fatal_signals[i], NULL, &old) ||
		    old.sa_handler != SIG_DFL)
			continue; /* ignored or owned by someone else */
		con_sig_installed[i] =
			!sigaction(con_fatal_signals[i], &sa, NULL);
	}
}

static void con_remove_signals(void)
{
	struct sigaction dfl, cur;
	unsigned i;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	for (i = 0; i < CON_NSIG; i++) {
		if (!con_sig_installed[i])
			continue;
		con_sig_installed[i] = false;
		if (!sigaction(con_fatal_signals[i], NULL, &cur) &&
		    cur.sa_handler == con_fatal)
			sigaction(con_fatal_signals[i], &dfl, NULL);
	}
}

/* Raw mode: no echo, no line editing, no signals from Ctrl-C/Ctrl-Z (the
 * guest gets those bytes), no output processing (the guest sends CR LF
 * itself).  Returns true when the terminal was switched. */
static bool con_enter_raw(int fd)
{
	struct termios t;

	if (!isatty(fd) || tcgetattr(fd, &con_saved))
		return false;
	t = con_saved;
	cfmakeraw(&t);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSADRAIN, &t))
		return false;
	con_raw_fd = fd;
	if (!con_atexit_registered)
		con_atexit_registered = !atexit(console_restore_terminal);
	con_install_signals();
	log_set_raw(true);
	return true;
}

static void con_leave_raw(void)
{
	if (con_raw_fd < 0)
		return;
	console_restore_terminal();
	con_remove_signals();
	log_set_raw(false);
}

/* How much to read next: waits until the ring can take a read's worth
 * of input (a chunk plus a held-back Ctrl-A), except from a terminal.
 * Returns 0 when stopping. */
static size_t con_wait_room(struct console *c, size_t max)
{
	size_t room;

	pthread_mutex_lock(&c->lock);
	while (!c->stop && !c->is_tty && CON_RING - c->count < 2)
		pthread_cond_wait(&c->space, &c->lock);
	room = c->is_tty ? max + 1 : CON_RING - c->count;
	if (c->stop)
		room = 0;
	pthread_mutex_unlock(&c->lock);
	return room - (room > 0); /* keep one byte for a held Ctrl-A */
}

/* Under c->lock. */
static void con_put(struct console *c, uint8_t b)
{
	if (c->count == CON_RING) {
		if (!c->dropped)
			rax_log(LOG_WARN, dev, "console: the guest is not "
				"reading input; dropping what it cannot take");
		c->dropped = true;
		return;
	}
	c->ring[(c->head + c->count++) % CON_RING] = b;
}

static void con_notify(struct console *c)
{
	pthread_mutex_lock(&c->notify_lock);
	if (c->gate)
		c->gate(c->gate_opaque);
	else if (c->notify)
		c->notify(c->notify_opaque);
	pthread_mutex_unlock(&c->notify_lock);
}

/* Applies the Ctrl-A escape to n input bytes and queues the result (at
 * most n + 1 bytes; the caller made room). */
static void con_input(struct console *c, const uint8_t *in, size_t n)
{
	size_t i, before;
	bool added;

	pthread_mutex_lock(&c->lock);
	before = c->count;
	for (i = 0; i < n; i++) {
		if (c->escape) {
			c->escape = false;
			if (in[i] == 'x') {
				machine_request_exit(c->m, RAX_EXIT_OK,
						     "Ctrl-A x: quit");
				continue;
			}
			con_put(c, CTRL_A);
			if (in[i] != CTRL_A)
				con_put(c, in[i]);
		} else if (in[i] == CTRL_A) {
			c->escape = true;
		} else {
			con_put(c, in[i]);
		}
	}
	added = c->count != before;
	pthread_mutex_unlock(&c->lock);
	if (added)
		con_notify(c);
}

/* End of input: a Ctrl-A held back for the escape is sent as is. */
static void con_eof(struct console *c)
{
	rax_log(LOG_DEBUG, dev, "console: end of input");
	if (c->escape) {
		c->escape = false;
		pthread_mutex_lock(&c->lock);
		con_put(c, CTRL_A);
		pthread_mutex_unlock(&c->lock);
		con_notify(c);
	}
}

/* read(2) of stdin, the reader thread's only cancellation point: it
 * holds no lock here, and everywhere else it may (c->lock, the notify
 * callback's locks, the log's).  A cancel sent while it was disabled is
 * acted on when read(2) starts, so none is lost.  Returns -1 with EINTR
 * when a stop was asked for first. */
static ssize_t con_read_in(struct console *c, void *buf, size_t n)
{
	ssize_t r;
	int err, old;
	bool go;

	pthread_mutex_lock(&c->lock);
	go = c->reading = !c->stop;
	pthread_mutex_unlock(&c->lock);
	if (!go) {
		errno = EINTR;
		return -1;
	}
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
	r = read(c->in_fd, buf, n);
	err = errno;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	pthread_mutex_lock(&c->lock);
	c->reading = false;
	pthread_mutex_unlock(&c->lock);
	errno = err;
	return r;
}

static void *con_reader(void *opaque)
{
	struct console *c = opaque;
	struct pollfd pfd[2] = {
		{ .fd = c->in_fd, .events = POLLIN },
		{ .fd = c->wake[0], .events = POLLIN },
	};
	uint8_t buf[256];
	size_t room;
	ssize_t n;

	/* Before any cancellation point: a cancel comes only in
	 * con_read_in(). */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	while ((room = con_wait_room(c, sizeof(buf)))) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		if (!pfd[0].revents)
			continue;
		n = con_read_in(c, buf, room < sizeof(buf) ? room : sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			rax_log(LOG_WARN, dev, "console: reading stdin: %s",
				strerror(errno));
			break;
		}
		if (n == 0) {
			con_eof(c);
			break;
		}
		con_input(c, buf, (size_t)n);
	}
	return NULL;
}

int console_open(struct machine *m, struct console **out)
{
	struct console *c;
	int ret;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->m = m;
	c->in_fd = STDIN_FILENO;
	c->out_fd = STDOUT_FILENO;
	if (pipe(c->wake)) {
		ret = -errno;
		goto out_free;
	}
	ret = -pthread_mutex_init(&c->lock, NULL);
	if (ret)
		goto out_pipe;
	ret = -pthread_mutex_init(&c->notify_lock, NULL);
	if (ret)
		goto out_lock;
	ret = -pthread_cond_init(&c->space, NULL);
	if (ret)
		goto out_notify_lock;
	c->is_tty = con_enter_raw(c->in_fd);
	ret = -pthread_create(&c->thread, NULL, con_reader, c);
	if (ret)
		goto out_raw;
	*out = c;
	return 0;

out_raw:
	con_leave_raw();
	pthread_cond_destroy(&c->space);
out_notify_lock:
	pthread_mutex_destroy(&c->notify_lock);
out_lock:
	pthread_mutex_destroy(&c->lock);
out_pipe:
	close(c->wake[0]);
	close(c->wake[1]);
out_free:
	free(c);
	return ret;
}

/* Never waits for input: a reader in poll(2) or waiting for room wakes
 * up and stops; one in read(2) (which may block, see the top) is
 * cancelled.  The cancel is sent only then, so an ordinary exit does not
 * need it (glibc loads libgcc_s for a cancel). */
void console_close(struct console *c)
{
	bool reading;
	ssize_t r;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	reading = c->reading;
	pthread_cond_broadcast(&c->space);
	pthread_mutex_unlock(&c->lock);
	do
		r = write(c->wake[1], "", 1);
	while (r < 0 && errno == EINTR);
	if (reading)
		pthread_cancel(c->thread);
	pthread_join(c->thread, NULL);
	con_leave_raw();
	pthread_cond_destroy(&c->space);
	pthread_mutex_destroy(&c->notify_lock);
	pthread_mutex_destroy(&c->lock);
	close(c->wake[0]);
	close(c->wake[1]);
	free(c);
}

/* Unbuffered: a write(2) loop, so output interleaves correctly with the
 * log on stderr.  Output that cannot be written (a closed pipe, a full
 * disk) is dropped: the guest must not stall on it. */
void console_write(struct console *c, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	struct pollfd pfd;
	ssize_t r;

	if (!c || atomic_load(&c->quiet))
		return;
	while (n) {
		r = write(c->out_fd, p, n);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
		} else if (r < 0 && errno == EAGAIN) {
			pfd = (struct pollfd){ .fd = c->out_fd, .events = POLLOUT };
			poll(&pfd, 1, -1);
		} else if (r < 0 && errno == EINTR) {
			continue;
		} else {
			return;
		}
	}
}

/* The input the terminal gave (gated: what the history takes). */
static size_t con_take(struct console *c, uint8_t *buf, size_t n)
{
	size_t i;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < n && c->count; i++) {
		buf[i] = c->ring[c->head];
		c->head = (c->head + 1) % CON_RING;
		c->count--;
	}
	if (i)
		pthread_cond_signal(&c->space);
	pthread_mutex_unlock(&c->lock);
	return i;
}

size_t console_read(struct console *c, uint8_t *buf, size_t n)
{
	struct console_fed *f;
	bool gated;
	size_t i;

	if (!c)
		return 0;
	/* Not under notify_lock: the notify function calls this. */
	gated = atomic_load(&c->gated);
	if (!gated)
		return con_take(c, buf, n);
	pthread_mutex_lock(&c->lock);
	f = &c->fed;
	for (i = 0; i < n && f->count; i++) {
		buf[i] = f->buf[f->head];
		f->head = (f->head + 1) % CONSOLE_FED_MAX;
		f->count--;
	}
	pthread_mutex_unlock(&c->lock);
	return i;
}

void console_set_gate(struct console *c, void (*fn)(void *), void *opaque)
{
	pthread_mutex_lock(&c->notify_lock);
	c->gate = fn;
	c->gate_opaque = opaque;
	atomic_store(&c->gated, fn != NULL);
	pthread_mutex_unlock(&c->notify_lock);
}

size_t console_take(struct console *c, uint8_t *buf, size_t n)
{
	return c ? con_take(c, buf, n) : 0;
}

void console_feed(struct console *c, const uint8_t *buf, size_t n)
{
	struct console_fed *f = &c->fed;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < n && f->count < CONSOLE_FED_MAX; i++)
		f->buf[(f->head + f->count++) % CONSOLE_FED_MAX] = buf[i];
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_lock(&c->notify_lock);
	if (c->notify)
		c->notify(c->notify_opaque);
	pthread_mutex_unlock(&c->notify_lock);
}

void console_fed_save(struct console *c, struct console_fed *f)
{
	pthread_mutex_lock(&c->lock);
	*f = c->fed;
	pthread_mutex_unlock(&c->lock);
}

void console_fed_restore(struct console *c, const struct console_fed *f)
{
	pthread_mutex_lock(&c->lock);
	c->fed = *f;
	pthread_mutex_unlock(&c->lock);
}

void console_set_quiet(struct console *c, bool quiet)
{
	if (c)
		atomic_store(&c->quiet, quiet);
}

void console_set_notify(struct console *c, void (*fn)(void *), void *opaque)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->notify_lock);
	c->notify = fn;
	c->notify_opaque = opaque;
	pthread_mutex_unlock(&c->notify_lock);
}
