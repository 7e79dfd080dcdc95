/* COM1: a 16550A UART at 0x3f8-0x3ff on ISA IRQ 4, the guest's console
 * (Linux: console=ttyS0).  COM2-COM4 are claimed as absent (reads 0xff,
 * as an empty ISA slot) so probing them stays quiet under --debug-io.
 *
 * Reference: TI/National PC16550D datasheet ("PC16550D UART with FIFOs",
 * SNLS378), tables 2-5 and §8.  Transmission is instantaneous: THR and
 * the transmitter are always empty again by the time the guest looks, so
 * LSR.THRE and LSR.TEMT read 1 and every THR write re-arms the THRE
 * interrupt.  The baud divisor and LCR framing are stored but have no
 * effect.
 *
 * Interrupt line: PCs gate the 8250's INTR pin through a buffer enabled
 * by the OUT2 modem-control output, and loopback mode forces OUT2
 * inactive (datasheet §8.6 MCR bit 4), so IRQ 4 is high exactly when an
 * enabled condition is pending, MCR.OUT2 = 1 and MCR.LOOP = 0.  The line
 * is level (Linux's 8250 driver loops until IIR reads "no interrupt").
 *
 * Input: bytes move from the console into the receive FIFO while there
 * is room, from the console's reader thread (notify callback) and after
 * the guest reads RBR.  Like a terminal honouring flow control, input is
 * only delivered once the guest asserts RTS or enables the receive
 * interrupt; Linux does both only after its start-up FIFO reset, so input
 * typed or piped in early is not thrown away.  State shared with that
 * thread is under s->lock. */
#include "devices/dev.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "console.h"
#include "log.h"
#include "machine.h"

#define COM1_BASE 0x3f8
#define COM1_IRQ 4
#define UART_FIFO_LEN 16

/* Register offsets (datasheet table 2). */
enum {
	UART_RBR = 0, /* read, DLAB=0; THR on write; DLL with DLAB=1 */
	UART_IER = 1, /* DLM with DLAB=1 */
	UART_IIR = 2, /* read; FCR on write */
	UART_LCR = 3,
	UART_MCR = 4,
	UART_LSR = 5,
	UART_MSR = 6,
	UART_SCR = 7,
};

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* THR empty */
#define IER_ELSI 0x04  /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */

/* IIR interrupt identification, highest priority first (table 4). */
#define IIR_NONE 0x01
#define IIR_RLS 0x06  /* OE/PE/FE/BI; cleared by reading LSR */
#define IIR_RDA 0x04  /* at trigger level; cleared below it */
#define IIR_CTI 0x0c  /* below trigger level (timeout); cleared by RBR */
#define IIR_THRE 0x02 /* cleared by reading IIR (when shown) or THR write */
#define IIR_MSI 0x00  /* cleared by reading MSR */
#define IIR_FIFO 0xc0 /* FCR0 = 1 */

#define FCR_ENABLE 0x01
#define FCR_CLR_RX 0x02
#define FCR_CLR_TX 0x04
#define FCR_DMA 0x08
#define FCR_TRIGGER 0xc0

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

struct uart {
	struct machine *m;
	pthread_mutex_t lock;
	struct console *con;      /* bound for input; under lock */
	struct console *con_seen; /* m->con when last bound; vCPU only */

	uint8_t rx[UART_FIFO_LEN]; /* ring: rx_head is the oldest byte */
	unsigned rx_head, rx_count;
	bool overrun;      /* LSR.OE until LSR is read */
	bool thre_pending; /* THRE interrupt armed */
	int irq_level;     /* last level given to machine_set_irq */

	uint8_t ier, fcr, lcr, mcr, msr, scr, dll, dlm, rbr_last;
};

/* Receive FIFO capacity: 16 bytes, or the single RBR in 16450 mode. */
static unsigned rx_capacity(const struct uart *s)
{
	return (s->fcr & FCR_ENABLE) ? UART_FIFO_LEN : 1;
}

/* FCR[7:6] trigger levels: 1, 4, 8, 14 bytes (table 5). */
static unsigned rx_trigger(const struct uart *s)
{
	static const unsigned level[4] = { 1, 4, 8, 14 };

	return level[s->fcr >> 6];
}

/* A byte completed reception.  A full FIFO keeps its contents and loses
 * the new byte; in 16450 mode the new byte replaces the unread one.
 * Either way LSR.OE is set (§8.4 LSR bit 1). */
static void rx_push(struct uart *s, uint8_t b)
{
	if (s->rx_count == rx_capacity(s)) {
		s->overrun = true;
		if (!(s->fcr & FCR_ENABLE))
			s->rx[s->rx_head] = b;
		return;
	}
	s->rx[(s->rx_head + s->rx_count++) % UART_FIFO_LEN] = b;
}

