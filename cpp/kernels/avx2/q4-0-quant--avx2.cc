// q4_0 quantization with AVX2 + F16C, bit-exact with q4_0_quant__ref: the same "first largest |x|"
// choice (found with a compare mask), the same f32 division and reciprocal, and the same truncation
// of x*id + 8.5 (vcvttps2dq) clamped to 15.
#include <immintrin.h>
#include <cmath>

#include "bitflash/quant.h"

namespace bitflash {

void q4_0_quant__avx2(const float* x, block_q4_0* y, size_t nb) {
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (size_t i = 0; i < nb; i++) {
    const float* xb = x + i * QK4_0;
    __m256 v[4], a[4];
    for (int j = 0; j < 4; j++) {
      v[j] = _mm256_loadu_ps(xb + 8 * j);
      a[j] = _mm256_and_ps(v[j], absmask);
    }
    const __m256 m = _mm256_max_ps(_mm256_max_ps(a[0], a[1]), _mm256_max_ps(a[2], a[3]));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    float max = 0.0f;
    if (amax > 0.0f) {
      const __m256 am = _mm256_set1_ps(amax);
      uint32_t mask = 0;
      for (int j = 0; j < 4; j++)
        mask |= static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(a[j], am, _CMP_EQ_OQ))) << (8 * j);
      max = xb[__builtin_ctz(mask)];
    }
    const float d = max / -8.0f;
    // |d| < 2^-128: 1 / d overflows and x * id is not a code (llama.cpp's reference converts it to int8,
    // undefined behaviour); its f16 d is 0 anyway, so the codes are defined as 8 (zero).
    const float id = d != 0.0f && std::isfinite(1.0f / d) ? 1.0f / d : 0.0f;
    y[i].d = static_cast<fp16_t>(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
    const __m256 vid = _mm256_set1_ps(id), h = _mm256_set1_ps(8.5f);
    __m256i q[4];
    for (int j = 0; j < 4; j++) {
      // x*id and + 8.5 are two roundings (the reference's rule): the empty asm keeps GCC from contracting
      // them into one vfmadd (-mfma), which truncates to a different nibble near the .5 points
      __m256 p = _mm256_mul_ps(v[j], vid);
      __asm__("" : "+x"(p));
      q[j] = _mm256_min_epi32(_mm256_cvttps_epi32(_mm256_add_ps(p, h)), _mm256_set1_epi32(15));
    }
    // elements 0..15 low nibbles, 16..31 high nibbles
    const __m256i lo = _mm256_packs_epi32(q[0], q[1]);  // 16-bit, lane-interleaved
    const __m256i hi = _mm256_packs_epi32(q[2], q[3]);
    const __m256i p = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(lo, hi),
                                                  _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));  // 0..15 | 16..31
    const __m128i b = _mm_or_si128(_mm256_castsi256_si128(p), _mm_slli_epi16(_mm256_extracti128_si256(p, 1), 4));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs), b);
  }
}

}  // namespace bitflash
