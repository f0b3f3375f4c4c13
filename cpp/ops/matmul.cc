// Low-bit matmul ops: validation (every length, stride and scale the kernels rely on), activation
// preparation (the internal int8 block form), the split over the thread pool, the zero-point epilogue.
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../ref/matmul-kernels.h"
#include "bitflash/error.h"
#include "bitflash/dyadic.h"
#include "bitflash/matmul.h"
#include "bitflash/threadpool.h"

namespace bitflash {

using mm::ActQ;
using mm::KB;
using mm::WK;

namespace {

[[noreturn]] void bad(const char* op, const std::string& msg) { fail(kErrArg, std::string(op) + ": " + msg); }

size_t mul_checked(size_t a, size_t b, const char* op, const char* what) {
  if (a != 0 && b > SIZE_MAX / a) bad(op, std::string(what) + " overflows size_t");
  return a * b;
}

// Elements needed for rows x cols with row stride ld: (rows-1)*ld + cols, overflow-checked.
size_t span_needed(size_t rows, size_t cols, size_t ld, const char* op, const char* what) {
  const size_t a = mul_checked(rows - 1, ld, op, what);
  if (a > SIZE_MAX - cols) bad(op, std::string(what) + " overflows size_t");
  return a + cols;
}

bool finite(float v) { return (f32_bits(v) & 0x7f800000u) != 0x7f800000u; }

// Branch-free scan (vectorizes): every value finite (and >= 0 when nonneg, -0.0 included as >= 0).
// The ops validate the scales on every call, n * k / group of them for i4g: a per-element branch cost
// ~10% of a DRAM-bound GEMV. On failure the caller rescans to report the first bad index.
bool all_finite(const float* v, size_t len, bool nonneg) {
  uint32_t badv = 0;
  for (size_t i = 0; i < len; i++) {
    const uint32_t b = f32_bits(v[i]);
    badv |= static_cast<uint32_t>((b & 0x7f800000u) == 0x7f800000u);
    if (nonneg) badv |= static_cast<uint32_t>(b > 0x80000000u);
  }
  return badv == 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::q8_0: return "q8_0";
    case DType::q4_0: return "q4_0";
    case DType::i8c: return "i8c";
    case DType::i4g: return "i4g";
    default: return "unsupported";
  }
}

size_t row_bytes_unchecked(const WeightView& w) {
  switch (w.dtype) {
    case DType::q8_0: return w.k / 32 * sizeof(block_q8_0);
    case DType::q4_0: return w.k / 32 * sizeof(block_q4_0);
    case DType::i8c: return w.k;
    case DType::i4g: return (w.k + w.group - 1) / w.group * (w.group / 2);
    default: return 0;
  }
}

WK resolve(const WeightView& w, const char* op) {
  if (w.dtype != DType::q8_0 && w.dtype != DType::q4_0 && w.dtype != DType::i8c && w.dtype != DType::i4g)
    bad(op, "weight dtype must be q8_0, q4_0, i8c or i4g, received id " + std::to_string(static_cast<int>(w.dtype)));
  if (w.n < 1 || w.k < 1) bad(op, "weights need n >= 1 and k >= 1, received n=" + std::to_string(w.n) + " k=" + std::to_string(w.k));
  if (w.k > (size_t(1) << 40) || w.n > (size_t(1) << 40)) bad(op, "weight shape is too large");
  if ((w.dtype == DType::q8_0 || w.dtype == DType::q4_0) && w.k % 32 != 0)
    bad(op, std::string(dtype_name(w.dtype)) + " weights need k % 32 == 0, received k=" + std::to_string(w.k));
  if (w.dtype == DType::i4g) {
    if (w.group != 32 && w.group != 64 && w.group != 128)
      bad(op, "i4g group must be 32, 64 or 128, received " + std::to_string(w.group));
  } else if (w.group != 0 && w.group != 32) {
    bad(op, std::string(dtype_name(w.dtype)) + " weights take no group (0), received " + std::to_string(w.group));
  }
  if (!w.data) bad(op, "weight data is null");
  const size_t rb = row_bytes_unchecked(w);
  const size_t stride = w.row_stride ? w.row_stride : rb;
  if (stride < rb) bad(op, "weight row_stride " + std::to_string(stride) + " is less than the row size " + std::to_string(rb));
  const size_t need = span_needed(w.n, rb, stride, op, "weight size");
  if (w.data_bytes < need)
    bad(op, "weight data holds " + std::to_string(w.data_bytes) + " bytes, the view needs " + std::to_string(need));
  WK k{};
  k.dtype = w.dtype;
  k.n = w.n;
  k.k = w.k;
  k.data = static_cast<const uint8_t*>(w.data);
  k.stride = stride;
  if (w.dtype == DType::i8c) {
    if (!w.scales || w.scales_len < w.n)
      bad(op, "i8c weights need n=" + std::to_string(w.n) + " scales, received " + std::to_string(w.scales ? w.scales_len : 0));
    if (!all_finite(w.scales, w.n, true))
      for (size_t r = 0; r < w.n; r++)
        if (!finite(w.scales[r]) || w.scales[r] < 0.0f) bad(op, "i8c scale " + std::to_string(r) + " is not finite and >= 0");
    k.scales = w.scales;
  } else if (w.dtype == DType::i4g) {
    k.group = static_cast<size_t>(w.group);
    k.gpr = (w.k + k.group - 1) / k.group;
    const size_t ns = mul_checked(w.n, k.gpr, op, "i4g scales");
    if (!w.scales || w.scales_len < ns)
      bad(op, "i4g weights need " + std::to_string(ns) + " scales, received " + std::to_string(w.scales ? w.scales_len : 0));
    if (!all_finite(w.scales, ns, false))
      for (size_t i = 0; i < ns; i++)
        if (!finite(w.scales[i])) bad(op, "i4g scale " + std::to_string(i) + " is not finite");
    k.scales = w.scales;
    if (w.zero_points) {
      k.zp_stride = (k.gpr + 1) / 2;
      const size_t nz = mul_checked(w.n, k.zp_stride, op, "i4g zero points");
      if (w.zero_points_len < nz)
        bad(op, "i4g zero_points hold " + std::to_string(w.zero_points_len) + " bytes, need " + std::to_string(nz));
      k.zp = w.zero_points;
    }
  } else if (w.zero_points) {
    bad(op, "zero_points are only for i4g weights");
  }
  return k;
}

void check_out(const void* y, size_t y_len, size_t m, size_t n, size_t ldy, const char* op) {
  if (!y) bad(op, "output is null");
  if (ldy < n) bad(op, "ldy " + std::to_string(ldy) + " is less than n " + std::to_string(n));
  const size_t need = span_needed(m, n, ldy, op, "output size");
  if (y_len < need) bad(op, "output holds " + std::to_string(y_len) + " elements, needs " + std::to_string(need));
}

// The internal activation form, owned.
struct ActBuf {
  std::vector<int8_t> q;
  std::vector<float> d;
  std::vector<int32_t> s;
  ActQ view;
  void alloc(size_t m, size_t kb) {
    q.assign(m * kb * KB, 0);
    d.assign(m * kb, 0.0f);
    s.assign(m * kb, 0);
    view.q = q.data();
    view.d = d.data();
    view.s = s.data();
    view.kb = kb;
  }
};

// Rows-per-task for work over m rows of k elements.
template <class Fn>
void over_rows(size_t m, size_t k, const Fn& fn) {
  const size_t per = k >= 65536 ? 1 : 65536 / k;
  const size_t tasks = (m + per - 1) / per;
  if (tasks <= 1) {
    fn(0, m);
    return;
  }
  parallel_for(tasks, [&](size_t t, unsigned) { fn(t * per, t * per + per < m ? t * per + per : m); });
}

// int8 / uint8 rows into the internal form (values as they are; u8 shifted by -128).
void prep_q8(const Q8Acts& x, size_t m, size_t k, ActBuf& a, bool need_scales, const char* op) {
  if (!x.data) bad(op, "activations are null");
  if (x.ld < k) bad(op, "activation ld " + std::to_string(x.ld) + " is less than k " + std::to_string(k));
  const size_t need = span_needed(m, k, x.ld, op, "activation size");
  if (x.len < need) bad(op, "activations hold " + std::to_string(x.len) + " elements, need " + std::to_string(need));
  if (need_scales) {
    if (!x.scales || x.scales_len < m) bad(op, "activations need m=" + std::to_string(m) + " scales");
    for (size_t i = 0; i < m; i++)
      if (!finite(x.scales[i]) || x.scales[i] < 0.0f) bad(op, "activation scale " + std::to_string(i) + " is not finite and >= 0");
    if (x.zero_points) {
      if (x.zero_points_len < m) bad(op, "activations need m=" + std::to_string(m) + " zero points");
      for (size_t i = 0; i < m; i++) {
        const int32_t z = x.zero_points[i];
        if (x.is_unsigned ? (z < 0 || z > 255) : (z < -128 || z > 127))
          bad(op, "activation zero point " + std::to_string(i) + " is out of range: " + std::to_string(z));
      }
    }
  }
  const size_t kb = (k + KB - 1) / KB;
  a.alloc(m, kb);
  const uint8_t flip = x.is_unsigned ? 0x80 : 0x00;
  over_rows(m, k, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; i++) {
      const uint8_t* src = static_cast<const uint8_t*>(x.data) + i * x.ld;
      int8_t* q = a.q.data() + i * kb * KB;
      for (size_t j = 0; j < k; j++) q[j] = static_cast<int8_t>(src[j] ^ flip);
      for (size_t b = 0; b < kb; b++) {
        int32_t s = 0;
        for (size_t j = 0; j < KB; j++) s += q[b * KB + j];
        a.s[i * kb + b] = s;
        a.d[i * kb + b] = need_scales ? x.scales[i] : 0.0f;
      }
    }
  });
}

