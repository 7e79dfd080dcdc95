/* The decoder against Zydis: instruction length and validity in 64-bit
 * mode (or, -m 32 / -m 16, in 32- or 16-bit code segments), over the .text
 * of ELF files (walked linearly, resynchronising on
 * Zydis's length) and over random 15-byte strings.
 *
 * Run: tests/oracle/dec_zydis [-m 64|32|16] [-x EXCEPTIONS] [-n N] [-s SEED]
 *      [ELF...]
 *      (or tests/oracle/dec_zydis.sh [--long] from the build folder);
 *      -a shows every failure, not just the first 20.
 *
 * Categories (the rule; tests/oracle/dec_exceptions.txt lists the
 * exceptions, each with its reason):
 *   agree    both valid with the same length, or both invalid: passes.
 *   length   both valid, lengths differ: always a bug.
 *   rax-ud   rax says #UD, Zydis decodes: a bug unless an exception
 *            matches (rax's CPUID does not advertise the extension).
 *            Where rax measures a #UD instruction (VEX, 0F38, 0F3A) the
 *            length must still be Zydis's: "ud-length" otherwise,
 *            excepted only for encodings no x86-64 CPU defines (KNC).
 *   zydis-ud rax decodes, Zydis rejects: a bug unless an exception
 *            matches (checks rax leaves to the instruction handlers).
 * rax "valid" means dec_decode() returned 0 with a listed opcode whose
 * mnemonic is not "?" (the handler of a "?" entry raises #UD). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "decoder/decoder.h"

enum cat { C_AGREE, C_LENGTH, C_RAX_UD, C_UD_LENGTH, C_ZYDIS_UD, C_MAX };
static const char *const cat_names[C_MAX] = { "agree", "length", "rax-ud",
	"ud-length", "zydis-ud" };

/* One exception line: KIND KEY=VALUE REASON; VALUE may end in '*'. */
struct exc {
	enum cat kind;
	char key[64], value[64], reason[256];
	unsigned long hits;
};

#define MAX_EXC 256
#define SHOW 20 /* failures shown without -a */

static struct exc excs[MAX_EXC];
static unsigned nexc;
static unsigned long counts[C_MAX], excepted[C_MAX], failed;
static unsigned long show_max = SHOW;
static ZydisDecoder zdec;
static enum dec_mode mode = DEC_MODE64; /* -m 64 | 32 | 16 */

struct verdict {
	bool rax_ok, zy_ok;
	unsigned rax_len, zy_len;
	const char *zy_mnem, *zy_isa, *zy_set, *zy_status;
	char rax_mnem[32];
	unsigned rax_op;
};

static const char *status_name(ZyanStatus s)
{
	static const struct { ZyanStatus s; const char *n; } t[] = {
		{ ZYDIS_STATUS_NO_MORE_DATA, "NO_MORE_DATA" },
		{ ZYDIS_STATUS_DECODING_ERROR, "DECODING_ERROR" },
		{ ZYDIS_STATUS_INSTRUCTION_TOO_LONG, "TOO_LONG" },
		{ ZYDIS_STATUS_BAD_REGISTER, "BAD_REGISTER" },
		{ ZYDIS_STATUS_ILLEGAL_LOCK, "ILLEGAL_LOCK" },
		{ ZYDIS_STATUS_ILLEGAL_LEGACY_PFX, "ILLEGAL_LEGACY_PFX" },
		{ ZYDIS_STATUS_ILLEGAL_REX, "ILLEGAL_REX" },
		{ ZYDIS_STATUS_INVALID_MAP, "INVALID_MAP" },
		{ ZYDIS_STATUS_MALFORMED_EVEX, "MALFORMED_EVEX" },
		{ ZYDIS_STATUS_MALFORMED_MVEX, "MALFORMED_MVEX" },
		{ ZYDIS_STATUS_INVALID_MASK, "INVALID_MASK" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].s == s)
			return t[i].n;
	return "OTHER";
}

