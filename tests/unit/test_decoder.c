/* The decoder's lengths, mnemonics and disassembly agree with GNU objdump
 * (binutils 2.40, `objdump -d -M intel`) on a table of encodings; the
 * expected strings were pasted from objdump's output (whitespace
 * collapsed, symbol comments dropped).  VEX and unadvertised 0F38 forms
 * must decode to the #UD id with objdump's length.
 * Run: ./tests/unit/test_decoder (from the build folder). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder/decoder.h"
#include "test.h"

struct row {
	const char *bytes;
	unsigned len;
	const char *objdump;
};

static const struct row rows[] = {
	{ "\x48\x01\xd8", 3, "add rax,rbx" },
	{ "\x00\xdc", 2, "add ah,bl" },
	{ "\x40\x00\xdc", 3, "add spl,bl" },
	{ "\x66\x05\x34\x12", 4, "add ax,0x1234" },
	{ "\x48\x83\xc0\xfe", 4, "add rax,0xfffffffffffffffe" },
	{ "\x48\x81\xc4\x00\x10\x00\x00", 7, "add rsp,0x1000" },
	{ "\x48\x8b\x05\x10\x00\x00\x00", 7, "mov rax,QWORD PTR [rip+0x10] # 0x2e" },
	{ "\x48\x89\x4c\x24\x08", 5, "mov QWORD PTR [rsp+0x8],rcx" },
	{ "\x8b\x04\x8d\x00\x10\x00\x00", 7, "mov eax,DWORD PTR [rcx*4+0x1000]" },
	{ "\x48\x8d\x44\x8b\xf8", 5, "lea rax,[rbx+rcx*4-0x8]" },
	{ "\x67\x8b\x03", 3, "mov eax,DWORD PTR [ebx]" },
	{ "\x64\x48\x8b\x04\x25\x28\x00\x00\x00", 9, "mov rax,QWORD PTR fs:0x28" },
	{ "\x65\x48\x8b\x04\x25\x00\x00\x00\x00", 9, "mov rax,QWORD PTR gs:0x0" },
	{ "\x0f\xb6\xc3", 3, "movzx eax,bl" },
	{ "\x48\x0f\xbf\xc3", 4, "movsx rax,bx" },
	{ "\x48\x63\xc3", 3, "movsxd rax,ebx" },
	{ "\x50", 1, "push rax" },
	{ "\x41\x57", 2, "push r15" },
	{ "\x5d", 1, "pop rbp" },
	{ "\x6a\x01", 2, "push 0x1" },
	{ "\x68\x00\x01\x00\x00", 5, "push 0x100" },
	{ "\xe8\x00\x00\x00\x00", 5, "call 0x5e" },
	{ "\xe9\x10\x00\x00\x00", 5, "jmp 0x73" },
	{ "\xeb\xfe", 2, "jmp 0x63" },
	{ "\x74\x05", 2, "je 0x6c" },
	{ "\x0f\x85\x00\x01\x00\x00", 6, "jne 0x16d" },
	{ "\xc3", 1, "ret" },
	{ "\xc2\x08\x00", 3, "ret 0x8" },
	{ "\x48\xcf", 2, "iretq" },
	{ "\xcc", 1, "int3" },
	{ "\xcd\x80", 2, "int 0x80" },
	{ "\xf3\x48\xab", 3, "rep stos QWORD PTR es:[rdi],rax" },
	{ "\xf3\xa4", 2, "rep movs BYTE PTR es:[rdi],BYTE PTR ds:[rsi]" },
	{ "\xf2\xae", 2, "repnz scas al,BYTE PTR es:[rdi]" },
	{ "\x48\xa5", 2, "movs QWORD PTR es:[rdi],QWORD PTR ds:[rsi]" },
	{ "\x48\xb8\x88\x77\x66\x55\x44\x33\x22\x11", 10, "movabs rax,0x1122334455667788" },
	{ "\xb8\x78\x56\x34\x12", 5, "mov eax,0x12345678" },
	{ "\xb0\x12", 2, "mov al,0x12" },
	{ "\x41\xb0\x12", 3, "mov r8b,0x12" },
	{ "\xc6\x00\x01", 3, "mov BYTE PTR [rax],0x1" },
	{ "\x48\xc7\x00\xff\xff\xff\xff", 7, "mov QWORD PTR [rax],0xffffffffffffffff" },
	{ "\x48\xc1\xe0\x04", 4, "shl rax,0x4" },
	{ "\xd1\xe8", 2, "shr eax,1" },
	{ "\xd3\xf8", 2, "sar eax,cl" },
	{ "\xf7\xe3", 2, "mul ebx" },
	{ "\x48\xf7\xf1", 3, "div rcx" },
	{ "\xf6\xc3\x01", 3, "test bl,0x1" },
	{ "\x48\xf7\xc0\x00\x10\x00\x00", 7, "test rax,0x1000" },
	{ "\xfe\xc0", 2, "inc al" },
	{ "\x48\xff\xc8", 3, "dec rax" },
	{ "\xff\xd0", 2, "call rax" },
	{ "\xff\x25\x00\x10\x00\x00", 6, "jmp QWORD PTR [rip+0x1000] # 0x10c1" },
	{ "\xff\x74\x24\x08", 4, "push QWORD PTR [rsp+0x8]" },
	{ "\x0f\x01\x10", 3, "lgdt [rax]" },
	{ "\x0f\x01\x18", 3, "lidt [rax]" },
	{ "\x0f\x01\xf8", 3, "swapgs" },
	{ "\x0f\x01\xf9", 3, "rdtscp" },
	{ "\x0f\x00\xd8", 3, "ltr ax" },
	{ "\x0f\x20\xc0", 3, "mov rax,cr0" },
	{ "\x0f\x22\xd8", 3, "mov cr3,rax" },
	{ "\x0f\x30", 2, "wrmsr" },
	{ "\x0f\x32", 2, "rdmsr" },
	{ "\x0f\x31", 2, "rdtsc" },
	{ "\x0f\xa2", 2, "cpuid" },
	{ "\x0f\x05", 2, "syscall" },
	{ "\x48\x0f\x07", 3, "sysretq" },
	{ "\xf4", 1, "hlt" },
	{ "\xfa", 1, "cli" },
	{ "\xfb", 1, "sti" },
	{ "\x0f\x0b", 2, "ud2" },
	{ "\x0f\x1f\x44\x00\x00", 5, "nop DWORD PTR [rax+rax*1+0x0]" },
	{ "\x66\x0f\x1f\x84\x00\x00\x00\x00\x00", 9, "nop WORD PTR [rax+rax*1+0x0]" },
	{ "\xf0\x48\x0f\xb1\x0a", 5, "lock cmpxchg QWORD PTR [rdx],rcx" },
	{ "\xf0\x0f\xc1\x03", 4, "lock xadd DWORD PTR [rbx],eax" },
	{ "\x48\x0f\xc7\x0e", 4, "cmpxchg16b OWORD PTR [rsi]" },
	{ "\x0f\xae\xf0", 3, "mfence" },
	{ "\x0f\xae\x07", 3, "fxsave [rdi]" },
	{ "\x0f\xae\x37", 3, "xsaveopt [rdi]" },
	{ "\x48\x0f\xae\x37", 4, "xsaveopt64 [rdi]" },
	{ "\x0f\xc7\x27", 3, "xsavec [rdi]" },
	{ "\x48\x0f\xc7\x27", 4, "xsavec64 [rdi]" },
	{ "\x48\x0f\xae\x0f", 4, "fxrstor64 [rdi]" },
	{ "\x0f\xae\x5c\x24\xfc", 5, "stmxcsr DWORD PTR [rsp-0x4]" },
	{ "\x66\x0f\x6f\x06", 4, "movdqa xmm0,XMMWORD PTR [rsi]" },
	{ "\xf3\x0f\x6f\x06", 4, "movdqu xmm0,XMMWORD PTR [rsi]" },
	{ "\x66\x0f\x7f\x07", 4, "movdqa XMMWORD PTR [rdi],xmm0" },
	{ "\x66\x0f\xef\xc0", 4, "pxor xmm0,xmm0" },
	{ "\x66\x0f\x74\xc1", 4, "pcmpeqb xmm0,xmm1" },
	{ "\x66\x0f\xd7\xc0", 4, "pmovmskb eax,xmm0" },
	{ "\x66\x0f\x70\xc0\x00", 5, "pshufd xmm0,xmm0,0x0" },
	{ "\x66\x0f\x73\xd8\x04", 5, "psrldq xmm0,0x4" },
	{ "\x66\x48\x0f\x6e\xc0", 5, "movq xmm0,rax" },
	{ "\x66\x0f\x7e\xc0", 4, "movd eax,xmm0" },
	{ "\xf3\x0f\x7e\x06", 4, "movq xmm0,QWORD PTR [rsi]" },
	{ "\x66\x0f\xd6\x07", 4, "movq QWORD PTR [rdi],xmm0" },
	{ "\x0f\x28\xc1", 3, "movaps xmm0,xmm1" },
	{ "\x0f\x29\x07", 3, "movaps XMMWORD PTR [rdi],xmm0" },
	{ "\x0f\x57\xc0", 3, "xorps xmm0,xmm0" },
	{ "\xf2\x0f\x10\x06", 4, "movsd xmm0,QWORD PTR [rsi]" },
	{ "\xf3\x0f\x11\x07", 4, "movss DWORD PTR [rdi],xmm0" },
	{ "\xf2\x0f\x58\xc1", 4, "addsd xmm0,xmm1" },
	{ "\xf2\x48\x0f\x2a\xc0", 5, "cvtsi2sd xmm0,rax" },
	{ "\xf2\x0f\x2c\xc0", 4, "cvttsd2si eax,xmm0" },
	{ "\x66\x0f\x2e\xc1", 4, "ucomisd xmm0,xmm1" },
	{ "\x0f\x10\x06", 3, "movups xmm0,XMMWORD PTR [rsi]" },
	{ "\x0f\x16\x06", 3, "movhps xmm0,QWORD PTR [rsi]" },
	{ "\x0f\xc6\xc1\x1b", 4, "shufps xmm0,xmm1,0x1b" },
	{ "\x0f\x4c\xc3", 3, "cmovl eax,ebx" },
	{ "\x0f\x94\xc0", 3, "sete al" },
	{ "\x0f\xa3\xd8", 3, "bt eax,ebx" },
	{ "\x0f\xba\xe8\x03", 4, "bts eax,0x3" },
	{ "\x48\x0f\xbc\xc3", 4, "bsf rax,rbx" },
	{ "\xf3\x48\x0f\xb8\xc3", 5, "popcnt rax,rbx" },
	{ "\x0f\xc8", 2, "bswap eax" },
	{ "\x49\x0f\xc8", 3, "bswap r8" },
	{ "\x48\x0f\xa4\xd8\x04", 5, "shld rax,rbx,0x4" },
	{ "\x0f\xad\xd8", 3, "shrd eax,ebx,cl" },
	{ "\xe4\x60", 2, "in al,0x60" },
	{ "\xec", 1, "in al,dx" },
	{ "\xe6\x80", 2, "out 0x80,al" },
	{ "\xef", 1, "out dx,eax" },
	{ "\x6c", 1, "ins BYTE PTR es:[rdi],dx" },
	{ "\xc8\x10\x00\x00", 4, "enter 0x10,0x0" },
	{ "\xc9", 1, "leave" },
	{ "\x9c", 1, "pushf" },
	{ "\x9d", 1, "popf" },
	{ "\x48\x98", 2, "cdqe" },
	{ "\x48\x99", 2, "cqo" },
	{ "\x86\xc3", 2, "xchg bl,al" },
	{ "\x87\xd8", 2, "xchg eax,ebx" },
	{ "\x49\x90", 2, "xchg r8,rax" },
	{ "\x90", 1, "nop" },
	{ "\xf3\x90", 2, "pause" },
	{ "\x8c\xd8", 2, "mov eax,ds" },
	{ "\x8e\xd8", 2, "mov ds,eax" },
	{ "\x0f\xa0", 2, "push fs" },
	{ "\x0f\xa9", 2, "pop gs" },
	{ "\x48\xcb", 2, "retfq" },
	{ "\xd9\x7c\x24\xfe", 4, "fnstcw WORD PTR [rsp-0x2]" },
	{ "\xdb\xe3", 2, "fninit" },
	{ "\xdf\xe0", 2, "fnstsw ax" },
	{ "\x9b", 1, "fwait" },
	{ "\xc5\xf8\x77", 3, "vzeroupper" },
	{ "\xc4\xe2\x79\x18\xc0", 5, "vbroadcastss xmm0,xmm0" },
	{ "\x0f\x38\x00\xc1", 4, "pshufb mm0,mm1" },
	/* x86-64-v2 */
	{ "\x66\x0f\x38\x00\xc1", 5, "pshufb xmm0,xmm1" },
	{ "\x66\x0f\x3a\x0f\xc1\x05", 6, "palignr xmm0,xmm1,0x5" },
	{ "\xf2\x0f\x38\xf1\xc1", 5, "crc32 eax,ecx" },
	{ "\x66\x0f\x3a\x16\xc0\x01", 6, "pextrd eax,xmm0,0x1" },
	{ "\x66\x0f\x3a\x63\xc1\x0c", 6, "pcmpistri xmm0,xmm1,0xc" },
	{ "\xf2\x0f\x7c\xc1", 4, "haddps xmm0,xmm1" },
	{ "\x66\x0f\x38\x20\x06", 5, "pmovsxbw xmm0,QWORD PTR [rsi]" },
	/* x86-64-v3: BMI1/BMI2 (VEX.vvvv: "By"), LZCNT, MOVBE */
	{ "\xc4\xe2\x70\xf2\xc2", 5, "andn eax,ecx,edx" },
	{ "\xc4\xe2\xf0\xf3\xca", 5, "blsr rcx,rdx" },
	{ "\xc4\xe3\xfb\xf0\xc1\x05", 6, "rorx rax,rcx,0x5" },
	{ "\xc4\xe2\xf3\xf6\xc2", 5, "mulx rax,rcx,rdx" },
	{ "\xc4\xe2\x68\xf7\xc1", 5, "bextr eax,ecx,edx" },
	{ "\xc4\xe2\xe9\xf7\x06", 5, "shlx rax,QWORD PTR [rsi],rdx" },
	{ "\xf3\x48\x0f\xbd\xc1", 5, "lzcnt rax,rcx" },
	/* AVX, AVX2 (VEX.vvvv: "Hx"; VEX.L: xmm or ymm) */
	{ "\xc5\xf9\xef\xc1", 4, "vpxor xmm0,xmm0,xmm1" },
	{ "\xc5\xfd\xef\xc1", 4, "vpxor ymm0,ymm0,ymm1" },
	{ "\xc5\xfe\x6f\x06", 4, "vmovdqu ymm0,YMMWORD PTR [rsi]" },
	{ "\xc5\xfd\x7f\x07", 4, "vmovdqa YMMWORD PTR [rdi],ymm0" },
	{ "\xc5\xfd\xd7\xc1", 4, "vpmovmskb eax,ymm1" },
	{ "\xc5\xf8\x77", 3, "vzeroupper" },
	{ "\xc5\xfc\x77", 3, "vzeroall" },
	{ "\xc5\xf5\xd1\xc2", 4, "vpsrlw ymm0,ymm1,xmm2" },
	{ "\xc4\xc1\x75\xda\x00", 5, "vpminub ymm0,ymm1,YMMWORD PTR [r8]" },
	{ "\xc4\xe2\x75\x00\xc2", 5, "vpshufb ymm0,ymm1,ymm2" },
	{ "\xc4\xe2\x7d\x78\xc1", 5, "vpbroadcastb ymm0,xmm1" },
	{ "\xc4\xe2\x7d\x17\x06", 5, "vptest ymm0,YMMWORD PTR [rsi]" },
	{ "\xc4\xe2\x7d\x1c\xc1", 5, "vpabsb ymm0,ymm1" },
	{ "\xc4\xe2\x75\x40\xc2", 5, "vpmulld ymm0,ymm1,ymm2" },
	{ "\xc5\xf4\x58\xc2", 4, "vaddps ymm0,ymm1,ymm2" },
	{ "\xc5\xf3\x5e\x06", 4, "vdivsd xmm0,xmm1,QWORD PTR [rsi]" },
	{ "\xc5\xfd\x51\xc1", 4, "vsqrtpd ymm0,ymm1" },
	{ "\xc4\xe2\x71\xb8\xc2", 5, "vfmadd231ps xmm0,xmm1,xmm2" },
	{ "\xc4\xe2\xf1\x99\x06", 5, "vfmadd132sd xmm0,xmm1,QWORD PTR [rsi]" },
	{ "\xc4\xe2\x75\x96\xc2", 5, "vfmaddsub132ps ymm0,ymm1,ymm2" },
	{ "\xc4\xe2\x7d\x13\xc1", 5, "vcvtph2ps ymm0,xmm1" },
	{ "\xc4\xe3\x7d\x1d\x06\x04", 6, "vcvtps2ph XMMWORD PTR [rsi],ymm0,0x4" },
	{ "\xc4\xe3\x75\x38\xc2\x01", 6, "vinserti128 ymm0,ymm1,xmm2,0x1" },
	{ "\xc4\xe3\x7d\x19\x06\x01", 6, "vextractf128 XMMWORD PTR [rsi],ymm0,0x1" },
	{ "\xc5\xfc\x10\x06", 4, "vmovups ymm0,YMMWORD PTR [rsi]" },
	{ "\xc5\xfd\x29\x07", 4, "vmovapd YMMWORD PTR [rdi],ymm0" },
	{ "\xc5\xfd\x70\xc1\x1b", 5, "vpshufd ymm0,ymm1,0x1b" },
	{ "\xc5\xf5\x73\xfa\x03", 5, "vpslldq ymm1,ymm2,0x3" },
	{ "\xc4\xe3\x75\x0f\xc2\x05", 6, "vpalignr ymm0,ymm1,ymm2,0x5" },
	{ "\xc4\xe1\xf9\x6e\xc1", 5, "vmovq xmm0,rcx" },
	{ "\xc5\xf9\x7e\xc8", 4, "vmovd eax,xmm1" },
	{ "\xc5\xfa\x7e\x06", 4, "vmovq xmm0,QWORD PTR [rsi]" },
	{ "\xc5\xf9\xd6\x07", 4, "vmovq QWORD PTR [rdi],xmm0" },
	/* the rest of AVX, AVX2 (src/cpu/avx.c) */
	{ "\xc5\xf2\x10\xc2", 4, "vmovss xmm0,xmm1,xmm2" },
	{ "\xc5\xfb\x10\x06", 4, "vmovsd xmm0,QWORD PTR [rsi]" },
	{ "\xc5\xfa\x11\x07", 4, "vmovss DWORD PTR [rdi],xmm0" },
	{ "\xc5\xf1\x12\x06", 4, "vmovlpd xmm0,xmm1,QWORD PTR [rsi]" },
	{ "\xc5\xf8\x17\x07", 4, "vmovhps QWORD PTR [rdi],xmm0" },
	{ "\xc5\xfe\x12\xc1", 4, "vmovsldup ymm0,ymm1" },
	{ "\xc5\xff\x12\x06", 4, "vmovddup ymm0,YMMWORD PTR [rsi]" },
	{ "\xc5\xf4\x14\xc2", 4, "vunpcklps ymm0,ymm1,ymm2" },
	{ "\xc5\xf1\x15\xc2", 4, "vunpckhpd xmm0,xmm1,xmm2" },
	{ "\xc4\xe1\xf3\x2a\xc0", 5, "vcvtsi2sd xmm0,xmm1,rax" },
	{ "\xc5\xfa\x2c\xc1", 4, "vcvttss2si eax,xmm1" },
	{ "\xc4\xe1\xfb\x2d\x06", 5, "vcvtsd2si rax,QWORD PTR [rsi]" },
	{ "\xc5\xfc\x2b\x07", 4, "vmovntps YMMWORD PTR [rdi],ymm0" },
	{ "\xc5\xf8\x2e\xc1", 4, "vucomiss xmm0,xmm1" },
	{ "\xc5\xf9\x2f\x06", 4, "vcomisd xmm0,QWORD PTR [rsi]" },
	{ "\xc5\xfc\x50\xc1", 4, "vmovmskps eax,ymm1" },
	{ "\xc5\xfc\x52\xc1", 4, "vrsqrtps ymm0,ymm1" },
	{ "\xc5\xf2\x53\xc2", 4, "vrcpss xmm0,xmm1,xmm2" },
	{ "\xc5\xfc\x5a\xc1", 4, "vcvtps2pd ymm0,xmm1" },
	{ "\xc5\xfd\x5a\xc1", 4, "vcvtpd2ps xmm0,ymm1" },
	{ "\xc5\xfc\x5b\xc1", 4, "vcvtdq2ps ymm0,ymm1" },
	{ "\xc5\xfa\x5b\xc1", 4, "vcvttps2dq xmm0,xmm1" },
	{ "\xc5\xf7\x7c\xc2", 4, "vhaddps ymm0,ymm1,ymm2" },
	{ "\xc5\xf1\x7d\xc2", 4, "vhsubpd xmm0,xmm1,xmm2" },
	{ "\xc5\xf8\xae\x16", 4, "vldmxcsr DWORD PTR [rsi]" },
	{ "\xc5\xf8\xae\x1f", 4, "vstmxcsr DWORD PTR [rdi]" },
	{ "\xc5\xf1\xc4\xc0\x03", 5, "vpinsrw xmm0,xmm1,eax,0x3" },
	{ "\xc5\xf9\xc5\xc1\x03", 5, "vpextrw eax,xmm1,0x3" },
	{ "\xc5\xf4\xc6\xc2\x1b", 5, "vshufps ymm0,ymm1,ymm2,0x1b" },
	{ "\xc5\xf5\xd0\xc2", 4, "vaddsubpd ymm0,ymm1,ymm2" },
	{ "\xc5\xfe\xe6\xc1", 4, "vcvtdq2pd ymm0,xmm1" },
	{ "\xc5\xfd\xe7\x07", 4, "vmovntdq YMMWORD PTR [rdi],ymm0" },
	{ "\xc5\xff\xf0\x06", 4, "vlddqu ymm0,[rsi]" },
	{ "\xc5\xf9\xf7\xc1", 4, "vmaskmovdqu xmm0,xmm1" },
	{ "\xc4\xe2\x75\x0c\xc2", 5, "vpermilps ymm0,ymm1,ymm2" },
	{ "\xc4\xe2\x7d\x0f\xc1", 5, "vtestpd ymm0,ymm1" },
	{ "\xc4\xe2\x75\x16\xc2", 5, "vpermps ymm0,ymm1,ymm2" },
	{ "\xc4\xe2\x7d\x19\x06", 5, "vbroadcastsd ymm0,QWORD PTR [rsi]" },
	{ "\xc4\xe2\x7d\x1a\x06", 5, "vbroadcastf128 ymm0,XMMWORD PTR [rsi]" },
	{ "\xc4\xe2\x7d\x20\xc1", 5, "vpmovsxbw ymm0,xmm1" },
	{ "\xc4\xe2\x79\x35\x06", 5, "vpmovzxdq xmm0,QWORD PTR [rsi]" },
	{ "\xc4\xe2\x7d\x2a\x06", 5, "vmovntdqa ymm0,YMMWORD PTR [rsi]" },
	{ "\xc4\xe2\x75\x2c\x06", 5, "vmaskmovps ymm0,ymm1,YMMWORD PTR [rsi]" },
	{ "\xc4\xe2\x75\x2f\x07", 5, "vmaskmovpd YMMWORD PTR [rdi],ymm1,ymm0" },
	{ "\xc4\xe2\x75\x36\xc2", 5, "vpermd ymm0,ymm1,ymm2" },
	{ "\xc4\xe2\x79\x41\xc1", 5, "vphminposuw xmm0,xmm1" },
	{ "\xc4\xe2\xf5\x45\xc2", 5, "vpsrlvq ymm0,ymm1,ymm2" },
	{ "\xc4\xe2\x71\x46\xc2", 5, "vpsravd xmm0,xmm1,xmm2" },
	{ "\xc4\xe2\x75\x47\x06", 5, "vpsllvd ymm0,ymm1,YMMWORD PTR [rsi]" },
	{ "\xc4\xe2\x7d\x5a\x06", 5, "vbroadcasti128 ymm0,XMMWORD PTR [rsi]" },
	{ "\xc4\xe2\xf1\x8c\x06", 5, "vpmaskmovq xmm0,xmm1,XMMWORD PTR [rsi]" },
	{ "\xc4\xe2\x75\x8e\x07", 5, "vpmaskmovd YMMWORD PTR [rdi],ymm1,ymm0" },
	{ "\xc4\xe3\xfd\x00\xc1\x1b", 6, "vpermq ymm0,ymm1,0x1b" },
	{ "\xc4\xe3\xfd\x01\x06\x4e", 6, "vpermpd ymm0,YMMWORD PTR [rsi],0x4e" },
	{ "\xc4\xe3\x75\x02\xc2\x05", 6, "vpblendd ymm0,ymm1,ymm2,0x5" },
	{ "\xc4\xe3\x7d\x05\xc1\x05", 6, "vpermilpd ymm0,ymm1,0x5" },
	{ "\xc4\xe3\x75\x06\xc2\x21", 6, "vperm2f128 ymm0,ymm1,ymm2,0x21" },
	{ "\xc4\xe3\x75\x46\xc2\x31", 6, "vperm2i128 ymm0,ymm1,ymm2,0x31" },
	{ "\xc4\xe3\x7d\x08\xc1\x04", 6, "vroundps ymm0,ymm1,0x4" },
	{ "\xc4\xe3\x71\x0b\xc2\x01", 6, "vroundsd xmm0,xmm1,xmm2,0x1" },
	{ "\xc4\xe3\x75\x0c\xc2\x05", 6, "vblendps ymm0,ymm1,ymm2,0x5" },
	{ "\xc4\xe3\x75\x0e\xc2\xaa", 6, "vpblendw ymm0,ymm1,ymm2,0xaa" },
	{ "\xc4\xe3\x79\x14\xc0\x05", 6, "vpextrb eax,xmm0,0x5" },
	{ "\xc4\xe3\xf9\x16\xc0\x01", 6, "vpextrq rax,xmm0,0x1" },
	{ "\xc4\xe3\x79\x17\x07\x02", 6, "vextractps DWORD PTR [rdi],xmm0,0x2" },
	{ "\xc4\xe3\x71\x20\xc0\x07", 6, "vpinsrb xmm0,xmm1,eax,0x7" },
	{ "\xc4\xe3\x71\x21\xc2\x10", 6, "vinsertps xmm0,xmm1,xmm2,0x10" },
	{ "\xc4\xe3\xf1\x22\xc0\x01", 6, "vpinsrq xmm0,xmm1,rax,0x1" },
	{ "\xc4\xe3\x75\x40\xc2\xff", 6, "vdpps ymm0,ymm1,ymm2,0xff" },
	{ "\xc4\xe3\x71\x41\xc2\x31", 6, "vdppd xmm0,xmm1,xmm2,0x31" },
	{ "\xc4\xe3\x75\x42\xc2\x05", 6, "vmpsadbw ymm0,ymm1,ymm2,0x5" },
	{ "\xc4\xe3\x75\x4a\xc2\x30", 6, "vblendvps ymm0,ymm1,ymm2,ymm3" },
	{ "\xc4\xe3\x71\x4c\xc2\x30", 6, "vpblendvb xmm0,xmm1,xmm2,xmm3" },
	{ "\xc4\xe3\x79\x61\xc1\x0c", 6, "vpcmpestri xmm0,xmm1,0xc" },
	{ "\xc4\xe3\x79\x62\x06\x40", 6, "vpcmpistrm xmm0,XMMWORD PTR [rsi],0x40" },
	{ "\xc4\xe2\x79\x90\x04\x08", 6, "vpgatherdd xmm0,DWORD PTR [rax+xmm1*1],xmm0" },
};

