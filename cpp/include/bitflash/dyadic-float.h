// Float (f32, AVX2 + FMA) counterparts of the dyadic integer ops, for benchmarks only: the
// throughput baseline `bitflash bench dyadic` and bench/cpp/bench_dyadic.cc compare the integer kernels
// against. Not part of the public API; no accuracy contract beyond "a sound f32
// implementation" (Cephes-style exp, tanh-form GELU). Every length must be a multiple of 8.
#pragma once
#include <cstddef>

namespace bitflash {

void softmax_f32__avx2(const float* x, size_t rows, size_t cols, float* y);
void gelu_f32__avx2(const float* x, size_t n, float* y);
void silu_f32__avx2(const float* x, size_t n, float* y);
void exp_f32__avx2(const float* x, size_t n, float* y);
void add_f32__avx2(const float* a, const float* b, size_t n, float* y);
// center: LayerNorm (mean removed, + beta) or RMSNorm (no mean, no beta)
void norm_f32__avx2(const float* x, size_t rows, size_t cols, const float* g, const float* b, bool center, float* y);

}  // namespace bitflash
