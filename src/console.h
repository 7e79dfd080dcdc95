/* The terminal as the guest's serial console: raw mode when stdin is a
 * tty, a reader thread for input, Ctrl-A x to quit (QEMU's escape). */
#ifndef RAX_CONSOLE_H
#define RAX_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct machine;
struct console;

/* Opens the console on stdin/stdout.  Returns 0 or -errno. */
int console_open(struct machine *m, struct console **out)
	__attribute__((warn_unused_result));
/* Restores the terminal and stops the reader thread. */
void console_close(struct console *c);

/* Puts the terminal back in the mode it had before raw mode, from any
 * thread, before rax ends without console_close().  Async-signal-safe. */
void console_restore_terminal(void);

/* Guest output, written at once (no stdio buffering).  c may be NULL:
 * the output is dropped. */
void console_write(struct console *c, const void *buf, size_t n);

/* Takes up to n bytes of pending input; returns the count (0: none).
 * Thread-safe. */
size_t console_read(struct console *c, uint8_t *buf, size_t n);

/* fn(opaque) is called from the reader thread whenever new input is
 * pending (the UART raises its RX interrupt from it).  fn may call
 * console_read() but not console_set_notify().  Once this returns, no
 * call to the previous fn is in flight; fn = NULL stops the calls. */
void console_set_notify(struct console *c, void (*fn)(void *), void *opaque);

/* The history (src/history) makes input an event at a known instruction
 * count.  console_set_gate(): from now on new input calls fn(opaque)
 * (from the reader thread) instead of the notify function, and stays
 * in the console until console_take() takes it; console_read() then
 * returns only what console_feed() gave, which calls the notify
 * function on the calling thread (the vCPU's).  The fed bytes not read
 * yet are part of the machine state (console_fed_save/restore).
 * console_set_quiet(): drop guest output (replaying what was shown). */
#define CONSOLE_FED_MAX 4096
struct console_fed {
	uint8_t buf[CONSOLE_FED_MAX];
	unsigned head, count;
};
void console_set_gate(struct console *c, void (*fn)(void *), void *opaque);
size_t console_take(struct console *c, uint8_t *buf, size_t n);
void console_feed(struct console *c, const uint8_t *buf, size_t n);
void console_fed_save(struct console *c, struct console_fed *f);
void console_fed_restore(struct console *c, const struct console_fed *f);
void console_set_quiet(struct console *c, bool quiet);

#endif
