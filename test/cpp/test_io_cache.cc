// NeuronCache: invariants under random acquire/erase/trim sequences, checked against a simple
// model (a map of residents with their last use), slot contents preserved across moves.
#include <doctest/doctest.h>
#include <errno.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "bitflash/error.h"
#include "bitflash/io.h"

using namespace bitflash;
using namespace bitflash::io;

namespace {
uint32_t tag(uint32_t layer, uint32_t neuron) { return layer * 1000003u + neuron * 7919u + 1; }
void fill(void* slot, size_t bytes, uint32_t layer, uint32_t neuron) {
  uint32_t t = tag(layer, neuron);
  uint32_t* p = static_cast<uint32_t*>(slot);
  for (size_t i = 0; i < bytes / 4; i++) p[i] = t + static_cast<uint32_t>(i);
}
bool holds(const void* slot, size_t bytes, uint32_t layer, uint32_t neuron) {
  uint32_t t = tag(layer, neuron);
  const uint32_t* p = static_cast<const uint32_t*>(slot);
  for (size_t i = 0; i < bytes / 4; i += 61)
    if (p[i] != t + static_cast<uint32_t>(i)) return false;
  return p[bytes / 4 - 1] == t + static_cast<uint32_t>(bytes / 4 - 1);
}
}  // namespace

TEST_CASE("NeuronCache: arena sizing and accounting") {
  CHECK(NeuronCache::slots_for_budget(64 << 20, 6144, 4) == (64u << 20) / (8192u * 4));
  CacheOptions o;
  o.slot_bytes = 6144;
  o.layers = 3;
  o.neurons_per_layer = 100;
  o.slots_per_layer = 10;
  NeuronCache c(o);
  CHECK(c.slot_bytes() == 8192);
  CHECK(c.arena_bytes() == 3ull * 10 * 8192);
  CHECK(c.resident_bytes() == 0);
  for (uint32_t l = 0; l < 3; l++)
    for (uint32_t k = 0; k < 10; k++) CHECK(reinterpret_cast<uintptr_t>(c.slot_ptr(l, k)) % 4096 == 0);
  std::vector<void*> slots(11);
  std::vector<size_t> misses;
  uint32_t ids[11] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  auto code = [&](auto fn) -> std::string {
    try {
      fn();
    } catch (const Error& e) {
      return e.code();
    }
    return "";
  };
  CHECK(code([&] { c.acquire(0, ids, 11, slots.data(), &misses); }) == kErrBudget);
  uint32_t dup[2] = {5, 5};
  CHECK(code([&] { c.acquire(0, dup, 2, slots.data(), &misses); }) == kErrArg);
  uint32_t big[1] = {100};
  CHECK(code([&] { c.acquire(0, big, 1, slots.data(), &misses); }) == kErrArg);
  CHECK(code([&] { c.acquire(3, ids, 1, slots.data(), &misses); }) == kErrArg);
  CHECK(c.resident_bytes() == 0);
  c.begin_step();
  c.acquire(1, ids, 4, slots.data(), &misses);
  CHECK(misses.size() == 4);
  CHECK(c.resident_bytes() == 4 * 8192);
  CHECK(c.stats().misses == 4);
  misses.clear();
  c.acquire(1, ids + 2, 4, slots.data(), &misses);  // 2, 3 hit; 4, 5 miss
  CHECK(misses == std::vector<size_t>{2, 3});
  CHECK(c.stats().hits == 2);
  // A failed load is undone with erase().
  for (size_t i : misses) CHECK(c.erase(1, ids[2 + i]));
  CHECK(c.find(1, 4) == nullptr);
  CHECK(c.resident(1) == 4);
  c.reset_stats();
  CHECK(c.stats().hits == 0);
  CHECK(c.stats().resident_bytes == 4 * 8192);
}

