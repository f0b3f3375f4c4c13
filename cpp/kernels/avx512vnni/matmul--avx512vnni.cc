// Low-bit matmul kernels, AVX-512 F/BW/VL + VNNI.
// Exactness as in the AVX-VNNI file: vpdpbusd (u8 x s8, 4 products summed into int32, no saturation),
// int8 weights as w ^ 0x80 = w + 128 with 128 * sum(x) subtracted per block, nibbles as they are.
// GEMV: the 256-bit body (EVEX vpdpbusd ymm): a q8_0 block is 34 bytes, so 32-byte loads fit the
// interchange layout without repacking, and the GEMV is bound by memory, not by vector width.
// GEMM: zmm on the packed layout, 8 activation rows x 16 weight rows, 4 k per vpdpbusd, the activation
// dword broadcast from memory.
#include <immintrin.h>

#include "../../ref/matmul-kernels.h"
#include "bitflash/dyadic-avx2-inl.h"

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
#include "../avx2/matmul-rq-epi.inc"

// ---- 4-bit GEMV (q4_0, i4g), zmm: 4 weight rows x 4 blocks (128 k) per step ----
// Weights: the 4 blocks' 16 nibble bytes fill the 4 128-bit lanes of one zmm (q4_0: four 16-byte loads at
// 18-byte spacing; i4g: one 64-byte load, its blocks are contiguous); lo = w & 15 and hi = w >> 4 & 15 are
// two vpdpbusd against the activations rearranged once per step and shared by the 4 rows (q4_0: element j
// and j + 16 of a block are one byte's nibbles, so lo meets x[0..15] and hi x[16..31]; i4g: elements 2j,
// 2j + 1, so lo meets the even and hi the odd x). The 4 rows' partial lanes are transposed and added into
// one zmm holding the exact int32 dot of every (block, row) at lane 4 * block + row; the offset (8, or the
// i4g zero point) times the block's activation sum is subtracted there in int32 (vpmaddwd: both fit int16),
// so each isum_b is exact before its one conversion; then one fma by dw * dx per 16 (row, block) pairs.
// The q4_0 block scales (f16) come out of the same loads by a word permute, the i4g scales by one masked
// load per row and a permute (no gathers: they were the slowest part); the tail step (kb % 4 blocks) masks
// its loads and fills scales and zero points in scalar.

inline __m512i lane_block_idx() { return _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3); }

// lane 4k + r = sum of the 4 lanes of block k in P[r]
inline __m512i fold_rows(__m512i p0, __m512i p1, __m512i p2, __m512i p3) {
  const __m512i s01 = _mm512_add_epi32(_mm512_unpacklo_epi32(p0, p1), _mm512_unpackhi_epi32(p0, p1));
  const __m512i s23 = _mm512_add_epi32(_mm512_unpacklo_epi32(p2, p3), _mm512_unpackhi_epi32(p2, p3));
  return _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
}

