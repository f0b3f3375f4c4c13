// Ternary table lookup (T-MAC / TL2 style), AVX2, and the LUT build.
// Weights: groups of 3 -> sign-mirrored index 0..13 (4 bits) + sign bit; per activation triple a
// 16-entry int16 table T[idx] = w0*a0 + w1*a1 + w2*a2, split into a low-byte and a high-byte table.
// Kernel tile: 1 activation row x 16 weight rows; a ymm holds 2 groups (one per 128-bit lane) x 16
// rows, so each vpshufb pair looks up 32 groups of 3 weights = 96 weights.
// Sign: a negated lookup is formed as ~T (xor of both bytes with the sign mask) and the pack step
// stores, per (row, block), how many lookups are negated: -T = ~T + 1, so the block sum is
// sum(lookups) + count.
// int16 bound: |T| <= 3 * 127 = 381, |~T| <= 382; per block an int16 lane (one row, one lane parity)
// receives 44 of the 88 groups: |sum| <= 44 * 382 = 16808 < 32767. Flushed to int32 every block, so
// any K is safe.
#include <immintrin.h>

#include "bitflash/ternary.h"

namespace bitflash {
namespace {

// 32 sign bits -> 32 byte masks (0x00 / 0xff); byte p of lane L takes bit 16L + p.
inline __m256i sign_mask(uint32_t bits) {
  const __m256i b = _mm256_set1_epi32(static_cast<int>(bits));
  const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,  //
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i sel = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  return _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(b, spread), sel), sel);
}

}  // namespace

void tl3_q8_gemm_1x16c3__avx2(const TernaryPackedView& w, const block_q8_t* act, const uint8_t* tables, size_t i0,
                              size_t i1, size_t r0, size_t r1, size_t b0, size_t b1, float* y, size_t ldy,
                              int32_t* yi) {
  const size_t nb = w.nb;
  const __m256i lo4 = _mm256_set1_epi8(0x0f);
  for (size_t i = i0; i < i1; i++) {
    for (size_t r = r0; r < r1; r += kLutTileRows) {  // r0 is a multiple of 16 (the ops split so)
      const size_t tile = r / kLutTileRows;
      const size_t nr = r1 - r < kLutTileRows ? r1 - r : kLutTileRows;
      alignas(32) float finit[16];
      for (size_t p = 0; p < 16; p++) finit[p] = (b0 == 0 || yi || p >= nr) ? 0.0f : y[i * ldy + r + p];
      __m256 facc0 = _mm256_load_ps(finit), facc1 = _mm256_load_ps(finit + 8);
      for (size_t b = b0; b < b1; b++) {
        const uint8_t* tb = w.codes + (tile * nb + b) * kLutTileBlockBytes;
        const uint8_t* tab = tables + (i * nb + b) * kLutTableBytesPerBlock;
        __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
        for (size_t q = 0; q < kLutQuads; q++) {
          const uint8_t* qd = tb + q * 40;
          const uint8_t* tq = tab + q * kLutQuadBytes;
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qd));
          uint32_t s[2];
          __builtin_memcpy(s, qd + 32, 8);
          const __m256i idx[2] = {_mm256_and_si256(v, lo4), _mm256_and_si256(_mm256_srli_epi16(v, 4), lo4)};
          for (int pr = 0; pr < 2; pr++) {  // pair 0: groups 0, 1; pair 1: groups 2, 3
            const __m256i tlo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tq + 32 * pr));
            const __m256i thi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tq + 64 + 32 * pr));
            const __m256i m = sign_mask(s[pr]);
            const __m256i lo = _mm256_xor_si256(_mm256_shuffle_epi8(tlo, idx[pr]), m);
            const __m256i hi = _mm256_xor_si256(_mm256_shuffle_epi8(thi, idx[pr]), m);
            acc0 = _mm256_add_epi16(acc0, _mm256_unpacklo_epi8(lo, hi));  // rows 0..7 (lane = group parity)
            acc1 = _mm256_add_epi16(acc1, _mm256_unpackhi_epi8(lo, hi));  // rows 8..15
          }
        }
        const uint8_t* cnt = tb + kLutQuads * 40;
        const float* ws = reinterpret_cast<const float*>(tb + kLutQuads * 40 + 16);
        __m256i s0 = _mm256_add_epi32(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(acc0)),
                                      _mm256_cvtepi16_epi32(_mm256_extracti128_si256(acc0, 1)));
        __m256i s1 = _mm256_add_epi32(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(acc1)),
                                      _mm256_cvtepi16_epi32(_mm256_extracti128_si256(acc1, 1)));
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

// Tables: per group, T = sign(a0, W0) + sign(a1, W1) + sign(a2, W2) on 16 int16 entries (entries 14,
// 15 have all-zero W), then the low and high bytes are gathered into two 16-byte tables.
void tl3_lut_build__avx2(const block_q8_t* act, size_t rows, size_t nb, uint8_t* tables) {
  const __m256i W0 = _mm256_setr_epi16(-1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0);
  const __m256i W1 = _mm256_setr_epi16(-1, -1, -1, 0, 0, 0, 1, 1, 1, -1, -1, -1, 0, 0, 0, 0);
  const __m256i W2 = _mm256_setr_epi16(-1, 0, 1, -1, 0, 1, -1, 0, 1, -1, 0, 1, -1, 0, 0, 0);
  const __m256i split = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15,  //
                                         0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
  for (size_t blk = 0; blk < rows * nb; blk++) {
    const int8_t* q = act[blk].qs;
    uint8_t* t = tables + blk * kLutTableBytesPerBlock;
    for (size_t g = 0; g < kLutGroups; g++) {
      const int a0 = 3 * g < QK_T ? q[3 * g] : 0;
      const int a1 = 3 * g + 1 < QK_T ? q[3 * g + 1] : 0;
      const int a2 = 3 * g + 2 < QK_T ? q[3 * g + 2] : 0;
      __m256i v = _mm256_add_epi16(_mm256_sign_epi16(_mm256_set1_epi16(static_cast<short>(a0)), W0),
                                   _mm256_sign_epi16(_mm256_set1_epi16(static_cast<short>(a1)), W1));
      v = _mm256_add_epi16(v, _mm256_sign_epi16(_mm256_set1_epi16(static_cast<short>(a2)), W2));
      // lane 0: [lo e0..7 | hi e0..7], lane 1: [lo e8..15 | hi e8..15] -> qwords 0, 2, 1, 3
      v = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(v, split), 0xd8);
      uint8_t* lo = t + (g / 4) * kLutQuadBytes + (g % 4) * 16;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(lo), _mm256_castsi256_si128(v));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(lo + 64), _mm256_extracti128_si256(v, 1));
    }
  }
}

}  // namespace bitflash
