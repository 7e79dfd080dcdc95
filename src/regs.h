/* Architectural vCPU state exchanged between the engines and everything
 * else (loader, gdb server, register dumps).  Engines convert to and from
 * their own representation; nothing outside an engine sees that. */
#ifndef RAX_REGS_H
#define RAX_REGS_H

#include <stdint.h>

/* General registers in instruction-encoding order (SDM Vol. 2 §2.1.5). */
enum { R_RAX, R_RCX, R_RDX, R_RBX, R_RSP, R_RBP, R_RSI, R_RDI,
       R_R8, R_R9, R_R10, R_R11, R_R12, R_R13, R_R14, R_R15 };

/* Segment registers in encoding order (SDM Vol. 2 §3.1.1.1, Sreg). */
enum { S_ES, S_CS, S_SS, S_DS, S_FS, S_GS };

/* A segment register with its descriptor cache, fields as in the
 * descriptor (SDM Vol. 3 §3.4.5); limit is in bytes, already scaled by G. */
struct rax_seg {
	uint64_t base;
	uint32_t limit;
	uint16_t sel;
	uint8_t type, s, dpl, present, avl, l, db, g, unusable;
};

struct rax_dtable {
	uint64_t base;
	uint16_t limit;
};

struct rax_regs {
	uint64_t gpr[16];
	uint64_t rip, rflags;
	struct rax_seg seg[6]; /* ES CS SS DS FS GS; fs_base = seg[S_FS].base */
	struct rax_seg ldt, tr;
	struct rax_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer;
	uint64_t apic_base;
};

struct rax_dregs {
	uint64_t dr[4], dr6, dr7;
};

/* x87/SSE state in the FXSAVE image layout (SDM Vol. 1 §10.5.1): FCW at
 * 0, FSW at 2, abridged FTW at 4, FOP at 6, FIP at 8, FDP at 16, MXCSR at
 * 24, ST0-7/MM0-7 at 32 (16 bytes each), XMM0-15 at 160. */
struct rax_fpu {
	uint8_t fx[512];
};
_Static_assert(sizeof(struct rax_fpu) == 512, "FXSAVE image is 512 bytes");

/* Bits 255:128 of YMM0-15 (the XSAVE area's AVX component, SDM Vol. 1
 * §13.5.3): h[i] is the upper half of YMMi, its lower half XMMi. */
struct rax_ymmh {
	uint8_t h[16][16];
};
_Static_assert(sizeof(struct rax_ymmh) == 256, "AVX component is 256 bytes");

#define FX_FCW 0
#define FX_FSW 2
#define FX_FTW 4
#define FX_FOP 6
#define FX_FIP 8
#define FX_FDP 16
#define FX_MXCSR 24
#define FX_ST(i) (32 + 16 * (i))
#define FX_XMM(i) (160 + 16 * (i))

/* Well-known bits. */
#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_EM (1ull << 2)
#define CR0_TS (1ull << 3)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_AM (1ull << 18)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR0_PG (1ull << 31)
#define CR4_DE (1ull << 3)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define CR4_PGE (1ull << 7)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_UMIP (1ull << 11)
#define CR4_FSGSBASE (1ull << 16)
#define CR4_OSXSAVE (1ull << 18)
#define CR4_SMEP (1ull << 20)
#define CR4_SMAP (1ull << 21)
#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)
#define RFLAGS_CF (1ull << 0)
#define RFLAGS_PF (1ull << 2)
#define RFLAGS_AF (1ull << 4)
#define RFLAGS_ZF (1ull << 6)
#define RFLAGS_SF (1ull << 7)
#define RFLAGS_TF (1ull << 8)
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_DF (1ull << 10)
#define RFLAGS_OF (1ull << 11)
#define RFLAGS_RF (1ull << 16)
#define RFLAGS_VM (1ull << 17)
#define RFLAGS_AC (1ull << 18)
#define RFLAGS_FIXED (1ull << 1)

#define MSR_IA32_APIC_BASE 0x1b
#define MSR_SYSENTER_CS 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176
#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SFMASK 0xc0000084
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_TSC_AUX 0xc0000103

#endif
