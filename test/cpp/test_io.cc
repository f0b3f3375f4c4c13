// I/O layer: File (O_DIRECT probe and buffered fallback), ReaderPool (random batches checked byte
// for byte against the file, coalescing on/off, splitting, alignment, async tickets, several
// submitting threads) and the fault-injection seam (EINTR, short reads, EIO, ENOSPC, EOF).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bitflash/error.h"
#include "bitflash/io.h"

using namespace bitflash;
using namespace bitflash::io;

namespace {

inline uint8_t pattern(uint64_t i) {
  uint64_t x = i * 0x9E3779B97F4A7C15ull;
  return static_cast<uint8_t>((x >> 29) ^ (x >> 47) ^ i);
}

// A file filled with pattern(offset), removed at scope exit.
struct TempFile {
  std::string path;
  uint64_t size;
  TempFile(const std::string& dir, uint64_t bytes) : size(bytes) {
    path = dir + "/bitflash-test-io-" + std::to_string(getpid()) + "-" + std::to_string(counter()++);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    std::vector<uint8_t> buf(1 << 20);
    for (uint64_t off = 0; off < bytes; off += buf.size()) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), bytes - off));
      for (size_t i = 0; i < n; i++) buf[i] = pattern(off + i);
      REQUIRE(::pwrite(fd, buf.data(), n, static_cast<off_t>(off)) == static_cast<ssize_t>(n));
    }
    ::close(fd);
  }
  ~TempFile() { ::unlink(path.c_str()); }
  static std::atomic<int>& counter() {
    static std::atomic<int> c{0};
    return c;
  }
};

// Destination buffers with guard bytes on both sides, optionally misaligned.
struct Dest {
  static constexpr size_t kGuard = 64;
  AlignedBuffer mem;
  uint8_t* dst;
  size_t len;
  size_t total;
  Dest(size_t length, size_t misalign) : len(length) {
    total = length + misalign + 2 * 4096;
    mem = make_aligned_buffer(total);
    memset(mem.get(), 0xA5, total);
    dst = mem.get() + 4096 + misalign;
  }
  bool guards_intact() const {
    for (size_t i = 0; i < kGuard; i++)
      if (dst[-1 - static_cast<ptrdiff_t>(i)] != 0xA5 || dst[len + i] != 0xA5) return false;
    return true;
  }
  bool matches(uint64_t offset) const {
    for (size_t i = 0; i < len; i++)
      if (dst[i] != pattern(offset + i)) return false;
    return true;
  }
};

struct Batch {
  std::vector<ReadRequest> reqs;
  std::vector<std::unique_ptr<Dest>> dests;
  bool verify() const {
    for (size_t i = 0; i < reqs.size(); i++)
      if (!dests[i]->matches(reqs[i].offset) || !dests[i]->guards_intact()) return false;
    return true;
  }
};

// aligned: offsets, lengths and buffers multiples of 4096 (the flash layout's bundles).
Batch random_batch(std::mt19937_64& rng, const File& f, bool aligned, size_t max_reqs = 48) {
  Batch b;
  const size_t n = 1 + rng() % max_reqs;
  uint64_t prev_end = 0;
  for (size_t i = 0; i < n; i++) {
    size_t len;
    switch (rng() % 6) {
      case 0: len = 1 + rng() % 64; break;                    // tiny
      case 1: len = 1 + rng() % 8192; break;
      case 2: len = 4096 * (1 + rng() % 4); break;
      case 3: len = 6144 + rng() % 2048; break;                // a bundle-ish size
      case 4: len = (1 << 20) + rng() % (2 << 20); break;      // multi-MiB, split
      default: len = 1 + rng() % (256 << 10); break;
    }
    if (aligned) len = (len + 4095) / 4096 * 4096;
    len = static_cast<size_t>(std::min<uint64_t>(len, f.size() / 2));
    uint64_t off;
    if (rng() % 3 == 0 && prev_end + len <= f.size()) {
      off = prev_end + (rng() % 2 ? 0 : rng() % 40000);    // adjacent or a small gap
    } else {
      off = rng() % (f.size() - len + 1);
    }
    if (aligned) off = off / 4096 * 4096;
    if (off + len > f.size()) off = f.size() - len;
    if (aligned) off = off / 4096 * 4096;
    prev_end = off + len;
    b.dests.push_back(std::make_unique<Dest>(len, aligned ? 0 : rng() % 8));
    b.reqs.push_back({&f, off, len, b.dests.back()->dst});
  }
  return b;
}

