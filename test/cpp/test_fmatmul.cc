// Float-weight matmul: every variant against a float64 reference, with the float tolerance
// |y - y64| <= (k + 2) * 2^-24 * sum_j |w_j x_j| * 2 (any summation order, with or without FMA).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "bitflash/error.h"
#include "bitflash/fmatmul.h"
#include "bitflash/isa.h"
#include "test-util.h"

using namespace bitflash;

TEST_CASE("float-weight matmul matches float64 on every path, f32 and f16 weights") {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const Isa saved = isa_cap();
  for (Isa isa : test::host_isas()) {
    set_isa_cap(isa);
    for (DType t : {DType::f32, DType::f16}) {
      for (size_t m : {1, 2, 3, 4, 5, 9}) {
        for (size_t n : {1, 3, 4, 5, 17, 70}) {
          for (size_t k : {1, 7, 8, 9, 64, 173}) {
            const size_t es = t == DType::f16 ? 2 : 4, ws = k * es + (n % 2 ? 8 : 0);  // padded rows on odd n
            std::vector<uint8_t> w(n * ws);
            std::vector<double> w64(n * k);
            for (size_t r = 0; r < n; r++)
              for (size_t j = 0; j < k; j++) {
                const float v = nd(rng);
                if (t == DType::f16) {
                  const fp16_t h = f32_to_fp16(v);
                  std::memcpy(&w[r * ws + j * 2], &h, 2);
                  w64[r * k + j] = fp16_to_f32(h);
                } else {
                  std::memcpy(&w[r * ws + j * 4], &v, 4);
                  w64[r * k + j] = v;
                }
              }
            const size_t ldx = k + 3, ldy = n + 1;
            std::vector<float> x(m * ldx), y(m * ldy, -7.0f);
            for (float& v : x) v = nd(rng);
            matmul_float_weights(t, w.data(), w.size(), n, k, ws, x.data(), x.size(), m, ldx, y.data(), y.size(), ldy);
            for (size_t i = 0; i < m; i++) {
              for (size_t r = 0; r < n; r++) {
                double ref = 0, mag = 0;
                for (size_t j = 0; j < k; j++) {
                  ref += w64[r * k + j] * x[i * ldx + j];
                  mag += std::fabs(w64[r * k + j] * x[i * ldx + j]);
                }
                const double tol = 2.0 * (k + 2) * std::ldexp(1.0, -24) * mag;
                CHECK_MESSAGE(std::fabs(y[i * ldy + r] - ref) <= tol, fmatmul_kernel(t).name << " m=" << m << " n=" << n << " k=" << k);
              }
              CHECK(y[i * ldy + n] == -7.0f);  // the padding column is untouched
            }
          }
        }
      }
    }
  }
  set_isa_cap(saved);
  std::vector<float> w(4), x(4), y(4);
  CHECK_THROWS_AS(matmul_float_weights(DType::f32, w.data(), 15, 2, 2, 0, x.data(), 4, 2, 2, y.data(), 4, 2), Error);
  CHECK_THROWS_AS(matmul_float_weights(DType::q8_0, w.data(), 16, 2, 2, 0, x.data(), 4, 2, 2, y.data(), 4, 2), Error);
  CHECK_THROWS_AS(matmul_float_weights(DType::f32, w.data(), 16, 2, 2, 0, x.data(), 3, 2, 2, y.data(), 4, 2), Error);
}

TEST_CASE("float-weight matmul refuses misaligned weights instead of reading them") {
  std::vector<float> w(9), x(4), y(4);
  const uint8_t* mis = reinterpret_cast<const uint8_t*>(w.data()) + 2;
  CHECK_THROWS_AS(matmul_float_weights(DType::f32, mis, 30, 2, 2, 0, x.data(), 4, 2, 2, y.data(), 4, 2), Error);
  CHECK_THROWS_AS(matmul_float_weights(DType::f32, w.data(), 36, 2, 2, 10, x.data(), 4, 2, 2, y.data(), 4, 2), Error);
}
