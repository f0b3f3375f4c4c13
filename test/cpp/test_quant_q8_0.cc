// q8_0: hand-derived known vectors for the reference, and every SIMD variant bit-exact with it.
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

TEST_CASE("fp16 conversion: exact values, ties to even, subnormals, overflow") {
  CHECK(f32_to_fp16(1.0f) == 0x3c00);
  CHECK(f32_to_fp16(-2.0f) == 0xc000);
  CHECK(f32_to_fp16(65504.0f) == 0x7bff);
  CHECK(f32_to_fp16(65520.0f) == 0x7c00);             // rounds to inf
  CHECK(f32_to_fp16(1.0f + 1.0f / 2048) == 0x3c00);   // tie -> even (down)
  CHECK(f32_to_fp16(1.0f + 3.0f / 2048) == 0x3c02);   // tie -> even (up)
  CHECK(f32_to_fp16(5.9604644775390625e-8f) == 0x0001);  // smallest subnormal
  CHECK(f32_to_fp16(2.98023223876953125e-8f) == 0x0000); // half of it: tie to even 0
  CHECK(f32_to_fp16(6.103515625e-05f) == 0x0400);     // smallest normal
  for (uint32_t h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;  // nan payloads
    CHECK_MESSAGE(f32_to_fp16(fp16_to_f32(static_cast<fp16_t>(h))) == h, "h=" << h);
  }
}

TEST_CASE("q8_0 reference: known vector") {
  // amax 127 -> d = 1 exactly; x * 1 rounds half away from zero.
  float x[32];
  for (int j = 0; j < 32; j++) x[j] = 0.0f;
  x[0] = 127.0f;
  x[1] = -0.5f;   // -> -1 (away from zero)
  x[2] = 0.5f;    // -> 1
  x[3] = 2.5f;    // -> 3 (not banker's 2)
  x[4] = -126.5f; // -> -127
  x[5] = 0.49999997f;  // -> 0
  block_q8_0 b;
  q8_0_quant__ref(x, &b, 1);
  CHECK(+b.d == 0x3c00);
  CHECK(b.qs[0] == 127);
  CHECK(b.qs[1] == -1);
  CHECK(b.qs[2] == 1);
  CHECK(b.qs[3] == 3);
  CHECK(b.qs[4] == -127);
  CHECK(b.qs[5] == 0);
  // all zero block: d = 0, id = 0, every q 0
  float z[32] = {0};
  q8_0_quant__ref(z, &b, 1);
  CHECK(+b.d == 0);
  for (int j = 0; j < 32; j++) CHECK(b.qs[j] == 0);
  // negative max: amax = 254 -> d = 2, x = -254 -> -127, x = 3 -> 1.5 -> 2
  z[0] = -254.0f;
  z[1] = 3.0f;
  q8_0_quant__ref(z, &b, 1);
  CHECK(+b.d == f32_to_fp16(2.0f));
  CHECK(b.qs[0] == -127);
  CHECK(b.qs[1] == 2);
}

TEST_CASE("q8_0 every variant equals the reference bit for bit") {
  std::mt19937 rng(1234);
  const Isa saved = isa_cap();
  for (Isa isa : host_isas()) {
    set_isa_cap(isa);
    for (size_t nb : {size_t(1), size_t(2), size_t(3), size_t(17), size_t(4097), size_t(9000)}) {
      std::vector<float> x(nb * 32);
      std::uniform_real_distribution<float> u(-3.0f, 3.0f);
      for (size_t i = 0; i < x.size(); i++) x[i] = u(rng) * std::pow(10.0f, static_cast<float>(i % 7) - 3.0f);
      // plant exact ties: amax 127 blocks with half-integers
      for (size_t j = 0; j < 32; j++) x[j] = j == 0 ? 127.0f : static_cast<float>(j) - 15.5f;
      std::vector<block_q8_0> want(nb), got(nb);
      q8_0_quant__ref(x.data(), want.data(), nb);
      quantize_q8_0(x.data(), x.size(), got.data());
      CHECK_MESSAGE(std::memcmp(want.data(), got.data(), nb * sizeof(block_q8_0)) == 0,
                    "isa=" << isa_name(isa) << " kernel=" << q8_0_quant_kernel().name << " nb=" << nb);
      std::vector<float> dw(x.size()), dg(x.size());
      q8_0_dequant__ref(want.data(), dw.data(), nb);
      dequantize_q8_0(want.data(), x.size(), dg.data());
      CHECK(std::memcmp(dw.data(), dg.data(), dw.size() * 4) == 0);
      // round-trip error: half a step, plus 127 q-steps of the f16 rounding of d (relative 2^-11)
      for (size_t b = 0; b < nb; b++) {
        const float d = fp16_to_f32(want[b].d);
        for (int j = 0; j < 32; j++) CHECK(std::fabs(dw[b * 32 + j] - x[b * 32 + j]) <= d * (0.5f + 127.0f / 2048.0f) * 1.001f);
      }
    }
  }
  set_isa_cap(saved);
}

