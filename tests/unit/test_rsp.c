/* Unit tests of the gdb server: packet framing (pure), then the command
 * handlers against the fake engine in test_rsp_fake.c.
 * Run: ./tests/unit/test_rsp (from the build folder). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "machine.h"
#include "rsp/rsp_cmds.h"
#include "rsp/rsp_packet.h"
#include "rsp/rsp_regs.h"
#include "rsp/rsp_transport.h"
#include "test.h"
#include "test_rsp_fake.h"

static struct rsp_parser parser;

/* Feeds a whole string; returns the first event (and how many bytes it
 * took in *used). */
static enum rsp_event feed(const char *s, size_t n, size_t *used)
{
	enum rsp_event ev = RSP_EV_NONE;
	size_t off = 0;

	while (off < n && ev == RSP_EV_NONE)
		off += rsp_parse(&parser, (const uint8_t *)s + off, n - off, &ev);
	if (used)
		*used = off;
	return ev;
}

static enum rsp_event feeds(const char *s)
{
	return feed(s, strlen(s), NULL);
}

static bool payload_is(const char *want)
{
	return parser.len == strlen(want) && !memcmp(parser.buf, want, parser.len);
}

static void a_good_packet_parses_and_its_checksum_is_checked(void)
{
	rsp_parser_init(&parser);
	CHECK_EQ(feeds("$g#67"), RSP_EV_PACKET);
	CHECK(payload_is("g"));
	CHECK_EQ(feeds("$qSupported#37"), RSP_EV_PACKET);
	CHECK(payload_is("qSupported"));
	CHECK_EQ(feeds("$g#68"), RSP_EV_BAD_CSUM);
	CHECK_EQ(feeds("$g#6G"), RSP_EV_BAD_CSUM);
	CHECK_EQ(feeds("$g#G7"), RSP_EV_BAD_CSUM); /* found by the fuzzer */
	CHECK_EQ(feeds("$#00"), RSP_EV_PACKET);
	CHECK_EQ(parser.len, 0);
	/* Upper-case checksum digits are accepted. */
	CHECK_EQ(feeds("$m0,1#FA"), RSP_EV_PACKET);
}

static void a_packet_split_at_every_byte_still_parses(void)
{
	const char *s = "$vCont;c#a8";
	enum rsp_event ev = RSP_EV_NONE;

	rsp_parser_init(&parser);
	for (size_t i = 0; s[i]; i++) {
		CHECK_EQ(ev, RSP_EV_NONE);
		rsp_parse(&parser, (const uint8_t *)s + i, 1, &ev);
	}
	CHECK_EQ(ev, RSP_EV_PACKET);
	CHECK(payload_is("vCont;c"));
	/* Truncated: waits for more. */
	CHECK_EQ(feeds("$g#6"), RSP_EV_NONE);
	CHECK_EQ(feeds("7"), RSP_EV_PACKET);
}

static void acks_interrupts_and_noise_between_packets(void)
{
	size_t used;

	rsp_parser_init(&parser);
	CHECK_EQ(feed("+", 1, NULL), RSP_EV_ACK);
	CHECK_EQ(feed("-", 1, NULL), RSP_EV_NAK);
	CHECK_EQ(feed("\x03", 1, NULL), RSP_EV_INTERRUPT);
	CHECK_EQ(feed("xyz\r\n$g#67", 10, &used), RSP_EV_PACKET);
	CHECK_EQ(used, 10);
	/* One event per call: the rest of the chunk stays for the next. */
	CHECK_EQ(feed("+$g#67", 6, &used), RSP_EV_ACK);
	CHECK_EQ(used, 1);
	/* A `$` inside a packet starts over. */
	CHECK_EQ(feeds("$garbage$g#67"), RSP_EV_PACKET);
	CHECK(payload_is("g"));
	/* 0x03 inside a packet is data. */
	CHECK_EQ(feed("$\x03#03", 5, NULL), RSP_EV_PACKET);
	CHECK_EQ(parser.len, 1);
}

static void escapes_and_run_lengths_decode(void)
{
	struct rsp_buf b = { NULL };
	const char bin[] = { '#', '$', '}', '*', 0, 'a' };

	rsp_parser_init(&parser);
	/* "X}\x03" is "X#" after unescaping; checksum over raw bytes. */
	rsp_frame(&b, bin, sizeof(bin));
	CHECK(!strncmp(b.p, "$}\x03}\x04}]}\n", 9));
	CHECK_EQ(feed(b.p, b.len, NULL), RSP_EV_PACKET);
	CHECK_EQ(parser.len, sizeof(bin));
	CHECK(!memcmp(parser.buf, bin, sizeof(bin)));
	/* "0* " is 0 and three more copies (' ' = 32 = 29 + 3). */
	rsp_buf_reset(&b);
	CHECK_EQ(feeds("$0* #7a"), RSP_EV_PACKET);
	CHECK(payload_is("0000"));
	CHECK_EQ(feeds("$a*!b#"), RSP_EV_NONE);
	rsp_parser_init(&parser);
	/* Malformed RLE (no previous char, count too small) repeats nothing. */
	CHECK_EQ(feeds("$*\"x#c4"), RSP_EV_PACKET);
	CHECK(payload_is("x"));
	rsp_buf_free(&b);
}

