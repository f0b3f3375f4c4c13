// One persistent pool of worker threads. Workers sleep on a condition variable between jobs
// (no spinning when idle). A job is a parallel-for over `n_tasks` tiles: the calling thread
// takes part, tiles are handed out with an atomic counter, and the call returns when all are done.
#pragma once
#include <cstddef>
#include <functional>

namespace bitflash {

// fn(task, worker): task in [0, n_tasks), worker in [0, threads()) (0 = the caller).
using TaskFn = std::function<void(size_t task, unsigned worker)>;

// Number of physical cores available to this process (affinity mask, SMT siblings counted once).
unsigned physical_cores();

class ThreadPool {
 public:
  static ThreadPool& global();

  // Total threads used by parallel_for, including the caller. n = 0 restores the default
  // (physical cores, or BITFLASH_THREADS if set). Waits for a running job to finish first.
  void set_threads(unsigned n);
  unsigned threads() const;

  // Runs fn over [0, n_tasks) on up to min(threads(), max_threads) threads (max_threads 0 = no limit).
  // Jobs from different callers are serialized. The first exception thrown by fn is rethrown
  // here after every worker has stopped touching the job.
  void parallel_for(size_t n_tasks, const TaskFn& fn, unsigned max_threads = 0);

  ~ThreadPool();

 private:
  ThreadPool();
  struct Impl;
  Impl* impl_;
};

// Convenience: split [0, n) into chunks of `grain` and run them on the global pool.
inline void parallel_for(size_t n_tasks, const TaskFn& fn, unsigned max_threads = 0) {
  ThreadPool::global().parallel_for(n_tasks, fn, max_threads);
}

}  // namespace bitflash