struct PackHeader {
  uint32_t magic;
  uint32_t version;
  int32_t dtype;
  int32_t group;
  uint64_t n, k, kb, tiles, bytes;
};
constexpr uint32_t kPackMagic = 0x31504642u;  // "BFP1"
static_assert(sizeof(PackHeader) <= mm::PACK_HEADER, "pack header too large");

size_t pack_bytes(const WK& w) {
  const size_t kb = (w.k + KB - 1) / KB, tiles = (w.n + mm::NR - 1) / mm::NR;
  return mm::PACK_HEADER + mul_checked(mul_checked(tiles, kb, "pack", "packed size"), mm::PB, "pack", "packed size");
}

// Returns the tiles when packed is a valid pack of w, else throws.
const uint8_t* check_packed(const WK& w, const void* packed, size_t packed_bytes, const char* op) {
  if (packed_bytes < mm::PACK_HEADER) bad(op, "packed weights are too small for their header");
  PackHeader h;
  std::memcpy(&h, packed, sizeof h);
  const size_t kb = (w.k + KB - 1) / KB;
  if (h.magic != kPackMagic || h.version != 1) bad(op, "packed weights do not come from pack() (bad magic)");
  if (h.dtype != static_cast<int32_t>(w.dtype) || h.n != w.n || h.k != w.k || h.kb != kb ||
      h.group != static_cast<int32_t>(w.dtype == DType::i4g ? w.group : 0))
    bad(op, "packed weights were packed from a different weight shape or dtype");
  const size_t need = pack_bytes(w);
  if (h.bytes != need || packed_bytes < need) bad(op, "packed weights are truncated");
  if (reinterpret_cast<uintptr_t>(packed) % 4 != 0) bad(op, "packed weights must be 4-byte aligned");
  return static_cast<const uint8_t*>(packed) + mm::PACK_HEADER;
}

