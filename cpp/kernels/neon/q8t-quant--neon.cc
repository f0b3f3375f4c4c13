// Ternary activation blocks (256 x int8, f32 scale, int32 sum), NEON. Bit-exact with q8t_quant__ref:
// the same f32 amax / 127 and reciprocal; fcvtas rounds half away from zero, as roundf.
#include <arm_neon.h>

#include "bitflash/ternary.h"

namespace bitflash {

void q8t_quant__neon(const float* x, size_t nblocks, block_q8_t* y) {
  for (size_t i = 0; i < nblocks; i++, x += QK_T) {
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int j = 0; j < QK_T; j += 4) m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + j)));
    const float amax = vmaxvq_f32(m);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int32x4_t sum = vdupq_n_s32(0);
    for (int j = 0; j < QK_T; j += 16) {
      const int32x4_t q0 = vcvtaq_s32_f32(vmulq_n_f32(vld1q_f32(x + j), id));
      const int32x4_t q1 = vcvtaq_s32_f32(vmulq_n_f32(vld1q_f32(x + j + 4), id));
      const int32x4_t q2 = vcvtaq_s32_f32(vmulq_n_f32(vld1q_f32(x + j + 8), id));
      const int32x4_t q3 = vcvtaq_s32_f32(vmulq_n_f32(vld1q_f32(x + j + 12), id));
      sum = vaddq_s32(sum, vaddq_s32(vaddq_s32(q0, q1), vaddq_s32(q2, q3)));
      const int16x8_t h0 = vcombine_s16(vmovn_s32(q0), vmovn_s32(q1));
      const int16x8_t h1 = vcombine_s16(vmovn_s32(q2), vmovn_s32(q3));
      vst1q_s8(y[i].qs + j, vcombine_s8(vmovn_s16(h0), vmovn_s16(h1)));
    }
    y[i].d = d;
    y[i].sum = vaddvq_s32(sum);
  }
}

}  // namespace bitflash
