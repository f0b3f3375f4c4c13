// Requantize int32 -> i8/u8/i16 on AVX-512 (F/BW/DQ under Isa::avx512vnni), bit-exact with requantize__ref.
//
// Uniform multiplier with s >= 31 and m != INT32_MIN (the usual case): SRDHM and the rounding right
// shift by k = s - 31 are fused into one 64-bit computation per lane. With p = x*m + 2^30,
// h = floor(p / 2^31) is the SRDHM (no saturation: m != INT32_MIN); RDBPOT(h, k) for k >= 1 is
// floor((h + 2^(k-1) - [h < 0]) / 2^k), and [h < 0] = [p < 0]; adding an integer commutes with the
// floor, so y = floor((p + 2^(30+k) - 2^31 [p < 0]) / 2^(31+k)) — one multiply, one add, one masked
// subtract and one shift per 8 lanes (|p| <= 2^62 + 2^30: the sums stay inside int64). k = 0: y = p >> 31.
// Output i8/u8: 64 lanes per step through saturating packs (sat16(y) + zp with saturation, then the
// saturating pack to 8 bits: equal to clamp(y + zp) since |zp| <= 255 lies far inside int16).
// Otherwise (per channel, s < 31, m = INT32_MIN) the general 16-lane rule as in the other AVX-512 files.
#include <immintrin.h>

#include "bitflash/dyadic.h"

namespace bitflash {
namespace {
#include "dyadic-avx512-inl.h"

// The fused uniform rule (see the top): K0 = (k == 0).
struct Fused {
  __m512i m, c, c2, b31, hidx;
  __m128i sh_even, sh_odd;  // 31 + k; k - 1 (the shift of the high dwords)
};
template <bool K0>
inline __m512i fused16(__m512i x, const Fused& f) {
  const __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(x, f.m), f.c);
  const __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), f.m), f.c);
  if (K0) return _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
  // pe = p + 2^(30+k): p < 0 exactly when pe < 2^(30+k)
  const __m512i te = _mm512_mask_sub_epi64(pe, _mm512_cmplt_epi64_mask(pe, f.c2), pe, f.b31);
  const __m512i to = _mm512_mask_sub_epi64(po, _mm512_cmplt_epi64_mask(po, f.c2), po, f.b31);
  // y = floor(t / 2^(31+k)) = (high dword of t) >> (k - 1): the low dword adds less than one unit
  const __m512i hi = _mm512_permutex2var_epi32(te, f.hidx, to);
  return _mm512_sra_epi32(hi, f.sh_odd);
}

// 64 int32 already reduced by the rule -> 64 bytes: sat16, + zp saturating, sat8 (or u8), lane order fixed.
template <bool U8>
inline __m512i pack64(__m512i a, __m512i b, __m512i c, __m512i d, __m512i zp16) {
  const __m512i ab = _mm512_adds_epi16(_mm512_packs_epi32(a, b), zp16);
  const __m512i cd = _mm512_adds_epi16(_mm512_packs_epi32(c, d), zp16);
  const __m512i r = U8 ? _mm512_packus_epi16(ab, cd) : _mm512_packs_epi16(ab, cd);
  // within each 128-bit lane: a0..3 b0..3 c0..3 d0..3 (dwords) -> dword order a(0..3) of lanes 0..3 etc.
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_epi32(idx, r);
}

