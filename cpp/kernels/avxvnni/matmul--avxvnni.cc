// Low-bit matmul kernels, AVX-VNNI (VEX vpdpbusd on ymm).
// vpdpbusd multiplies u8 by s8 and adds groups of 4 products into int32 without intermediate
// saturation, so it is exact for every value. int8 weights go in as the u8 operand w ^ 0x80 = w + 128
// (0..255) against the s8 activations, and the 128 * sum(x) that adds is subtracted from the block's
// accumulator (kS8Off); nibbles (0..15) go in directly.
#include <immintrin.h>

#include "../../ref/matmul-kernels.h"
#include "bitflash/dyadic-avx2-inl.h"

namespace bitflash {
namespace mm {
namespace {

constexpr int kS8Off = 128;

inline __m256i dot_s8(__m256i acc, __m256i w, const int8_t* x) {
  return _mm256_dpbusd_avx_epi32(acc, _mm256_xor_si256(w, _mm256_set1_epi8(static_cast<char>(0x80))),
                                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x)));
}
inline __m256i dot_u4(__m256i acc, __m256i nib, const int8_t* x) {
  return _mm256_dpbusd_avx_epi32(acc, nib, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x)));
}

#include "../avx2/matmul-gemv-body.inc"
#include "../avx2/matmul-rq-epi.inc"

// Packed GEMM, 4 activation rows x 8 weight rows (half a 16-row tile), 4 k per vpdpbusd.
template <int M, bool I32, bool RQ = false>
inline void gemm_tile(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t i0, size_t t, int half,
                      void* yv, size_t ldy, const RequantEpi* e = nullptr) {
  __m256 facc[M];
  __m256i tot[M];
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int i = 0; i < M; i++) {
    facc[i] = _mm256_setzero_ps();
    tot[i] = _mm256_setzero_si256();
  }
  for (size_t b = 0; b < kb; b++) {
    const uint8_t* pb = tiles + (t * kb + b) * PB;
    __m256i acc[M];
    for (int i = 0; i < M; i++) acc[i] = _mm256_set1_epi32(-128 * a.s[(i0 + i) * kb + b]);
    const int8_t* xb = a.q + i0 * kb * 32 + b * 32;
    for (int kq = 0; kq < 8; kq++) {
      const __m256i w = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(pb + 64 + kq * 64 + half * 32)), flip);
      for (int i = 0; i < M; i++) {
        int32_t x4;
        __builtin_memcpy(&x4, xb + i * kb * 32 + kq * 4, 4);
        acc[i] = _mm256_dpbusd_avx_epi32(acc[i], w, _mm256_set1_epi32(x4));
      }
    }
    if (I32) {
      for (int i = 0; i < M; i++) tot[i] = _mm256_add_epi32(tot[i], acc[i]);
    } else {
      const __m256 dw = _mm256_loadu_ps(reinterpret_cast<const float*>(pb) + half * 8);
      for (int i = 0; i < M; i++)
        facc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i]), _mm256_mul_ps(dw, _mm256_set1_ps(a.d[(i0 + i) * kb + b])), facc[i]);
    }
  }
  const size_t c0 = t * NR + half * 8;
  const size_t cols = n - c0 < 8 ? n - c0 : 8;
  for (int i = 0; i < M; i++) {
    if (RQ) {
      rq_store8(*e, i0 + i, c0, cols, tot[i], static_cast<int8_t*>(yv) + (i0 + i) * ldy + c0);
    } else if (I32) {
      int32_t* y = static_cast<int32_t*>(yv) + (i0 + i) * ldy + c0;
      alignas(32) int32_t tmp[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), tot[i]);
      for (size_t c = 0; c < cols; c++) y[c] = tmp[c];
    } else {
      float* y = static_cast<float*>(yv) + (i0 + i) * ldy + c0;
      if (cols == 8) {
        _mm256_storeu_ps(y, facc[i]);
      } else {
        alignas(32) float tmp[8];
        _mm256_store_ps(tmp, facc[i]);
        for (size_t c = 0; c < cols; c++) y[c] = tmp[c];
      }
    }
  }
}

template <bool I32, bool RQ = false>
void gemm(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t m0, size_t m1, size_t t0, size_t t1,
          void* y, size_t ldy, const RequantEpi* e = nullptr) {
  for (size_t t = t0; t < t1; t++)
    for (int half = 0; half < 2; half++) {
      if (t * NR + half * 8 >= n) break;
      size_t i = m0;
      for (; i + 4 <= m1; i += 4) gemm_tile<4, I32, RQ>(tiles, kb, n, a, i, t, half, y, ldy, e);
      switch (m1 - i) {
        case 3: gemm_tile<3, I32, RQ>(tiles, kb, n, a, i, t, half, y, ldy, e); break;
        case 2: gemm_tile<2, I32, RQ>(tiles, kb, n, a, i, t, half, y, ldy, e); break;
        case 1: gemm_tile<1, I32, RQ>(tiles, kb, n, a, i, t, half, y, ldy, e); break;
        default: break;
      }
    }
}

}  // namespace

void act_q8_quant__avxvnni(const float* x, size_t k, int8_t* q, float* d, int32_t* s) { act_quant(x, k, q, d, s); }
void q8_0_q8_gemv__avxvnni(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv_f32<0>(w, a, m, n0, n1, y, ldy);
}
void q4_0_q8_gemv__avxvnni(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv_f32<1>(w, a, m, n0, n1, y, ldy);
}
void i8c_q8_gemv__avxvnni(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv_f32<2>(w, a, m, n0, n1, y, ldy);
}
void i4g_q8_gemv__avxvnni(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv_f32<3>(w, a, m, n0, n1, y, ldy);
}
void i8c_q8_gemv_i32__avxvnni(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, int32_t* y, size_t ldy) {
  gemv_i32(w, a, m, n0, n1, y, ldy);
}
void x8p_q8_gemm__avxvnni(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t m0, size_t m1, size_t t0,
                          size_t t1, float* y, size_t ldy) {
  gemm<false>(tiles, kb, n, a, m0, m1, t0, t1, y, ldy);
}
void x8p_q8_gemm_i32__avxvnni(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t m0, size_t m1,
                              size_t t0, size_t t1, int32_t* y, size_t ldy) {
  gemm<true>(tiles, kb, n, a, m0, m1, t0, t1, y, ldy);
}

void i8c_q8_gemv_rq__avxvnni(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, const RequantEpi& e, int8_t* y,
                          size_t ldy) {
  gemv_rq(w, a, m, n0, n1, e, y, ldy);
}
void x8p_q8_gemm_rq__avxvnni(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t m0, size_t m1, size_t t0,
                          size_t t1, const RequantEpi& e, int8_t* y, size_t ldy) {
  gemm<true, true>(tiles, kb, n, a, m0, m1, t0, t1, y, ldy, &e);
}

}  // namespace mm
}  // namespace bitflash
