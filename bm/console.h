/* bm/console.h: output to COM1 and VGA text memory at once. */
#ifndef BM_CONSOLE_H
#define BM_CONSOLE_H

#include <stdarg.h>

/* Continue at stage 2's VGA cursor; arm COM1's receive interrupt. */
void bm_console_init(void);
/* One character; bm_putc sends "\n" as CR LF, bm_putc_raw (a guest's
 * bytes) as it is. */
void bm_putc(char c);
void bm_putc_raw(char c);
void bm_puts(const char *s);
void bm_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bm_vprintf(const char *fmt, va_list ap);
/* Ask Bochs/QEMU to stop (port 0x8900), then halt forever. */
_Noreturn void bm_shutdown(void);
/* Print "bm: fatal: ..." and shut down. */
_Noreturn void bm_panic(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

#endif
