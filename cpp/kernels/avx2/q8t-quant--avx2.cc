// Ternary activation blocks (256 x int8, f32 scale, int32 sum), AVX2. Bit-exact with q8t_quant__ref:
// the same f32 amax / 127 and reciprocal; roundf (half away from zero) built from truncation.
#include <immintrin.h>

#include "bitflash/ternary.h"

namespace bitflash {
namespace {

inline __m256 roundf_away(__m256 v) {
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 frac = _mm256_sub_ps(v, t);  // exact for |v| < 2^23
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 ge_half = _mm256_cmp_ps(_mm256_and_ps(frac, absmask), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  const __m256 one_signed = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_andnot_ps(absmask, v));
  return _mm256_add_ps(t, _mm256_and_ps(ge_half, one_signed));
}

}  // namespace

void q8t_quant__avx2(const float* x, size_t nblocks, block_q8_t* y) {
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (size_t i = 0; i < nblocks; i++, x += QK_T) {
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < QK_T; j += 8) m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + j), absmask));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    __m256i sum = _mm256_setzero_si256();
    for (int j = 0; j < QK_T; j += 32) {
      const __m256i i0 = _mm256_cvttps_epi32(roundf_away(_mm256_mul_ps(_mm256_loadu_ps(x + j), vid)));
      const __m256i i1 = _mm256_cvttps_epi32(roundf_away(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8), vid)));
      const __m256i i2 = _mm256_cvttps_epi32(roundf_away(_mm256_mul_ps(_mm256_loadu_ps(x + j + 16), vid)));
      const __m256i i3 = _mm256_cvttps_epi32(roundf_away(_mm256_mul_ps(_mm256_loadu_ps(x + j + 24), vid)));
      sum = _mm256_add_epi32(sum, _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3)));
      __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
      p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs + j), p);
    }
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
    y[i].d = d;
    y[i].sum = _mm_cvtsi128_si32(s4);
  }
}

}  // namespace bitflash
