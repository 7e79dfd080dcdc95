/* bm/cpu.h: privileged x86-64 instructions as inline functions. */
#ifndef BM_CPU_H
#define BM_CPU_H

#include <stdint.h>

static inline void bm_outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t bm_inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t bm_rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static inline void bm_wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v),
			 "d"((uint32_t)(v >> 32)));
}

struct bm_cpuid {
	uint32_t eax, ebx, ecx, edx;
};

static inline struct bm_cpuid bm_cpuid(uint32_t leaf, uint32_t sub)
{
	struct bm_cpuid r;

	__asm__ volatile("cpuid"
			 : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
			 : "a"(leaf), "c"(sub));
	return r;
}

#define BM_READ_CR(n)                                                   \
	static inline uint64_t bm_read_cr##n(void)                      \
	{                                                               \
		uint64_t v;                                             \
		__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));       \
		return v;                                               \
	}                                                               \
	static inline void bm_write_cr##n(uint64_t v)                   \
	{                                                               \
		__asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory"); \
	}
BM_READ_CR(0)
BM_READ_CR(3)
BM_READ_CR(4)
#undef BM_READ_CR

static inline void bm_xsetbv(uint32_t xcr, uint64_t v)
{
	__asm__ volatile("xsetbv" : : "c"(xcr), "a"((uint32_t)v),
			 "d"((uint32_t)(v >> 32)));
}

static inline uint64_t bm_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

#define BM_CR0_PE   (1UL << 0)
#define BM_CR0_TS   (1UL << 3)
#define BM_CR0_ET   (1UL << 4)
#define BM_CR0_NE   (1UL << 5)
#define BM_CR0_NW   (1UL << 29)
#define BM_CR0_CD   (1UL << 30)
#define BM_CR0_PG   (1UL << 31)
#define BM_CR4_VMXE (1UL << 13)
#define BM_CR4_OSXSAVE (1UL << 18)

#define BM_MSR_FEATURE_CONTROL 0x3a
#define BM_MSR_APIC_BASE       0x1b
#define BM_MSR_TSC             0x10
#define BM_MSR_SYSENTER_CS     0x174
#define BM_MSR_SYSENTER_ESP    0x175
#define BM_MSR_SYSENTER_EIP    0x176
#define BM_MSR_EFER            0xc0000080
#define BM_MSR_PAT             0x277
#define BM_MSR_STAR            0xc0000081
#define BM_MSR_SFMASK          0xc0000084
#define BM_MSR_FS_BASE         0xc0000100
#define BM_MSR_GS_BASE         0xc0000101
#define BM_MSR_KERNEL_GS_BASE  0xc0000102
#define BM_EFER_SCE            (1ULL << 0)
#define BM_EFER_LME            (1ULL << 8)
#define BM_EFER_LMA            (1ULL << 10)
#define BM_EFER_NXE            (1ULL << 11)

#endif
