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
  std::vector<uint32_t> keys;  // cache keys of the active neurons
  std::vector<void*> slots;
  std::vector<size_t> misses;
  std::vector<std::vector<uint64_t>> hist;
  FlashStats stats;
  uint64_t last_step_seen = ~0ull;
};

}  // namespace bitflash::graph

namespace bitflash::graph {

// The executor's streamed weights: groups read into one buffer (naive) or two (prefetch).
struct StreamState {
  struct Group {
    uint64_t start = 0, end = 0;  // file span, aligned to 4096 (end clamped to the file size)
    std::vector<int> weights;
  };
  std::unique_ptr<io::File> file;
  std::unique_ptr<io::ReaderPool> pool;
  std::vector<Group> groups;
  io::AlignedBuffer buf[2];
  size_t buf_bytes = 0;
  int nbuf = 1;
  int in_buf[2] = {-1, -1};
  bool pending[2] = {false, false};
  io::Ticket ticket[2] = {0, 0};
  int cur = -1;       // buffer whose group the ops are using
  int cur_group = -1;
  std::vector<uint8_t> row;  // one embedding row (group -2 weights)
  ~StreamState();
};

}  // namespace bitflash::graph
