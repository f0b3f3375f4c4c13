// AVX2 building blocks of the dyadic requantization (the rule at the top of bitflash/dyadic.h), for
// inclusion by AVX2 kernel files only (compile with -mavx2). Every function has internal linkage, so
// baseline code never links an AVX2 copy. Reusable as the epilogue of an int8 matmul kernel:
// requant8(acc, m, lsh, rsh) maps 8 int32 accumulators to int32 results before the zero point.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "bitflash/dyadic.h"

namespace bitflash {
namespace dyadic_avx2 {

// 8 lanes of SRDHM: floor((a*b + 2^30) / 2^31), INT32_MIN*INT32_MIN -> INT32_MAX.
static inline __m256i srdhm8(__m256i a, __m256i b) {
  const __m256i nudge = _mm256_set1_epi64x(int64_t(1) << 30);
  const __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(a, b), nudge);
  const __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(b, 32)), nudge);
  // bits 31..62 of each 64-bit sum: the low dword of pe >> 31, the high dword of po << 1
  const __m256i r = _mm256_blend_epi32(_mm256_srli_epi64(pe, 31), _mm256_slli_epi64(po, 1), 0xAA);
  const __m256i mn = _mm256_set1_epi32(INT32_MIN);
  const __m256i ov = _mm256_and_si256(_mm256_cmpeq_epi32(a, mn), _mm256_cmpeq_epi32(b, mn));
  return _mm256_blendv_epi8(r, _mm256_set1_epi32(INT32_MAX), ov);
}

// x / 2^k rounded, ties away from zero; k per lane in 0..31.
static inline __m256i rdbpot8(__m256i x, __m256i k) {
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, k), one);
  const __m256i rem = _mm256_and_si256(x, mask);
  const __m256i thr = _mm256_add_epi32(_mm256_srli_epi32(mask, 1), _mm256_srli_epi32(x, 31));
  return _mm256_sub_epi32(_mm256_srav_epi32(x, k), _mm256_cmpgt_epi32(rem, thr));
}
// Same with one k for all lanes (0..31).
static inline __m256i rdbpot8u(__m256i x, int k) {
  const __m256i mask = _mm256_set1_epi32(k == 0 ? 0 : static_cast<int32_t>(0xffffffffu >> (32 - k)));
  const __m256i rem = _mm256_and_si256(x, mask);
  const __m256i thr = _mm256_add_epi32(_mm256_srli_epi32(mask, 1), _mm256_srli_epi32(x, 31));
  return _mm256_sub_epi32(_mm256_srai_epi32(x, k), _mm256_cmpgt_epi32(rem, thr));
}

// x * 2^l saturated to int32; l per lane in 0..31.
static inline __m256i sat_shl8(__m256i x, __m256i l) {
  const __m256i y = _mm256_sllv_epi32(x, l);
  const __m256i ok = _mm256_cmpeq_epi32(_mm256_srav_epi32(y, l), x);
  const __m256i sat = _mm256_xor_si256(_mm256_set1_epi32(INT32_MAX), _mm256_srai_epi32(x, 31));
  return _mm256_blendv_epi8(sat, y, ok);
}

