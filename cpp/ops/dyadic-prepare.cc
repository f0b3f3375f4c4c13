// Prepare steps of the integer-only ops: the only float math, turning float scales into the
// integer constants the kernels use. Then the ops: validation, the split over the thread pool
// (whole rows, or chunks of elementwise data), the dispatched kernel.
#include <cmath>
#include <string>

#include "bitflash/dyadic.h"
#include "bitflash/error.h"
#include "bitflash/threadpool.h"

namespace bitflash {
namespace {
constexpr size_t kElemsPerTask = 1 << 16;
constexpr double kLn2 = 0.6931471805599453;

template <class Fn>
void run_rows(size_t rows, size_t cols, const Fn& fn) {
  const size_t per = cols >= kElemsPerTask ? 1 : kElemsPerTask / cols;
  const size_t tasks = (rows + per - 1) / per;
  if (tasks <= 1) {
    fn(size_t(0), rows);
    return;
  }
  parallel_for(tasks, [&](size_t t, unsigned) {
    const size_t r0 = t * per;
    fn(r0, r0 + per < rows ? r0 + per : rows);
  });
}
template <class Fn>
void run_elems(size_t n, const Fn& fn) {
  run_rows((n + 4095) / 4096, 4096, [&](size_t r0, size_t r1) {
    const size_t i0 = r0 * 4096, i1 = r1 * 4096 < n ? r1 * 4096 : n;
    fn(i0, i1);
  });
}

void check_scale(double s, const char* op, const char* what) {
  BITFLASH_CHECK(std::isfinite(s) && s > 0.0, kErrArg,
                 std::string(op) + ": " + what + " must be a positive finite number, received " + std::to_string(s));
}
void check_zp_i8(int32_t zp, const char* op) {
  BITFLASH_CHECK(zp >= -128 && zp <= 127, kErrArg,
                 std::string(op) + ": int8 zero point must be in [-128, 127], received " + std::to_string(zp));
}
void check_dy(const Dyadic& d, const char* op) {
  BITFLASH_CHECK(d.s >= 0 && d.s <= 62, kErrArg,
                 std::string(op) + ": dyadic shift must be in 0..62, received " + std::to_string(d.s));
}
// Largest g in [0, gmax] with round(x * 2^(base + g)) < limit; returns {mul, g}.
void pick_mul(double x, int base, int gmax, double limit, int32_t* mul, int* g) {
  int gg = 0;
  while (gg < gmax && std::ldexp(x, base + gg + 1) < limit) gg++;
  *g = gg;
  *mul = static_cast<int32_t>(std::llround(std::ldexp(x, base + gg)));
}
// The 256-entry table of an int8 -> int8 op: the scalar reference run on every input (lut[uint8_t(x)]).
template <class P>
void fill_lut(P& p, void (*ref)(const int8_t*, size_t, const P&, int8_t*)) {
  int8_t in[256];
  for (int i = 0; i < 256; i++) in[i] = static_cast<int8_t>(i);  // index i holds the int8 with bits i
  ref(in, 256, p, p.lut);
}
}  // namespace

// ---------------- add ----------------
AddParams add_prepare(double a_scale, int32_t a_zp, double b_scale, int32_t b_zp, double y_scale, int32_t y_zp) {
  check_scale(a_scale, "add", "a scale");
  check_scale(b_scale, "add", "b scale");
  check_scale(y_scale, "add", "output scale");
  check_zp_i8(a_zp, "add");
  check_zp_i8(b_zp, "add");
  check_zp_i8(y_zp, "add");
  AddParams p;
  p.a_zp = a_zp;
  p.b_zp = b_zp;
  p.y_zp = y_zp;
  p.left_shift = 20;
  const double twice_max = 2.0 * (a_scale > b_scale ? a_scale : b_scale);
  p.a_mult = dyadic_from_scale(a_scale / twice_max);
  p.b_mult = dyadic_from_scale(b_scale / twice_max);
  p.y_mult = dyadic_from_scale(twice_max / (std::ldexp(1.0, p.left_shift) * y_scale));
  for (int i = 0; i < 256; i++) {
    const int32_t v = static_cast<int8_t>(i);
    p.ta[i] = dyadic_detail::mul_dyadic((v - p.a_zp) * (1 << p.left_shift), p.a_mult);
    p.tb[i] = dyadic_detail::mul_dyadic((v - p.b_zp) * (1 << p.left_shift), p.b_mult);
  }
  // every (a, b) pair through the reference: bit-exact by construction
  const bool sym = p.a_zp == p.b_zp && p.a_mult.m == p.b_mult.m && p.a_mult.s == p.b_mult.s;
  std::shared_ptr<int8_t> tab(new int8_t[65536 + 4](), std::default_delete<int8_t[]>());
  int8_t a[256], b[256];
  for (int i = 0; i < 256; i++) a[i] = static_cast<int8_t>(i);
  for (int i = 0; i < 256; i++) {
    for (int j = 0; j < 256; j++) b[j] = static_cast<int8_t>(i);
    add_rescale__ref(b, a, 256, p, tab.get() + i * 256);  // row i: a = int8 with bits i, b = every value
  }
  p.yab = std::move(tab);
  p.yab_symmetric = sym;
  return p;
}

void add_rescale(const int8_t* a, const int8_t* b, size_t n, const AddParams& p, int8_t* y) {
  check_zp_i8(p.a_zp, "add");
  check_zp_i8(p.b_zp, "add");
  check_zp_i8(p.y_zp, "add");
  BITFLASH_CHECK(p.left_shift >= 0 && p.left_shift <= 22, kErrArg, "add: left shift must be in 0..22");
  check_dy(p.a_mult, "add");
  check_dy(p.b_mult, "add");
  check_dy(p.y_mult, "add");
  const AddFn k = add_rescale_kernel().fn;
  run_elems(n, [&](size_t i0, size_t i1) { k(a + i0, b + i0, i1 - i0, p, y + i0); });
}

// ---------------- exp / softmax ----------------
ExpParams exp_prepare(double in_scale, ExpMethod method) {
  check_scale(in_scale, "exp", "input scale");
  BITFLASH_CHECK(in_scale >= std::ldexp(1.0, -20) && in_scale <= 64.0, kErrArg,
                 "exp: input scale must be in [2^-20, 64], received " + std::to_string(in_scale));
  BITFLASH_CHECK(method == ExpMethod::ibert_poly || method == ExpMethod::shift, kErrArg, "exp: unknown method");
  ExpParams p{};
  p.method = method;
  if (method == ExpMethod::ibert_poly) {
    // unit ln2 / 2^14: x0 = -ln2 is exactly -2^14
    pick_mul(in_scale / kLn2, 14, 12, 32768.0, &p.mul, &p.g);
    // e = 0 once q >= 17: -t >= 17 * 2^14  <=  -d >= 17 * 2^(14+g) / mul
    const int64_t lim = ((int64_t(17) << (14 + p.g)) + p.mul - 1) / p.mul;
    p.d_min = static_cast<int32_t>(lim > 32768 ? -32768 : -lim);
    const double u = kLn2 / 16384.0;
    p.b_int = static_cast<int32_t>(std::floor(1.353 / u));
    p.c_int = static_cast<int32_t>(std::floor(0.344 / 0.3585 / (u * u)));
    p.out_scale = 0.3585 * u * u * 16384.0;
  } else {
    // unit 2^-16 (natural log units); the I-ViT shifts give log2 units, where x0 = -1 is exactly -2^16
    pick_mul(in_scale, 16, 11, 32768.0, &p.mul, &p.g);
    // e = 0 once q >= 17: -t2 >= 1.4375 (-t) - 1 >= 17 * 2^16  <=  -d >= (17*2^16 + 1) * 16 * 2^g / (23 mul)
    const int64_t num = ((int64_t(17) << 16) + 1) * 16 * (int64_t(1) << p.g);
    const int64_t lim = (num + 23 * int64_t(p.mul) - 1) / (23 * int64_t(p.mul));
    p.d_min = static_cast<int32_t>(lim > 32768 ? -32768 : -lim);
    p.b_int = p.c_int = 0;
    p.out_scale = 1.0 / 65536.0;
  }
  BITFLASH_CHECK(p.mul >= 1, kErrArg, "exp: input scale too small");
  return p;
}

static void check_exp(const ExpParams& p) {
  BITFLASH_CHECK(p.method == ExpMethod::ibert_poly || p.method == ExpMethod::shift, kErrArg, "exp: unknown method");
  BITFLASH_CHECK(p.g >= 0 && p.g <= 12 && p.mul >= 1 && p.d_min <= 0 && p.d_min >= -32768 &&
                     static_cast<int64_t>(-p.d_min) * p.mul < (int64_t(1) << 31),
                 kErrArg, "exp: parameters not from exp_prepare");
}

void i_exp(const int16_t* d, size_t n, const ExpParams& p, int32_t* e) {
  check_exp(p);
  // the check reads all of d before any work: 16 independent maxima (the compiler keeps them in one
  // vector register) run at the cache's bandwidth, where one running maximum is a serial chain
  int16_t m16[16];
  for (int j = 0; j < 16; j++) m16[j] = INT16_MIN;
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; j++) m16[j] = d[i + j] > m16[j] ? d[i + j] : m16[j];
  int16_t mx = INT16_MIN;
  for (int j = 0; j < 16; j++) mx = m16[j] > mx ? m16[j] : mx;
  for (; i < n; i++) mx = d[i] > mx ? d[i] : mx;
  BITFLASH_CHECK(n == 0 || mx <= 0, kErrArg, "exp: inputs must be <= 0 (subtract the maximum), received " + std::to_string(mx));
  const ExpFn k = i_exp_kernel().fn;
  run_elems(n, [&](size_t i0, size_t i1) { k(d + i0, i1 - i0, p, e + i0); });
}

