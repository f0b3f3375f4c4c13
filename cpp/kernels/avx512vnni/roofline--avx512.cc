// Roofline probes, AVX-512: zmm streaming loads, vpdpbusd zmm (64 MACs), vfmadd zmm.
#include <immintrin.h>

#include "bitflash/roofline.h"

namespace bitflash {
namespace {
// Wrap-around horizontal sums (GCC's _mm512_reduce_add_* use signed C adds, UB on overflow).
inline uint64_t hsum_u64(__m512i v) {
  alignas(64) uint64_t l[8];
  _mm512_store_si512(l, v);
  uint64_t s = 0;
  for (int i = 0; i < 8; i++) s += l[i];
  return s;
}
inline uint32_t hsum_u32(__m512i v) {
  alignas(64) uint32_t l[16];
  _mm512_store_si512(l, v);
  uint32_t s = 0;
  for (int i = 0; i < 16; i++) s += l[i];
  return s;
}
}  // namespace

uint64_t read_sum__avx512(const uint8_t* p, size_t bytes) {
  const __m512i* v = reinterpret_cast<const __m512i*>(p);
  __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
  const size_t n = bytes / 64;
  for (size_t i = 0; i + 4 <= n; i += 4) {
    s0 = _mm512_add_epi64(s0, _mm512_load_si512(v + i));
    s1 = _mm512_add_epi64(s1, _mm512_load_si512(v + i + 1));
    s2 = _mm512_add_epi64(s2, _mm512_load_si512(v + i + 2));
    s3 = _mm512_add_epi64(s3, _mm512_load_si512(v + i + 3));
  }
  s0 = _mm512_add_epi64(_mm512_add_epi64(s0, s1), _mm512_add_epi64(s2, s3));
  return hsum_u64(s0);
}

double i8_peak__avx512vnni(uint64_t iters, int64_t* sink) {
  constexpr int C = 10;
  __m512i w = _mm512_set1_epi8(3), x = _mm512_set1_epi8(1), a[C];
  for (int c = 0; c < C; c++) a[c] = _mm512_set1_epi32(c);
  for (uint64_t i = 0; i < iters; i++) {
    for (int c = 0; c < C; c++) a[c] = _mm512_dpbusd_epi32(a[c], w, x);
    __asm__ volatile("" : "+v"(w), "+v"(x));
  }
  for (int c = 1; c < C; c++) a[0] = _mm512_add_epi32(a[0], a[c]);
  *sink = hsum_u32(a[0]);
  return 64.0 * 2 * C * static_cast<double>(iters);
}

double f32_peak__avx512(uint64_t iters, int64_t* sink) {
  constexpr int C = 10;
  __m512 w = _mm512_set1_ps(1.0001f), x = _mm512_set1_ps(0.999f), a[C];
  for (int c = 0; c < C; c++) a[c] = _mm512_set1_ps(static_cast<float>(c));
  for (uint64_t i = 0; i < iters; i++) {
    for (int c = 0; c < C; c++) a[c] = _mm512_fmadd_ps(w, x, a[c]);
    __asm__ volatile("" : "+v"(w), "+v"(x));
  }
  for (int c = 1; c < C; c++) a[0] = _mm512_add_ps(a[0], a[c]);
  *sink = static_cast<int64_t>(_mm512_reduce_add_ps(a[0]));
  return 16.0 * 2 * C * static_cast<double>(iters);
}

}  // namespace bitflash
