/* bm/io.c: I/O instruction exits (unconditional I/O exiting: every IN
 * and OUT comes here).  Ports are dispatched through bm_io_table: COM1
 * goes to the real UART, the PIT and port 0x61 pass through to the
 * hardware, the interrupt controllers are virtual, the keyboard
 * controller's reset line ends the run; the rest is logged and reads as
 * all ones.  Qualification layout: SDM Vol. 3 §28.2.1
 * Table 28-5. */
#include "exit.h"

#include "console.h"
#include "cpu.h"
#include "layout.h"
#include "vmx.h"

/* Read (in=1, returns the value) or write (in=0, v) one byte. */
typedef uint8_t (*bm_io_fn)(unsigned port, int in, uint8_t v);

/* COM1 as the guest sees it: data goes to the real UART (and VGA) at
 * once, so the transmitter is always empty (LSR 0x60).  The
 * transmitter-empty interrupt (IER bit 1) is modelled, because Linux's
 * 8250 driver writes user-space output from it: it is pending after a
 * write to THR or after enabling it, raises IRQ4, shows in IIR (0x02)
 * and is cleared by reading IIR.  Input comes from the real UART: RBR
 * and LSR's receive bits are read from it, and its receive interrupt
 * (the host enables it, bm_console_init) becomes the guest's IRQ4 when
 * the guest enabled receive interrupts (IER bit 0), IIR 0x04 while data
 * is waiting.  Other registers read as after reset (PC16550D register
 * map). */
static struct {
	uint8_t ier, lcr, mcr, scr, thre;
} bm_com1 = { 0, 0x03, 0x03, 0, 0 };

static void bm_com1_thre(void)
{
	bm_com1.thre = 1;
	if (bm_com1.ier & 2)
		bm_raise_irq(4);
}

/* Data waiting in the real UART (LSR bit 0, data ready). */
static int bm_com1_rx_ready(void)
{
	return bm_inb(BM_COM1 + 5) & 1;
}

void bm_com1_host_irq(void)
{
	if ((bm_com1.ier & 1) && bm_com1_rx_ready())
		bm_raise_irq(4);
}

static uint8_t bm_com1_iir(void)
{
	if ((bm_com1.ier & 1) && bm_com1_rx_ready())
		return 0x04;
	if ((bm_com1.ier & 2) && bm_com1.thre) {
		bm_com1.thre = 0;
		return 0x02;
	}
	return 0x01;
}

static uint8_t bm_io_com1(unsigned port, int in, uint8_t v)
{
	unsigned reg = port - BM_COM1;

	if (bm_com1.lcr & 0x80 && reg < 2)
		return in ? (reg ? 0 : 1) : 0; /* divisor latch: 115200 */
	switch (reg * 2 + !in) {
	case 0 * 2:
		return bm_inb(BM_COM1);
	case 0 * 2 + 1:
		bm_putc_raw((char)v);
		bm_com1_thre();
		return 0;
	case 1 * 2:
		return bm_com1.ier;
	case 1 * 2 + 1:
		bm_com1.ier = v & 0x0f;
		if (v & 2)
			bm_com1_thre();
		bm_com1_host_irq();
		return 0;
	case 2 * 2:
		return bm_com1_iir() | 0xc0; /* FIFOs enabled */
	case 3 * 2:
		return bm_com1.lcr;
	case 3 * 2 + 1:
		bm_com1.lcr = v;
		return 0;
	case 4 * 2:
		return bm_com1.mcr;
	case 4 * 2 + 1:
		bm_com1.mcr = v;
		return 0;
	case 5 * 2:
		/* Transmitter empty; data ready and errors from the UART. */
		return 0x60 | (bm_inb(BM_COM1 + 5) & 0x9f);
	case 6 * 2:
		return 0xb0; /* DCD, DSR, CTS */
	case 7 * 2:
		return bm_com1.scr;
	case 7 * 2 + 1:
		bm_com1.scr = v;
		return 0;
	}
	return 0;
}

/* PIT (0x40-0x43) and port 0x61 (PIT channel 2 gate, speaker): the
 * hardware's own.  The host does not use the PIT beyond forwarding
 * IRQ0, so the guest may program it. */
static uint8_t bm_io_passthrough(unsigned port, int in, uint8_t v)
{
	if (in)
		return bm_inb(port);
	bm_outb(port, v);
	return 0;
}

/* The 8042 keyboard controller, only as the reset line PCs have used
 * since the AT: command 0xfe on port 0x64 pulses the CPU's reset
 * (Linux's "reboot" tries it first without ACPI; arch/x86/kernel/
 * reboot.c, BOOT_KBD).  A guest reset ends the run.  Status reads 0
 * (input buffer empty), so a guest waiting to send a command does not
 * spin; there is no keyboard behind it. */
