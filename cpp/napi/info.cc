// Machine and runtime information: CPU features, the ISA cap, chosen kernels, threads, dtypes.
#include <string>

#include "bitflash/dispatch.h"
#include "bitflash/dtypes.h"
#include "bitflash/isa.h"
#include "bitflash/threadpool.h"
#include "common.h"

namespace bitflash::napi {
namespace {

Napi::Value CpuFeaturesJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CpuFeatures& f = cpu_features();
  Napi::Object o = Napi::Object::New(env);
  o.Set("arch", f.arch);
  Napi::Object x = Napi::Object::New(env);
#define F(name) x.Set(#name, Napi::Boolean::New(env, f.name))
  F(sse42); F(avx); F(avx2); F(fma); F(f16c); F(bmi2); F(avxvnni); F(avx512f); F(avx512bw); F(avx512vl);
  F(avx512vnni); F(avx512bf16); F(amx_int8); F(neon); F(dotprod); F(i8mm); F(sve);
#undef F
  o.Set("flags", x);
  Napi::Array paths = Napi::Array::New(env);
  uint32_t n = 0;
  for (Isa i : {Isa::scalar, Isa::avx2, Isa::avxvnni, Isa::avx512vnni, Isa::neon, Isa::dotprod, Isa::i8mm})
    if (cpu_supports(i)) paths.Set(n++, isa_name(i));
  o.Set("paths", paths);
  o.Set("best", isa_name(best_supported_isa()));
  return o;
}

Napi::Value GetIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("cap", isa_name(isa_cap()));
  o.Set("active", isa_name(active_isa()));
  return o;
}

Napi::Value SetIsaCap(const Napi::CallbackInfo& info) {
  arg_count(info, 1, "setIsaCap");
  if (!info[0].IsString()) fail(kErrArg, "setIsaCap: expected a string");
  set_isa_cap(parse_isa(info[0].As<Napi::String>().Utf8Value()));
  return GetIsa(info);
}

Napi::Value KernelChoices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array a = Napi::Array::New(env);
  uint32_t n = 0;
  for (const OpChoice& c : chosen_kernels()) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("op", c.op);
    o.Set("kernel", c.kernel);
    o.Set("isa", c.isa);
    a.Set(n++, o);
  }
  return a;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  arg_count(info, 1, "setThreads");
  const double n = number(info[0], "setThreads");
  if (!(n >= 0 && n <= 1024) || n != static_cast<double>(static_cast<unsigned>(n)))
    fail(kErrArg, "setThreads: expected an integer from 0 to 1024");
  ThreadPool::global().set_threads(static_cast<unsigned>(n));
  return Napi::Number::New(info.Env(), ThreadPool::global().threads());
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ThreadPool::global().threads());
}

Napi::Value PhysicalCores(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), physical_cores());
}

Napi::Value DtypeTable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t count = 0;
  const DTypeInfo* t = dtype_table(&count);
  Napi::Array a = Napi::Array::New(env);
  for (size_t i = 0; i < count; i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", static_cast<int>(t[i].id));
    o.Set("name", t[i].name);
    o.Set("blockElems", t[i].block_elems);
    o.Set("blockBytes", t[i].block_bytes);
    o.Set("trailerBytes", t[i].trailer_bytes);
    a.Set(static_cast<uint32_t>(i), o);
  }
  return a;
}

}  // namespace

void InitInfo(Napi::Env env, Napi::Object exports) {
  BF_EXPORT(exports, "cpuFeatures", CpuFeaturesJs);
  BF_EXPORT(exports, "getIsa", GetIsa);
  BF_EXPORT(exports, "setIsaCap", SetIsaCap);
  BF_EXPORT(exports, "kernelChoices", KernelChoices);
  BF_EXPORT(exports, "setThreads", SetThreads);
  BF_EXPORT(exports, "getThreads", GetThreads);
  BF_EXPORT(exports, "physicalCores", PhysicalCores);
  BF_EXPORT(exports, "dtypeTable", DtypeTable);
#ifdef BITFLASH_SANITIZE_BUILD
  exports.Set("sanitized", Napi::Boolean::New(env, true));
#else
  exports.Set("sanitized", Napi::Boolean::New(env, false));
#endif
}

}  // namespace bitflash::napi
