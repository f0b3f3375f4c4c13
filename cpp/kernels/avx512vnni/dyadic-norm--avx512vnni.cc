// Integer LayerNorm / RMSNorm on AVX-512 (F/BW under Isa::avx512vnni), bit-exact with norm__ref.
// Statistics: s = sum x and q = sum x^2 with vpmaddwd on int16 lanes (per-lane int32 partial sums stay
// below 2^15 per step); V = sum (cols x - s)^2 = cols (cols q - s^2) for LayerNorm and q for RMSNorm,
// the same integer as the reference's sum. Output, 16 lanes: c = cn x - s, r = (c f) >> k in 64-bit
// lanes, the per-column dyadic multiply by the rule, + bias, clamp; masked loads / stores for the tail.
#include <immintrin.h>

#include <vector>

#include "bitflash/dyadic.h"

namespace bitflash {
namespace {
#include "dyadic-avx512-inl.h"

// s = sum x, q = sum x^2 over n int8, 64 bytes per step: u = x ^ 0x80 = x + 128 as u8 (masked: 0 past
// the end); vpsadbw sums u (64-bit lanes), vpdpbusd sums u*x = x^2 + 128 x per 4 bytes (per dword lane
// and step at most 4 * 255 * 127 < 2^17, n / 64 <= 2^9 steps: below 2^26, no overflow). Then
// s = sum u - 128 n and q = sum u*x - 128 s, the exact integers.
inline void row_stats(const int8_t* xr, size_t n, int32_t* s, int64_t* q) {
  const __m512i b80 = _mm512_set1_epi8(static_cast<char>(0x80)), zero = _mm512_setzero_si512();
  __m512i su = zero, sq = zero;
  for (size_t j = 0; j < n; j += 64) {
    const size_t left = n - j;
    const __mmask64 m = left >= 64 ? ~__mmask64(0) : (__mmask64(1) << left) - 1;
    const __m512i v = _mm512_maskz_loadu_epi8(m, xr + j);
    const __m512i um = _mm512_maskz_mov_epi8(m, _mm512_xor_si512(v, b80));
    su = _mm512_add_epi64(su, _mm512_sad_epu8(um, zero));
    sq = _mm512_dpbusd_epi32(sq, um, v);
  }
  *s = static_cast<int32_t>(_mm512_reduce_add_epi64(su) - 128 * static_cast<int64_t>(n));
  *q = static_cast<int64_t>(_mm512_reduce_add_epi32(sq)) - 128 * static_cast<int64_t>(*s);
}

// The output step when every column's multiplier has s >= 31 and m != INT32_MIN (what norm_prepare
// gives): r_j = (c f) >> k stays in 64-bit lanes (even / odd columns) and the dyadic multiply fuses
// SRDHM and the rounding shift by k_j = s_j - 31 (as requantize__avx512): with p = r m + 2^30,
// y = floor((p + 2^(30+k_j) - 2^31 [p < 0]) / 2^(31+k_j)) for k_j >= 1, p >> 31 for k_j = 0 — the same
// integer as the two-step rule. The per-column constants are laid out once per call, 16 columns a block.
struct ColBlock {
  __m512i me, mo, ce, co, c2e, c2o, she, sho, bias;
  __m512i sh32;    // k_j - 1 per column (used when every k_j >= 1)
  __m512i bias16;  // even blocks b: packs_epi32(bias of b, bias of b + 1), the layout of the packed outputs
};
void norm_fused(const int8_t* x, size_t rows, const NormParams& p, int8_t* y) {
  const size_t n = p.cols, nb = (n + 15) / 16;
  static thread_local std::vector<ColBlock> tl;
  if (tl.size() < nb) tl.resize(nb);
  for (size_t b = 0; b < nb; b++) {
    alignas(64) int64_t v[8][8];  // me, mo, ce, co, c2e, c2o, she, sho
    alignas(64) int32_t bias[16], sh32[16];
    for (int i = 0; i < 16; i++) {
      const size_t j = b * 16 + i;
      int64_t m = 0, c = 0, c2 = INT64_MIN, sh = 31;
      if (j < n) {
        const int k = p.mult[j].s - 31;
        m = p.mult[j].m;
        c = (int64_t(1) << 30) + (k > 0 ? int64_t(1) << (30 + k) : 0);
        c2 = k > 0 ? int64_t(1) << (30 + k) : INT64_MIN;
        sh = 31 + k;
      }
      const int o = i & 1;
      v[0 + o][i / 2] = m, v[2 + o][i / 2] = c, v[4 + o][i / 2] = c2, v[6 + o][i / 2] = sh;
      bias[i] = j < n ? p.bias[j] : 0;
      sh32[i] = static_cast<int32_t>(sh - 32 < 0 ? 0 : sh - 32);
    }
    ColBlock& cb = tl[b];
    cb.me = _mm512_load_si512(v[0]), cb.mo = _mm512_load_si512(v[1]);
    cb.ce = _mm512_load_si512(v[2]), cb.co = _mm512_load_si512(v[3]);
    cb.c2e = _mm512_load_si512(v[4]), cb.c2o = _mm512_load_si512(v[5]);
    cb.she = _mm512_load_si512(v[6]), cb.sho = _mm512_load_si512(v[7]);
    cb.bias = _mm512_load_si512(bias);
    cb.sh32 = _mm512_load_si512(sh32);
  }
  // 64 columns a step through saturating packs when every |bias| <= 32000: sat8(sat16(y) + bias) equals
  // sat8(clamp(y, +-2^24) + bias), since any y that saturates 16 bits stays beyond the int8 range
  bool pack = true;
  for (size_t j = 0; j < n && pack; j++) pack = p.bias[j] >= -32000 && p.bias[j] <= 32000;
  for (size_t b = 0; b + 1 < nb; b += 2) tl[b].bias16 = _mm512_packs_epi32(tl[b].bias, tl[b + 1].bias);
  // every k_j >= 1 (s_j >= 32; the padding columns have m = 0, any shift gives 0): y_j = floor(t / 2^(31+k_j))
  // is the high dword of t shifted right by k_j - 1 (the low dword adds less than one unit)
  bool hi32 = true;
  for (size_t j = 0; j < n && hi32; j++) hi32 = p.mult[j].s >= 32;
  const __m512i hidx = _mm512_setr_epi32(1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
  const ColBlock* cbs = tl.data();
  const __m512i pidx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const __m512i big = _mm512_set1_epi32(1 << 24), nbig = _mm512_set1_epi32(-(1 << 24));
  const __m512i b31 = _mm512_set1_epi64(int64_t(1) << 31);
  const __m512i idx = _mm512_setr_epi32(0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
  const bool madd_cn = n < 32768;
  const int32_t cn = p.center ? static_cast<int32_t>(n) : 1;
  // a row's sum, its factor f and shift k: a serial chain (reductions, square root, division)
  struct RowF {
    int32_t s;
    int32_t f;
    int k;
  };
  auto factor = [&](size_t r) {
    int32_t s;
    int64_t q;
    row_stats(x + r * n, n, &s, &q);
    if (!p.center) s = 0;
    const uint64_t v = p.center ? static_cast<uint64_t>(static_cast<int64_t>(n) * (static_cast<int64_t>(n) * q - static_cast<int64_t>(s) * s))
                                : static_cast<uint64_t>(q);
    RowF o;
    o.s = s;
    o.f = static_cast<int32_t>(dyadic_detail::norm_factor(v, &o.k));  // f < 2^31
    return o;
  };
  const __m512i vcn = _mm512_set1_epi32(cn);
  if (rows == 0) return;
  RowF next = factor(0);
  for (size_t r = 0; r < rows; r++) {
    const int8_t* xr = x + r * n;
    int8_t* yr = y + r * n;
    // the next row's chain is issued before this row's output pass, which does not depend on it:
    // out-of-order execution overlaps the two
    const RowF cur = next;
    if (r + 1 < rows) next = factor(r + 1);
    const __m512i vf = _mm512_set1_epi32(cur.f);
    const __m128i vk = _mm_cvtsi32_si128(cur.k);
    const __m512i vs = _mm512_set1_epi32(cur.s);
    // y (before the bias) for the 16 columns of block b; m masks the row's end
    auto block = [&](size_t b, __mmask16 m) {
      const ColBlock& cb = cbs[b];
      __m512i c = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, xr + b * 16));
      // cn x: one vpmaddwd (x's high word is 0 or -1, cn's is 0: the high product vanishes) when cn < 2^15
      if (p.center) c = _mm512_sub_epi32(madd_cn ? _mm512_madd_epi16(c, vcn) : _mm512_mullo_epi32(c, vcn), vs);
      const __m512i re = _mm512_sra_epi64(_mm512_mul_epi32(c, vf), vk);
      const __m512i ro = _mm512_sra_epi64(_mm512_mul_epi32(_mm512_srli_epi64(c, 32), vf), vk);
      __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(re, cb.me), cb.ce);
      __m512i po = _mm512_add_epi64(_mm512_mul_epi32(ro, cb.mo), cb.co);
      pe = _mm512_mask_sub_epi64(pe, _mm512_cmplt_epi64_mask(pe, cb.c2e), pe, b31);
      po = _mm512_mask_sub_epi64(po, _mm512_cmplt_epi64_mask(po, cb.c2o), po, b31);
      if (hi32) return _mm512_srav_epi32(_mm512_permutex2var_epi32(pe, hidx, po), cb.sh32);
      return _mm512_permutex2var_epi32(_mm512_srav_epi64(pe, cb.she), idx, _mm512_srav_epi64(po, cb.sho));
    };
    size_t b = 0;
    if (pack) {
      for (; (b + 4) * 16 <= n; b += 4) {
        const __m512i y0 = block(b, 0xffff), y1 = block(b + 1, 0xffff), y2 = block(b + 2, 0xffff), y3 = block(b + 3, 0xffff);
        const __m512i ab = _mm512_adds_epi16(_mm512_packs_epi32(y0, y1), cbs[b].bias16);
        const __m512i cd = _mm512_adds_epi16(_mm512_packs_epi32(y2, y3), cbs[b + 2].bias16);
        _mm512_storeu_si512(yr + b * 16, _mm512_permutexvar_epi32(pidx, _mm512_packs_epi16(ab, cd)));
      }
    }
    for (; b < nb; b++) {
      const size_t left = n - b * 16;
      const __mmask16 m = left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
      const __m512i o = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(block(b, m), nbig), big), cbs[b].bias);
      _mm_mask_storeu_epi8(yr + b * 16, m, _mm512_cvtsepi32_epi8(o));  // saturating: the clamp to [-128, 127]
    }
  }
}
}  // namespace

