// Integer-only ops: isqrt exact, every SIMD kernel equal to its reference bit for bit (exhaustive
// over int8 / int16 inputs where the op has one input, random rows otherwise), error paths, and
// accuracy against float64 with named, derived tolerances.
#include <doctest/doctest.h>

#include <algorithm>
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

namespace {
std::vector<size_t> row_lengths() {
  std::vector<size_t> v;
  for (size_t l = 1; l <= 67; l++) v.push_back(l);
  for (size_t l : {128, 257, 768, 1000, 4097, 5003}) v.push_back(l);
  return v;
}
std::vector<int8_t> all_int8_repeated(size_t reps) {  // every int8 value, then shuffled copies
  std::vector<int8_t> v;
  for (size_t r = 0; r < reps; r++)
    for (int i = -128; i < 128; i++) v.push_back(static_cast<int8_t>(r % 2 ? -1 - i : i));
  return v;
}
const char* code_of_throw(void (*f)()) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return "none";
}
double gelu64(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double silu64(double x) { return x / (1.0 + std::exp(-x)); }

// Tolerances (all in real units, vs float64), derived in the comments:
// I-BERT exp: the polynomial 0.3585 (r + 1.353)^2 + 0.344 has max relative error 0.00310 on
// [-ln2, 0] (scanned at 1e5 points); the 14-bit constants and the rescale add < 2^-12 relative,
// the final floor one output unit.
constexpr double kExpIbertRel = 0.0035;
// Shift exp: 1 + r/2 vs 2^r on (-1, 0] overestimates by at most 6.15%; x*log2(e) ~ 1.4375x
// understates the exponent by 0.0052|x| (log2 units): relative error <= 1.0615 * 2^(0.0053|x|) - 1.
double shift_exp_rel(double ax) { return 1.0615 * std::exp2(0.0053 * ax) - 1.0; }
// Softmax: with exp relative errors within [-d, d], p'/p lies in [(1-d)/(1+d), (1+d)/(1-d)]:
// |p' - p| <= 2d/(1-d); plus the output step (rounding 1/512, the clamp at 255/256 up to 1/256) and the
// floor of the factor (<= 2^-14).
double softmax_tol(double d) { return 2.0 * d / (1.0 - d) + 1.0 / 256 + 1.0 / 16384; }
}  // namespace

TEST_CASE("isqrt_u64: exact floor sqrt, exhaustive small values and random 32/64-bit values") {
  uint64_t r = 0;
  for (uint64_t x = 0; x < (uint64_t(1) << 22); x++) {
    while ((r + 1) * (r + 1) <= x) r++;
    if (isqrt_u64(x) != r) REQUIRE(isqrt_u64(x) == r);
  }
  std::mt19937_64 rng(99);
  auto ok = [](uint64_t x) {
    const unsigned __int128 s = isqrt_u64(x);
    return s * s <= x && (s + 1) * (s + 1) > x;
  };
  for (int i = 0; i < 200000; i++) {
    const uint64_t x = i % 2 ? (rng() >> 32) : (rng() >> (rng() % 64));
    if (!ok(x)) REQUIRE(ok(x));
  }
  for (uint64_t s : {uint64_t(1) << 31, uint64_t(4294967295u), uint64_t(3037000499u), uint64_t(65535)}) {
    CHECK(isqrt_u64(s * s) == s);
    CHECK(isqrt_u64(s * s - 1) == s - 1);
    CHECK(isqrt_u64(s * s + 2 * s) == s);
  }
  CHECK(isqrt_u64(UINT64_MAX) == 4294967295u);
}