/* Runs of every length from 1 to 300 (7 and 8 would need the counts
 * `#` and `$`), between escaped bytes, survive our own parser, and
 * the frame holds no bare `#` or `$` before its checksum. */
static void frames_run_length_encode_and_decode_back(void)
{
	static uint8_t in[50000];
	struct rsp_buf b = { NULL };
	size_t n = 0;

	for (unsigned len = 1; len <= 300; len++) {
		memset(in + n, len & 1 ? '0' : 'f', len);
		n += len;
		in[n++] = len % 3 ? '#' : '}';
	}
	rsp_frame(&b, in, n);
	CHECK(b.len < n / 2); /* the runs shrank */
	CHECK(!memchr(b.p + 1, '#', b.len - 4));
	CHECK(!memchr(b.p + 1, '$', b.len - 4));
	rsp_parser_init(&parser);
	CHECK_EQ(feed(b.p, b.len, NULL), RSP_EV_PACKET);
	CHECK_EQ(parser.len, n);
	CHECK(!memcmp(parser.buf, in, n));
	/* 16 KiB of hex zeros, an m reply of zeroed memory: 3 bytes per 98. */
	memset(in, '0', 16384);
	rsp_buf_reset(&b);
	rsp_frame(&b, in, 16384);
	CHECK(b.len < 600);
	rsp_parser_init(&parser);
	CHECK_EQ(feed(b.p, b.len, NULL), RSP_EV_PACKET);
	CHECK(parser.len == 16384 && parser.buf[16383] == '0');
	/* Three copies stay as they are: "000" is shorter than "0*!". */
	rsp_buf_reset(&b);
	rsp_frame(&b, "000x", 4);
	CHECK(!strncmp(b.p, "$000x#", 6));
	rsp_buf_free(&b);
}

/* The word-at-a-time fast path against random payloads over a small
 * alphabet (runs, escapes and their mixes at every alignment): each
 * decodes back to itself. */
static void random_frames_decode_back(void)
{
	static const char abc[] = "00000aa#$}*f";
	struct rsp_buf b = { NULL };
	uint8_t in[300];
	unsigned seed = 1, bad = 0;

	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)(round % 300);

		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = (uint8_t)abc[(seed >> 16) % (sizeof(abc) - 1)];
		}
		rsp_buf_reset(&b);
		rsp_frame(&b, in, n);
		rsp_parser_init(&parser);
		if (feed(b.p, b.len, NULL) != RSP_EV_PACKET ||
		    parser.len != n || memcmp(parser.buf, in, n) ||
		    memchr(b.p + 1, '#', b.len - 4) ||
		    memchr(b.p + 1, '$', b.len - 4))
			bad++;
	}
	CHECK_EQ(bad, 0);
	rsp_buf_free(&b);
}

static void an_oversize_packet_is_reported_after_its_end(void)
{
	size_t n = RSP_MAX_PACKET + 10;
	char *s = malloc(n + 8);
	unsigned sum = 0;

	s[0] = '$';
	for (size_t i = 1; i <= n; i++) {
		s[i] = 'a';
		sum += 'a';
	}
	sprintf(s + n + 1, "#%02x", sum & 0xff);
	rsp_parser_init(&parser);
	CHECK_EQ(feed(s, n + 4, NULL), RSP_EV_OVERSIZE);
	/* Run-length expansion beyond the limit too. */
	CHECK_EQ(feeds("$g#67"), RSP_EV_PACKET);
	free(s);
}

static void hex_helpers_reject_bad_digits(void)
{
	const char *p = "1f,";
	uint64_t v;
	uint8_t b[2];

	CHECK(!rsp_parse_hex(&p, &v) && v == 0x1f && *p == ',');
	p = ",";
	CHECK(rsp_parse_hex(&p, &v));
	p = "12345678901234567";
	CHECK(rsp_parse_hex(&p, &v));
	CHECK(!rsp_unhex("a0FF", b, 2) && b[0] == 0xa0 && b[1] == 0xff);
	CHECK(rsp_unhex("a", b, 1));
	CHECK(rsp_unhex("zz", b, 1));
}

/* ---- handlers ------------------------------------------------------- */

static struct machine m;
static struct rsp_session sess;
static struct rsp_buf reply, console;