template <int DT, int M>  // DT 1 = q4_0, 3 = i4g
void gemv4_tile(const WK& w, const ActQ& a, size_t i0, size_t r0, size_t nrows, float* y, size_t ldy) {
  const size_t kb = a.kb;
  const uint8_t* rows[4];
  size_t rix[4];  // weight row of each tile row
  int32_t roff[4];  // i4g: scale index of each tile row relative to row r0
  for (int r = 0; r < 4; r++) {
    const size_t rr = r < static_cast<int>(nrows) ? static_cast<size_t>(r) : nrows - 1;  // pad with a valid row
    rix[r] = r0 + rr;
    rows[r] = w.data + (r0 + rr) * w.stride;
    roff[r] = static_cast<int32_t>(DT == 3 ? rr * w.gpr : 0);
  }
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  const __m512i kidx = lane_block_idx();
  const __m512i rsel = _mm512_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3);
  const size_t gsh = DT == 3 ? (w.group == 32 ? 0 : w.group == 64 ? 1 : 2) : 0;  // blocks per group = 1 << gsh
  // i4g scales: lane (k, r) <- element 4r + (k >> gsh) of the 4 rows' scale quadruples
  const __m512i sperm = _mm512_add_epi32(_mm512_slli_epi32(rsel, 2), _mm512_srli_epi32(kidx, static_cast<unsigned>(gsh)));
  const float* sc0 = DT == 3 ? w.scales + r0 * w.gpr : nullptr;
  const uint8_t* zrow[4];  // i4g zero-point row of each tile row
  for (int r = 0; r < 4; r++) zrow[r] = DT == 3 && w.zp ? w.zp + rix[r] * w.zp_stride : nullptr;
  // i4g zero points: per row a 16-bit window of nibbles; lane (k, r) shifts by zsh[k]
  const __m512i zsh = DT == 3 ? (gsh == 0 ? _mm512_slli_epi32(kidx, 2) : gsh == 1 ? _mm512_slli_epi32(_mm512_srli_epi32(kidx, 1), 2) : _mm512_setzero_si512())
                              : _mm512_setzero_si512();
  const __m512i zword = _mm512_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3);  // word r of the 64-bit window
  const __m512i deint = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15));
  // dest word 8k + j (block k, qs word j) <- source word 9k + 1 + j: l0 for < 32, else l1 word (src - 4) + 32
  alignas(64) int16_t qp[32], dp[32];
  for (int k = 0; k < 4; k++)
    for (int j = 0; j < 8; j++) {
      const int src = 9 * k + 1 + j;
      qp[8 * k + j] = static_cast<int16_t>(src < 32 ? src : 32 + src - 4);
    }
  for (int l = 0; l < 32; l++) dp[l] = static_cast<int16_t>(9 * ((l / 4) & 3));  // word 4k + r <- word 9k
  const __m512i qperm = _mm512_load_si512(qp), dperm = _mm512_load_si512(dp);
  __m512 acc[M];
  for (int i = 0; i < M; i++) acc[i] = _mm512_setzero_ps();
  const size_t nfull = kb / 4;
  // the next tile's bytes, spread evenly over this tile's steps (4 rows x 4 blocks per step)
  const uint8_t* nxt = w.data + (r0 + 4) * w.stride;
  const size_t gbytes = nfull ? (4 * w.stride + nfull - 1) / nfull : 0;
  for (size_t g = 0; g <= nfull; g++) {
    const size_t b0 = g * 4;
    const size_t nbk = g < nfull ? 4 : kb - b0;
    if (nbk == 0) break;
    const bool full = nbk == 4;
    // activations
    __m512i xlo[M], xhi[M];
    __m512 dx[M];
    __m512i xs[M];
    const __mmask64 mx0 = full ? ~__mmask64(0) : (nbk >= 2 ? ~__mmask64(0) : (__mmask64(1) << 32) - 1);
    const __mmask64 mx1 = full ? ~__mmask64(0) : (nbk == 3 ? (__mmask64(1) << 32) - 1 : __mmask64(0));
    const __mmask16 m4k = static_cast<__mmask16>((1u << nbk) - 1u);
    for (int i = 0; i < M; i++) {
      const int8_t* xb = a.q + (i0 + i) * kb * 32 + b0 * 32;
      const __m512i x0 = _mm512_maskz_loadu_epi8(mx0, xb);
      const __m512i x1 = _mm512_maskz_loadu_epi8(mx1, xb + 64);
      if (DT == 1) {
        xlo[i] = _mm512_shuffle_i64x2(x0, x1, _MM_SHUFFLE(2, 0, 2, 0));
        xhi[i] = _mm512_shuffle_i64x2(x0, x1, _MM_SHUFFLE(3, 1, 3, 1));
      } else {
        const __m512i e0 = _mm512_shuffle_epi8(x0, deint), e1 = _mm512_shuffle_epi8(x1, deint);
        const __m512i A = _mm512_shuffle_i64x2(e0, e1, _MM_SHUFFLE(2, 0, 2, 0));
        const __m512i B = _mm512_shuffle_i64x2(e0, e1, _MM_SHUFFLE(3, 1, 3, 1));
        xlo[i] = _mm512_unpacklo_epi64(A, B);
        xhi[i] = _mm512_unpackhi_epi64(A, B);
      }
      dx[i] = _mm512_permutexvar_ps(kidx, _mm512_castps128_ps512(_mm_maskz_loadu_ps(static_cast<__mmask8>(m4k), a.d + (i0 + i) * kb + b0)));
      xs[i] = _mm512_permutexvar_epi32(kidx, _mm512_castsi128_si512(_mm_maskz_loadu_epi32(static_cast<__mmask8>(m4k), a.s + (i0 + i) * kb + b0)));
    }
    // Prefetch the next tile (4 rows, contiguous when unstrided) at the rate this one is consumed, so that it
    // is in cache when its rows start: a 4-row tile is 4 short streams the hardware prefetcher ramps up late.
    if (full) {
      const uint8_t* pf = nxt + g * gbytes;
      for (size_t o = 0; o < gbytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(pf + o), _MM_HINT_T0);
    }
    // weights: partial dots
    __m512i p[M][4];
    __m512i d16 = _mm512_setzero_si512();  // q4_0: the f16 scales in (block, row) order
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
      __m512i wv;
      if (DT == 1) {
        const uint8_t* bp = rows[r] + b0 * sizeof(block_q4_0) + 2;
        if (full) {
          // the 4 blocks are 72 bytes from bp - 2: words of l0 (bytes 0..63) and l1 (bytes 8..71); every qs
          // starts at an even byte, so one word permute gathers them; the f16 d of block k is word 9k of l0
          const __m512i l0 = _mm512_loadu_si512(bp - 2), l1 = _mm512_loadu_si512(bp + 6);
          wv = _mm512_permutex2var_epi16(l0, qperm, l1);
          d16 = _mm512_mask_permutexvar_epi16(d16, static_cast<__mmask32>(0x1111u << r), dperm, l0);
        } else {
          alignas(64) uint8_t t[64] = {};
          for (size_t k = 0; k < nbk; k++) __builtin_memcpy(t + 16 * k, bp + 18 * k, 16);
          wv = _mm512_load_si512(t);
        }
      } else {
        const uint8_t* bp = rows[r] + b0 * 16;
        wv = full ? _mm512_loadu_si512(bp) : _mm512_maskz_loadu_epi8((__mmask64(1) << (16 * nbk)) - 1, bp);
      }
      const __m512i lo = _mm512_and_si512(wv, m4), hi = _mm512_and_si512(_mm512_srli_epi16(wv, 4), m4);
#pragma GCC unroll 2
      for (int i = 0; i < M; i++)
        p[i][r] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, xlo[i]), hi, xhi[i]);
    }
    // scales and offsets per (block, row) lane
    __m512 dw;
    __m512i zp;  // offset per lane (q4_0 and i4g without zero points: 8)
    if (full) {
      if (DT == 1) {
        dw = _mm512_cvtph_ps(_mm512_castsi512_si256(d16));
        zp = _mm512_set1_epi32(8);
      } else {
        const size_t g0 = b0 >> gsh;
        // per row the (up to) 4 scales from group g0 (masked: never past the row's gpr), then lane (k, r) <-
        // element 4r + (k >> gsh); no gather (slow here: vgatherdps was a third of the loop)
        const __mmask8 sm = static_cast<__mmask8>(w.gpr - g0 >= 4 ? 0xf : (1u << (w.gpr - g0)) - 1u);
        __m512 s4 = _mm512_castps128_ps512(_mm_maskz_loadu_ps(sm, sc0 + roff[0] + g0));
        s4 = _mm512_insertf32x4(s4, _mm_maskz_loadu_ps(sm, sc0 + roff[1] + g0), 1);
        s4 = _mm512_insertf32x4(s4, _mm_maskz_loadu_ps(sm, sc0 + roff[2] + g0), 2);
        s4 = _mm512_insertf32x4(s4, _mm_maskz_loadu_ps(sm, sc0 + roff[3] + g0), 3);
        dw = _mm512_permutexvar_ps(sperm, s4);
        if (w.zp) {
          uint64_t z = 0;
#pragma GCC unroll 4
          for (int r = 0; r < 4; r++) {
            const uint8_t* zr = zrow[r] + g0 / 2;
            const uint64_t v = gsh == 0 ? static_cast<uint64_t>(zr[0] | (zr[1] << 8)) : static_cast<uint64_t>(zr[0]);
            z |= v << (16 * r);
          }
          // word r of z into the low half of lane (k, r): word index r for every k
          const __m512i zl = _mm512_maskz_permutexvar_epi16(0x55555555u, zword, _mm512_set1_epi64(static_cast<long long>(z)));
          const __m512i shv = gsh == 2 ? _mm512_set1_epi32(static_cast<int32_t>(4 * (g0 & 1))) : zsh;
          zp = _mm512_and_si512(_mm512_srlv_epi32(zl, shv), _mm512_set1_epi32(15));
        } else {
          zp = _mm512_set1_epi32(8);
        }
      }
    } else {
      alignas(64) float dt[16] = {};
      alignas(64) int32_t zt[16] = {};
      for (size_t k = 0; k < nbk; k++)
        for (int r = 0; r < 4; r++) {
          const size_t rr = rix[r];
          if (DT == 1) {
            dt[4 * k + r] = _cvtsh_ss(reinterpret_cast<const block_q4_0*>(rows[r])[b0 + k].d);
            zt[4 * k + r] = 8;
          } else {
            const size_t gi = ((b0 + k) * 32) / w.group;
            dt[4 * k + r] = w.scales[rr * w.gpr + gi];
            zt[4 * k + r] = w.zp ? ((w.zp[rr * w.zp_stride + gi / 2] >> ((gi & 1) * 4)) & 0x0f) : 8;
          }
        }
      dw = _mm512_load_ps(dt);
      zp = _mm512_load_si512(zt);
    }
    for (int i = 0; i < M; i++) {
      // zp in [0, 15] and the block sum in [-4096, 4064]: one int16 product per lane (high halves: 0 * x)
      const __m512i isum = _mm512_sub_epi32(fold_rows(p[i][0], p[i][1], p[i][2], p[i][3]), _mm512_madd_epi16(zp, xs[i]));
      acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, dx[i]), acc[i]);
    }
  }
  for (int i = 0; i < M; i++) {
    // lane 4k + r: add the 4 block lanes of each row
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(acc[i]), _mm512_extractf32x8_ps(acc[i], 1));
    const __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    alignas(16) float t[4];
    _mm_store_ps(t, q);
    for (size_t r = 0; r < nrows; r++) y[(i0 + i) * ldy + r0 + r] = t[r];
  }
}

