// Ternary table lookup (T-MAC / TL2 style), NEON (armv8-a), and its LUT build. Same packed format and
// tables as the x86 kernels (bitflash/ternary.h): groups of 3 weights -> sign-mirrored index 0..13
// (4 bits) + sign bit; per activation triple a 16-entry int16 table T split into a low-byte and a
// high-byte 16-byte table, so one tbl looks up 16 weight rows' groups at once.
// Kernel tile: 1 activation row x 16 weight rows; a quad (4 groups = 12 weights per row) costs 8 tbl.
// Sign: a negated lookup is formed as ~T (both bytes xor the row's 0x00/0xff mask) and the pack step
// stores per (row, block) how many lookups are negated (-T = ~T + 1).
// Accumulation without a byte interleave: every int16 v equals u8(v) + 256 * s8(v >> 8), so the low
// bytes are summed as unsigned (uaddw) and the high bytes as signed (saddw) in separate 16-bit
// accumulators, combined once per block as lo + (hi << 8) in int32. Bounds per block and row (88
// groups): low sum <= 88 * 255 = 22440 < 65535, |high sum| <= 88 * 128 = 11264: exact for any input.
#include <arm_neon.h>

#include "bitflash/ternary.h"

namespace bitflash {

void tl3_q8_gemm_1x16c3__neon(const TernaryPackedView& w, const block_q8_t* act, const uint8_t* tables, size_t i0,
                              size_t i1, size_t r0, size_t r1, size_t b0, size_t b1, float* y, size_t ldy,
                              int32_t* yi) {
  const size_t nb = w.nb;
  const uint8x16_t lo4 = vdupq_n_u8(0x0f);
  // sign bit 16g + p (row p of group g) lives in byte 2g + p/8, bit p%8
  static const uint8_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  static const uint8_t kSpread[4][16] = {{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},
                                         {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
                                         {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5},
                                         {6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7}};
  const uint8x16_t bit = vld1q_u8(kBit);
  const uint8x16_t sp0 = vld1q_u8(kSpread[0]), sp1 = vld1q_u8(kSpread[1]);
  const uint8x16_t sp2 = vld1q_u8(kSpread[2]), sp3 = vld1q_u8(kSpread[3]);
  for (size_t i = i0; i < i1; i++) {
    for (size_t r = r0; r < r1; r += kLutTileRows) {  // r0 is a multiple of 16 (the ops split so)
      const size_t tile = r / kLutTileRows;
      const size_t nr = r1 - r < kLutTileRows ? r1 - r : kLutTileRows;
      float finit[16];
      for (size_t p = 0; p < 16; p++) finit[p] = (b0 == 0 || yi || p >= nr) ? 0.0f : y[i * ldy + r + p];
      float32x4_t facc[4] = {vld1q_f32(finit), vld1q_f32(finit + 4), vld1q_f32(finit + 8), vld1q_f32(finit + 12)};
      for (size_t b = b0; b < b1; b++) {
        const uint8_t* tb = w.codes + (tile * nb + b) * kLutTileBlockBytes;
        const uint8_t* tab = tables + (i * nb + b) * kLutTableBytesPerBlock;
        uint16x8_t lo0 = vdupq_n_u16(0), lo1 = vdupq_n_u16(0);  // rows 0..7, 8..15
        int16x8_t hi0 = vdupq_n_s16(0), hi1 = vdupq_n_s16(0);
        for (size_t q = 0; q < kLutQuads; q++) {
          const uint8_t* qd = tb + q * 40;
          const uint8_t* tq = tab + q * kLutQuadBytes;
          const uint8x16_t v02 = vld1q_u8(qd), v13 = vld1q_u8(qd + 16);
          const uint8x8_t s8 = vld1_u8(qd + 32);
          const uint8x16_t s = vcombine_u8(s8, s8);
          const uint8x16_t idx[4] = {vandq_u8(v02, lo4), vandq_u8(v13, lo4), vshrq_n_u8(v02, 4), vshrq_n_u8(v13, 4)};
          const uint8x16_t msk[4] = {vtstq_u8(vqtbl1q_u8(s, sp0), bit), vtstq_u8(vqtbl1q_u8(s, sp1), bit),
                                     vtstq_u8(vqtbl1q_u8(s, sp2), bit), vtstq_u8(vqtbl1q_u8(s, sp3), bit)};
          for (int g = 0; g < 4; g++) {
            const uint8x16_t l = veorq_u8(vqtbl1q_u8(vld1q_u8(tq + 16 * g), idx[g]), msk[g]);
            const int8x16_t h = vreinterpretq_s8_u8(veorq_u8(vqtbl1q_u8(vld1q_u8(tq + 64 + 16 * g), idx[g]), msk[g]));
            lo0 = vaddw_u8(lo0, vget_low_u8(l));
            lo1 = vaddw_high_u8(lo1, l);
            hi0 = vaddw_s8(hi0, vget_low_s8(h));
            hi1 = vaddw_high_s8(hi1, h);
          }
        }
        const uint8x16_t cnt = vld1q_u8(tb + kLutQuads * 40);
        const uint16x8_t c0 = vmovl_u8(vget_low_u8(cnt)), c1 = vmovl_high_u8(cnt);
        // rows 4t..4t+3: lo + (hi << 8) + count (lo, count < 2^16: exact as int32)
        int32x4_t s4[4];
        s4[0] = vaddq_s32(vreinterpretq_s32_u32(vaddl_u16(vget_low_u16(lo0), vget_low_u16(c0))), vshll_n_s16(vget_low_s16(hi0), 8));
        s4[1] = vaddq_s32(vreinterpretq_s32_u32(vaddl_high_u16(lo0, c0)), vshll_high_n_s16(hi0, 8));
        s4[2] = vaddq_s32(vreinterpretq_s32_u32(vaddl_u16(vget_low_u16(lo1), vget_low_u16(c1))), vshll_n_s16(vget_low_s16(hi1), 8));
        s4[3] = vaddq_s32(vreinterpretq_s32_u32(vaddl_high_u16(lo1, c1)), vshll_high_n_s16(hi1, 8));
        if (yi) {
          int32_t out[16];
          for (int t = 0; t < 4; t++) vst1q_s32(out + 4 * t, s4[t]);
          for (size_t p = 0; p < nr; p++) yi[(i * w.n + r + p) * nb + b] = out[p];
        } else {
          const float* ws = reinterpret_cast<const float*>(tb + kLutQuads * 40 + 16);
          const float32x4_t d = vdupq_n_f32(act[i * nb + b].d);
          for (int t = 0; t < 4; t++)  // ws * xd rounded to f32, then the fused multiply-add
            facc[t] = vfmaq_f32(facc[t], vcvtq_f32_s32(s4[t]), vmulq_f32(vld1q_f32(ws + 4 * t), d));
        }
      }
      if (!yi) {
        float out[16];
        for (int t = 0; t < 4; t++) vst1q_f32(out + 4 * t, facc[t]);
        for (size_t p = 0; p < nr; p++) y[i * ldy + r + p] = out[p];
      }
    }
  }
}

// Tables: per group T[e] = W0[e] a0 + W1[e] a1 + W2[e] a2 on 16 int16 entries (entries 14, 15 have
// all-zero W), then the low and high bytes are separated with uzp1 / uzp2 into two 16-byte tables.
void tl3_lut_build__neon(const block_q8_t* act, size_t rows, size_t nb, uint8_t* tables) {
  static const int16_t kW[3][16] = {{-1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0},
                                    {-1, -1, -1, 0, 0, 0, 1, 1, 1, -1, -1, -1, 0, 0, 0, 0},
                                    {-1, 0, 1, -1, 0, 1, -1, 0, 1, -1, 0, 1, -1, 0, 0, 0}};
  const int16x8_t w0a = vld1q_s16(kW[0]), w0b = vld1q_s16(kW[0] + 8);
  const int16x8_t w1a = vld1q_s16(kW[1]), w1b = vld1q_s16(kW[1] + 8);
  const int16x8_t w2a = vld1q_s16(kW[2]), w2b = vld1q_s16(kW[2] + 8);
  for (size_t blk = 0; blk < rows * nb; blk++) {
    const int8_t* q = act[blk].qs;
    uint8_t* t = tables + blk * kLutTableBytesPerBlock;
    for (size_t g = 0; g < kLutGroups; g++) {
      const int16_t a0 = 3 * g < QK_T ? q[3 * g] : 0;
      const int16_t a1 = 3 * g + 1 < QK_T ? q[3 * g + 1] : 0;
      const int16_t a2 = 3 * g + 2 < QK_T ? q[3 * g + 2] : 0;
      const int16x8_t ta = vmlaq_n_s16(vmlaq_n_s16(vmulq_n_s16(w0a, a0), w1a, a1), w2a, a2);
      const int16x8_t tbv = vmlaq_n_s16(vmlaq_n_s16(vmulq_n_s16(w0b, a0), w1b, a1), w2b, a2);
      const uint8x16_t ua = vreinterpretq_u8_s16(ta), ub = vreinterpretq_u8_s16(tbv);
      uint8_t* lo = t + (g / 4) * kLutQuadBytes + (g % 4) * 16;
      vst1q_u8(lo, vuzp1q_u8(ua, ub));
      vst1q_u8(lo + 64, vuzp2q_u8(ua, ub));
    }
  }
}

}  // namespace bitflash
