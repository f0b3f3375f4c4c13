// int8 -> int8 table lookup with AVX2 (lut_i8__avx2) and the i-GELU / ShiftGELU / SiLU kernels built on
// it. Per 32 bytes, for each high nibble i: idx = (x ^ 16i) +sat 0x70 has bit 7 clear only where the
// high nibble of x is i (then its low nibble is x's), so vpshufb of the slice tab[16i..16i+15] yields
// tab[x] there and 0 elsewhere; OR-ing the 16 results gives tab[uint8(x)] in every byte.
#include <immintrin.h>

#include "bitflash/dyadic.h"

namespace bitflash {

void lut_i8__avx2(const int8_t* x, size_t n, const int8_t* tab, int8_t* y) {
  __m256i t[16];
  for (int i = 0; i < 16; i++) t[i] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tab + 16 * i)));
  const __m256i c70 = _mm256_set1_epi8(0x70);
  size_t j = 0;
  for (; j + 32 <= n; j += 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + j));
    __m256i r = _mm256_setzero_si256();
    for (int i = 0; i < 16; i++) {
      const __m256i idx = _mm256_adds_epu8(_mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(i << 4))), c70);
      r = _mm256_or_si256(r, _mm256_shuffle_epi8(t[i], idx));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + j), r);
  }
  for (; j < n; j++) y[j] = tab[static_cast<uint8_t>(x[j])];
}

void i_gelu__lut_avx2(const int8_t* x, size_t n, const GeluParams& p, int8_t* y) { lut_i8__avx2(x, n, p.lut, y); }
void sigmoid_mul__lut_avx2(const int8_t* x, size_t n, const SigmoidMulParams& p, int8_t* y) { lut_i8__avx2(x, n, p.lut, y); }

}  // namespace bitflash
