// Regressions found by the libFuzzer targets (test/fuzz); the reproducers themselves are kept under
// test/fuzz/regressions/<target>/ and run first by `npm run fuzz`.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bitflash/error.h"
#include "bitflash/graph.h"

using namespace bitflash;
using namespace bitflash::graph;

namespace {

// A file of `bytes` zero bytes at `path` (the bundles of the flash regressions).
void write_zeros(const std::string& path, size_t bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  std::vector<uint8_t> zeros(bytes, 0);
  REQUIRE(::pwrite(fd, zeros.data(), zeros.size(), 0) == static_cast<ssize_t>(zeros.size()));
  ::close(fd);
}

// One flash layer over the bundle file: embed (f32 table `emb`, 1 x E) then ffn_flash with the f32
// gate (F x E), buffered reads, one reader.
PlanSpec one_layer_flash_plan(const std::string& path, size_t E, size_t F, const std::vector<float>& emb, const std::vector<float>& gate,
                              size_t row_bytes, DType row_type, size_t bundle_bytes, uint32_t slots, bool record) {
  auto f = std::make_shared<FlashSpec>();
  f->path = path;
  f->row_type = row_type;
  f->n_embd = E;
  f->n_ff = F;
  f->row_bytes = row_bytes;
  f->bundle_bytes = bundle_bytes;
  f->read_bytes = bundle_bytes;
  f->layer_offsets = {0};
  f->thresholds = {0};
  f->slots_per_layer = slots;
  f->readers = 1;
  f->direct = false;
  f->record = record;
  PlanSpec s;
  s.slots = {SlotSpec{E, false}, SlotSpec{E, false}};
  s.weights = {WeightSpec{DType::f32, 1, E, emb.data(), emb.size() * 4}, WeightSpec{DType::f32, F, E, gate.data(), gate.size() * 4}};
  OpSpec embed, ffn;
  embed.op = OpCode::embed;
  embed.w = 0;
  embed.out = 0;
  ffn.op = OpCode::ffn_flash;
  ffn.a = 0;
  ffn.out = 1;
  ffn.w = 1;
  ffn.layer = 0;
  s.ops = {embed, ffn};
  s.output_slot = 1;
  s.flash = f;
  return s;
}

}  // namespace

TEST_CASE("fuzz_plan regression: an op without an input may carry any slot index in `a`") {
  // embed has no input slot; step() used to read slots[a] to count rows, out of bounds for a = 7.
  std::vector<float> emb = {1, 2, 3, 4, 5, 6};  // 3 tokens x 2
  PlanSpec s;
  s.max_tokens = 2;
  s.weights = {WeightSpec{DType::f32, 3, 2, emb.data(), emb.size() * 4}};
  s.slots = {SlotSpec{2, false}};
  OpSpec o;
  o.op = OpCode::embed;
  o.w = 0;
  o.out = 0;
  o.a = 7;  // outside the 1 slot
  s.ops = {o};
  s.output_slot = 0;
  Executor e(std::move(s));
  const int32_t tokens[2] = {2, 0};
  float out[4] = {};
  e.step(tokens, 2, 0, out, 4);
  CHECK(out[0] == 5);
  CHECK(out[1] == 6);
  CHECK(out[2] == 1);
  CHECK(out[3] == 2);
}

TEST_CASE("fuzz_flash regression: rowBytes must be one row of nEmbd values of the row type") {
  // rowBytes smaller than the row let decode_row read a whole row of nEmbd values from each bundle
  // position, past the neuron cache slot (heap overflow).
  const std::string path = "/tmp/bitflash-fuzz-regression-" + std::to_string(getpid());
  write_zeros(path, 4 * 4096);
  const size_t E = 1000, F = 2;  // f32 rows: 4000 bytes each
  std::vector<float> emb(E, 0.5f), gate(F * E, 0.25f);
  auto make = [&](size_t row_bytes, DType row_type) {
    return one_layer_flash_plan(path, E, F, emb, gate, row_bytes, row_type, 8192, 1, false);
  };
  for (size_t bad : {size_t(100), size_t(3999), size_t(4001)}) {
    try {
      Executor e(make(bad, DType::f32));
      FAIL("accepted rowBytes " << bad);
    } catch (const Error& err) {
      CHECK(std::string(err.code()) == kErrArg);
    }
  }
  try {
    Executor e(make(4000, DType::i8));  // not a row type decode_row reads
    FAIL("accepted row type i8");
  } catch (const Error& err) {
    CHECK(std::string(err.code()) == kErrUnsupported);
  }
  // the consistent spec runs (all-zero bundles: the output is 0)
  Executor e(make(4000, DType::f32));
  const int32_t tok = 0;
  std::vector<float> out(E, 1.0f);
  e.step(&tok, 1, 0, out.data(), out.size());
  for (float v : out) CHECK(v == 0.0f);
  ::unlink(path.c_str());
}

TEST_CASE("fuzz_plan regression: attention needs one row per token in q, k, v and out") {
  // A single-row k (or v) slot was read for every token of the step (heap overflow).
  PlanSpec s;
  s.max_tokens = 4;
  s.n_ctx = 8;
  s.n_layers = 1;
  s.kv_cols = 4;
  s.slots = {SlotSpec{4, false}, SlotSpec{4, true}, SlotSpec{4, false}, SlotSpec{4, false}};
  OpSpec o;
  o.op = OpCode::attention;
  o.a = 0;
  o.b = 1;  // single row
  o.c = 2;
  o.out = 3;
  o.layer = 0;
  o.heads = 1;
  o.kv_heads = 1;
  o.head_dim = 4;
  s.ops = {o};
  s.output_slot = 3;
  try {
    Executor e(s);
    FAIL("accepted a single-row k slot");
  } catch (const Error& err) {
    CHECK(std::string(err.code()) == kErrArg);
  }
  s.slots[1].single_row = false;
  Executor e(std::move(s));  // the consistent plan is accepted and runs
  const int32_t tokens[4] = {0, 0, 0, 0};
  std::vector<float> out(16);
  e.step(tokens, 4, 0, out.data(), out.size());
}

TEST_CASE("fuzz_flash regression: an infinite |silu(gate)| goes to the histogram's top bin") {
  // hist_bin cast floor(log2(inf) * 8) to int: undefined behaviour; now clamped first.
  const std::string path = "/tmp/bitflash-fuzz-regression-hist-" + std::to_string(getpid());
  write_zeros(path, 2 * 4096);
  const size_t E = 32, F = 2;
  std::vector<float> emb(E, 1.0f), gate(F * E, 3.0e38f);  // gate = 32 * 3e38 = inf
  PlanSpec s = one_layer_flash_plan(path, E, F, emb, gate, E * 4, DType::f32, 4096, 2, true);
  Executor e(std::move(s));
  const int32_t tok = 0;
  std::vector<float> out(E);
  e.step(&tok, 1, 0, out.data(), out.size());
  const auto h = e.flash_histograms();
  REQUIRE(h.size() == 1);
  CHECK(h[0][kHistBins - 1] == F);
  ::unlink(path.c_str());
}