template <class F>
inline void run(const int32_t* in, size_t n, int32_t zp, DType t, void* out, F&& rule) {
  int32_t lo = -128, hi = 127;
  if (t == DType::u8) lo = 0, hi = 255;
  if (t == DType::i16) lo = -32768, hi = 32767;
  // clamp(y + zp, lo, hi) = clamp(y, lo - zp, hi - zp) + zp: no wrap for any int32 y
  const __m512i vlo = _mm512_set1_epi32(lo - zp), vhi = _mm512_set1_epi32(hi - zp), vzp = _mm512_set1_epi32(zp);
  size_t i = 0;
  if (t != DType::i16) {
    const __m512i zp16 = _mm512_set1_epi16(static_cast<int16_t>(zp));
    for (; i + 64 <= n; i += 64) {
      const __m512i a = rule(_mm512_loadu_si512(in + i), i);
      const __m512i b = rule(_mm512_loadu_si512(in + i + 16), i + 16);
      const __m512i c = rule(_mm512_loadu_si512(in + i + 32), i + 32);
      const __m512i d = rule(_mm512_loadu_si512(in + i + 48), i + 48);
      const __m512i r = t == DType::u8 ? pack64<true>(a, b, c, d, zp16) : pack64<false>(a, b, c, d, zp16);
      _mm512_storeu_si512(static_cast<int8_t*>(out) + i, r);
    }
  }
  for (; i < n; i += 16) {
    const size_t left = n - i;
    const __mmask16 m = left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
    const __m512i y = rule(_mm512_maskz_loadu_epi32(m, in + i), i);
    const __m512i v = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(y, vlo), vhi), vzp);
    if (t == DType::i16) _mm256_mask_storeu_epi16(static_cast<int16_t*>(out) + i, m, _mm512_cvtepi32_epi16(v));
    else _mm_mask_storeu_epi8(static_cast<int8_t*>(out) + i, m, _mm512_cvtepi32_epi8(v));
  }
}
}  // namespace

void requantize__avx512(const int32_t* in, size_t n, const Dyadic* mult, bool per_channel, int32_t zero_point,
                        DType out_type, void* out) {
  if (!per_channel && mult[0].s >= 31 && mult[0].m != INT32_MIN) {
    const int k = mult[0].s - 31;
    Fused f;
    f.m = _mm512_set1_epi64(static_cast<uint32_t>(mult[0].m));  // vpmuldq reads the low dword
    f.c2 = _mm512_set1_epi64(k == 0 ? 0 : int64_t(1) << (30 + k));
    f.c = _mm512_set1_epi64((int64_t(1) << 30) + (k == 0 ? 0 : int64_t(1) << (30 + k)));
    f.b31 = _mm512_set1_epi64(int64_t(1) << 31);
    f.sh_even = _mm_cvtsi32_si128(31 + k);
    f.sh_odd = _mm_cvtsi32_si128(k == 0 ? 0 : k - 1);
    f.hidx = _mm512_setr_epi32(1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
    if (k == 0) run(in, n, zero_point, out_type, out, [&](__m512i x, size_t) { return fused16<true>(x, f); });
    else run(in, n, zero_point, out_type, out, [&](__m512i x, size_t) { return fused16<false>(x, f); });
    return;
  }
  const __m512i c31 = _mm512_set1_epi32(31), zero = _mm512_setzero_si512();
  if (!per_channel) {
    const __m512i m = _mm512_set1_epi32(mult[0].m), s = _mm512_set1_epi32(mult[0].s);
    const __m512i l = _mm512_max_epi32(_mm512_sub_epi32(c31, s), zero), k = _mm512_max_epi32(_mm512_sub_epi32(s, c31), zero);
    run(in, n, zero_point, out_type, out, [&](__m512i x, size_t) { return mul_dyadic16(x, m, l, k); });
    return;
  }
  const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  run(in, n, zero_point, out_type, out, [&](__m512i x, size_t j) {
    const size_t left = n - j;
    const __mmask8 m0 = left >= 8 ? __mmask8(0xff) : __mmask8((1u << left) - 1);
    const __mmask8 m1 = left >= 16 ? __mmask8(0xff) : left > 8 ? __mmask8((1u << (left - 8)) - 1) : __mmask8(0);
    const __m512i d0 = _mm512_maskz_loadu_epi64(m0, mult + j);
    const __m512i d1 = _mm512_maskz_loadu_epi64(m1, mult + j + 8);
    const __m512i mm = _mm512_permutex2var_epi32(d0, ev, d1);
    const __m512i ss = _mm512_permutex2var_epi32(d0, od, d1);
    const __m512i l = _mm512_max_epi32(_mm512_sub_epi32(c31, ss), zero);
    const __m512i k = _mm512_max_epi32(_mm512_sub_epi32(ss, c31), zero);
    return mul_dyadic16(x, mm, l, k);
  });
}

}  // namespace bitflash
