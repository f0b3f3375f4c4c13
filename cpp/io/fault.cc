// Test-only fault-injection seam (issue 9, item 3) and the read primitive that consults it.
#include <errno.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>

#include "io-internal.h"

namespace bitflash {
namespace io {

namespace {
std::atomic<bool> g_hook_set{false};
std::mutex g_hook_mu;
std::shared_ptr<const FaultHook> g_hook;  // guarded by g_hook_mu

std::shared_ptr<const FaultHook> current_hook() {
  if (!g_hook_set.load(std::memory_order_relaxed)) return nullptr;
  std::lock_guard<std::mutex> lock(g_hook_mu);
  return g_hook;
}
}  // namespace

void set_fault_hook(FaultHook hook) {
  auto p = hook ? std::make_shared<const FaultHook>(std::move(hook)) : nullptr;
  std::lock_guard<std::mutex> lock(g_hook_mu);
  g_hook = std::move(p);
  g_hook_set.store(g_hook != nullptr, std::memory_order_release);
}

void clear_fault_hook() { set_fault_hook(nullptr); }

namespace detail {

ssize_t checked_preadv(FaultOp op, const File& file, const struct iovec* iov, int iovcnt,
                       uint64_t offset, size_t total) {
  size_t cap = SIZE_MAX;
  if (auto hook = current_hook()) {
    FaultAction a = (*hook)(op, file, offset, total);
    if (a.error != 0) {
      errno = a.error;
      return -1;
    }
    if (a.max_bytes == 0) return 0;
    cap = a.max_bytes;
  }
  ssize_t n = ::preadv(file.fd(), iov, iovcnt, static_cast<off_t>(offset));
  if (n > 0 && static_cast<size_t>(n) > cap) n = static_cast<ssize_t>(cap);
  return n;
}

}  // namespace detail
}  // namespace io
}  // namespace bitflash
