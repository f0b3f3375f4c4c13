// Compiled model plans: a native Plan object wrapping the executor. Weights stay owned by the JS
// typed arrays the spec names (referenced here so they live as long as the plan). A step runs as
// one async job; a plan runs one step at a time (its KV cache is state), and dispose() during a
// step frees the executor when that step ends.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>

#include "bitflash/graph.h"
#include "common.h"

namespace bitflash::napi {
namespace {

using graph::Executor;
using graph::OpCode;
using graph::OpSpec;
using graph::PlanSpec;

int int_field(const Napi::Object& o, const char* k, int def, int lo, int hi) {
  Napi::Value v = o.Get(k);
  if (v.IsUndefined()) return def;
  const double d = number(v, k);
  if (!(d >= lo && d <= hi) || d != static_cast<double>(static_cast<int64_t>(d)))
    fail(kErrArg, std::string("plan: ") + k + " must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  return static_cast<int>(d);
}
double num_field(const Napi::Object& o, const char* k, double def) {
  Napi::Value v = o.Get(k);
  if (v.IsUndefined()) return def;
  const double d = number(v, k);
  if (!std::isfinite(d)) fail(kErrArg, std::string("plan: ") + k + " must be finite");
  return d;
}

// A size (weight shape, byte count): a non-negative integer up to 2^53. Casting a negative, huge or
// fractional double to size_t straight away is undefined behaviour (UBSan: float-cast-overflow).
size_t size_field(const Napi::Object& o, const char* k, double def) {
  const double d = num_field(o, k, def);
  if (!(d >= 0 && d <= 9007199254740992.0) || d != std::floor(d))
    fail(kErrArg, std::string("plan: ") + k + " must be an integer from 0 to 2^53");
  return static_cast<size_t>(d);
}

class Plan : public Napi::ObjectWrap<Plan> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Plan",
                       {InstanceMethod("step", &Plan::Step), InstanceMethod("stepSync", &Plan::StepSync),
                        InstanceMethod("dispose", &Plan::Dispose), InstanceAccessor("bytesHeld", &Plan::BytesHeld, nullptr),
                        InstanceAccessor("disposed", &Plan::Disposed, nullptr), InstanceMethod("flashStats", &Plan::FlashStatsJs),
                        InstanceMethod("resetFlashStats", &Plan::ResetFlashStats), InstanceMethod("flashHistograms", &Plan::FlashHistograms),
                        InstanceMethod("setFlashThresholds", &Plan::SetFlashThresholds)});
  }

