/* libFuzzer target for the decoder and the disassembler: arbitrary bytes
 * decoded in 64-, 32- and 16-bit mode, then rendered.  Beyond not
 * crashing, the contracts of decoder.h are checked: a decoded length is
 * 1..15 and within the bytes given, decoding exactly that many bytes
 * again gives the same instruction, and any shorter buffer asks for more
 * (-EAGAIN).  Build and run: bench/fuzz/run.sh decoder SECONDS */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decoder/decoder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_mode(const uint8_t *b, size_t n, enum dec_mode mode)
{
	struct dec_insn d, again;
	char text[256], mn[32];
	int ret = dec_decode(&d, b, n, mode);

	if (ret) {
		if (ret != -EAGAIN && ret != -E2BIG)
			abort();
		return;
	}
	if (d.len < 1 || d.len > 15 || d.len > n)
		abort();
	if (dec_decode(&again, b, d.len, mode) ||
	    memcmp(&again, &d, sizeof(d)))
		abort();
	if (d.len > 1 && dec_decode(&again, b, d.len - 1u, mode) != -EAGAIN)
		abort();
	dec_mnemonic(&d, mn, sizeof(mn));
	dec_disasm(&d, 0xffffffff81000000ull, text, sizeof(text));
	if (!memchr(text, 0, sizeof(text)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = size < 15 ? size : 15;

	check_mode(data, n, DEC_MODE64);
	check_mode(data, n, DEC_MODE32);
	check_mode(data, n, DEC_MODE16);
	return 0;
}
