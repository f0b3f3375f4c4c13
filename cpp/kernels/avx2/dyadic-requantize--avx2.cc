// Requantize int32 -> i8/u8/i16 with AVX2, bit-exact with requantize__ref (8 lanes per step, the
// tail through the same scalar building blocks).
#include "bitflash/dyadic-avx2-inl.h"

namespace bitflash {

using namespace dyadic_avx2;

namespace {
// Uniform multiplier with s >= 32 and m != INT32_MIN, i8/u8 output: SRDHM and the rounding shift by
// k = s - 31 >= 1 fused as in requantize__avx512: with p = x m + 2^30, y = floor(t / 2^(31+k)),
// t = p + 2^(30+k) - 2^31 [p < 0] (|t| < 2^63). AVX2 has no 64-bit arithmetic shift, but y is the
// high dword of t shifted right by k - 1 (floor((hi 2^32 + lo) / 2^(31+k)) = hi >> (k-1): lo adds less
// than one unit of 2^(k-1)), so one 32-bit vpsrad on the gathered high dwords does it. 32 outputs a
// step through saturating packs: sat8(sat16(y) + zp) = sat8(y + zp) (|zp| <= 255 far inside int16).
template <bool U8>
void requant_fused(const int32_t* in, size_t n, Dyadic d, int32_t zp, void* out) {
  const int k = d.s - 31;
  const __m256i m = _mm256_set1_epi64x(static_cast<uint32_t>(d.m));
  const __m256i c2 = _mm256_set1_epi64x(int64_t(1) << (30 + k));
  const __m256i c = _mm256_set1_epi64x((int64_t(1) << 30) + (int64_t(1) << (30 + k)));
  const __m256i b31 = _mm256_set1_epi64x(int64_t(1) << 31);
  const __m128i sh = _mm_cvtsi32_si128(k - 1);
  const __m256i zp16 = _mm256_set1_epi16(static_cast<int16_t>(zp));
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  auto rule = [&](const int32_t* p) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    __m256i te = _mm256_add_epi64(_mm256_mul_epi32(x, m), c);
    __m256i to = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), m), c);
    te = _mm256_sub_epi64(te, _mm256_and_si256(_mm256_cmpgt_epi64(c2, te), b31));  // p < 0: te < 2^(30+k)
    to = _mm256_sub_epi64(to, _mm256_and_si256(_mm256_cmpgt_epi64(c2, to), b31));
    return _mm256_sra_epi32(_mm256_blend_epi32(_mm256_srli_epi64(te, 32), to, 0xAA), sh);
  };
  auto* o = static_cast<uint8_t*>(out);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i ab = _mm256_adds_epi16(_mm256_packs_epi32(rule(in + i), rule(in + i + 8)), zp16);
    const __m256i cd = _mm256_adds_epi16(_mm256_packs_epi32(rule(in + i + 16), rule(in + i + 24)), zp16);
    const __m256i r = U8 ? _mm256_packus_epi16(ab, cd) : _mm256_packs_epi16(ab, cd);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + i), _mm256_permutevar8x32_epi32(r, perm));
  }
  const int32_t lo = U8 ? 0 : -128, hi = U8 ? 255 : 127;
  for (; i < n; i++) {
    const int32_t v = dyadic_detail::clamp_i32(static_cast<int64_t>(dyadic_detail::mul_dyadic(in[i], d)) + zp, lo, hi);
    o[i] = static_cast<uint8_t>(v);
  }
}
}  // namespace

void requantize__avx2(const int32_t* in, size_t n, const Dyadic* mult, bool per_channel, int32_t zero_point,
                      DType out_type, void* out) {
  if (!per_channel && mult[0].s >= 32 && mult[0].m != INT32_MIN && out_type != DType::i16) {
    if (out_type == DType::u8) requant_fused<true>(in, n, mult[0], zero_point, out);
    else requant_fused<false>(in, n, mult[0], zero_point, out);
    return;
  }
  int32_t lo = -128, hi = 127;
  if (out_type == DType::u8) lo = 0, hi = 255;
  if (out_type == DType::i16) lo = -32768, hi = 32767;
  const __m256i vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi), vzp = _mm256_set1_epi32(zero_point);
  const MultU bc = multu_from(mult[0]);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i));
    const __m256i v = per_channel ? requant8(x, mult8_from(mult + i), vzp, vlo, vhi) : requant8(x, bc, vzp, vlo, vhi);
    switch (out_type) {
      case DType::u8: store8_u8(static_cast<uint8_t*>(out) + i, v); break;
      case DType::i16: store8_i16(static_cast<int16_t*>(out) + i, v); break;
      default: store8_i8(static_cast<int8_t*>(out) + i, v); break;
    }
  }
  // the tail: the scalar reference on the elements left
  if (i < n)
    requantize__ref(in + i, n - i, per_channel ? mult + i : mult, per_channel, zero_point, out_type,
                    static_cast<uint8_t*>(out) + i * (out_type == DType::i16 ? 2 : 1));
}

}  // namespace bitflash
