/* Differential execution of rax's interpreter against the host CPU:
 * shared definitions of the generator (gen.c), the native runner
 * (native.c), the interpreter runner (interp.c) and the driver
 * (diffexec.c).  Both sides run the same code at the same user-mode
 * virtual addresses with the same registers and memory. */
#ifndef RAX_DIFFEXEC_H
#define RAX_DIFFEXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The user address space both sides share (the native side maps these
 * with MAP_FIXED_NOREPLACE in a forked child; the interpreter maps them
 * with 4 KiB user pages).  The pages either side of the data are
 * unmapped on both sides: accesses there raise #PF. */
#define DX_CODE      0x10000000ull  /* one page: native harness + code */
#define DX_SEQ       (DX_CODE + 0x200) /* where a sequence starts */
#define DX_CODE_MAX  0xc00u         /* bytes a sequence may take */
#define DX_DATA      0x10010000ull  /* two pages of data */
#define DX_DATA_SIZE 0x2000u
#define DX_STACK     0x10020000ull  /* one page of stack */
#define DX_STACK_SIZE 0x1000u
#define DX_STATE     0x10030000ull  /* native only: register images */

#define DX_MAX_INSNS 96

/* In undef_fsw: C1 holds the SDM's round-up indicator, which rax does
 * not model (compared only with --strict).  Bit 0 is otherwise unused
 * there: undef_fsw masks only C0-C3. */
#define DX_FSW_C1R 0x0001u

/* Architectural state compared by the two runs. */
struct dx_state {
	uint64_t gpr[16];
	uint64_t rip, rflags;
	int vec;                   /* exception vector, -1 none */
	uint64_t err, cr2;         /* for #PF/#GP */
	uint8_t fx[512] __attribute__((aligned(16))); /* FXSAVE image */
	uint8_t data[DX_DATA_SIZE];
	uint8_t stack[DX_STACK_SIZE];
};

/* Instruction families (--family). */
#define DX_FAMILIES(X) \
	X(alu) X(incdec) X(shift) X(muldiv) X(flags) X(string) X(bit) \
	X(cond) X(bswap) X(xchg) X(mov) X(stack) X(sse_int) X(sse_fp) \
	X(cvt) X(x87) X(misc) X(priv) X(unadv) X(extra) X(mmx) X(legacy) \
	X(sse3) X(ssse3) X(sse41) X(sse42) X(bmi) X(avx) X(xsave)
enum dx_family {
#define DX_FAM_ENUM(n) DX_FAM_##n,
	DX_FAMILIES(DX_FAM_ENUM)
#undef DX_FAM_ENUM
	DX_NFAM
};
extern const char *const dx_family_names[DX_NFAM];
/* Families left out when --family is not given: none today (a family
 * whose instructions the interpreter lacks goes here until they land). */
#define DX_FAM_DEFAULT 0u
/* The families that exist in each code size: legacy (the instructions
 * invalid in 64-bit mode) only in 32-bit code; the x87/MMX/SSE/SSE2 ones
 * (not written for 32-bit code yet) only in 64-bit code.  The x86-64-v2
 * and BMI families run in both (XMM0-7 and no MMX form or FISTTP in
 * 32-bit code). */
#define DX_FAM_ONLY32 (1u << DX_FAM_legacy)
#define DX_FAM_ONLY64 ((1u << DX_FAM_sse_int) | (1u << DX_FAM_sse_fp) | \
		       (1u << DX_FAM_cvt) | (1u << DX_FAM_x87) | \
		       (1u << DX_FAM_unadv) | (1u << DX_FAM_extra) | \
		       (1u << DX_FAM_mmx))

struct dx_insn {
	uint16_t off;              /* offset from DX_SEQ */
	uint8_t len;
	uint8_t fam;
	bool setup;                /* operand set-up emitted by the generator */
	uint64_t undef_flags;      /* RFLAGS bits undefined before it */
	uint16_t undef_fsw;        /* x87 C0-C3 undefined before it */
	uint16_t undef_hi;         /* GPRs (bit n: register n) whose bits
				      63:32 are undefined before it */
	uint16_t jtarget;          /* forward branch: target offset, or 0 */
	/* A masked store (VMASKMOVPS/PD, VPMASKMOVD/Q): where its faulting
	 * element straddles a page, an Intel Xeon reports CR2 at the
	 * element's last byte, an AMD EPYC and rax at the page's first:
	 * only the page is compared. */
	bool cr2_page;
};

struct dx_seq {
	uint8_t code[DX_CODE_MAX];
	unsigned len;              /* sequence bytes; the end is DX_SEQ+len */
	unsigned n;
	struct dx_insn insn[DX_MAX_INSNS];
	uint64_t undef_flags;      /* at the end */
	uint16_t undef_fsw;
	uint16_t undef_hi;
	/* The last instruction is one rax does not advertise: the
	 * interpreter must raise #UD on it, the host runs up to it. */
	bool ud_tail;
	/* Code for a 32-bit code segment (compatibility mode: the host's
	 * __USER32_CS, 0x23); only EAX-EDI's low halves are compared. */
	bool m32;
	struct dx_state in;
};

/* gen.c: fills *s from the generator state seeded with seed, using the
 * families in fam_mask (bit per enum dx_family), as 64-bit code or (m32)
 * as code for a 32-bit code segment, for an interpreter whose CPU model
 * is x86-64 level `level`. */
void dx_generate(struct dx_seq *s, uint64_t seed, uint32_t fam_mask,
		 bool m32, unsigned level);

/* native.c: runs n sequences on the host in a forked child; out[i]
 * receives the final state (or the state at the fault).  Returns 0;
 * -2 when the fixed addresses cannot be mapped; -1 when the child died
 * (message on stderr). */
int dx_native_run(const struct dx_seq *s, unsigned n, struct dx_state *out);

/* interp.c: the interpreter side. */
struct machine;
/* jit: every trace is translated the first time the run loop's fast
 * path enters it (machine.jit_hot = 1) instead of once it is hot;
 * tlb_miss: its memory accesses all take their out-of-line handler
 * (machine.jit_tlb_miss). */
int dx_interp_init(struct machine *m, unsigned level, bool jit,
		   bool tlb_miss);
void dx_interp_destroy(struct machine *m);
/* Runs s on the interpreter one instruction at a time, on the slow
 * path; *out as for dx_native_run.  Returns the steps it took, or -1
 * when the interpreter stopped for another reason (out->vec = -2). */
int dx_interp_run(struct machine *m, const struct dx_seq *s,
		  struct dx_state *out);
/* Runs s on the fast path (translated with dx_interp_init's jit), one
 * run() until its end: entered by a JMP, so that the sequence starts a
 * trace, and stopped by the clock (stop_at) a little after the INT3
 * after its end (#BP) or its fault has reached its stub (each a JMP $),
 * steps being what dx_interp_run() took.  Returns 0 with *out as
 * dx_interp_run's, or -1 (out->vec = -2) when the run did not end on a
 * stub. */
int dx_interp_run_jit(struct machine *m, const struct dx_seq *s,
		      unsigned steps, struct dx_state *out);

#endif
