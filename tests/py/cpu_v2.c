/* A static test program built with -march=x86-64-v2 for the guest test
 * of the CPU models (tests/py/test_cpu_model.py): its first instruction
 * of main's loop is CRC32 (SSE4.2), so on an x86-64-v1 model it dies of
 * SIGILL before printing anything; on v2 it prints results of SSE4.2,
 * POPCNT, SSSE3, SSE4.1 and SSE3 instructions (floats in %a, exact),
 * which must equal the host's run of the same binary. */
#include <nmmintrin.h>
#include <stdint.h>
#include <stdio.h>

static volatile uint64_t seed = 0x0123456789abcdefull;
static const char hay[32] = "the quick brown fox jumps over";
static const char needle[16] = "fox";

int main(void)
{
	uint64_t s = seed, pop = 0;
	uint32_t crc = ~0u;
	__m128i a, b, m;
	__m128 f, g;
	__m128d r;
	float out[4];
	double rd[2];
	int idx;

	for (int i = 0; i < 1000; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		crc = (uint32_t)_mm_crc32_u64(crc, s);
		pop += (uint64_t)__builtin_popcountll(s);
	}
	a = _mm_set_epi64x((long long)s, (long long)(s >> 7));
	m = _mm_set_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13,
			 (char)0x80);
	b = _mm_shuffle_epi8(a, m);                       /* SSSE3 */
	b = _mm_max_epu32(_mm_mullo_epi32(b, a), a);      /* SSE4.1 */
	idx = _mm_cmpistri(_mm_loadu_si128((const __m128i *)needle),
			   _mm_loadu_si128((const __m128i *)(hay + (s & 7))),
			   _SIDD_CMP_EQUAL_ORDERED);          /* SSE4.2 */
	f = _mm_set_ps((float)(s & 0xffff) / 7.0f, 1.5f, -2.25f,
		       (float)(s >> 48) / 3.0f);
	g = _mm_hadd_ps(_mm_dp_ps(f, f, 0xf1), f);        /* SSE4.1, SSE3 */
	r = _mm_round_pd(_mm_set_pd((double)s / 1e9, -(double)pop / 3.0),
			 _MM_FROUND_TO_NEG_INF);
	_mm_storeu_ps(out, g);
	_mm_storeu_pd(rd, r);
	printf("crc32 %08x popcnt %llu pshufb-pmulld-pmaxud %016llx%016llx "
	       "pcmpistri %d\n", crc, (unsigned long long)pop,
	       (unsigned long long)_mm_extract_epi64(b, 1),
	       (unsigned long long)_mm_extract_epi64(b, 0), idx);
	printf("dpps-haddps %a %a %a %a roundpd %a %a\n", out[0], out[1],
	       out[2], out[3], rd[0], rd[1]);
	return 0;
}