TEST_CASE("add with rescale: exhaustive int8 pairs, every variant equals the reference, accuracy") {
  CapGuard g;
  std::vector<int8_t> a(65536), b(65536);
  for (int i = 0; i < 65536; i++) a[i] = static_cast<int8_t>(i & 255), b[i] = static_cast<int8_t>(i >> 8);
  struct Cfg { double sa; int32_t za; double sb; int32_t zb; double sy; int32_t zy; };
  for (const Cfg& c : {Cfg{0.05, 0, 0.05, 0, 0.1, 0}, Cfg{0.03, -7, 0.03, -7, 0.05, 4}, Cfg{0.02, 3, 0.07, -5, 0.08, 7}, Cfg{1.0, -128, 0.001, 127, 0.5, -20}}) {
    const AddParams p = add_prepare(c.sa, c.za, c.sb, c.zb, c.sy, c.zy);
    // equal input scales and zero points: the pair table is symmetric (the AVX-512 kernel reads half of it)
    CHECK(p.yab_symmetric == (c.sa == c.sb && c.za == c.zb));
    std::vector<int8_t> want(65536), got(65536);
    add_rescale__ref(a.data(), b.data(), 65536, p, want.data());
    double maxerr = 0;
    for (int i = 0; i < 65536; i++) {
      double v = std::round(((a[i] - c.za) * c.sa + (b[i] - c.zb) * c.sb) / c.sy) + c.zy;
      v = v < -128 ? -128 : v > 127 ? 127 : v;
      maxerr = std::fmax(maxerr, std::fabs(v - want[i]));
    }
    // rescaling both inputs to 2^20 finer steps loses < 2^-19 of a step; the final rounding may
    // differ from round() at ties: at most one output step.
    CHECK(maxerr <= 1.0);
    for (Isa isa : host_isas()) {
      set_isa_cap(isa);
      add_rescale(a.data(), b.data(), 65536, p, got.data());
      CHECK_MESSAGE(want == got, "isa=" << std::string(isa_name(isa)));
      for (size_t n : row_lengths()) {
        std::vector<int8_t> w(n), o(n);
        add_rescale__ref(a.data() + 7, b.data() + 3, n, p, w.data());
        add_rescale_kernel().fn(a.data() + 7, b.data() + 3, n, p, o.data());
        REQUIRE(w == o);
      }
    }
  }
  CHECK(std::string(code_of_throw([] { add_prepare(0.0, 0, 1.0, 0, 1.0, 0); })) == kErrArg);
  CHECK(std::string(code_of_throw([] { add_prepare(1.0, 200, 1.0, 0, 1.0, 0); })) == kErrArg);
  CHECK(std::string(code_of_throw([] {
          AddParams p = add_prepare(1.0, 0, 1.0, 0, 1.0, 0);
          p.y_mult.s = 63;
          int8_t x = 0, y;
          add_rescale(&x, &x, 1, p, &y);
        })) == kErrArg);
}

TEST_CASE("add with rescale: hand-set output multipliers (every shift kind, m = INT32_MIN) on every path") {
  CapGuard g;
  std::mt19937 rng(5);
  std::vector<int8_t> a(65536 + 70), b(65536 + 70);
  for (int i = 0; i < 65536 + 70; i++) a[i] = static_cast<int8_t>(i & 255), b[i] = static_cast<int8_t>((i >> 8) * 7 + i);
  for (int s : {0, 12, 30, 31, 32, 33, 40, 50, 62}) {
    for (int mm = 0; mm < 3; mm++) {
      AddParams p = add_prepare(0.02, 3, 0.07, -5, 0.08, 7);
      p.y_mult = {mm == 0 ? INT32_MIN : mm == 1 ? static_cast<int32_t>(rng()) : static_cast<int32_t>(rng() % 4096) - 2048, s};
      p.yab = nullptr;  // a field changed after add_prepare: the pair table no longer applies
      for (size_t n : {size_t(65536 + 70), size_t(63), size_t(64), size_t(65), size_t(130)}) {
        std::vector<int8_t> want(n), got(n);
        add_rescale__ref(a.data(), b.data(), n, p, want.data());
        for (Isa isa : host_isas()) {
          set_isa_cap(isa);
          add_rescale_kernel().fn(a.data(), b.data(), n, p, got.data());
          REQUIRE_MESSAGE(want == got, "isa=" << std::string(isa_name(isa)) << " s=" << s << " m=" << p.y_mult.m << " n=" << n);
        }
      }
    }
  }
}

