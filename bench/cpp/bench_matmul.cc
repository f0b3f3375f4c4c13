// Low-bit matmul benchmark (standalone; built as bitflash_bench_matmul with -DBITFLASH_BUILD_BENCH=ON).
// GEMV (m < 4): weight GB/s, with weights rotated over copies totalling > 1 GiB so every call reads DRAM,
// and its share of the read bandwidth measure_read_bandwidth (roofline.h) measures in the same run
// (1 GiB buffer, median of 5 passes, per thread count, measured before the matmul rows).
// GEMM (m >= 4, packed): GOPS = 2*m*n*k / t. Median of >= 5 timed runs after warm-up.
// Usage: bitflash_bench_matmul [--threads=1,2] [--isa=best|avx2,avxvnni,...] [--dtypes=q8_0,q4_0,i8c,i4g]
//                              [--m=1,8,32,128,512] [--shapes=4096x4096,11008x4096,4096x11008] [--runs=5]
// Prints a table, and one JSON object per line prefixed "JSON ".
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bitflash/isa.h"
#include "bitflash/matmul.h"
#include "bitflash/roofline.h"
#include "bitflash/threadpool.h"

using namespace bitflash;

namespace {
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
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
DType parse_dt(const std::string& s) {
  if (s == "q8_0") return DType::q8_0;
  if (s == "q4_0") return DType::q4_0;
  if (s == "i8c") return DType::i8c;
  return DType::i4g;
}
size_t row_bytes(DType dt, size_t k) {
  switch (dt) {
    case DType::q8_0: return k / 32 * 34;
    case DType::q4_0: return k / 32 * 18;
    case DType::i8c: return k;
    default: return k / 32 * 16;  // i4g, group 32
  }
}
}  // namespace

