// q4_0 quantization, armv8-a Advanced SIMD, bit-exact with q4_0_quant__ref: the same "first largest |x|"
// choice (the first 4-lane group with a lane equal to the maximum, then its first such lane), the same f32
// division and reciprocal, x*id + 8.5f as two separate f32 roundings, truncated (fcvtzs) and clamped to 15.
#include <arm_neon.h>

#include <cmath>

#include "bitflash/quant.h"
#include "quant-neon-inl.h"

namespace bitflash {

void q4_0_quant__neon(const float* x, block_q4_0* y, size_t nb) {
  for (size_t i = 0; i < nb; i++) {
    const float* xb = x + i * QK4_0;
    const float amax = neon_quant::amax32(xb);
    float max = 0.0f;
    if (amax > 0.0f) {
      const float32x4_t am = vdupq_n_f32(amax);
      for (int j = 0; j < QK4_0; j += 4) {
        if (vmaxvq_u32(vceqq_f32(vabsq_f32(vld1q_f32(xb + j)), am)) != 0) {
          int l = 0;
          while (std::fabs(xb[j + l]) != amax) l++;
          max = xb[j + l];
          break;
        }
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f && std::isfinite(1.0f / d) ? 1.0f / d : 0.0f;  // as the reference: 1/d overflow -> zero codes
    y[i].d = neon_quant::f2h(d);
    uint8x8_t q8[4];
    for (int j = 0; j < 4; j++) {
      int32x4_t q[2];
      for (int h = 0; h < 2; h++) {
        float32x4_t p = vmulq_n_f32(vld1q_f32(xb + 8 * j + 4 * h), id);
        __asm__("" : "+w"(p));  // two roundings, never one fmla (whatever -ffp-contract says)
        const float32x4_t t = vaddq_f32(p, vdupq_n_f32(8.5f));
        q[h] = vminq_s32(vcvtq_s32_f32(t), vdupq_n_s32(15));
      }
      q8[j] = vreinterpret_u8_s8(vmovn_s16(vcombine_s16(vmovn_s32(q[0]), vmovn_s32(q[1]))));
    }
    // elements 0..15 in the low nibbles, 16..31 in the high ones
    const uint8x16_t lo = vcombine_u8(q8[0], q8[1]), hi = vcombine_u8(q8[2], q8[3]);
    vst1q_u8(y[i].qs, vorrq_u8(lo, vshlq_n_u8(hi, 4)));
  }
}

}  // namespace bitflash
