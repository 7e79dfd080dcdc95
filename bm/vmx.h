/* bm/vmx.h: VMCS field encodings, capability MSRs, control bits and the
 * VMX instructions.  Encodings are from the Intel SDM Vol. 3 Appendix B;
 * bit numbers from §25.6 (execution controls), §25.7 (exit controls),
 * §25.8 (entry controls) and Appendix A (capability MSRs). */
#ifndef BM_VMX_H
#define BM_VMX_H

#include <stdint.h>

/* An encoding packs width (bits 14:13: 0 16-bit, 1 64-bit, 2 32-bit,
 * 3 natural) and type (bits 11:10: 0 control, 1 read-only data, 2 guest
 * state, 3 host state); SDM Vol. 3 §25.11.2, Table 25-21.  Each field
 * below states both and a _Static_assert checks them against the code. */
#define W16 0
#define W64 1
#define W32 2
#define WNAT 3
#define TCTL 0
#define TRO 1
#define TGUEST 2
#define THOST 3

#define BM_VMCS_FIELDS(X)                                   \
	X(GUEST_ES_SEL, 0x0800, W16, TGUEST)                \
	X(GUEST_TR_SEL, 0x080e, W16, TGUEST)                \
	X(HOST_ES_SEL, 0x0c00, W16, THOST)                  \
	X(HOST_CS_SEL, 0x0c02, W16, THOST)                  \
	X(HOST_SS_SEL, 0x0c04, W16, THOST)                  \
	X(HOST_DS_SEL, 0x0c06, W16, THOST)                  \
	X(HOST_FS_SEL, 0x0c08, W16, THOST)                  \
	X(HOST_GS_SEL, 0x0c0a, W16, THOST)                  \
	X(HOST_TR_SEL, 0x0c0c, W16, THOST)                  \
	X(EPT_POINTER, 0x201a, W64, TCTL)                   \
	X(GUEST_PHYS_ADDR, 0x2400, W64, TRO)                \
	X(VMCS_LINK_POINTER, 0x2800, W64, TGUEST)           \
	X(GUEST_DEBUGCTL, 0x2802, W64, TGUEST)              \
	X(GUEST_EFER, 0x2806, W64, TGUEST)                  \
	X(HOST_EFER, 0x2c02, W64, THOST)                    \
	X(PIN_CONTROLS, 0x4000, W32, TCTL)                  \
	X(PROC_CONTROLS, 0x4002, W32, TCTL)                 \
	X(EXCEPTION_BITMAP, 0x4004, W32, TCTL)              \
	X(CR3_TARGET_COUNT, 0x400a, W32, TCTL)              \
	X(EXIT_CONTROLS, 0x400c, W32, TCTL)                 \
	X(EXIT_MSR_STORE_COUNT, 0x400e, W32, TCTL)          \
	X(EXIT_MSR_LOAD_COUNT, 0x4010, W32, TCTL)           \
	X(ENTRY_CONTROLS, 0x4012, W32, TCTL)                \
	X(ENTRY_MSR_LOAD_COUNT, 0x4014, W32, TCTL)          \
	X(ENTRY_INTR_INFO, 0x4016, W32, TCTL)               \
	X(ENTRY_EXCEPTION_ERROR, 0x4018, W32, TCTL)         \
	X(ENTRY_INSTR_LEN, 0x401a, W32, TCTL)               \
	X(PROC2_CONTROLS, 0x401e, W32, TCTL)                \
	X(VM_INSTR_ERROR, 0x4400, W32, TRO)                 \
	X(EXIT_REASON, 0x4402, W32, TRO)                    \
	X(EXIT_INTR_INFO, 0x4404, W32, TRO)                 \
	X(IDT_VECTORING_INFO, 0x4408, W32, TRO)             \
	X(IDT_VECTORING_ERROR, 0x440a, W32, TRO)            \
	X(EXIT_INSTR_LEN, 0x440c, W32, TRO)                 \
	X(GUEST_ES_LIMIT, 0x4800, W32, TGUEST)              \
	X(GUEST_GDTR_LIMIT, 0x4810, W32, TGUEST)            \
	X(GUEST_IDTR_LIMIT, 0x4812, W32, TGUEST)            \
	X(GUEST_ES_AR, 0x4814, W32, TGUEST)                 \
	X(GUEST_INTERRUPTIBILITY, 0x4824, W32, TGUEST)      \
	X(GUEST_ACTIVITY, 0x4826, W32, TGUEST)              \
	X(GUEST_SYSENTER_CS, 0x482a, W32, TGUEST)           \
	X(HOST_SYSENTER_CS, 0x4c00, W32, THOST)             \
	X(CR0_MASK, 0x6000, WNAT, TCTL)                     \
	X(CR4_MASK, 0x6002, WNAT, TCTL)                     \
	X(CR0_SHADOW, 0x6004, WNAT, TCTL)                   \
	X(CR4_SHADOW, 0x6006, WNAT, TCTL)                   \
	X(EXIT_QUALIFICATION, 0x6400, WNAT, TRO)            \
	X(GUEST_CR0, 0x6800, WNAT, TGUEST)                  \
	X(GUEST_CR3, 0x6802, WNAT, TGUEST)                  \
	X(GUEST_CR4, 0x6804, WNAT, TGUEST)                  \
	X(GUEST_ES_BASE, 0x6806, WNAT, TGUEST)              \
	X(GUEST_FS_BASE, 0x680e, WNAT, TGUEST)              \
	X(GUEST_GS_BASE, 0x6810, WNAT, TGUEST)              \
	X(GUEST_GDTR_BASE, 0x6816, WNAT, TGUEST)            \
	X(GUEST_IDTR_BASE, 0x6818, WNAT, TGUEST)            \
	X(GUEST_DR7, 0x681a, WNAT, TGUEST)                  \
	X(GUEST_RSP, 0x681c, WNAT, TGUEST)                  \
	X(GUEST_RIP, 0x681e, WNAT, TGUEST)                  \
	X(GUEST_RFLAGS, 0x6820, WNAT, TGUEST)               \
	X(GUEST_PENDING_DBG, 0x6822, WNAT, TGUEST)          \
	X(GUEST_SYSENTER_ESP, 0x6824, WNAT, TGUEST)         \
	X(GUEST_SYSENTER_EIP, 0x6826, WNAT, TGUEST)         \
	X(HOST_CR0, 0x6c00, WNAT, THOST)                    \
	X(HOST_CR3, 0x6c02, WNAT, THOST)                    \
	X(HOST_CR4, 0x6c04, WNAT, THOST)                    \
	X(HOST_FS_BASE, 0x6c06, WNAT, THOST)                \
	X(HOST_GS_BASE, 0x6c08, WNAT, THOST)                \
	X(HOST_TR_BASE, 0x6c0a, WNAT, THOST)                \
	X(HOST_GDTR_BASE, 0x6c0c, WNAT, THOST)              \
	X(HOST_IDTR_BASE, 0x6c0e, WNAT, THOST)              \
	X(HOST_SYSENTER_ESP, 0x6c10, WNAT, THOST)           \
	X(HOST_SYSENTER_EIP, 0x6c12, WNAT, THOST)           \
	X(HOST_RSP, 0x6c14, WNAT, THOST)                    \
	X(HOST_RIP, 0x6c16, WNAT, THOST)

