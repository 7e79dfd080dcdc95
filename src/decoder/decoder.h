/* x86-64 instruction decoder (SDM Vol. 2 ch. 2): pure code with no I/O.
 * The caller hands it the bytes at the instruction pointer; it returns
 * the length, prefixes, operand/address sizes, ModRM/SIB effective-
 * address parts and immediates.  One opcode list (opcodes.def) yields the
 * attribute table here, the interpreter's dispatch table (src/cpu) and the
 * disassembler's mnemonics (STYLE.md habit 7). */
#ifndef RAX_DECODER_H
#define RAX_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Opcode ids: map * 256 + opcode byte; maps are one-byte, 0F, 0F38, 0F3A,
 * and LEG: the one-byte opcodes whose meaning outside 64-bit mode differs
 * from their 64-bit one (40-4F INC/DEC, not REX; 63 ARPL, not MOVSXD; C4
 * and C5 LES/LDS when ModRM.mod != 3, not VEX: SDM Vol. 2 Table A-2). */
#define DEC_MAP_1B   0x000
#define DEC_MAP_0F   0x100
#define DEC_MAP_0F38 0x200
#define DEC_MAP_0F3A 0x300
#define DEC_MAP_LEG  0x400
/* Forms: an opcode with a GROUP row in opcodes.def (the x87 escapes,
 * groups 3, 5, 6, 7, 8, 9, 15) is decoded to the id of its form, one of
 * DEC_FORMS per group: the memory form of each ModRM.reg (slot reg),
 * then the register form of each ModRM.reg and ModRM.rm (slot 8 + reg *
 * 8 + rm).  A form with no row is undefined (#UD). */
#define DEC_MAP_FORM 0x500
#define DEC_FORMS    72
#define DEC_GROUPS   32
#define DEC_FORM_ID(g, slot) (DEC_MAP_FORM + (g) * DEC_FORMS + (slot))
/* The VEX maps (Vol. 2 §2.3), after the forms: VEX.mmmmm 1 (0F), 2
 * (0F38), 3 (0F3A). */
#define DEC_MAP_VEX  0xe00
#define DEC_MAP_V0F   (DEC_MAP_VEX + 0x000)
#define DEC_MAP_V0F38 (DEC_MAP_VEX + 0x100)
#define DEC_MAP_V0F3A (DEC_MAP_VEX + 0x200)
#define DEC_NOPS     (DEC_MAP_VEX + 0x300)
_Static_assert(DEC_FORM_ID(DEC_GROUPS, 0) <= DEC_MAP_VEX,
	       "the forms end before the VEX maps");
#define DEC_OP_UD    0x3ff /* never listed: undefined, VEX, invalid in mode */

/* Attribute flags used in opcodes.def. */
#define DF_M     0x0001u /* has ModRM */
#define DF_I8    0x0002u /* imm8 */
#define DF_I16   0x0004u /* imm16 */
#define DF_IZ    0x0008u /* imm16/32 by operand size (sign-extended) */
#define DF_IV    0x0010u /* imm16/32/64 by operand size (MOV r, imm) */
#define DF_MOFFS 0x0020u /* moffs, address-size wide */
#define DF_D64   0x0040u /* operand size defaults to 64 in 64-bit mode */
#define DF_F64   0x0080u /* operand size forced to 64 in 64-bit mode */
#define DF_BYREG 0x0200u /* mnemonic list selected by ModRM.reg */
#define DF_BYPFX 0x0400u /* mnemonic list selected by none/66/F3/F2 */
#define DF_NO64  0x0800u /* invalid in 64-bit mode */
#define DF_I16I8 0x1000u /* ENTER: imm16 then imm8 */
#define DF_FAR   0x2000u /* ptr16:16/32 (invalid in 64-bit mode) */
#define DF_MMX   0x4000u /* no mandatory prefix: V/W/U are MMX P/Q/N */
#define DF_VALID 0x8000u /* set for every listed opcode */
#define DF_END   0x10000u /* ends a trace: may move RIP other than by its
			     length (branches, calls, far transfers, INT n,
			     SYSCALL...), or HLT, UD2 */
#define DF_BYTE  0x20000u /* byte form the operands do not show (string
			     and I/O forms, XLAT) */
#define DF_MOD3  0x40000u /* ModRM.mod ignored: always a register operand
			     (MOV to/from CRn/DRn) */
#define DF_MEMONLY 0x100000u /* ModRM.mod 3 is another encoding: #UD here
				(62: EVEX, not BOUND) */
#define DF_BYSIZE 0x200000u /* mnemonic list selected by operand size
			       2|4|8 */
