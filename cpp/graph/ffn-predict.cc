// The flash FFN of ReLU-family models: out = down(relu(gate(x)) * up(x)), where a neuron contributes
// only when gate(x) > 0. Which bundles to read is decided either by the resident gate projection
// (exact: every active neuron and no other is read) or, for models calibrated by `bitflash
// calibrate`, by a low-rank predictor's score that the graph computes before this op (slot b holds
// score - threshold; a neuron is read when it is > 0 for any row). With a predictor the gate is not
// resident: its row is read with the bundle and the exact gate value is computed from it, so a
// neuron predicted by mistake costs only its read, and a missed active neuron is left out.
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

void validate_ffn_flash_relu(const PlanSpec& s, const OpSpec& o) {
  BITFLASH_CHECK(s.flash != nullptr, kErrArg, "plan: ffn_flash_relu needs a flash spec");
  const FlashSpec& f = *s.flash;
  auto slot_ok = [&](int i) { return i >= 0 && static_cast<size_t>(i) < s.slots.size(); };
  BITFLASH_CHECK(slot_ok(o.a) && slot_ok(o.out) && o.a != o.out, kErrArg, "plan: bad slot for ffn_flash_relu");
  BITFLASH_CHECK(s.slots[o.a].cols == f.n_embd && s.slots[o.out].cols == f.n_embd && s.slots[o.a].single_row == s.slots[o.out].single_row, kErrArg,
                 "plan: ffn_flash_relu shapes");
  BITFLASH_CHECK(o.layer >= 0 && static_cast<size_t>(o.layer) < f.layer_offsets.size(), kErrArg, "plan: ffn_flash_relu layer");
  if (o.w >= 0) {
    BITFLASH_CHECK(static_cast<size_t>(o.w) < s.weights.size() && o.b < 0, kErrArg, "plan: ffn_flash_relu takes a resident gate or a predictor slot, not both");
    const WeightSpec& g = s.weights[o.w];
    BITFLASH_CHECK(g.n == f.n_ff && g.k == f.n_embd, kErrArg, "plan: ffn_flash_relu gate must be [n_ff, n_embd]");
    BITFLASH_CHECK(g.dtype == DType::f32 || g.dtype == DType::f16 || g.dtype == DType::q8_0 || g.dtype == DType::q4_0, kErrUnsupported,
                   "plan: ffn_flash_relu gate dtype");
  } else {
    BITFLASH_CHECK(slot_ok(o.b) && s.slots[o.b].cols == f.n_ff && s.slots[o.b].single_row == s.slots[o.a].single_row, kErrArg,
                   "plan: ffn_flash_relu predictor scores must be [rows, n_ff]");
    BITFLASH_CHECK(f.read_bytes >= 3 * f.row_bytes, kErrArg, "plan: a predicted ReLU FFN reads whole bundles (up, down and gate rows)");
  }
}

void Executor::run_ffn_flash_relu(const OpSpec& o, size_t rows) {
  const FlashSpec& f = *spec_.flash;
  FlashState& st = *flash_;
  const size_t E = f.n_embd, F = f.n_ff;
  const float* x = slots_[o.a].data();
  float* y = slots_[o.out].data();
  const bool resident = o.w >= 0;
  const uint64_t t0 = now_ns();
  // 1. the selection: exact gate (resident) or predictor scores minus thresholds (slot b)
  const float* score = nullptr;
  if (resident) {
    const WeightSpec& gw = spec_.weights[o.w];
    gate_projection(gw, F, E, x, slots_[o.a].size(), rows, st.gate);
    score = st.gate.data();
  } else {
    score = slots_[o.b].data();
  }
  st.active.clear();
  uint64_t pairs = 0;  // (token, neuron) pairs selected: the density a decode step sees
  for (size_t i = 0; i < F; i++) {
    bool any = false;
    for (size_t t = 0; t < rows; t++) {
      const bool sel = score[t * F + i] > 0;
      pairs += sel;
      any = any || sel;
    }
    if (any) st.active.push_back(static_cast<uint32_t>(i));
  }
  st.stats.neurons_active += pairs;
  st.stats.neurons_total += F * rows;
  std::memset(y, 0, rows * E * 4);
  const uint64_t t1 = now_ns();
  uint64_t io_ns = 0;
  // 2. chunks of at most slots_per_layer neurons: acquire (misses read in one batch), then compute.
  // A loaded neuron is computed exactly for every row (relu of its true gate value).
  const uint32_t cap = st.cache->slots_per_layer();
  const unsigned threads = ThreadPool::global().threads();
  std::vector<float> acc(static_cast<size_t>(threads) * rows * E);
  const uint32_t cache_layer = flash_cache_keys(f, o.layer, st);
  const std::vector<uint32_t>& keys = st.keys;
  for (size_t c0 = 0; c0 < st.active.size(); c0 += cap) {
    const size_t n = std::min<size_t>(cap, st.active.size() - c0);
    st.misses.clear();
    st.cache->acquire(cache_layer, keys.data() + c0, n, st.slots.data(), &st.misses);
    if (!st.misses.empty()) {
      std::vector<io::ReadRequest> batch;
      batch.reserve(st.misses.size());
      for (size_t mi : st.misses)
        batch.push_back({st.file.get(), f.layer_offsets[o.layer] + static_cast<uint64_t>(st.active[c0 + mi]) * f.bundle_bytes, f.read_bytes, st.slots[mi]});
      const uint64_t r0 = now_ns();
      try {
        st.pool->read(batch);
      } catch (...) {
        for (size_t mi : st.misses) st.cache->erase(cache_layer, keys[c0 + mi]);
        throw;
      }
      io_ns += now_ns() - r0;
    }
    std::fill(acc.begin(), acc.end(), 0.0f);
    const size_t per = 16;
    parallel_for((n + per - 1) / per, [&](size_t task, unsigned worker) {
      std::vector<float> up(E), down(E), gate(resident ? 0 : E);
      float* yl = acc.data() + static_cast<size_t>(worker) * rows * E;
      const size_t j1 = std::min(n, (task + 1) * per);
      for (size_t j = task * per; j < j1; j++) {
        const uint32_t neuron = st.active[c0 + j];
        const uint8_t* b = static_cast<const uint8_t*>(st.slots[j]);
        decode_bundle_row(f.row_type, b, E, up.data(), "ffn_flash_relu");
        decode_bundle_row(f.row_type, b + f.row_bytes, E, down.data(), "ffn_flash_relu");
        if (!resident) decode_bundle_row(f.row_type, b + 2 * f.row_bytes, E, gate.data(), "ffn_flash_relu");
        for (size_t t = 0; t < rows; t++) {
          const float* xr = x + t * E;
          float g;
          if (resident) {
            g = st.gate[t * F + neuron];
          } else {
            g = 0;
            for (size_t e = 0; e < E; e++) g += gate[e] * xr[e];
          }
          if (!(g > 0)) continue;
          float u = 0;
          for (size_t e = 0; e < E; e++) u += up[e] * xr[e];
          const float coef = g * u;
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

}  // namespace bitflash::graph
