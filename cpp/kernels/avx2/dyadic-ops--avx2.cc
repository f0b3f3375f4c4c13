// AVX2 kernels of the integer-only ops, bit-exact with their references in cpp/ref/dyadic-ops--ref.cc:
// 8 int32 lanes per step along the row, the same integer formulas, tails through the scalar cores.
#include "bitflash/dyadic-avx2-inl.h"

namespace bitflash {

using namespace dyadic_avx2;
using namespace dyadic_detail;

namespace {

// I-ViT Shift-exp of t <= 0 (units 2^-16), 8 lanes; mirrors shift_exp16.
inline __m256i shift_exp16_8(__m256i t) {
  const __m256i t2 = _mm256_sub_epi32(_mm256_add_epi32(t, _mm256_srai_epi32(t, 1)), _mm256_srai_epi32(t, 4));
  const __m256i nt = _mm256_sub_epi32(_mm256_setzero_si256(), t2);
  const __m256i q = _mm256_min_epi32(_mm256_srai_epi32(nt, 16), _mm256_set1_epi32(31));
  const __m256i r = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_and_si256(nt, _mm256_set1_epi32(0xffff)));
  const __m256i e0 = _mm256_add_epi32(_mm256_srai_epi32(r, 1), _mm256_set1_epi32(65536));
  return _mm256_srav_epi32(e0, q);
}

struct Exp8 {
  ExpMethod method;
  __m256i dmin, mul, b, c, m14, c14, c31;
  int g;
  explicit Exp8(const ExpParams& p)
      : method(p.method), dmin(_mm256_set1_epi32(p.d_min)), mul(_mm256_set1_epi32(p.mul)),
        b(_mm256_set1_epi32(p.b_int)), c(_mm256_set1_epi32(p.c_int)), m14(_mm256_set1_epi32(0x3fff)),
        c14(_mm256_set1_epi32(14)), c31(_mm256_set1_epi32(31)), g(p.g) {}
  // mirrors exp_core for 8 values of d <= 0
  inline __m256i operator()(__m256i d) const {
    d = _mm256_max_epi32(d, dmin);
    const __m256i t = _mm256_srai_epi32(_mm256_mullo_epi32(d, mul), g);
    if (method == ExpMethod::shift) return shift_exp16_8(t);
    const __m256i nt = _mm256_sub_epi32(_mm256_setzero_si256(), t);
    const __m256i q = _mm256_srai_epi32(nt, 14);
    const __m256i u = _mm256_sub_epi32(b, _mm256_and_si256(nt, m14));
    const __m256i z = _mm256_add_epi32(_mm256_mullo_epi32(u, u), c);
    return _mm256_srav_epi32(z, _mm256_min_epi32(_mm256_add_epi32(q, c14), c31));
  }
};

inline int32_t hmax_epi8(__m256i v) {
  __m128i m = _mm_max_epi8(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  m = _mm_max_epi8(m, _mm_srli_si128(m, 8));
  m = _mm_max_epi8(m, _mm_srli_si128(m, 4));
  m = _mm_max_epi8(m, _mm_srli_si128(m, 2));
  m = _mm_max_epi8(m, _mm_srli_si128(m, 1));
  return static_cast<int8_t>(_mm_cvtsi128_si32(m) & 0xff);
}
inline uint64_t hsum_epu32_to_u64(__m256i v) {
  const __m256i lo = _mm256_unpacklo_epi32(v, _mm256_setzero_si256());
  const __m256i hi = _mm256_unpackhi_epi32(v, _mm256_setzero_si256());
  const __m256i s = _mm256_add_epi64(lo, hi);
  const __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  return static_cast<uint64_t>(_mm_cvtsi128_si64(s2)) + static_cast<uint64_t>(_mm_extract_epi64(s2, 1));
}
inline int64_t hsum_epi64(__m256i s) {
  const __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  return _mm_cvtsi128_si64(s2) + _mm_extract_epi64(s2, 1);
}
inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_srli_si128(s, 8));
  s = _mm_add_epi32(s, _mm_srli_si128(s, 4));
  return _mm_cvtsi128_si32(s);
}

constexpr size_t kSoftmaxBuf = 4096;  // rows up to this length keep their exps on the stack

}  // namespace

void add_rescale__avx2(const int8_t* a, const int8_t* b, size_t n, const AddParams& p, int8_t* y) {
  const MultU ma = multu_from(p.a_mult), mb = multu_from(p.b_mult), my = multu_from(p.y_mult);
  const __m256i azp = _mm256_set1_epi32(p.a_zp), bzp = _mm256_set1_epi32(p.b_zp), yzp = _mm256_set1_epi32(p.y_zp);
  const __m256i lo = _mm256_set1_epi32(-128), hi = _mm256_set1_epi32(127);
  const __m128i ls = _mm_cvtsi32_si128(p.left_shift);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i va = _mm256_sll_epi32(_mm256_sub_epi32(load8_i8(a + i), azp), ls);
    const __m256i vb = _mm256_sll_epi32(_mm256_sub_epi32(load8_i8(b + i), bzp), ls);
    const __m256i s = _mm256_add_epi32(mul_dyadic8(va, ma), mul_dyadic8(vb, mb));
    store8_i8(y + i, requant8(s, my, yzp, lo, hi));
  }
  if (i < n) add_rescale__ref(a + i, b + i, n - i, p, y + i);
}

