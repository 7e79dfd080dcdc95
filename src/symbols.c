/* Kernel symbols: see symbols.h.  ELF64 layout: System V gABI, "Sections"
 * and "Symbol Table"; only the section headers, .symtab and its string
 * table are read, each bounds-checked against the file. */
#include "symbols.h"

#include <elf.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int by_addr(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static bool in_file(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* Copies the wanted symbols of the mapped image into t. */
static int sym_parse(struct symtab *t, const uint8_t *img, uint64_t size,
		     const char *path, struct rax_err *e)
{
	const Elf64_Ehdr *eh = (const void *)img;
	const Elf64_Shdr *sh, *st = NULL, *str;
	const Elf64_Sym *syms;
	uint64_t nsyms;
	char *p;

	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64)
		return rax_errf(e, -ENOEXEC, "%s: not an ELF64 file", path);
	if (eh->e_shentsize != sizeof(*sh) ||
	    !in_file(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(*sh), size))
		return rax_errf(e, -ENOEXEC, "%s: bad section headers", path);
	sh = (const void *)(img + eh->e_shoff);
	for (unsigned i = 0; i < eh->e_shnum; i++)
		if (sh[i].sh_type == SHT_SYMTAB)
			st = &sh[i];
	if (!st || st->sh_link >= eh->e_shnum ||
	    !in_file(st->sh_offset, st->sh_size, size))
		return rax_errf(e, -ENOENT, "%s: no symbol table", path);
	str = &sh[st->sh_link];
	if (!in_file(str->sh_offset, str->sh_size, size) || !str->sh_size)
		return rax_errf(e, -ENOEXEC, "%s: bad string table", path);
	syms = (const void *)(img + st->sh_offset);
	nsyms = st->sh_size / sizeof(*syms);
	t->s = calloc(nsyms ? nsyms : 1, sizeof(*t->s));
	t->strings = malloc(str->sh_size + 1);
	if (!t->s || !t->strings)
		return rax_errf(e, -ENOMEM, "%s: out of memory", path);
	memcpy(t->strings, img + str->sh_offset, str->sh_size);
	t->strings[str->sh_size] = '\0';
	p = t->strings;
	for (uint64_t i = 0; i < nsyms; i++) {
		unsigned type = ELF64_ST_TYPE(syms[i].st_info);

		if ((type != STT_FUNC && type != STT_OBJECT &&
		     type != STT_NOTYPE) || !syms[i].st_value ||
		    syms[i].st_name >= str->sh_size || !p[syms[i].st_name])
			continue;
		t->s[t->n++] = (struct sym){ syms[i].st_value, syms[i].st_size,
					     p + syms[i].st_name };
	}
	qsort(t->s, t->n, sizeof(*t->s), by_addr);
	return t->n ? 0 : rax_errf(e, -ENOENT, "%s: no symbols", path);
}

int sym_load(struct symtab *t, const char *path, struct rax_err *e)
{
	struct stat stb;
	void *img;
	int fd, ret;

	memset(t, 0, sizeof(*t));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rax_errf(e, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &stb) || stb.st_size == 0) {
		close(fd);
		return rax_errf(e, -ENOEXEC, "%s: empty or unreadable", path);
	}
	img = mmap(NULL, stb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (img == MAP_FAILED)
		return rax_errf(e, -errno, "%s: %s", path, strerror(errno));
	ret = sym_parse(t, img, (uint64_t)stb.st_size, path, e);
	munmap(img, stb.st_size);
	if (ret)
		sym_free(t);
	return ret;
}

void sym_free(struct symtab *t)
{
	free(t->s);
	free(t->strings);
	memset(t, 0, sizeof(*t));
}

const struct sym *sym_at(const struct symtab *t, uint64_t addr)
{
	size_t lo = 0, hi = t->n;

	if (!t->n || addr < t->s[0].addr)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->s[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	/* Prefer a sized symbol that contains addr among equal addresses. */
	if (t->s[lo].size && addr - t->s[lo].addr >= t->s[lo].size)
		return NULL;
	return &t->s[lo];
}

uint64_t sym_addr(const struct symtab *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->s[i].name, name))
			return t->s[i].addr;
	return 0;
}

void sym_format(const struct symtab *t, uint64_t addr, char *buf, size_t len)
{
	const struct sym *s = t ? sym_at(t, addr) : NULL;

	if (!s)
		snprintf(buf, len, "%s", "");
	else if (addr == s->addr)
		snprintf(buf, len, "%s", s->name);
	else
		snprintf(buf, len, "%s+%#llx", s->name,
			 (unsigned long long)(addr - s->addr));
}
