// The executor of compiled model plans: a flat list of ops over activation slots, run for one step
// (a prompt chunk or one decode token) in one call. Built from a PlanSpec that the TypeScript graph
// compiler produces (lib/graph); holds raw pointers to weights owned by JS objects that the binding
// keeps alive, plus the KV cache and the activation slots it owns.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bitflash/dtypes.h"

namespace bitflash::graph {

enum class OpCode : int {
  embed = 1,      // out[t] = row tokens[t] of w (any row dtype) as f32
  rmsnorm = 2,    // out = x / sqrt(mean(x^2) + eps) * w
  matmul = 3,     // out = x * w^T
  rope = 4,       // out = a with rotary embedding at positions pos0 + t (out may equal a)
  attention = 5,  // out = softmax(q k^T / sqrt(d) + causal mask) v, with k, v appended to layer's cache
  swiglu = 6,     // out = silu(a) * b
  add = 7,        // out = a + b
  take_last = 8,  // out[0] = a[T - 1]
  softmax = 9,    // out = softmax(a) per row
  bias = 10,      // out = a + w (one row, broadcast over tokens)
  ffn_flash = 11, // out = down(silu(gate(a)) * up(a)) over the active neurons, bundles streamed from disk
};

struct WeightSpec {
  DType dtype = DType::f32;
  size_t n = 0, k = 0;  // [n, k]; a 1-D weight (norm) has n = 1
  const void* data = nullptr;
  size_t bytes = 0;
  // Streamed weights (StreamSpec): group >= 0 is read with its group of weights from file_offset of
  // the stream file before an op uses it (data is then set by the executor); -2 is an embedding
  // table whose rows are read one at a time; -1 (default) is resident at data.
  int group = -1;
  uint64_t file_offset = 0;
};

struct OpSpec {
  OpCode op = OpCode::add;
  int a = -1, b = -1, c = -1;  // input slots (q, k, v for attention)
  int out = -1;                // output slot
  int w = -1;                  // weight index
  int layer = -1;              // KV cache layer (attention)
  int heads = 0, kv_heads = 0, head_dim = 0, n_rot = 0;
  int rope_mode = 0;           // 0: NORM (adjacent pairs, llama), 2: NEOX (halves)
  float eps = 0, rope_base = 10000.0f, rope_freq_scale = 1.0f, attn_scale = 0;
};

struct SlotSpec {
  size_t cols = 0;
  bool single_row = false;  // holds one row (after take_last), not one per token
};

// Flash-offloaded FFN (LLM in a flash): per layer, neuron bundles [up row | down column | gate row]
// of `row_bytes` each, `bundle_bytes` apart, starting at layer_offsets[l] in the file. The gate
// projection is a resident weight (OpSpec::w); a neuron is active for a token when
// |silu(gate)| > thresholds[layer] (0: every neuron).
struct FlashSpec {
  std::string path;
  size_t bundle_bytes = 0, read_bytes = 0, row_bytes = 0;
  DType row_type = DType::f32;
  size_t n_ff = 0, n_embd = 0;
  std::vector<uint64_t> layer_offsets;
  std::vector<float> thresholds;
  uint32_t slots_per_layer = 0;
  uint32_t window = 5;
  unsigned readers = 8;
  size_t max_read = 128 << 10;  // largest single read; each reader holds a bounce buffer of this size
  size_t max_gap = 16 << 10;    // neighbouring bundles closer than this are read together (the gap is read too)
  // One slot arena for all layers (slots_per_layer * layers slots, LRU across layers) instead of a
  // partition per layer: a layer's whole active set then fits at once, so its misses go to the
  // reader pool as one batch even when the budget buys fewer slots than layers * active neurons.
  bool shared_arena = false;
  bool simd = true;             // per-neuron SIMD kernels (q4_0 / q8_0 rows); false: rows decoded to f32 (the old path)
  bool direct = true;
  bool record = false;  // collect |silu(gate)| histograms for threshold calibration
};

// Weights streamed from a file per step (groups of weights read together, e.g. one layer): the
// naive per-layer loader (one buffer, no prefetch) and the flash runtime's non-resident attention
// and gate weights (two buffers: the next group is read while this one computes).
struct StreamSpec {
  std::string path;
  bool direct = false;
  bool prefetch = false;
  unsigned readers = 1;
  size_t max_read = 1 << 20;
};

// Per-step telemetry. bytes_read / reads_issued cover every read of the step (neuron bundles and
// streamed weights); io_ns is the time compute waited for reads; compute_ns the rest of the step.
struct FlashStats {
  uint64_t bytes_read = 0, reads_issued = 0, requests = 0, cache_hits = 0, cache_misses = 0, evictions = 0;
  uint64_t io_ns = 0, compute_ns = 0, neurons_active = 0, neurons_total = 0, resident_bytes = 0, arena_bytes = 0;
  uint64_t steps = 0, step_ns = 0, stream_bytes = 0, stream_loads = 0, stream_prefetched = 0, stream_wait_ns = 0,
           bundle_bytes = 0, bundle_reads = 0, bundle_read_busy_ns = 0, bundle_io_wall_ns = 0, stream_buffer_bytes = 0;
};

// Histogram of log2|silu(gate)|: bin b covers [2^((b - kHistZero)/8), 2^((b + 1 - kHistZero)/8)).
inline constexpr int kHistBins = 256;
inline constexpr int kHistZero = 192;  // bin of |a| = 1; bin 0 collects everything below 2^-24

struct PlanSpec {
  size_t max_tokens = 1;  // rows per step
  size_t n_ctx = 0;       // KV cache length
  int n_layers = 0;       // KV cache layers
  size_t kv_cols = 0;     // kv_heads * head_dim
  bool kv_f16 = false;
  std::vector<WeightSpec> weights;
  std::vector<SlotSpec> slots;
  std::vector<OpSpec> ops;
  int input_slot = -1;   // unused: inputs are token ids
  int output_slot = -1;  // copied to the caller's buffer after the step
  std::shared_ptr<FlashSpec> flash;  // set when the plan has ffn_flash ops
  std::shared_ptr<StreamSpec> stream;  // set when some weights have group != -1
};

struct FlashState;
struct StreamState;

class Executor {
 public:
  explicit Executor(PlanSpec spec);  // validates the whole plan; throws Error(kErrArg / kErrFormat)
  // Runs one step on n tokens at positions pos0.. (n <= max_tokens, pos0 + n <= n_ctx).
  // Writes the output slot (rows: n, or 1 when single-row) into out (out_len floats).
  void step(const int32_t* tokens, size_t n, size_t pos0, float* out, size_t out_len);
  size_t output_rows(size_t n) const;
  size_t output_cols() const;
  size_t bytes_held() const;  // activations + KV cache + neuron cache + I/O scratch
  const PlanSpec& spec() const { return spec_; }
  FlashStats flash_stats() const;
  void reset_flash_stats();
  // Per-layer histograms of |silu(gate)| (kHistBins each), when recording.
  std::vector<std::vector<uint64_t>> flash_histograms() const;
  void set_flash_thresholds(const std::vector<float>& t);
  ~Executor();

 private:
  PlanSpec spec_;
  std::vector<std::vector<float>> slots_;
  std::vector<std::vector<float>> kcache_, vcache_;      // f32 cache
  std::vector<std::vector<uint16_t>> kcache16_, vcache16_;  // f16 cache
  std::vector<float> scratch_;
  std::unique_ptr<FlashState> flash_;
  std::unique_ptr<StreamState> stream_;
  FlashStats step_stats_;  // step count, step time and stream figures (flash_stats() merges them)
  void run_ffn_flash(const OpSpec& o, size_t rows);
  void ensure_group(int g);
  void embed_row_streamed(const WeightSpec& w, size_t id, float* out);
};

}  // namespace bitflash::graph
