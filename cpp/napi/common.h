// Shared Node-API helpers: error conversion, typed-array access with checks, and the async job
// that runs native work on libuv's pool and settles a Promise. Only this layer touches Napi.
#pragma once
#include <napi.h>

#include <cstdlib>
#include <memory>
#include <functional>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "bitflash/error.h"

namespace bitflash::napi {

inline Napi::Error make_error(Napi::Env env, const char* code, const std::string& msg) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

// Runs `body`, turning every C++ exception into a JS exception with a `code` (never a crash).
template <class F>
Napi::Value guard(Napi::Env env, F&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const Error& e) {
    throw make_error(env, e.code(), e.what());
  } catch (const std::bad_alloc&) {
    throw make_error(env, kErrNoMem, "bitflash: out of memory");
  } catch (const std::exception& e) {
    throw make_error(env, kErrInternal, std::string("bitflash: internal error: ") + e.what());
  } catch (...) {
    throw make_error(env, kErrInternal, "bitflash: internal error");
  }
}

#define BF_EXPORT(exports, name, fn)                                                          \
  exports.Set(name, Napi::Function::New(                                                      \
                        exports.Env(),                                                        \
                        [](const Napi::CallbackInfo& info) -> Napi::Value {                   \
                          return ::bitflash::napi::guard(info.Env(), [&] { return fn(info); }); \
                        },                                                                    \
                        name))

inline void arg_count(const Napi::CallbackInfo& info, size_t n, const char* fn) {
  if (info.Length() < n)
    fail(kErrArg, std::string(fn) + ": expected " + std::to_string(n) + " arguments, received " +
                      std::to_string(info.Length()));
}

template <class T>
struct Span {
  T* data;
  size_t length;  // elements
};

// A view over a TypedArray of exactly element type T (honours byteOffset / length; no copy).
template <class T>
Span<T> typed(const Napi::Value& v, napi_typedarray_type type, const char* what) {
  if (!v.IsTypedArray()) fail(kErrArg, std::string(what) + ": expected a TypedArray");
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != type) fail(kErrArg, std::string(what) + ": wrong TypedArray element type");
  Napi::ArrayBuffer ab = ta.ArrayBuffer();
  const size_t off = ta.ByteOffset(), len = ta.ByteLength();
  if (off + len > ab.ByteLength() || off + len < off) fail(kErrArg, std::string(what) + ": view out of its buffer");
  if (len > 0 && ab.Data() == nullptr) fail(kErrArg, std::string(what) + ": detached buffer");
  return {reinterpret_cast<T*>(static_cast<uint8_t*>(ab.Data()) + off), len / sizeof(T)};
}

// Largest dimension accepted from JS (2^40): far beyond any real tensor, small enough that products
// of a few of them are still checked for overflow by the core.
inline constexpr double kMaxDim = 1099511627776.0;

// An integer argument in [lo, hi] (a JS number).
inline size_t size_arg(const Napi::Value& v, const char* fn, const char* what, double lo, double hi) {
  if (!v.IsNumber()) fail(kErrArg, std::string(fn) + ": " + what + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || d != static_cast<double>(static_cast<uint64_t>(d)))
    fail(kErrArg, std::string(fn) + ": " + what + " must be an integer from " + std::to_string(static_cast<uint64_t>(lo)) +
                      " to " + std::to_string(static_cast<uint64_t>(hi)));
  return static_cast<size_t>(d);
}

inline bool absent(const Napi::Value& v) { return v.IsNull() || v.IsUndefined(); }

// Ops written once as F(info, async): `async` true returns a Promise (an AsyncWorker job), false runs inline.
template <Napi::Value (*F)(const Napi::CallbackInfo&, bool), bool Async>
Napi::Value bind_async(const Napi::CallbackInfo& info) {
  return F(info, Async);
}

// Exports F as `name` (Promise) and `nameSync`.
#define BF_EXPORT_PAIR(exports, name, F)                                       \
  do {                                                                         \
    BF_EXPORT(exports, name "Sync", (::bitflash::napi::bind_async<F, false>)); \
    BF_EXPORT(exports, name, (::bitflash::napi::bind_async<F, true>));         \
  } while (0)