/* x87 (src/decoder/x87.def): every memory form of every escape with
 * varied addressing, a register form of each ModRM.reg and every special
 * encoding, as objdump prints them (objdump -D -b binary -m i386:x86-64
 * -M intel over these bytes, pasted; rip-relative targets count from the
 * first row). */
static const struct row x87_rows[] = {
	{ "\xd8\x00", 2, "fadd DWORD PTR [rax]" },
	{ "\xd8\x4c\x24\x08", 4, "fmul DWORD PTR [rsp+0x8]" },
	{ "\xd8\x95\x00\x01\x00\x00", 6, "fcom DWORD PTR [rbp+0x100]" },
	{ "\xd8\x1d\x10\x00\x00\x00", 6, "fcomp DWORD PTR [rip+0x10] # 0x22" },
	{ "\xd8\x24\x8b", 3, "fsub DWORD PTR [rbx+rcx*4]" },
	{ "\xd8\x69\x00", 3, "fsubr DWORD PTR [rcx+0x0]" },
	{ "\xd8\x30", 2, "fdiv DWORD PTR [rax]" },
	{ "\xd8\x7c\x24\x08", 4, "fdivr DWORD PTR [rsp+0x8]" },
	{ "\xd8\xc1", 2, "fadd st,st(1)" },
	{ "\xd8\xca", 2, "fmul st,st(2)" },
	{ "\xd8\xd3", 2, "fcom st(3)" },
	{ "\xd8\xdc", 2, "fcomp st(4)" },
	{ "\xd8\xe5", 2, "fsub st,st(5)" },
	{ "\xd8\xee", 2, "fsubr st,st(6)" },
	{ "\xd8\xf7", 2, "fdiv st,st(7)" },
	{ "\xd8\xf8", 2, "fdivr st,st(0)" },
	{ "\xd9\x85\x00\x01\x00\x00", 6, "fld DWORD PTR [rbp+0x100]" },
	{ "\xd9\x14\x8b", 3, "fst DWORD PTR [rbx+rcx*4]" },
	{ "\xd9\x59\x00", 3, "fstp DWORD PTR [rcx+0x0]" },
	{ "\xd9\x20", 2, "fldenv [rax]" },
	{ "\xd9\x6c\x24\x08", 4, "fldcw WORD PTR [rsp+0x8]" },
	{ "\xd9\xb5\x00\x01\x00\x00", 6, "fnstenv [rbp+0x100]" },
	{ "\xd9\x3d\x10\x00\x00\x00", 6, "fnstcw WORD PTR [rip+0x10] # 0x5c" },
	{ "\xd9\xc1", 2, "fld st(1)" },
	{ "\xd9\xca", 2, "fxch st(2)" },
	{ "\xd9\xe0", 2, "fchs" },
	{ "\xd9\xe1", 2, "fabs" },
	{ "\xd9\xe4", 2, "ftst" },
	{ "\xd9\xe5", 2, "fxam" },
	{ "\xd9\xe8", 2, "fld1" },
	{ "\xd9\xe9", 2, "fldl2t" },
	{ "\xd9\xea", 2, "fldl2e" },
	{ "\xd9\xeb", 2, "fldpi" },
	{ "\xd9\xec", 2, "fldlg2" },
	{ "\xd9\xed", 2, "fldln2" },
	{ "\xd9\xee", 2, "fldz" },
	{ "\xd9\xf0", 2, "f2xm1" },
	{ "\xd9\xf1", 2, "fyl2x" },
	{ "\xd9\xf2", 2, "fptan" },
	{ "\xd9\xf3", 2, "fpatan" },
	{ "\xd9\xf4", 2, "fxtract" },
	{ "\xd9\xf5", 2, "fprem1" },
	{ "\xd9\xf6", 2, "fdecstp" },
	{ "\xd9\xf7", 2, "fincstp" },
	{ "\xd9\xf8", 2, "fprem" },
	{ "\xd9\xf9", 2, "fyl2xp1" },
	{ "\xd9\xfa", 2, "fsqrt" },
	{ "\xd9\xfb", 2, "fsincos" },
	{ "\xd9\xfc", 2, "frndint" },
	{ "\xd9\xfd", 2, "fscale" },
	{ "\xd9\xfe", 2, "fsin" },
	{ "\xd9\xff", 2, "fcos" },
	{ "\xda\x04\x8b", 3, "fiadd DWORD PTR [rbx+rcx*4]" },
	{ "\xda\x49\x00", 3, "fimul DWORD PTR [rcx+0x0]" },
	{ "\xda\x10", 2, "ficom DWORD PTR [rax]" },
	{ "\xda\x5c\x24\x08", 4, "ficomp DWORD PTR [rsp+0x8]" },
	{ "\xda\xa5\x00\x01\x00\x00", 6, "fisub DWORD PTR [rbp+0x100]" },
	{ "\xda\x2d\x10\x00\x00\x00", 6, "fisubr DWORD PTR [rip+0x10] # 0xae" },
	{ "\xda\x34\x8b", 3, "fidiv DWORD PTR [rbx+rcx*4]" },
	{ "\xda\x79\x00", 3, "fidivr DWORD PTR [rcx+0x0]" },
	{ "\xda\xc1", 2, "fcmovb st,st(1)" },
	{ "\xda\xca", 2, "fcmove st,st(2)" },
	{ "\xda\xd3", 2, "fcmovbe st,st(3)" },
	{ "\xda\xdc", 2, "fcmovu st,st(4)" },
	{ "\xda\xe9", 2, "fucompp" },
	{ "\xdb\x00", 2, "fild DWORD PTR [rax]" },
	{ "\xdb\x95\x00\x01\x00\x00", 6, "fist DWORD PTR [rbp+0x100]" },
	{ "\xdb\x1d\x10\x00\x00\x00", 6, "fistp DWORD PTR [rip+0x10] # 0xcc" },
	{ "\xdb\x69\x00", 3, "fld TBYTE PTR [rcx+0x0]" },
	{ "\xdb\x7c\x24\x08", 4, "fstp TBYTE PTR [rsp+0x8]" },
	{ "\xdb\xc1", 2, "fcmovnb st,st(1)" },
	{ "\xdb\xca", 2, "fcmovne st,st(2)" },
	{ "\xdb\xd3", 2, "fcmovnbe st,st(3)" },
	{ "\xdb\xdc", 2, "fcmovnu st,st(4)" },
	{ "\xdb\xe2", 2, "fnclex" },
	{ "\xdb\xe3", 2, "fninit" },
	{ "\xdb\xee", 2, "fucomi st,st(6)" },
	{ "\xdb\xf7", 2, "fcomi st,st(7)" },
	{ "\xdc\x85\x00\x01\x00\x00", 6, "fadd QWORD PTR [rbp+0x100]" },
	{ "\xdc\x0d\x10\x00\x00\x00", 6, "fmul QWORD PTR [rip+0x10] # 0xef" },
	{ "\xdc\x14\x8b", 3, "fcom QWORD PTR [rbx+rcx*4]" },
	{ "\xdc\x59\x00", 3, "fcomp QWORD PTR [rcx+0x0]" },
	{ "\xdc\x20", 2, "fsub QWORD PTR [rax]" },
	{ "\xdc\x6c\x24\x08", 4, "fsubr QWORD PTR [rsp+0x8]" },
	{ "\xdc\xb5\x00\x01\x00\x00", 6, "fdiv QWORD PTR [rbp+0x100]" },
	{ "\xdc\x3d\x10\x00\x00\x00", 6, "fdivr QWORD PTR [rip+0x10] # 0x107" },
	{ "\xdc\xc1", 2, "fadd st(1),st" },
	{ "\xdc\xca", 2, "fmul st(2),st" },
	{ "\xdc\xe5", 2, "fsubr st(5),st" },
	{ "\xdc\xee", 2, "fsub st(6),st" },
	{ "\xdc\xf7", 2, "fdivr st(7),st" },
	{ "\xdc\xf8", 2, "fdiv st(0),st" },
	{ "\xdd\x04\x8b", 3, "fld QWORD PTR [rbx+rcx*4]" },
	{ "\xdd\x10", 2, "fst QWORD PTR [rax]" },
	{ "\xdd\x5c\x24\x08", 4, "fstp QWORD PTR [rsp+0x8]" },
	{ "\xdd\xa5\x00\x01\x00\x00", 6, "frstor [rbp+0x100]" },
	{ "\xdd\x34\x8b", 3, "fnsave [rbx+rcx*4]" },
	{ "\xdd\x79\x00", 3, "fnstsw WORD PTR [rcx+0x0]" },
	{ "\xdd\xc1", 2, "ffree st(1)" },
	{ "\xdd\xd3", 2, "fst st(3)" },
	{ "\xdd\xdc", 2, "fstp st(4)" },
	{ "\xdd\xe5", 2, "fucom st(5)" },
	{ "\xdd\xee", 2, "fucomp st(6)" },
	{ "\xde\x00", 2, "fiadd WORD PTR [rax]" },
	{ "\xde\x4c\x24\x08", 4, "fimul WORD PTR [rsp+0x8]" },
	{ "\xde\x95\x00\x01\x00\x00", 6, "ficom WORD PTR [rbp+0x100]" },
	{ "\xde\x1d\x10\x00\x00\x00", 6, "ficomp WORD PTR [rip+0x10] # 0x144" },
	{ "\xde\x24\x8b", 3, "fisub WORD PTR [rbx+rcx*4]" },
	{ "\xde\x69\x00", 3, "fisubr WORD PTR [rcx+0x0]" },
	{ "\xde\x30", 2, "fidiv WORD PTR [rax]" },
	{ "\xde\x7c\x24\x08", 4, "fidivr WORD PTR [rsp+0x8]" },
	{ "\xde\xc1", 2, "faddp st(1),st" },
	{ "\xde\xca", 2, "fmulp st(2),st" },
	{ "\xde\xd9", 2, "fcompp" },
	{ "\xde\xe5", 2, "fsubrp st(5),st" },
	{ "\xde\xee", 2, "fsubp st(6),st" },
	{ "\xde\xf7", 2, "fdivrp st(7),st" },
	{ "\xde\xf8", 2, "fdivp st(0),st" },
	{ "\xdf\x85\x00\x01\x00\x00", 6, "fild WORD PTR [rbp+0x100]" },
	{ "\xdf\x14\x8b", 3, "fist WORD PTR [rbx+rcx*4]" },
	{ "\xdf\x59\x00", 3, "fistp WORD PTR [rcx+0x0]" },
	{ "\xdf\x20", 2, "fbld TBYTE PTR [rax]" },
	{ "\xdf\x6c\x24\x08", 4, "fild QWORD PTR [rsp+0x8]" },
	{ "\xdf\xb5\x00\x01\x00\x00", 6, "fbstp TBYTE PTR [rbp+0x100]" },
	{ "\xdf\x3d\x10\x00\x00\x00", 6, "fistp QWORD PTR [rip+0x10] # 0x17c" },
	{ "\xdf\xc1", 2, "ffreep st(1)" },
	{ "\xdf\xe0", 2, "fnstsw ax" },
	{ "\xdf\xee", 2, "fucomip st,st(6)" },
	{ "\xdf\xf7", 2, "fcomip st,st(7)" },
	/* FISTTP (SSE3, x86-64-v2) */
	{ "\xdb\x4c\x24\x08", 4, "fisttp DWORD PTR [rsp+0x8]" },
	{ "\xdd\x49\x00", 3, "fisttp QWORD PTR [rcx+0x0]" },
	{ "\xdf\x08", 2, "fisttp WORD PTR [rax]" },
};

