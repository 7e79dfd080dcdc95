/* x86-64 decoder: see decoder.h.  Prefix and ModRM/SIB rules follow SDM
 * Vol. 2 §2.1-2.2; operand-size defaults in 64-bit mode follow Vol. 2
 * Appendix A.2.5 (the d64/f64 superscripts). */
#include "decoder/decoder.h"

#include <errno.h>
#include <string.h>

#include "regs.h"

const struct dec_attr dec_attrs[DEC_NOPS] = {
#define X(id, h, mn, ops, fl) [id] = { (fl) | DF_VALID, mn, ops },
#include "decoder/opcodes.def"
#undef X
};

const uint8_t dec_group[DEC_MAP_FORM] = {
#define X(id, h, mn, ops, fl)
#define GROUP(op, g) [op] = (g) + 1,
#include "decoder/opcodes.def"
#undef GROUP
#undef X
};

struct cursor {
	const uint8_t *buf;
	size_t avail, pos;
};

static int need(struct cursor *c, size_t n)
{
	if (c->pos + n > 15)
		return -E2BIG;
	if (c->pos + n > c->avail)
		return -EAGAIN;
	return 0;
}

static uint64_t take(struct cursor *c, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)c->buf[c->pos + i] << (8 * i);
	c->pos += n;
	return v;
}

static int64_t sext(uint64_t v, unsigned bytes)
{
	unsigned sh = 64 - 8 * bytes;

	return bytes >= 8 ? (int64_t)v : (int64_t)(v << sh) >> sh;
}

/* 16-bit ModRM addressing (SDM Vol. 2 Table 2-1). */
static const uint8_t modrm16_base[8] = { R_RBX, R_RBX, R_RBP, R_RBP,
	R_RSI, R_RDI, R_RBP, R_RBX };
static const uint8_t modrm16_index[8] = { R_RSI, R_RDI, R_RSI, R_RDI,
	DEC_NOREG, DEC_NOREG, DEC_NOREG, DEC_NOREG };

static int decode_modrm(struct cursor *c, struct dec_insn *d)
{
	uint8_t modrm, sib;
	unsigned dispsz = 0;
	int ret = need(c, 1);

	if (ret)
		return ret;
	modrm = (uint8_t)take(c, 1);
	d->mod = modrm >> 6;
	d->reg = ((modrm >> 3) & 7) | ((d->rex & 4) << 1);
	d->rm = (modrm & 7) | ((d->rex & 1) << 3);
	d->base = d->index = DEC_NOREG;
	/* MOV to/from CRn/DRn ignore ModRM.mod: always a register operand
	 * (SDM Vol. 2 MOV-Move to/from Control Registers). */
	if (dec_attrs[d->op].flags & DF_MOD3)
		d->mod = 3;
	if (d->mod == 3)
		return 0;
	if (d->adsz == 2) {
		unsigned rm = modrm & 7;

		if (d->mod == 0 && rm == 6) {
			dispsz = 2;
		} else {
			d->base = modrm16_base[rm];
			d->index = modrm16_index[rm];
		}
		if (d->mod == 1)
			dispsz = 1;
		else if (d->mod == 2)
			dispsz = 2;
	} else {
		if ((modrm & 7) == 4) {
			ret = need(c, 1);
			if (ret)
				return ret;
			sib = (uint8_t)take(c, 1);
			d->scale = sib >> 6;
			d->index = ((sib >> 3) & 7) | ((d->rex & 2) << 2);
			if (d->index == R_RSP)
				d->index = DEC_NOREG;
			d->base = (sib & 7) | ((d->rex & 1) << 3);
			if ((sib & 7) == 5 && d->mod == 0) {
				d->base = DEC_NOREG;
				dispsz = 4;
			}
		} else if ((modrm & 7) == 5 && d->mod == 0) {
			dispsz = 4;
			/* RIP-relative only in 64-bit mode (Vol. 2
			 * §2.2.1.6); the caller clears it outside. */
			d->riprel = 1;
		} else {
			d->base = d->rm;
		}
		if (d->mod == 1)
			dispsz = 1;
		else if (d->mod == 2)
			dispsz = 4;
	}
	if (dispsz) {
		ret = need(c, dispsz);
		if (ret)
			return ret;
		d->disp = (int32_t)sext(take(c, dispsz), dispsz);
	}
	return 0;
}