int main(int argc, char** argv) {
  std::string threads = "1,2", isas = "best", dtypes = "q8_0,q4_0,i8c,i4g", ms = "1,8,32,128,512",
              shapes = "4096x4096,11008x4096,4096x11008";
  int runs = 5;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto val = [&](const char* key) { return a.rfind(key, 0) == 0 ? a.substr(std::strlen(key)) : std::string(); };
    if (!val("--threads=").empty()) threads = val("--threads=");
    else if (!val("--isa=").empty()) isas = val("--isa=");
    else if (!val("--dtypes=").empty()) dtypes = val("--dtypes=");
    else if (!val("--m=").empty()) ms = val("--m=");
    else if (!val("--shapes=").empty()) shapes = val("--shapes=");
    else if (!val("--runs=").empty()) runs = std::max(5, std::atoi(val("--runs=").c_str()));
  }
  // One pool of random bytes > 1 GiB, carved into copies of the weight matrix for the GEMV rotation.
  const size_t pool_bytes = (size_t(1) << 30) + (size_t(128) << 20);
  std::vector<uint8_t> pool(pool_bytes);
  {
    std::mt19937_64 rng(42);
    uint64_t* p = reinterpret_cast<uint64_t*>(pool.data());
    for (size_t i = 0; i < pool_bytes / 8; i++) p[i] = rng();
  }
  std::vector<float> scales(11008 * 344 + 16, 0.01f);
  std::vector<uint8_t> zps(11008 * 172 + 16, 0x88);
  std::vector<double> bw_by_threads(257, 0.0);
  for (const std::string& th : split(threads)) {
    const unsigned t = static_cast<unsigned>(std::stoul(th));
    const Measure bw = measure_read_bandwidth(size_t(1) << 30, t, 5);
    bw_by_threads[std::min(t, 256u)] = bw.median;
    std::printf("read bandwidth (%s, %u threads): median %.2f GB/s, best %.2f GB/s\n", bw.kernel, t, bw.median, bw.value);
    std::printf("JSON {\"read_bw_gbs\":%.3f,\"read_bw_best_gbs\":%.3f,\"threads\":%u,\"kernel\":\"%s\"}\n", bw.median,
                bw.value, t, bw.kernel);
  }
  std::printf("%-6s %-11s %5s %3s %-13s %-40s %10s %10s %10s %6s\n", "dtype", "n x k", "m", "thr", "isa", "kernel",
              "ms", "GB/s", "GOPS", "%bw");
  for (const std::string& shp : split(shapes)) {
    const size_t n = std::stoul(shp.substr(0, shp.find('x'))), k = std::stoul(shp.substr(shp.find('x') + 1));
    for (const std::string& dts : split(dtypes)) {
      const DType dt = parse_dt(dts);
      const size_t rb = row_bytes(dt, k), wbytes = rb * n;
      const size_t copies = std::max<size_t>(2, pool_bytes / wbytes);
      // valid f16 scales in every block of every copy (d = 0.01 as f16 = 0x211f)
      if (dt == DType::q8_0 || dt == DType::q4_0) {
        const size_t bs = dt == DType::q8_0 ? 34 : 18;
        for (size_t c = 0; c < copies; c++)
          for (size_t b = 0; b < wbytes / bs; b++) {
            const uint16_t d = 0x211f;
            std::memcpy(pool.data() + c * wbytes + b * bs, &d, 2);
          }
      }
      auto view = [&](size_t c) {
        WeightView w;
        w.dtype = dt;
        w.n = n;
        w.k = k;
        w.data = pool.data() + c * wbytes;
        w.data_bytes = wbytes;
        if (dt == DType::i8c || dt == DType::i4g) {
          w.scales = scales.data();
          w.scales_len = scales.size();
        }
        if (dt == DType::i4g) {
          w.group = 32;
          w.zero_points = zps.data();
          w.zero_points_len = zps.size();
        }
        return w;
      };
      std::vector<uint8_t> packed(pack_size(view(0), 512));
      pack(view(0), packed.data(), packed.size());
      for (const std::string& mstr : split(ms)) {
        const size_t m = std::stoul(mstr);
        std::vector<float> x(m * k), y(m * n);
        std::mt19937 rng(1);
        std::normal_distribution<float> nd;
        for (auto& v : x) v = nd(rng);
        const bool gemm = m >= matmul_gemm_min_m();
        for (const std::string& th : split(threads)) {
          ThreadPool::global().set_threads(static_cast<unsigned>(std::stoul(th)));
          std::vector<std::string> isal = isas == "best" ? std::vector<std::string>{isa_name(best_supported_isa())} : split(isas);
          for (const std::string& is : isal) {
            const Isa isa = parse_isa(is);
            if (!cpu_supports(isa)) continue;
            set_isa_cap(isa);
            size_t c = 0;
            auto call = [&] {
              if (gemm)
                matmul_f32(view(0), packed.data(), packed.size(), x.data(), x.size(), m, k, y.data(), y.size(), n);
              else
                matmul_f32(view(c), nullptr, 0, x.data(), x.size(), m, k, y.data(), y.size(), n);
              c = (c + 1) % copies;
            };
            for (int w = 0; w < 2; w++) call();
            // a timed run = enough calls for >= 20 ms (GEMV: each on the next copy)
            double t0 = now();
            call();
            const double one = now() - t0;
            const int per = std::max(1, static_cast<int>(0.02 / std::max(one, 1e-6)));
            std::vector<double> ts;
            for (int r = 0; r < runs; r++) {
              t0 = now();
              for (int i = 0; i < per; i++) call();
              ts.push_back((now() - t0) / per);
            }
            const double t = median(ts);
            const double gbs = static_cast<double>(wbytes) / t / 1e9;
            const double gops = 2.0 * m * n * k / t / 1e9;
            const char* kname = matmul_kernel_name(dt, gemm ? MatMulPath::gemm : MatMulPath::gemv);
            const double bw = bw_by_threads[std::min<size_t>(std::stoul(th), 256)];
            const double pct = gemm || bw <= 0.0 ? 0.0 : 100.0 * gbs / bw;
            std::printf("%-6s %5zux%-5zu %5zu %3s %-13s %-40s %10.3f %10.2f %10.1f %6.1f\n", dts.c_str(), n, k, m, th.c_str(),
                        is.c_str(), kname, t * 1e3, gbs, gops, pct);
            std::printf("JSON {\"dtype\":\"%s\",\"n\":%zu,\"k\":%zu,\"m\":%zu,\"threads\":%s,\"isa\":\"%s\",\"kernel\":\"%s\","
                        "\"path\":\"%s\",\"ms\":%.4f,\"weight_gbs\":%.3f,\"gops\":%.2f,\"pct_read_bw\":%.1f,\"copies\":%zu}\n",
                        dts.c_str(), n, k, m, th.c_str(), is.c_str(), kname, gemm ? "gemm" : "gemv", t * 1e3, gbs, gops, pct,
                        gemm ? size_t(1) : copies);
            std::fflush(stdout);
          }
        }
      }
    }
  }
  return 0;
}