static enum rsp_action cmd(const char *pkt)
{
	rsp_buf_reset(&reply);
	rsp_buf_reset(&console);
	rsp_buf_puts(&reply, ""); /* never NULL */
	return rsp_handle(&sess, pkt, strlen(pkt), &reply, &console);
}

static bool replied(const char *pkt, const char *want)
{
	cmd(pkt);
	if (!strcmp(reply.p, want))
		return true;
	fprintf(stderr, "  %s -> '%s', want '%s'\n", pkt, reply.p, want);
	return false;
}

/* The stop reply for `?` starts with `want`; rbp, rsp and rip follow
 * it (expedited). */
static bool stop_starts(const char *want)
{
	cmd("?");
	if (!strncmp(reply.p, want, strlen(want)) &&
	    !strncmp(reply.p + strlen(want), "06:", 3))
		return true;
	fprintf(stderr, "  ? -> '%s', want '%s06:...'\n", reply.p, want);
	return false;
}

static void setup(void)
{
	if (fake_machine_init(&m, 4 << 20)) {
		fprintf(stderr, "cannot set up the fake machine\n");
		exit(1);
	}
	rsp_session_init(&sess, &m);
}

static void teardown(void)
{
	fake_machine_destroy(&m);
}

static void queries_answer_as_gdb_expects(void)
{
	setup();
	cmd("qSupported:multiprocess+;swbreak+;xmlRegisters=i386");
	CHECK(strstr(reply.p, "PacketSize=40000"));
	CHECK(strstr(reply.p, "qXfer:features:read+"));
	CHECK(strstr(reply.p, "QStartNoAckMode+"));
	CHECK(strstr(reply.p, "swbreak+") && strstr(reply.p, "hwbreak+"));
	CHECK(strstr(reply.p, "vContSupported+"));
	/* No history behind this engine: no reverse execution offered,
	 * and bs/bc get the empty reply (unsupported). */
	CHECK(!strstr(reply.p, "ReverseStep") &&
	      !strstr(reply.p, "ReverseContinue"));
	CHECK(replied("bs", ""));
	CHECK(replied("bc", ""));
	CHECK(stop_starts("T05thread:01;"));
	CHECK(replied("qC", "QC1"));
	CHECK(replied("qfThreadInfo", "m1"));
	CHECK(replied("qsThreadInfo", "l"));
	CHECK(replied("qAttached", "1"));
	CHECK(replied("qAttached:1", "1"));
	CHECK(replied("qOffsets", "Text=0;Data=0;Bss=0"));
	CHECK(replied("Hg1", "OK"));
	CHECK(replied("Hc-1", "OK"));
	CHECK(replied("T1", "OK"));
	CHECK(replied("vCont?", "vCont;c;C;s;S;r"));
	CHECK(replied("vMustReplyEmpty", ""));
	CHECK(replied("qTStatus", ""));
	CHECK(replied("!", ""));
	CHECK(replied("QStartNoAckMode", "OK"));
	CHECK(sess.no_ack);
	teardown();
}

/* Threads are vCPUs (rax --cpus): ids 1..n, the stop names the vCPU
 * that stopped, Hg picks whose registers g reads, Hc and vCont whom a
 * step steps. */
static void threads_are_the_vcpus(void)
{
	setup();
	m.ncpus = 3;
	CHECK(replied("qfThreadInfo", "m1,2,3"));
	CHECK(replied("qsThreadInfo", "l"));
	cmd("qXfer:threads:read::0,1000");
	CHECK(reply.p[0] == 'l' &&
	      strstr(reply.p, "<thread id=\"3\" core=\"2\"/>"));
	sess.stop.cpu = 1;
	rsp_session_stopped(&sess);
	CHECK(stop_starts("T05thread:02;"));
	CHECK(replied("qC", "QC2"));
	cmd("g");
	CHECK_EQ(fake_of(&m)->reg_cpu, 1);
	CHECK(replied("Hg3", "OK"));
	cmd("g");
	CHECK_EQ(fake_of(&m)->reg_cpu, 2);
	CHECK(replied("Hg0", "OK"));              /* any: the one stopped */
	cmd("p10");
	CHECK_EQ(fake_of(&m)->reg_cpu, 1);
	CHECK(replied("Hg4", "E16"));             /* no thread 4 */
	CHECK(replied("T3", "OK"));
	CHECK(replied("T4", "E01"));
	CHECK(replied("Hc3", "OK"));
	CHECK_EQ(cmd("s"), RSP_ACT_RESUME);
	CHECK_EQ(sess.resume.cpu, 2);
	CHECK(replied("Hc-1", "OK"));
	CHECK_EQ(cmd("vCont;s:1;c"), RSP_ACT_RESUME);
	CHECK(sess.resume.kind == RSP_RES_STEP && sess.resume.cpu == 0);
	CHECK_EQ(cmd("vCont;s"), RSP_ACT_RESUME);
	CHECK_EQ(sess.resume.cpu, 1);             /* the one stopped */
	teardown();
}

