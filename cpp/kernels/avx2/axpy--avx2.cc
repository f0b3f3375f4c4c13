// The flash FFN's per-neuron axpy, AVX2 + FMA: the same fmaf(c * d_b, q_j, y_j) per element as the
// reference (bitflash/axpy.h), eight lanes at a time.
#include <immintrin.h>

#include "bitflash/axpy.h"

namespace bitflash {

void axpy_q4_0__avx2(const block_q4_0* b, size_t nb, float c, float* y) {
  const __m128i m4 = _mm_set1_epi8(15);
  const __m256i eight = _mm256_set1_epi32(8);
  for (size_t i = 0; i < nb; i++, y += 32) {
    const __m256 d = _mm256_set1_ps(c * fp16_to_f32(b[i].d));
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].qs));
    const __m128i lo = _mm_and_si128(q, m4), hi = _mm_and_si128(_mm_srli_epi16(q, 4), m4);
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int p = 0; p < 4; p++) {
      const __m256 v = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(parts[p]), eight));
      _mm256_storeu_ps(y + 8 * p, _mm256_fmadd_ps(d, v, _mm256_loadu_ps(y + 8 * p)));
    }
  }
}

void axpy_q8_0__avx2(const block_q8_0* b, size_t nb, float c, float* y) {
  for (size_t i = 0; i < nb; i++, y += 32) {
    const __m256 d = _mm256_set1_ps(c * fp16_to_f32(b[i].d));
    for (int p = 0; p < 4; p++) {
      const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b[i].qs + 8 * p));
      const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
      _mm256_storeu_ps(y + 8 * p, _mm256_fmadd_ps(d, v, _mm256_loadu_ps(y + 8 * p)));
    }
  }
}

}  // namespace bitflash
