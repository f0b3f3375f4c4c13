// Low-bit matmul kernels, armv8.2-a + dotprod: sdot sums 4 int8 x int8 products into each int32 lane
// (exact, -128 included on both sides; 4-bit weights enter as nibbles 0..15 and their offset is removed
// in int32 afterwards, like the other kernels).
#include <arm_neon.h>

#include "../../ref/matmul-kernels.h"

namespace bitflash {
namespace mm {
namespace {

inline int32x4_t dot_s8(int32x4_t acc, int8x16_t w, int8x16_t x) { return vdotq_s32(acc, w, x); }
inline int32x4_t dot_u4(int32x4_t acc, int8x16_t nib, int8x16_t x) { return vdotq_s32(acc, nib, x); }

#include "../neon/matmul-neon-gemv.inc"

// Packed block with the lane-indexed sdot: for step kq the 16 packed bytes of 4 rows (4 k each) are dotted
// with the activations' 4-byte group kq (lane kq % 4 of the first or second 16 bytes): one sdot gives
// 4 rows x 4 k.
#define BITFLASH_SDOT_STEP(kq, xv, lane)                                      \
  {                                                                           \
    const int8x16_t w0 = vld1q_s8(v + (kq) * 64 + half * 32);                 \
    const int8x16_t w1 = vld1q_s8(v + (kq) * 64 + half * 32 + 16);            \
    for (int i = 0; i < M; i++) {                                             \
      s[i][0] = vdotq_laneq_s32(s[i][0], w0, xv[i], lane);                    \
      s[i][1] = vdotq_laneq_s32(s[i][1], w1, xv[i], lane);                    \
    }                                                                         \
  }
template <int M>
struct BlockAcc {
  int32x4_t s[M][2];
  void zero() {
    for (int i = 0; i < M; i++) s[i][0] = s[i][1] = vdupq_n_s32(0);
  }
  void add(const int8_t* v, int half, const int8_t* const* xp) {
    int8x16_t xa[M], xb[M];
    for (int i = 0; i < M; i++) {
      xa[i] = vld1q_s8(xp[i]);
      xb[i] = vld1q_s8(xp[i] + 16);
    }
    BITFLASH_SDOT_STEP(0, xa, 0)
    BITFLASH_SDOT_STEP(1, xa, 1)
    BITFLASH_SDOT_STEP(2, xa, 2)
    BITFLASH_SDOT_STEP(3, xa, 3)
    BITFLASH_SDOT_STEP(4, xb, 0)
    BITFLASH_SDOT_STEP(5, xb, 1)
    BITFLASH_SDOT_STEP(6, xb, 2)
    BITFLASH_SDOT_STEP(7, xb, 3)
  }
  void get(int32x4_t o[][2]) const {
    for (int i = 0; i < M; i++) {
      o[i][0] = s[i][0];
      o[i][1] = s[i][1];
    }
  }
};
#undef BITFLASH_SDOT_STEP

#include "../neon/matmul-neon-gemm.inc"

}  // namespace

void q8_0_q8_gemv__dotprod(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv_f32<0>(w, a, m, n0, n1, y, ldy);
}
void q4_0_q8_gemv__dotprod(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv_f32<1>(w, a, m, n0, n1, y, ldy);
}
void i8c_q8_gemv__dotprod(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv_f32<2>(w, a, m, n0, n1, y, ldy);
}
void i4g_q8_gemv__dotprod(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv_f32<3>(w, a, m, n0, n1, y, ldy);
}
void i8c_q8_gemv_i32__dotprod(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, int32_t* y, size_t ldy) {
  gemv_i32(w, a, m, n0, n1, y, ldy);
}
void i8c_q8_gemv_rq__dotprod(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, const RequantEpi& e,
                             int8_t* y, size_t ldy) {
  gemv_rq(w, a, m, n0, n1, e, y, ldy);
}
BITFLASH_ARM_GEMM_DEFINE(dotprod)

}  // namespace mm
}  // namespace bitflash
