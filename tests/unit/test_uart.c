/* Unit tests of the COM1 16550A model (src/devices/uart.c), driven
 * through port I/O on a fake machine that records IRQ 4.
 * Run: ./tests/unit/test_uart (from the build folder). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "console.h"
#include "fake_machine.h"
#include "test.h"

#define COM1 0x3f8
#define RBR (COM1 + 0)
#define THR (COM1 + 0)
#define DLL (COM1 + 0)
#define IER (COM1 + 1)
#define DLM (COM1 + 1)
#define IIR (COM1 + 2)
#define FCR (COM1 + 2)
#define LCR (COM1 + 3)
#define MCR (COM1 + 4)
#define LSR (COM1 + 5)
#define MSR (COM1 + 6)
#define SCR (COM1 + 7)

#define IRQ4 atomic_load(&fake_irq_level[4])

static void dlab_switches_the_first_two_registers_to_the_divisor(void)
{
	struct machine *m = fake_machine(0);

	outb(m, LCR, 0x83);
	outb(m, DLL, 0x01);
	outb(m, DLM, 0x02);
	CHECK_EQ(inb(m, DLL), 0x01);
	CHECK_EQ(inb(m, DLM), 0x02);
	CHECK_EQ(inb(m, LCR), 0x83);
	outb(m, LCR, 0x03);
	CHECK_EQ(inb(m, IER), 0x00); /* not the divisor */
	outb(m, IER, 0xff);
	CHECK_EQ(inb(m, IER), 0x0f); /* four enable bits */
	outb(m, LCR, 0x83);
	CHECK_EQ(inb(m, DLM), 0x02);
	CHECK_EQ(inb(m, DLL), 0x01);
	outb(m, LCR, 0x03);
	outb(m, SCR, 0x5a);
	CHECK_EQ(inb(m, SCR), 0x5a);
	fake_machine_free(m);
}

static void lsr_shows_an_idle_transmitter_and_received_data(void)
{
	struct machine *m = fake_machine(0);

	CHECK_EQ(inb(m, LSR), 0x60); /* THRE | TEMT */
	outb(m, MCR, 0x10);          /* loopback */
	outb(m, THR, 'a');
	CHECK_EQ(inb(m, LSR), 0x61);
	CHECK_EQ(inb(m, RBR), 'a');
	CHECK_EQ(inb(m, LSR), 0x60);
	fake_machine_free(m);
}

static void fifo_keeps_order_and_overrun_drops_the_new_byte(void)
{
	struct machine *m = fake_machine(0);
	int i, ok = 1;

	outb(m, FCR, 0x07);
	outb(m, MCR, 0x10);
	for (i = 0; i < 20; i++)
		outb(m, THR, (uint8_t)i);
	CHECK_EQ(inb(m, LSR), 0x63); /* DR | OE */
	CHECK_EQ(inb(m, LSR), 0x61); /* OE clears on read */
	for (i = 0; i < 16; i++)
		ok &= inb(m, RBR) == i;
	CHECK(ok);
	CHECK_EQ(inb(m, LSR), 0x60);

	/* FIFO reset empties the receiver. */
	outb(m, THR, 'x');
	outb(m, FCR, 0x03);
	CHECK_EQ(inb(m, LSR) & 1, 0);

	/* 16450 mode: one holding register, the new byte replaces it. */
	outb(m, FCR, 0x00);
	outb(m, THR, 'a');
	outb(m, THR, 'b');
	CHECK_EQ(inb(m, LSR), 0x63);
	CHECK_EQ(inb(m, RBR), 'b');
	CHECK_EQ(inb(m, LSR), 0x60);
	fake_machine_free(m);
}

static void changing_fifo_mode_clears_the_fifo(void)
{
	struct machine *m = fake_machine(0);

	outb(m, MCR, 0x10);
	outb(m, FCR, 0x01);
	outb(m, THR, 'a');
	outb(m, FCR, 0x00);
	CHECK_EQ(inb(m, LSR) & 1, 0);
	outb(m, THR, 'b');
	outb(m, FCR, 0x01);
	CHECK_EQ(inb(m, LSR) & 1, 0);
	fake_machine_free(m);
}