std::string shm_dir() { return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"; }

struct HookGuard {
  ~HookGuard() { clear_fault_hook(); }
};

}  // namespace

TEST_CASE("File: O_DIRECT on a regular file, buffered when asked or when O_DIRECT is refused") {
  TempFile tf("/var/tmp", 3 * 4096 + 100);
  {
    File f(tf.path);
    CHECK(f.size() == tf.size);
    if (f.direct()) {
      CHECK((f.block_size() == 512 || f.block_size() == 4096));
    } else {
      MESSAGE("/var/tmp refuses O_DIRECT here: the direct path is not covered by this run");
      CHECK(f.block_size() == 1);
    }
  }
  File nd(tf.path, DirectMode::Never);
  CHECK(!nd.direct());
  CHECK(nd.block_size() == 1);
  CHECK(nd.size() == tf.size);

  // A filesystem that refuses O_DIRECT (tmpfs before Linux 6.6; newer tmpfs accepts it, so the
  // refusal is injected at the probe read): Auto falls back, Require fails with a typed error.
  TempFile shm(shm_dir(), 10000);
  HookGuard g;
  set_fault_hook([](FaultOp op, const File&, uint64_t, size_t) {
    return op == FaultOp::Probe ? FaultAction{EINVAL} : FaultAction{};
  });
  File fb(shm.path);
  CHECK(!fb.direct());
  CHECK(fb.block_size() == 1);
  ReaderPool pool(ReaderOptions{2});
  std::vector<uint8_t> out(9999);
  pool.read({{&fb, 1, out.size(), out.data()}});
  for (size_t i = 0; i < out.size(); i++) REQUIRE(out[i] == pattern(1 + i));
  try {
    File req(shm.path, DirectMode::Require);
    FAIL("Require should throw when O_DIRECT is refused");
  } catch (const Error& e) {
    CHECK(std::string(e.code()) == kErrUnsupported);
  }
  clear_fault_hook();
  CHECK_THROWS_AS(File("/var/tmp/bitflash-no-such-file-here"), Error);
}

TEST_CASE("ReaderPool: random batches match the file (O_DIRECT and buffered, coalescing on/off)") {
  TempFile disk("/var/tmp", (24 << 20) + 1234);
  TempFile shm(shm_dir(), (8 << 20) + 77);
  std::mt19937_64 rng(20261125);
  struct Cfg {
    const char* name;
    const TempFile* tf;
    DirectMode mode;
    bool coalesce;
    size_t max_gap, max_read;
  };
  const Cfg cfgs[] = {
      {"disk auto, coalesce", &disk, DirectMode::Auto, true, 16 << 10, 1 << 20},
      {"disk auto, no coalesce", &disk, DirectMode::Auto, false, 0, 1 << 20},
      {"disk auto, gap 0, small chunks", &disk, DirectMode::Auto, true, 0, 64 << 10},
      {"disk buffered, coalesce", &disk, DirectMode::Never, true, 64 << 10, 256 << 10},
      {"shm auto, coalesce", &shm, DirectMode::Auto, true, 16 << 10, 1 << 20},
      {"shm buffered, no coalesce", &shm, DirectMode::Never, false, 0, 1 << 20},
  };
  for (const Cfg& c : cfgs) {
    CAPTURE(c.name);
    File f(c.tf->path, c.mode);
    ReaderOptions o;
    o.threads = 4;
    o.coalesce = c.coalesce;
    o.max_gap = c.max_gap;
    o.max_read = c.max_read;
    ReaderPool pool(o);
    uint64_t requested = 0;
    for (int it = 0; it < 24; it++) {
      const bool aligned = it % 3 == 0;
      CAPTURE(it);
      Batch b = random_batch(rng, f, aligned);
      for (auto& r : b.reqs) requested += r.length;
      pool.read(b.reqs);
      REQUIRE(b.verify());
    }
    IoStats s = pool.stats();
    CHECK(s.bytes_requested == requested);
    CHECK(s.bytes_read >= requested - (c.coalesce ? 0 : 0));
    CHECK(s.errors == 0);
    CHECK(s.reads_issued >= 1);
    if (!c.coalesce) CHECK(s.requests_coalesced == 0);
    CHECK(s.chunks_split > 0);  // the multi-MiB requests
    if (!f.direct()) CHECK(s.bounced_reads == 0);
    pool.reset_stats();
    CHECK(pool.stats().bytes_read == 0);
  }
}

