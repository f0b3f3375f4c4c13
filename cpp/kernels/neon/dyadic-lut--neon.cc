// int8 -> int8 table lookup with NEON (lut_i8__neon) and the i-GELU / ShiftGELU / SiLU kernels built
// on it. The 256-entry table sits in 16 q registers as four 64-byte tables; per 16 bytes one tbl (4
// registers) looks up indices 0..63 and three tbx look up x - 64, x - 128, x - 192 (wrapping u8): tbx
// leaves a byte unchanged when its index is >= 64, so each byte ends with tab[uint8(x)].
#include <arm_neon.h>

#include "bitflash/dyadic.h"

namespace bitflash {

void lut_i8__neon(const int8_t* x, size_t n, const int8_t* tab, int8_t* y) {
  const uint8_t* t = reinterpret_cast<const uint8_t*>(tab);
  const uint8x16x4_t t0 = vld1q_u8_x4(t), t1 = vld1q_u8_x4(t + 64), t2 = vld1q_u8_x4(t + 128), t3 = vld1q_u8_x4(t + 192);
  const uint8x16_t c64 = vdupq_n_u8(64);
  size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const uint8x16_t i0 = vld1q_u8(reinterpret_cast<const uint8_t*>(x + j));
    const uint8x16_t i1 = vsubq_u8(i0, c64), i2 = vsubq_u8(i1, c64), i3 = vsubq_u8(i2, c64);
    uint8x16_t r = vqtbl4q_u8(t0, i0);
    r = vqtbx4q_u8(r, t1, i1);
    r = vqtbx4q_u8(r, t2, i2);
    r = vqtbx4q_u8(r, t3, i3);
    vst1q_u8(reinterpret_cast<uint8_t*>(y + j), r);
  }
  for (; j < n; j++) y[j] = tab[static_cast<uint8_t>(x[j])];
}

void i_gelu__lut_neon(const int8_t* x, size_t n, const GeluParams& p, int8_t* y) { lut_i8__neon(x, n, p.lut, y); }
void sigmoid_mul__lut_neon(const int8_t* x, size_t n, const SigmoidMulParams& p, int8_t* y) { lut_i8__neon(x, n, p.lut, y); }

}  // namespace bitflash
