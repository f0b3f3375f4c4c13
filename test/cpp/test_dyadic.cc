// Dyadic numbers and requantization: hand-computed vectors for the rounding rule stated in
// bitflash/dyadic.h, every SIMD path equal to the reference bit for bit, error paths, int_linear.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bitflash/dyadic.h"
#include "bitflash/error.h"
#include "bitflash/isa.h"
#include "test-util.h"

using namespace bitflash;
using bitflash::test::CapGuard;
using bitflash::test::host_isas;
using namespace bitflash::dyadic_detail;

namespace {
// gemmlowp's SaturatingRoundingDoublingHighMul, written literally (truncating division).
int32_t gemmlowp_srdhm(int32_t a, int32_t b) {
  const bool overflow = a == b && a == INT32_MIN;
  const int64_t ab = static_cast<int64_t>(a) * b;
  const int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  const int32_t r = static_cast<int32_t>((ab + nudge) / (int64_t(1) << 31));
  return overflow ? INT32_MAX : r;
}
int32_t gemmlowp_rdbpot(int32_t x, int e) {
  const int32_t mask = static_cast<int32_t>((int64_t(1) << e) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> e) + (remainder > threshold ? 1 : 0);
}
std::vector<int8_t> rq_i8(std::vector<int32_t> in, std::vector<Dyadic> m, int32_t zp = 0) {
  std::vector<int8_t> out(in.size());
  requantize(in.data(), in.size(), m.data(), m.size(), zp, DType::i8, out.data());
  return out;
}
}  // namespace

TEST_CASE("dyadic_from_scale: 31-bit mantissa, frexp normalisation, rounding, limits") {
  Dyadic d = dyadic_from_scale(0.5);
  CHECK(d.m == (1 << 30));
  CHECK(d.s == 31);
  d = dyadic_from_scale(1.0);
  CHECK(d.m == (1 << 30));
  CHECK(d.s == 30);
  d = dyadic_from_scale(0.75);
  CHECK(d.m == 1610612736);
  CHECK(d.s == 31);
  d = dyadic_from_scale(-0.75);
  CHECK(d.m == -1610612736);
  CHECK(d.s == 31);
  d = dyadic_from_scale(1.0 / 3.0);  // 2/3 * 2^31 = 1431655765.33 -> 1431655765, s = 32
  CHECK(d.m == 1431655765);
  CHECK(d.s == 32);
  d = dyadic_from_scale(0.5 + std::ldexp(1.0, -32));  // mantissa 2^30 + 0.5: tie, away from zero
  CHECK(d.m == (1 << 30) + 1);
  CHECK(d.s == 31);
  d = dyadic_from_scale(1.0 - std::ldexp(1.0, -32));  // mantissa 2^31 - 0.5 rounds to 2^31: carry
  CHECK(d.m == (1 << 30));
  CHECK(d.s == 30);
  d = dyadic_from_scale(2147483647.0);
  CHECK(d.m == 2147483647);
  CHECK(d.s == 0);
  d = dyadic_from_scale(std::ldexp(1.0, -40));  // s capped at 62: m = 2^22
  CHECK(d.m == (1 << 22));
  CHECK(d.s == 62);
  d = dyadic_from_scale(std::ldexp(1.0, -63));  // 0.5 at the last step: rounds away to 1
  CHECK(d.m == 1);
  CHECK(d.s == 62);
  d = dyadic_from_scale(std::ldexp(1.0, -65));
  CHECK(d.m == 0);
  d = dyadic_from_scale(0.0);
  CHECK(d.m == 0);
  CHECK(d.s == 0);
  CHECK_THROWS_AS(dyadic_from_scale(2147483648.0), Error);
  CHECK_THROWS_AS(dyadic_from_scale(NAN), Error);
  CHECK_THROWS_AS(dyadic_from_scale(INFINITY), Error);
  // random scales: |m| in [2^30, 2^31) and relative error <= 2^-31
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(-31.0, 20.0);  // x >= 2^-31: s <= 62 without the cap
  for (int i = 0; i < 10000; i++) {
    const double x = std::exp2(u(rng)) * (i & 1 ? -1 : 1);
    const Dyadic q = dyadic_from_scale(x);
    CHECK(std::abs(static_cast<int64_t>(q.m)) >= (int64_t(1) << 30));
    CHECK(std::fabs(dyadic_value(q) - x) <= std::fabs(x) * std::ldexp(1.0, -31));
  }
}

