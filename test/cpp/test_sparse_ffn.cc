// The flash FFN's per-neuron axpy kernels: the AVX2 path equals the scalar reference bit for bit
// (both compute y[j] = fmaf(c * d_b, q_j, y[j])) on random blocks, extreme scales and values, and
// the reference agrees with "decode the row to f32, then y += c * w" within one rounding of each
// product (the two differ only in where c is applied).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "../../cpp/graph/sparse-ffn.h"
#include "bitflash/isa.h"
#include "bitflash/quant.h"

using namespace bitflash;
using namespace bitflash::graph;

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

TEST_CASE("axpy q4_0 / q8_0: AVX2 equals the scalar reference bit for bit") {
#if defined(__x86_64__)
  if (!cpu_supports(Isa::avx2)) return;
  std::mt19937 g(7);
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  for (size_t nb : {1, 2, 7, 128, 344}) {
    for (int extreme = 0; extreme < 2; extreme++) {
      for (float c : {0.37f, -1.5e3f, 0.0f, 1e-20f}) {
        auto b4 = random_blocks<block_q4_0>(nb, g, extreme);
        auto b8 = random_blocks<block_q8_0>(nb, g, extreme);
        std::vector<float> y0(nb * 32), y1, y2, y3;
        for (float& v : y0) v = u(g);
        y1 = y0;
        y2 = y0;
        axpy_q4_0__ref(b4.data(), nb, c, y1.data());
        axpy_q4_0__avx2(b4.data(), nb, c, y2.data());
        CHECK(std::memcmp(y1.data(), y2.data(), y1.size() * 4) == 0);
        y1 = y0;
        y3 = y0;
        axpy_q8_0__ref(b8.data(), nb, c, y1.data());
        axpy_q8_0__avx2(b8.data(), nb, c, y3.data());
        CHECK(std::memcmp(y1.data(), y3.data(), y1.size() * 4) == 0);
      }
    }
  }
#endif
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
