/* Integer arithmetic and logic: lazy flags, the ALU rows 00-3F, groups
 * 1/2/3/4, IMUL, shifts and rotates, bit tests and scans (SDM Vol. 1
 * §3.4.3 and Appendix A of Vol. 1 for the flag effects). */
#include "cpu/cpu.h"

static const uint8_t parity_tab[256] = {
#define P2(n) n, n ^ 1, n ^ 1, n
#define P4(n) P2(n), P2(n ^ 1), P2(n ^ 1), P2(n)
#define P6(n) P4(n), P4(n ^ 1), P4(n ^ 1), P4(n)
	P6(1), P6(0), P6(0), P6(1)
#undef P2
#undef P4
#undef P6
};

static inline uint64_t sign_bit(unsigned n)
{
	return 1ull << (8 * n - 1);
}

static inline __attribute__((always_inline)) bool lf_cf(const struct cpu *c)
{
	uint64_t m = sz_mask(c->lf_sz);

	switch (c->lf_op) {
	case LF_ADD: return (c->lf_res & m) < (c->lf_a & m);
	case LF_SUB: return (c->lf_a & m) < (c->lf_b & m);
	case LF_ADC: return (c->lf_res & m) <= (c->lf_a & m);
	case LF_CO: return c->lf_a != 0;
	case LF_SBB: return (c->lf_a & m) <= (c->lf_b & m);
	case LF_LOGIC: return false;
	default: return c->rflags & RFLAGS_CF;
	}
}

bool cpu_cf(const struct cpu *c)
{
	return lf_cf(c);
}

static bool lf_of(const struct cpu *c)
{
	uint64_t s = sign_bit(c->lf_sz), a = c->lf_a, b = c->lf_b,
		 r = c->lf_res;

	switch (c->lf_op) {
	case LF_ADD: case LF_ADC: case LF_INC: return ((a ^ r) & (b ^ r)) & s;
	case LF_SUB: case LF_SBB: case LF_DEC: return ((a ^ b) & (a ^ r)) & s;
	case LF_CO: return b != 0;
	default: return false;
	}
}

uint64_t cpu_get_rflags(const struct cpu *c)
{
	uint64_t f = c->rflags, r = c->lf_res & sz_mask(c->lf_sz);

	if (c->lf_op == LF_NONE)
		return f;
	f &= ~(uint64_t)(RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF |
			 RFLAGS_SF | RFLAGS_OF);
	if (lf_cf(c))
		f |= RFLAGS_CF;
	if (parity_tab[r & 0xff])
		f |= RFLAGS_PF;
	if (c->lf_op != LF_LOGIC && c->lf_op != LF_CO &&
	    ((c->lf_a ^ c->lf_b ^ c->lf_res) & 0x10))
		f |= RFLAGS_AF;
	if (!r)
		f |= RFLAGS_ZF;
	if (r & sign_bit(c->lf_sz))
		f |= RFLAGS_SF;
	if (lf_of(c))
		f |= RFLAGS_OF;
	return f;
}

void cpu_set_rflags(struct cpu *c, uint64_t v)
{
	c->rflags = v | RFLAGS_FIXED;
	c->lf_op = LF_NONE;
	if (v & RFLAGS_TF) /* single-step traps run in the slow path */
		c->next_check = 0;
}

bool cpu_cond(const struct cpu *c, unsigned cc)
{
	uint64_t m, r, f;
	bool v, sf, of;

	if (c->lf_op == LF_SUB && (cc & ~1u) != 0 && (cc & ~1u) != 10) {
		/* Fast path after CMP/SUB: compare the operands directly. */
		unsigned sh = 64 - 8 * c->lf_sz;
		uint64_t a = c->lf_a << sh, b = c->lf_b << sh;

		switch (cc & ~1u) {
		case 2: v = a < b; break;
		case 4: v = a == b; break;
		case 6: v = a <= b; break;
		case 8: v = (int64_t)(a - b) < 0; break;
		case 12: v = (int64_t)a < (int64_t)b; break;
		default: v = (int64_t)a <= (int64_t)b; break;
		}
		return v ^ (cc & 1);
	}
	if (c->lf_op == LF_NONE) {
		f = c->rflags;
		sf = f & RFLAGS_SF;
		of = f & RFLAGS_OF;
		switch (cc & ~1u) {
		case 0: v = of; break;
		case 2: v = f & RFLAGS_CF; break;
		case 4: v = f & RFLAGS_ZF; break;
		case 6: v = f & (RFLAGS_CF | RFLAGS_ZF); break;
		case 8: v = sf; break;
		case 10: v = f & RFLAGS_PF; break;
		case 12: v = sf != of; break;
		default: v = (f & RFLAGS_ZF) || sf != of; break;
		}
		return v ^ (cc & 1);
	}
	/* Lazy: compute only the flags the condition reads. */
	m = sz_mask(c->lf_sz);
	r = c->lf_res & m;
	switch (cc & ~1u) {
	case 0: v = lf_of(c); break;
	case 2: v = lf_cf(c); break;
	case 4: v = !r; break;
	case 6: v = !r || lf_cf(c); break;
	case 8: v = r & sign_bit(c->lf_sz); break;
	case 10: v = parity_tab[r & 0xff]; break;
	case 12: v = ((r & sign_bit(c->lf_sz)) != 0) != lf_of(c); break;
	default:
		v = !r || ((r & sign_bit(c->lf_sz)) != 0) != lf_of(c);
		break;
	}
	return v ^ (cc & 1);
}

/* Sets all six arithmetic flags eagerly. */
static void set_flags6(struct cpu *c, bool cf, bool of, uint64_t res,
		       unsigned n, bool af)
{
	uint64_t f = c->rflags & ~(uint64_t)(RFLAGS_CF | RFLAGS_PF | RFLAGS_AF |
					    RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF);

	res &= sz_mask(n);
	f |= cf ? RFLAGS_CF : 0;
	f |= of ? RFLAGS_OF : 0;
	f |= af ? RFLAGS_AF : 0;
	f |= parity_tab[res & 0xff] ? RFLAGS_PF : 0;
	f |= res ? 0 : RFLAGS_ZF;
	f |= (res & sign_bit(n)) ? RFLAGS_SF : 0;
	c->rflags = f;
	c->lf_op = LF_NONE;
}

