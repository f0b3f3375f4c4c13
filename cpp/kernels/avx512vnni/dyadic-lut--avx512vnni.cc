// int8 -> int8 table lookup with AVX-512 BW (under Isa::avx512vnni, which implies F/BW/VL): per 64
// bytes, for each high nibble i a compare mask and one masked vpshufb of the 16-entry slice
// tab[16i..16i+15] indexed by the low nibble. Plus the i-GELU / ShiftGELU / SiLU kernels built on it.
#include <immintrin.h>

#include "bitflash/dyadic.h"

namespace bitflash {

void lut_i8__avx512(const int8_t* x, size_t n, const int8_t* tab, int8_t* y) {
  __m512i t[16];
  for (int i = 0; i < 16; i++) t[i] = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tab + 16 * i)));
  const __m512i c0f = _mm512_set1_epi8(0x0f);
  size_t j = 0;
  for (; j + 64 <= n; j += 64) {
    const __m512i v = _mm512_loadu_si512(x + j);
    const __m512i lo = _mm512_and_si512(v, c0f);
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), c0f);
    __m512i r = _mm512_setzero_si512();
    for (int i = 0; i < 16; i++) {
      const __mmask64 k = _mm512_cmpeq_epi8_mask(hi, _mm512_set1_epi8(static_cast<char>(i)));
      r = _mm512_mask_shuffle_epi8(r, k, t[i], lo);
    }
    _mm512_storeu_si512(y + j, r);
  }
  if (j < n) {  // tail: masked load / store of the remaining bytes, same lookup
    const __mmask64 m = ~0ull >> (64 - (n - j));
    const __m512i v = _mm512_maskz_loadu_epi8(m, x + j);
    const __m512i lo = _mm512_and_si512(v, c0f);
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), c0f);
    __m512i r = _mm512_setzero_si512();
    for (int i = 0; i < 16; i++) r = _mm512_mask_shuffle_epi8(r, _mm512_cmpeq_epi8_mask(hi, _mm512_set1_epi8(static_cast<char>(i))), t[i], lo);
    _mm512_mask_storeu_epi8(y + j, m, r);
  }
}

void i_gelu__lut_avx512(const int8_t* x, size_t n, const GeluParams& p, int8_t* y) { lut_i8__avx512(x, n, p.lut, y); }
void sigmoid_mul__lut_avx512(const int8_t* x, size_t n, const SigmoidMulParams& p, int8_t* y) { lut_i8__avx512(x, n, p.lut, y); }

}  // namespace bitflash