/* Encodings that objdump and Zydis both reject: #UD, with the length of
 * their ModRM and displacement. */
static const char *const x87_undefined[] = {
	"\xd9\x0d\x10\x00\x00\x00",
	"\xd9\xd3",
	"\xd9\xe2",
	"\xd9\xe3",
	"\xd9\xe6",
	"\xd9\xe7",
	"\xd9\xef",
	"\xda\xe5",
	"\xda\xe8",
	"\xda\xea",
	"\xda\xeb",
	"\xda\xec",
	"\xda\xed",
	"\xda\xee",
	"\xda\xef",
	"\xda\xf7",
	"\xda\xf8",
	"\xdb\x24\x8b",
	"\xdb\x30",
	"\xdb\xe5",
	"\xdb\xe6",
	"\xdb\xe7",
	"\xdb\xf8",
	"\xdd\x2d\x10\x00\x00\x00",
	"\xdd\xf7",
	"\xdd\xf8",
	"\xde\xd8",
	"\xde\xda",
	"\xde\xdb",
	"\xde\xdc",
	"\xde\xdd",
	"\xde\xde",
	"\xde\xdf",
	"\xdf\xe1",
	"\xdf\xe2",
	"\xdf\xe3",
	"\xdf\xe4",
	"\xdf\xe5",
	"\xdf\xe6",
	"\xdf\xe7",
	"\xdf\xf8",
};