void i_exp__avx2(const int16_t* d, size_t n, const ExpParams& p, int32_t* e) {
  const Exp8 ex(p);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i v = _mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(e + i), ex(v));
  }
  for (; i < n; i++) e[i] = exp_core(d[i], p);
}

void softmax__avx2(const int8_t* x, size_t rows, size_t cols, const SoftmaxParams& p, uint8_t* y) {
  const Exp8 ex(p.exp);
  alignas(32) int32_t buf[kSoftmaxBuf];
  const bool keep = cols <= kSoftmaxBuf;
  for (size_t r = 0; r < rows; r++) {
    const int8_t* xr = x + r * cols;
    uint8_t* yr = y + r * cols;
    // row maximum
    __m256i vm = _mm256_set1_epi8(-128);
    size_t j = 0;
    for (; j + 32 <= cols; j += 32) vm = _mm256_max_epi8(vm, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr + j)));
    int32_t mx = hmax_epi8(vm);
    for (; j < cols; j++) mx = xr[j] > mx ? xr[j] : mx;
    const __m256i vmx = _mm256_set1_epi32(mx);
    // exps and their sum (each exp < 2^17: flush the 32-bit lanes every 2^14 steps)
    uint64_t sum = 0;
    __m256i acc = _mm256_setzero_si256();
    size_t steps = 0;
    j = 0;
    for (; j + 8 <= cols; j += 8) {
      const __m256i e = ex(_mm256_sub_epi32(load8_i8(xr + j), vmx));
      if (keep) _mm256_store_si256(reinterpret_cast<__m256i*>(buf + j), e);
      acc = _mm256_add_epi32(acc, e);
      if (++steps == (1u << 14)) {
        sum += hsum_epu32_to_u64(acc);
        acc = _mm256_setzero_si256();
        steps = 0;
      }
    }
    sum += hsum_epu32_to_u64(acc);
    for (size_t t = j; t < cols; t++) {
      const int32_t e = exp_core(xr[t] - mx, p.exp);
      if (keep) buf[t] = e;
      sum += static_cast<uint32_t>(e);
    }
    const uint32_t factor = sum < (uint64_t(1) << 31) ? static_cast<uint32_t>(0x7fffffffu / sum) : 0u;
    const __m256i vf = _mm256_set1_epi32(static_cast<int32_t>(factor));
    const __m256i half = _mm256_set1_epi32(1 << 22), c255 = _mm256_set1_epi32(255);
    j = 0;
    for (; j + 8 <= cols; j += 8) {
      const __m256i e = keep ? _mm256_load_si256(reinterpret_cast<const __m256i*>(buf + j))
                             : ex(_mm256_sub_epi32(load8_i8(xr + j), vmx));
      const __m256i v = _mm256_srli_epi32(_mm256_add_epi32(_mm256_mullo_epi32(e, vf), half), 23);
      store8_u8(yr + j, _mm256_min_epu32(v, c255));
    }
    for (; j < cols; j++) {
      const uint32_t e = static_cast<uint32_t>(keep ? buf[j] : exp_core(xr[j] - mx, p.exp));
      const uint32_t v = (e * factor + (1u << 22)) >> 23;
      yr[j] = static_cast<uint8_t>(v > 255 ? 255 : v);
    }
  }
}

void i_gelu__avx2(const int8_t* x, size_t n, const GeluParams& p, int8_t* y) {
  const __m256i B = _mm256_set1_epi32(p.B), C = _mm256_set1_epi32(p.C), ONE = _mm256_set1_epi32(p.ONE);
  const __m256i yzp = _mm256_set1_epi32(p.y_zp), lo = _mm256_set1_epi32(-128), hi = _mm256_set1_epi32(127);
  const MultU mo = multu_from(p.out);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i xs = _mm256_slli_epi32(load8_i8(x + i), p.k);
    const __m256i a = _mm256_sub_epi32(_mm256_min_epi32(_mm256_abs_epi32(xs), B), B);
    const __m256i e = _mm256_sign_epi32(_mm256_sub_epi32(C, _mm256_mullo_epi32(a, a)), xs);
    const __m256i g = _mm256_mullo_epi32(xs, _mm256_add_epi32(_mm256_srai_epi32(e, p.n), ONE));
    store8_i8(y + i, requant8(g, mo, yzp, lo, hi));
  }
  if (i < n) i_gelu__ref(x + i, n - i, p, y + i);
}

