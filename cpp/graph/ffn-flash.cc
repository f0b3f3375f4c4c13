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

namespace bitflash::graph {



namespace {
uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

void decode_row(DType t, const uint8_t* src, size_t k, float* dst) {
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
    default: fail(kErrUnsupported, "ffn_flash: unsupported row type");
  }
}

int hist_bin(float a) {
  if (!(a > 0)) return 0;
  // clamp before the cast: |silu(gate)| = inf (an overflowing gate row from the file) made the
  // float -> int conversion undefined (fuzz_flash, test/fuzz/regressions/fuzz_flash/)
  const float b = std::floor(std::log2(a) * 8.0f) + static_cast<float>(kHistZero);
  return b < 0 ? 0 : b >= static_cast<float>(kHistBins) ? kHistBins - 1 : static_cast<int>(b);
}

// Bytes of one row of k values of a flash row type; 0 when the type is not one decode_row reads or k
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

void init_flash(const PlanSpec& s, std::unique_ptr<FlashState>& st) {
  const FlashSpec& f = *s.flash;
  // row_bytes comes from the file's metadata through the plan: it must be exactly one row of n_embd
  // values, else decode_row reads past the rows (and past the cache slot: fuzz_flash found a heap
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
  ro.max_gap = std::min<size_t>(ro.max_gap, f.max_read);
  st->pool = std::make_unique<io::ReaderPool>(ro);
  io::CacheOptions co;
  co.slot_bytes = f.read_bytes;
  co.layers = static_cast<uint32_t>(f.layer_offsets.size());
  co.neurons_per_layer = static_cast<uint32_t>(f.n_ff);
  co.slots_per_layer = f.slots_per_layer;
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
  if (gw.dtype == DType::f32 || gw.dtype == DType::f16) {
    matmul_float_weights(gw.dtype, gw.data, gw.bytes, F, E, 0, x, slots_[o.a].size(), rows, E, st.gate.data(), st.gate.size(), F);
  } else {
    WeightView v;
    v.dtype = gw.dtype;
    v.n = F;
    v.k = E;
    v.data = gw.data;
    v.data_bytes = gw.bytes;
    matmul_f32(v, nullptr, 0, x, slots_[o.a].size(), rows, E, st.gate.data(), st.gate.size(), F);
  }
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
  const uint64_t t1 = now_ns();
  uint64_t io_ns = 0;
  // 2. chunks of at most slots_per_layer neurons: acquire (misses read in one batch), then compute
  const uint32_t cap = st.cache->slots_per_layer();
  const unsigned threads = ThreadPool::global().threads();
  std::vector<float> acc(static_cast<size_t>(threads) * rows * E);
  for (size_t c0 = 0; c0 < st.active.size(); c0 += cap) {
    const size_t n = std::min<size_t>(cap, st.active.size() - c0);
    st.misses.clear();
    st.cache->acquire(static_cast<uint32_t>(o.layer), st.active.data() + c0, n, st.slots.data(), &st.misses);
    if (!st.misses.empty()) {
      std::vector<io::ReadRequest> batch;
      batch.reserve(st.misses.size());
      for (size_t mi : st.misses)
        batch.push_back({st.file.get(), f.layer_offsets[o.layer] + static_cast<uint64_t>(st.active[c0 + mi]) * f.bundle_bytes, f.read_bytes, st.slots[mi]});
      const uint64_t r0 = now_ns();
      try {
        st.pool->read(batch);
      } catch (...) {
        for (size_t mi : st.misses) st.cache->erase(static_cast<uint32_t>(o.layer), st.active[c0 + mi]);
        throw;
      }
      io_ns += now_ns() - r0;
    }
    std::fill(acc.begin(), acc.end(), 0.0f);
    const size_t per = 16;
    parallel_for((n + per - 1) / per, [&](size_t task, unsigned worker) {
      std::vector<float> up(E), down(E);
      float* yl = acc.data() + static_cast<size_t>(worker) * rows * E;
      const size_t j1 = std::min(n, (task + 1) * per);
      for (size_t j = task * per; j < j1; j++) {
        const uint32_t neuron = st.active[c0 + j];
        const uint8_t* b = static_cast<const uint8_t*>(st.slots[j]);
        decode_row(f.row_type, b, E, up.data());
        decode_row(f.row_type, b + f.row_bytes, E, down.data());
        for (size_t t = 0; t < rows; t++) {
          const float a = st.gate[t * F + neuron];
          if (thr > 0 && std::fabs(a) <= thr) continue;
          const float* xr = x + t * E;
          float u = 0;
          for (size_t e = 0; e < E; e++) u += up[e] * xr[e];
          const float coef = a * u;
          float* yr = yl + t * E;
          for (size_t e = 0; e < E; e++) yr[e] += coef * down[e];
        }
      }
    });
    for (unsigned w = 0; w < threads; w++) {
      const float* a = acc.data() + static_cast<size_t>(w) * rows * E;
      for (size_t i = 0; i < rows * E; i++) y[i] += a[i];
    }
  }
  const uint64_t t2 = now_ns();
  st.stats.io_ns += io_ns;
  st.stats.compute_ns += (t1 - t0) + (t2 - t1 - io_ns);
}

FlashStats Executor::flash_stats() const {
  if (!flash_) return {};
  FlashStats s = flash_->stats;
  const io::IoStats is = flash_->pool->stats();
  const io::CacheStats cs = flash_->cache->stats();
  s.bytes_read = is.bytes_read;
  s.reads_issued = is.reads_issued;
  s.requests = is.requests;
  s.cache_hits = cs.hits;
  s.cache_misses = cs.misses;
  s.evictions = cs.evictions;
  s.resident_bytes = cs.resident_bytes;
  s.arena_bytes = cs.arena_bytes;
  return s;
}

void Executor::reset_flash_stats() {
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