/* Reserved register encodings that Intel CPUs run as aliases (Zydis
 * decodes them; objdump prints "(bad)"), and FISTTP (SSE3: the row is
 * x86-64-v2; objdump prints it, but at these bytes it reads on). */
static const struct { const char *bytes, *mnem; } x87_aliases[] = {
	{ "\xd9\xdc", "fstp1" }, { "\xdc\xd3", "fcom2" },
	{ "\xdc\xdc", "fcomp3" }, { "\xdd\xca", "fxch4" },
	{ "\xde\xd3", "fcomp5" }, { "\xdf\xca", "fxch7" },
	{ "\xdf\xd3", "fstp8" }, { "\xdf\xdc", "fstp9" },
	{ "\xdb\xe0", "fneni" }, { "\xdb\xe1", "fndisi" },
	{ "\xdb\xe4", "fnsetpm" }, { "\xdb\x08", "fisttp" },
	{ "\xdd\x08", "fisttp" }, { "\xdf\x08", "fisttp" },
};

static void x87_disassembles_as_objdump(void)
{
	unsigned n = sizeof(x87_rows) / sizeof(*x87_rows);
	uint64_t rip = 0;
	struct dec_insn d;
	char text[160], mn[32];

	for (unsigned i = 0; i < n; i++) {
		const struct row *r = &x87_rows[i];

		CHECK_EQ(dec_decode(&d, (const uint8_t *)r->bytes, r->len,
				    DEC_MODE64), 0);
		CHECK_EQ(d.len, r->len);
		dec_disasm(&d, rip, text, sizeof(text));
		if (strcmp(text, r->objdump))
			fprintf(stderr, "x87 row %u: '%s' vs objdump '%s'\n",
				i, text, r->objdump);
		CHECK(!strcmp(text, r->objdump));
		rip += r->len;
	}
	for (size_t i = 0; i < sizeof(x87_undefined) /
	     sizeof(*x87_undefined); i++) {
		const char *b = x87_undefined[i];
		uint8_t buf[16] = { 0 };
		unsigned mod = (uint8_t)b[1] >> 6, rm = b[1] & 7;
		unsigned len = mod == 3 ? 2 : mod == 1 ? 3 + (rm == 4) :
			       mod == 2 ? 6 + (rm == 4) :
			       rm == 5 ? 6 : 2 + (rm == 4);

		memcpy(buf, b, strlen(b));
		CHECK_EQ(dec_decode(&d, buf, 15, DEC_MODE64), 0);
		if (d.op != DEC_OP_UD)
			fprintf(stderr, "x87 undefined %02x %02x decodes\n",
				(uint8_t)b[0], (uint8_t)b[1]);
		CHECK_EQ(d.op, DEC_OP_UD);
		CHECK_EQ(d.len, len);
	}
	for (size_t i = 0; i < sizeof(x87_aliases) / sizeof(*x87_aliases);
	     i++) {
		uint8_t buf[16] = { 0 };

		memcpy(buf, x87_aliases[i].bytes, 2);
		CHECK_EQ(dec_decode(&d, buf, 15, DEC_MODE64), 0);
		if (!x87_aliases[i].mnem) {
			CHECK_EQ(d.op, DEC_OP_UD);
			continue;
		}
		CHECK(d.op != DEC_OP_UD);
		CHECK(!strcmp(dec_mnemonic(&d, mn, sizeof(mn)),
			      x87_aliases[i].mnem));
	}
	printf("test_decoder: %u x87 rows disassemble exactly as objdump, "
	       "%zu undefined, %zu aliases\n", n, sizeof(x87_undefined) /
	       sizeof(*x87_undefined), sizeof(x87_aliases) /
	       sizeof(*x87_aliases));
}