static int load_exceptions(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256], kind[16], kv[64];
	int n;

	if (!f) {
		perror(path);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct exc *x = &excs[nexc];
		char *eq;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (nexc == MAX_EXC || sscanf(line, "%15s %63s %n", kind, kv,
					      &n) != 2 ||
		    !(eq = strchr(kv, '=')) || !line[n]) {
			fprintf(stderr, "%s: bad line: %s", path, line);
			fclose(f);
			return -1;
		}
		x->kind = !strcmp(kind, "rax-ud") ? C_RAX_UD :
			  !strcmp(kind, "zydis-ud") ? C_ZYDIS_UD :
			  !strcmp(kind, "ud-length") ? C_UD_LENGTH : C_MAX;
		*eq = 0;
		snprintf(x->key, sizeof(x->key), "%s", kv);
		snprintf(x->value, sizeof(x->value), "%s", eq + 1);
		snprintf(x->reason, sizeof(x->reason), "%s", line + n);
		x->reason[strcspn(x->reason, "\n")] = 0;
		if (x->kind == C_MAX) {
			fprintf(stderr, "%s: unknown kind %s\n", path, kind);
			fclose(f);
			return -1;
		}
		nexc++;
	}
	fclose(f);
	return 0;
}

static bool match(const char *pat, const char *s)
{
	size_t n = strlen(pat);

	if (n && pat[n - 1] == '*')
		return !strncasecmp(pat, s, n - 1);
	return !strcasecmp(pat, s);
}

/* The exception covering v in category c, or NULL. */
static struct exc *find_exception(enum cat c, const struct verdict *v)
{
	char op[8];

	snprintf(op, sizeof(op), "0x%03x", v->rax_op);
	for (unsigned i = 0; i < nexc; i++) {
		struct exc *x = &excs[i];
		const char *s = NULL;

		if (x->kind != c)
			continue;
		if (!strcmp(x->key, "isa"))
			s = c != C_ZYDIS_UD ? v->zy_isa : NULL;
		else if (!strcmp(x->key, "set"))
			s = c != C_ZYDIS_UD ? v->zy_set : NULL;
		else if (!strcmp(x->key, "mnem"))
			s = c != C_ZYDIS_UD ? v->zy_mnem : v->rax_mnem;
		else if (!strcmp(x->key, "status"))
			s = c == C_ZYDIS_UD ? v->zy_status : NULL;
		else if (!strcmp(x->key, "op"))
			s = c == C_ZYDIS_UD ? op : NULL;
		if (s && match(x->value, s))
			return x;
	}
	return NULL;
}

static void run_rax(const uint8_t *b, size_t n, struct verdict *v)
{
	struct dec_insn d;
	int ret = dec_decode(&d, b, n, mode);
	const char *m;

	v->rax_ok = false;
	v->rax_len = 0;
	v->rax_op = DEC_OP_UD;
	strcpy(v->rax_mnem, "-");
	if (ret)
		return;
	v->rax_len = d.len;
	v->rax_op = d.op;
	if (d.op == DEC_OP_UD || !dec_attrs[d.op].flags)
		return;
	m = dec_mnemonic(&d, v->rax_mnem, sizeof(v->rax_mnem));
	if (m != v->rax_mnem)
		snprintf(v->rax_mnem, sizeof(v->rax_mnem), "%s", m);
	v->rax_ok = strcmp(v->rax_mnem, "?") != 0;
}

static void run_zydis(const uint8_t *b, size_t n, struct verdict *v)
{
	ZydisDecodedInstruction in;
	ZyanStatus s = ZydisDecoderDecodeInstruction(&zdec, NULL, b, n, &in);

	v->zy_ok = ZYAN_SUCCESS(s);
	v->zy_len = v->zy_ok ? in.length : 0;
	v->zy_mnem = v->zy_ok ? ZydisMnemonicGetString(in.mnemonic) : "-";
	v->zy_isa = v->zy_ok ? ZydisISAExtGetString(in.meta.isa_ext) : "-";
	v->zy_set = v->zy_ok ? ZydisISASetGetString(in.meta.isa_set) : "-";
	v->zy_status = v->zy_ok ? "OK" : status_name(s);
}

/* rax computes the length of VEX and 0F38/0F3A #UD instructions too. */
static bool rax_measures(const uint8_t *b, size_t n)
{
	size_t i = 0;

	while (i < n && (strchr("\x66\x67\xf0\xf2\xf3\x26\x2e\x36\x3e\x64\x65",
				b[i]) && b[i]))
		i++;
	while (mode == DEC_MODE64 && i < n && (b[i] & 0xf0) == 0x40)
		i++;
	if (i + 1 >= n)
		return false;
	return b[i] == 0xc4 || b[i] == 0xc5 ||
	       (b[i] == 0x0f && (b[i + 1] == 0x38 || b[i + 1] == 0x3a));
}

