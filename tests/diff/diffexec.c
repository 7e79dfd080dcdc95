/* diffexec: differential execution of rax's interpreter against the
 * host CPU.  Random instruction sequences (gen.c, gen_fp.c) run natively
 * in a forked child (native.c) and on the interpreter at CPL 3 at the
 * same addresses (interp.c); general registers, RIP, RFLAGS (undefined
 * flags masked), x87 and SSE state, the data and stack pages and any
 * fault (vector, error code, CR2) are compared.  A mismatch is reduced
 * to the first instruction whose inclusion makes the runs differ, rerun
 * alone from the host's state before it, and printed with its inputs.
 *
 * Run: ./tests/diff/diffexec --seed 1 --count 2000 (from the build
 * folder); --family alu,x87 to choose families, --list to list them,
 * -v to print each sequence.  Exit 0: no mismatch; 1: mismatches;
 * 77: the fixed user addresses cannot be mapped on this host. */
#include "diffexec.h"

#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decoder/decoder.h"
#include "machine.h"

#define F_ARITH 0x8d5ull
#define RFLAGS_CMP 0x3efffdull  /* bits 0-21 but RF (16) and fixed bit 1 */

static struct {
	bool verbose, strict, inject;
	unsigned max_fail;
} opt = { .max_fail = 3 };

/* --inject: the comparison's own test.  Changes one bit of the
 * interpreter's result per sequence (a register, DF, an XMM register,
 * a data byte, a stack byte in turn); every sequence must then be
 * reported as a mismatch. */
static void inject(struct dx_state *r, uint64_t i, bool m32)
{
	switch (i % 5) {
	case 0: /* 32-bit code: the compared EAX-EDI, bits 31:0 */
		r->gpr[i % (m32 ? 8 : 16)] ^= 1ull << (i % (m32 ? 32 : 64));
		break;
	case 1: r->rflags ^= 0x400; break;
	case 2: r->fx[160 + i % 256] ^= 1; break;
	case 3: r->data[i % DX_DATA_SIZE] ^= 0x80; break;
	default: r->stack[i % DX_STACK_SIZE] ^= 0x10; break;
	}
}

/* --- printing ------------------------------------------------------------- */

static const char *const gpr_name[16] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

static void print_insn(const struct dx_seq *s, unsigned i, const char *pfx)
{
	const struct dx_insn *in = &s->insn[i];
	struct dec_insn d;
	char text[128] = "(undecodable)";
	uint64_t rip = DX_SEQ + in->off;

	if (dec_decode(&d, s->code + in->off, in->len,
		       s->m32 ? DEC_MODE32 : DEC_MODE64) == 0)
		dec_disasm(&d, rip, text, sizeof(text));
	printf("%s%#" PRIx64 ":", pfx, rip);
	for (unsigned k = 0; k < 11; k++) {
		if (k < in->len)
			printf(" %02x", s->code[in->off + k]);
		else
			printf("   ");
	}
	printf(" %-40s %s%s\n", text, dx_family_names[in->fam],
	       in->setup ? " (set-up)" : "");
}

static void print_seq(const struct dx_seq *s)
{
	for (unsigned i = 0; i < s->n; i++)
		print_insn(s, i, "    ");
	if (s->ud_tail)
		printf("    (the last instruction is not advertised: "
		       "the interpreter must raise #UD)\n");
}

/* --- comparison ----------------------------------------------------------- */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

/* Undefined flags, x87 C bits and register upper halves at the end of
 * s, or before the instruction at rip (faults), per the generator's
 * bookkeeping. */
static void undef_at(const struct dx_seq *s, uint64_t rip, uint64_t *fl,
		     uint16_t *fsw, uint16_t *hi)
{
	*fl = s->undef_flags;
	*fsw = s->undef_fsw;
	*hi = s->undef_hi;
	for (unsigned i = 0; i < s->n; i++) {
		if (DX_SEQ + s->insn[i].off == rip) {
			*fl = s->insn[i].undef_flags;
			*fsw = s->insn[i].undef_fsw;
			*hi = s->insn[i].undef_hi;
			return;
		}
	}
	if (rip != DX_SEQ + s->len) { /* not an instruction boundary */
		*fl = F_ARITH;
		*fsw = 0x4700;
	}
}

