// Ternary ops: validation, packing, activation quantization, the split over the thread pool and the
// call of the dispatched kernels. Numerics are stated in bitflash/ternary.h.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <new>
#if defined(__x86_64__)
#include <immintrin.h>
#else
#include <unistd.h>
#endif
#include <cstring>
#include <string>
#include <vector>

#include "bitflash/error.h"
#include "bitflash/ternary.h"
#include "bitflash/threadpool.h"

namespace bitflash {
namespace {

bool all_finite(const float* x, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; i++) bad |= (f32_bits(x[i]) & 0x7f800000u) == 0x7f800000u;
  return bad == 0;
}

size_t checked_mul(size_t a, size_t b, const char* what) {
  BITFLASH_CHECK(a == 0 || b <= SIZE_MAX / a, kErrArg, std::string(what) + ": size overflow");
  return a * b;
}

void check_tq_count(size_t count, const char* op) {
  BITFLASH_CHECK(count % QK_K == 0, kErrArg,
                 std::string(op) + ": length must be a multiple of 256, received " + std::to_string(count));
}

const TernaryPackedHeader& header_of(const void* p, size_t bytes, const char* op) {
  BITFLASH_CHECK(p != nullptr && bytes >= sizeof(TernaryPackedHeader), kErrArg,
                 std::string(op) + ": packed weights missing or too small");
  const TernaryPackedHeader& h = *static_cast<const TernaryPackedHeader*>(p);
  BITFLASH_CHECK(h.magic == kTernaryMagic, kErrArg, std::string(op) + ": not a ternary packed buffer (bad magic)");
  BITFLASH_CHECK(h.family <= 1 && h.n > 0 && h.k > 0 && h.k % QK_T == 0, kErrArg, std::string(op) + ": corrupt header");
  BITFLASH_CHECK(bytes >= ternary_pack_size(static_cast<TernaryFamily>(h.family), h.n, h.k), kErrArg,
                 std::string(op) + ": packed buffer shorter than its header says");
  return h;
}

TernaryPackedView view_of(const TernaryPackedHeader& h) {
  TernaryPackedView v;
  const uint8_t* base = reinterpret_cast<const uint8_t*>(&h) + sizeof(TernaryPackedHeader);
  v.n = h.n;
  v.k = h.k;
  v.nb = h.k / QK_T;
  v.codes = base;
  v.scales = h.family == 0 ? reinterpret_cast<const float*>(base + h.n * v.nb * 64) : nullptr;
  return v;
}

// Decodes row r of a source tensor into ternary values and per-block f32 scales.
void decode_row(DType t, const void* src, size_t k, size_t r, int8_t* w, float* ws, float i2_scale) {
  const size_t nb = k / QK_T;
  if (t == DType::tq2_0) {
    const block_tq2_0* b = static_cast<const block_tq2_0*>(src) + r * nb;
    for (size_t j = 0; j < nb; j++) {
      tq2_0_block_values(b[j], w + j * QK_T);
      ws[j] = fp16_to_f32(b[j].d);
    }
  } else if (t == DType::tq1_0) {
    const block_tq1_0* b = static_cast<const block_tq1_0*>(src) + r * nb;
    for (size_t j = 0; j < nb; j++) {
      tq1_0_block_values(b[j], w + j * QK_T);
      ws[j] = fp16_to_f32(b[j].d);
    }
  } else {
    i2_s_values(static_cast<const uint8_t*>(src), r * k, k, w);
    for (size_t j = 0; j < nb; j++) ws[j] = i2_scale;
  }
}

// Splits [0, n) into chunks that are multiples of `align`, about 4 per thread (at least `align` each).
size_t row_chunk(size_t n, size_t align, size_t m) {
  const size_t threads = ThreadPool::global().threads();
  const size_t want_tasks = threads * (m > 8 ? 2 : 4);
  size_t c = (n + want_tasks - 1) / want_tasks;
  c = (c + align - 1) / align * align;
  return c < align ? align : c;
}

}  // namespace

