/* Unit tests of the small board devices: i8042 (self-test, command byte,
 * reset), the 0xcf9 and 0x92 reset bits, isa-debug-exit, debugcon, port
 * 0x80, and the device table itself.
 * Run: ./tests/unit/test_board (from the build folder). */
#include <stdint.h>
#include <string.h>

#include "fake_machine.h"
#include "iobus.h"
#include "test.h"

static void i8042_self_test_and_command_byte_work(void)
{
	struct machine *m = fake_machine(0);

	CHECK_EQ(inb(m, 0x64) & 0x03, 0); /* nothing to read, ready */
	CHECK(inb(m, 0x64) & 0x04);       /* system flag */
	outb(m, 0x64, 0xaa);
	CHECK_EQ(inb(m, 0x64) & 0x01, 1);
	CHECK_EQ(inb(m, 0x60), 0x55);
	CHECK_EQ(inb(m, 0x64) & 0x01, 0);
	outb(m, 0x64, 0x20);
	CHECK_EQ(inb(m, 0x60), 0x65);
	outb(m, 0x64, 0x60);
	CHECK_EQ(inb(m, 0x64) & 0x08, 0x08); /* last write was a command */
	outb(m, 0x60, 0x44);
	outb(m, 0x64, 0x20);
	CHECK_EQ(inb(m, 0x60), 0x44);
	outb(m, 0x64, 0xad);
	outb(m, 0x64, 0x20);
	CHECK_EQ(inb(m, 0x60), 0x54);
	outb(m, 0x64, 0xae);
	outb(m, 0x64, 0x20);
	CHECK_EQ(inb(m, 0x60), 0x44);
	CHECK(!atomic_load(&m->exit_requested));
	fake_machine_free(m);
}

static void i8042_answers_for_the_absent_keyboard_with_irq_1(void)
{
	struct machine *m = fake_machine(0);

	outb(m, 0x64, 0x60);
	outb(m, 0x60, 0x45); /* keyboard interrupt enabled */
	CHECK_EQ(atomic_load(&fake_irq_level[1]), 0);
	outb(m, 0x60, 0xf2); /* keyboard "get ID" */
	CHECK_EQ(inb(m, 0x64) & 0x41, 0x41); /* data, with timeout */
	CHECK_EQ(atomic_load(&fake_irq_level[1]), 1);
	CHECK_EQ(inb(m, 0x60), 0xfe);
	CHECK_EQ(atomic_load(&fake_irq_level[1]), 0);
	CHECK_EQ(inb(m, 0x64) & 0x41, 0);
	outb(m, 0x64, 0xa9); /* AUX test: no mouse port */
	CHECK_EQ(inb(m, 0x60), 0x01);
	fake_machine_free(m);
}

static void i8042_pulse_reset_requests_a_clean_exit(void)
{
	struct machine *m = fake_machine(0);

	outb(m, 0x64, 0xff); /* pulses nothing */
	CHECK(!atomic_load(&m->exit_requested));
	outb(m, 0x64, 0xfe);
	CHECK(atomic_load(&m->exit_requested));
	CHECK_EQ(m->exit_status, 0);
	CHECK(!strcmp(m->exit_reason, "guest requested reset"));
	fake_machine_free(m);
}

static void i8042_output_port_bit_0_is_the_reset_line(void)
{
	struct machine *m = fake_machine(0);

	outb(m, 0x64, 0xd1);
	outb(m, 0x60, 0x03);
	CHECK(!atomic_load(&m->exit_requested));
	outb(m, 0x64, 0xd0);
	CHECK_EQ(inb(m, 0x60), 0x03);
	outb(m, 0x64, 0xd1);
	outb(m, 0x60, 0x02);
	CHECK(atomic_load(&m->exit_requested));
	CHECK_EQ(m->exit_status, 0);
	fake_machine_free(m);
}

