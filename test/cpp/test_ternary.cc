// Ternary formats and kernels: hand-derived known vectors for tq1_0 / tq2_0 / i2_s, and every
// kernel variant the host runs (mad and lut families, GEMV and GEMM) against an integer oracle
// computed here from the decoded weights, bit for bit, plus f32 outputs against float64.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bitflash/error.h"
#include "bitflash/isa.h"
#include "bitflash/ternary.h"
#include "bitflash/threadpool.h"
#include "test-util.h"

using namespace bitflash;
using bitflash::test::CapGuard;
using bitflash::test::host_isas;

namespace {

// A ternary matrix in one of the three source formats, plus its decoded values and block scales.
struct TMat {
  DType t;
  size_t n, k;
  std::vector<uint8_t> bytes;
  std::vector<int8_t> w;   // n x k in {-1, 0, 1}
  std::vector<float> ws;   // n x nb
};

enum class WPat { random, all_neg, all_pos, all_zero, alternating };

float pattern_value(WPat p, size_t r, size_t j, std::mt19937& rng) {
  switch (p) {
    case WPat::all_neg: return -1.0f;
    case WPat::all_pos: return 1.0f;
    case WPat::all_zero: return 0.0f;
    case WPat::alternating: return (r + j) % 2 ? -1.0f : 1.0f;
    default: return static_cast<float>(static_cast<int>(rng() % 3) - 1);
  }
}

TMat make_mat(DType t, size_t n, size_t k, WPat p, std::mt19937& rng) {
  TMat m{t, n, k, {}, {}, {}};
  std::vector<float> f(n * k);
  std::uniform_real_distribution<float> sd(0.25f, 3.0f);
  for (size_t r = 0; r < n; r++) {
    for (size_t b = 0; b < k / QK_T; b++) {
      const float s = t == DType::i2_s ? 1.0f : sd(rng);  // tq: amax per block
      bool any = false;
      for (size_t j = b * QK_T; j < (b + 1) * QK_T; j++) {
        f[r * k + j] = pattern_value(p, r, j, rng) * s;
        any |= f[r * k + j] != 0.0f;
      }
      // a random tq block with no +-s element would have a different amax: force one
      if (!any && p == WPat::random) f[r * k + b * QK_T] = s;
    }
  }
  m.bytes.resize(ternary_tensor_bytes(t, n, k));
  if (t == DType::tq1_0) quantize_tq1_0(f.data(), n * k, reinterpret_cast<block_tq1_0*>(m.bytes.data()));
  if (t == DType::tq2_0) quantize_tq2_0(f.data(), n * k, reinterpret_cast<block_tq2_0*>(m.bytes.data()));
  if (t == DType::i2_s) quantize_i2_s(f.data(), n * k, m.bytes.data());
  // decode independently through dequantize (values / scale)
  std::vector<float> dq(n * k);
  if (t == DType::tq1_0) dequantize_tq1_0(reinterpret_cast<block_tq1_0*>(m.bytes.data()), n * k, dq.data());
  if (t == DType::tq2_0) dequantize_tq2_0(reinterpret_cast<block_tq2_0*>(m.bytes.data()), n * k, dq.data());
  if (t == DType::i2_s) dequantize_i2_s(m.bytes.data(), n * k, dq.data());
  const size_t nb = k / QK_T;
  m.w.resize(n * k);
  m.ws.resize(n * nb);
  float i2s = 0;
  if (t == DType::i2_s) std::memcpy(&i2s, m.bytes.data() + n * k / 4, 4);
  for (size_t r = 0; r < n; r++)
    for (size_t b = 0; b < nb; b++) {
      float s = i2s;
      if (t == DType::tq1_0) s = fp16_to_f32(reinterpret_cast<block_tq1_0*>(m.bytes.data())[r * nb + b].d);
      if (t == DType::tq2_0) s = fp16_to_f32(reinterpret_cast<block_tq2_0*>(m.bytes.data())[r * nb + b].d);
      m.ws[r * nb + b] = s;
      for (size_t j = b * QK_T; j < (b + 1) * QK_T; j++) {
        const float v = dq[r * k + j];
        m.w[r * k + j] = s == 0.0f ? 0 : static_cast<int8_t>(v > 0 ? 1 : (v < 0 ? -1 : 0));
        // the source pattern survives quantization exactly
        if (s != 0.0f) REQUIRE(std::fabs(v) == (m.w[r * k + j] ? s : 0.0f));
      }
    }
  return m;
}

std::vector<uint8_t> pack(const TMat& m, TernaryFamily f) {
  std::vector<uint8_t> p(ternary_pack_size(f, m.n, m.k));
  ternary_pack(f, m.t, m.bytes.data(), m.bytes.size(), m.n, m.k, p.data(), p.size());
  return p;
}

enum class XPat { random, all_max, all_min, mixed_scale };

std::vector<float> make_x(size_t m, size_t k, XPat p, std::mt19937& rng) {
  std::vector<float> x(m * k);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (size_t i = 0; i < x.size(); i++) {
    switch (p) {
      case XPat::all_max: x[i] = 3.5f; break;   // every q = 127
      case XPat::all_min: x[i] = -3.5f; break;  // every q = -127
      case XPat::mixed_scale: x[i] = nd(rng) * std::pow(10.0f, static_cast<float>((i / QK_T) % 5) - 2.0f); break;
      default: x[i] = nd(rng);
    }
  }
  return x;
}

// Integer oracle: block sums of decoded weights times the reference-quantized activations.
std::vector<int32_t> oracle_blocksums(const TMat& w, const std::vector<block_q8_t>& a, size_t m) {
  const size_t nb = w.k / QK_T;
  std::vector<int32_t> out(m * w.n * nb);
  for (size_t i = 0; i < m; i++)
    for (size_t r = 0; r < w.n; r++)
      for (size_t b = 0; b < nb; b++) {
        int32_t s = 0;
        for (int j = 0; j < QK_T; j++) s += w.w[r * w.k + b * QK_T + j] * a[i * nb + b].qs[j];
        out[(i * w.n + r) * nb + b] = s;
      }
  return out;
}

// f32 spec applied to the oracle's sums.
std::vector<float> oracle_f32(const TMat& w, const std::vector<block_q8_t>& a, const std::vector<int32_t>& bs, size_t m) {
  const size_t nb = w.k / QK_T;
  std::vector<float> y(m * w.n);
  for (size_t i = 0; i < m; i++)
    for (size_t r = 0; r < w.n; r++) {
      float acc = 0.0f;
      for (size_t b = 0; b < nb; b++)
        acc = std::fmaf(static_cast<float>(bs[(i * w.n + r) * nb + b]), w.ws[r * nb + b] * a[i * nb + b].d, acc);
      y[i * w.n + r] = acc;
    }
  return y;
}

// Runs both families on every host ISA and checks sums and outputs bit for bit.
void check_shape(const TMat& w, size_t m, const std::vector<float>& x, const char* what) {
  const size_t nb = w.k / QK_T;
  std::vector<block_q8_t> a(m * nb);
  q8t_quant__ref(x.data(), m * nb, a.data());
  const std::vector<int32_t> want = oracle_blocksums(w, a, m);
  const std::vector<float> wantf = oracle_f32(w, a, want, m);
  const std::vector<uint8_t> pm = pack(w, TernaryFamily::mad), pl = pack(w, TernaryFamily::lut);
  CapGuard guard;
  for (Isa isa : host_isas()) {
    set_isa_cap(isa);
    // the activation quantizer of this path equals the reference
    std::vector<block_q8_t> got_a(m * nb);
    quantize_act_q8t(x.data(), m, w.k, got_a.data());
    REQUIRE_MESSAGE(std::memcmp(got_a.data(), a.data(), a.size() * sizeof(block_q8_t)) == 0,
                    what << " isa=" << isa_name(isa) << " q8t kernel " << q8t_quant_kernel().name);
    for (int fam = 0; fam < 2; fam++) {
      const std::vector<uint8_t>& p = fam == 0 ? pm : pl;
      const char* kname = fam == 0 ? ternary_mad_kernel().name : ternary_lut_kernel().name;
      std::vector<int32_t> yi(want.size(), 0x7eadbeef);
      ternary_matmul_blocksums(p.data(), p.size(), x.data(), m, yi.data());
      size_t bad = 0, first = 0;
      for (size_t e = 0; e < yi.size(); e++)
        if (yi[e] != want[e] && bad++ == 0) first = e;
      CHECK_MESSAGE(bad == 0, what << " blocksums isa=" << isa_name(isa) << " kernel=" << kname << " m=" << m
                                   << " n=" << w.n << " k=" << w.k << " mismatches=" << bad << " first=" << first
                                   << " got=" << yi[first] << " want=" << want[first]);
      TernaryWeights tw;
      (fam == 0 ? tw.mad : tw.lut) = p.data();
      (fam == 0 ? tw.mad_bytes : tw.lut_bytes) = p.size();
      TernaryMatmulOptions opt;
      opt.family = fam == 0 ? TernaryFamily::mad : TernaryFamily::lut;
      std::vector<float> y(m * w.n, -1.0f);
      CHECK(ternary_matmul(tw, x.data(), m, y.data(), opt) == opt.family);
      CHECK_MESSAGE(std::memcmp(y.data(), wantf.data(), y.size() * 4) == 0,
                    what << " f32 isa=" << isa_name(isa) << " kernel=" << kname << " m=" << m << " n=" << w.n
                         << " k=" << w.k);
    }
  }
}
}  // namespace