static enum cat classify(const uint8_t *b, size_t n, const struct verdict *v)
{
	if (v->rax_ok && v->zy_ok)
		return v->rax_len == v->zy_len ? C_AGREE : C_LENGTH;
	if (!v->rax_ok && !v->zy_ok)
		return C_AGREE;
	if (v->zy_ok)
		return v->rax_len && v->rax_len != v->zy_len &&
		       rax_measures(b, n) ? C_UD_LENGTH : C_RAX_UD;
	return C_ZYDIS_UD;
}

static void show(const char *where, const uint8_t *b, size_t n,
		 enum cat c, const struct verdict *v)
{
	printf("  %-9s %s: ", cat_names[c], where);
	for (size_t i = 0; i < n && i < 15; i++)
		printf("%02x", b[i]);
	printf("  rax %u %s, zydis %u %s (%s, %s)\n", v->rax_len,
	       v->rax_ok ? v->rax_mnem : "#UD", v->zy_len,
	       v->zy_ok ? v->zy_mnem : "invalid", v->zy_isa, v->zy_status);
}

/* Compares one instruction; returns Zydis's length (1 when invalid). */
static unsigned check(const char *where, const uint8_t *b, size_t n)
{
	struct verdict v;
	enum cat c;
	struct exc *x;

	run_rax(b, n, &v);
	run_zydis(b, n, &v);
	c = classify(b, n, &v);
	counts[c]++;
	if (c == C_AGREE)
		return v.zy_ok ? v.zy_len : 1;
	x = c != C_LENGTH ? find_exception(c, &v) : NULL;
	if (x) {
		x->hits++;
		excepted[c]++;
	} else if (failed++ < show_max) {
		show(where, b, n, c, &v);
	}
	return v.zy_ok ? v.zy_len : 1;
}

/* The .text section of an ELF64 file read into memory, or NULL. */
static uint8_t *elf_text(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t eh[64], sh[64], *text = NULL;
	uint64_t shoff, off, size, stroff;
	unsigned shentsize, shnum, shstrndx;
	char name[8];

	if (!f || fread(eh, 1, 64, f) != 64 || memcmp(eh, "\177ELF\2\1", 6))
		goto out;
	memcpy(&shoff, eh + 0x28, 8);
	shentsize = eh[0x3a] | eh[0x3b] << 8;
	shnum = eh[0x3c] | eh[0x3d] << 8;
	shstrndx = eh[0x3e] | eh[0x3f] << 8;
	if (shentsize != 64 || shstrndx >= shnum ||
	    fseek(f, (long)(shoff + 64ull * shstrndx), SEEK_SET) ||
	    fread(sh, 1, 64, f) != 64)
		goto out;
	memcpy(&stroff, sh + 0x18, 8);
	for (unsigned i = 0; i < shnum && !text; i++) {
		uint32_t nm;

		if (fseek(f, (long)(shoff + 64ull * i), SEEK_SET) ||
		    fread(sh, 1, 64, f) != 64)
			goto out;
		memcpy(&nm, sh, 4);
		memcpy(&off, sh + 0x18, 8);
		memcpy(&size, sh + 0x20, 8);
		if (fseek(f, (long)(stroff + nm), SEEK_SET) ||
		    fread(name, 1, 6, f) != 6 || memcmp(name, ".text", 6))
			continue;
		text = malloc(size ? size : 1);
		if (!text || fseek(f, (long)off, SEEK_SET) ||
		    fread(text, 1, size, f) != size) {
			free(text);
			text = NULL;
			goto out;
		}
		*len = size;
	}
out:
	if (f)
		fclose(f);
	return text;
}

