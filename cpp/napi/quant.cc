// q8_0 quantize / dequantize: the sync and async call patterns on one real op.
#include "bitflash/quant.h"
#include "common.h"

namespace bitflash::napi {
namespace {

struct QArgs {
  Span<float> f;
  Span<uint8_t> q;
  size_t n;  // elements
};

// (src, dst): Float32Array of n and Uint8Array of n/32*34 bytes, either order by direction.
QArgs q8_args(const Napi::CallbackInfo& info, bool quantize, const char* fn) {
  arg_count(info, 2, fn);
  QArgs a;
  a.f = typed<float>(quantize ? info[0] : info[1], napi_float32_array, fn);
  a.q = typed<uint8_t>(quantize ? info[1] : info[0], napi_uint8_array, fn);
  a.n = a.f.length;
  if (a.n % QK8_0 != 0) fail(kErrArg, std::string(fn) + ": element count must be a multiple of 32");
  const size_t need = a.n / QK8_0 * sizeof(block_q8_0);
  if (a.q.length != need)
    fail(kErrArg, std::string(fn) + ": q8_0 buffer must be " + std::to_string(need) + " bytes, received " +
                      std::to_string(a.q.length));
  return a;
}

Napi::Value QuantizeSync(const Napi::CallbackInfo& info) {
  QArgs a = q8_args(info, true, "quantizeQ8_0Sync");
  quantize_q8_0(a.f.data, a.n, reinterpret_cast<block_q8_0*>(a.q.data));
  return info.Env().Undefined();
}

Napi::Value QuantizeAsync(const Napi::CallbackInfo& info) {
  QArgs a = q8_args(info, true, "quantizeQ8_0");
  return Job::start(info.Env(), "bitflash.quantizeQ8_0",
                    [a] { quantize_q8_0(a.f.data, a.n, reinterpret_cast<block_q8_0*>(a.q.data)); }, nullptr,
                    {info[0], info[1]});
}

Napi::Value DequantizeSync(const Napi::CallbackInfo& info) {
  QArgs a = q8_args(info, false, "dequantizeQ8_0Sync");
  dequantize_q8_0(reinterpret_cast<const block_q8_0*>(a.q.data), a.n, a.f.data);
  return info.Env().Undefined();
}

Napi::Value DequantizeAsync(const Napi::CallbackInfo& info) {
  QArgs a = q8_args(info, false, "dequantizeQ8_0");
  return Job::start(info.Env(), "bitflash.dequantizeQ8_0",
                    [a] { dequantize_q8_0(reinterpret_cast<const block_q8_0*>(a.q.data), a.n, a.f.data); },
                    nullptr, {info[0], info[1]});
}

}  // namespace

void InitQuant(Napi::Env env, Napi::Object exports) {
  BF_EXPORT(exports, "quantizeQ8_0Sync", QuantizeSync);
  BF_EXPORT(exports, "quantizeQ8_0", QuantizeAsync);
  BF_EXPORT(exports, "dequantizeQ8_0Sync", DequantizeSync);
  BF_EXPORT(exports, "dequantizeQ8_0", DequantizeAsync);
}

}  // namespace bitflash::napi
