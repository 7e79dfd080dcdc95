/* Unit tests of the interpreter's interrupt controllers (src/devices/intc.h:
 * PIC, I/O APIC, local APIC, PIT) on a fake machine whose clock the test
 * advances, running the machine timers as the interpreter would.
 * Run: ./tests/unit/test_intc (from the build folder). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "devices/intc.h"
#include "machine.h"
#include "regs.h"
#include "test.h"

static uint64_t now;

static uint64_t fake_clock(struct machine *m)
{
	return now;
}

static const struct vcpu_ops fake_ops = { .name = "fake",
					  .clock_ns = fake_clock };
static struct machine m;
static struct intc *ic;

static void setup_cpus(unsigned ncpus)
{
	struct rax_err e;

	memset(&m, 0, sizeof(m));
	m.ops = &fake_ops;
	m.ncpus = ncpus;
	now = 1000; /* not zero: catches "since boot" assumptions */
	if (intc_create(&m, &ic, &e)) {
		fprintf(stderr, "intc_create: %s\n", e.msg);
		exit(1);
	}
}

static void setup(void)
{
	setup_cpus(1);
}

static void teardown(void)
{
	intc_destroy(ic);
	CHECK_EQ(m.pio.n, 0);
	CHECK_EQ(m.mmio.n, 0);
}

/* Advances the clock to `t`, firing timers at their deadlines, as the
 * interpreter does at instruction boundaries and on HLT. */
static void run_until(uint64_t t)
{
	while (timer_next(&m.timers) <= t) {
		now = timer_next(&m.timers);
		timer_run(&m.timers, now);
	}
	now = t;
}

static void outb(uint16_t port, uint8_t v)
{
	machine_pio(&m, port, true, &v, 1);
}

static uint8_t inb(uint16_t port)
{
	uint8_t v;

	machine_pio(&m, port, false, &v, 1);
	return v;
}

static void wr32(uint64_t gpa, uint32_t v)
{
	CHECK(machine_mmio(&m, gpa, true, &v, 4));
}

static uint32_t rd32(uint64_t gpa)
{
	uint32_t v = 0;

	machine_mmio(&m, gpa, false, &v, 4);
	return v;
}

#define APIC 0xfee00000ull
#define IOAPIC 0xfec00000ull

static void apic_enable(void)
{
	wr32(APIC + 0xf0, 0x1ff);
}

static bool irr_bit(unsigned v)
{
	return rd32(APIC + 0x200 + (v / 32) * 0x10) & (1u << (v % 32));
}

static bool isr_bit(unsigned v)
{
	return rd32(APIC + 0x100 + (v / 32) * 0x10) & (1u << (v % 32));
}

static void ioapic_route(unsigned pin, uint32_t low, uint8_t dest)
{
	wr32(IOAPIC, 0x10 + 2 * pin + 1);
	wr32(IOAPIC + 0x10, (uint32_t)dest << 24);
	wr32(IOAPIC, 0x10 + 2 * pin);
	wr32(IOAPIC + 0x10, low);
}

static uint32_t ioapic_redir_low(unsigned pin)
{
	wr32(IOAPIC, 0x10 + 2 * pin);
	return rd32(IOAPIC + 0x10);
}

/* Linux's init_8259A(): vectors 0x30/0x38, cascade on IR2, 8086 mode. */
static void pic_init(uint8_t icw4)
{
	outb(0x20, 0x11);
	outb(0x21, 0x30);
	outb(0x21, 0x04);
	outb(0x21, icw4);
	outb(0xa0, 0x11);
	outb(0xa1, 0x38);
	outb(0xa1, 0x02);
	outb(0xa1, icw4);
	outb(0x21, 0x00);
	outb(0xa1, 0x00);
}