// ------------------------------------------------------------------ formats
size_t ternary_tensor_bytes(DType t, size_t n, size_t k) {
  const size_t count = checked_mul(n, k, "ternary size");
  switch (t) {
    case DType::tq1_0:
      BITFLASH_CHECK(k % QK_K == 0, kErrArg, "tq1_0: row length must be a multiple of 256, received " + std::to_string(k));
      return count / QK_K * sizeof(block_tq1_0);
    case DType::tq2_0:
      BITFLASH_CHECK(k % QK_K == 0, kErrArg, "tq2_0: row length must be a multiple of 256, received " + std::to_string(k));
      return count / QK_K * sizeof(block_tq2_0);
    case DType::i2_s:
      BITFLASH_CHECK(count % QK_I2_S == 0, kErrArg, "i2_s: element count must be a multiple of 128, received " + std::to_string(count));
      return count / 4 + 32;
    default:
      fail(kErrArg, "ternary: dtype must be tq1_0, tq2_0 or i2_s");
  }
}

void quantize_tq1_0(const float* x, size_t count, block_tq1_0* y) {
  check_tq_count(count, "quantize tq1_0");
  BITFLASH_CHECK(all_finite(x, count), kErrArg, "quantize tq1_0: input contains NaN or Infinity");
  quantize_tq1_0_ref_rows(x, count / QK_K, y);
}
void quantize_tq2_0(const float* x, size_t count, block_tq2_0* y) {
  check_tq_count(count, "quantize tq2_0");
  BITFLASH_CHECK(all_finite(x, count), kErrArg, "quantize tq2_0: input contains NaN or Infinity");
  quantize_tq2_0_ref_rows(x, count / QK_K, y);
}
void dequantize_tq1_0(const block_tq1_0* x, size_t count, float* y) {
  check_tq_count(count, "dequantize tq1_0");
  int8_t w[QK_K];
  for (size_t b = 0; b < count / QK_K; b++) {
    tq1_0_block_values(x[b], w);
    const float d = fp16_to_f32(x[b].d);
    for (int j = 0; j < QK_K; j++) y[b * QK_K + j] = static_cast<float>(w[j]) * d;
  }
}
void dequantize_tq2_0(const block_tq2_0* x, size_t count, float* y) {
  check_tq_count(count, "dequantize tq2_0");
  int8_t w[QK_K];
  for (size_t b = 0; b < count / QK_K; b++) {
    tq2_0_block_values(x[b], w);
    const float d = fp16_to_f32(x[b].d);
    for (int j = 0; j < QK_K; j++) y[b * QK_K + j] = static_cast<float>(w[j]) * d;
  }
}
void quantize_i2_s(const float* x, size_t count, uint8_t* y) {
  BITFLASH_CHECK(count % QK_I2_S == 0, kErrArg, "quantize i2_s: length must be a multiple of 128, received " + std::to_string(count));
  BITFLASH_CHECK(all_finite(x, count), kErrArg, "quantize i2_s: input contains NaN or Infinity");
  i2_s_absmean_quant_ref(x, count, y);
}
void dequantize_i2_s(const uint8_t* x, size_t count, float* y) {
  BITFLASH_CHECK(count % QK_I2_S == 0, kErrArg, "dequantize i2_s: length must be a multiple of 128, received " + std::to_string(count));
  float s;
  std::memcpy(&s, x + count / 4, 4);
  int8_t w[QK_I2_S];
  for (size_t e = 0; e < count; e += QK_I2_S) {
    i2_s_values(x, e, QK_I2_S, w);
    for (int j = 0; j < QK_I2_S; j++) y[e + j] = static_cast<float>(w[j]) * s;
  }
}

// ------------------------------------------------------------------ activations
void quantize_act_q8t(const float* x, size_t m, size_t k, block_q8_t* y) {
  BITFLASH_CHECK(k % QK_T == 0 && k > 0, kErrArg,
                 "ternary activations: k must be a positive multiple of 256, received " + std::to_string(k));
  const size_t count = checked_mul(m, k, "ternary activations");
  BITFLASH_CHECK(all_finite(x, count), kErrArg, "ternary activations: input contains NaN or Infinity");
  const QuantActQ8tFn fn = q8t_quant_kernel().fn;
  const size_t nb = k / QK_T;
  if (m <= 1) {
    fn(x, m * nb, y);
    return;
  }
  parallel_for(m, [&](size_t i, unsigned) { fn(x + i * k, nb, y + i * nb); });
}

// ------------------------------------------------------------------ packing
const char* ternary_family_name(TernaryFamily f) {
  switch (f) {
    case TernaryFamily::mad: return "mad";
    case TernaryFamily::lut: return "lut";
    default: return "auto";
  }
}