TEST_CASE("i-exp: exhaustive int16 d <= 0, both methods, every variant, accuracy vs exp") {
  CapGuard g;
  std::vector<int16_t> d(32769);
  for (int i = 0; i <= 32768; i++) d[i] = static_cast<int16_t>(-i);
  for (ExpMethod m : {ExpMethod::ibert_poly, ExpMethod::shift}) {
    for (double s : {1.0 / 4096, 0.001, 0.03125, 0.1, 0.7, 3.0}) {
      const ExpParams p = exp_prepare(s, m);
      std::vector<int32_t> want(d.size()), got(d.size());
      i_exp__ref(d.data(), d.size(), p, want.data());
      double worst = 0;
      for (size_t i = 0; i < d.size(); i++) {
        const double x = -static_cast<double>(i) * s, ex = std::exp(x), v = want[i] * p.out_scale;
        const double tol = (m == ExpMethod::ibert_poly ? kExpIbertRel : shift_exp_rel(-x)) * ex + 2 * p.out_scale;
        worst = std::fmax(worst, std::fabs(v - ex) / tol);
      }
      CHECK_MESSAGE(worst <= 1.0, "method=" << int(m) << " scale=" << s << " worst error / tolerance=" << worst);
      for (Isa isa : host_isas()) {
        set_isa_cap(isa);
        i_exp(d.data(), d.size(), p, got.data());
        REQUIRE_MESSAGE(want == got, "isa=" << std::string(isa_name(isa)) << " method=" << int(m) << " s=" << s);
      }
    }
  }
  CHECK(std::string(code_of_throw([] {
          const ExpParams p = exp_prepare(0.1, ExpMethod::shift);
          int16_t x = 1;
          int32_t e;
          i_exp(&x, 1, p, &e);
        })) == kErrArg);
  CHECK(std::string(code_of_throw([] { exp_prepare(-1.0, ExpMethod::shift); })) == kErrArg);
  CHECK(std::string(code_of_throw([] { exp_prepare(100.0, ExpMethod::ibert_poly); })) == kErrArg);
}

TEST_CASE("i-exp: hand-set constants outside the 16-bit product fast paths, every variant, odd lengths") {
  CapGuard g;
  std::vector<int16_t> d(32769);
  for (int i = 0; i <= 32768; i++) d[i] = static_cast<int16_t>(-i);
  for (int variant = 0; variant < 7; variant++) {
    ExpParams p = exp_prepare(0.1, variant == 6 ? ExpMethod::shift : ExpMethod::ibert_poly);
    if (variant == 0) p.b_int = 0x3ffe;            // u may be negative: no vpmaddwd for u * u
    if (variant == 1) p.b_int = 0x3fff;            // the smallest b_int the fast path takes
    if (variant == 2) p.b_int = 32767, p.c_int = 0;  // the largest (u * u < 2^30)
    if (variant == 3) p.b_int = 32767, p.c_int = (1 << 30) - 1;  // the largest c_int of the logical-shift path
    if (variant == 4) p.b_int = 32767, p.c_int = 1 << 30;        // just outside it
    if (variant == 5) p.c_int = -5;                              // negative z possible: arithmetic shifts
    if (variant == 6) p.mul = 40000, p.g = 12, p.d_min = -32768; // Shift-exp without vpmaddwd for d * mul
    std::vector<int32_t> want(d.size()), got(d.size());
    i_exp__ref(d.data(), d.size(), p, want.data());
    for (Isa isa : host_isas()) {
      set_isa_cap(isa);
      for (size_t n : {d.size(), size_t(1), size_t(15), size_t(17), size_t(33)}) {
        i_exp_kernel().fn(d.data(), n, p, got.data());
        REQUIRE_MESSAGE(std::equal(want.begin(), want.begin() + n, got.begin()),
                        "isa=" << std::string(isa_name(isa)) << " variant=" << variant << " n=" << n);
      }
    }
  }
}