static void pic_init_sequence_maps_irqs_to_vectors_until_eoi(void)
{
	setup();
	CHECK_EQ(inb(0x21), 0xff); /* masked until initialised */
	intc_set_irq(ic, 1, 1);
	CHECK(!intc_pending(ic, 0));
	intc_set_irq(ic, 1, 0);
	pic_init(0x01);
	CHECK(!intc_pending(ic, 0));
	intc_set_irq(ic, 1, 1);
	intc_set_irq(ic, 1, 0);
	CHECK(intc_pending(ic, 0));
	CHECK_EQ(intc_ack(ic, 0), 0x31);
	CHECK(!intc_pending(ic, 0));
	/* IRQ 0 outranks IRQ 1 in service; IRQ 3 does not. */
	intc_set_irq(ic, 3, 1);
	CHECK(!intc_pending(ic, 0));
	intc_set_irq(ic, 0, 1);
	CHECK_EQ(intc_ack(ic, 0), 0x30);
	outb(0x20, 0x0b); /* OCW3: read ISR */
	CHECK_EQ(inb(0x20), 0x03);
	outb(0x20, 0x0a); /* OCW3: read IRR */
	CHECK_EQ(inb(0x20), 0x08);
	outb(0x20, 0x20); /* non-specific EOI ends IRQ 0 */
	outb(0x20, 0x61); /* specific EOI ends IRQ 1 */
	CHECK_EQ(intc_ack(ic, 0), 0x33);
	outb(0x20, 0x20);
	/* Slave IRQ 12 through the cascade: both chips need an EOI. */
	intc_set_irq(ic, 12, 1);
	CHECK_EQ(intc_ack(ic, 0), 0x3c);
	outb(0xa0, 0x0b);
	CHECK_EQ(inb(0xa0), 0x10);
	outb(0x20, 0x0b);
	CHECK_EQ(inb(0x20), 0x04);
	outb(0xa0, 0x20);
	outb(0x20, 0x20);
	CHECK_EQ(inb(0x20), 0x00);
	/* Masked in the IMR: nothing; nothing pending: spurious IR7. */
	outb(0x21, 0x20);
	intc_set_irq(ic, 5, 1);
	CHECK(!intc_pending(ic, 0));
	CHECK_EQ(inb(0x21), 0x20);
	CHECK_EQ(intc_ack(ic, 0), -1);
	teardown();
}

static void pic_level_inputs_and_auto_eoi_behave(void)
{
	setup();
	pic_init(0x03); /* auto-EOI */
	intc_set_irq(ic, 4, 1);
	intc_set_irq(ic, 4, 0);
	CHECK_EQ(intc_ack(ic, 0), 0x34);
	outb(0x20, 0x0b);
	CHECK_EQ(inb(0x20), 0x00); /* nothing in service */
	CHECK(!intc_pending(ic, 0));  /* edge: latched once */
	/* ELCR: IRQ 10 level-triggered re-requests while asserted. */
	pic_init(0x01);
	outb(0x4d1, 0x04);
	CHECK_EQ(inb(0x4d1), 0x04);
	outb(0x4d0, 0xff);
	CHECK_EQ(inb(0x4d0), 0xf8); /* IRQ 0-2 are always edge */
	outb(0x4d0, 0x00);
	intc_set_irq(ic, 10, 1);
	CHECK_EQ(intc_ack(ic, 0), 0x3a);
	outb(0xa0, 0x20);
	outb(0x20, 0x20);
	CHECK(intc_pending(ic, 0));
	CHECK_EQ(intc_ack(ic, 0), 0x3a);
	outb(0xa0, 0x20);
	outb(0x20, 0x20);
	intc_set_irq(ic, 10, 0);
	CHECK(!intc_pending(ic, 0));
	/* Poll mode. */
	intc_set_irq(ic, 6, 1);
	outb(0x20, 0x0c);
	CHECK_EQ(inb(0x20), 0x86);
	outb(0x20, 0x20);
	outb(0x20, 0x0c);
	CHECK_EQ(inb(0x20), 0x00);
	teardown();
}

static void ioapic_redirection_reaches_the_lapic_and_eoi_clears_isr(void)
{
	setup();
	pic_init(0x01);
	apic_enable();
	CHECK_EQ(rd32(APIC + 0x30), 0x50014);
	CHECK_EQ(rd32(APIC + 0x350) & 0x10000, 0x10000); /* LINT0 masked */
	/* The PIC no longer reaches the CPU: LINT0 is masked. */
	intc_set_irq(ic, 1, 1);
	CHECK(!intc_pending(ic, 0));
	ioapic_route(4, 0x41, 0);
	intc_set_irq(ic, 4, 1);
	CHECK(intc_pending(ic, 0));
	CHECK(irr_bit(0x41));
	CHECK_EQ(intc_ack(ic, 0), 0x41);
	CHECK(!irr_bit(0x41) && isr_bit(0x41));
	CHECK(!intc_pending(ic, 0));
	wr32(APIC + 0xb0, 0);
	CHECK(!isr_bit(0x41));
	/* Edge: no second delivery without a new rising edge. */
	intc_set_irq(ic, 4, 1);
	CHECK(!intc_pending(ic, 0));
	/* Masked pins and other destinations deliver nothing. */
	ioapic_route(5, 0x10000 | 0x42, 0);
	intc_set_irq(ic, 5, 1);
	ioapic_route(6, 0x43, 3);
	intc_set_irq(ic, 6, 1);
	CHECK(!intc_pending(ic, 0));
	/* Logical flat destination matches the LDR. */
	wr32(APIC + 0xd0, 0x01000000);
	ioapic_route(7, 0x800 | 0x44, 0x01);
	intc_set_irq(ic, 7, 1);
	CHECK_EQ(intc_ack(ic, 0), 0x44);
	/* Registers: version and the redirection table read back. */
	wr32(IOAPIC, 1);
	CHECK_EQ(rd32(IOAPIC + 0x10), 0x00170020);
	CHECK_EQ(ioapic_redir_low(7), 0x844);
	/* LINT0 as ExtINT lets the PIC through again. */
	wr32(APIC + 0xb0, 0);
	wr32(APIC + 0x350, 0x700);
	CHECK(intc_pending(ic, 0));
	CHECK_EQ(intc_ack(ic, 0), 0x31);
	teardown();
}