static void target_xml_reads_in_chunks_and_names_the_layout(void)
{
	struct rsp_buf all = { NULL };
	char q[64];

	setup();
	for (unsigned off = 0;; off += 1000) {
		snprintf(q, sizeof(q), "qXfer:features:read:target.xml:%x,3e8", off);
		cmd(q);
		CHECK(reply.p[0] == 'm' || reply.p[0] == 'l');
		rsp_buf_add(&all, reply.p + 1, reply.len - 1);
		if (reply.p[0] != 'm')
			break;
	}
	CHECK_EQ(all.len, strlen(rsp_target_xml));
	CHECK(all.p && !strcmp(all.p, rsp_target_xml));
	CHECK(strstr(rsp_target_xml, "<architecture>i386:x86-64</architecture>"));
	CHECK(strstr(rsp_target_xml, "name=\"k_gs_base\" bitsize=\"64\" type=\"int64\" regnum=\"26\""));
	CHECK(strstr(rsp_target_xml, "name=\"mxcsr\" bitsize=\"32\" type=\"int\" regnum=\"65\""));
	CHECK(replied("qXfer:features:read:target.xml:100000,10", "l"));
	/* With AVX state (a v3 vCPU): the same, then gdb's AVX feature. */
	CHECK(!strncmp(rsp_target_xml_avx, rsp_target_xml,
		       strlen(rsp_target_xml) - strlen("</target>\n")));
	CHECK(strstr(rsp_target_xml_avx, "<feature name=\"org.gnu.gdb.i386.avx\">"));
	CHECK(strstr(rsp_target_xml_avx, "name=\"ymm15h\" bitsize=\"128\" type=\"uint128\" regnum=\"81\""));
	CHECK(!strstr(rsp_target_xml, "ymm0h"));
	CHECK_EQ(rsp_reg_size(66), 16);
	CHECK_EQ(rsp_reg_size(81), 16);
	CHECK_EQ(rsp_reg_size(82), 0);
	CHECK(replied("p42", "E16")); /* ymm0h: the fake vCPU has no AVX */
	CHECK(replied("qXfer:features:read:other.xml:0,10", "E00"));
	rsp_buf_free(&all);
	teardown();
}

/* The little-endian hex of v in `bytes` bytes. */
static const char *le_hex(uint64_t v, unsigned bytes)
{
	static char s[40];

	for (unsigned i = 0; i < bytes; i++)
		sprintf(s + 2 * i, "%02x", (unsigned)(v >> (8 * i)) & 0xff);
	return s;
}

static void registers_follow_the_qemu_wire_layout(void)
{
	struct fake_cpu *c;
	unsigned total = 0;

	setup();
	c = fake_of(&m);
	for (unsigned n = 0; n < RSP_NREGS; n++)
		total += rsp_reg_size(n);
	CHECK_EQ(total, RSP_G_BYTES);
	for (unsigned n = RSP_NREGS; n < RSP_NREGS_AVX; n++)
		total += rsp_reg_size(n);
	CHECK_EQ(total, RSP_G_BYTES + 256); /* ymm0h-ymm15h */
	CHECK_EQ(rsp_reg_size(RSP_NREGS_AVX), 0);
	c->r.gpr[R_RBX] = 0x1122334455667788ull;
	c->r.rip = 0xffffffff81000000ull;
	c->r.rflags = 0x246;
	c->r.seg[S_SS].sel = 0x18;
	c->r.seg[S_FS].base = 0x7f0000001000ull;
	c->kernel_gs_base = 0xffff888000000000ull;
	c->r.cr3 = 0x1000;
	c->r.efer = 0xd01;
	memcpy(c->f.fx + FX_MXCSR, "\x80\x1f\0\0", 4);
	c->f.fx[FX_XMM(1)] = 0x42;
	cmd("g");
	CHECK_EQ(reply.len, 2 * RSP_G_BYTES);
	CHECK(!strncmp(reply.p + 16, "8877665544332211", 16)); /* rbx is 1 */
	CHECK(!strncmp(reply.p + 2 * 128, "00000081ffffffff", 16));
	CHECK(!strncmp(reply.p + 2 * 136, "46020000", 8));
	CHECK(!strncmp(reply.p + 2 * 144, "18000000", 8)); /* ss */
	CHECK(!strncmp(reply.p + 2 * 604, "801f0000", 8)); /* mxcsr */
	CHECK(replied("p3", "0000000000000000")); /* rdx */
	CHECK(replied("p1", "8877665544332211"));
	CHECK(replied("p10", "00000081ffffffff"));
	CHECK(replied("p18", le_hex(0x7f0000001000ull, 8)));  /* fs_base */
	CHECK(replied("p1a", le_hex(0xffff888000000000ull, 8)));
	CHECK(replied("p1d", le_hex(0x1000, 8)));             /* cr3 */
	CHECK(replied("p20", le_hex(0xd01, 8)));              /* efer */
	CHECK(replied("p32", "42000000000000000000000000000000")); /* xmm1 */
	CHECK(replied("p2b", "ffff0000")); /* ftag: all empty */
	CHECK(replied("p42", "E16"));
	CHECK(replied("pzz", "E16"));
	/* Writes. */
	CHECK(replied("P10=0010000000000000", "OK"));
	CHECK_EQ(c->r.rip, 0x1000);
	CHECK(replied("P11=02000000", "OK"));
	CHECK_EQ(c->r.rflags, 2);
	CHECK(replied("P1a=0100000000000000", "OK"));
	CHECK_EQ(c->kernel_gs_base, 1);
	CHECK(replied("P10=00", "E16"));
	CHECK(replied("P99=00", "E16"));
	/* G writes back what g read. */
	c->r.gpr[R_R15] = 77;
	cmd("g");
	{
		char *g = strdup(reply.p);

		memcpy(g + 2 * 120, "0900000000000000", 16); /* r15 = 9 */
		{
			char *pkt = malloc(strlen(g) + 2);

			sprintf(pkt, "G%s", g);
			CHECK(replied(pkt, "OK"));
			free(pkt);
		}
		free(g);
	}
	CHECK_EQ(c->r.gpr[R_R15], 9);
	CHECK_EQ(c->r.gpr[R_RBX], 0x1122334455667788ull);
	CHECK(replied("Gzz", "OK")); /* fewer registers than known: kept */
	CHECK(replied("G00000000000000zz", "E16"));
	teardown();
}

