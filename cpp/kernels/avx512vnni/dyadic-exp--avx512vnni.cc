// i-exp on AVX-512 (F/BW under Isa::avx512vnni), bit-exact with i_exp__ref: exp_core on 16 lanes.
// The two 32-bit products become one vpmaddwd each when their factors fit in 16 bits (checked per
// call): d * mul with d in [-32768, 0] (its high word is 0 or -1) and 0 <= mul < 2^15 (the high word
// of mul is 0, so the high-word product vanishes); u * u with 0 <= u < 2^15 (I-BERT: u = b_int -
// (nt & 0x3fff), so b_int in [0x3fff, 2^15); with 0 <= c_int < 2^30 the final shift is then a plain logical
// one). Otherwise vpmulld, the same integers.
#include <immintrin.h>

#include "bitflash/dyadic.h"

namespace bitflash {
namespace {
template <bool MADD_D, bool MADD_U, bool SHIFT>
struct Exp16 {
  __m512i dmin, mul, b, c, m14, m16, c14, c31, zero, k131072;
  __m128i g;
  explicit Exp16(const ExpParams& p)
      : dmin(_mm512_set1_epi32(p.d_min)), mul(_mm512_set1_epi32(p.mul)), b(_mm512_set1_epi32(p.b_int)),
        c(_mm512_set1_epi32(p.c_int)), m14(_mm512_set1_epi32(0x3fff)), m16(_mm512_set1_epi32(0xffff)),
        c14(_mm512_set1_epi32(14)), c31(_mm512_set1_epi32(31)), zero(_mm512_setzero_si512()),
        k131072(_mm512_set1_epi32(131072)), g(_mm_cvtsi32_si128(p.g)) {}
  // exp_core on 16 lanes of d (int32, already widened)
  inline __m512i operator()(__m512i d) const {
    const __m512i v = _mm512_max_epi32(d, dmin);
    const __m512i t = _mm512_sra_epi32(MADD_D ? _mm512_madd_epi16(v, mul) : _mm512_mullo_epi32(v, mul), g);
    // t <= 0 (d <= 0, mul >= 1), so nt >= 0 and q >= 0 below
    if (SHIFT) {
      // shift_exp16 rearranged, same integers: nt = -(t + (t >> 1) - (t >> 4)); (-(lo) >> 1) + 65536 =
      // (2^17 - lo) >> 1 for 0 <= lo < 2^16; that is positive and below 2^31, so a logical shift by q
      // (0 past 31) equals the reference's shift by min(q, 31)
      const __m512i nt = _mm512_sub_epi32(_mm512_sub_epi32(_mm512_srai_epi32(t, 4), t), _mm512_srai_epi32(t, 1));
      const __m512i e0 = _mm512_srli_epi32(_mm512_sub_epi32(k131072, _mm512_and_si512(nt, m16)), 1);
      return _mm512_srlv_epi32(e0, _mm512_srli_epi32(nt, 16));
    }
    const __m512i nt = _mm512_sub_epi32(zero, t);
    const __m512i q = _mm512_srai_epi32(nt, 14);
    const __m512i u = _mm512_sub_epi32(b, _mm512_and_si512(nt, m14));
    if (MADD_U) {
      // 0 <= u < 2^15 and 0 <= c < 2^30 (checked by the caller): 0 <= z < 2^31, so z >> min(q + 14, 31)
      // = (z >> 14) >> q with a logical shift (0 past 31)
      const __m512i z = _mm512_add_epi32(_mm512_madd_epi16(u, u), c);
      return _mm512_srlv_epi32(_mm512_srli_epi32(z, 14), q);
    }
    const __m512i z = _mm512_add_epi32(_mm512_mullo_epi32(u, u), c);
    return _mm512_srav_epi32(z, _mm512_min_epi32(_mm512_add_epi32(q, c14), c31));
  }
};

template <bool MADD_D, bool MADD_U, bool SHIFT>
void exp16(const int16_t* d, size_t n, const ExpParams& p, int32_t* e) {
  const Exp16<MADD_D, MADD_U, SHIFT> f(p);
  size_t i = 0;
  // 64 lanes a step without masks (four independent chains hide the multiply latency), then the tail
  for (; i + 64 <= n; i += 64) {
    const __m512i d0 = _mm512_loadu_si512(d + i), d1 = _mm512_loadu_si512(d + i + 32);
    const __m512i r0 = f(_mm512_cvtepi16_epi32(_mm512_castsi512_si256(d0)));
    const __m512i r1 = f(_mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(d0, 1)));
    const __m512i r2 = f(_mm512_cvtepi16_epi32(_mm512_castsi512_si256(d1)));
    const __m512i r3 = f(_mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(d1, 1)));
    _mm512_storeu_si512(e + i, r0);
    _mm512_storeu_si512(e + i + 16, r1);
    _mm512_storeu_si512(e + i + 32, r2);
    _mm512_storeu_si512(e + i + 48, r3);
  }
  for (; i < n; i += 16) {
    const size_t left = n - i;
    const __mmask16 m = left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
    _mm512_mask_storeu_epi32(e + i, m, f(_mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(m, d + i))));
  }
}
}  // namespace

void i_exp__avx512(const int16_t* d, size_t n, const ExpParams& p, int32_t* e) {
  const bool md = p.mul >= 0 && p.mul < 32768;
  if (p.method == ExpMethod::shift) {
    if (md) exp16<true, false, true>(d, n, p, e);
    else exp16<false, false, true>(d, n, p, e);
    return;
  }
  const bool mu = p.b_int >= 0x3fff && p.b_int < 32768 && p.c_int >= 0 && p.c_int < (1 << 30);
  if (md && mu) exp16<true, true, false>(d, n, p, e);
  else if (md) exp16<true, false, false>(d, n, p, e);
  else if (mu) exp16<false, true, false>(d, n, p, e);
  else exp16<false, false, false>(d, n, p, e);
}

}  // namespace bitflash