/* The CR2 bits compared for a #PF at rip (struct dx_insn cr2_page). */
static uint64_t cr2_mask(const struct dx_seq *s, uint64_t rip)
{
	for (unsigned i = 0; i < s->n; i++)
		if (DX_SEQ + s->insn[i].off == rip && s->insn[i].cr2_page)
			return ~0xfffull;
	return ~0ull;
}

/* Tag bit of ST(i) (the abridged FTW is indexed by physical register;
 * the FXSAVE register area is in stack order). */
static bool st_valid(const uint8_t *fx, unsigned i)
{
	unsigned top = (rd16(fx + 2) >> 11) & 7;

	return fx[4] & (1u << ((top + i) & 7));
}

struct diff {
	char text[2048];
	size_t n;
	unsigned count;
};

__attribute__((format(printf, 2, 3)))
static void note(struct diff *df, const char *fmt, ...)
{
	va_list ap;

	df->count++;
	if (df->n >= sizeof(df->text) - 128)
		return;
	va_start(ap, fmt);
	df->n += (size_t)vsnprintf(df->text + df->n, sizeof(df->text) - df->n,
				   fmt, ap);
	va_end(ap);
}

static void cmp_bytes(struct diff *df, const char *what, uint64_t base,
		      const uint8_t *a, const uint8_t *b, size_t n)
{
	unsigned shown = 0;

	for (size_t i = 0; i < n; i++) {
		if (a[i] == b[i])
			continue;
		if (shown++ < 4)
			note(df, "  %s byte %#" PRIx64 ": host %02x rax %02x\n",
			     what, base + i, a[i], b[i]);
		else
			df->count++;
	}
}

static void cmp_fpu(struct diff *df, const uint8_t *h, const uint8_t *r,
		    uint16_t fsw_undef)
{
	uint16_t fsw_mask = (uint16_t)(0x4700 & ~fsw_undef);
	uint32_t mh, mr;

	/* The exception flags, SF, ES and B are compared; known deviations
	 * (README): rax models neither C1 as the round-up indicator
	 * everywhere nor TOP; --strict compares them. */
	fsw_mask |= 0x80ff;
	if (opt.strict)
		fsw_mask |= 0xb8ff;
	else if (fsw_undef & DX_FSW_C1R)
		fsw_mask &= (uint16_t)~0x0200;
	if (rd16(h) != rd16(r))
		note(df, "  fcw: host %04x rax %04x\n", rd16(h), rd16(r));
	if ((rd16(h + 2) ^ rd16(r + 2)) & fsw_mask)
		note(df, "  fsw: host %04x rax %04x (compared bits %04x)\n",
		     rd16(h + 2), rd16(r + 2), fsw_mask);
	for (unsigned i = 0; i < 8; i++) {
		bool vh = st_valid(h, i), vr = st_valid(r, i);

		if (vh != vr)
			note(df, "  st(%u) tag: host %s rax %s\n", i,
			     vh ? "valid" : "empty", vr ? "valid" : "empty");
		else if (vh && memcmp(h + 32 + 16 * i, r + 32 + 16 * i, 10)) {
			note(df, "  st(%u): host %04x%016" PRIx64 " rax %04x%016"
			     PRIx64 "\n", i, rd16(h + 40 + 16 * i),
			     *(const uint64_t *)(h + 32 + 16 * i),
			     rd16(r + 40 + 16 * i),
			     *(const uint64_t *)(r + 32 + 16 * i));
		}
	}
	memcpy(&mh, h + 24, 4);
	memcpy(&mr, r + 24, 4);
	if (!opt.strict) { /* the sticky exception flags: not modelled */
		mh &= ~0x3fu;
		mr &= ~0x3fu;
	}
	if (mh != mr)
		note(df, "  mxcsr: host %08x rax %08x\n", mh, mr);
	for (unsigned i = 0; i < 16; i++) {
		const uint64_t *a = (const uint64_t *)(h + 160 + 16 * i);
		const uint64_t *b = (const uint64_t *)(r + 160 + 16 * i);

		if (a[0] != b[0] || a[1] != b[1])
			note(df, "  xmm%u: host %016" PRIx64 "%016" PRIx64
			     " rax %016" PRIx64 "%016" PRIx64 "\n", i, a[1],
			     a[0], b[1], b[0]);
	}
}