static void memory_reads_and_writes_and_faults(void)
{
	struct fake_cpu *c;
	uint8_t *ram;

	setup();
	c = fake_of(&m);
	ram = m.mem.host;
	memcpy(ram + 0x1000, "\x90\xf4\xaa\x01", 4);
	CHECK(replied("m1000,4", "90f4aa01"));
	CHECK(replied("m1000,0", ""));
	CHECK(replied("M2000,3:616263", "OK"));
	CHECK(!memcmp(ram + 0x2000, "abc", 3));
	/* Every write goes through the engine's write_mem (vcpu.h): the
	 * interpreter forgets the code it decoded from those bytes. */
	CHECK_EQ(c->mem_writes, 3);
	/* X data arrives unescaped by the parser; NULs included. */
	rsp_buf_reset(&reply);
	rsp_handle(&sess, "X3000,5:#$}*\0", 13, &reply, &console);
	CHECK(reply.p && !strcmp(reply.p, "OK"));
	CHECK(!memcmp(ram + 0x3000, "#$}*\0", 5));
	CHECK_EQ(c->mem_writes, 8);
	/* A write across a page boundary: both pages, through the op. */
	CHECK(replied("M2ffe,4:01020304", "OK"));
	CHECK(!memcmp(ram + 0x2ffe, "\x01\x02\x03\x04", 4));
	CHECK_EQ(c->mem_writes, 12);
	CHECK(replied("X3000,0:", "OK"));
	CHECK(replied("X3000,5:ab", "E16"));
	CHECK(replied("M2000,2:61", "E16"));
	CHECK(replied("M2000,1:zz", "E16"));
	CHECK(replied("m10000000,4", "E14"));     /* beyond RAM */
	CHECK(replied("M10000000,1:00", "E14"));
	/* A read across the end of RAM returns what there is. */
	CHECK(replied("m3ffffe,4", "0000"));
	CHECK(replied("mzz", "E16"));
	CHECK(replied("m1000", "E16"));
	/* gdb asks for PacketSize / 2 bytes at most: answered whole, one
	 * round trip; more is cut to that. */
	ram[0x100000 + RSP_MAX_PACKET / 2 - 1] = 0x5a;
	cmd("m100000,20000");
	CHECK_EQ(reply.len, RSP_MAX_PACKET);
	CHECK(!strcmp(reply.p + RSP_MAX_PACKET - 2, "5a"));
	cmd("m100000,30000");
	CHECK_EQ(reply.len, RSP_MAX_PACKET);
	/* With paging on, addresses go through pg_walk: virtual addresses
	 * with no mapping fault and never crash. */
	c->r.cr0 |= CR0_PG;
	c->r.cr4 |= CR4_PAE;
	c->r.cr3 = 0x3ff000; /* a zeroed PML4: nothing is mapped */
	cmd("mffffffff81000000,4");
	CHECK(reply.p[0] == 'E');
	/* monitor phys on: the same physical read works. */
	cmd("qRcmd,7068797320206f6e"); /* "phys  on" */
	CHECK(sess.phys);
	CHECK(replied("m1000,4", "90f4aa01"));
	teardown();
}