TEST_CASE("softmax: every variant equals the reference on random rows; accuracy vs float64") {
  CapGuard g;
  std::mt19937 rng(31);
  for (ExpMethod m : {ExpMethod::ibert_poly, ExpMethod::shift}) {
    for (double s : {0.02, 0.0625, 0.25}) {
      const SoftmaxParams p = softmax_prepare(s, m);
      for (size_t cols : row_lengths()) {
        const size_t rows = cols < 100 ? 3 : 1;
        std::vector<int8_t> x(rows * cols);
        const int spread = 1 + static_cast<int>(rng() % 256);
        for (auto& v : x) v = static_cast<int8_t>(static_cast<int>(rng() % spread) - 128 + static_cast<int>(rng() % (257 - spread)) * 0);
        if (cols > 2) x[1] = 127, x[2] = -128;
        std::vector<uint8_t> want(x.size()), got(x.size());
        softmax__ref(x.data(), rows, cols, p, want.data());
        for (Isa isa : host_isas()) {
          set_isa_cap(isa);
          softmax_int(x.data(), rows, cols, p, got.data());
          REQUIRE_MESSAGE(want == got, "isa=" << std::string(isa_name(isa)) << " cols=" << cols << " method=" << int(m));
        }
        // accuracy
        for (size_t r = 0; r < rows; r++) {
          int mx = -128, mn = 127;
          for (size_t j = 0; j < cols; j++) mx = std::max<int>(mx, x[r * cols + j]), mn = std::min<int>(mn, x[r * cols + j]);
          double sum = 0;
          for (size_t j = 0; j < cols; j++) sum += std::exp((x[r * cols + j] - mx) * s);
          const double d = m == ExpMethod::ibert_poly ? kExpIbertRel : shift_exp_rel((mx - mn) * s);
          // each exp is also floored to an integer unit: the integer sum S may lose up to cols units
          std::vector<int16_t> dd(cols);
          std::vector<int32_t> ee(cols);
          for (size_t j = 0; j < cols; j++) dd[j] = static_cast<int16_t>(x[r * cols + j] - mx);
          i_exp__ref(dd.data(), cols, p.exp, ee.data());
          double S = 0;
          for (int32_t e : ee) S += e;
          const double floor_term = 2.0 * static_cast<double>(cols) / S;
          double worst = 0;
          for (size_t j = 0; j < cols; j++) {
            const double pf = std::exp((x[r * cols + j] - mx) * s) / sum;
            worst = std::fmax(worst, std::fabs(want[r * cols + j] / 256.0 - pf));
          }
          // floor_term: the cols floored units (relative to S, doubled as for d); underflows to 0 are floors too
          REQUIRE_MESSAGE(worst <= softmax_tol(d) + floor_term, "method=" << int(m) << " s=" << s << " cols=" << cols << " err=" << worst);
        }
      }
    }
  }
  // big tensor through the pool: many rows
  const SoftmaxParams p = softmax_prepare(0.05, ExpMethod::ibert_poly);
  std::vector<int8_t> x(500 * 384);
  for (auto& v : x) v = static_cast<int8_t>(rng());
  std::vector<uint8_t> want(x.size()), got(x.size());
  softmax__ref(x.data(), 500, 384, p, want.data());
  softmax_int(x.data(), 500, 384, p, got.data());
  CHECK(want == got);
  CHECK(std::string(code_of_throw([] {
          const SoftmaxParams p = softmax_prepare(0.05, ExpMethod::shift);
          int8_t x = 0;
          uint8_t y;
          softmax_int(&x, 1, 0, p, &y);
        })) == kErrArg);
}

