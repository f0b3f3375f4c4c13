// Scalar references (the spec) for the low-bit weight formats: q4_0 (llama.cpp's quantize_row_q4_0_ref
// rule), q4_K dequantization (dequantize_row_q4_K), and the per-row parts of i8c / i4g (onnxruntime's
// MLAS blockwise quantizer rule). Written from the published algorithms; see quant.h for each rule.
#include <cmath>

#include "bitflash/quant.h"

namespace bitflash {

void q4_0_quant__ref(const float* x, block_q4_0* y, size_t nb) {
  for (size_t i = 0; i < nb; i++) {
    const float* xb = x + i * QK4_0;
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK4_0; j++) {
      const float v = xb[j];
      if (amax < std::fabs(v)) {  // strict: the first of equal magnitudes wins
        amax = std::fabs(v);
        max = v;
      }
    }
    const float d = max / -8.0f;
    // |d| < 2^-128: 1 / d overflows and x * id is not a code (llama.cpp's reference converts it to int8,
    // undefined behaviour); its f16 d is 0 anyway, so the codes are defined as 8 (zero).
    const float id = d != 0.0f && std::isfinite(1.0f / d) ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    for (int j = 0; j < QK4_0 / 2; j++) {
      const float x0 = xb[j] * id, x1 = xb[QK4_0 / 2 + j] * id;
      int q0 = static_cast<int8_t>(x0 + 8.5f), q1 = static_cast<int8_t>(x1 + 8.5f);
      if (q0 > 15) q0 = 15;
      if (q1 > 15) q1 = 15;
      y[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void q4_0_dequant__ref(const block_q4_0* x, float* y, size_t nb) {
  for (size_t i = 0; i < nb; i++) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < QK4_0 / 2; j++) {
      y[i * QK4_0 + j] = static_cast<float>((x[i].qs[j] & 0x0f) - 8) * d;
      y[i * QK4_0 + j + QK4_0 / 2] = static_cast<float>((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

namespace {
// The 6-bit (scale, min) pair j (0..7) of a q4_K super-block.
inline void q4_K_scale_min(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}
}  // namespace

void q4_K_dequant__ref(const block_q4_K* x, float* y, size_t nb) {
  for (size_t i = 0; i < nb; i++) {
    const float d = fp16_to_f32(x[i].d), dmin = fp16_to_f32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    float* o = y + i * QK_K;
    int is = 0;
    for (int j = 0; j < QK_K; j += 64) {
      uint8_t sc, m;
      q4_K_scale_min(is, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      q4_K_scale_min(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; l++) *o++ = d1 * static_cast<float>(q[l] & 0x0f) - m1;
      for (int l = 0; l < 32; l++) *o++ = d2 * static_cast<float>(q[l] >> 4) - m2;
      q += 32;
      is += 2;
    }
  }
}

}  // namespace bitflash