TEST_CASE("NeuronCache: window eviction order and trim") {
  CacheOptions o;
  o.slot_bytes = 4096;
  o.layers = 1;
  o.neurons_per_layer = 64;
  o.slots_per_layer = 4;
  o.window = 2;
  NeuronCache c(o);
  std::vector<void*> s(4);
  std::vector<size_t> m;
  auto use = [&](std::vector<uint32_t> ids) {
    m.clear();
    c.acquire(0, ids.data(), ids.size(), s.data(), &m);
    for (size_t i : m) fill(s[i], 4096, 0, ids[i]);
  };
  c.begin_step();  // 1
  use({1, 2});
  c.begin_step();  // 2
  use({3});
  c.begin_step();  // 3
  use({4, 2});     // full: 1 (step 1), 2 (3), 3 (2), 4 (3)
  c.begin_step();  // 4: window = steps 3..4; 1 and 3 are outside, 1 is the LRU
  use({5});
  CHECK(c.find(0, 1) == nullptr);
  CHECK(c.find(0, 3) != nullptr);
  use({6});  // 3 goes next (outside the window), 2 and 4 stay
  CHECK(c.find(0, 3) == nullptr);
  CHECK(c.find(0, 2) != nullptr);
  CHECK(c.find(0, 4) != nullptr);
  CHECK(c.stats().evictions == 2);
  c.begin_step();  // 5
  c.begin_step();  // 6: 2 and 4 (step 3) and 5, 6 (step 4) all left the window
  use({6});
  CHECK(c.trim_window() == 3);
  CHECK(c.resident(0) == 1);
  CHECK(c.find(0, 6) == c.slot_ptr(0, 0));
  CHECK(holds(c.find(0, 6), 4096, 0, 6));
}

TEST_CASE("NeuronCache: random sequences keep the invariants of a simple model") {
  std::mt19937_64 rng(42);
  for (int trial = 0; trial < 6; trial++) {
    CacheOptions o;
    o.slot_bytes = 4096 * (1 + trial % 2);
    o.layers = 1 + trial % 3;
    o.neurons_per_layer = 50 + 30 * trial;
    o.slots_per_layer = 8 + 5 * trial;
    o.window = 1 + trial % 4;
    NeuronCache c(o);
    // model: (layer, neuron) -> last used step
    std::map<std::pair<uint32_t, uint32_t>, uint64_t> model;
    uint64_t step = 0, hits = 0, misses_n = 0, evictions = 0;
    std::vector<void*> slots(o.slots_per_layer);
    std::vector<size_t> misses;
    for (int op = 0; op < 1500; op++) {
      const uint32_t layer = rng() % o.layers;
      const int kind = rng() % 10;
      if (kind == 0) {
        c.begin_step();
        step++;
      } else if (kind == 1) {
        const uint32_t id = rng() % o.neurons_per_layer;
        const bool present = model.erase({layer, id}) > 0;
        REQUIRE(c.erase(layer, id) == present);
      } else if (kind == 2) {
        size_t expect = 0;
        for (auto it = model.begin(); it != model.end();) {
          if (it->second + o.window <= step) {
            it = model.erase(it);
            expect++;
          } else {
            ++it;
          }
        }
        REQUIRE(c.trim_window() == expect);
      } else {
        // A set of distinct neurons, biased towards a hot subset.
        std::set<uint32_t> pick;
        const size_t n = 1 + rng() % o.slots_per_layer;
        while (pick.size() < n)
          pick.insert(rng() % 2 ? rng() % (o.neurons_per_layer / 4 + 1) : rng() % o.neurons_per_layer);
        std::vector<uint32_t> ids(pick.begin(), pick.end());
        std::shuffle(ids.begin(), ids.end(), rng);
        // Expected victims: the non-requested residents of the layer with the smallest last use.
        std::vector<std::pair<uint64_t, uint32_t>> cand;
        size_t layer_count = 0, nmiss = 0;
        for (auto& kv : model)
          if (kv.first.first == layer) {
            layer_count++;
            if (!pick.count(kv.first.second)) cand.push_back({kv.second, kv.first.second});
          }
        for (uint32_t id : ids) nmiss += model.count({layer, id}) ? 0 : 1;
        const size_t free_slots = o.slots_per_layer - layer_count;
        const size_t need = nmiss > free_slots ? nmiss - free_slots : 0;
        std::sort(cand.begin(), cand.end());
        misses.clear();
        c.acquire(layer, ids.data(), ids.size(), slots.data(), &misses);
        REQUIRE(misses.size() == nmiss);
        hits += ids.size() - nmiss;
        misses_n += nmiss;
        evictions += need;
        // Evicted: exactly `need` of them, all with a last use no later than any survivor's.
        size_t gone = 0;
        uint64_t max_gone = 0, min_kept = UINT64_MAX;
        for (auto& cd : cand) {
          if (c.find(layer, cd.second) == nullptr) {
            gone++;
            max_gone = std::max(max_gone, cd.first);
            model.erase({layer, cd.second});
          } else {
            min_kept = std::min(min_kept, cd.first);
          }
        }
        REQUIRE(gone == need);
        if (gone && min_kept != UINT64_MAX) REQUIRE(max_gone <= min_kept);
        std::set<void*> distinct;
        for (size_t i = 0; i < ids.size(); i++) {
          REQUIRE(slots[i] == c.find(layer, ids[i]));
          distinct.insert(slots[i]);
          model[{layer, ids[i]}] = step;
        }
        REQUIRE(distinct.size() == ids.size());
        for (size_t i : misses) fill(slots[i], c.slot_bytes(), layer, ids[i]);
      }
      // Invariants: same resident set, compact slots, contents survive moves.
      size_t total = 0;
      for (uint32_t l = 0; l < o.layers; l++) {
        const uint32_t r = c.resident(l);
        REQUIRE(r <= o.slots_per_layer);
        total += r;
        for (uint32_t k = 0; k < r; k++) {
          const uint32_t id = c.resident_neuron(l, k);
          REQUIRE(model.count({l, id}) == 1);
          REQUIRE(c.find(l, id) == c.slot_ptr(l, k));
          REQUIRE(holds(c.slot_ptr(l, k), c.slot_bytes(), l, id));
        }
      }
      REQUIRE(total == model.size());
      REQUIRE(c.resident_bytes() == total * c.slot_bytes());
    }
    CacheStats s = c.stats();
    CHECK(s.hits == hits);
    CHECK(s.misses == misses_n);
    CHECK(s.evictions == evictions);
  }
}

