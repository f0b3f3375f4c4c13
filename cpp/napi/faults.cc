// Test-only: the JS face of the I/O layer's fault hook (issue 9, item 3). The binding's
// `faultInjection` object is internal (not re-exported by the package); lib/fileio.ts is its only
// caller and refuses to arm anything unless BITFLASH_FAULT_INJECTION=1 is in the environment. With no
// rule armed, no hook is installed and the I/O layer pays one relaxed atomic load per read.
//
//   faultInjection.arm(rules)  rules: [{ op: 'read'|'probe'|'any', path: substring ('' = any file),
//                              errno: n (0 = none), maxBytes: n (-1 = no cap; 0 = EOF),
//                              delayMs: n, after: n (let this many matching calls through first),
//                              count: n (-1 = every later call) }]. Replaces the rules in force.
//   faultInjection.clear()     no rules, no hook (the I/O layer back to one relaxed load per read).
//   faultInjection.stats()     { consulted, injected }: calls that matched a rule, faults returned.
#include <errno.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bitflash/io.h"
#include "common.h"

namespace bitflash::napi {

namespace {

struct Rule {
  int op = -1;  // -1 any, else FaultOp
  std::string path;
  int err = 0;
  int64_t max_bytes = -1;
  int64_t delay_ms = 0;
  int64_t after = 0;
  int64_t count = -1;
};

std::mutex g_mu;
std::vector<Rule> g_rules;  // guarded by g_mu
std::atomic<uint64_t> g_consulted{0}, g_injected{0};

io::FaultAction hook(io::FaultOp op, const io::File& file, uint64_t, size_t) {
  int64_t delay = 0;
  io::FaultAction a;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    for (Rule& r : g_rules) {
      if (r.op >= 0 && r.op != static_cast<int>(op)) continue;
      if (!r.path.empty() && file.path().find(r.path) == std::string::npos) continue;
      g_consulted++;
      if (r.after > 0) {
        r.after--;
        continue;
      }
      if (r.count == 0) continue;
      if (r.count > 0) r.count--;
      delay = r.delay_ms;
      a.error = r.err;
      if (r.max_bytes >= 0) a.max_bytes = static_cast<size_t>(r.max_bytes);
      if (a.error != 0 || r.max_bytes >= 0) g_injected++;
      break;
    }
  }
  if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
  return a;
}

int64_t int_field(const Napi::Object& o, const char* key, int64_t def, int64_t lo, int64_t hi) {
  if (!o.Has(key) || o.Get(key).IsUndefined()) return def;
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) fail(kErrArg, std::string("faultInjection.arm: ") + key + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) || d != static_cast<double>(static_cast<int64_t>(d)))
    fail(kErrArg, std::string("faultInjection.arm: ") + key + " must be an integer in [" + std::to_string(lo) + ", " +
                      std::to_string(hi) + "]");
  return static_cast<int64_t>(d);
}

Napi::Value Arm(const Napi::CallbackInfo& info) {
  arg_count(info, 1, "faultInjection.arm");
  if (!info[0].IsArray()) fail(kErrArg, "faultInjection.arm: expected an array of rules");
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<Rule> rules;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsObject()) fail(kErrArg, "faultInjection.arm: each rule must be an object");
    Napi::Object o = v.As<Napi::Object>();
    Rule r;
    const std::string op = o.Has("op") && o.Get("op").IsString() ? o.Get("op").As<Napi::String>().Utf8Value() : "any";
    if (op == "read") r.op = static_cast<int>(io::FaultOp::Read);
    else if (op == "probe") r.op = static_cast<int>(io::FaultOp::Probe);
    else if (op != "any") fail(kErrArg, "faultInjection.arm: op must be 'read', 'probe' or 'any'");
    if (o.Has("path") && o.Get("path").IsString()) r.path = o.Get("path").As<Napi::String>().Utf8Value();
    r.err = static_cast<int>(int_field(o, "errno", 0, 0, 4095));
    r.max_bytes = int_field(o, "maxBytes", -1, -1, INT64_C(1) << 50);
    r.delay_ms = int_field(o, "delayMs", 0, 0, 10000);
    r.after = int_field(o, "after", 0, 0, INT64_C(1) << 50);
    r.count = int_field(o, "count", -1, -1, INT64_C(1) << 50);
    rules.push_back(std::move(r));
  }
  const bool any = !rules.empty();
  {
    std::lock_guard<std::mutex> lock(g_mu);
    g_rules = std::move(rules);
  }
  if (any) io::set_fault_hook(hook);
  else io::clear_fault_hook();
  return info.Env().Undefined();
}

Napi::Value Clear(const Napi::CallbackInfo& info) {
  io::clear_fault_hook();
  std::lock_guard<std::mutex> lock(g_mu);
  g_rules.clear();
  return info.Env().Undefined();
}

Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("consulted", Napi::Number::New(info.Env(), static_cast<double>(g_consulted.load())));
  o.Set("injected", Napi::Number::New(info.Env(), static_cast<double>(g_injected.load())));
  return o;
}

}  // namespace

void InitFaults(Napi::Env env, Napi::Object exports) {
  Napi::Object f = Napi::Object::New(env);
  BF_EXPORT(f, "arm", Arm);
  BF_EXPORT(f, "clear", Clear);
  BF_EXPORT(f, "stats", Stats);
  exports.Set("faultInjection", f);
}

}  // namespace bitflash::napi
