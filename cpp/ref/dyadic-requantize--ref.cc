// Scalar references (the spec) for the dyadic number, requantization, the integer square root and
// the integer linear layer. The rounding rule is stated at the top of bitflash/dyadic.h.
#include <cmath>
#include <string>

#include "bitflash/dyadic.h"
#include "bitflash/error.h"

namespace bitflash {

using namespace dyadic_detail;

Dyadic dyadic_from_scale(double x) {
  BITFLASH_CHECK(std::isfinite(x), kErrArg, "dyadic_from_scale: scale must be finite");
  BITFLASH_CHECK(std::fabs(x) < 2147483648.0, kErrArg,
                 "dyadic_from_scale: |scale| must be below 2^31, received " + std::to_string(x));
  if (x == 0.0) return {0, 0};
  int e = 0;
  const double f = std::frexp(x, &e);  // x = f * 2^e, |f| in [0.5, 1)
  long long m = std::llround(std::ldexp(f, 31));  // exact product, rounded half away from zero
  if (m == (1ll << 31) || m == -(1ll << 31)) {
    m /= 2;
    e += 1;
  }
  int s = 31 - e;
  if (s > 62) {
    s = 62;
    m = std::llround(std::ldexp(x, 62));  // |x| < 2^-32: |m| < 2^30, exact product
    if (m == 0) return {0, 0};
  }
  // s >= 0 since |x| < 2^31 means e <= 31.
  return {static_cast<int32_t>(m), s};
}

uint64_t isqrt_u64(uint64_t x) {
  if (x < 2) return x;
  // floor(sqrt(x)), exactly: the double square root lands within a unit or two of the root (x rounds
  // to 53 bits, the square root rounds once), and integer steps then fix it: r^2 <= x < (r + 1)^2.
  // No division (the norms call this once per row, where a Newton iteration's divisions cost as
  // much as the row's vector work). r <= 2^32 - 1 keeps every square inside uint64.
  uint64_t r = static_cast<uint64_t>(std::sqrt(static_cast<double>(x)));
  if (r > 0xffffffffu) r = 0xffffffffu;
  while (r * r > x) r--;
  while (r < 0xffffffffu && (r + 1) * (r + 1) <= x) r++;
  return r;
}

void requantize__ref(const int32_t* in, size_t n, const Dyadic* mult, bool per_channel, int32_t zero_point,
                     DType out_type, void* out) {
  int32_t lo = -128, hi = 127;
  if (out_type == DType::u8) lo = 0, hi = 255;
  if (out_type == DType::i16) lo = -32768, hi = 32767;
  for (size_t i = 0; i < n; i++) {
    const Dyadic d = per_channel ? mult[i] : mult[0];
    const int32_t v = clamp_i32(static_cast<int64_t>(mul_dyadic(in[i], d)) + zero_point, lo, hi);
    switch (out_type) {
      case DType::u8: static_cast<uint8_t*>(out)[i] = static_cast<uint8_t>(v); break;
      case DType::i16: static_cast<int16_t*>(out)[i] = static_cast<int16_t>(v); break;
      default: static_cast<int8_t*>(out)[i] = static_cast<int8_t>(v); break;
    }
  }
}

void int_linear__ref(const int8_t* x, int32_t x_zp, const int8_t* w, const int32_t* bias, size_t m, size_t n,
                     size_t k, const Dyadic* mult, size_t n_mult, int32_t y_zp, int8_t* y) {
  BITFLASH_CHECK(m > 0 && n > 0 && k > 0, kErrArg, "int_linear: m, n and k must be positive");
  BITFLASH_CHECK(n_mult == 1 || n_mult == n, kErrArg,
                 "int_linear: multipliers must be 1 (per tensor) or n (per channel), received " +
                     std::to_string(n_mult));
  BITFLASH_CHECK(x_zp >= -128 && x_zp <= 127 && y_zp >= -128 && y_zp <= 127, kErrArg,
                 "int_linear: zero points must lie in [-128, 127]");
  for (size_t j = 0; j < n_mult; j++)
    BITFLASH_CHECK(mult[j].s >= 0 && mult[j].s <= 62, kErrArg, "int_linear: dyadic shift must be in 0..62");
  for (size_t i = 0; i < m; i++) {
    for (size_t j = 0; j < n; j++) {
      int64_t acc = bias ? bias[j] : 0;
      for (size_t p = 0; p < k; p++)
        acc += static_cast<int64_t>(x[i * k + p] - x_zp) * w[j * k + p];
      BITFLASH_CHECK(acc >= INT32_MIN && acc <= INT32_MAX, kErrArg, "int_linear: int32 accumulator overflow");
      const Dyadic d = mult[n_mult == 1 ? 0 : j];
      y[i * n + j] = static_cast<int8_t>(
          clamp_i32(static_cast<int64_t>(mul_dyadic(static_cast<int32_t>(acc), d)) + y_zp, -128, 127));
    }
  }
}

}  // namespace bitflash