/* objdump's mnemonic without prefixes. */
static void objdump_mnemonic(const char *t, char *out, size_t n)
{
	static const char *const pfx[] = { "lock ", "rep ", "repz ", "repnz ",
		"repne ", "data16 ", "rex.W ", "rex ", "rex.B ", "fs ", "gs ",
		"ds ", "cs " };
	bool again = true;

	while (again) {
		again = false;
		for (size_t i = 0; i < sizeof(pfx) / sizeof(*pfx); i++) {
			if (!strncmp(t, pfx[i], strlen(pfx[i]))) {
				t += strlen(pfx[i]);
				again = true;
			}
		}
	}
	snprintf(out, n, "%.*s", (int)strcspn(t, " "), t);
}

static void decoder_agrees_with_objdump(void)
{
	unsigned text_ok = 0, n = sizeof(rows) / sizeof(*rows);
	uint64_t rip = 0;

	for (unsigned i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		struct dec_insn d;
		char want[32], mn[32], text[160];
		const char *got;
		bool ok;
		int ret = dec_decode(&d, (const uint8_t *)r->bytes, r->len,
				     DEC_MODE64);

		CHECK_EQ(ret, 0);
		if (d.len != r->len)
			fprintf(stderr, "row %u (%s): length %u, objdump %u\n",
				i, r->objdump, d.len, r->len);
		CHECK_EQ(d.len, r->len);
		objdump_mnemonic(r->objdump, want, sizeof(want));
		got = dec_mnemonic(&d, mn, sizeof(mn));
		/* objdump names string instructions without the size
		 * suffix and lists their implicit operands. */
		ok = !strcmp(got, want) || (!strncmp(got, want, strlen(want)) &&
		     strlen(got) == strlen(want) + 1 &&
		     strchr("bv", got[strlen(want)]));
		if (!ok)
			fprintf(stderr, "row %u: mnemonic %s, objdump %s\n", i,
				got, want);
		CHECK(ok);
		dec_disasm(&d, rip, text, sizeof(text));
		if (!strcmp(text, r->objdump))
			text_ok++;
		else if (getenv("DEC_VERBOSE"))
			fprintf(stderr, "row %u: '%s' vs objdump '%s'\n", i, text,
				r->objdump);
		rip += r->len;
	}
	printf("test_decoder: %u of %u disassemble exactly as objdump\n",
	       text_ok, n);
}

