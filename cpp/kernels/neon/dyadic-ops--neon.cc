// NEON (armv8-a) kernels of the integer-only ops, bit-exact with their references in
// cpp/ref/dyadic-ops--ref.cc: add with rescale, i-exp, softmax. The same integer formulas on 4 int32
// lanes per vector (16 elements per step), the tails through the scalar cores. Arithmetic right
// shifts by a run-time count are sshl by the negated count (floor, as >> on int32).
#include "bitflash/dyadic-neon-inl.h"

namespace bitflash {

using namespace dyadic_neon;
using namespace dyadic_detail;

namespace {

// I-ViT Shift-exp of t <= 0 (units 2^-16), 4 lanes; mirrors shift_exp16.
inline int32x4_t shift_exp16_4(int32x4_t t) {
  const int32x4_t t2 = vsubq_s32(vsraq_n_s32(t, t, 1), vshrq_n_s32(t, 4));  // t + (t >> 1) - (t >> 4)
  const int32x4_t nt = vnegq_s32(t2);
  const int32x4_t q = vminq_s32(vshrq_n_s32(nt, 16), vdupq_n_s32(31));
  const int32x4_t r = vnegq_s32(vandq_s32(nt, vdupq_n_s32(0xffff)));
  const int32x4_t e0 = vaddq_s32(vshrq_n_s32(r, 1), vdupq_n_s32(65536));
  return vshlq_s32(e0, vnegq_s32(q));
}

// The method is a template argument so that each loop holds one formula (no per-vector branch).
template <ExpMethod M>
struct Exp4 {
  int32x4_t dmin, mul, ng, b, c;
  explicit Exp4(const ExpParams& p)
      : dmin(vdupq_n_s32(p.d_min)), mul(vdupq_n_s32(p.mul)), ng(vdupq_n_s32(-p.g)), b(vdupq_n_s32(p.b_int)),
        c(vdupq_n_s32(p.c_int)) {}
  // mirrors exp_core for 4 values of d <= 0
  inline int32x4_t operator()(int32x4_t d) const {
    d = vmaxq_s32(d, dmin);
    const int32x4_t t = vshlq_s32(vmulq_s32(d, mul), ng);
    if constexpr (M == ExpMethod::shift) {
      return shift_exp16_4(t);
    } else {
      const int32x4_t nt = vnegq_s32(t);
      const int32x4_t q = vshrq_n_s32(nt, 14);
      const int32x4_t u = vsubq_s32(b, vandq_s32(nt, vdupq_n_s32(0x3fff)));
      const int32x4_t z = vmlaq_s32(c, u, u);
      return vshlq_s32(z, vnegq_s32(vminq_s32(vaddq_s32(q, vdupq_n_s32(14)), vdupq_n_s32(31))));
    }
  }
};

constexpr size_t kSoftmaxBuf = 4096;  // rows up to this length keep their exps on the stack

}  // namespace

namespace {
// RIGHT_ONLY: all three multipliers have s > 31 (what add_prepare makes from ordinary scales): no left
// shifts and a rounding shift of at least 1, so the cheaper uniform form serves; else the general one.
template <bool RIGHT_ONLY>
void add_rows(const int8_t* a, const int8_t* b, size_t n, const AddParams& p, int8_t* y) {
  const Mult4 ma = mult4_bcast(p.a_mult), mb = mult4_bcast(p.b_mult), my = mult4_bcast(p.y_mult);
  auto mul = [](int32x4_t x, const Mult4& d) {
    if constexpr (RIGHT_ONLY) return mul_dyadic4<false, true>(x, d);
    else return mul_dyadic4(x, d);
  };
  const int16x8_t azp = vdupq_n_s16(static_cast<int16_t>(p.a_zp)), bzp = vdupq_n_s16(static_cast<int16_t>(p.b_zp));
  const int32x4_t yzp = vdupq_n_s32(p.y_zp), ls = vdupq_n_s32(p.left_shift);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const int8x16_t va = vld1q_s8(a + i), vb = vld1q_s8(b + i);
    // (a - zp) in [-255, 255] fits int16; << left_shift (<= 22) fits int32
    const int16x8_t da[2] = {vsubq_s16(vmovl_s8(vget_low_s8(va)), azp), vsubq_s16(vmovl_high_s8(va), azp)};
    const int16x8_t db[2] = {vsubq_s16(vmovl_s8(vget_low_s8(vb)), bzp), vsubq_s16(vmovl_high_s8(vb), bzp)};
    int32x4_t o[4];
    for (int h = 0; h < 2; h++) {
      const int32x4_t a0 = vshlq_s32(vmovl_s16(vget_low_s16(da[h])), ls), a1 = vshlq_s32(vmovl_high_s16(da[h]), ls);
      const int32x4_t b0 = vshlq_s32(vmovl_s16(vget_low_s16(db[h])), ls), b1 = vshlq_s32(vmovl_high_s16(db[h]), ls);
      o[2 * h] = vqaddq_s32(mul(vaddq_s32(mul(a0, ma), mul(b0, mb)), my), yzp);
      o[2 * h + 1] = vqaddq_s32(mul(vaddq_s32(mul(a1, ma), mul(b1, mb)), my), yzp);
    }
    vst1q_s8(y + i, narrow16_i8(o[0], o[1], o[2], o[3]));
  }
  if (i < n) add_rescale__ref(a + i, b + i, n - i, p, y + i);
}
}  // namespace

