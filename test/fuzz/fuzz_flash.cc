// libFuzzer target: the flash layout as the native side reads it. The bytes decode into a FlashSpec
// (row type and sizes, bundle geometry, layer offsets, thresholds, reader options) and the contents of
// the bundle file (an in-memory file, opened by path through /proc/self/fd); a one-layer plan
// (embed -> ffn_flash) then runs steps that stream bundles through io::File, io::ReaderPool and
// io::NeuronCache and decode their rows. The contract: the executor rejects an inconsistent spec or a
// file too short for it with bitflash::Error, and an accepted one runs without any out-of-bounds
// access or undefined behaviour (ASan + UBSan), whatever the bundle bytes hold.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bitflash/error.h"
#include "bitflash/graph.h"
#include "bitflash/threadpool.h"
#include "fuzz-common.h"

using namespace bitflash;
using namespace bitflash::graph;
using namespace bitflash::fuzz;

namespace {
struct MemFile {
  int fd = -1;
  MemFile() { fd = memfd_create("bitflash-fuzz-bundles", 0); }
  ~MemFile() { if (fd >= 0) close(fd); }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd); }
};
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // One compute thread: the per-input cost is then the reader pool's own threads; the compute
  // pool's concurrency is the ThreadSanitizer suite's business (npm run test:tsan).
  ThreadPool::global().set_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  auto f = std::make_shared<FlashSpec>();
  static const DType kRow[] = {DType::f32, DType::f16, DType::q8_0, DType::q4_0};
  f->row_type = in.ConsumeIntegralInRange<int>(0, 15) == 0 ? static_cast<DType>(in.ConsumeIntegral<uint8_t>()) : kRow[in.ConsumeIntegralInRange<int>(0, 3)];
  f->n_embd = in.ConsumeBool() ? 32 * in.ConsumeIntegralInRange<size_t>(1, 4) : in.ConsumeIntegralInRange<size_t>(1, 1100);
  f->n_ff = in.ConsumeIntegralInRange<size_t>(1, 12);
  const size_t true_row = row_size(f->row_type, f->n_embd);
  switch (in.ConsumeIntegralInRange<int>(0, 7)) {  // rowBytes: usually the true row size, else near it or anything
    case 0: f->row_bytes = in.ConsumeIntegralInRange<size_t>(0, 9000); break;
    case 1: f->row_bytes = true_row / 2; break;
    case 2: f->row_bytes = true_row + in.ConsumeIntegralInRange<int>(-2, 2); break;
    default: f->row_bytes = true_row;
  }
  f->bundle_bytes = in.ConsumeIntegralInRange<int>(0, 7) == 0 ? in.ConsumeIntegralInRange<size_t>(0, 20000) : 4096 * in.ConsumeIntegralInRange<size_t>(1, 3);
  f->read_bytes = in.ConsumeIntegralInRange<int>(0, 7) == 0 ? in.ConsumeIntegralInRange<size_t>(0, 20000) : 4096 * in.ConsumeIntegralInRange<size_t>(1, 3);
  const int layers = in.ConsumeIntegralInRange<int>(1, 2);
  uint64_t end = 0;
  for (int l = 0; l < layers; l++) {
    const uint64_t off = in.ConsumeIntegralInRange<int>(0, 15) == 0 ? in.ConsumeIntegral<uint64_t>() : 4096 * in.ConsumeIntegralInRange<uint64_t>(0, 4);
    f->layer_offsets.push_back(off);
    if (off < (1u << 20)) end = std::max<uint64_t>(end, off + f->n_ff * f->bundle_bytes);
    f->thresholds.push_back(in.ConsumeBool() ? 0.0f : any_float(in));
  }
  if (in.ConsumeIntegralInRange<int>(0, 7) == 0) f->thresholds.pop_back();
  f->slots_per_layer = in.ConsumeIntegralInRange<uint32_t>(0, static_cast<uint32_t>(f->n_ff) + 1);
  f->window = in.ConsumeIntegralInRange<uint32_t>(1, 6);
  f->readers = in.ConsumeIntegralInRange<unsigned>(1, 3);
  f->max_read = 4096 * in.ConsumeIntegralInRange<size_t>(1, 8);
  f->direct = false;
  f->record = in.ConsumeBool();
  f->shared_arena = in.ConsumeBool();
  f->simd = in.ConsumeBool();  // per-neuron SIMD kernels on q4_0 / q8_0 rows, or rows decoded to f32

  // The bundle file: exactly as long as the spec needs, or a few bytes off either way.
  MemFile mf;
  if (mf.fd < 0) return 0;
  uint64_t file_size = std::min<uint64_t>(end, 1u << 21);
  if (in.ConsumeIntegralInRange<int>(0, 3) == 0) file_size = in.ConsumeIntegralInRange<uint64_t>(0, file_size + 8192);
  {
    const std::vector<uint8_t> head = in.ConsumeBytes<uint8_t>(std::min<size_t>(file_size, in.ConsumeIntegralInRange<size_t>(0, 16384)));
    std::vector<uint8_t> body(file_size);
    for (size_t i = 0; i < body.size(); i++) body[i] = head.empty() ? static_cast<uint8_t>(i * 131 + 7) : head[i % head.size()];
    if (!body.empty() && pwrite(mf.fd, body.data(), body.size(), 0) != static_cast<ssize_t>(body.size())) return 0;
  }
  f->path = mf.path();

  // embed (a vocabulary of 4 rows) -> slot 0; ffn_flash slot 0 -> slot 1 (output), gate resident.
  PlanSpec s;
  s.max_tokens = in.ConsumeIntegralInRange<size_t>(1, 4);
  s.slots = {SlotSpec{f->n_embd, false}, SlotSpec{f->n_embd, false}};
  std::vector<uint8_t> emb = fill(in, 4 * f->n_embd * 4);
  for (size_t i = 0; i + 4 <= emb.size(); i += 4) {  // finite embeddings: the gate must see numbers
    float v;
    std::memcpy(&v, &emb[i], 4);
    if (!(v == v) || v > 1e6f || v < -1e6f) v = 0.5f;
    std::memcpy(&emb[i], &v, 4);
  }
  const DType gate_type = in.ConsumeBool() ? DType::f32 : DType::f16;
  std::vector<uint8_t> gate = fill(in, f->n_ff * row_size(gate_type, f->n_embd));
  s.weights = {WeightSpec{DType::f32, 4, f->n_embd, emb.data(), emb.size()}, WeightSpec{gate_type, f->n_ff, f->n_embd, gate.data(), gate.size()}};
  OpSpec embed;
  embed.op = OpCode::embed;
  embed.w = 0;
  embed.out = 0;
  OpSpec ffn;
  ffn.op = OpCode::ffn_flash;
  ffn.a = 0;
  ffn.out = 1;
  ffn.w = 1;
  ffn.layer = in.ConsumeIntegralInRange<int>(0, layers);
  s.ops = {embed, ffn};
  s.output_slot = 1;
  s.flash = f;
  std::unique_ptr<Executor> e;
  try {
    e = std::make_unique<Executor>(std::move(s));
  } catch (const Error&) {
    return 0;
  }
  const int steps = in.ConsumeIntegralInRange<int>(1, 3);
  for (int st = 0; st < steps; st++) {
    const size_t n = in.ConsumeIntegralInRange<size_t>(1, e->spec().max_tokens);
    std::vector<int32_t> tokens(n);
    for (auto& t : tokens) t = in.ConsumeIntegralInRange<int32_t>(0, 3);
    std::vector<float> out(e->output_rows(n) * e->output_cols());
    try {
      e->step(tokens.data(), n, 0, out.data(), out.size());
    } catch (const Error&) {
    }
  }
  return 0;
}