static void tpr_masks_vectors_of_lower_or_equal_priority_class(void)
{
	setup();
	apic_enable();
	ioapic_route(3, 0x45, 0);
	wr32(APIC + 0x80, 0x50);
	CHECK_EQ(intc_get_cr8(ic, 0), 5);
	intc_set_irq(ic, 3, 1);
	CHECK(!intc_pending(ic, 0));
	CHECK_EQ(intc_ack(ic, 0), -1);
	CHECK_EQ(rd32(APIC + 0xa0), 0x50); /* PPR */
	intc_set_cr8(ic, 0, 3);
	CHECK_EQ(rd32(APIC + 0x80), 0x30);
	CHECK(intc_pending(ic, 0));
	CHECK_EQ(intc_ack(ic, 0), 0x45);
	CHECK_EQ(rd32(APIC + 0xa0), 0x40); /* ISR class above TPR */
	/* A self IPI in the same class waits for the EOI. */
	wr32(APIC + 0x300, 0x40000 | 0x4f);
	CHECK(irr_bit(0x4f));
	CHECK(!intc_pending(ic, 0));
	wr32(APIC + 0x300, 0x40000 | 0x61);
	CHECK_EQ(intc_ack(ic, 0), 0x61);
	wr32(APIC + 0xb0, 0);
	wr32(APIC + 0xb0, 0);
	CHECK_EQ(intc_ack(ic, 0), 0x4f);
	teardown();
}

static void level_pins_hold_remote_irr_until_eoi_broadcast(void)
{
	setup();
	apic_enable();
	ioapic_route(10, 0x8000 | 0x52, 0);
	intc_set_irq(ic, 10, 1);
	CHECK(ioapic_redir_low(10) & 0x4000);
	CHECK_EQ(intc_ack(ic, 0), 0x52);
	CHECK(rd32(APIC + 0x180 + 0x20) & (1u << (0x52 - 64))); /* TMR */
	CHECK(!intc_pending(ic, 0));
	/* EOI with the line still asserted: delivered again. */
	wr32(APIC + 0xb0, 0);
	CHECK(ioapic_redir_low(10) & 0x4000);
	CHECK_EQ(intc_ack(ic, 0), 0x52);
	intc_set_irq(ic, 10, 0);
	wr32(APIC + 0xb0, 0);
	CHECK(!(ioapic_redir_low(10) & 0x4000));
	CHECK(!intc_pending(ic, 0));
	/* The I/O APIC's own EOI register (version 0x20) works too. */
	intc_set_irq(ic, 10, 1);
	CHECK_EQ(intc_ack(ic, 0), 0x52);
	wr32(IOAPIC + 0x40, 0x52);
	CHECK(irr_bit(0x52));
	teardown();
}

static void lapic_timer_fires_one_shot_and_periodic_at_virtual_times(void)
{
	uint64_t t0;
	int n = 0;

	setup();
	apic_enable();
	wr32(APIC + 0x3e0, 0x3);       /* divide by 16 */
	wr32(APIC + 0x320, 0x40);      /* one-shot, vector 0x40 */
	t0 = now;
	wr32(APIC + 0x380, 1000);      /* 16000 ns */
	run_until(t0 + 8000);
	CHECK_EQ(rd32(APIC + 0x390), 500);
	run_until(t0 + 15999);
	CHECK(!intc_pending(ic, 0));
	run_until(t0 + 16000);
	CHECK_EQ(intc_ack(ic, 0), 0x40);
	CHECK_EQ(rd32(APIC + 0x390), 0);
	wr32(APIC + 0xb0, 0);
	run_until(t0 + 100000);
	CHECK(!intc_pending(ic, 0));

	wr32(APIC + 0x3e0, 0xb);       /* divide by 1 */
	wr32(APIC + 0x320, 0x20041);   /* periodic, vector 0x41 */
	t0 = now;
	wr32(APIC + 0x380, 250);
	for (uint64_t t = t0; t <= t0 + 1000; t += 10) {
		run_until(t);
		if (intc_pending(ic, 0)) {
			CHECK_EQ(t - t0, 250 * (uint64_t)(n + 1));
			CHECK_EQ(intc_ack(ic, 0), 0x41);
			wr32(APIC + 0xb0, 0);
			n++;
		}
	}
	CHECK_EQ(n, 4);
	CHECK_EQ(rd32(APIC + 0x390), 250);
	/* Masked: counts on, delivers nothing. */
	wr32(APIC + 0x320, 0x30041);
	run_until(now + 1000);
	CHECK(!intc_pending(ic, 0));
	wr32(APIC + 0x380, 0);
	CHECK_EQ(timer_next(&m.timers), TIMER_NEVER);
	teardown();
}

