/* Unit tests of the ELF symbol table behind --symbols: the test reads its
 * own executable's .symtab.  Run: ./tests/unit/test_symbols */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "symbols.h"
#include "test.h"

int probe_function_for_symbols(int x);
int probe_function_for_symbols(int x)
{
	return x * 3 + 1;
}

static void own_functions_are_found_by_name_and_address(void)
{
	struct symtab t;
	struct rax_err e;
	const struct sym *s;
	uint64_t a;
	char buf[96];

	CHECK(!sym_load(&t, "/proc/self/exe", &e));
	a = sym_addr(&t, "probe_function_for_symbols");
	CHECK(a != 0);
	s = sym_at(&t, a);
	CHECK(s && !strcmp(s->name, "probe_function_for_symbols"));
	CHECK(s && s->size > 1);
	sym_format(&t, a + 1, buf, sizeof(buf));
	CHECK(!strcmp(buf, "probe_function_for_symbols+0x1"));
	sym_format(&t, a, buf, sizeof(buf));
	CHECK(!strcmp(buf, "probe_function_for_symbols"));
	CHECK(sym_addr(&t, "no_such_symbol_anywhere") == 0);
	for (size_t i = 1; i < t.n; i++)
		if (t.s[i - 1].addr > t.s[i].addr) {
			CHECK(!"sorted by address");
			break;
		}
	sym_free(&t);
	CHECK(probe_function_for_symbols(1) == 4);
}

static void files_that_are_not_elf_are_refused_with_their_name(void)
{
	struct symtab t;
	struct rax_err e;

	CHECK(sym_load(&t, "/nonexistent/vmlinux", &e) == -ENOENT);
	CHECK(strstr(e.msg, "/nonexistent/vmlinux") != NULL);
	CHECK(sym_load(&t, "/etc/passwd", &e) == -ENOEXEC);
	CHECK(strstr(e.msg, "not an ELF64") != NULL);
	CHECK(sym_load(&t, "/dev/null", &e) == -ENOEXEC);
}

int main(void)
{
	own_functions_are_found_by_name_and_address();
	files_that_are_not_elf_are_refused_with_their_name();
	return test_summary("test_symbols");
}
