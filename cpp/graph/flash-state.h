// Internal: the executor's flash state (file, reader pool, neuron cache, scratch, stats).
#pragma once
#include <memory>
#include <vector>

#include "bitflash/graph.h"
#include "bitflash/io.h"

namespace bitflash::graph {

struct FlashState {
  std::unique_ptr<io::File> file;
  std::unique_ptr<io::ReaderPool> pool;
  std::unique_ptr<io::NeuronCache> cache;
  std::vector<float> gate;  // [max_tokens, n_ff]
  std::vector<uint32_t> active;
  std::vector<void*> slots;
  std::vector<size_t> misses;
  std::vector<std::vector<uint64_t>> hist;
  FlashStats stats;
  uint64_t last_step_seen = ~0ull;
};

}  // namespace bitflash::graph
