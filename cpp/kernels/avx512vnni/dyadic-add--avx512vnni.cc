// Add with rescale on AVX-512 (F/BW under Isa::avx512vnni), bit-exact with add_rescale__ref: each
// input's rescaled term mul_dyadic((x - zp) << 20, mult) takes only 256 values, tabulated by add_prepare
// with the scalar core (p.ta, p.tb) and gathered 16 lanes at a time; the sum then goes through one
// dyadic multiply by the rule (SRDHM, rounding right shift or saturating left shift), + zero point, clamp.
#include <immintrin.h>

#include "bitflash/dyadic.h"

namespace bitflash {
namespace {
// 16 lanes of SRDHM: floor((a*b + 2^30) / 2^31), INT32_MIN*INT32_MIN -> INT32_MAX.
inline __m512i srdhm16(__m512i a, __m512i b) {
  const __m512i nudge = _mm512_set1_epi64(int64_t(1) << 30);
  const __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(a, b), nudge);
  const __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(b, 32)), nudge);
  const __m512i r = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
  const __m512i mn = _mm512_set1_epi32(INT32_MIN);
  const __mmask16 ov = _mm512_cmpeq_epi32_mask(a, mn) & _mm512_cmpeq_epi32_mask(b, mn);
  return _mm512_mask_blend_epi32(ov, r, _mm512_set1_epi32(INT32_MAX));
}
// x * m / 2^s for one Dyadic (the rule of bitflash/dyadic.h, no zero point).
inline __m512i mul_dyadic16(__m512i x, Dyadic d) {
  const __m512i m = _mm512_set1_epi32(d.m);
  if (d.s < 31) {
    const __m128i l = _mm_cvtsi32_si128(31 - d.s);
    const __m512i y = _mm512_sll_epi32(x, l);
    const __mmask16 ok = _mm512_cmpeq_epi32_mask(_mm512_sra_epi32(y, l), x);
    const __m512i sat = _mm512_xor_si512(_mm512_set1_epi32(INT32_MAX), _mm512_srai_epi32(x, 31));
    return srdhm16(_mm512_mask_blend_epi32(ok, sat, y), m);
  }
  const __m512i h = srdhm16(x, m);
  const int k = d.s - 31;
  if (k == 0) return h;
  const __m128i vk = _mm_cvtsi32_si128(k);
  const __m512i mask = _mm512_set1_epi32(static_cast<int32_t>(0xffffffffu >> (32 - k)));
  const __m512i rem = _mm512_and_si512(h, mask);
  const __m512i thr = _mm512_add_epi32(_mm512_srli_epi32(mask, 1), _mm512_srli_epi32(h, 31));
  const __mmask16 up = _mm512_cmpgt_epi32_mask(rem, thr);
  const __m512i q = _mm512_sra_epi32(h, vk);
  return _mm512_mask_add_epi32(q, up, q, _mm512_set1_epi32(1));
}
}  // namespace

void add_rescale__avx512(const int8_t* a, const int8_t* b, size_t n, const AddParams& p, int8_t* y) {
  const __m512i zp = _mm512_set1_epi32(p.y_zp), lo = _mm512_set1_epi32(-128), hi = _mm512_set1_epi32(127);
  const __m512i big = _mm512_set1_epi32(1 << 24), nbig = _mm512_set1_epi32(-(1 << 24));
  size_t i = 0;
  for (; i < n; i += 16) {
    const size_t left = n - i;
    const __mmask16 m = left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
    const __m512i ia = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, a + i));
    const __m512i ib = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, b + i));
    const __m512i sa = _mm512_i32gather_epi32(ia, p.ta, 4);
    const __m512i sb = _mm512_i32gather_epi32(ib, p.tb, 4);
    // |sa + sb| < 2^28 (|x - zp| <= 255, shifted 20 bits, multipliers <= 1/2): no int32 overflow, as in the reference
    __m512i v = mul_dyadic16(_mm512_add_epi32(sa, sb), p.y_mult);
    v = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(v, nbig), big), zp);
    v = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
    _mm_mask_storeu_epi8(y + i, m, _mm512_cvtepi32_epi8(v));
  }
}

}  // namespace bitflash
