/* The CMOS real-time clock: an MC146818A at ports 0x70 (index, bit 7 =
 * NMI disable) and 0x71 (data), on ISA IRQ 8.
 *
 * Reference: Motorola MC146818A datasheet ("Real-Time Clock Plus RAM").
 * Registers 0-9 (seconds .. year, §"Address map") show the host's UTC
 * wall clock (advanced by the machine clock, see rtc_host_now) plus an
 * offset the guest sets by writing them, in BCD or
 * binary as register B's DM bit says and in 12 or 24 hour form (B bit
 * 1).  Register 0x32 is the century byte PC firmware keeps (the ACPI FADT
 * "century" field names it).  Register A's UIP bit reads 1 from 244 us
 * before each second until the end of the 1984 us update cycle, so the
 * "wait while UIP" loops of Linux's mc146818_get_time() terminate.
 *
 * Not modelled: periodic, alarm and update-ended interrupts.  The PIE,
 * AIE and UIE enables in register B are stored and ignored, register C
 * reads 0 (and is cleared by reading, as specified), and IRQ 8 is never
 * raised.  Linux's rtc-cmos works without them (its RTC_UIE emulation
 * polls).
 *
 * The rest of the 128 bytes are battery-backed RAM; PC firmware's memory
 * size bytes are filled from m->mem (see rtc_set_memory_size). */
#include "devices/dev.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "machine.h"

#define RTC_PORT 0x70
#define RTC_IRQ 8 /* documented, never raised */

enum {
	RTC_SEC = 0x00,
	RTC_SEC_ALARM = 0x01,
	RTC_MIN = 0x02,
	RTC_MIN_ALARM = 0x03,
	RTC_HOUR = 0x04,
	RTC_HOUR_ALARM = 0x05,
	RTC_WDAY = 0x06, /* 1 = Sunday */
	RTC_MDAY = 0x07,
	RTC_MON = 0x08,
	RTC_YEAR = 0x09,
	RTC_A = 0x0a,
	RTC_B = 0x0b,
	RTC_C = 0x0c,
	RTC_D = 0x0d,
	RTC_CENTURY = 0x32,
};

#define A_UIP 0x80
#define A_DEFAULT 0x26 /* 32.768 kHz time base, 1.024 kHz rate */
#define B_SET 0x80
#define B_UIE 0x10
#define B_DM 0x04   /* 1: binary, 0: BCD */
#define B_24H 0x02
#define D_VRT 0x80  /* valid RAM and time */
#define HOUR_PM 0x80

/* UIP window around each second (datasheet: tBUC = 244 us before the
 * update, update cycle 1984 us). */
#define UIP_BEFORE_NS 244000
#define UIP_AFTER_NS 1984000

struct rtc {
	struct machine *m;
	uint8_t index;
	bool nmi_disabled;   /* index bit 7: stored only */
	uint8_t ram[128];    /* registers; 0-9 and 0x32 are the time while
			      * B.SET freezes it, else refreshed per read */
	int64_t offset;      /* guest time minus host time, seconds */
	bool anchored;       /* wall0/clock0 taken (first access) */
	time_t wall0;        /* host wall clock then, whole seconds */
	uint64_t clock0;     /* machine clock then */
};

static bool rtc_binary(const struct rtc *s)
{
	return s->ram[RTC_B] & B_DM;
}

static uint8_t rtc_enc(const struct rtc *s, unsigned v)
{
	return rtc_binary(s) ? (uint8_t)v : (uint8_t)((v / 10) << 4 | v % 10);
}

static unsigned rtc_dec(const struct rtc *s, uint8_t v)
{
	return rtc_binary(s) ? v : (v >> 4) * 10 + (v & 0x0f);
}

/* The RTC's notion of now: the host's wall clock in whole seconds (or
 * --rtc-base), taken at the first access, advanced by the machine clock since then.  With
 * the interpreter the machine clock is virtual (retired instructions), so
 * when UIP reads 1 and how the seconds advance is the same in every boot;
 * only the date differs.  On KVM the machine clock is the host's. */
static struct timespec rtc_host_now(struct rtc *s)
{
	uint64_t now = machine_now_ns(s->m), ns;

