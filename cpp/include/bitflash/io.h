// The I/O layer (DESIGN.md, "I/O"): reads flash-offloaded weights from disk into memory the caller
// or the neuron cache owns. No Napi types here.
//
//   File        a read-only file, opened with O_DIRECT when the filesystem accepts it (probed with an
//               aligned read), else buffered.
//   ReaderPool  a small pool of reader threads (separate from the compute ThreadPool) that runs
//               batches of {file, offset, length, dst} reads: sorted, split into chunks of at most
//               `max_read` bytes, neighbours closer than `max_gap` coalesced into one read, O_DIRECT
//               alignment honoured (scatter reads straight into aligned destinations, else a bounce
//               through an aligned scratch buffer), EINTR and short reads retried. Async
//               (submit/wait) so the executor can prefetch the next layer while computing this one.
//   NeuronCache a fixed slot arena per layer mapping (layer, neuron) -> slot (LLM in a flash): a
//               leaving neuron is replaced by moving the last occupied slot into its place.
//   Fault hook  a test-only seam consulted before each pread (issue 9, item 3).
//
// Errors: bitflash::Error with kErrIo (message names the file, the offset and the errno text),
// kErrArg for requests outside the file or bad arguments, kErrBudget when a layer's working set
// cannot fit the cache.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bitflash {
namespace io {

// ---------------------------------------------------------------------------------------------
// File

enum class DirectMode {
  Auto,     // O_DIRECT if open + an aligned probe read succeed, else buffered
  Never,    // buffered reads (the page cache)
  Require,  // O_DIRECT or throw kErrUnsupported
};

class File {
 public:
  explicit File(const std::string& path, DirectMode mode = DirectMode::Auto);
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  bool direct() const { return direct_; }
  uint64_t size() const { return size_; }
  // Alignment (bytes) that offsets, lengths and buffers must have for O_DIRECT reads of this file:
  // 512 when an aligned 512-byte probe at offset 512 succeeds, else 4096. 1 for buffered files.
  uint32_t block_size() const { return block_size_; }

 private:
  std::string path_;
  int fd_ = -1;
  bool direct_ = false;
  uint64_t size_ = 0;
  uint32_t block_size_ = 1;
};

// ---------------------------------------------------------------------------------------------
// Aligned memory (4096-byte aligned, freed with aligned_free). Throws kErrNoMem.

void* aligned_alloc_bytes(size_t bytes, size_t alignment = 4096);
void aligned_free(void* p);
struct AlignedDeleter {
  void operator()(void* p) const { aligned_free(p); }
};
using AlignedBuffer = std::unique_ptr<uint8_t, AlignedDeleter>;
inline AlignedBuffer make_aligned_buffer(size_t bytes, size_t alignment = 4096) {
  return AlignedBuffer(static_cast<uint8_t*>(aligned_alloc_bytes(bytes, alignment)));
}

// ---------------------------------------------------------------------------------------------
// Reader pool

struct ReadRequest {
  const File* file;  // must outlive the batch
  uint64_t offset;
  size_t length;
  void* dst;  // length bytes; must stay valid until wait()/read() returns
};

struct ReaderOptions {
  unsigned threads = 8;           // reader threads (1..256)
  bool coalesce = true;           // merge neighbouring requests into one read
  size_t max_gap = 16 << 10;      // merge when the bytes between two requests are fewer than this
  size_t max_read = 1 << 20;      // no single read larger than this: big requests are split
};

struct IoStats {
  uint64_t requests = 0;            // ReadRequests submitted
  uint64_t bytes_requested = 0;     // sum of their lengths
  uint64_t reads_issued = 0;        // preadv calls that transferred data or failed (retries included)
  uint64_t bytes_read = 0;          // bytes the kernel returned (alignment padding and gaps included)
  uint64_t requests_coalesced = 0;  // requests that shared a read with an earlier request
  uint64_t chunks_split = 0;        // extra chunks created by splitting requests above max_read
  uint64_t bounced_reads = 0;       // reads that went through the scratch buffer (then memcpy)
  uint64_t retries = 0;             // EINTR retries + short-read continuations
  uint64_t errors = 0;              // reads that failed with a reported error
  uint64_t io_wall_ns = 0;          // wall time during which at least one read was in progress
  uint64_t read_busy_ns = 0;        // sum over reader threads of time spent in reads
};

using Ticket = uint64_t;

class ReaderPool {
 public:
  explicit ReaderPool(const ReaderOptions& options = ReaderOptions());
  // Waits for every submitted read to finish (waited or not), then joins the threads.
  ~ReaderPool();
  ReaderPool(const ReaderPool&) = delete;
  ReaderPool& operator=(const ReaderPool&) = delete;

  // Validates the batch (kErrArg: null file/dst, offset + length beyond the file's size), plans
  // its reads and queues them; returns at once. Batches run in submission order (FIFO).
  Ticket submit(const std::vector<ReadRequest>& batch);
  // Blocks until every read of the batch has finished, then throws the batch's first error, if
  // any (kErrIo). No read of the batch writes to memory after wait() returns or throws. Each
  // ticket can be waited once (kErrArg otherwise).
  void wait(Ticket ticket);
  // True once every read of the batch has finished (wait() would not block).
  bool ready(Ticket ticket) const;
  // submit + wait.
  void read(const std::vector<ReadRequest>& batch);

