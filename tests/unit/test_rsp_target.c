/* A gdb target with no real engine: the gdb server (rsp_open/rsp_run, as
 * main.c calls them) over the fake engine of test_rsp_fake.c, running a
 * tiny program, so tests/py/test_gdb_fake.py can drive it with real gdb.
 *
 * Usage: tests/unit/test_rsp_target ADDR [--wait] [--exit-after-ms N]
 *                                          [--crash]
 *
 * The program at ENTRY (0x100000), data pointer rdi = 0x200000:
 *   100000 inc rax; 100003 nop; 100004 stosb; 100005 nop;
 *   100006 inc rax; 100009 jmp $
 * With --crash, 100009 is ud2 instead, which the fake engine reports as
 * a triple fault. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "rsp/rsp.h"
#include "test_rsp_fake.h"

#define ENTRY 0x100000

static const uint8_t program[] = {
	0x48, 0xff, 0xc0, 0x90, 0xaa, 0x90, 0x48, 0xff, 0xc0, 0xeb, 0xfe,
};

static struct machine machine;
static long exit_after_ms;

static void *exit_later(void *opaque)
{
	usleep((useconds_t)exit_after_ms * 1000);
	machine_request_exit(&machine, 0, "exit requested by the test");
	return NULL;
}

int main(int argc, char **argv)
{
	struct rsp_server *s;
	struct rax_err e = { "" };
	bool wait = false, crash = false;
	pthread_t t;
	int status;

	if (argc < 2) {
		fprintf(stderr, "usage: %s ADDR [--wait] [--exit-after-ms N]\n",
			argv[0]);
		return 1;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--wait"))
			wait = true;
		else if (!strcmp(argv[i], "--crash"))
			crash = true;
		else if (!strcmp(argv[i], "--exit-after-ms") && i + 1 < argc)
			exit_after_ms = atol(argv[++i]);
	}
	if (getenv("RAX_LOG") && log_configure(getenv("RAX_LOG")))
		return 1;
	if (fake_machine_init(&machine, 8 << 20))
		return 3;
	memcpy(machine.mem.host + ENTRY, program, sizeof(program));
	if (crash)
		memcpy(machine.mem.host + ENTRY + 9, "\x0f\x0b", 2);
	fake_of(&machine)->r.rip = ENTRY;
	fake_of(&machine)->r.gpr[R_RDI] = 0x200000;
	fake_of(&machine)->r.gpr[R_RAX] = 0x41;
	if (rsp_open(&machine, argv[1], wait, &s, &e)) {
		fprintf(stderr, "test_rsp_target: %s\n", e.msg);
		return 1;
	}
	fprintf(stderr, "test_rsp_target: listening on %s\n", argv[1]);
	if (exit_after_ms && pthread_create(&t, NULL, exit_later, NULL))
		return 3;
	status = rsp_run(s);
	fprintf(stderr, "test_rsp_target: exit %d%s%s\n", status,
		machine.exit_reason[0] ? ": " : "", machine.exit_reason);
	rsp_close(s);
	fake_machine_destroy(&machine);
	return status;
}