static void reset_control_register_resets_on_rst_cpu(void)
{
	struct machine *m = fake_machine(0);

	outb(m, 0xcf9, 0x02); /* hard reset selected, not started */
	CHECK(!atomic_load(&m->exit_requested));
	CHECK_EQ(inb(m, 0xcf9), 0x02);
	outb(m, 0xcf9, 0x06);
	CHECK(atomic_load(&m->exit_requested));
	CHECK_EQ(m->exit_status, 0);
	CHECK(!strcmp(m->exit_reason, "guest requested reset"));
	fake_machine_free(m);
}

static void port_92_bit_0_resets(void)
{
	struct machine *m = fake_machine(0);

	CHECK_EQ(inb(m, 0x92), 0x02); /* A20 on */
	outb(m, 0x92, 0x02);
	CHECK(!atomic_load(&m->exit_requested));
	outb(m, 0x92, 0x03);
	CHECK(atomic_load(&m->exit_requested));
	CHECK_EQ(m->exit_status, 0);
	fake_machine_free(m);
}

static void debug_exit_status_is_value_shifted_with_bit_0(void)
{
	struct machine *m = fake_machine(0);

	outb(m, 0xf4, 0x10);
	CHECK(atomic_load(&m->exit_requested));
	CHECK_EQ(m->exit_status, 0x21);
	CHECK(!strcmp(m->exit_reason, "guest wrote 0x10 to isa-debug-exit"));
	fake_machine_free(m);

	m = fake_machine(0);
	outb(m, 0xf4, 0);
	CHECK_EQ(m->exit_status, 1);
	fake_machine_free(m);

	m = fake_machine(0);
	outl(m, 0xf4, 0x31);
	CHECK_EQ(m->exit_status, 0x63);
	fake_machine_free(m);
}

static void debugcon_identifies_itself_and_port_80_is_claimed(void)
{
	struct machine *m = fake_machine(0);

	CHECK_EQ(inb(m, 0xe9), 0xe9);
	outb(m, 0xe9, 'o');
	outb(m, 0xe9, 'k');
	outb(m, 0xe9, '\n');
	CHECK(iobus_find(&m->pio, 0x80) != NULL);
	outb(m, 0x80, 0x12);
	CHECK_EQ(inb(m, 0x80), 0xff);
	CHECK(!atomic_load(&m->exit_requested));
	fake_machine_free(m);
}

static void device_table_registers_every_range_once_and_unwinds(void)
{
	struct machine *m = fake_machine(0);
	static const uint16_t ports[] = {
		0x3f8, 0x2f8, 0x70, 0x71, 0xcf8, 0xcf9, 0xcfc, 0xcff, 0x60,
		0x64, 0x92, 0xf4, 0xe9, 0x80,
	};
	struct rax_err e;
	int n;

	for (unsigned i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		CHECK(iobus_find(&m->pio, ports[i]) != NULL);
	CHECK(m->devs != NULL);
	dev_exit_all(m);
	CHECK(m->devs == NULL);
	dev_exit_all(m); /* twice is harmless */

	/* A full bus makes init fail cleanly with a message. */
	n = m->pio.n;
	m->pio.n = IOBUS_MAX;
	CHECK(dev_init_all(m, &e) < 0);
	CHECK(m->devs == NULL);
	CHECK(strstr(e.msg, "uart") != NULL);
	m->pio.n = n;
	fake_machine_free(m);
}

int main(void)
{
	i8042_self_test_and_command_byte_work();
	i8042_answers_for_the_absent_keyboard_with_irq_1();
	i8042_pulse_reset_requests_a_clean_exit();
	i8042_output_port_bit_0_is_the_reset_line();
	reset_control_register_resets_on_rst_cpu();
	port_92_bit_0_resets();
	debug_exit_status_is_value_shifted_with_bit_0();
	debugcon_identifies_itself_and_port_80_is_claimed();
	device_table_registers_every_range_once_and_unwinds();
	return test_summary("test_board");
}