static void iir_reports_the_highest_priority_interrupt(void)
{
	struct machine *m = fake_machine(0);
	int i;

	outb(m, FCR, 0x41); /* FIFO, trigger level 4 */
	outb(m, MCR, 0x10); /* loopback: the modem inputs change */
	inb(m, MSR);        /* clear the deltas */
	CHECK_EQ(inb(m, IIR), 0xc1);
	outb(m, IER, 0x0f);
	CHECK_EQ(inb(m, IIR), 0xc2); /* THRE, cleared by this read */
	CHECK_EQ(inb(m, IIR), 0xc1);
	outb(m, THR, 1);
	CHECK_EQ(inb(m, IIR), 0xcc); /* below trigger: timeout */
	for (i = 2; i <= 4; i++)
		outb(m, THR, (uint8_t)i);
	CHECK_EQ(inb(m, IIR), 0xc4); /* at trigger: data available */
	for (i = 5; i <= 17; i++)
		outb(m, THR, (uint8_t)i);
	CHECK_EQ(inb(m, IIR), 0xc6); /* overrun: line status */
	inb(m, LSR);
	CHECK_EQ(inb(m, IIR), 0xc4);
	for (i = 0; i < 16; i++)
		inb(m, RBR);
	CHECK_EQ(inb(m, IIR), 0xc2); /* THR emptied after the writes */
	CHECK_EQ(inb(m, IIR), 0xc1);
	outb(m, MCR, 0x11); /* DTR -> DSR changes: modem status */
	CHECK_EQ(inb(m, IIR), 0xc0);
	CHECK_EQ(inb(m, MSR), 0x22); /* DSR | DDSR */
	CHECK_EQ(inb(m, IIR), 0xc1);

	/* Without FIFOs the top bits are 0 and any byte is "available". */
	outb(m, FCR, 0x00);
	outb(m, THR, 'z');
	CHECK_EQ(inb(m, IIR), 0x04);
	fake_machine_free(m);
}

static void thre_interrupt_follows_the_datasheet_and_linux_tests(void)
{
	struct machine *m = fake_machine(0);
	uint8_t iir1, iir2;

	outb(m, FCR, 0x01);
	outb(m, MCR, 0x08); /* OUT2 connects the line */
	CHECK_EQ(IRQ4, 0);

	/* Enabling ETBEI with THR empty interrupts at once; reading IIR
	 * while THRE is the source clears it. */
	outb(m, IER, 0x02);
	CHECK_EQ(IRQ4, 1);
	CHECK_EQ(inb(m, IIR), 0xc2);
	CHECK_EQ(IRQ4, 0);

	/* serial8250_startup's test: re-enabling must re-trigger. */
	outb(m, IER, 0x00);
	outb(m, IER, 0x02);
	iir1 = inb(m, IIR);
	outb(m, IER, 0x00);
	outb(m, IER, 0x02);
	iir2 = inb(m, IIR);
	CHECK_EQ(iir1 & 1, 0);
	CHECK_EQ(iir2 & 1, 0);

	/* A THR write clears THRE and, transmission being instant,
	 * raises it again. */
	CHECK_EQ(IRQ4, 0);
	outb(m, THR, 'x');
	CHECK_EQ(IRQ4, 1);
	CHECK_EQ(inb(m, LSR) & 0x60, 0x60);

	/* Disabling ETBEI lowers the line; OUT2 gates it. */
	outb(m, IER, 0x00);
	CHECK_EQ(IRQ4, 0);
	outb(m, IER, 0x02);
	CHECK_EQ(IRQ4, 1);
	outb(m, MCR, 0x00);
	CHECK_EQ(IRQ4, 0);
	outb(m, MCR, 0x08);
	CHECK_EQ(IRQ4, 1);
	outb(m, MCR, 0x18); /* loopback forces OUT2 off the bus */
	CHECK_EQ(IRQ4, 0);
	fake_machine_free(m);
}

