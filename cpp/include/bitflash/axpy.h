// The flash FFN's per-neuron kernels: y[j] += c * w[j] for one bundle row w of q4_0 / q8_0 blocks,
// computed as y[j] = fmaf(c * d_b, q_j, y[j]) (d_b the block scale, q_j the integer value with q4_0's
// offset removed). The scalar reference is the spec; every SIMD path computes the same fused
// multiply-add per element, so all paths agree bit for bit.
#pragma once
#include <cstddef>

#include "bitflash/dispatch.h"
#include "bitflash/dtypes.h"

namespace bitflash {

void axpy_q4_0__ref(const block_q4_0* b, size_t nb, float c, float* y);
void axpy_q8_0__ref(const block_q8_0* b, size_t nb, float c, float* y);
#if defined(__x86_64__)
void axpy_q4_0__avx2(const block_q4_0* b, size_t nb, float c, float* y);
void axpy_q8_0__avx2(const block_q8_0* b, size_t nb, float c, float* y);
#endif
#if defined(__aarch64__)
void axpy_q4_0__neon(const block_q4_0* b, size_t nb, float c, float* y);
void axpy_q8_0__neon(const block_q8_0* b, size_t nb, float c, float* y);
#endif

using AxpyFn = void (*)(const void* row, size_t nb, float c, float* y);
// The best enabled variant for a row type (q4_0 or q8_0; nullptr for others), and its name.
AxpyFn axpy_kernel(DType t, const char** name = nullptr);

}  // namespace bitflash
