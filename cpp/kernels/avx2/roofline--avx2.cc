// Roofline probes, AVX2 + FMA: streaming loads, vpmaddubsw int8 chains, vfmadd fp32 chains.
#include <immintrin.h>

#include "bitflash/roofline.h"

namespace bitflash {

uint64_t read_sum__avx2(const uint8_t* p, size_t bytes) {
  const __m256i* v = reinterpret_cast<const __m256i*>(p);
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
  const size_t n = bytes / 32;
  for (size_t i = 0; i + 4 <= n; i += 4) {
    s0 = _mm256_add_epi64(s0, _mm256_load_si256(v + i));
    s1 = _mm256_add_epi64(s1, _mm256_load_si256(v + i + 1));
    s2 = _mm256_add_epi64(s2, _mm256_load_si256(v + i + 2));
    s3 = _mm256_add_epi64(s3, _mm256_load_si256(v + i + 3));
  }
  s0 = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
  return static_cast<uint64_t>(_mm256_extract_epi64(s0, 0)) + static_cast<uint64_t>(_mm256_extract_epi64(s0, 1)) +
         static_cast<uint64_t>(_mm256_extract_epi64(s0, 2)) + static_cast<uint64_t>(_mm256_extract_epi64(s0, 3));
}

double i8_peak__avx2(uint64_t iters, int64_t* sink) {
  // 6 chains with distinct activations so no vpmaddubsw is shared; 1 maddubs = 32 MACs.
  constexpr int C = 6;
  __m256i w = _mm256_set1_epi8(3), x[C], a[C];
  for (int c = 0; c < C; c++) {
    x[c] = _mm256_set1_epi8(static_cast<char>(c + 1));
    a[c] = _mm256_set1_epi16(static_cast<short>(c));
  }
  for (uint64_t i = 0; i < iters; i++) {
    for (int c = 0; c < C; c++) a[c] = _mm256_add_epi16(a[c], _mm256_maddubs_epi16(w, x[c]));
    __asm__ volatile("" : "+x"(w));
  }
  for (int c = 1; c < C; c++) a[0] = _mm256_add_epi16(a[0], a[c]);
  *sink = _mm256_extract_epi16(a[0], 0);
  return 32.0 * 2 * C * static_cast<double>(iters);
}

double f32_peak__avx2(uint64_t iters, int64_t* sink) {
  constexpr int C = 10;
  __m256 w = _mm256_set1_ps(1.0001f), x = _mm256_set1_ps(0.999f), a[C];
  for (int c = 0; c < C; c++) a[c] = _mm256_set1_ps(static_cast<float>(c));
  for (uint64_t i = 0; i < iters; i++) {
    for (int c = 0; c < C; c++) a[c] = _mm256_fmadd_ps(w, x, a[c]);
    __asm__ volatile("" : "+x"(w), "+x"(x));
  }
  for (int c = 1; c < C; c++) a[0] = _mm256_add_ps(a[0], a[c]);
  *sink = static_cast<int64_t>(_mm_cvtss_f32(_mm256_castps256_ps128(a[0])));
  return 8.0 * 2 * C * static_cast<double>(iters);
}

}  // namespace bitflash