/* Immediate bytes implied by the attribute flags. */
static unsigned imm_size(const struct dec_insn *d, uint64_t fl)
{
	if (fl & DF_I8)
		return 1;
	if (fl & DF_I16)
		return 2;
	if (fl & DF_IZ)
		return d->opsz == 2 ? 2 : 4;
	if (fl & DF_IV)
		return d->opsz;
	if (fl & DF_MOFFS)
		return d->adsz;
	if (fl & DF_I16I8)
		return 3;
	if (fl & DF_FAR)
		return d->opsz == 2 ? 4 : 6;
	return 0;
}

/* Byte-operand forms (Appendix A "b" operands): decided by the first
 * operand, plus the DF_BYTE rows (string and I/O forms). */
static bool byte_op(uint64_t fl, const char *ops)
{
	if (fl & DF_BYTE)
		return true;
	if (ops[0] == 'A' && ops[1] == 'L')
		return true;
	/* ops may be "": never read past its terminator. */
	return ops[0] && ops[1] == 'b' && strchr("EGZO", ops[0]);
}

static void set_opsz(struct dec_insn *d, uint64_t fl, bool opsz16,
		     enum dec_mode mode)
{
	const char *ops = dec_attrs[d->op].operands;

	if (mode == DEC_MODE64) {
		if (fl & DF_F64)
			d->opsz = 8;
		else if (d->rex & 8)
			d->opsz = 8;
		else if (fl & DF_D64)
			d->opsz = opsz16 ? 2 : 8;
		else
			d->opsz = opsz16 ? 2 : 4;
	} else {
		d->opsz = (mode == DEC_MODE32) != opsz16 ? 4 : 2;
	}
	if (byte_op(fl, ops))
		d->opsz = 1;
}

static void parse_prefixes(struct cursor *c, struct dec_insn *d,
			   bool *opsz16, bool *adsz_ovr, enum dec_mode mode)
{
	for (; c->pos < c->avail && c->pos < 15; c->pos++) {
		uint8_t b = c->buf[c->pos];

		switch (b) {
		case 0x66: *opsz16 = true; if (!d->rep) d->pfx = DEC_PFX_66; break;
		case 0x67: *adsz_ovr = true; break;
		case 0xf0: d->lock = 1; break;
		case 0xf2: d->rep = b; d->pfx = DEC_PFX_F2; break;
		case 0xf3: d->rep = b; d->pfx = DEC_PFX_F3; break;
		case 0x26: d->seg = S_ES; break;
		case 0x2e: d->seg = S_CS; break;
		case 0x36: d->seg = S_SS; break;
		case 0x3e: d->seg = S_DS; break;
		case 0x64: d->seg = S_FS; break;
		case 0x65: d->seg = S_GS; break;
		default:
			if (mode == DEC_MODE64 && (b & 0xf0) == 0x40) {
				d->rex = b;
				continue; /* must be last: cleared below if not */
			}
			return;
		}
		d->rex = 0; /* a legacy prefix after REX cancels it */
	}
}

/* Length of an instruction that decodes to #UD but has ModRM (and imm8). */
static int skip_modrm_imm(struct cursor *c, struct dec_insn *d, bool imm8)
{
	int ret = decode_modrm(c, d);

	if (!ret && imm8) {
		ret = need(c, 1);
		c->pos++;
	}
	if (ret)
		return ret;
	d->op = DEC_OP_UD;
	d->len = (uint8_t)c->pos;
	return 0;
}

/* What a VEX row's operand column (for the prefix in d->pfx) says of
 * the VEX fields: with no H or B operand, VEX.vvvv is reserved and must
 * be 1111b; with a general-register operand of size y (Gy, By, Ey: BMI1,
 * BMI2, RORX, VMOVD/VMOVQ) the form is VEX.LZ and VEX.L 1 is #UD (SDM
 * Vol. 2 §2.3.6, §2.5.1). */
static bool vex_fields_allowed(const char *ops, const struct dec_insn *d)
{
	bool vvvv = false, lz = false;

	if (ops && strchr(ops, '|')) /* "ops|ops|ops|ops": by VEX.pp */
		for (unsigned k = d->pfx; k && ops; k--)
			if ((ops = strchr(ops, '|')))
				ops++;
	if (!ops)
		return true;
	for (const char *t = ops; *t && *t != '|'; t++) {
		if (t != ops && t[-1] != ',')
			continue;
		vvvv |= *t == 'H' || *t == 'B';
		lz |= (*t == 'G' || *t == 'B' || *t == 'E') && t[1] == 'y';
	}
	return (vvvv || !(d->vex >> 4)) && !(lz && (d->vex & 2));
}