TEST_CASE("q8_0 rejects bad input") {
  std::vector<float> x(33, 1.0f);
  std::vector<block_q8_0> y(2);
  CHECK_THROWS_AS(quantize_q8_0(x.data(), 33, y.data()), Error);
  x[5] = NAN;
  CHECK_THROWS_AS(quantize_q8_0(x.data(), 32, y.data()), Error);
  x[5] = INFINITY;
  CHECK_THROWS_AS(quantize_q8_0(x.data(), 32, y.data()), Error);
}

// The block scale's f32 -> f16 rounding on every path (the arm64 kernels use the FPU's fcvt, the reference a
// software rounding): block maxima from 2^-135 (f32 subnormals, where 1/d overflows and the codes are defined
// as zero) through 2^-40 (d a subnormal f16 or 0) to 2^24 (d overflows to inf), and mantissas at the f16 tie
// points, for q8_0 and q4_0.
TEST_CASE("q8_0 / q4_0 quantizers: scales across the f16 range bit-exact on every path") {
  test::CapGuard g;
  std::mt19937 rng(77);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x;
  for (int e = -135; e <= 24; e++)
    for (float mant : {1.0f, 1.0f + 1.0f / 2048.0f, 1.0f + 3.0f / 2048.0f, 1.9990234375f, 1.5f + 1.0f / 4096.0f}) {
      const float amax = std::ldexp(mant, e);
      for (int j = 0; j < 32; j++) x.push_back(amax * u(rng));
      x[x.size() - 32 + static_cast<size_t>(e & 31)] = (e & 1) ? -amax : amax;
    }
  const size_t nb = x.size() / 32;
  std::vector<block_q8_0> w8(nb), g8(nb);
  std::vector<block_q4_0> w4(nb), g4(nb);
  q8_0_quant__ref(x.data(), w8.data(), nb);
  q4_0_quant__ref(x.data(), w4.data(), nb);
  for (Isa isa : test::host_isas()) {
    set_isa_cap(isa);
    quantize_q8_0(x.data(), x.size(), g8.data());
    quantize_q4_0(x.data(), x.size(), g4.data());
    CHECK_MESSAGE(std::memcmp(w8.data(), g8.data(), nb * sizeof(block_q8_0)) == 0, std::string(q8_0_quant_kernel().name));
    CHECK_MESSAGE(std::memcmp(w4.data(), g4.data(), nb * sizeof(block_q4_0)) == 0, std::string(q4_0_quant_kernel().name));
    std::vector<float> dr(x.size()), dg(x.size());
    q8_0_dequant__ref(w8.data(), dr.data(), nb);
    dequantize_q8_0(w8.data(), x.size(), dg.data());
    CHECK_MESSAGE(std::memcmp(dr.data(), dg.data(), dr.size() * 4) == 0, std::string(q8_0_dequant_kernel().name));
  }
  // the range really reaches both ends of f16
  bool sub = false, inf = false;
  for (const block_q8_0& b : w8) {
    sub = sub || ((b.d & 0x7c00u) == 0 && (b.d & 0x3ffu) != 0);
    inf = inf || (b.d & 0x7fffu) == 0x7c00u;
  }
  CHECK(sub);
  CHECK(inf);
}
