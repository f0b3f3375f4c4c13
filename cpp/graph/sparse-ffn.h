// Internal: the per-neuron kernels of the flash FFN. y[j] += c * w[j] for one bundle row w of
// q4_0 / q8_0 blocks, as y[j] = fmaf(c * d_b, q_j, y[j]) (d_b the block scale, q_j the integer
// value with q4_0's offset removed): the scalar reference is the spec and the AVX2 path computes
// the same fmaf per element, so the two agree bit for bit.
#pragma once
#include <cstddef>

#include "bitflash/dtypes.h"

namespace bitflash::graph {

void axpy_q4_0__ref(const block_q4_0* b, size_t nb, float c, float* y);
void axpy_q8_0__ref(const block_q8_0* b, size_t nb, float c, float* y);
#if defined(__x86_64__) || defined(_M_X64)
void axpy_q4_0__avx2(const block_q4_0* b, size_t nb, float c, float* y);
void axpy_q8_0__avx2(const block_q8_0* b, size_t nb, float c, float* y);
#endif
using AxpyFn = void (*)(const void* row, size_t nb, float c, float* y);
// The best enabled variant for a row type (q4_0 or q8_0; nullptr for others), and its name.
AxpyFn axpy_kernel(DType t, const char** name = nullptr);

}  // namespace bitflash::graph
