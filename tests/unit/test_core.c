/* Unit tests of the core helpers: sizes, the I/O bus, timers, logging
 * options, exit requests and the engine's kicks.
 * Run: ./tests/unit/test_core */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "iobus.h"
#include "log.h"
#include "machine.h"
#include "mem.h"
#include "timer.h"
#include "test.h"

static void sizes_parse_with_binary_suffixes(void)
{
	uint64_t v = 0;

	CHECK(!gm_parse_size("512M", &v) && v == 512ull << 20);
	CHECK(!gm_parse_size("2G", &v) && v == 2ull << 30);
	CHECK(!gm_parse_size("64k", &v) && v == 64ull << 10);
	CHECK(!gm_parse_size("1GiB", &v) && v == 1ull << 30);
	CHECK(!gm_parse_size("4096", &v) && v == 4096);
	CHECK(!gm_parse_size("0x1000", &v) && v == 4096);
	CHECK(gm_parse_size("", &v) == -EINVAL);
	CHECK(gm_parse_size("abc", &v) == -EINVAL);
	CHECK(gm_parse_size("12X", &v) == -EINVAL);
	CHECK(gm_parse_size("0", &v) == -EINVAL);
	CHECK(gm_parse_size("-5M", &v) == -EINVAL);
	CHECK(gm_parse_size("99999999999999999999999", &v) == -EINVAL);
	CHECK(gm_parse_size("17179869184G", &v) == -EINVAL);
}

static void guest_memory_splits_around_the_hole(void)
{
	struct guest_mem gm;

	CHECK(!gm_init(&gm, 64ull << 20));
	CHECK(gm_ptr(&gm, 0, 1) == gm.host);
	CHECK(gm_ptr(&gm, (64ull << 20) - 1, 1) != NULL);
	CHECK(gm_ptr(&gm, (64ull << 20) - 1, 2) == NULL);
	CHECK(gm_ptr(&gm, MEM_4G, 1) == NULL);
	gm_destroy(&gm);
	CHECK(!gm_init(&gm, 4ull << 30));
	CHECK_EQ(gm.low_size, MEM_HOLE_START);
	CHECK_EQ(gm.high_size, (4ull << 30) - MEM_HOLE_START);
	CHECK(gm_ptr(&gm, MEM_HOLE_START, 1) == NULL);
	CHECK(gm_ptr(&gm, MEM_4G, 1) == gm.host + MEM_HOLE_START);
	CHECK(gm_ptr(&gm, MEM_4G + gm.high_size, 1) == NULL);
	gm_destroy(&gm);
	CHECK(gm_init(&gm, 12345) == -EINVAL);
}

static unsigned last_off;
static void dummy_io(void *opaque, uint64_t off, bool w, void *d, unsigned s)
{
	last_off = (unsigned)off;
	(*(int *)opaque)++;
}

static void io_bus_finds_ranges_and_refuses_overlap(void)
{
	struct io_bus b = { .n = 0 };
	int hits = 0;

	CHECK(!iobus_register(&b, 0x3f8, 8, dummy_io, &hits, "uart"));
	CHECK(!iobus_register(&b, 0x70, 2, dummy_io, &hits, "rtc"));
	CHECK(!iobus_register(&b, 0xcf8, 8, dummy_io, &hits, "pci"));
	CHECK(iobus_register(&b, 0x3fc, 1, dummy_io, &hits, "x") == -EEXIST);
	CHECK(iobus_find(&b, 0x3f8) && !strcmp(iobus_find(&b, 0x3f8)->name, "uart"));
	CHECK(iobus_find(&b, 0x3ff) && !strcmp(iobus_find(&b, 0x3ff)->name, "uart"));
	CHECK(iobus_find(&b, 0x400) == NULL);
	CHECK(iobus_find(&b, 0x71) && !strcmp(iobus_find(&b, 0x71)->name, "rtc"));
	CHECK(iobus_find(&b, 0x72) == NULL);
	CHECK(iobus_find(&b, 0xcfc) && !strcmp(iobus_find(&b, 0xcfc)->name, "pci"));
}

static int order[8], norder;
static void note(void *opaque)
{
	order[norder++] = (int)(intptr_t)opaque;
}

