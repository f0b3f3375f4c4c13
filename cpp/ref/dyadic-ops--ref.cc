// Scalar references (the spec) of the integer-only ops: add with rescale, i-exp, softmax, i-GELU,
// x*sigmoid (ShiftGELU, SiLU), LayerNorm / RMSNorm. Integer arithmetic only; the constants come
// from the prepare steps (cpp/ops/dyadic-prepare.cc).
#include "bitflash/dyadic.h"

namespace bitflash {

using namespace dyadic_detail;

void add_rescale__ref(const int8_t* a, const int8_t* b, size_t n, const AddParams& p, int8_t* y) {
  for (size_t i = 0; i < n; i++) {
    const int32_t sa = mul_dyadic((a[i] - p.a_zp) * (1 << p.left_shift), p.a_mult);
    const int32_t sb = mul_dyadic((b[i] - p.b_zp) * (1 << p.left_shift), p.b_mult);
    y[i] = static_cast<int8_t>(clamp_i32(static_cast<int64_t>(mul_dyadic(sa + sb, p.y_mult)) + p.y_zp, -128, 127));
  }
}

void i_exp__ref(const int16_t* d, size_t n, const ExpParams& p, int32_t* e) {
  for (size_t i = 0; i < n; i++) e[i] = exp_core(d[i], p);
}

void softmax__ref(const int8_t* x, size_t rows, size_t cols, const SoftmaxParams& p, uint8_t* y) {
  for (size_t r = 0; r < rows; r++) {
    const int8_t* xr = x + r * cols;
    int32_t mx = -128;
    for (size_t j = 0; j < cols; j++) mx = xr[j] > mx ? xr[j] : mx;
    uint64_t sum = 0;
    for (size_t j = 0; j < cols; j++) sum += static_cast<uint32_t>(exp_core(xr[j] - mx, p.exp));
    const uint32_t factor = sum < (uint64_t(1) << 31) ? static_cast<uint32_t>(0x7fffffffu / sum) : 0u;
    for (size_t j = 0; j < cols; j++) {
      const uint32_t e = static_cast<uint32_t>(exp_core(xr[j] - mx, p.exp));
      const uint32_t v = (e * factor + (1u << 22)) >> 23;
      y[r * cols + j] = static_cast<uint8_t>(v > 255 ? 255 : v);
    }
  }
}

void i_gelu__ref(const int8_t* x, size_t n, const GeluParams& p, int8_t* y) {
  for (size_t i = 0; i < n; i++)
    y[i] = static_cast<int8_t>(clamp_i32(static_cast<int64_t>(mul_dyadic(gelu_core(x[i], p), p.out)) + p.y_zp, -128, 127));
}

void sigmoid_mul__ref(const int8_t* x, size_t n, const SigmoidMulParams& p, int8_t* y) {
  for (size_t i = 0; i < n; i++)
    y[i] = static_cast<int8_t>(
        clamp_i32(static_cast<int64_t>(mul_dyadic(sigmoid_mul_core(x[i], p), p.out)) + p.y_zp, -128, 127));
}

void lut_i8__ref(const int8_t* x, size_t n, const int8_t* tab, int8_t* y) {
  for (size_t i = 0; i < n; i++) y[i] = tab[static_cast<uint8_t>(x[i])];
}

void norm__ref(const int8_t* x, size_t rows, const NormParams& p, int8_t* y) {
  const size_t n = p.cols;
  for (size_t r = 0; r < rows; r++) {
    const int8_t* xr = x + r * n;
    int32_t s = 0;
    if (p.center)
      for (size_t j = 0; j < n; j++) s += xr[j];
    const int32_t cn = p.center ? static_cast<int32_t>(n) : 1;
    uint64_t v = 0;
    for (size_t j = 0; j < n; j++) {
      const int64_t c = static_cast<int64_t>(cn * xr[j] - s);
      v += static_cast<uint64_t>(c * c);
    }
    int k;
    const int64_t f = norm_factor(v, &k);
    for (size_t j = 0; j < n; j++) {
      const int32_t c = cn * xr[j] - s;
      const int32_t rj = static_cast<int32_t>((static_cast<int64_t>(c) * f) >> k);
      y[r * n + j] = static_cast<int8_t>(clamp_i32(static_cast<int64_t>(mul_dyadic(rj, p.mult[j])) + p.bias[j], -128, 127));
    }
  }
}

}  // namespace bitflash