TEST_CASE("NeuronCache + ReaderPool: a fill that fails with EIO is erased; residents untouched, the next acquire refills") {
  // The pattern of the flash FFN (cpp/graph/ffn-flash.cc): acquire, read the misses in one batch,
  // and on a read error erase the misses so no half-filled slot is ever served as a hit.
  const size_t slot = 4096;
  const uint32_t N = 64;
  std::string path = "/var/tmp/bitflash-test-cache-fault-" + std::to_string(::getpid());
  {
    std::vector<uint8_t> bytes(N * slot);
    for (uint32_t n = 0; n < N; n++) fill(bytes.data() + n * slot, slot, 0, n);
    FILE* fp = fopen(path.c_str(), "wb");
    REQUIRE(fp != nullptr);
    REQUIRE(fwrite(bytes.data(), 1, bytes.size(), fp) == bytes.size());
    fclose(fp);
  }
  File f(path);
  ReaderPool pool(ReaderOptions{2});
  NeuronCache cache({slot, 1, N, 16, 2});
  auto load = [&](const std::vector<uint32_t>& ids) {
    std::vector<void*> slots(ids.size());
    std::vector<size_t> misses;
    cache.acquire(0, ids.data(), ids.size(), slots.data(), &misses);
    std::vector<ReadRequest> batch;
    for (size_t mi : misses) batch.push_back({&f, uint64_t(ids[mi]) * slot, slot, slots[mi]});
    try {
      pool.read(batch);
    } catch (...) {
      for (size_t mi : misses) cache.erase(0, ids[mi]);
      throw;
    }
    return slots;
  };
  cache.begin_step();
  std::vector<void*> s = load({1, 2, 3, 4});
  for (uint32_t i = 0; i < 4; i++) CHECK(holds(s[i], slot, 0, i + 1));
  cache.begin_step();
  set_fault_hook([](FaultOp op, const File&, uint64_t off, size_t) {
    return op == FaultOp::Read && off >= 10 * 4096 ? FaultAction{EIO} : FaultAction{};
  });
  CHECK_THROWS_AS(load({3, 10, 11, 12}), Error);
  clear_fault_hook();
  CHECK(cache.resident(0) == 4);  // 1..4 stay, 10..12 are gone
  CHECK(cache.find(0, 10) == nullptr);
  CHECK(cache.find(0, 11) == nullptr);
  for (uint32_t n = 1; n <= 4; n++) CHECK(holds(cache.find(0, n), slot, 0, n));
  cache.begin_step();
  s = load({3, 10, 11, 12});
  CHECK(holds(s[0], slot, 0, 3));
  for (uint32_t i = 1; i < 4; i++) CHECK(holds(s[i], slot, 0, 9 + i));
  ::unlink(path.c_str());
}
