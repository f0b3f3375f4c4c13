// Scalar references for float-weight matmul.
#include "bitflash/fmatmul.h"

namespace bitflash {

void f32_f32_matmul__ref(const void* w, size_t ws, size_t k, const float* x, size_t ldx, size_t m, float* y, size_t ldy, size_t n0, size_t n1) {
  for (size_t r = n0; r < n1; r++) {
    const float* wr = reinterpret_cast<const float*>(static_cast<const uint8_t*>(w) + r * ws);
    for (size_t i = 0; i < m; i++) {
      const float* xr = x + i * ldx;
      float s = 0.0f;
      for (size_t j = 0; j < k; j++) s += wr[j] * xr[j];
      y[i * ldy + r] = s;
    }
  }
}

void f16_f32_matmul__ref(const void* w, size_t ws, size_t k, const float* x, size_t ldx, size_t m, float* y, size_t ldy, size_t n0, size_t n1) {
  for (size_t r = n0; r < n1; r++) {
    const fp16_t* wr = reinterpret_cast<const fp16_t*>(static_cast<const uint8_t*>(w) + r * ws);
    for (size_t i = 0; i < m; i++) {
      const float* xr = x + i * ldx;
      float s = 0.0f;
      for (size_t j = 0; j < k; j++) s += fp16_to_f32(wr[j]) * xr[j];
      y[i * ldy + r] = s;
    }
  }
}

}  // namespace bitflash
