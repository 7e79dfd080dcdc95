/* RSP framing: see rsp_packet.h. */
#include "rsp/rsp_packet.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rsp_parser_init(struct rsp_parser *p)
{
	p->state = RSP_PS_IDLE;
	p->len = 0;
	p->buf[0] = 0;
}

int rsp_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void start_packet(struct rsp_parser *p)
{
	p->state = RSP_PS_DATA;
	p->sum = 0;
	p->len = 0;
	p->overflow = false;
	p->bad_hex = false;
}

static void put(struct rsp_parser *p, uint8_t c)
{
	if (p->len < RSP_MAX_PACKET)
		p->buf[p->len++] = c;
	else
		p->overflow = true;
}

/* "X*n": the count byte n stands for n - 29 more copies of X; counts
 * below 29 are malformed and repeat nothing. */
static void repeat_last(struct rsp_parser *p, uint8_t count)
{
	if (!p->len || count < 29)
		return;
	for (int i = 0; i < count - 29; i++)
		put(p, p->buf[p->len - 1]);
}

/* Idle: only `$`, acks and Ctrl-C mean something; the rest is noise. */
static enum rsp_event idle_byte(struct rsp_parser *p, uint8_t c)
{
	switch (c) {
	case '$':
		start_packet(p);
		return RSP_EV_NONE;
	case '+':
		return RSP_EV_ACK;
	case '-':
		return RSP_EV_NAK;
	case 0x03:
		return RSP_EV_INTERRUPT;
	default:
		return RSP_EV_NONE;
	}
}

static enum rsp_event finish(struct rsp_parser *p)
{
	p->state = RSP_PS_IDLE;
	p->buf[p->len] = 0;
	if (p->bad_hex || p->csum != p->sum)
		return RSP_EV_BAD_CSUM;
	return p->overflow ? RSP_EV_OVERSIZE : RSP_EV_PACKET;
}

static enum rsp_event packet_byte(struct rsp_parser *p, uint8_t c)
{
	int v;

	if (c == '$' && p->state != RSP_PS_CSUM1 && p->state != RSP_PS_CSUM2) {
		start_packet(p); /* gdb gave up on the last one */
		return RSP_EV_NONE;
	}
	switch (p->state) {
	case RSP_PS_DATA:
		if (c == '#') {
			p->state = RSP_PS_CSUM1;
			return RSP_EV_NONE;
		}
		p->sum += c;
		if (c == '}')
			p->state = RSP_PS_ESC;
		else if (c == '*')
			p->state = RSP_PS_RLE;
		else
			put(p, c);
		return RSP_EV_NONE;
	case RSP_PS_ESC:
	case RSP_PS_RLE:
		if (c == '#') { /* malformed tail: end the packet anyway */
			p->state = RSP_PS_CSUM1;
			return RSP_EV_NONE;
		}
		p->sum += c;
		if (p->state == RSP_PS_ESC)
			put(p, c ^ 0x20);
		else
			repeat_last(p, c);
		p->state = RSP_PS_DATA;
		return RSP_EV_NONE;
	case RSP_PS_CSUM1:
	case RSP_PS_CSUM2:
		v = rsp_hexval(c);
		if (v < 0) {
			p->bad_hex = true;
			v = 0;
		}
		if (p->state == RSP_PS_CSUM1) {
			p->csum = (uint8_t)(v << 4);
			p->state = RSP_PS_CSUM2;
			return RSP_EV_NONE;
		}
		p->csum |= (uint8_t)(v & 0xf);
		return finish(p);
	case RSP_PS_IDLE:
		break;
	}
	return RSP_EV_NONE;
}

size_t rsp_parse(struct rsp_parser *p, const uint8_t *data, size_t n,
		 enum rsp_event *ev)
{
	for (size_t i = 0; i < n; i++) {
		enum rsp_event e = p->state == RSP_PS_IDLE ?
			idle_byte(p, data[i]) : packet_byte(p, data[i]);

		if (e != RSP_EV_NONE) {
			*ev = e;
			return i + 1;
		}
	}
	*ev = RSP_EV_NONE;
	return n;
}

/* ---- output buffers ------------------------------------------------- */

void rsp_buf_free(struct rsp_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->oom = false;
}

void rsp_buf_reset(struct rsp_buf *b)
{
	b->len = 0;
	b->oom = false;
	if (b->p)
		b->p[0] = 0;
}

/* Makes room for n more bytes plus a NUL.  Returns false when out of
 * memory (the buffer is then marked and left as it was). */