TEST_CASE("tq2_0 known vector") {
  float x[256] = {0};
  x[0] = 2.0f;    // amax: d = 2, q = +1 -> code 2
  x[32] = -2.0f;  // q = -1 -> code 0
  x[64] = 1.0f;   // 0.5 rounds away from zero -> +1 -> code 2
  x[96] = -1.0f;  // -> -1 -> code 0
  x[1] = 0.9f;    // 0.45 -> 0 -> code 1
  x[128] = -0.99f;  // -0.495 -> 0
  x[255] = -1.5f;   // -0.75 -> -1: byte 63, n = 3 -> bits 7..6 = 0
  block_tq2_0 b;
  quantize_tq2_0(x, 256, &b);
  CHECK(+b.d == 0x4000);
  CHECK(b.qs[0] == (2 | 0 << 2 | 2 << 4 | 0 << 6));
  CHECK(b.qs[1] == 0x55);
  CHECK(b.qs[32] == 0x55);
  CHECK(b.qs[63] == 0x15);
  for (int j = 2; j < 32; j++) CHECK(b.qs[j] == 0x55);
  float y[256];
  dequantize_tq2_0(&b, 256, y);
  CHECK(y[0] == 2.0f);
  CHECK(y[32] == -2.0f);
  CHECK(y[64] == 2.0f);
  CHECK(y[1] == 0.0f);
  CHECK(y[255] == -2.0f);
}