static int walk_elf(const char *path)
{
	size_t len = 0, n = 0;
	uint8_t *t = elf_text(path, &len);

	if (!t) {
		fprintf(stderr, "%s: no ELF64 .text section\n", path);
		return -1;
	}
	for (size_t pos = 0; pos < len; n++) {
		char where[64];

		snprintf(where, sizeof(where), "%s+0x%zx",
			 strrchr(path, '/') ? strrchr(path, '/') + 1 : path, pos);
		pos += check(where, t + pos, len - pos < 15 ? len - pos : 15);
	}
	printf("%s: %zu instructions in %zu bytes of .text\n", path, n, len);
	free(t);
	return 0;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Odd strings start with up to three prefixes (legacy, then maybe REX)
 * and an escape (0F, 0F 38, 0F 3A), which uniform bytes seldom give. */
static void bias(uint8_t *b, uint64_t r)
{
	static const uint8_t pfx[] = { 0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e,
		0x64 };
	unsigned i = 0, np = r & 3;

	r >>= 2;
	while (i < np) {
		b[i++] = pfx[r % sizeof(pfx)];
		r >>= 3;
	}
	if ((r & 1) && mode == DEC_MODE64)
		b[i++] = 0x40 | ((r >> 1) & 15);
	r >>= 5;
	b[i++] = 0x0f;
	if (r % 4 == 1)
		b[i] = 0x38;
	else if (r % 4 == 2)
		b[i] = 0x3a;
}

static void walk_random(unsigned long n, uint64_t seed)
{
	for (unsigned long i = 0; i < n; i++) {
		uint8_t b[16];
		uint64_t r[2] = { splitmix64(&seed), splitmix64(&seed) };
		char where[32];

		memcpy(b, r, 16);
		if (i & 1)
			bias(b, splitmix64(&seed));
		snprintf(where, sizeof(where), "random#%lu", i);
		check(where, b, 15);
	}
	printf("random: %lu strings of 15 bytes (half of them prefixed and "
	       "escaped)\n", n);
}

static void report(void)
{
	unsigned long pass = counts[C_AGREE];

	for (int c = 0; c < C_MAX; c++) {
		printf("%-9s %10lu", cat_names[c], counts[c]);
		if (c != C_AGREE)
			printf("  (%lu excepted)", excepted[c]);
		printf("\n");
		pass += c == C_AGREE ? 0 : excepted[c];
	}
	for (unsigned i = 0; i < nexc; i++)
		if (excs[i].hits)
			printf("  %8lu  %s %s=%s\n", excs[i].hits,
			       cat_names[excs[i].kind], excs[i].key,
			       excs[i].value);
	printf("%lu passed, %lu failed\n", pass, failed);
}

int main(int argc, char **argv)
{
	unsigned long n = 100000;
	uint64_t seed = 1;
	int i;

	ZydisMachineMode zm = ZYDIS_MACHINE_MODE_LONG_64;
	ZydisStackWidth zs = ZYDIS_STACK_WIDTH_64;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-m") && i + 1 < argc) {
			unsigned bits = (unsigned)strtoul(argv[++i], NULL, 0);

			mode = bits == 32 ? DEC_MODE32 : bits == 16 ?
			       DEC_MODE16 : DEC_MODE64;
			zm = bits == 32 ? ZYDIS_MACHINE_MODE_LEGACY_32 :
			     bits == 16 ? ZYDIS_MACHINE_MODE_LEGACY_16 :
			     ZYDIS_MACHINE_MODE_LONG_64;
			zs = bits == 32 ? ZYDIS_STACK_WIDTH_32 : bits == 16 ?
			     ZYDIS_STACK_WIDTH_16 : ZYDIS_STACK_WIDTH_64;
		} else if (!strcmp(argv[i], "-a"))
			show_max = ~0ul;
		else if (!strcmp(argv[i], "--long"))
			n = 1000000;
		else if (!strcmp(argv[i], "-n") && i + 1 < argc)
			n = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-x") && i + 1 < argc) {
			if (load_exceptions(argv[++i]))
				return 2;
		} else {
			fprintf(stderr, "usage: %s [-a] [-m 64|32|16] [-x "
				"EXCEPTIONS] [-n N | --long] [-s SEED] "
				"[ELF...]\n", argv[0]);
			return 2;
		}
	}
	if (!ZYAN_SUCCESS(ZydisDecoderInit(&zdec, zm, zs)))
		return 2;
	for (; i < argc; i++)
		if (walk_elf(argv[i]))
			return 2;
	walk_random(n, seed);
	report();
	return failed ? 1 : 0;
}