/* VEX (Vol. 2 §2.3): the two- and three-byte prefixes' fields into d
 * (vex, rex, pfx).  A listed opcode of the VEX maps returns with d->op
 * set and the cursor after the opcode byte; anything else is measured
 * and decodes to DEC_OP_UD, as do VEX forms after a 66, F2, F3, LOCK or
 * REX prefix (§2.3.2) and outside 64-bit mode VEX.vvvv's bit 3 and
 * VEX.R/X/B are ignored. */
static int decode_vex(struct cursor *c, struct dec_insn *d, unsigned op,
		      enum dec_mode mode, bool bad)
{
	unsigned map = 1, opc, b1, b2, rxb, w = 0, id = 0;
	int ret = need(c, op == 0xc4 ? 3 : 2);

	if (ret)
		return ret;
	b1 = c->buf[c->pos];
	if (op == 0xc4) {
		b2 = c->buf[c->pos + 1];
		map = b1 & 0x1f;
		rxb = (~b1 >> 5) & 7;
		w = b2 >> 7;
		c->pos += 2;
	} else {
		b2 = b1;
		rxb = (~b1 >> 5) & 4;
		c->pos += 1;
	}
	opc = (unsigned)take(c, 1);
	bad |= d->rex || d->rep || d->lock || d->pfx;
	d->vex = (uint8_t)(1 | ((b2 >> 2) & 1) << 1 |
			   (((~b2 >> 3) & (mode == DEC_MODE64 ? 15 : 7)) << 4));
	d->rex = (uint8_t)(0x40 | w << 3 | (mode == DEC_MODE64 ? rxb : 0));
	d->pfx = (uint8_t)(b2 & 3); /* VEX.pp: none, 66, F3, F2 = DEC_PFX_* */
	/* VZEROUPPER/VZEROALL are VEX.0F.WIG 77 with no VEX.pp and
	 * VEX.vvvv 1111b; any other pp or vvvv is #UD (SDM Vol. 2 §2.3.6,
	 * Table 2-18 note). */
	if (map == 1 && opc == 0x77 && (d->pfx || d->vex >> 4))
		bad = true;
	if (map >= 1 && map <= 3)
		id = DEC_MAP_VEX + ((map - 1) << 8) + opc;
	if (id && dec_attrs[id].flags && !bad &&
	    vex_fields_allowed(dec_attrs[id].operands, d)) {
		d->op = (uint16_t)id;
		return 0;
	}
	d->op = DEC_OP_UD;
	if (map == 1 && opc == 0x77) { /* VZEROUPPER/VZEROALL: no ModRM */
		d->len = (uint8_t)c->pos;
		return 0;
	}
	/* An imm8 where the legacy form has one (its row's DF_I8: CMPPS,
	 * PSHUFD, PINSRW...), and always in map 0F 3A. */
	return skip_modrm_imm(c, d, map == 3 || (map == 1 &&
			      (dec_attrs[DEC_MAP_0F | opc].flags & DF_I8)));
}

/* LOCK is allowed only on the read-modify-write instructions SDM Vol. 2
 * "LOCK" lists (DF_LOCKABLE rows and forms of opcodes.def), and only
 * with a memory destination; anything else is #UD. */
static bool lockable(const struct dec_insn *d, uint64_t fl)
{
	return d->mod != 3 && (fl & DF_LOCKABLE);
}

/* An opcode with forms (GROUP rows): d->op becomes the form's id, its
 * operand size follows the form's row.  Returns 1 to go on with the
 * form's flags; 0 for an undefined form, or a DF_NOPFX form with a
 * mandatory prefix (#UD, measured with the opcode's immediates), or an
 * error. */
static int decode_form(struct cursor *c, struct dec_insn *d, uint64_t fl,
		       bool opsz16, enum dec_mode mode)
{
	unsigned r = d->reg & 7, g = dec_group[d->op] - 1U;
	unsigned id = DEC_FORM_ID(g, d->mod == 3 ? 8 + r * 8 + (d->rm & 7) : r);
	unsigned isz;
	int ret;

	if (dec_attrs[id].flags && !((dec_attrs[id].flags & DF_NOPFX) &&
				     d->pfx != DEC_PFX_NONE)) {
		d->op = (uint16_t)id;
		set_opsz(d, dec_attrs[id].flags, opsz16, mode);
		return 1;
	}
	isz = imm_size(d, fl);
	if (isz) {
		ret = need(c, isz);
		if (ret)
			return ret;
		c->pos += isz;
	}
	d->op = DEC_OP_UD;
	d->len = (uint8_t)c->pos;
	return 0;
}