TEST_CASE("tq1_0 known vectors") {
  float x[256] = {0};
  block_tq1_0 b;
  // all zero: d = 0, every trit 1: 11111 (base 3) = 121 -> ceil(121 * 256 / 243) = 128; qh 1111 * 3 = 120 -> 127
  quantize_tq1_0(x, 256, &b);
  CHECK(+b.d == 0);
  for (int j = 0; j < 48; j++) CHECK(b.qs[j] == 128);
  for (int j = 0; j < 4; j++) CHECK(b.qh[j] == 127);
  // all +1 (amax 1): 22222 = 242 -> ceil(242 * 256 / 243) = 255; qh 2222 * 3 = 240 -> 253
  for (float& v : x) v = 1.0f;
  quantize_tq1_0(x, 256, &b);
  CHECK(+b.d == 0x3c00);
  for (int j = 0; j < 48; j++) CHECK(b.qs[j] == 255);
  for (int j = 0; j < 4; j++) CHECK(b.qh[j] == 253);
  // all -1: every code 0
  for (float& v : x) v = -1.0f;
  quantize_tq1_0(x, 256, &b);
  for (int j = 0; j < 48; j++) CHECK(b.qs[j] == 0);
  for (int j = 0; j < 4; j++) CHECK(b.qh[j] == 0);
  // element 0 = +1, the rest 0: byte 0 = 2*81 + 27 + 9 + 3 + 1 = 202 -> ceil(202 * 256 / 243) = 213.
  // Element 160 (first of the 16-byte part) = -1: byte 32 = 0*81 + 40 = 40 -> ceil(40 * 256 / 243) = 43.
  // Element 240 (first of qh) = +1: qh[0] = (2*27 + 13) * 3 = 201 -> ceil(201 * 256 / 243) = 212.
  for (float& v : x) v = 0.0f;
  x[0] = 4.0f;
  x[160] = -4.0f;
  x[240] = 2.0f;  // 0.5 -> +1 (half away from zero)
  quantize_tq1_0(x, 256, &b);
  CHECK(+b.d == f32_to_fp16(4.0f));
  CHECK(b.qs[0] == 213);
  CHECK(b.qs[1] == 128);
  CHECK(b.qs[32] == 43);
  CHECK(b.qh[0] == 212);
  CHECK(b.qh[1] == 127);
  float y[256];
  dequantize_tq1_0(&b, 256, y);
  CHECK(y[0] == 4.0f);
  CHECK(y[160] == -4.0f);
  CHECK(y[240] == 4.0f);
  for (int j = 0; j < 256; j++)
    if (j != 0 && j != 160 && j != 240) CHECK(y[j] == 0.0f);
}

