/* GDB Remote Serial Protocol framing: pure code, no I/O (STYLE.md habit
 * 8), so it is unit-tested and fuzzed on its own.
 *
 * A packet on the wire is `$payload#cc`: cc is the sum of the raw payload
 * bytes modulo 256 in two hex digits.  In the payload, `}` escapes the next
 * byte (sent XOR 0x20) and `X*n` repeats X n-29 more times (run-length
 * encoding).  Outside packets, `+`/`-` acknowledge and 0x03 interrupts
 * (gdb manual, "Remote Protocol", "Overview" and "Interrupts"). */
#ifndef RAX_RSP_PACKET_H
#define RAX_RSP_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest decoded payload accepted; announced as PacketSize.  gdb sizes
 * its `m` requests by it (PacketSize / 2 bytes, whose hex fills one
 * packet), so it sets how many round trips a bulk read takes. */
#define RSP_MAX_PACKET 0x40000u

enum rsp_event {
	RSP_EV_NONE,      /* the chunk ended inside a packet: feed more */
	RSP_EV_PACKET,    /* a good packet: payload in p->buf, p->len */
	RSP_EV_BAD_CSUM,  /* checksum mismatch: reply `-` (ack mode) */
	RSP_EV_OVERSIZE,  /* decoded payload beyond RSP_MAX_PACKET */
	RSP_EV_INTERRUPT, /* 0x03 outside a packet */
	RSP_EV_ACK,       /* `+` */
	RSP_EV_NAK,       /* `-`: retransmit the last packet */
};

enum rsp_pstate { RSP_PS_IDLE, RSP_PS_DATA, RSP_PS_ESC, RSP_PS_RLE,
		  RSP_PS_CSUM1, RSP_PS_CSUM2 };

struct rsp_parser {
	enum rsp_pstate state;
	uint8_t sum;       /* running checksum of the raw payload */
	uint8_t csum;      /* received checksum, high nibble first */
	bool overflow;     /* payload exceeded RSP_MAX_PACKET */
	bool bad_hex;      /* a checksum digit was not hex */
	size_t len;        /* decoded payload length so far */
	/* Decoded payload; one spare byte keeps it NUL-terminated. */
	uint8_t buf[RSP_MAX_PACKET + 1];
};

void rsp_parser_init(struct rsp_parser *p);

/* Consumes bytes from data[0..n) up to and including the first complete
 * event, and returns how many it consumed (always > 0 when n > 0); *ev is
 * RSP_EV_NONE when all n bytes were consumed without completing one.
 * For RSP_EV_PACKET, p->buf[0..p->len) is valid (and p->buf[p->len] is
 * NUL) until the next call.  Bytes between packets other than `+`, `-`
 * and 0x03 are skipped; a `$` inside a packet restarts it. */
size_t rsp_parse(struct rsp_parser *p, const uint8_t *data, size_t n,
		 enum rsp_event *ev);

/* A growable byte buffer for replies. */
struct rsp_buf {
	char *p;
	size_t len, cap;
	bool oom; /* an append failed: the contents are truncated */
};

void rsp_buf_free(struct rsp_buf *b);
void rsp_buf_reset(struct rsp_buf *b);
void rsp_buf_add(struct rsp_buf *b, const void *data, size_t n);
void rsp_buf_puts(struct rsp_buf *b, const char *s);
void rsp_buf_printf(struct rsp_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Appends n bytes as 2n lowercase hex digits. */
void rsp_buf_hex(struct rsp_buf *b, const void *data, size_t n);

/* Appends `$payload#cc` to out, escaping `#`, `$`, `}` and `*`, and
 * run-length encoding runs of four or more other bytes (gdb decodes
 * `X*n` in every reply; hex dumps of zeroed memory shrink ~30 times). */
void rsp_frame(struct rsp_buf *out, const void *payload, size_t n);

/* Hex helpers.  rsp_unhex() decodes 2n digits into n bytes; returns 0 or
 * -1 on a non-hex digit.  rsp_parse_hex() reads a big-endian number from
 * *s, advancing *s; returns 0 or -1 when there is no digit or it
 * overflows 64 bits. */
int rsp_hexval(int c);
int rsp_unhex(const char *hex, void *out, size_t n);
int rsp_parse_hex(const char **s, uint64_t *out);

#endif
