// Scalar references (the spec) for the ternary formats and the int8 activation blocks.
// tq1_0 / tq2_0 follow llama.cpp's published quantize_row_tq{1,2}_0_ref algorithm (reimplemented
// from its description); i2_s follows bitnet.cpp's I2_S layout with BitNet b1.58's absmean rule.
#include <cmath>

#include "bitflash/ternary.h"

namespace bitflash {

namespace {
inline int tern(float v, float id) { return static_cast<int>(std::lroundf(v * id)); }  // -1, 0, 1 for |v| <= amax

float block_amax(const float* x) {
  float amax = 0.0f;
  for (int j = 0; j < QK_K; j++) {
    const float a = std::fabs(x[j]);
    if (a > amax) amax = a;
  }
  return amax;
}

// Base-3 byte to its top trit after dropping the `n` leading ones: (uint8(q * 3^n) * 3) >> 8.
inline int trit_at(uint8_t q, int n) {
  static const uint8_t pow3[6] = {1, 3, 9, 27, 81, 243};
  const uint8_t s = static_cast<uint8_t>(q * pow3[n]);
  return (static_cast<uint16_t>(s) * 3) >> 8;
}
}  // namespace

void quantize_tq1_0_ref_rows(const float* x, size_t nb, block_tq1_0* y) {
  for (size_t i = 0; i < nb; i++, x += QK_K) {
    const float d = block_amax(x);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    block_tq1_0& b = y[i];
    b.d = f32_to_fp16(d);
    const float* p = x;
    // bytes 0..31: 5 trits each, elements m + 32n (n = 0 most significant)
    for (int m = 0; m < 32; m++) {
      unsigned q = 0;
      for (int n = 0; n < 5; n++) q = q * 3 + static_cast<unsigned>(tern(p[m + 32 * n], id) + 1);
      b.qs[m] = static_cast<uint8_t>((q * 256 + 242) / 243);  // ceiling of q * 256 / 243
    }
    p += 160;
    // bytes 32..47: 5 trits each, elements m + 16n
    for (int m = 0; m < 16; m++) {
      unsigned q = 0;
      for (int n = 0; n < 5; n++) q = q * 3 + static_cast<unsigned>(tern(p[m + 16 * n], id) + 1);
      b.qs[32 + m] = static_cast<uint8_t>((q * 256 + 242) / 243);
    }
    p += 80;
    // qh: 4 trits each (elements j + 4n), shifted to the top of a 5-trit byte
    for (int j = 0; j < 4; j++) {
      unsigned q = 0;
      for (int n = 0; n < 4; n++) q = q * 3 + static_cast<unsigned>(tern(p[j + 4 * n], id) + 1);
      q *= 3;
      b.qh[j] = static_cast<uint8_t>((q * 256 + 242) / 243);
    }
  }
}

void quantize_tq2_0_ref_rows(const float* x, size_t nb, block_tq2_0* y) {
  for (size_t i = 0; i < nb; i++, x += QK_K) {
    const float d = block_amax(x);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    for (int j = 0; j < 2; j++)
      for (int m = 0; m < 32; m++) {
        unsigned q = 0;
        for (int n = 0; n < 4; n++) q |= static_cast<unsigned>(tern(x[128 * j + m + 32 * n], id) + 1) << (2 * n);
        y[i].qs[32 * j + m] = static_cast<uint8_t>(q);
      }
  }
}

// Ternary values (-1, 0, 1) of one block, in element order.
void tq1_0_block_values(const block_tq1_0& b, int8_t* w) {
  int o = 0;
  for (int n = 0; n < 5; n++)
    for (int m = 0; m < 32; m++) w[o++] = static_cast<int8_t>(trit_at(b.qs[m], n) - 1);
  for (int n = 0; n < 5; n++)
    for (int m = 0; m < 16; m++) w[o++] = static_cast<int8_t>(trit_at(b.qs[32 + m], n) - 1);
  for (int n = 0; n < 4; n++)
    for (int j = 0; j < 4; j++) w[o++] = static_cast<int8_t>(trit_at(b.qh[j], n) - 1);
}

void tq2_0_block_values(const block_tq2_0& b, int8_t* w) {
  for (int j = 0; j < 2; j++)
    for (int n = 0; n < 4; n++)
      for (int m = 0; m < 32; m++) w[128 * j + 32 * n + m] = static_cast<int8_t>(((b.qs[32 * j + m] >> (2 * n)) & 3) - 1);
}

// i2_s: element e of the tensor (code bytes only).
inline int i2_s_value(const uint8_t* codes, size_t e) {
  const size_t blk = e / QK_I2_S, j = e % QK_I2_S;
  return ((codes[blk * 32 + j % 32] >> (6 - 2 * (j / 32))) & 3) - 1;
}
void i2_s_values(const uint8_t* codes, size_t e0, size_t count, int8_t* w) {
  for (size_t e = 0; e < count; e++) w[e] = static_cast<int8_t>(i2_s_value(codes, e0 + e));
}

float i2_s_absmean_quant_ref(const float* x, size_t count, uint8_t* y) {
  double s = 0.0;
  for (size_t i = 0; i < count; i++) s += std::fabs(static_cast<double>(x[i]));
  const float scale = count ? static_cast<float>(s / static_cast<double>(count)) : 0.0f;
  for (size_t i = 0; i < count / 4; i++) y[i] = 0;
  for (size_t e = 0; e < count; e++) {
    int q = 0;
    if (scale != 0.0f) {
      const float r = std::roundf(x[e] / scale);
      q = r >= 1.0f ? 1 : (r <= -1.0f ? -1 : 0);
    }
    const size_t blk = e / QK_I2_S, j = e % QK_I2_S;
    y[blk * 32 + j % 32] |= static_cast<uint8_t>((q + 1) << (6 - 2 * (j / 32)));
  }
  uint8_t* tail = y + count / 4;
  for (int i = 0; i < 32; i++) tail[i] = 0;
  std::memcpy(tail, &scale, 4);
  return scale;
}

// ---- activations: per block of 256, d = amax / 127, q = roundf(x * (1/d)) ----
void q8t_quant__ref(const float* x, size_t nblocks, block_q8_t* y) {
  for (size_t i = 0; i < nblocks; i++, x += QK_T) {
    float amax = 0.0f;
    for (int j = 0; j < QK_T; j++) {
      const float a = std::fabs(x[j]);
      if (a > amax) amax = a;
    }
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int32_t sum = 0;
    for (int j = 0; j < QK_T; j++) {
      const int q = static_cast<int>(std::roundf(x[j] * id));
      y[i].qs[j] = static_cast<int8_t>(q);
      sum += q;
    }
    y[i].d = d;
    y[i].sum = sum;
  }
}

// ---- mad reference: direct sum of w * q per block, then the fmaf chain ----
void tq2_q8_gemm__ref(const TernaryPackedView& w, const block_q8_t* act, size_t i0, size_t i1, size_t r0, size_t r1,
                      size_t b0, size_t b1, float* y, size_t ldy, int32_t* yi) {
  const size_t nb = w.nb;
  for (size_t i = i0; i < i1; i++)
    for (size_t r = r0; r < r1; r++) {
      float acc = (b0 == 0 || yi) ? 0.0f : y[i * ldy + r];
      for (size_t b = b0; b < b1; b++) {
        const uint8_t* c = w.codes + (r * nb + b) * 64;
        const block_q8_t& a = act[i * nb + b];
        int32_t isum = 0;
        for (int j = 0; j < QK_T; j++) {
          const int code = (c[(j / 128) * 32 + j % 32] >> (2 * ((j % 128) / 32))) & 3;
          isum += (code - 1) * a.qs[j];
        }
        if (yi)
          yi[(i * w.n + r) * nb + b] = isum;
        else
          acc = std::fmaf(static_cast<float>(isum), w.scales[r * nb + b] * a.d, acc);
      }
      if (!yi) y[i * ldy + r] = acc;
    }
}

// ---- lut reference: tables of int16 partial sums, looked up by the packed index and sign ----
void tl3_lut_build__ref(const block_q8_t* act, size_t rows, size_t nb, uint8_t* tables) {
  for (size_t blk = 0; blk < rows * nb; blk++) {
    const int8_t* q = act[blk].qs;
    uint8_t* t = tables + blk * kLutTableBytesPerBlock;
    for (size_t g = 0; g < kLutGroups; g++) {
      int a[3];
      for (int j = 0; j < 3; j++) a[j] = 3 * g + j < QK_T ? q[3 * g + j] : 0;
      uint8_t* lo = t + (g / 4) * kLutQuadBytes + (g % 4) * 16;
      for (int idx = 0; idx < 16; idx++) {
        int v = 0;
        if (idx < 14) v = (idx / 9 - 1) * a[0] + ((idx / 3) % 3 - 1) * a[1] + (idx % 3 - 1) * a[2];
        const uint16_t u = static_cast<uint16_t>(static_cast<int16_t>(v));
        lo[idx] = static_cast<uint8_t>(u & 0xff);
        lo[64 + idx] = static_cast<uint8_t>(u >> 8);
      }
    }
  }
}

void tl3_q8_gemm__ref(const TernaryPackedView& w, const block_q8_t* act, const uint8_t* tables, size_t i0, size_t i1,
                      size_t r0, size_t r1, size_t b0, size_t b1, float* y, size_t ldy, int32_t* yi) {
  const size_t nb = w.nb;
  for (size_t i = i0; i < i1; i++)
    for (size_t r = r0; r < r1; r++) {
      const size_t tile = r / kLutTileRows, p = r % kLutTileRows;
      float acc = (b0 == 0 || yi) ? 0.0f : y[i * ldy + r];
      for (size_t b = b0; b < b1; b++) {
        const uint8_t* tb = w.codes + (tile * nb + b) * kLutTileBlockBytes;
        const uint8_t* tab = tables + (i * nb + b) * kLutTableBytesPerBlock;
        int32_t isum = 0;
        for (size_t g = 0; g < kLutGroups; g++) {
          const uint8_t* quad = tb + (g / 4) * 40;
          const int gg = static_cast<int>(g % 4);
          const uint8_t byte = quad[(gg & 1) * 16 + p];
          const int idx = gg & 2 ? byte >> 4 : byte & 15;
          uint64_t signs;
          std::memcpy(&signs, quad + 32, 8);
          const bool neg = (signs >> (16 * gg + p)) & 1;
          const uint8_t* lo = tab + (g / 4) * kLutQuadBytes + gg * 16;
          const int16_t v = static_cast<int16_t>(static_cast<uint16_t>(lo[idx] | (lo[64 + idx] << 8)));
          isum += neg ? -v : v;
        }
        float ws;
        std::memcpy(&ws, tb + kLutQuads * 40 + 16 + 4 * p, 4);
        if (yi)
          yi[(i * w.n + r) * nb + b] = isum;
        else
          acc = std::fmaf(static_cast<float>(isum), ws * act[i * nb + b].d, acc);
      }
      if (!yi) y[i * ldy + r] = acc;
    }
}

}  // namespace bitflash
