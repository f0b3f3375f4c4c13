// Ternary (1.58-bit) weights: the tq1_0 / tq2_0 (GGUF) and i2_s (bitnet.cpp) formats, activation
// quantization, and two matmul families over packed weights:
//   mad: 2-bit codes c = w+1 times int8 activations (vpmaddubsw / vpdpbusd), minus the block's
//        activation sum;
//   lut: T-MAC / TL2 style table lookup: groups of 3 weights, sign-mirrored to 14 table entries
//        (4-bit index + 1 sign bit), tables of int16 partial sums per activation triple, vpshufb.
// Self-contained: the public matmul routes ternary dtypes here (see the lead's wiring notes).
//
// Numerics (the spec, shared by every variant; f32 outputs are bit-identical across ISAs):
//   x row -> blocks of 256: xd = amax/127, q = roundf(x / xd) (half away from zero), |q| <= 127.
//   For output (i, r): isum_b = sum_{j in block b} w[r][j] * q[i][j]  (exact int32, |isum_b| <= 256*127)
//     acc = 0.0f; for b in order: acc = fmaf((float)isum_b, ws[r][b] * xd[i][b], acc);  y = acc
//   where ws[r][b] is the weight scale of (row r, block b) in f32 (tq*: the block's f16 d; i2_s: the
//   tensor scale), and ws*xd is rounded to f32 before the fused multiply-add.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "bitflash/dispatch.h"
#include "bitflash/dtypes.h"