  const ReaderOptions& options() const;
  // Bytes of aligned scratch memory the pool holds (to be counted in the RAM budget).
  size_t scratch_bytes() const;
  IoStats stats() const;
  void reset_stats();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------------------------
// Neuron cache

struct CacheOptions {
  size_t slot_bytes = 0;           // one neuron bundle; rounded up to a multiple of 4096
  uint32_t layers = 0;
  uint32_t neurons_per_layer = 0;  // valid neuron ids are [0, neurons_per_layer)
  uint32_t slots_per_layer = 0;    // capacity of each layer's arena (<= neurons_per_layer is useful)
  uint32_t window = 5;             // k: neurons used in the last k steps are "in the window"
};

struct CacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;      // residents replaced to make room for a miss
  uint64_t removals = 0;       // residents dropped by erase()/trim_window()
  uint64_t moves = 0;          // slot copies (the last slot moved into a freed one)
  uint64_t resident_bytes = 0; // occupied slots * slot_bytes (not reset)
  uint64_t arena_bytes = 0;    // allocated once (not reset)
};

// Not thread-safe: one owner (the executor) calls it. Different layers have disjoint arenas, so
// reads may fill layer L+1's slots while compute reads layer L's.
class NeuronCache {
 public:
  explicit NeuronCache(const CacheOptions& options);
  ~NeuronCache();
  NeuronCache(const NeuronCache&) = delete;
  NeuronCache& operator=(const NeuronCache&) = delete;

  // Slots per layer that a byte budget buys (budget / (layers * rounded slot_bytes)).
  static uint32_t slots_for_budget(uint64_t budget_bytes, size_t slot_bytes, uint32_t layers);

  // Advances the token clock; call once per decode step, before the step's acquires.
  void begin_step();
  uint64_t step() const { return step_; }

  // Resolves the n distinct neuron ids of `layer`: slots[i] receives the slot of neurons[i].
  // Residents are hits (marked used at this step). Each miss gets a free slot, or, when the
  // layer is full, the slot of a victim: neurons outside the window (not used in the last k
  // steps) go first, LRU among them, then the least recently used of the window; neurons in this
  // call are never victims. The positions i of the misses are appended to *misses: the caller
  // must fill those slots (e.g. one ReaderPool batch) before use, and erase() them if the load
  // fails. Pointers stay valid until the next acquire/erase/trim_window on the same layer.
  // Throws kErrArg (id out of range, duplicate id), kErrBudget (n > slots_per_layer).
  void acquire(uint32_t layer, const uint32_t* neurons, size_t n, void** slots,
               std::vector<size_t>* misses);
  // The slot of a resident neuron, or nullptr. No side effects (no stats, no LRU update).
  void* find(uint32_t layer, uint32_t neuron) const;
  // Drops a resident neuron: the layer's last occupied slot moves into its slot. False if absent.
  bool erase(uint32_t layer, uint32_t neuron);
  // Drops every neuron not used in the last `window` steps (the paper's per-token deletion);
  // returns how many were dropped.
  size_t trim_window();

  size_t slot_bytes() const { return slot_bytes_; }
  uint32_t slots_per_layer() const { return opt_.slots_per_layer; }
  uint32_t layers() const { return opt_.layers; }
  uint32_t resident(uint32_t layer) const;
  uint64_t resident_bytes() const;
  uint64_t arena_bytes() const { return arena_bytes_; }
  // Occupied slot k of a layer (k < resident(layer)) holds neuron resident_neuron(layer, k).
  uint32_t resident_neuron(uint32_t layer, uint32_t k) const;
  // Base of slot k of a layer.
  void* slot_ptr(uint32_t layer, uint32_t k) const;

  CacheStats stats() const;
  void reset_stats();

 private:
  struct Layer {
    std::vector<int32_t> slot_of;      // neuron -> slot, -1 if absent
    std::vector<uint32_t> neuron_of;   // slot -> neuron (first `count` valid)
    std::vector<uint64_t> last_used;   // slot -> step of last use
    std::vector<uint64_t> pin;         // slot -> call stamp (used in the current acquire)
    uint32_t count = 0;
  };
  void remove_slot(Layer& L, uint32_t layer, uint32_t slot);

  CacheOptions opt_;
  size_t slot_bytes_ = 0;
  uint64_t arena_bytes_ = 0;
  AlignedBuffer arena_;
  std::vector<Layer> layers_;
  uint64_t step_ = 0;
  uint64_t call_ = 0;
  CacheStats stats_;
  std::vector<uint64_t> seen_;      // neuron -> call stamp (duplicate check)
  std::vector<uint32_t> scratch_;   // victims
};

// ---------------------------------------------------------------------------------------------
// Test-only fault injection (issue 9, item 3). The hook is consulted before every pread the I/O
// layer issues (op Read) and before the O_DIRECT probe of File (op Probe). Set/clear are
// thread-safe; with no hook set the cost is one relaxed atomic load per read.

enum class FaultOp { Probe, Read };

struct FaultAction {
  int error = 0;               // != 0: the call fails with this errno instead of reading
  size_t max_bytes = SIZE_MAX; // else: read at most this many bytes (a forced short read; 0 = EOF)
};

using FaultHook = std::function<FaultAction(FaultOp op, const File& file, uint64_t offset, size_t length)>;
void set_fault_hook(FaultHook hook);
void clear_fault_hook();

}  // namespace io
}  // namespace bitflash
