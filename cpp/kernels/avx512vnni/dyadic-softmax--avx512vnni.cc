// Integer softmax with AVX-512 (F/BW under Isa::avx512vnni), bit-exact with softmax__ref: the exps
// e_j = exp_core(x_j - max) are gathered 16 at a time from p.etab (the 256 values x - max can take,
// built by softmax_prepare with the scalar core), summed in 64 bits, then y_j = min(255, (e_j * factor +
// 2^22) >> 23) in uint32 lanes (the same wrapping multiply as the reference).
#include <immintrin.h>

#include "bitflash/dyadic.h"

namespace bitflash {
namespace {
constexpr size_t kBuf = 4096;  // rows up to this length keep their exps on the stack
inline uint64_t hsum_u32(__m512i v) {
  const __m512i lo = _mm512_cvtepu32_epi64(_mm512_castsi512_si256(v));
  const __m512i hi = _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(v, 1));
  return static_cast<uint64_t>(_mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi)));
}
}  // namespace

void softmax__avx512(const int8_t* x, size_t rows, size_t cols, const SoftmaxParams& p, uint8_t* y) {
  alignas(64) int32_t buf[kBuf];
  const bool keep = cols <= kBuf;
  const int32_t* tab = p.etab;
  for (size_t r = 0; r < rows; r++) {
    const int8_t* xr = x + r * cols;
    uint8_t* yr = y + r * cols;
    // row maximum (masked tail filled with -128)
    __m512i vm = _mm512_set1_epi8(-128);
    size_t j = 0;
    for (; j + 64 <= cols; j += 64) vm = _mm512_max_epi8(vm, _mm512_loadu_si512(xr + j));
    if (j < cols) vm = _mm512_max_epi8(vm, _mm512_mask_loadu_epi8(_mm512_set1_epi8(-128), ~0ull >> (64 - (cols - j)), xr + j));
    __m256i m256 = _mm256_max_epi8(_mm512_castsi512_si256(vm), _mm512_extracti64x4_epi64(vm, 1));
    const __m512i m32 = _mm512_cvtepi8_epi32(_mm_max_epi8(_mm256_castsi256_si128(m256), _mm256_extracti128_si256(m256, 1)));
    const int32_t mx = _mm512_reduce_max_epi32(m32);
    const __m512i vmx = _mm512_set1_epi32(mx);
    // exps and their sum (each exp < 2^17: flush the 32-bit lanes every 2^14 steps)
    uint64_t sum = 0;
    __m512i acc = _mm512_setzero_si512();
    size_t steps = 0;
    j = 0;
    for (; j + 16 <= cols; j += 16) {
      const __m512i idx = _mm512_sub_epi32(vmx, _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xr + j))));
      const __m512i e = _mm512_i32gather_epi32(idx, tab, 4);
      if (keep) _mm512_store_si512(buf + j, e);
      acc = _mm512_add_epi32(acc, e);
      if (++steps == (1u << 14)) {
        sum += hsum_u32(acc);
        acc = _mm512_setzero_si512();
        steps = 0;
      }
    }
    sum += hsum_u32(acc);
    for (size_t t = j; t < cols; t++) {
      const int32_t e = tab[mx - xr[t]];
      if (keep) buf[t] = e;
      sum += static_cast<uint32_t>(e);
    }
    const uint32_t factor = sum < (uint64_t(1) << 31) ? static_cast<uint32_t>(0x7fffffffu / sum) : 0u;
    const __m512i vf = _mm512_set1_epi32(static_cast<int32_t>(factor));
    const __m512i half = _mm512_set1_epi32(1 << 22), c255 = _mm512_set1_epi32(255);
    j = 0;
    for (; j + 16 <= cols; j += 16) {
      const __m512i e = keep ? _mm512_load_si512(buf + j)
                             : _mm512_i32gather_epi32(_mm512_sub_epi32(vmx, _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xr + j)))), tab, 4);
      const __m512i v = _mm512_srli_epi32(_mm512_add_epi32(_mm512_mullo_epi32(e, vf), half), 23);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(yr + j), _mm512_cvtepi32_epi8(_mm512_min_epu32(v, c255)));
    }
    for (; j < cols; j++) {
      const uint32_t e = static_cast<uint32_t>(keep ? buf[j] : tab[mx - xr[j]]);
      const uint32_t v = (e * factor + (1u << 22)) >> 23;
      yr[j] = static_cast<uint8_t>(v > 255 ? 255 : v);
    }
  }
}

}  // namespace bitflash