/* Compares the host's result h with the interpreter's r for s. */
static unsigned compare(const struct dx_seq *s, const struct dx_state *h0,
			const struct dx_state *r, struct diff *df)
{
	struct dx_state hv;
	const struct dx_state *h = h0;
	uint64_t ufl, fmask, gmask;
	uint16_t ufsw, uhi;

	df->n = 0;
	df->count = 0;
	df->text[0] = 0;
	if (s->ud_tail && h->vec == -1) {
		hv = *h0; /* the host ran up to it: expect #UD there */
		hv.vec = 6;
		h = &hv;
	}
	if (r->vec == -2) {
		note(df, "  the interpreter did not reach the end or an "
		     "exception (stopped after rip %#" PRIx64 ")\n", r->rip);
		return df->count;
	}
	if (h->vec != r->vec) {
		note(df, "  exception: host %d at %#" PRIx64 " (cr2 %#" PRIx64
		     ") rax %d at %#" PRIx64 " (cr2 %#" PRIx64 ")\n", h->vec,
		     h->rip, h->cr2, r->vec, r->rip, r->cr2);
		return df->count;
	}
	if (h->rip != r->rip) {
		note(df, "  rip: host %#" PRIx64 " rax %#" PRIx64 "\n", h->rip,
		     r->rip);
		return df->count;
	}
	if (h->vec == 14 && ((h->cr2 ^ r->cr2) & cr2_mask(s, h->rip) ||
			     (h->err & 7) != (r->err & 7)))
		note(df, "  #PF: host cr2 %#" PRIx64 " err %#" PRIx64
		     ", rax cr2 %#" PRIx64 " err %#" PRIx64 "\n", h->cr2,
		     h->err, r->cr2, r->err);
	if (h->vec == 13 && h->err != r->err)
		note(df, "  #GP error code: host %#" PRIx64 " rax %#" PRIx64
		     "\n", h->err, r->err);
	undef_at(s, h->rip, &ufl, &ufsw, &uhi);
	/* 32-bit code: EAX-EDI's low halves (the upper halves and R8-R15
	 * are not the code's, SDM Vol. 1 §3.4.1.1). */
	for (int i = 0; i < (s->m32 ? 8 : 16); i++) {
		gmask = s->m32 || (uhi & (1u << i)) ? 0xffffffffull : ~0ull;
		if ((h->gpr[i] ^ r->gpr[i]) & gmask)
			note(df, "  %s: host %#" PRIx64 " rax %#" PRIx64 "%s\n",
			     gpr_name[i], h->gpr[i], r->gpr[i],
			     ~gmask && !s->m32 ? " (compared bits 31:0)" : "");
	}
	fmask = RFLAGS_CMP & ~ufl;
	if ((h->rflags ^ r->rflags) & fmask)
		note(df, "  rflags: host %#" PRIx64 " rax %#" PRIx64
		     " (compared bits %#" PRIx64 ")\n", h->rflags, r->rflags,
		     fmask);
	cmp_fpu(df, h->fx, r->fx, ufsw);
	cmp_bytes(df, "data", DX_DATA, h->data, r->data, DX_DATA_SIZE);
	cmp_bytes(df, "stack", DX_STACK, h->stack, r->stack, DX_STACK_SIZE);
	return df->count;
}

/* --- minimisation --------------------------------------------------------- */

/* s with every instruction from k on replaced by NOPs (same length, so
 * branch targets and RIP-relative operands stay put). */
static void truncate_seq(struct dx_seq *t, const struct dx_seq *s, unsigned k)
{
	*t = *s;
	if (k >= s->n)
		return;
	memset(t->code + s->insn[k].off, 0x90, s->len - s->insn[k].off);
	t->ud_tail = false;
	t->undef_flags = s->insn[k].undef_flags;
	t->undef_fsw = s->insn[k].undef_fsw;
	t->undef_hi = s->insn[k].undef_hi;
	for (unsigned j = 0; j < k; j++) { /* branches landing in the NOPs */
		if (s->insn[j].jtarget > s->insn[k].off) {
			t->undef_flags |= s->insn[j].undef_flags;
			t->undef_fsw |= s->insn[j].undef_fsw;
			t->undef_hi |= s->insn[j].undef_hi;
		}
	}
}

/* Host FXSAVE image with TOP moved to 0 (tags rotated), the form rax's
 * image takes, so both sides load the same stack. */
