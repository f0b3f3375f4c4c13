// libFuzzer target: the model plan the TypeScript graph compiler hands to the native executor
// (cpp/napi/graph.cc -> graph::Executor). The bytes decode into a PlanSpec within the ranges the
// binding admits (op codes, slot/weight indices, head counts, eps, ...) plus weight shapes and buffer
// lengths that may disagree with each other; the contract: the constructor either accepts the plan or
// throws bitflash::Error, and an accepted plan's steps run without any out-of-bounds access or
// undefined behaviour (ASan + UBSan), or throw bitflash::Error.
// Harness limit: sizes are kept small (a few MB at most), so an input never asks for memory the
// machine lacks; memory budgets are checked elsewhere.
#include <cstdint>
#include <memory>
#include <vector>

#include "bitflash/error.h"
#include "bitflash/graph.h"
#include "bitflash/threadpool.h"
#include "fuzz-common.h"

using namespace bitflash;
using namespace bitflash::graph;
using namespace bitflash::fuzz;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ThreadPool::global().set_threads(2);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  PlanSpec s;
  s.max_tokens = in.ConsumeIntegralInRange<size_t>(1, 6);
  s.n_ctx = in.ConsumeIntegralInRange<size_t>(0, 48);
  s.n_layers = in.ConsumeIntegralInRange<int>(0, 3);
  s.kv_cols = in.ConsumeIntegralInRange<size_t>(0, 256);
  s.kv_f16 = in.ConsumeBool();
  std::vector<std::vector<uint8_t>> buffers;  // the weights' bytes (JS typed arrays in the addon)
  const int n_weights = in.ConsumeIntegralInRange<int>(0, 5);
  for (int i = 0; i < n_weights; i++) {
    WeightSpec w;
    w.dtype = pick_dtype(in);
    w.k = pick_k(in, w.dtype);
    w.n = in.ConsumeIntegralInRange<int>(0, 15) == 0 ? in.ConsumeIntegral<uint64_t>() : in.ConsumeIntegralInRange<size_t>(1, 64);
    if (in.ConsumeIntegralInRange<int>(0, 15) == 0) w.k = in.ConsumeIntegral<uint64_t>();
    size_t bytes = w.n <= 64 && w.k <= 4096 ? w.n * row_size(w.dtype, w.k) : 64;
    if (in.ConsumeIntegralInRange<int>(0, 7) == 0) bytes = in.ConsumeIntegralInRange<size_t>(0, bytes + 64);
    buffers.push_back(fill(in, bytes));
    w.bytes = bytes;
    w.data = in.ConsumeIntegralInRange<int>(0, 31) == 0 ? nullptr : buffers.back().data();
    s.weights.push_back(w);
  }
  static const size_t kCols[] = {1, 2, 4, 8, 16, 32, 64, 96, 128, 256};
  const int n_slots = in.ConsumeIntegralInRange<int>(0, 8);
  for (int i = 0; i < n_slots; i++) {
    SlotSpec sl;
    sl.cols = in.ConsumeBool() ? kCols[in.ConsumeIntegralInRange<int>(0, 9)] : in.ConsumeIntegralInRange<size_t>(1, 300);
    sl.single_row = in.ConsumeIntegralInRange<int>(0, 5) == 0;
    s.slots.push_back(sl);
  }
  auto index = [&](int count) { return in.ConsumeIntegralInRange<int>(-1, count); };
  const int n_ops = in.ConsumeIntegralInRange<int>(0, 12);
  for (int i = 0; i < n_ops; i++) {
    OpSpec o;
    o.op = static_cast<OpCode>(in.ConsumeIntegralInRange<int>(0, 12));
    o.a = index(n_slots);
    o.b = index(n_slots);
    o.c = index(n_slots);
    o.out = index(n_slots);
    o.w = index(n_weights);
    o.layer = in.ConsumeIntegralInRange<int>(-1, 4);
    o.heads = in.ConsumeIntegralInRange<int>(0, 16);
    o.kv_heads = in.ConsumeIntegralInRange<int>(0, 16);
    o.head_dim = in.ConsumeIntegralInRange<int>(0, 128);
    o.n_rot = in.ConsumeIntegralInRange<int>(0, 128);
    o.rope_mode = in.ConsumeIntegralInRange<int>(0, 3);
    o.eps = any_float(in);
    o.rope_base = in.ConsumeBool() ? 10000.0f : any_float(in);
    o.rope_freq_scale = in.ConsumeBool() ? 1.0f : any_float(in);
    o.attn_scale = any_float(in);
    s.ops.push_back(o);
  }
  s.output_slot = index(n_slots);
  std::unique_ptr<Executor> e;
  try {
    e = std::make_unique<Executor>(std::move(s));
  } catch (const Error&) {
    return 0;
  }
  const int steps = in.ConsumeIntegralInRange<int>(1, 3);
  size_t pos = 0;
  for (int st = 0; st < steps; st++) {
    const size_t n = in.ConsumeIntegralInRange<size_t>(1, e->spec().max_tokens + 1);
    std::vector<int32_t> tokens(n);
    for (auto& t : tokens) t = in.ConsumeIntegralInRange<int>(0, 7) == 0 ? in.ConsumeIntegral<int32_t>() : in.ConsumeIntegralInRange<int32_t>(0, 70);
    const size_t rows = e->output_rows(n), cols = e->output_cols();
    std::vector<float> out(rows * cols + (in.ConsumeBool() ? 0 : 1));
    const size_t out_len = in.ConsumeIntegralInRange<int>(0, 15) == 0 ? out.size() / 2 : out.size();
    try {
      e->step(tokens.data(), n, pos, out.data(), out_len);
      pos += n;
    } catch (const Error&) {
    }
  }
  return 0;
}
