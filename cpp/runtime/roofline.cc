// Roofline measurements on the thread pool: every thread of the job runs its share at once.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "bitflash/error.h"
#include "bitflash/roofline.h"
#include "bitflash/threadpool.h"

namespace bitflash {
namespace {

double now_s() {
  using clk = std::chrono::steady_clock;
  return std::chrono::duration<double>(clk::now().time_since_epoch()).count();
}

std::atomic<int64_t> g_sink{0};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

Measure peak(const Variant<PeakFn>& k, unsigned threads, double seconds, unsigned reps) {
  BITFLASH_CHECK(threads >= 1 && reps >= 1 && seconds > 0, kErrArg, "roofline: threads, reps and seconds must be positive");
  // Calibrate iterations on one thread so each rep runs about `seconds`.
  int64_t s = 0;
  uint64_t iters = 1 << 16;
  for (;;) {
    const double t0 = now_s();
    k.fn(iters, &s);
    const double dt = now_s() - t0;
    if (dt > 0.02 || iters > (1ull << 40)) {
      iters = static_cast<uint64_t>(static_cast<double>(iters) * seconds / std::max(dt, 1e-9)) + 1;
      break;
    }
    iters *= 4;
  }
  g_sink += s;
  std::vector<double> gops;
  for (unsigned r = 0; r < reps; r++) {
    std::atomic<double> ops{0};
    const double t0 = now_s();
    ThreadPool::global().parallel_for(threads, [&](size_t, unsigned) {
      int64_t sink = 0;
      const double o = k.fn(iters, &sink);
      double cur = ops.load();
      while (!ops.compare_exchange_weak(cur, cur + o)) {
      }
      g_sink += sink;
    }, threads);
    const double dt = now_s() - t0;
    gops.push_back(ops.load() / dt / 1e9);
  }
  return {*std::max_element(gops.begin(), gops.end()), median(gops), threads, k.name};
}

}  // namespace

Measure measure_read_bandwidth(size_t bytes, unsigned threads, unsigned reps) {
  BITFLASH_CHECK(threads >= 1 && reps >= 1, kErrArg, "roofline: threads and reps must be positive");
  BITFLASH_CHECK(bytes >= (1u << 20), kErrArg, "roofline: buffer must be at least 1 MiB");
  const size_t chunk = 4096;
  bytes -= bytes % (chunk * threads);
  uint8_t* buf = static_cast<uint8_t*>(std::aligned_alloc(4096, bytes));
  BITFLASH_CHECK(buf != nullptr, kErrNoMem, "roofline: cannot allocate the read buffer");
  std::unique_ptr<uint8_t, void (*)(void*)> hold(buf, std::free);
  const size_t per = bytes / threads;
  // First touch from the threads that will read, so pages are where they are read.
  ThreadPool::global().parallel_for(threads, [&](size_t t, unsigned) { std::memset(buf + t * per, 1, per); }, threads);
  const Variant<ReadSumFn>& k = read_sum_kernel();
  std::vector<double> gbs;
  for (unsigned r = 0; r < reps; r++) {
    std::atomic<uint64_t> sum{0};
    const double t0 = now_s();
    ThreadPool::global().parallel_for(threads, [&](size_t t, unsigned) { sum += k.fn(buf + t * per, per); }, threads);
    const double dt = now_s() - t0;
    g_sink += static_cast<int64_t>(sum.load());
    gbs.push_back(static_cast<double>(bytes) / dt / 1e9);
  }
  return {*std::max_element(gbs.begin(), gbs.end()), median(gbs), threads, k.name};
}

Measure measure_i8_peak(unsigned threads, double seconds, unsigned reps) {
  return peak(i8_peak_kernel(), threads, seconds, reps);
}
Measure measure_f32_peak(unsigned threads, double seconds, unsigned reps) {
  return peak(f32_peak_kernel(), threads, seconds, reps);
}

}  // namespace bitflash
