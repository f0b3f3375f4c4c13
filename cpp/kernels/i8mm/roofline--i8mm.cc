// Roofline int8 probe, armv8.6-a i8mm: smmla chains (1 smmla = a 2x8 by 8x2 int8 product, 32 MACs).
#include <arm_neon.h>

#include "bitflash/roofline.h"

namespace bitflash {

double i8_peak__i8mm(uint64_t iters, int64_t* sink) {
  constexpr int C = 8;
  int8x16_t w = vdupq_n_s8(3), x[C];
  int32x4_t a[C];
  for (int c = 0; c < C; c++) {
    x[c] = vdupq_n_s8(static_cast<int8_t>(c + 1));
    a[c] = vdupq_n_s32(c);
  }
  for (uint64_t i = 0; i < iters; i++) {
    for (int c = 0; c < C; c++) a[c] = vmmlaq_s32(a[c], x[c], w);
    __asm__ volatile("" : "+w"(w));
  }
  for (int c = 1; c < C; c++) a[0] = vaddq_s32(a[0], a[c]);
  *sink = vgetq_lane_s32(a[0], 0);
  return 32.0 * 2 * C * static_cast<double>(iters);
}

}  // namespace bitflash
