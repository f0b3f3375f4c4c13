// I/O engine benchmark (not a test): O_DIRECT random reads through ReaderPool at bundle-sized
// chunks and 1/8/32 readers, next to fio's figure for the same pattern in the same run (when fio
// is installed), then the effect of coalescing on a realistic neuron pattern (30% of 11008
// bundles of 6 KiB, 4096-aligned in 8 KiB strides as in the flash layout, chosen at random and
// sorted). Medians of 5 runs; MB/s = 10^6 bytes/s of requested bytes.
//   bitflash_bench_io [--file PATH] [--no-fio] [--quick]
// The file (default /var/tmp/bitflash-bench-io.bin, 2 GiB) is created if missing.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bitflash/io.h"

using namespace bitflash::io;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

void ensure_file(const std::string& path, uint64_t size) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) >= size) return;
  std::printf("creating %s (%llu MiB)...\n", path.c_str(), static_cast<unsigned long long>(size >> 20));
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    std::perror("open");
    std::exit(1);
  }
  std::vector<uint64_t> buf((8 << 20) / 8);
  std::mt19937_64 rng(1);
  for (uint64_t off = 0; off < size; off += buf.size() * 8) {
    for (auto& x : buf) x = rng();
    if (::pwrite(fd, buf.data(), buf.size() * 8, static_cast<off_t>(off)) != static_cast<ssize_t>(buf.size() * 8)) {
      std::perror("pwrite");
      std::exit(1);
    }
  }
  ::fsync(fd);
  ::close(fd);
  // Drop the file from the page cache (O_DIRECT reads bypass it anyway).
  fd = ::open(path.c_str(), O_RDONLY);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