static void breakpoints_go_to_the_engine(void)
{
	struct fake_cpu *c;

	setup();
	c = fake_of(&m);
	CHECK(replied("Z0,1000,1", "OK"));
	CHECK_EQ(c->nbps, 1);
	CHECK(replied("Z0,1000,1", "OK")); /* twice is fine */
	CHECK_EQ(c->nbps, 1);
	CHECK(replied("Z1,2000,1", "OK"));
	CHECK(replied("Z2,3000,4", "OK"));
	CHECK(replied("Z4,3008,8", "OK"));
	CHECK(replied("Z1,4000,1", "OK"));
	CHECK(replied("Z1,5000,1", "E1c")); /* out of debug registers */
	c->no_read_watch = true;
	CHECK(replied("Z3,6000,4", ""));    /* unsupported: empty */
	CHECK(replied("Z5,6000,4", ""));
	CHECK(replied("z1,2000,1", "OK"));
	CHECK(replied("z0,1000,1", "OK"));
	CHECK(replied("z0,1000,1", "E16")); /* not inserted */
	CHECK(replied("Z0,1000", "E16"));
	CHECK(replied("Z0,1000,1;X1,cc", "OK")); /* conditions ignored */
	CHECK_EQ(c->nbps, 4);
	CHECK_EQ(sess.nbps, 4);
	CHECK_EQ(cmd("D"), RSP_ACT_DETACH);
	CHECK(!strcmp(reply.p, "OK"));
	CHECK_EQ(c->nbps, 0);
	CHECK_EQ(sess.nbps, 0);
	teardown();
}

static void resume_packets_say_how_to_run(void)
{
	setup();
	CHECK_EQ(cmd("c"), RSP_ACT_RESUME);
	CHECK_EQ(sess.resume.kind, RSP_RES_CONT);
	CHECK_EQ(cmd("s"), RSP_ACT_RESUME);
	CHECK_EQ(sess.resume.kind, RSP_RES_STEP);
	CHECK_EQ(cmd("C05"), RSP_ACT_RESUME);
	CHECK_EQ(sess.resume.kind, RSP_RES_CONT);
	CHECK_EQ(cmd("S05;2000"), RSP_ACT_RESUME);
	CHECK_EQ(sess.resume.kind, RSP_RES_STEP);
	CHECK_EQ(fake_of(&m)->r.rip, 0x2000);
	CHECK_EQ(cmd("c1000"), RSP_ACT_RESUME);
	CHECK_EQ(fake_of(&m)->r.rip, 0x1000);
	CHECK_EQ(cmd("vCont;c"), RSP_ACT_RESUME);
	CHECK_EQ(sess.resume.kind, RSP_RES_CONT);
	CHECK_EQ(cmd("vCont;s:1;c"), RSP_ACT_RESUME);
	CHECK_EQ(sess.resume.kind, RSP_RES_STEP);
	CHECK_EQ(cmd("vCont;s:2;c"), RSP_ACT_RESUME); /* step is for another */
	CHECK_EQ(sess.resume.kind, RSP_RES_CONT);
	CHECK_EQ(cmd("vCont;s:10;c"), RSP_ACT_RESUME); /* thread 16 */
	CHECK_EQ(sess.resume.kind, RSP_RES_CONT);
	CHECK_EQ(cmd("vCont;s:01"), RSP_ACT_RESUME);
	CHECK_EQ(sess.resume.kind, RSP_RES_STEP);
	CHECK_EQ(cmd("vCont;S05:p1.-1"), RSP_ACT_RESUME);
	CHECK_EQ(sess.resume.kind, RSP_RES_STEP);
	CHECK_EQ(cmd("vCont;r1000,1010:1;c"), RSP_ACT_RESUME);
	CHECK_EQ(sess.resume.kind, RSP_RES_RANGE);
	CHECK_EQ(sess.resume.start, 0x1000);
	CHECK_EQ(sess.resume.end, 0x1010);
	CHECK_EQ(cmd("vCont;r1000"), RSP_ACT_REPLY);
	CHECK(!strcmp(reply.p, "E16"));
	CHECK_EQ(cmd("vCont;x"), RSP_ACT_REPLY);
	CHECK_EQ(cmd("vCont"), RSP_ACT_REPLY);
	CHECK_EQ(cmd("k"), RSP_ACT_KILL);
	CHECK_EQ(cmd("vKill;1"), RSP_ACT_KILL);
	teardown();
}