TEST_CASE("i-GELU, ShiftGELU, SiLU: exhaustive int8, every variant equals the reference; accuracy") {
  CapGuard g;
  const std::vector<int8_t> x = all_int8_repeated(5);  // 1280 values: every int8, odd lengths below
  for (double s : {4.0 / 127, 8.0 / 127, 0.01, 0.1}) {
    const double ys = s;  // output scale: the input scale (GELU's range is within the input's)
    const GeluParams pg = gelu_prepare(s, ys, 0);
    const SigmoidMulParams ps = sigmoid_mul_prepare(SigmoidAct::shift_gelu, s, ys, 0);
    const SigmoidMulParams pl = sigmoid_mul_prepare(SigmoidAct::silu, s, ys, 0);
    std::vector<int8_t> wg(x.size()), ws(x.size()), wl(x.size()), o(x.size());
    i_gelu__ref(x.data(), x.size(), pg, wg.data());
    sigmoid_mul__ref(x.data(), x.size(), ps, ws.data());
    sigmoid_mul__ref(x.data(), x.size(), pl, wl.data());
    for (Isa isa : host_isas()) {
      set_isa_cap(isa);
      i_gelu(x.data(), x.size(), pg, o.data());
      REQUIRE_MESSAGE(o == wg, "gelu isa=" << std::string(isa_name(isa)) << " s=" << s);
      shift_gelu(x.data(), x.size(), ps, o.data());
      REQUIRE_MESSAGE(o == ws, "shift_gelu isa=" << std::string(isa_name(isa)) << " s=" << s);
      silu_int(x.data(), x.size(), pl, o.data());
      REQUIRE_MESSAGE(o == wl, "silu isa=" << std::string(isa_name(isa)) << " s=" << s);
      for (size_t n : {size_t(1), size_t(7), size_t(9), size_t(31), size_t(67), size_t(255)}) {
        std::vector<int8_t> a(n), b(n);
        i_gelu__ref(x.data() + 3, n, pg, a.data());
        i_gelu_kernel().fn(x.data() + 3, n, pg, b.data());
        REQUIRE(a == b);
        sigmoid_mul__ref(x.data() + 5, n, ps, a.data());
        sigmoid_mul_kernel().fn(x.data() + 5, n, ps, b.data());
        REQUIRE(a == b);
      }
    }
    // accuracy over the whole int8 range, in real units
    double eg = 0, es = 0, el = 0;
    for (int v = -128; v < 128; v++) {
      const double xr = v * s;
      eg = std::fmax(eg, std::fabs(wg[v + 128] * ys - gelu64(xr)));
      es = std::fmax(es, std::fabs(ws[v + 128] * ys - gelu64(xr)));
      el = std::fmax(el, std::fabs(wl[v + 128] * ys - silu64(xr)));
    }
    // i-GELU: the erf polynomial costs at most 0.0182 on GELU (scanned over |x| <= 4, wider ranges
    // saturate erf to 1 exactly as GELU does to within 2e-4 beyond 4); the output step costs
    // 0.5 ys plus 0.5 ys for the two-step rounding, the 13-bit constants < 2^-11 |x|.
    CHECK_MESSAGE(eg <= 0.0185 + ys + std::ldexp(128 * s, -11), "i-gelu err=" << eg << " s=" << s);
    // ShiftGELU: sigmoid(1.6875x) vs GELU costs 0.0219; the shift exp's relative error d moves
    // sigmoid by at most sig(1-sig) d <= d/4 at |z| where d = shift_exp_rel(|z|), times |x|.
    {
      const double xm = 128 * s, d = shift_exp_rel(1.6875 * xm);
      CHECK_MESSAGE(es <= 0.0219 + xm * d / 4 + ys + xm / 4096, "shift-gelu err=" << es << " s=" << s);
      const double dl = shift_exp_rel(xm);
      CHECK_MESSAGE(el <= xm * dl / 4 + ys + xm / 4096, "silu err=" << el << " s=" << s);
    }
    MESSAGE("s=" << s << " max abs err: i-gelu " << eg << ", shift-gelu " << es << ", silu " << el);
  }
  CHECK(std::string(code_of_throw([] {
          const SigmoidMulParams p = sigmoid_mul_prepare(SigmoidAct::silu, 0.05, 0.05, 0);
          int8_t x = 0, y;
          shift_gelu(&x, 1, p, &y);
        })) == kErrArg);
  CHECK(std::string(code_of_throw([] { gelu_prepare(0.05, 0.05, 300); })) == kErrArg);
  CHECK(std::string(code_of_throw([] { gelu_prepare(0.05, 0.0, 0); })) == kErrArg);
}