// Per-lane multiplier: m, left shift max(31 - s, 0), right shift max(s - 31, 0).
struct Mult8 {
  __m256i m, lsh, rsh;
};
static inline Mult8 mult8_from(const Dyadic* d) {  // 8 consecutive Dyadic {int32 m, int s}
  static_assert(sizeof(Dyadic) == 8, "Dyadic must be two 32-bit words");
  const __m256i idx = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  const __m256i v0 = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(d)), idx);
  const __m256i v1 = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(d + 4)), idx);
  const __m256i m = _mm256_permute2x128_si256(v0, v1, 0x20);
  const __m256i s = _mm256_permute2x128_si256(v0, v1, 0x31);
  const __m256i c31 = _mm256_set1_epi32(31);
  const __m256i zero = _mm256_setzero_si256();
  return {m, _mm256_max_epi32(_mm256_sub_epi32(c31, s), zero), _mm256_max_epi32(_mm256_sub_epi32(s, c31), zero)};
}
static inline Mult8 mult8_bcast(Dyadic d) {
  return {_mm256_set1_epi32(d.m), _mm256_set1_epi32(d.s < 31 ? 31 - d.s : 0), _mm256_set1_epi32(d.s > 31 ? d.s - 31 : 0)};
}
// x * m / 2^s by the rule (no zero point, no output clamp).
static inline __m256i mul_dyadic8(__m256i x, const Mult8& d) {
  return rdbpot8(srdhm8(sat_shl8(x, d.lsh), d.m), d.rsh);
}
// Uniform multiplier with s >= 31 (no left shift): the cheaper common case.
static inline __m256i mul_dyadic8_rs(__m256i x, __m256i m, int rsh) { return rdbpot8u(srdhm8(x, m), rsh); }

// The requantize epilogue: 8 int32 -> clamp(mul_dyadic + zp) as int32 in [lo, hi].
static inline __m256i requant8(__m256i acc, const Mult8& d, __m256i zp, __m256i lo, __m256i hi) {
  // |mul_dyadic| may be near 2^31: clamp before adding zp (|zp| < 2^15) so the add cannot wrap;
  // the output range is far inside the clamp, so the result equals the reference's 64-bit add.
  const __m256i big = _mm256_set1_epi32(1 << 24);
  __m256i v = _mm256_min_epi32(_mm256_max_epi32(mul_dyadic8(acc, d), _mm256_sub_epi32(_mm256_setzero_si256(), big)), big);
  v = _mm256_add_epi32(v, zp);
  return _mm256_min_epi32(_mm256_max_epi32(v, lo), hi);
}

// A uniform multiplier (one Dyadic for all lanes): uses immediate-count shifts and skips the left
// shift when s >= 31. Same results as mul_dyadic8 with mult8_bcast(d).
struct MultU {
  __m256i m;
  __m128i lsh;  // 31 - s when s < 31, else 0
  int rsh;      // s - 31 when s > 31, else 0
  bool left;
};
static inline MultU multu_from(Dyadic d) {
  return {_mm256_set1_epi32(d.m), _mm_cvtsi32_si128(d.s < 31 ? 31 - d.s : 0), d.s > 31 ? d.s - 31 : 0, d.s < 31};
}
static inline __m256i mul_dyadic8(__m256i x, const MultU& d) {
  if (d.left) {
    const __m256i y = _mm256_sll_epi32(x, d.lsh);
    const __m256i ok = _mm256_cmpeq_epi32(_mm256_sra_epi32(y, d.lsh), x);
    const __m256i sat = _mm256_xor_si256(_mm256_set1_epi32(INT32_MAX), _mm256_srai_epi32(x, 31));
    return srdhm8(_mm256_blendv_epi8(sat, y, ok), d.m);
  }
  return rdbpot8u(srdhm8(x, d.m), d.rsh);
}
static inline __m256i requant8(__m256i acc, const MultU& d, __m256i zp, __m256i lo, __m256i hi) {
  const __m256i big = _mm256_set1_epi32(1 << 24);
  __m256i v = _mm256_min_epi32(_mm256_max_epi32(mul_dyadic8(acc, d), _mm256_sub_epi32(_mm256_setzero_si256(), big)), big);
  v = _mm256_add_epi32(v, zp);
  return _mm256_min_epi32(_mm256_max_epi32(v, lo), hi);
}

// Stores 8 int32 already within the output range.
static inline void store8_i8(int8_t* y, __m256i v) {
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(y), _mm_packs_epi16(w, w));
}
static inline void store8_u8(uint8_t* y, __m256i v) {
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(y), _mm_packus_epi16(w, w));
}
static inline void store8_i16(int16_t* y, __m256i v) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(y),
                   _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
}
static inline __m256i load8_i8(const int8_t* x) {
  return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x)));
}

}  // namespace dyadic_avx2
}  // namespace bitflash