template <int DT>
void gemv4(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  // i4g scale offsets of rows 3 apart are int32
  if (DT == 3 && 4 * w.gpr >= (size_t(1) << 31)) {
    gemv_f32<DT>(w, a, m, n0, n1, y, ldy);
    return;
  }
  for (size_t r = n0; r < n1; r += 4) {
    const size_t nr = n1 - r < 4 ? n1 - r : 4;
    size_t i = 0;
    for (; i + 2 <= m; i += 2) gemv4_tile<DT, 2>(w, a, i, r, nr, y, ldy);
    if (i < m) gemv4_tile<DT, 1>(w, a, i, r, nr, y, ldy);
  }
}

template <int M, bool I32, bool RQ = false>
inline void gemm_tile(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t i0, size_t t, void* yv,
                      size_t ldy, const RequantEpi* e = nullptr) {
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
    if (RQ) {  // two 8-column halves through the requantize epilogue, straight from the accumulator
      int8_t* y8 = static_cast<int8_t*>(yv) + (i0 + i) * ldy + c0;
      rq_store8(*e, i0 + i, c0, cols < 8 ? cols : 8, _mm512_castsi512_si256(tot[i]), y8);
      if (cols > 8) rq_store8(*e, i0 + i, c0 + 8, cols - 8, _mm512_extracti64x4_epi64(tot[i], 1), y8 + 8);
    } else if (I32)
      _mm512_mask_storeu_epi32(static_cast<int32_t*>(yv) + (i0 + i) * ldy + c0, mask, tot[i]);
    else
      _mm512_mask_storeu_ps(static_cast<float*>(yv) + (i0 + i) * ldy + c0, mask, facc[i]);
  }
}

