// Low-bit weight quantizers and dequantizers (q4_0, q4_K, i8c, i4g): sync and async forms.
// Every length is checked here against the shape before the core is called (the core ops take raw
// pointers for i8c / i4g), so a wrong buffer throws ERR_BITFLASH_ARG instead of reading out of bounds.
#include <cstdint>
#include <memory>
#include <string>

#include "bitflash/quant.h"
#include "common.h"

namespace bitflash::napi {
namespace {

size_t mul_or_fail(size_t a, size_t b, const char* fn) {
  if (a != 0 && b > SIZE_MAX / a) fail(kErrArg, std::string(fn) + ": n * k overflows");
  return a * b;
}

void expect_len(size_t have, size_t need, const char* fn, const char* what) {
  if (have != need)
    fail(kErrArg, std::string(fn) + ": " + what + " must hold " + std::to_string(need) + " elements, received " +
                      std::to_string(have));
}

int group_arg(const Napi::Value& v, const char* fn) {
  const size_t g = size_arg(v, fn, "group", 32, 128);
  if (g != 32 && g != 64 && g != 128) fail(kErrArg, std::string(fn) + ": group must be 32, 64 or 128");
  return static_cast<int>(g);
}

// ---- block types: (src, dst) like the q8_0 pair ----
template <class Block, int QK>
struct BlockArgs {
  Span<float> f;
  Span<uint8_t> q;
  size_t n;
};

template <class Block, int QK>
BlockArgs<Block, QK> block_args(const Napi::CallbackInfo& info, bool quantize, const char* fn) {
  arg_count(info, 2, fn);
  BlockArgs<Block, QK> a;
  a.f = typed<float>(quantize ? info[0] : info[1], napi_float32_array, fn);
  a.q = typed<uint8_t>(quantize ? info[1] : info[0], napi_uint8_array, fn);
  a.n = a.f.length;
  if (a.n % QK != 0) fail(kErrArg, std::string(fn) + ": element count must be a multiple of " + std::to_string(QK));
  const size_t need = a.n / QK * sizeof(Block);
  if (a.q.length != need)
    fail(kErrArg, std::string(fn) + ": block buffer must be " + std::to_string(need) + " bytes, received " +
                      std::to_string(a.q.length));
  return a;
}

Napi::Value QuantQ4_0(const Napi::CallbackInfo& info, bool async) {
  const char* fn = async ? "quantizeQ4_0" : "quantizeQ4_0Sync";
  auto a = block_args<block_q4_0, QK4_0>(info, true, fn);
  auto work = [a] { quantize_q4_0(a.f.data, a.n, reinterpret_cast<block_q4_0*>(a.q.data)); };
  return run_or_queue(info, async, "bitflash.quantizeQ4_0", work, {info[0], info[1]});
}

Napi::Value DequantQ4_0(const Napi::CallbackInfo& info, bool async) {
  const char* fn = async ? "dequantizeQ4_0" : "dequantizeQ4_0Sync";
  auto a = block_args<block_q4_0, QK4_0>(info, false, fn);
  auto work = [a] { dequantize_q4_0(reinterpret_cast<const block_q4_0*>(a.q.data), a.n, a.f.data); };
  return run_or_queue(info, async, "bitflash.dequantizeQ4_0", work, {info[0], info[1]});
}

Napi::Value DequantQ4_K(const Napi::CallbackInfo& info, bool async) {
  const char* fn = async ? "dequantizeQ4_K" : "dequantizeQ4_KSync";
  auto a = block_args<block_q4_K, QK_K>(info, false, fn);
  auto work = [a] { dequantize_q4_K(reinterpret_cast<const block_q4_K*>(a.q.data), a.n, a.f.data); };
  return run_or_queue(info, async, "bitflash.dequantizeQ4_K", work, {info[0], info[1]});
}

// ---- i8c: quantize(x f32[n*k], n, k, q i8[n*k], scales f32[n]); dequantize(q, scales, n, k, y) ----
Napi::Value QuantI8c(const Napi::CallbackInfo& info, bool async) {
  const char* fn = async ? "quantizeI8c" : "quantizeI8cSync";
  arg_count(info, 5, fn);
  auto x = typed<float>(info[0], napi_float32_array, fn);
  const size_t n = size_arg(info[1], fn, "n", 1, kMaxDim), k = size_arg(info[2], fn, "k", 1, kMaxDim);
  auto q = typed<int8_t>(info[3], napi_int8_array, fn);
  auto s = typed<float>(info[4], napi_float32_array, fn);
  const size_t nk = mul_or_fail(n, k, fn);
  expect_len(x.length, nk, fn, "x");
  expect_len(q.length, nk, fn, "q");
  expect_len(s.length, n, fn, "scales");
  auto work = [=] { quantize_i8c(x.data, n, k, q.data, s.data); };
  return run_or_queue(info, async, "bitflash.quantizeI8c", work, {info[0], info[3], info[4]});
}

Napi::Value DequantI8c(const Napi::CallbackInfo& info, bool async) {
  const char* fn = async ? "dequantizeI8c" : "dequantizeI8cSync";
  arg_count(info, 5, fn);
  auto q = typed<int8_t>(info[0], napi_int8_array, fn);
  auto s = typed<float>(info[1], napi_float32_array, fn);
  const size_t n = size_arg(info[2], fn, "n", 1, kMaxDim), k = size_arg(info[3], fn, "k", 1, kMaxDim);
  auto y = typed<float>(info[4], napi_float32_array, fn);
  const size_t nk = mul_or_fail(n, k, fn);
  expect_len(q.length, nk, fn, "q");
  expect_len(s.length, n, fn, "scales");
  expect_len(y.length, nk, fn, "y");
  auto work = [=] { dequantize_i8c(q.data, s.data, n, k, y.data); };
  return run_or_queue(info, async, "bitflash.dequantizeI8c", work, {info[0], info[1], info[4]});
}

// ---- i4g: quantize(x, n, k, group, symmetric, data u8, scales f32, zeroPoints u8 | null) ----
struct I4gLens {
  size_t data, scales, zp;
};
I4gLens i4g_lens(size_t n, size_t k, int group, const char* fn) {
  const size_t g = static_cast<size_t>(group), gpr = (k + g - 1) / g;
  return {mul_or_fail(mul_or_fail(n, gpr, fn), g / 2, fn), mul_or_fail(n, gpr, fn), mul_or_fail(n, (gpr + 1) / 2, fn)};
}

Napi::Value QuantI4g(const Napi::CallbackInfo& info, bool async) {
  const char* fn = async ? "quantizeI4g" : "quantizeI4gSync";
  arg_count(info, 8, fn);
  auto x = typed<float>(info[0], napi_float32_array, fn);
  const size_t n = size_arg(info[1], fn, "n", 1, kMaxDim), k = size_arg(info[2], fn, "k", 1, kMaxDim);
  const int group = group_arg(info[3], fn);
  if (!info[4].IsBoolean()) fail(kErrArg, std::string(fn) + ": symmetric must be a boolean");
  const bool symmetric = info[4].As<Napi::Boolean>().Value();
  auto d = typed<uint8_t>(info[5], napi_uint8_array, fn);
  auto s = typed<float>(info[6], napi_float32_array, fn);
  const I4gLens L = i4g_lens(n, k, group, fn);
  expect_len(x.length, mul_or_fail(n, k, fn), fn, "x");
  expect_len(d.length, L.data, fn, "data");
  expect_len(s.length, L.scales, fn, "scales");
  Span<uint8_t> z{nullptr, 0};
  if (symmetric) {
    if (!info[7].IsNull() && !info[7].IsUndefined()) fail(kErrArg, std::string(fn) + ": symmetric quantization takes no zero points");
  } else {
    z = typed<uint8_t>(info[7], napi_uint8_array, fn);
    expect_len(z.length, L.zp, fn, "zeroPoints");
  }
  auto work = [=] { quantize_i4g(x.data, n, k, group, symmetric, d.data, s.data, z.data); };
  return run_or_queue(info, async, "bitflash.quantizeI4g", work, {info[0], info[5], info[6], info[7]});
}

// dequantize(data, scales, zeroPoints | null, n, k, group, y)
Napi::Value DequantI4g(const Napi::CallbackInfo& info, bool async) {
  const char* fn = async ? "dequantizeI4g" : "dequantizeI4gSync";
  arg_count(info, 7, fn);
  auto d = typed<uint8_t>(info[0], napi_uint8_array, fn);
  auto s = typed<float>(info[1], napi_float32_array, fn);
  const size_t n = size_arg(info[3], fn, "n", 1, kMaxDim), k = size_arg(info[4], fn, "k", 1, kMaxDim);
  const int group = group_arg(info[5], fn);
  auto y = typed<float>(info[6], napi_float32_array, fn);
  const I4gLens L = i4g_lens(n, k, group, fn);
  expect_len(d.length, L.data, fn, "data");
  expect_len(s.length, L.scales, fn, "scales");
  expect_len(y.length, mul_or_fail(n, k, fn), fn, "y");
  Span<uint8_t> z{nullptr, 0};
  if (!info[2].IsNull() && !info[2].IsUndefined()) {
    z = typed<uint8_t>(info[2], napi_uint8_array, fn);
    expect_len(z.length, L.zp, fn, "zeroPoints");
  }
  auto work = [=] { dequantize_i4g(d.data, s.data, z.data, n, k, group, y.data); };
  return run_or_queue(info, async, "bitflash.dequantizeI4g", work, {info[0], info[1], info[2], info[6]});
}

}  // namespace

void InitQuantLowbit(Napi::Env env, Napi::Object exports) {
  BF_EXPORT_PAIR(exports, "quantizeQ4_0", QuantQ4_0);
  BF_EXPORT_PAIR(exports, "dequantizeQ4_0", DequantQ4_0);
  BF_EXPORT_PAIR(exports, "dequantizeQ4_K", DequantQ4_K);
  BF_EXPORT_PAIR(exports, "quantizeI8c", QuantI8c);
  BF_EXPORT_PAIR(exports, "dequantizeI8c", DequantI8c);
  BF_EXPORT_PAIR(exports, "quantizeI4g", QuantI4g);
  BF_EXPORT_PAIR(exports, "dequantizeI4g", DequantI4g);
}

}  // namespace bitflash::napi