void norm__avx512(const int8_t* x, size_t rows, const NormParams& p, int8_t* y) {
  const size_t n = p.cols;
  bool fused = true;
  for (size_t j = 0; j < n && fused; j++) fused = p.mult[j].s >= 31 && p.mult[j].m != INT32_MIN;
  if (fused) return norm_fused(x, rows, p, y);
  const __m512i lo = _mm512_set1_epi32(-128), hi = _mm512_set1_epi32(127);
  const __m512i big = _mm512_set1_epi32(1 << 24), nbig = _mm512_set1_epi32(-(1 << 24));
  const __m512i c31 = _mm512_set1_epi32(31), zero = _mm512_setzero_si512();
  const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (size_t r = 0; r < rows; r++) {
    const int8_t* xr = x + r * n;
    int8_t* yr = y + r * n;
    int32_t s;
    int64_t q;
    row_stats(xr, n, &s, &q);
    if (!p.center) s = 0;
    const int32_t cn = p.center ? static_cast<int32_t>(n) : 1;
    const uint64_t v = p.center ? static_cast<uint64_t>(static_cast<int64_t>(n) * (static_cast<int64_t>(n) * q - static_cast<int64_t>(s) * s))
                                : static_cast<uint64_t>(q);
    int k;
    const int64_t f = dyadic_detail::norm_factor(v, &k);
    const __m512i vf = _mm512_set1_epi32(static_cast<int32_t>(f));  // f < 2^31
    const __m128i vk = _mm_cvtsi32_si128(k);
    const __m512i vcn = _mm512_set1_epi32(cn), vs = _mm512_set1_epi32(s);
    for (size_t j = 0; j < n; j += 16) {
      const size_t left = n - j;
      const __mmask16 m = left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
      const __mmask8 m0 = left >= 8 ? __mmask8(0xff) : __mmask8((1u << left) - 1);
      const __mmask8 m1 = left >= 16 ? __mmask8(0xff) : left > 8 ? __mmask8((1u << (left - 8)) - 1) : __mmask8(0);
      const __m512i c = _mm512_sub_epi32(_mm512_mullo_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, xr + j)), vcn), vs);
      const __m512i pe = _mm512_sra_epi64(_mm512_mul_epi32(c, vf), vk);
      const __m512i po = _mm512_sra_epi64(_mm512_mul_epi32(_mm512_srli_epi64(c, 32), vf), vk);
      const __m512i rj = _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
      // 16 Dyadic {m, s}: two loads, de-interleaved
      const __m512i d0 = _mm512_maskz_loadu_epi64(m0, p.mult + j);
      const __m512i d1 = _mm512_maskz_loadu_epi64(m1, p.mult + j + 8);
      const __m512i mm = _mm512_permutex2var_epi32(d0, ev, d1);
      const __m512i ss = _mm512_permutex2var_epi32(d0, od, d1);
      const __m512i l = _mm512_max_epi32(_mm512_sub_epi32(c31, ss), zero);
      const __m512i kk = _mm512_max_epi32(_mm512_sub_epi32(ss, c31), zero);
      __m512i o = _mm512_min_epi32(_mm512_max_epi32(mul_dyadic16(rj, mm, l, kk), nbig), big);
      o = _mm512_add_epi32(o, _mm512_maskz_loadu_epi32(m, p.bias + j));
      _mm_mask_storeu_epi8(yr + j, m, _mm512_cvtepi32_epi8(_mm512_min_epi32(_mm512_max_epi32(o, lo), hi)));
    }
  }
}

}  // namespace bitflash
