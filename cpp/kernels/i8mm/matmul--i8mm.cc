// Packed low-bit GEMM, armv8.6-a int8 matrix multiply (smmla). smmla multiplies a 2x8 int8 matrix by the
// transpose of another 2x8 one into 2x2 int32 (exact). The A operand is 2 activation rows x 8 k (two 64-bit
// halves zipped), the B operand 2 weight rows x 8 k, built from the packed c4 layout in registers: for
// steps kq = 2c, 2c+1, zip1.4s of the two 16-byte groups (rows 0-3 x 4 k each) gives
// [r0 k0-3, r0 k4-7, r1 k0-3, r1 k4-7] = rows 0,1 x 8 k, zip2.4s rows 2,3. The packed layout stays the one
// every ISA reads (cpp/ops/matmul.cc's pack()), at the cost of those two zips per 32 weight bytes.
// The GEMV keeps the dotprod kernel (a single activation row gives smmla nothing to pair).
#include <arm_neon.h>

#include "../../ref/matmul-kernels.h"

namespace bitflash {
namespace mm {
namespace {

template <int M>
struct BlockAcc {
  static constexpr int P = (M + 1) / 2;  // activation row pairs (an odd last row is paired with itself)
  int32x4_t acc[P][4];                   // acc[p][q] = [x0.r(2q), x0.r(2q+1), x1.r(2q), x1.r(2q+1)]

  void zero() {
    for (int p = 0; p < P; p++)
      for (int q = 0; q < 4; q++) acc[p][q] = vdupq_n_s32(0);
  }

  void add(const int8_t* v, int half, const int8_t* const* xp) {
    int8x16_t A[P][4];
    for (int p = 0; p < P; p++) {
      const int8_t* x0 = xp[2 * p];
      const int8_t* x1 = xp[2 * p + 1 < M ? 2 * p + 1 : 2 * p];
      const int64x2_t a0 = vreinterpretq_s64_s8(vld1q_s8(x0)), a1 = vreinterpretq_s64_s8(vld1q_s8(x0 + 16));
      const int64x2_t b0 = vreinterpretq_s64_s8(vld1q_s8(x1)), b1 = vreinterpretq_s64_s8(vld1q_s8(x1 + 16));
      A[p][0] = vreinterpretq_s8_s64(vzip1q_s64(a0, b0));  // k 0..7 of both rows
      A[p][1] = vreinterpretq_s8_s64(vzip2q_s64(a0, b0));  // k 8..15
      A[p][2] = vreinterpretq_s8_s64(vzip1q_s64(a1, b1));
      A[p][3] = vreinterpretq_s8_s64(vzip2q_s64(a1, b1));
    }
    for (int c = 0; c < 4; c++) {
      const int8_t* g0 = v + (2 * c) * 64 + half * 32;
      const int8_t* g1 = g0 + 64;
      const int32x4_t w0 = vreinterpretq_s32_s8(vld1q_s8(g0)), w0h = vreinterpretq_s32_s8(vld1q_s8(g0 + 16));
      const int32x4_t w1 = vreinterpretq_s32_s8(vld1q_s8(g1)), w1h = vreinterpretq_s32_s8(vld1q_s8(g1 + 16));
      const int8x16_t B[4] = {vreinterpretq_s8_s32(vzip1q_s32(w0, w1)), vreinterpretq_s8_s32(vzip2q_s32(w0, w1)),
                              vreinterpretq_s8_s32(vzip1q_s32(w0h, w1h)), vreinterpretq_s8_s32(vzip2q_s32(w0h, w1h))};
      for (int p = 0; p < P; p++)
        for (int q = 0; q < 4; q++) acc[p][q] = vmmlaq_s32(acc[p][q], A[p][c], B[q]);
    }
  }

  // the 64-bit halves regroup the pairs per activation row
  void get(int32x4_t s[][2]) const {
    for (int p = 0; p < P; p++) {
      const int64x2_t q0 = vreinterpretq_s64_s32(acc[p][0]), q1 = vreinterpretq_s64_s32(acc[p][1]);
      const int64x2_t q2 = vreinterpretq_s64_s32(acc[p][2]), q3 = vreinterpretq_s64_s32(acc[p][3]);
      s[2 * p][0] = vreinterpretq_s32_s64(vzip1q_s64(q0, q1));
      s[2 * p][1] = vreinterpretq_s32_s64(vzip1q_s64(q2, q3));
      if (2 * p + 1 < M) {
        s[2 * p + 1][0] = vreinterpretq_s32_s64(vzip2q_s64(q0, q1));
        s[2 * p + 1][1] = vreinterpretq_s32_s64(vzip2q_s64(q2, q3));
      }
    }
  }
};

#include "../neon/matmul-neon-gemm.inc"

}  // namespace

BITFLASH_ARM_GEMM_DEFINE(i8mm)

}  // namespace mm
}  // namespace bitflash
