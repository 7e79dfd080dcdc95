/* Console: placeholder. */
#include "console.h"

#include <stdio.h>

int console_open(struct machine *m, struct console **out)
{
	*out = NULL;
	return 0;
}

void console_close(struct console *c)
{
}

void console_write(struct console *c, const void *buf, size_t n)
{
	fwrite(buf, 1, n, stdout);
	fflush(stdout);
}

size_t console_read(struct console *c, uint8_t *buf, size_t n)
{
	return 0;
}

void console_set_notify(struct console *c, void (*fn)(void *), void *opaque)
{
}