static void tsc_deadline_fires_once_at_the_deadline(void)
{
	uint64_t v = 1;

	setup();
	apic_enable();
	/* Outside TSC-deadline mode the MSR reads 0 and ignores writes. */
	CHECK_EQ(intc_wrmsr(ic, 0, 0x6e0, now + 10), 0);
	CHECK(!intc_rdmsr(ic, 0, 0x6e0, &v) && v == 0);
	wr32(APIC + 0x320, 0x40000 | 0x42);
	CHECK_EQ(intc_wrmsr(ic, 0, 0x6e0, 50000), 0);
	CHECK(!intc_rdmsr(ic, 0, 0x6e0, &v) && v == 50000);
	run_until(49999);
	CHECK(!intc_pending(ic, 0));
	run_until(50000);
	CHECK_EQ(intc_ack(ic, 0), 0x42);
	CHECK(!intc_rdmsr(ic, 0, 0x6e0, &v) && v == 0);
	/* Writing 0 disarms. */
	CHECK_EQ(intc_wrmsr(ic, 0, 0x6e0, 60000), 0);
	CHECK_EQ(intc_wrmsr(ic, 0, 0x6e0, 0), 0);
	CHECK_EQ(timer_next(&m.timers), TIMER_NEVER);
	CHECK_EQ(intc_rdmsr(ic, 0, 0x10, &v), -ENOENT);
	teardown();
}

/* ceil(ticks * 1e9 / 1193182): when PIT tick `ticks` starts. */
static uint64_t pit_ns(uint64_t ticks)
{
	return (ticks * 1000000000ull + 1193181) / 1193182;
}

static void pit_mode_2_interrupts_at_each_period(void)
{
	uint64_t t0, seen[3];
	uint8_t lo, hi;
	int n = 0;

	setup();
	pic_init(0x01);
	outb(0x43, 0x34); /* channel 0, lobyte/hibyte, mode 2 */
	t0 = now;
	outb(0x40, 1193 & 0xff);
	outb(0x40, 1193 >> 8);
	while (n < 3) {
		run_until(timer_next(&m.timers));
		if (intc_pending(ic, 0)) {
			CHECK_EQ(intc_ack(ic, 0), 0x30);
			outb(0x20, 0x20);
			seen[n++] = now - t0;
		}
	}
	CHECK_EQ(seen[0], pit_ns(1193));
	CHECK_EQ(seen[1], pit_ns(2 * 1193));
	CHECK_EQ(seen[2], pit_ns(3 * 1193));
	/* Counter latch: the count at the latch, low byte first. */
	run_until(t0 + pit_ns(3 * 1193 + 193));
	outb(0x43, 0x00);
	run_until(now + 100000);
	lo = inb(0x40);
	hi = inb(0x40);
	CHECK_EQ(lo | hi << 8, 1000);
	/* Reprogramming to mode 0 gives a single interrupt. */
	outb(0x43, 0x30);
	t0 = now;
	outb(0x40, 100);
	outb(0x40, 0);
	run_until(t0 + pit_ns(100) - 1);
	CHECK(!intc_pending(ic, 0));
	run_until(t0 + pit_ns(100));
	CHECK_EQ(intc_ack(ic, 0), 0x30);
	outb(0x20, 0x20);
	CHECK_EQ(timer_next(&m.timers), TIMER_NEVER);
	teardown();
}

static void pit_channel_2_out_is_visible_in_port_0x61(void)
{
	uint64_t t0;
	uint8_t lo, hi;

	setup();
	outb(0x61, (inb(0x61) & ~0x02) | 0x01); /* gate high, no speaker */
	CHECK_EQ(inb(0x61) & 0x0f, 0x01);
	outb(0x43, 0xb0); /* channel 2, lobyte/hibyte, mode 0 */
	t0 = now;
	outb(0x42, 0x00);
	outb(0x42, 0x10); /* 4096 ticks */
	CHECK(!(inb(0x61) & 0x20));
	run_until(t0 + pit_ns(0x800));
	lo = inb(0x42);
	hi = inb(0x42);
	CHECK_EQ(lo | hi << 8, 0x800);
	run_until(t0 + pit_ns(0x1000) - 1);
	CHECK(!(inb(0x61) & 0x20));
	run_until(t0 + pit_ns(0x1000));
	CHECK(inb(0x61) & 0x20);
	/* Read-back of status: OUT high, mode 0, lobyte/hibyte. */
	outb(0x43, 0xe8);
	CHECK_EQ(inb(0x42), 0x80 | 0x30);
	/* Refresh toggle flips every 15.085 us. */
	lo = inb(0x61) & 0x10;
	run_until(now + 15085);
	CHECK_EQ(inb(0x61) & 0x10, lo ^ 0x10);
	/* Gate low in mode 0 suspends counting. */
	outb(0x43, 0xb0);
	outb(0x42, 0x00);
	outb(0x42, 0x10);
	run_until(now + pit_ns(0x100));
	outb(0x61, 0x00);
	run_until(now + 10000000);
	outb(0x61, 0x01);
	lo = inb(0x42);
	hi = inb(0x42);
	CHECK((lo | hi << 8) >= 0xeff && (lo | hi << 8) <= 0xf00);
	/* Channel 2 never raises IRQ 0. */
	CHECK(!intc_pending(ic, 0));
	teardown();
}

