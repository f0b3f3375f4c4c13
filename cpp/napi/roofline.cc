// Roofline measurements, async (they run for seconds).
#include "bitflash/roofline.h"
#include "bitflash/threadpool.h"
#include "common.h"

namespace bitflash::napi {
namespace {

Napi::Value to_js(Napi::Env env, const Measure& m) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("best", m.value);
  o.Set("median", m.median);
  o.Set("threads", m.threads);
  o.Set("kernel", m.kernel);
  return o;
}

unsigned threads_arg(const Napi::Value& v, const char* fn) {
  const double t = number(v, fn);
  const unsigned pool = ThreadPool::global().threads();
  if (!(t >= 1 && t <= pool) || t != static_cast<double>(static_cast<unsigned>(t)))
    fail(kErrArg, std::string(fn) + ": threads must be an integer from 1 to getThreads() (" + std::to_string(pool) + ")");
  return static_cast<unsigned>(t);
}

unsigned reps_arg(const Napi::Value& v, const char* fn) {
  const double r = number(v, fn);
  if (!(r >= 1 && r <= 1000) || r != static_cast<double>(static_cast<unsigned>(r)))
    fail(kErrArg, std::string(fn) + ": reps must be an integer from 1 to 1000");
  return static_cast<unsigned>(r);
}

Napi::Value ReadBandwidth(const Napi::CallbackInfo& info) {
  arg_count(info, 3, "measureReadBandwidth");
  const double bytes = number(info[0], "measureReadBandwidth");
  if (!(bytes >= (1 << 20) && bytes <= 64.0 * (1ull << 30)))
    fail(kErrArg, "measureReadBandwidth: bytes must be from 1 MiB to 64 GiB");
  const unsigned t = threads_arg(info[1], "measureReadBandwidth");
  const unsigned r = reps_arg(info[2], "measureReadBandwidth");
  auto m = std::make_shared<Measure>();
  const size_t b = static_cast<size_t>(bytes);
  return Job::start(info.Env(), "bitflash.roofline", [=] { *m = measure_read_bandwidth(b, t, r); },
                    [m](Napi::Env env) { return to_js(env, *m); });
}

template <Measure (*F)(unsigned, double, unsigned)>
Napi::Value Peak(const Napi::CallbackInfo& info) {
  arg_count(info, 3, "measurePeak");
  const unsigned t = threads_arg(info[0], "measurePeak");
  const double s = number(info[1], "measurePeak");
  if (!(s > 0 && s <= 60)) fail(kErrArg, "measurePeak: seconds must be in (0, 60]");
  const unsigned r = reps_arg(info[2], "measurePeak");
  auto m = std::make_shared<Measure>();
  return Job::start(info.Env(), "bitflash.roofline", [=] { *m = F(t, s, r); },
                    [m](Napi::Env env) { return to_js(env, *m); });
}

}  // namespace

void InitRoofline(Napi::Env env, Napi::Object exports) {
  BF_EXPORT(exports, "measureReadBandwidth", ReadBandwidth);
  BF_EXPORT(exports, "measureI8Peak", Peak<measure_i8_peak>);
  BF_EXPORT(exports, "measureF32Peak", Peak<measure_f32_peak>);
}

}  // namespace bitflash::napi
