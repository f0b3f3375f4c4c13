// Roofline probes from C++ (for machines without Node, e.g. thread-scaling runs on a big host):
//   bitflash_bench_roofline [threads,...] [bytes]
// Prints one markdown row per ceiling and path, best and median of 5 repetitions.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bitflash/isa.h"
#include "bitflash/roofline.h"
#include "bitflash/threadpool.h"

using namespace bitflash;

int main(int argc, char** argv) {
  std::vector<unsigned> threads;
  if (argc > 1) {
    std::string s = argv[1];
    size_t p = 0;
    while (p < s.size()) {
      size_t q = s.find(',', p);
      if (q == std::string::npos) q = s.size();
      threads.push_back(static_cast<unsigned>(std::stoul(s.substr(p, q - p))));
      p = q + 1;
    }
  } else {
    threads = {1, physical_cores()};
  }
  const size_t bytes = argc > 2 ? static_cast<size_t>(std::strtod(argv[2], nullptr)) : (size_t(2) << 30);
  unsigned maxt = 1;
  for (unsigned t : threads) maxt = t > maxt ? t : maxt;
  ThreadPool::global().set_threads(maxt);
  std::printf("| ceiling | kernel | threads | best | median |\n|---|---|---|---|---|\n");
  for (unsigned t : threads) {
    Measure m = measure_read_bandwidth(bytes, t, 5);
    std::printf("| DRAM read GB/s | %s | %u | %.1f | %.1f |\n", m.kernel, t, m.value, m.median);
  }
  const Isa saved = isa_cap();
  for (Isa isa : {Isa::avx512vnni, Isa::avxvnni, Isa::avx2, Isa::scalar}) {
    if (!cpu_supports(isa)) continue;
    set_isa_cap(isa);
    for (unsigned t : threads) {
      Measure m = measure_i8_peak(t, 0.2, 5);
      std::printf("| int8 GOPS | %s | %u | %.1f | %.1f |\n", m.kernel, t, m.value, m.median);
      Measure f = measure_f32_peak(t, 0.2, 5);
      std::printf("| fp32 GFLOPS | %s | %u | %.1f | %.1f |\n", f.kernel, t, f.value, f.median);
    }
  }
  set_isa_cap(saved);
  return 0;
}
