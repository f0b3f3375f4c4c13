// Low-bit matmul (y = x * w^T) and weight packing. Weights arrive as a plain object
//   { dtype: id, n, k, data: Uint8Array, scales?: Float32Array, zeroPoints?: Uint8Array, group?: number }
// (lib/ops/matmul.ts builds it from a QTensor); every length is checked here, and again by the core ops
// (cpp/ops/matmul.cc), before any byte is read. Packed weights live in native memory owned by a
// type-tagged External; freePacked() releases them at once unless a running job still holds them (the
// job keeps its own reference, so the memory goes when the last user settles: never under a kernel).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "bitflash/dyadic.h"
#include "bitflash/matmul.h"
#include "common.h"

namespace bitflash::napi {
namespace {

// ---- packed weights ----
using PackedRef = OwnedRef;
struct PackedHolder {
  PackedRef ref;
  int64_t reported = 0;  // native bytes reported to V8 until freePacked() or the finalizer
};
const napi_type_tag kPackedTag = {0x6b1f5e2a9c3d4e71ULL, 0x8a2b3c4d5e6f7081ULL};

Napi::Value wrap_packed(Napi::Env env, PackedRef ref) {
  // reported to V8 so that dropped (never disposed) packs put pressure on the collector
  const int64_t bytes = ref ? static_cast<int64_t>(ref->bytes) : 0;
  auto* holder = new PackedHolder{std::move(ref), bytes};
  Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
  auto ext = Napi::External<PackedHolder>::New(env, holder, [](Napi::Env e, PackedHolder* h) {
    Napi::MemoryManagement::AdjustExternalMemory(e, -h->reported);
    delete h;
  });
  ext.TypeTag(&kPackedTag);
  return ext;
}

PackedHolder* holder_arg(const Napi::Value& v, const char* fn) {
  if (!v.IsExternal()) fail(kErrArg, std::string(fn) + ": packed must be a handle returned by packWeights");
  auto ext = v.As<Napi::External<PackedHolder>>();
  if (!ext.CheckTypeTag(&kPackedTag)) fail(kErrArg, std::string(fn) + ": packed must be a handle returned by packWeights");
  return ext.Data();
}

// null / undefined -> no pack; a freed handle is an error (the TS layer never passes one).
PackedRef packed_arg(const Napi::Value& v, const char* fn) {
  if (absent(v)) return nullptr;
  PackedHolder* h = holder_arg(v, fn);
  if (!h->ref) fail(kErrDisposed, std::string(fn) + ": packed weights were freed");
  return h->ref;
}

// ---- weights ----
WeightView weight_arg(const Napi::Value& v, const char* fn, std::vector<Napi::Value>& keep) {
  if (!v.IsObject() || v.IsTypedArray()) fail(kErrArg, std::string(fn) + ": weights must be an object");
  Napi::Object o = v.As<Napi::Object>();
  WeightView w;
  const size_t id = size_arg(o.Get("dtype"), fn, "weights.dtype", 0, 255);
  if (id != static_cast<size_t>(DType::q8_0) && id != static_cast<size_t>(DType::q4_0) &&
      id != static_cast<size_t>(DType::i8c) && id != static_cast<size_t>(DType::i4g))
    fail(kErrArg, std::string(fn) + ": weights.dtype must be q8_0, q4_0, i8c or i4g, received id " + std::to_string(id));
  w.dtype = static_cast<DType>(id);
  w.n = size_arg(o.Get("n"), fn, "weights.n", 1, kMaxDim);
  w.k = size_arg(o.Get("k"), fn, "weights.k", 1, kMaxDim);
  Napi::Value data = o.Get("data");
  auto d = typed<uint8_t>(data, napi_uint8_array, "weights.data");
  w.data = d.data;
  w.data_bytes = d.length;
  keep.push_back(data);
  Napi::Value scales = o.Get("scales");
  if (!absent(scales)) {
    auto s = typed<float>(scales, napi_float32_array, "weights.scales");
    w.scales = s.data;
    w.scales_len = s.length;
    keep.push_back(scales);
  }
  Napi::Value zp = o.Get("zeroPoints");
  if (!absent(zp)) {
    auto z = typed<uint8_t>(zp, napi_uint8_array, "weights.zeroPoints");
    w.zero_points = z.data;
    w.zero_points_len = z.length;
    keep.push_back(zp);
  }
  Napi::Value group = o.Get("group");
  w.group = absent(group) ? 0 : static_cast<int>(size_arg(group, fn, "weights.group", 0, 128));
  if (w.data_bytes == 0) w.data = nullptr;  // an empty view: the core reports it
  validate_weights(w);                      // complete check (lengths, group, scales) before any work
  return w;
}

// (rows-1)*ld + cols, overflow-checked.
size_t span(size_t rows, size_t cols, size_t ld, const char* fn, const char* what) {
  if (ld < cols) fail(kErrArg, std::string(fn) + ": " + what + " row stride " + std::to_string(ld) + " is less than " + std::to_string(cols));
  if (rows - 1 != 0 && ld > (SIZE_MAX - cols) / (rows - 1)) fail(kErrArg, std::string(fn) + ": " + what + " size overflows");
  return (rows - 1) * ld + cols;
}

void need_len(size_t have, size_t need, const char* fn, const char* what) {
  if (have < need)
    fail(kErrArg, std::string(fn) + ": " + what + " holds " + std::to_string(have) + " elements, needs " + std::to_string(need));
}

// ---- ops ----
// matmulF32(w, packed, x: Float32Array, m, ldx, y: Float32Array, ldy)
Napi::Value MatmulF32(const Napi::CallbackInfo& info, bool async) {
  const char* fn = async ? "matmulF32" : "matmulF32Sync";
  arg_count(info, 7, fn);
  std::vector<Napi::Value> keep;
  const WeightView w = weight_arg(info[0], fn, keep);
  PackedRef pk = packed_arg(info[1], fn);
  auto x = typed<float>(info[2], napi_float32_array, "x");
  const size_t m = size_arg(info[3], fn, "m", 1, kMaxDim), ldx = size_arg(info[4], fn, "ldx", 1, kMaxDim);
  auto y = typed<float>(info[5], napi_float32_array, "y");
  const size_t ldy = size_arg(info[6], fn, "ldy", 1, kMaxDim);
  need_len(x.length, span(m, w.k, ldx, fn, "x"), fn, "x");
  need_len(y.length, span(m, w.n, ldy, fn, "y"), fn, "y");
  auto work = [=] {
    matmul_f32(w, pk ? pk->p : nullptr, pk ? pk->bytes : 0, x.data, x.length, m, ldx, y.data, y.length, ldy);
  };
  keep.push_back(info[2]);
  keep.push_back(info[5]);
  return run_or_queue(info, async, "bitflash.matmulF32", work, keep);
}

Q8Acts q8_acts(const Napi::Value& xv, size_t m, size_t k, size_t ldx, const char* fn) {
  if (!xv.IsTypedArray()) fail(kErrArg, std::string(fn) + ": x must be an Int8Array or a Uint8Array");
  const napi_typedarray_type t = xv.As<Napi::TypedArray>().TypedArrayType();
  if (t != napi_int8_array && t != napi_uint8_array) fail(kErrArg, std::string(fn) + ": x must be an Int8Array or a Uint8Array");
  Q8Acts a;
  if (t == napi_int8_array) {
    auto s = typed<int8_t>(xv, t, "x");
    a.data = s.data;
    a.len = s.length;
  } else {
    auto s = typed<uint8_t>(xv, t, "x");
    a.data = s.data;
    a.len = s.length;
  }
  a.is_unsigned = t == napi_uint8_array;
  a.ld = ldx;
  need_len(a.len, span(m, k, ldx, fn, "x"), fn, "x");
  if (a.len == 0) a.data = nullptr;
  return a;
}

// matmulQ8(w, packed, x: Int8Array | Uint8Array, m, ldx, scales: Float32Array, zeroPoints: Int32Array | null, y, ldy)
Napi::Value MatmulQ8(const Napi::CallbackInfo& info, bool async) {
  const char* fn = async ? "matmulQ8" : "matmulQ8Sync";
  arg_count(info, 9, fn);
  std::vector<Napi::Value> keep;
  const WeightView w = weight_arg(info[0], fn, keep);
  PackedRef pk = packed_arg(info[1], fn);
  const size_t m = size_arg(info[3], fn, "m", 1, kMaxDim), ldx = size_arg(info[4], fn, "ldx", 1, kMaxDim);
  Q8Acts a = q8_acts(info[2], m, w.k, ldx, fn);
  auto s = typed<float>(info[5], napi_float32_array, "xScales");
  need_len(s.length, m, fn, "xScales");
  a.scales = s.data;
  a.scales_len = s.length;
  if (!absent(info[6])) {
    auto z = typed<int32_t>(info[6], napi_int32_array, "xZeroPoints");
    need_len(z.length, m, fn, "xZeroPoints");
    a.zero_points = z.data;
    a.zero_points_len = z.length;
  }
  auto y = typed<float>(info[7], napi_float32_array, "y");
  const size_t ldy = size_arg(info[8], fn, "ldy", 1, kMaxDim);
  need_len(y.length, span(m, w.n, ldy, fn, "y"), fn, "y");
  auto work = [=] { matmul_q8(w, pk ? pk->p : nullptr, pk ? pk->bytes : 0, a, m, y.data, y.length, ldy); };
  for (int i : {2, 5, 6, 7}) keep.push_back(info[i]);
  return run_or_queue(info, async, "bitflash.matmulQ8", work, keep);
}

// matmulI32(w, packed, x: Int8Array | Uint8Array, m, ldx, y: Int32Array, ldy)
Napi::Value MatmulI32(const Napi::CallbackInfo& info, bool async) {
  const char* fn = async ? "matmulI32" : "matmulI32Sync";
  arg_count(info, 7, fn);
  std::vector<Napi::Value> keep;
  const WeightView w = weight_arg(info[0], fn, keep);
  PackedRef pk = packed_arg(info[1], fn);
  const size_t m = size_arg(info[3], fn, "m", 1, kMaxDim), ldx = size_arg(info[4], fn, "ldx", 1, kMaxDim);
  const Q8Acts a = q8_acts(info[2], m, w.k, ldx, fn);
  auto y = typed<int32_t>(info[5], napi_int32_array, "y");
  const size_t ldy = size_arg(info[6], fn, "ldy", 1, kMaxDim);
  need_len(y.length, span(m, w.n, ldy, fn, "y"), fn, "y");
  if (w.dtype != DType::i8c) fail(kErrArg, std::string(fn) + ": int32 output needs i8c weights");
  if (w.k > 65536) fail(kErrArg, std::string(fn) + ": int32 output needs k <= 65536");
  auto work = [=] { matmul_i32(w, pk ? pk->p : nullptr, pk ? pk->bytes : 0, a, m, y.data, y.length, ldy); };
  keep.push_back(info[2]);
  keep.push_back(info[5]);
  return run_or_queue(info, async, "bitflash.matmulI32", work, keep);
}

// linearInt(w, packed, x: Int8Array | Uint8Array, m, ldx, xZeroPoints: Int32Array | null, bias: Int32Array | null,
//           multM: Int32Array, multS: Int32Array, yZeroPoint, y: Int8Array, ldy)
// The fused int8 linear layer (matmul_i8_requant): int32 accumulators requantized in the kernels' epilogue.
Napi::Value LinearInt(const Napi::CallbackInfo& info, bool async) {
  const char* fn = async ? "linearInt" : "linearIntSync";
  arg_count(info, 12, fn);
  std::vector<Napi::Value> keep;
  const WeightView w = weight_arg(info[0], fn, keep);
  PackedRef pk = packed_arg(info[1], fn);
  const size_t m = size_arg(info[3], fn, "m", 1, kMaxDim), ldx = size_arg(info[4], fn, "ldx", 1, kMaxDim);
  Q8Acts a = q8_acts(info[2], m, w.k, ldx, fn);
  if (w.dtype != DType::i8c) fail(kErrArg, std::string(fn) + ": the integer linear layer needs i8c weights");
  if (w.k > 65536) fail(kErrArg, std::string(fn) + ": the integer linear layer needs k <= 65536");
  if (!absent(info[5])) {
    auto z = typed<int32_t>(info[5], napi_int32_array, "xZeroPoints");
    need_len(z.length, m, fn, "xZeroPoints");
    a.zero_points = z.data;
    a.zero_points_len = z.length;
  }
  Span<int32_t> bias{nullptr, 0};
  if (!absent(info[6])) {
    bias = typed<int32_t>(info[6], napi_int32_array, "bias");
    need_len(bias.length, w.n, fn, "bias");
  }
  auto ms = typed<int32_t>(info[7], napi_int32_array, "multiplier.m");
  auto ss = typed<int32_t>(info[8], napi_int32_array, "multiplier.s");
  if (ms.length != 1 && ms.length != w.n)
    fail(kErrArg, std::string(fn) + ": one multiplier (per tensor) or n = " + std::to_string(w.n) + " (per channel) are needed, received " +
                      std::to_string(ms.length));
  need_len(ss.length, ms.length, fn, "multiplier.s");
  // copied: the job must not read JS memory the caller may change before it runs
  auto mult = std::make_shared<std::vector<Dyadic>>(ms.length);
  for (size_t i = 0; i < ms.length; i++) {
    if (ss.data[i] < 0 || ss.data[i] > 62) fail(kErrArg, std::string(fn) + ": multiplier shift " + std::to_string(i) + " must be in 0..62");
    (*mult)[i] = {ms.data[i], ss.data[i]};
  }
  const double yzp = number(info[9], "yZeroPoint");
  if (!(yzp >= -128 && yzp <= 127) || yzp != static_cast<double>(static_cast<int32_t>(yzp)))
    fail(kErrArg, std::string(fn) + ": outZeroPoint must be an integer from -128 to 127");
  auto y = typed<int8_t>(info[10], napi_int8_array, "y");
  const size_t ldy = size_arg(info[11], fn, "ldy", 1, kMaxDim);
  need_len(y.length, span(m, w.n, ldy, fn, "y"), fn, "y");
  const int32_t yz = static_cast<int32_t>(yzp);
  auto work = [=] {
    matmul_i8_requant(w, pk ? pk->p : nullptr, pk ? pk->bytes : 0, a, m, bias.data, bias.length, mult->data(), mult->size(), yz,
                      y.data, y.length, ldy);
  };
  for (int i : {2, 5, 6, 10}) keep.push_back(info[i]);
  return run_or_queue(info, async, "bitflash.linearInt", work, keep);
}

// packWeights(w) -> handle (sync) / Promise<handle> (async)
Napi::Value Pack(const Napi::CallbackInfo& info, bool async) {
  const char* fn = async ? "packWeights" : "packWeightsSync";
  arg_count(info, 1, fn);
  std::vector<Napi::Value> keep;
  const WeightView w = weight_arg(info[0], fn, keep);
  PackedRef pk = alloc_owned(pack_size(w, 0));
  if (!async) {
    pack(w, pk->p, pk->bytes);
    return wrap_packed(info.Env(), pk);
  }
  return Job::start(
      info.Env(), "bitflash.packWeights", [w, pk] { pack(w, pk->p, pk->bytes); },
      [pk](Napi::Env env) { return wrap_packed(env, pk); }, keep);
}

Napi::Value FreePacked(const Napi::CallbackInfo& info) {
  arg_count(info, 1, "freePacked");
  PackedHolder* h = holder_arg(info[0], "freePacked");
  if (h->reported) Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -h->reported);
  h->reported = 0;
  h->ref.reset();
  return info.Env().Undefined();
}

Napi::Value PackedBytes(const Napi::CallbackInfo& info) {
  arg_count(info, 1, "packedBytes");
  PackedHolder* h = holder_arg(info[0], "packedBytes");
  return Napi::Number::New(info.Env(), h->ref ? static_cast<double>(h->ref->bytes) : 0.0);
}

// matmulInfo() -> { gemmMinM, kernels: { q8_0: { gemv, gemm }, ... } } for the ISA cap in force now.
Napi::Value MatmulInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("gemmMinM", Napi::Number::New(env, static_cast<double>(matmul_gemm_min_m())));
  Napi::Object ks = Napi::Object::New(env);
  const std::pair<const char*, DType> types[] = {{"q8_0", DType::q8_0}, {"q4_0", DType::q4_0}, {"i8c", DType::i8c}, {"i4g", DType::i4g}};
  for (const auto& t : types) {
    Napi::Object k = Napi::Object::New(env);
    k.Set("gemv", matmul_kernel_name(t.second, MatMulPath::gemv));
    k.Set("gemm", matmul_kernel_name(t.second, MatMulPath::gemm));
    ks.Set(t.first, k);
  }
  o.Set("kernels", ks);
  return o;
}

