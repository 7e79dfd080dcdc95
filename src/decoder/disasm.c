/* Disassembler: Intel syntax (as objdump -M intel) rendered from the
 * operand notation of opcodes.def (SDM Vol. 2 Appendix A.2). */
#include "decoder/decoder.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const reg64[16] = { "rax", "rcx", "rdx", "rbx", "rsp",
	"rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
	"r15" };
static const char *const reg32[16] = { "eax", "ecx", "edx", "ebx", "esp",
	"ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d", "r13d",
	"r14d", "r15d" };
static const char *const reg16[16] = { "ax", "cx", "dx", "bx", "sp", "bp",
	"si", "di", "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w",
	"r15w" };
static const char *const reg8rex[16] = { "al", "cl", "dl", "bl", "spl",
	"bpl", "sil", "dil", "r8b", "r9b", "r10b", "r11b", "r12b", "r13b",
	"r14b", "r15b" };
static const char *const reg8[8] = { "al", "cl", "dl", "bl", "ah", "ch",
	"dh", "bh" };
static const char *const sregs[8] = { "es", "cs", "ss", "ds", "fs", "gs",
	"?", "?" };

/* Picks entry i of a "a|b|c" list into buf. */
static const char *pick(const char *list, unsigned i, char *buf, size_t len)
{
	const char *p = list, *e;

	while (i-- && (p = strchr(p, '|')))
		p++;
	if (!p)
		return "?";
	e = strchr(p, '|');
	snprintf(buf, len, "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
	return buf;
}

/* Mnemonics that depend on ModRM beyond the opcode list's selectors
 * (objdump's names). */
static const char *special_mnemonic(const struct dec_insn *d)
{
	switch (d->op) {
	case 0x090: return d->rm == 8 ? "xchg" : NULL;
	default:
		return NULL;
	}
}

/* Entry i of a list (pick), then of an "x/y" entry x, or y with REX.W. */
static const char *pick_w(const char *list, unsigned i, bool w, char *buf,
			  size_t len)
{
	char *slash;

	pick(list, i, buf, len);
	slash = strchr(buf, '/');
	if (slash && w)
		memmove(buf, slash + 1, strlen(slash));
	else if (slash)
		*slash = 0;
	return buf;
}

const char *dec_mnemonic(const struct dec_insn *d, char *buf, size_t len)
{
	const struct dec_attr *a = &dec_attrs[d->op];
	bool w = a->flags & DF_BYVEXL ? DEC_VEX_L(d) : d->rex & 8;
	unsigned i = d->op & 7;

	if (!a->flags)
		return "(bad)";
	if (special_mnemonic(d))
		return special_mnemonic(d);
	if (!strchr(a->mnem, '|') && !strchr(a->mnem, '/'))
		return a->mnem;
	if (a->flags & DF_BYREG)
		i = d->reg & 7;
	else if (a->flags & DF_BYPFX)
		i = d->pfx;
	else if (a->flags & DF_BYSIZE)
		i = d->opsz == 8 ? 2 : d->opsz == 4;
	else if (!strchr(a->mnem, '|'))
		i = 0;
	return pick_w(a->mnem, i, w, buf, len);
}

static const char *gpr(unsigned r, unsigned sz, bool rex)
{
	switch (sz) {
	case 1: return rex ? reg8rex[r & 15] : reg8[r & 7];
	case 2: return reg16[r & 15];
	case 4: return reg32[r & 15];
	default: return reg64[r & 15];
	}
}

/* XMM, or YMM for VEX.L = 1. */
static const char *vreg_name(const struct dec_insn *d)
{
	return d->vex && DEC_VEX_L(d) ? "ymm" : "xmm";
}

static const char *ptr_name(unsigned sz)
{
	switch (sz) {
	case 1: return "BYTE PTR ";
	case 2: return "WORD PTR ";
	case 4: return "DWORD PTR ";
	case 8: return "QWORD PTR ";
	case 10: return "TBYTE PTR ";
	case 6: return "FWORD PTR ";
	case 16: return "XMMWORD PTR ";
	case 32: return "YMMWORD PTR ";
	default: return "";
	}
}

static int mem_operand(const struct dec_insn *d, unsigned sz, uint64_t next,
		       char *b, size_t n)
{
	const char *const *names = d->adsz == 8 ? reg64 :
		d->adsz == 4 ? reg32 : reg16;
	int o = snprintf(b, n, "%s", ptr_name(sz));
	bool any = false;

	if (!d->riprel && d->base == DEC_NOREG && d->index == DEC_NOREG)
		return o + snprintf(b + o, n - o, "%s:0x%x", sregs[d->seg ==
				    DEC_NOREG ? 3 : d->seg], (unsigned)d->disp);
	if (d->seg != DEC_NOREG)
		o += snprintf(b + o, n - o, "%s:", sregs[d->seg]);
	o += snprintf(b + o, n - o, "[");
	if (d->riprel) {
		o += snprintf(b + o, n - o, "rip%s0x%x] # 0x%" PRIx64,
			      d->disp < 0 ? "-" : "+", d->disp < 0 ?
			      -(unsigned)d->disp : (unsigned)d->disp,
			      next + (uint64_t)(int64_t)d->disp);
		return o;
	}
	if (d->base != DEC_NOREG) {
		o += snprintf(b + o, n - o, "%s", names[d->base]);
		any = true;
	}
	if (d->index != DEC_NOREG && d->adsz == 2) { /* no scale */
		o += snprintf(b + o, n - o, "+%s", names[d->index]);
	} else if (d->index != DEC_NOREG) {
		o += snprintf(b + o, n - o, "%s%s*%u", any ? "+" : "",
			      names[d->index], 1u << d->scale);
		any = true;
	}
	if (d->disp || !any || d->mod == 1 || d->mod == 2)
		o += snprintf(b + o, n - o, "%s0x%x", !any ? "" :
			      d->disp < 0 ? "-" : "+",
			      any && d->disp < 0 ? -(unsigned)d->disp :
			      (unsigned)d->disp);
	o += snprintf(b + o, n - o, "]");
	return o;
}

/* Size of an operand from its Appendix A size letter. */
static unsigned op_size(const struct dec_insn *d, char s)
{
	switch (s) {
	case 'b': return 1;
	case 'w': return 2;
	case 'd': return 4;
	case 'q': return 8;
	case 't': return 10;
	case 'x': return d->vex && DEC_VEX_L(d) ? 32 : 16;
	case 'o': return 16;            /* 16 bytes whatever VEX.L says */
	case 'y': return d->opsz == 8 ? 8 : 4;
	case 'z': return d->opsz == 2 ? 2 : 4;
	case 'p': return d->opsz + 2;   /* far pointer m16:16/32/64 */
	case 'a': return 2 * d->opsz;   /* BOUND's pair */
	default: return d->opsz;
	}
}

static int operand(const struct dec_insn *d, const char *o, uint64_t next,
		   char *b, size_t n)
{
	unsigned sz = op_size(d, o[1]);
	bool rex = d->rex != 0;

	if (!strcmp(o, "CL"))
		return snprintf(b, n, "cl");
	switch (o[0]) {
	case 'E': case 'M': case 'W': case 'U': case 'R':
		if (d->mod != 3)
			return mem_operand(d, o[0] == 'M' && !o[1] ? 0 : sz,
					   next, b, n);
		if (o[0] == 'W' || o[0] == 'U')
			return snprintf(b, n, "%s%u", o[1] == 'x' ?
					vreg_name(d) : "xmm", d->rm);
		return snprintf(b, n, "%s", gpr(d->rm, o[0] == 'R' ? 8 : sz,
						rex));
	case 'G':
		return snprintf(b, n, "%s", gpr(d->reg, sz, rex));
	case 'B': /* VEX.vvvv names a general register */
		return snprintf(b, n, "%s", gpr(DEC_VEX_V(d), sz, rex));
	case 'V':
		return snprintf(b, n, "%s%u", vreg_name(d), d->reg);
	case 'L': /* imm8[7:4] names an XMM/YMM register (VBLENDVPS) */
		return snprintf(b, n, "%s%u", vreg_name(d),
				(unsigned)(d->imm >> 4) & 15);
	case 'H': /* VEX.vvvv names an XMM/YMM register */
		return snprintf(b, n, "%s%u", vreg_name(d), DEC_VEX_V(d));
	case 'P':
		return snprintf(b, n, "mm%u", d->reg & 7);
	case 'N': case 'Q':
		if (d->mod != 3)
			return mem_operand(d, sz, next, b, n);
		return snprintf(b, n, "mm%u", d->rm & 7);
	case 'Z':
		return snprintf(b, n, "%s", gpr(d->rm, sz, rex));
	case 'S':
		if (!strcmp(o, "ST"))
			return snprintf(b, n, "st");
		if (!strcmp(o, "STi"))
			return snprintf(b, n, "st(%u)", d->rm & 7);
		return snprintf(b, n, "%s", sregs[d->reg & 7]);
	case 'C':
		return snprintf(b, n, "cr%u", d->reg);
	case 'D':
		if (o[1] == 'X')
			return snprintf(b, n, "dx");
		return snprintf(b, n, "dr%u", d->reg);
	case 'I':
		if (!strcmp(o, "Ib2"))
			return snprintf(b, n, "0x%x", d->imm2);
		return snprintf(b, n, "0x%" PRIx64, (uint64_t)((d->opsz == 8 &&
				!(d->vex && o[1] == 'b')) || o[1] == 'v' ?
				d->imm : d->imm & ((1ull << (8 * (o[1] == 'b' ?
				1 : sz))) - 1)));
	case 'J':
		return snprintf(b, n, "0x%" PRIx64, next + d->imm);
	case 'O':
		if (d->adsz != 8)
			return snprintf(b, n, "%s%s:0x%" PRIx64, ptr_name(sz),
					sregs[d->seg == DEC_NOREG ? 3 : d->seg],
					d->imm);
		return snprintf(b, n, "%s[0x%" PRIx64 "]", ptr_name(sz), d->imm);
	case 'A':
		if (o[1] == 'L')
			return snprintf(b, n, "al");
		return snprintf(b, n, "0x%x:0x%" PRIx64, d->imm2, d->imm);
	case 'r': case 'e':
		return snprintf(b, n, "%s", gpr(0, o[0] == 'e' &&
				d->opsz == 8 ? 4 : d->opsz, rex));
	case 'F': return snprintf(b, n, "fs");
	case '1': return snprintf(b, n, "1");
	default:
		if (!strcmp(o, "CL"))
			return snprintf(b, n, "cl");
		return snprintf(b, n, "%s", o);
	}
}

/* The operands of d: a per-prefix list's entry; MMX register forms
 * (SDM Appendix A: P, Q, N are MMX operands) for DF_MMX rows without a
 * mandatory prefix. */
static const char *operand_list(const struct dec_insn *d, char *buf,
				size_t len)
{
	static const char *const pq[] = {
		"Pq,Ey", "Pq,Qq", "Ey,Pq", "Qq,Pq", "Pq,Qq,Ib", "Nq,Ib",
		"Gd,Nq", "Pq,Ew,Ib", "Gd,Nq,Ib", "Pq,Nq",
	};
	static const char *const xq[] = {
		"Vx,Ey", "Vx,Wx", "Ey,Vx", "Wx,Vx", "Vx,Wx,Ib", "Ux,Ib",
		"Gd,Ux", "Vx,Ew,Ib", "Gd,Ux,Ib", "Vx,Ux",
	};
	const char *p = dec_attrs[d->op].operands;

	if (strchr(p, '|'))
		return pick(p, d->pfx, buf, len);
	if (!(dec_attrs[d->op].flags & DF_MMX) || d->pfx != DEC_PFX_NONE)
		return p;
	for (size_t i = 0; i < sizeof(xq) / sizeof(*xq); i++)
		if (!strcmp(p, xq[i]))
			return pq[i];
	return p;
}

char *dec_disasm(const struct dec_insn *d, uint64_t rip, char *buf,
		 size_t len)
{
	const struct dec_attr *a = &dec_attrs[d->op];
	char mn[32], ops[64], one[96], list[64];
	const char *p, *e;
	size_t o;
	uint64_t next = rip + d->len;
	bool first = true;

	if (!a->flags) {
		snprintf(buf, len, "(bad)");
		return buf;
	}
	o = (size_t)snprintf(buf, len, "%s%s%s", d->lock ? "lock " : "",
			     d->rep && !(a->flags & DF_BYPFX) && !a->operands[0] ?
			     (d->rep == 0xf3 ? "rep " : "repne ") : "",
			     dec_mnemonic(d, mn, sizeof(mn)));
	p = operand_list(d, list, sizeof(list));
	if (d->op == 0x090)
		p = d->rm == 8 ? "Zv,rAX" : "";
	for (e = NULL; *p && o < len; p = e + 1) {
		e = strchr(p, ',');
		snprintf(ops, sizeof(ops), "%.*s", (int)(e ? e - p :
			 (long)strlen(p)), p);
		if (!strcmp(ops, "DX") || !strcmp(ops, "GS") ||
		    !strcmp(ops, "FS") || !strcmp(ops, "AX") ||
		    !strcmp(ops, "ES") || !strcmp(ops, "CS") ||
		    !strcmp(ops, "SS") || !strcmp(ops, "DS"))
			snprintf(one, sizeof(one), "%c%c", ops[0] + 32, ops[1] + 32);
		else
			operand(d, ops, next, one, sizeof(one));
		o += (size_t)snprintf(buf + o, len - o, "%s%s",
				      first ? " " : ",", one);
		first = false;
		if (!e)
			break;
	}
	return buf;
}