static void stop_replies_name_the_reason(void)
{
	setup();
	sess.stop.reason = VCPU_STOP_SWBREAK;
	CHECK(stop_starts("T05thread:01;swbreak:;"));
	sess.stop.reason = VCPU_STOP_HWBREAK;
	CHECK(stop_starts("T05thread:01;hwbreak:;"));
	sess.stop = (struct vcpu_stop){ .reason = VCPU_STOP_WATCH,
					.watch_type = BP_WRITE,
					.addr = 0xffff8000 };
	CHECK(stop_starts("T05thread:01;watch:ffff8000;"));
	sess.stop.watch_type = BP_READ;
	CHECK(stop_starts("T05thread:01;rwatch:ffff8000;"));
	sess.stop.watch_type = BP_ACCESS;
	CHECK(stop_starts("T05thread:01;awatch:ffff8000;"));
	sess.stop.reason = VCPU_STOP_KICK;
	sess.signal = RSP_SIGINT;
	CHECK(stop_starts("T02thread:01;"));
	teardown();
}

/* rbp, rsp and rip ride along in the stop reply, little-endian hex as in
 * `g`, so gdb needs no `g` to show where a step ended. */
static void stop_replies_carry_rbp_rsp_and_rip(void)
{
	setup();
	fake_of(&m)->r.gpr[R_RBP] = 0x1122334455667788ull;
	fake_of(&m)->r.gpr[R_RSP] = 0xffffc90000003f00ull;
	fake_of(&m)->r.rip = 0xffffffff81000010ull;
	CHECK(replied("?", "T05thread:01;06:8877665544332211;"
		      "07:003f000000c9ffff;10:10000081ffffffff;"));
	teardown();
}

static void thread_list_comes_in_one_qxfer(void)
{
	setup();
	cmd("qSupported");
	CHECK(strstr(reply.p, "qXfer:threads:read+"));
	cmd("qXfer:threads:read::0,fff");
	CHECK(reply.p[0] == 'l' && strstr(reply.p, "<thread id=\"1\""));
	CHECK(strstr(reply.p, "</threads>"));
	CHECK(replied("qXfer:threads:read::2,3", "mxml"));
	CHECK(replied("qXfer:threads:read::1000,10", "l"));
	CHECK(replied("qXfer:threads:read:x:0,10", "E00"));
	CHECK(replied("qXfer:threads:read::0", "E16"));
	teardown();
}

/* qRcmd,HEX(cmd): output comes back in console, then OK. */
static const char *monitor(const char *text)
{
	struct rsp_buf pkt = { NULL };
	static char out[8192];

	rsp_buf_puts(&pkt, "qRcmd,");
	rsp_buf_hex(&pkt, text, strlen(text));
	cmd(pkt.p);
	rsp_buf_free(&pkt);
	CHECK(!strcmp(reply.p, "OK"));
	snprintf(out, sizeof(out), "%s", console.p ? console.p : "");
	return out;
}

static void the_monitor_answers_its_commands(void)
{
	struct fake_cpu *c;

	setup();
	c = fake_of(&m);
	c->r.cr3 = 0xabc000;
	c->r.efer = 0xd01;
	c->d.dr7 = 0x400;
	CHECK(strstr(monitor("info version"), "engine: fake"));
	CHECK(strstr(monitor("info registers"), "CR3=0000000000abc000"));
	CHECK(strstr(monitor("info registers"), "EFER=0000000000000d01"));
	CHECK(strstr(monitor("info registers"), "DR7=0000000000000400"));
	CHECK(strstr(monitor("info registers"), "GDT="));
	CHECK(strstr(monitor("rdmsr 0xc0000080"), "0x0000000000000d01"));
	CHECK(strstr(monitor("rdmsr 0x10"), "cannot read"));
	CHECK(strstr(monitor("rdmsr"), "usage"));
	CHECK(strstr(monitor("phys on"), "physical"));
	CHECK(sess.phys);
	CHECK(strstr(monitor("phys off"), "virtual"));
	CHECK(!sess.phys);
	CHECK(strstr(monitor("trace on"), "tracing on"));
	CHECK(c->trace);
	CHECK(strstr(monitor("help"), "rdmsr"));
	CHECK(strstr(monitor("bogus"), "unknown command"));
	CHECK(strstr(monitor("info mem"), "paging is disabled"));
	CHECK(replied("qRcmd,zz", "E16"));
	CHECK(replied("qRcmd,616", "E16"));
	teardown();
}

/* Builds 4-level tables in the fake RAM: va 0xffffffff81000000 ->
 * pa 0x200000 (one 2 MiB page), va 0x1000 -> pa 0x1000 (4 KiB, user). */
