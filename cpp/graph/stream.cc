// Streamed weights (StreamSpec): groups of weights (one layer's, or its attention and gate) read
// from the model file when the first op of the group runs. With prefetch, two buffers: while the
// ops of group g compute from one, the next group in the plan's order is read into the other by
// the reader pool (the order is fixed, so this prefetch is exact). Without it (the naive per-layer
// loader), one buffer, read synchronously and overwritten by the next group.
#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "bitflash/error.h"
#include "bitflash/graph.h"
#include "bitflash/io.h"
#include "flash-state.h"

namespace bitflash::graph {

void dequant_weight_row(const WeightSpec& w, size_t r, float* out);  // executor.cc

StreamState::~StreamState() {
  // reads in flight write into buf: wait for them before the buffers go
  for (int b = 0; b < 2; b++)
    if (pending[b]) {
      try {
        pool->wait(ticket[b]);
      } catch (...) {
      }
    }
}

void init_stream(const PlanSpec& s, std::unique_ptr<StreamState>& st) {
  const StreamSpec& sp = *s.stream;
  st = std::make_unique<StreamState>();
  st->file = std::make_unique<io::File>(sp.path, sp.direct ? io::DirectMode::Auto : io::DirectMode::Never);
  // io::File asks for random access (no readahead) on buffered files, right for neuron bundles;
  // a layer is read front to back, so the stream keeps the kernel's normal readahead.
  if (!st->file->direct()) ::posix_fadvise(st->file->fd(), 0, 0, POSIX_FADV_NORMAL);
  io::ReaderOptions ro;
  ro.threads = sp.readers;
  ro.max_read = sp.max_read;
  ro.max_gap = std::min<size_t>(ro.max_gap, sp.max_read);
  st->pool = std::make_unique<io::ReaderPool>(ro);
  int ngroups = 0;
  for (const WeightSpec& w : s.weights) ngroups = std::max(ngroups, w.group + 1);
  st->groups.resize(static_cast<size_t>(ngroups));
  const uint64_t fsize = st->file->size();
  for (size_t i = 0; i < s.weights.size(); i++) {
    const WeightSpec& w = s.weights[i];
    if (w.group == -1) continue;
    BITFLASH_CHECK(w.group >= -2, kErrArg, "plan: weight group must be >= -2");
    BITFLASH_CHECK(w.file_offset <= fsize && w.bytes <= fsize - w.file_offset, kErrFormat, "plan: a streamed weight extends past the end of " + sp.path);
    if (w.group < 0) continue;
    StreamState::Group& g = st->groups[static_cast<size_t>(w.group)];
    const uint64_t a = w.file_offset / 4096 * 4096, e = std::min<uint64_t>(fsize, (w.file_offset + w.bytes + 4095) / 4096 * 4096);
    if (g.weights.empty()) {
      g.start = a;
      g.end = e;
    } else {
      g.start = std::min(g.start, a);
      g.end = std::max(g.end, e);
    }
    g.weights.push_back(static_cast<int>(i));
  }
  for (size_t gi = 0; gi < st->groups.size(); gi++) {
    BITFLASH_CHECK(!st->groups[gi].weights.empty(), kErrArg, "plan: stream group " + std::to_string(gi) + " has no weights");
    st->buf_bytes = std::max<size_t>(st->buf_bytes, st->groups[gi].end - st->groups[gi].start);
  }
  st->nbuf = sp.prefetch && st->groups.size() > 1 ? 2 : 1;
  if (!st->groups.empty())
    for (int b = 0; b < st->nbuf; b++) st->buf[b] = io::make_aligned_buffer((st->buf_bytes + 4095) / 4096 * 4096);
}

void Executor::ensure_group(int g) {
  StreamState& st = *stream_;
  if (st.cur_group == g) return;
  const uint64_t t0 = now_ns();
  auto submit = [&](int grp, int b) {
    const StreamState::Group& G = st.groups[static_cast<size_t>(grp)];
    st.ticket[b] = st.pool->submit({io::ReadRequest{st.file.get(), G.start, static_cast<size_t>(G.end - G.start), st.buf[b].get()}});
    st.pending[b] = true;
    st.in_buf[b] = grp;
    step_stats_.stream_loads++;
    step_stats_.stream_bytes += G.end - G.start;
  };
  auto wait = [&](int b) {
    if (!st.pending[b]) return;
    st.pending[b] = false;
    try {
      st.pool->wait(st.ticket[b]);
    } catch (...) {
      st.in_buf[b] = -1;
      throw;
    }
  };
  int b = -1;
  for (int i = 0; i < st.nbuf; i++)
    if (st.in_buf[i] == g) b = i;
  if (b >= 0) {
    if (st.pending[b]) step_stats_.stream_prefetched++;
    wait(b);
  } else {
    b = st.nbuf == 2 && st.cur >= 0 ? 1 - st.cur : 0;
    wait(b);
    submit(g, b);
    wait(b);
  }
  st.cur = b;
  st.cur_group = g;
  const StreamState::Group& G = st.groups[static_cast<size_t>(g)];
  for (int wi : G.weights) spec_.weights[static_cast<size_t>(wi)].data = st.buf[b].get() + (spec_.weights[static_cast<size_t>(wi)].file_offset - G.start);
  step_stats_.stream_wait_ns += now_ns() - t0;
  if (st.nbuf == 2) {
    const int next = (g + 1) % static_cast<int>(st.groups.size());
    const int ob = 1 - b;
    if (st.in_buf[ob] != next) {
      wait(ob);
      submit(next, ob);
    }
  }
}

void Executor::embed_row_streamed(const WeightSpec& w, size_t id, float* out) {
  StreamState& st = *stream_;
  const size_t rb = w.bytes / w.n;
  const uint64_t t0 = now_ns();
  if (st.row.size() < rb) st.row.resize(rb);
  st.pool->read({io::ReadRequest{st.file.get(), w.file_offset + id * rb, rb, st.row.data()}});
  step_stats_.stream_bytes += rb;
  step_stats_.stream_wait_ns += now_ns() - t0;
  WeightSpec one = w;
  one.data = st.row.data();
  one.n = 1;
  one.bytes = rb;
  dequant_weight_row(one, 0, out);
}

}  // namespace bitflash::graph