// GEMV split over n: each task streams its own rows (a multiple of 16 rows per task).
template <class Fn>
void split_n(size_t n, size_t m, size_t k, const Fn& fn) {
  const unsigned th = ThreadPool::global().threads();
  const size_t work = n * (m < 64 ? m : 64) * k;
  if (th <= 1 || work < (size_t(1) << 16) || n < 32) {
    fn(0, n);
    return;
  }
  size_t per = (n + th * 8 - 1) / (th * 8);
  per = (per + 15) / 16 * 16;
  if (per < 16) per = 16;
  const size_t tasks = (n + per - 1) / per;
  parallel_for(tasks, [&](size_t t, unsigned) { fn(t * per, t * per + per < n ? t * per + per : n); });
}

// GEMM split over (tile groups x m chunks).
template <class Fn>
void split_tiles(size_t tiles, size_t m, const Fn& fn) {
  const size_t tg = 4, mc = 64;
  const size_t ntg = (tiles + tg - 1) / tg, nmc = (m + mc - 1) / mc;
  const size_t tasks = ntg * nmc;
  auto run = [&](size_t t, unsigned) {
    const size_t gi = t % ntg, mi = t / ntg;
    const size_t t0 = gi * tg, t1 = t0 + tg < tiles ? t0 + tg : tiles;
    const size_t m0 = mi * mc, m1 = m0 + mc < m ? m0 + mc : m;
    fn(t0, t1, m0, m1);
  };
  if (tasks <= 1) {
    run(0, 0);
    return;
  }
  parallel_for(tasks, run);
}