	if (!s->anchored) {
		s->wall0 = s->m->rtc_fixed ? (time_t)s->m->rtc_base :
			   time(NULL);
		s->clock0 = now;
		s->anchored = true;
	}
	ns = now - s->clock0;
	return (struct timespec){
		.tv_sec = s->wall0 + (time_t)(ns / 1000000000u),
		.tv_nsec = (long)(ns % 1000000000u),
	};
}

/* Hours: 0-23, or 1-12 with bit 7 set for PM. */
static uint8_t rtc_enc_hour(const struct rtc *s, unsigned h)
{
	if (s->ram[RTC_B] & B_24H)
		return rtc_enc(s, h);
	return rtc_enc(s, h % 12 ? h % 12 : 12) | (h >= 12 ? HOUR_PM : 0);
}

static unsigned rtc_dec_hour(const struct rtc *s, uint8_t v)
{
	if (s->ram[RTC_B] & B_24H)
		return rtc_dec(s, v);
	return rtc_dec(s, v & ~HOUR_PM) % 12 + ((v & HOUR_PM) ? 12 : 0);
}

/* Writes the current guest time into registers 0-9 and 0x32. */
static void rtc_fill_time(struct rtc *s)
{
	time_t t = (time_t)(rtc_host_now(s).tv_sec + s->offset);
	struct tm tm;

	gmtime_r(&t, &tm);
	s->ram[RTC_SEC] = rtc_enc(s, (unsigned)tm.tm_sec);
	s->ram[RTC_MIN] = rtc_enc(s, (unsigned)tm.tm_min);
	s->ram[RTC_HOUR] = rtc_enc_hour(s, (unsigned)tm.tm_hour);
	s->ram[RTC_WDAY] = rtc_enc(s, (unsigned)tm.tm_wday + 1);
	s->ram[RTC_MDAY] = rtc_enc(s, (unsigned)tm.tm_mday);
	s->ram[RTC_MON] = rtc_enc(s, (unsigned)tm.tm_mon + 1);
	s->ram[RTC_YEAR] = rtc_enc(s, (unsigned)(tm.tm_year + 1900) % 100);
	s->ram[RTC_CENTURY] = rtc_enc(s, (unsigned)(tm.tm_year + 1900) / 100);
}

/* The guest set the clock: keep the difference to the host's. */
static void rtc_latch_offset(struct rtc *s)
{
	struct tm tm = {
		.tm_sec = (int)rtc_dec(s, s->ram[RTC_SEC]),
		.tm_min = (int)rtc_dec(s, s->ram[RTC_MIN]),
		.tm_hour = (int)rtc_dec_hour(s, s->ram[RTC_HOUR]),
		.tm_mday = (int)rtc_dec(s, s->ram[RTC_MDAY]),
		.tm_mon = (int)rtc_dec(s, s->ram[RTC_MON]) - 1,
		.tm_year = (int)(rtc_dec(s, s->ram[RTC_CENTURY]) * 100 +
				 rtc_dec(s, s->ram[RTC_YEAR])) - 1900,
	};

	s->offset = (int64_t)timegm(&tm) - rtc_host_now(s).tv_sec;
	rax_log(LOG_DEBUG, dev, "rtc: guest set the clock, offset %llds",
		(long long)s->offset);
}

static bool rtc_is_time_reg(unsigned idx)
{
	return (idx <= RTC_YEAR && idx != RTC_SEC_ALARM &&
		idx != RTC_MIN_ALARM && idx != RTC_HOUR_ALARM) ||
	       idx == RTC_CENTURY;
}

static bool rtc_frozen(const struct rtc *s)
{
	return s->ram[RTC_B] & B_SET;
}

static uint8_t rtc_read(struct rtc *s)
{
	unsigned idx = s->index;
	long ns;
	uint8_t v;

	if (rtc_is_time_reg(idx) && !rtc_frozen(s))
		rtc_fill_time(s);
	switch (idx) {
	case RTC_A:
		ns = rtc_host_now(s).tv_nsec;
		v = s->ram[RTC_A] & ~A_UIP;
		if (!rtc_frozen(s) && (ns >= 1000000000 - UIP_BEFORE_NS ||
				       ns < UIP_AFTER_NS))
			v |= A_UIP;
		return v;
	case RTC_C:
		v = s->ram[RTC_C];
		s->ram[RTC_C] = 0;
		return v;
	default:
		return s->ram[idx];
	}
}

