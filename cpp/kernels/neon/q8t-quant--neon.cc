// Ternary activation blocks (256 x int8, f32 scale, int32 sum), armv8-a Advanced SIMD. Bit-exact with
// q8t_quant__ref: the same f32 amax / 127 and reciprocal; roundf is fcvtas (ties away from zero).
#include <arm_neon.h>

#include "bitflash/ternary.h"
#include "quant-neon-inl.h"

namespace bitflash {

void q8t_quant__neon(const float* x, size_t nblocks, block_q8_t* y) {
  for (size_t i = 0; i < nblocks; i++, x += QK_T) {
    float amax = 0.0f;
    for (int j = 0; j < QK_T; j += 32) {
      const float a = neon_quant::amax32(x + j);
      if (a > amax) amax = a;
    }
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int32_t sum = 0;
    for (int j = 0; j < QK_T; j += 32) sum += neon_quant::round32(x + j, id, y[i].qs + j);
    y[i].d = d;
    y[i].sum = sum;
  }
}

}  // namespace bitflash