TEST_CASE("SRDHM: ties upward, saturation, and equality with gemmlowp's literal formula") {
  CHECK(srdhm(INT32_MIN, INT32_MIN) == INT32_MAX);
  CHECK(srdhm(1 << 30, 1) == 1);        // +0.5 -> 1
  CHECK(srdhm(-(1 << 30), 1) == 0);     // -0.5 -> 0 (toward +inf)
  CHECK(srdhm(3 << 29, 2) == 2);        // 3*2^30/2^31 = 1.5 -> 2
  CHECK(srdhm(-(3 << 29), 2) == -1);    // -1.5 -> -1
  CHECK(srdhm(INT32_MIN, 1 << 30) == -(1 << 30));
  CHECK(srdhm(INT32_MAX, INT32_MAX) == 2147483646);
  CHECK(srdhm(INT32_MIN, INT32_MAX) == -2147483647);
  CHECK(srdhm(0, INT32_MIN) == 0);
  std::mt19937 rng(11);
  for (int i = 0; i < 200000; i++) {
    int32_t a = static_cast<int32_t>(rng()), b = static_cast<int32_t>(rng());
    if (i % 4 == 1) a >>= (rng() % 31);
    if (i % 4 == 2) b = (b >> (rng() % 31)) | 1;
    if (i % 8 == 3) a = (static_cast<int32_t>(rng() % 65536) - 32768) * (1 << 15);  // exact ties (a multiply: left-shifting a negative value is UB)
    REQUIRE(srdhm(a, b) == gemmlowp_srdhm(a, b));
  }
}

TEST_CASE("RDBPOT: ties away from zero, every exponent, equality with gemmlowp") {
  CHECK(rdbpot(5, 1) == 3);
  CHECK(rdbpot(-5, 1) == -3);
  CHECK(rdbpot(3, 1) == 2);
  CHECK(rdbpot(-3, 1) == -2);
  CHECK(rdbpot(-1, 1) == -1);
  CHECK(rdbpot(1, 1) == 1);
  CHECK(rdbpot(6, 2) == 2);
  CHECK(rdbpot(-6, 2) == -2);
  CHECK(rdbpot(-7, 2) == -2);
  CHECK(rdbpot(-5, 2) == -1);
  CHECK(rdbpot(7, 0) == 7);
  CHECK(rdbpot(1 << 30, 31) == 1);
  CHECK(rdbpot(-(1 << 30), 31) == -1);
  CHECK(rdbpot((1 << 30) - 1, 31) == 0);
  CHECK(rdbpot(INT32_MIN, 31) == -1);
  CHECK(rdbpot(INT32_MAX, 31) == 1);
  std::mt19937 rng(12);
  for (int i = 0; i < 200000; i++) {
    const int32_t x = static_cast<int32_t>(rng()) >> (rng() % 32);
    const int e = static_cast<int>(rng() % 32);
    REQUIRE(rdbpot(x, e) == gemmlowp_rdbpot(x, e));
  }
}

