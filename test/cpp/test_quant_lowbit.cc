// q4_0 / i8c / i4g / q4_K: hand-derived known vectors for the references, SIMD quantizers bit-exact.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bitflash/error.h"
#include "bitflash/isa.h"
#include "bitflash/quant.h"
#include "test-util.h"

using namespace bitflash;
using bitflash::test::CapGuard;
using bitflash::test::host_isas;

namespace {
}  // namespace

TEST_CASE("q4_0 reference: known blocks") {
  SUBCASE("ramp with positive max: d = 8/-8 = -1, q = trunc(-x + 8.5) capped at 15") {
    float x[32];
    for (int j = 0; j < 32; j++) x[j] = static_cast<float>(j % 17) - 8.0f;  // -8..8, then -8..6
    x[5] = 8.0f;  // |8| ties with |-8| at x[0]: the first (x[0] = -8) wins -> max = -8, d = 1
    block_q4_0 b;
    q4_0_quant__ref(x, &b, 1);
    CHECK(+b.d == f32_to_fp16(1.0f));
    // id = 1: q = trunc(x + 8.5) -> x + 8 for integers, x = 8 -> 16 -> capped 15
    for (int j = 0; j < 16; j++) {
      const int q0 = std::min(15, static_cast<int>(x[j] + 8.5f)), q1 = std::min(15, static_cast<int>(x[j + 16] + 8.5f));
      CHECK(b.qs[j] == (q0 | (q1 << 4)));
    }
    CHECK((b.qs[0] & 0x0f) == 0);    // -8 -> 0
    CHECK((b.qs[5] & 0x0f) == 15);   // +8 -> 16 -> 15
    CHECK((b.qs[8] & 0x0f) == 8);    // 0 -> 8
  }
  SUBCASE("all zero: d = 0 / -8 = -0 (f16 0x8000), id = 0, every q = trunc(8.5) = 8") {
    float x[32] = {};
    block_q4_0 b;
    q4_0_quant__ref(x, &b, 1);
    CHECK(+b.d == 0x8000);
    for (int j = 0; j < 16; j++) CHECK(b.qs[j] == 0x88);
  }
  SUBCASE("negative max: max = -4 -> d = 0.5, q = trunc(2x + 8.5)") {
    float x[32] = {};
    x[3] = -4.0f;
    x[20] = 3.0f;   // 2*3+8.5 = 14.5 -> 14
    x[7] = 0.25f;   // 0.5+8.5 = 9 -> 9
    x[8] = -0.25f;  // -0.5+8.5 = 8 -> 8
    block_q4_0 b;
    q4_0_quant__ref(x, &b, 1);
    CHECK(+b.d == f32_to_fp16(0.5f));
    CHECK((b.qs[3] & 0x0f) == 0);
    CHECK((b.qs[4] >> 4) == 14);
    CHECK((b.qs[7] & 0x0f) == 9);
    CHECK((b.qs[8] & 0x0f) == 8);
    CHECK((b.qs[0] & 0x0f) == 8);
    float y[32];
    q4_0_dequant__ref(&b, y, 1);
    CHECK(y[3] == -4.0f);
    CHECK(y[20] == 3.0f);
    CHECK(y[7] == 0.5f);
  }
}

TEST_CASE("q4_0 quantizer: every variant bit-exact with the reference") {
  CapGuard g;
  std::mt19937 rng(1234);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const size_t nb = 257;
  std::vector<float> x(nb * 32);
  for (auto& v : x) v = nd(rng);
  for (size_t b = 0; b < nb; b += 7) {
    x[b * 32 + 3] = 3.5f;
    x[b * 32 + 9] = -3.5f;
  }  // equal-magnitude ties
  for (size_t j = 0; j < 32; j++) x[5 * 32 + j] = 0.0f;                       // an all-zero block
  std::vector<block_q4_0> ref(nb), got(nb);
  set_isa_cap(Isa::scalar);
  CHECK(std::string(q4_0_quant_kernel().name) == "q4_0_quant__ref");
  quantize_q4_0(x.data(), x.size(), ref.data());
  for (Isa isa : host_isas()) {
    set_isa_cap(isa);
    quantize_q4_0(x.data(), x.size(), got.data());
    CHECK_MESSAGE(std::memcmp(ref.data(), got.data(), nb * sizeof(block_q4_0)) == 0,
                  "kernel " << q4_0_quant_kernel().name << " seed 1234");
  }
  CHECK_THROWS_AS(quantize_q4_0(x.data(), 33, ref.data()), Error);
  x[7] = NAN;
  CHECK_THROWS_AS(quantize_q4_0(x.data(), 64, ref.data()), Error);
}