SoftmaxParams softmax_prepare(double in_scale, ExpMethod method) {
  SoftmaxParams p;
  p.exp = exp_prepare(in_scale, method);
  for (int k = 0; k < 256; k++) p.etab[k] = dyadic_detail::exp_core(-k, p.exp);
  return p;
}

void softmax_int(const int8_t* x, size_t rows, size_t cols, const SoftmaxParams& p, uint8_t* y) {
  check_exp(p.exp);
  BITFLASH_CHECK(cols > 0 && cols <= (size_t(1) << 24), kErrArg,
                 "softmax: row length must be in 1..2^24, received " + std::to_string(cols));
  const SoftmaxFn k = softmax_kernel().fn;
  run_rows(rows, cols, [&](size_t r0, size_t r1) { k(x + r0 * cols, r1 - r0, cols, p, y + r0 * cols); });
}

// ---------------- i-GELU ----------------
GeluParams gelu_prepare(double in_scale, double y_scale, int32_t y_zp) {
  check_scale(in_scale, "gelu", "input scale");
  check_scale(y_scale, "gelu", "output scale");
  check_zp_i8(y_zp, "gelu");
  BITFLASH_CHECK(in_scale <= 64.0, kErrArg, "gelu: input scale must be at most 64");
  GeluParams p{};
  const double se0 = in_scale / std::sqrt(2.0);
  int k = 0;
  while (k < 20 && 1.769 / std::ldexp(se0, -k) < 4096.0) k++;
  const double se = std::ldexp(se0, -k);
  p.k = k;
  p.B = static_cast<int32_t>(std::floor(1.769 / se));
  BITFLASH_CHECK(p.B >= 1 && p.B < 16384, kErrArg, "gelu: input scale out of range");
  const double c_real = 1.0 / (0.2888 * se * se);
  p.C = static_cast<int32_t>(std::floor(c_real));
  // the smallest erf shift n keeping |xs * ((E >> n) + ONE)| below 2^31
  const int64_t xmax = int64_t(128) << k;
  int n = 0;
  for (; n < 30; n++) {
    const int64_t one = static_cast<int64_t>(std::floor(std::ldexp(c_real, -n)));
    if (xmax * ((int64_t(p.C) >> n) + 1 + one) < (int64_t(1) << 31)) break;
  }
  p.n = n;
  const double s_erf = 0.2888 * se * se * std::ldexp(1.0, n);
  p.ONE = static_cast<int32_t>(std::floor(1.0 / s_erf));
  p.out = dyadic_from_scale(std::ldexp(in_scale, -k) * s_erf / 2.0 / y_scale);
  p.y_zp = y_zp;
  fill_lut(p, i_gelu__ref);
  return p;
}