static inline void lazy(struct cpu *c, int op, uint64_t a, uint64_t b,
			uint64_t r, unsigned n)
{
	c->lf_op = (uint8_t)op;
	c->lf_a = a;
	c->lf_b = b;
	c->lf_res = r;
	c->lf_sz = (uint8_t)n;
}

/* The eight ALU operations in ModRM.reg order (ADD OR ADC SBB AND SUB XOR
 * CMP).  Returns the result (CMP's is discarded by the callers). */
static inline __attribute__((always_inline)) uint64_t
alu(struct cpu *c, unsigned op, uint64_t a, uint64_t b,
		    unsigned n)
{
	uint64_t r, m = sz_mask(n);
	bool cin;

	a &= m;
	b &= m;
	switch (op) {
	case 0: r = (a + b) & m; lazy(c, LF_ADD, a, b, r, n); return r;
	case 1: r = a | b; lazy(c, LF_LOGIC, a, b, r, n); return r;
	case 2: /* with no carry in, the flags are ADD's */
		cin = lf_cf(c);
		r = (a + b + cin) & m;
		lazy(c, cin ? LF_ADC : LF_ADD, a, b, r, n);
		return r;
	case 3: /* with no borrow in, the flags are SUB's */
		cin = lf_cf(c);
		r = (a - b - cin) & m;
		lazy(c, cin ? LF_SBB : LF_SUB, a, b, r, n);
		return r;
	case 4: r = a & b; lazy(c, LF_LOGIC, a, b, r, n); return r;
	case 6: r = a ^ b; lazy(c, LF_LOGIC, a, b, r, n); return r;
	default: r = (a - b) & m; lazy(c, LF_SUB, a, b, r, n); return r;
	}
}

/* E op= G etc. for one ALU operation; CMP (7) never writes.  k: the
 * form when the handler was chosen for it at decode (FORM_REG,
 * FORM_MEM; n then a constant too), or FORM_ANY to test d->mod. */
static inline __attribute__((always_inline)) void
alu_E_val(struct cpu *c, const struct dec_insn *d, unsigned op,
		      uint64_t b, unsigned n, int k)
{
	struct tlb_entry *e;
	uint64_t la, r;

	if (k == FORM_REG || (k == FORM_ANY && d->mod == 3)) {
		r = alu(c, op, greg(c, d->rm, n, d->rex), b, n);
		if (op != 7)
			sreg_w(c, d->rm, n, d->rex, r);
		return;
	}
	la = cpu_ea_k(c, d, k);
	if (FORM_IS_MEM(k) && op != 7 &&
	    (e = tlb_hit(c, TLB_WRITE, la, n)) != NULL) {
		/* A write entry is readable too (no write-only pages;
		 * watched pages get no entries): one lookup for both. */
		void *p = (void *)(e->addend + (uintptr_t)la);
		uint64_t v = 0;

		memcpy(&v, p, n); /* little-endian host */
		r = alu(c, op, v, b, n);
		memcpy(p, &r, n);
		return;
	}
	if (op != 7)
		cpu_probe_write(c, la, n);
	r = alu(c, op, rdn(c, la, n), b, n);
	if (op != 7)
		wrn(c, la, r, n);
}

static inline __attribute__((always_inline)) void
alu_G_val(struct cpu *c, const struct dec_insn *d, unsigned op,
		      uint64_t b, unsigned n)
{
	uint64_t r = alu(c, op, greg(c, d->reg, n, d->rex), b, n);

	if (op != 7)
		sreg_w(c, d->reg, n, d->rex, r);
}