/* Found by tests/oracle/dec_zydis: MOV CRn/DRn ignore ModRM.mod,
 * 8F/C6/C7 with ModRM.reg != 0 are #UD (XOP, XABORT/XBEGIN: forms
 * groups.def does not list, measured with the opcode's immediates), and
 * VZEROUPPER with a VEX.pp or VEX.vvvv other than none/1111b is #UD. */
static void decoder_matches_zydis_on_mod_and_reg_rules(void)
{
	static const struct { const char *b; unsigned len; bool ud; } t[] = {
		{ "\x0f\x23\x83\x60\xd6\x86\x53", 3, false },
		{ "\x0f\x22\x14\xb4\x10", 3, false },
		{ "\xc7\x0c\x97\xb5\x1b\xe2\xcd", 7, true },
		{ "\xc6\xfc\xd6", 3, true },
		{ "\x8f\x69\x70\x9d", 3, true },
		{ "\xc7\x04\x24\x01\x00\x00\x00", 7, false },
		{ "\xc5\x3b\x77\x47\x98\xbc\xd8", 3, true },
		{ "\xc5\xfb\x77\x47\x98\xbc\xd8", 3, true },
		{ "\xc5\xf8\x77\x47\x98\xbc\xd8", 3, false },
		/* SHLX with VEX.L 1; VMOVDQU with VEX.vvvv 0000b */
		{ "\xc4\x42\xa5\xf7\x1b\x5e\xc1", 5, true },
		{ "\xc4\x42\xa1\xf7\x1b\x5e\xc1", 5, false },
		{ "\xc5\x86\x6f\x06\x00\x00\x00", 4, true },
		{ "\xc5\xfe\x6f\x06\x00\x00\x00", 4, false },
	};

	for (unsigned i = 0; i < sizeof(t) / sizeof(*t); i++) {
		struct dec_insn d;

		CHECK_EQ(dec_decode(&d, (const uint8_t *)t[i].b, 7,
				    DEC_MODE64), 0);
		CHECK_EQ(d.len, t[i].len);
		CHECK_EQ(d.op == DEC_OP_UD, t[i].ud);
	}
}

