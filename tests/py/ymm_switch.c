/* The guest test of YMM context switching (tests/py/test_cpu_model.py):
 * run as two processes at once on one vCPU, each keeps all sixteen YMM
 * registers live in a long loop of VPADDD (each register plus the next,
 * the upper 128-bit lanes seeded apart from the lower), preempted by the
 * timer now and then; at the end it compares them with the same sums
 * done in C and prints "ymm ok" with its involuntary context switches,
 * or "ymm CORRUPT".  The kernel must save and restore the upper halves
 * (XSAVE with XCR0 = 7) for the answer to hold.
 * Build: gcc -static -O2 -march=x86-64-v3 ymm_switch.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define N 16

static uint32_t v[N][8] __attribute__((aligned(32)));

/* ymm r += ymm (r + 1) % 16 for r = 0..15, n times, in registers. */
static void in_registers(long n)
{
	uint32_t (*p)[8] = v;

	__asm__ volatile(
		"vmovdqa   0(%0), %%ymm0\n\tvmovdqa  32(%0), %%ymm1\n\t"
		"vmovdqa  64(%0), %%ymm2\n\tvmovdqa  96(%0), %%ymm3\n\t"
		"vmovdqa 128(%0), %%ymm4\n\tvmovdqa 160(%0), %%ymm5\n\t"
		"vmovdqa 192(%0), %%ymm6\n\tvmovdqa 224(%0), %%ymm7\n\t"
		"vmovdqa 256(%0), %%ymm8\n\tvmovdqa 288(%0), %%ymm9\n\t"
		"vmovdqa 320(%0), %%ymm10\n\tvmovdqa 352(%0), %%ymm11\n\t"
		"vmovdqa 384(%0), %%ymm12\n\tvmovdqa 416(%0), %%ymm13\n\t"
		"vmovdqa 448(%0), %%ymm14\n\tvmovdqa 480(%0), %%ymm15\n"
		"1:\n\t"
		"vpaddd %%ymm1, %%ymm0, %%ymm0\n\tvpaddd %%ymm2, %%ymm1, %%ymm1\n\t"
		"vpaddd %%ymm3, %%ymm2, %%ymm2\n\tvpaddd %%ymm4, %%ymm3, %%ymm3\n\t"
		"vpaddd %%ymm5, %%ymm4, %%ymm4\n\tvpaddd %%ymm6, %%ymm5, %%ymm5\n\t"
		"vpaddd %%ymm7, %%ymm6, %%ymm6\n\tvpaddd %%ymm8, %%ymm7, %%ymm7\n\t"
		"vpaddd %%ymm9, %%ymm8, %%ymm8\n\tvpaddd %%ymm10, %%ymm9, %%ymm9\n\t"
		"vpaddd %%ymm11, %%ymm10, %%ymm10\n\t"
		"vpaddd %%ymm12, %%ymm11, %%ymm11\n\t"
		"vpaddd %%ymm13, %%ymm12, %%ymm12\n\t"
		"vpaddd %%ymm14, %%ymm13, %%ymm13\n\t"
		"vpaddd %%ymm15, %%ymm14, %%ymm14\n\t"
		"vpaddd %%ymm0, %%ymm15, %%ymm15\n\t"
		"dec %1\n\tjnz 1b\n\t"
		"vmovdqa %%ymm0, 0(%0)\n\tvmovdqa %%ymm1, 32(%0)\n\t"
		"vmovdqa %%ymm2, 64(%0)\n\tvmovdqa %%ymm3, 96(%0)\n\t"
		"vmovdqa %%ymm4, 128(%0)\n\tvmovdqa %%ymm5, 160(%0)\n\t"
		"vmovdqa %%ymm6, 192(%0)\n\tvmovdqa %%ymm7, 224(%0)\n\t"
		"vmovdqa %%ymm8, 256(%0)\n\tvmovdqa %%ymm9, 288(%0)\n\t"
		"vmovdqa %%ymm10, 320(%0)\n\tvmovdqa %%ymm11, 352(%0)\n\t"
		"vmovdqa %%ymm12, 384(%0)\n\tvmovdqa %%ymm13, 416(%0)\n\t"
		"vmovdqa %%ymm14, 448(%0)\n\tvmovdqa %%ymm15, 480(%0)\n\t"
		"vzeroupper"
		: "+r"(p), "+r"(n) : : "memory", "xmm0", "xmm1", "xmm2", "xmm3",
		  "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
		  "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	uint32_t w[N][8], s = (uint32_t)getpid() * 2654435761u;
	struct rusage ru;

	for (int r = 0; r < N; r++)
		for (int k = 0; k < 8; k++) {
			s = s * 1664525u + 1013904223u;
			v[r][k] = s ^ (k >= 4 ? 0x80000000u : 0); /* upper lane */
		}
	memcpy(w, v, sizeof(w));
	in_registers(n);
	for (long i = 0; i < n; i++) /* the same in C, one lane at a time */
		for (int r = 0; r < N; r++)
			for (int k = 0; k < 8; k++)
				w[r][k] += w[(r + 1) % N][k];
	getrusage(RUSAGE_SELF, &ru);
	printf("ymm %s after %ld involuntary context switches\n",
	       memcmp(w, v, sizeof(w)) ? "CORRUPT" : "ok", ru.ru_nivcsw);
	return memcmp(w, v, sizeof(w)) != 0;
}
