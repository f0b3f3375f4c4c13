// Low-bit matmul kernels, armv8-a Advanced SIMD (no dot product instructions).
// int8 x int8 is exact through int16: smull gives each product in int16 (|p| <= 128 * 128 = 16384), and
// sadalp adds adjacent pairs straight into int32 lanes (a pair sum reaches 32768, which int16 could not
// hold, so products are never summed in int16). 4-bit x int8: nibble 0..15 times int8 is at most 1920,
// so two products are summed in int16 (smull + smlal2, <= 3840) before sadalp.
#include <arm_neon.h>

#include <cstring>

#include "../../ref/matmul-kernels.h"

namespace bitflash {
namespace mm {
namespace {

inline int32x4_t dot_s8(int32x4_t acc, int8x16_t w, int8x16_t x) {
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(w), vget_low_s8(x)));
  return vpadalq_s16(acc, vmull_high_s8(w, x));
}
inline int32x4_t dot_u4(int32x4_t acc, int8x16_t nib, int8x16_t x) {
  return vpadalq_s16(acc, vmlal_high_s8(vmull_s8(vget_low_s8(nib), vget_low_s8(x)), nib, x));
}

#include "matmul-neon-gemv.inc"

// Packed block, no lane-indexed dot: the 4 activations of step kq are broadcast to every 4-byte group
// (dup), smull/smull2 multiply 2 rows x 4 k each into int16, sadalp folds pairs into int32 lanes
// p = [r0 k01, r0 k23, r1 k01, r1 k23]; addp of two such vectors gives one int32 per row.
template <int M>
struct BlockAcc {
  int32x4_t p[M][4];
  void zero() {
    for (int i = 0; i < M; i++)
      for (int q = 0; q < 4; q++) p[i][q] = vdupq_n_s32(0);
  }
  void add(const int8_t* v, int half, const int8_t* const* xp) {
    for (int kq = 0; kq < 8; kq++) {
      const int8x16_t w0 = vld1q_s8(v + kq * 64 + half * 32), w1 = vld1q_s8(v + kq * 64 + half * 32 + 16);
      for (int i = 0; i < M; i++) {
        int32_t x4;
        std::memcpy(&x4, xp[i] + kq * 4, 4);
        const int8x16_t xd = vreinterpretq_s8_s32(vdupq_n_s32(x4));
        p[i][0] = vpadalq_s16(p[i][0], vmull_s8(vget_low_s8(w0), vget_low_s8(xd)));
        p[i][1] = vpadalq_s16(p[i][1], vmull_high_s8(w0, xd));
        p[i][2] = vpadalq_s16(p[i][2], vmull_s8(vget_low_s8(w1), vget_low_s8(xd)));
        p[i][3] = vpadalq_s16(p[i][3], vmull_high_s8(w1, xd));
      }
    }
  }
  void get(int32x4_t s[][2]) const {
    for (int i = 0; i < M; i++) {
      s[i][0] = vpaddq_s32(p[i][0], p[i][1]);
      s[i][1] = vpaddq_s32(p[i][2], p[i][3]);
    }
  }
};

#include "matmul-neon-gemm.inc"

// f32 rows -> int8 blocks, bit-exact with act_q8_quant__ref: the same f32 division and reciprocal;
// fcvtas rounds to nearest with ties away from zero, which is roundf followed by the (exact) conversion.
// amax uses fmaxnm like the reference's comparison (a NaN never becomes the maximum).
void act_quant(const float* x, size_t k, int8_t* q, float* d, int32_t* s) {
  const size_t kb = (k + 31) / 32;
  for (size_t b = 0; b < kb; b++) {
    float t[32];
    const float* xb = x + b * 32;
    if ((b + 1) * 32 > k) {
      for (size_t j = 0; j < 32; j++) t[j] = b * 32 + j < k ? xb[j] : 0.0f;
      xb = t;
    }
    float32x4_t v[8];
    for (int j = 0; j < 8; j++) v[j] = vld1q_f32(xb + 4 * j);
    float32x4_t mx = vabsq_f32(v[0]);
    for (int j = 1; j < 8; j++) mx = vmaxnmq_f32(mx, vabsq_f32(v[j]));
    const float db = vmaxnmvq_f32(mx) / 127.0f;
    const float id = db != 0.0f ? 1.0f / db : 0.0f;
    int32x4_t iv[8], sum = vdupq_n_s32(0);
    for (int j = 0; j < 8; j++) {
      iv[j] = vcvtaq_s32_f32(vmulq_n_f32(v[j], id));
      sum = vaddq_s32(sum, iv[j]);
    }
    for (int h = 0; h < 2; h++) {
      const int16x8_t a = vcombine_s16(vqmovn_s32(iv[4 * h]), vqmovn_s32(iv[4 * h + 1]));
      const int16x8_t c = vcombine_s16(vqmovn_s32(iv[4 * h + 2]), vqmovn_s32(iv[4 * h + 3]));
      vst1q_s8(q + b * 32 + 16 * h, vcombine_s8(vqmovn_s16(a), vqmovn_s16(c)));
    }
    d[b] = db;
    s[b] = vaddvq_s32(sum);
  }
}

}  // namespace

void act_q8_quant__neon(const float* x, size_t k, int8_t* q, float* d, int32_t* s) { act_quant(x, k, q, d, s); }
void q8_0_q8_gemv__neon(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv_f32<0>(w, a, m, n0, n1, y, ldy);
}
void q4_0_q8_gemv__neon(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv_f32<1>(w, a, m, n0, n1, y, ldy);
}
void i8c_q8_gemv__neon(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv_f32<2>(w, a, m, n0, n1, y, ldy);
}
void i4g_q8_gemv__neon(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv_f32<3>(w, a, m, n0, n1, y, ldy);
}
void i8c_q8_gemv_i32__neon(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, int32_t* y, size_t ldy) {
  gemv_i32(w, a, m, n0, n1, y, ldy);
}
void i8c_q8_gemv_rq__neon(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, const RequantEpi& e, int8_t* y,
                          size_t ldy) {
  gemv_rq(w, a, m, n0, n1, e, y, ldy);
}
BITFLASH_ARM_GEMM_DEFINE(neon)

}  // namespace mm
}  // namespace bitflash