inline double number(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) fail(kErrArg, std::string(what) + ": expected a number");
  return v.As<Napi::Number>().DoubleValue();
}

// Async job: `work` runs on a libuv worker thread and must not touch any Napi value; `done`
// builds the resolved value on the main thread. Values passed in `keep` stay referenced (not
// collected) until the job settles.
class Job : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Done = std::function<Napi::Value(Napi::Env)>;

  static Napi::Promise start(Napi::Env env, const char* name, Work work, Done done,
                             const std::vector<Napi::Value>& keep = {}) {
    Job* job = new Job(env, name, std::move(work), std::move(done));
    for (const Napi::Value& v : keep)
      if (v.IsObject()) job->keep_.push_back(Napi::Persistent(v.As<Napi::Object>()));
    Napi::Promise p = job->deferred_.Promise();
    job->Queue();
    return p;
  }

 protected:
  void Execute() override {
    try {
      work_();
    } catch (const Error& e) {
      fail(e.code(), e.what());
    } catch (const std::bad_alloc&) {
      fail(kErrNoMem, "bitflash: out of memory");
    } catch (const std::exception& e) {
      fail(kErrInternal, std::string("bitflash: internal error: ") + e.what());
    } catch (...) {
      fail(kErrInternal, "bitflash: internal error");
    }
  }

  // Settles the Promise on the main thread. Replaces AsyncWorker's version, which let a Napi::Error
  // escape when the environment was shutting down (a worker_threads Worker terminated with this job in
  // flight: napi_resolve_deferred fails, the rethrow in its callback wrapper fails too, and the process
  // aborted with "terminate called after throwing an instance of 'Napi::Error'"). Here nothing escapes:
  // a Promise that cannot be settled any more belongs to an environment nobody can observe.
  void OnWorkComplete(Napi::Env env, napi_status status) override {
    if (status != napi_cancelled) {
      try {
        Napi::HandleScope scope(env);
        settle(env);
      } catch (...) {
        // the environment is going away (or cannot run JS): leave the Promise unsettled
      }
    }
    Destroy();
  }

 private:
  void fail(const char* code, std::string msg) {
    failed_ = true;
    code_ = code;
    message_ = std::move(msg);
  }
  void settle(Napi::Env env) {
    if (failed_) {
      deferred_.Reject(make_error(env, code_, message_).Value());
      return;
    }
    Napi::Value v;
    try {
      v = done_ ? done_(env) : env.Undefined();
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
      return;
    } catch (const Error& e) {
      deferred_.Reject(make_error(env, e.code(), e.what()).Value());
      return;
    } catch (...) {
      deferred_.Reject(make_error(env, kErrInternal, "bitflash: internal error").Value());
      return;
    }
    deferred_.Resolve(v);
  }

  Job(Napi::Env env, const char* name, Work work, Done done)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)),
        done_(std::move(done)) {}
  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  std::vector<Napi::ObjectReference> keep_;
  bool failed_ = false;
  const char* code_ = kErrInternal;
  std::string message_;
};

// Ops written once for both call patterns: async false runs `work` here and returns undefined; async
// true queues it as a Job and returns its Promise, `keep` staying referenced until it settles.
template <class Work>
Napi::Value run_or_queue(const Napi::CallbackInfo& info, bool async, const char* name, Work work,
                         const std::vector<Napi::Value>& keep) {
  if (!async) {
    work();
    return info.Env().Undefined();
  }
  return Job::start(info.Env(), name, work, nullptr, keep);
}

// Native memory owned by JS handles (packed weights): 64-byte aligned, freed with its last reference,
// so a job still reading it keeps it alive after the handle is disposed.
struct OwnedBuffer {
  uint8_t* p = nullptr;
  size_t bytes = 0;
  ~OwnedBuffer() { std::free(p); }
};
using OwnedRef = std::shared_ptr<OwnedBuffer>;

inline OwnedRef alloc_owned(size_t bytes) {
  auto b = std::make_shared<OwnedBuffer>();
  const size_t rounded = (bytes + 63) / 64 * 64;
  b->p = static_cast<uint8_t*>(std::aligned_alloc(64, rounded ? rounded : 64));
  if (!b->p) throw std::bad_alloc();
  b->bytes = bytes;
  return b;
}

}  // namespace bitflash::napi