void sigmoid_mul__avx2(const int8_t* x, size_t n, const SigmoidMulParams& p, int8_t* y) {
  const __m256i mul = _mm256_set1_epi32(p.mul);
  const __m256i yzp = _mm256_set1_epi32(p.y_zp), lo = _mm256_set1_epi32(-128), hi = _mm256_set1_epi32(127);
  const __m256i c65536 = _mm256_set1_epi32(65536);
  const MultU mo = multu_from(p.out);
  const bool gelu = p.act == SigmoidAct::shift_gelu;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i xv = load8_i8(x + i);
    const __m256i t = _mm256_srai_epi32(_mm256_mullo_epi32(xv, mul), p.g);
    __m256i u = _mm256_abs_epi32(t);
    if (gelu)
      u = _mm256_add_epi32(_mm256_add_epi32(u, _mm256_srli_epi32(u, 1)),
                           _mm256_add_epi32(_mm256_srli_epi32(u, 3), _mm256_srli_epi32(u, 4)));
    const __m256i e = shift_exp16_8(_mm256_sub_epi32(_mm256_setzero_si256(), u));
    const __m256i neg = _mm256_cmpgt_epi32(_mm256_setzero_si256(), t);
    const __m256i num = _mm256_blendv_epi8(c65536, e, neg);
    const __m256i den = _mm256_add_epi32(c65536, e);
    // floor(num * 2^12 / den), num <= den: restoring division, 13 quotient bits
    __m256i rem = _mm256_slli_epi32(num, 12);
    __m256i q = _mm256_setzero_si256();
    for (int b = 12; b >= 0; b--) {
      const __m256i ds = _mm256_slli_epi32(den, b);
      const __m256i lt = _mm256_cmpgt_epi32(ds, rem);  // rem < den << b: bit is 0
      rem = _mm256_sub_epi32(rem, _mm256_andnot_si256(lt, ds));
      q = _mm256_or_si256(q, _mm256_andnot_si256(lt, _mm256_set1_epi32(1 << b)));
    }
    store8_i8(y + i, requant8(_mm256_mullo_epi32(xv, q), mo, yzp, lo, hi));
  }
  if (i < n) sigmoid_mul__ref(x + i, n - i, p, y + i);
}

void norm__avx2(const int8_t* x, size_t rows, const NormParams& p, int8_t* y) {
  const size_t n = p.cols;
  const __m256i lo = _mm256_set1_epi32(-128), hi = _mm256_set1_epi32(127);
  const __m256i big = _mm256_set1_epi32(1 << 24), nbig = _mm256_set1_epi32(-(1 << 24));
  for (size_t r = 0; r < rows; r++) {
    const int8_t* xr = x + r * n;
    int8_t* yr = y + r * n;
    int32_t s = 0;
    size_t j = 0;
    if (p.center) {
      __m256i acc = _mm256_setzero_si256();
      for (; j + 8 <= n; j += 8) acc = _mm256_add_epi32(acc, load8_i8(xr + j));
      s = hsum_epi32(acc);
      for (; j < n; j++) s += xr[j];
    }
    const int32_t cn = p.center ? static_cast<int32_t>(n) : 1;
    const __m256i vcn = _mm256_set1_epi32(cn), vs = _mm256_set1_epi32(s);
    __m256i v64 = _mm256_setzero_si256();
    j = 0;
    for (; j + 8 <= n; j += 8) {
      const __m256i c = _mm256_sub_epi32(_mm256_mullo_epi32(load8_i8(xr + j), vcn), vs);
      v64 = _mm256_add_epi64(v64, _mm256_mul_epi32(c, c));
      const __m256i co = _mm256_srli_epi64(c, 32);
      v64 = _mm256_add_epi64(v64, _mm256_mul_epi32(co, co));
    }
    uint64_t v = static_cast<uint64_t>(hsum_epi64(v64));
    for (; j < n; j++) {
      const int64_t c = static_cast<int64_t>(cn * xr[j] - s);
      v += static_cast<uint64_t>(c * c);
    }
    int k;
    const int64_t f = norm_factor(v, &k);
    const __m256i vf = _mm256_set1_epi32(static_cast<int32_t>(f));  // f < 2^31
    const __m128i vk = _mm_cvtsi32_si128(k);
    j = 0;
    for (; j + 8 <= n; j += 8) {
      const __m256i c = _mm256_sub_epi32(_mm256_mullo_epi32(load8_i8(xr + j), vcn), vs);
      const __m256i pe = _mm256_srl_epi64(_mm256_mul_epi32(c, vf), vk);
      const __m256i po = _mm256_srl_epi64(_mm256_mul_epi32(_mm256_srli_epi64(c, 32), vf), vk);
      const __m256i rj = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
      __m256i o = _mm256_min_epi32(_mm256_max_epi32(mul_dyadic8(rj, mult8_from(p.mult + j)), nbig), big);
      o = _mm256_add_epi32(o, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.bias + j)));
      store8_i8(yr + j, _mm256_min_epi32(_mm256_max_epi32(o, lo), hi));
    }
    for (; j < n; j++) {
      const int32_t c = cn * xr[j] - s;
      const int32_t rj = static_cast<int32_t>((static_cast<int64_t>(c) * f) >> k);
      yr[j] = static_cast<int8_t>(clamp_i32(static_cast<int64_t>(mul_dyadic(rj, p.mult[j])) + p.bias[j], -128, 127));
    }
  }
}

}  // namespace bitflash