static void normalise_fx(uint8_t *fx)
{
	unsigned top = (rd16(fx + 2) >> 11) & 7;
	uint8_t t = 0;

	for (unsigned i = 0; i < 8; i++)
		if (fx[4] & (1u << ((top + i) & 7)))
			t |= (uint8_t)(1u << i);
	fx[4] = t;
	fx[3] &= (uint8_t)~0x38;
	memset(fx + 6, 0, 18); /* FOP, FIP, FDP */
}

/* objdump's reading of instruction i too, when objdump is installed
 * (rax's disassembler abbreviates x87 and some SSE forms). */
static void print_objdump(const struct dx_seq *s, unsigned i)
{
	char path[] = "/tmp/diffexec-XXXXXX", cmd[256], line[256];
	FILE *p;
	int fd = mkstemp(path);

	if (fd < 0)
		return;
	if (write(fd, s->code + s->insn[i].off, s->insn[i].len) !=
	    (ssize_t)s->insn[i].len) {
		close(fd);
		unlink(path);
		return;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd), "objdump -D -b binary -mi386%s "
		 "-M intel --adjust-vma=%#llx %s 2>/dev/null",
		 s->m32 ? "" : ":x86-64", (unsigned long long)
		 (DX_SEQ + s->insn[i].off), path);
	p = popen(cmd, "r");
	while (p && fgets(line, sizeof(line), p))
		if (strstr(line, ":\t"))
			printf("    objdump: %s", line);
	if (p)
		pclose(p);
	unlink(path);
}

static void print_inputs(const struct dx_seq *s, unsigned i)
{
	const struct dx_state *in = &s->in;
	const struct dx_insn *ii = &s->insn[i];
	struct dec_insn d;

	printf("  inputs:");
	for (int r = 0; r < 16; r++)
		printf("%s %s=%#" PRIx64, r % 4 ? "" : "\n   ", gpr_name[r],
		       in->gpr[r]);
	printf("\n    rflags=%#" PRIx64 " mxcsr=%#x fsw=%#x ftw=%#x\n",
	       in->rflags, *(const uint32_t *)(in->fx + 24), rd16(in->fx + 2),
	       in->fx[4]);
	if (dec_decode(&d, s->code + ii->off, ii->len,
		       s->m32 ? DEC_MODE32 : DEC_MODE64))
		return;
	if ((dec_attrs[d.op].flags & DF_M) && d.mod != 3) {
		uint64_t ea = (uint64_t)(int64_t)d.disp;

		if (d.riprel)
			ea += DX_SEQ + ii->off + ii->len;
		if (d.base != DEC_NOREG)
			ea += in->gpr[d.base];
		if (d.index != DEC_NOREG)
			ea += in->gpr[d.index] << d.scale;
		if (d.adsz == 4 || s->m32)
			ea = (uint32_t)ea;
		printf("    memory operand at %#" PRIx64 ":", ea);
		for (uint64_t a = ea; a < ea + 16; a++) {
			if (a >= DX_DATA && a < DX_DATA + DX_DATA_SIZE)
				printf(" %02x", in->data[a - DX_DATA]);
			else if (a >= DX_STACK && a < DX_STACK + DX_STACK_SIZE)
				printf(" %02x", in->stack[a - DX_STACK]);
			else
				printf(" --");
		}
		printf("\n");
	}
	for (unsigned x = 0; x < 16; x++) {
		const uint64_t *v = (const uint64_t *)(in->fx + 160 + 16 * x);

		if (x == (d.reg & 15) || (d.mod == 3 && x == (d.rm & 15)))
			printf("    xmm%u=%016" PRIx64 "%016" PRIx64 "\n", x,
			       v[1], v[0]);
	}
	for (unsigned k = 0; k < 8; k++)
		if (st_valid(in->fx, k))
			printf("    st(%u)=%04x%016" PRIx64 "\n", k,
			       rd16(in->fx + 40 + 16 * k),
			       *(const uint64_t *)(in->fx + 32 + 16 * k));
}

/* Finds the first k such that running s truncated to k instructions
 * differs, then reruns instruction k-1 alone from the host's state
 * before it. */
