// Data types and GGUF block layouts. lib/dtypes.ts mirrors the ids and sizes here
// (test/js/dtypes.test.ts checks them against the binding's dtypeTable()).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace bitflash {

// Stable numeric ids (exported to JS; never renumber).
enum class DType : int {
  f32 = 0,
  f16 = 1,
  i8 = 2,
  u8 = 3,
  i16 = 4,
  i32 = 5,
  q8_0 = 8,    // GGUF: 32 x int8 + f16 scale
  q4_0 = 9,    // GGUF: 32 x 4-bit (offset 8) + f16 scale
  q4_K = 12,   // GGUF: super-block of 256, read support
  i8c = 20,    // per-channel int8: n x k int8 + n f32 scales
  i4g = 21,    // grouped int4 in onnxruntime MatMulNBits layout
  tq1_0 = 34,  // reserved for the ternary issue
  tq2_0 = 35,
  i2_s = 36,
};

inline constexpr int QK8_0 = 32;
inline constexpr int QK4_0 = 32;
inline constexpr int QK_K = 256;
inline constexpr int K_SCALE_SIZE = 12;

using fp16_t = uint16_t;

// Block structs are packed (alignment 1): GGUF bytes reach us at any offset (a Uint8Array view, a
// tensor inside a file read), and member access must be valid wherever the block starts.

struct __attribute__((packed)) block_q8_0 {
  fp16_t d;         // scale
  int8_t qs[QK8_0];  // quants
};
static_assert(sizeof(block_q8_0) == 34, "block_q8_0 must be 34 bytes (GGUF)");

struct __attribute__((packed)) block_q4_0 {
  fp16_t d;              // scale
  uint8_t qs[QK4_0 / 2];  // nibbles: low nibble = element j, high nibble = element j + 16
};
static_assert(sizeof(block_q4_0) == 18, "block_q4_0 must be 18 bytes (GGUF)");

struct __attribute__((packed)) block_q4_K {
  fp16_t d;                    // super-block scale for quantized scales
  fp16_t dmin;                 // super-block scale for quantized mins
  uint8_t scales[K_SCALE_SIZE];  // 8 x (6-bit scale, 6-bit min)
  uint8_t qs[QK_K / 2];        // 4-bit quants
};
static_assert(sizeof(block_q4_K) == 144, "block_q4_K must be 144 bytes (GGUF)");

// GGUF TQ1_0: 1.6875 bits/weight. qs: 240 trits, 5 per byte (base 3, ceiling-scaled to a byte);
// qh: the last 16 trits, 4 per byte; d: the block's absmax (f16).
struct __attribute__((packed)) block_tq1_0 {
  uint8_t qs[(QK_K - 4 * QK_K / 64) / 5];  // 48 bytes
  uint8_t qh[QK_K / 64];                   // 4 bytes
  fp16_t d;
};
static_assert(sizeof(block_tq1_0) == 54, "block_tq1_0 must be 54 bytes (GGUF)");

// GGUF TQ2_0: 2.0625 bits/weight. qs: 2-bit codes w+1; byte m of 32-byte chunk j holds
// elements 128*j + m + 32*n at bits 2n..2n+1 (n = 0..3). d: the block's absmax (f16).
struct __attribute__((packed)) block_tq2_0 {
  uint8_t qs[QK_K / 4];  // 64 bytes
  fp16_t d;
};
static_assert(sizeof(block_tq2_0) == 66, "block_tq2_0 must be 66 bytes (GGUF)");

// bitnet.cpp I2_S: blocks of 128 weights in 32 bytes, byte p of a block holds elements
// p, p+32, p+64, p+96 at bits 7..6, 5..4, 3..2, 1..0 as w+1; after all n/4 code bytes one f32
// scale (the tensor's), padded to 32 bytes. No block struct: the scale is per tensor.
inline constexpr int QK_I2_S = 128;

// ---- IEEE half <-> single, exact, round-to-nearest-even (matches F16C's vcvtps2ph imm 0) ----
inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float f32_from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline float fp16_to_f32(fp16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t man = h & 0x3ffu;
  if (exp == 0) {
    if (man == 0) return f32_from_bits(sign);
    // subnormal: value = man * 2^-24
    float v = static_cast<float>(man) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  if (exp == 31) return f32_from_bits(sign | 0x7f800000u | (man << 13));  // inf / nan
  return f32_from_bits(sign | ((exp + 112u) << 23) | (man << 13));
}

inline fp16_t f32_to_fp16(float f) {
  const uint32_t x = f32_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) {  // inf or nan
    return static_cast<fp16_t>(sign | 0x7c00u | (ax > 0x7f800000u ? (0x200u | ((ax >> 13) & 0x3ffu)) : 0u));
  }
  if (ax >= 0x477ff000u) return static_cast<fp16_t>(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (ax < 0x38800000u) {  // below the smallest normal half (2^-14): subnormal or zero
    if (ax < 0x33000000u) return static_cast<fp16_t>(sign);  // < 2^-25: rounds to 0 (2^-25 ties to even 0)
    const uint32_t e = ax >> 23;
    const uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - e;  // 14..24 (value = m * 2^(e-150), half subnormal unit 2^-24)
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return static_cast<fp16_t>(sign | q);
  }
  // normal
  uint32_t r = ax - 0x38000000u;  // rebias exponent 127 -> 15
  const uint32_t rem = r & 0x1fffu;
  r >>= 13;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) r++;
  return static_cast<fp16_t>(sign | r);
}

struct DTypeInfo {
  DType id;
  const char* name;
  int block_elems;   // elements per block (1 for plain types)
  int block_bytes;   // bytes per block
  int trailer_bytes = 0;  // bytes after the last block, once per tensor (i2_s: its f32 scale, padded to 32)
};

// Table of every dtype the build knows (plain and block types). Returns nullptr when unknown.
const DTypeInfo* dtype_info(DType t);
const DTypeInfo* dtype_table(size_t* count);

}  // namespace bitflash
