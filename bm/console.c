/* bm/console.c: COM1 (output polled on PC16550D LSR.THRE; its receive
 * interrupt is armed for the guest, io.c) plus VGA text mode at 0xb8000,
 * continuing at the cursor stage 2 leaves in BM_HANDOFF. */
#include "console.h"

#include <stdint.h>
#include "cpu.h"
#include "layout.h"

#define VGA_COLS 80
#define VGA_ROWS 25

static volatile uint16_t *const bm_vga = (volatile uint16_t *)BM_VGA;
static unsigned bm_cursor;

void bm_console_init(void)
{
	uint16_t *handoff;

	/* Launder the address: GCC 12 flags fixed addresses below 4 KiB. */
	__asm__("" : "=r"(handoff) : "0"(BM_HANDOFF));
	bm_cursor = *(volatile uint16_t *)handoff;
	if (bm_cursor >= VGA_COLS * VGA_ROWS)
		bm_cursor = 0;
	/* Received data interrupts on IRQ4 for the guest's COM1 (io.c):
	 * FIFO trigger level 1, IER "data available", MCR OUT2 (which
	 * gates the UART's interrupt line on PCs) besides DTR and RTS. */
	bm_outb(BM_COM1 + 2, 0x07);
	bm_outb(BM_COM1 + 1, 0x01);
	bm_outb(BM_COM1 + 4, 0x0b);
}

static void bm_serial_putc(char c)
{
	while (!(bm_inb(BM_COM1 + 5) & 0x20))
		;
	bm_outb(BM_COM1, (uint8_t)c);
}

static void bm_vga_putc(char c)
{
	unsigned i;

	if (c == '\r')
		return;
	if (c == '\n')
		bm_cursor = (bm_cursor / VGA_COLS + 1) * VGA_COLS;
	else
		bm_vga[bm_cursor++] = 0x0700 | (uint8_t)c;
	if (bm_cursor < VGA_COLS * VGA_ROWS)
		return;
	for (i = 0; i < VGA_COLS * (VGA_ROWS - 1); i++)
		bm_vga[i] = bm_vga[i + VGA_COLS];
	for (; i < VGA_COLS * VGA_ROWS; i++)
		bm_vga[i] = 0x0720;
	bm_cursor = VGA_COLS * (VGA_ROWS - 1);
}

void bm_putc(char c)
{
	if (c == '\n')
		bm_serial_putc('\r');
	bm_putc_raw(c);
}

void bm_putc_raw(char c)
{
	bm_serial_putc(c);
	bm_vga_putc(c);
}

void bm_puts(const char *s)
{
	while (*s)
		bm_putc(*s++);
}

static void bm_putnum(uint64_t v, unsigned base, int width, char pad)
{
	char buf[24];
	int n = 0;

	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (width-- > n)
		bm_putc(pad);
	while (n)
		bm_putc(buf[--n]);
}

/* A printf subset: %c %s %d %u %x with '0', width and l/ll/z. */
void bm_vprintf(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		int width = 0, lng = 0;
		char pad = ' ';
		uint64_t v;

		if (*fmt != '%') {
			bm_putc(*fmt);
			continue;
		}
		if (*++fmt == '0')
			pad = '0', fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + *fmt++ - '0';
		while (*fmt == 'l' || *fmt == 'z')
			lng = 1, fmt++;
		switch (*fmt) {
		case 'c':
			bm_putc((char)va_arg(ap, int));
			break;
		case 's':
			bm_puts(va_arg(ap, const char *));
			break;
		case 'd':
			v = lng ? (uint64_t)va_arg(ap, long) : (uint64_t)va_arg(ap, int);
			if ((int64_t)v < 0) {
				bm_putc('-');
				v = -v;
			}
			bm_putnum(v, 10, width, pad);
			break;
		case 'u':
		case 'x':
			v = lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
			bm_putnum(v, *fmt == 'u' ? 10 : 16, width, pad);
			break;
		case '\0':
			return;
		default:
			bm_putc(*fmt);
		}
	}
}

void bm_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bm_vprintf(fmt, ap);
	va_end(ap);
}

_Noreturn void bm_shutdown(void)
{
	const char *s = "Shutdown";

	/* Let the UART drain (LSR.TEMT) so emulators keep the last bytes. */
	while (!(bm_inb(BM_COM1 + 5) & 0x40))
		;
	while (*s)
		bm_outb(BM_SHUTDOWN_PORT, (uint8_t)*s++);
	for (;;)
		__asm__ volatile("cli; hlt");
}

_Noreturn void bm_panic(const char *fmt, ...)
{
	va_list ap;

	bm_puts("bm: fatal: ");
	va_start(ap, fmt);
	bm_vprintf(fmt, ap);
	va_end(ap);
	bm_putc('\n');
	bm_shutdown();
}
