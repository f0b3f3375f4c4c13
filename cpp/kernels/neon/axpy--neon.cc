// The flash FFN's per-neuron axpy, armv8-a Advanced SIMD: the same fmaf(c * d_b, q_j, y_j) per element
// as the reference (bitflash/axpy.h; vfmaq_f32 is one fused multiply-add), four lanes at a time.
#include <arm_neon.h>

#include "bitflash/axpy.h"

namespace bitflash {

namespace {
// y[0..7] = fma(d, f32(q[0..7]), y[0..7]) for eight int16 values
inline void fma8(float32x4_t d, int16x8_t q, float* y) {
  const float32x4_t lo = vcvtq_f32_s32(vmovl_s16(vget_low_s16(q)));
  const float32x4_t hi = vcvtq_f32_s32(vmovl_s16(vget_high_s16(q)));
  vst1q_f32(y, vfmaq_f32(vld1q_f32(y), d, lo));
  vst1q_f32(y + 4, vfmaq_f32(vld1q_f32(y + 4), d, hi));
}
}  // namespace

void axpy_q4_0__neon(const block_q4_0* b, size_t nb, float c, float* y) {
  const uint8x16_t m4 = vdupq_n_u8(15);
  const int8x16_t eight = vdupq_n_s8(8);
  for (size_t i = 0; i < nb; i++, y += 32) {
    const float32x4_t d = vdupq_n_f32(c * fp16_to_f32(b[i].d));
    const uint8x16_t q = vld1q_u8(b[i].qs);
    const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, m4)), eight);  // elements 0..15
    const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight);  // elements 16..31
    fma8(d, vmovl_s8(vget_low_s8(lo)), y);
    fma8(d, vmovl_s8(vget_high_s8(lo)), y + 8);
    fma8(d, vmovl_s8(vget_low_s8(hi)), y + 16);
    fma8(d, vmovl_s8(vget_high_s8(hi)), y + 24);
  }
}

void axpy_q8_0__neon(const block_q8_0* b, size_t nb, float c, float* y) {
  for (size_t i = 0; i < nb; i++, y += 32) {
    const float32x4_t d = vdupq_n_f32(c * fp16_to_f32(b[i].d));
    const int8x16_t q0 = vld1q_s8(b[i].qs), q1 = vld1q_s8(b[i].qs + 16);
    fma8(d, vmovl_s8(vget_low_s8(q0)), y);
    fma8(d, vmovl_s8(vget_high_s8(q0)), y + 8);
    fma8(d, vmovl_s8(vget_low_s8(q1)), y + 16);
    fma8(d, vmovl_s8(vget_high_s8(q1)), y + 24);
  }
}

}  // namespace bitflash
