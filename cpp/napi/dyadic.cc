// Dyadic integer-only ops (issue 6): dyadic_from_scale, requantize, and the prepare / apply pairs of
// add with rescale, i-exp, softmax, i-GELU, ShiftGELU, SiLU, LayerNorm and RMSNorm. A prepare call
// returns a type-tagged External owning the op's integer constants (opaque to JS; lib/ops/dyadic.ts
// wraps it); apply calls check every length here and the core re-checks the constants. Also the f32
// AVX2 counterparts used by `bitflash bench dyadic` (bench only, not exported by lib/index.ts).
#include <cstdint>
#include <memory>
#include <string>

#include "bitflash/dyadic-float.h"
#include "bitflash/dyadic.h"
#include "bitflash/isa.h"
#include "common.h"

namespace bitflash::napi {
namespace {

enum class Op : int { add, exp, softmax, gelu, shift_gelu, silu, layernorm, rmsnorm };

struct OpParams {
  Op op;
  AddParams add{};
  ExpParams exp{};
  SoftmaxParams softmax{};
  GeluParams gelu{};
  SigmoidMulParams sig{};
  std::shared_ptr<NormPrepared> norm;  // shared with running jobs
};
using ParamsRef = std::shared_ptr<const OpParams>;
struct ParamsHolder {
  ParamsRef ref;
  int64_t reported = 0;  // native bytes reported to V8 (napi_adjust_external_memory)
};
const napi_type_tag kParamsTag = {0x3d5a7c1e9b2f4a60ULL, 0x91c3e5a7b9d1f203ULL};

double num(const Napi::Value& v, const char* fn, const char* what) {
  if (!v.IsNumber()) fail(kErrArg, std::string(fn) + ": " + what + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}
int32_t int_arg(const Napi::Value& v, const char* fn, const char* what, double lo, double hi) {
  const double d = num(v, fn, what);
  if (!(d >= lo && d <= hi) || d != static_cast<double>(static_cast<int64_t>(d)))
    fail(kErrArg, std::string(fn) + ": " + what + " must be an integer from " + std::to_string(static_cast<int64_t>(lo)) +
                      " to " + std::to_string(static_cast<int64_t>(hi)));
  return static_cast<int32_t>(d);
}
size_t size_arg(const Napi::Value& v, const char* fn, const char* what) {
  const double d = num(v, fn, what);
  if (!(d >= 0 && d <= 1099511627776.0) || d != static_cast<double>(static_cast<uint64_t>(d)))
    fail(kErrArg, std::string(fn) + ": " + what + " must be a non-negative integer");
  return static_cast<size_t>(d);
}
void need(size_t have, size_t want, const char* fn, const char* what) {
  if (have != want)
    fail(kErrArg, std::string(fn) + ": " + what + " holds " + std::to_string(have) + " elements, expected " + std::to_string(want));
}

Napi::Value wrap(Napi::Env env, ParamsRef p) {
  // The handle is a small JS object over native memory (64 KiB for an add's pair table): report it to
  // V8, or a program that prepares often (and never forces a GC) keeps thousands of them unreleased
  // because the collector sees no pressure (found by scripts/leak-check.mjs: ~56 KiB per prepare held
  // between collections).
  const int64_t bytes = static_cast<int64_t>(sizeof(OpParams) + (p->add.yab ? 65536 : 0));
  auto* holder = new ParamsHolder{std::move(p), bytes};
  Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
  auto ext = Napi::External<ParamsHolder>::New(env, holder, [](Napi::Env e, ParamsHolder* h) {
    Napi::MemoryManagement::AdjustExternalMemory(e, -h->reported);
    delete h;
  });
  ext.TypeTag(&kParamsTag);
  return ext;
}
ParamsRef params_arg(const Napi::Value& v, const char* fn) {
  if (!v.IsExternal()) fail(kErrArg, std::string(fn) + ": params must be a handle returned by a dyadic prepare function");
  auto ext = v.As<Napi::External<ParamsHolder>>();
  if (!ext.CheckTypeTag(&kParamsTag)) fail(kErrArg, std::string(fn) + ": params must be a handle returned by a dyadic prepare function");
  return ext.Data()->ref;
}

Napi::Object dyadic_obj(Napi::Env env, Dyadic d) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("m", Napi::Number::New(env, d.m));
  o.Set("s", Napi::Number::New(env, d.s));
  return o;
}

// dyadicFromScale(x) -> { m, s }
Napi::Value FromScale(const Napi::CallbackInfo& info) {
  arg_count(info, 1, "dyadicFromScale");
  return dyadic_obj(info.Env(), dyadic_from_scale(num(info[0], "dyadicFromScale", "x")));
}

// requantize(in: Int32Array, m: Int32Array, s: Int32Array, zeroPoint, outType: 'i8'|'u8'|'i16', out)
Napi::Value Requantize(const Napi::CallbackInfo& info, bool async) {
  const char* fn = async ? "requantize" : "requantizeSync";
  arg_count(info, 6, fn);
  auto in = typed<int32_t>(info[0], napi_int32_array, "x");
  auto ms = typed<int32_t>(info[1], napi_int32_array, "multiplier.m");
  auto ss = typed<int32_t>(info[2], napi_int32_array, "multiplier.s");
  need(ss.length, ms.length, fn, "multiplier.s");
  if (ms.length == 0) fail(kErrArg, std::string(fn) + ": at least one multiplier is needed");
  auto mult = std::make_shared<std::vector<Dyadic>>(ms.length);
  for (size_t i = 0; i < ms.length; i++) (*mult)[i] = {ms.data[i], ss.data[i]};
  const int32_t zp = int_arg(info[3], fn, "zeroPoint", -32768, 32767);
  if (!info[4].IsString()) fail(kErrArg, std::string(fn) + ": out must be 'i8', 'u8' or 'i16'");
  const std::string t = info[4].As<Napi::String>().Utf8Value();
  DType dt;
  void* out;
  size_t out_len;
  if (t == "i8") {
    auto o = typed<int8_t>(info[5], napi_int8_array, "out");
    dt = DType::i8, out = o.data, out_len = o.length;
  } else if (t == "u8") {
    auto o = typed<uint8_t>(info[5], napi_uint8_array, "out");
    dt = DType::u8, out = o.data, out_len = o.length;
  } else if (t == "i16") {
    auto o = typed<int16_t>(info[5], napi_int16_array, "out");
    dt = DType::i16, out = o.data, out_len = o.length;
  } else {
    fail(kErrArg, std::string(fn) + ": out must be 'i8', 'u8' or 'i16'");
  }
  need(out_len, in.length, fn, "out");
  auto work = [=] { requantize(in.data, in.length, mult->data(), mult->size(), zp, dt, out); };
  return run_or_queue(info, async, "bitflash.requantize", work, {info[0], info[5]});
}

ExpMethod method_arg(const Napi::Value& v, const char* fn) {
  if (!v.IsString()) fail(kErrArg, std::string(fn) + ": method must be 'ibert' or 'shiftmax'");
  const std::string s = v.As<Napi::String>().Utf8Value();
  if (s == "ibert") return ExpMethod::ibert_poly;
  if (s == "shiftmax") return ExpMethod::shift;
  fail(kErrArg, std::string(fn) + ": method must be 'ibert' or 'shiftmax'");
}

// dyadicPrepare(op: string, cfg: object) -> handle
Napi::Value Prepare(const Napi::CallbackInfo& info) {
  const char* fn = "dyadicPrepare";
  arg_count(info, 2, fn);
  if (!info[0].IsString() || !info[1].IsObject()) fail(kErrArg, std::string(fn) + ": expected (op, config)");
  const std::string op = info[0].As<Napi::String>().Utf8Value();
  Napi::Object c = info[1].As<Napi::Object>();
  auto p = std::make_shared<OpParams>();
  auto zp = [&](const char* k) { return int_arg(c.Get(k), fn, k, -128, 127); };
  auto sc = [&](const char* k) { return num(c.Get(k), fn, k); };
  if (op == "add") {
    p->op = Op::add;
    p->add = add_prepare(sc("aScale"), zp("aZeroPoint"), sc("bScale"), zp("bZeroPoint"), sc("outScale"), zp("outZeroPoint"));
  } else if (op == "exp") {
    p->op = Op::exp;
    p->exp = exp_prepare(sc("scale"), method_arg(c.Get("method"), fn));
  } else if (op == "softmax") {
    p->op = Op::softmax;
    p->softmax = softmax_prepare(sc("scale"), method_arg(c.Get("method"), fn));
  } else if (op == "gelu") {
    p->op = Op::gelu;
    p->gelu = gelu_prepare(sc("inScale"), sc("outScale"), zp("outZeroPoint"));
  } else if (op == "shiftGelu" || op == "silu") {
    p->op = op == "silu" ? Op::silu : Op::shift_gelu;
    p->sig = sigmoid_mul_prepare(op == "silu" ? SigmoidAct::silu : SigmoidAct::shift_gelu, sc("inScale"), sc("outScale"),
                                 zp("outZeroPoint"));
  } else if (op == "layerNorm" || op == "rmsNorm") {
    const bool ln = op == "layerNorm";
    p->op = ln ? Op::layernorm : Op::rmsnorm;
    auto g = typed<float>(c.Get("gamma"), napi_float32_array, "gamma");
    const float* beta = nullptr;
    Napi::Value bv = c.Get("beta");
    if (!bv.IsUndefined() && !bv.IsNull()) {
      auto b = typed<float>(bv, napi_float32_array, "beta");
      need(b.length, g.length, fn, "beta");
      beta = b.data;
    }
    p->norm = std::make_shared<NormPrepared>();
    norm_prepare(*p->norm, ln, g.length, g.data, beta, sc("outScale"), zp("outZeroPoint"));
  } else {
    fail(kErrArg, std::string(fn) + ": unknown op " + op);
  }
  return wrap(info.Env(), p);
}

// dyadicParamsInfo(handle) -> the integer constants (for inspection and the docs)
Napi::Value ParamsInfo(const Napi::CallbackInfo& info) {
  arg_count(info, 1, "dyadicParamsInfo");
  ParamsRef p = params_arg(info[0], "dyadicParamsInfo");
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  auto n = [&](const char* k, double v) { o.Set(k, Napi::Number::New(env, v)); };
  switch (p->op) {
    case Op::add:
      n("aZeroPoint", p->add.a_zp), n("bZeroPoint", p->add.b_zp), n("outZeroPoint", p->add.y_zp), n("leftShift", p->add.left_shift);
      o.Set("aMultiplier", dyadic_obj(env, p->add.a_mult));
      o.Set("bMultiplier", dyadic_obj(env, p->add.b_mult));
      o.Set("outMultiplier", dyadic_obj(env, p->add.y_mult));
      break;
    case Op::exp:
    case Op::softmax: {
      const ExpParams& e = p->op == Op::exp ? p->exp : p->softmax.exp;
      o.Set("method", e.method == ExpMethod::shift ? "shiftmax" : "ibert");
      n("mul", e.mul), n("g", e.g), n("dMin", e.d_min), n("b", e.b_int), n("c", e.c_int), n("expScale", e.out_scale);
      break;
    }
    case Op::gelu:
      n("k", p->gelu.k), n("B", p->gelu.B), n("C", p->gelu.C), n("n", p->gelu.n), n("ONE", p->gelu.ONE), n("outZeroPoint", p->gelu.y_zp);
      o.Set("outMultiplier", dyadic_obj(env, p->gelu.out));
      break;
    case Op::shift_gelu:
    case Op::silu:
      n("mul", p->sig.mul), n("g", p->sig.g), n("outZeroPoint", p->sig.y_zp);
      o.Set("outMultiplier", dyadic_obj(env, p->sig.out));
      break;
    case Op::layernorm:
    case Op::rmsnorm: {
      const size_t cols = p->norm->cols;
      n("cols", static_cast<double>(cols));
      Napi::Int32Array m = Napi::Int32Array::New(env, cols), s = Napi::Int32Array::New(env, cols), b = Napi::Int32Array::New(env, cols);
      for (size_t j = 0; j < cols; j++) m[j] = p->norm->mult[j].m, s[j] = p->norm->mult[j].s, b[j] = p->norm->bias[j];
      o.Set("m", m), o.Set("s", s), o.Set("bias", b);
      break;
    }
  }
  return o;
}

// dyadicApply(handle, x, b | null, y, rows) ; rows only read by softmax / norms (x.length = rows * cols)
Napi::Value Apply(const Napi::CallbackInfo& info, bool async) {
  const char* fn = async ? "dyadicApply" : "dyadicApplySync";
  arg_count(info, 5, fn);
  ParamsRef p = params_arg(info[0], fn);
  std::function<void()> work;
  switch (p->op) {
    case Op::add: {
      auto a = typed<int8_t>(info[1], napi_int8_array, "a");
      auto b = typed<int8_t>(info[2], napi_int8_array, "b");
      auto y = typed<int8_t>(info[3], napi_int8_array, "out");
      need(b.length, a.length, fn, "b");
      need(y.length, a.length, fn, "out");
      work = [=] { add_rescale(a.data, b.data, a.length, p->add, y.data); };
      break;
    }
    case Op::exp: {
      auto d = typed<int16_t>(info[1], napi_int16_array, "x");
      auto y = typed<int32_t>(info[3], napi_int32_array, "out");
      need(y.length, d.length, fn, "out");
      // d <= 0 is checked by the core i_exp (kErrArg: thrown by the sync form, a rejection of the async one)
      work = [=] { i_exp(d.data, d.length, p->exp, y.data); };
      break;
    }
    case Op::softmax: {
      auto x = typed<int8_t>(info[1], napi_int8_array, "x");
      auto y = typed<uint8_t>(info[3], napi_uint8_array, "out");
      const size_t rows = size_arg(info[4], fn, "rows");
      need(y.length, x.length, fn, "out");
      if (rows == 0 || x.length % rows != 0) fail(kErrArg, std::string(fn) + ": x length is not a multiple of rows");
      work = [=] { softmax_int(x.data, rows, x.length / rows, p->softmax, y.data); };
      break;
    }
    case Op::gelu:
    case Op::shift_gelu:
    case Op::silu: {
      auto x = typed<int8_t>(info[1], napi_int8_array, "x");
      auto y = typed<int8_t>(info[3], napi_int8_array, "out");
      need(y.length, x.length, fn, "out");
      if (p->op == Op::gelu) work = [=] { i_gelu(x.data, x.length, p->gelu, y.data); };
      else if (p->op == Op::silu) work = [=] { silu_int(x.data, x.length, p->sig, y.data); };
      else work = [=] { shift_gelu(x.data, x.length, p->sig, y.data); };
      break;
    }
    case Op::layernorm:
    case Op::rmsnorm: {
      auto x = typed<int8_t>(info[1], napi_int8_array, "x");
      auto y = typed<int8_t>(info[3], napi_int8_array, "out");
      need(y.length, x.length, fn, "out");
      const size_t cols = p->norm->cols;
      if (x.length % cols != 0) fail(kErrArg, std::string(fn) + ": x length is not a multiple of the row length " + std::to_string(cols));
      work = [=] { norm_int(x.data, x.length / cols, p->norm->params(), y.data); };
      break;
    }
  }
  return run_or_queue(info, async, "bitflash.dyadicApply", work, {info[1], info[2], info[3]});
}

// dyadicFloatSync(op, x: Float32Array, b: Float32Array | null, y: Float32Array, cols) -- bench only.
// op: softmax | gelu | silu | exp | add | layerNorm | rmsNorm; lengths multiples of 8 (cols too for rows).
Napi::Value FloatOp(const Napi::CallbackInfo& info) {
  const char* fn = "dyadicFloatSync";
  arg_count(info, 5, fn);
#if defined(__x86_64__)
  if (!cpu_supports(Isa::avx2)) fail(kErrUnsupported, std::string(fn) + ": the f32 counterparts need AVX2");
  const std::string op = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  auto x = typed<float>(info[1], napi_float32_array, "x");
  auto y = typed<float>(info[3], napi_float32_array, "y");
  need(y.length, x.length, fn, "y");
  const size_t cols = size_arg(info[4], fn, "cols");
  if (x.length % 8 != 0 || cols == 0 || cols % 8 != 0 || x.length % cols != 0)
    fail(kErrArg, std::string(fn) + ": lengths must be multiples of 8 and of cols");
  const size_t rows = x.length / cols;
  if (op == "softmax") softmax_f32__avx2(x.data, rows, cols, y.data);
  else if (op == "gelu") gelu_f32__avx2(x.data, x.length, y.data);
  else if (op == "silu") silu_f32__avx2(x.data, x.length, y.data);
  else if (op == "exp") exp_f32__avx2(x.data, x.length, y.data);
  else if (op == "add" || op == "layerNorm" || op == "rmsNorm") {
    auto b = typed<float>(info[2], napi_float32_array, "b");
    if (op == "add") {
      need(b.length, x.length, fn, "b");
      add_f32__avx2(x.data, b.data, x.length, y.data);
    } else {
      if (b.length < 2 * cols) fail(kErrArg, std::string(fn) + ": b must hold gamma and beta (2 * cols)");
      norm_f32__avx2(x.data, rows, cols, b.data, b.data + cols, op == "layerNorm", y.data);
    }
  } else {
    fail(kErrArg, std::string(fn) + ": unknown op " + op);
  }
  return info.Env().Undefined();
#else
  fail(kErrUnsupported, std::string(fn) + ": the f32 counterparts are x86-64 AVX2 only");
#endif
}

template <Napi::Value (*F)(const Napi::CallbackInfo&, bool), bool Async>
Napi::Value Bind(const Napi::CallbackInfo& info) {
  return F(info, Async);
}

}  // namespace

void InitDyadic(Napi::Env env, Napi::Object exports) {
  BF_EXPORT(exports, "dyadicFromScale", FromScale);
  BF_EXPORT(exports, "requantizeSync", (Bind<Requantize, false>));
  BF_EXPORT(exports, "requantize", (Bind<Requantize, true>));
  BF_EXPORT(exports, "dyadicPrepare", Prepare);
  BF_EXPORT(exports, "dyadicParamsInfo", ParamsInfo);
  BF_EXPORT(exports, "dyadicApplySync", (Bind<Apply, false>));
  BF_EXPORT(exports, "dyadicApply", (Bind<Apply, true>));
  BF_EXPORT(exports, "dyadicFloatSync", FloatOp);
}

}  // namespace bitflash::napi
