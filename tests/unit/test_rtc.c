/* Unit tests of the CMOS RTC (src/devices/rtc.c): time in BCD and binary,
 * 12-hour mode, setting the clock, status registers, memory size bytes.
 * Run: ./tests/unit/test_rtc (from the build folder). */
#include <stdint.h>
#include <time.h>

#include "fake_machine.h"
#include "test.h"

static uint8_t cmos(struct machine *m, uint8_t idx)
{
	outb(m, 0x70, idx);
	return inb(m, 0x71);
}

static void cmos_set(struct machine *m, uint8_t idx, uint8_t v)
{
	outb(m, 0x70, idx);
	outb(m, 0x71, v);
}

static unsigned bcd(unsigned v)
{
	return (v / 10) << 4 | v % 10;
}

struct rtc_regs {
	uint8_t sec, min, hour, wday, mday, mon, year, century;
};

/* Reads the time registers and the host's UTC time within one second. */
static void read_time(struct machine *m, struct rtc_regs *r, struct tm *tm)
{
	time_t before, after;

	do {
		before = time(NULL);
		r->sec = cmos(m, 0);
		r->min = cmos(m, 2);
		r->hour = cmos(m, 4);
		r->wday = cmos(m, 6);
		r->mday = cmos(m, 7);
		r->mon = cmos(m, 8);
		r->year = cmos(m, 9);
		r->century = cmos(m, 0x32);
		after = time(NULL);
	} while (before != after);
	gmtime_r(&before, tm);
}

static void time_reads_as_the_host_utc_clock_in_bcd(void)
{
	struct machine *m = fake_machine(0);
	struct rtc_regs r;
	struct tm tm;

	CHECK_EQ(cmos(m, 0x0b) & 0x06, 0x02); /* BCD, 24 hour */
	read_time(m, &r, &tm);
	CHECK_EQ(r.sec, bcd((unsigned)tm.tm_sec));
	CHECK_EQ(r.min, bcd((unsigned)tm.tm_min));
	CHECK_EQ(r.hour, bcd((unsigned)tm.tm_hour));
	CHECK_EQ(r.wday, (unsigned)tm.tm_wday + 1);
	CHECK_EQ(r.mday, bcd((unsigned)tm.tm_mday));
	CHECK_EQ(r.mon, bcd((unsigned)tm.tm_mon + 1));
	CHECK_EQ(r.year, bcd((unsigned)(tm.tm_year + 1900) % 100));
	CHECK_EQ(r.century, bcd((unsigned)(tm.tm_year + 1900) / 100));
	fake_machine_free(m);
}

static void binary_and_12_hour_modes_follow_register_b(void)
{
	struct machine *m = fake_machine(0);
	struct rtc_regs r;
	struct tm tm;
	unsigned h12;

	cmos_set(m, 0x0b, 0x06); /* binary, 24 hour */
	read_time(m, &r, &tm);
	CHECK_EQ(r.sec, (unsigned)tm.tm_sec);
	CHECK_EQ(r.hour, (unsigned)tm.tm_hour);
	CHECK_EQ(r.year, (unsigned)(tm.tm_year + 1900) % 100);
	CHECK_EQ(r.century, (unsigned)(tm.tm_year + 1900) / 100);

	cmos_set(m, 0x0b, 0x04); /* binary, 12 hour */
	read_time(m, &r, &tm);
	h12 = tm.tm_hour % 12 ? (unsigned)tm.tm_hour % 12 : 12;
	CHECK_EQ(r.hour, h12 | (tm.tm_hour >= 12 ? 0x80 : 0));

	cmos_set(m, 0x0b, 0x00); /* BCD, 12 hour */
	read_time(m, &r, &tm);
	CHECK_EQ(r.hour, bcd(h12) | (tm.tm_hour >= 12 ? 0x80 : 0));
	fake_machine_free(m);
}