static void map_pages(struct fake_cpu *c, uint8_t *ram)
{
	uint64_t *pml4 = (uint64_t *)(ram + 0x10000);
	uint64_t *pdpt_hi = (uint64_t *)(ram + 0x11000);
	uint64_t *pd_hi = (uint64_t *)(ram + 0x12000);
	uint64_t *pdpt_lo = (uint64_t *)(ram + 0x13000);
	uint64_t *pd_lo = (uint64_t *)(ram + 0x14000);
	uint64_t *pt_lo = (uint64_t *)(ram + 0x15000);

	pml4[511] = 0x11000 | 3;
	pdpt_hi[510] = 0x12000 | 3;
	pd_hi[8] = 0x200000 | 0x83;          /* 2 MiB, writable */
	pml4[0] = 0x13000 | 7;
	pdpt_lo[0] = 0x14000 | 7;
	pd_lo[0] = 0x15000 | 7;
	pt_lo[1] = 0x1000 | 5;               /* user, read-only */
	c->r.cr0 |= CR0_PG;
	c->r.cr4 |= CR4_PAE;
	c->r.cr3 = 0x10000;
}

static void virtual_addresses_translate_through_the_page_tables(void)
{
	struct fake_cpu *c;

	setup();
	c = fake_of(&m);
	map_pages(c, m.mem.host);
	memcpy(m.mem.host + 0x200010, "\xde\xad", 2);
	CHECK(replied("mffffffff81000010,2", "dead"));
	CHECK(replied("m1ffe,4", "0000")); /* stops at unmapped 0x2000 */
	CHECK(replied("m2000,1", "E14"));
	CHECK(replied("Mffffffff81000010,1:be", "OK"));
	CHECK_EQ(m.mem.host[0x200010], 0xbe);
	/* Read-only user page: the debugger still writes it. */
	CHECK(replied("M1000,1:aa", "OK"));
	CHECK_EQ(m.mem.host[0x1000], 0xaa);
	/* No accessed bits were set by these walks. */
	CHECK_EQ(*(uint64_t *)(m.mem.host + 0x10000 + 511 * 8), 0x11003);
	CHECK(strstr(monitor("info mem"),
		     "0000000000001000-0000000000002000 0000000000001000 ur-x"));
	CHECK(strstr(monitor("info mem"),
		     "ffffffff81000000-ffffffff81200000 0000000000200000 -rwx"));
	teardown();
}

/* Opens addr, and checks that rsp_transport_check() (the early option
 * check) passes what opens and refuses what is malformed (-EINVAL);
 * host errors (/dev/null is no terminal) show only when opening. */
static bool opens(const char *addr)
{
	struct rsp_transport t;
	struct rax_err e = { "" };
	int ret = rsp_transport_open(&t, addr, &e);

	if (!ret) {
		rsp_transport_close(&t);
		CHECK_EQ(rsp_transport_check(addr, &e), 0);
	} else if (ret == -EINVAL) {
		CHECK(rsp_transport_check(addr, &e) != 0);
	}
	return !ret;
}

static void transport_addresses_parse_strictly(void)
{
	char path[64];

	snprintf(path, sizeof(path), "unix:/tmp/test_rsp.%d.sock", (int)getpid());
	CHECK(opens("127.0.0.1:0"));
	CHECK(opens("localhost:0"));
	CHECK(opens("0"));          /* PORT alone: 127.0.0.1 */
	CHECK(opens("[::1]:0") || errno == EAFNOSUPPORT);
	CHECK(opens(path));
	CHECK(access(path + 5, F_OK) != 0); /* removed on close */
	CHECK(!opens("example.com:1234"));
	CHECK(!opens("1.2.3:x"));
	CHECK(!opens("70000"));
	CHECK(!opens(""));
	CHECK(!opens("unix:"));
	CHECK(!opens("/nonexistent/tty"));
	CHECK(!opens("/dev/null"));  /* not a terminal */
}

int main(void)
{
	a_good_packet_parses_and_its_checksum_is_checked();
	a_packet_split_at_every_byte_still_parses();
	acks_interrupts_and_noise_between_packets();
	escapes_and_run_lengths_decode();
	frames_run_length_encode_and_decode_back();
	random_frames_decode_back();
	an_oversize_packet_is_reported_after_its_end();
	hex_helpers_reject_bad_digits();
	queries_answer_as_gdb_expects();
	threads_are_the_vcpus();
	target_xml_reads_in_chunks_and_names_the_layout();
	registers_follow_the_qemu_wire_layout();
	memory_reads_and_writes_and_faults();
	breakpoints_go_to_the_engine();
	resume_packets_say_how_to_run();
	stop_replies_name_the_reason();
	stop_replies_carry_rbp_rsp_and_rip();
	thread_list_comes_in_one_qxfer();
	the_monitor_answers_its_commands();
	virtual_addresses_translate_through_the_page_tables();
	transport_addresses_parse_strictly();
	rsp_buf_free(&reply);
	rsp_buf_free(&console);
	return test_summary("test_rsp");
}
