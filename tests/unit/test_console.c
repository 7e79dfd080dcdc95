/* Unit tests of the console (src/console.c) with pipes on stdin and
 * stdout: the Ctrl-A escape, end of input, back-pressure, output.
 * Run: ./tests/unit/test_console (from the build folder). */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "console.h"
#include "fake_machine.h"
#include "test.h"

static atomic_int notified;

/* Linked with --wrap=read (src/devices/local.mk): armed, the next read
 * of stdin is preceded by another reader that takes the one byte poll
 * saw, so the console's read(2) finds the pipe empty and blocks. */
ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __real___read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __wrap_read(int fd, void *buf, size_t n);
ssize_t __wrap___read_chk(int fd, void *buf, size_t n, size_t buflen);
static atomic_bool steal_next, stolen;

static void steal_input(int fd)
{
	char b;

	if (fd == STDIN_FILENO && atomic_exchange(&steal_next, false)) {
		if (__real_read(fd, &b, 1) == 1)
			atomic_store(&stolen, true);
	}
}

ssize_t __wrap_read(int fd, void *buf, size_t n)
{
	steal_input(fd);
	return __real_read(fd, buf, n);
}

ssize_t __wrap___read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	steal_input(fd);
	return __real___read_chk(fd, buf, n, buflen);
}

static void count_notify(void *opaque)
{
	atomic_fetch_add(&notified, 1);
}

struct piped {
	struct machine m;
	int in_w, saved_in;
};

/* Opens a console whose stdin is a fresh pipe; returns its write end. */
static void piped_open(struct piped *p)
{
	int fds[2];

	memset(p, 0, sizeof(*p));
	p->saved_in = dup(STDIN_FILENO);
	if (pipe(fds) || dup2(fds[0], STDIN_FILENO) != STDIN_FILENO)
		abort();
	close(fds[0]);
	p->in_w = fds[1];
	if (console_open(&p->m, &p->m.con))
		abort();
}

static void piped_close(struct piped *p)
{
	if (p->in_w >= 0)
		close(p->in_w);
	console_close(p->m.con);
	dup2(p->saved_in, STDIN_FILENO);
	close(p->saved_in);
}

/* Reads exactly n bytes (or gives up after 2 s). */
static size_t read_n(struct console *c, uint8_t *buf, size_t n)
{
	size_t got = 0;

	for (int i = 0; i < 400 && got < n; i++) {
		got += console_read(c, buf + got, n - got);
		if (got < n)
			sleep_ms(5);
	}
	return got;
}

static void ctrl_a_escapes_are_decoded(void)
{
	static const char in[] = "ab\x01\x01" "c\x01zq";
	static const char want[] = "ab\x01" "c\x01zq";
	struct piped p;
	uint8_t buf[16];

	piped_open(&p);
	atomic_store(&notified, 0);
	console_set_notify(p.m.con, count_notify, NULL);
	CHECK(write(p.in_w, in, sizeof(in) - 1) == sizeof(in) - 1);
	CHECK_EQ(read_n(p.m.con, buf, sizeof(want) - 1), sizeof(want) - 1);
	CHECK(!memcmp(buf, want, sizeof(want) - 1));
	CHECK(atomic_load(&notified) > 0);
	CHECK(!atomic_load(&p.m.exit_requested));
	piped_close(&p);
}

static void ctrl_a_x_requests_a_clean_exit(void)
{
	struct piped p;
	uint8_t buf[4];

	piped_open(&p);
	CHECK(write(p.in_w, "a\x01x", 3) == 3);
	CHECK_EQ(read_n(p.m.con, buf, 1), 1);
	for (int i = 0; i < 400 && !atomic_load(&p.m.exit_requested); i++)
		sleep_ms(5);
	CHECK(atomic_load(&p.m.exit_requested));
	CHECK_EQ(p.m.exit_status, 0);
	CHECK(!strcmp(p.m.exit_reason, "Ctrl-A x: quit"));
	sleep_ms(20);
	CHECK_EQ(console_read(p.m.con, buf, sizeof(buf)), 0); /* 'x' eaten */
	piped_close(&p);
}

static void end_of_input_keeps_a_trailing_ctrl_a_and_rax_running(void)
{
	struct piped p;
	uint8_t buf[4];

	piped_open(&p);
	CHECK(write(p.in_w, "z\x01", 2) == 2);
	close(p.in_w);
	p.in_w = -1;
	CHECK_EQ(read_n(p.m.con, buf, 2), 2);
	CHECK(buf[0] == 'z' && buf[1] == 0x01);
	CHECK(!atomic_load(&p.m.exit_requested));
	piped_close(&p); /* the reader thread already ended: must not hang */
}

