// Roofline int8 probe, armv8.2-a + dotprod: sdot chains (1 sdot = 16 int8 MACs into int32 lanes).
#include <arm_neon.h>

#include "bitflash/roofline.h"

namespace bitflash {

double i8_peak__dotprod(uint64_t iters, int64_t* sink) {
  constexpr int C = 8;
  int8x16_t w = vdupq_n_s8(3), x[C];
  int32x4_t a[C];
  for (int c = 0; c < C; c++) {
    x[c] = vdupq_n_s8(static_cast<int8_t>(c + 1));
    a[c] = vdupq_n_s32(c);
  }
  for (uint64_t i = 0; i < iters; i++) {
    for (int c = 0; c < C; c++) a[c] = vdotq_s32(a[c], w, x[c]);
    __asm__ volatile("" : "+w"(w));
  }
  for (int c = 1; c < C; c++) a[0] = vaddq_s32(a[0], a[c]);
  *sink = vgetq_lane_s32(a[0], 0);
  return 16.0 * 2 * C * static_cast<double>(iters);
}

}  // namespace bitflash