void run_f32(const WK& w, const uint8_t* tiles, const ActQ& a, size_t m, float* y, size_t ldy) {
  if (tiles && m >= matmul_gemm_min_m()) {
    const mm::GemmF32Fn g = mm::gemm_f32_kernel(w.dtype).fn;
    const size_t nt = (w.n + mm::NR - 1) / mm::NR;
    split_tiles(nt, m, [&](size_t t0, size_t t1, size_t m0, size_t m1) { g(tiles, a.kb, w.n, a, m0, m1, t0, t1, y, ldy); });
    return;
  }
  const mm::GemvF32Fn g = mm::gemv_f32_kernel(w.dtype).fn;
  split_n(w.n, m, w.k, [&](size_t n0, size_t n1) { g(w, a, m, n0, n1, y, ldy); });
}

}  // namespace

size_t weight_row_bytes(const WeightView& w) {
  resolve(w, "weight_row_bytes");
  return row_bytes_unchecked(w);
}

void validate_weights(const WeightView& w) { resolve(w, "matmul"); }

size_t matmul_gemm_min_m() { return 4; }

double matmul_f32_tolerance(size_t nb, double s) {
  return 2.0 * static_cast<double>(nb + 2) * 0x1p-24 * s + static_cast<double>(nb + 4) * 0x1p-130;
}

size_t pack_size(const WeightView& w, size_t m_hint) { return pack_bytes(resolve(w, "pack_size")); }

void pack(const WeightView& wv, void* dst, size_t dst_bytes) {
  const WK w = resolve(wv, "pack");
  const size_t need = pack_bytes(w);
  if (!dst) bad("pack", "destination is null");
  if (dst_bytes < need) bad("pack", "destination holds " + std::to_string(dst_bytes) + " bytes, needs " + std::to_string(need));
  const size_t kb = (w.k + KB - 1) / KB, tiles = (w.n + mm::NR - 1) / mm::NR;
  PackHeader h{kPackMagic, 1, static_cast<int32_t>(w.dtype), static_cast<int32_t>(w.dtype == DType::i4g ? w.group : 0),
               w.n, w.k, kb, tiles, need};
  uint8_t* out = static_cast<uint8_t*>(dst);
  std::memset(out, 0, mm::PACK_HEADER);
  std::memcpy(out, &h, sizeof h);
  uint8_t* t_base = out + mm::PACK_HEADER;
  parallel_for(tiles, [&](size_t t, unsigned) {
    int8_t vals[32];
    for (size_t b = 0; b < kb; b++) {
      uint8_t* pb = t_base + (t * kb + b) * mm::PB;
      float dw[mm::NR];
      int8_t* v = reinterpret_cast<int8_t*>(pb + 64);
      for (size_t r = 0; r < mm::NR; r++) {
        const size_t row = t * mm::NR + r;
        if (row < w.n) {
          mm::weight_block(w, row, b, vals, &dw[r]);
        } else {
          dw[r] = 0.0f;
          std::memset(vals, 0, sizeof vals);
        }
        for (size_t kq = 0; kq < 8; kq++)
          for (size_t j = 0; j < 4; j++) v[kq * 64 + r * 4 + j] = vals[kq * 4 + j];
      }
      std::memcpy(pb, dw, sizeof dw);
    }
  });
}

void matmul_f32(const WeightView& wv, const void* packed, size_t packed_bytes, const float* x, size_t x_len, size_t m,
                size_t ldx, float* y, size_t y_len, size_t ldy) {
  const char* op = "matmul_f32";
  const WK w = resolve(wv, op);
  if (m < 1) bad(op, "m must be >= 1");
  if (!x) bad(op, "activations are null");
  if (ldx < w.k) bad(op, "ldx " + std::to_string(ldx) + " is less than k " + std::to_string(w.k));
  const size_t need = span_needed(m, w.k, ldx, op, "activation size");
  if (x_len < need) bad(op, "activations hold " + std::to_string(x_len) + " elements, need " + std::to_string(need));
  check_out(y, y_len, m, w.n, ldy, op);
  const uint8_t* tiles = packed ? check_packed(w, packed, packed_bytes, op) : nullptr;
  for (size_t i = 0; i < m; i++) {
    uint32_t badv = 0;
    for (size_t j = 0; j < w.k; j++) badv |= (f32_bits(x[i * ldx + j]) & 0x7f800000u) == 0x7f800000u;
    if (badv) bad(op, "activation row " + std::to_string(i) + " contains NaN or Infinity");
  }
  ActBuf a;
  const size_t kb = (w.k + KB - 1) / KB;
  a.alloc(m, kb);
  const mm::ActQuantFn aq = mm::act_quant_kernel().fn;
  over_rows(m, w.k, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; i++) aq(x + i * ldx, w.k, a.q.data() + i * kb * KB, a.d.data() + i * kb, a.s.data() + i * kb);
  });
  run_f32(w, tiles, a.view, m, y, ldy);
}

