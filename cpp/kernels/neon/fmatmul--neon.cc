// Float-weight matmul, armv8-a Advanced SIMD: tiles of 4 weight rows x up to 4 activation rows, 4 lanes
// along k (fmla), one pass over each weight row per 4 activation rows. f16 weights are widened with fcvtl
// (exact). Float tolerance as for the AVX2 kernel: another summation order and fused multiply-add.
#include <arm_neon.h>

#include "bitflash/fmatmul.h"
#include "bitflash/fmatmul-tiles-inl.h"

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

// the tile for fmatmul_tiles::run
struct Tile {
  template <bool F16, int R, int M>
  static void tile(const void* const* wr, size_t k, const float* x, size_t ldx, float* y, size_t ldy, size_t r0) {
    bitflash::tile<F16, R, M>(wr, k, x, ldx, y, ldy, r0);
  }
};

}  // namespace

void f32_f32_matmul_4x4__neon(const void* w, size_t ws, size_t k, const float* x, size_t ldx, size_t m, float* y,
                              size_t ldy, size_t n0, size_t n1) {
  fmatmul_tiles::run<Tile, false>(w, ws, k, x, ldx, m, y, ldy, n0, n1);
}
void f16_f32_matmul_4x4__neon(const void* w, size_t ws, size_t k, const float* x, size_t ldx, size_t m, float* y,
                              size_t ldy, size_t n0, size_t n1) {
  fmatmul_tiles::run<Tile, true>(w, ws, k, x, ldx, m, y, ldy, n0, n1);
}

}  // namespace bitflash