int dec_decode(struct dec_insn *d, const uint8_t *buf, size_t avail,
	       enum dec_mode mode)
{
	struct cursor c = { buf, avail, 0 };
	bool opsz16 = false, adsz_ovr = false, vex = false;
	unsigned op, isz;
	uint64_t fl;
	int ret;

	memset(d, 0, sizeof(*d));
	d->seg = d->base = d->index = DEC_NOREG;
	parse_prefixes(&c, d, &opsz16, &adsz_ovr, mode);
	ret = need(&c, 1);
	if (ret)
		return ret;
	if (mode == DEC_MODE64)
		d->adsz = adsz_ovr ? 4 : 8;
	else
		d->adsz = (mode == DEC_MODE32) != adsz_ovr ? 4 : 2;
	op = (unsigned)take(&c, 1);
	if (op == 0x0f) {
		ret = need(&c, 1);
		if (ret)
			return ret;
		op = (unsigned)take(&c, 1);
		if (op == 0x38 || op == 0x3a) {
			unsigned map = op == 0x38 ? DEC_MAP_0F38 : DEC_MAP_0F3A;

			ret = need(&c, 1);
			if (ret)
				return ret;
			op = map | (unsigned)take(&c, 1);
		} else {
			op |= DEC_MAP_0F;
		}
	} else if ((op == 0xc4 || op == 0xc5) && mode == DEC_MODE64) {
		ret = decode_vex(&c, d, op, mode, opsz16);
		if (ret || d->op == DEC_OP_UD)
			return ret;
		op = d->op;
		vex = true;
	} else if (mode != DEC_MODE64 && dec_attrs[DEC_MAP_LEG | op].flags) {
		/* Outside 64-bit mode C4/C5 are VEX only when ModRM.mod
		 * would be 3, which LES/LDS cannot encode (Vol. 2 §2.3.5). */
		if (op == 0xc4 || op == 0xc5) {
			ret = need(&c, 1);
			if (ret)
				return ret;
			if ((c.buf[c.pos] >> 6) == 3) {
				ret = decode_vex(&c, d, op, mode, opsz16);
				if (ret || d->op == DEC_OP_UD)
					return ret;
				op = d->op;
				vex = true;
			}
		}
		if (!vex)
			op |= DEC_MAP_LEG;
	}
	d->op = (uint16_t)op;
	fl = dec_attrs[op].flags;
	if (mode == DEC_MODE64 && (fl & (DF_NO64 | DF_FAR)))
		fl = 0;
	if (!fl) {
		d->op = DEC_OP_UD;
		d->opsz = 4;
		if (op >= DEC_MAP_0F38) /* every 0F38/0F3A opcode has ModRM */
			return skip_modrm_imm(&c, d, op >= DEC_MAP_0F3A);
		d->len = (uint8_t)c.pos;
		return 0;
	}
	set_opsz(d, fl, opsz16 && !vex, mode);
	if (!(fl & DF_M)) /* +r opcodes: REX.B selects r8-r15 */
		d->rm = (op & 7) | ((d->rex & 1) << 3);
	if (fl & DF_M) {
		ret = decode_modrm(&c, d);
		if (ret)
			return ret;
		if (mode != DEC_MODE64)
			d->riprel = 0;
		/* 62 with ModRM.mod = 3 is EVEX, not BOUND (§2.7.1). */
		if ((fl & DF_MEMONLY) && d->mod == 3) {
			d->op = DEC_OP_UD;
			d->len = (uint8_t)c.pos;
			return 0;
		}
		if (op < DEC_MAP_FORM && dec_group[op]) {
			ret = decode_form(&c, d, fl, opsz16, mode);
			if (ret <= 0)
				return ret;
			fl = dec_attrs[d->op].flags;
		}
	}
	isz = imm_size(d, fl);
	if (isz) {
		ret = need(&c, isz);
		if (ret)
			return ret;
		if (fl & DF_I16I8) {
			d->imm = take(&c, 2);
			d->imm2 = (uint16_t)take(&c, 1);
		} else if (fl & DF_FAR) {
			d->imm = take(&c, isz - 2);
			d->imm2 = (uint16_t)take(&c, 2);
		} else if (fl & (DF_MOFFS | DF_IV | DF_I16)) {
			d->imm = take(&c, isz);
		} else {
			d->imm = (uint64_t)sext(take(&c, isz), isz);
		}
	}
	d->len = (uint8_t)c.pos;
	if (d->lock && !lockable(d, fl))
		d->op = DEC_OP_UD;
	return 0;
}
