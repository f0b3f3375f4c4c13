// Dyadic integer-only ops: accuracy against float64 (--accuracy) and single-thread throughput of the
// dispatched integer kernel vs an AVX2 float implementation of the same op written here (median of
// >= 5 runs, elements per second). Benchmarks, not tests.
//   bitflash_bench_dyadic [--accuracy] [--throughput] (both when neither is given)
#include <immintrin.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bitflash/dyadic.h"
#include "bitflash/dyadic-float.h"
#include "bitflash/isa.h"

using namespace bitflash;

namespace {

// ------------------------------------------------------------------ accuracy
struct Err {
  double max = 0, sum = 0;
  size_t n = 0;
  void add(double e) {
    e = std::fabs(e);
    max = std::max(max, e);
    sum += e;
    n++;
  }
};
void row(const char* op, const char* range, const Err& e, const char* claim) {
  std::printf("| %-26s | %-34s | %10.5f | %10.6f | %s |\n", op, range, e.max, e.n ? e.sum / e.n : 0.0, claim);
}
double gelu64(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

void accuracy() {
  std::printf("\n## Accuracy vs float64 (real units unless noted)\n\n");
  std::printf("| op | inputs, scales | max abs err | mean abs err | paper |\n|---|---|---|---|---|\n");
  std::mt19937 rng(1);
  {  // requantize: error in output steps
    Err e;
    for (int i = 0; i < 1000000; i++) {
      const int32_t x = static_cast<int32_t>(rng()) >> (rng() % 20);
      const double sc = std::exp2(-static_cast<double>(8 + rng() % 16)) * (1 + (rng() % 1000) / 1000.0);
      const Dyadic d = dyadic_from_scale(sc);
      int16_t y;
      requantize__ref(&x, 1, &d, false, 0, DType::i16, &y);
      const double want = std::round(x * sc);
      if (std::fabs(want) < 32767) e.add(y - want);
    }
    row("requantize (output steps)", "random int32, scales 2^-8..2^-23", e, "HAWQ-V3: none (rule only)");
  }
  {
    const double sa = 0.05, sb = 0.03, sy = 0.08;
    const AddParams p = add_prepare(sa, 0, sb, 0, sy, 0);
    Err e;
    for (int a = -128; a < 128; a++)
      for (int b = -128; b < 128; b++) {
        const int8_t va = static_cast<int8_t>(a), vb = static_cast<int8_t>(b);
        int8_t y;
        add_rescale__ref(&va, &vb, 1, p, &y);
        const double f = a * sa + b * sb;
        if (std::fabs(f / sy) <= 127) e.add(y * sy - f);
      }
    row("add with rescale", "all int8 pairs, 0.05 + 0.03 -> 0.08", e, "HAWQ-V3: none");
  }
  for (ExpMethod m : {ExpMethod::ibert_poly, ExpMethod::shift}) {
    const char* name = m == ExpMethod::ibert_poly ? "i-exp I-BERT (relative)" : "Shift-exp I-ViT (relative)";
    for (double s : {1.0 / 1024, 0.0625}) {
      const ExpParams p = exp_prepare(s, m);
      Err e;
      const int lo = s < 0.01 ? -32768 : -255;
      for (int d = lo; d <= 0; d++) {
        const int16_t v = static_cast<int16_t>(d);
        int32_t y;
        i_exp__ref(&v, 1, p, &y);
        const double ex = std::exp(d * s);
        if (ex > 1e-3) e.add((y * p.out_scale - ex) / ex);
      }
      char range[64];
      std::snprintf(range, sizeof range, "%s d in [%d,0], s=%g, exp>1e-3", s < 0.01 ? "int16" : "int8", lo, s);
      row(name, range, e, m == ExpMethod::ibert_poly ? "I-BERT: poly max rel ~3e-3 on [-ln2,0]" : "I-ViT: none per op");
    }
  }
  for (ExpMethod m : {ExpMethod::ibert_poly, ExpMethod::shift}) {
    for (double s : {0.0625, 0.125}) {
      const SoftmaxParams p = softmax_prepare(s, m);
      Err e;
      for (size_t cols : {size_t(64), size_t(197), size_t(1024)}) {
        std::vector<int8_t> x(cols);
        std::vector<uint8_t> y(cols);
        for (int r = 0; r < 200; r++) {
          std::normal_distribution<double> nd(0.0, 2.0 / s);  // scores with std 2 (real)
          for (auto& v : x) v = static_cast<int8_t>(std::max(-128.0, std::min(127.0, std::round(nd(rng)))));
          softmax__ref(x.data(), 1, cols, p, y.data());
          const int mx = *std::max_element(x.begin(), x.end());
          double sum = 0;
          for (int8_t v : x) sum += std::exp((v - mx) * s);
          for (size_t j = 0; j < cols; j++) e.add(y[j] / 256.0 - std::exp((x[j] - mx) * s) / sum);
        }
      }
      char range[80];
      std::snprintf(range, sizeof range, "rows 64/197/1024, N(0,2), s=%g", s);
      row(m == ExpMethod::ibert_poly ? "softmax I-BERT (u8 out)" : "Shiftmax I-ViT (u8 out)", range, e,
          "papers: task accuracy only");
    }
  }
  for (double s : {4.0 / 127, 8.0 / 127}) {
    const GeluParams pg = gelu_prepare(s, s, 0);
    const SigmoidMulParams ps = sigmoid_mul_prepare(SigmoidAct::shift_gelu, s, s, 0);
    const SigmoidMulParams pl = sigmoid_mul_prepare(SigmoidAct::silu, s, s, 0);
    Err eg, es, el, eq;
    for (int v = -128; v < 128; v++) {
      const int8_t x = static_cast<int8_t>(v);
      int8_t y;
      const double xr = v * s;
      i_gelu__ref(&x, 1, pg, &y);
      eg.add(y * s - gelu64(xr));
      sigmoid_mul__ref(&x, 1, ps, &y);
      es.add(y * s - gelu64(xr));
      sigmoid_mul__ref(&x, 1, pl, &y);
      el.add(y * s - xr / (1 + std::exp(-xr)));
      eq.add(std::round(gelu64(xr) / s) * s - gelu64(xr));  // the int8 output step alone
    }
    char range[64];
    std::snprintf(range, sizeof range, "all int8, s=%.4f (|x|<=%.0f), out s", s, 128 * s);
    row("i-GELU I-BERT", range, eg, "I-BERT: erf poly, GELU L-inf 0.018 (float)");
    row("ShiftGELU I-ViT", range, es, "I-ViT: none per op");
    row("SiLU (shift-exp sigmoid)", range, el, "-");
    row("  (int8 output step alone)", range, eq, "lower bound for any int8 op");
  }
  for (int ln = 1; ln >= 0; ln--) {
    const size_t cols = 768;
    std::vector<float> gamma(cols), beta(cols);
    for (size_t j = 0; j < cols; j++) gamma[j] = 0.8f + 0.4f * (rng() % 1000) / 1000.0f, beta[j] = ln ? 0.1f * (static_cast<int>(rng() % 21) - 10) : 0.0f;
    const double ys = 4.0 / 127;
    NormPrepared np;
    norm_prepare(np, ln == 1, cols, gamma.data(), beta.data(), ys, 0);
    Err e;
    std::vector<int8_t> x(cols), y(cols);
    for (int r = 0; r < 500; r++) {
      std::normal_distribution<double> nd(ln ? 5.0 : 0.0, 5.0 + r % 40);
      for (auto& v : x) v = static_cast<int8_t>(std::max(-128.0, std::min(127.0, std::round(nd(rng)))));
      norm__ref(x.data(), 1, np.params(), y.data());
      double mean = 0, var = 0;
      if (ln) {
        for (int8_t v : x) mean += v;
        mean /= cols;
      }
      for (int8_t v : x) var += (v - mean) * (v - mean);
      var /= cols;
      for (size_t j = 0; j < cols; j++) {
        const double f = (x[j] - mean) / std::sqrt(var) * gamma[j] + beta[j];
        if (std::fabs(f / ys) <= 127) e.add(y[j] * ys - f);
      }
    }
    row(ln ? "LayerNorm (isqrt)" : "RMSNorm (isqrt)", "768 cols, random int8 rows, out 4/127", e,
        "I-BERT/I-ViT: task accuracy only");
  }
}

// ------------------------------------------------------------------ AVX2 float counterparts
// The f32 baselines are the project's own (cpp/kernels/avx2/dyadic-float--avx2.cc), the same code the
// JS benchmark calls.
using bitflash::add_f32__avx2;
using bitflash::exp_f32__avx2;
using bitflash::gelu_f32__avx2;
using bitflash::norm_f32__avx2;
using bitflash::silu_f32__avx2;
using bitflash::softmax_f32__avx2;

// ------------------------------------------------------------------ throughput
// The calling thread's CPU time: other processes on a shared machine do not count (on an idle machine
// it equals the wall time of these single-threaded calls).
double cpu_s() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}
void trow(const char* op, const char* kernel, double ie, double fe);
// The integer and the f32 call timed in alternate runs (a change of load hits both alike): medians.
template <class A, class B>
void trow2(const char* op, const char* kernel, size_t elems, A&& a, B&& b) {
  std::vector<double> va, vb;
  auto one = [&](auto& f) {  // one run: as many calls as fill 50 ms of the thread's CPU time
    int reps = 0;
    const double t0 = cpu_s();
    double dt = 0;
    do {
      f();
      reps++;
      dt = cpu_s() - t0;
    } while (dt < 0.05);
    return static_cast<double>(elems) * reps / dt;
  };
  a();
  b();
  for (int run = 0; run < 7; run++) {
    va.push_back(one(a));
    vb.push_back(one(b));
  }
  std::sort(va.begin(), va.end());
  std::sort(vb.begin(), vb.end());
  trow(op, kernel, va[3], vb[3]);
}
void trow(const char* op, const char* kernel, double ie, double fe) {
  std::printf("| %-24s | %-20s | %8.1f | %8.1f | %5.2fx |\n", op, kernel, ie / 1e6, fe / 1e6, ie / fe);
}

void throughput() {
  const size_t rows = 512, cols = 512, n = rows * cols;  // 256 Ki elements: int8 256 KiB, f32 1 MiB
  std::mt19937 rng(3);
  std::vector<int8_t> xi(n), bi(n), yi(n);
  std::vector<uint8_t> yu(n);
  std::vector<int16_t> di(n);
  std::vector<int32_t> ei(n);
  std::vector<float> xf(n), bf(n), yf(n), g(cols, 1.0f), b(cols, 0.0f);
  for (size_t i = 0; i < n; i++) {
    xi[i] = static_cast<int8_t>(rng());
    bi[i] = static_cast<int8_t>(rng());
    di[i] = static_cast<int16_t>(-static_cast<int>(rng() % 256));
    xf[i] = xi[i] * 0.05f;
    bf[i] = bi[i] * 0.05f;
  }
  std::printf("\n## Throughput, one thread, %zu elements (rows of %zu), median of 7 runs (thread CPU time): M elements/s\n\n", n, cols);
  std::printf("| op | int kernel | int | f32 AVX2 | int/f32 |\n|---|---|---|---|---|\n");
  {
    const AddParams p = add_prepare(0.05, 0, 0.05, 0, 0.1, 0);
    const auto k = add_rescale_kernel();
    trow2("add (residual)", k.name, n, [&] { k.fn(xi.data(), bi.data(), n, p, yi.data()); },
         [&] { add_f32__avx2(xf.data(), bf.data(), n, yf.data()); });
  }
  {
    const auto k = requantize_kernel();
    std::vector<int32_t> acc(n);
    for (auto& v : acc) v = static_cast<int32_t>(rng()) >> 10;
    const Dyadic d = dyadic_from_scale(0.0003);
    std::vector<float> accf(n);
    for (size_t i = 0; i < n; i++) accf[i] = static_cast<float>(acc[i]);
    trow2("requantize (f32: a+a)", k.name, n, [&] { k.fn(acc.data(), n, &d, false, 0, DType::i8, yi.data()); },
         [&] { add_f32__avx2(accf.data(), accf.data(), n, yf.data()); });
  }
  for (ExpMethod m : {ExpMethod::ibert_poly, ExpMethod::shift}) {
    const ExpParams p = exp_prepare(0.05, m);
    const auto k = i_exp_kernel();
    trow2(m == ExpMethod::ibert_poly ? "i-exp I-BERT (i16->i32)" : "shift-exp I-ViT", k.name,
         n, [&] { k.fn(di.data(), n, p, ei.data()); }, [&] { exp_f32__avx2(xf.data(), n, yf.data()); });
  }
  for (ExpMethod m : {ExpMethod::ibert_poly, ExpMethod::shift}) {
    const SoftmaxParams p = softmax_prepare(0.05, m);
    const auto k = softmax_kernel();
    trow2(m == ExpMethod::ibert_poly ? "softmax I-BERT" : "Shiftmax I-ViT", k.name,
         n, [&] { k.fn(xi.data(), rows, cols, p, yu.data()); },
         [&] { softmax_f32__avx2(xf.data(), rows, cols, yf.data()); });
  }
  {
    const GeluParams p = gelu_prepare(0.05, 0.05, 0);
    const auto k = i_gelu_kernel();
    trow2("i-GELU I-BERT", k.name, n, [&] { k.fn(xi.data(), n, p, yi.data()); },
         [&] { gelu_f32__avx2(xf.data(), n, yf.data()); });
    const SigmoidMulParams ps = sigmoid_mul_prepare(SigmoidAct::shift_gelu, 0.05, 0.05, 0);
    const auto ks = sigmoid_mul_kernel();
    trow2("ShiftGELU I-ViT", ks.name, n, [&] { ks.fn(xi.data(), n, ps, yi.data()); },
         [&] { gelu_f32__avx2(xf.data(), n, yf.data()); });
    const SigmoidMulParams pl = sigmoid_mul_prepare(SigmoidAct::silu, 0.05, 0.05, 0);
    trow2("SiLU", ks.name, n, [&] { ks.fn(xi.data(), n, pl, yi.data()); },
         [&] { silu_f32__avx2(xf.data(), n, yf.data()); });
  }
  for (int ln = 1; ln >= 0; ln--) {
    NormPrepared np;
    norm_prepare(np, ln == 1, cols, g.data(), b.data(), 4.0 / 127, 0);
    const auto k = norm_kernel();
    const NormParams p = np.params();
    trow2(ln ? "LayerNorm" : "RMSNorm", k.name, n, [&] { k.fn(xi.data(), rows, p, yi.data()); },
         [&] { norm_f32__avx2(xf.data(), rows, cols, g.data(), b.data(), ln == 1, yf.data()); });
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool acc = false, thr = false;
  for (int i = 1; i < argc; i++) {
    if (!std::strcmp(argv[i], "--accuracy")) acc = true;
    if (!std::strcmp(argv[i], "--throughput")) thr = true;
  }
  if (!acc && !thr) acc = thr = true;
  std::string model = "unknown";
  std::ifstream ci("/proc/cpuinfo");
  for (std::string line; std::getline(ci, line);)
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  std::printf("# bench_dyadic: %s, dispatch path %s\n", model.c_str(), isa_name(active_isa()));
  if (acc) accuracy();
  if (thr) {
    if (!cpu_supports(Isa::avx2)) {
      std::printf("throughput needs AVX2 (the float counterparts are AVX2)\n");
      return 0;
    }
    throughput();
  }
  return 0;
}
