// ReaderPool: batches of reads, planned (sorted, split, coalesced, aligned) on submit and executed
// by a few reader threads with preadv.
//
// Planning. Requests are cut into pieces of at most max_read bytes, sorted by (file, offset), and
// a piece joins the previous read when it is on the same file, starts at or after that read's end
// with a gap below max_gap (0 = adjacent only), and the read stays within max_read bytes and 256
// pieces. Overlapping pieces never share a read. Each read is then either
//   scatter: one preadv straight into the destinations, the gaps (and, for O_DIRECT, the
//            alignment padding) landing in a per-thread discard buffer. Always possible for a
//            buffered file; for an O_DIRECT file only when every piece's offset, length and
//            destination are multiples of the block size (the flash layout's 4096-aligned bundles
//            read into the cache's 4096-aligned slots);
//   bounce:  one aligned preadv of the padded span into a per-thread scratch buffer, then memcpy.
// Execution. A read loops until every needed byte has arrived: EINTR is retried, a short count
// continues from where it stopped (rewound to the block boundary for O_DIRECT: re-reading bytes
// already placed writes the same values), 0 before the end is "unexpected end of file", any
// other errno is the batch's error. After a batch's first error its remaining reads are skipped;
// wait() returns only when none of its reads is running.
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/uio.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "bitflash/error.h"
#include "io-internal.h"

namespace bitflash {
namespace io {

namespace {

constexpr size_t kMaxPieces = 256;      // per read (iovecs <= 2 * pieces + 2 < IOV_MAX)
constexpr uint32_t kMaxNoProgress = 64; // consecutive reads that added nothing -> error

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

inline uint64_t align_down(uint64_t x, uint64_t a) { return x / a * a; }
inline uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

struct Piece {
  const File* file;
  uint64_t offset;
  size_t length;
  uint8_t* dst;
};

struct Op {
  const File* file;
  uint64_t start, end;  // bytes needed: [start, end)
  std::vector<Piece> pieces;
  bool bounce = false;
};

struct Batch {
  std::atomic<size_t> remaining{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::exception_ptr error;  // the first one
};

struct Task {
  std::shared_ptr<Batch> batch;
  Op op;
};

struct Seg {
  uint8_t* p;
  size_t len;
};

}  // namespace

struct ReaderPool::Impl {
  ReaderOptions opt;
  size_t bounce_bytes = 0, discard_bytes = 0;
  std::vector<std::thread> threads;
  std::vector<AlignedBuffer> bounce, discard;  // per thread, allocated up front

  std::mutex mu;  // queue, tickets, stop
  std::condition_variable cv;
  std::deque<Task> queue;
  std::unordered_map<Ticket, std::shared_ptr<Batch>> tickets;
  Ticket next_ticket = 1;
  bool stop = false;

  std::mutex busy_mu;  // io_wall_ns bookkeeping
  unsigned active = 0;
  uint64_t busy_since = 0;

  std::atomic<uint64_t> requests{0}, bytes_requested{0}, reads_issued{0}, bytes_read{0},
      requests_coalesced{0}, chunks_split{0}, bounced_reads{0}, retries{0}, errors{0},
      io_wall_ns{0}, read_busy_ns{0};