void matmul_q8(const WeightView& wv, const void* packed, size_t packed_bytes, const Q8Acts& x, size_t m, float* y,
               size_t y_len, size_t ldy) {
  const char* op = "matmul_q8";
  const WK w = resolve(wv, op);
  if (m < 1) bad(op, "m must be >= 1");
  check_out(y, y_len, m, w.n, ldy, op);
  const uint8_t* tiles = packed ? check_packed(w, packed, packed_bytes, op) : nullptr;
  ActBuf a;
  prep_q8(x, m, w.k, a, true, op);
  run_f32(w, tiles, a.view, m, y, ldy);
  // Zero-point epilogue: y -= (sx * zp') * W[r], zp' = zp - 128 for u8 (the kernels saw x - 128), W[r] =
  // sum_b dw_b * float(sum of the block's offset-free weights), in f32, blocks in order.
  std::vector<float> c(m);
  bool any = false;
  for (size_t i = 0; i < m; i++) {
    const int32_t zp = (x.zero_points ? x.zero_points[i] : 0) - (x.is_unsigned ? 128 : 0);
    c[i] = x.scales[i] * static_cast<float>(zp);
    any = any || zp != 0;
  }
  if (!any) return;
  std::vector<float> W(w.n);
  split_n(w.n, 1, w.k, [&](size_t n0, size_t n1) {
    int8_t v[32];
    for (size_t r = n0; r < n1; r++) {
      float acc = 0.0f;
      for (size_t b = 0; b < a.view.kb; b++) {
        float dw;
        mm::weight_block(w, r, b, v, &dw);
        int32_t s = 0;
        for (int j = 0; j < 32; j++) s += v[j];
        acc = acc + dw * static_cast<float>(s);
      }
      W[r] = acc;
    }
  });
  for (size_t i = 0; i < m; i++)
    if (c[i] != 0.0f)
      for (size_t r = 0; r < w.n; r++) y[i * ldy + r] = y[i * ldy + r] - c[i] * W[r];
}

void matmul_i32(const WeightView& wv, const void* packed, size_t packed_bytes, const Q8Acts& x, size_t m, int32_t* y,
                size_t y_len, size_t ldy) {
  const char* op = "matmul_i32";
  const WK w = resolve(wv, op);
  if (w.dtype != DType::i8c) bad(op, std::string("weights must be i8c, received ") + dtype_name(w.dtype));
  if (w.k > 65536) bad(op, "k must be <= 65536 (int32 accumulators), received " + std::to_string(w.k));
  if (m < 1) bad(op, "m must be >= 1");
  check_out(y, y_len, m, w.n, ldy, op);
  const uint8_t* tiles = packed ? check_packed(w, packed, packed_bytes, op) : nullptr;
  ActBuf a;
  prep_q8(x, m, w.k, a, false, op);
  if (tiles && m >= matmul_gemm_min_m()) {
    const mm::GemmI32Fn g = mm::gemm_i32_kernel().fn;
    const size_t nt = (w.n + mm::NR - 1) / mm::NR;
    split_tiles(nt, m, [&](size_t t0, size_t t1, size_t m0, size_t m1) { g(tiles, a.view.kb, w.n, a.view, m0, m1, t0, t1, y, ldy); });
  } else {
    const mm::GemvI32Fn g = mm::gemv_i32_kernel().fn;
    split_n(w.n, m, w.k, [&](size_t n0, size_t n1) { g(w, a.view, m, n0, n1, y, ldy); });
  }
  if (x.is_unsigned) {  // the kernels saw x - 128: add 128 * sum_k w (exact integers)
    for (size_t r = 0; r < w.n; r++) {
      const int8_t* wr = reinterpret_cast<const int8_t*>(w.data + r * w.stride);
      int32_t s = 0;
      for (size_t j = 0; j < w.k; j++) s += wr[j];
      for (size_t i = 0; i < m; i++) y[i * ldy + r] += 128 * s;
    }
  }
}

