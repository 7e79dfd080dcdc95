/* libFuzzer target for the kernel loader: ld_load() on the input as the
 * kernel file (a memfd named through /proc/self/fd), into 64 MiB of guest
 * memory.  The first input byte picks host-side payload decompression
 * (bit 0); the rest is the image, bzImage or ELF.  Build and run:
 * bench/fuzz/run.sh loader SECONDS */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "loader/loader.h"
#include "machine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct machine m;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ld_config c = { 0 };
	struct ld_info info;
	struct rax_err e;
	char path[64];
	int fd, ret;

	if (size < 1)
		return 0;
	if (!m.mem.size && gm_init(&m.mem, 64ull << 20))
		abort();
	fd = memfd_create("kernel", 0);
	if (fd < 0)
		abort();
	if (write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	c.kernel = path;
	c.cmdline = "console=ttyS0";
	c.host_decompress = data[0] & 1;
	e.msg[0] = 0;
	ret = ld_load(&m, &c, &info, &e);
	(void)ret;
	close(fd);
	return 0;
}
