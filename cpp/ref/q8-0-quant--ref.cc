// Scalar reference (the spec) for q8_0 quantization, following llama.cpp's published algorithm.
#include <cmath>

#include "bitflash/quant.h"

namespace bitflash {

void q8_0_quant__ref(const float* x, block_q8_0* y, size_t nb) {
  for (size_t i = 0; i < nb; i++) {
    const float* xb = x + i * QK8_0;
    float amax = 0.0f;
    for (int j = 0; j < QK8_0; j++) {
      const float a = std::fabs(xb[j]);
      if (a > amax) amax = a;
    }
    const float d = amax / 127.0f;
    // amax < 127 * 2^-128: 1 / d overflows to infinity and x * id is not a code (llama.cpp's reference
    // converts it to int8, undefined behaviour); its f16 d is 0 anyway, so the codes are defined as 0.
    const float id = d != 0.0f && std::isfinite(1.0f / d) ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    for (int j = 0; j < QK8_0; j++) y[i].qs[j] = static_cast<int8_t>(std::roundf(xb[j] * id));
  }
}

void q8_0_dequant__ref(const block_q8_0* x, float* y, size_t nb) {
  for (size_t i = 0; i < nb; i++) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < QK8_0; j++) y[i * QK8_0 + j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

}  // namespace bitflash