#define DF_X87   0x400000u /* x87 class: #NM under CR0.EM or CR0.TS */
#define DF_WAIT  0x800000u /* WAIT: #NM under CR0.TS with CR0.MP */
#define DF_NOWAIT 0x1000000u /* x87 no-wait form: takes no pending #MF */
#define DF_SSE   0x2000000u /* SSE class without XMM operands (LDMXCSR) */
#define DF_NOPFX 0x4000000u /* a form that a 66/F3/F2 prefix makes
			       another instruction (#UD here) */
/* The x86-64 level (psABI micro-architecture levels) an opcode's every
 * form needs: #UD on a CPU model below it (--cpu).  Forms of a row that
 * differ (a mandatory prefix, REX.W, 64-bit mode) are checked by their
 * handlers. */
#define DF_V2    0x8000000u
#define DF_V3    0x10000000u
#define DF_BYVEXL 0x20000000u /* an entry "x/y" is y with VEX.L, not W */
/* LOCK-able with a memory destination (SDM Vol. 2 "LOCK"); a group's
 * forms say it each (NOT, NEG, INC, DEC, BTS Ib...). */
#define DF_LOCKABLE 0x40000000u

/* Mnemonic lists: "a|b|c" selects an entry (DF_BYREG, DF_BYPFX,
 * DF_BYSIZE, else by the opcode's low 3 bits); an entry "x/y" is x, or y
 * with REX.W (VEX.W; with VEX.L for DF_BYVEXL).  Operand lists: "ops|ops|ops|ops" selects by mandatory
 * prefix none|66|F3|F2 (a DF_BYPFX row whose operands differ by prefix);
 * "Ib2" is ENTER's second immediate. */
struct dec_attr {
	uint64_t flags;
	const char *mnem;     /* "add", or "a|b|c" lists (BYREG, BYPFX) */
	const char *operands; /* SDM Appendix A notation, e.g. "Eb,Gb" */
};

extern const struct dec_attr dec_attrs[DEC_NOPS];
/* The group of each opcode with forms, plus one (0: none). */
extern const uint8_t dec_group[DEC_MAP_FORM];

/* Mandatory-prefix class for SSE opcodes (the last of 66/F3/F2 wins as
 * the SDM says F2/F3 take precedence over 66). */
enum { DEC_PFX_NONE, DEC_PFX_66, DEC_PFX_F3, DEC_PFX_F2 };

#define DEC_NOREG 0xff

struct dec_insn {
	uint64_t imm;     /* sign-extended to 64 bits for Ib/Iz forms */
	int32_t disp;
	uint16_t op;      /* opcode id; dec_attrs[op].flags == 0: undefined */
	uint16_t imm2;    /* ENTER's second immediate; far pointer selector */
	uint8_t len;
	uint8_t opsz;     /* operand size in bytes: 1 for byte forms, 2, 4, 8 */
	uint8_t adsz;     /* address size in bytes: 2, 4, 8 */
	uint8_t rex;      /* the REX byte, or 0 */
	uint8_t rep;      /* 0, 0xf3 or 0xf2 */
	uint8_t lock;
	uint8_t pfx;      /* DEC_PFX_* */
	uint8_t seg;      /* segment override (S_ES..S_GS) or DEC_NOREG */
	uint8_t mod, reg, rm; /* reg/rm include REX.R/REX.B; rm also holds
				 the register of +r opcodes */
	uint8_t base, index, scale; /* DEC_NOREG when absent; scale = shift */
	uint8_t riprel;
	uint8_t vex;      /* VEX-encoded: bit 0; VEX.L: bit 1; VEX.vvvv (the
			     register it names): bits 7:4.  VEX.W, R, X, B
			     are in rex (0x40 set), VEX.pp in pfx. */
};

#define DEC_VEX_L(d) (((d)->vex >> 1) & 1)
#define DEC_VEX_V(d) ((unsigned)(d)->vex >> 4)
_Static_assert(sizeof(struct dec_insn) == 32, "decoded insn fits 32 bytes");

/* Decoding mode: the code segment's default size. */
enum dec_mode { DEC_MODE16 = 2, DEC_MODE32 = 4, DEC_MODE64 = 8 };

/* Decodes the instruction at buf[0..avail).  Returns 0; -EAGAIN when the
 * instruction continues past avail (the caller fetches more, up to 15
 * bytes); -E2BIG when it is longer than 15 bytes (#GP).  Undefined
 * opcodes decode successfully with dec_attrs[op].flags == 0 (#UD). */
int dec_decode(struct dec_insn *d, const uint8_t *buf, size_t avail,
	       enum dec_mode mode);

/* Mnemonic of a decoded instruction (selects BYREG/BYPFX list entries). */
const char *dec_mnemonic(const struct dec_insn *d, char *buf, size_t len);

/* Intel-syntax text of d at address rip (for jump targets), e.g.
 * "add qword ptr [rax+0x8], rcx".  Returns buf. */
char *dec_disasm(const struct dec_insn *d, uint64_t rip, char *buf,
		 size_t len);

#endif
