/* libFuzzer target for the gdb server's input path: the stream parser fed
 * in fuzzer-chosen chunk sizes, and every packet it yields handled by the
 * command layer against the fake engine (registers, memory, breakpoints,
 * qXfer, the monitor), as the server would.  The first input byte picks
 * the chunk size.  Every reply, and the input itself, is also framed
 * (escapes, run-length encoding) and must parse back to itself.
 * Build and run: bench/fuzz/run.sh rsp SECONDS */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/rsp_cmds.h"
#include "rsp/rsp_packet.h"
#include "test_rsp_fake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct machine m;
static struct rsp_parser parser;
static struct rsp_session sess;
static struct rsp_buf reply, console, frame;
static struct rsp_parser back;

/* rsp_frame() then rsp_parse() gives the payload back. */
static void frame_round_trip(const void *payload, size_t n)
{
	enum rsp_event ev;

	if (n > RSP_MAX_PACKET)
		return;
	rsp_buf_reset(&frame);
	rsp_frame(&frame, payload, n);
	rsp_parser_init(&back);
	if (rsp_parse(&back, (const uint8_t *)frame.p, frame.len, &ev) !=
	    frame.len || ev != RSP_EV_PACKET || back.len != n ||
	    memcmp(back.buf, payload, n))
		abort();
}

static void handle(void)
{
	rsp_buf_reset(&reply);
	rsp_buf_reset(&console);
	/* Resume packets only set s->resume: nothing runs here. */
	rsp_handle(&sess, (const char *)parser.buf, parser.len, &reply,
		   &console);
	if (!reply.oom)
		frame_round_trip(reply.p, reply.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t chunk, off = 1;

	if (!m.engine && fake_machine_init(&m, 2 << 20))
		abort();
	if (!size)
		return 0;
	chunk = data[0] ? data[0] : 1;
	frame_round_trip(data, size);
	rsp_parser_init(&parser);
	rsp_session_init(&sess, &m);
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;

		while (n) {
			enum rsp_event ev;
			size_t used = rsp_parse(&parser, data + off, n, &ev);

			if (!used || used > n)
				abort(); /* the parser's contract */
			off += used;
			n -= used;
			if (ev == RSP_EV_PACKET) {
				if (parser.buf[parser.len] != 0)
					abort();
				handle();
			}
		}
	}
	rsp_remove_all_bps(&sess);
	return 0;
}
