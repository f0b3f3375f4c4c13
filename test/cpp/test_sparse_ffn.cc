// The flash FFN's per-neuron axpy kernels: every path (AVX2, NEON) equals the scalar reference bit for bit
// (both compute y[j] = fmaf(c * d_b, q_j, y[j])) on random blocks, extreme scales and values, and
// the reference agrees with "decode the row to f32, then y += c * w" within one rounding of each
// product (the two differ only in where c is applied).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <string>

#include "bitflash/axpy.h"
#include "bitflash/isa.h"
#include "bitflash/quant.h"
#include "test-util.h"

using namespace bitflash;

namespace {
template <class B>
std::vector<B> random_blocks(size_t nb, std::mt19937& g, bool extreme) {
  std::vector<B> b(nb);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> sc(-2.0f, 2.0f);
  for (size_t i = 0; i < nb; i++) {
    float d = extreme ? (i % 3 == 0 ? 65504.0f : i % 3 == 1 ? 6.1e-5f : 0.0f) : sc(g);
    b[i].d = f32_to_fp16(d);
    auto* q = reinterpret_cast<uint8_t*>(b[i].qs);
    for (size_t j = 0; j < sizeof(b[i].qs); j++) q[j] = extreme ? (j % 2 ? 0x00 : 0xFF) : static_cast<uint8_t>(byte(g));
  }
  return b;
}
}  // namespace

TEST_CASE("axpy q4_0 / q8_0: every path equals the scalar reference bit for bit") {
  test::CapGuard guard;
  std::mt19937 g(7);
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  for (Isa isa : test::host_isas()) {
    set_isa_cap(isa);
    const char *n4 = nullptr, *n8 = nullptr;
    const AxpyFn k4 = axpy_kernel(DType::q4_0, &n4), k8 = axpy_kernel(DType::q8_0, &n8);
    REQUIRE((k4 != nullptr));
    REQUIRE((k8 != nullptr));
    // each path names its own kernel (scalar the reference; avx2 and above the AVX2 one; neon and above NEON)
    const std::string want = isa == Isa::scalar ? "__ref" : static_cast<int>(isa) >= static_cast<int>(Isa::neon) ? "__neon" : "__avx2";
    CHECK_MESSAGE(std::string(n4).find(want) != std::string::npos, n4);
    CHECK_MESSAGE(std::string(n8).find(want) != std::string::npos, n8);
    for (size_t nb : {1, 2, 7, 128, 344}) {
      for (int extreme = 0; extreme < 2; extreme++) {
        for (float c : {0.37f, -1.5e3f, 0.0f, 1e-20f}) {
          auto b4 = random_blocks<block_q4_0>(nb, g, extreme);
          auto b8 = random_blocks<block_q8_0>(nb, g, extreme);
          std::vector<float> y0(nb * 32), y1, y2;
          for (float& v : y0) v = u(g);
          y1 = y0;
          y2 = y0;
          axpy_q4_0__ref(b4.data(), nb, c, y1.data());
          k4(b4.data(), nb, c, y2.data());
          CHECK_MESSAGE(std::memcmp(y1.data(), y2.data(), y1.size() * 4) == 0, n4, " nb=", nb, " c=", c);
          y1 = y0;
          y2 = y0;
          axpy_q8_0__ref(b8.data(), nb, c, y1.data());
          k8(b8.data(), nb, c, y2.data());
          CHECK_MESSAGE(std::memcmp(y1.data(), y2.data(), y1.size() * 4) == 0, n8, " nb=", nb, " c=", c);
        }
      }
    }
  }
}

TEST_CASE("axpy reference against decode-then-multiply") {
  std::mt19937 g(11);
  const size_t nb = 64;
  auto b4 = random_blocks<block_q4_0>(nb, g, false);
  std::vector<float> w(nb * 32), y(nb * 32, 0.0f);
  q4_0_dequant__ref(b4.data(), w.data(), nb);
  const float c = 0.731f;
  axpy_q4_0__ref(b4.data(), nb, c, y.data());
  for (size_t j = 0; j < w.size(); j++) {
    // c * (d * q) vs (c * d) * q: each side one or two f32 roundings of the same real product
    CHECK(std::fabs(y[j] - c * w[j]) <= 2.5e-7f * std::fabs(c * w[j]) + 1e-30f);
  }
  const char* name = nullptr;
  CHECK((axpy_kernel(DType::q4_0, &name) != nullptr));
  CHECK(name != nullptr);
  CHECK((axpy_kernel(DType::f32) == nullptr));
}
