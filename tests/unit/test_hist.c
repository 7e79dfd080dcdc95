/* The history (src/history) on the interpreter: a guest that writes 128
 * pages in a loop and takes a periodic LAPIC timer interrupt runs to
 * 600 hits of a breakpoint, its state recorded at each (registers,
 * clock, retired instructions, a hash of all RAM); then reverse
 * continue, replay forward, reverse step, goto, a write in the past and
 * the start of the history must each give back exactly the recorded
 * states.  A small memory budget makes the history thin its snapshots.
 * Run: make check TESTS=tests/unit/test_hist (build folder). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_machine.h"
#include "history/hist.h"

#define NHITS 600
#define BP_ADDR (CODE_BASE + 0x54) /* the loop's add */

static const uint8_t prog[] = {
	0x48, 0xbe, 0x00, 0x00, 0xe0, 0xfe, 0x00, 0x00, 0x00, 0x00,
	0xc7, 0x86, 0xf0, 0x00, 0x00, 0x00, 0xff, 0x01, 0x00, 0x00,
	0xc7, 0x86, 0xe0, 0x03, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00,
	0xc7, 0x86, 0x20, 0x03, 0x00, 0x00, 0x40, 0x00, 0x02, 0x00,
	0xc7, 0x86, 0x80, 0x03, 0x00, 0x00, 0x88, 0x13, 0x00, 0x00,
	0x0f, 0x01, 0x1d, 0x57, 0x00, 0x00, 0x00,
	0xfb,
	0x48, 0xc7, 0xc3, 0x00, 0x00, 0x30, 0x00,
	0x31, 0xc0,
	/* loop: 0x43 */
	0x48, 0xff, 0xc0,
	0x48, 0x89, 0xc1,
	0x48, 0x81, 0xe1, 0xff, 0x03, 0x00, 0x00,
	0x48, 0xc1, 0xe1, 0x09,
	0x48, 0x01, 0x04, 0x0b,
	0x48, 0x69, 0xd0, 0x37, 0x9e, 0x00, 0x00,
	0x48, 0x31, 0x54, 0x0b, 0x08,
	0xeb, 0xdd,
	/* handler: 0x66 */
	0x48, 0xff, 0x04, 0x25, 0x00, 0xf0, 0x2f, 0x00,
	0x4c, 0x8b, 0x04, 0x25, 0x00, 0xf0, 0x2f, 0x00,
	0xc7, 0x86, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x48, 0xcf,
};

struct state {
	struct rax_regs r;
	uint64_t clock, insns, ram;
};

static int failures;

#define CHECK(cond, ...) do {                                        \
	if (!(cond)) {                                                 \
		printf("FAIL %s:%d: ", __FILE__, __LINE__);           \
		printf(__VA_ARGS__);                                   \
		printf("\n");                                          \
		failures++;                                            \
	}                                                              \
} while (0)