static void receive_interrupt_is_level_and_drops_when_drained(void)
{
	struct machine *m = fake_machine(0);

	outb(m, FCR, 0x01);
	outb(m, MCR, 0x18);
	outb(m, THR, 'q');
	outb(m, IER, 0x01);
	outb(m, MCR, 0x08); /* leave loopback: the byte stays */
	CHECK_EQ(IRQ4, 1);
	CHECK_EQ(inb(m, IIR), 0xc4); /* trigger level 1 */
	CHECK_EQ(IRQ4, 1); /* reading IIR does not clear data interrupts */
	CHECK_EQ(inb(m, RBR), 'q');
	CHECK_EQ(IRQ4, 0);
	fake_machine_free(m);
}

static void loopback_wires_modem_outputs_to_inputs(void)
{
	struct machine *m = fake_machine(0);

	CHECK_EQ(inb(m, MSR) & 0xf0, 0xb0); /* DCD, DSR, CTS: a terminal */
	outb(m, MCR, 0x10 | 0x0a);          /* as Linux's autoconfig */
	CHECK_EQ(inb(m, MSR) & 0xf0, 0x90);
	outb(m, MCR, 0x10 | 0x05);
	CHECK_EQ(inb(m, MSR) & 0xf0, 0x60);
	outb(m, MCR, 0x10 | 0x01); /* OUT1 off: RI trailing edge */
	CHECK_EQ(inb(m, MSR) & 0x04, 0x04);
	CHECK_EQ(inb(m, MSR) & 0x0f, 0);
	/* Loopback output goes to the receiver, not the console. */
	outb(m, THR, 'L');
	CHECK_EQ(inb(m, RBR), 'L');
	fake_machine_free(m);
}

/* The probe sequence of Linux's 8250 autoconfig() must end in
 * PORT_16550A and no other model. */
static void linux_8250_autoconfig_sees_a_16550a(void)
{
	struct machine *m = fake_machine(0);

	outb(m, IER, 0);
	CHECK_EQ(inb(m, IER) & 0x0f, 0);
	outb(m, IER, 0x0f);
	CHECK_EQ(inb(m, IER) & 0x0f, 0x0f);
	outb(m, IER, 0);
	outb(m, MCR, 0x1a);
	CHECK_EQ(inb(m, MSR) & 0xf0, 0x90);
	outb(m, MCR, 0);
	outb(m, LCR, 0xbf);
	outb(m, IIR, 0); /* EFR on a 16650 */
	outb(m, LCR, 0);
	outb(m, FCR, 0x01);
	CHECK_EQ(inb(m, IIR) >> 6, 3); /* FIFOs: 16550A */
	outb(m, LCR, 0x80);
	CHECK(inb(m, IIR) != 0); /* no EFR under DLAB: not a ST16C650 */
	outb(m, LCR, 0xbf);
	CHECK(inb(m, IIR) != 0); /* no EFR: not a 16650 */
	outb(m, LCR, 0x80);
	outb(m, FCR, 0x21);
	CHECK(inb(m, IIR) >> 5 != 7); /* no 64-byte FIFO: not a 16750 */
	outb(m, FCR, 0x01);
	outb(m, LCR, 0);
	outb(m, IER, 0x40);
	CHECK_EQ(inb(m, IER) & 0x40, 0); /* not an XScale UART */
	CHECK(inb(m, LSR) != 0xff);
	fake_machine_free(m);
}

static void absent_com_ports_read_all_ones(void)
{
	struct machine *m = fake_machine(0);

	CHECK_EQ(inb(m, 0x2f8 + 5), 0xff);
	CHECK_EQ(inb(m, 0x3e8 + 1), 0xff);
	outb(m, 0x2e8 + 1, 0x0f);
	CHECK_EQ(inb(m, 0x2e8 + 1), 0xff);
	fake_machine_free(m);
}

static bool wait_for_irq4(int level)
{
	for (int i = 0; i < 400; i++) {
		if (IRQ4 == level)
			return true;
		sleep_ms(5);
	}
	return false;
}