static void rtc_write(struct rtc *s, uint8_t v)
{
	unsigned idx = s->index;
	uint8_t old;

	switch (idx) {
	case RTC_A:
		s->ram[RTC_A] = v & ~A_UIP;
		break;
	case RTC_B:
		old = s->ram[RTC_B];
		if ((v & B_SET) && !(old & B_SET))
			rtc_fill_time(s); /* freeze the registers */
		if (v & B_SET)
			v &= ~B_UIE; /* datasheet: SET clears UIE */
		s->ram[RTC_B] = v;
		if (!(v & B_SET) && (old & B_SET))
			rtc_latch_offset(s);
		break;
	case RTC_C:
	case RTC_D:
		break; /* read-only */
	default:
		if (!rtc_is_time_reg(idx) || rtc_frozen(s)) {
			s->ram[idx] = v;
			break;
		}
		rtc_fill_time(s);
		s->ram[idx] = v;
		rtc_latch_offset(s);
		break;
	}
}

static void rtc_io(void *opaque, uint64_t off, bool is_write, void *data,
		   unsigned size)
{
	struct rtc *s = opaque;
	uint8_t *p = data;

	if (off == 0) {
		/* The index register is write-only. */
		if (is_write) {
			s->index = p[0] & 0x7f;
			s->nmi_disabled = p[0] & 0x80;
		} else {
			p[0] = 0xff;
		}
	} else if (is_write) {
		rtc_write(s, p[0]);
	} else {
		p[0] = rtc_read(s);
	}
	for (unsigned i = 1; !is_write && i < size; i++)
		p[i] = 0xff;
}

static void rtc_put16(struct rtc *s, unsigned idx, uint64_t v)
{
	if (v > 0xffff)
		v = 0xffff;
	s->ram[idx] = (uint8_t)v;
	s->ram[idx + 1] = (uint8_t)(v >> 8);
}

/* PC firmware's memory size bytes (Ralf Brown's CMOS list, "CMOS.LST"):
 * 0x15/0x16 base memory in KiB; 0x17/0x18 and 0x30/0x31 KiB above 1 MiB
 * (capped at 0xffff); 0x34/0x35 64 KiB blocks from 16 MiB up to the
 * hole; 0x5b-0x5d 64 KiB blocks above 4 GiB (SeaBIOS and QEMU use the
 * same bytes). */
static void rtc_set_memory_size(struct rtc *s, const struct guest_mem *gm)
{
	uint64_t blocks = gm->high_size >> 16;

	rtc_put16(s, 0x15, 640);
	if (gm->low_size > (1u << 20)) {
		rtc_put16(s, 0x17, (gm->low_size - (1u << 20)) >> 10);
		rtc_put16(s, 0x30, (gm->low_size - (1u << 20)) >> 10);
	}
	if (gm->low_size > (16u << 20))
		rtc_put16(s, 0x34, (gm->low_size - (16u << 20)) >> 16);
	if (blocks > 0xffffff)
		blocks = 0xffffff;
	s->ram[0x5b] = (uint8_t)blocks;
	s->ram[0x5c] = (uint8_t)(blocks >> 8);
	s->ram[0x5d] = (uint8_t)(blocks >> 16);
}

int dev_rtc_init(struct machine *m, void **state, struct rax_err *e)
{
	struct rtc *s;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return rax_errf(e, -ENOMEM, "rtc: out of memory");
	s->m = m;
	s->ram[RTC_A] = A_DEFAULT;
	s->ram[RTC_B] = B_24H;
	s->ram[RTC_D] = D_VRT;
	rtc_set_memory_size(s, &m->mem);
	ret = iobus_register(&m->pio, RTC_PORT, 2, rtc_io, s, "rtc");
	if (ret) {
		rax_errf(e, ret, "rtc: cannot claim ports %#x-%#x", RTC_PORT,
			 RTC_PORT + 1);
		goto out_free;
	}
	*state = s;
	return 0;

out_free:
	free(s);
	return ret;
}

void dev_rtc_exit(struct machine *m, void *state)
{
	free(state);
}

/* The history's hook (dev.h). */
DEV_SNAP_PLAIN(rtc, struct rtc)
