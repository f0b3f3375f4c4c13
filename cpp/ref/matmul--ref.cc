// Scalar references (the spec) of the low-bit matmul kernels. See matmul.h for the accumulation rule:
// per block of 32 an exact int32 dot of offset-free weights and int8 activations, then
// y = sum_b (dw_b * dx_b) * float(isum_b) in f32, blocks in order (baseline build: no fma contraction).
#include <cmath>

#include "matmul-kernels.h"

namespace bitflash {
namespace mm {

void act_q8_quant__ref(const float* x, size_t k, int8_t* q, float* d, int32_t* s) {
  const size_t kb = (k + KB - 1) / KB;
  for (size_t b = 0; b < kb; b++) {
    const size_t j0 = b * KB, j1 = j0 + KB < k ? j0 + KB : k;
    float amax = 0.0f;
    for (size_t j = j0; j < j1; j++) amax = std::fabs(x[j]) > amax ? std::fabs(x[j]) : amax;
    const float db = amax / 127.0f;
    const float id = db != 0.0f ? 1.0f / db : 0.0f;
    int32_t sum = 0;
    for (size_t j = j0; j < j0 + KB; j++) {
      const int v = j < j1 ? static_cast<int>(std::roundf(x[j] * id)) : 0;
      q[j] = static_cast<int8_t>(v);
      sum += v;
    }
    d[b] = db;
    s[b] = sum;
  }
}

void weight_block(const WK& w, size_t r, size_t b, int8_t out[32], float* dw) {
  const uint8_t* row = w.data + r * w.stride;
  const size_t j0 = b * KB;
  switch (w.dtype) {
    case DType::q8_0: {
      const block_q8_0* blk = reinterpret_cast<const block_q8_0*>(row) + b;
      *dw = fp16_to_f32(blk->d);
      for (int j = 0; j < 32; j++) out[j] = blk->qs[j];
      break;
    }
    case DType::q4_0: {
      const block_q4_0* blk = reinterpret_cast<const block_q4_0*>(row) + b;
      *dw = fp16_to_f32(blk->d);
      for (int j = 0; j < 16; j++) {
        out[j] = static_cast<int8_t>((blk->qs[j] & 0x0f) - 8);
        out[j + 16] = static_cast<int8_t>((blk->qs[j] >> 4) - 8);
      }
      break;
    }
    case DType::i8c: {
      *dw = w.scales[r];
      for (size_t j = 0; j < 32; j++)
        out[j] = j0 + j < w.k ? static_cast<int8_t>(row[j0 + j]) : static_cast<int8_t>(0);
      break;
    }
    case DType::i4g: {
      const size_t gi = j0 / w.group, e0 = j0 % w.group;  // a block of 32 never straddles two groups
      *dw = w.scales[r * w.gpr + gi];
      const int zp = w.zp ? ((w.zp[r * w.zp_stride + gi / 2] >> ((gi & 1) * 4)) & 0x0f) : 8;
      const uint8_t* g = row + gi * (w.group / 2) + e0 / 2;
      for (size_t j = 0; j < 32; j++) {
        const int q = (j & 1) ? (g[j / 2] >> 4) : (g[j / 2] & 0x0f);
        out[j] = j0 + j < w.k ? static_cast<int8_t>(q - zp) : static_cast<int8_t>(0);
      }
      break;
    }
    default:
      *dw = 0.0f;
      for (int j = 0; j < 32; j++) out[j] = 0;
  }
}

namespace {
void gemv_ref(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  int8_t wq[32];
  for (size_t r = n0; r < n1; r++) {
    for (size_t i = 0; i < m; i++) {
      const int8_t* xq = a.q + i * a.kb * KB;
      float acc = 0.0f;
      for (size_t b = 0; b < a.kb; b++) {
        float dw;
        weight_block(w, r, b, wq, &dw);
        int32_t isum = 0;
        for (size_t j = 0; j < KB; j++) isum += static_cast<int32_t>(wq[j]) * xq[b * KB + j];
        const float scale = dw * a.d[i * a.kb + b];
        const float t = scale * static_cast<float>(isum);
        acc = acc + t;
      }
      y[i * ldy + r] = acc;
    }
  }
}
}  // namespace

void q8_0_q8_gemv__ref(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv_ref(w, a, m, n0, n1, y, ldy);
}
void q4_0_q8_gemv__ref(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv_ref(w, a, m, n0, n1, y, ldy);
}
void i8c_q8_gemv__ref(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv_ref(w, a, m, n0, n1, y, ldy);
}
void i4g_q8_gemv__ref(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, float* y, size_t ldy) {
  gemv_ref(w, a, m, n0, n1, y, ldy);
}

void i8c_q8_gemv_i32__ref(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, int32_t* y, size_t ldy) {
  for (size_t r = n0; r < n1; r++) {
    const int8_t* wr = reinterpret_cast<const int8_t*>(w.data + r * w.stride);
    for (size_t i = 0; i < m; i++) {
      const int8_t* xq = a.q + i * a.kb * KB;
      int32_t acc = 0;
      for (size_t j = 0; j < w.k; j++) acc += static_cast<int32_t>(wr[j]) * xq[j];
      y[i * ldy + r] = acc;
    }
  }
}

// Packed: the same arithmetic, reading the tile layout (this is also the spec of the layout).
void x8p_q8_gemm__ref(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t m0, size_t m1, size_t t0,
                      size_t t1, float* y, size_t ldy) {
  for (size_t t = t0; t < t1; t++)
    for (size_t i = m0; i < m1; i++) {
      const int8_t* xq = a.q + i * kb * KB;
      float acc[NR] = {};
      for (size_t b = 0; b < kb; b++) {
        const uint8_t* pb = tiles + (t * kb + b) * PB;
        const float* dw = reinterpret_cast<const float*>(pb);
        const int8_t* v = reinterpret_cast<const int8_t*>(pb + 64);
        for (size_t r = 0; r < NR; r++) {
          int32_t isum = 0;
          for (size_t kq = 0; kq < 8; kq++)
            for (size_t j = 0; j < 4; j++) isum += static_cast<int32_t>(v[kq * 64 + r * 4 + j]) * xq[b * KB + kq * 4 + j];
          const float scale = dw[r] * a.d[i * kb + b];
          acc[r] = acc[r] + scale * static_cast<float>(isum);
        }
      }
      for (size_t r = 0; r < NR && t * NR + r < n; r++) y[i * ldy + t * NR + r] = acc[r];
    }
}

void x8p_q8_gemm_i32__ref(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t m0, size_t m1,
                          size_t t0, size_t t1, int32_t* y, size_t ldy) {
  for (size_t t = t0; t < t1; t++)
    for (size_t i = m0; i < m1; i++) {
      const int8_t* xq = a.q + i * kb * KB;
      int32_t acc[NR] = {};
      for (size_t b = 0; b < kb; b++) {
        const int8_t* v = reinterpret_cast<const int8_t*>(tiles + (t * kb + b) * PB + 64);
        for (size_t r = 0; r < NR; r++)
          for (size_t kq = 0; kq < 8; kq++)
            for (size_t j = 0; j < 4; j++) acc[r] += static_cast<int32_t>(v[kq * 64 + r * 4 + j]) * xq[b * KB + kq * 4 + j];
      }
      for (size_t r = 0; r < NR && t * NR + r < n; r++) y[i * ldy + t * NR + r] = acc[r];
    }
}

void i8c_q8_gemv_rq__ref(const WK& w, const ActQ& a, size_t m, size_t n0, size_t n1, const RequantEpi& e, int8_t* y,
                         size_t ldy) {
  for (size_t r = n0; r < n1; r++) {
    const int8_t* wr = reinterpret_cast<const int8_t*>(w.data + r * w.stride);
    for (size_t i = 0; i < m; i++) {
      const int8_t* xq = a.q + i * a.kb * KB;
      int32_t acc = 0;
      for (size_t j = 0; j < w.k; j++) acc += static_cast<int32_t>(wr[j]) * xq[j];
      y[i * ldy + r] = rq_one(e, i, r, acc);
    }
  }
}

void x8p_q8_gemm_rq__ref(const uint8_t* tiles, size_t kb, size_t n, const ActQ& a, size_t m0, size_t m1, size_t t0,
                         size_t t1, const RequantEpi& e, int8_t* y, size_t ldy) {
  for (size_t t = t0; t < t1; t++)
    for (size_t i = m0; i < m1; i++) {
      const int8_t* xq = a.q + i * kb * KB;
      int32_t acc[NR] = {};
      for (size_t b = 0; b < kb; b++) {
        const int8_t* v = reinterpret_cast<const int8_t*>(tiles + (t * kb + b) * PB + 64);
        for (size_t r = 0; r < NR; r++)
          for (size_t kq = 0; kq < 8; kq++)
            for (size_t j = 0; j < 4; j++) acc[r] += static_cast<int32_t>(v[kq * 64 + r * 4 + j]) * xq[b * KB + kq * 4 + j];
      }
      for (size_t r = 0; r < NR && t * NR + r < n; r++) y[i * ldy + t * NR + r] = rq_one(e, i, t * NR + r, acc[r]);
    }
}

}  // namespace mm
}  // namespace bitflash
