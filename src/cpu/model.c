/* The CPU models of --cpu: x86-64 micro-architecture levels (the x86-64
 * psABI's "x86-64-v2", ...).  The interpreter computes floating-point
 * SSE results with the host's own instructions (ssefp.c) and diffexec
 * checks it against the host, so a model needs the host to have every
 * extension of its level.  CPUID (sys.c op_cpuid) and the #UD of every
 * instruction (DF_V2 in opcodes.def, cpu_need_level()) follow the
 * model. */
#include "cpu/cpu.h"

#include <cpuid.h>

/* CPUID.1:ECX and CPUID.80000001H:ECX bits (SDM Vol. 2 CPUID, Table
 * 3-10). */
#define C1_SSE3   (1u << 0)
#define C1_SSSE3  (1u << 9)
#define C1_CX16   (1u << 13)
#define C1_SSE41  (1u << 19)
#define C1_SSE42  (1u << 20)
#define C1_POPCNT (1u << 23)
#define C1_XSAVE  (1u << 26)
#define X1_LAHF   (1u << 0)

/* What x86-64-v2 adds to leaf 1 ECX (the psABI's list; no MONITOR). */
#define V2_ECX1 (C1_SSE3 | C1_SSSE3 | C1_CX16 | C1_SSE41 | C1_SSE42 | \
		 C1_POPCNT)

/* What x86-64-v3 adds (the psABI's list): leaf 1 ECX FMA MOVBE OSXSAVE
 * AVX F16C, leaf 7 EBX BMI1 AVX2 BMI2, leaf 80000001H ECX LZCNT (ABM),
 * and XCR0 with SSE and AVX state enabled by the host's kernel.  The
 * guest's OSXSAVE bit mirrors its own CR4.OSXSAVE (sys.c op_cpuid). */
#define C1_OSXSAVE (1u << 27)
#define V3_ECX1 ((1u << 12) | (1u << 22) | C1_OSXSAVE | (1u << 28) | \
		 (1u << 29))
#define V3_EBX7 ((1u << 3) | (1u << 5) | (1u << 8))
#define V3_ECX81 (1u << 5)

/* Leaf 1 ECX, leaf 7 EBX and leaf 80000001H ECX of level n's model. */
uint32_t cpu_model_ecx1(unsigned level)
{
	return (level >= 2 ? V2_ECX1 : 0) |
	       (level >= 3 ? C1_XSAVE | (V3_ECX1 & ~C1_OSXSAVE) : 0);
}

uint32_t cpu_model_ebx7(unsigned level)
{
	return level >= 3 ? V3_EBX7 : 0;
}

uint32_t cpu_model_ecx81(unsigned level)
{
	return (level >= 2 ? X1_LAHF : 0) | (level >= 3 ? V3_ECX81 : 0);
}

unsigned cpu_host_level(void)
{
	unsigned a, b, c, d, c81 = 0, b7 = 0, lo, hi;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 1;
	if (__get_cpuid(0x80000001, &a, &b, &c81, &d) == 0)
		c81 = 0;
	if ((c & V2_ECX1) != V2_ECX1 ||
	    (c81 & cpu_model_ecx81(2)) != cpu_model_ecx81(2))
		return 1;
	if (!__get_cpuid_count(7, 0, &a, &b7, &d, &d))
		b7 = 0;
	if ((c & V3_ECX1) != V3_ECX1 || (b7 & V3_EBX7) != V3_EBX7 ||
	    !(c81 & V3_ECX81))
		return 2;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (lo & 6) == 6 ? 3 : 2;
}