TEST_CASE("i2_s known vectors (bitnet.cpp layout, absmean scale)") {
  float x[128] = {0};
  x[0] = 3.0f;
  x[1] = -3.0f;
  x[2] = 0.5f;
  x[3] = -1.0f;
  // mean |x| = 7.5 / 128 = 0.05859375; x / s = 51.2, -51.2, 8.53, -17.07 -> +1, -1, +1, -1
  std::vector<uint8_t> y(ternary_tensor_bytes(DType::i2_s, 1, 128));
  CHECK(y.size() == 64);
  quantize_i2_s(x, 128, y.data());
  CHECK(y[0] == 0x95);  // element 0 code 2 at bits 7..6; elements 32, 64, 96 code 1
  CHECK(y[1] == 0x15);
  CHECK(y[2] == 0x95);
  CHECK(y[3] == 0x15);
  for (int j = 4; j < 32; j++) CHECK(y[j] == 0x55);
  float s;
  std::memcpy(&s, y.data() + 32, 4);
  CHECK(s == 0.05859375f);
  for (int j = 36; j < 64; j++) CHECK(y[j] == 0);
  // tie: x = [254.5, 1, .., x33 = -0.5]: s = 256 / 128 = 2; 1 / 2 = 0.5 -> +1 (half away from zero);
  // -0.5 / 2 = -0.25 -> 0; 254.5 / 2 clamps to +1
  float x2[128] = {0};
  x2[0] = 254.5f;
  x2[1] = 1.0f;
  x2[33] = -0.5f;
  quantize_i2_s(x2, 128, y.data());
  CHECK(y[0] == 0x95);
  CHECK(y[1] == 0x95);
  std::memcpy(&s, y.data() + 32, 4);
  CHECK(s == 2.0f);
  float d[128];
  dequantize_i2_s(y.data(), 128, d);
  CHECK(d[0] == 2.0f);
  CHECK(d[1] == 2.0f);
  CHECK(d[33] == 0.0f);
  CHECK(d[2] == 0.0f);
}

TEST_CASE("q8t activation quantization: rule and known values") {
  float x[256] = {0};
  x[0] = 127.0f;  // d = 1
  x[1] = -2.5f;   // -> -3 (half away from zero)
  x[2] = 0.5f;    // -> 1
  block_q8_t b;
  q8t_quant__ref(x, 1, &b);
  CHECK(+b.d == 1.0f);
  CHECK(b.qs[0] == 127);
  CHECK(b.qs[1] == -3);
  CHECK(b.qs[2] == 1);
  CHECK(b.sum == 125);
  float z[256] = {0};
  q8t_quant__ref(z, 1, &b);
  CHECK(+b.d == 0.0f);
  CHECK(b.sum == 0);
}

TEST_CASE("ternary kernels: tile-derived shapes, every family and ISA, bit-exact") {
  std::mt19937 rng(20261125);
  // m in 1..MR+1 (MR = 4), n in 1..NR+1 and 2NR for NR = 2, 8, 16; k = 256, 512, 768
  for (size_t k : {size_t(256), size_t(512), size_t(768)})
    for (size_t n : {size_t(1), size_t(2), size_t(3), size_t(5), size_t(8), size_t(9), size_t(16), size_t(17), size_t(32)})
      for (size_t m : {size_t(1), size_t(2), size_t(4), size_t(5)}) {
        const TMat w = make_mat(DType::tq2_0, n, k, WPat::random, rng);
        check_shape(w, m, make_x(m, k, XPat::mixed_scale, rng), "tq2_0");
      }
}