// matmulTolerance(nb, s) -> the bound the C++ suite uses for float outputs.
Napi::Value MatmulTolerance(const Napi::CallbackInfo& info) {
  arg_count(info, 2, "matmulTolerance");
  const size_t nb = size_arg(info[0], "matmulTolerance", "nb", 0, kMaxDim);
  const double s = number(info[1], "matmulTolerance");
  return Napi::Number::New(info.Env(), matmul_f32_tolerance(nb, s));
}

}  // namespace

void InitMatmul(Napi::Env env, Napi::Object exports) {
  BF_EXPORT_PAIR(exports, "matmulF32", MatmulF32);
  BF_EXPORT_PAIR(exports, "matmulQ8", MatmulQ8);
  BF_EXPORT_PAIR(exports, "matmulI32", MatmulI32);
  BF_EXPORT_PAIR(exports, "linearInt", LinearInt);
  BF_EXPORT_PAIR(exports, "packWeights", Pack);
  BF_EXPORT(exports, "freePacked", FreePacked);
  BF_EXPORT(exports, "packedBytes", PackedBytes);
  BF_EXPORT(exports, "matmulInfo", MatmulInfo);
  BF_EXPORT(exports, "matmulTolerance", MatmulTolerance);
}

}  // namespace bitflash::napi