static void pit_square_wave_and_strobe_modes_shape_out(void)
{
	uint64_t t0;

	setup();
	outb(0x61, 0x01);
	outb(0x43, 0xb6); /* channel 2, lobyte/hibyte, mode 3 */
	t0 = now;
	outb(0x42, 100);
	outb(0x42, 0);
	run_until(t0 + pit_ns(10));
	CHECK(inb(0x61) & 0x20);         /* first half high */
	run_until(t0 + pit_ns(60));
	CHECK(!(inb(0x61) & 0x20));      /* second half low */
	run_until(t0 + pit_ns(110));
	CHECK(inb(0x61) & 0x20);         /* and again */
	outb(0x43, 0xb8); /* mode 4: one low tick at terminal count */
	t0 = now;
	outb(0x42, 50);
	outb(0x42, 0);
	run_until(t0 + pit_ns(49));
	CHECK(inb(0x61) & 0x20);
	run_until(t0 + pit_ns(50));
	CHECK(!(inb(0x61) & 0x20));
	run_until(t0 + pit_ns(51));
	CHECK(inb(0x61) & 0x20);
	/* Mode 1 waits for a gate edge. */
	outb(0x43, 0xb2);
	outb(0x42, 50);
	outb(0x42, 0);
	CHECK(inb(0x61) & 0x20);
	outb(0x61, 0x00);
	t0 = now;
	outb(0x61, 0x01);
	CHECK(!(inb(0x61) & 0x20));
	run_until(t0 + pit_ns(50));
	CHECK(inb(0x61) & 0x20);
	teardown();
}

static void cluster_logical_destinations_match_the_ldr(void)
{
	setup();
	apic_enable();
	wr32(APIC + 0xe0, 0x0fffffff); /* cluster model */
	wr32(APIC + 0xd0, 0x12000000); /* cluster 1, member bit 1 */
	ioapic_route(3, 0x800 | 0x50, 0x21); /* cluster 2: no */
	intc_set_irq(ic, 3, 1);
	CHECK(!intc_pending(ic, 0));
	ioapic_route(4, 0x800 | 0x51, 0x13); /* cluster 1, bits 0-1 */
	intc_set_irq(ic, 4, 1);
	CHECK_EQ(intc_ack(ic, 0), 0x51);
	teardown();
}

static void pic_rotation_commands_reorder_priorities(void)
{
	setup();
	pic_init(0x01);
	outb(0x20, 0xc4); /* set priority: IR4 lowest, IR5 highest */
	intc_set_irq(ic, 3, 1);
	intc_set_irq(ic, 6, 1);
	CHECK_EQ(intc_ack(ic, 0), 0x36);
	outb(0x20, 0xa0); /* rotate on non-specific EOI: IR6 lowest */
	CHECK_EQ(intc_ack(ic, 0), 0x33);
	outb(0x20, 0x20);
	intc_set_irq(ic, 6, 0);
	intc_set_irq(ic, 6, 1);
	intc_set_irq(ic, 0, 1);
	CHECK_EQ(intc_ack(ic, 0), 0x30); /* IR0 now outranks IR6 */
	teardown();
}

static void apic_base_msr_relocates_and_disables_the_apic(void)
{
	uint64_t v = 0;

	setup();
	CHECK(!intc_rdmsr(ic, 0, MSR_IA32_APIC_BASE, &v));
	CHECK_EQ(v, 0xfee00900);
	CHECK_EQ(intc_wrmsr(ic, 0, MSR_IA32_APIC_BASE, 0xfed00900), 0);
	CHECK_EQ(rd32(0xfed00030), 0x50014);
	CHECK(!machine_mmio(&m, APIC + 0x30, false, &v, 4));
	/* Hardware disable: power-up state and the virtual wire. */
	wr32(0xfed000f0, 0x1ff);
	CHECK_EQ(intc_wrmsr(ic, 0, MSR_IA32_APIC_BASE, 0xfee00100), 0);
	CHECK_EQ(rd32(APIC + 0xf0), 0xffffffff);
	CHECK_EQ(intc_wrmsr(ic, 0, MSR_IA32_APIC_BASE, 0xfee00900), 0);
	CHECK_EQ(rd32(APIC + 0xf0), 0xff);
	teardown();
}