TEST_CASE("ReaderPool: aligned bundles go straight into aligned slots; neighbours coalesce") {
  TempFile disk("/var/tmp", 4 << 20);
  File f(disk.path);
  ReaderOptions o;
  o.threads = 2;
  o.max_gap = 16 << 10;
  ReaderPool pool(o);
  // 64 bundles of 8 KiB: pairs adjacent, then a gap of 8 KiB (< max_gap), every 5th one far away.
  const size_t bundle = 8192;
  AlignedBuffer slots = make_aligned_buffer(64 * bundle);
  std::vector<ReadRequest> reqs;
  std::vector<uint64_t> offs;
  for (size_t i = 0; i < 64; i++) {
    uint64_t off = (i / 2) * 3 * bundle + (i % 2) * bundle + ((i % 5 == 4) ? (1 << 20) : 0);
    offs.push_back(off);
    reqs.push_back({&f, off, bundle, slots.get() + (63 - i) * bundle});  // slots in reverse order
  }
  pool.read(reqs);
  for (size_t i = 0; i < 64; i++)
    for (size_t k = 0; k < bundle; k += 97) REQUIRE(slots.get()[(63 - i) * bundle + k] == pattern(offs[i] + k));
  // Model of the coalescing rule: sorted, a new read when the gap is >= max_gap or the span would
  // pass max_read.
  std::vector<uint64_t> sorted = offs;
  std::sort(sorted.begin(), sorted.end());
  size_t expect_reads = 0;
  uint64_t start = 0, end = 0;
  for (size_t i = 0; i < sorted.size(); i++) {
    if (i == 0 || sorted[i] - end >= o.max_gap || sorted[i] + bundle - start > o.max_read) {
      expect_reads++;
      start = sorted[i];
    }
    end = sorted[i] + bundle;
  }
  IoStats s = pool.stats();
  CHECK(s.requests == 64);
  CHECK(expect_reads < 32);
  CHECK(s.reads_issued == expect_reads);
  CHECK(s.requests_coalesced == 64 - expect_reads);
  if (f.direct()) CHECK(s.bounced_reads == 0);
  // The same with coalescing off: one read per bundle.
  ReaderOptions o2 = o;
  o2.coalesce = false;
  ReaderPool pool2(o2);
  pool2.read(reqs);
  CHECK(pool2.stats().reads_issued == 64);
  CHECK(pool2.stats().bytes_read == 64 * bundle);
}

TEST_CASE("ReaderPool: argument errors are typed and synchronous") {
  TempFile tf(shm_dir(), 5000);
  File f(tf.path);
  ReaderPool pool(ReaderOptions{1});
  uint8_t buf[16];
  auto code_of = [&](std::vector<ReadRequest> b) -> std::string {
    try {
      pool.read(b);
    } catch (const Error& e) {
      return e.code();
    }
    return "";
  };
  CHECK(code_of({{&f, 4990, 16, buf}}) == kErrArg);             // past the end
  CHECK(code_of({{&f, UINT64_MAX - 4, 16, buf}}) == kErrArg);   // overflow
  CHECK(code_of({{nullptr, 0, 16, buf}}) == kErrArg);
  CHECK(code_of({{&f, 0, 16, nullptr}}) == kErrArg);
  CHECK(code_of({{&f, 5000, 0, nullptr}}) == "");               // empty reads are fine
  CHECK(code_of({}) == "");
  CHECK_THROWS_AS(pool.wait(12345), Error);
  Ticket t = pool.submit({{&f, 0, 16, buf}});
  pool.wait(t);
  CHECK_THROWS_AS(pool.wait(t), Error);  // waited once only
  CHECK_THROWS_AS(ReaderPool(ReaderOptions{0}), Error);
}

TEST_CASE("ReaderPool: async tickets and several submitting threads") {
  TempFile disk("/var/tmp", 16 << 20);
  File fd(disk.path);
  TempFile shm(shm_dir(), 4 << 20);
  File fs(shm.path, DirectMode::Never);
  ReaderPool pool(ReaderOptions{8});
  {
    // Prefetch pattern: submit two, wait in reverse order.
    std::mt19937_64 rng(7);
    Batch a = random_batch(rng, fd, false), b = random_batch(rng, fs, true);
    Ticket ta = pool.submit(a.reqs);
    Ticket tb = pool.submit(b.reqs);
    pool.wait(tb);
    REQUIRE(b.verify());
    pool.wait(ta);
    REQUIRE(a.verify());
  }
  std::atomic<int> bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; t++) {
    ts.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      for (int it = 0; it < 12; it++) {
        Batch b1 = random_batch(rng, t % 2 ? fd : fs, it % 2 == 0, 16);
        Batch b2 = random_batch(rng, fd, false, 16);
        Ticket t1 = pool.submit(b1.reqs);
        Ticket t2 = pool.submit(b2.reqs);
        while (!pool.ready(t1)) std::this_thread::yield();
        pool.wait(t1);
        pool.wait(t2);
        if (!b1.verify() || !b2.verify()) bad++;
      }
    });
  }
  for (auto& t : ts) t.join();
  CHECK(bad.load() == 0);
  CHECK(pool.stats().errors == 0);
  CHECK(pool.stats().io_wall_ns > 0);
  CHECK(pool.stats().read_busy_ns >= pool.stats().io_wall_ns / 2);
}

