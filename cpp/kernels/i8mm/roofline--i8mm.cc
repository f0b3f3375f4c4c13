// Roofline int8 probe, armv8.6-a i8mm: smmla chains (1 smmla = a 2x8 by 8x2 int8 product, 32 MACs).
#include <arm_neon.h>

#include "../neon/roofline-s32-chains-inl.h"
#include "bitflash/roofline.h"

namespace bitflash {

double i8_peak__i8mm(uint64_t iters, int64_t* sink) {
  return i8_peak_s32_chains(iters, sink, 32.0, [](int32x4_t a, int8x16_t w, int8x16_t x) { return vmmlaq_s32(a, x, w); });
}

}  // namespace bitflash
