// Internal (not installed): the raw-pointer kernel interface of the low-bit matmul, shared by
// cpp/ref, cpp/kernels/<isa> and cpp/ops/matmul.cc. Kernels are pure functions: no allocation,
// no threads, no validation (the op validated everything before calling them).
#pragma once
#include <cstddef>
#include <cstdint>

#include "bitflash/dtypes.h"
#include "bitflash/dyadic.h"

namespace bitflash {
namespace mm {

inline constexpr size_t KB = 32;  // activation block (elements)

// Activations in the internal form (see matmul.h): row i has kp = kb*32 int8 values (zero padded past k),
// kb f32 block scales and kb int32 block sums (of the int8 values).
struct ActQ {
  const int8_t* q = nullptr;
  const float* d = nullptr;
  const int32_t* s = nullptr;
  size_t kb = 0;  // blocks per row; row stride of q = kb*32, of d and s = kb
};

// Resolved weight view (validated). Row r at data + r*stride.
struct WK {
  DType dtype;
  size_t n, k;
  const uint8_t* data;
  size_t stride;
  const float* scales;    // i8c: [n]; i4g: row r at scales + r*gpr
  const uint8_t* zp;      // i4g: row r at zp + r*zp_stride, or nullptr (8)
  size_t zp_stride;
  size_t group;           // i4g
  size_t gpr;             // i4g: groups per row = ceil(k/group)
};

// Float GEMV on the unpacked view: rows [n0, n1) of w, activation rows [0, m).
// y[i*ldy + r] = sum_b (dw_b * dx_b) * isum_b  (the reference order: blocks in order, f32, no fma).
using GemvF32Fn = void (*)(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy);
// Integer GEMV (i8c only): y[i*ldy + r] = sum_k q[i][k] * w[r][k] (exact).
using GemvI32Fn = void (*)(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, int32_t* y, size_t ldy);

// ---- packed layout (ISA independent; written by pack(), see cpp/ops/matmul-pack.cc) ----
// After a 64-byte header: tiles of NR = 16 rows (the last padded with zero rows). Tile t, block b
// (kb = ceil(k/32) blocks) is PB = 576 bytes at tiles + (t*kb + b)*PB:
//   f32 dw[16]                      the weight scale of each row for this block
//   int8 v[8][16][4]                v[kq][r][j] = wq[row 16t+r][32b + 4kq + j] with the offset removed
//                                   (q4_0: nibble-8, i4g: nibble-zp, q8_0/i8c: the value; 0 past k)
inline constexpr size_t NR = 16;
inline constexpr size_t PB = 16 * 4 + 512;
inline constexpr size_t PACK_HEADER = 64;

// Packed GEMM on tiles [t0, t1) and activation rows [m0, m1). Writes only columns < n.
using GemmF32Fn = void (*)(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t m0, size_t m1,
                           size_t t0, size_t t1, float* y, size_t ldy);
using GemmI32Fn = void (*)(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t m0, size_t m1,
                           size_t t0, size_t t1, int32_t* y, size_t ldy);

// ---- fused int8 requantize epilogue (matmul_i8_requant) ----
// For activation row i and weight row r, with D = sum_k q[i][k] * w[r][k] (exact int32, the kernels'
// view of x: u8 shifted by -128):
//   acc = D + bias[r] - xzp[i] * wsum[r]     (int32, wrapping: the op guarantees the true value fits)
//   y   = sat_i8(mul_dyadic(acc, mult[per_channel ? r : 0]) + y_zp)    (bitflash/dyadic.h's rule)
// bias and wsum (with xzp) may be null (0). xzp[i] = the zero point in the kernels' view of x.
struct RequantEpi {
  const int32_t* bias = nullptr;  // [n] or null
  const int32_t* wsum = nullptr;  // [n] sum_k w[r][k], or null when every xzp is 0
  const int32_t* xzp = nullptr;   // [m], used with wsum
  const Dyadic* mult = nullptr;   // [n] (per_channel) or [1]
  bool per_channel = false;
  int32_t y_zp = 0;
};
// The exact addend bias[r] - xzp[i] * wsum[r] in wrapping int32.
inline int32_t rq_addend(const RequantEpi& e, size_t i, size_t r) {
  uint32_t c = e.bias ? static_cast<uint32_t>(e.bias[r]) : 0u;
  if (e.wsum) c -= static_cast<uint32_t>(e.xzp[i]) * static_cast<uint32_t>(e.wsum[r]);
  return static_cast<int32_t>(c);
}
// Scalar epilogue of one output (used by the references and by the GEMV kernels' per-row epilogue).
inline int8_t rq_one(const RequantEpi& e, size_t i, size_t r, int32_t dot) {
  const int32_t acc = static_cast<int32_t>(static_cast<uint32_t>(dot) + static_cast<uint32_t>(rq_addend(e, i, r)));
  const Dyadic d = e.mult[e.per_channel ? r : 0];
  return static_cast<int8_t>(dyadic_detail::clamp_i32(static_cast<int64_t>(dyadic_detail::mul_dyadic(acc, d)) + e.y_zp, -128, 127));
}
using GemvI8Fn = void (*)(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, const RequantEpi& e, int8_t* y,
                          size_t ldy);
using GemmI8Fn = void (*)(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t m0, size_t m1, size_t t0,
                          size_t t1, const RequantEpi& e, int8_t* y, size_t ldy);

// f32 rows -> ActQ rows (d = amax/127 in f32, q = roundf(x * (1/d))). q has kb*32 room, zero padded.
using ActQuantFn = void (*)(const float* x, size_t k, int8_t* q, float* d, int32_t* s);

// ---- references (cpp/ref/matmul--ref.cc) ----
void act_q8_quant__ref(const float* x, size_t k, int8_t* q, float* d, int32_t* s);
void q8_0_q8_gemv__ref(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy);
void q4_0_q8_gemv__ref(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy);
void i8c_q8_gemv__ref(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy);
void i4g_q8_gemv__ref(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy);
void i8c_q8_gemv_i32__ref(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, int32_t* y, size_t ldy);
void x8p_q8_gemm__ref(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t m0, size_t m1, size_t t0,
                      size_t t1, float* y, size_t ldy);
void x8p_q8_gemm_i32__ref(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t m0, size_t m1,
                          size_t t0, size_t t1, int32_t* y, size_t ldy);
void i8c_q8_gemv_rq__ref(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, const RequantEpi& e, int8_t* y,
                         size_t ldy);
void x8p_q8_gemm_rq__ref(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t m0, size_t m1, size_t t0,
                         size_t t1, const RequantEpi& e, int8_t* y, size_t ldy);

// Weight access shared by the references, the packer and the zero-point epilogue (baseline code):
// the 32 offset-free values of block b of row r (0 past k) and the block's scale.
void weight_block(const WK& w, size_t r, size_t b, int8_t out[32], float* dw);

// ---- SIMD kernels: cpp/kernels/<isa>/ (declared for every ISA; each defined only in the builds of its
// architecture; the i8mm path defines only the packed GEMMs, its GEMVs are the dotprod ones) ----
#define BITFLASH_MM_DECLARE(isa)                                                                               \
  void act_q8_quant__##isa(const float* x, size_t k, int8_t* q, float* d, int32_t* s);                         \
  void q8_0_q8_gemv__##isa(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy);  \
  void q4_0_q8_gemv__##isa(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy);  \
  void i8c_q8_gemv__##isa(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy);   \
  void i4g_q8_gemv__##isa(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy);   \
  void i8c_q8_gemv_i32__##isa(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, int32_t* y,          \
                              size_t ldy);                                                                     \
  void x8p_q8_gemm__##isa(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t m0, size_t m1,      \
                          size_t t0, size_t t1, float* y, size_t ldy);                                         \
  void x8p_q8_gemm_i32__##isa(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t m0, size_t m1,  \
                              size_t t0, size_t t1, int32_t* y, size_t ldy);                               \
  void i8c_q8_gemv_rq__##isa(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, const RequantEpi& e,   \
                             int8_t* y, size_t ldy);                                                           \
  void x8p_q8_gemm_rq__##isa(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t m0, size_t m1,   \
                             size_t t0, size_t t1, const RequantEpi& e, int8_t* y, size_t ldy);