static void minimise(struct machine *m, const struct dx_seq *s)
{
	struct dx_seq *t = calloc(s->n + 1, sizeof(*t));
	struct dx_state *h = calloc(s->n + 1, sizeof(*h)), r;
	struct diff df;
	unsigned k;

	if (!t || !h)
		goto out;
	for (k = 0; k <= s->n; k++)
		truncate_seq(&t[k], s, k);
	if (dx_native_run(t, s->n + 1, h))
		goto out;
	for (k = 1; k <= s->n; k++) {
		dx_interp_run(m, &t[k], &r);
		if (compare(&t[k], &h[k], &r, &df))
			break;
	}
	if (k > s->n || h[k - 1].vec != -1) {
		printf("  minimising: no prefix reproduces it alone\n");
		goto out;
	}
	/* t[0]: the one instruction, alone, from the state before it. */
	truncate_seq(&t[0], s, s->n);
	memset(t[0].code, 0x90, s->len);
	memcpy(t[0].code + s->insn[k - 1].off, s->code + s->insn[k - 1].off,
	       s->insn[k - 1].len);
	t[0].ud_tail = s->ud_tail && k == s->n;
	t[0].undef_flags = t[k].undef_flags;
	t[0].undef_fsw = t[k].undef_fsw;
	t[0].undef_hi = t[k].undef_hi;
	memcpy(t[0].in.gpr, h[k - 1].gpr, sizeof(t[0].in.gpr));
	t[0].in.rflags = h[k - 1].rflags;
	memcpy(t[0].in.fx, h[k - 1].fx, 512);
	normalise_fx(t[0].in.fx);
	memcpy(t[0].in.data, h[k - 1].data, DX_DATA_SIZE);
	memcpy(t[0].in.stack, h[k - 1].stack, DX_STACK_SIZE);
	for (unsigned i = 0; i < t[0].n; i++) {
		t[0].insn[i].undef_flags = 0;
		t[0].insn[i].undef_fsw = 0;
		t[0].insn[i].undef_hi = 0;
	}
	printf("  minimised to instruction %u:\n", k - 1);
	print_insn(s, k - 1, "    ");
	print_objdump(s, k - 1);
	print_inputs(&t[0], k - 1);
	if (dx_native_run(&t[0], 1, &h[0]) == 0) {
		dx_interp_run(m, &t[0], &r);
		if (compare(&t[0], &h[0], &r, &df)) {
			printf("  alone it differs:\n%s", df.text);
		} else {
			/* It depends on state the interpreter carried from
			 * the instructions before it (lazy flags, say). */
			dx_interp_run(m, &t[k], &r);
			compare(&t[k], &h[k], &r, &df);
			printf("  alone it matches; after the %u instructions "
			       "before it, it differs:\n%s", k - 1, df.text);
		}
	}
out:
	free(t);
	free(h);
}

/* --- driver --------------------------------------------------------------- */

