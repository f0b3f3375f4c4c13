// Ternary multiply-add, AVX-512 VNNI: vpdpbusd zmm (codes w+1 x int8 -> int32), 64 weights per
// instruction; one 64-byte load holds a row's whole 256-weight block (4 code planes x 64).
// Tiles: GEMM 4 x 4 (activation rows x weight rows), GEMV 1 x 16. isum = sum(code*q) - sum(q).
#include <immintrin.h>

#include "bitflash/ternary.h"

namespace bitflash {
namespace {

inline __m256i hsum8(const __m256i* v) {
  const __m256i s01 = _mm256_hadd_epi32(v[0], v[1]);
  const __m256i s23 = _mm256_hadd_epi32(v[2], v[3]);
  const __m256i s45 = _mm256_hadd_epi32(v[4], v[5]);
  const __m256i s67 = _mm256_hadd_epi32(v[6], v[7]);
  const __m256i s0123 = _mm256_hadd_epi32(s01, s23);
  const __m256i s4567 = _mm256_hadd_epi32(s45, s67);
  return _mm256_add_epi32(_mm256_permute2x128_si256(s0123, s4567, 0x20),
                          _mm256_permute2x128_si256(s0123, s4567, 0x31));
}

// Activation plane s of a block, matched to the code layout: [q 32s..32s+31 | q 128+32s..128+32s+31].
inline __m512i act_plane(const int8_t* q, int s) {
  const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * s));
  const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 128 + 32 * s));
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

template <int MR, int NR>
void tile(const TernaryPackedView& w, const block_q8_t* act, size_t i, size_t r, size_t ni, size_t nr, size_t b0,
          size_t b1, float* y, size_t ldy, int32_t* yi) {
  static_assert(MR * NR == 16, "tile of 16 outputs");
  const size_t nb = w.nb;
  const uint8_t* wr[NR];
  const float* sr[NR];
  for (int j = 0; j < NR; j++) {
    const size_t rr = r + (static_cast<size_t>(j) < nr ? j : nr - 1);
    wr[j] = w.codes + rr * nb * 64;
    sr[j] = w.scales + rr * nb;
  }
  const block_q8_t* ar[MR];
  for (int a = 0; a < MR; a++) ar[a] = act + (i + (static_cast<size_t>(a) < ni ? a : ni - 1)) * nb;
  alignas(32) float finit[16];
  for (int a = 0; a < MR; a++)
    for (int j = 0; j < NR; j++)
      finit[a * NR + j] = (b0 == 0 || yi || static_cast<size_t>(a) >= ni || static_cast<size_t>(j) >= nr)
                              ? 0.0f
                              : y[(i + a) * ldy + r + j];
  __m256 facc0 = _mm256_load_ps(finit), facc1 = _mm256_load_ps(finit + 8);
  const __m512i m3 = _mm512_set1_epi8(3);

  for (size_t b = b0; b < b1; b++) {
    __m512i acc[16];
    for (int t = 0; t < 16; t++) acc[t] = _mm512_setzero_si512();
    if (NR == 16) {
      const __m512i q0 = act_plane(ar[0][b].qs, 0), q1 = act_plane(ar[0][b].qs, 1);
      const __m512i q2 = act_plane(ar[0][b].qs, 2), q3 = act_plane(ar[0][b].qs, 3);
      for (int j = 0; j < NR; j++) {
        const __m512i v = _mm512_loadu_si512(wr[j] + b * 64);
        __m512i t = _mm512_dpbusd_epi32(acc[j], _mm512_and_si512(v, m3), q0);
        t = _mm512_dpbusd_epi32(t, _mm512_and_si512(_mm512_srli_epi16(v, 2), m3), q1);
        t = _mm512_dpbusd_epi32(t, _mm512_and_si512(_mm512_srli_epi16(v, 4), m3), q2);
        acc[j] = _mm512_dpbusd_epi32(t, _mm512_and_si512(_mm512_srli_epi16(v, 6), m3), q3);
      }
    } else {
      __m512i v[NR];
      for (int j = 0; j < NR; j++) v[j] = _mm512_loadu_si512(wr[j] + b * 64);
      for (int s = 0; s < 4; s++) {
        __m512i c[NR];
        for (int j = 0; j < NR; j++) c[j] = _mm512_and_si512(_mm512_srli_epi16(v[j], 2 * s), m3);
        for (int a = 0; a < MR; a++) {
          const __m512i q = act_plane(ar[a][b].qs, s);
          for (int j = 0; j < NR; j++) acc[a * NR + j] = _mm512_dpbusd_epi32(acc[a * NR + j], c[j], q);
        }
      }
    }
    __m256i h[16];
    for (int t = 0; t < 16; t++)
      h[t] = _mm256_add_epi32(_mm512_castsi512_si256(acc[t]), _mm512_extracti64x4_epi64(acc[t], 1));
    alignas(32) int32_t asum[16];
    alignas(32) float sc[16];
    for (int a = 0; a < MR; a++)
      for (int j = 0; j < NR; j++) {
        asum[a * NR + j] = ar[a][b].sum;
        sc[a * NR + j] = sr[j][b] * ar[a][b].d;
      }
    const __m256i is0 = _mm256_sub_epi32(hsum8(h), _mm256_load_si256(reinterpret_cast<const __m256i*>(asum)));
    const __m256i is1 = _mm256_sub_epi32(hsum8(h + 8), _mm256_load_si256(reinterpret_cast<const __m256i*>(asum + 8)));
    if (yi) {
      alignas(32) int32_t out[16];
      _mm256_store_si256(reinterpret_cast<__m256i*>(out), is0);
      _mm256_store_si256(reinterpret_cast<__m256i*>(out + 8), is1);
      for (size_t a = 0; a < static_cast<size_t>(MR) && a < ni; a++)
        for (size_t j = 0; j < static_cast<size_t>(NR) && j < nr; j++) yi[((i + a) * w.n + r + j) * nb + b] = out[a * NR + j];
    } else {
      facc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is0), _mm256_load_ps(sc), facc0);
      facc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is1), _mm256_load_ps(sc + 8), facc1);
    }
  }
  if (!yi) {
    alignas(32) float out[16];
    _mm256_store_ps(out, facc0);
    _mm256_store_ps(out + 8, facc1);
    for (size_t a = 0; a < static_cast<size_t>(MR) && a < ni; a++)
      for (size_t j = 0; j < static_cast<size_t>(NR) && j < nr; j++) y[(i + a) * ldy + r + j] = out[a * NR + j];
  }
}

}  // namespace

void tq2_q8_gemm_4x4c64__avx512vnni(const TernaryPackedView& w, const block_q8_t* act, size_t i0, size_t i1, size_t r0,
                                    size_t r1, size_t b0, size_t b1, float* y, size_t ldy, int32_t* yi) {
  if (i1 - i0 < 4) {
    for (size_t i = i0; i < i1; i++)
      for (size_t r = r0; r < r1; r += 16) tile<1, 16>(w, act, i, r, 1, r1 - r < 16 ? r1 - r : 16, b0, b1, y, ldy, yi);
    return;
  }
  for (size_t i = i0; i < i1; i += 4)
    for (size_t r = r0; r < r1; r += 4)
      tile<4, 4>(w, act, i, r, i1 - i < 4 ? i1 - i : 4, r1 - r < 4 ? r1 - r : 4, b0, b1, y, ldy, yi);
}

}  // namespace bitflash
