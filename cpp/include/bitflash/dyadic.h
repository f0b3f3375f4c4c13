// Dyadic arithmetic and integer-only transformer ops (issue 6; HAWQ-V3, I-BERT, I-ViT).
//
// ---- The dyadic number ----
// Dyadic{m, s} means m / 2^s, m an int32, s in 0..62. dyadic_from_scale(x) (x finite, |x| < 2^31):
//   x = f * 2^e with f in [0.5, 1) (frexp); m = llround(f * 2^31) (round half away from zero; the
//   product is exact in double, so m is the correctly rounded 31-bit mantissa, m in [2^30, 2^31));
//   if the rounding carries to 2^31, m = 2^30 and e += 1; s = 31 - e. When s would exceed 62 (x < 2^-32)
//   s = 62 and m = llround(x * 2^62) (fewer significant bits; 0 when x < 2^-63). x = 0 gives {0, 0}.
//   Negative x gives negative m. |x| >= 2^31 throws Error(kErrArg).
//
// ---- The rounding rule of requantize (gemmlowp / TFLite MultiplyByQuantizedMultiplier) ----
//   y = x * m / 2^s is computed as
//   1. if s < 31: x' = saturate_int32(x * 2^(31 - s)) (a left shift, saturating), else x' = x;
//   2. h = SRDHM(x', m) = SaturatingRoundingDoublingHighMul: the high 32 bits of 2*x'*m, rounded.
//      gemmlowp writes it as (x'*m + nudge) / 2^31 with nudge = 2^30 if x'*m >= 0 else 1 - 2^30 and a
//      division that truncates toward zero. That equals floor((x'*m + 2^30) / 2^31): ties round UP
//      (toward +infinity) for both signs, e.g. x'*m = -2^30 (-0.5) -> 0, +2^30 (+0.5) -> 1.
//      The single overflow, x' = m = INT32_MIN, saturates to INT32_MAX.
//   3. if s > 31: y = RDBPOT(h, s - 31) = RoundingDivideByPOT: h / 2^k rounded to nearest, ties AWAY
//      from zero (-2.5 -> -3, 2.5 -> 3); k in 0..31. Otherwise y = h.
//   4. out = saturate_to_output_type(y + zero_point) (i8 [-128,127], u8 [0,255], i16 [-32768,32767]).
//   Exact integer arithmetic throughout: every path (scalar, AVX2) gives the same bits.
//
// ---- Integer-only ops ----
// Each op has a prepare step (the only float math: it turns float scales into integer constants)
// and a kernel on raw pointers (integer-only): a scalar __ref that is the spec and SIMD variants
// equal to it bit for bit. Ops validate, split whole rows (or chunks of elementwise data) over the
// thread pool and call the dispatched kernel. Invalid arguments throw bitflash::Error(kErrArg).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "bitflash/dispatch.h"
#include "bitflash/dtypes.h"