TEST_CASE("ternary kernels: tq1_0 and i2_s sources, larger m and K chunking") {
  std::mt19937 rng(7);
  check_shape(make_mat(DType::tq1_0, 33, 512, WPat::random, rng), 3, make_x(3, 512, XPat::random, rng), "tq1_0");
  check_shape(make_mat(DType::i2_s, 20, 768, WPat::random, rng), 1, make_x(1, 768, XPat::random, rng), "i2_s");
  check_shape(make_mat(DType::i2_s, 7, 256, WPat::random, rng), 6, make_x(6, 256, XPat::random, rng), "i2_s");
  // m > 64 (M chunk) and nb = 9 > 8 (K chunk continues the fmaf chain from y)
  check_shape(make_mat(DType::tq2_0, 40, 2304, WPat::random, rng), 70, make_x(70, 2304, XPat::random, rng), "chunks");
}

TEST_CASE("ternary kernels: deep K") {
  std::mt19937 rng(99);
  const TMat w = make_mat(DType::tq2_0, 19, 32768, WPat::random, rng);
  check_shape(w, 1, make_x(1, 32768, XPat::random, rng), "deepK gemv");
  check_shape(w, 2, make_x(2, 32768, XPat::random, rng), "deepK gemm");
  // all +1 weights and all 127 activations: every block sum at its maximum 256 * 127
  const TMat p = make_mat(DType::tq2_0, 17, 32768, WPat::all_pos, rng);
  check_shape(p, 1, make_x(1, 32768, XPat::all_max, rng), "deepK extreme");
}

TEST_CASE("ternary kernels: weight and activation extremes") {
  std::mt19937 rng(5);
  for (WPat p : {WPat::all_neg, WPat::all_pos, WPat::all_zero, WPat::alternating})
    for (XPat xp : {XPat::all_max, XPat::all_min, XPat::random}) {
      const TMat w = make_mat(DType::tq2_0, 18, 512, p, rng);
      check_shape(w, 2, make_x(2, 512, xp, rng), "extreme");
      const TMat w1 = make_mat(DType::tq1_0, 3, 256, p, rng);
      check_shape(w1, 1, make_x(1, 256, xp, rng), "extreme tq1_0");
    }
}

TEST_CASE("ternary matmul: f32 output against float64") {
  // Two tolerances, each derived:
  //  (a) against the float64 value of the same integer sums, sum_b isum_b * ws_b * xd_b: the f32 path
  //      rounds ws*xd once (2^-24 relative) and each fmaf once, so |err| <= (nb + 1) * 2^-24 * sum_b |term_b|.
  //  (b) against the float64 product of the dequantized weights and the original x: activation rounding
  //      moves each x by at most xd_b / 2, so |err| <= sum_b ws_b * (xd_b / 2) * nnz_b, plus (a).
  std::mt19937 rng(31);
  const size_t n = 24, k = 1536, m = 3, nb = k / QK_T;
  const TMat w = make_mat(DType::tq2_0, n, k, WPat::random, rng);
  const std::vector<float> x = make_x(m, k, XPat::mixed_scale, rng);
  std::vector<block_q8_t> a(m * nb);
  q8t_quant__ref(x.data(), m * nb, a.data());
  const std::vector<int32_t> bs = oracle_blocksums(w, a, m);
  const std::vector<uint8_t> pm = pack(w, TernaryFamily::mad);
  TernaryWeights tw;
  tw.mad = pm.data();
  tw.mad_bytes = pm.size();
  std::vector<float> y(m * n);
  ternary_matmul(tw, x.data(), m, y.data());
  for (size_t i = 0; i < m; i++)
    for (size_t r = 0; r < n; r++) {
      double q64 = 0, mag = 0, true64 = 0, qerr = 0;
      for (size_t b = 0; b < nb; b++) {
        const double term = static_cast<double>(bs[(i * n + r) * nb + b]) * w.ws[r * nb + b] * a[i * nb + b].d;
        q64 += term;
        mag += std::fabs(term);
        size_t nnz = 0;
        for (int j = 0; j < QK_T; j++) {
          const size_t e = b * QK_T + j;
          true64 += static_cast<double>(w.w[r * k + e]) * w.ws[r * nb + b] * x[i * k + e];
          nnz += w.w[r * k + e] != 0;
        }
        qerr += w.ws[r * nb + b] * (a[i * nb + b].d / 2.0) * static_cast<double>(nnz);
      }
      const double tol_a = (nb + 1) * std::ldexp(1.0, -24) * mag;
      CHECK(std::fabs(y[i * n + r] - q64) <= tol_a);
      CHECK(std::fabs(y[i * n + r] - true64) <= qerr * 1.0001 + tol_a);
    }
}

