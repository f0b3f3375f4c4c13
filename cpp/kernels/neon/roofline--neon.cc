// Roofline probes, armv8-a Advanced SIMD: streaming 128-bit loads, smlal int8 chains, fmla fp32 chains.
#include <arm_neon.h>

#include "bitflash/roofline.h"

namespace bitflash {

uint64_t read_sum__neon(const uint8_t* p, size_t bytes) {
  const uint64_t* q = reinterpret_cast<const uint64_t*>(p);
  uint64x2_t s0 = vdupq_n_u64(0), s1 = s0, s2 = s0, s3 = s0;
  const size_t n = bytes / 16;
  for (size_t i = 0; i + 4 <= n; i += 4) {
    s0 = vaddq_u64(s0, vld1q_u64(q + 2 * i));
    s1 = vaddq_u64(s1, vld1q_u64(q + 2 * i + 2));
    s2 = vaddq_u64(s2, vld1q_u64(q + 2 * i + 4));
    s3 = vaddq_u64(s3, vld1q_u64(q + 2 * i + 6));
  }
  return vaddvq_u64(vaddq_u64(vaddq_u64(s0, s1), vaddq_u64(s2, s3)));
}

double i8_peak__neon(uint64_t iters, int64_t* sink) {
  // 8 chains with distinct activations; 1 smlal = 8 int8 MACs into int16 lanes (wrapping is harmless here).
  constexpr int C = 8;
  int8x8_t w = vdup_n_s8(3), x[C];
  int16x8_t a[C];
  for (int c = 0; c < C; c++) {
    x[c] = vdup_n_s8(static_cast<int8_t>(c + 1));
    a[c] = vdupq_n_s16(static_cast<int16_t>(c));
  }
  for (uint64_t i = 0; i < iters; i++) {
    for (int c = 0; c < C; c++) a[c] = vmlal_s8(a[c], w, x[c]);
    __asm__ volatile("" : "+w"(w));
  }
  for (int c = 1; c < C; c++) a[0] = vaddq_s16(a[0], a[c]);
  *sink = vgetq_lane_s16(a[0], 0);
  return 8.0 * 2 * C * static_cast<double>(iters);
}

double f32_peak__neon(uint64_t iters, int64_t* sink) {
  constexpr int C = 10;
  float32x4_t w = vdupq_n_f32(1.0001f), x = vdupq_n_f32(0.999f), a[C];
  for (int c = 0; c < C; c++) a[c] = vdupq_n_f32(static_cast<float>(c));
  for (uint64_t i = 0; i < iters; i++) {
    for (int c = 0; c < C; c++) a[c] = vfmaq_f32(a[c], w, x);
    __asm__ volatile("" : "+w"(w), "+w"(x));
  }
  for (int c = 1; c < C; c++) a[0] = vaddq_f32(a[0], a[c]);
  *sink = static_cast<int64_t>(vgetq_lane_f32(a[0], 0));
  return 4.0 * 2 * C * static_cast<double>(iters);
}

}  // namespace bitflash