static void *raise_irq(void *arg)
{
	for (int i = 0; i < 1000; i++) {
		intc_set_irq(ic, 4, 1);
		intc_set_irq(ic, 4, 0);
	}
	return NULL;
}

static void irqs_may_be_raised_from_another_thread(void)
{
	pthread_t t;
	int n = 0;

	setup();
	apic_enable();
	ioapic_route(4, 0x41, 0);
	CHECK(!pthread_create(&t, NULL, raise_irq, NULL));
	for (int i = 0; i < 1000; i++) {
		if (intc_pending(ic, 0) && intc_ack(ic, 0) == 0x41) {
			wr32(APIC + 0xb0, 0);
			n++;
		}
	}
	pthread_join(t, NULL);
	if (intc_ack(ic, 0) == 0x41)
		n++;
	CHECK(n >= 1);
	teardown();
}

/* SDM Vol. 3 §10.11: address 0xfee, destination ID in bits 19:12,
 * bit 2 logical; data: vector, delivery mode in bits 10:8. */
static void msi_messages_reach_the_lapic_they_name(void)
{
	setup();
	apic_enable();
	intc_msi(ic, 0xfee00000, 0x0045);        /* fixed, APIC 0 */
	CHECK(irr_bit(0x45));
	CHECK_EQ(intc_ack(ic, 0), 0x45);
	CHECK(isr_bit(0x45));
	wr32(APIC + 0xb0, 0);                    /* EOI */
	intc_msi(ic, 0xfee01000, 0x0046);        /* APIC 1: not us */
	CHECK(!irr_bit(0x46));
	intc_msi(ic, 0xfec00000, 0x0047);        /* not an APIC address */
	CHECK(!irr_bit(0x47));
	intc_msi(ic, 0xfeeff000, 0x0048);        /* broadcast 0xff */
	CHECK(irr_bit(0x48));
	CHECK_EQ(intc_ack(ic, 0), 0x48);
	wr32(APIC + 0xb0, 0);
	wr32(APIC + 0xe0, 0xffffffff);           /* flat model */
	wr32(APIC + 0xd0, 0x01000000);           /* logical ID bit 0 */
	intc_msi(ic, 0xfee01004, 0x0049);        /* logical, mask 1 */
	CHECK(irr_bit(0x49));
	CHECK_EQ(intc_ack(ic, 0), 0x49);
	wr32(APIC + 0xb0, 0);
	intc_msi(ic, 0xfee00000, 0x0400);        /* NMI */
	CHECK(intc_take_nmi(ic, 0));
	CHECK(!intc_pending(ic, 0));
	teardown();
}

/* SMP (rax --cpus): each vCPU's APIC behind the one page, IPIs through
 * the ICR between them (SDM Vol. 3 §10.6): fixed to a physical or
 * logical destination, shorthands, NMI, INIT then start-up. */
static void ipis_reach_the_apics_they_name(void)
{
	uint8_t vec = 0;

	setup_cpus(4);
	for (unsigned i = 0; i < 4; i++) {
		intc_set_current(ic, i);
		CHECK_EQ(rd32(APIC + 0x20), i << 24);     /* APIC ID */
		apic_enable();
	}
	intc_set_current(ic, 0);
	CHECK_EQ(intc_take_startup(ic, 1, &vec), INTC_NONE);
	wr32(APIC + 0x310, 2u << 24);                    /* fixed to 2 */
	wr32(APIC + 0x300, 0x0040);
	CHECK(!intc_pending(ic, 0) && !intc_pending(ic, 1));
	CHECK(intc_pending(ic, 2) && !intc_pending(ic, 3));
	CHECK_EQ(intc_ack(ic, 2), 0x40);
	intc_set_current(ic, 2);
	wr32(APIC + 0xb0, 0);                            /* EOI on 2 */
	intc_set_current(ic, 0);
	wr32(APIC + 0x300, 0xc0041);                     /* all but self */
	CHECK(!intc_pending(ic, 0));
	for (unsigned i = 1; i < 4; i++)
		CHECK_EQ(intc_ack(ic, i), 0x41);
	wr32(APIC + 0x300, 0x40042);                     /* self */
	CHECK_EQ(intc_ack(ic, 0), 0x42);
	CHECK(!intc_pending(ic, 1));
	intc_set_current(ic, 3);                         /* CPU 3: LDR 8 */
	wr32(APIC + 0xe0, 0xffffffff);
	wr32(APIC + 0xd0, 0x08000000);
	wr32(APIC + 0xb0, 0);                            /* EOI 0x41 */
	intc_set_current(ic, 1);                         /* from CPU 1 */
	wr32(APIC + 0x310, 0x08u << 24);                 /* logical 8 */
	wr32(APIC + 0x300, 0x0843);
	CHECK_EQ(intc_ack(ic, 3), 0x43);
	CHECK(!intc_pending(ic, 0) && !intc_pending(ic, 2));
	wr32(APIC + 0x300, 0x80400);                     /* NMI to all */
	for (unsigned i = 0; i < 4; i++)
		CHECK(intc_take_nmi(ic, i));
	/* INIT assert, INIT de-assert (nothing), start-up at 0x9a000. */
	intc_set_current(ic, 0);
	wr32(APIC + 0x310, 1u << 24);
	wr32(APIC + 0x300, 0x4500);
	wr32(APIC + 0x300, 0x8500);
	intc_set_current(ic, 1);                         /* reset by INIT */
	CHECK_EQ(rd32(APIC + 0xf0), 0xff);
	CHECK_EQ(rd32(APIC + 0x20), 1u << 24);
	CHECK(!(rd32(APIC + 0x100 + 2 * 0x10) & 1u << 1)); /* ISR 0x41 */
	intc_set_current(ic, 0);
	wr32(APIC + 0x300, 0x469a);
	CHECK_EQ(intc_take_startup(ic, 1, &vec), INTC_INIT);
	CHECK_EQ(intc_take_startup(ic, 1, &vec), INTC_SIPI);
	CHECK_EQ(vec, 0x9a);
	CHECK_EQ(intc_take_startup(ic, 1, &vec), INTC_NONE);
	CHECK_EQ(intc_take_startup(ic, 2, &vec), INTC_NONE);
	teardown();
}

