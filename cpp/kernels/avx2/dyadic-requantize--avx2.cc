// Requantize int32 -> i8/u8/i16 with AVX2, bit-exact with requantize__ref (8 lanes per step, the
// tail through the same scalar building blocks).
#include "bitflash/dyadic-avx2-inl.h"

namespace bitflash {

using namespace dyadic_avx2;

void requantize__avx2(const int32_t* in, size_t n, const Dyadic* mult, bool per_channel, int32_t zero_point,
                      DType out_type, void* out) {
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
  for (; i < n; i++) {
    const Dyadic d = per_channel ? mult[i] : mult[0];
    const int32_t v = dyadic_detail::clamp_i32(static_cast<int64_t>(dyadic_detail::mul_dyadic(in[i], d)) + zero_point, lo, hi);
    switch (out_type) {
      case DType::u8: static_cast<uint8_t*>(out)[i] = static_cast<uint8_t>(v); break;
      case DType::i16: static_cast<int16_t*>(out)[i] = static_cast<int16_t>(v); break;
      default: static_cast<int8_t*>(out)[i] = static_cast<int8_t>(v); break;
    }
  }
}

}  // namespace bitflash
