// Float (f32) AVX2 counterparts of the dyadic ops, the baseline of `bitflash bench dyadic` (see
// bitflash/dyadic-float.h). Lengths are multiples of 8.
#include <immintrin.h>

#include <cmath>

#include "bitflash/dyadic-float.h"

namespace bitflash {
namespace {
// exp(x) for x in [-87, 88]: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial (Cephes), 2^n via the exponent.
inline __m256 exp_ps(__m256 x) {
  x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.0f)), _mm256_set1_ps(-87.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}
inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}
inline float hsum(__m256 v) {
  __m128 m = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_add_ps(m, _mm_movehl_ps(m, m));
  m = _mm_add_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}
}  // namespace

void softmax_f32__avx2(const float* x, size_t rows, size_t cols, float* y) {
  for (size_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    __m256 m = _mm256_set1_ps(-INFINITY);
    for (size_t j = 0; j < cols; j += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(xr + j));
    const __m256 vm = _mm256_set1_ps(hmax(m));
    __m256 s = _mm256_setzero_ps();
    for (size_t j = 0; j < cols; j += 8) {
      const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j), vm));
      _mm256_storeu_ps(yr + j, e);
      s = _mm256_add_ps(s, e);
    }
    const __m256 inv = _mm256_set1_ps(1.0f / hsum(s));
    for (size_t j = 0; j < cols; j += 8) _mm256_storeu_ps(yr + j, _mm256_mul_ps(_mm256_loadu_ps(yr + j), inv));
  }
}
// GELU, tanh form: 0.5 x (1 + tanh(u)) = x e / (e + 1), e = exp(2u), u = sqrt(2/pi)(x + 0.044715 x^3)
void gelu_f32__avx2(const float* x, size_t n, float* y) {
  const __m256 c0 = _mm256_set1_ps(2.0f * 0.7978845608f), c1 = _mm256_set1_ps(0.044715f), one = _mm256_set1_ps(1.0f);
  for (size_t i = 0; i < n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 u2 = _mm256_mul_ps(c0, _mm256_fmadd_ps(_mm256_mul_ps(c1, v), _mm256_mul_ps(v, v), v));
    const __m256 e = exp_ps(u2);
    _mm256_storeu_ps(y + i, _mm256_div_ps(_mm256_mul_ps(v, e), _mm256_add_ps(e, one)));
  }
}
void silu_f32__avx2(const float* x, size_t n, float* y) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  for (size_t i = 0; i < n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    _mm256_storeu_ps(y + i, _mm256_div_ps(v, _mm256_add_ps(one, exp_ps(_mm256_sub_ps(zero, v)))));
  }
}
void exp_f32__avx2(const float* x, size_t n, float* y) {
  for (size_t i = 0; i < n; i += 8) _mm256_storeu_ps(y + i, exp_ps(_mm256_loadu_ps(x + i)));
}
void add_f32__avx2(const float* a, const float* b, size_t n, float* y) {
  for (size_t i = 0; i < n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
}
void norm_f32__avx2(const float* x, size_t rows, size_t cols, const float* g, const float* b, bool center, float* y) {
  for (size_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    __m256 s = _mm256_setzero_ps(), q = _mm256_setzero_ps();
    for (size_t j = 0; j < cols; j += 8) {
      const __m256 v = _mm256_loadu_ps(xr + j);
      s = _mm256_add_ps(s, v);
      q = _mm256_fmadd_ps(v, v, q);
    }
    const float mean = center ? hsum(s) / cols : 0.0f;
    const float var = hsum(q) / cols - mean * mean;
    const __m256 vm = _mm256_set1_ps(mean), rs = _mm256_set1_ps(1.0f / std::sqrt(var + 1e-5f));
    for (size_t j = 0; j < cols; j += 8) {
      const __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j), vm), rs);
      _mm256_storeu_ps(yr + j, center ? _mm256_fmadd_ps(v, _mm256_loadu_ps(g + j), _mm256_loadu_ps(b + j))
                                      : _mm256_mul_ps(v, _mm256_loadu_ps(g + j)));
    }
  }
}

}  // namespace bitflash