TEST_CASE("requantize: hand-computed vectors on every ISA path") {
  CapGuard g;
  for (Isa isa : host_isas()) {
    set_isa_cap(isa);
    INFO("isa=" << std::string(isa_name(isa)) << " kernel=" << std::string(requantize_kernel().name));
    const Dyadic half{1 << 30, 31}, eighth{1 << 30, 33}, quarter{1 << 30, 32};
    // x0.5: only SRDHM rounds; ties go up: 1 -> 1, -1 -> 0, 3 -> 2, -3 -> -1
    CHECK(rq_i8({1, -1, 3, -3, 10, -10, 0, 254, -256, 255, -257}, {half}) ==
          std::vector<int8_t>{1, 0, 2, -1, 5, -5, 0, 127, -128, 127, -128});
    // x0.125: 4 -> SRDHM 2 -> RDBPOT 0.5 -> 1; -4 -> SRDHM -1.5 -> -2 -> RDBPOT -0.5 -> -1;
    // 3 -> SRDHM 1.5 -> 2 -> RDBPOT 0.5 -> 1 (double rounding); -3 -> SRDHM -1.5 -> -1 -> -0.25 -> 0
    CHECK(rq_i8({4, -4, 12, -12, 20, -20, 3, -3, 8, 9}, {eighth}) ==
          std::vector<int8_t>{1, -1, 2, -2, 3, -3, 1, 0, 1, 1});
    // double rounding of the two-step rule: 1 * 0.25: SRDHM gives round(0.5) = 1, RDBPOT round(0.5) = 1
    CHECK(rq_i8({1, -1, 2, -2, 6, -6}, {quarter}) == std::vector<int8_t>{1, 0, 1, -1, 2, -2});
    // zero multiplier: everything maps to the zero point (also with a large shift)
    CHECK(rq_i8({INT32_MIN, -1, 0, 1, INT32_MAX}, {{0, 0}}, 3) == std::vector<int8_t>{3, 3, 3, 3, 3});
    CHECK(rq_i8({INT32_MIN, INT32_MAX, 12345, -7, 8, 9, 10, 11, 12}, {{0, 62}}, -4) ==
          std::vector<int8_t>(9, -4));
    // s = 62 with m = INT32_MAX (value 1 - 2^-31): MAX -> 1, MIN -> -1, 2^30 -> SRDHM 2^30, /2^31 = 0.5 -> 1;
    // -2^30 -> SRDHM -2^30 + 1 -> RDBPOT(-0.49999) -> 0
    CHECK(rq_i8({INT32_MAX, INT32_MIN, 1 << 30, (1 << 30) - 128, -(1 << 30), 0, 1, -1}, {{INT32_MAX, 62}}) ==
          std::vector<int8_t>{1, -1, 1, 0, 0, 0, 0, 0});
    // INT32_MIN * INT32_MIN saturates: m = INT32_MIN with s = 31 is -1.0
    {
      std::vector<int32_t> in(9, INT32_MIN);
      in[1] = INT32_MAX;
      in[2] = -5;
      std::vector<int16_t> out(9);
      const Dyadic neg1{INT32_MIN, 31};
      requantize(in.data(), in.size(), &neg1, 1, 0, DType::i16, out.data());
      CHECK(out[0] == 32767);
      CHECK(out[1] == -32768);
      CHECK(out[2] == 5);
      for (int i = 3; i < 9; i++) CHECK(out[i] == 32767);
    }
    // s < 31: saturating left shift first (x2 = {2^30, 29}; x1 = {2^30, 30})
    {
      std::vector<int32_t> in = {5, -5, 100, -100, 1 << 30, -(1 << 30), INT32_MIN, 20000, -20000};
      std::vector<int16_t> out(in.size());
      const Dyadic two{1 << 30, 29};
      requantize(in.data(), in.size(), &two, 1, 0, DType::i16, out.data());
      CHECK(out == std::vector<int16_t>{10, -10, 200, -200, 32767, -32768, -32768, 32767, -32768});
      const Dyadic one{1 << 30, 30};
      requantize(in.data(), in.size(), &one, 1, -5, DType::i16, out.data());
      CHECK(out == std::vector<int16_t>{0, -10, 95, -105, 32767, -32768, -32768, 19995, -20005});
    }
    // u8 with a zero point
    {
      std::vector<int32_t> in = {-200, -300, 0, 254, 255, 256, -256, -255, 1};
      std::vector<uint8_t> out(in.size());
      requantize(in.data(), in.size(), &half, 1, 128, DType::u8, out.data());
      CHECK(out == std::vector<uint8_t>{28, 0, 128, 255, 255, 255, 0, 1, 129});
    }
    // per channel: x0.5, x0.25, x-0.5
    {
      std::vector<Dyadic> m = {half, quarter, {-(1 << 30), 31}};
      std::vector<int32_t> in = {10, 10, 10, 7, 7, 7, -7, -7, -7};
      CHECK(rq_i8(in, m) == std::vector<int8_t>{5, 3, -5, 4, 2, -3, -3, -2, 4});
    }
  }
}

