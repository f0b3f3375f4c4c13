// NEON building blocks of the dyadic requantization (the rule at the top of bitflash/dyadic.h), for
// inclusion by arm64 kernel files only. Internal linkage throughout (baseline code never links a
// copy). Reusable as the epilogue of an int8 matmul kernel: mul_dyadic4 maps 4 int32 accumulators to
// the rule's result before the zero point.
//
// Why the NEON instructions give the reference's bits exactly:
//  - sat_shl(x, l), l in 0..31: SQSHL by a register holding l saturates x * 2^l to int32, the same value.
//  - SRDHM(a, b): SQRDMULH computes sat((2ab + 2^31) >> 32) with an arithmetic (floor) shift of the exact
//    product, i.e. floor((ab + 2^30) / 2^31), ties up for both signs; the only overflow,
//    a = b = INT32_MIN, saturates to INT32_MAX. Same formula as dyadic_detail::srdhm.
//  - RDBPOT(h, k), k in 0..31: SRSHL by -k computes floor((h + 2^(k-1)) / 2^k) in exact arithmetic (ties
//    up). The reference rounds ties away from zero, so a negative h is first lowered by one
//    (h + fix with one SSRA, fix = -1 when h < 0 and k > 0, from (h & -k) >> 31; with a uniform k > 0
//    simply h >> 31): for h < 0, floor((h - 1 + 2^(k-1)) / 2^k) = -floor((-h + 2^(k-1)) / 2^k), the
//    tie-away result (ceil(a / n) = floor((a + n - 1) / n) with a = -h + 1 - 2^(k-1), n = 2^k).
//    h - 1 cannot wrap: h is a SQRDMULH result, and the most negative one is
//    floor((INT32_MIN * INT32_MAX + 2^30) / 2^31) = -2^31 + 1. k = 0: -k = 0 makes fix 0 and the
//    shift the identity.
//  - The zero point: y + zp with SQADD then a saturating narrow equals clamp(int64(y) + zp): the
//    saturation can only trigger far outside every output range.
#pragma once
#include <arm_neon.h>

#include <cstdint>

#include "bitflash/dyadic.h"

namespace bitflash {
namespace dyadic_neon {

// Per-lane multiplier: m, left shift max(31 - s, 0), and -max(s - 31, 0) (the SRSHL count).
struct Mult4 {
  int32x4_t m, lsh, rneg;
};
static inline Mult4 mult4_from(const Dyadic* d) {  // 4 consecutive Dyadic {int32 m, int s}
  static_assert(sizeof(Dyadic) == 8, "Dyadic must be two 32-bit words");
  const int32x4x2_t v = vld2q_s32(reinterpret_cast<const int32_t*>(d));
  const int32x4_t t = vsubq_s32(vdupq_n_s32(31), v.val[1]);
  return {v.val[0], vmaxq_s32(t, vdupq_n_s32(0)), vminq_s32(t, vdupq_n_s32(0))};
}
static inline Mult4 mult4_bcast(Dyadic d) {
  return {vdupq_n_s32(d.m), vdupq_n_s32(d.s < 31 ? 31 - d.s : 0), vdupq_n_s32(d.s > 31 ? 31 - d.s : 0)};
}
// RDBPOT(h, k) with rneg = -k (per lane, k in 0..31), ties away from zero; h must be above INT32_MIN
// (every SQRDMULH result is).
static inline int32x4_t rdbpot4(int32x4_t h, int32x4_t rneg) {
  return vrshlq_s32(vsraq_n_s32(h, vandq_s32(h, rneg), 31), rneg);
}
// The same with k >= 1 in every lane: the fix is the sign of h alone.
static inline int32x4_t rdbpot4_pos(int32x4_t h, int32x4_t rneg) { return vrshlq_s32(vsraq_n_s32(h, h, 31), rneg); }
// x * m / 2^s by the rule (no zero point, no output clamp).
static inline int32x4_t mul_dyadic4(int32x4_t x, const Mult4& d) {
  return rdbpot4(vqrdmulhq_s32(vqshlq_s32(x, d.lsh), d.m), d.rneg);
}
// A uniform multiplier: LEFT when s < 31 (the left shift), RIGHT when s > 31 (the rounding shift,
// k = s - 31 >= 1); s == 31 needs neither.
template <bool LEFT, bool RIGHT>
static inline int32x4_t mul_dyadic4(int32x4_t x, const Mult4& d) {
  const int32x4_t h = vqrdmulhq_s32(LEFT ? vqshlq_s32(x, d.lsh) : x, d.m);
  return RIGHT ? rdbpot4_pos(h, d.rneg) : h;
}

// 16 int32 already offset by the zero point -> 16 int8 / uint8, saturating.
static inline int8x16_t narrow16_i8(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d) {
  return vcombine_s8(vqmovn_s16(vcombine_s16(vqmovn_s32(a), vqmovn_s32(b))),
                     vqmovn_s16(vcombine_s16(vqmovn_s32(c), vqmovn_s32(d))));
}
static inline int8x8_t narrow8_i8(int32x4_t a, int32x4_t b) {
  return vqmovn_s16(vcombine_s16(vqmovn_s32(a), vqmovn_s32(b)));
}
// 16 int8 -> 4 x int32 (sign extended).
static inline void widen16(int8x16_t x, int32x4_t* o) {
  const int16x8_t lo = vmovl_s8(vget_low_s8(x)), hi = vmovl_high_s8(x);
  o[0] = vmovl_s16(vget_low_s16(lo));
  o[1] = vmovl_high_s16(lo);
  o[2] = vmovl_s16(vget_low_s16(hi));
  o[3] = vmovl_high_s16(hi);
}

}  // namespace dyadic_neon
}  // namespace bitflash
