// Ternary weights (tq1_0, tq2_0, i2_s): quantize / dequantize, packing into the mad and lut layouts,
// matmul with f32 activations, and the auto-tune cache controls. Sync and async (Promise) forms.
// Every length is checked here against the shape before the core runs. Packed weights live in native
// memory owned by a type-tagged External (its own tag: a matmul.cc pack handle is not accepted here);
// freeTernaryPacked() drops the JS side's reference at once, a running job keeps its own until it
// settles, so memory never goes from under a kernel.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bitflash/isa.h"
#include "bitflash/ternary.h"
#include "bitflash/threadpool.h"
#include "common.h"

namespace bitflash::napi {
namespace {

DType ternary_dtype(const Napi::Value& v, const char* fn) {
  const size_t id = size_arg(v, fn, "dtype", 0, 255);
  if (id != static_cast<size_t>(DType::tq1_0) && id != static_cast<size_t>(DType::tq2_0) &&
      id != static_cast<size_t>(DType::i2_s))
    fail(kErrArg, std::string(fn) + ": dtype must be tq1_0, tq2_0 or i2_s, received id " + std::to_string(id));
  return static_cast<DType>(id);
}

size_t mul_or_fail(size_t a, size_t b, const char* fn) {
  if (a != 0 && b > SIZE_MAX / a) fail(kErrArg, std::string(fn) + ": n * k overflows");
  return a * b;
}

void expect_len(size_t have, size_t need, const char* fn, const char* what) {
  if (have != need)
    fail(kErrArg, std::string(fn) + ": " + what + " must hold " + std::to_string(need) + " elements, received " +
                      std::to_string(have));
}

// ---- packed weights ----
using PackedRef = OwnedRef;
struct PackedHolder {
  PackedRef ref;
  TernaryFamily family;
};
const napi_type_tag kTernaryPackedTag = {0x3f9e2c7b51d04a86ULL, 0xb7c15e02a9d4f361ULL};

Napi::Value wrap_packed(Napi::Env env, PackedRef ref, TernaryFamily f) {
  auto ext = Napi::External<PackedHolder>::New(env, new PackedHolder{std::move(ref), f},
                                               [](Napi::Env, PackedHolder* h) { delete h; });
  ext.TypeTag(&kTernaryPackedTag);
  return ext;
}

PackedHolder* holder_arg(const Napi::Value& v, const char* fn) {
  if (!v.IsExternal()) fail(kErrArg, std::string(fn) + ": packed must be a handle returned by ternaryPack");
  auto ext = v.As<Napi::External<PackedHolder>>();
  if (!ext.CheckTypeTag(&kTernaryPackedTag)) fail(kErrArg, std::string(fn) + ": packed must be a handle returned by ternaryPack");
  return ext.Data();
}

PackedRef packed_arg(const Napi::Value& v, const char* fn, TernaryFamily want) {
  if (absent(v)) return nullptr;
  PackedHolder* h = holder_arg(v, fn);
  if (!h->ref) fail(kErrDisposed, std::string(fn) + ": packed weights were freed");
  if (h->family != want)
    fail(kErrArg, std::string(fn) + ": the " + ternary_family_name(want) + " slot holds a " + ternary_family_name(h->family) +
                      "-packed handle");
  return h->ref;
}

// ternaryQuantize(dtype, x: Float32Array, n, k, dst: Uint8Array)
Napi::Value Quantize(const Napi::CallbackInfo& info, bool async) {
  const char* fn = async ? "ternaryQuantize" : "ternaryQuantizeSync";
  arg_count(info, 5, fn);
  const DType t = ternary_dtype(info[0], fn);
  auto x = typed<float>(info[1], napi_float32_array, "x");
  const size_t n = size_arg(info[2], fn, "n", 1, kMaxDim), k = size_arg(info[3], fn, "k", 1, kMaxDim);
  auto q = typed<uint8_t>(info[4], napi_uint8_array, "dst");
  const size_t count = mul_or_fail(n, k, fn);
  expect_len(x.length, count, fn, "x");
  expect_len(q.length, ternary_tensor_bytes(t, n, k), fn, "dst");
  auto work = [=] {
    if (t == DType::tq1_0) quantize_tq1_0(x.data, count, reinterpret_cast<block_tq1_0*>(q.data));
    else if (t == DType::tq2_0) quantize_tq2_0(x.data, count, reinterpret_cast<block_tq2_0*>(q.data));
    else quantize_i2_s(x.data, count, q.data);
  };
  return run_or_queue(info, async, "bitflash.ternaryQuantize", work, {info[1], info[4]});
}

// ternaryDequantize(dtype, src: Uint8Array, n, k, y: Float32Array)
Napi::Value Dequantize(const Napi::CallbackInfo& info, bool async) {
  const char* fn = async ? "ternaryDequantize" : "ternaryDequantizeSync";
  arg_count(info, 5, fn);
  const DType t = ternary_dtype(info[0], fn);
  auto q = typed<uint8_t>(info[1], napi_uint8_array, "src");
  const size_t n = size_arg(info[2], fn, "n", 1, kMaxDim), k = size_arg(info[3], fn, "k", 1, kMaxDim);
  auto y = typed<float>(info[4], napi_float32_array, "y");
  const size_t count = mul_or_fail(n, k, fn);
  expect_len(q.length, ternary_tensor_bytes(t, n, k), fn, "src");
  expect_len(y.length, count, fn, "y");
  auto work = [=] {
    if (t == DType::tq1_0) dequantize_tq1_0(reinterpret_cast<const block_tq1_0*>(q.data), count, y.data);
    else if (t == DType::tq2_0) dequantize_tq2_0(reinterpret_cast<const block_tq2_0*>(q.data), count, y.data);
    else dequantize_i2_s(q.data, count, y.data);
  };
  return run_or_queue(info, async, "bitflash.ternaryDequantize", work, {info[1], info[4]});
}

TernaryFamily family_arg(const Napi::Value& v, const char* fn, bool allow_auto) {
  const size_t f = size_arg(v, fn, "family", 0, allow_auto ? 2 : 1);
  return static_cast<TernaryFamily>(f);
}

// ternaryPack(dtype, data: Uint8Array, n, k, family 0 | 1) -> handle
Napi::Value Pack(const Napi::CallbackInfo& info, bool async) {
  const char* fn = async ? "ternaryPack" : "ternaryPackSync";
  arg_count(info, 5, fn);
  const DType t = ternary_dtype(info[0], fn);
  auto d = typed<uint8_t>(info[1], napi_uint8_array, "data");
  const size_t n = size_arg(info[2], fn, "n", 1, kMaxDim), k = size_arg(info[3], fn, "k", 1, kMaxDim);
  const TernaryFamily f = family_arg(info[4], fn, false);
  if (k % QK_T != 0) fail(kErrArg, std::string(fn) + ": k must be a multiple of 256 for ternary matmul, received " + std::to_string(k));
  expect_len(d.length, ternary_tensor_bytes(t, n, k), fn, "data");
  PackedRef pk = alloc_owned(ternary_pack_size(f, n, k));
  auto work = [=] { ternary_pack(f, t, d.data, d.length, n, k, pk->p, pk->bytes); };
  if (!async) {
    work();
    return wrap_packed(info.Env(), pk, f);
  }
  return Job::start(info.Env(), "bitflash.ternaryPack", work, [pk, f](Napi::Env env) { return wrap_packed(env, pk, f); },
                    {info[1]});
}

Napi::Value FreePacked(const Napi::CallbackInfo& info) {
  arg_count(info, 1, "freeTernaryPacked");
  holder_arg(info[0], "freeTernaryPacked")->ref.reset();
  return info.Env().Undefined();
}

Napi::Value PackedBytes(const Napi::CallbackInfo& info) {
  arg_count(info, 1, "ternaryPackedBytes");
  PackedHolder* h = holder_arg(info[0], "ternaryPackedBytes");
  return Napi::Number::New(info.Env(), h->ref ? static_cast<double>(h->ref->bytes) : 0.0);
}

// ternaryMatmul(mad | null, lut | null, x: Float32Array, m, ldx, y: Float32Array, family 0 | 1 | 2,
//               tuneCache: string | null) -> the family that ran ('mad' | 'lut'), or a Promise of it.
// x rows are ldx apart (ldx >= k); a strided x is gathered into a contiguous copy on the worker.
Napi::Value Matmul(const Napi::CallbackInfo& info, bool async) {
  const char* fn = async ? "ternaryMatmul" : "ternaryMatmulSync";
  arg_count(info, 8, fn);
  PackedRef mad = packed_arg(info[0], fn, TernaryFamily::mad);
  PackedRef lut = packed_arg(info[1], fn, TernaryFamily::lut);
  if (!mad && !lut) fail(kErrArg, std::string(fn) + ": no packed weights given");
  const TernaryPackedHeader& h = *reinterpret_cast<const TernaryPackedHeader*>(mad ? mad->p : lut->p);
  const size_t n = h.n, k = h.k;
  auto x = typed<float>(info[2], napi_float32_array, "x");
  const size_t m = size_arg(info[3], fn, "m", 1, kMaxDim), ldx = size_arg(info[4], fn, "ldx", 1, kMaxDim);
  auto y = typed<float>(info[5], napi_float32_array, "y");
  const TernaryFamily fam = family_arg(info[6], fn, true);
  std::string cache;
  const bool has_cache = !absent(info[7]);
  if (has_cache) {
    if (!info[7].IsString()) fail(kErrArg, std::string(fn) + ": tuneCache must be a string");
    cache = info[7].As<Napi::String>().Utf8Value();
  }
  if (ldx < k) fail(kErrArg, std::string(fn) + ": x row stride " + std::to_string(ldx) + " is less than k = " + std::to_string(k));
  if (m > 1 && ldx > (SIZE_MAX - k) / (m - 1)) fail(kErrArg, std::string(fn) + ": x size overflows");
  const size_t xspan = (m - 1) * ldx + k;
  if (x.length < xspan)
    fail(kErrArg, std::string(fn) + ": x holds " + std::to_string(x.length) + " elements, needs " + std::to_string(xspan));
  expect_len(y.length, mul_or_fail(m, n, fn), fn, "y");
  auto work = [=]() -> TernaryFamily {
    TernaryWeights w;
    if (mad) {
      w.mad = mad->p;
      w.mad_bytes = mad->bytes;
    }
    if (lut) {
      w.lut = lut->p;
      w.lut_bytes = lut->bytes;
    }
    TernaryMatmulOptions o;
    o.family = fam;
    o.tune_cache_path = has_cache ? cache.c_str() : nullptr;
    if (ldx == k || m == 1) return ternary_matmul(w, x.data, m, y.data, o);
    std::vector<float> xc(m * k);
    for (size_t i = 0; i < m; i++) std::memcpy(xc.data() + i * k, x.data + i * ldx, k * sizeof(float));
    return ternary_matmul(w, xc.data(), m, y.data, o);
  };
  if (!async) return Napi::String::New(info.Env(), ternary_family_name(work()));
  auto ran = std::make_shared<TernaryFamily>(TernaryFamily::mad);
  return Job::start(
      info.Env(), "bitflash.ternaryMatmul", [work, ran] { *ran = work(); },
      [ran](Napi::Env env) { return Napi::String::New(env, ternary_family_name(*ran)); }, {info[0], info[1], info[2], info[5]});
}

// ternaryTuneLookup(n, k, m) -> 'mad' | 'lut' | null for the active ISA and thread count now.
Napi::Value TuneLookup(const Napi::CallbackInfo& info) {
  const char* fn = "ternaryTuneLookup";
  arg_count(info, 3, fn);
  TernaryTuneKey key;
  key.n = size_arg(info[0], fn, "n", 1, kMaxDim);
  key.k = size_arg(info[1], fn, "k", 1, kMaxDim);
  key.m_bucket = ternary_m_bucket(size_arg(info[2], fn, "m", 1, kMaxDim));
  key.isa = static_cast<int>(active_isa());
  key.threads = ThreadPool::global().threads();
  TernaryFamily f;
  if (!ternary_tune_lookup(key, &f)) return info.Env().Null();
  return Napi::String::New(info.Env(), ternary_family_name(f));
}

Napi::Value TuneLoad(const Napi::CallbackInfo& info) {
  arg_count(info, 1, "ternaryTuneLoad");
  if (!info[0].IsString()) fail(kErrArg, "ternaryTuneLoad: path must be a string");
  const std::string p = info[0].As<Napi::String>().Utf8Value();
  ternary_tune_load_file(p.c_str());
  return info.Env().Undefined();
}

Napi::Value TuneClear(const Napi::CallbackInfo& info) {
  ternary_tune_clear();
  return info.Env().Undefined();
}

Napi::Value Kernels(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("activations", q8t_quant_kernel().name);
  o.Set("mad", ternary_mad_kernel().name);
  o.Set("lut", ternary_lut_kernel().name);
  o.Set("lutBuild", ternary_lut_build_kernel().name);
  return o;
}

}  // namespace

void InitTernary(Napi::Env env, Napi::Object exports) {
  BF_EXPORT_PAIR(exports, "ternaryQuantize", Quantize);
  BF_EXPORT_PAIR(exports, "ternaryDequantize", Dequantize);
  BF_EXPORT_PAIR(exports, "ternaryPack", Pack);
  BF_EXPORT(exports, "freeTernaryPacked", FreePacked);
  BF_EXPORT(exports, "ternaryPackedBytes", PackedBytes);
  BF_EXPORT_PAIR(exports, "ternaryMatmul", Matmul);
  BF_EXPORT(exports, "ternaryTuneLookup", TuneLookup);
  BF_EXPORT(exports, "ternaryTuneLoad", TuneLoad);
  BF_EXPORT(exports, "ternaryTuneClear", TuneClear);
  BF_EXPORT(exports, "ternaryKernels", Kernels);
}

}  // namespace bitflash::napi