TEST_CASE("requantize: every variant equals the reference bit for bit") {
  CapGuard g;
  std::mt19937 rng(2024);
  std::vector<size_t> lens;
  for (size_t l = 1; l <= 67; l++) lens.push_back(l);
  lens.push_back(128);
  lens.push_back(1000);
  lens.push_back(4099);
  auto rand_i32 = [&](int mode) -> int32_t {
    switch (mode % 5) {
      case 0: return static_cast<int32_t>(rng());
      case 1: return static_cast<int32_t>(rng()) >> (rng() % 31);
      case 2: { const int32_t e[] = {INT32_MIN, INT32_MAX, 0, -1, 1, 1 << 30, -(1 << 30)}; return e[rng() % 7]; }
      case 3: return static_cast<int32_t>(rng() % 2001) - 1000;
      default: return static_cast<int32_t>(rng() % 65536) << (rng() % 16);
    }
  };
  auto rand_dy = [&]() -> Dyadic {
    const int s = static_cast<int>(rng() % 63);
    int32_t m;
    switch (rng() % 4) {
      case 0: m = static_cast<int32_t>(rng()); break;
      case 1: m = static_cast<int32_t>((1u << 30) + (rng() >> 2)); break;
      case 2: m = INT32_MIN; break;
      default: m = static_cast<int32_t>(rng() % 1000) - 500; break;
    }
    return {m, s};
  };
  for (Isa isa : host_isas()) {
    set_isa_cap(isa);
    const RequantizeFn k = requantize_kernel().fn;
    for (DType t : {DType::i8, DType::u8, DType::i16}) {
      for (size_t n : lens) {
        for (int per_channel = 0; per_channel < 2; per_channel++) {
          std::vector<int32_t> in(n);
          for (size_t i = 0; i < n; i++) in[i] = rand_i32(static_cast<int>(rng()));
          std::vector<Dyadic> m(per_channel ? n : 1);
          for (auto& d : m) d = rand_dy();
          const int32_t zp = t == DType::u8 ? static_cast<int32_t>(rng() % 256) : static_cast<int32_t>(rng() % 256) - 128;
          std::vector<int16_t> want(n), got(n);
          requantize__ref(in.data(), n, m.data(), per_channel, zp, t, want.data());
          k(in.data(), n, m.data(), per_channel, zp, t, got.data());
          REQUIRE_MESSAGE(std::memcmp(want.data(), got.data(), n * (t == DType::i16 ? 2 : 1)) == 0,
                          "isa=" << isa_name(isa) << " n=" << n << " per_channel=" << per_channel);
        }
      }
    }
    // every shift with a uniform multiplier (the fused SRDHM + rounding-shift path for s >= 31),
    // lengths around the 64-element step
    for (int s = 0; s <= 62; s++) {
      for (DType t : {DType::i8, DType::u8, DType::i16}) {
        for (size_t n : {size_t(1), size_t(63), size_t(64), size_t(129), size_t(1000)}) {
          std::vector<int32_t> in(n);
          for (size_t i = 0; i < n; i++) in[i] = rand_i32(static_cast<int>(rng()));
          Dyadic d = rand_dy();
          d.s = s;
          const int32_t zp = t == DType::u8 ? static_cast<int32_t>(rng() % 256) : static_cast<int32_t>(rng() % 256) - 128;
          std::vector<int16_t> want(n), got(n);
          requantize__ref(in.data(), n, &d, false, zp, t, want.data());
          k(in.data(), n, &d, false, zp, t, got.data());
          REQUIRE_MESSAGE(std::memcmp(want.data(), got.data(), n * (t == DType::i16 ? 2 : 1)) == 0,
                          "isa=" << isa_name(isa) << " s=" << s << " m=" << d.m << " n=" << n);
        }
      }
    }
    // the op over a big per-channel tensor (split over the pool)
    const size_t rows = 300, ch = 777;
    std::vector<int32_t> in(rows * ch);
    for (auto& v : in) v = rand_i32(static_cast<int>(rng()));
    std::vector<Dyadic> m(ch);
    for (auto& d : m) d = rand_dy();
    std::vector<int8_t> want(in.size()), got(in.size());
    for (size_t r = 0; r < rows; r++) requantize__ref(in.data() + r * ch, ch, m.data(), true, -3, DType::i8, want.data() + r * ch);
    requantize(in.data(), in.size(), m.data(), ch, -3, DType::i8, got.data());
    CHECK(want == got);
  }
}

