// Float-weight matmul with AVX2 + FMA (+ F16C for f16 weights): tiles of 4 weight rows x up to 4
// activation rows, 8 lanes along k, one pass over each weight row per 4 activation rows.
#include <immintrin.h>

#include "bitflash/fmatmul.h"

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
void run(const void* w, size_t ws, size_t k, const float* x, size_t ldx, size_t m, float* y, size_t ldy, size_t n0, size_t n1) {
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

void f32_f32_matmul_4x4__avx2(const void* w, size_t ws, size_t k, const float* x, size_t ldx, size_t m, float* y, size_t ldy, size_t n0, size_t n1) {
  run<false>(w, ws, k, x, ldx, m, y, ldy, n0, n1);
}
void f16_f32_matmul_4x4__avx2(const void* w, size_t ws, size_t k, const float* x, size_t ldx, size_t m, float* y, size_t ldy, size_t n0, size_t n1) {
  run<true>(w, ws, k, x, ldx, m, y, ldy, n0, n1);
}

}  // namespace bitflash
