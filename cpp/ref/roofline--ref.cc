// Scalar references for the roofline probes (used when no SIMD path is enabled).
#include "bitflash/roofline.h"

namespace bitflash {

uint64_t read_sum__ref(const uint8_t* p, size_t bytes) {
  const uint64_t* q = reinterpret_cast<const uint64_t*>(p);
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = 0; i + 4 <= bytes / 8; i += 4) {
    s0 += q[i];
    s1 += q[i + 1];
    s2 += q[i + 2];
    s3 += q[i + 3];
  }
  return s0 + s1 + s2 + s3;
}

double i8_peak__ref(uint64_t iters, int64_t* sink) {
  uint32_t a[8] = {0, 1, 2, 3, 4, 5, 6, 7};  // unsigned: wraps instead of overflowing on long runs
  int8_t w = 3, x = 1;
  for (uint64_t i = 0; i < iters; i++) {
    for (int c = 0; c < 8; c++) a[c] += static_cast<uint32_t>(w * x);
    __asm__ volatile("" : "+r"(w), "+r"(x));
  }
  int64_t s = 0;
  for (int c = 0; c < 8; c++) s += a[c];
  *sink = s;
  return 2.0 * 8 * static_cast<double>(iters);
}

double f32_peak__ref(uint64_t iters, int64_t* sink) {
  float a[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  float w = 1.0001f, x = 0.999f;
  for (uint64_t i = 0; i < iters; i++) {
    for (int c = 0; c < 8; c++) a[c] = a[c] + w * x;
    __asm__ volatile("" : "+x"(w), "+x"(x));
  }
  float s = 0;
  for (int c = 0; c < 8; c++) s += a[c];
  *sink = static_cast<int64_t>(s);
  return 2.0 * 8 * static_cast<double>(iters);
}

}  // namespace bitflash