void matmul_i8_requant(const WeightView& wv, const void* packed, size_t packed_bytes, const Q8Acts& x, size_t m,
                       const int32_t* bias, size_t bias_len, const Dyadic* mult, size_t n_mult, int32_t y_zp, int8_t* y,
                       size_t y_len, size_t ldy) {
  const char* op = "matmul_i8_requant";
  const WK w = resolve(wv, op);
  if (w.dtype != DType::i8c) bad(op, std::string("weights must be i8c, received ") + dtype_name(w.dtype));
  if (w.k > 65536) bad(op, "k must be <= 65536 (int32 accumulators), received " + std::to_string(w.k));
  if (m < 1) bad(op, "m must be >= 1");
  if (!y) bad(op, "output is null");
  if (ldy < w.n) bad(op, "ldy " + std::to_string(ldy) + " is less than n " + std::to_string(w.n));
  if (y_len < span_needed(m, w.n, ldy, op, "output size"))
    bad(op, "output holds " + std::to_string(y_len) + " elements, needs " + std::to_string(span_needed(m, w.n, ldy, op, "output size")));
  if (!mult) bad(op, "multipliers are null");
  if (n_mult != 1 && n_mult != w.n) bad(op, "multipliers must be 1 (per tensor) or n (per channel), received " + std::to_string(n_mult));
  for (size_t j = 0; j < n_mult; j++)
    if (mult[j].s < 0 || mult[j].s > 62) bad(op, "dyadic shift " + std::to_string(j) + " must be in 0..62");
  if (y_zp < -128 || y_zp > 127) bad(op, "output zero point must lie in [-128, 127], received " + std::to_string(y_zp));
  if (bias) {
    if (bias_len < w.n) bad(op, "bias holds " + std::to_string(bias_len) + " values, needs n=" + std::to_string(w.n));
    for (size_t r = 0; r < w.n; r++)
      if (bias[r] <= -(1 << 23) || bias[r] >= (1 << 23)) bad(op, "bias " + std::to_string(r) + " must satisfy |bias| < 2^23");
  }
  if (x.zero_points) {
    if (x.zero_points_len < m) bad(op, "activations need m=" + std::to_string(m) + " zero points");
    for (size_t i = 0; i < m; i++) {
      const int32_t z = x.zero_points[i];
      if (x.is_unsigned ? (z < 0 || z > 255) : (z < -128 || z > 127))
        bad(op, "activation zero point " + std::to_string(i) + " is out of range: " + std::to_string(z));
    }
  }
  const uint8_t* tiles = packed ? check_packed(w, packed, packed_bytes, op) : nullptr;
  ActBuf a;
  prep_q8(x, m, w.k, a, false, op);
  // the kernels see x - 128 for u8: the zero point in that view
  std::vector<int32_t> xzp(m);
  bool any = false;
  for (size_t i = 0; i < m; i++) {
    xzp[i] = (x.zero_points ? x.zero_points[i] : 0) - (x.is_unsigned ? 128 : 0);
    any = any || xzp[i] != 0;
  }
  std::vector<int32_t> wsum;
  if (any) {
    wsum.resize(w.n);
    split_n(w.n, 1, w.k, [&](size_t n0, size_t n1) {
      for (size_t r = n0; r < n1; r++) {
        const int8_t* wr = reinterpret_cast<const int8_t*>(w.data + r * w.stride);
        int32_t s = 0;
        for (size_t j = 0; j < w.k; j++) s += wr[j];
        wsum[r] = s;
      }
    });
  }
  mm::RequantEpi e;
  e.bias = bias;
  e.wsum = any ? wsum.data() : nullptr;
  e.xzp = xzp.data();
  e.mult = mult;
  e.per_channel = n_mult != 1;
  e.y_zp = y_zp;
  if (tiles && m >= matmul_gemm_min_m()) {
    const mm::GemmI8Fn g = mm::gemm_rq_kernel().fn;
    const size_t nt = (w.n + mm::NR - 1) / mm::NR;
    split_tiles(nt, m, [&](size_t t0, size_t t1, size_t m0, size_t m1) { g(tiles, a.view.kb, w.n, a.view, m0, m1, t0, t1, e, y, ldy); });
  } else {
    const mm::GemvI8Fn g = mm::gemv_rq_kernel().fn;
    split_n(w.n, m, w.k, [&](size_t n0, size_t n1) { g(w, a.view, m, n0, n1, e, y, ldy); });
  }
}

const char* matmul_kernel_name(DType wtype, MatMulPath path) {
  if (path == MatMulPath::gemm) return mm::gemm_f32_kernel(wtype).name;
  return mm::gemv_f32_kernel(wtype).name;
}

}  // namespace bitflash