static void guest_sets_the_clock_with_the_set_bit(void)
{
	struct machine *m = fake_machine(0);

	cmos_set(m, 0x0b, 0x82); /* SET, BCD, 24 hour: updates stop */
	cmos_set(m, 0x00, 0x30);
	cmos_set(m, 0x02, 0x59);
	cmos_set(m, 0x04, 0x23);
	cmos_set(m, 0x07, 0x31);
	cmos_set(m, 0x08, 0x12);
	cmos_set(m, 0x09, 0x99);
	cmos_set(m, 0x32, 0x19);
	CHECK_EQ(cmos(m, 0x09), 0x99);
	cmos_set(m, 0x0b, 0x02); /* runs again from 1999-12-31 23:59:30 */
	CHECK_EQ(cmos(m, 0x09), 0x99);
	CHECK_EQ(cmos(m, 0x32), 0x19);
	CHECK_EQ(cmos(m, 0x08), 0x12);
	CHECK_EQ(cmos(m, 0x06), 6); /* a Friday */
	CHECK(cmos(m, 0x00) >= 0x30);
	fake_machine_free(m);
}

static void status_registers_read_as_linux_expects(void)
{
	struct machine *m;

	atomic_store(&fake_clock, 0);
	m = fake_machine(0);

	CHECK_EQ(cmos(m, 0x0a) & 0x7f, 0x26);
	CHECK_EQ(cmos(m, 0x0c), 0);
	CHECK_EQ(cmos(m, 0x0d), 0x80);        /* VRT */
	CHECK_EQ(cmos(m, 0x80 | 0x0d), 0x80); /* NMI-disable bit ignored */
	/* UIP reads 1 from 244 us before each second to 1984 us after it
	 * (datasheet), on the machine clock that the test drives; the
	 * RTC's second boundaries fall on whole machine-clock seconds
	 * from its first access (above, at fake_clock 0). */
	atomic_store(&fake_clock, 1000000);          /* 1 ms past */
	CHECK(cmos(m, 0x0a) & 0x80);
	atomic_store(&fake_clock, 500000000);        /* mid-second */
	CHECK(!(cmos(m, 0x0a) & 0x80));
	atomic_store(&fake_clock, 999800000);        /* 200 us before */
	CHECK(cmos(m, 0x0a) & 0x80);
	atomic_store(&fake_clock, 1002100000);       /* update over */
	CHECK(!(cmos(m, 0x0a) & 0x80));
	cmos_set(m, 0x0d, 0x00); /* read-only */
	CHECK_EQ(cmos(m, 0x0d), 0x80);
	cmos_set(m, 0x40, 0xa5); /* plain CMOS RAM */
	CHECK_EQ(cmos(m, 0x40), 0xa5);
	fake_machine_free(m);
}

static void a_fixed_rtc_base_sets_the_date_guests_read(void)
{
	struct machine *m;

	atomic_store(&fake_clock, 0);
	m = fake_machine(0);
	m->rtc_fixed = true;
	m->rtc_base = 1767225600 + 3723; /* 2026-01-01 01:02:03 UTC */
	CHECK_EQ(cmos(m, 0x09), 0x26);   /* BCD year */
	CHECK_EQ(cmos(m, 0x08), 0x01);
	CHECK_EQ(cmos(m, 0x07), 0x01);
	CHECK_EQ(cmos(m, 0x04), 0x01);
	CHECK_EQ(cmos(m, 0x02), 0x02);
	CHECK_EQ(cmos(m, 0x00), 0x03);
	atomic_store(&fake_clock, 2500000000ull); /* 2.5 s of machine time */
	CHECK_EQ(cmos(m, 0x00), 0x05);
	fake_machine_free(m);
}

static void memory_size_bytes_describe_guest_ram(void)
{
	struct machine *m = fake_machine(64);

	CHECK_EQ(cmos(m, 0x15) | cmos(m, 0x16) << 8, 640);
	CHECK_EQ(cmos(m, 0x17) | cmos(m, 0x18) << 8, 63 * 1024);
	CHECK_EQ(cmos(m, 0x30) | cmos(m, 0x31) << 8, 63 * 1024);
	CHECK_EQ(cmos(m, 0x34) | cmos(m, 0x35) << 8, (48 << 20) >> 16);
	CHECK_EQ(cmos(m, 0x5b) | cmos(m, 0x5c) | cmos(m, 0x5d), 0);
	fake_machine_free(m);
}

int main(void)
{
	time_reads_as_the_host_utc_clock_in_bcd();
	binary_and_12_hour_modes_follow_register_b();
	guest_sets_the_clock_with_the_set_bit();
	status_registers_read_as_linux_expects();
	a_fixed_rtc_base_sets_the_date_guests_read();
	memory_size_bytes_describe_guest_ram();
	return test_summary("test_rtc");
}
