// Roofline probe, AVX-VNNI: vpdpbusd on ymm (VEX), 32 MACs per instruction.
#include <immintrin.h>

#include "bitflash/roofline.h"

namespace bitflash {

double i8_peak__avxvnni(uint64_t iters, int64_t* sink) {
  constexpr int C = 10;
  __m256i w = _mm256_set1_epi8(3), x = _mm256_set1_epi8(1), a[C];
  for (int c = 0; c < C; c++) a[c] = _mm256_set1_epi32(c);
  for (uint64_t i = 0; i < iters; i++) {
    for (int c = 0; c < C; c++) a[c] = _mm256_dpbusd_avx_epi32(a[c], w, x);
    __asm__ volatile("" : "+x"(w), "+x"(x));
  }
  for (int c = 1; c < C; c++) a[0] = _mm256_add_epi32(a[0], a[c]);
  *sink = _mm256_extract_epi32(a[0], 0);
  return 32.0 * 2 * C * static_cast<double>(iters);
}

}  // namespace bitflash