template <bool I32, bool RQ = false>
void gemm(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t m0, size_t m1, size_t t0, size_t t1,
          void* y, size_t ldy, const RequantEpi* e = nullptr) {
  for (size_t t = t0; t < t1; t++) {
    size_t i = m0;
    for (; i + 8 <= m1; i += 8) gemm_tile<8, I32, RQ>(tiles, kb, n, a, i, t, y, ldy, e);
    switch (m1 - i) {
      case 7: gemm_tile<7, I32, RQ>(tiles, kb, n, a, i, t, y, ldy, e); break;
      case 6: gemm_tile<6, I32, RQ>(tiles, kb, n, a, i, t, y, ldy, e); break;
      case 5: gemm_tile<5, I32, RQ>(tiles, kb, n, a, i, t, y, ldy, e); break;
      case 4: gemm_tile<4, I32, RQ>(tiles, kb, n, a, i, t, y, ldy, e); break;
      case 3: gemm_tile<3, I32, RQ>(tiles, kb, n, a, i, t, y, ldy, e); break;
      case 2: gemm_tile<2, I32, RQ>(tiles, kb, n, a, i, t, y, ldy, e); break;
      case 1: gemm_tile<1, I32, RQ>(tiles, kb, n, a, i, t, y, ldy, e); break;
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
  gemv4<1>(w, a, m, n0, n1, y, ldy);
}
void i8c_q8_gemv__avx512vnni(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv_f32<2>(w, a, m, n0, n1, y, ldy);
}
void i4g_q8_gemv__avx512vnni(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv4<3>(w, a, m, n0, n1, y, ldy);
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

void i8c_q8_gemv_rq__avx512vnni(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, const RequantEpi& e,
                               int8_t* y, size_t ldy) {
  gemv_rq(w, a, m, n0, n1, e, y, ldy);
}
void x8p_q8_gemm_rq__avx512vnni(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t m0, size_t m1,
                                size_t t0, size_t t1, const RequantEpi& e, int8_t* y, size_t ldy) {
  gemm<true, true>(tiles, kb, n, a, m0, m1, t0, t1, y, ldy, &e);
}

}  // namespace mm
}  // namespace bitflash
