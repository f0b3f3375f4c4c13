// Roofline int8 probe, armv8.2-a + dotprod: sdot chains (1 sdot = 16 int8 MACs into int32 lanes).
#include <arm_neon.h>

#include "../neon/roofline-s32-chains-inl.h"
#include "bitflash/roofline.h"

namespace bitflash {

double i8_peak__dotprod(uint64_t iters, int64_t* sink) {
  return i8_peak_s32_chains(iters, sink, 16.0, [](int32x4_t a, int8x16_t w, int8x16_t x) { return vdotq_s32(a, w, x); });
}

}  // namespace bitflash