TEST_CASE("LayerNorm / RMSNorm: every variant equals the reference on random rows; accuracy") {
  CapGuard g;
  std::mt19937 rng(77);
  for (int ln = 0; ln < 2; ln++) {
    for (size_t cols : row_lengths()) {
      std::vector<float> gamma(cols), beta(cols);
      for (size_t j = 0; j < cols; j++) gamma[j] = 0.5f + (rng() % 1000) / 1000.0f, beta[j] = (static_cast<int>(rng() % 200) - 100) / 100.0f;
      if (cols > 3) gamma[3] = -gamma[3];
      const double ys = 4.0 / 127;
      NormPrepared np;
      norm_prepare(np, ln == 1, cols, gamma.data(), ln ? beta.data() : nullptr, ys, 0);
      const size_t rows = cols < 100 ? 4 : 2;
      std::vector<int8_t> x(rows * cols);
      const int amp = 1 + static_cast<int>(rng() % 128);
      for (auto& v : x) v = static_cast<int8_t>(static_cast<int>(rng() % (2 * amp)) - amp + (ln ? 30 : 0) / 2);
      for (size_t j = 0; j < cols; j++) x[j] = 17;  // a constant row: V = 0 for LayerNorm
      std::vector<int8_t> want(x.size()), got(x.size());
      norm__ref(x.data(), rows, np.params(), want.data());
      for (Isa isa : host_isas()) {
        set_isa_cap(isa);
        norm_int(x.data(), rows, np.params(), got.data());
        REQUIRE_MESSAGE(want == got, "isa=" << std::string(isa_name(isa)) << " cols=" << cols << " ln=" << ln);
      }
      // accuracy (rows with a non-zero spread): sqrt carries >= 30 significant bits and f >= 15, so the
      // normalisation is within 2^-14 relative (< 0.01 step at |q| <= 128); the output rounding costs
      // 0.5 step (+0.5 for the two-step rounding), the bias rounding 0.5: <= 1.51 steps, 1.6 asserted.
      for (size_t r = 1; r < rows; r++) {
        const int8_t* xr = x.data() + r * cols;
        double mean = 0, var = 0;
        if (ln) {
          for (size_t j = 0; j < cols; j++) mean += xr[j];
          mean /= cols;
        }
        for (size_t j = 0; j < cols; j++) var += (xr[j] - mean) * (xr[j] - mean);
        var /= cols;
        if (var == 0) continue;
        for (size_t j = 0; j < cols; j++) {
          double yf = (xr[j] - mean) / std::sqrt(var) * gamma[j] + (ln ? beta[j] : 0.0);
          double q = yf / ys;
          if (q > 127 || q < -128) continue;
          const double err = std::fabs(want[r * cols + j] - q);
          if (err > 1.6) REQUIRE_MESSAGE(err <= 1.6, "cols=" << cols << " ln=" << ln << " q=" << q);
        }
      }
    }
  }
  CHECK(std::string(code_of_throw([] {
          NormPrepared np;
          float gm = 1.0f;
          norm_prepare(np, true, 0, &gm, nullptr, 0.1, 0);
        })) == kErrArg);
  CHECK(std::string(code_of_throw([] {
          NormPrepared np;
          std::vector<float> gm(40000, 1.0f);
          norm_prepare(np, true, gm.size(), gm.data(), nullptr, 0.1, 0);
        })) == kErrArg);
  CHECK(std::string(code_of_throw([] {
          NormParams p{true, 8, nullptr, nullptr};
          int8_t x[8] = {0}, y[8];
          norm_int(x, 1, p, y);
        })) == kErrArg);
}