TEST_CASE("ReaderPool: destroying the pool finishes submitted batches first") {
  TempFile disk("/var/tmp", 8 << 20);
  File f(disk.path);
  std::mt19937_64 rng(3);
  Batch b = random_batch(rng, f, false);
  {
    ReaderPool pool(ReaderOptions{3});
    pool.submit(b.reqs);  // never waited
  }
  CHECK(b.verify());
}

TEST_CASE("Fault injection: EINTR and short reads are retried transparently") {
  TempFile disk("/var/tmp", 6 << 20);
  TempFile shm(shm_dir(), 2 << 20);
  HookGuard g;
  for (const TempFile* tf : {&disk, &shm}) {
    for (DirectMode mode : {DirectMode::Auto, DirectMode::Never}) {
      File f(tf->path, mode);
      CAPTURE(tf->path);
      CAPTURE(f.direct());
      std::atomic<int> calls{0};
      // Every other read: EINTR; every third: a short read of an odd, unaligned count.
      set_fault_hook([&](FaultOp op, const File&, uint64_t, size_t len) {
        if (op != FaultOp::Read) return FaultAction{};
        int c = calls++;
        if (c % 2 == 0) return FaultAction{EINTR};
        if (c % 3 == 0) return FaultAction{0, std::max<size_t>(1, len / 3) | 1};
        return FaultAction{};
      });
      ReaderOptions o;
      o.threads = 4;
      ReaderPool pool(o);
      std::mt19937_64 rng(11);
      for (int it = 0; it < 8; it++) {
        Batch b = random_batch(rng, f, it % 2 == 0, 24);
        pool.read(b.reqs);
        REQUIRE(b.verify());
      }
      IoStats s = pool.stats();
      CHECK(s.errors == 0);
      CHECK(s.retries > 0);
      CHECK(s.reads_issued > s.retries / 2);
      clear_fault_hook();
    }
  }
}

TEST_CASE("Fault injection: EIO / ENOSPC / EOF become a typed error with the offset, no late writes") {
  TempFile disk("/var/tmp", 8 << 20);
  File f(disk.path);
  HookGuard g;
  ReaderOptions o;
  o.threads = 4;
  o.coalesce = false;
  ReaderPool pool(o);
  const uint64_t bad_off = 5 * 4096 * 37;  // 757760
  struct Case {
    int err;
    size_t max_bytes;
    const char* text;
  };
  for (Case c : {Case{EIO, SIZE_MAX, "Input/output error"}, Case{ENOSPC, SIZE_MAX, "No space left"},
                 Case{0, 0, "unexpected end of file"}}) {
    CAPTURE(c.text);
    // The failing read happens while others are slowed down, so they are in flight when it fails.
    set_fault_hook([&](FaultOp op, const File&, uint64_t off, size_t) {
      if (op != FaultOp::Read) return FaultAction{};
      if (off == bad_off) return FaultAction{c.err, c.max_bytes};
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      return FaultAction{};
    });
    std::vector<std::unique_ptr<Dest>> dests;
    std::vector<ReadRequest> reqs;
    for (int i = 0; i < 40; i++) {
      uint64_t off = i == 17 ? bad_off : uint64_t(i) * 150000 + 4096 * 2;
      dests.push_back(std::make_unique<Dest>(4096, 0));
      reqs.push_back({&f, off, 4096, dests.back()->dst});
    }
    try {
      pool.read(reqs);
      FAIL("expected an I/O error");
    } catch (const Error& e) {
      CHECK(std::string(e.code()) == kErrIo);
      const std::string msg = e.what();
      CHECK(msg.find(std::to_string(bad_off)) != std::string::npos);
      CHECK(msg.find(c.text) != std::string::npos);
      CHECK(msg.find(disk.path) != std::string::npos);
    }
    // Nothing may land in the buffers after the call returned.
    std::vector<std::vector<uint8_t>> snap;
    for (auto& d : dests) snap.emplace_back(d->mem.get(), d->mem.get() + d->total);
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    for (size_t i = 0; i < dests.size(); i++)
      REQUIRE(memcmp(snap[i].data(), dests[i]->mem.get(), dests[i]->total) == 0);
    for (auto& d : dests) CHECK(d->guards_intact());
    CHECK(pool.stats().errors >= 1);
    clear_fault_hook();
    // The pool stays usable.
    std::mt19937_64 rng(5);
    Batch b = random_batch(rng, f, false, 8);
    pool.read(b.reqs);
    CHECK(b.verify());
  }
  // A read that keeps returning less than a block on an O_DIRECT file is an error, not a hang.
  if (f.direct()) {
    set_fault_hook([](FaultOp op, const File&, uint64_t, size_t) {
      return op == FaultOp::Read ? FaultAction{0, 7} : FaultAction{};
    });
    std::vector<uint8_t> buf(8192);
    CHECK_THROWS_AS(pool.read({{&f, 4096, 8192, buf.data()}}), Error);
    clear_fault_hook();
  }
}