// Targets the rounding steps one by one (the NEON path builds them from sqshl, sqrdmulh and a
// sign-fixed srshl): exact ties of RDBPOT for every k = s - 31 in 1..31 and both signs (m = 2^30 makes
// SRDHM(x, m) = floor((x + 1) / 2), so x = 2h hits h exactly), the neighbours of each tie, the int32
// extremes with every left shift (saturation) and the SRDHM overflow INT32_MIN * INT32_MIN.
TEST_CASE("requantize: ties of every rounding shift, saturating left shifts and the int32 extremes, on every path") {
  CapGuard g;
  std::vector<int32_t> in;
  std::vector<Dyadic> mults;
  for (int k = 1; k <= 31; k++) {
    for (int64_t j : {0, 1, 2, 7, 100, 1000}) {
      const int64_t tie = (2 * j + 1) << (k - 1);
      for (int64_t d : {-1, 0, 1})
        for (int64_t sign : {-1, 1}) {
          const int64_t h = sign * tie + d;
          if (2 * h >= INT32_MIN && 2 * h <= INT32_MAX) {
            in.push_back(static_cast<int32_t>(2 * h));
            mults.push_back({1 << 30, 31 + k});
          }
        }
    }
  }
  for (int s = 0; s <= 62; s++)
    for (int32_t x : {INT32_MIN, INT32_MIN + 1, INT32_MAX, -1, 0, 1, -(1 << 30), 1 << 30, -3, 3})
      for (int32_t m : {INT32_MIN, INT32_MAX, 1 << 30, -(1 << 30), 1, -1}) {
        in.push_back(x);
        mults.push_back({m, s});
      }
  const size_t n = in.size();
  for (Isa isa : host_isas()) {
    set_isa_cap(isa);
    const RequantizeFn k = requantize_kernel().fn;
    for (DType t : {DType::i8, DType::u8, DType::i16})
      for (int32_t zp : {0, t == DType::u8 ? 255 : -128, t == DType::i16 ? 32767 : 127}) {
        if (t == DType::u8 && zp == 127) zp = 128;
        // per channel: every (x, multiplier) pair in one call
        std::vector<int16_t> want(n), got(n);
        requantize__ref(in.data(), n, mults.data(), true, zp, t, want.data());
        k(in.data(), n, mults.data(), true, zp, t, got.data());
        REQUIRE_MESSAGE(std::memcmp(want.data(), got.data(), n * (t == DType::i16 ? 2 : 1)) == 0,
                        "per channel isa=" << std::string(isa_name(isa)) << " zp=" << zp);
        // per tensor: each multiplier over 16 copies of its input (the vector body, not the tail)
        for (size_t e = 0; e < n; e++) {
          std::vector<int32_t> v(16, in[e]);
          std::vector<int16_t> w1(16), g1(16);
          requantize__ref(v.data(), 16, &mults[e], false, zp, t, w1.data());
          k(v.data(), 16, &mults[e], false, zp, t, g1.data());
          REQUIRE_MESSAGE(std::memcmp(w1.data(), g1.data(), 16 * (t == DType::i16 ? 2 : 1)) == 0,
                          "per tensor isa=" << std::string(isa_name(isa)) << " x=" << in[e] << " m=" << mults[e].m
                                            << " s=" << mults[e].s << " zp=" << zp);
        }
      }
  }
}

TEST_CASE("requantize: invalid arguments throw ERR_BITFLASH_ARG") {
  std::vector<int32_t> in(12, 1);
  std::vector<int8_t> out(12);
  auto code_of = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.code();
    }
    return "none";
  };
  Dyadic bad{1 << 30, 63}, neg{1 << 30, -1}, ok{1 << 30, 31};
  CHECK(code_of([&] { requantize(in.data(), 12, &bad, 1, 0, DType::i8, out.data()); }) == kErrArg);
  CHECK(code_of([&] { requantize(in.data(), 12, &neg, 1, 0, DType::i8, out.data()); }) == kErrArg);
  std::vector<Dyadic> five(5, ok);
  CHECK(code_of([&] { requantize(in.data(), 12, five.data(), 5, 0, DType::i8, out.data()); }) == kErrArg);
  CHECK(code_of([&] { requantize(in.data(), 12, &ok, 0, 0, DType::i8, out.data()); }) == kErrArg);
  CHECK(code_of([&] { requantize(in.data(), 12, &ok, 1, 128, DType::i8, out.data()); }) == kErrArg);
  CHECK(code_of([&] { requantize(in.data(), 12, &ok, 1, -1, DType::u8, out.data()); }) == kErrArg);
  CHECK(code_of([&] { requantize(in.data(), 12, &ok, 1, 0, DType::f32, out.data()); }) == kErrArg);
  CHECK(code_of([&] { requantize(in.data(), 12, &ok, 1, 0, DType::i8, out.data()); }) == "none");
}