TEST_CASE("LayerNorm / RMSNorm: extreme rows and hand-made multipliers (s < 31, m = INT32_MIN, every shift) on every path") {
  CapGuard g;
  std::mt19937 rng(91);
  for (int ln = 0; ln < 2; ln++) {
    for (size_t cols : {size_t(1), size_t(15), size_t(64), size_t(65), size_t(300), size_t(4097)}) {
      for (int variant = 0; variant < 6; variant++) {
        // variant 0: every shift 31..62 (the fused path); 1: one column with s < 31; 2: one with m = INT32_MIN;
        // 3, 4: a bias beyond the 16-bit packed store (+40000, -2000000); 5: every s >= 32
        std::vector<Dyadic> mult(cols);
        std::vector<int32_t> bias(cols);
        for (size_t j = 0; j < cols; j++) {
          mult[j] = {static_cast<int32_t>(rng()), 31 + static_cast<int>(rng() % 32)};
          bias[j] = static_cast<int32_t>(rng() % 301) - 150;
        }
        if (variant == 1) mult[cols / 2] = {static_cast<int32_t>(rng()), static_cast<int>(rng() % 31)};
        if (variant == 2) mult[cols - 1] = {INT32_MIN, 31 + static_cast<int>(rng() % 32)};
        if (variant == 3) bias[0] = 40000;
        if (variant == 4) bias[cols - 1] = -2000000;
        if (variant == 5)  // every shift >= 32 (the high-dword form), random multipliers of both signs
          for (auto& d : mult) d.s = 32 + static_cast<int>(rng() % 31);
        const NormParams p{ln == 1, cols, mult.data(), bias.data()};
        const size_t rows = 5;
        std::vector<int8_t> x(rows * cols);
        for (size_t j = 0; j < cols; j++) {
          x[j] = static_cast<int8_t>(j & 1 ? 127 : -128);  // extreme alternation
          x[cols + j] = -128;                                 // constant -128
          x[2 * cols + j] = static_cast<int8_t>(j == 0 ? 127 : -128);
          x[3 * cols + j] = static_cast<int8_t>(rng());
          x[4 * cols + j] = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
        }
        std::vector<int8_t> want(x.size()), got(x.size());
        norm__ref(x.data(), rows, p, want.data());
        for (Isa isa : host_isas()) {
          set_isa_cap(isa);
          norm_kernel().fn(x.data(), rows, p, got.data());
          REQUIRE_MESSAGE(want == got, "isa=" << std::string(isa_name(isa)) << " cols=" << cols << " ln=" << ln
                                              << " variant=" << variant);
        }
      }
    }
  }
}