TEST_CASE("ternary auto-tune: measures once, caches, file cache, override") {
  std::mt19937 rng(11);
  ternary_tune_clear();
  const TMat w = make_mat(DType::tq2_0, 64, 1024, WPat::random, rng);
  const std::vector<uint8_t> pm = pack(w, TernaryFamily::mad), pl = pack(w, TernaryFamily::lut);
  const std::vector<float> x = make_x(1, 1024, XPat::random, rng);
  TernaryWeights tw{pm.data(), pm.size(), pl.data(), pl.size()};
  const std::string path = "bitflash-ternary-tune-test.txt";
  std::remove(path.c_str());
  TernaryMatmulOptions opt;
  opt.tune_cache_path = path.c_str();
  std::vector<float> ya(64), ym(64), yl(64);
  const TernaryFamily won = ternary_matmul(tw, x.data(), 1, ya.data(), opt);
  CHECK((won == TernaryFamily::mad || won == TernaryFamily::lut));
  TernaryTuneKey key{64, 1024, ternary_m_bucket(1), static_cast<int>(active_isa()), ThreadPool::global().threads()};
  TernaryFamily cached;
  REQUIRE(ternary_tune_lookup(key, &cached));
  CHECK(cached == won);
  // both families give the same bits, so the auto result equals either forced one
  opt.family = TernaryFamily::mad;
  ternary_matmul(tw, x.data(), 1, ym.data(), opt);
  opt.family = TernaryFamily::lut;
  ternary_matmul(tw, x.data(), 1, yl.data(), opt);
  CHECK(std::memcmp(ya.data(), ym.data(), 64 * 4) == 0);
  CHECK(std::memcmp(ym.data(), yl.data(), 64 * 4) == 0);
  // the file cache restores the winner after the memory cache is cleared
  ternary_tune_clear();
  CHECK_FALSE(ternary_tune_lookup(key, &cached));
  ternary_tune_load_file(path.c_str());
  REQUIRE(ternary_tune_lookup(key, &cached));
  CHECK(cached == won);
  // a forced family overrides the cache: store the other one and force it
  const TernaryFamily other = won == TernaryFamily::mad ? TernaryFamily::lut : TernaryFamily::mad;
  ternary_tune_store(key, other, 1, 1, nullptr);
  opt.family = TernaryFamily::automatic;
  opt.tune_cache_path = nullptr;
  CHECK(ternary_matmul(tw, x.data(), 1, ya.data(), opt) == other);
  opt.family = won;
  CHECK(ternary_matmul(tw, x.data(), 1, ya.data(), opt) == won);
  // only one packed form: auto runs it without tuning
  TernaryWeights only{pm.data(), pm.size(), nullptr, 0};
  opt.family = TernaryFamily::automatic;
  CHECK(ternary_matmul(only, x.data(), 1, ya.data(), opt) == TernaryFamily::mad);
  std::remove(path.c_str());
  ternary_tune_clear();
  CHECK(ternary_m_bucket(1) == 1);
  CHECK(ternary_m_bucket(8) == 8);
  CHECK(ternary_m_bucket(9) == 64);
  CHECK(ternary_m_bucket(512) == 0xffffffffu);
}

