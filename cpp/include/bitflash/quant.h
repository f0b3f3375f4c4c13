// Quantizers and dequantizers: row kernels (pure, on raw pointers) and the ops that validate,
// split the work over the thread pool and call the dispatched kernel.
#pragma once
#include <cstddef>
#include <cstdint>

#include "bitflash/dispatch.h"
#include "bitflash/dtypes.h"

namespace bitflash {

// ---- kernel signatures (one variant per ISA, the __ref one is the spec) ----
// Quantize nb consecutive blocks of 32 floats (x has nb*32 finite values).
using QuantQ8_0Fn = void (*)(const float* x, block_q8_0* y, size_t nb);
// Dequantize nb blocks into nb*32 floats.
using DequantQ8_0Fn = void (*)(const block_q8_0* x, float* y, size_t nb);

// q8_0 reference, the rule of llama.cpp's quantize_row_q8_0_ref:
//   d = amax / 127 (f32), id = d ? 1/d : 0, q = roundf(x * id) (half away from zero), d stored as f16 (RNE).
void q8_0_quant__ref(const float* x, block_q8_0* y, size_t nb);
void q8_0_dequant__ref(const block_q8_0* x, float* y, size_t nb);
void q8_0_quant__avx2(const float* x, block_q8_0* y, size_t nb);
void q8_0_dequant__avx2(const block_q8_0* x, float* y, size_t nb);

// ---- ops ----
// n must be a multiple of 32 and every value finite (throws Error(kErrArg) otherwise).
void quantize_q8_0(const float* x, size_t n, block_q8_0* y);
void dequantize_q8_0(const block_q8_0* x, size_t n, float* y);

// The variants the dispatcher picks now (defined in cpp/dispatch/config.cc).
const Variant<QuantQ8_0Fn>& q8_0_quant_kernel();
const Variant<DequantQ8_0Fn>& q8_0_dequant_kernel();

}  // namespace bitflash
