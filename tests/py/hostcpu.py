# The host CPU's x86-64 level (psABI: x86-64-v1, -v2, -v3) read from
# CPUID and XGETBV themselves, as rax's src/cpu/model.c reads it, not
# from /proc/cpuinfo: a host kernel may leave a flag out of its list
# that the CPU has (seen: Linux 6.18 in a Firecracker VM on an AMD EPYC
# listed no "abm" while CPUID 80000001H:ECX[5], LZCNT, was set).
import ctypes
import mmap

# SysV x86-64 code (GNU as):
#   cpuid4(leaf, subleaf, out[4]): push %rbx; mov %edi,%eax; mov %esi,%ecx;
#     mov %rdx,%r8; cpuid; mov %eax,(%r8); mov %ebx,4(%r8);
#     mov %ecx,8(%r8); mov %edx,12(%r8); pop %rbx; ret
#   xcr0(): xor %ecx,%ecx; xgetbv; shl $32,%rdx; or %rdx,%rax; ret
_CODE = bytes([
    0x53, 0x89, 0xf8, 0x89, 0xf1, 0x49, 0x89, 0xd0, 0x0f, 0xa2,
    0x41, 0x89, 0x00, 0x41, 0x89, 0x58, 0x04, 0x41, 0x89, 0x48, 0x08,
    0x41, 0x89, 0x50, 0x0c, 0x5b, 0xc3,
    0x31, 0xc9, 0x0f, 0x01, 0xd0, 0x48, 0xc1, 0xe2, 0x20, 0x48, 0x09,
    0xd0, 0xc3])
_XCR0_AT = 27

_buf = None


def _fn(off, restype, *argtypes):
    global _buf
    if _buf is None:
        _buf = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ |
                         mmap.PROT_WRITE | mmap.PROT_EXEC)
        _buf.write(_CODE)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(_buf)) + off
    return ctypes.CFUNCTYPE(restype, *argtypes)(addr)


def cpuid(leaf, subleaf=0):
    """(EAX, EBX, ECX, EDX) of CPUID leaf.subleaf on this host."""
    out = (ctypes.c_uint32 * 4)()
    _fn(0, None, ctypes.c_uint32, ctypes.c_uint32,
        ctypes.c_void_p)(leaf, subleaf, ctypes.addressof(out))
    return tuple(out)


def level():
    """1, 2 or 3: the highest x86-64 level this host has (v3 also needs
    the OS to have turned on SSE and AVX state in XCR0)."""
    max_leaf = cpuid(0)[0]
    ecx1 = cpuid(1)[2]
    ecx81 = cpuid(0x80000001)[2] if cpuid(0x80000000)[0] >= 0x80000001 \
        else 0
    # SSE3 SSSE3 CX16 SSE4.1 SSE4.2 POPCNT; LAHF-SAHF
    v2 = 1 << 0 | 1 << 9 | 1 << 13 | 1 << 19 | 1 << 20 | 1 << 23
    if ecx1 & v2 != v2 or not ecx81 & 1:
        return 1
    # FMA MOVBE XSAVE OSXSAVE AVX F16C; BMI1 AVX2 BMI2; LZCNT
    v3 = 1 << 12 | 1 << 22 | 1 << 26 | 1 << 27 | 1 << 28 | 1 << 29
    v3_7 = 1 << 3 | 1 << 5 | 1 << 8
    ebx7 = cpuid(7)[1] if max_leaf >= 7 else 0
    if ecx1 & v3 != v3 or ebx7 & v3_7 != v3_7 or not ecx81 & 1 << 5:
        return 2
    return 3 if _fn(_XCR0_AT, ctypes.c_uint64)() & 6 == 6 else 2