TEST_CASE("ternary error paths throw Error(kErrArg)") {
  auto is_arg = [](auto&& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return std::string(e.code()) == kErrArg;
    }
    return false;
  };
  std::vector<float> x(512, 1.0f);
  std::vector<block_tq2_0> b2(2);
  std::vector<block_tq1_0> b1(2);
  std::vector<uint8_t> i2(512);
  CHECK(is_arg([&] { quantize_tq2_0(x.data(), 300, b2.data()); }));  // tq blocks are 256: k % 256 == 0 required
  CHECK(is_arg([&] { quantize_tq1_0(x.data(), 100, b1.data()); }));
  CHECK(is_arg([&] { quantize_i2_s(x.data(), 100, i2.data()); }));
  CHECK(is_arg([&] { ternary_tensor_bytes(DType::q8_0, 1, 256); }));
  CHECK(is_arg([&] { ternary_tensor_bytes(DType::tq2_0, 1, 300); }));
  CHECK(is_arg([&] { ternary_pack_size(TernaryFamily::mad, 4, 300); }));
  CHECK(is_arg([&] { ternary_pack_size(TernaryFamily::automatic, 4, 256); }));
  x[3] = NAN;
  CHECK(is_arg([&] { quantize_tq2_0(x.data(), 256, b2.data()); }));
  x[3] = 1.0f;
  std::mt19937 rng(1);
  const TMat w = make_mat(DType::tq2_0, 4, 256, WPat::random, rng);
  std::vector<uint8_t> small(100);
  CHECK(is_arg([&] { ternary_pack(TernaryFamily::mad, DType::tq2_0, w.bytes.data(), w.bytes.size(), 4, 256, small.data(), small.size()); }));
  CHECK(is_arg([&] { ternary_pack(TernaryFamily::mad, DType::tq2_0, w.bytes.data(), 10, 4, 256, small.data(), 1 << 20); }));
  CHECK(is_arg([&] { ternary_pack(TernaryFamily::mad, DType::q4_0, w.bytes.data(), w.bytes.size(), 4, 256, small.data(), 1 << 20); }));
  const std::vector<uint8_t> pm = pack(w, TernaryFamily::mad), pl = pack(w, TernaryFamily::lut);
  std::vector<float> y(4);
  TernaryMatmulOptions forced;
  forced.family = TernaryFamily::lut;
  CHECK(is_arg([&] { ternary_matmul(TernaryWeights{pm.data(), pm.size(), nullptr, 0}, x.data(), 1, y.data(), forced); }));
  CHECK(is_arg([&] { ternary_matmul(TernaryWeights{}, x.data(), 1, y.data()); }));
  CHECK(is_arg([&] { ternary_matmul(TernaryWeights{pl.data(), pl.size(), nullptr, 0}, x.data(), 1, y.data()); }));  // wrong slot
  CHECK(is_arg([&] { ternary_matmul(TernaryWeights{pm.data(), 70, nullptr, 0}, x.data(), 1, y.data()); }));  // truncated
  std::vector<uint8_t> bad = pm;
  bad[0] ^= 1;
  CHECK(is_arg([&] { ternary_matmul(TernaryWeights{bad.data(), bad.size(), nullptr, 0}, x.data(), 1, y.data()); }));
  const TMat w2 = make_mat(DType::tq2_0, 4, 512, WPat::random, rng);
  const std::vector<uint8_t> pl2 = pack(w2, TernaryFamily::lut);
  CHECK(is_arg([&] { ternary_matmul(TernaryWeights{pm.data(), pm.size(), pl2.data(), pl2.size()}, x.data(), 1, y.data()); }));
  x[7] = INFINITY;
  CHECK(is_arg([&] { ternary_matmul(TernaryWeights{pm.data(), pm.size(), nullptr, 0}, x.data(), 1, y.data()); }));
  std::vector<block_q8_t> a(2);
  CHECK(is_arg([&] { quantize_act_q8t(x.data(), 1, 300, a.data()); }));
}

TEST_CASE("ternary dispatch: each capped ISA selects its own kernels (so the loops above test them)") {
  CapGuard guard;
  for (Isa isa : host_isas()) {
    set_isa_cap(isa);
    const std::string mad = ternary_mad_kernel().name, lut = ternary_lut_kernel().name;
    if (isa == Isa::scalar) {
      CHECK(mad == "tq2_q8_gemm__ref");
      CHECK(lut == "tl3_q8_gemm__ref");
    }
    if (isa == Isa::avx2) CHECK(mad == "tq2_q8_gemm_4x2c32__avx2");
    if (isa == Isa::avxvnni) CHECK(mad == "tq2_q8_gemm_4x2c32__avxvnni");
    if (isa == Isa::avx2 || isa == Isa::avxvnni) CHECK(lut == "tl3_q8_gemm_1x16c3__avx2");
    if (isa == Isa::avx512vnni) {
      CHECK(mad == "tq2_q8_gemm_4x4c64__avx512vnni");
      CHECK(lut == "tl3_q8_gemm_1x16c3__avx512vnni");
    }
    if (isa == Isa::neon) CHECK(mad == "tq2_q8_gemm_4x4c16__neon");
    if (isa == Isa::dotprod || isa == Isa::i8mm) CHECK(mad == "tq2_q8_gemm_4x4c16__dotprod");
    if (isa == Isa::neon || isa == Isa::dotprod || isa == Isa::i8mm) {
      CHECK(lut == "tl3_q8_gemm_1x16c3__neon");
      CHECK(std::string(ternary_lut_build_kernel().name) == "tl3_lut_build__neon");
      CHECK(std::string(q8t_quant_kernel().name) == "q8t_quant__neon");
    }
  }
}