  explicit Plan(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Plan>(info) {
    guard(info.Env(), [&]() -> Napi::Value {
      arg_count(info, 1, "Plan");
      if (!info[0].IsObject()) fail(kErrArg, "Plan: expected a plan object");
      build(info[0].As<Napi::Object>());
      return info.Env().Undefined();
    });
  }

 private:
  void build(const Napi::Object& o) {
    PlanSpec s;
    s.max_tokens = static_cast<size_t>(int_field(o, "maxTokens", 1, 1, 1 << 20));
    s.n_ctx = static_cast<size_t>(int_field(o, "nCtx", 0, 0, 1 << 24));
    s.n_layers = int_field(o, "nLayers", 0, 0, 4096);
    s.kv_cols = static_cast<size_t>(int_field(o, "kvCols", 0, 0, 1 << 20));
    s.kv_f16 = o.Get("kvType").IsString() && o.Get("kvType").As<Napi::String>().Utf8Value() == "f16";
    s.output_slot = int_field(o, "output", -1, -1, 1 << 30);
    Napi::Value ws = o.Get("weights"), ss = o.Get("slots"), os = o.Get("ops");
    if (!ws.IsArray() || !ss.IsArray() || !os.IsArray()) fail(kErrArg, "plan: weights, slots and ops must be arrays");
    Napi::Array wa = ws.As<Napi::Array>(), sa = ss.As<Napi::Array>(), oa = os.As<Napi::Array>();
    for (uint32_t i = 0; i < wa.Length(); i++) {
      if (!wa.Get(i).IsObject()) fail(kErrArg, "plan: weight entries must be objects");
      Napi::Object w = wa.Get(i).As<Napi::Object>();
      graph::WeightSpec spec;
      spec.dtype = static_cast<DType>(int_field(w, "dtype", -1, 0, 255));
      spec.n = size_field(w, "n", 0);
      spec.k = size_field(w, "k", 0);
      spec.group = int_field(w, "group", -1, -2, 1 << 20);
      Napi::Value data = w.Get("data");
      if (spec.group != -1) {
        const double off = num_field(w, "offset", -1), bytes = num_field(w, "bytes", 0);
        if (!(off >= 0 && off < 9.0e15) || !(bytes > 0 && bytes < 9.0e15)) fail(kErrArg, "plan: a streamed weight needs offset >= 0 and bytes > 0");
        spec.file_offset = static_cast<uint64_t>(off);
        spec.bytes = static_cast<size_t>(bytes);
        s.weights.push_back(spec);
        continue;
      }
      if (!data.IsTypedArray()) fail(kErrArg, "plan: weight data must be a TypedArray");
      Napi::TypedArray ta = data.As<Napi::TypedArray>();
      Napi::ArrayBuffer ab = ta.ArrayBuffer();
      if (ta.ByteOffset() + ta.ByteLength() > ab.ByteLength()) fail(kErrArg, "plan: weight view out of its buffer");
      spec.data = static_cast<uint8_t*>(ab.Data()) + ta.ByteOffset();
      spec.bytes = ta.ByteLength();
      keep_.push_back(Napi::Persistent(data.As<Napi::Object>()));
      s.weights.push_back(spec);
    }
    for (uint32_t i = 0; i < sa.Length(); i++) {
      if (!sa.Get(i).IsObject()) fail(kErrArg, "plan: slot entries must be objects");
      Napi::Object so = sa.Get(i).As<Napi::Object>();
      graph::SlotSpec spec;
      spec.cols = static_cast<size_t>(int_field(so, "cols", 0, 1, 1 << 26));
      spec.single_row = so.Get("singleRow").ToBoolean();
      s.slots.push_back(spec);
    }
    for (uint32_t i = 0; i < oa.Length(); i++) {
      if (!oa.Get(i).IsObject()) fail(kErrArg, "plan: op entries must be objects");
      Napi::Object op = oa.Get(i).As<Napi::Object>();
      OpSpec spec;
      spec.op = static_cast<OpCode>(int_field(op, "op", 0, 0, 100));
      spec.a = int_field(op, "a", -1, -1, 1 << 30);
      spec.b = int_field(op, "b", -1, -1, 1 << 30);
      spec.c = int_field(op, "c", -1, -1, 1 << 30);
      spec.out = int_field(op, "out", -1, -1, 1 << 30);
      spec.w = int_field(op, "w", -1, -1, 1 << 30);
      spec.layer = int_field(op, "layer", -1, -1, 1 << 20);
      spec.heads = int_field(op, "heads", 0, 0, 1 << 16);
      spec.kv_heads = int_field(op, "kvHeads", 0, 0, 1 << 16);
      spec.head_dim = int_field(op, "headDim", 0, 0, 1 << 16);
      spec.n_rot = int_field(op, "nRot", 0, 0, 1 << 16);
      spec.rope_mode = int_field(op, "ropeMode", 0, 0, 8);
      spec.eps = static_cast<float>(num_field(op, "eps", 0));
      spec.rope_base = static_cast<float>(num_field(op, "ropeBase", 10000));
      spec.rope_freq_scale = static_cast<float>(num_field(op, "ropeFreqScale", 1));
      spec.attn_scale = static_cast<float>(num_field(op, "attnScale", 0));
      s.ops.push_back(spec);
    }
    Napi::Value sv = o.Get("stream");
    if (sv.IsObject()) {
      Napi::Object so = sv.As<Napi::Object>();
      auto spec = std::make_shared<graph::StreamSpec>();
      if (!so.Get("path").IsString()) fail(kErrArg, "plan: stream.path must be a string");
      spec->path = so.Get("path").As<Napi::String>().Utf8Value();
      spec->direct = so.Get("direct").ToBoolean().Value();
      spec->prefetch = so.Get("prefetch").ToBoolean().Value();
      spec->readers = static_cast<unsigned>(int_field(so, "readers", 1, 1, 256));
      spec->max_read = static_cast<size_t>(int_field(so, "maxRead", 1 << 20, 4096, 1 << 30));
      s.stream = spec;
    }
    Napi::Value fl = o.Get("flash");
    if (fl.IsObject()) {
      Napi::Object f = fl.As<Napi::Object>();
      auto spec = std::make_shared<graph::FlashSpec>();
      if (!f.Get("path").IsString()) fail(kErrArg, "plan: flash.path must be a string");
      spec->path = f.Get("path").As<Napi::String>().Utf8Value();
      spec->bundle_bytes = size_field(f, "bundleBytes", 0);
      spec->read_bytes = size_field(f, "readBytes", 0);
      spec->row_bytes = size_field(f, "rowBytes", 0);
      spec->row_type = static_cast<DType>(int_field(f, "rowType", 0, 0, 255));
      spec->n_ff = static_cast<size_t>(int_field(f, "nFf", 0, 1, 1 << 24));
      spec->n_embd = static_cast<size_t>(int_field(f, "nEmbd", 0, 1, 1 << 24));
      spec->slots_per_layer = static_cast<uint32_t>(int_field(f, "slotsPerLayer", 0, 1, 1 << 24));
      spec->window = static_cast<uint32_t>(int_field(f, "window", 5, 1, 1 << 20));
      spec->readers = static_cast<unsigned>(int_field(f, "readers", 8, 1, 256));
      spec->max_read = static_cast<size_t>(int_field(f, "maxRead", 128 << 10, 4096, 1 << 30));
      spec->direct = f.Get("direct").IsUndefined() ? true : f.Get("direct").ToBoolean().Value();
      spec->max_gap = static_cast<size_t>(int_field(f, "maxGap", 16 << 10, 0, 1 << 30));
      spec->simd = f.Get("simd").IsUndefined() ? true : f.Get("simd").ToBoolean().Value();
      spec->shared_arena = f.Get("sharedArena").ToBoolean().Value();
      spec->record = f.Get("record").ToBoolean().Value();
      Napi::Value lo = f.Get("layerOffsets"), th = f.Get("thresholds");
      if (!lo.IsArray() || !th.IsArray()) fail(kErrArg, "plan: flash.layerOffsets and flash.thresholds must be arrays");
      Napi::Array la = lo.As<Napi::Array>(), ta = th.As<Napi::Array>();
      for (uint32_t i = 0; i < la.Length(); i++) {
        const double v = number(la.Get(i), "flash.layerOffsets");
        if (!(v >= 0 && v < 9.0e15)) fail(kErrArg, "plan: flash.layerOffsets out of range");
        spec->layer_offsets.push_back(static_cast<uint64_t>(v));
      }
      for (uint32_t i = 0; i < ta.Length(); i++) {
        const double v = number(ta.Get(i), "flash.thresholds");
        if (!(v >= 0 && v <= 3.0e38)) fail(kErrArg, "plan: flash.thresholds must be finite and >= 0");
        spec->thresholds.push_back(static_cast<float>(v));
      }
      s.flash = spec;
    }
    exec_ = std::make_shared<Executor>(std::move(s));
  }

  Napi::Value FlashStatsJs(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      if (!exec_) fail(kErrDisposed, "flashStats: the plan is disposed");
      const graph::FlashStats f = exec_->flash_stats();
      Napi::Object o = Napi::Object::New(info.Env());
      o.Set("bytesRead", static_cast<double>(f.bytes_read));
      o.Set("readsIssued", static_cast<double>(f.reads_issued));
      o.Set("requests", static_cast<double>(f.requests));
      o.Set("cacheHits", static_cast<double>(f.cache_hits));
      o.Set("cacheMisses", static_cast<double>(f.cache_misses));
      o.Set("evictions", static_cast<double>(f.evictions));
      o.Set("ioMs", static_cast<double>(f.io_ns) / 1e6);
      o.Set("computeMs", static_cast<double>(f.compute_ns) / 1e6);
      o.Set("neuronsActive", static_cast<double>(f.neurons_active));
      o.Set("neuronsTotal", static_cast<double>(f.neurons_total));
      o.Set("cacheResidentBytes", static_cast<double>(f.resident_bytes));
      o.Set("cacheArenaBytes", static_cast<double>(f.arena_bytes));
      o.Set("steps", static_cast<double>(f.steps));
      o.Set("stepMs", static_cast<double>(f.step_ns) / 1e6);
      o.Set("bundleBytesRead", static_cast<double>(f.bundle_bytes));
      o.Set("bundleReads", static_cast<double>(f.bundle_reads));
      o.Set("bundleReadBusyMs", static_cast<double>(f.bundle_read_busy_ns) / 1e6);
      o.Set("bundleIoWallMs", static_cast<double>(f.bundle_io_wall_ns) / 1e6);
      o.Set("streamBytesRead", static_cast<double>(f.stream_bytes));
      o.Set("streamLoads", static_cast<double>(f.stream_loads));
      o.Set("streamPrefetched", static_cast<double>(f.stream_prefetched));
      o.Set("streamWaitMs", static_cast<double>(f.stream_wait_ns) / 1e6);
      o.Set("streamBufferBytes", static_cast<double>(f.stream_buffer_bytes));
      return o;
    });
  }

  Napi::Value ResetFlashStats(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      if (!exec_) fail(kErrDisposed, "resetFlashStats: the plan is disposed");
      if (busy_->load()) fail(kErrArg, "resetFlashStats: a step is running");
      exec_->reset_flash_stats();
      return info.Env().Undefined();
    });
  }

  Napi::Value FlashHistograms(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      if (!exec_) fail(kErrDisposed, "flashHistograms: the plan is disposed");
      const auto h = exec_->flash_histograms();
      Napi::Array a = Napi::Array::New(info.Env(), h.size());
      for (size_t l = 0; l < h.size(); l++) {
        Napi::Float64Array row = Napi::Float64Array::New(info.Env(), h[l].size());
        for (size_t b = 0; b < h[l].size(); b++) row[b] = static_cast<double>(h[l][b]);
        a.Set(static_cast<uint32_t>(l), row);
      }
      return a;
    });
  }

  Napi::Value SetFlashThresholds(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      if (!exec_) fail(kErrDisposed, "setFlashThresholds: the plan is disposed");
      if (busy_->load()) fail(kErrArg, "setFlashThresholds: a step is running");
      arg_count(info, 1, "setFlashThresholds");
      Span<float> t = typed<float>(info[0], napi_float32_array, "setFlashThresholds");
      exec_->set_flash_thresholds(std::vector<float>(t.data, t.data + t.length));
      return info.Env().Undefined();
    });
  }

  struct StepArgs {
    Span<int32_t> tokens;
    Span<float> out;
    size_t pos0;
  };

  StepArgs args(const Napi::CallbackInfo& info, const char* fn) {
    if (!exec_) fail(kErrDisposed, std::string(fn) + ": the plan is disposed");
    arg_count(info, 3, fn);
    StepArgs a;
    a.tokens = typed<int32_t>(info[0], napi_int32_array, fn);
    const double p = number(info[1], fn);
    if (!(p >= 0 && p <= 1e12) || p != static_cast<double>(static_cast<int64_t>(p))) fail(kErrArg, std::string(fn) + ": pos must be a non-negative integer");
    a.pos0 = static_cast<size_t>(p);
    a.out = typed<float>(info[2], napi_float32_array, fn);
    return a;
  }

  Napi::Value StepSync(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      StepArgs a = args(info, "stepSync");
      if (busy_->load()) fail(kErrArg, "stepSync: a step of this plan is already running");
      exec_->step(a.tokens.data, a.tokens.length, a.pos0, a.out.data, a.out.length);
      return info.Env().Undefined();
    });
  }

  Napi::Value Step(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      StepArgs a = args(info, "step");
      bool expected = false;
      if (!busy_->compare_exchange_strong(expected, true)) fail(kErrArg, "step: a step of this plan is already running");
      std::shared_ptr<Executor> ex = exec_;
      std::shared_ptr<std::atomic<bool>> busy = busy_;
      return Job::start(
          info.Env(), "bitflash.plan.step",
          [ex, a, busy] {
            struct Clear {
              std::shared_ptr<std::atomic<bool>> b;
              ~Clear() { b->store(false); }
            } clear{busy};
            ex->step(a.tokens.data, a.tokens.length, a.pos0, a.out.data, a.out.length);
          },
          nullptr, {info[0], info[2], Value()});
    });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    exec_.reset();  // a running step keeps its own reference; memory goes when it ends
    // The executor reads the weights straight from the JS buffers in keep_. While a step runs they must
    // stay referenced: dropping them here let the collector free a weight buffer under the running step
    // (a use-after-free once the model's own references were gone, e.g. Model.dispose() mid-generation).
    // The step's job keeps this plan object alive, so keep_ then goes with it (finalizer) instead.
    if (!busy_->load()) keep_.clear();
    return info.Env().Undefined();
  }

  Napi::Value BytesHeld(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), exec_ ? static_cast<double>(exec_->bytes_held()) : 0.0);
  }
  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !exec_); }

  std::shared_ptr<Executor> exec_;
  std::shared_ptr<std::atomic<bool>> busy_ = std::make_shared<std::atomic<bool>>(false);
  std::vector<Napi::ObjectReference> keep_;
};

}  // namespace

