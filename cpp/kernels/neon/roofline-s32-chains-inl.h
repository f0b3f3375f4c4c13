// The int8 peak probe shared by the dotprod (sdot) and i8mm (smmla) roofline files, for inclusion by
// arm64 kernel files only: 8 independent chains of one instruction that accumulates int8x16 products
// into int32x4 lanes. Each including file is built with its own -march and passes its instruction as
// `op(acc, w, x)`; internal linkage, so no copy built for one ISA is linked in place of another's.
#pragma once
#include <arm_neon.h>

#include <cstdint>

namespace bitflash {
namespace {

// Runs `iters` rounds; returns the int8 ops done (2 per MAC, `macs` MACs per instruction).
template <class Op>
inline double i8_peak_s32_chains(uint64_t iters, int64_t* sink, double macs, Op op) {
  constexpr int C = 8;
  int8x16_t w = vdupq_n_s8(3), x[C];
  int32x4_t a[C];
  for (int c = 0; c < C; c++) {
    x[c] = vdupq_n_s8(static_cast<int8_t>(c + 1));
    a[c] = vdupq_n_s32(c);
  }
  for (uint64_t i = 0; i < iters; i++) {
    for (int c = 0; c < C; c++) a[c] = op(a[c], w, x[c]);
    __asm__ volatile("" : "+w"(w));
  }
  for (int c = 1; c < C; c++) a[0] = vaddq_s32(a[0], a[c]);
  *sink = vgetq_lane_s32(a[0], 0);
  return macs * 2 * C * static_cast<double>(iters);
}

}  // namespace
}  // namespace bitflash