TEST_CASE("int_linear reference: hand-computed, per tensor and per channel, vs float64") {
  // x = [[1, 2, 3], [-4, 5, -6]] (zp 0), w = [[1, 1, 1], [2, -1, 0]], bias = [0, 5]
  // acc = [[6, 5], [-5, -8]]; x0.5 per tensor: SRDHM: 6->3, 5->2.5->3, -5->-2.5->-2, -8->-4
  const int8_t x[] = {1, 2, 3, -4, 5, -6};
  const int8_t w[] = {1, 1, 1, 2, -1, 0};
  const int32_t bias[] = {0, 5};
  int8_t y[4];
  const Dyadic half{1 << 30, 31};
  int_linear__ref(x, 0, w, bias, 2, 2, 3, &half, 1, 0, y);
  CHECK(std::vector<int8_t>(y, y + 4) == std::vector<int8_t>{3, 3, -2, -4});
  // per channel: x2 and x-1, y_zp 1; x_zp 1: x - 1 = [[0,1,2],[-5,4,-7]], acc = [[3, 4], [-8, -9]]
  const Dyadic pc[] = {{1 << 30, 29}, {-(1 << 30), 30}};
  int_linear__ref(x, 1, w, bias, 2, 2, 3, pc, 2, 1, y);
  CHECK(std::vector<int8_t>(y, y + 4) == std::vector<int8_t>{7, -3, -15, 10});
  // random shapes against float64: |y - round(acc * scale + zp)| <= 1 (two roundings), saturating
  std::mt19937 rng(5);
  for (int it = 0; it < 40; it++) {
    const size_t m = 1 + rng() % 5, n = 1 + rng() % 33, k = 1 + rng() % 300;
    std::vector<int8_t> X(m * k), W(n * k), Y(m * n);
    for (auto& v : X) v = static_cast<int8_t>(rng());
    for (auto& v : W) v = static_cast<int8_t>(rng());
    std::vector<int32_t> B(n);
    for (auto& v : B) v = static_cast<int32_t>(rng() % 20001) - 10000;
    const bool per_channel = it & 1;
    std::vector<double> scale(per_channel ? n : 1);
    std::vector<Dyadic> D(scale.size());
    for (size_t j = 0; j < scale.size(); j++) {
      scale[j] = std::exp2(-static_cast<double>(rng() % 12) - 6.0) * (1.0 + (rng() % 1000) / 1000.0);
      D[j] = dyadic_from_scale(scale[j]);
    }
    const int32_t xzp = static_cast<int32_t>(rng() % 21) - 10, yzp = static_cast<int32_t>(rng() % 21) - 10;
    int_linear__ref(X.data(), xzp, W.data(), B.data(), m, n, k, D.data(), D.size(), yzp, Y.data());
    for (size_t i = 0; i < m; i++)
      for (size_t j = 0; j < n; j++) {
        double acc = B[j];
        for (size_t p = 0; p < k; p++) acc += static_cast<double>(X[i * k + p] - xzp) * W[j * k + p];
        double want = std::round(acc * scale[per_channel ? j : 0]) + yzp;
        want = want < -128 ? -128 : want > 127 ? 127 : want;
        CHECK(std::fabs(Y[i * n + j] - want) <= 1.0);
      }
  }
  const Dyadic bad{1 << 30, 70};
  CHECK_THROWS_AS(int_linear__ref(x, 0, w, bias, 2, 2, 3, &bad, 1, 0, y), Error);
  CHECK_THROWS_AS(int_linear__ref(x, 0, w, bias, 2, 2, 3, pc, 3, 0, y), Error);
  CHECK_THROWS_AS(int_linear__ref(x, 0, w, bias, 2, 2, 0, pc, 2, 0, y), Error);
}