/* x2APIC mode (SDM Vol. 3 §10.12): entered from xAPIC mode by setting
 * IA32_APIC_BASE.EXTD; its registers are MSRs 0x800 + offset / 16, the
 * MMIO page is gone, some registers are read- or write-only, bits 63:32
 * are reserved except in the 64-bit ICR; invalid mode transitions #GP. */
static void x2apic_mode_uses_msrs_and_checks_transitions(void)
{
	uint64_t v = 0;

	setup();
	CHECK_EQ(intc_rdmsr(ic, 0, 0x808, &v), -EINVAL); /* xAPIC mode */
	CHECK(intc_wrmsr(ic, 0, MSR_IA32_APIC_BASE, 0xfee00500) != 0);
	CHECK_EQ(intc_wrmsr(ic, 0, MSR_IA32_APIC_BASE, 0xfee00d00), 0);
	CHECK(!intc_rdmsr(ic, 0, 0x803, &v) && v == 0x50014); /* version */
	CHECK(!intc_rdmsr(ic, 0, 0x80d, &v) && v == 1); /* LDR of ID 0 */
	CHECK_EQ(rd32(APIC + 0x30), 0xffffffff); /* MMIO not decoded */
	CHECK_EQ(intc_rdmsr(ic, 0, 0x80b, &v), -EINVAL); /* EOI: write-only */
	CHECK_EQ(intc_rdmsr(ic, 0, 0x80e, &v), -EINVAL); /* no DFR */
	CHECK_EQ(intc_wrmsr(ic, 0, 0x802, 0), -EINVAL); /* ID: read-only */
	CHECK_EQ(intc_wrmsr(ic, 0, 0x808, 1ull << 32), -EINVAL);
	CHECK_EQ(intc_wrmsr(ic, 0, 0x80f, 0x1ff), 0); /* SVR: enable */
	CHECK_EQ(intc_wrmsr(ic, 0, 0x83f, 0x100), -EINVAL);
	CHECK_EQ(intc_wrmsr(ic, 0, 0x83f, 0x45), 0); /* self IPI */
	CHECK_EQ(intc_ack(ic, 0), 0x45);
	CHECK_EQ(intc_wrmsr(ic, 0, 0x80b, 1), -EINVAL);
	CHECK_EQ(intc_wrmsr(ic, 0, 0x80b, 0), 0);
	/* ICR: destination ID 0 in bits 63:32, fixed, vector 0x46. */
	CHECK_EQ(intc_wrmsr(ic, 0, 0x830, 0x46), 0);
	CHECK(!intc_rdmsr(ic, 0, 0x830, &v) && v == 0x46);
	CHECK_EQ(intc_ack(ic, 0), 0x46);
	CHECK_EQ(intc_wrmsr(ic, 0, 0x830, (1ull << 32) | 0x47), 0);
	CHECK(!intc_pending(ic, 0)); /* ID 1 is not us */
	/* Back to xAPIC mode: #GP; disabling first is the way. */
	CHECK(intc_wrmsr(ic, 0, MSR_IA32_APIC_BASE, 0xfee00900) != 0);
	CHECK_EQ(intc_wrmsr(ic, 0, MSR_IA32_APIC_BASE, 0xfee00100), 0);
	CHECK(intc_wrmsr(ic, 0, MSR_IA32_APIC_BASE, 0xfee00d00) != 0);
	CHECK_EQ(intc_wrmsr(ic, 0, MSR_IA32_APIC_BASE, 0xfee00900), 0);
	CHECK_EQ(rd32(APIC + 0x30), 0x50014);
	teardown();
}