static void timers_fire_in_deadline_order(void)
{
	struct timer_list l = { NULL };
	struct rax_timer a, b, c;

	timer_init(&a, note, (void *)1);
	timer_init(&b, note, (void *)2);
	timer_init(&c, note, (void *)3);
	timer_arm(&l, &a, 300);
	timer_arm(&l, &b, 100);
	timer_arm(&l, &c, 200);
	CHECK_EQ(timer_next(&l), 100);
	timer_arm(&l, &b, 400); /* re-arm moves it */
	CHECK_EQ(timer_next(&l), 200);
	CHECK_EQ(timer_run(&l, 50), 0);
	CHECK_EQ(timer_run(&l, 350), 2);
	CHECK(norder == 2 && order[0] == 3 && order[1] == 1);
	timer_cancel(&l, &b);
	CHECK_EQ(timer_next(&l), TIMER_NEVER);
	CHECK_EQ(timer_run(&l, 1000), 0);
}

static void log_specs_parse_levels_and_categories(void)
{
	CHECK(!log_configure("debug"));
	CHECK(log_enabled(LOG_DEBUG, LOGC_io));
	CHECK(!log_configure("info,io,exit"));
	CHECK(log_enabled(LOG_INFO, LOGC_io));
	CHECK(!log_enabled(LOG_INFO, LOGC_kvm));
	CHECK(!log_enabled(LOG_DEBUG, LOGC_io));
	CHECK(log_configure("loud") == -EINVAL);
	CHECK(log_configure("debug,nosuch") == -EINVAL);
	CHECK(!log_configure("warn"));
}

/* An engine that counts kicks and notes one made after its "destroy". */
static atomic_int kicks, kicks_after_destroy;
static atomic_bool engine_destroyed;

static void counting_kick(struct machine *m)
{
	(void)m;
	if (atomic_load(&engine_destroyed))
		atomic_fetch_add(&kicks_after_destroy, 1);
	atomic_fetch_add(&kicks, 1);
}

static const struct vcpu_ops kick_ops = {
	.name = "kick-counter",
	.kick = counting_kick,
};

static void exit_requests_kick_only_while_kicks_are_on(void)
{
	static struct machine m;

	memset(&m, 0, sizeof(m));
	m.ops = &kick_ops;
	atomic_store(&kicks, 0);
	machine_kicks_off(&m); /* main(): before the engine's init */
	machine_request_exit_signal(&m, SIGTERM, "terminated by SIGTERM");
	CHECK(atomic_load(&m.exit_requested));
	CHECK_EQ(m.exit_status, 128 + SIGTERM);
	CHECK_EQ(atomic_load(&kicks), 0);
	machine_kicks_on(&m); /* init done: the request is passed on */
	CHECK_EQ(atomic_load(&kicks), 1);
	machine_request_exit(&m, 0, "second");
	CHECK_EQ(atomic_load(&kicks), 2);
	CHECK_EQ(m.exit_status, 128 + SIGTERM); /* the first one wins */
	machine_kicks_off(&m);
	machine_request_exit(&m, 0, "third");
	CHECK_EQ(atomic_load(&kicks), 2);
}

/* main.c's signal thread asks for an exit at any moment, also while
 * main() destroys the engine: once machine_kicks_off() has returned, no
 * kick may reach the engine.  Two threads race on it many times; the
 * outcome is checked, not the timing. */
static struct machine race_m;
static atomic_bool race_go;

static void *requester(void *opaque)
{
	(void)opaque;
	while (!atomic_load(&race_go))
		;
	machine_request_exit_signal(&race_m, SIGTERM, "terminated by SIGTERM");
	return NULL;
}

static void no_kick_reaches_an_engine_destroyed_after_kicks_off(void)
{
	atomic_store(&kicks_after_destroy, 0);
	for (int i = 0; i < 2000; i++) {
		pthread_t t;

		memset(&race_m, 0, sizeof(race_m));
		race_m.ops = &kick_ops;
		atomic_store(&engine_destroyed, false);
		atomic_store(&race_go, false);
		if (pthread_create(&t, NULL, requester, NULL)) {
			CHECK(!"pthread_create");
			return;
		}
		atomic_store(&race_go, true);
		machine_kicks_off(&race_m);
		atomic_store(&engine_destroyed, true);
		pthread_join(t, NULL);
	}
	CHECK_EQ(atomic_load(&kicks_after_destroy), 0);
}

int main(void)
{
	sizes_parse_with_binary_suffixes();
	guest_memory_splits_around_the_hole();
	io_bus_finds_ranges_and_refuses_overlap();
	timers_fire_in_deadline_order();
	log_specs_parse_levels_and_categories();
	exit_requests_kick_only_while_kicks_are_on();
	no_kick_reaches_an_engine_destroyed_after_kicks_off();
	return test_summary("test_core");
}
