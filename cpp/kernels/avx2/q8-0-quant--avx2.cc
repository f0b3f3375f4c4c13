// q8_0 quantize / dequantize with AVX2 + F16C. Bit-exact with q8_0_quant__ref: the scale is
// computed with the same f32 division and reciprocal, and roundf (half away from zero) is built
// from truncation, since vroundps has no such mode.
#include <immintrin.h>

#include <cmath>

#include "bitflash/quant.h"

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

void q8_0_quant__avx2(const float* x, block_q8_0* y, size_t nb) {
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (size_t i = 0; i < nb; i++) {
    const float* xb = x + i * QK8_0;
    __m256 v0 = _mm256_loadu_ps(xb), v1 = _mm256_loadu_ps(xb + 8);
    __m256 v2 = _mm256_loadu_ps(xb + 16), v3 = _mm256_loadu_ps(xb + 24);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v0, absmask), _mm256_and_ps(v1, absmask)),
                             _mm256_max_ps(_mm256_and_ps(v2, absmask), _mm256_and_ps(v3, absmask)));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    const float d = amax / 127.0f;
    // amax < 127 * 2^-128: 1 / d overflows to infinity and x * id is not a code (llama.cpp's reference
    // converts it to int8, undefined behaviour); its f16 d is 0 anyway, so the codes are defined as 0.
    const float id = d != 0.0f && std::isfinite(1.0f / d) ? 1.0f / d : 0.0f;
    y[i].d = static_cast<fp16_t>(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
    const __m256 vid = _mm256_set1_ps(id);
    __m256i i0 = _mm256_cvttps_epi32(roundf_away(_mm256_mul_ps(v0, vid)));
    __m256i i1 = _mm256_cvttps_epi32(roundf_away(_mm256_mul_ps(v1, vid)));
    __m256i i2 = _mm256_cvttps_epi32(roundf_away(_mm256_mul_ps(v2, vid)));
    __m256i i3 = _mm256_cvttps_epi32(roundf_away(_mm256_mul_ps(v3, vid)));
    // pack 32-bit -> 16-bit -> 8-bit (values are within [-127, 127]), then undo the lane interleave
    __m256i p01 = _mm256_packs_epi32(i0, i1);
    __m256i p23 = _mm256_packs_epi32(i2, i3);
    __m256i p = _mm256_packs_epi16(p01, p23);
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs), p);
  }
}

void q8_0_dequant__avx2(const block_q8_0* x, float* y, size_t nb) {
  for (size_t i = 0; i < nb; i++) {
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(x[i].d));
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs));
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    float* o = y + i * QK8_0;
    _mm256_storeu_ps(o, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), d));
    _mm256_storeu_ps(o + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), d));
    _mm256_storeu_ps(o + 16, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), d));
    _mm256_storeu_ps(o + 24, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), d));
  }
}

}  // namespace bitflash
