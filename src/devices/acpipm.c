/* ACPI fixed hardware (ACPI 6.0 §4.8, "ACPI Hardware Specification"):
 * the PM1a event block (PM1_STS, PM1_EN), the PM1a control block
 * (PM1_CNT) and the power management timer, in I/O space at the ports
 * acpipm.h names; the FADT (src/loader/acpi.c) points the guest here.
 *
 * - PM1_CNT (§4.8.3.2.1): SCI_EN reads 1 (the FADT has no
 *   SMI_CMD, so the machine is always in ACPI mode, §5.2.9); SLP_TYP is
 *   read/write; writing SLP_EN with SLP_TYP = ACPIPM_SLP_TYP_S5 (the
 *   DSDT's \_S5) is soft-off: rax ends with status 0, as a reset through
 *   0xcf9 does.  No other sleep state is advertised; SLP_EN with another
 *   type sets WAK_STS at once (the machine "wakes" without sleeping).
 * - PM1_STS/PM1_EN (§4.8.3.1.1-2): status bits are
 *   cleared by writing 1.  TMR_STS is set when bit 23 of the timer
 *   changes (§4.8.3.3); rax has no button, RTC alarm or bus master
 *   event, so the other status bits stay 0.
 * - PM_TMR (§4.8.3.3): 24 bits counting at 3.579545 MHz of the machine
 *   clock (machine_now_ns(): on the interpreter its instruction count,
 *   so reads repeat from boot to boot).
 * - The SCI (FADT SCI_INT = IRQ 9) is the level (PM1_STS & PM1_EN),
 *   recomputed at each access of the block: TMR_STS is sampled then, so
 *   a timer carry with TMR_EN set raises no SCI until the next access
 *   (Linux never sets TMR_EN; it reads the timer as a clocksource).
 *
 * Accesses of 1, 2 or 4 bytes anywhere in the block, split into bytes;
 * bytes 6-7 and anything past the timer read 0 and ignore writes. */
#include "devices/acpipm.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/dev.h"
#include "log.h"
#include "machine.h"

/* §4.8.3.1.1 (PM1_STS), §4.8.3.1.2 (PM1_EN). */
#define PM1_TMR 0x0001
#define PM1_BM_STS 0x0010
#define PM1_GBL 0x0020
#define PM1_PWRBTN 0x0100
#define PM1_SLPBTN 0x0200
#define PM1_RTC 0x0400
#define PM1_WAK_STS 0x8000
#define PM1_STS_BITS (PM1_TMR | PM1_BM_STS | PM1_GBL | PM1_PWRBTN | \
		      PM1_SLPBTN | PM1_RTC | PM1_WAK_STS)
#define PM1_EN_BITS (PM1_TMR | PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC)

/* §4.8.3.2.1 (PM1_CNT). */
#define CNT_SCI_EN 0x0001
#define CNT_BM_RLD 0x0002
#define CNT_GBL_RLS 0x0004   /* write-only: a request to the BIOS */
#define CNT_SLP_TYP_SHIFT 10
#define CNT_SLP_TYP (7u << CNT_SLP_TYP_SHIFT)
#define CNT_SLP_EN 0x2000    /* write-only */
#define CNT_RW_BITS (CNT_BM_RLD | CNT_SLP_TYP)

#define EVT_OFF (ACPIPM_EVT - ACPIPM_BASE)
#define CNT_OFF (ACPIPM_CNT - ACPIPM_BASE)
#define TMR_OFF (ACPIPM_TMR - ACPIPM_BASE)

struct acpipm {
	struct machine *m;
	pthread_mutex_t lock;   /* vCPU threads (one per CPU on KVM) */
	uint16_t sts, en, cnt;
	uint64_t tmr_epoch;     /* timer ticks >> 23 when TMR_STS was last
				   brought up to date */
	int sci;                /* the level last given to the line */
};

/* Ticks of the 3.579545 MHz timer since the machine started. */
static uint64_t pm_ticks(struct acpipm *s)
{
	unsigned __int128 ns = machine_now_ns(s->m);

	return (uint64_t)(ns * ACPIPM_TMR_HZ / 1000000000u);
}

/* TMR_STS: set whenever the timer's top bit changed since last time. */
static uint64_t pm_sample_timer(struct acpipm *s)
{
	uint64_t t = pm_ticks(s), epoch = t >> (ACPIPM_TMR_BITS - 1);

	if (epoch != s->tmr_epoch) {
		s->sts |= PM1_TMR;
		s->tmr_epoch = epoch;
	}
	return t & ((1u << ACPIPM_TMR_BITS) - 1);
}

