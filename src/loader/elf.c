/* vmlinux loading: an ELF64 x86-64 executable whose PT_LOAD segments go
 * to their physical addresses (p_paddr).  On x86-64, vmlinux.lds.S says
 * ENTRY(phys_startup_64), so e_entry is already physical; a virtual entry
 * is translated through the segment that contains it. */
#include "loader/ld_int.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

int ld_is_elf(const struct ld_image *img)
{
	return img->size >= SELFMAG && !memcmp(img->p, ELFMAG, SELFMAG);
}

static int check_ehdr(const struct ld_image *img, const Elf64_Ehdr *eh,
		      struct rax_err *e)
{
	uint64_t ph_end;

	if (eh->e_ident[EI_CLASS] == ELFCLASS32)
		return rax_errf(e, -ENOEXEC, "%s: not an x86-64 ELF64 kernel: "
				"a 32-bit ELF without a Multiboot header in "
				"its first 8 KiB", img->path);
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64)
		return rax_errf(e, -ENOEXEC, "%s: not an x86-64 ELF64 "
				"kernel", img->path);
	if (eh->e_type != ET_EXEC)
		return rax_errf(e, -ENOEXEC, "%s: ELF type %u is not an "
				"executable (ET_EXEC)", img->path, eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || !eh->e_phnum)
		return rax_errf(e, -ENOEXEC, "%s: ELF has no usable program "
				"headers", img->path);
	ph_end = eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);
	if (eh->e_phoff > img->size || ph_end > img->size)
		return rax_errf(e, -EINVAL, "%s: truncated ELF: program "
				"headers end at %#llx, the file has %zu bytes",
				img->path, (unsigned long long)ph_end,
				img->size);
	return 0;
}

static int load_segment(struct guest_mem *gm, const struct ld_image *img,
			const Elf64_Phdr *ph, unsigned i, struct rax_err *e)
{
	uint8_t *dst;

	if (ph->p_filesz > ph->p_memsz || ph->p_offset > img->size ||
	    ph->p_filesz > img->size - ph->p_offset)
		return rax_errf(e, -EINVAL, "%s: truncated ELF: segment %u "
				"(offset %#llx, %#llx bytes) is past the end "
				"of the file", img->path, i,
				(unsigned long long)ph->p_offset,
				(unsigned long long)ph->p_filesz);
	if (ph->p_paddr < LD_HIGH_START)
		return rax_errf(e, -EINVAL, "%s: ELF segment %u at %#llx "
				"overlaps the boot area below 1 MiB", img->path,
				i, (unsigned long long)ph->p_paddr);
	dst = gm_ptr(gm, ph->p_paddr, ph->p_memsz);
	if (!dst)
		return rax_errf(e, -EFBIG, "%s: ELF segment %u (%#llx+%#llx) "
				"does not fit in guest memory", img->path, i,
				(unsigned long long)ph->p_paddr,
				(unsigned long long)ph->p_memsz);
	memcpy(dst, img->p + ph->p_offset, ph->p_filesz);
	memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	return 0;
}

/* Program header i; e_phoff is untrusted, so copy rather than cast. */
static Elf64_Phdr phdr(const struct ld_image *img, const Elf64_Ehdr *eh,
		       unsigned i)
{
	Elf64_Phdr ph;

	memcpy(&ph, img->p + eh->e_phoff + (size_t)i * sizeof(ph), sizeof(ph));
	return ph;
}

/* The entry as a physical address, or 0 when no segment contains it. */
static uint64_t phys_entry(const struct ld_image *img, const Elf64_Ehdr *eh)
{
	uint64_t entry = eh->e_entry;
	Elf64_Phdr ph;
	unsigned i;

	for (i = 0; i < eh->e_phnum; i++) {
		ph = phdr(img, eh, i);
		if (ph.p_type == PT_LOAD && entry >= ph.p_paddr &&
		    entry - ph.p_paddr < ph.p_memsz)
			return entry;
	}
	for (i = 0; i < eh->e_phnum; i++) {
		ph = phdr(img, eh, i);
		if (ph.p_type == PT_LOAD && entry >= ph.p_vaddr &&
		    entry - ph.p_vaddr < ph.p_memsz)
			return ph.p_paddr + (entry - ph.p_vaddr);
	}
	return 0;
}

int ld_elf_load(struct guest_mem *gm, const struct ld_image *img,
		struct ld_elf_result *r, struct rax_err *e)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	unsigned i, loaded = 0;
	int ret;

	if (img->size < sizeof(eh))
		return rax_errf(e, -EINVAL, "%s: truncated ELF header (%zu "
				"bytes)", img->path, img->size);
	memcpy(&eh, img->p, sizeof(eh));
	ret = check_ehdr(img, &eh, e);
	if (ret)
		return ret;
	r->start = UINT64_MAX;
	r->end = 0;
	for (i = 0; i < eh.e_phnum; i++) {
		ph = phdr(img, &eh, i);
		if (ph.p_type != PT_LOAD || !ph.p_memsz)
			continue;
		ret = load_segment(gm, img, &ph, i, e);
		if (ret)
			return ret;
		if (ph.p_paddr < r->start)
			r->start = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > r->end)
			r->end = ph.p_paddr + ph.p_memsz;
		loaded++;
	}
	if (!loaded)
		return rax_errf(e, -ENOEXEC, "%s: ELF has no loadable segments",
				img->path);
	r->entry = phys_entry(img, &eh);
	if (!r->entry)
		return rax_errf(e, -ENOEXEC, "%s: ELF entry %#llx is outside "
				"its loadable segments", img->path,
				(unsigned long long)eh.e_entry);
	return 0;
}
