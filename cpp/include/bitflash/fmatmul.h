// Float-weight matmul: y[m, n] = x[m, k] * w[n, k]^T with w in f32 or f16 (model tensors that are
// not quantized: small models, norms' neighbours, output heads kept in f16). Accumulation is f32.
#pragma once
#include <cstddef>

#include "bitflash/dispatch.h"
#include "bitflash/dtypes.h"

namespace bitflash {

// Kernel: rows [n0, n1) of w against rows [0, m) of x. w rows are `ws` bytes apart.
using FMatmulFn = void (*)(const void* w, size_t ws, size_t k, const float* x, size_t ldx, size_t m, float* y,
                           size_t ldy, size_t n0, size_t n1);

// Reference: y = sum over k in order of w * x, in f32 with separate multiply and add.
void f32_f32_matmul__ref(const void* w, size_t ws, size_t k, const float* x, size_t ldx, size_t m, float* y, size_t ldy, size_t n0, size_t n1);
void f16_f32_matmul__ref(const void* w, size_t ws, size_t k, const float* x, size_t ldx, size_t m, float* y, size_t ldy, size_t n0, size_t n1);
// AVX2 + FMA: 4 rows x up to 4 activation rows per tile, 8-wide FMA along k (float tolerance:
// a different summation order and fused multiply-add, bounded by k * 2^-23 * sum |w x|).
void f32_f32_matmul_4x4__avx2(const void* w, size_t ws, size_t k, const float* x, size_t ldx, size_t m, float* y, size_t ldy, size_t n0, size_t n1);
void f16_f32_matmul_4x4__avx2(const void* w, size_t ws, size_t k, const float* x, size_t ldx, size_t m, float* y, size_t ldy, size_t n0, size_t n1);
// armv8-a Advanced SIMD: the same tile with 4-lane fmla (f16 widened by fcvtl); same tolerance.
void f32_f32_matmul_4x4__neon(const void* w, size_t ws, size_t k, const float* x, size_t ldx, size_t m, float* y, size_t ldy, size_t n0, size_t n1);
void f16_f32_matmul_4x4__neon(const void* w, size_t ws, size_t k, const float* x, size_t ldx, size_t m, float* y, size_t ldy, size_t n0, size_t n1);

const Variant<FMatmulFn>& fmatmul_kernel(DType wtype);

// The op: validates sizes and splits over the thread pool by blocks of output rows.
void matmul_float_weights(DType wtype, const void* w, size_t w_bytes, size_t n, size_t k, size_t row_stride,
                          const float* x, size_t x_len, size_t m, size_t ldx, float* y, size_t y_len, size_t ldy);

}  // namespace bitflash