#define BM_VMCS_ENUM(name, enc, w, t) VMCS_##name = enc,
enum bm_vmcs_field { BM_VMCS_FIELDS(BM_VMCS_ENUM) };
#undef BM_VMCS_ENUM

#define BM_VMCS_CHECK(name, enc, w, t)                                  \
	_Static_assert(((enc) >> 13 & 3) == (w) && ((enc) >> 10 & 3) == (t) \
		       && !((enc) & 1), "VMCS encoding of " #name);
BM_VMCS_FIELDS(BM_VMCS_CHECK)
#undef BM_VMCS_CHECK

/* The eight guest segment registers are laid out ES, CS, SS, DS, FS, GS,
 * LDTR, TR with a stride of 2 in every group (selector, limit, access
 * rights, base); Appendix B.1.2, B.3.3, B.4.3. */
_Static_assert(VMCS_GUEST_TR_SEL == VMCS_GUEST_ES_SEL + 7 * 2, "seg stride");
_Static_assert(VMCS_GUEST_GDTR_LIMIT == VMCS_GUEST_ES_LIMIT + 8 * 2,
	       "seg limits");
_Static_assert(VMCS_GUEST_INTERRUPTIBILITY == VMCS_GUEST_ES_AR + 8 * 2,
	       "seg access rights");
_Static_assert(VMCS_GUEST_GDTR_BASE == VMCS_GUEST_ES_BASE + 8 * 2,
	       "seg bases");
_Static_assert(VMCS_GUEST_FS_BASE == VMCS_GUEST_ES_BASE + 4 * 2 &&
	       VMCS_GUEST_GS_BASE == VMCS_GUEST_ES_BASE + 5 * 2, "FS/GS base");

/* Capability MSRs, Appendix A. */
#define BM_MSR_VMX_BASIC          0x480
#define BM_MSR_VMX_PINBASED       0x481
#define BM_MSR_VMX_PROCBASED      0x482
#define BM_MSR_VMX_EXIT           0x483
#define BM_MSR_VMX_ENTRY          0x484
#define BM_MSR_VMX_MISC           0x485
#define BM_MSR_VMX_CR0_FIXED0     0x486
#define BM_MSR_VMX_CR0_FIXED1     0x487
#define BM_MSR_VMX_CR4_FIXED0     0x488
#define BM_MSR_VMX_CR4_FIXED1     0x489
#define BM_MSR_VMX_PROCBASED2     0x48b
#define BM_MSR_VMX_EPT_VPID_CAP   0x48c
#define BM_MSR_VMX_TRUE_PINBASED  0x48d /* TRUE_ = base + 0xc */
#define BM_VMX_BASIC_TRUE_CTLS    (1ULL << 55)

/* Pin-based controls, §25.6.1. */
#define BM_PIN_EXT_INTR           (1U << 0)
#define BM_PIN_NMI                (1U << 3)
/* Primary processor-based controls, §25.6.2. */
#define BM_PROC_INTR_WINDOW       (1U << 2)
#define BM_PROC_HLT               (1U << 7)
#define BM_PROC_CR3_LOAD          (1U << 15)
#define BM_PROC_CR3_STORE         (1U << 16)
#define BM_PROC_UNCOND_IO         (1U << 24)
#define BM_PROC_MSR_BITMAPS       (1U << 28)
#define BM_PROC_SECONDARY         (1U << 31)
/* Secondary processor-based controls, §25.6.2. */
#define BM_PROC2_EPT              (1U << 1)
#define BM_PROC2_RDTSCP           (1U << 3)
#define BM_PROC2_UNRESTRICTED     (1U << 7)
#define BM_PROC2_INVPCID          (1U << 12)
#define BM_PROC2_XSAVES           (1U << 20)
/* VM-exit controls, §25.7.1. */
#define BM_EXIT_HOST_64           (1U << 9)
#define BM_EXIT_ACK_INTR          (1U << 15)
#define BM_EXIT_SAVE_EFER         (1U << 20)
#define BM_EXIT_LOAD_EFER         (1U << 21)
/* VM-entry controls, §25.8.1. */
#define BM_ENTRY_IA32E            (1U << 9)
#define BM_ENTRY_LOAD_EFER        (1U << 15)

/* IA32_VMX_EPT_VPID_CAP bits, Appendix A.10. */
#define BM_EPT_CAP_WALK4          (1ULL << 6)
#define BM_EPT_CAP_WB             (1ULL << 14)
#define BM_EPT_CAP_2M             (1ULL << 16)
#define BM_EPT_CAP_INVEPT         (1ULL << 20)
#define BM_EPT_CAP_INVEPT_SINGLE  (1ULL << 25)
#define BM_EPT_CAP_INVEPT_ALL     (1ULL << 26)

/* Basic exit reasons, Appendix C; bit 31 of the exit reason flags a
 * failed VM entry (§28.2.1). */
#define BM_EXIT_REASONS(X)                           \
	X(0, EXCEPTION_NMI, "exception/NMI")         \
	X(1, EXT_INTR, "external interrupt")         \
	X(2, TRIPLE_FAULT, "triple fault")           \
	X(7, INTR_WINDOW, "interrupt window")        \
	X(10, CPUID, "CPUID")                        \
	X(12, HLT, "HLT")                            \
	X(28, CR_ACCESS, "CR access")                \
	X(30, IO, "I/O instruction")                 \
	X(31, RDMSR, "RDMSR")                        \
	X(32, WRMSR, "WRMSR")                        \
	X(33, BAD_GUEST, "entry fail: guest state")  \
	X(34, BAD_MSR_LOAD, "entry fail: MSR load")  \
	X(48, EPT_VIOLATION, "EPT violation")        \
	X(49, EPT_MISCONFIG, "EPT misconfiguration") \
	X(55, XSETBV, "XSETBV")

#define BM_EXIT_ENUM(n, name, str) BM_EXIT_##name = n,
enum bm_exit_reason { BM_EXIT_REASONS(BM_EXIT_ENUM) BM_EXIT_MAX = 65 };
#undef BM_EXIT_ENUM
#define BM_EXIT_ENTRY_FAIL (1U << 31)

/* Interruption information (exit, IDT-vectoring and entry): vector in
 * 7:0, type in 10:8 (0 external interrupt), error code valid 11, valid
 * 31; §25.8.3 Table 25-17, §28.2.2. */
#define BM_INTR_VALID      (1U << 31)
#define BM_INTR_ERROR      (1U << 11)
#define BM_INTR_TYPE(i)    ((i) >> 8 & 7)

/* The VMX instructions.  Each returns 0 on VMsucceed, 1 on VMfailInvalid
 * (CF=1), 2 on VMfailValid (ZF=1, error number in VMCS field 0x4400);
 * SDM Vol. 3 §31.2 "Conventions". */
#define BM_VMX_RESULT(cf, zf) ((cf) ? 1 : (zf) ? 2 : 0)

static inline int bm_vmclear(uint64_t pa)
{
	uint8_t cf, zf;

	__asm__ volatile("vmclear %2; setc %0; setz %1"
			 : "=r"(cf), "=r"(zf) : "m"(pa) : "cc", "memory");
	return BM_VMX_RESULT(cf, zf);
}

static inline int bm_vmptrld(uint64_t pa)
{
	uint8_t cf, zf;

	__asm__ volatile("vmptrld %2; setc %0; setz %1"
			 : "=r"(cf), "=r"(zf) : "m"(pa) : "cc", "memory");
	return BM_VMX_RESULT(cf, zf);
}

static inline int bm_vmwrite_raw(uint64_t field, uint64_t v)
{
	uint8_t cf, zf;

	__asm__ volatile("vmwrite %3, %2; setc %0; setz %1"
			 : "=r"(cf), "=r"(zf) : "r"(field), "rm"(v) : "cc");
	return BM_VMX_RESULT(cf, zf);
}

static inline uint64_t bm_vmread(uint64_t field)
{
	uint64_t v;

	__asm__ volatile("vmread %1, %0" : "=rm"(v) : "r"(field) : "cc");
	return v;
}

static inline int bm_invept(uint64_t type, uint64_t eptp)
{
	struct {
		uint64_t eptp, zero;
	} desc = { eptp, 0 };
	uint8_t cf, zf;

	__asm__ volatile("invept %2, %3; setc %0; setz %1"
			 : "=r"(cf), "=r"(zf) : "m"(desc), "r"(type)
			 : "cc", "memory");
	return BM_VMX_RESULT(cf, zf);
}

#endif