TEST_CASE("i8c: per-channel symmetric, rounding half away from zero") {
  // row 0: amax 127 -> s = 1; 2.5 -> 3, -2.5 -> -3, 0.49 -> 0; row 1 all zero -> s = 0, q = 0
  float x[8] = {127.0f, 2.5f, -2.5f, 0.49f, 0, 0, 0, 0};
  int8_t q[8];
  float s[2];
  quantize_i8c(x, 2, 4, q, s);
  CHECK(s[0] == 1.0f);
  CHECK(q[0] == 127);
  CHECK(q[1] == 3);
  CHECK(q[2] == -3);
  CHECK(q[3] == 0);
  CHECK(s[1] == 0.0f);
  for (int j = 4; j < 8; j++) CHECK(q[j] == 0);
  float y[8];
  dequantize_i8c(q, s, 2, 4, y);
  CHECK(y[1] == 3.0f);
  CHECK(y[4] == 0.0f);
}

TEST_CASE("i4g: onnxruntime MatMulNBits layout and rounding, symmetric and asymmetric") {
  SUBCASE("symmetric, group 32, k = 40 (a padded second group)") {
    std::vector<float> x(40, 0.0f);
    x[0] = 4.0f;   // max |x| = 4, |max| > |min| -> scale = 4 / -8 = -0.5
    x[1] = -2.0f;  // q = round(-2 * -2 + 8) = 12
    x[2] = 1.25f;  // -2.5 + 8 = 5.5 -> 6 (half away from zero)
    x[33] = -1.0f; // group 1: max = -1 (only nonzero) -> scale = 0.125; q = round(-8 + 8) = 0
    std::vector<uint8_t> d(i4g_data_bytes(1, 40, 32));
    std::vector<float> s(i4g_scales_len(1, 40, 32));
    CHECK(d.size() == 32);
    CHECK(s.size() == 2);
    quantize_i4g(x.data(), 1, 40, 32, true, d.data(), s.data(), nullptr);
    CHECK(s[0] == -0.5f);
    CHECK(s[1] == 0.125f);
    CHECK(d[0] == (0 | (12 << 4)));  // 4 * -2 + 8 = 0; -2 -> 12
    CHECK((d[1] & 0x0f) == 6);
    CHECK((d[1] >> 4) == 8);         // 0 -> 8
    CHECK((d[16] & 0x0f) == 8);      // element 32 = 0
    CHECK((d[16] >> 4) == 0);        // element 33 = -1
    CHECK(d[31] == 0x88);            // padding past k = the zero point
    std::vector<float> y(40);
    dequantize_i4g(d.data(), s.data(), nullptr, 1, 40, 32, y.data());
    CHECK(y[0] == 4.0f);
    CHECK(y[1] == -2.0f);
    CHECK(y[2] == 1.0f);  // (6 - 8) * -0.5
    CHECK(y[33] == -1.0f);
  }
  SUBCASE("asymmetric, group 32, three groups: zero points packed two per byte") {
    std::vector<float> x(96, 0.0f);
    for (int j = 0; j < 32; j++) x[j] = static_cast<float>(j) * 0.5f;  // 0..15.5: lo 0, scale 15.5/15
    for (int j = 32; j < 64; j++) x[j] = -3.0f;                         // all negative: hi = 0, scale 0.2, zp 15
    // group 2 all zero: scale 0, zp = 0 (zero_point_fp = lo = 0), q = round(0 + 0) = 0
    std::vector<uint8_t> d(i4g_data_bytes(1, 96, 32)), z(i4g_zero_points_bytes(1, 96, 32));
    std::vector<float> s(3);
    CHECK(z.size() == 2);
    quantize_i4g(x.data(), 1, 96, 32, false, d.data(), s.data(), z.data());
    CHECK(s[0] == 15.5f / 15.0f);
    CHECK(s[1] == 3.0f / 15.0f);
    CHECK(s[2] == 0.0f);
    CHECK(z[0] == (0 | (15 << 4)));
    CHECK(z[1] == 0);
    CHECK((d[16] & 0x0f) == 0);  // -3 / 0.2 + 15 = 0
    CHECK((d[15] >> 4) == 15);   // x[31] = 15.5 -> 15
    CHECK(d[32] == 0);
  }
  CHECK_THROWS_AS(i4g_data_bytes(1, 32, 48), Error);
}