static uint8_t rx_pop(struct uart *s)
{
	if (s->rx_count) {
		s->rbr_last = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % UART_FIFO_LEN;
		s->rx_count--;
	}
	return s->rbr_last;
}

static void rx_reset(struct uart *s)
{
	s->rx_head = s->rx_count = 0;
}

/* The interrupt the IIR reports now (table 4 priorities). */
static uint8_t uart_iir_id(const struct uart *s)
{
	if ((s->ier & IER_ELSI) && s->overrun)
		return IIR_RLS;
	if ((s->ier & IER_ERBFI) && s->rx_count) {
		if ((s->fcr & FCR_ENABLE) && s->rx_count < rx_trigger(s))
			return IIR_CTI;
		return IIR_RDA;
	}
	if ((s->ier & IER_ETBEI) && s->thre_pending)
		return IIR_THRE;
	if ((s->ier & IER_EDSSI) && (s->msr & 0x0f))
		return IIR_MSI;
	return IIR_NONE;
}

static void uart_update_irq(struct uart *s)
{
	int level = uart_iir_id(s) != IIR_NONE &&
		    (s->mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2;

	if (level != s->irq_level) {
		s->irq_level = level;
		machine_set_irq(s->m, COM1_IRQ, level);
	}
}

/* Modem status inputs: a connected terminal (DCD, DSR, CTS) or, in
 * loopback, the MCR outputs (DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD;
 * §8.6).  Changes latch the delta bits (RI: trailing edge only). */
static void uart_update_msr(struct uart *s)
{
	uint8_t in = MSR_DCD | MSR_DSR | MSR_CTS, old = s->msr, delta = 0;

	if (s->mcr & MCR_LOOP)
		in = ((s->mcr & MCR_DTR) ? MSR_DSR : 0) |
		     ((s->mcr & MCR_RTS) ? MSR_CTS : 0) |
		     ((s->mcr & MCR_OUT1) ? MSR_RI : 0) |
		     ((s->mcr & MCR_OUT2) ? MSR_DCD : 0);
	if ((in ^ old) & MSR_CTS)
		delta |= MSR_DCTS;
	if ((in ^ old) & MSR_DSR)
		delta |= MSR_DDSR;
	if ((old & MSR_RI) && !(in & MSR_RI))
		delta |= MSR_TERI;
	if ((in ^ old) & MSR_DCD)
		delta |= MSR_DDCD;
	s->msr = in | (old & 0x0f) | delta;
}

/* Moves console input into the FIFO while it has room.  Under lock. */
static void uart_pull_input(struct uart *s)
{
	uint8_t buf[UART_FIFO_LEN];
	size_t n, i;

	if (!s->con || (s->mcr & MCR_LOOP) ||
	    !((s->mcr & MCR_RTS) || (s->ier & IER_ERBFI)))
		return;
	while (s->rx_count < rx_capacity(s)) {
		n = console_read(s->con, buf, rx_capacity(s) - s->rx_count);
		if (!n)
			break;
		for (i = 0; i < n; i++)
			rx_push(s, buf[i]);
	}
}

/* Console reader thread: new input is pending. */
static void uart_notify(void *opaque)
{
	struct uart *s = opaque;

	pthread_mutex_lock(&s->lock);
	uart_pull_input(s);
	uart_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

/* The console is opened after the devices; bind to whatever m->con is
 * now.  A console that went away was closed first, which stopped its
 * reader thread, so the old one is simply forgotten.  vCPU thread. */
static void uart_bind_console(struct uart *s)
{
	struct console *con = s->m->con;

	s->con_seen = con;
	pthread_mutex_lock(&s->lock);
	s->con = con;
	pthread_mutex_unlock(&s->lock);
	if (con)
		console_set_notify(con, uart_notify, s);
}

static uint8_t uart_read(struct uart *s, unsigned off)
{
	uint8_t v, id;

	switch (off) {
	case UART_RBR:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		v = rx_pop(s);
		uart_pull_input(s);
		return v;
	case UART_IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case UART_IIR:
		id = uart_iir_id(s);
		if (id == IIR_THRE)
			s->thre_pending = false;
		return id | ((s->fcr & FCR_ENABLE) ? IIR_FIFO : 0);
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		v = LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0) |
		    (s->overrun ? LSR_OE : 0);
		s->overrun = false;
		return v;
	case UART_MSR:
		v = s->msr;
		s->msr &= 0xf0;
		return v;
	default:
		return s->scr;
	}
}

static void uart_write_thr(struct uart *s, uint8_t v)
{
	if (s->mcr & MCR_LOOP)
		rx_push(s, v);
	else if (s->con)
		console_write(s->con, &v, 1);
	/* THR and the transmitter are empty again at once: the THRE
	 * interrupt clears on the write and re-arms on the emptying. */
	s->thre_pending = true;
}

static void uart_write_fcr(struct uart *s, uint8_t v)
{
	/* Changing FCR0 clears both FIFOs; with FCR0 = 0 the other bits
	 * are not programmed (§8.5 FCR). */
	if ((v ^ s->fcr) & FCR_ENABLE)
		rx_reset(s);
	if (!(v & FCR_ENABLE)) {
		s->fcr = 0;
		return;
	}
	if (v & FCR_CLR_RX)
		rx_reset(s);
	s->fcr = v & (FCR_ENABLE | FCR_DMA | FCR_TRIGGER);
}

static void uart_write(struct uart *s, unsigned off, uint8_t v)
{
	uint8_t old;

	switch (off) {
	case UART_RBR:
		if (s->lcr & LCR_DLAB)
			s->dll = v;
		else
			uart_write_thr(s, v);
		break;
	case UART_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			break;
		}
		old = s->ier;
		s->ier = v & 0x0f;
		/* Enabling ETBEI while THR is empty (it always is) raises
		 * THRE at once; Linux's start-up test relies on it. */
		if (!(old & IER_ETBEI) && (s->ier & IER_ETBEI))
			s->thre_pending = true;
		break;
	case UART_IIR:
		uart_write_fcr(s, v);
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & 0x1f;
		uart_update_msr(s);
		break;
	case UART_SCR:
		s->scr = v;
		break;
	default: /* LSR and MSR writes are for factory testing */
		break;
	}
	/* FIFO size, RTS, ERBFI or loopback may now let input in. */
	if (off == UART_IER || off == UART_IIR || off == UART_MCR)
		uart_pull_input(s);
}