  void worker(unsigned t);
  void execute(Op& op, uint8_t* bounce, uint8_t* discard);
  std::vector<Op> plan(const std::vector<ReadRequest>& batch);
  static void finish(Batch& b) {
    if (b.remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(b.mu);
      b.done = true;
      b.cv.notify_all();
    }
  }
};

ReaderPool::ReaderPool(const ReaderOptions& options) : impl_(new Impl) {
  Impl& I = *impl_;
  I.opt = options;
  BITFLASH_CHECK(options.threads >= 1 && options.threads <= 256, kErrArg,
                 "ReaderPool: threads must be in [1, 256], got " + std::to_string(options.threads));
  BITFLASH_CHECK(options.max_read >= 4096 && options.max_read <= (size_t(1) << 30), kErrArg,
                 "ReaderPool: max_read must be in [4096, 1 GiB], got " + std::to_string(options.max_read));
  BITFLASH_CHECK(options.max_gap <= options.max_read, kErrArg,
                 "ReaderPool: max_gap must not exceed max_read");
  I.opt.max_read = align_down(options.max_read, 4096);
  I.bounce_bytes = I.opt.max_read + 2 * 4096;
  I.discard_bytes = align_up(std::max<size_t>(I.opt.max_gap, 4096), 4096);
  for (unsigned t = 0; t < I.opt.threads; t++) {
    I.bounce.push_back(make_aligned_buffer(I.bounce_bytes));
    I.discard.push_back(make_aligned_buffer(I.discard_bytes));
  }
  I.threads.reserve(I.opt.threads);
  for (unsigned t = 0; t < I.opt.threads; t++) I.threads.emplace_back([&I, t] { I.worker(t); });
}

ReaderPool::~ReaderPool() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  for (auto& t : impl_->threads) t.join();
}

const ReaderOptions& ReaderPool::options() const { return impl_->opt; }
size_t ReaderPool::scratch_bytes() const {
  return impl_->opt.threads * (impl_->bounce_bytes + impl_->discard_bytes);
}

std::vector<Op> ReaderPool::Impl::plan(const std::vector<ReadRequest>& batch) {
  std::vector<Piece> pieces;
  pieces.reserve(batch.size());
  uint64_t nbytes = 0, nsplit = 0;
  for (size_t i = 0; i < batch.size(); i++) {
    const ReadRequest& r = batch[i];
    const std::string where = "read request " + std::to_string(i);
    BITFLASH_CHECK(r.file != nullptr, kErrArg, where + ": file is null");
    if (r.length == 0) continue;
    BITFLASH_CHECK(r.dst != nullptr, kErrArg, where + ": dst is null");
    BITFLASH_CHECK(r.offset <= r.file->size() && r.length <= r.file->size() - r.offset, kErrArg,
                   where + ": bytes [" + std::to_string(r.offset) + ", " +
                       std::to_string(r.offset + r.length) + ") are outside " + r.file->path() +
                       " (" + std::to_string(r.file->size()) + " bytes)");
    nbytes += r.length;
    uint8_t* dst = static_cast<uint8_t*>(r.dst);
    for (size_t done = 0; done < r.length; done += opt.max_read) {
      size_t len = std::min(opt.max_read, r.length - done);
      pieces.push_back({r.file, r.offset + done, len, dst + done});
      if (done > 0) nsplit++;
    }
  }
  requests += batch.size();
  bytes_requested += nbytes;
  chunks_split += nsplit;
  std::sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) {
    return a.file != b.file ? std::less<const File*>()(a.file, b.file) : a.offset < b.offset;
  });
  std::vector<Op> ops;
  uint64_t ncoalesced = 0;
  for (const Piece& p : pieces) {
    if (opt.coalesce && !ops.empty()) {
      Op& o = ops.back();
      if (o.file == p.file && p.offset >= o.end && (p.offset == o.end || p.offset - o.end < opt.max_gap) &&
          p.offset + p.length - o.start <= opt.max_read && o.pieces.size() < kMaxPieces) {
        o.pieces.push_back(p);
        o.end = p.offset + p.length;
        ncoalesced++;
        continue;
      }
    }
    Op o;
    o.file = p.file;
    o.start = p.offset;
    o.end = p.offset + p.length;
    o.pieces.push_back(p);
    ops.push_back(std::move(o));
  }
  requests_coalesced += ncoalesced;
  for (Op& o : ops) {
    if (!o.file->direct()) continue;
    const uint64_t bs = o.file->block_size();
    for (const Piece& p : o.pieces)
      if (p.offset % bs || p.length % bs || reinterpret_cast<uintptr_t>(p.dst) % bs) o.bounce = true;
  }
  return ops;
}

Ticket ReaderPool::submit(const std::vector<ReadRequest>& batch) {
  Impl& I = *impl_;
  std::vector<Op> ops = I.plan(batch);
  auto b = std::make_shared<Batch>();
  b->remaining.store(ops.size());
  Ticket t;
  {
    std::lock_guard<std::mutex> lock(I.mu);
    t = I.next_ticket++;
    I.tickets.emplace(t, b);
    if (ops.empty()) {
      b->done = true;
    } else {
      for (Op& o : ops) I.queue.push_back(Task{b, std::move(o)});
    }
  }
  if (!ops.empty()) I.cv.notify_all();
  return t;
}

bool ReaderPool::ready(Ticket ticket) const {
  std::shared_ptr<Batch> b;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->tickets.find(ticket);
    BITFLASH_CHECK(it != impl_->tickets.end(), kErrArg,
                   "ReaderPool::ready: unknown or already waited ticket " + std::to_string(ticket));
    b = it->second;
  }
  std::lock_guard<std::mutex> lock(b->mu);
  return b->done;
}

void ReaderPool::wait(Ticket ticket) {
  std::shared_ptr<Batch> b;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->tickets.find(ticket);
    BITFLASH_CHECK(it != impl_->tickets.end(), kErrArg,
                   "ReaderPool::wait: unknown or already waited ticket " + std::to_string(ticket));
    b = std::move(it->second);
    impl_->tickets.erase(it);
  }
  std::unique_lock<std::mutex> lock(b->mu);
  b->cv.wait(lock, [&] { return b->done; });
  if (b->error) std::rethrow_exception(b->error);
}

void ReaderPool::read(const std::vector<ReadRequest>& batch) { wait(submit(batch)); }