namespace {

// A read-only-backed file mapping shared by the ArrayBuffers made over it (MAP_PRIVATE with write
// permission: a stray write copies the page instead of faulting). Unmapped when the last goes.
struct Mapping {
  void* p = MAP_FAILED;
  size_t len = 0;
  ~Mapping() {
    if (p != MAP_FAILED) munmap(p, len);
  }
};

// mmapRanges(path, offsets[], lengths[]) -> Uint8Array[] over one mapping of the file: weights
// read through the page cache (the mmap baseline of `bench flash --speed`).
Napi::Value MmapRanges(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    arg_count(info, 3, "mmapRanges");
    if (!info[0].IsString() || !info[1].IsArray() || !info[2].IsArray()) fail(kErrArg, "mmapRanges(path, offsets, lengths)");
    const std::string path = info[0].As<Napi::String>().Utf8Value();
    Napi::Array offs = info[1].As<Napi::Array>(), lens = info[2].As<Napi::Array>();
    if (offs.Length() != lens.Length()) fail(kErrArg, "mmapRanges: offsets and lengths differ in length");
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(kErrIo, "mmapRanges: cannot open " + path + ": " + std::strerror(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0 || st.st_size <= 0) {
      ::close(fd);
      fail(kErrIo, "mmapRanges: cannot stat " + path + " or it is empty");
    }
    auto m = std::make_shared<Mapping>();
    m->len = static_cast<size_t>(st.st_size);
    m->p = ::mmap(nullptr, m->len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    const int e = errno;
    ::close(fd);
    if (m->p == MAP_FAILED) fail(kErrIo, "mmapRanges: mmap of " + path + " failed: " + std::strerror(e));
    Napi::Array out = Napi::Array::New(info.Env(), offs.Length());
    for (uint32_t i = 0; i < offs.Length(); i++) {
      const double o = number(offs.Get(i), "mmapRanges offset"), l = number(lens.Get(i), "mmapRanges length");
      if (!(o >= 0 && l > 0 && o + l <= static_cast<double>(m->len)) || o != std::floor(o) || l != std::floor(l))
        fail(kErrArg, "mmapRanges: range " + std::to_string(i) + " is outside " + path);
      auto* hint = new std::shared_ptr<Mapping>(m);
      Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(info.Env(), static_cast<uint8_t*>(m->p) + static_cast<size_t>(o), static_cast<size_t>(l),
                                                    [](Napi::Env, void*, std::shared_ptr<Mapping>* h) { delete h; }, hint);
      out.Set(i, Napi::Uint8Array::New(info.Env(), static_cast<size_t>(l), ab, 0));
    }
    return out;
  });
}

}  // namespace

void InitGraph(Napi::Env env, Napi::Object exports) {
  exports.Set("Plan", Plan::Define(env));
  exports.Set("mmapRanges", Napi::Function::New(env, MmapRanges, "mmapRanges"));
}

}  // namespace bitflash::napi