#define ALU_HANDLERS(name, op)						\
void op_##name##_Eb_Gb(struct cpu *c, const struct dec_insn *d)		\
{ alu_E_val(c, d, op, greg(c, d->reg, 1, d->rex), 1, FORM_ANY); }	\
void op_##name##_Ev_Gv(struct cpu *c, const struct dec_insn *d)		\
{ alu_E_val(c, d, op, c->r[d->reg], d->opsz, FORM_ANY); }		\
void op_##name##_Gb_Eb(struct cpu *c, const struct dec_insn *d)		\
{ alu_G_val(c, d, op, rd_E(c, d, 1), 1); }				\
void op_##name##_Gv_Ev(struct cpu *c, const struct dec_insn *d)		\
{ alu_G_val(c, d, op, rd_E(c, d, d->opsz), d->opsz); }			\
static inline __attribute__((always_inline)) void			\
name##_EvGv(struct cpu *c, const struct dec_insn *d, unsigned n, int k)	\
{ alu_E_val(c, d, op, c->r[d->reg], n, k); }				\
static inline __attribute__((always_inline)) void			\
name##_GvEv(struct cpu *c, const struct dec_insn *d, unsigned n, int k)	\
{ alu_G_val(c, d, op, rd_E_k(c, d, n, k), n); }				\
FORMS(op_##name##_Ev_Gv, name##_EvGv)					\
FORMS(op_##name##_Gv_Ev, name##_GvEv)					\
static inline __attribute__((always_inline)) void			\
name##_EbGb(struct cpu *c, const struct dec_insn *d, unsigned n, int k)	\
{ alu_E_val(c, d, op, greg(c, d->reg, 1, d->rex), 1, k); }		\
static inline __attribute__((always_inline)) void			\
name##_GbEb(struct cpu *c, const struct dec_insn *d, unsigned n, int k)	\
{ alu_G_val(c, d, op, rd_E_k(c, d, 1, k), 1); }				\
FORMS1(op_##name##_Eb_Gb, name##_EbGb)					\
FORMS1(op_##name##_Gb_Eb, name##_GbEb)					\
void op_##name##_AL_Ib(struct cpu *c, const struct dec_insn *d)		\
{									\
	uint64_t r = alu(c, op, c->r[R_RAX], d->imm, 1);		\
	if (op != 7)							\
		sreg_w(c, R_RAX, 1, true, r);				\
}									\
void op_##name##_rAX_Iz(struct cpu *c, const struct dec_insn *d)	\
{									\
	uint64_t r = alu(c, op, c->r[R_RAX], d->imm, d->opsz);		\
	if (op != 7)							\
		sreg_w(c, R_RAX, d->opsz, true, r);			\
}
ALU_HANDLERS(add, 0)
ALU_HANDLERS(or, 1)
ALU_HANDLERS(adc, 2)
ALU_HANDLERS(sbb, 3)
ALU_HANDLERS(and, 4)
ALU_HANDLERS(sub, 5)
ALU_HANDLERS(xor, 6)
ALU_HANDLERS(cmp, 7)

/* Group 1 forms (groups.def: 80, 81, 82, 83): one handler per operation
 * and operand kind, register (R) or memory (M); the immediate is
 * sign-extended at decode and d->opsz is 1 for the byte forms. */
#define GRP1_HANDLERS(name, op)						\
void op_##name##_R_I(struct cpu *c, const struct dec_insn *d)		\
{									\
	alu_E_val(c, d, op, d->imm, d->opsz, FORM_REG);			\
}									\
void op_##name##_M_I(struct cpu *c, const struct dec_insn *d)		\
{									\
	alu_E_val(c, d, op, d->imm, d->opsz, FORM_ANY);			\
}									\
static inline __attribute__((always_inline)) void			\
name##_I(struct cpu *c, const struct dec_insn *d, unsigned n, int k)	\
{ alu_E_val(c, d, op, d->imm, n, k); }					\
FORMS(op_##name##_R_I, name##_I)					\
FORMS(op_##name##_M_I, name##_I)					\
FORMS1(op_##name##_R_I, name##_I)					\
FORMS1(op_##name##_M_I, name##_I)
GRP1_HANDLERS(add, 0)
GRP1_HANDLERS(or, 1)
GRP1_HANDLERS(adc, 2)
GRP1_HANDLERS(sbb, 3)
GRP1_HANDLERS(and, 4)
GRP1_HANDLERS(sub, 5)
GRP1_HANDLERS(xor, 6)
GRP1_HANDLERS(cmp, 7)

void op_test_Eb_Gb(struct cpu *c, const struct dec_insn *d)
{
	alu(c, 4, rd_E(c, d, 1), greg(c, d->reg, 1, d->rex), 1);
}

static inline __attribute__((always_inline)) void
test_EbGb(struct cpu *c, const struct dec_insn *d, unsigned n, int k)
{
	alu(c, 4, rd_E_k(c, d, 1, k), greg(c, d->reg, 1, d->rex), 1);
}
FORMS1(op_test_Eb_Gb, test_EbGb)

void op_test_Ev_Gv(struct cpu *c, const struct dec_insn *d)
{
	alu(c, 4, rd_E(c, d, d->opsz), c->r[d->reg], d->opsz);
}

static inline __attribute__((always_inline)) void
test_EvGv(struct cpu *c, const struct dec_insn *d, unsigned n, int k)
{
	alu(c, 4, rd_E_k(c, d, n, k), c->r[d->reg], n);
}
FORMS(op_test_Ev_Gv, test_EvGv)

void op_test_AL_Ib(struct cpu *c, const struct dec_insn *d)
{
	alu(c, 4, c->r[R_RAX], d->imm, 1);
}

void op_test_rAX_Iz(struct cpu *c, const struct dec_insn *d)
{
	alu(c, 4, c->r[R_RAX], d->imm, d->opsz);
}

/* INC/DEC keep CF: fold the current CF into rflags first. */
static inline __attribute__((always_inline)) uint64_t
incdec(struct cpu *c, uint64_t a, bool dec, unsigned n)
{
	uint64_t r = (dec ? a - 1 : a + 1) & sz_mask(n);
	bool cf = lf_cf(c);

	c->rflags = (c->rflags & ~RFLAGS_CF) | (cf ? RFLAGS_CF : 0);
	lazy(c, dec ? LF_DEC : LF_INC, a & sz_mask(n), 1, r, n);
	return r;
}

/* INC, DEC of E (groups 4 and 5; d->opsz 1 for FE) in form k. */
static inline __attribute__((always_inline)) void
incdec_E_k(struct cpu *c, const struct dec_insn *d, bool dec, unsigned n,
	   int k)
{
	uint64_t la;

	if (k == FORM_REG || (k == FORM_ANY && d->mod == 3)) {
		sreg_w(c, d->rm, n, d->rex,
		       incdec(c, greg(c, d->rm, n, d->rex), dec, n));
		return;
	}
	la = cpu_ea_k(c, d, k);
	cpu_probe_write(c, la, n);
	wrn(c, la, incdec(c, rdn(c, la, n), dec, n), n);
}

static void incdec_E(struct cpu *c, const struct dec_insn *d, bool dec)
{
	incdec_E_k(c, d, dec, d->opsz, FORM_ANY);
}

static inline __attribute__((always_inline)) void
inc_E(struct cpu *c, const struct dec_insn *d, unsigned n, int k)
{
	incdec_E_k(c, d, false, n, k);
}
static inline __attribute__((always_inline)) void
dec_E(struct cpu *c, const struct dec_insn *d, unsigned n, int k)
{
	incdec_E_k(c, d, true, n, k);
}

/* 40-47 INC r16/r32, 48-4F DEC r16/r32 outside 64-bit mode (LEG map). */
void op_inc_Zv(struct cpu *c, const struct dec_insn *d)
{
	sreg_w(c, d->rm, d->opsz, true, incdec(c, c->r[d->rm], false, d->opsz));
}

void op_dec_Zv(struct cpu *c, const struct dec_insn *d)
{
	sreg_w(c, d->rm, d->opsz, true, incdec(c, c->r[d->rm], true, d->opsz));
}

void op_inc_E(struct cpu *c, const struct dec_insn *d) { incdec_E(c, d, false); }
void op_dec_E(struct cpu *c, const struct dec_insn *d) { incdec_E(c, d, true); }
FORMS(op_inc_E, inc_E)
FORMS(op_dec_E, dec_E)

/* --- group 3: TEST NOT NEG MUL IMUL DIV IDIV ---------------------------- */
static inline void mul_flags(struct cpu *c, bool ovf, uint64_t lo,
			     unsigned n)
{
	lazy(c, LF_CO, ovf, ovf, lo & sz_mask(n), n);
}

/* Group 3 forms (groups.def): one handler per operation, the byte and
 * the full-size form told apart by d->opsz. */
void op_test_E_I(struct cpu *c, const struct dec_insn *d)
{
	alu(c, 4, rd_E(c, d, d->opsz), d->imm, d->opsz);
}

static inline __attribute__((always_inline)) void
test_EI(struct cpu *c, const struct dec_insn *d, unsigned n, int k)
{
	alu(c, 4, rd_E_k(c, d, n, k), d->imm, n);
}
FORMS(op_test_E_I, test_EI)
FORMS1(op_test_E_I, test_EI)

/* NOT, NEG: read-modify-write of E (probed for the write first). */
static void not_neg(struct cpu *c, const struct dec_insn *d, bool neg)
{
	unsigned n = d->opsz;
	uint64_t m = sz_mask(n), v, la = 0;

	if (d->mod != 3) {
		la = cpu_ea(c, d);
		cpu_probe_write(c, la, n);
		v = rdn(c, la, n);
	} else {
		v = greg(c, d->rm, n, d->rex);
	}
	if (!neg) {
		v = ~v & m;
	} else {
		lazy(c, LF_SUB, 0, v & m, (0 - v) & m, n);
		v = (0 - v) & m;
	}
	if (d->mod == 3)
		sreg_w(c, d->rm, n, d->rex, v);
	else
		wrn(c, la, v, n);
}

void op_not_E(struct cpu *c, const struct dec_insn *d) { not_neg(c, d, false); }
void op_neg_E(struct cpu *c, const struct dec_insn *d) { not_neg(c, d, true); }

/* MUL, IMUL: rDX:rAX (AX for bytes) = rAX * E. */
static void mul1(struct cpu *c, const struct dec_insn *d, bool sgn)
{
	unsigned n = d->opsz;
	uint64_t m = sz_mask(n), v = rd_E(c, d, n), lo, hi;

	if (n == 8) {
		if (sgn) {
			__int128 p = (__int128)(int64_t)c->r[R_RAX] *
				     (int64_t)v;
			lo = (uint64_t)p;
			hi = (uint64_t)(p >> 64);
			mul_flags(c, p != (int64_t)lo, lo, 8);
		} else {
			unsigned __int128 p = (unsigned __int128)
				c->r[R_RAX] * v;
			lo = (uint64_t)p;
			hi = (uint64_t)(p >> 64);
			mul_flags(c, hi != 0, lo, 8);
		}
		c->r[R_RAX] = lo;
		c->r[R_RDX] = hi;
		return;
	}
	{
		unsigned sh = 64 - 8 * n;
		int64_t sa = (int64_t)(c->r[R_RAX] << sh) >> sh,
			sb = (int64_t)(v << sh) >> sh;
		uint64_t p = sgn ? (uint64_t)(sa * sb) :
			     (c->r[R_RAX] & m) * (v & m);
		bool ovf = sgn ? (int64_t)(p << sh) >> sh != (int64_t)p :
			   (p >> (8 * n)) != 0;

		mul_flags(c, ovf, p, n);
		if (n == 1) {
			sreg_w(c, R_RAX, 2, true, p);
		} else {
			sreg_w(c, R_RAX, n, true, p);
			sreg_w(c, R_RDX, n, true, p >> (8 * n));
		}
	}
}

void op_mul_E(struct cpu *c, const struct dec_insn *d) { mul1(c, d, false); }
void op_imul_E(struct cpu *c, const struct dec_insn *d) { mul1(c, d, true); }

/* DIV, IDIV: rAX, rDX (AL, AH for bytes) = rDX:rAX / E, #DE for a zero
 * divisor or a quotient too large. */
static void div1(struct cpu *c, const struct dec_insn *d, bool sgn)
{
	unsigned n = d->opsz;
	uint64_t m = sz_mask(n), v = rd_E(c, d, n);

	if (!(v & m))
		cpu_raise(c, EXC_DE, 0, false);
	if (n == 8) {
		unsigned __int128 dvd = ((unsigned __int128)c->r[R_RDX]
					 << 64) | c->r[R_RAX];
		if (sgn) {
			__int128 q = (__int128)dvd / (int64_t)v;
			__int128 r = (__int128)dvd % (int64_t)v;

			if (q != (int64_t)q)
				cpu_raise(c, EXC_DE, 0, false);
			c->r[R_RAX] = (uint64_t)q;
			c->r[R_RDX] = (uint64_t)r;
		} else {
			unsigned __int128 q = dvd / v;

			if (q >> 64)
				cpu_raise(c, EXC_DE, 0, false);
			c->r[R_RAX] = (uint64_t)q;
			c->r[R_RDX] = (uint64_t)(dvd % v);
		}
		return;
	}
	{
		unsigned bits = 8 * n, sh;
		uint64_t dvd = n == 1 ? c->r[R_RAX] & 0xffff :
			((c->r[R_RDX] & m) << bits) | (c->r[R_RAX] & m);
		uint64_t q, r;

		if (sgn) {
			sh = 64 - 2 * bits;
			int64_t sd = (int64_t)(dvd << sh) >> sh;
			int64_t sv = (int64_t)(v << (64 - bits)) >> (64 - bits);
			int64_t sq = sd / sv, sr = sd % sv;

			if ((int64_t)((uint64_t)sq << (64 - bits)) >>
			    (64 - bits) != sq)
				cpu_raise(c, EXC_DE, 0, false);
			q = (uint64_t)sq;
			r = (uint64_t)sr;
		} else {
			q = dvd / (v & m);
			r = dvd % (v & m);
			if (q >> bits)
				cpu_raise(c, EXC_DE, 0, false);
		}
		if (n == 1) {
			sreg_w(c, R_RAX, 2, true,
			       (q & 0xff) | ((r & 0xff) << 8));
		} else {
			sreg_w(c, R_RAX, n, true, q);
			sreg_w(c, R_RDX, n, true, r);
		}
	}
}

void op_div_E(struct cpu *c, const struct dec_insn *d) { div1(c, d, false); }
void op_idiv_E(struct cpu *c, const struct dec_insn *d) { div1(c, d, true); }

static inline __attribute__((always_inline)) uint64_t
imul2(struct cpu *c, uint64_t a, uint64_t b, unsigned n)
{
	if (n == 8) {
		__int128 p = (__int128)(int64_t)a * (int64_t)b;

		mul_flags(c, p != (int64_t)p, (uint64_t)p, 8);
		return (uint64_t)p;
	}
	unsigned sh = 64 - 8 * n;
	int64_t p = ((int64_t)(a << sh) >> sh) * ((int64_t)(b << sh) >> sh);

	mul_flags(c, (int64_t)((uint64_t)p << sh) >> sh != p, (uint64_t)p, n);
	return (uint64_t)p;
}

void op_imul_Gv_Ev(struct cpu *c, const struct dec_insn *d)
{
	uint64_t v = rd_E(c, d, d->opsz);

	sreg_w(c, d->reg, d->opsz, d->rex, imul2(c, c->r[d->reg], v, d->opsz));
}

static inline __attribute__((always_inline)) void
imul_GvEv(struct cpu *c, const struct dec_insn *d, unsigned n, int k)
{
	uint64_t v = rd_E_k(c, d, n, k);

	sreg_w(c, d->reg, n, d->rex, imul2(c, c->r[d->reg], v, n));
}
FORMS(op_imul_Gv_Ev, imul_GvEv)

void op_imul_Gv_Ev_Iz(struct cpu *c, const struct dec_insn *d)
{
	uint64_t v = rd_E(c, d, d->opsz);

	sreg_w(c, d->reg, d->opsz, d->rex, imul2(c, v, d->imm, d->opsz));
}

void op_imul_Gv_Ev_Ib(struct cpu *c, const struct dec_insn *d)
{
	op_imul_Gv_Ev_Iz(c, d);
}

/* --- group 2: shifts and rotates --------------------------------------- */
static inline __attribute__((always_inline)) uint64_t
shift(struct cpu *c, unsigned op, uint64_t v, unsigned cnt, unsigned n)
{
	unsigned bits = 8 * n;
	uint64_t m = sz_mask(n), s = sign_bit(n), r, f = 0;
	bool cf = false, of = false;

	cnt &= n == 8 ? 63 : 31;
	if (!cnt)
		return v & m;
	v &= m;
	if (op < 4) { /* rotates keep SF ZF AF PF and read CF */
		f = cpu_get_rflags(c);
		cf = f & RFLAGS_CF;
		of = f & RFLAGS_OF;
	}
	switch (op) {
	case 0: /* ROL */
		cnt %= bits;
		r = cnt ? ((v << cnt) | (v >> (bits - cnt))) & m : v;
		cf = r & 1;
		of = ((r & s) != 0) ^ cf;
		break;
	case 1: /* ROR */
		cnt %= bits;
		r = cnt ? ((v >> cnt) | (v << (bits - cnt))) & m : v;
		cf = r & s;
		of = ((r ^ (r << 1)) & s) != 0;
		break;
	case 2: /* RCL */
		cnt %= bits + 1;
		r = v;
		for (unsigned i = 0; i < cnt; i++) {
			bool out = r & s;

			r = ((r << 1) | cf) & m;
			cf = out;
		}
		of = ((r & s) != 0) ^ cf;
		break;
	case 3: /* RCR */
		cnt %= bits + 1;
		r = v;
		of = ((r & s) != 0) ^ cf;
		for (unsigned i = 0; i < cnt; i++) {
			bool out = r & 1;

			r = (r >> 1) | (cf ? s : 0);
			cf = out;
		}
		break;
	case 4: case 6: /* SHL */
		r = cnt < 64 ? (v << cnt) & m : 0;
		cf = cnt <= bits ? (v >> (bits - cnt)) & 1 : 0;
		of = ((r & s) != 0) ^ cf;
		lazy(c, LF_CO, cf, of, r, n);
		return r;
	case 5: /* SHR */
		r = v >> cnt;
		cf = (v >> (cnt - 1)) & 1;
		lazy(c, LF_CO, cf, (v & s) != 0, r, n);
		return r;
	default: { /* SAR */
		int64_t sv = (int64_t)(v << (64 - bits)) >> (64 - bits);

		r = (uint64_t)(sv >> (cnt > 63 ? 63 : cnt)) & m;
		cf = (sv >> (cnt - 1 > 63 ? 63 : cnt - 1)) & 1;
		lazy(c, LF_CO, cf, 0, r, n);
		return r;
	}
	}
	f = (f & ~(uint64_t)(RFLAGS_CF | RFLAGS_OF)) | (cf ? RFLAGS_CF : 0) |
	    (of ? RFLAGS_OF : 0);
	cpu_set_rflags(c, f);
	return r;
}

/* Group 2 forms (groups.def: C0 C1 D0 D1 D2 D3): one handler per
 * operation, operand kind (register R, memory M) and count (Ib, 1, CL);
 * d->opsz is 1 for the byte forms. */
#define GRP2_COUNT(name, op, k, cnt)					\
void op_##name##_R_##k(struct cpu *c, const struct dec_insn *d)		\
{									\
	sreg_w(c, d->rm, d->opsz, d->rex, shift(c, op,			\
	       greg(c, d->rm, d->opsz, d->rex), (cnt), d->opsz));	\
}									\
void op_##name##_M_##k(struct cpu *c, const struct dec_insn *d)		\
{									\
	uint64_t la = cpu_ea(c, d);					\
									\
	cpu_probe_write(c, la, d->opsz);				\
	wrn(c, la, shift(c, op, rdn(c, la, d->opsz), (cnt), d->opsz),	\
	    d->opsz);							\
}
#define GRP2_R_FORMS(name, op, k, cnt)					\
static inline __attribute__((always_inline)) void			\
name##_R_##k(struct cpu *c, const struct dec_insn *d, unsigned n, int f)	\
{									\
	sreg_w(c, d->rm, n, d->rex, shift(c, op,			\
	       greg(c, d->rm, n, d->rex), (cnt), n));			\
}									\
FORMS(op_##name##_R_##k, name##_R_##k)
#define GRP2_HANDLERS(name, op)						\
	GRP2_COUNT(name, op, Ib, (unsigned)d->imm)			\
	GRP2_COUNT(name, op, 1, 1)					\
	GRP2_COUNT(name, op, CL, (unsigned)c->r[R_RCX])		\
	GRP2_R_FORMS(name, op, Ib, (unsigned)d->imm)			\
	GRP2_R_FORMS(name, op, 1, 1)					\
	GRP2_R_FORMS(name, op, CL, (unsigned)c->r[R_RCX])
GRP2_HANDLERS(rol, 0)
GRP2_HANDLERS(ror, 1)
GRP2_HANDLERS(rcl, 2)
GRP2_HANDLERS(rcr, 3)
GRP2_HANDLERS(shl, 4)
GRP2_HANDLERS(shr, 5)
GRP2_HANDLERS(sar, 7)

/* SHLD/SHRD (count masked to 5/6 bits; OF defined for count 1). */
static void shxd(struct cpu *c, const struct dec_insn *d, unsigned cnt,
		 bool left)
{
	unsigned n = d->opsz, bits = 8 * n;
	uint64_t m = sz_mask(n), la = 0, v, src = c->r[d->reg] & m, r;
	bool cf;

	cnt &= n == 8 ? 63 : 31;
	if (d->mod != 3) {
		la = cpu_ea(c, d);
		cpu_probe_write(c, la, n);
		v = rdn(c, la, n);
	} else {
		v = greg(c, d->rm, n, d->rex);
	}
	if (!cnt) {
		/* Nothing shifts, but a 32-bit register destination is still
		 * written, zero-extended (the host CPU does; tests/diff). */
		if (d->mod == 3 && n == 4)
			sreg_w(c, d->rm, n, d->rex, v);
		return;
	}
	if (n == 2 && cnt > 16) { /* undefined; keep something sane */
		cnt &= 15;
		if (!cnt)
			return;
	}
	if (left) {
		r = ((v << cnt) | (cnt == bits ? src : src >> (bits - cnt))) & m;
		cf = (v >> (bits - cnt)) & 1;
	} else {
		r = ((v >> cnt) | (cnt == bits ? src : src << (bits - cnt))) & m;
		cf = (v >> (cnt - 1)) & 1;
	}
	lazy(c, LF_CO, cf, ((r ^ v) & sign_bit(n)) != 0, r, n);
	if (d->mod == 3)
		sreg_w(c, d->rm, n, d->rex, r);
	else
		wrn(c, la, r, n);
}

void op_shld_Ev_Gv_Ib(struct cpu *c, const struct dec_insn *d) { shxd(c, d, (unsigned)d->imm, true); }
void op_shld_Ev_Gv_CL(struct cpu *c, const struct dec_insn *d) { shxd(c, d, (unsigned)c->r[R_RCX], true); }
void op_shrd_Ev_Gv_Ib(struct cpu *c, const struct dec_insn *d) { shxd(c, d, (unsigned)d->imm, false); }
void op_shrd_Ev_Gv_CL(struct cpu *c, const struct dec_insn *d) { shxd(c, d, (unsigned)c->r[R_RCX], false); }

/* --- bit test family: BT BTS BTR BTC ----------------------------------- */
static void bitop(struct cpu *c, const struct dec_insn *d, unsigned op,
		  uint64_t bit, bool reg_offset)
{
	unsigned n = d->opsz, bits = 8 * n;
	uint64_t v, la = 0, mask, r;
	int64_t off;

	if (d->mod == 3) {
		v = greg(c, d->rm, n, d->rex);
		bit &= bits - 1;
	} else {
		la = cpu_ea(c, d);
		if (reg_offset) {
			/* Register bit offsets address beyond the operand
			 * (SDM BT: bit base + offset, signed). */
			unsigned sh = 64 - bits;

			off = (int64_t)(bit << sh) >> sh;
			la = cpu_la_add(c, la, (uint64_t)((off >> (n == 8 ? 6 :
					n == 4 ? 5 : 4)) * (int64_t)n));
		}
		bit &= bits - 1;
		if (op)
			cpu_probe_write(c, la, n);
		v = rdn(c, la, n);
	}
	mask = 1ull << bit;
	c->rflags = (cpu_get_rflags(c) & ~RFLAGS_CF) |
		    ((v & mask) ? RFLAGS_CF : 0) | RFLAGS_FIXED;
	c->lf_op = LF_NONE;
	switch (op) {
	case 0: return;
	case 1: r = v | mask; break;
	case 2: r = v & ~mask; break;
	default: r = v ^ mask; break;
	}
	if (d->mod == 3)
		sreg_w(c, d->rm, n, d->rex, r);
	else
		wrn(c, la, r, n);
}

void op_bt_Ev_Gv(struct cpu *c, const struct dec_insn *d) { bitop(c, d, 0, c->r[d->reg], true); }
void op_bts_Ev_Gv(struct cpu *c, const struct dec_insn *d) { bitop(c, d, 1, c->r[d->reg], true); }
void op_btr_Ev_Gv(struct cpu *c, const struct dec_insn *d) { bitop(c, d, 2, c->r[d->reg], true); }
void op_btc_Ev_Gv(struct cpu *c, const struct dec_insn *d) { bitop(c, d, 3, c->r[d->reg], true); }

void op_bt_Ev_Ib(struct cpu *c, const struct dec_insn *d) { bitop(c, d, 0, d->imm, false); }
void op_bts_Ev_Ib(struct cpu *c, const struct dec_insn *d) { bitop(c, d, 1, d->imm, false); }
void op_btr_Ev_Ib(struct cpu *c, const struct dec_insn *d) { bitop(c, d, 2, d->imm, false); }
void op_btc_Ev_Ib(struct cpu *c, const struct dec_insn *d) { bitop(c, d, 3, d->imm, false); }

static void zf_only(struct cpu *c, bool zf)
{
	c->rflags = (cpu_get_rflags(c) & ~RFLAGS_ZF) | (zf ? RFLAGS_ZF : 0);
	c->lf_op = LF_NONE;
}

void op_bsf_Gv_Ev(struct cpu *c, const struct dec_insn *d)
{
	uint64_t v;

	/* F3 0F BC is TZCNT only with BMI1 (a level-3 model): else it
	 * executes as BSF (Linux relies on this). */
	if (d->pfx == DEC_PFX_F3 && c->level >= 3) {
		cpu_tzlzcnt(c, d, false);
		return;
	}
	v = rd_E(c, d, d->opsz);
	zf_only(c, !v);
	if (v)
		sreg_w(c, d->reg, d->opsz, d->rex, (uint64_t)__builtin_ctzll(v));
}

void op_bsr_Gv_Ev(struct cpu *c, const struct dec_insn *d)
{
	uint64_t v;

	/* Likewise F3 0F BD is LZCNT, or BSR without ABM/LZCNT. */
	if (d->pfx == DEC_PFX_F3 && c->level >= 3) {
		cpu_tzlzcnt(c, d, true);
		return;
	}
	v = rd_E(c, d, d->opsz);
	zf_only(c, !v);
	if (v)
		sreg_w(c, d->reg, d->opsz, d->rex,
		       63 - (uint64_t)__builtin_clzll(v));
}

void op_popcnt_Gv_Ev(struct cpu *c, const struct dec_insn *d)
{
	uint64_t v;

	if (d->pfx != DEC_PFX_F3)
		cpu_ud(c);
	v = rd_E(c, d, d->opsz);
	set_flags6(c, false, false, v ? 1 : 0, 8, false);
	c->rflags &= ~(uint64_t)RFLAGS_PF;
	sreg_w(c, d->reg, d->opsz, d->rex, (uint64_t)__builtin_popcountll(v));
}

/* XADD, CMPXCHG (single vCPU: LOCK is a no-op). */
void op_xadd_Eb_Gb(struct cpu *c, const struct dec_insn *d)
{
	uint64_t la = 0, v, s = greg(c, d->reg, 1, d->rex), r;

	if (d->mod == 3) {
		v = greg(c, d->rm, 1, d->rex);
		r = alu(c, 0, v, s, 1);
		sreg_w(c, d->reg, 1, d->rex, v);
		sreg_w(c, d->rm, 1, d->rex, r);
		return;
	}
	la = cpu_ea(c, d);
	cpu_probe_write(c, la, 1);
	v = rd8(c, la);
	r = alu(c, 0, v, s, 1);
	wr8(c, la, (uint8_t)r);
	sreg_w(c, d->reg, 1, d->rex, v);
}

void op_xadd_Ev_Gv(struct cpu *c, const struct dec_insn *d)
{
	unsigned n = d->opsz;
	uint64_t la = 0, v, s = c->r[d->reg], r;

	if (d->mod == 3) {
		v = greg(c, d->rm, n, d->rex);
		r = alu(c, 0, v, s, n);
		sreg_w(c, d->reg, n, d->rex, v);
		sreg_w(c, d->rm, n, d->rex, r);
		return;
	}
	la = cpu_ea(c, d);
	cpu_probe_write(c, la, n);
	v = rdn(c, la, n);
	r = alu(c, 0, v, s, n);
	wrn(c, la, r, n);
	sreg_w(c, d->reg, n, d->rex, v);
}

static void cmpxchg(struct cpu *c, const struct dec_insn *d, unsigned n)
{
	uint64_t la = 0, v, acc = c->r[R_RAX] & sz_mask(n);

	if (d->mod == 3) {
		v = greg(c, d->rm, n, d->rex);
	} else {
		la = cpu_ea(c, d);
		cpu_probe_write(c, la, n);
		v = rdn(c, la, n);
	}
	alu(c, 7, acc, v, n);
	if (acc == v) {
		uint64_t s = greg(c, d->reg, n, d->rex);

		if (d->mod == 3)
			sreg_w(c, d->rm, n, d->rex, s);
		else
			wrn(c, la, s, n);
	} else {
		if (d->mod != 3)
			wrn(c, la, v, n); /* always writes (SDM CMPXCHG) */
		sreg_w(c, R_RAX, n, true, v);
	}
}

void op_cmpxchg_Eb_Gb(struct cpu *c, const struct dec_insn *d) { cmpxchg(c, d, 1); }
void op_cmpxchg_Ev_Gv(struct cpu *c, const struct dec_insn *d) { cmpxchg(c, d, d->opsz); }

/* 0F C7 /1: CMPXCHG8B, with REX.W CMPXCHG16B. */
void op_cmpxchg8b_Mq(struct cpu *c, const struct dec_insn *d)
{
	uint64_t la = cpu_ea(c, d);
	bool eq;

	if (d->opsz == 8) /* CMPXCHG16B: CPUID.1:ECX.CX16, x86-64-v2 */
		cpu_need_level(c, 2);
	/* CMPXCHG16B: a misaligned operand is #GP(0), checked before any
	 * page fault (SDM Vol. 2 CMPXCHG8B/CMPXCHG16B; as the host). */
	if (d->opsz == 8 && (la & 15))
		cpu_gp(c, 0);
	cpu_probe_write(c, la, d->opsz == 8 ? 16 : 8);
	if (d->opsz == 8) {
		uint64_t lo, hi;

		lo = rd64(c, la);
		hi = rd64(c, la + 8);
		eq = lo == c->r[R_RAX] && hi == c->r[R_RDX];
		if (eq) {
			wr64(c, la, c->r[R_RBX]);
			wr64(c, la + 8, c->r[R_RCX]);
		} else {
			wr64(c, la, lo);
			wr64(c, la + 8, hi);
			c->r[R_RAX] = lo;
			c->r[R_RDX] = hi;
		}
	} else {
		uint64_t v = rd64(c, la);

		eq = v == (((c->r[R_RDX] & 0xffffffffull) << 32) |
			   (c->r[R_RAX] & 0xffffffffull));
		if (eq) {
			wr64(c, la, ((c->r[R_RCX] & 0xffffffffull) << 32) |
			     (c->r[R_RBX] & 0xffffffffull));
		} else {
			wr64(c, la, v);
			c->r[R_RAX] = (uint32_t)v;
			c->r[R_RDX] = v >> 32;
		}
	}
	zf_only(c, eq);
}

/* --- BCD adjustments (invalid in 64-bit mode) ----------------------------
 * As the Operation sections of SDM Vol. 2 DAA, DAS, AAA, AAS, AAM, AAD
 * give them.  Flags the SDM leaves undefined: OF = 0 after DAA/DAS;
 * SF, ZF, PF from AL after AAA/AAS; OF, AF, CF = 0 after AAM; AAD's from
 * the byte addition AL + AH * imm8 it performs. */

static void set_al(struct cpu *c, uint8_t al)
{
	c->r[R_RAX] = (c->r[R_RAX] & ~0xffull) | al;
}

void op_daa(struct cpu *c, const struct dec_insn *d)
{
	uint64_t f = cpu_get_rflags(c);
	uint8_t al = (uint8_t)c->r[R_RAX], old_al = al;
	bool cf = false, af = false, old_cf = f & RFLAGS_CF;

	if ((al & 0xf) > 9 || (f & RFLAGS_AF)) {
		cf = old_cf || al > 0xf9; /* carry out of AL + 6 */
		al = (uint8_t)(al + 6);
		af = true;
	}
	if (old_al > 0x99 || old_cf) {
		al = (uint8_t)(al + 0x60);
		cf = true;
	} else {
		cf = false;
	}
	set_al(c, al);
	set_flags6(c, cf, false, al, 1, af);
}

void op_das(struct cpu *c, const struct dec_insn *d)
{
	uint64_t f = cpu_get_rflags(c);
	uint8_t al = (uint8_t)c->r[R_RAX], old_al = al;
	bool cf = false, af = false, old_cf = f & RFLAGS_CF;

	if ((al & 0xf) > 9 || (f & RFLAGS_AF)) {
		cf = old_cf || al < 6; /* borrow out of AL - 6 */
		al = (uint8_t)(al - 6);
		af = true;
	}
	if (old_al > 0x99 || old_cf) {
		al = (uint8_t)(al - 0x60);
		cf = true;
	}
	set_al(c, al);
	set_flags6(c, cf, false, al, 1, af);
}

/* AAA and AAS: AX +/- 0x106 and AL masked to its low digit on a
 * decimal carry or borrow (CF = AF = 1), else only the mask. */
static void aaa_aas(struct cpu *c, bool sub)
{
	uint64_t f = cpu_get_rflags(c);
	uint16_t ax = (uint16_t)c->r[R_RAX];
	bool adj = (ax & 0xf) > 9 || (f & RFLAGS_AF);

	if (adj && !sub)
		ax = (uint16_t)(ax + 0x106);
	else if (adj)
		ax = (uint16_t)(ax - 6 - 0x100);
	ax &= 0xff0f;
	c->r[R_RAX] = (c->r[R_RAX] & ~0xffffull) | ax;
	set_flags6(c, adj, false, ax & 0xff, 1, adj);
}

void op_aaa(struct cpu *c, const struct dec_insn *d) { aaa_aas(c, false); }
void op_aas(struct cpu *c, const struct dec_insn *d) { aaa_aas(c, true); }

void op_aam_Ib(struct cpu *c, const struct dec_insn *d)
{
	uint8_t base = (uint8_t)d->imm, al = (uint8_t)c->r[R_RAX];

	if (!base)
		cpu_raise(c, EXC_DE, 0, false);
	c->r[R_RAX] = (c->r[R_RAX] & ~0xffffull) |
		      ((uint64_t)(al / base) << 8) | (al % base);
	set_flags6(c, false, false, al % base, 1, false);
}

void op_aad_Ib(struct cpu *c, const struct dec_insn *d)
{
	uint8_t al = (uint8_t)c->r[R_RAX];
	uint8_t t = (uint8_t)(((c->r[R_RAX] >> 8) & 0xff) * (d->imm & 0xff));
	uint8_t r = (uint8_t)(al + t);

	c->r[R_RAX] = (c->r[R_RAX] & ~0xffffull) | r;
	lazy(c, LF_ADD, al, t, r, 1);
}

/* The sized forms of this file's hottest handlers (cpu_select_handler()). */
#define ALU_ROWS(name)							\
	FORMS_ROW(op_##name##_Ev_Gv), FORMS_ROW(op_##name##_Gv_Ev),	\
	FORMS_ROW(op_##name##_R_I), FORMS_ROW(op_##name##_M_I)
#define SHIFT_ROWS(name)						\
	FORMS_ROW(op_##name##_R_Ib), FORMS_ROW(op_##name##_R_1),	\
	FORMS_ROW(op_##name##_R_CL)
const struct cpu_forms cpu_alu_forms[] = {
	ALU_ROWS(add), ALU_ROWS(or), ALU_ROWS(adc), ALU_ROWS(sbb),
	ALU_ROWS(and), ALU_ROWS(sub), ALU_ROWS(xor), ALU_ROWS(cmp),
	FORMS_ROW(op_test_Ev_Gv), FORMS_ROW(op_imul_Gv_Ev),
	FORMS_ROW(op_test_E_I), FORMS_ROW(op_inc_E), FORMS_ROW(op_dec_E),
	SHIFT_ROWS(rol), SHIFT_ROWS(ror), SHIFT_ROWS(rcl), SHIFT_ROWS(rcr),
	SHIFT_ROWS(shl), SHIFT_ROWS(shr), SHIFT_ROWS(sar),
	{ NULL, { NULL, NULL }, { NULL, NULL }, { NULL, NULL }, { NULL, NULL } }
};

#define ALU_BYTE_ROWS(name)						\
	FORMS1_ROW(op_##name##_Eb_Gb), FORMS1_ROW(op_##name##_Gb_Eb),	\
	FORMS1_ROW(op_##name##_R_I), FORMS1_ROW(op_##name##_M_I)
const struct cpu_forms cpu_alu_byte_forms[] = {
	ALU_BYTE_ROWS(add), ALU_BYTE_ROWS(or), ALU_BYTE_ROWS(adc),
	ALU_BYTE_ROWS(sbb), ALU_BYTE_ROWS(and), ALU_BYTE_ROWS(sub),
	ALU_BYTE_ROWS(xor), ALU_BYTE_ROWS(cmp),
	FORMS1_ROW(op_test_Eb_Gb), FORMS1_ROW(op_test_E_I),
	{ NULL, { NULL, NULL }, { NULL, NULL }, { NULL, NULL }, { NULL, NULL } }
};
