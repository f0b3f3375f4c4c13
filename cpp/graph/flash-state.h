// Internal: the executor's flash state (file, reader pool, neuron cache, scratch, stats).
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "bitflash/graph.h"
#include "bitflash/io.h"

namespace bitflash::graph {

// Monotonic time in ns (the executor's step and I/O-wait statistics).
inline uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

// One k-element row of a flash bundle (f32, f16, q8_0 or q4_0) decoded to f32; another row type is a
// kErrUnsupported error "<op>: unsupported row type". Defined in ffn-flash.cc.
void decode_bundle_row(DType t, const uint8_t* src, size_t k, float* dst, const char* op);

// The resident gate projection of the flash FFN ops: gate[r * F + j] = dot(row j of gw, row r of x) for
// `rows` rows of x (x_len floats; gw is [F, E], f32, f16 or a matmul dtype). Defined in ffn-flash.cc.
void gate_projection(const WeightSpec& gw, size_t F, size_t E, const float* x, size_t x_len, size_t rows, std::vector<float>& gate);

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

// The neuron cache's keys of st.active for `layer`, into st.keys: the neuron id in its layer's arena, or
// layer * n_ff + neuron in a shared arena. Returns the cache layer to acquire / erase them in. Defined in
// ffn-flash.cc.
uint32_t flash_cache_keys(const FlashSpec& f, int layer, FlashState& st);

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