static uint64_t ram_hash(const struct machine *m)
{
	const uint64_t *p = (const uint64_t *)m->mem.host;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < m->mem.size / 8; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static void get_state(struct machine *m, struct state *s)
{
	memset(s, 0, sizeof(*s));
	m->ops->get_regs(m, 0, &s->r);
	s->clock = m->ops->clock_ns(m);
	s->insns = cpu_vcpu_ops.snap->insns(m);
	s->ram = ram_hash(m);
}

static bool same(const struct state *a, const struct state *b)
{
	return !memcmp(&a->r, &b->r, sizeof(a->r)) && a->clock == b->clock &&
	       a->insns == b->insns && a->ram == b->ram;
}

static void show(const char *what, const struct state *s)
{
	printf("  %s: rip %#" PRIx64 " rax %" PRIu64 " r8 %" PRIu64
	       " clock %" PRIu64 " insns %" PRIu64 " ram %016" PRIx64 "\n",
	       what, s->r.rip, s->r.gpr[R_RAX], s->r.gpr[8], s->clock,
	       s->insns, s->ram);
}

static void expect_state(struct machine *m, const struct state *want,
			 const char *what)
{
	struct state now;

	get_state(m, &now);
	CHECK(same(&now, want), "%s: state differs", what);
	if (!same(&now, want)) {
		show("want", want);
		show("got ", &now);
	}
}

static int run(struct machine *m, unsigned flags, enum vcpu_stop_reason want)
{
	struct vcpu_stop st;
	struct rax_err e = { "" };
	int ret = m->ops->run(m, flags, &st, &e);

	CHECK(!ret && st.reason == want, "run: ret %d reason %d (want %d) %s",
	      ret, st.reason, want, e.msg);
	return ret;
}

static void reverse(struct machine *m, unsigned flags,
		    enum vcpu_stop_reason want)
{
	struct vcpu_stop st;
	struct rax_err e = { "" };
	int ret = m->ops->reverse(m, flags, &st, &e);

	CHECK(!ret && st.reason == want, "reverse: ret %d reason %d (want "
	      "%d) %s", ret, st.reason, want, e.msg);
}

static void setup(struct machine *m)
{
	uint8_t gate[16] = { 0 };
	uint64_t handler = CODE_BASE + 0x66;

	memcpy(m->mem.host + CODE_BASE, prog, sizeof(prog));
	/* idtr at +0x90: limit 0x40f, base 0x600 */
	memcpy(m->mem.host + CODE_BASE + 0x90, "\x0f\x04\x00\x06\0\0\0\0\0\0",
	       10);
	gate[0] = handler & 0xff;
	gate[1] = (handler >> 8) & 0xff;
	gate[2] = 8;
	gate[5] = 0x8e;
	gate[6] = (handler >> 16) & 0xff;
	gate[7] = (handler >> 24) & 0xff;
	memcpy(m->mem.host + 0x600 + 0x40 * 16, gate, 16);
	/* The LAPIC page: PDPT[3] -> PD at 0x4000, 2 MiB page, PCD. */
	put64(m, 0x2018, 0x4000 | 3);
	put64(m, 0x4000 + 503 * 8, 0xfee00000ull | 0x93);
}

static int run_case(uint64_t budget)
{
	static struct state rec[NHITS + 1];
	struct machine m;
	struct rax_err e = { "" };
	struct state s0, before;
	char out[4096];

	if (test_machine_init(&m)) {
		printf("FAIL: machine\n");
		return 1;
	}
	setup(&m);
	printf("budget %" PRIu64 " KiB\n", budget >> 10);
	if (hist_install(&m, budget, &e)) {
		printf("FAIL: hist_install: %s\n", e.msg);
		return 1;
	}
	hist_set_period(&m, 10000); /* 1000 instructions */
	get_state(&m, &s0);
	m.ops->bp_insert(&m, BP_HW, BP_ADDR, 1);
	for (int i = 0; i < NHITS; i++) {
		if (run(&m, 0, VCPU_STOP_HWBREAK))
			return 1;
		get_state(&m, &rec[i]);
	}
	CHECK(rec[NHITS - 1].r.gpr[8] > 5, "the timer interrupt ran %" PRIu64
	      " times", rec[NHITS - 1].r.gpr[8]);
	m.ops->hist_monitor(&m, "history", out, sizeof(out));
	printf("%.*s", (int)strcspn(out, "\n") + 1, out);

	/* reverse-continue: the hits before, one by one */
	for (int k = 1; k <= 5; k++) {
		reverse(&m, 0, VCPU_STOP_HWBREAK);
		expect_state(&m, &rec[NHITS - 1 - k], "reverse-continue");
	}
	/* forward again through the log to the live edge and past it */
	for (int i = NHITS - 5; i < NHITS; i++) {
		run(&m, 0, VCPU_STOP_HWBREAK);
		expect_state(&m, &rec[i], "replay forward");
	}
	run(&m, 0, VCPU_STOP_HWBREAK);
	get_state(&m, &rec[NHITS]);
	CHECK(rec[NHITS].insns > rec[NHITS - 1].insns, "live again");

	/* reverse-step then step: back where we were */
	get_state(&m, &before);
	reverse(&m, VCPU_RUN_STEP, VCPU_STOP_STEP);
	{
		struct state back;

		get_state(&m, &back);
		CHECK(back.insns + 1 == before.insns || back.r.rip != before.r.rip,
		      "reverse-stepi went back one instruction (%" PRIu64
		      " -> %" PRIu64 ")", before.insns, back.insns);
	}
	run(&m, VCPU_RUN_STEP, VCPU_STOP_STEP);
	expect_state(&m, &before, "reverse-stepi then stepi");

	/* single steps are logged: step 20, back 20, forward 20 */
	{
		static struct state st[21];

		get_state(&m, &st[0]);
		for (int i = 1; i <= 20; i++) {
			run(&m, VCPU_RUN_STEP, VCPU_STOP_STEP);
			get_state(&m, &st[i]);
		}
		for (int i = 19; i >= 0; i--) {
			reverse(&m, VCPU_RUN_STEP, VCPU_STOP_STEP);
			expect_state(&m, &st[i], "reverse-stepi after stepi");
		}
		for (int i = 1; i <= 20; i++) {
			run(&m, VCPU_RUN_STEP, VCPU_STOP_STEP);
			expect_state(&m, &st[i], "stepi again");
		}
	}

	/* goto: an early hit's instruction count, then the next hit */
	snprintf(out, sizeof(out), "goto %" PRIu64, rec[100].insns);
	CHECK(!m.ops->hist_monitor(&m, out, out, sizeof(out)), "goto");
	CHECK(cpu_vcpu_ops.snap->insns(&m) == rec[100].insns, "goto lands "
	      "at %" PRIu64 " (want %" PRIu64 ")", cpu_vcpu_ops.snap->insns(&m),
	      rec[100].insns);
	run(&m, 0, VCPU_STOP_HWBREAK);
	expect_state(&m, &rec[101], "after goto");
	/* goto forward from an early point: the pages written in between
	 * come back too */
	snprintf(out, sizeof(out), "goto %" PRIu64, rec[500].insns);
	CHECK(!m.ops->hist_monitor(&m, out, out, sizeof(out)), "goto");
	run(&m, 0, VCPU_STOP_HWBREAK);
	expect_state(&m, &rec[501], "after a goto forward");
	snprintf(out, sizeof(out), "goto %" PRIu64, rec[100].insns);
	CHECK(!m.ops->hist_monitor(&m, out, out, sizeof(out)), "goto");
	run(&m, 0, VCPU_STOP_HWBREAK);
	expect_state(&m, &rec[101], "after a goto back");
	/* checkpoint, run on, restore */
	CHECK(!m.ops->hist_monitor(&m, "checkpoint a", out, sizeof(out)),
	      "checkpoint");
	for (int i = 102; i < 110; i++)
		run(&m, 0, VCPU_STOP_HWBREAK);
	expect_state(&m, &rec[109], "replay to hit 109");
	CHECK(!m.ops->hist_monitor(&m, "restore a", out, sizeof(out)),
	      "restore");
	expect_state(&m, &rec[101], "restore a");

	/* no breakpoint: back to the start of the history */
	m.ops->bp_remove(&m, BP_HW, BP_ADDR, 1);
	reverse(&m, 0, VCPU_STOP_HISTORY);
	expect_state(&m, &s0, "start of history");

	/* a write in the past: a new future from there */
	m.ops->bp_insert(&m, BP_HW, BP_ADDR, 1);
	for (int i = 0; i < 10; i++)
		run(&m, 0, VCPU_STOP_HWBREAK);
	expect_state(&m, &rec[9], "replay from the start");
	{
		uint64_t v = 12345;
		struct state w1;

		CHECK(!m.ops->write_mem(&m, 0x2ff000, &v, 8), "write_mem");
		run(&m, 0, VCPU_STOP_HWBREAK);
		get_state(&m, &w1);
		CHECK(w1.ram != rec[10].ram, "the write changed the future");
		/* the hit before: as it was, the write came after it */
		reverse(&m, 0, VCPU_STOP_HWBREAK);
		expect_state(&m, &rec[9], "back before the write");
		/* forward: the write is replayed from the log */
		run(&m, 0, VCPU_STOP_HWBREAK);
		expect_state(&m, &w1, "the write replayed");
	}
	m.ops->hist_monitor(&m, "history", out, sizeof(out));
	printf("%.*s", (int)strcspn(out, "\n") + 1, out);
	hist_remove(&m);
	test_machine_destroy(&m);
	return 0;
}

int main(void)
{
	/* Room for all snapshots, then a budget that makes it thin them. */
	if (run_case(4u << 20) || run_case(200u << 10))
		return 1;
	if (failures) {
		printf("%d failures\n", failures);
		return 1;
	}
	printf("PASS\n");
	return 0;
}