BITFLASH_MM_DECLARE(avx2)
BITFLASH_MM_DECLARE(avxvnni)
BITFLASH_MM_DECLARE(avx512vnni)
BITFLASH_MM_DECLARE(neon)
BITFLASH_MM_DECLARE(dotprod)
BITFLASH_MM_DECLARE(i8mm)
#undef BITFLASH_MM_DECLARE

}  // namespace mm
}  // namespace bitflash

// ---- dispatch (cpp/dispatch/config-matmul.cc) ----
#include "bitflash/dispatch.h"
namespace bitflash {
namespace mm {
const Variant<ActQuantFn>& act_quant_kernel();
// dtype in {q8_0, q4_0, i8c, i4g}
const Variant<GemvF32Fn>& gemv_f32_kernel(DType wtype);
const Variant<GemvI32Fn>& gemv_i32_kernel();  // i8c
// The packed GEMM is one kernel for every wtype (the packing removed the dtype); the name per wtype
// is the DESIGN.md name, e.g. "q4_0_q8_gemm_8x16c4__avx512vnni".
const Variant<GemmF32Fn>& gemm_f32_kernel(DType wtype);
const Variant<GemmI32Fn>& gemm_i32_kernel();  // i8c
const Variant<GemvI8Fn>& gemv_rq_kernel();     // i8c, fused requantize
const Variant<GemmI8Fn>& gemm_rq_kernel();     // packed i8c, fused requantize
}  // namespace mm
}  // namespace bitflash