static int bm_io_reset;

static uint8_t bm_io_kbc(unsigned port, int in, uint8_t v)
{
	if (!in && v == 0xfe)
		bm_io_reset = 1;
	return 0;
}

/* The guest's 8259A pair.  The host keeps the real PIC (bm_pic_init);
 * the guest's programming only decides the vectors it gets and which
 * IRQs it masks.  ICW1 (bit 4 set, even port) starts an init sequence:
 * ICW2 (vector base) and ICW3 on the odd port, then ICW4 if ICW1 bit 0
 * asked for it; afterwards the odd port is the mask (OCW1).  EOIs
 * (OCW2) are ignored: the host EOIs the real PIC itself.  Until the
 * guest programs it, everything is masked: a BIOS's vector 8 would land
 * on a protected-mode guest's #DF.  (Intel 8259A datasheet.) */
static struct bm_vpic {
	uint8_t base, imr, step, icw4;
} bm_vpic[2] = { { 0x08, 0xff, 0, 0 }, { 0x70, 0xff, 0, 0 } };

static uint8_t bm_io_pic(unsigned port, int in, uint8_t v)
{
	struct bm_vpic *p = &bm_vpic[port >= 0xa0];

	if (!(port & 1)) {
		if (!in && (v & 0x10)) {
			p->step = 1;
			p->icw4 = v & 1;
		}
		return 0; /* IRR/ISR read as empty */
	}
	if (in)
		return p->imr;
	switch (p->step) {
	case 1:
		p->base = v & 0xf8;
		p->step = 2;
		break;
	case 2:
		p->step = p->icw4 ? 3 : 0;
		if (!p->step)
			p->imr = 0;
		break;
	case 3:
		p->step = 0;
		p->imr = 0; /* an init sequence clears the mask */
		break;
	default:
		p->imr = v;
	}
	return 0;
}

int bm_vpic_vector(unsigned irq)
{
	struct bm_vpic *p = &bm_vpic[irq >= 8];

	if ((p->imr >> (irq & 7) & 1) ||
	    (irq >= 8 && (bm_vpic[0].imr & 4)))
		return -1;
	return p->base + (irq & 7);
}

static const struct {
	uint16_t lo, hi;
	bm_io_fn fn;
} bm_io_table[] = {
	{ 0x20, 0x21, bm_io_pic },
	{ 0x40, 0x43, bm_io_passthrough },
	{ 0x61, 0x61, bm_io_passthrough },
	{ 0x64, 0x64, bm_io_kbc },
	{ 0xa0, 0xa1, bm_io_pic },
	{ BM_COM1, BM_COM1 + 7, bm_io_com1 },
};

static bm_io_fn bm_io_lookup(unsigned port)
{
	unsigned i;

	for (i = 0; i < sizeof(bm_io_table) / sizeof(bm_io_table[0]); i++)
		if (port >= bm_io_table[i].lo && port <= bm_io_table[i].hi)
			return bm_io_table[i].fn;
	return 0;
}

enum bm_action bm_exit_io(struct bm_exit *e)
{
	/* Table 28-5: size-1 in 2:0, IN in 3, string 4, port in 31:16. */
	unsigned size = (e->qual & 7) + 1, in = e->qual >> 3 & 1;
	unsigned port = e->qual >> 16 & 0xffff, i;
	uint64_t *rax = &e->r->gpr[BM_RAX];
	uint64_t mask = size == 4 ? 0xffffffff : (1ULL << 8 * size) - 1;
	uint64_t v = 0;
	bm_io_fn fn;

	if (e->qual & 0x10) {
		bm_printf("bm: string I/O on port %x not emulated\n", port);
		return BM_STOP;
	}
	/* Wider accesses are consecutive byte ports. */
	for (i = 0; i < size; i++) {
		fn = bm_io_lookup(port + i);
		if (fn)
			v |= (uint64_t)fn(port + i, in, *rax >> 8 * i) << 8 * i;
		else
			v |= 0xffULL << 8 * i;
	}
	if (!bm_io_lookup(port))
		bm_log("bm: %s port %x size %u%s (ignored)\n",
		       in ? "IN " : "OUT", port, size, in ? " -> all ones" : "");
	if (in)
		*rax = size == 4 ? (uint32_t)v : (*rax & ~mask) | (v & mask);
	if (bm_io_reset) {
		bm_printf("bm: guest reset (8042 command fe)\n");
		return BM_STOP;
	}
	return BM_NEXT;
}
