// Thread pool: coverage of every task exactly once, exceptions, nesting, resizing.
#include <doctest/doctest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "bitflash/threadpool.h"

using namespace bitflash;

TEST_CASE("parallel_for runs every task exactly once") {
  ThreadPool& pool = ThreadPool::global();
  for (unsigned threads : {1u, 2u, 3u, 8u}) {
    pool.set_threads(threads);
    CHECK(pool.threads() == threads);
    for (size_t n : {size_t(1), size_t(2), size_t(7), size_t(1000)}) {
      std::vector<std::atomic<int>> hits(n);
      std::atomic<unsigned> max_worker{0};
      pool.parallel_for(n, [&](size_t t, unsigned w) {
        hits[t]++;
        unsigned cur = max_worker.load();
        while (w > cur && !max_worker.compare_exchange_weak(cur, w)) {
        }
      });
      for (size_t i = 0; i < n; i++) CHECK(hits[i].load() == 1);
      CHECK(max_worker.load() < threads);
    }
  }
  pool.set_threads(0);
  CHECK(pool.threads() >= 1);
}

TEST_CASE("exceptions in tasks reach the caller and the pool stays usable") {
  ThreadPool& pool = ThreadPool::global();
  pool.set_threads(2);
  CHECK_THROWS_AS(pool.parallel_for(100, [&](size_t t, unsigned) {
    if (t == 37) throw std::runtime_error("boom");
  }),
                  std::runtime_error);
  std::atomic<size_t> sum{0};
  pool.parallel_for(100, [&](size_t t, unsigned) { sum += t; });
  CHECK(sum.load() == 4950);
}

TEST_CASE("nested parallel_for runs inline") {
  ThreadPool& pool = ThreadPool::global();
  pool.set_threads(2);
  std::atomic<int> count{0};
  pool.parallel_for(4, [&](size_t, unsigned) { pool.parallel_for(5, [&](size_t, unsigned) { count++; }); });
  CHECK(count.load() == 20);
}

TEST_CASE("max_threads limits the workers") {
  ThreadPool& pool = ThreadPool::global();
  pool.set_threads(4);
  std::atomic<unsigned> max_worker{0};
  pool.parallel_for(64, [&](size_t, unsigned w) {
    unsigned cur = max_worker.load();
    while (w > cur && !max_worker.compare_exchange_weak(cur, w)) {
    }
  }, 2);
  CHECK(max_worker.load() < 2);
  pool.set_threads(0);
}

TEST_CASE("physical cores is positive") { CHECK(physical_cores() >= 1); }

TEST_CASE("resizing between jobs never lets a new worker join a finished job") {
  // Regression: workers created by set_threads() used to start from generation 0, wake at once,
  // run the previous job's bookkeeping and corrupt the pending count (an intermittent hang).
  ThreadPool& pool = ThreadPool::global();
  for (int round = 0; round < 300; round++) {
    pool.set_threads(1 + round % 4);
    std::atomic<int> count{0};
    pool.parallel_for(7, [&](size_t, unsigned) { count++; });
    CHECK(count.load() == 7);
  }
  pool.set_threads(0);
}
