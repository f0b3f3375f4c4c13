// Ternary table lookup, AVX-512 (F/BW/VL only: vpshufb zmm, vpmovm2b; no VBMI needed).
// Same packed layout and numerics as tl3_q8_gemm_1x16c3__avx2; a zmm holds the 4 groups of a quad
// (one per 128-bit lane) x 16 rows, so one vpshufb pair looks up 64 groups = 192 weights. The 64
// sign bits of a quad load straight into a mask register.
// int16 bound: an int16 lane (one row, one group of the 4 in a quad) receives 22 lookups per block,
// |sum| <= 22 * 382 = 8404; lanes are widened to int32 before they are added together.
#include <immintrin.h>

#include "bitflash/ternary.h"

namespace bitflash {

void tl3_q8_gemm_1x16c3__avx512vnni(const TernaryPackedView& w, const block_q8_t* act, const uint8_t* tables,
                                    size_t i0, size_t i1, size_t r0, size_t r1, size_t b0, size_t b1, float* y,
                                    size_t ldy, int32_t* yi) {
  const size_t nb = w.nb;
  const __m512i lo4 = _mm512_set1_epi8(0x0f);
  for (size_t i = i0; i < i1; i++) {
    for (size_t r = r0; r < r1; r += kLutTileRows) {
      const size_t tile = r / kLutTileRows;
      const size_t nr = r1 - r < kLutTileRows ? r1 - r : kLutTileRows;
      alignas(32) float finit[16];
      for (size_t p = 0; p < 16; p++) finit[p] = (b0 == 0 || yi || p >= nr) ? 0.0f : y[i * ldy + r + p];
      __m256 facc0 = _mm256_load_ps(finit), facc1 = _mm256_load_ps(finit + 8);
      for (size_t b = b0; b < b1; b++) {
        const uint8_t* tb = w.codes + (tile * nb + b) * kLutTileBlockBytes;
        const uint8_t* tab = tables + (i * nb + b) * kLutTableBytesPerBlock;
        __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
        for (size_t q = 0; q < kLutQuads; q++) {
          const uint8_t* qd = tb + q * 40;
          const uint8_t* tq = tab + q * kLutQuadBytes;
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qd));
          // lanes: [groups 0, 1 (low nibbles) | groups 2, 3 (high nibbles)]
          const __m512i idx = _mm512_and_si512(
              _mm512_inserti64x4(_mm512_castsi256_si512(v), _mm256_srli_epi16(v, 4), 1), lo4);
          __mmask64 sg;
          __builtin_memcpy(&sg, qd + 32, 8);
          const __m512i m = _mm512_movm_epi8(sg);
          const __m512i lo = _mm512_xor_si512(_mm512_shuffle_epi8(_mm512_loadu_si512(tq), idx), m);
          const __m512i hi = _mm512_xor_si512(_mm512_shuffle_epi8(_mm512_loadu_si512(tq + 64), idx), m);
          acc0 = _mm512_add_epi16(acc0, _mm512_unpacklo_epi8(lo, hi));  // rows 0..7 per group lane
          acc1 = _mm512_add_epi16(acc1, _mm512_unpackhi_epi8(lo, hi));  // rows 8..15
        }
        // widen: [g0 | g1] + [g2 | g3] as int32, then the two halves
        const __m512i w0 = _mm512_add_epi32(_mm512_cvtepi16_epi32(_mm512_castsi512_si256(acc0)),
                                            _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(acc0, 1)));
        const __m512i w1 = _mm512_add_epi32(_mm512_cvtepi16_epi32(_mm512_castsi512_si256(acc1)),
                                            _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(acc1, 1)));
        const uint8_t* cnt = tb + kLutQuads * 40;
        const float* ws = reinterpret_cast<const float*>(tb + kLutQuads * 40 + 16);
        __m256i s0 = _mm256_add_epi32(_mm512_castsi512_si256(w0), _mm512_extracti64x4_epi64(w0, 1));
        __m256i s1 = _mm256_add_epi32(_mm512_castsi512_si256(w1), _mm512_extracti64x4_epi64(w1, 1));
        s0 = _mm256_add_epi32(s0, _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(cnt))));
        s1 = _mm256_add_epi32(s1, _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(cnt + 8))));
        if (yi) {
          alignas(32) int32_t out[16];
          _mm256_store_si256(reinterpret_cast<__m256i*>(out), s0);
          _mm256_store_si256(reinterpret_cast<__m256i*>(out + 8), s1);
          for (size_t p = 0; p < nr; p++) yi[(i * w.n + r + p) * nb + b] = out[p];
        } else {
          const __m256 d = _mm256_set1_ps(act[i * nb + b].d);
          facc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s0), _mm256_mul_ps(_mm256_loadu_ps(ws), d), facc0);
          facc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s1), _mm256_mul_ps(_mm256_loadu_ps(ws + 8), d), facc1);
        }
      }
      if (!yi) {
        alignas(32) float out[16];
        _mm256_store_ps(out, facc0);
        _mm256_store_ps(out + 8, facc1);
        for (size_t p = 0; p < nr; p++) y[i * ldy + r + p] = out[p];
      }
    }
  }
}

}  // namespace bitflash
