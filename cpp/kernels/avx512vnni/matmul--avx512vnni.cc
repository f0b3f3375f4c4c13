// Low-bit matmul kernels, AVX-512 F/BW/VL + VNNI.
// Exactness as in the AVX-VNNI file: vpdpbusd (u8 x s8, 4 products summed into int32, no saturation),
// int8 weights as w ^ 0x80 = w + 128 with 128 * sum(x) subtracted per block, nibbles as they are.
// GEMV: the 256-bit body (EVEX vpdpbusd ymm): a q8_0 block is 34 bytes, so 32-byte loads fit the
// interchange layout without repacking, and the GEMV is bound by memory, not by vector width.
// GEMM: zmm on the packed layout, 8 activation rows x 16 weight rows, 4 k per vpdpbusd, the activation
// dword broadcast from memory.
#include <immintrin.h>

#include "../../ref/matmul-kernels.h"

namespace bitflash {
namespace mm {
namespace {

constexpr int kS8Off = 128;

inline __m256i dot_s8(__m256i acc, __m256i w, const int8_t* x) {
  return _mm256_dpbusd_epi32(acc, _mm256_xor_si256(w, _mm256_set1_epi8(static_cast<char>(0x80))),
                             _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x)));
}
inline __m256i dot_u4(__m256i acc, __m256i nib, const int8_t* x) {
  return _mm256_dpbusd_epi32(acc, nib, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x)));
}

#include "../avx2/matmul-gemv-body.inc"

template <int M, bool I32>
inline void gemm_tile(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t i0, size_t t, void* yv,
                      size_t ldy) {
  __m512 facc[M];
  __m512i tot[M];
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int i = 0; i < M; i++) {
    facc[i] = _mm512_setzero_ps();
    tot[i] = _mm512_setzero_si512();
  }
  const size_t xstride = kb * 32;
  for (size_t b = 0; b < kb; b++) {
    const uint8_t* pb = tiles + (t * kb + b) * PB;
    _mm_prefetch(reinterpret_cast<const char*>(pb + 2 * PB), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(pb + 2 * PB + 256), _MM_HINT_T0);
    __m512i acc[M];
    for (int i = 0; i < M; i++) acc[i] = _mm512_set1_epi32(-128 * a.s[(i0 + i) * kb + b]);
    const int8_t* xb = a.q + i0 * xstride + b * 32;
    for (int kq = 0; kq < 8; kq++) {
      const __m512i w = _mm512_xor_si512(_mm512_loadu_si512(pb + 64 + kq * 64), flip);
      for (int i = 0; i < M; i++) {
        int32_t x4;
        __builtin_memcpy(&x4, xb + i * xstride + kq * 4, 4);
        acc[i] = _mm512_dpbusd_epi32(acc[i], w, _mm512_set1_epi32(x4));
      }
    }
    if (I32) {
      for (int i = 0; i < M; i++) tot[i] = _mm512_add_epi32(tot[i], acc[i]);
    } else {
      const __m512 dw = _mm512_loadu_ps(pb);
      for (int i = 0; i < M; i++)
        facc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i]), _mm512_mul_ps(dw, _mm512_set1_ps(a.d[(i0 + i) * kb + b])), facc[i]);
    }
  }
  const size_t c0 = t * NR;
  const size_t cols = n - c0 < 16 ? n - c0 : 16;
  const __mmask16 mask = static_cast<__mmask16>(cols == 16 ? 0xffffu : ((1u << cols) - 1u));
  for (int i = 0; i < M; i++) {
    if (I32)
      _mm512_mask_storeu_epi32(static_cast<int32_t*>(yv) + (i0 + i) * ldy + c0, mask, tot[i]);
    else
      _mm512_mask_storeu_ps(static_cast<float*>(yv) + (i0 + i) * ldy + c0, mask, facc[i]);
  }
}

template <bool I32>
void gemm(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t m0, size_t m1, size_t t0, size_t t1,
          void* y, size_t ldy) {
  for (size_t t = t0; t < t1; t++) {
    size_t i = m0;
    for (; i + 8 <= m1; i += 8) gemm_tile<8, I32>(tiles, kb, n, a, i, t, y, ldy);
    switch (m1 - i) {
      case 7: gemm_tile<7, I32>(tiles, kb, n, a, i, t, y, ldy); break;
      case 6: gemm_tile<6, I32>(tiles, kb, n, a, i, t, y, ldy); break;
      case 5: gemm_tile<5, I32>(tiles, kb, n, a, i, t, y, ldy); break;
      case 4: gemm_tile<4, I32>(tiles, kb, n, a, i, t, y, ldy); break;
      case 3: gemm_tile<3, I32>(tiles, kb, n, a, i, t, y, ldy); break;
      case 2: gemm_tile<2, I32>(tiles, kb, n, a, i, t, y, ldy); break;
      case 1: gemm_tile<1, I32>(tiles, kb, n, a, i, t, y, ldy); break;
      default: break;
    }
  }
}

}  // namespace

void act_q8_quant__avx512vnni(const float* x, size_t k, int8_t* q, float* d, int32_t* s) { act_quant(x, k, q, d, s); }
void q8_0_q8_gemv__avx512vnni(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv_f32<0>(w, a, m, n0, n1, y, ldy);
}
void q4_0_q8_gemv__avx512vnni(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv_f32<1>(w, a, m, n0, n1, y, ldy);
}
void i8c_q8_gemv__avx512vnni(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv_f32<2>(w, a, m, n0, n1, y, ldy);
}
void i4g_q8_gemv__avx512vnni(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv_f32<3>(w, a, m, n0, n1, y, ldy);
}
void i8c_q8_gemv_i32__avx512vnni(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, int32_t* y, size_t ldy) {
  gemv_i32(w, a, m, n0, n1, y, ldy);
}
void x8p_q8_gemm__avx512vnni(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t m0, size_t m1,
                             size_t t0, size_t t1, float* y, size_t ldy) {
  gemm<false>(tiles, kb, n, a, m0, m1, t0, t1, y, ldy);
}
void x8p_q8_gemm_i32__avx512vnni(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t m0, size_t m1,
                                 size_t t0, size_t t1, int32_t* y, size_t ldy) {
  gemm<true>(tiles, kb, n, a, m0, m1, t0, t1, y, ldy);
}

}  // namespace mm
}  // namespace bitflash
