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
void q8_0_quant__neon(const float* x, block_q8_0* y, size_t nb);
void q8_0_dequant__neon(const block_q8_0* x, float* y, size_t nb);

// ---- ops ----
// n must be a multiple of 32 and every value finite (throws Error(kErrArg) otherwise).
void quantize_q8_0(const float* x, size_t n, block_q8_0* y);
void dequantize_q8_0(const block_q8_0* x, size_t n, float* y);

// The variants the dispatcher picks now (defined in cpp/dispatch/config.cc).
const Variant<QuantQ8_0Fn>& q8_0_quant_kernel();
const Variant<DequantQ8_0Fn>& q8_0_dequant_kernel();

// ==== low-bit weight formats (q4_0, i8c, i4g, q4_K) ====
// q4_0 reference, the rule of llama.cpp's quantize_row_q4_0_ref: per block of 32, max = the value of
// largest |x| (the first one on ties), d = max / -8, id = d ? 1/d : 0, q = min(15, (int8)(x*id + 8.5f))
// (truncation toward zero), d stored as f16 (RNE); element j in the low nibble of qs[j], j+16 in the high.
using QuantQ4_0Fn = void (*)(const float* x, block_q4_0* y, size_t nb);
void q4_0_quant__ref(const float* x, block_q4_0* y, size_t nb);
void q4_0_dequant__ref(const block_q4_0* x, float* y, size_t nb);  // y = d * (q - 8)
void q4_0_quant__avx2(const float* x, block_q4_0* y, size_t nb);
void q4_0_quant__neon(const float* x, block_q4_0* y, size_t nb);
// q4_K dequantization, values equal to llama.cpp's dequantize_row_q4_K (scalar build): per 64 elements,
// two 6-bit (scale, min) pairs unpacked from scales[12]; y = (d*sc) * q - (dmin*m), f32, no fma.
void q4_K_dequant__ref(const block_q4_K* x, float* y, size_t nb);

// ---- ops (validate, split over the thread pool, call the dispatched kernel) ----
void quantize_q4_0(const float* x, size_t n, block_q4_0* y);    // n % 32 == 0, finite
void dequantize_q4_0(const block_q4_0* x, size_t n, float* y);  // n % 32 == 0
void dequantize_q4_K(const block_q4_K* x, size_t n, float* y);  // n % 256 == 0
const Variant<QuantQ4_0Fn>& q4_0_quant_kernel();

// i8c: per-channel symmetric int8. Row r of x [n, k]: s = amax / 127 (f32), q = roundf(x * (1/s)) (half
// away from zero), in [-127, 127]; s = 0 and q = 0 for an all-zero row. scales[n].
void quantize_i8c(const float* x, size_t n, size_t k, int8_t* q, float* scales);
void dequantize_i8c(const int8_t* q, const float* scales, size_t n, size_t k, float* y);  // y = s * q

// i4g: grouped int4 in onnxruntime MatMulNBits layout (see WeightView in matmul.h): data [n][gpr][group/2],
// scales [n][gpr], zero_points [n][ceil(gpr/2)] (asymmetric only), gpr = ceil(k/group), group 32/64/128.
// The rule of onnxruntime's MLAS blockwise quantizer (elements past k: x = 0 in the range, nibble = zp):
//   symmetric:  max = max if |max| > |min| else min (over the group), scale = max / -8, zp = 8;
//   asymmetric: lo = min(min, 0), hi = max(max, 0), scale = (hi - lo) / 15,
//               zp = scale ? clamp(roundf(-lo / scale), 0, 15) : 0;
//   q = clamp(roundf(x * (scale ? 1/scale : 0) + zp), 0, 15)  (roundf: half away from zero).
size_t i4g_data_bytes(size_t n, size_t k, int group);
size_t i4g_scales_len(size_t n, size_t k, int group);
size_t i4g_zero_points_bytes(size_t n, size_t k, int group);
void quantize_i4g(const float* x, size_t n, size_t k, int group, bool symmetric, uint8_t* data, float* scales,
                  uint8_t* zero_points /* nullptr when symmetric */);
void dequantize_i4g(const uint8_t* data, const float* scales, const uint8_t* zero_points /* nullable: 8 */,
                    size_t n, size_t k, int group, float* y);  // y = scale * (q - zp)

}  // namespace bitflash
