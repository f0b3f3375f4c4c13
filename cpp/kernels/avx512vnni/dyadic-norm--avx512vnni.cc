// Integer LayerNorm / RMSNorm on AVX-512 (F/BW under Isa::avx512vnni), bit-exact with norm__ref.
// Statistics: s = sum x and q = sum x^2 with vpmaddwd on int16 lanes (per-lane int32 partial sums stay
// below 2^15 per step); V = sum (cols x - s)^2 = cols (cols q - s^2) for LayerNorm and q for RMSNorm,
// the same integer as the reference's sum. Output, 16 lanes: c = cn x - s, r = (c f) >> k in 64-bit
// lanes, the per-column dyadic multiply by the rule, + bias, clamp; masked loads / stores for the tail.
#include <immintrin.h>

#include "bitflash/dyadic.h"

namespace bitflash {
namespace {
inline __m512i srdhm16(__m512i a, __m512i b) {
  const __m512i nudge = _mm512_set1_epi64(int64_t(1) << 30);
  const __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(a, b), nudge);
  const __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(b, 32)), nudge);
  const __m512i r = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
  const __m512i mn = _mm512_set1_epi32(INT32_MIN);
  const __mmask16 ov = _mm512_cmpeq_epi32_mask(a, mn) & _mm512_cmpeq_epi32_mask(b, mn);
  return _mm512_mask_blend_epi32(ov, r, _mm512_set1_epi32(INT32_MAX));
}
// x * m / 2^s per lane: left shift l = max(31 - s, 0) saturating, SRDHM, rounding right shift k = max(s - 31, 0).
inline __m512i mul_dyadic16(__m512i x, __m512i m, __m512i l, __m512i k) {
  const __m512i y = _mm512_sllv_epi32(x, l);
  const __mmask16 ok = _mm512_cmpeq_epi32_mask(_mm512_srav_epi32(y, l), x);
  const __m512i sat = _mm512_xor_si512(_mm512_set1_epi32(INT32_MAX), _mm512_srai_epi32(x, 31));
  const __m512i h = srdhm16(_mm512_mask_blend_epi32(ok, sat, y), m);
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, k), one);
  const __m512i rem = _mm512_and_si512(h, mask);
  const __m512i thr = _mm512_add_epi32(_mm512_srli_epi32(mask, 1), _mm512_srli_epi32(h, 31));
  const __m512i q = _mm512_srav_epi32(h, k);
  return _mm512_mask_add_epi32(q, _mm512_cmpgt_epi32_mask(rem, thr), q, one);
}
}  // namespace

void norm__avx512(const int8_t* x, size_t rows, const NormParams& p, int8_t* y) {
  const size_t n = p.cols;
  const __m512i ones16 = _mm512_set1_epi16(1);
  const __m512i lo = _mm512_set1_epi32(-128), hi = _mm512_set1_epi32(127);
  const __m512i big = _mm512_set1_epi32(1 << 24), nbig = _mm512_set1_epi32(-(1 << 24));
  const __m512i c31 = _mm512_set1_epi32(31), zero = _mm512_setzero_si512();
  const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (size_t r = 0; r < rows; r++) {
    const int8_t* xr = x + r * n;
    int8_t* yr = y + r * n;
    // statistics: 32 int8 -> int16 lanes per step; madd gives int32 lanes of x^2 pairs and x pairs
    __m512i sq = zero, sx = zero;
    size_t j = 0;
    for (; j < n; j += 32) {
      const size_t left = n - j;
      const __mmask32 m = left >= 32 ? __mmask32(0xffffffffu) : __mmask32((1u << left) - 1);
      const __m512i v = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, xr + j));
      sq = _mm512_add_epi32(sq, _mm512_madd_epi16(v, v));
      sx = _mm512_add_epi32(sx, _mm512_madd_epi16(v, ones16));
    }
    // per lane: at most n / 32 <= 1024 steps of <= 2 * 128^2 = 2^15: below 2^25, no overflow
    const int64_t q = _mm512_reduce_add_epi32(sq);  // sum x^2 <= 2^15 * 2^14 = 2^29
    const int32_t s = p.center ? _mm512_reduce_add_epi32(sx) : 0;
    const int32_t cn = p.center ? static_cast<int32_t>(n) : 1;
    const uint64_t v = p.center ? static_cast<uint64_t>(static_cast<int64_t>(n) * (static_cast<int64_t>(n) * q - static_cast<int64_t>(s) * s))
                                : static_cast<uint64_t>(q);
    int k;
    const int64_t f = dyadic_detail::norm_factor(v, &k);
    const __m512i vf = _mm512_set1_epi32(static_cast<int32_t>(f));  // f < 2^31
    const __m128i vk = _mm_cvtsi32_si128(k);
    const __m512i vcn = _mm512_set1_epi32(cn), vs = _mm512_set1_epi32(s);
    for (j = 0; j < n; j += 16) {
      const size_t left = n - j;
      const __mmask16 m = left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
      const __mmask8 m0 = left >= 8 ? __mmask8(0xff) : __mmask8((1u << left) - 1);
      const __mmask8 m1 = left >= 16 ? __mmask8(0xff) : left > 8 ? __mmask8((1u << (left - 8)) - 1) : __mmask8(0);
      const __m512i c = _mm512_sub_epi32(_mm512_mullo_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, xr + j)), vcn), vs);
      const __m512i pe = _mm512_sra_epi64(_mm512_mul_epi32(c, vf), vk);
      const __m512i po = _mm512_sra_epi64(_mm512_mul_epi32(_mm512_srli_epi64(c, 32), vf), vk);
      const __m512i rj = _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
      // 16 Dyadic {m, s}: two loads, de-interleaved
      const __m512i d0 = _mm512_maskz_loadu_epi64(m0, p.mult + j);
      const __m512i d1 = _mm512_maskz_loadu_epi64(m1, p.mult + j + 8);
      const __m512i mm = _mm512_permutex2var_epi32(d0, ev, d1);
      const __m512i ss = _mm512_permutex2var_epi32(d0, od, d1);
      const __m512i l = _mm512_max_epi32(_mm512_sub_epi32(c31, ss), zero);
      const __m512i kk = _mm512_max_epi32(_mm512_sub_epi32(ss, c31), zero);
      __m512i o = _mm512_min_epi32(_mm512_max_epi32(mul_dyadic16(rj, mm, l, kk), nbig), big);
      o = _mm512_add_epi32(o, _mm512_maskz_loadu_epi32(m, p.bias + j));
      _mm_mask_storeu_epi8(yr + j, m, _mm512_cvtepi32_epi8(_mm512_min_epi32(_mm512_max_epi32(o, lo), hi)));
    }
  }
}

}  // namespace bitflash