TEST_CASE("A file truncated under the reader gives ERR_BITFLASH_IO, not garbage") {
  TempFile disk("/var/tmp", 1 << 20);
  File f(disk.path);
  ReaderPool pool(ReaderOptions{2});
  REQUIRE(::truncate(disk.path.c_str(), 64 << 10) == 0);
  std::vector<uint8_t> buf(100000);
  try {
    pool.read({{&f, 500000, buf.size(), buf.data()}});
    FAIL("expected an I/O error");
  } catch (const Error& e) {
    CHECK(std::string(e.code()) == kErrIo);
    CHECK(std::string(e.what()).find("unexpected end of file") != std::string::npos);
  }
}

TEST_CASE("A file replaced (renamed over) while open: the open File keeps reading the old, intact bytes") {
  // A model replaced while a generation runs (e.g. a re-convert renaming its output into place): the
  // reader holds the old inode, so every read stays consistent with the header it was planned from.
  TempFile old_file("/var/tmp", 2 << 20);
  File f(old_file.path);
  ReaderPool pool(ReaderOptions{2});
  const std::string repl = old_file.path + ".new";
  {
    int fd = ::open(repl.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    std::vector<uint8_t> zeros(64 << 10, 0);
    REQUIRE(::write(fd, zeros.data(), zeros.size()) == static_cast<ssize_t>(zeros.size()));
    ::close(fd);
  }
  REQUIRE(::rename(repl.c_str(), old_file.path.c_str()) == 0);
  std::mt19937_64 rng(21);
  for (int it = 0; it < 4; it++) {
    Batch b = random_batch(rng, f, it % 2 == 0, 16);
    pool.read(b.reqs);
    CHECK(b.verify());
  }
  // A File opened on the path now sees the replacement.
  File g(old_file.path);
  CHECK(g.size() == (64u << 10));
}

TEST_CASE("Fault injection: a fault on the Nth read of a batch, for every N; the pool recovers each time") {
  TempFile disk("/var/tmp", 4 << 20);
  HookGuard guard;
  for (DirectMode mode : {DirectMode::Auto, DirectMode::Never}) {
    File f(disk.path, mode);
    ReaderOptions o;
    o.threads = 3;
    o.coalesce = false;
    ReaderPool pool(o);
    std::mt19937_64 rng(33);
    const Batch probe = random_batch(rng, f, true, 12);
    const size_t reads = probe.reqs.size();
    for (int err : {EIO, ENOSPC, EINTR}) {
      for (size_t nth = 0; nth < reads; nth++) {
        CAPTURE(err);
        CAPTURE(nth);
        std::atomic<size_t> calls{0};
        set_fault_hook([&](FaultOp op, const File&, uint64_t, size_t) {
          if (op != FaultOp::Read) return FaultAction{};
          return calls++ == nth ? FaultAction{err} : FaultAction{};
        });
        std::mt19937_64 r2(33);
        Batch b = random_batch(r2, f, true, 12);
        bool threw = false;
        try {
          pool.read(b.reqs);
        } catch (const Error& e) {
          threw = true;
          CHECK(std::string(e.code()) == kErrIo);
        }
        CHECK(threw == (err != EINTR));  // EINTR is retried, the others are the batch's error
        if (!threw) CHECK(b.verify());
        clear_fault_hook();
        std::mt19937_64 r3(33);
        Batch again = random_batch(r3, f, true, 12);
        pool.read(again.reqs);
        REQUIRE(again.verify());
      }
    }
  }
}
