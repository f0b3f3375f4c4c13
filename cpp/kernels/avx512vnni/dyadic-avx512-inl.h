// Internal to the AVX-512 dyadic kernels: the requantize rule of bitflash/dyadic.h on 16 int32 lanes.
// Include it inside the anonymous namespace of a file in cpp/kernels/avx512vnni, after <immintrin.h>
// (internal linkage: no AVX-512 copy of these can reach baseline code).
#pragma once

// SaturatingRoundingDoublingHighMul per lane (gemmlowp's rule; INT32_MIN * INT32_MIN saturates).
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
