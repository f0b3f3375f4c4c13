// Ternary matmul benchmark: both families forced and auto, per ISA cap, BitNet and Llama-7B shapes.
//   bitflash_bench_ternary [threads=physical] [isas=avx512vnni,avxvnni,avx2] [ms=1,8,128,512] [reps=5] [shapes=all]
// shapes: comma list of NxK (output rows x input), default 2560x2560,6912x2560,2560x6912,4096x4096,11008x4096.
// GEMV (m = 1) rotates over copies of the packed weights totalling > 1 GiB so each call reads from DRAM.
// Reports the median of `reps` timed runs after one warm-up: weight GB/s (packed bytes read / time),
// GOPS (2 m n k / time), and the DRAM read bandwidth measured in the same run. Markdown + JSON lines.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bitflash/isa.h"
#include "bitflash/roofline.h"
#include "bitflash/ternary.h"
#include "bitflash/threadpool.h"

using namespace bitflash;

namespace {
double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t p = 0;
  while (p <= s.size()) {
    size_t q = s.find(',', p);
    if (q == std::string::npos) q = s.size();
    if (q > p) out.push_back(s.substr(p, q - p));
    p = q + 1;
  }
  return out;
}

struct Row {
  std::string isa, family, ran;
  size_t n, k, m;
  double med_s, gbs, gops;
};
}  // namespace

int main(int argc, char** argv) {
  const unsigned threads = argc > 1 ? static_cast<unsigned>(std::atoi(argv[1])) : physical_cores();
  const std::vector<std::string> isas = split(argc > 2 ? argv[2] : "avx512vnni,avxvnni,avx2");
  std::vector<size_t> ms;
  for (const std::string& s : split(argc > 3 ? argv[3] : "1,8,128,512")) ms.push_back(std::stoul(s));
  const int reps = argc > 4 ? std::atoi(argv[4]) : 5;
  std::vector<std::pair<size_t, size_t>> shapes;
  for (const std::string& s : split(argc > 5 ? argv[5] : "2560x2560,6912x2560,2560x6912,4096x4096,11008x4096")) {
    const size_t x = s.find('x');
    shapes.push_back({std::stoul(s.substr(0, x)), std::stoul(s.substr(x + 1))});
  }
  ThreadPool::global().set_threads(threads);
  const Measure bw = measure_read_bandwidth(size_t(1) << 30, threads, 5);
  std::printf("# ternary matmul, %u threads; DRAM read (1 GiB, %s): best %.1f GB/s, median %.1f GB/s\n\n", threads,
              bw.kernel, bw.value, bw.median);
  std::printf("| isa | family | ran | n x k | m | median ms | weight GB/s | %% of DRAM | GOPS |\n|---|---|---|---|---|---|---|---|---|\n");
  std::fflush(stdout);
  std::vector<Row> rows;
  const Isa saved = isa_cap();
  std::mt19937 rng(42);
  for (auto [n, k] : shapes) {
    // random tq2_0 weights (codes 0..2, d in [0.5, 1.5])
    std::vector<block_tq2_0> src(n * k / QK_K);
    for (block_tq2_0& b : src) {
      for (uint8_t& c : b.qs) {
        c = 0;
        for (int s = 0; s < 4; s++) c |= static_cast<uint8_t>((rng() % 3) << (2 * s));
      }
      b.d = f32_to_fp16(0.5f + static_cast<float>(rng() % 1000) / 1000.0f);
    }
    size_t bytes[2];
    std::vector<std::vector<uint8_t>> copies[2];
    for (int f = 0; f < 2; f++) {
      const TernaryFamily fam = static_cast<TernaryFamily>(f);
      bytes[f] = ternary_pack_size(fam, n, k);
      std::vector<uint8_t> one(bytes[f]);
      ternary_pack(fam, DType::tq2_0, src.data(), src.size() * sizeof(block_tq2_0), n, k, one.data(), one.size());
      const size_t ncopies = std::max<size_t>(1, ((size_t(1) << 30) + (size_t(1) << 27)) / bytes[f] + 1);
      copies[f].assign(ncopies, one);
    }
    for (size_t m : ms) {
      std::vector<float> x(m * k), y(m * n);
      std::normal_distribution<float> nd(0, 1);
      for (float& v : x) v = nd(rng);
      for (const std::string& isa_s : isas) {
        const Isa isa = parse_isa(isa_s);
        if (!cpu_supports(isa)) continue;
        set_isa_cap(isa);
        for (int f = 0; f < 3; f++) {
          const TernaryFamily fam = static_cast<TernaryFamily>(f);
          TernaryMatmulOptions opt;
          opt.family = fam;
          size_t idx = 0;
          auto call = [&](TernaryFamily* ran) {
            // GEMV: next copy each call (DRAM); GEMM: compute bound, one copy
            const size_t c = m == 1 ? idx++ % copies[0].size() : 0;
            const size_t c1 = m == 1 ? (idx - 1) % copies[1].size() : 0;
            TernaryWeights w;
            w.mad = copies[0][m == 1 ? c : 0].data();
            w.mad_bytes = bytes[0];
            w.lut = copies[1][m == 1 ? c1 : 0].data();
            w.lut_bytes = bytes[1];
            *ran = ternary_matmul(w, x.data(), m, y.data(), opt);
          };
          TernaryFamily ran = fam;
          call(&ran);  // warm-up (and the auto-tune measurement for `automatic`)
          const int r = m >= 128 ? std::max(5, reps / 2) : reps;
          std::vector<double> ts;
          // for GEMV, time several calls per sample so short calls are measured well
          const int inner = m == 1 ? 8 : 1;
          for (int rep = 0; rep < r; rep++) {
            const double t0 = now_s();
            for (int j = 0; j < inner; j++) call(&ran);
            ts.push_back((now_s() - t0) / inner);
          }
          std::sort(ts.begin(), ts.end());
          const double med = ts[ts.size() / 2];
          const size_t wb = bytes[ran == TernaryFamily::lut ? 1 : 0] - sizeof(TernaryPackedHeader);
          Row row{isa_s, ternary_family_name(fam), ternary_family_name(ran), n, k, m, med, wb / med / 1e9,
                  2.0 * m * n * k / med / 1e9};
          rows.push_back(row);
          std::printf("| %s | %s | %s | %zux%zu | %zu | %.3f | %.1f | %.0f%% | %.1f |\n", row.isa.c_str(),
                      row.family.c_str(), row.ran.c_str(), n, k, m, med * 1e3, row.gbs, 100.0 * row.gbs / bw.median,
                      row.gops);
          std::fflush(stdout);
        }
      }
    }
  }
  set_isa_cap(saved);
  std::printf("\n");
  std::printf("{\"bench\":\"dram_read\",\"threads\":%u,\"best_gbs\":%.2f,\"median_gbs\":%.2f}\n", threads, bw.value,
              bw.median);
  for (const Row& r : rows)
    std::printf("{\"bench\":\"ternary_matmul\",\"isa\":\"%s\",\"family\":\"%s\",\"ran\":\"%s\",\"n\":%zu,\"k\":%zu,\"m\":%zu,"
                "\"threads\":%u,\"median_ms\":%.4f,\"weight_gbs\":%.2f,\"gops\":%.2f}\n",
                r.isa.c_str(), r.family.c_str(), r.ran.c_str(), r.n, r.k, r.m, threads, r.med_s * 1e3, r.gbs, r.gops);
  return 0;
}
