/* A static test program built with -march=x86-64-v3 for the guest test
 * of the CPU models (tests/py/test_cpu_model.py): main starts with AVX
 * (VEX.256) instructions, so on an x86-64-v2 model it dies of SIGILL
 * before printing anything; on v3 it prints
 * results of AVX2 (VPERMD, VPGATHERDD, VPSLLVD, VPSHUFB ymm, VPBLENDVB),
 * FMA, F16C, BMI1/2, LZCNT and MOVBE instructions (doubles in %a, exact),
 * which must equal the host's run of the same binary. */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>

static volatile uint64_t seed = 0x0123456789abcdefull;
static int32_t table[64];

int main(void)
{
	uint64_t s = seed, bits = 0;
	__m256d acc = _mm256_set1_pd(0.5), x;
	__m256i a, b, idx, g, m;
	__m128i h;
	double d[4];
	uint32_t o[8];

	for (int i = 0; i < 1000; i++) {
		x = _mm256_set_pd((double)(s >> 40), -(double)(s & 0xfff),
				  (double)i / 3.0, 1.0 / (double)(i + 1));
		acc = _mm256_fmadd_pd(x, _mm256_set1_pd(1.0 / 1024), acc);
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		bits += _pext_u64(s, 0x00ff00ff00ff00ffull) ^
			_pdep_u64(s >> 32, 0xf0f0f0f0f0f0f0f0ull);
		bits += (uint64_t)_lzcnt_u64(s >> (s & 63)) +
			(uint64_t)_tzcnt_u64(s) + _blsr_u64(s) + _bzhi_u64(s, 33);
		bits += __builtin_bswap64(s); /* MOVBE or BSWAP */
	}
	for (int i = 0; i < 64; i++)
		table[i] = (int32_t)(s >> (i & 31)) * (i + 1);
	a = _mm256_set_epi64x((long long)s, (long long)(s >> 7),
			      (long long)bits, (long long)~s);
	idx = _mm256_and_si256(_mm256_srli_epi32(a, 27), _mm256_set1_epi32(7));
	b = _mm256_permutevar8x32_epi32(a, idx);                 /* AVX2 */
	g = _mm256_i32gather_epi32(table, _mm256_and_si256(a,
				   _mm256_set1_epi32(63)), 4);   /* AVX2 */
	b = _mm256_sllv_epi32(b, _mm256_and_si256(g, _mm256_set1_epi32(31)));
	m = _mm256_shuffle_epi8(a, _mm256_set1_epi64x(0x0f0e0d0c03020100ll));
	b = _mm256_blendv_epi8(b, m, g);
	h = _mm_cvtps_ph(_mm256_cvtpd_ps(acc), _MM_FROUND_TO_NEAREST_INT);
	_mm256_storeu_pd(d, acc);
	_mm256_storeu_si256((__m256i *)o, b);
	printf("fma %a %a %a %a bmi %016llx\n", d[0], d[1], d[2], d[3],
	       (unsigned long long)bits);
	printf("avx2 %08x %08x %08x %08x %08x %08x %08x %08x f16c %016llx\n",
	       o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7],
	       (unsigned long long)_mm_cvtsi128_si64(h));
	return 0;
}