/* More input than the ring holds waits in the pipe: nothing is lost. */
static void input_larger_than_the_ring_arrives_whole_and_in_order(void)
{
	static uint8_t in[10000], out[10000];
	struct piped p;
	size_t i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)('0' + i % 61);
	piped_open(&p);
	CHECK(write(p.in_w, in, sizeof(in)) == sizeof(in));
	sleep_ms(50);
	CHECK_EQ(read_n(p.m.con, out, sizeof(out)), sizeof(out));
	CHECK(!memcmp(in, out, sizeof(in)));
	piped_close(&p);
}

/* The input is gone between poll and read (another reader of the same
 * pipe or terminal took it) and no more comes: console_close() must not
 * wait for the next input.  (Before the reader's read could be
 * cancelled, this close never returned.) */
static void close_does_not_wait_for_input_another_reader_took(void)
{
	struct piped p;

	piped_open(&p);
	atomic_store(&stolen, false);
	atomic_store(&steal_next, true);
	CHECK(write(p.in_w, "q", 1) == 1);
	for (int i = 0; i < 400 && !atomic_load(&stolen); i++)
		sleep_ms(5);
	CHECK(atomic_load(&stolen));
	/* The writer stays open: no end of input wakes the reader. */
	console_close(p.m.con);
	close(p.in_w);
	dup2(p.saved_in, STDIN_FILENO);
	close(p.saved_in);
}

static void output_is_written_at_once_to_stdout(void)
{
	struct machine m;
	struct console *c;
	int fds[2], saved_out = dup(STDOUT_FILENO);
	int saved_in = dup(STDIN_FILENO), null_fd = open("/dev/null", O_RDONLY);
	char buf[16] = { 0 };

	memset(&m, 0, sizeof(m));
	CHECK(null_fd >= 0 && dup2(null_fd, STDIN_FILENO) == STDIN_FILENO);
	close(null_fd);
	fflush(stdout);
	CHECK(!pipe(fds));
	CHECK(dup2(fds[1], STDOUT_FILENO) == STDOUT_FILENO);
	close(fds[1]);
	CHECK(!console_open(&m, &c));
	console_write(c, "hello\r\n", 7);
	CHECK_EQ(read(fds[0], buf, sizeof(buf)), 7);
	CHECK(!strcmp(buf, "hello\r\n"));
	console_close(c);
	console_write(NULL, "dropped", 7);
	dup2(saved_out, STDOUT_FILENO);
	close(saved_out);
	dup2(saved_in, STDIN_FILENO);
	close(saved_in);
	close(fds[0]);
}

/* A terminal on stdin is switched to raw mode and restored on close;
 * Ctrl-A x still works when the guest has stopped reading. */
static void a_terminal_goes_raw_and_comes_back(void)
{
	struct machine m;
	struct termios before, during, after;
	int master, slave, saved_in = dup(STDIN_FILENO);
	static char junk[6000];

	memset(&m, 0, sizeof(m));
	master = posix_openpt(O_RDWR | O_NOCTTY);
	CHECK(master >= 0 && !grantpt(master) && !unlockpt(master));
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	CHECK(slave >= 0);
	CHECK(dup2(slave, STDIN_FILENO) == STDIN_FILENO);
	close(slave);
	CHECK(!tcgetattr(STDIN_FILENO, &before));
	CHECK(before.c_lflag & ICANON);
	CHECK(!console_open(&m, &m.con));
	CHECK(!tcgetattr(STDIN_FILENO, &during));
	CHECK(!(during.c_lflag & (ICANON | ECHO | ISIG)));
	CHECK(!(during.c_oflag & OPOST));

	/* More than the ring holds, never read by a guest, then Ctrl-A x. */
	memset(junk, 'j', sizeof(junk));
	for (size_t off = 0; off < sizeof(junk); off += 500) {
		CHECK(write(master, junk + off, 500) == 500);
		sleep_ms(2);
	}
	CHECK(write(master, "\x01x", 2) == 2);
	for (int i = 0; i < 400 && !atomic_load(&m.exit_requested); i++)
		sleep_ms(5);
	CHECK(atomic_load(&m.exit_requested));

	console_close(m.con);
	CHECK(!tcgetattr(STDIN_FILENO, &after));
	CHECK(after.c_lflag == before.c_lflag);
	CHECK(after.c_oflag == before.c_oflag);
	CHECK(after.c_iflag == before.c_iflag);
	dup2(saved_in, STDIN_FILENO);
	close(saved_in);
	close(master);
}

int main(void)
{
	ctrl_a_escapes_are_decoded();
	ctrl_a_x_requests_a_clean_exit();
	end_of_input_keeps_a_trailing_ctrl_a_and_rax_running();
	input_larger_than_the_ring_arrives_whole_and_in_order();
	close_does_not_wait_for_input_another_reader_took();
	output_is_written_at_once_to_stdout();
	a_terminal_goes_raw_and_comes_back();
	return test_summary("test_console");
}