namespace bitflash {

// ---------------------------------------------------------------- formats
inline constexpr int QK_T = 256;  // ternary activation / scale block (k % 256 == 0 for every op here)

// Bytes of a [n x k] ternary tensor in `t` (tq1_0, tq2_0: k % 256; i2_s: n*k % 128, plus the 32-byte trailer).
size_t ternary_tensor_bytes(DType t, size_t n, size_t k);

// llama.cpp's quantize_row_tq1_0_ref / quantize_row_tq2_0_ref rule: d = amax of the block (f32, stored
// f16), q = lroundf(x / d) + 1 (x * (1/d)), packed as documented in dtypes.h. count % 256 == 0.
void quantize_tq1_0(const float* x, size_t count, block_tq1_0* y);
void quantize_tq2_0(const float* x, size_t count, block_tq2_0* y);
void dequantize_tq1_0(const block_tq1_0* x, size_t count, float* y);
void dequantize_tq2_0(const block_tq2_0* x, size_t count, float* y);
// BitNet b1.58 absmean: s = mean|W| over the whole tensor (f64 sum, stored f32), q = clamp(roundf(W / s), -1, 1)
// (s = 0: every q = 0); written in bitnet.cpp's I2_S layout (count/4 code bytes, then f32 s, padded
// to 32 bytes). count % 128 == 0. Writes ternary_tensor_bytes(i2_s, 1, count) bytes.
void quantize_i2_s(const float* x, size_t count, uint8_t* y);
void dequantize_i2_s(const uint8_t* x, size_t count, float* y);

// Reference row helpers (cpp/ref/ternary-quant--ref.cc), used by the ops and the pack step.
void quantize_tq1_0_ref_rows(const float* x, size_t nb, block_tq1_0* y);
void quantize_tq2_0_ref_rows(const float* x, size_t nb, block_tq2_0* y);
void tq1_0_block_values(const block_tq1_0& b, int8_t* w);  // 256 values in {-1, 0, 1}
void tq2_0_block_values(const block_tq2_0& b, int8_t* w);
void i2_s_values(const uint8_t* codes, size_t e0, size_t count, int8_t* w);  // elements e0.. of the tensor
float i2_s_absmean_quant_ref(const float* x, size_t count, uint8_t* y);    // returns the scale

// ---------------------------------------------------------------- activations
struct block_q8_t {
  float d;        // scale (amax / 127)
  int32_t sum;    // sum of qs (what the mad family subtracts for codes w+1)
  int8_t qs[QK_T];
};
static_assert(sizeof(block_q8_t) == 264, "block_q8_t must be 264 bytes");

// Quantize m rows of k floats (k % 256 == 0, finite) into m * k/256 blocks.
void quantize_act_q8t(const float* x, size_t m, size_t k, block_q8_t* y);

// ---------------------------------------------------------------- packed weights
enum class TernaryFamily : int { mad = 0, lut = 1, automatic = 2 };
const char* ternary_family_name(TernaryFamily f);

// Packed weight memory (caller-owned, 64-byte aligned recommended) starts with this header.
struct TernaryPackedHeader {
  uint32_t magic;   // kTernaryMagic
  uint32_t family;  // TernaryFamily::mad or ::lut
  uint64_t n, k;
  uint32_t src_dtype;
  uint32_t reserved[9];
};
static_assert(sizeof(TernaryPackedHeader) == 64, "header is one cache line");
inline constexpr uint32_t kTernaryMagic = 0x33544642u;  // "BFT3"

// mad layout after the header: codes [n][k/256][64] (tq2_0 order: byte m of 32-byte chunk j holds
//   elements 128j + m + 32s at bits 2s), then f32 scales [n][k/256].
// lut layout after the header: tiles of 16 rows (n padded with zero rows), each [k/256] x 960 bytes:
//   22 quads of (32 index bytes + 8 sign bytes), 16 negation counts (u8), 16 f32 scales. A quad is 4
//   groups of 3 weights (group g of a block covers weights 3g..3g+2; group 85 is weight 255 alone,
//   groups 86, 87 are padding); index byte p < 16 holds row p of group 0 (low nibble) and group 2
//   (high nibble), byte 16 + p row p of groups 1 and 3; sign bit 16 g + p is row p of group g.
//   Group code c = 9(w0+1) + 3(w1+1) + (w2+1); c <= 13: index c, sign 0; else index 26 - c, sign 1.
size_t ternary_pack_size(TernaryFamily f, size_t n, size_t k);
// Packs an [n x k] ternary tensor of `src_dtype` (tq1_0, tq2_0 or i2_s; src_bytes = ternary_tensor_bytes)
// into dst (dst_bytes >= ternary_pack_size). Throws Error(kErrArg) on bad shapes, sizes or dtypes.
void ternary_pack(TernaryFamily f, DType src_dtype, const void* src, size_t src_bytes, size_t n, size_t k,
                  void* dst, size_t dst_bytes);

// ---------------------------------------------------------------- kernels (pure, raw pointers)
// Shared view of a packed matrix given to kernels.
struct TernaryPackedView {
  const uint8_t* codes;   // mad: codes; lut: first tile
  const float* scales;    // mad: [n][nb] weight scales; lut: unused (inside tiles)
  size_t n, k, nb;        // nb = k / 256
};
// One activation row's LUT tables: [nb][22 quads][128 bytes]: for quad q, bytes 0..63 hold the low
// bytes of the 16-entry int16 tables of groups 4q..4q+3 (16 bytes each), bytes 64..127 their high bytes.
inline constexpr size_t kLutGroups = 88, kLutQuads = 22, kLutQuadBytes = 128;
inline constexpr size_t kLutTableBytesPerBlock = kLutQuads * kLutQuadBytes;  // 2816
inline constexpr size_t kLutTileRows = 16, kLutTileBlockBytes = 960;

// Computes output rows [r0, r1) for activation rows [i0, i1) over weight blocks [b0, b1):
//   y[i*ldy + r] = fmaf chain continued from y's current value when b0 > 0 (y = 0 chain start when b0 == 0).
// When yi != nullptr the kernel instead stores the exact block sums yi[(i*n + r)*nb + b] and leaves y alone.
// mad: `act` = block_q8_t [m][nb]; lut: `act` = block_q8_t (for d) and `tables` = [m][nb] LUT tables.
using TernaryMadFn = void (*)(const TernaryPackedView& w, const block_q8_t* act, size_t i0, size_t i1, size_t r0,
                              size_t r1, size_t b0, size_t b1, float* y, size_t ldy, int32_t* yi);
using TernaryLutFn = void (*)(const TernaryPackedView& w, const block_q8_t* act, const uint8_t* tables, size_t i0,
                              size_t i1, size_t r0, size_t r1, size_t b0, size_t b1, float* y, size_t ldy,
                              int32_t* yi);
// Builds the LUT tables of `rows` activation rows (nb blocks each).
using TernaryLutBuildFn = void (*)(const block_q8_t* act, size_t rows, size_t nb, uint8_t* tables);
using QuantActQ8tFn = void (*)(const float* x, size_t nblocks, block_q8_t* y);

void q8t_quant__ref(const float* x, size_t nblocks, block_q8_t* y);
void q8t_quant__avx2(const float* x, size_t nblocks, block_q8_t* y);
void q8t_quant__neon(const float* x, size_t nblocks, block_q8_t* y);

void tq2_q8_gemm__ref(const TernaryPackedView& w, const block_q8_t* act, size_t i0, size_t i1, size_t r0, size_t r1,
                      size_t b0, size_t b1, float* y, size_t ldy, int32_t* yi);
void tq2_q8_gemm_4x2c32__avx2(const TernaryPackedView&, const block_q8_t*, size_t, size_t, size_t, size_t, size_t,
                              size_t, float*, size_t, int32_t*);
void tq2_q8_gemm_4x2c32__avxvnni(const TernaryPackedView&, const block_q8_t*, size_t, size_t, size_t, size_t, size_t,
                                 size_t, float*, size_t, int32_t*);
void tq2_q8_gemm_4x4c64__avx512vnni(const TernaryPackedView&, const block_q8_t*, size_t, size_t, size_t, size_t,
                                    size_t, size_t, float*, size_t, int32_t*);
// arm64: smlal/smlal2 into int16 (neon) or sdot into int32 (dotprod); GEMM 4 x 4, GEMV 1 x 8.
void tq2_q8_gemm_4x4c16__neon(const TernaryPackedView&, const block_q8_t*, size_t, size_t, size_t, size_t, size_t,
                              size_t, float*, size_t, int32_t*);
void tq2_q8_gemm_4x4c16__dotprod(const TernaryPackedView&, const block_q8_t*, size_t, size_t, size_t, size_t,
                                 size_t, size_t, float*, size_t, int32_t*);

void tl3_lut_build__ref(const block_q8_t* act, size_t rows, size_t nb, uint8_t* tables);
void tl3_lut_build__avx2(const block_q8_t* act, size_t rows, size_t nb, uint8_t* tables);
void tl3_lut_build__neon(const block_q8_t* act, size_t rows, size_t nb, uint8_t* tables);
void tl3_q8_gemm__ref(const TernaryPackedView& w, const block_q8_t* act, const uint8_t* tables, size_t i0, size_t i1,
                      size_t r0, size_t r1, size_t b0, size_t b1, float* y, size_t ldy, int32_t* yi);
void tl3_q8_gemm_1x16c3__avx2(const TernaryPackedView&, const block_q8_t*, const uint8_t*, size_t, size_t, size_t,
                              size_t, size_t, size_t, float*, size_t, int32_t*);
void tl3_q8_gemm_1x16c3__avx512vnni(const TernaryPackedView&, const block_q8_t*, const uint8_t*, size_t, size_t,
                                    size_t, size_t, size_t, size_t, float*, size_t, int32_t*);
// arm64 (neon and dotprod CPUs alike): tbl lookups, 16 weight rows per tile.
void tl3_q8_gemm_1x16c3__neon(const TernaryPackedView&, const block_q8_t*, const uint8_t*, size_t, size_t, size_t,
                              size_t, size_t, size_t, float*, size_t, int32_t*);

// Tiles (MR activation rows x NR output rows) of the selected variants, used by the ops to split work.
struct TernaryTile {
  unsigned mr, nr;
};
TernaryTile ternary_mad_tile(Isa isa);
TernaryTile ternary_lut_tile(Isa isa);

const Variant<QuantActQ8tFn>& q8t_quant_kernel();
const Variant<TernaryMadFn>& ternary_mad_kernel();
const Variant<TernaryLutFn>& ternary_lut_kernel();
const Variant<TernaryLutBuildFn>& ternary_lut_build_kernel();

// ---------------------------------------------------------------- ops
// Either packed form may be null; both present lets `automatic` choose by measurement.
struct TernaryWeights {
  const void* mad = nullptr;
  size_t mad_bytes = 0;
  const void* lut = nullptr;
  size_t lut_bytes = 0;
};

struct TernaryMatmulOptions {
  TernaryFamily family = TernaryFamily::automatic;  // force mad or lut, or let the tuner choose
  const char* tune_cache_path = nullptr;  // optional file: read on first use, appended when a shape is tuned
};

// y[m][n] = x[m][k] * W[n][k]^T with the numerics above. x: m*k finite floats; y: m*n floats.
// Returns the family that ran. Throws Error(kErrArg) on bad arguments (missing packed form for a
// forced family, shapes that differ between the two packed forms, non-finite x, bad buffers).
TernaryFamily ternary_matmul(const TernaryWeights& w, const float* x, size_t m, float* y,
                             const TernaryMatmulOptions& opt = {});
// The exact integer block sums instead: yi[(i*n + r)*nb + b] (the bit-exactness oracle for tests).
void ternary_matmul_blocksums(const void* packed, size_t packed_bytes, const float* x, size_t m, int32_t* yi);

// ---------------------------------------------------------------- auto-tune
// Key: (n, k, m bucket (1, 2-8, 9-64, 65-256, >256), active isa, threads).
// Rule (cpp/ops/ternary.cc, ternary_tune_measure): on the first automatic call of a key with both packed
// forms present, each family runs 1 warm-up + R timed calls on the real x, alternating mad / lut; for
// m <= 8 (decode: weight streaming) the family's packed weights are evicted from every cache level
// (clflush) before each timed call so both are timed reading weights from DRAM, R = 9; for m > 8
// (compute bound) R = 5, cache as it comes. Winner: the lower median (ties: mad). The previous rule
// (best of 3 cache-hot repeats) timed weights resident in L2/L3, which is not what decode sees.
struct TernaryTuneKey {
  size_t n, k;
  unsigned m_bucket;
  int isa;
  unsigned threads;
};
unsigned ternary_m_bucket(size_t m);
// The cached winner, if any (from this process or the loaded file cache).
bool ternary_tune_lookup(const TernaryTuneKey& key, TernaryFamily* winner);
void ternary_tune_store(const TernaryTuneKey& key, TernaryFamily winner, double mad_s, double lut_s,
                        const char* cache_path);
void ternary_tune_load_file(const char* path);  // idempotent per path; missing file = empty
void ternary_tune_clear();                      // forget the in-memory cache (tests)

}  // namespace bitflash
