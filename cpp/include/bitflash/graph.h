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
};

struct WeightSpec {
  DType dtype = DType::f32;
  size_t n = 0, k = 0;  // [n, k]; a 1-D weight (norm) has n = 1
  const void* data = nullptr;
  size_t bytes = 0;
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
};

class Executor {
 public:
  explicit Executor(PlanSpec spec);  // validates the whole plan; throws Error(kErrArg / kErrFormat)
  // Runs one step on n tokens at positions pos0.. (n <= max_tokens, pos0 + n <= n_ctx).
  // Writes the output slot (rows: n, or 1 when single-row) into out (out_len floats).
  void step(const int32_t* tokens, size_t n, size_t pos0, float* out, size_t out_len);
  size_t output_rows(size_t n) const;
  size_t output_cols() const;
  size_t bytes_held() const;  // activations + KV cache
  const PlanSpec& spec() const { return spec_; }

 private:
  PlanSpec spec_;
  std::vector<std::vector<float>> slots_;
  std::vector<std::vector<float>> kcache_, vcache_;      // f32 cache
  std::vector<std::vector<uint16_t>> kcache16_, vcache16_;  // f16 cache
  std::vector<float> scratch_;
};

}  // namespace bitflash::graph