/* Console input through a pipe on stdin reaches the FIFO with an
 * interrupt, only once the guest is ready (RTS or ERBFI), and refills
 * the FIFO as the guest drains it. */
static void console_input_arrives_with_an_interrupt(void)
{
	struct machine *m = fake_machine(0);
	int fds[2], saved_in = dup(STDIN_FILENO), i, ok = 1;
	uint8_t big[40];

	CHECK(!pipe(fds));
	CHECK(dup2(fds[0], STDIN_FILENO) == STDIN_FILENO);
	close(fds[0]);
	CHECK(!console_open(m, &m->con));

	outb(m, FCR, 0x07);
	outb(m, MCR, 0x09); /* DTR, OUT2: RTS not yet */
	CHECK(write(fds[1], "hi", 2) == 2);
	sleep_ms(50);
	CHECK_EQ(inb(m, LSR) & 1, 0); /* held back until the guest is ready */
	outb(m, IER, 0x01);
	CHECK_EQ(inb(m, LSR) & 1, 1);
	CHECK_EQ(IRQ4, 1);
	CHECK_EQ(inb(m, RBR), 'h');
	CHECK_EQ(inb(m, RBR), 'i');
	CHECK_EQ(IRQ4, 0);

	/* Asynchronous arrival: the reader thread raises the line. */
	CHECK(write(fds[1], "!", 1) == 1);
	CHECK(wait_for_irq4(1));
	CHECK_EQ(inb(m, RBR), '!');
	CHECK_EQ(IRQ4, 0);

	/* More than the FIFO holds: nothing lost, order kept. */
	for (i = 0; i < 40; i++)
		big[i] = (uint8_t)('A' + i);
	CHECK(write(fds[1], big, sizeof(big)) == sizeof(big));
	for (i = 0; i < 40; i++) {
		if (!wait_for_irq4(1)) {
			ok = 0;
			break;
		}
		ok &= inb(m, RBR) == big[i];
	}
	CHECK(ok);
	CHECK_EQ(inb(m, LSR), 0x60); /* and no overrun */

	close(fds[1]);
	console_close(m->con);
	m->con = NULL;
	dup2(saved_in, STDIN_FILENO);
	close(saved_in);
	fake_machine_free(m);
}

/* The devices can go before the console: the UART unhooks itself, and
 * input arriving afterwards stays in the console. */
static void uart_exit_unhooks_from_an_open_console(void)
{
	struct machine *m = fake_machine(0);
	int fds[2], saved_in = dup(STDIN_FILENO);
	uint8_t b = 0;

	CHECK(!pipe(fds));
	CHECK(dup2(fds[0], STDIN_FILENO) == STDIN_FILENO);
	close(fds[0]);
	CHECK(!console_open(m, &m->con));
	outb(m, IER, 0x01); /* binds and accepts input */
	dev_exit_all(m);
	CHECK(write(fds[1], "z", 1) == 1);
	for (int i = 0; i < 400 && !console_read(m->con, &b, 1); i++)
		sleep_ms(5);
	CHECK_EQ(b, 'z');
	close(fds[1]);
	console_close(m->con);
	m->con = NULL;
	dup2(saved_in, STDIN_FILENO);
	close(saved_in);
	fake_machine_free(m);
}

int main(void)
{
	dlab_switches_the_first_two_registers_to_the_divisor();
	lsr_shows_an_idle_transmitter_and_received_data();
	fifo_keeps_order_and_overrun_drops_the_new_byte();
	changing_fifo_mode_clears_the_fifo();
	iir_reports_the_highest_priority_interrupt();
	thre_interrupt_follows_the_datasheet_and_linux_tests();
	receive_interrupt_is_level_and_drops_when_drained();
	loopback_wires_modem_outputs_to_inputs();
	linux_8250_autoconfig_sees_a_16550a();
	absent_com_ports_read_all_ones();
	console_input_arrives_with_an_interrupt();
	uart_exit_unhooks_from_an_open_console();
	return test_summary("test_uart");
}