static void uart_io(void *opaque, uint64_t off, bool is_write, void *data,
		    unsigned size)
{
	struct uart *s = opaque;
	uint8_t *p = data;
	unsigned i;

	if (s->m->con != s->con_seen)
		uart_bind_console(s);
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < size; i++) {
		if (off + i > UART_SCR) {
			if (!is_write)
				p[i] = 0xff;
		} else if (is_write) {
			uart_write(s, (unsigned)off + i, p[i]);
		} else {
			p[i] = uart_read(s, (unsigned)off + i);
		}
	}
	uart_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

/* COM2-COM4: nothing answers (an empty ISA bus reads all ones). */
static void uart_absent_io(void *opaque, uint64_t off, bool is_write,
			   void *data, unsigned size)
{
	uint8_t *p = data;
	unsigned i;

	for (i = 0; !is_write && i < size; i++)
		p[i] = 0xff;
}

int dev_uart_init(struct machine *m, void **state, struct rax_err *e)
{
	static const uint16_t absent[] = { 0x2f8, 0x3e8, 0x2e8 };
	struct uart *s;
	unsigned i;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return rax_errf(e, -ENOMEM, "uart: out of memory");
	ret = -pthread_mutex_init(&s->lock, NULL);
	if (ret) {
		rax_errf(e, ret, "uart: cannot create its lock");
		goto out_free;
	}
	s->m = m;
	s->dll = 0x0c; /* 9600 baud, as PC firmware leaves it */
	s->lcr = 0x03; /* 8N1 */
	s->msr = MSR_DCD | MSR_DSR | MSR_CTS;
	ret = iobus_register(&m->pio, COM1_BASE, 8, uart_io, s, "com1");
	if (ret) {
		rax_errf(e, ret, "uart: cannot claim ports %#x-%#x", COM1_BASE,
			 COM1_BASE + 7);
		goto out_lock;
	}
	for (i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
		ret = iobus_register(&m->pio, absent[i], 8, uart_absent_io,
				     NULL, "com-absent");
		if (ret) {
			rax_errf(e, ret, "uart: cannot claim ports %#x-%#x",
				 absent[i], absent[i] + 7);
			goto out_lock;
		}
	}
	*state = s;
	return 0;

out_lock:
	pthread_mutex_destroy(&s->lock);
out_free:
	free(s);
	return ret;
}

void dev_uart_exit(struct machine *m, void *state)
{
	struct uart *s = state;

	/* A console still open must stop calling into s. */
	if (s->con_seen && s->con_seen == m->con)
		console_set_notify(s->con_seen, NULL, NULL);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* The history's hook (dev.h). */
DEV_SNAP_LOCKED(uart, struct uart, lock)
