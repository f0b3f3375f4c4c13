// Low-bit matmul (part 1: INT8 and INT4 weights). y[m, n] = sum_k x[m, k] * w[n, k]  (y = x * w^T).
//
// Weights are a non-owning view in their interchange layout (GGUF blocks, per-channel int8, or
// onnxruntime MatMulNBits grouped int4). Packing into the GEMM tile layout is an explicit, optional
// step into caller-owned memory (pack_size / pack); every op accepts packed == nullptr.
//
// Activations are brought to one internal form before the kernels run: per row, int8 values in
// blocks of 32 with one f32 scale per block and the integer sum of each block.
//   - matmul_f32: f32 rows are quantized per block of 32 by absmax (like q8_0: d = amax / 127,
//     q = roundf(x / d) in [-127, 127]) but d is kept in f32, not rounded to f16 (more accurate,
//     and free: it never leaves the call).
//   - matmul_q8 / matmul_i32: int8 or uint8 rows are used as they are (every value, -128 included).
//
// Accumulation (the reference's definition; SIMD kernels equal it for integer outputs and stay
// within matmul_f32_tolerance() for float outputs):
//   per block b of 32 along k:  isum_b = sum_j xq[j] * wq[j]  (exact int32, wq with its offset removed:
//                               q4_0: nibble - 8; i4g: nibble - zero_point; q8_0 / i8c: the int8 value)
//   y = sum_b (dw_b * dx_b) * float(isum_b)     (f32, blocks in order; dw_b the weight scale of the
//                                                block: the f16 d of q8_0/q4_0, the row's f32 scale for
//                                                i8c, the group's f32 scale for i4g)
//   then, for activations with a zero point zp: y -= sx * zp' * sum_k w_real[n, k]  (see matmul_q8).
//
// Errors: every op validates its arguments (sizes >= 1, byte lengths against the shape, strides,
// k % 32 for block types, group in {32, 64, 128}, finite non-negative scales) and throws
// bitflash::Error(kErrArg, ...) instead of reading or writing out of bounds.
#pragma once
#include <cstddef>
#include <cstdint>

#include "bitflash/dtypes.h"

