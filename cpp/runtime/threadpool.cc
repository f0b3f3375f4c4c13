// Persistent thread pool. Idle workers block on a condition variable (0% CPU when idle); a job is
// a parallel-for whose tasks are claimed with an atomic counter, the caller working as worker 0.
#include "bitflash/threadpool.h"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "bitflash/error.h"

#if defined(__linux__)
#include <sched.h>
#endif

namespace bitflash {

namespace {
thread_local bool tl_in_job = false;  // nested parallel_for runs inline instead of deadlocking

int read_int_file(const char* path) {
  FILE* f = std::fopen(path, "r");
  if (!f) return -1;
  int v = -1;
  if (std::fscanf(f, "%d", &v) != 1) v = -1;
  std::fclose(f);
  return v;
}
}  // namespace

unsigned physical_cores() {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    std::set<std::pair<int, int>> cores;
    int logical = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
      if (!CPU_ISSET(cpu, &set)) continue;
      logical++;
      char p[128];
      std::snprintf(p, sizeof p, "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
      const int core = read_int_file(p);
      std::snprintf(p, sizeof p, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
      const int pkg = read_int_file(p);
      cores.insert({pkg, core < 0 ? cpu : core});
    }
    if (!cores.empty()) return static_cast<unsigned>(cores.size());
    if (logical > 0) return static_cast<unsigned>(logical);
  }
#endif
  const unsigned hc = std::thread::hardware_concurrency();
  return hc ? hc : 1;
}

struct ThreadPool::Impl {
  std::mutex submit_mu;  // one job at a time
  std::mutex mu;
  std::condition_variable cv_work, cv_done;
  std::vector<std::thread> workers;
  bool stop = false;
  uint64_t generation = 0;

  // current job
  const TaskFn* fn = nullptr;
  size_t n_tasks = 0;
  unsigned job_workers = 0;  // helpers taking part (excluding the caller)
  std::atomic<size_t> next{0};
  unsigned pending = 0;  // helpers not yet finished with the job
  std::exception_ptr error;
  std::mutex error_mu;

  void run_tasks(unsigned worker) {
    for (;;) {
      const size_t t = next.fetch_add(1, std::memory_order_relaxed);
      if (t >= n_tasks) break;
      try {
        (*fn)(t, worker);
      } catch (...) {
        std::lock_guard<std::mutex> lk(error_mu);
        if (!error) error = std::current_exception();
        next.store(n_tasks, std::memory_order_relaxed);  // stop handing out tasks
      }
    }
  }

  // `seen` starts at the generation current when the worker was created: a worker started by
  // set_threads() must not take part in (or count itself out of) a job that ended before it existed.
  void worker_main(unsigned idx, uint64_t seen) {
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(mu);
        cv_work.wait(lk, [&] { return stop || generation != seen; });
        if (stop) return;
        seen = generation;
        if (idx >= job_workers) continue;
      }
      tl_in_job = true;
      run_tasks(idx + 1);
      tl_in_job = false;
      std::lock_guard<std::mutex> lk(mu);
      if (--pending == 0) cv_done.notify_one();
    }
  }

  void start(unsigned total) {
    stop = false;
    const uint64_t gen = generation;
    for (unsigned i = 0; i + 1 < total; i++) workers.emplace_back([this, i, gen] { worker_main(i, gen); });
  }

  void shutdown() {
    {
      std::lock_guard<std::mutex> lk(mu);
      stop = true;
    }
    cv_work.notify_all();
    for (auto& t : workers) t.join();
    workers.clear();
  }
};

static unsigned default_threads() {
  if (const char* e = std::getenv("BITFLASH_THREADS")) {
    const long v = std::strtol(e, nullptr, 10);
    if (v >= 1 && v <= 1024) return static_cast<unsigned>(v);
  }
  return physical_cores();
}

ThreadPool::ThreadPool() : impl_(new Impl) { impl_->start(default_threads()); }

ThreadPool::~ThreadPool() {
  impl_->shutdown();
  delete impl_;
}

ThreadPool& ThreadPool::global() {
  // Leaked on purpose: worker threads must not be joined from static destructors at process exit, and
  // no environment may stop them either: one pool serves every Node environment of the process (the
  // main thread and each worker_threads Worker), so it lives as long as the process; idle workers sleep
  // on a condition variable.
  static ThreadPool* pool = new ThreadPool();
  return *pool;
}

void ThreadPool::set_threads(unsigned n) {
  BITFLASH_CHECK(n <= 1024, kErrArg, "setThreads: expected 0 (default) to 1024 threads");
  if (n == 0) n = default_threads();
  std::lock_guard<std::mutex> lk(impl_->submit_mu);
  if (n == impl_->workers.size() + 1) return;
  impl_->shutdown();
  impl_->start(n);
}

unsigned ThreadPool::threads() const {
  std::lock_guard<std::mutex> lk(impl_->submit_mu);
  return static_cast<unsigned>(impl_->workers.size()) + 1;
}

void ThreadPool::parallel_for(size_t n_tasks, const TaskFn& fn, unsigned max_threads) {
  if (n_tasks == 0) return;
  if (tl_in_job) {  // nested: run inline on this thread
    for (size_t t = 0; t < n_tasks; t++) fn(t, 0);
    return;
  }
  std::lock_guard<std::mutex> submit(impl_->submit_mu);
  unsigned total = static_cast<unsigned>(impl_->workers.size()) + 1;
  if (max_threads && max_threads < total) total = max_threads;
  if (n_tasks < total) total = static_cast<unsigned>(n_tasks);
  if (total <= 1) {
    tl_in_job = true;
    try {
      for (size_t t = 0; t < n_tasks; t++) fn(t, 0);
    } catch (...) {
      tl_in_job = false;
      throw;
    }
    tl_in_job = false;
    return;
  }
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    impl_->fn = &fn;
    impl_->n_tasks = n_tasks;
    impl_->next.store(0, std::memory_order_relaxed);
    impl_->job_workers = total - 1;
    impl_->pending = total - 1;
    impl_->error = nullptr;
    impl_->generation++;
  }
  impl_->cv_work.notify_all();
  tl_in_job = true;
  impl_->run_tasks(0);
  tl_in_job = false;
  std::unique_lock<std::mutex> lk(impl_->mu);
  impl_->cv_done.wait(lk, [&] { return impl_->pending == 0; });
  impl_->fn = nullptr;
  if (impl_->error) {
    std::exception_ptr e = impl_->error;
    impl_->error = nullptr;
    lk.unlock();
    std::rethrow_exception(e);
  }
}

}  // namespace bitflash