static bool reserve(struct rsp_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->len + n + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void rsp_buf_add(struct rsp_buf *b, const void *data, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = 0;
}

void rsp_buf_puts(struct rsp_buf *b, const char *s)
{
	rsp_buf_add(b, s, strlen(s));
}

void rsp_buf_printf(struct rsp_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* "00" to "ff": byte i's two hex digits at 2 * i. */
static const char hex_pairs[513] =
	"000102030405060708090a0b0c0d0e0f"
	"101112131415161718191a1b1c1d1e1f"
	"202122232425262728292a2b2c2d2e2f"
	"303132333435363738393a3b3c3d3e3f"
	"404142434445464748494a4b4c4d4e4f"
	"505152535455565758595a5b5c5d5e5f"
	"606162636465666768696a6b6c6d6e6f"
	"707172737475767778797a7b7c7d7e7f"
	"808182838485868788898a8b8c8d8e8f"
	"909192939495969798999a9b9c9d9e9f"
	"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
	"b0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
	"c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
	"d0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
	"e0e1e2e3e4e5e6e7e8e9eaebecedeeef"
	"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

void rsp_buf_hex(struct rsp_buf *b, const void *data, size_t n)
{
	const uint8_t *d = data;
	char *o;

	if (!reserve(b, 2 * n))
		return;
	/* Through a local pointer: stores via b->p may alias b->len. */
	o = b->p + b->len;
	for (size_t i = 0; i < n; i++, o += 2)
		memcpy(o, hex_pairs + 2 * d[i], 2);
	b->len += 2 * n;
	b->p[b->len] = 0;
}

/* The repeat count of a run of `len` copies (1 + count extra copies),
 * as sent: count + 29 must be printable and neither `#` nor `$` (gdb
 * manual, "Overview": run-length encoding), so 3 to 97, skipping 6 and
 * 7.  0 means "send the byte as it is". */
static unsigned rle_count(size_t len)
{
	unsigned n = len - 1 > 97 ? 97 : (unsigned)(len - 1);

	if (n == 6 || n == 7)
		n = 5;
	return n >= 3 ? n : 0;
}

static bool needs_escape(uint8_t c)
{
	return c == '}' || c == '*' || c == '#' || c == '$';
}

/* Word-at-a-time helpers (8 bytes): the classic "has a zero byte" test,
 * exact for whether any byte is zero. */
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static uint64_t zero_byte(uint64_t v)
{
	return (v - ONES) & ~v & HIGHS;
}

/* Length of the run of d[0] at d[0..n), n >= 4, at most 98 (1 + 97
 * repeats). */
static size_t run_length(const uint8_t *d, size_t n)
{
	uint64_t w, all = d[0] * ONES;
	size_t run = 1;

	if (d[1] != d[0] || d[2] != d[0] || d[3] != d[0])
		return 1;
	n = n < 98 ? n : 98;
	while (run + 8 <= n && (memcpy(&w, d + run, 8), w == all))
		run += 8;
	while (run < n && d[run] == d[0])
		run++;
	return run;
}

/* Appends one byte (escaped if need be), or a run of it, at o; returns
 * how many payload bytes it took. */
static size_t frame_byte(const uint8_t *d, size_t n, char **o, unsigned *sum)
{
	uint8_t c = d[0];
	unsigned rep;

	if (needs_escape(c)) { /* never run-length encoded */
		*(*o)++ = '}';
		*(*o)++ = (char)(c ^ 0x20);
		*sum += '}' + (c ^ 0x20u);
		return 1;
	}
	*(*o)++ = (char)c;
	*sum += c;
	rep = n >= 4 ? rle_count(run_length(d, n)) : 0;
	if (!rep)
		return 1;
	*(*o)++ = '*';
	*(*o)++ = (char)(rep + 29);
	*sum += '*' + rep + 29;
	return 1 + rep;
}

/* True when none of the 8 bytes at d needs escaping or starts a run,
 * i.e. differs from the byte after it (reads d[0..8]). */
static bool plain_word(const uint8_t *d, uint64_t *word)
{
	uint64_t x, y;

	memcpy(&x, d, 8);
	memcpy(&y, d + 1, 8);
	*word = x;
	return !(zero_byte(x ^ ('#' * ONES)) | zero_byte(x ^ ('$' * ONES)) |
		 zero_byte(x ^ ('}' * ONES)) | zero_byte(x ^ ('*' * ONES)) |
		 zero_byte(x ^ y));
}

/* The sum of the 8 bytes of x. */
static unsigned byte_sum(uint64_t x)
{
	uint64_t pairs = (x & 0x00ff00ff00ff00ffull) +
			 ((x >> 8) & 0x00ff00ff00ff00ffull);

	return (unsigned)((pairs * 0x0001000100010001ull) >> 48);
}

void rsp_frame(struct rsp_buf *out, const void *payload, size_t n)
{
	const uint8_t *d = payload;
	unsigned sum = 0;
	size_t i = 0;
	uint64_t w;
	char *o;

	if (!reserve(out, 2 * n + 4)) /* worst case: every byte escaped */
		return;
	o = out->p + out->len;
	*o++ = '$';
	while (i < n) {
		/* Fast path: 8 plain bytes (hex of busy memory) at once. */
		if (i + 9 <= n && plain_word(d + i, &w)) {
			memcpy(o, &w, 8);
			o += 8;
			sum += byte_sum(w);
			i += 8;
			continue;
		}
		i += frame_byte(d + i, n - i, &o, &sum);
	}
	out->len = (size_t)(o - out->p);
	rsp_buf_printf(out, "#%02x", sum & 0xff);
}

int rsp_unhex(const char *hex, void *out, size_t n)
{
	uint8_t *o = out;

	for (size_t i = 0; i < n; i++) {
		int hi = rsp_hexval(hex[2 * i]), lo;

		if (hi < 0)
			return -1;
		lo = rsp_hexval(hex[2 * i + 1]);
		if (lo < 0)
			return -1;
		o[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int rsp_parse_hex(const char **s, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;
	int d;

	if (rsp_hexval(*p) < 0)
		return -1;
	while ((d = rsp_hexval(*p)) >= 0) {
		if (v >> 60)
			return -1;
		v = v << 4 | (uint64_t)d;
		p++;
	}
	*s = p;
	*out = v;
	return 0;
}
