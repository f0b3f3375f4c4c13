// The flash FFN's per-neuron axpy: the scalar references (the spec, bitflash/axpy.h).
#include <cmath>

#include "bitflash/axpy.h"

namespace bitflash {

void axpy_q4_0__ref(const block_q4_0* b, size_t nb, float c, float* y) {
  for (size_t i = 0; i < nb; i++, y += 32) {
    const float d = c * fp16_to_f32(b[i].d);
    for (int j = 0; j < 16; j++) {
      y[j] = std::fmaf(d, static_cast<float>((b[i].qs[j] & 15) - 8), y[j]);
      y[j + 16] = std::fmaf(d, static_cast<float>((b[i].qs[j] >> 4) - 8), y[j + 16]);
    }
  }
}

void axpy_q8_0__ref(const block_q8_0* b, size_t nb, float c, float* y) {
  for (size_t i = 0; i < nb; i++, y += 32) {
    const float d = c * fp16_to_f32(b[i].d);
    for (int j = 0; j < 32; j++) y[j] = std::fmaf(d, static_cast<float>(b[i].qs[j]), y[j]);
  }
}

}  // namespace bitflash
