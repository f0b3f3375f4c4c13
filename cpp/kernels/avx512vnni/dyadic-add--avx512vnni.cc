// Add with rescale on AVX-512 (F/BW under Isa::avx512vnni), bit-exact with add_rescale__ref: each
// input's rescaled term mul_dyadic((x - zp) << 20, mult) takes only 256 values, tabulated by add_prepare
// with the scalar core (p.ta, p.tb) and gathered 16 lanes at a time; the sum then goes through one
// dyadic multiply by the rule (SRDHM, rounding right shift or saturating left shift), + zero point, clamp.
#include <immintrin.h>

#include "bitflash/dyadic.h"

namespace bitflash {
// The general 16-lane path (any y_mult), defined below.
static void add_general(const int8_t* a, const int8_t* b, size_t n, const AddParams& p, int8_t* y);
namespace {
#include "dyadic-avx512-inl.h"  // srdhm16, mul_dyadic16
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

// The fused uniform rule of requantize__avx512 (s >= 31, m != INT32_MIN): with p = x m + 2^30 and
// k = s - 31, y = floor((p + 2^(30+k) - 2^31 [p < 0]) / 2^(31+k)) (k >= 1), p >> 31 (k = 0): the same
// integer as SRDHM then RDBPOT.
struct Fused {
  __m512i m, c, c2, b31;
  __m128i sh_even, sh_odd;
};
inline Fused fused_from(Dyadic d) {
  const int k = d.s - 31;
  Fused f;
  f.m = _mm512_set1_epi64(static_cast<uint32_t>(d.m));
  f.c2 = _mm512_set1_epi64(k == 0 ? INT64_MIN : int64_t(1) << (30 + k));
  f.c = _mm512_set1_epi64((int64_t(1) << 30) + (k == 0 ? 0 : int64_t(1) << (30 + k)));
  f.b31 = _mm512_set1_epi64(int64_t(1) << 31);
  f.sh_even = _mm_cvtsi32_si128(31 + k);
  f.sh_odd = _mm_cvtsi32_si128(k == 0 ? 0 : k - 1);
  return f;
}
template <bool K0>
inline __m512i fused16(__m512i x, const Fused& f) {
  const __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(x, f.m), f.c);
  const __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), f.m), f.c);
  if (K0) return _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
  const __m512i te = _mm512_mask_sub_epi64(pe, _mm512_cmplt_epi64_mask(pe, f.c2), pe, f.b31);
  const __m512i to = _mm512_mask_sub_epi64(po, _mm512_cmplt_epi64_mask(po, f.c2), po, f.b31);
  return _mm512_mask_blend_epi32(0xAAAA, _mm512_sra_epi64(te, f.sh_even), _mm512_sra_epi64(to, f.sh_odd));
}
template <bool K0>
void add_fused(const int8_t* a, const int8_t* b, size_t n, const AddParams& p, int8_t* y) {
  const Fused f = fused_from(p.y_mult);
  const __m512i zp16 = _mm512_set1_epi16(static_cast<int16_t>(p.y_zp));
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  auto term = [&](size_t i) {
    const __m512i ia = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
    const __m512i ib = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    return fused16<K0>(_mm512_add_epi32(_mm512_i32gather_epi32(ia, p.ta, 4), _mm512_i32gather_epi32(ib, p.tb, 4)), f);
  };
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512i v0 = term(i), v1 = term(i + 16), v2 = term(i + 32), v3 = term(i + 48);
    // sat8(sat16(v) + zp) = sat8(v + zp): |zp| <= 128 is far inside int16
    const __m512i ab = _mm512_adds_epi16(_mm512_packs_epi32(v0, v1), zp16);
    const __m512i cd = _mm512_adds_epi16(_mm512_packs_epi32(v2, v3), zp16);
    _mm512_storeu_si512(y + i, _mm512_permutexvar_epi32(idx, _mm512_packs_epi16(ab, cd)));
  }
  if (i < n) add_general(a + i, b + i, n - i, p, y + i);
}
}  // namespace

static void add_general(const int8_t* a, const int8_t* b, size_t n, const AddParams& p, int8_t* y) {
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

// A symmetric pair table (AddParams::yab_symmetric: y(a, b) = y(b, a)) read at max * 256 + min of the
// input bytes (uint8) only: its lower half, about 40 KiB of lines instead of 64, stays in a 48 KiB L1
// where the whole table does not. 64 outputs a step; the byte gathered is the low byte of each dword.
static size_t add_half(const int8_t* a, const int8_t* b, size_t n, const int8_t* tab, int8_t* y) {
  const __m512i ff = _mm512_set1_epi32(0xff);
  const __m512i pidx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  auto look = [&](__m128i h, __m128i l) {
    const __m512i ix = _mm512_or_si512(_mm512_slli_epi32(_mm512_cvtepu8_epi32(h), 8), _mm512_cvtepu8_epi32(l));
    return _mm512_and_si512(_mm512_i32gather_epi32(ix, tab, 1), ff);
  };
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512i va = _mm512_loadu_si512(a + i), vb = _mm512_loadu_si512(b + i);
    const __m512i h = _mm512_max_epu8(va, vb), l = _mm512_min_epu8(va, vb);
    const __m512i g0 = look(_mm512_extracti32x4_epi32(h, 0), _mm512_extracti32x4_epi32(l, 0));
    const __m512i g1 = look(_mm512_extracti32x4_epi32(h, 1), _mm512_extracti32x4_epi32(l, 1));
    const __m512i g2 = look(_mm512_extracti32x4_epi32(h, 2), _mm512_extracti32x4_epi32(l, 2));
    const __m512i g3 = look(_mm512_extracti32x4_epi32(h, 3), _mm512_extracti32x4_epi32(l, 3));
    // values 0..255 (the low bytes): the unsigned packs keep them; then the lane order is fixed
    const __m512i r = _mm512_packus_epi16(_mm512_packus_epi32(g0, g1), _mm512_packus_epi32(g2, g3));
    _mm512_storeu_si512(y + i, _mm512_permutexvar_epi32(pidx, r));
  }
  return i;
}

void add_rescale__avx512(const int8_t* a, const int8_t* b, size_t n, const AddParams& p, int8_t* y) {
  if (p.yab) {  // the pair table: index a * 256 + b (as bytes), a dword gather at byte scale, low byte kept
    const int8_t* tab = p.yab.get();
    size_t i = p.yab_symmetric ? add_half(a, b, n, tab, y) : 0;
    for (; i < n; i += 16) {
      const size_t left = n - i;
      const __mmask16 m = left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
      const __m512i ia = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, a + i));
      const __m512i ib = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, b + i));
      const __m512i v = _mm512_i32gather_epi32(_mm512_or_si512(_mm512_slli_epi32(ia, 8), ib), tab, 1);
      _mm_mask_storeu_epi8(y + i, m, _mm512_cvtepi32_epi8(v));
    }
    return;
  }
  if (p.y_mult.s >= 31 && p.y_mult.m != INT32_MIN) {
    if (p.y_mult.s == 31) add_fused<true>(a, b, n, p, y);
    else add_fused<false>(a, b, n, p, y);
    return;
  }
  add_general(a, b, n, p, y);
}

}  // namespace bitflash
