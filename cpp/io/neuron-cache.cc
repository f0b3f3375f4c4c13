// NeuronCache: one fixed arena, split into per-layer slot ranges (LLM in a flash, "DRAM
// management"). Occupied slots of a layer are always [0, count): a miss takes slot `count` (or a
// victim's slot, reused in place), and a removal moves the last occupied slot into the hole. No
// allocation after construction except the caller's `misses` vector.
#include <string.h>

#include <algorithm>
#include <string>

#include "bitflash/error.h"
#include "bitflash/io.h"

namespace bitflash {
namespace io {

NeuronCache::NeuronCache(const CacheOptions& options) : opt_(options) {
  BITFLASH_CHECK(options.slot_bytes > 0, kErrArg, "NeuronCache: slot_bytes must be > 0");
  BITFLASH_CHECK(options.layers > 0, kErrArg, "NeuronCache: layers must be > 0");
  BITFLASH_CHECK(options.neurons_per_layer > 0 && options.neurons_per_layer < (1u << 31), kErrArg,
                 "NeuronCache: neurons_per_layer must be in [1, 2^31)");
  BITFLASH_CHECK(options.slots_per_layer > 0, kErrArg, "NeuronCache: slots_per_layer must be > 0");
  BITFLASH_CHECK(options.window >= 1, kErrArg, "NeuronCache: window must be >= 1");
  slot_bytes_ = (options.slot_bytes + 4095) / 4096 * 4096;
  const unsigned __int128 total =
      static_cast<unsigned __int128>(slot_bytes_) * options.slots_per_layer * options.layers;
  BITFLASH_CHECK(total < (static_cast<unsigned __int128>(1) << 48), kErrBudget,
                 "NeuronCache: arena of " + std::to_string(static_cast<uint64_t>(total >> 20)) +
                     " MiB is not plausible");
  arena_bytes_ = static_cast<uint64_t>(total);
  arena_ = make_aligned_buffer(static_cast<size_t>(arena_bytes_), 4096);
  layers_.resize(options.layers);
  for (Layer& L : layers_) {
    L.slot_of.assign(options.neurons_per_layer, -1);
    L.neuron_of.assign(options.slots_per_layer, 0);
    L.last_used.assign(options.slots_per_layer, 0);
    L.pin.assign(options.slots_per_layer, 0);
  }
  seen_.assign(options.neurons_per_layer, 0);
  scratch_.reserve(options.slots_per_layer);
  stats_.arena_bytes = arena_bytes_;
}

NeuronCache::~NeuronCache() = default;

uint32_t NeuronCache::slots_for_budget(uint64_t budget_bytes, size_t slot_bytes, uint32_t layers) {
  BITFLASH_CHECK(slot_bytes > 0 && layers > 0, kErrArg, "slots_for_budget: slot_bytes and layers must be > 0");
  const uint64_t slot = (slot_bytes + 4095) / 4096 * 4096;
  const uint64_t n = budget_bytes / (slot * layers);
  return static_cast<uint32_t>(std::min<uint64_t>(n, UINT32_MAX));
}

void NeuronCache::begin_step() { step_++; }

void* NeuronCache::slot_ptr(uint32_t layer, uint32_t k) const {
  return arena_.get() + (static_cast<uint64_t>(layer) * opt_.slots_per_layer + k) * slot_bytes_;
}

uint32_t NeuronCache::resident(uint32_t layer) const {
  BITFLASH_CHECK(layer < opt_.layers, kErrArg, "NeuronCache: layer " + std::to_string(layer) + " out of range");
  return layers_[layer].count;
}

uint64_t NeuronCache::resident_bytes() const {
  uint64_t n = 0;
  for (const Layer& L : layers_) n += L.count;
  return n * slot_bytes_;
}

uint32_t NeuronCache::resident_neuron(uint32_t layer, uint32_t k) const {
  BITFLASH_CHECK(layer < opt_.layers && k < layers_[layer].count, kErrArg, "NeuronCache: slot out of range");
  return layers_[layer].neuron_of[k];
}

void* NeuronCache::find(uint32_t layer, uint32_t neuron) const {
  if (layer >= opt_.layers || neuron >= opt_.neurons_per_layer) return nullptr;
  const int32_t s = layers_[layer].slot_of[neuron];
  return s < 0 ? nullptr : slot_ptr(layer, static_cast<uint32_t>(s));
}

void NeuronCache::acquire(uint32_t layer, const uint32_t* neurons, size_t n, void** slots,
                          std::vector<size_t>* misses) {
  BITFLASH_CHECK(layer < opt_.layers, kErrArg,
                 "NeuronCache::acquire: layer " + std::to_string(layer) + " out of range (" +
                     std::to_string(opt_.layers) + " layers)");
  BITFLASH_CHECK(n <= opt_.slots_per_layer, kErrBudget,
                 "NeuronCache::acquire: " + std::to_string(n) + " neurons requested for layer " +
                     std::to_string(layer) + " but the cache holds " +
                     std::to_string(opt_.slots_per_layer) + " per layer");
  BITFLASH_CHECK(n == 0 || (neurons && slots && misses), kErrArg, "NeuronCache::acquire: null argument");
  const uint64_t call = ++call_;
  // Validate everything before changing anything.
  for (size_t i = 0; i < n; i++) {
    const uint32_t id = neurons[i];
    BITFLASH_CHECK(id < opt_.neurons_per_layer, kErrArg,
                   "NeuronCache::acquire: neuron " + std::to_string(id) + " out of range (" +
                       std::to_string(opt_.neurons_per_layer) + " per layer)");
    BITFLASH_CHECK(seen_[id] != call, kErrArg,
                   "NeuronCache::acquire: neuron " + std::to_string(id) + " requested twice");
    seen_[id] = call;
  }
  Layer& L = layers_[layer];
  size_t nmiss = 0;
  for (size_t i = 0; i < n; i++) {
    const int32_t s = L.slot_of[neurons[i]];
    if (s >= 0) {
      L.pin[s] = call;
      L.last_used[s] = step_;
      slots[i] = slot_ptr(layer, static_cast<uint32_t>(s));
    } else {
      nmiss++;
    }
  }
  stats_.hits += n - nmiss;
  stats_.misses += nmiss;
  if (nmiss == 0) return;

  // Victims: the least recently used residents not in this call. Ordering by last use puts the
  // neurons outside the window (last use <= step - window) first, LRU among them, then the
  // window's own LRU; ties go to the lower slot.
  const uint32_t free_slots = opt_.slots_per_layer - L.count;
  scratch_.clear();
  if (nmiss > free_slots) {
    const size_t need = nmiss - free_slots;
    for (uint32_t s = 0; s < L.count; s++)
      if (L.pin[s] != call) scratch_.push_back(s);
    // n <= slots_per_layer guarantees enough candidates.
    auto older = [&L](uint32_t a, uint32_t b) {
      return L.last_used[a] != L.last_used[b] ? L.last_used[a] < L.last_used[b] : a < b;
    };
    std::nth_element(scratch_.begin(), scratch_.begin() + (need - 1), scratch_.end(), older);
    scratch_.resize(need);
    for (uint32_t v : scratch_) L.slot_of[L.neuron_of[v]] = -1;
    stats_.evictions += need;
  }
  size_t next_victim = 0;
  misses->reserve(misses->size() + nmiss);
  for (size_t i = 0; i < n; i++) {
    const uint32_t id = neurons[i];
    if (L.slot_of[id] >= 0 && L.pin[L.slot_of[id]] == call) continue;  // a hit
    uint32_t s;
    if (next_victim < scratch_.size()) {
      s = scratch_[next_victim++];
    } else {
      s = L.count++;
    }
    L.slot_of[id] = static_cast<int32_t>(s);
    L.neuron_of[s] = id;
    L.last_used[s] = step_;
    L.pin[s] = call;
    slots[i] = slot_ptr(layer, s);
    misses->push_back(i);
  }
}

void NeuronCache::remove_slot(Layer& L, uint32_t layer, uint32_t s) {
  L.slot_of[L.neuron_of[s]] = -1;
  const uint32_t last = L.count - 1;
  if (s != last) {
    memcpy(slot_ptr(layer, s), slot_ptr(layer, last), slot_bytes_);
    L.neuron_of[s] = L.neuron_of[last];
    L.last_used[s] = L.last_used[last];
    L.pin[s] = L.pin[last];
    L.slot_of[L.neuron_of[s]] = static_cast<int32_t>(s);
    stats_.moves++;
  }
  L.count--;
  stats_.removals++;
}

bool NeuronCache::erase(uint32_t layer, uint32_t neuron) {
  BITFLASH_CHECK(layer < opt_.layers && neuron < opt_.neurons_per_layer, kErrArg,
                 "NeuronCache::erase: (layer " + std::to_string(layer) + ", neuron " +
                     std::to_string(neuron) + ") out of range");
  Layer& L = layers_[layer];
  const int32_t s = L.slot_of[neuron];
  if (s < 0) return false;
  remove_slot(L, layer, static_cast<uint32_t>(s));
  return true;
}

size_t NeuronCache::trim_window() {
  size_t dropped = 0;
  for (uint32_t l = 0; l < opt_.layers; l++) {
    Layer& L = layers_[l];
    // From the top down: the slot moved into a hole has already been looked at (and kept).
    for (uint32_t s = L.count; s-- > 0;) {
      if (L.last_used[s] + opt_.window <= step_) {
        remove_slot(L, l, s);
        dropped++;
      }
    }
  }
  return dropped;
}

CacheStats NeuronCache::stats() const {
  CacheStats s = stats_;
  s.resident_bytes = resident_bytes();
  s.arena_bytes = arena_bytes_;
  return s;
}

void NeuronCache::reset_stats() {
  stats_ = CacheStats();
  stats_.arena_bytes = arena_bytes_;
}

}  // namespace io
}  // namespace bitflash
