/* Kernel symbols from a vmlinux ELF's .symtab, for --symbols: traces
 * print function names, --trace-from takes a symbol. */
#ifndef RAX_SYMBOLS_H
#define RAX_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct sym {
	uint64_t addr, size;
	const char *name;
};

struct symtab {
	struct sym *s;   /* sorted by address */
	size_t n;
	char *strings;   /* owns the names */
};

/* Reads the function and object symbols of the ELF64 file at path.
 * Returns 0, or -errno with a message naming the file in *e. */
int sym_load(struct symtab *t, const char *path, struct rax_err *e)
	__attribute__((warn_unused_result));
void sym_free(struct symtab *t);

/* The symbol containing addr (or the nearest one below it when sizes are
 * zero), or NULL. */
const struct sym *sym_at(const struct symtab *t, uint64_t addr);
/* The address of the first symbol named name; 0 when there is none. */
uint64_t sym_addr(const struct symtab *t, const char *name);

/* Formats "name+0xoff" (or "name") for addr into buf; "" when unknown. */
void sym_format(const struct symtab *t, uint64_t addr, char *buf, size_t len);

#endif