void ReaderPool::Impl::worker(unsigned t) {
  uint8_t* const bounce_buf = bounce[t].get();
  uint8_t* const discard_buf = discard[t].get();
  for (;;) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return stop || !queue.empty(); });
      if (queue.empty()) return;  // stop, and nothing left: every batch has finished
      task = std::move(queue.front());
      queue.pop_front();
    }
    Batch& b = *task.batch;
    if (!b.failed.load(std::memory_order_acquire)) {
      {
        std::lock_guard<std::mutex> lock(busy_mu);
        if (active++ == 0) busy_since = now_ns();
      }
      const uint64_t t0 = now_ns();
      try {
        execute(task.op, bounce_buf, discard_buf);
      } catch (...) {
        errors++;
        std::lock_guard<std::mutex> lock(b.mu);
        if (!b.error) b.error = std::current_exception();
        b.failed.store(true, std::memory_order_release);
      }
      const uint64_t t1 = now_ns();
      read_busy_ns += t1 - t0;
      {
        std::lock_guard<std::mutex> lock(busy_mu);
        if (--active == 0) io_wall_ns += t1 - busy_since;
      }
    }
    finish(b);
  }
}

void ReaderPool::Impl::execute(Op& op, uint8_t* bounce, uint8_t* discard) {
  const File& f = *op.file;
  const bool direct = f.direct();
  const uint64_t bs = direct ? f.block_size() : 1;
  const uint64_t rs = align_down(op.start, bs);
  const uint64_t re = align_up(op.end, bs);
  const uint64_t needed = op.end - rs;  // the aligned tail may run past end of file

  std::vector<Seg> segs;
  if (op.bounce) {
    segs.push_back({bounce, static_cast<size_t>(re - rs)});
    bounced_reads++;
  } else {
    segs.reserve(2 * op.pieces.size() + 2);
    uint64_t pos = rs;
    for (const Piece& p : op.pieces) {
      if (p.offset > pos) segs.push_back({discard, static_cast<size_t>(p.offset - pos)});
      segs.push_back({p.dst, p.length});
      pos = p.offset + p.length;
    }
    if (re > pos) segs.push_back({discard, static_cast<size_t>(re - pos)});
  }

  std::vector<struct iovec> iov;
  iov.reserve(segs.size());
  uint64_t cursor = 0;  // bytes of [rs, re) in place
  uint32_t no_progress = 0;
  while (cursor < needed) {
    iov.clear();
    uint64_t skip = cursor, total = 0;
    for (const Seg& s : segs) {
      if (skip >= s.len) {
        skip -= s.len;
        continue;
      }
      iov.push_back({s.p + skip, static_cast<size_t>(s.len - skip)});
      total += s.len - skip;
      skip = 0;
    }
    const uint64_t at = rs + cursor;
    reads_issued++;
    ssize_t n = detail::checked_preadv(FaultOp::Read, f, iov.data(), static_cast<int>(iov.size()), at,
                                       static_cast<size_t>(total));
    if (n < 0) {
      const int e = errno;
      if (e == EINTR) {
        retries++;
        continue;
      }
      fail(kErrIo, "read of " + std::to_string(total) + " bytes at offset " + std::to_string(at) +
                       " of " + f.path() + " failed: " + detail::errno_text(e));
    }
    if (n == 0)
      fail(kErrIo, "unexpected end of file at offset " + std::to_string(at) + " of " + f.path() +
                       " (expected " + std::to_string(rs + needed) +
                       " bytes or more: was the file truncated?)");
    bytes_read += static_cast<uint64_t>(n);
    uint64_t next = cursor + static_cast<uint64_t>(n);
    if (next < needed) {
      retries++;
      next = align_down(rs + next, bs) - rs;  // O_DIRECT resumes on a block boundary
      if (next <= cursor) {
        if (++no_progress >= kMaxNoProgress)
          fail(kErrIo, "reads at offset " + std::to_string(at) + " of " + f.path() +
                           " keep returning less than one block (was the file truncated?)");
      } else {
        no_progress = 0;
      }
    }
    cursor = std::max(cursor, next);
  }
  if (op.bounce)
    for (const Piece& p : op.pieces) memcpy(p.dst, bounce + (p.offset - rs), p.length);
}

IoStats ReaderPool::stats() const {
  const Impl& I = *impl_;
  IoStats s;
  s.requests = I.requests;
  s.bytes_requested = I.bytes_requested;
  s.reads_issued = I.reads_issued;
  s.bytes_read = I.bytes_read;
  s.requests_coalesced = I.requests_coalesced;
  s.chunks_split = I.chunks_split;
  s.bounced_reads = I.bounced_reads;
  s.retries = I.retries;
  s.errors = I.errors;
  s.io_wall_ns = I.io_wall_ns;
  s.read_busy_ns = I.read_busy_ns;
  return s;
}

void ReaderPool::reset_stats() {
  Impl& I = *impl_;
  for (auto* c : {&I.requests, &I.bytes_requested, &I.reads_issued, &I.bytes_read, &I.requests_coalesced,
                  &I.chunks_split, &I.bounced_reads, &I.retries, &I.errors, &I.io_wall_ns, &I.read_busy_ns})
    c->store(0);
}

}  // namespace io
}  // namespace bitflash