void add_rescale__neon(const int8_t* a, const int8_t* b, size_t n, const AddParams& p, int8_t* y) {
  if (p.a_mult.s > 31 && p.b_mult.s > 31 && p.y_mult.s > 31) add_rows<true>(a, b, n, p, y);
  else add_rows<false>(a, b, n, p, y);
}

namespace {
template <ExpMethod M>
void i_exp_rows(const int16_t* d, size_t n, const ExpParams& p, int32_t* e) {
  const Exp4<M> ex(p);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const int16x8_t v = vld1q_s16(d + i);
    vst1q_s32(e + i, ex(vmovl_s16(vget_low_s16(v))));
    vst1q_s32(e + i + 4, ex(vmovl_high_s16(v)));
  }
  for (; i < n; i++) e[i] = exp_core(d[i], p);
}
}  // namespace

void i_exp__neon(const int16_t* d, size_t n, const ExpParams& p, int32_t* e) {
  if (p.method == ExpMethod::shift) i_exp_rows<ExpMethod::shift>(d, n, p, e);
  else i_exp_rows<ExpMethod::ibert_poly>(d, n, p, e);
}

namespace {
template <ExpMethod M>
void softmax_rows(const int8_t* x, size_t rows, size_t cols, const SoftmaxParams& p, uint8_t* y) {
  const Exp4<M> ex(p.exp);
  alignas(16) int32_t buf[kSoftmaxBuf];
  const bool keep = cols <= kSoftmaxBuf;
  for (size_t r = 0; r < rows; r++) {
    const int8_t* xr = x + r * cols;
    uint8_t* yr = y + r * cols;
    // row maximum
    int8x16_t vm = vdupq_n_s8(-128);
    size_t j = 0;
    for (; j + 16 <= cols; j += 16) vm = vmaxq_s8(vm, vld1q_s8(xr + j));
    int32_t mx = vmaxvq_s8(vm);
    for (; j < cols; j++) mx = xr[j] > mx ? xr[j] : mx;
    const int16x8_t vmx = vdupq_n_s16(static_cast<int16_t>(mx));
    // exps (x - max in [-255, 0]) and their 64-bit sum (uadalp: no flush needed)
    auto exps16 = [&](size_t at, int32x4_t* e) {
      const int8x16_t v = vld1q_s8(xr + at);
      const int16x8_t lo = vsubq_s16(vmovl_s8(vget_low_s8(v)), vmx), hi = vsubq_s16(vmovl_high_s8(v), vmx);
      e[0] = ex(vmovl_s16(vget_low_s16(lo)));
      e[1] = ex(vmovl_high_s16(lo));
      e[2] = ex(vmovl_s16(vget_low_s16(hi)));
      e[3] = ex(vmovl_high_s16(hi));
    };
    uint64x2_t acc = vdupq_n_u64(0);
    j = 0;
    for (; j + 16 <= cols; j += 16) {
      int32x4_t e[4];
      exps16(j, e);
      for (int t = 0; t < 4; t++) {
        if (keep) vst1q_s32(buf + j + 4 * t, e[t]);
        acc = vpadalq_u32(acc, vreinterpretq_u32_s32(e[t]));
      }
    }
    uint64_t sum = vaddvq_u64(acc);
    for (size_t t = j; t < cols; t++) {
      const int32_t e = exp_core(xr[t] - mx, p.exp);
      if (keep) buf[t] = e;
      sum += static_cast<uint32_t>(e);
    }
    const uint32_t factor = sum < (uint64_t(1) << 31) ? static_cast<uint32_t>(0x7fffffffu / sum) : 0u;
    const uint32x4_t vf = vdupq_n_u32(factor);
    // (e * factor + 2^22) >> 23 is urshr #23 (e * factor <= 2^31 - 1: e <= sum); min(255, .) a saturating narrow
    j = 0;
    for (; j + 16 <= cols; j += 16) {
      int32x4_t e[4];
      if (keep)
        for (int t = 0; t < 4; t++) e[t] = vld1q_s32(buf + j + 4 * t);
      else
        exps16(j, e);
      uint16x4_t h[4];
      for (int t = 0; t < 4; t++) h[t] = vqmovn_u32(vrshrq_n_u32(vmulq_u32(vreinterpretq_u32_s32(e[t]), vf), 23));
      vst1q_u8(yr + j, vcombine_u8(vqmovn_u16(vcombine_u16(h[0], h[1])), vqmovn_u16(vcombine_u16(h[2], h[3]))));
    }
    for (; j < cols; j++) {
      const uint32_t e = static_cast<uint32_t>(keep ? buf[j] : exp_core(xr[j] - mx, p.exp));
      const uint32_t v = (e * factor + (1u << 22)) >> 23;
      yr[j] = static_cast<uint8_t>(v > 255 ? 255 : v);
    }
  }
}

}  // namespace

void softmax__neon(const int8_t* x, size_t rows, size_t cols, const SoftmaxParams& p, uint8_t* y) {
  if (p.exp.method == ExpMethod::shift) softmax_rows<ExpMethod::shift>(x, rows, cols, p, y);
  else softmax_rows<ExpMethod::ibert_poly>(x, rows, cols, p, y);
}

}  // namespace bitflash