size_t ternary_pack_size(TernaryFamily f, size_t n, size_t k) {
  BITFLASH_CHECK(n > 0 && k > 0 && k % QK_T == 0, kErrArg,
                 "ternary pack: n must be positive and k a positive multiple of 256, received n=" + std::to_string(n) +
                     " k=" + std::to_string(k));
  const size_t nb = k / QK_T;
  if (f == TernaryFamily::mad) return sizeof(TernaryPackedHeader) + checked_mul(checked_mul(n, nb, "pack"), 64 + 4, "pack");
  BITFLASH_CHECK(f == TernaryFamily::lut, kErrArg, "ternary pack: family must be mad or lut");
  const size_t tiles = (n + kLutTileRows - 1) / kLutTileRows;
  return sizeof(TernaryPackedHeader) + checked_mul(checked_mul(tiles, nb, "pack"), kLutTileBlockBytes, "pack");
}

void ternary_pack(TernaryFamily f, DType t, const void* src, size_t src_bytes, size_t n, size_t k, void* dst,
                  size_t dst_bytes) {
  const size_t need = ternary_pack_size(f, n, k);
  BITFLASH_CHECK(t == DType::tq1_0 || t == DType::tq2_0 || t == DType::i2_s, kErrArg,
                 "ternary pack: source dtype must be tq1_0, tq2_0 or i2_s");
  BITFLASH_CHECK(src != nullptr && src_bytes >= ternary_tensor_bytes(t, n, k), kErrArg,
                 "ternary pack: source buffer shorter than the tensor");
  BITFLASH_CHECK(dst != nullptr && dst_bytes >= need, kErrArg,
                 "ternary pack: destination needs " + std::to_string(need) + " bytes, received " + std::to_string(dst_bytes));
  float i2_scale = 0.0f;
  if (t == DType::i2_s) std::memcpy(&i2_scale, static_cast<const uint8_t*>(src) + n * k / 4, 4);
  TernaryPackedHeader h{};
  h.magic = kTernaryMagic;
  h.family = static_cast<uint32_t>(f);
  h.n = n;
  h.k = k;
  h.src_dtype = static_cast<uint32_t>(t);
  std::memcpy(dst, &h, sizeof h);
  uint8_t* base = static_cast<uint8_t*>(dst) + sizeof(TernaryPackedHeader);
  const size_t nb = k / QK_T;
  if (f == TernaryFamily::mad) {
    float* scales = reinterpret_cast<float*>(base + n * nb * 64);
    parallel_for(n, [&](size_t r, unsigned) {
      std::vector<int8_t> w(k);
      std::vector<float> ws(nb);
      decode_row(t, src, k, r, w.data(), ws.data(), i2_scale);
      for (size_t b = 0; b < nb; b++) {
        uint8_t* c = base + (r * nb + b) * 64;
        std::memset(c, 0, 64);
        for (int j = 0; j < QK_T; j++)
          c[(j / 128) * 32 + j % 32] |= static_cast<uint8_t>((w[b * QK_T + j] + 1) << (2 * ((j % 128) / 32)));
        std::memcpy(scales + r * nb + b, &ws[b], 4);
      }
    });
    return;
  }
  const size_t tiles = (n + kLutTileRows - 1) / kLutTileRows;
  parallel_for(tiles, [&](size_t tile, unsigned) {
    std::vector<int8_t> w(kLutTileRows * k, 0);
    std::vector<float> ws(kLutTileRows * nb, 0.0f);
    for (size_t p = 0; p < kLutTileRows; p++) {
      const size_t r = tile * kLutTileRows + p;
      if (r < n) decode_row(t, src, k, r, w.data() + p * k, ws.data() + p * nb, i2_scale);
    }
    for (size_t b = 0; b < nb; b++) {
      uint8_t* tb = base + (tile * nb + b) * kLutTileBlockBytes;
      std::memset(tb, 0, kLutTileBlockBytes);
      uint8_t* cnt = tb + kLutQuads * 40;
      for (size_t p = 0; p < kLutTileRows; p++) {
        const int8_t* wr = w.data() + p * k + b * QK_T;
        for (size_t g = 0; g < kLutGroups; g++) {
          int v[3];
          for (int j = 0; j < 3; j++) v[j] = 3 * g + j < QK_T ? wr[3 * g + j] : 0;
          const int c = 9 * (v[0] + 1) + 3 * (v[1] + 1) + (v[2] + 1);
          const int neg = c > 13;
          const int idx = neg ? 26 - c : c;
          uint8_t* quad = tb + (g / 4) * 40;
          const int gg = static_cast<int>(g % 4);
          quad[(gg & 1) * 16 + p] |= static_cast<uint8_t>(gg & 2 ? idx << 4 : idx);
          if (neg) {
            quad[32 + (16 * gg + p) / 8] |= static_cast<uint8_t>(1u << ((16 * gg + p) % 8));
            cnt[p]++;
          }
        }
        std::memcpy(tb + kLutQuads * 40 + 16 + 4 * p, &ws[p * nb + b], 4);
      }
    }
  });
}