/* x2APIC mode (§10.12.9, §10.12.10.2): the ICR is one MSR and its
 * destination ICR[63:32], a 32-bit ID, or cluster << 16 | a bitmap. */
static void x2apic_ipis_reach_the_apics_they_name(void)
{
	uint64_t v;

	setup_cpus(4);
	for (unsigned i = 0; i < 4; i++) {
		CHECK_EQ(intc_wrmsr(ic, i, MSR_IA32_APIC_BASE, 0xfee00d00 |
				    (i ? 0 : 0x100)), 0);
		CHECK_EQ(intc_wrmsr(ic, i, 0x80f, 0x1ff), 0); /* SVR */
		CHECK(!intc_rdmsr(ic, i, 0x802, &v) && v == i); /* ID */
	}
	CHECK_EQ(intc_wrmsr(ic, 0, 0x830, (2ull << 32) | 0x50), 0);
	CHECK(!intc_pending(ic, 1) && !intc_pending(ic, 3));
	CHECK_EQ(intc_ack(ic, 2), 0x50);
	/* logical: cluster 0, bits 1 and 3 (IDs 1 and 3) */
	CHECK_EQ(intc_wrmsr(ic, 0, 0x830, (0xaull << 32) | 0x851), 0);
	CHECK_EQ(intc_ack(ic, 1), 0x51);
	CHECK_EQ(intc_ack(ic, 3), 0x51);
	CHECK(!intc_pending(ic, 0) && !intc_pending(ic, 2));
	for (unsigned i = 1; i < 4; i++)   /* EOI: 0x50 and 0x51 done */
		CHECK_EQ(intc_wrmsr(ic, i, 0x80b, 0), 0);
	CHECK_EQ(intc_wrmsr(ic, 3, 0x830, (0xffffffffull << 32) | 0x52), 0);
	for (unsigned i = 0; i < 4; i++)   /* 0xffffffff: all */
		CHECK(intc_pending(ic, i));
	teardown();
}

/* An 8-bit destination (here an MSI's; the I/O APIC's is the same)
 * reaching APICs in x2APIC mode is compared zero-extended with their
 * 32-bit IDs (§10.12.10.2): logical 0xd is cluster 0, IDs 0, 2 and 3
 * (kvm-unit-tests ioapic's logical destination mode check). */
static void x2apic_targets_take_8_bit_destinations(void)
{
	setup_cpus(4);
	for (unsigned i = 0; i < 4; i++) {
		CHECK_EQ(intc_wrmsr(ic, i, MSR_IA32_APIC_BASE, 0xfee00d00 |
				    (i ? 0 : 0x100)), 0);
		CHECK_EQ(intc_wrmsr(ic, i, 0x80f, 0x1ff), 0); /* SVR */
	}
	intc_msi(ic, 0xfee0d004, 0x0060);          /* logical 0xd */
	CHECK_EQ(intc_ack(ic, 0), 0x60);
	CHECK_EQ(intc_ack(ic, 2), 0x60);
	CHECK_EQ(intc_ack(ic, 3), 0x60);
	CHECK(!intc_pending(ic, 1));
	intc_msi(ic, 0xfee01000, 0x0061);          /* physical ID 1 */
	CHECK_EQ(intc_ack(ic, 1), 0x61);
	CHECK(!intc_pending(ic, 0) && !intc_pending(ic, 2));
	teardown();
}

int main(void)
{
	pic_init_sequence_maps_irqs_to_vectors_until_eoi();
	pic_level_inputs_and_auto_eoi_behave();
	ioapic_redirection_reaches_the_lapic_and_eoi_clears_isr();
	tpr_masks_vectors_of_lower_or_equal_priority_class();
	level_pins_hold_remote_irr_until_eoi_broadcast();
	lapic_timer_fires_one_shot_and_periodic_at_virtual_times();
	tsc_deadline_fires_once_at_the_deadline();
	pit_mode_2_interrupts_at_each_period();
	pit_channel_2_out_is_visible_in_port_0x61();
	pit_square_wave_and_strobe_modes_shape_out();
	cluster_logical_destinations_match_the_ldr();
	pic_rotation_commands_reorder_priorities();
	apic_base_msr_relocates_and_disables_the_apic();
	irqs_may_be_raised_from_another_thread();
	msi_messages_reach_the_lapic_they_name();
	x2apic_mode_uses_msrs_and_checks_transitions();
	ipis_reach_the_apics_they_name();
	x2apic_ipis_reach_the_apics_they_name();
	x2apic_targets_take_8_bit_destinations();
	return test_summary("test_intc");
}
