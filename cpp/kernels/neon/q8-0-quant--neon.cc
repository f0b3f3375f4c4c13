// q8_0 quantize / dequantize, armv8-a Advanced SIMD. Bit-exact with q8_0_quant__ref: the scale is the same
// f32 division and reciprocal, roundf is fcvtas (ties away from zero), d is stored by the same f32 -> f16
// rounding (fcvt, the same bits as f32_to_fp16).
#include <arm_neon.h>

#include <cmath>

#include "bitflash/quant.h"
#include "quant-neon-inl.h"

namespace bitflash {

void q8_0_quant__neon(const float* x, block_q8_0* y, size_t nb) {
  for (size_t i = 0; i < nb; i++) {
    const float* xb = x + i * QK8_0;
    const float d = neon_quant::amax32(xb) / 127.0f;
    const float id = d != 0.0f && std::isfinite(1.0f / d) ? 1.0f / d : 0.0f;  // as the reference: 1/d overflow -> zero codes
    y[i].d = neon_quant::f2h(d);
    neon_quant::round32(xb, id, y[i].qs);
  }
}

void q8_0_dequant__neon(const block_q8_0* x, float* y, size_t nb) {
  for (size_t i = 0; i < nb; i++) {
    const float d = neon_quant::h2f(x[i].d);
    float* o = y + i * QK8_0;
    for (int h = 0; h < 2; h++) {
      const int8x16_t q = vld1q_s8(x[i].qs + 16 * h);
      const int16x8_t lo = vmovl_s8(vget_low_s8(q)), hi = vmovl_high_s8(q);
      vst1q_f32(o + 16 * h, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), d));
      vst1q_f32(o + 16 * h + 4, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(lo)), d));
      vst1q_f32(o + 16 * h + 8, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), d));
      vst1q_f32(o + 16 * h + 12, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(hi)), d));
    }
  }
}

}  // namespace bitflash
