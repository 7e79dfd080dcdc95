/* The GDB Remote Serial Protocol server (our own implementation).
 *
 *   rax --gdb 1234 --gdb-wait            # or unix:/tmp/gdb.sock, /dev/ttyS1
 *   gdb vmlinux -ex 'target remote :1234' -ex 'break start_kernel' -ex c
 *
 * Layers: rsp_packet.c (framing, pure), rsp_cmds.c and rsp_monitor.c
 * (packets over struct vcpu_ops), rsp_regs.c (QEMU's x86-64 register
 * layout and target.xml), rsp_transport.c (TCP, unix, tty), rsp.c (the
 * run loop and the connection thread).  HOST is numeric or localhost;
 * ":PORT" or 0.0.0.0 listen on every interface, with a warning.
 * Memory is guest-virtual through the vCPU's page tables (`monitor phys
 * on` for physical); `monitor help` lists the monitor commands. */
#ifndef RAX_RSP_H
#define RAX_RSP_H

#include <stdbool.h>

#include "err.h"

struct machine;
struct rsp_server;

/* Checks the syntax of a --gdb address (as rsp_open() reads it) without
 * opening anything, so that option errors come before any engine probe.
 * Returns 0 or -EINVAL with *e. */
int rsp_check_addr(const char *addr, struct rax_err *e)
	__attribute__((warn_unused_result));

/* Opens the transport named by `addr` ([HOST:]PORT, unix:PATH or a tty
 * path).  With `wait`, rsp_run() stops before the first guest instruction
 * until gdb resumes.  Returns 0 or -errno with *e. */
int rsp_open(struct machine *m, const char *addr, bool wait,
	     struct rsp_server **out, struct rax_err *e)
	__attribute__((warn_unused_result));

/* Runs the guest under the debugger until rax should exit; returns rax's
 * exit status:
 *  - an exit request (guest reset or debug-exit, Ctrl-A x, a signal):
 *    m->exit_status, after a `W` stop reply (`X` with the signal that
 *    ends rax) to a gdb waiting for the guest;
 *  - gdb's `k`/vKill: 0 (RAX_EXIT_OK), also setting m->exit_reason;
 *  - a triple fault or engine error: 3 (RAX_EXIT_ENGINE) at once when no
 *    gdb is attached, else reported to gdb as SIGSEGV and 3 when gdb
 *    kills, detaches or disconnects.
 * `D` or a dropped connection removes gdb's breakpoints and lets the
 * guest run on; a later gdb may attach again, at once. */
int rsp_run(struct rsp_server *s);
void rsp_close(struct rsp_server *s);

#endif