// fio, psync engine, numjobs = readers: the same shape of parallelism as the pool.
double fio_mbs(const std::string& path, size_t bs, unsigned jobs, double runtime) {
  char cmd[1024];
  std::snprintf(cmd, sizeof cmd,
                "fio --name=bf --filename=%s --rw=randread --bs=%zu --direct=1 --ioengine=psync "
                "--numjobs=%u --group_reporting --time_based --runtime=%g --size=2G "
                "--output-format=terse --terse-version=3 2>/dev/null",
                path.c_str(), bs, jobs, runtime);
  FILE* p = ::popen(cmd, "r");
  if (!p) return -1;
  char line[8192];
  double kib = -1;
  while (std::fgets(line, sizeof line, p)) {
    // terse v3: 1 version; 2 fio version; 3 job name; 4 group; 5 error; 6 read KiB; 7 read KiB/s
    char* f = line;
    for (int i = 1; i < 7 && f; i++) {
      f = std::strchr(f, ';');
      if (f) f++;
    }
    if (f) kib = std::atof(f);
  }
  ::pclose(p);
  return kib < 0 ? -1 : kib * 1024 / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  std::string path = "/var/tmp/bitflash-bench-io.bin";
  bool use_fio = std::system("command -v fio >/dev/null 2>&1") == 0;
  bool quick = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--file" && i + 1 < argc) path = argv[++i];
    else if (a == "--no-fio") use_fio = false;
    else if (a == "--quick") quick = true;
  }
  const uint64_t fsize = 2ull << 30;
  ensure_file(path, fsize);
  File f(path);
  std::printf("file %s: %llu MiB, O_DIRECT %s, block %u\n", path.c_str(),
              static_cast<unsigned long long>(f.size() >> 20), f.direct() ? "yes" : "no (buffered!)",
              f.block_size());
  const int reps = quick ? 3 : 5;
  std::mt19937_64 rng(2026);

  std::printf("\n## Random reads, coalescing off (MB/s, median of %d)\n", reps);
  std::printf("| chunk | readers | bitflash MB/s | fio psync MB/s | ratio |\n|---|---|---|---|---|\n");
  for (size_t chunk : {size_t(4096), size_t(32768), size_t(131072), size_t(1 << 20)}) {
    for (unsigned readers : {1u, 8u, 32u}) {
      ReaderOptions o;
      o.threads = readers;
      o.coalesce = false;
      ReaderPool pool(o);
      // About 0.3-1 s of reads per run at LIMITS.md's speeds.
      size_t n = chunk == 4096 ? (readers == 1 ? 1500 : 6000)
                 : chunk == 32768 ? (readers == 1 ? 1500 : 6000)
                 : chunk == 131072 ? 2000 : 400;
      if (quick) n /= 3;
      AlignedBuffer buf = make_aligned_buffer(std::min<size_t>(n * chunk, 64 << 20));
      const size_t nbuf = std::min<size_t>(n * chunk, 64 << 20) / chunk;
      std::vector<double> mbs;
      for (int r = 0; r < reps; r++) {
        std::vector<ReadRequest> reqs(n);
        for (size_t i = 0; i < n; i++)
          reqs[i] = {&f, (rng() % (fsize / chunk)) * chunk, chunk, buf.get() + (i % nbuf) * chunk};
        double t0 = now_s();
        pool.read(reqs);
        mbs.push_back(n * chunk / (now_s() - t0) / 1e6);
      }
      double ours = median(mbs);
      double fio = use_fio ? fio_mbs(path, chunk, readers, quick ? 1 : 2) : -1;
      if (fio > 0)
        std::printf("| %zu KiB | %u | %.0f | %.0f | %.2f |\n", chunk >> 10, readers, ours, fio, ours / fio);
      else
        std::printf("| %zu KiB | %u | %.0f | - | - |\n", chunk >> 10, readers, ours);
      std::fflush(stdout);
    }
  }
  if (!use_fio)
    std::printf("(fio not found; compare with: fio --name=bf --filename=%s --rw=randread --bs=32k --direct=1 "
                "--ioengine=psync --numjobs=8 --group_reporting --time_based --runtime=5)\n",
                path.c_str());

  // Neuron pattern: a layer = 11008 bundles of 6 KiB padded to 8 KiB; 30% chosen at random.
  const size_t neurons = 11008, bundle = 6144, stride = 8192, density_n = neurons * 3 / 10;
  const uint64_t layer_bytes = neurons * stride;
  const unsigned nlayers = static_cast<unsigned>(fsize / layer_bytes);
  AlignedBuffer slots = make_aligned_buffer(density_n * stride);
  std::printf("\n## Neuron pattern: %zu of %zu bundles (6 KiB, 8 KiB stride), sorted; one layer per run, median of %d layers\n",
              density_n, neurons, quick ? 5 : 9);
  std::printf("| readers | coalescing | max_gap | reads/layer | ms/layer | useful MB/s | bytes read / useful |\n|---|---|---|---|---|---|---|\n");
  for (unsigned readers : {8u, 32u}) {
    struct Mode {
      bool coalesce;
      size_t gap;
    };
    for (Mode m : {Mode{false, 0}, Mode{true, 0}, Mode{true, 4 << 10}, Mode{true, 16 << 10}, Mode{true, 64 << 10}}) {
      ReaderOptions o;
      o.threads = readers;
      o.coalesce = m.coalesce;
      o.max_gap = m.gap;
      o.max_read = 1 << 20;
      ReaderPool pool(o);
      std::vector<double> ms;
      for (int r = 0; r < (quick ? 5 : 9); r++) {
        const uint64_t base = (rng() % nlayers) * layer_bytes;
        std::vector<uint32_t> ids(neurons);
        for (uint32_t i = 0; i < neurons; i++) ids[i] = i;
        std::shuffle(ids.begin(), ids.end(), rng);
        ids.resize(density_n);
        std::sort(ids.begin(), ids.end());
        std::vector<ReadRequest> reqs(density_n);
        for (size_t i = 0; i < density_n; i++)
          reqs[i] = {&f, base + uint64_t(ids[i]) * stride, bundle, slots.get() + i * stride};
        double t0 = now_s();
        pool.read(reqs);
        ms.push_back((now_s() - t0) * 1e3);
      }
      IoStats s = pool.stats();
      double runs = quick ? 5 : 9;
      double med = median(ms);
      std::printf("| %u | %s | %zu KiB | %.0f | %.1f | %.0f | %.2f |\n", readers, m.coalesce ? "on" : "off",
                  m.gap >> 10, s.reads_issued / runs, med, density_n * bundle / (med / 1e3) / 1e6,
                  double(s.bytes_read) / double(s.bytes_requested));
      std::fflush(stdout);
    }
  }
  return 0;
}