namespace bitflash {

struct Dyadic {
  int32_t m;  // multiplier
  int s;      // shift, 0..62: value m / 2^s
};

Dyadic dyadic_from_scale(double x);
inline double dyadic_value(Dyadic d) { return static_cast<double>(d.m) / static_cast<double>(1ull << d.s); }

// ---- scalar building blocks (static: no ODR sharing between baseline and ISA objects) ----
namespace dyadic_detail {

// floor((a*b + 2^30) / 2^31), INT32_MIN*INT32_MIN -> INT32_MAX (identical to gemmlowp's formula).
static inline int32_t srdhm(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  const int64_t ab = static_cast<int64_t>(a) * b;
  return static_cast<int32_t>((ab + (int64_t(1) << 30)) >> 31);
}
// x / 2^k rounded to nearest, ties away from zero; k in 0..31.
static inline int32_t rdbpot(int32_t x, int k) {
  const uint32_t mask = k == 0 ? 0u : (0xffffffffu >> (32 - k));
  const uint32_t rem = static_cast<uint32_t>(x) & mask;
  const uint32_t threshold = (mask >> 1) + (x < 0 ? 1u : 0u);
  return (x >> k) + (rem > threshold ? 1 : 0);
}
static inline int32_t sat_shl(int32_t x, int k) {  // k in 0..31
  const int64_t v = static_cast<int64_t>(x) * (int64_t(1) << k);
  return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : static_cast<int32_t>(v);
}
// x * m / 2^s by the rule above (no zero point, no output saturation).
static inline int32_t mul_dyadic(int32_t x, Dyadic d) {
  if (d.s < 31) return srdhm(sat_shl(x, 31 - d.s), d.m);
  return rdbpot(srdhm(x, d.m), d.s - 31);
}
static inline int32_t clamp_i32(int64_t v, int32_t lo, int32_t hi) {
  return v < lo ? lo : v > hi ? hi : static_cast<int32_t>(v);
}

}  // namespace dyadic_detail

// Exact floor(sqrt(x)) by Newton's iteration on integers (no floating point).
uint64_t isqrt_u64(uint64_t x);

// =====================================================================================
// Requantize int32 -> i8 | u8 | i16.
// Per tensor: channels = 1, mult[0] for every element. Per channel: element i uses
// mult[i % channels] (channels innermost, e.g. a [rows, channels] matmul output); n must be a
// multiple of channels. zero_point must lie in the output type's range.
void requantize(const int32_t* in, size_t n, const Dyadic* mult, size_t channels, int32_t zero_point,
                DType out_type, void* out);

// Row kernel: n elements; per_channel: element j uses mult[j], else mult[0]. out_type i8|u8|i16.
using RequantizeFn = void (*)(const int32_t* in, size_t n, const Dyadic* mult, bool per_channel,
                              int32_t zero_point, DType out_type, void* out);
void requantize__ref(const int32_t* in, size_t n, const Dyadic* mult, bool per_channel, int32_t zero_point,
                     DType out_type, void* out);
void requantize__avx2(const int32_t* in, size_t n, const Dyadic* mult, bool per_channel, int32_t zero_point,
                      DType out_type, void* out);
// AVX-512 (under avx512vnni): 16 lanes; a uniform multiplier with s >= 31 fuses SRDHM and the rounding
// shift into one exact 64-bit computation; i8/u8 stored 64 at a time through saturating packs.
void requantize__avx512(const int32_t* in, size_t n, const Dyadic* mult, bool per_channel, int32_t zero_point,
                        DType out_type, void* out);
// arm64 NEON: sqshl / sqrdmulh / sign-fixed srshl (bitflash/dyadic-neon-inl.h shows each equals the rule).
void requantize__neon(const int32_t* in, size_t n, const Dyadic* mult, bool per_channel, int32_t zero_point,
                      DType out_type, void* out);

// =====================================================================================
// Integer linear (reference only; the fused matmul epilogue uses the same requantize rule):
// y[i][j] = sat_i8(mul_dyadic(sum_k (x[i][k] - x_zp) * w[j][k] + bias[j], mult[j or 0]) + y_zp)
// x: m x k int8 (row major), w: n x k int8 (row major, symmetric), bias: n int32 or nullptr,
// n_mult 1 (per tensor) or n (per output channel). Throws on an int32 accumulator overflow.
void int_linear__ref(const int8_t* x, int32_t x_zp, const int8_t* w, const int32_t* bias, size_t m, size_t n,
                     size_t k, const Dyadic* mult, size_t n_mult, int32_t y_zp, int8_t* y);

// =====================================================================================
// Add with rescale (residual): y = sat_i8(round((a - a_zp)*a_scale/y_scale + (b - b_zp)*b_scale/y_scale) + y_zp)
// computed the TFLite way: each input shifted left 20 bits, rescaled to a common scale with its own
// dyadic multiplier, summed, then requantized to the output scale.
struct AddParams {
  int32_t a_zp, b_zp, y_zp;
  int left_shift;  // 20
  Dyadic a_mult, b_mult, y_mult;
  // ta[uint8_t(a)] = mul_dyadic((a - a_zp) << left_shift, a_mult), tb likewise: each input's rescaled
  // term takes 256 values, built by add_prepare with the scalar core (used by add_rescale__avx512; the
  // fields above must not be changed after add_prepare).
  int32_t ta[256], tb[256];
  // The whole op as a table: yab[uint8_t(a) * 256 + uint8_t(b)] = add_rescale__ref's output for the pair
  // (65536 bytes + 4 of padding for dword gathers), built by add_prepare; add_rescale__avx512 gathers it
  // (one gather per 16 outputs instead of two gathers and a dyadic multiply). Shared so copies stay
  // cheap; nullptr (or any field changed after add_prepare: reset it then) means compute.
  std::shared_ptr<const int8_t> yab;
  // Set by add_prepare when a_zp == b_zp and a_mult == b_mult: then y(a, b) = y(b, a), and
  // add_rescale__avx512 reads yab at max(a, b) * 256 + min(a, b) only (half the table stays in L1).
  bool yab_symmetric = false;
};
AddParams add_prepare(double a_scale, int32_t a_zp, double b_scale, int32_t b_zp, double y_scale, int32_t y_zp);
void add_rescale(const int8_t* a, const int8_t* b, size_t n, const AddParams& p, int8_t* y);
using AddFn = void (*)(const int8_t* a, const int8_t* b, size_t n, const AddParams& p, int8_t* y);
void add_rescale__ref(const int8_t* a, const int8_t* b, size_t n, const AddParams& p, int8_t* y);
void add_rescale__avx2(const int8_t* a, const int8_t* b, size_t n, const AddParams& p, int8_t* y);
// AVX-512 (under avx512vnni): both rescaled terms gathered from p.ta / p.tb, one dyadic multiply per element.
void add_rescale__avx512(const int8_t* a, const int8_t* b, size_t n, const AddParams& p, int8_t* y);
void add_rescale__neon(const int8_t* a, const int8_t* b, size_t n, const AddParams& p, int8_t* y);

// =====================================================================================
// Integer exp and softmax.
// ibert_poly: I-BERT's i-exp: x = -ln2*q + r, r in (-ln2, 0], exp(r) ~ 0.3585*(r + 1.353)^2 + 0.344
//   evaluated in integers, then shifted right by q.
// shift: I-ViT's Shift-exp: x*log2(e) ~ x + (x>>1) - (x>>4), split into integer part q and fraction
//   r in (-1, 0], 2^r ~ 1 + r/2, shifted right by q.
// Both take d <= 0 (x - max of the row) with scale `in_scale`. Instead of the papers' integer
// division by x0 = floor(-ln2/S) (or floor(-1/S)), prepare rescales d once by an integer multiplier
// to a unit in which x0 is exactly 2^F (F = 14 for ibert_poly, 16 for shift), so the range reduction
// is a shift and a mask: t = (max(d, d_min) * mul) >> g. d_min is where the result is already 0.
enum class ExpMethod : int { ibert_poly = 0, shift = 1 };
struct ExpParams {
  ExpMethod method;
  int32_t mul;    // t = (d * mul) >> g: ibert_poly: unit ln2 / 2^14; shift: unit 1 / 2^16 (natural log units)
  int g;
  int32_t d_min;  // d is clamped to >= d_min (every d <= d_min gives 0)
  int32_t b_int, c_int;  // ibert_poly: (r + b_int)^2 + c_int
  double out_scale;      // the value of one unit of the exp output (float, for the caller)
};
ExpParams exp_prepare(double in_scale, ExpMethod method);
// e[i] ~ exp(in_scale * d[i]) / out_scale for d[i] <= 0 (int16, e.g. differences x - max); d > 0 throws.
// The output is below 2^17 (ibert_poly) or at most 2^16 (shift).
void i_exp(const int16_t* d, size_t n, const ExpParams& p, int32_t* e);
using ExpFn = void (*)(const int16_t* d, size_t n, const ExpParams& p, int32_t* e);
void i_exp__ref(const int16_t* d, size_t n, const ExpParams& p, int32_t* e);
void i_exp__avx2(const int16_t* d, size_t n, const ExpParams& p, int32_t* e);
// AVX-512 (under avx512vnni): 16 lanes, the products by vpmaddwd when their factors fit 16 bits.
void i_exp__avx512(const int16_t* d, size_t n, const ExpParams& p, int32_t* e);
void i_exp__neon(const int16_t* d, size_t n, const ExpParams& p, int32_t* e);

// Softmax over each row of int8 scores (scale in_scale) -> u8 probabilities with scale 1/256:
// e_j = i-exp(x_j - max), S = sum e_j (64-bit), factor = S < 2^31 ? floor((2^31 - 1) / S) : 0 (one
// integer division per row), y_j = min(255, (e_j * factor + 2^22) >> 23). cols <= 2^24.
struct SoftmaxParams {
  ExpParams exp;
  // etab[k] = exp_core(-k, exp) for k = 0..255: every value x - max can take for int8 scores, built by
  // softmax_prepare with the scalar core (the table kernels are bit-exact with the reference by construction).
  int32_t etab[256];
};
SoftmaxParams softmax_prepare(double in_scale, ExpMethod method);
void softmax_int(const int8_t* x, size_t rows, size_t cols, const SoftmaxParams& p, uint8_t* y);
using SoftmaxFn = void (*)(const int8_t* x, size_t rows, size_t cols, const SoftmaxParams& p, uint8_t* y);
void softmax__ref(const int8_t* x, size_t rows, size_t cols, const SoftmaxParams& p, uint8_t* y);
void softmax__avx2(const int8_t* x, size_t rows, size_t cols, const SoftmaxParams& p, uint8_t* y);
// AVX-512 (under avx512vnni): the exps gathered from p.etab (16 lanes), the rest as softmax__avx2.
void softmax__avx512(const int8_t* x, size_t rows, size_t cols, const SoftmaxParams& p, uint8_t* y);
void softmax__neon(const int8_t* x, size_t rows, size_t cols, const SoftmaxParams& p, uint8_t* y);

// =====================================================================================
// i-GELU (I-BERT): GELU(x) = x/2 * (1 + erf(x/sqrt2)), erf(u) ~ sgn(u)*[1 - 0.2888*(min(|u|,1.769) - 1.769)^2]
// in integers: xs = x << k (k chosen so the erf constants carry ~13 bits), a = min(|xs|, B),
// E = sgn(xs) * (C - (a - B)^2) >> n, g = xs * (E + ONE), y = sat_i8(mul_dyadic(g, out) + y_zp).
struct GeluParams {
  int k;         // input upshift
  int32_t B;     // round-free floor(1.769 / S_e), S_e = in_scale / 2^k / sqrt2
  int32_t C;     // floor(1 / (0.2888 * S_e^2))
  int n;         // erf shift (keeps the product in int32)
  int32_t ONE;   // floor(1 / S_erf), S_erf = 0.2888 * S_e^2 * 2^n
  Dyadic out;    // (in_scale / 2^k) * S_erf / 2 / y_scale
  int32_t y_zp;
  // lut[uint8_t(x)] = the reference's output for input x, built by gelu_prepare running i_gelu__ref on
  // all 256 inputs: the table kernels (__lut_*) are bit-exact with the reference by construction.
  int8_t lut[256];
};
GeluParams gelu_prepare(double in_scale, double y_scale, int32_t y_zp);
void i_gelu(const int8_t* x, size_t n, const GeluParams& p, int8_t* y);
using GeluFn = void (*)(const int8_t* x, size_t n, const GeluParams& p, int8_t* y);
void i_gelu__ref(const int8_t* x, size_t n, const GeluParams& p, int8_t* y);
void i_gelu__avx2(const int8_t* x, size_t n, const GeluParams& p, int8_t* y);
void i_gelu__lut_avx2(const int8_t* x, size_t n, const GeluParams& p, int8_t* y);
void i_gelu__lut_avx512(const int8_t* x, size_t n, const GeluParams& p, int8_t* y);
void i_gelu__lut_neon(const int8_t* x, size_t n, const GeluParams& p, int8_t* y);

// =====================================================================================
// x * sigmoid(alpha * x) through the Shift-exp (I-ViT): ShiftGELU (alpha = 1.702 ~ 1 + 1/2 + 1/8 + 1/16,
// applied with shifts) and SiLU (alpha = 1).
//   t = (x * mul) >> g in units of 2^-16 (natural units), then for GELU t += (t>>1) + (t>>3) + (t>>4);
//   e = shift-exp(-|t|) in (0, 2^16] (2^-16 units); sigmoid: N = (t >= 0 ? 2^16 : e), D = 2^16 + e,
//   sig = floor(N * 2^12 / D) (an exact integer division, 0..4096); v = x * sig;
//   y = sat_i8(mul_dyadic(v, out) + y_zp).
enum class SigmoidAct : int { shift_gelu = 0, silu = 1 };
struct SigmoidMulParams {
  SigmoidAct act;
  int32_t mul;
  int g;
  Dyadic out;  // in_scale / 2^12 / y_scale
  int32_t y_zp;
  int8_t lut[256];  // lut[uint8_t(x)] = sigmoid_mul__ref(x), built by sigmoid_mul_prepare (see GeluParams)
};
SigmoidMulParams sigmoid_mul_prepare(SigmoidAct act, double in_scale, double y_scale, int32_t y_zp);
void shift_gelu(const int8_t* x, size_t n, const SigmoidMulParams& p, int8_t* y);  // p.act must be shift_gelu
void silu_int(const int8_t* x, size_t n, const SigmoidMulParams& p, int8_t* y);    // p.act must be silu
using SigmoidMulFn = void (*)(const int8_t* x, size_t n, const SigmoidMulParams& p, int8_t* y);
void sigmoid_mul__ref(const int8_t* x, size_t n, const SigmoidMulParams& p, int8_t* y);
void sigmoid_mul__avx2(const int8_t* x, size_t n, const SigmoidMulParams& p, int8_t* y);
void sigmoid_mul__lut_avx2(const int8_t* x, size_t n, const SigmoidMulParams& p, int8_t* y);
void sigmoid_mul__lut_avx512(const int8_t* x, size_t n, const SigmoidMulParams& p, int8_t* y);
void sigmoid_mul__lut_neon(const int8_t* x, size_t n, const SigmoidMulParams& p, int8_t* y);

// =====================================================================================
// y[i] = tab[uint8_t(x[i])]: the int8 -> int8 table lookup behind the __lut_* kernels (AVX2: 16
// vpshufb over 16-entry slices per 32 bytes; AVX-512 BW: 16 masked vpshufb per 64 bytes).
void lut_i8__ref(const int8_t* x, size_t n, const int8_t* tab, int8_t* y);
void lut_i8__avx2(const int8_t* x, size_t n, const int8_t* tab, int8_t* y);
void lut_i8__avx512(const int8_t* x, size_t n, const int8_t* tab, int8_t* y);
// arm64 NEON: one tbl + three tbx over the table held in 16 q registers, 16 bytes per step.
void lut_i8__neon(const int8_t* x, size_t n, const int8_t* tab, int8_t* y);

// =====================================================================================
// Integer LayerNorm and RMSNorm over rows of int8 (the input scale and zero point cancel out, except
// RMSNorm which needs a zero point of 0: x is taken as symmetric).
//   LayerNorm: c_j = cols*x_j - sum(x) (exact centring), V = sum c_j^2 (64-bit); RMSNorm: c_j = x_j, V = sum x_j^2.
//   h = max(0, (61 - bitlen(V)) / 2), sd = isqrt(V << 2h) (~2^h sqrt(V), >= 30 significant bits),
//   k = max(0, bitlen(sd) - h - 15), f = sd ? floor(2^(30+h+k) / sd) : 0 (f < 2^31);
//   r_j = (c_j * f) >> k  (|r_j| <= 2^30 + 1, r_j ~ 2^30 * c_j / sqrt(V));
//   y_j = sat_i8(mul_dyadic(r_j, mult[j]) + bias[j]),
//   mult[j] = gamma_j * sqrt(cols) / (y_scale * 2^30), bias[j] = round(beta_j / y_scale) + y_zp.
// cols <= 2^15 (keeps V below 2^62).
struct NormParams {
  bool center;  // LayerNorm (true) or RMSNorm (false)
  size_t cols;
  const Dyadic* mult;    // cols entries, owned by the caller (see NormPrepared)
  const int32_t* bias;   // cols entries
};
// Owns the per-channel constants; params() points into it.
struct NormPrepared {
  bool center = true;
  size_t cols = 0;
  Dyadic* mult = nullptr;
  int32_t* bias = nullptr;
  NormPrepared() = default;
  NormPrepared(const NormPrepared&) = delete;
  NormPrepared& operator=(const NormPrepared&) = delete;
  ~NormPrepared();
  NormParams params() const { return {center, cols, mult, bias}; }
};
// gamma, beta: cols floats each (beta may be nullptr: zero; RMSNorm usually has none).
void norm_prepare(NormPrepared& out, bool layernorm, size_t cols, const float* gamma, const float* beta,
                  double y_scale, int32_t y_zp);
void norm_int(const int8_t* x, size_t rows, const NormParams& p, int8_t* y);
using NormFn = void (*)(const int8_t* x, size_t rows, const NormParams& p, int8_t* y);
void norm__ref(const int8_t* x, size_t rows, const NormParams& p, int8_t* y);
void norm__avx2(const int8_t* x, size_t rows, const NormParams& p, int8_t* y);
// AVX-512 (under avx512vnni): the row statistics with 16-bit multiply-adds (LayerNorm's V computed as
// cols * (cols * sum x^2 - (sum x)^2), the same integer), the output 16 lanes at a time.
void norm__avx512(const int8_t* x, size_t rows, const NormParams& p, int8_t* y);
// arm64: NEON (statistics by smull + sadalp) and dotprod (sum x, sum x^2 by sdot); V as norm__avx512.
void norm__neon(const int8_t* x, size_t rows, const NormParams& p, int8_t* y);
void norm__dotprod(const int8_t* x, size_t rows, const NormParams& p, int8_t* y);

// ---- scalar cores shared by the references and the SIMD tails (static: see above) ----
namespace dyadic_detail {
// I-ViT Shift-exp of t <= 0 given in units of 2^-16 (natural log units): x*log2(e) ~ t + (t>>1) - (t>>4),
// q = integer part, r = fraction in (-2^16, 0], 2^(r/2^16) ~ 1 + r/2^17: result in units of 2^-16, <= 2^16.
static inline int32_t shift_exp16(int32_t t) {
  const int32_t t2 = t + (t >> 1) - (t >> 4);
  const int32_t nt = -t2;
  const int32_t q = nt >> 16;
  const int32_t r = -(nt & 0xffff);
  const int32_t e0 = (r >> 1) + 65536;
  return e0 >> (q > 31 ? 31 : q);
}
// i-exp of d <= 0 (see ExpParams).
static inline int32_t exp_core(int32_t d, const ExpParams& p) {
  if (d < p.d_min) d = p.d_min;
  const int32_t t = (d * p.mul) >> p.g;
  if (p.method == ExpMethod::shift) return shift_exp16(t);
  const int32_t nt = -t;
  const int32_t q = nt >> 14;
  const int32_t u = p.b_int - (nt & 0x3fff);
  const int32_t z = u * u + p.c_int;
  return z >> (q + 14 > 31 ? 31 : q + 14);
}
// x * sigmoid(alpha x) as int32 with scale in_scale / 2^12 (see SigmoidMulParams).
static inline int32_t sigmoid_mul_core(int32_t x, const SigmoidMulParams& p) {
  const int32_t t = (x * p.mul) >> p.g;
  int32_t u = t < 0 ? -t : t;
  if (p.act == SigmoidAct::shift_gelu) u = u + (u >> 1) + (u >> 3) + (u >> 4);
  const int32_t e = shift_exp16(-u);
  const int32_t num = t >= 0 ? 65536 : e;
  const int32_t sig = (num << 12) / (65536 + e);
  return x * sig;
}
// The normalisation factor of a row with sum of squares V (see NormParams): returns f, sets *k.
static inline int64_t norm_factor(uint64_t v, int* k) {
  *k = 0;
  if (v == 0) return 0;
  const int vb = 64 - __builtin_clzll(v);
  const int h = vb < 61 ? (61 - vb) / 2 : 0;
  const uint64_t sd = isqrt_u64(v << (2 * h));
  const int sb = 64 - __builtin_clzll(sd);
  *k = sb - h - 15 > 0 ? sb - h - 15 : 0;
  return static_cast<int64_t>((uint64_t(1) << (30 + h + *k)) / sd);
}
static inline int32_t gelu_core(int32_t x, const GeluParams& p) {
  const int32_t xs = x * (1 << p.k);
  const int32_t ax = xs < 0 ? -xs : xs;
  const int32_t a = (ax < p.B ? ax : p.B) - p.B;
  int32_t e = p.C - a * a;
  e = xs > 0 ? e : xs < 0 ? -e : 0;
  return xs * ((e >> p.n) + p.ONE);
}
}  // namespace dyadic_detail

// The variants the dispatcher picks now (cpp/dispatch/config-dyadic.cc).
const Variant<RequantizeFn>& requantize_kernel();
const Variant<AddFn>& add_rescale_kernel();
const Variant<ExpFn>& i_exp_kernel();
const Variant<SoftmaxFn>& softmax_kernel();
const Variant<GeluFn>& i_gelu_kernel();
const Variant<SigmoidMulFn>& sigmoid_mul_kernel();
const Variant<NormFn>& norm_kernel();

}  // namespace bitflash
