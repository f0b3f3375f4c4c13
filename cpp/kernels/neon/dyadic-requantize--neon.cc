// Requantize int32 -> i8/u8/i16 with NEON (armv8-a), bit-exact with requantize__ref: sqshl, sqrdmulh
// and a sign-fixed srshl (bitflash/dyadic-neon-inl.h says why each equals the rule), 16 lanes a step,
// the tail through the scalar building blocks. A uniform multiplier drops the left shift (s >= 31)
// or the rounding shift (s <= 31) it does not need. i8/u8: the zero point is added after the first
// saturating narrow (sat8(sat16(y) + zp) = sat8(y + zp) since |zp| <= 255 lies far inside int16).
#include "bitflash/dyadic-neon-inl.h"

namespace bitflash {

using namespace dyadic_neon;

namespace {

template <class F>
void requant_loop(const int32_t* in, size_t n, int32_t zp, DType out_type, void* out, size_t* done, F mul4) {
  size_t i = 0;
  if (out_type == DType::i16) {
    const int32x4_t vzp = vdupq_n_s32(zp);
    auto* o = static_cast<int16_t*>(out);
    for (; i + 8 <= n; i += 8) {
      const int32x4_t a = vqaddq_s32(mul4(vld1q_s32(in + i), i), vzp);
      const int32x4_t b = vqaddq_s32(mul4(vld1q_s32(in + i + 4), i + 4), vzp);
      vst1q_s16(o + i, vcombine_s16(vqmovn_s32(a), vqmovn_s32(b)));
    }
  } else {
    const int16x8_t zp16 = vdupq_n_s16(static_cast<int16_t>(zp));
    const bool u8 = out_type == DType::u8;
    auto* o = static_cast<uint8_t*>(out);
    for (; i + 16 <= n; i += 16) {
      const int16x8_t ab = vqaddq_s16(
          vcombine_s16(vqmovn_s32(mul4(vld1q_s32(in + i), i)), vqmovn_s32(mul4(vld1q_s32(in + i + 4), i + 4))), zp16);
      const int16x8_t cd = vqaddq_s16(
          vcombine_s16(vqmovn_s32(mul4(vld1q_s32(in + i + 8), i + 8)), vqmovn_s32(mul4(vld1q_s32(in + i + 12), i + 12))),
          zp16);
      if (u8) vst1q_u8(o + i, vcombine_u8(vqmovun_s16(ab), vqmovun_s16(cd)));
      else vst1q_s8(reinterpret_cast<int8_t*>(o + i), vcombine_s8(vqmovn_s16(ab), vqmovn_s16(cd)));
    }
  }
  *done = i;
}

template <bool L, bool R>
void requant_uniform(const int32_t* in, size_t n, Dyadic d, int32_t zp, DType out_type, void* out, size_t* done) {
  const Mult4 m = mult4_bcast(d);
  requant_loop(in, n, zp, out_type, out, done, [&](int32x4_t x, size_t) { return mul_dyadic4<L, R>(x, m); });
}

}  // namespace

void requantize__neon(const int32_t* in, size_t n, const Dyadic* mult, bool per_channel, int32_t zero_point,
                      DType out_type, void* out) {
  size_t i = 0;
  if (per_channel) {
    requant_loop(in, n, zero_point, out_type, out, &i,
                 [&](int32x4_t x, size_t j) { return mul_dyadic4(x, mult4_from(mult + j)); });
  } else {
    const Dyadic d = mult[0];
    if (d.s < 31) requant_uniform<true, false>(in, n, d, zero_point, out_type, out, &i);
    else if (d.s == 31) requant_uniform<false, false>(in, n, d, zero_point, out_type, out, &i);
    else requant_uniform<false, true>(in, n, d, zero_point, out_type, out, &i);
  }
  // the tail: the scalar reference on the elements left
  if (i < n)
    requantize__ref(in + i, n - i, per_channel ? mult + i : mult, per_channel, zero_point, out_type,
                    static_cast<uint8_t*>(out) + i * (out_type == DType::i16 ? 2 : 1));
}

}  // namespace bitflash