namespace bitflash {

// ---- weights ----
// One matrix w[n, k] in its interchange layout. Row r starts at data + r * row_stride.
//   q8_0: k % 32 == 0, row = k/32 block_q8_0 (34 bytes each).
//   q4_0: k % 32 == 0, row = k/32 block_q4_0 (18 bytes each).
//   i8c : row = k int8; scales[n] f32 (finite, >= 0): w_real = scales[r] * q.
//   i4g : onnxruntime MatMulNBits: k_blocks = ceil(k / group), row = k_blocks * group/2 bytes,
//         element 2j of a block in the low nibble of byte j, 2j+1 in the high nibble;
//         scales f32 [n][k_blocks] (row r at scales + r * k_blocks; finite, any sign is allowed
//         as onnxruntime's symmetric quantizer produces negative scales);
//         zero_points (optional) uint8 [n][ceil(k_blocks / 2)], block 2i in the low nibble;
//         absent: 8.  w_real = scale * (nibble - zero_point).
struct WeightView {
  DType dtype = DType::q8_0;
  size_t n = 0;                // rows (output features)
  size_t k = 0;                // columns (input features)
  const void* data = nullptr;  // row 0
  size_t data_bytes = 0;       // bytes readable from data
  size_t row_stride = 0;       // bytes from row r to row r+1; 0 = weight_row_bytes(*this)
  const float* scales = nullptr;         // i8c: [n]; i4g: [n * k_blocks]; unused for q8_0 / q4_0
  size_t scales_len = 0;                 // floats readable from scales
  const uint8_t* zero_points = nullptr;  // i4g only, optional
  size_t zero_points_len = 0;            // bytes readable from zero_points
  int group = 0;                         // i4g: 32, 64 or 128; 0 for the others
};

// Bytes of one dense row of w (q8_0: k/32*34, q4_0: k/32*18, i8c: k, i4g: ceil(k/group)*group/2).
size_t weight_row_bytes(const WeightView& w);
// Checks w completely (throws Error(kErrArg)); the ops call it themselves.
void validate_weights(const WeightView& w);

// ---- activations given as int8 / uint8 ----
// x[m, k] with row stride ld (elements). Real value of x[i, j] = scales[i] * (x[i, j] - zp[i]),
// zp[i] = zero_points ? zero_points[i] : 0 (for u8 pass 128 for a symmetric encoding).
// matmul_i32 ignores scales and zero points (it returns raw sum_k x * w).
struct Q8Acts {
  const void* data = nullptr;
  bool is_unsigned = false;  // false: int8, true: uint8
  size_t len = 0;            // elements readable from data
  size_t ld = 0;             // elements from row i to row i+1 (>= k)
  const float* scales = nullptr;  // [m], finite, >= 0 (matmul_q8 only; required there)
  size_t scales_len = 0;
  const int32_t* zero_points = nullptr;  // [m] or nullptr (matmul_q8 only); in [0,255] for u8, [-128,127] for i8
  size_t zero_points_len = 0;
};

// ---- packed (GEMM tile) layout ----
// Bytes needed to pack w (validated). m_hint: the typical m the caller expects; today the layout does
// not depend on it, and packed weights are only used when m >= matmul_gemm_min_m() (smaller m runs
// the streaming GEMV on the unpacked view, which must stay valid).
size_t pack_size(const WeightView& w, size_t m_hint);
// Writes the packed form of w into dst (dst_bytes >= pack_size(w, m_hint), any alignment).
// Layout (header + tiles of 16 rows): see cpp/ops/matmul-pack.cc. It is ISA independent.
void pack(const WeightView& w, void* dst, size_t dst_bytes);
// The m from which a packed matrix is used by the ops.
size_t matmul_gemm_min_m();

// ---- ops ----
// packed may be nullptr; when given it must be the output of pack() for this same w (checked: header
// magic, dtype, n, k, group, size). Threads: the global pool (threadpool.h), split over output tiles.

// x f32 [m, k] (row stride ldx >= k, x_len elements readable, all finite) -> y f32 [m, n] (stride ldy >= n).
void matmul_f32(const WeightView& w, const void* packed, size_t packed_bytes, const float* x, size_t x_len,
                size_t m, size_t ldx, float* y, size_t y_len, size_t ldy);

// x int8/uint8 with per-row scale (and optional zero point) -> y f32 [m, n].
// With a zero point: y = sx * (sum_k w_real * x - zp * sum_k w_real); the integer part is exact and the
// second term uses per-row weight sums computed in the same call (one extra pass over w).
void matmul_q8(const WeightView& w, const void* packed, size_t packed_bytes, const Q8Acts& x, size_t m,
               float* y, size_t y_len, size_t ldy);

// Integer pipeline: w must be i8c; x int8/uint8 -> y int32 [m, n] = sum_k x[m, k] * wq[n, k], exact
// (k <= 65536 so no int32 overflow is possible: 255 * 128 * 65536 < 2^31).
void matmul_i32(const WeightView& w, const void* packed, size_t packed_bytes, const Q8Acts& x, size_t m,
                int32_t* y, size_t y_len, size_t ldy);

// Fused int8 linear (issue 6 item 2): w must be i8c (its scales are ignored), x int8/uint8 with an optional
// per-row zero point (x.zero_points; x.scales unused) ->
//   y[i, r] = sat_i8(mul_dyadic(sum_k (x[i, k] - zp[i]) * wq[r, k] + bias[r], mult[n_mult == 1 ? 0 : r]) + y_zp)
// with bitflash/dyadic.h's requantize rule (int_linear__ref is the oracle), computed in the matmul kernels'
// epilogue: the int32 accumulators go straight to int8 (no int32 output in memory). bias: n int32 or
// nullptr, |bias| < 2^23; n_mult 1 (per tensor) or n (per channel), shifts in 0..62; y_zp in [-128, 127];
// k <= 65536 (with |x - zp| <= 255, |w| <= 128 and the bias bound the accumulator fits int32).
struct Dyadic;
void matmul_i8_requant(const WeightView& w, const void* packed, size_t packed_bytes, const Q8Acts& x, size_t m,
                       const int32_t* bias, size_t bias_len, const Dyadic* mult, size_t n_mult, int32_t y_zp, int8_t* y,
                       size_t y_len, size_t ldy);

// ---- float tolerance (tests, benchmarks, the binding's own checks) ----
// Bound on |y - exact| for one output of a float op with nb blocks, exact = the f64 value of
// sum_b dw_b*dx_b*isum_b, s = sum_b |dw_b*dx_b*isum_b| (+ |sx*zp|*sum_b |dw_b*sum_j wq_j| with a zero point).
// Every kernel reduces a block's dot to the exact, offset-free int32 isum_b (VNNI's +128 on int8 weights,
// q4_0's 8 and i4g's zero point are removed in integer arithmetic) before its single int -> float
// conversion, so a block that cancels adds no error; the scaled terms are added in any order (a few
// partial accumulators, then a horizontal sum): each sees at most nb + 4 roundings of u = 2^-24, so the
// error is <= (nb + 4) * u * s; we allow 2 * (nb + 2) * u * s (>= that for nb >= 0).
// That relative bound assumes no underflow: a scale product dw_b * dx_b below 2^-126 (subnormal f32,
// e.g. an xScales of 1e-45) rounds with an absolute error up to 2^-150, which |isum_b| <= 2^19 scales
// to 2^-131 per block (sums of subnormals are exact), so (nb + 4) * 2^-130 is added: nothing for
// normal outputs, the whole bound for subnormal ones (found by test/js/property-matmul.test.ts).
double matmul_f32_tolerance(size_t nb, double s);

// ---- introspection (tests, `bitflash info`) ----
enum class MatMulPath { gemv, gemm };
// Name of the kernel the dispatcher picks now for (dtype, path), e.g. "q4_0_q8_gemv_1x4c32__avx512vnni".
const char* matmul_kernel_name(DType wtype, MatMulPath path);

}  // namespace bitflash
