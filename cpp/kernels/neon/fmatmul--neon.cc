// Float-weight matmul, armv8-a Advanced SIMD: tiles of 4 weight rows x up to 4 activation rows, 4 lanes
// along k (fmla), one pass over each weight row per 4 activation rows. f16 weights are widened with fcvtl
// (exact). Float tolerance as for the AVX2 kernel: another summation order and fused multiply-add.
#include <arm_neon.h>

#include "bitflash/fmatmul.h"

namespace bitflash {
namespace {

template <bool F16>
inline float32x4_t load_w(const void* row, size_t j) {
  if (F16) return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(static_cast<const uint16_t*>(row) + j)));
  return vld1q_f32(static_cast<const float*>(row) + j);
}
template <bool F16>
inline float load_w1(const void* row, size_t j) {
  if (F16) return fp16_to_f32(static_cast<const uint16_t*>(row)[j]);
  return static_cast<const float*>(row)[j];
}

template <bool F16, int R, int M>
void tile(const void* const* wr, size_t k, const float* x, size_t ldx, float* y, size_t ldy, size_t r0) {
  float32x4_t acc[R][M];
  for (int a = 0; a < R; a++)
    for (int b = 0; b < M; b++) acc[a][b] = vdupq_n_f32(0.0f);
  size_t j = 0;
  for (; j + 4 <= k; j += 4) {
    float32x4_t xv[M];
    for (int b = 0; b < M; b++) xv[b] = vld1q_f32(x + b * ldx + j);
    for (int a = 0; a < R; a++) {
      const float32x4_t wv = load_w<F16>(wr[a], j);
      for (int b = 0; b < M; b++) acc[a][b] = vfmaq_f32(acc[a][b], wv, xv[b]);
    }
  }
  for (int a = 0; a < R; a++)
    for (int b = 0; b < M; b++) {
      float s = vaddvq_f32(acc[a][b]);
      for (size_t t = j; t < k; t++) s += load_w1<F16>(wr[a], t) * x[b * ldx + t];
      y[b * ldy + r0 + a] = s;
    }
}

template <bool F16, int M>
void rows(const void* w, size_t ws, size_t k, const float* x, size_t ldx, float* y, size_t ldy, size_t n0, size_t n1) {
  size_t r = n0;
  for (; r + 4 <= n1; r += 4) {
    const void* wr[4];
    for (int a = 0; a < 4; a++) wr[a] = static_cast<const uint8_t*>(w) + (r + a) * ws;
    tile<F16, 4, M>(wr, k, x, ldx, y, ldy, r);
  }
  for (; r < n1; r++) {
    const void* wr[1] = {static_cast<const uint8_t*>(w) + r * ws};
    tile<F16, 1, M>(wr, k, x, ldx, y, ldy, r);
  }
}

template <bool F16>
void run(const void* w, size_t ws, size_t k, const float* x, size_t ldx, size_t m, float* y, size_t ldy, size_t n0,
         size_t n1) {
  size_t i = 0;
  for (; i + 4 <= m; i += 4) rows<F16, 4>(w, ws, k, x + i * ldx, ldx, y + i * ldy, ldy, n0, n1);
  switch (m - i) {
    case 3: rows<F16, 3>(w, ws, k, x + i * ldx, ldx, y + i * ldy, ldy, n0, n1); break;
    case 2: rows<F16, 2>(w, ws, k, x + i * ldx, ldx, y + i * ldy, ldy, n0, n1); break;
    case 1: rows<F16, 1>(w, ws, k, x + i * ldx, ldx, y + i * ldy, ldy, n0, n1); break;
    default: break;
  }
}

}  // namespace

void f32_f32_matmul_4x4__neon(const void* w, size_t ws, size_t k, const float* x, size_t ldx, size_t m, float* y,
                              size_t ldy, size_t n0, size_t n1) {
  run<false>(w, ws, k, x, ldx, m, y, ldy, n0, n1);
}
void f16_f32_matmul_4x4__neon(const void* w, size_t ws, size_t k, const float* x, size_t ldx, size_t m, float* y,
                              size_t ldy, size_t n0, size_t n1) {
  run<true>(w, ws, k, x, ldx, m, y, ldy, n0, n1);
}

}  // namespace bitflash