static int parse_families(const char *arg, uint32_t *mask)
{
	char buf[512], *save = NULL;

	if (!strcmp(arg, "all")) {
		*mask = (1u << DX_NFAM) - 1;
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", arg);
	*mask = 0;
	for (char *w = strtok_r(buf, ",", &save); w;
	     w = strtok_r(NULL, ",", &save)) {
		int f;

		if (!strcmp(w, "default")) {
			*mask |= ((1u << DX_NFAM) - 1) & ~DX_FAM_DEFAULT;
			continue;
		}
		for (f = 0; f < DX_NFAM && strcmp(w, dx_family_names[f]); f++)
			;
		if (f == DX_NFAM) {
			fprintf(stderr, "diffexec: unknown family '%s' "
				"(--list)\n", w);
			return -1;
		}
		*mask |= 1u << f;
	}
	return *mask ? 0 : -1;
}

static void usage(void)
{
	printf("usage: diffexec [--seed N] [--count N] [--family LIST] "
	       "[--batch N]\n"
	       "                [--mode 64|32] [--max-fail N] [--strict] "
	       "[--inject] [--list] [-v]\n"
	       "                [--cpu v1|v2|v3] [--jit] [--jit-tlb-miss]\n"
	       "  --cpu: the interpreter's CPU model (default: the highest "
	       "rax offers that the host has)\n"
	       "  --mode 32: 32-bit code in compatibility mode (the host's "
	       "__USER32_CS)\n"
	       "  --family: comma-separated names (--list), 'default' or "
	       "'all'\n"
	       "  --strict: also compare x87 C1/TOP/exception flags and the "
	       "MXCSR flags\n"
	       "  --inject: corrupt each interpreter result (tests the "
	       "comparison)\n"
	       "  --jit: also run each sequence on the fast path, every "
	       "trace translated\n"
	       "         (src/cpu/jit.c)\n"
	       "  --jit-tlb-miss: --jit with every translated memory access "
	       "through its\n"
	       "         out-of-line handler\n");
}

/* Can the host run 32-bit code?  An empty 32-bit sequence (the
 * harness's far jump to __USER32_CS and back) must come back without a
 * fault: a kernel with IA32 emulation off, or a sandbox that leaves
 * that descriptor out, answers the jump with #GP(0x20) (seen on a
 * Firecracker host running Linux 6.18).  Prints SKIP when it cannot. */
static bool compat_mode_works(uint64_t seed, uint32_t fam, unsigned level)
{
	static struct dx_seq probe;
	static struct dx_state out;

	dx_generate(&probe, seed, fam, true, level);
	probe.len = probe.n = 0;
	probe.ud_tail = false;
	if (dx_native_run(&probe, 1, &out) || out.vec == -1)
		return true; /* (a failed run is reported by the real one) */
	printf("SKIP: the host cannot run 32-bit code: the far jump to "
	       "its 32-bit code segment (0x23) faults (vector %d, error "
	       "%#llx)\n", out.vec, (unsigned long long)out.err);
	return false;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seed", 1, NULL, 's' }, { "count", 1, NULL, 'n' },
		{ "family", 1, NULL, 'f' }, { "batch", 1, NULL, 'b' },
		{ "max-fail", 1, NULL, 'm' }, { "strict", 0, NULL, 'S' },
		{ "list", 0, NULL, 'l' }, { "verbose", 0, NULL, 'v' },
		{ "inject", 0, NULL, 'i' }, { "mode", 1, NULL, 'M' },
		{ "cpu", 1, NULL, 'c' }, { "jit", 0, NULL, 'J' },
		{ "jit-tlb-miss", 0, NULL, 'T' },
		{ "help", 0, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	uint64_t seed = 1, count = 1000, insns = 0, faults[32] = { 0 };
	uint64_t ud_tails = 0, jitted = 0, host_reruns = 0;
	int steps;
	uint32_t fam = ((1u << DX_NFAM) - 1) & ~DX_FAM_DEFAULT;
	unsigned batch = 250, fails = 0;
	bool m32 = false, jit = false, tlb_miss = false;
	unsigned level = cpu_host_level() < CPU_LEVEL_MAX ? cpu_host_level() :
			 CPU_LEVEL_MAX;
	const char *famarg = "default";
	uint64_t ran = 0;
	struct dx_seq *s;
	struct dx_state *h, *r, *h2;
	struct machine m;
	int c;

	while ((c = getopt_long(argc, argv, "s:n:f:b:m:Slvhi", lo, NULL)) != -1) {
		switch (c) {
		case 'M':
			if (strcmp(optarg, "64") && strcmp(optarg, "32")) {
				usage();
				return 2;
			}
			m32 = !strcmp(optarg, "32");
			break;
		case 'c':
			if (optarg[0] != 'v' || optarg[1] < '1' ||
			    optarg[1] > '3' || optarg[2]) {
				usage();
				return 2;
			}
			level = (unsigned)(optarg[1] - '0');
			if (level > cpu_host_level()) {
				printf("SKIP: the host CPU lacks x86-64-v%u\n",
				       level);
				return 77;
			}
			break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'n': count = strtoull(optarg, NULL, 0); break;
		case 'b': batch = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'm': opt.max_fail = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'S': opt.strict = true; break;
		case 'J': jit = true; break;
		case 'T': jit = tlb_miss = true; break;
		case 'i': opt.inject = true; break;
		case 'v': opt.verbose = true; break;
		case 'f':
			famarg = optarg;
			if (parse_families(optarg, &fam))
				return 2;
			break;
		case 'l':
			for (int f = 0; f < DX_NFAM; f++)
				printf("%s%s%s\n", dx_family_names[f],
				       DX_FAM_DEFAULT & (1u << f) ?
				       " (not by default)" : "",
				       DX_FAM_ONLY32 & (1u << f) ? " (--mode 32 only)" :
				       DX_FAM_ONLY64 & (1u << f) ?
				       " (--mode 64 only)" : "");
			return 0;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	if (!batch)
		batch = 1;
	if (!(fam & ~(m32 ? DX_FAM_ONLY64 : DX_FAM_ONLY32))) {
		fprintf(stderr, "diffexec: no family given exists in %s-bit "
			"code (--list)\n", m32 ? "32" : "64");
		return 2;
	}
	s = malloc(batch * sizeof(*s));
	h = malloc(batch * sizeof(*h));
	r = malloc(sizeof(*r));
	h2 = malloc(sizeof(*h2));
	if (!s || !h || !r || !h2 || dx_interp_init(&m, level, jit, tlb_miss)) {
		fprintf(stderr, "diffexec: out of memory\n");
		return 1;
	}
	if (m32 && !compat_mode_works(seed, fam, level))
		return 77;
	if (m32 && jit) {
		fprintf(stderr, "diffexec: --jit: the translator runs 64-bit "
			"code only\n");
		return 2;
	}
	for (uint64_t done = 0; done < count && fails < opt.max_fail;) {
		unsigned n = count - done < batch ? (unsigned)(count - done) : batch;

		for (unsigned i = 0; i < n; i++) {
			dx_generate(&s[i], seed + done + i, fam, m32, level);
			if (opt.verbose) {
				printf("sequence %" PRIu64 ":\n", seed + done + i);
				print_seq(&s[i]);
			}
		}
		fflush(stdout);
		c = dx_native_run(s, n, h);
		if (c == -2) {
			printf("SKIP: the fixed user addresses are not free\n");
			return 77;
		}
		if (c) {
			printf("diffexec: the host run of sequences %" PRIu64
			       "-%" PRIu64 " failed\n", seed + done,
			       seed + done + n - 1);
			return 1;
		}
		for (unsigned i = 0; i < n && fails < opt.max_fail; i++) {
			struct diff df;

			ran++;
			insns += s[i].n;
			ud_tails += s[i].ud_tail;
			if (h[i].vec >= 0 && h[i].vec < 32)
				faults[h[i].vec]++;
			steps = dx_interp_run(&m, &s[i], r);
			if (opt.inject)
				inject(r, done + i, m32);
			/* The host's result must hold on a second run: once
			 * in many thousand runs on a loaded Firecracker VM
			 * the host's NT flag came back clear after a POPF
			 * set it, the interpreter's and a rerun's set. */
			if (!opt.inject && compare(&s[i], &h[i], r, &df) &&
			    dx_native_run(&s[i], 1, h2) == 0 &&
			    compare(&s[i], &h[i], h2, &df) &&
			    !compare(&s[i], h2, r, &df)) {
				printf("diffexec: sequence %" PRIu64 ": the "
				       "host's result changed on a second run, "
				       "which the interpreter's matches\n",
				       seed + done + i);
				host_reruns++;
				h[i] = *h2;
			}
			if (!compare(&s[i], &h[i], r, &df)) {
				/* --jit: the same end on the fast path, its
				 * traces translated */
				if (!jit || steps < 0)
					continue;
				jitted++;
				dx_interp_run_jit(&m, &s[i], (unsigned)steps, r);
				if (!compare(&s[i], &h[i], r, &df))
					continue;
				printf("(the fast path, --jit)\n");
			}
			fails++;
			if (opt.inject)
				continue;
			printf("MISMATCH in sequence --seed %" PRIu64
			       " --count 1 --family %s%s --cpu v%u:\n",
			       seed + done + i, famarg, m32 ? " --mode 32" : "",
			       level);
			print_seq(&s[i]);
			printf("%s", df.text);
			minimise(&m, &s[i]);
		}
		done += n;
	}
	printf("diffexec: --cpu v%u: %" PRIu64 " %s-bit sequences from "
	       "seed %" PRIu64 ", %"
	       PRIu64 " instructions; host faults: #DE %" PRIu64 " #UD %"
	       PRIu64 " #GP %" PRIu64 " #PF %" PRIu64 " #DB %" PRIu64
	       "; %" PRIu64 " unadvertised #UD tails; %u mismatch%s\n",
	       level, ran, m32 ? "32" : "64", seed, insns, faults[0], faults[6],
	       faults[13],
	       faults[14], faults[1], ud_tails, fails, fails == 1 ? "" : "es");
	if (jit)
		printf("diffexec: --jit: %" PRIu64 " sequences also run on the "
		       "fast path with every trace translated\n", jitted);
	if (host_reruns)
		printf("diffexec: %" PRIu64 " host result%s changed on a second "
		       "run\n", host_reruns, host_reruns == 1 ? "" : "s");
	dx_interp_destroy(&m);
	free(s);
	free(h);
	free(r);
	free(h2);
	return fails ? 1 : 0;
}