void i_gelu(const int8_t* x, size_t n, const GeluParams& p, int8_t* y) {
  check_zp_i8(p.y_zp, "gelu");
  check_dy(p.out, "gelu");
  BITFLASH_CHECK(p.k >= 0 && p.k <= 20 && p.n >= 0 && p.n <= 30 && p.B >= 1 && p.B < 16384, kErrArg,
                 "gelu: parameters not from gelu_prepare");
  const GeluFn k = i_gelu_kernel().fn;
  run_elems(n, [&](size_t i0, size_t i1) { k(x + i0, i1 - i0, p, y + i0); });
}

// ---------------- ShiftGELU / SiLU ----------------
SigmoidMulParams sigmoid_mul_prepare(SigmoidAct act, double in_scale, double y_scale, int32_t y_zp) {
  check_scale(in_scale, "sigmoid", "input scale");
  check_scale(y_scale, "sigmoid", "output scale");
  check_zp_i8(y_zp, "sigmoid");
  BITFLASH_CHECK(act == SigmoidAct::shift_gelu || act == SigmoidAct::silu, kErrArg, "sigmoid: unknown activation");
  BITFLASH_CHECK(in_scale >= std::ldexp(1.0, -20) && in_scale <= 64.0, kErrArg,
                 "sigmoid: input scale must be in [2^-20, 64], received " + std::to_string(in_scale));
  SigmoidMulParams p{};
  p.act = act;
  pick_mul(in_scale, 16, 12, 65536.0, &p.mul, &p.g);
  BITFLASH_CHECK(p.mul >= 1, kErrArg, "sigmoid: input scale too small");
  p.out = dyadic_from_scale(in_scale / 4096.0 / y_scale);
  p.y_zp = y_zp;
  fill_lut(p, sigmoid_mul__ref);
  return p;
}