/* MMX register forms print mm registers (objdump's text). */
static void mmx_forms_disassemble_with_mm_registers(void)
{
	static const struct { const char *bytes; unsigned len; const char *text; } t[] = {
		{ "\x0f\xfc\xc1", 3, "paddb mm0,mm1" },
		{ "\x66\x0f\xfc\xc1", 4, "paddb xmm0,xmm1" },
		{ "\x0f\xf5\x47\x60", 4, "pmaddwd mm0,QWORD PTR [rdi+0x60]" },
		{ "\x0f\x71\xe2\x03", 4, "psraw mm2,0x3" },
		{ "\x0f\x7e\xc8", 3, "movd eax,mm1" },
		{ "\xf3\x0f\xd6\xc1", 4, "movq2dq xmm0,mm1" },
		{ "\xf2\x0f\xd6\xc1", 4, "movdq2q mm0,xmm1" },
		{ "\x0f\x2a\xc1", 3, "cvtpi2ps xmm0,mm1" },
		{ "\x0f\xf7\xc1", 3, "maskmovq mm0,mm1" },
		{ "\xf3\x0f\xe6\xc1", 4, "cvtdq2pd xmm0,xmm1" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++) {
		struct dec_insn d;
		char text[96];

		CHECK_EQ(dec_decode(&d, (const uint8_t *)t[i].bytes, t[i].len,
				    DEC_MODE64), 0);
		CHECK_EQ(d.len, t[i].len);
		dec_disasm(&d, 0, text, sizeof(text));
		if (strcmp(text, t[i].text))
			fprintf(stderr, "'%s', want '%s'\n", text, t[i].text);
		CHECK(!strcmp(text, t[i].text));
	}
}

/* Outside 64-bit mode (objdump -b binary -m i386 / i8086 -M intel):
 * ModRM16, 66h/67h, the LEG map (INC/DEC 40-4F, ARPL, LES/LDS and VEX
 * by ModRM.mod) and the opcodes invalid in 64-bit mode.  Mnemonics are
 * compared where objdump adds no size suffix (callw, iretw, ...). */
static void legacy_modes_decode_as_objdump(void)
{
	static const struct { enum dec_mode m; const char *b; unsigned len;
			      const char *text; } t[] = {
		{ DEC_MODE32, "\x06", 1, "push es" },
		{ DEC_MODE32, "\x07", 1, "pop es" },
		{ DEC_MODE32, "\x0e", 1, "push cs" },
		{ DEC_MODE32, "\x17", 1, "pop ss" },
		{ DEC_MODE32, "\x1e", 1, "push ds" },
		{ DEC_MODE32, "\x27", 1, "daa" },
		{ DEC_MODE32, "\x2f", 1, "das" },
		{ DEC_MODE32, "\x37", 1, "aaa" },
		{ DEC_MODE32, "\x3f", 1, "aas" },
		{ DEC_MODE32, "\x40", 1, "inc eax" },
		{ DEC_MODE32, "\x4f", 1, "dec edi" },
		{ DEC_MODE32, "\x66\x40", 2, "inc ax" },
		{ DEC_MODE32, "\x60", 1, "pusha" },
		{ DEC_MODE32, "\x61", 1, "popa" },
		{ DEC_MODE32, "\x62\x03", 2, "bound eax,QWORD PTR [ebx]" },
		{ DEC_MODE32, "\x63\xc8", 2, "arpl ax,cx" },
		{ DEC_MODE32, "\x82\xc0\x05", 3, "add al,0x5" },
		{ DEC_MODE32, "\x9a\x78\x56\x34\x12\x08\x00", 7,
		  "call 0x8:0x12345678" },
		{ DEC_MODE32, "\xce", 1, "into" },
		{ DEC_MODE32, "\xd4\x0a", 2, "aam 0xa" },
		{ DEC_MODE32, "\xd5\x0a", 2, "aad 0xa" },
		{ DEC_MODE32, "\xc4\x03", 2, "les eax,FWORD PTR [ebx]" },
		{ DEC_MODE32, "\xc5\x03", 2, "lds eax,FWORD PTR [ebx]" },
		{ DEC_MODE32, "\x8b\x04\x24", 3, "mov eax,DWORD PTR [esp]" },
		{ DEC_MODE32, "\x67\x8b\x00", 3, "mov eax,DWORD PTR [bx+si]" },
		{ DEC_MODE32, "\xa1\x44\x33\x22\x11", 5,
		  "mov eax,ds:0x11223344" },
		{ DEC_MODE32, "\xe8\x00\x00\x00\x00", 5, "call 0x5" },
		{ DEC_MODE32, "\x66\xe8\x00\x00", 4, "callw 0x4" },
		{ DEC_MODE32, "\x66\xcf", 2, "iretw" },
		{ DEC_MODE32, "\xea\x00\x00\x00\x00\x08\x00", 7,
		  "jmp 0x8:0x0" },
		{ DEC_MODE32, "\x0f\x00\xe0", 3, "verr ax" },
		{ DEC_MODE32, "\x0f\x00\xe8", 3, "verw ax" },
		{ DEC_MODE32, "\xff\x1b", 2, "call FWORD PTR [ebx]" },
		{ DEC_MODE32, "\xc4\xe2\x79\x18\xc0", 5,
		  "vbroadcastss xmm0,xmm0" },
		{ DEC_MODE32, "\x0f\x02\xc3", 3, "lar eax,ebx" },
		{ DEC_MODE16, "\x8b\x00", 2, "mov ax,WORD PTR [bx+si]" },
		{ DEC_MODE16, "\x8b\x01", 2, "mov ax,WORD PTR [bx+di]" },
		{ DEC_MODE16, "\x8b\x02", 2, "mov ax,WORD PTR [bp+si]" },
		{ DEC_MODE16, "\x8b\x03", 2, "mov ax,WORD PTR [bp+di]" },
		{ DEC_MODE16, "\x8b\x04", 2, "mov ax,WORD PTR [si]" },
		{ DEC_MODE16, "\x8b\x05", 2, "mov ax,WORD PTR [di]" },
		{ DEC_MODE16, "\x8b\x06\x34\x12", 4, "mov ax,WORD PTR ds:0x1234" },
		{ DEC_MODE16, "\x8b\x07", 2, "mov ax,WORD PTR [bx]" },
		{ DEC_MODE16, "\x8b\x40\x10", 3, "mov ax,WORD PTR [bx+si+0x10]" },
		{ DEC_MODE16, "\x8b\x80\x00\x10", 4,
		  "mov ax,WORD PTR [bx+si+0x1000]" },
		{ DEC_MODE16, "\x66\xb8\x78\x56\x34\x12", 6,
		  "mov eax,0x12345678" },
		{ DEC_MODE16, "\x67\x8b\x04\x24", 4, "mov ax,WORD PTR [esp]" },
		{ DEC_MODE16, "\x40", 1, "inc ax" },
		{ DEC_MODE16, "\x9a\x34\x12\x00\xf0", 5, "call 0xf000:0x1234" },
		{ DEC_MODE16, "\xe8\x00\x00", 3, "call 0x3" },
		{ DEC_MODE16, "\xc4\x1e\x00\x10", 4,
		  "les bx,DWORD PTR ds:0x1000" },
		{ DEC_MODE16, "\x66\xcf", 2, "iretd" },
		{ DEC_MODE16, "\xea\x00\x7c\x00\x00", 5, "jmp 0x0:0x7c00" },
		{ DEC_MODE16, "\x0f\x01\x16\x00\x10", 5, "lgdtw ds:0x1000" },
	};
	unsigned text_ok = 0, n = sizeof(t) / sizeof(*t);

	for (unsigned i = 0; i < n; i++) {
		struct dec_insn d;
		char want[32], mn[32], text[160];
		const char *got;

		CHECK_EQ(dec_decode(&d, (const uint8_t *)t[i].b, t[i].len,
				    t[i].m), 0);
		if (d.len != t[i].len)
			fprintf(stderr, "legacy row %u (%s): length %u\n", i,
				t[i].text, d.len);
		CHECK_EQ(d.len, t[i].len);
		objdump_mnemonic(t[i].text, want, sizeof(want));
		got = dec_mnemonic(&d, mn, sizeof(mn));
		if (!strcmp(want, "callw") || !strcmp(want, "iretw") ||
		    !strcmp(want, "iretd") || !strcmp(want, "lgdtw"))
			continue; /* objdump's size suffixes */
		if (strcmp(got, want) && !(!strcmp(want, "call") &&
					   !strcmp(got, "lcall")) &&
		    !(!strcmp(want, "jmp") && !strcmp(got, "ljmp")))
			fprintf(stderr, "legacy row %u: mnemonic %s, objdump "
				"%s\n", i, got, want);
		CHECK(!strcmp(got, want) || (!strcmp(want, "call") &&
					     !strcmp(got, "lcall")) ||
		      (!strcmp(want, "jmp") && !strcmp(got, "ljmp")));
		dec_disasm(&d, 0, text, sizeof(text));
		if (!strcmp(text, t[i].text))
			text_ok++;
		else if (getenv("DEC_VERBOSE"))
			fprintf(stderr, "legacy row %u: '%s' vs objdump '%s'\n",
				i, text, t[i].text);
	}
	printf("test_decoder: %u of %u 16/32-bit rows disassemble exactly "
	       "as objdump\n", text_ok, n);
}

int main(void)
{
	decoder_agrees_with_objdump();
	x87_disassembles_as_objdump();
	legacy_modes_decode_as_objdump();
	decoder_matches_zydis_on_mod_and_reg_rules();
	mmx_forms_disassemble_with_mm_registers();
	return test_summary("test_decoder");
}
