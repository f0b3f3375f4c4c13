// Concurrency stress for ThreadSanitizer (scripts/test-cpp.mjs --sanitize=thread runs this file with
// test_threadpool.cc and test_io*.cc): the global thread pool driven by several caller threads at once
// while another thread resizes it, and one ReaderPool serving concurrent batches from several threads
// while stats are read and reset and a fault hook is swapped. Every result is checked, so the test
// also means something without TSan.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bitflash/error.h"
#include "bitflash/io.h"
#include "bitflash/threadpool.h"

using namespace bitflash;
using namespace bitflash::io;

TEST_CASE("stress: parallel_for from several caller threads while the pool is resized") {
  ThreadPool& pool = ThreadPool::global();
  pool.set_threads(4);
  constexpr int kCallers = 4, kJobs = 150;
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::thread resizer([&] {
    unsigned n = 1;
    while (!done.load()) {
      pool.set_threads(1 + n++ % 4);
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; c++) {
    callers.emplace_back([&, c] {
      std::mt19937 rng(static_cast<unsigned>(c));
      for (int j = 0; j < kJobs; j++) {
        const size_t n = 1 + rng() % 200;
        std::vector<uint32_t> out(n, 0);  // plain memory: each task writes its own element
        if (j % 17 == 5) {
          // an exception in one task reaches this caller, and only this caller
          bool caught = false;
          try {
            pool.parallel_for(n, [&](size_t t, unsigned) {
              if (t == n / 2) throw std::runtime_error("task failed");
              out[t] = 1;
            });
          } catch (const std::runtime_error&) {
            caught = true;
          }
          if (!caught) bad++;
          continue;
        }
        pool.parallel_for(n, [&](size_t t, unsigned) {
          out[t] = static_cast<uint32_t>(t * 3 + c);
          if (t % 50 == 0) {  // nested: runs inline on the worker
            std::atomic<int> inner{0};
            pool.parallel_for(3, [&](size_t, unsigned) { inner++; });
            if (inner.load() != 3) bad++;
          }
        }, j % 3 == 0 ? 2 : 0);
        for (size_t t = 0; t < n; t++)
          if (out[t] != t * 3 + c) bad++;
      }
    });
  }
  for (auto& t : callers) t.join();
  done = true;
  resizer.join();
  CHECK(bad.load() == 0);
  pool.set_threads(0);
}

namespace {
uint8_t byte_at(uint64_t i) { return static_cast<uint8_t>((i * 2654435761u) >> 7); }

struct StressFile {
  std::string path;
  explicit StressFile(size_t bytes) {
    path = "/tmp/bitflash-stress-" + std::to_string(getpid());
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    std::vector<uint8_t> b(bytes);
    for (size_t i = 0; i < bytes; i++) b[i] = byte_at(i);
    REQUIRE(::pwrite(fd, b.data(), bytes, 0) == static_cast<ssize_t>(bytes));
    ::close(fd);
  }
  ~StressFile() { ::unlink(path.c_str()); }
};
}  // namespace

TEST_CASE("stress: one ReaderPool, concurrent batches, stats and fault-hook changes") {
  constexpr size_t kSize = 4 << 20;
  StressFile tf(kSize);
  File f(tf.path, DirectMode::Never);
  ReaderOptions ro;
  ro.threads = 4;
  ro.max_read = 64 << 10;
  ReaderPool pool(ro);
  constexpr int kThreads = 4, kBatches = 60;
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  // Side thread: reads and resets stats, and toggles a hook that forces EINTR and short reads
  // (both retried by the pool, so every batch must still succeed with the right bytes).
  std::thread side([&] {
    std::atomic<uint64_t> calls{0};
    int round = 0;
    while (!done.load()) {
      (void)pool.stats();
      if (round % 7 == 0) pool.reset_stats();
      if (round % 2 == 0) {
        set_fault_hook([&calls](FaultOp op, const File&, uint64_t, size_t len) {
          FaultAction a;
          if (op != FaultOp::Read) return a;
          const uint64_t k = calls.fetch_add(1);
          if (k % 5 == 0) a.error = EINTR;
          else if (k % 5 == 1 && len > 1) a.max_bytes = len / 2;
          return a;
        });
      } else {
        clear_fault_hook();
      }
      round++;
      std::this_thread::yield();
    }
    clear_fault_hook();
  });
  std::vector<std::thread> ts;
  for (int c = 0; c < kThreads; c++) {
    ts.emplace_back([&, c] {
      std::mt19937_64 rng(1000 + c);
      for (int b = 0; b < kBatches; b++) {
        const size_t n = 1 + rng() % 24;
        std::vector<std::vector<uint8_t>> bufs(n);
        std::vector<ReadRequest> batch;
        for (size_t i = 0; i < n; i++) {
          const size_t len = 1 + rng() % (96 << 10);
          const uint64_t off = rng() % (kSize - len);
          bufs[i].assign(len, 0);
          batch.push_back({&f, off, len, bufs[i].data()});
        }
        try {
          if (b % 2) {
            pool.read(batch);
          } else {
            const Ticket t = pool.submit(batch);
            while (!pool.ready(t)) std::this_thread::yield();
            pool.wait(t);
          }
        } catch (const Error& e) {
          bad++;
          continue;
        }
        for (size_t i = 0; i < n; i++)
          for (size_t j = 0; j < bufs[i].size(); j++)
            if (bufs[i][j] != byte_at(batch[i].offset + j)) {
              bad++;
              break;
            }
      }
    });
  }
  for (auto& t : ts) t.join();
  done = true;
  side.join();
  CHECK(bad.load() == 0);
}