static void check_sig(const SigmoidMulParams& p, SigmoidAct want, const char* op) {
  BITFLASH_CHECK(p.act == want, kErrArg, std::string(op) + ": parameters prepared for another activation");
  BITFLASH_CHECK(p.g >= 0 && p.g <= 12 && p.mul >= 1 && p.mul <= (1 << 22), kErrArg,
                 std::string(op) + ": parameters not from sigmoid_mul_prepare");
  check_zp_i8(p.y_zp, op);
  check_dy(p.out, op);
}

void shift_gelu(const int8_t* x, size_t n, const SigmoidMulParams& p, int8_t* y) {
  check_sig(p, SigmoidAct::shift_gelu, "shift_gelu");
  const SigmoidMulFn k = sigmoid_mul_kernel().fn;
  run_elems(n, [&](size_t i0, size_t i1) { k(x + i0, i1 - i0, p, y + i0); });
}
void silu_int(const int8_t* x, size_t n, const SigmoidMulParams& p, int8_t* y) {
  check_sig(p, SigmoidAct::silu, "silu");
  const SigmoidMulFn k = sigmoid_mul_kernel().fn;
  run_elems(n, [&](size_t i0, size_t i1) { k(x + i0, i1 - i0, p, y + i0); });
}

// ---------------- LayerNorm / RMSNorm ----------------
NormPrepared::~NormPrepared() {
  delete[] mult;
  delete[] bias;
}

void norm_prepare(NormPrepared& out, bool layernorm, size_t cols, const float* gamma, const float* beta,
                  double y_scale, int32_t y_zp) {
  BITFLASH_CHECK(cols > 0 && cols <= (size_t(1) << 15), kErrArg,
                 "norm: row length must be in 1..32768, received " + std::to_string(cols));
  check_scale(y_scale, "norm", "output scale");
  check_zp_i8(y_zp, "norm");
  Dyadic* m = new Dyadic[cols];
  int32_t* b = new int32_t[cols];
  try {
    const double k = std::sqrt(static_cast<double>(cols)) / (y_scale * 1073741824.0);
    for (size_t j = 0; j < cols; j++) {
      BITFLASH_CHECK(std::isfinite(gamma[j]), kErrArg, "norm: gamma must be finite");
      m[j] = dyadic_from_scale(gamma[j] * k);
      const double bj = beta ? static_cast<double>(beta[j]) / y_scale : 0.0;
      BITFLASH_CHECK(std::isfinite(bj) && std::fabs(bj) <= 1048576.0, kErrArg,
                     "norm: |beta / output scale| must be at most 2^20");
      b[j] = static_cast<int32_t>(std::llround(bj)) + y_zp;
    }
  } catch (...) {
    delete[] m;
    delete[] b;
    throw;
  }
  delete[] out.mult;
  delete[] out.bias;
  out.mult = m;
  out.bias = b;
  out.cols = cols;
  out.center = layernorm;
}

void norm_int(const int8_t* x, size_t rows, const NormParams& p, int8_t* y) {
  BITFLASH_CHECK(p.cols > 0 && p.cols <= (size_t(1) << 15) && p.mult && p.bias, kErrArg,
                 "norm: parameters not from norm_prepare");
  for (size_t j = 0; j < p.cols; j++) {
    check_dy(p.mult[j], "norm");
    BITFLASH_CHECK(p.bias[j] >= -(1 << 20) - 128 && p.bias[j] <= (1 << 20) + 128, kErrArg, "norm: bias out of range");
  }
  const NormFn k = norm_kernel().fn;
  run_rows(rows, p.cols, [&](size_t r0, size_t r1) { k(x + r0 * p.cols, r1 - r0, p, y + r0 * p.cols); });
}

}  // namespace bitflash