TEST_CASE("int8 table kernels: lut_i8 on every path equals the scalar lookup; the tables equal the references") {
  std::mt19937 rng(91);
  int8_t tab[256];
  for (auto& t : tab) t = static_cast<int8_t>(rng());
  std::vector<int8_t> x = all_int8_repeated(3);
  std::vector<int8_t> want(x.size()), got(x.size());
  lut_i8__ref(x.data(), x.size(), tab, want.data());
  for (int v = -128; v < 128; v++) REQUIRE(want[v + 128] == tab[static_cast<uint8_t>(v)]);
  const std::vector<Isa> isas = host_isas();
  [[maybe_unused]] auto has = [&](Isa i) { return std::find(isas.begin(), isas.end(), i) != isas.end(); };
  for (size_t off : {size_t(0), size_t(1), size_t(5)})
    for (size_t n = 0; n + off <= 200; n++) {
      std::vector<int8_t> a(n), b(n);
      lut_i8__ref(x.data() + off, n, tab, a.data());
#if defined(__x86_64__)  // the x86 kernels exist only in x86 builds
      if (has(Isa::avx2)) {
        lut_i8__avx2(x.data() + off, n, tab, b.data());
        REQUIRE(a == b);
      }
      if (has(Isa::avx512vnni)) {
        lut_i8__avx512(x.data() + off, n, tab, b.data());
        REQUIRE(a == b);
      }
#endif
#if defined(__aarch64__)  // likewise the arm64 kernels
      if (has(Isa::neon)) {
        lut_i8__neon(x.data() + off, n, tab, b.data());
        REQUIRE(a == b);
      }
#endif
    }
  // the prepared tables are the references on every input, and the computing AVX2 kernels (kept for
  // fused epilogues, no longer dispatched) still equal them exhaustively
  for (double s : {4.0 / 127, 0.01, 0.3}) {
    const GeluParams pg = gelu_prepare(s, s * 0.7, 3);
    const SigmoidMulParams ps = sigmoid_mul_prepare(SigmoidAct::shift_gelu, s, s, -2);
    const SigmoidMulParams pl = sigmoid_mul_prepare(SigmoidAct::silu, s, s * 1.3, 0);
    std::vector<int8_t> r(x.size()), k(x.size());
    i_gelu__ref(x.data(), x.size(), pg, r.data());
    lut_i8__ref(x.data(), x.size(), pg.lut, k.data());
    REQUIRE(r == k);
#if defined(__x86_64__)
    if (has(Isa::avx2)) {
      i_gelu__avx2(x.data(), x.size(), pg, k.data());
      REQUIRE(r == k);
    }
#endif
    for (const SigmoidMulParams* p : {&ps, &pl}) {
      sigmoid_mul__ref(x.data(), x.size(), *p, r.data());
      lut_i8__ref(x.data(), x.size(), p->lut, k.data());
      REQUIRE(r == k);
#if defined(__x86_64__)
      if (has(Isa::avx2)) {
        sigmoid_mul__avx2(x.data(), x.size(), *p, k.data());
        REQUIRE(r == k);
      }
#endif
    }
  }
}

TEST_CASE("dyadic dispatch: each capped ISA selects its own kernels (so the loops above test them)") {
  CapGuard guard;
  for (Isa isa : host_isas()) {
    set_isa_cap(isa);
    const std::string rq = requantize_kernel().name, add = add_rescale_kernel().name, ex = i_exp_kernel().name;
    const std::string sm = softmax_kernel().name, ge = i_gelu_kernel().name, sg = sigmoid_mul_kernel().name;
    const std::string nm = norm_kernel().name;
    INFO("isa=" << std::string(isa_name(isa)));
    if (isa == Isa::scalar) {
      CHECK(rq == "requantize__ref");
      CHECK(nm == "norm__ref");
    }
    if (isa == Isa::avx2 || isa == Isa::avxvnni) {
      CHECK(rq == "requantize__avx2");
      CHECK(nm == "norm__avx2");
    }
    if (isa == Isa::avx512vnni) {
      CHECK(rq == "requantize__avx512");
      CHECK(nm == "norm__avx512");
    }
    if (isa == Isa::neon || isa == Isa::dotprod || isa == Isa::i8mm) {
      CHECK(rq == "requantize__neon");
      CHECK(add == "add_rescale__neon");
      CHECK(ex == "i_exp__neon");
      CHECK(sm == "softmax__neon");
      CHECK(ge == "i_gelu__lut_neon");
      CHECK(sg == "sigmoid_mul__lut_neon");
      CHECK(nm == (isa == Isa::neon ? "norm__neon" : "norm__dotprod"));
    }
  }
}