// ------------------------------------------------------------------ matmul
namespace {

// Per-thread scratch (activation blocks and LUT tables), reused across calls: a fresh std::vector per
// call zero-filled (and page-faulted) up to m * nb * 2816 bytes of tables every time. Grow-only while a
// call needs it; a buffer above kScratchKeep is given back after the call so a single big GEMM does not
// pin memory for the life of the worker thread.
constexpr size_t kScratchKeep = size_t(64) << 20;
struct Buf {
  uint8_t* p = nullptr;
  size_t cap = 0;
  Buf() = default;
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  ~Buf() { std::free(p); }
  uint8_t* need(size_t bytes) {
    if (bytes > cap) {
      std::free(p);
      p = nullptr;
      cap = 0;
      const size_t rounded = (bytes + 63) / 64 * 64;
      p = static_cast<uint8_t*>(std::aligned_alloc(64, rounded));
      if (!p) throw std::bad_alloc();
      cap = rounded;
    }
    return p;
  }
  void trim() {
    if (cap > kScratchKeep) {
      std::free(p);
      p = nullptr;
      cap = 0;
    }
  }
};
struct Scratch {
  Buf act_buf, table_buf;
  block_q8_t* act = nullptr;
  uint8_t* tables = nullptr;
  void prepare(size_t m, size_t nb) { act = reinterpret_cast<block_q8_t*>(act_buf.need(m * nb * sizeof(block_q8_t))); }
  ~Scratch() = default;
};
Scratch& thread_scratch() {
  thread_local Scratch s;
  return s;
}
struct ScratchTrim {
  Scratch& s;
  ~ScratchTrim() {
    s.act_buf.trim();
    s.table_buf.trim();
  }
};

// Blocks per K chunk and activation rows per M chunk for the cache blocking of GEMM.
constexpr size_t kKcBlocks = 8, kMc = 64;

void run_mad(const TernaryPackedView& v, const block_q8_t* act, size_t m, float* y, int32_t* yi) {
  const Isa isa = ternary_mad_kernel().isa;
  const TernaryMadFn fn = ternary_mad_kernel().fn;
  const TernaryTile tile = ternary_mad_tile(isa);
  const size_t chunk = row_chunk(v.n, m == 1 ? 16 : (tile.nr > 8 ? tile.nr : 8) * 4, m);  // GEMV tiles are 8 or 16 rows
  const size_t tasks = (v.n + chunk - 1) / chunk;
  parallel_for(tasks, [&](size_t t, unsigned) {
    const size_t r0 = t * chunk, r1 = r0 + chunk < v.n ? r0 + chunk : v.n;
    if (m == 1) {
      fn(v, act, 0, 1, r0, r1, 0, v.nb, y, v.n, yi);
      return;
    }
    for (size_t b0 = 0; b0 < v.nb; b0 += kKcBlocks) {
      const size_t b1 = b0 + kKcBlocks < v.nb ? b0 + kKcBlocks : v.nb;
      for (size_t i0 = 0; i0 < m; i0 += kMc) fn(v, act, i0, i0 + kMc < m ? i0 + kMc : m, r0, r1, b0, b1, y, v.n, yi);
    }
  });
}

void run_lut(const TernaryPackedView& v, const block_q8_t* act, const uint8_t* tables, size_t m, float* y,
             int32_t* yi) {
  const TernaryLutFn fn = ternary_lut_kernel().fn;
  const size_t chunk = row_chunk(v.n, kLutTileRows, m);
  const size_t tasks = (v.n + chunk - 1) / chunk;
  parallel_for(tasks, [&](size_t t, unsigned) {
    const size_t r0 = t * chunk, r1 = r0 + chunk < v.n ? r0 + chunk : v.n;
    if (m == 1) {
      fn(v, act, tables, 0, 1, r0, r1, 0, v.nb, y, v.n, yi);
      return;
    }
    for (size_t b0 = 0; b0 < v.nb; b0 += kKcBlocks) {
      const size_t b1 = b0 + kKcBlocks < v.nb ? b0 + kKcBlocks : v.nb;
      for (size_t i0 = 0; i0 < m; i0 += kMc) fn(v, act, tables, i0, i0 + kMc < m ? i0 + kMc : m, r0, r1, b0, b1, y, v.n, yi);
    }
  });
}

void build_tables(const block_q8_t* act, size_t m, size_t nb, Scratch& s) {
  s.tables = s.table_buf.need(m * nb * kLutTableBytesPerBlock);
  uint8_t* const tables = s.tables;
  const TernaryLutBuildFn fn = ternary_lut_build_kernel().fn;
  // split over (row, block chunk) so that GEMV's single row is built on every thread
  const size_t per = nb < 4 ? nb : (nb + 3) / 4;
  const size_t chunks = (nb + per - 1) / per;
  parallel_for(m * chunks, [&](size_t t, unsigned) {
    const size_t i = t / chunks, b0 = (t % chunks) * per, b1 = b0 + per < nb ? b0 + per : nb;
    fn(act + i * nb + b0, 1, b1 - b0, tables + (i * nb + b0) * kLutTableBytesPerBlock);
  });
}

void run_family(TernaryFamily f, const TernaryPackedView& v, Scratch& s, size_t m, float* y, int32_t* yi) {
  if (f == TernaryFamily::mad) {
    run_mad(v, s.act, m, y, yi);
  } else {
    build_tables(s.act, m, v.nb, s);
    run_lut(v, s.act, s.tables, m, y, yi);
  }
}

// Evicts [p, p + bytes) from every cache level, so the next read of it comes from DRAM (what a decode
// step sees: the other layers' weights have pushed this one out long before it is used again). On
// x86 this is clflush per line + mfence; on arm64 dc civac (clean and invalidate to the point of
// coherency, allowed at EL0 on Linux) per line of CTR_EL0's smallest data-cache line + dsb; elsewhere a
// read of a buffer of 2x the last-level cache.
void evict(const void* p, size_t bytes) {
#if defined(__x86_64__)
  const uint8_t* b = static_cast<const uint8_t*>(p);
  for (size_t off = 0; off < bytes; off += 64) _mm_clflush(b + off);
  _mm_mfence();
#elif defined(__aarch64__)
  uint64_t ctr;
  __asm__ volatile("mrs %0, ctr_el0" : "=r"(ctr));
  const size_t line = size_t(4) << ((ctr >> 16) & 0xf);  // DminLine: log2 of the line in 4-byte words
  const uintptr_t b0 = reinterpret_cast<uintptr_t>(p) & ~(uintptr_t(line) - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(p) + bytes;
  for (uintptr_t a = b0; a < end; a += line) __asm__ volatile("dc civac, %0" : : "r"(a) : "memory");
  __asm__ volatile("dsb ish" : : : "memory");
#else
  static std::vector<uint8_t> junk;
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
  const size_t want = llc > 0 ? 2 * static_cast<size_t>(llc) : (size_t(64) << 20);
  if (junk.size() < want) junk.assign(want, 1);
  volatile uint8_t sink = 0;
  for (size_t i = 0; i < junk.size(); i += 64) sink ^= junk[i];
  (void)p;
  (void)bytes;
#endif
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The auto-tune measurement (the rule; also in ternary.h):
//  - decode-sized calls (m <= 8, the weight-streaming regime): before every timed run the packed
//    weights of the family about to run are evicted from all cache levels, so each family is timed
//    reading its weights from DRAM, as in a real decode where the other layers evict them; 9 timed
//    runs per family after one warm-up;
//  - larger m (compute bound; weights are reused m times from cache anyway): 5 timed runs per family
//    after one warm-up, cache state as it comes;
//  - runs alternate mad, lut, mad, lut ... so drift on a shared host hits both alike; the winner has
//    the lower median (ties: mad, the simpler kernel). y is overwritten; the caller reruns the winner.
TernaryFamily ternary_tune_measure(const TernaryWeights& w, Scratch& s, size_t m, float* y, double* mad_s, double* lut_s) {
  const TernaryPackedHeader& hm = *static_cast<const TernaryPackedHeader*>(w.mad);
  const TernaryPackedHeader& hl = *static_cast<const TernaryPackedHeader*>(w.lut);
  const TernaryPackedView vm = view_of(hm), vl = view_of(hl);
  const bool from_dram = m <= 8;
  const int reps = from_dram ? 9 : 5;
  std::vector<double> t[2];
  for (int rep = -1; rep < reps; rep++)
    for (int fam = 0; fam < 2; fam++) {
      const TernaryFamily ff = static_cast<TernaryFamily>(fam);
      if (from_dram) evict(fam == 0 ? w.mad : w.lut, fam == 0 ? w.mad_bytes : w.lut_bytes);
      const double t0 = now_s();
      run_family(ff, fam == 0 ? vm : vl, s, m, y, nullptr);
      const double dt = now_s() - t0;
      if (rep >= 0) t[fam].push_back(dt);
    }
  for (auto& v : t) std::sort(v.begin(), v.end());
  *mad_s = t[0][t[0].size() / 2];
  *lut_s = t[1][t[1].size() / 2];
  return *lut_s < *mad_s ? TernaryFamily::lut : TernaryFamily::mad;
}

}  // namespace

TernaryFamily ternary_matmul(const TernaryWeights& w, const float* x, size_t m, float* y,
                             const TernaryMatmulOptions& opt) {
  BITFLASH_CHECK(w.mad != nullptr || w.lut != nullptr, kErrArg, "ternary matmul: no packed weights given");
  BITFLASH_CHECK(x != nullptr && y != nullptr && m > 0, kErrArg, "ternary matmul: x, y and m > 0 are required");
  const TernaryPackedHeader* hm = w.mad ? &header_of(w.mad, w.mad_bytes, "ternary matmul (mad)") : nullptr;
  const TernaryPackedHeader* hl = w.lut ? &header_of(w.lut, w.lut_bytes, "ternary matmul (lut)") : nullptr;
  BITFLASH_CHECK(!hm || hm->family == 0, kErrArg, "ternary matmul: the mad slot holds a lut-packed buffer");
  BITFLASH_CHECK(!hl || hl->family == 1, kErrArg, "ternary matmul: the lut slot holds a mad-packed buffer");
  BITFLASH_CHECK(!(hm && hl) || (hm->n == hl->n && hm->k == hl->k), kErrArg,
                 "ternary matmul: the mad and lut packed forms have different shapes");
  TernaryFamily f = opt.family;
  BITFLASH_CHECK(f != TernaryFamily::mad || hm, kErrArg, "ternary matmul: family mad forced but no mad-packed weights");
  BITFLASH_CHECK(f != TernaryFamily::lut || hl, kErrArg, "ternary matmul: family lut forced but no lut-packed weights");
  const TernaryPackedHeader& h = hm ? *hm : *hl;
  const size_t n = h.n, k = h.k;
  checked_mul(m, k, "ternary matmul");
  checked_mul(m, n, "ternary matmul");

  Scratch& s = thread_scratch();
  ScratchTrim trim{s};
  s.prepare(m, k / QK_T);
  quantize_act_q8t(x, m, k, s.act);

  if (f == TernaryFamily::automatic) {
    if (!hm || !hl) {
      f = hm ? TernaryFamily::mad : TernaryFamily::lut;
    } else {
      if (opt.tune_cache_path) ternary_tune_load_file(opt.tune_cache_path);
      const TernaryTuneKey key{n, k, ternary_m_bucket(m), static_cast<int>(active_isa()), ThreadPool::global().threads()};
      if (!ternary_tune_lookup(key, &f)) {
        double mad_s = 0, lut_s = 0;
        f = ternary_tune_measure(w, s, m, y, &mad_s, &lut_s);
        ternary_tune_store(key, f, mad_s, lut_s, opt.tune_cache_path);
      }
    }
  }
  const TernaryPackedView v = view_of(f == TernaryFamily::mad ? *hm : *hl);
  run_family(f, v, s, m, y, nullptr);
  return f;
}

void ternary_matmul_blocksums(const void* packed, size_t packed_bytes, const float* x, size_t m, int32_t* yi) {
  const TernaryPackedHeader& h = header_of(packed, packed_bytes, "ternary blocksums");
  BITFLASH_CHECK(x != nullptr && yi != nullptr && m > 0, kErrArg, "ternary blocksums: x, yi and m > 0 are required");
  checked_mul(checked_mul(m, h.n, "ternary blocksums"), h.k / QK_T, "ternary blocksums");
  Scratch& s = thread_scratch();
  ScratchTrim trim{s};
  s.prepare(m, h.k / QK_T);
  quantize_act_q8t(x, m, h.k, s.act);
  run_family(static_cast<TernaryFamily>(h.family), view_of(h), s, m, nullptr, yi);
}

}  // namespace bitflash
