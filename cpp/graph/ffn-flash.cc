// The flash-offloaded FFN op: resident gate projection first, then only the active neurons' up
// rows and down columns, read as bundles from disk into a fixed neuron cache (LLM in a flash).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "bitflash/error.h"
#include "bitflash/fmatmul.h"
#include "bitflash/graph.h"
#include "bitflash/io.h"
#include "bitflash/matmul.h"
#include "bitflash/quant.h"
#include "bitflash/threadpool.h"
#include "flash-state.h"
#include "bitflash/axpy.h"
#include "../ref/matmul-kernels.h"

namespace bitflash::graph {



namespace {
int hist_bin(float a) {
  if (!(a > 0)) return 0;
  // clamp before the cast: |silu(gate)| = inf (an overflowing gate row from the file) made the
  // float -> int conversion undefined (fuzz_flash, test/fuzz/regressions/fuzz_flash/)
  const float b = std::floor(std::log2(a) * 8.0f) + static_cast<float>(kHistZero);
  return b < 0 ? 0 : b >= static_cast<float>(kHistBins) ? kHistBins - 1 : static_cast<int>(b);
}

// Bytes of one row of k values of a flash row type; 0 when the type is not one decode_bundle_row reads or k
// is not a multiple of its block.
size_t flash_row_size(DType t, size_t k) {
  switch (t) {
    case DType::f32: return k * 4;
    case DType::f16: return k * 2;
    case DType::q8_0: return k % QK8_0 ? 0 : k / QK8_0 * sizeof(block_q8_0);
    case DType::q4_0: return k % QK4_0 ? 0 : k / QK4_0 * sizeof(block_q4_0);
    default: return 0;
  }
}
}  // namespace

void decode_bundle_row(DType t, const uint8_t* src, size_t k, float* dst, const char* op) {
  switch (t) {
    case DType::f32: std::memcpy(dst, src, k * 4); break;
    case DType::f16:
      for (size_t j = 0; j < k; j++) {
        uint16_t h;
        std::memcpy(&h, src + 2 * j, 2);
        dst[j] = fp16_to_f32(h);
      }
      break;
    case DType::q8_0: q8_0_dequant__ref(reinterpret_cast<const block_q8_0*>(src), dst, k / QK8_0); break;
    case DType::q4_0: q4_0_dequant__ref(reinterpret_cast<const block_q4_0*>(src), dst, k / QK4_0); break;
    default: fail(kErrUnsupported, std::string(op) + ": unsupported row type");
  }
}

void gate_projection(const WeightSpec& gw, size_t F, size_t E, const float* x, size_t x_len, size_t rows, std::vector<float>& gate) {
  if (gw.dtype == DType::f32 || gw.dtype == DType::f16) {
    matmul_float_weights(gw.dtype, gw.data, gw.bytes, F, E, 0, x, x_len, rows, E, gate.data(), gate.size(), F);
  } else {
    WeightView v;
    v.dtype = gw.dtype;
    v.n = F;
    v.k = E;
    v.data = gw.data;
    v.data_bytes = gw.bytes;
    matmul_f32(v, nullptr, 0, x, x_len, rows, E, gate.data(), gate.size(), F);
  }
}

uint32_t flash_cache_keys(const FlashSpec& f, int layer, FlashState& st) {
  const uint32_t key_base = f.shared_arena ? static_cast<uint32_t>(layer * f.n_ff) : 0;
  st.keys.resize(st.active.size());
  for (size_t i = 0; i < st.active.size(); i++) st.keys[i] = key_base + st.active[i];
  return f.shared_arena ? 0 : static_cast<uint32_t>(layer);
}

void init_flash(const PlanSpec& s, std::unique_ptr<FlashState>& st) {
  const FlashSpec& f = *s.flash;
  // row_bytes comes from the file's metadata through the plan: it must be exactly one row of n_embd
  // values, else decode_bundle_row reads past the rows (and past the cache slot: fuzz_flash found a heap
  // overflow, test/fuzz/regressions/fuzz_flash/).
  BITFLASH_CHECK(f.n_embd >= 1 && f.n_embd <= (size_t{1} << 30), kErrArg, "plan: flash nEmbd out of range");
  const size_t row = flash_row_size(f.row_type, f.n_embd);
  BITFLASH_CHECK(row > 0, kErrUnsupported, "plan: flash row type must be f32, f16, q8_0 or q4_0 with nEmbd a multiple of its block");
  BITFLASH_CHECK(f.row_bytes == row, kErrArg, "plan: flash rowBytes " + std::to_string(f.row_bytes) + " is not one row of nEmbd values (" + std::to_string(row) + ")");
  BITFLASH_CHECK(f.n_ff >= 1 && f.n_embd >= 1 && f.row_bytes >= 1 && f.bundle_bytes >= 2 * f.row_bytes && f.read_bytes >= 2 * f.row_bytes &&
                     f.read_bytes <= f.bundle_bytes && f.bundle_bytes % 4096 == 0 && f.read_bytes % 4096 == 0,
                 kErrArg, "plan: flash bundle geometry");
  BITFLASH_CHECK(f.slots_per_layer >= 1 && f.slots_per_layer <= f.n_ff, kErrArg, "plan: flash slots per layer must be 1..n_ff");
  BITFLASH_CHECK(f.thresholds.size() == f.layer_offsets.size(), kErrArg, "plan: one flash threshold per layer");
  st = std::make_unique<FlashState>();
  st->file = std::make_unique<io::File>(f.path, f.direct ? io::DirectMode::Auto : io::DirectMode::Never);
  // n_ff <= (size - off) / bundle_bytes: the product n_ff * bundle_bytes could wrap around
  for (uint64_t off : f.layer_offsets)
    BITFLASH_CHECK(off % 4096 == 0 && off <= st->file->size() && f.n_ff <= (st->file->size() - off) / f.bundle_bytes, kErrFormat,
                   "flash: layer bundles extend past the end of " + f.path);
  io::ReaderOptions ro;
  ro.threads = f.readers;
  ro.max_read = f.max_read;
  ro.max_gap = std::min<size_t>(f.max_gap, f.max_read);
  st->pool = std::make_unique<io::ReaderPool>(ro);
  io::CacheOptions co;
  co.slot_bytes = f.read_bytes;
  co.layers = static_cast<uint32_t>(f.layer_offsets.size());
  co.neurons_per_layer = static_cast<uint32_t>(f.n_ff);
  co.slots_per_layer = f.slots_per_layer;
  if (f.shared_arena) {
    BITFLASH_CHECK(f.n_ff * f.layer_offsets.size() < (1ull << 31), kErrArg, "plan: too many neurons for one shared arena");
    co.neurons_per_layer = static_cast<uint32_t>(f.n_ff * f.layer_offsets.size());
    co.slots_per_layer = static_cast<uint32_t>(std::min<uint64_t>(static_cast<uint64_t>(f.slots_per_layer) * co.layers, co.neurons_per_layer));
    co.layers = 1;
  }
  co.window = f.window;
  st->cache = std::make_unique<io::NeuronCache>(co);
  st->gate.assign(s.max_tokens * f.n_ff, 0.0f);
  st->slots.resize(f.n_ff);
  if (f.record) st->hist.assign(f.layer_offsets.size(), std::vector<uint64_t>(kHistBins, 0));
}

void Executor::run_ffn_flash(const OpSpec& o, size_t rows) {
  const FlashSpec& f = *spec_.flash;
  FlashState& st = *flash_;
  const WeightSpec& gw = spec_.weights[o.w];
  const size_t E = f.n_embd, F = f.n_ff;
  const float* x = slots_[o.a].data();
  float* y = slots_[o.out].data();
  const uint64_t t0 = now_ns();
  // 1. resident gate projection for every row, then silu
  gate_projection(gw, F, E, x, slots_[o.a].size(), rows, st.gate);
  const float thr = f.thresholds[o.layer];
  st.active.clear();
  uint64_t pairs = 0;  // (token, neuron) pairs that pass: the density a decode step sees
  for (size_t i = 0; i < F; i++) {
    float m = 0;
    for (size_t t = 0; t < rows; t++) {
      float& g = st.gate[t * F + i];
      g = g / (1.0f + std::exp(-g));
      const float a = std::fabs(g);
      if (!st.hist.empty()) st.hist[o.layer][hist_bin(a)]++;
      pairs += (thr <= 0 || a > thr);
      m = std::max(m, a);
    }
    if (thr <= 0 || m > thr) st.active.push_back(static_cast<uint32_t>(i));
  }
  st.stats.neurons_active += pairs;
  st.stats.neurons_total += F * rows;
  std::memset(y, 0, rows * E * 4);
  uint64_t io_ns = 0;
  // 2. the active neurons' up rows and down columns. Fast path (q4_0 / q8_0 rows): x quantized
  // once to int8 blocks, u = up . x by the matmul's SIMD GEMV kernel on the one bundle row, then
  // y += silu(g) * u * down by the SIMD axpy. Other row types: decoded to f32.
  const uint32_t cap = st.cache->slots_per_layer();
  const unsigned threads = ThreadPool::global().threads();
  std::vector<float> acc(static_cast<size_t>(threads) * rows * E, 0.0f);
  const AxpyFn axpy = axpy_kernel(f.row_type);
  const bool fast = f.simd && axpy != nullptr && E % 32 == 0;
  mm::ActQ aq;
  std::vector<int8_t> xq;
  std::vector<float> xd;
  std::vector<int32_t> xs;
  mm::GemvF32Fn gemv = nullptr;
  if (fast) {
    const size_t kb = E / 32;
    xq.assign(rows * kb * 32, 0);
    xd.assign(rows * kb, 0.0f);
    xs.assign(rows * kb, 0);
    const mm::ActQuantFn quant = mm::act_quant_kernel().fn;
    for (size_t t = 0; t < rows; t++) quant(x + t * E, E, xq.data() + t * kb * 32, xd.data() + t * kb, xs.data() + t * kb);
    aq.q = xq.data();
    aq.d = xd.data();
    aq.s = xs.data();
    aq.kb = kb;
    gemv = mm::gemv_f32_kernel(f.row_type).fn;
  }
  // Computes neurons st.active[c0 + j] for j in idx (their slots in st.slots[j]).
  auto compute = [&](const size_t* idx, size_t cnt, size_t c0) {
    if (cnt == 0) return;
    const size_t per = 16;
    parallel_for((cnt + per - 1) / per, [&](size_t task, unsigned worker) {
      float* yl = acc.data() + static_cast<size_t>(worker) * rows * E;
      const size_t j1 = std::min(cnt, (task + 1) * per);
      std::vector<float> up, down, u(rows);
      if (!fast) {
        up.resize(E);
        down.resize(E);
      }
      for (size_t jj = task * per; jj < j1; jj++) {
        const size_t j = idx[jj];
        const uint32_t neuron = st.active[c0 + j];
        const uint8_t* b = static_cast<const uint8_t*>(st.slots[j]);
        if (fast) {
          mm::WK wk{f.row_type, 1, E, b, f.row_bytes, nullptr, nullptr, 0, 0, 0};
          gemv(wk, aq, rows, 0, 1, u.data(), 1);
          for (size_t t = 0; t < rows; t++) {
            const float a = st.gate[t * F + neuron];
            if (thr > 0 && std::fabs(a) <= thr) continue;
            axpy(b + f.row_bytes, E / 32, a * u[t], yl + t * E);
          }
          continue;
        }
        decode_bundle_row(f.row_type, b, E, up.data(), "ffn_flash");
        decode_bundle_row(f.row_type, b + f.row_bytes, E, down.data(), "ffn_flash");
        for (size_t t = 0; t < rows; t++) {
          const float a = st.gate[t * F + neuron];
          if (thr > 0 && std::fabs(a) <= thr) continue;
          const float* xr = x + t * E;
          float uu = 0;
          for (size_t e = 0; e < E; e++) uu += up[e] * xr[e];
          const float coef = a * uu;
          float* yr = yl + t * E;
          for (size_t e = 0; e < E; e++) yr[e] += coef * down[e];
        }
      }
    });
  };
  std::vector<size_t> hits, order;
  const uint32_t cache_layer = flash_cache_keys(f, o.layer, st);
  const std::vector<uint32_t>& keys = st.keys;
  for (size_t c0 = 0; c0 < st.active.size(); c0 += cap) {
    const size_t n = std::min<size_t>(cap, st.active.size() - c0);
    st.misses.clear();
    st.cache->acquire(cache_layer, keys.data() + c0, n, st.slots.data(), &st.misses);
    // Pipeline: the misses go to the reader pool in sub-batches; the hits compute while they are
    // read, then each sub-batch computes as soon as it has arrived.
    hits.clear();
    {
      size_t mi = 0;
      for (size_t j = 0; j < n; j++) {
        if (mi < st.misses.size() && st.misses[mi] == j) {
          mi++;
          continue;
        }
        hits.push_back(j);
      }
    }
    const size_t sub = std::max<size_t>(64, (st.misses.size() + 7) / 8);
    std::vector<io::Ticket> tickets;
    std::vector<io::ReadRequest> batch;
    try {
      for (size_t m0 = 0; m0 < st.misses.size(); m0 += sub) {
        batch.clear();
        for (size_t m = m0; m < std::min(st.misses.size(), m0 + sub); m++) {
          const size_t mi = st.misses[m];
          batch.push_back({st.file.get(), f.layer_offsets[o.layer] + static_cast<uint64_t>(st.active[c0 + mi]) * f.bundle_bytes, f.read_bytes, st.slots[mi]});
        }
        tickets.push_back(st.pool->submit(batch));
      }
      compute(hits.data(), hits.size(), c0);
      for (size_t bi = 0; bi < tickets.size(); bi++) {
        const uint64_t r0 = now_ns();
        const io::Ticket tk = tickets[bi];
        tickets[bi] = 0;
        st.pool->wait(tk);
        io_ns += now_ns() - r0;
        const size_t m0 = bi * sub, m1 = std::min(st.misses.size(), m0 + sub);
        compute(st.misses.data() + m0, m1 - m0, c0);
      }
    } catch (...) {
      for (io::Ticket tk : tickets)
        if (tk) {
          try {
            st.pool->wait(tk);
          } catch (...) {
          }
        }
      for (size_t mi : st.misses) st.cache->erase(cache_layer, keys[c0 + mi]);
      throw;
    }
  }
  for (unsigned w = 0; w < threads; w++) {
    const float* a = acc.data() + static_cast<size_t>(w) * rows * E;
    for (size_t i = 0; i < rows * E; i++) y[i] += a[i];
  }
  st.stats.io_ns += io_ns;
  (void)t0;
}

FlashStats Executor::flash_stats() const {
  FlashStats s = flash_ ? flash_->stats : FlashStats{};
  s.steps = step_stats_.steps;
  s.step_ns = step_stats_.step_ns;
  s.stream_loads = step_stats_.stream_loads;
  s.stream_prefetched = step_stats_.stream_prefetched;
  s.stream_wait_ns = step_stats_.stream_wait_ns;
  if (flash_) {
    const io::IoStats is = flash_->pool->stats();
    const io::CacheStats cs = flash_->cache->stats();
    s.bundle_bytes = is.bytes_read;
    s.bundle_reads = is.reads_issued;
    s.bundle_read_busy_ns = is.read_busy_ns;
    s.bundle_io_wall_ns = is.io_wall_ns;
    s.reads_issued = is.reads_issued;
    s.requests = is.requests;
    s.cache_hits = cs.hits;
    s.cache_misses = cs.misses;
    s.evictions = cs.evictions;
    s.resident_bytes = cs.resident_bytes;
    s.arena_bytes = cs.arena_bytes;
  }
  if (stream_) {
    const io::IoStats ss = stream_->pool->stats();
    s.stream_bytes = ss.bytes_read;
    s.reads_issued += ss.reads_issued;
    s.requests += ss.requests;
    s.stream_buffer_bytes = stream_->nbuf * stream_->buf_bytes;
  }
  s.bytes_read = s.bundle_bytes + s.stream_bytes;
  s.io_ns += s.stream_wait_ns;  // flash_->stats.io_ns: the FFN's waits for bundles
  s.compute_ns = s.step_ns > s.io_ns ? s.step_ns - s.io_ns : 0;
  return s;
}

void Executor::reset_flash_stats() {
  step_stats_ = {};
  if (stream_) stream_->pool->reset_stats();
  if (!flash_) return;
  flash_->stats = {};
  flash_->pool->reset_stats();
  flash_->cache->reset_stats();
}

std::vector<std::vector<uint64_t>> Executor::flash_histograms() const { return flash_ ? flash_->hist : std::vector<std::vector<uint64_t>>{}; }

void Executor::set_flash_thresholds(const std::vector<float>& t) {
  BITFLASH_CHECK(spec_.flash && t.size() == spec_.flash->thresholds.size(), kErrArg, "setThresholds: one threshold per flash layer");
  for (float v : t) BITFLASH_CHECK(std::isfinite(v) && v >= 0, kErrArg, "setThresholds: thresholds must be finite and >= 0");
  spec_.flash->thresholds = t;
}

}  // namespace bitflash::graph