TEST_CASE("q4_K dequantization: hand-built super-block") {
  block_q4_K b;
  std::memset(&b, 0, sizeof b);
  b.d = f32_to_fp16(0.5f);
  b.dmin = f32_to_fp16(0.25f);
  // pairs 0..3: scales[j] & 63, mins scales[j+4] & 63; pairs 4..7: low nibble of scales[j+4] | (scales[j-4] >> 6) << 4
  b.scales[0] = 3;                 // sc0 = 3
  b.scales[4] = 2;                 // m0 = 2
  b.scales[1] = 0x40 | 5;          // sc1 = 5, top bits 01 -> sc5 high = 1
  b.scales[5] = 0x80 | 1;          // m1 = 1, top bits 10 -> m5 high = 2
  b.scales[9] = 0x37;              // sc5 = 7 | (1 << 4) = 23, m5 = 3 | (2 << 4) = 35
  for (int l = 0; l < 32; l++) b.qs[l] = static_cast<uint8_t>((l & 15) | ((15 - (l & 15)) << 4));
  for (int l = 64; l < 96; l++) b.qs[l] = static_cast<uint8_t>(9 << 4 | 4);
  std::vector<float> y(256);
  dequantize_q4_K(&b, 256, y.data());
  CHECK(y[0] == -0.5f);                  // 1.5 * 0 - 0.5
  CHECK(y[7] == 1.5f * 7 - 0.5f);
  CHECK(y[32] == 2.5f * 15 - 0.25f);     // pair 1, high nibble of qs[0] = 15
  CHECK(y[32 + 31] == 2.5f * 0 - 0.25f);
  CHECK(y[64] == 0.0f);                  // pair 2: sc 0, min 0
  CHECK(y[160] == 0.5f * 23 * 9 - 0.25f * 35);  // pair 5 (high nibbles of qs[64..95])
  CHECK_THROWS_AS(dequantize_q4_K(&b, 100, y.data()), Error);
}

// q4_0's x*id + 8.5f is two f32 roundings (the reference rule); a fused multiply-add rounds once and truncates
// to a different nibble here: max -24 gives d = 3, id = fl(1/3), and -22.5 * id = -7.50000015 rounds to -7.5
// (nibble 1) while the unrounded sum 0.99999985 truncates to 0. Each such element is checked on every path.
TEST_CASE("q4_0 quantizer: x*id + 8.5 is rounded twice on every path (no fused multiply-add)") {
  CapGuard g;
  std::vector<float> x(64, 0.0f);
  x[0] = -24.0f;
  const float ties[] = {-22.5f, -19.5f, -16.5f, -13.5f};
  for (size_t j = 0; j < 4; j++) x[1 + j] = ties[j];
  x[32] = -24.0f;
  for (size_t j = 0; j < 31; j++) x[33 + j] = -22.5f + 3.0f * static_cast<float>(j % 10);
  std::vector<block_q4_0> ref(2), got(2);
  q4_0_quant__ref(x.data(), ref.data(), 2);
  // the reference itself follows the rule (element 1 of block 0 is nibble 1, in the low nibble of qs[1])
  CHECK((ref[0].qs[1] & 0x0f) == 1);
  CHECK((ref[0].qs[2] & 0x0f) == 2);
  for (Isa isa : host_isas()) {
    set_isa_cap(isa);
    quantize_q4_0(x.data(), x.size(), got.data());
    CHECK_MESSAGE(std::memcmp(ref.data(), got.data(), sizeof(block_q4_0) * 2) == 0,
                  std::string(q4_0_quant_kernel().name));
  }
}