static void pm_update_sci(struct acpipm *s)
{
	int level = (s->cnt & CNT_SCI_EN) && (s->sts & s->en & PM1_EN_BITS);

	if (level != s->sci) {
		s->sci = level;
		machine_set_irq(s->m, ACPIPM_SCI_IRQ, level);
	}
}

static uint8_t pm_read_byte(struct acpipm *s, unsigned off, uint32_t tmr)
{
	switch (off) {
	case EVT_OFF: case EVT_OFF + 1:
		return (uint8_t)(s->sts >> 8 * (off & 1));
	case EVT_OFF + 2: case EVT_OFF + 3:
		return (uint8_t)(s->en >> 8 * (off & 1));
	case CNT_OFF: case CNT_OFF + 1:
		return (uint8_t)(s->cnt >> 8 * (off & 1));
	case TMR_OFF: case TMR_OFF + 1: case TMR_OFF + 2: case TMR_OFF + 3:
		return (uint8_t)(tmr >> 8 * (off - TMR_OFF));
	default:
		return 0;
	}
}

/* A write of PM1_CNT: `bits` are the bytes written over the old value. */
static void pm_write_cnt(struct acpipm *s, uint16_t bits)
{
	unsigned typ = (bits & CNT_SLP_TYP) >> CNT_SLP_TYP_SHIFT;

	s->cnt = (uint16_t)((s->cnt & ~CNT_RW_BITS) | (bits & CNT_RW_BITS));
	if (!(bits & CNT_SLP_EN))
		return;
	if (typ == ACPIPM_SLP_TYP_S5) {
		rax_log(LOG_INFO, dev, "acpipm: SLP_EN with SLP_TYP %u (S5)",
			typ);
		machine_request_exit(s->m, RAX_EXIT_OK,
				     "guest powered off (ACPI S5)");
		return;
	}
	rax_log(LOG_WARN, dev, "acpipm: SLP_EN with SLP_TYP %u: no such "
		"sleep state, waking at once", typ);
	s->sts |= PM1_WAK_STS;
}

static void pm_write_byte(struct acpipm *s, unsigned off, uint8_t b)
{
	unsigned sh = 8 * (off & 1);
	uint16_t bits = (uint16_t)(b << sh), keep = (uint16_t)~(0xffu << sh);

	switch (off & ~1u) {
	case EVT_OFF:
		s->sts &= (uint16_t)~(bits & PM1_STS_BITS);
		break;
	case EVT_OFF + 2:
		s->en = (uint16_t)((s->en & keep) | (bits & PM1_EN_BITS));
		break;
	case CNT_OFF:
		/* SLP_EN is in the high byte: the low byte's write keeps
		 * the old SLP_TYP and cannot start a sleep. */
		pm_write_cnt(s, (uint16_t)((s->cnt & keep) | bits));
		break;
	default:
		break;
	}
}

static void acpipm_io(void *opaque, uint64_t off, bool is_write,
		      void *data, unsigned size)
{
	struct acpipm *s = opaque;
	uint8_t *p = data;
	uint32_t tmr;
	unsigned i;

	pthread_mutex_lock(&s->lock);
	tmr = (uint32_t)pm_sample_timer(s);
	for (i = 0; i < size; i++) {
		if (is_write)
			pm_write_byte(s, (unsigned)off + i, p[i]);
		else
			p[i] = pm_read_byte(s, (unsigned)off + i, tmr);
	}
	pm_update_sci(s);
	pthread_mutex_unlock(&s->lock);
}

int dev_acpipm_init(struct machine *m, void **state, struct rax_err *e)
{
	struct acpipm *s;
	int ret;

	*state = NULL;
	if (m->acpi_off)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return rax_errf(e, -ENOMEM, "acpipm: out of memory");
	s->m = m;
	s->cnt = CNT_SCI_EN;
	ret = -pthread_mutex_init(&s->lock, NULL);
	if (ret) {
		rax_errf(e, ret, "acpipm: cannot create its lock");
		goto out_free;
	}
	ret = iobus_register(&m->pio, ACPIPM_BASE, ACPIPM_PORTS, acpipm_io, s,
			     "acpipm");
	if (ret) {
		rax_errf(e, ret, "acpipm: cannot claim ports %#x-%#x",
			 ACPIPM_BASE, ACPIPM_BASE + ACPIPM_PORTS - 1);
		goto out_lock;
	}
	*state = s;
	return 0;

out_lock:
	pthread_mutex_destroy(&s->lock);
out_free:
	free(s);
	return ret;
}

void dev_acpipm_exit(struct machine *m, void *state)
{
	struct acpipm *s = state;

	(void)m;
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* The history's hook (dev.h). */
DEV_SNAP_LOCKED(acpipm, struct acpipm, lock)
