// Float-weight matmul with AVX2 + FMA (+ F16C for f16 weights): tiles of 4 weight rows x up to 4
// activation rows, 8 lanes along k, one pass over each weight row per 4 activation rows.
#include <immintrin.h>

#include "bitflash/fmatmul.h"
#include "bitflash/fmatmul-tiles-inl.h"

namespace bitflash {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <bool F16>
inline __m256 load_w(const void* row, size_t j) {
  if (F16) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + j)));
  return _mm256_loadu_ps(static_cast<const float*>(row) + j);
}
template <bool F16>
inline float load_w1(const void* row, size_t j) {
  if (F16) return _cvtsh_ss(static_cast<const uint16_t*>(row)[j]);
  return static_cast<const float*>(row)[j];
}

template <bool F16, int R, int M>
void tile(const void* const* wr, size_t k, const float* x, size_t ldx, float* y, size_t ldy, size_t r0) {
  __m256 acc[R][M];
  for (int a = 0; a < R; a++)
    for (int b = 0; b < M; b++) acc[a][b] = _mm256_setzero_ps();
  size_t j = 0;
  for (; j + 8 <= k; j += 8) {
    __m256 xv[M];
    for (int b = 0; b < M; b++) xv[b] = _mm256_loadu_ps(x + b * ldx + j);
    for (int a = 0; a < R; a++) {
      const __m256 wv = load_w<F16>(wr[a], j);
      for (int b = 0; b < M; b++) acc[a][b] = _mm256_fmadd_ps(wv, xv[b], acc[a][b]);
    }
  }
  for (int a = 0; a < R; a++)
    for (int b = 0; b < M; b++) {
      float s = hsum(acc[a][b]);
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

void f32_f32_matmul_4x4__avx2(const void* w, size_t ws, size_t k, const float* x, size_t ldx, size_t m, float* y, size_t ldy, size_t n0, size_t n1) {
  fmatmul_tiles::run<Tile, false>(w, ws, k, x, ldx, m, y, ldy, n0, n1);
}
void f16_f32_matmul_4x4__avx2(const void* w, size_t ws, size_t k, const float* x, size_t ldx, size_t m, float* y, size_t ldy, size_t n0, size_t n1) {
  fmatmul_tiles::run<Tile, true>(w, ws, k, x, ldx, m, y, ldy, n0, n1);
}

}  // namespace bitflash
