// Shared helpers of the armv8-a quantizers (q8_0, q8t and the matmul activations): absmax with fmaxnm
// (a NaN never becomes the maximum, like the references' `a > amax` comparison) and the roundf
// quantization of 32 floats by fcvtas (round to nearest, ties away from zero, then the exact conversion).
#pragma once
#include <arm_neon.h>

#include <cstdint>

namespace bitflash {
namespace neon_quant {

// f32 -> f16 by the FPU (fcvt with the default round-to-nearest-even mode: the same bits as f32_to_fp16,
// overflow to inf and subnormals included) and back (exact).
inline uint16_t f2h(float f) {
  const __fp16 v = static_cast<__fp16>(f);
  uint16_t h;
  __builtin_memcpy(&h, &v, 2);
  return h;
}
inline float h2f(uint16_t h) {
  __fp16 v;
  __builtin_memcpy(&v, &h, 2);
  return static_cast<float>(v);
}

inline float amax32(const float* x) {
  float32x4_t m = vabsq_f32(vld1q_f32(x));
  for (int j = 4; j < 32; j += 4) m = vmaxnmq_f32(m, vabsq_f32(vld1q_f32(x + j)));
  return vmaxnmvq_f32(m);
}

// q[j] = (int8) roundf(x[j] * id) for 32 values (|x * id| <= 127 by construction); returns their sum.
inline int32_t round32(const float* x, float id, int8_t* q) {
  int32x4_t sum = vdupq_n_s32(0);
  for (int h = 0; h < 2; h++) {
    int32x4_t iv[4];
    for (int j = 0; j < 4; j++) {
      iv[j] = vcvtaq_s32_f32(vmulq_n_f32(vld1q_f32(x + 16 * h + 4 * j), id));
      sum = vaddq_s32(sum, iv[j]);
    }
    const int16x8_t a = vcombine_s16(vqmovn_s32(iv[0]), vqmovn_s32(iv[1]));
    const int16x8_t c = vcombine_s16(vqmovn_s32(iv[2]), vqmovn_s32(iv[3]));
    vst1q_s8(q + 16 * h, vcombine_s8(vqmovn_s16(a), vqmovn_s16(c)));
  }
  return vaddvq_s32(sum);
}

}  // namespace neon_quant
}  // namespace bitflash
