// Low-bit matmul: every kernel variant the host runs against the scalar reference, on shapes derived
// from the tiles (GEMV 1x4 rows x 2 activation rows; GEMM 8x16 / 4x8), integer outputs bit-exact,
// float outputs within matmul_f32_tolerance of a float64 evaluation of the same quantized product.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../../cpp/ref/matmul-kernels.h"
#include "bitflash/error.h"
#include "bitflash/isa.h"
#include "bitflash/matmul.h"
#include "bitflash/dyadic.h"
#include "bitflash/quant.h"
#include "test-util.h"

using namespace bitflash;
using bitflash::test::CapGuard;
using bitflash::test::host_isas;

namespace {


// Owned weights with a view that may be strided (pad bytes per row) and offset (front bytes).
struct OwnedW {
  std::vector<uint8_t> buf;
  std::vector<float> scales;
  std::vector<uint8_t> zp;
  WeightView v;
};

enum class Fill { random, max_pos, max_neg };

OwnedW make_w(DType dt, size_t n, size_t k, int group, bool with_zp, size_t pad, size_t front, Fill fill,
              std::mt19937& rng) {
  OwnedW o;
  WeightView& v = o.v;
  v.dtype = dt;
  v.n = n;
  v.k = k;
  v.group = dt == DType::i4g ? group : 0;
  size_t rb = 0;
  switch (dt) {
    case DType::q8_0: rb = k / 32 * 34; break;
    case DType::q4_0: rb = k / 32 * 18; break;
    case DType::i8c: rb = k; break;
    default: rb = (k + group - 1) / group * (group / 2);
  }
  v.row_stride = pad ? rb + pad : 0;
  const size_t stride = rb + pad;
  o.buf.assign(front + (n - 1) * stride + rb, 0);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> sc(0.001f, 0.05f);
  for (auto& b : o.buf) b = static_cast<uint8_t>(byte(rng));
  uint8_t* base = o.buf.data() + front;
  for (size_t r = 0; r < n; r++) {
    uint8_t* row = base + r * stride;
    if (dt == DType::q8_0 || dt == DType::q4_0) {
      const size_t bs = dt == DType::q8_0 ? 34 : 18;
      for (size_t b = 0; b < k / 32; b++) {
        const fp16_t d = f32_to_fp16((byte(rng) & 1 ? -1.0f : 1.0f) * sc(rng));
        std::memcpy(row + b * bs, &d, 2);
        if (fill != Fill::random)
          std::memset(row + b * bs + 2, dt == DType::q8_0 ? (fill == Fill::max_pos ? 0x7f : 0x80) : (fill == Fill::max_pos ? 0xff : 0x00), bs - 2);
      }
    } else if (fill != Fill::random) {
      std::memset(row, dt == DType::i8c ? (fill == Fill::max_pos ? 0x7f : 0x80) : (fill == Fill::max_pos ? 0xff : 0x00), rb);
    }
  }
  v.data = base;
  v.data_bytes = o.buf.size() - front;
  if (dt == DType::i8c) {
    o.scales.resize(n);
    for (auto& s : o.scales) s = sc(rng);
  } else if (dt == DType::i4g) {
    const size_t gpr = (k + group - 1) / group;
    o.scales.resize(n * gpr);
    for (auto& s : o.scales) s = (byte(rng) & 1 ? -1.0f : 1.0f) * sc(rng);
    if (with_zp) {
      o.zp.resize(n * ((gpr + 1) / 2));
      for (auto& z : o.zp) z = static_cast<uint8_t>(byte(rng));
      v.zero_points = o.zp.data();
      v.zero_points_len = o.zp.size();
    }
  }
  v.scales = o.scales.empty() ? nullptr : o.scales.data();
  v.scales_len = o.scales.size();
  return o;
}

mm::WK to_wk(const WeightView& v) {
  mm::WK w{};
  w.dtype = v.dtype;
  w.n = v.n;
  w.k = v.k;
  w.data = static_cast<const uint8_t*>(v.data);
  size_t rb = v.dtype == DType::q8_0 ? v.k / 32 * 34 : v.dtype == DType::q4_0 ? v.k / 32 * 18 : v.dtype == DType::i8c ? v.k : (v.k + v.group - 1) / v.group * (v.group / 2);
  w.stride = v.row_stride ? v.row_stride : rb;
  w.scales = v.scales;
  w.group = static_cast<size_t>(v.group);
  w.gpr = v.group ? (v.k + v.group - 1) / v.group : 0;
  w.zp = v.zero_points;
  w.zp_stride = (w.gpr + 1) / 2;
  return w;
}

// float64 value of the quantized product and the magnitude s = sum_b |dw_b dx_b isum_b| for the tolerance
// (matmul.h: one int -> float conversion of the exact, offset-free isum_b per block).
void exact_f64(const WeightView& v, const float* x, size_t m, size_t ldx, std::vector<double>& e, std::vector<double>& s) {
  const mm::WK w = to_wk(v);
  const size_t kb = (v.k + 31) / 32;
  std::vector<int8_t> q(kb * 32);
  std::vector<float> d(kb);
  std::vector<int32_t> bs(kb);
  e.assign(m * v.n, 0.0);
  s.assign(m * v.n, 0.0);
  int8_t wq[32];
  for (size_t i = 0; i < m; i++) {
    mm::act_q8_quant__ref(x + i * ldx, v.k, q.data(), d.data(), bs.data());
    for (size_t r = 0; r < v.n; r++)
      for (size_t b = 0; b < kb; b++) {
        float dw;
        mm::weight_block(w, r, b, wq, &dw);
        int64_t is = 0;
        for (int j = 0; j < 32; j++) is += wq[j] * q[b * 32 + j];
        const double sc = static_cast<double>(dw) * d[b];
        e[i * v.n + r] += sc * static_cast<double>(is);
        s[i * v.n + r] += std::fabs(sc * static_cast<double>(is));
      }
  }
}

std::string dname(DType t) {
  return t == DType::q8_0 ? "q8_0" : t == DType::q4_0 ? "q4_0" : t == DType::i8c ? "i8c" : "i4g";
}

// One f32 case: every ISA, unpacked and packed, against the f64 value within the tolerance.
void check_f32_case(DType dt, size_t m, size_t n, size_t k, int group, bool zp, size_t pad, size_t front, uint32_t seed) {
  CapGuard g;
  std::mt19937 rng(seed);
  OwnedW w = make_w(dt, n, k, group, zp, pad, front, Fill::random, rng);
  const size_t ldx = k + (seed % 3), ldy = n + (seed % 2);
  std::vector<float> x(m * ldx);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (auto& v : x) v = nd(rng);
  std::vector<double> e, s;
  exact_f64(w.v, x.data(), m, ldx, e, s);
  const size_t kb = (k + 31) / 32;
  std::vector<uint8_t> packed(pack_size(w.v, m) + 64);
  uint8_t* pk = packed.data() + (64 - reinterpret_cast<uintptr_t>(packed.data()) % 64) % 64;
  pack(w.v, pk, pack_size(w.v, m));
  for (Isa isa : host_isas()) {
    set_isa_cap(isa);
    for (int use_pack = 0; use_pack < 2; use_pack++) {
      const std::string kname = matmul_kernel_name(dt, use_pack && m >= matmul_gemm_min_m() ? MatMulPath::gemm : MatMulPath::gemv);
      // every SIMD path has its own kernel, except that the i8mm path's GEMV is the dotprod one (smmla
      // needs two activation rows to pair; see cpp/kernels/i8mm/matmul--i8mm.cc)
      const bool gemm = use_pack && m >= matmul_gemm_min_m();
      const Isa want = isa == Isa::i8mm && !gemm ? Isa::dotprod : isa;
      REQUIRE(kname.find(std::string("__") + (isa == Isa::scalar ? "ref" : isa_name(want))) != std::string::npos);
      std::vector<float> y(m * ldy, 12345.0f);
      matmul_f32(w.v, use_pack ? pk : nullptr, use_pack ? pack_size(w.v, m) : 0, x.data(), x.size(), m, ldx, y.data(), y.size(), ldy);
      for (size_t i = 0; i < m; i++) {
        for (size_t r = 0; r < n; r++) {
          const double tol = matmul_f32_tolerance(kb, s[i * n + r]);
          const double err = std::fabs(static_cast<double>(y[i * ldy + r]) - e[i * n + r]);
          if (!(err <= tol)) {
            FAIL_CHECK("kernel " << kname << " dtype " << dname(dt) << " m=" << m << " n=" << n << " k=" << k
                                 << " group=" << group << " zp=" << zp << " seed=" << seed << " at (" << i << "," << r
                                 << "): got " << y[i * ldy + r] << " want " << e[i * n + r] << " tol " << tol);
            return;
          }
        }
        for (size_t r = n; r < ldy; r++) CHECK(y[i * ldy + r] == 12345.0f);  // padding untouched
      }
    }
  }
}

// Writes the offset-free weight value v of element j of row r (q4_0 / i4g without zero points: nibble v + 8).
void set_wq(WeightView& v, uint8_t* base, size_t stride, size_t r, size_t j, int val) {
  uint8_t* row = base + r * stride;
  const size_t b = j / 32, e = j % 32;
  switch (v.dtype) {
    case DType::q8_0: row[b * 34 + 2 + e] = static_cast<uint8_t>(static_cast<int8_t>(val)); break;
    case DType::i8c: row[j] = static_cast<uint8_t>(static_cast<int8_t>(val)); break;
    case DType::q4_0: {
      uint8_t& by = row[b * 18 + 2 + e % 16];
      by = e < 16 ? static_cast<uint8_t>((by & 0xf0) | (val + 8)) : static_cast<uint8_t>((by & 0x0f) | ((val + 8) << 4));
      break;
    }
    default: {  // i4g: a block of 32 is 16 bytes at 16 * b in every group size
      uint8_t& by = row[b * 16 + e / 2];
      by = e % 2 == 0 ? static_cast<uint8_t>((by & 0xf0) | (val + 8)) : static_cast<uint8_t>((by & 0x0f) | ((val + 8) << 4));
    }
  }
}

// Cancellation: most (row, block) pairs have isum_b = 0 with every |wq_j|, |xq_j| at their maximum and a large
// activation block sum (the +128 / +8 / zero-point offsets then carry large partial sums), the rest carry a
// tiny isum (one product of 1 * 127). The header's bound, relative to sum_b |dw dx isum_b|, leaves no room
// for rounding the cancelled parts: a kernel that converts offset-carrying or per-lane partials to float fails.
void check_cancel_case(DType dt, size_t m, size_t n, size_t k, int group, uint32_t seed) {
  CapGuard g;
  std::mt19937 rng(seed);
  OwnedW w = make_w(dt, n, k, group, false, 0, 0, Fill::random, rng);
  uint8_t* base = const_cast<uint8_t*>(static_cast<const uint8_t*>(w.v.data));
  const size_t stride = to_wk(w.v).stride;
  const int A = dt == DType::q8_0 || dt == DType::i8c ? 127 : 7;
  // x blocks: even blocks all +1 (q = 127, block sum 4064), odd blocks +1 then -1 halves (block sum 0).
  std::vector<float> x(m * k);
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < k; j++) x[i * k + j] = ((j / 32) % 2 == 0 || j % 32 < 16) ? 1.0f : -1.0f;
  if (m > 1)
    for (size_t j = 0; j < k; j++) x[k + j] = -x[k + j];
  for (size_t r = 0; r < n; r++)
    for (size_t j = 0; j < k; j++) {
      const size_t b = j / 32, e = j % 32;
      int val;
      if ((r + b) % 4 == 0) val = e == r % 32 ? 1 : 0;           // tiny: isum = +-127
      else if (b % 2 == 0) val = e < 16 ? A : -A;                 // x all 127: halves cancel
      else val = A;                                               // x halves: constant weights cancel
      set_wq(w.v, base, stride, r, j, val);
    }
  std::vector<double> e, s;
  exact_f64(w.v, x.data(), m, k, e, s);
  const size_t kb = (k + 31) / 32;
  std::vector<uint8_t> packed(pack_size(w.v, m));
  pack(w.v, packed.data(), packed.size());
  size_t ok = 0, want_ok = 0;
  for (Isa isa : host_isas()) {
    set_isa_cap(isa);
    for (int use_pack = 0; use_pack < 2; use_pack++) {
      const std::string kname = matmul_kernel_name(dt, use_pack && m >= matmul_gemm_min_m() ? MatMulPath::gemm : MatMulPath::gemv);
      want_ok += m * n;
      std::vector<float> y(m * n);
      matmul_f32(w.v, use_pack ? packed.data() : nullptr, use_pack ? packed.size() : 0, x.data(), x.size(), m, k, y.data(), y.size(), n);
      for (size_t i = 0; i < m; i++)
        for (size_t r = 0; r < n; r++) {
          const double tol = matmul_f32_tolerance(kb, s[i * n + r]);
          const double err = std::fabs(static_cast<double>(y[i * n + r]) - e[i * n + r]);
          if (!(err <= tol)) {
            FAIL_CHECK("cancel: kernel " << kname << " dtype " << dname(dt) << " m=" << m << " n=" << n << " k=" << k
                                         << " at (" << i << "," << r << "): got " << y[i * n + r] << " want " << e[i * n + r]
                                         << " err " << err << " tol " << tol);
            return;
          }
          ok++;
        }
    }
  }
  CHECK(ok == want_ok);
}

// Integer pipeline: bit-exact across ISAs, unpacked and packed, against a plain int64 loop.
void check_i32_case(size_t m, size_t n, size_t k, bool u8, Fill wfill, int xfill, size_t pad, uint32_t seed) {
  CapGuard g;
  std::mt19937 rng(seed);
  OwnedW w = make_w(DType::i8c, n, k, 0, false, pad, 3, wfill, rng);
  const size_t ldx = k + 1;
  std::vector<uint8_t> x(m * ldx);
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& v : x) v = xfill < 0 ? static_cast<uint8_t>(byte(rng)) : static_cast<uint8_t>(xfill);
  std::vector<int32_t> want(m * n);
  const mm::WK wk = to_wk(w.v);
  for (size_t i = 0; i < m; i++)
    for (size_t r = 0; r < n; r++) {
      int64_t acc = 0;
      const int8_t* wr = reinterpret_cast<const int8_t*>(wk.data + r * wk.stride);
      for (size_t j = 0; j < k; j++) acc += (u8 ? static_cast<int64_t>(x[i * ldx + j]) : static_cast<int64_t>(static_cast<int8_t>(x[i * ldx + j]))) * wr[j];
      want[i * n + r] = static_cast<int32_t>(acc);
    }
  std::vector<uint8_t> packed(pack_size(w.v, m));
  pack(w.v, packed.data(), packed.size());
  Q8Acts a;
  a.data = x.data();
  a.is_unsigned = u8;
  a.len = x.size();
  a.ld = ldx;
  for (Isa isa : host_isas()) {
    set_isa_cap(isa);
    for (int use_pack = 0; use_pack < 2; use_pack++) {
      std::vector<int32_t> y(m * n, 0x5a5a5a5a);
      matmul_i32(w.v, use_pack ? packed.data() : nullptr, use_pack ? packed.size() : 0, a, m, y.data(), y.size(), n);
      const bool ok = std::memcmp(y.data(), want.data(), y.size() * 4) == 0;
      CHECK_MESSAGE(ok, "isa " << isa_name(isa) << " packed " << use_pack << " m=" << m << " n=" << n << " k=" << k
                               << " u8=" << u8 << " seed=" << seed);
      if (!ok) return;
    }
  }
}

}  // namespace

TEST_CASE("matmul_f32: tile-derived shapes, every dtype, every host ISA, packed and unpacked") {
  uint32_t seed = 100;
  const size_t ms[] = {1, 2, 3, 4, 5, 8, 9, 16};
  const size_t ns[] = {1, 3, 4, 5, 8, 9, 16, 17, 32};
  for (DType dt : {DType::q8_0, DType::q4_0, DType::i8c, DType::i4g}) {
    for (size_t m : ms)
      for (size_t n : ns) {
        check_f32_case(dt, m, n, 64, 32, seed & 1, seed % 3 == 0 ? 5 : 0, seed % 2, seed);
        seed++;
      }
    for (size_t k : {32, 96, 256}) check_f32_case(dt, 3, 17, k, 64, true, 0, 0, seed++);
  }
  for (size_t k : {1, 31, 33, 97}) check_f32_case(DType::i8c, 5, 9, k, 0, false, 3, 1, seed++);
  for (int group : {32, 64, 128})
    for (size_t k : {31, 33, 97, 200}) {
      check_f32_case(DType::i4g, 4, 7, k, group, true, 0, 0, seed++);
      check_f32_case(DType::i4g, 9, 18, k, group, false, 2, 1, seed++);
    }
  check_f32_case(DType::q4_0, 2, 20, 4096, 0, false, 0, 0, seed++);
  check_f32_case(DType::q8_0, 17, 33, 1024, 0, false, 0, 0, seed++);
}

TEST_CASE("matmul_f32: cancelling blocks stay within the header's bound (exact isum before the float conversion)") {
  uint32_t seed = 500;
  for (DType dt : {DType::q8_0, DType::q4_0, DType::i8c, DType::i4g})
    for (size_t m : {1, 2, 3, 5, 9})
      for (size_t n : {1, 4, 7, 17})
        for (size_t k : {32, 64, 96, 160, 512}) {
          const int group = dt == DType::i4g ? 32 << (seed % 3) : 0;
          check_cancel_case(dt, m, n, k, group, seed++);
        }
}

TEST_CASE("matmul_i32: bit-exact, extremes, deep k, i8 and u8 activations") {
  uint32_t seed = 7;
  for (size_t m : {1, 2, 3, 4, 5, 8, 9, 16})
    for (size_t n : {1, 4, 5, 8, 15, 16, 17, 32}) {
      check_i32_case(m, n, 64, seed & 1, Fill::random, -1, seed % 3, seed);
      seed++;
    }
  for (size_t k : {1, 31, 33, 97}) check_i32_case(5, 9, k, k & 1, Fill::random, -1, 1, seed++);
  // extremes: all -128 x all -128 (the largest positive products), 127 x -128, u8 255 x -128, deep k
  check_i32_case(1, 5, 32768, false, Fill::max_neg, 0x80, 0, seed++);
  check_i32_case(9, 17, 32768, false, Fill::max_neg, 0x80, 0, seed++);
  check_i32_case(9, 17, 32800, false, Fill::max_pos, 0x80, 0, seed++);
  check_i32_case(9, 17, 65536, true, Fill::max_neg, 0xff, 0, seed++);  // -2^31 + 2^23: near the int32 floor
  check_i32_case(4, 3, 40000, true, Fill::random, -1, 0, seed++);
}

TEST_CASE("matmul_q8: i8 / u8 activations with scales and zero points match the f32 reference") {
  CapGuard g;
  std::mt19937 rng(99);
  for (DType dt : {DType::q8_0, DType::q4_0, DType::i8c, DType::i4g}) {
    for (bool u8 : {false, true}) {
      const size_t m = 9, n = 19, k = 128;
      OwnedW w = make_w(dt, n, k, 64, true, 0, 0, Fill::random, rng);
      std::vector<uint8_t> x(m * k);
      for (auto& v : x) v = static_cast<uint8_t>(rng());
      x[0] = 0x80;  // -128 for i8
      std::vector<float> sx(m);
      std::vector<int32_t> zp(m);
      for (size_t i = 0; i < m; i++) {
        sx[i] = 0.01f * static_cast<float>(i + 1);
        zp[i] = u8 ? static_cast<int32_t>(rng() % 256) : static_cast<int32_t>(rng() % 256) - 128;
      }
      Q8Acts a;
      a.data = x.data();
      a.is_unsigned = u8;
      a.len = x.size();
      a.ld = k;
      a.scales = sx.data();
      a.scales_len = m;
      a.zero_points = zp.data();
      a.zero_points_len = m;
      // float64 truth per block, and matmul.h's magnitude with the kernels' view of x (u8 as x - 128, zp' = zp - 128):
      // s = sum_b |dw sx isum'_b| + |sx zp'| sum_b |dw wsum_b|
      const mm::WK wk = to_wk(w.v);
      std::vector<double> truth(m * n), mag(m * n);
      for (size_t i = 0; i < m; i++)
        for (size_t r = 0; r < n; r++) {
          const int zpk = zp[i] - (u8 ? 128 : 0);
          double t = 0, s1 = 0, s2 = 0;
          for (size_t b = 0; b < k / 32; b++) {
            int8_t q[32];
            float dw;
            mm::weight_block(wk, r, b, q, &dw);
            int64_t is = 0, ws = 0;
            for (int j = 0; j < 32; j++) {
              const int xv = u8 ? x[i * k + b * 32 + j] - 128 : static_cast<int8_t>(x[i * k + b * 32 + j]);
              is += q[j] * xv;
              ws += q[j];
            }
            t += static_cast<double>(dw) * sx[i] * static_cast<double>(is - static_cast<int64_t>(zpk) * ws);
            s1 += std::fabs(static_cast<double>(dw) * sx[i] * static_cast<double>(is));
            s2 += std::fabs(static_cast<double>(dw) * static_cast<double>(ws));
          }
          truth[i * n + r] = t;
          mag[i * n + r] = s1 + std::fabs(static_cast<double>(sx[i]) * zpk) * s2;
        }
      std::vector<uint8_t> packed(pack_size(w.v, m));
      pack(w.v, packed.data(), packed.size());
      for (Isa isa : host_isas()) {
        set_isa_cap(isa);
        for (int use_pack = 0; use_pack < 2; use_pack++) {
          std::vector<float> y(m * n);
          matmul_q8(w.v, use_pack ? packed.data() : nullptr, use_pack ? packed.size() : 0, a, m, y.data(), y.size(), n);
          for (size_t i = 0; i < m; i++)
            for (size_t r = 0; r < n; r++) {
              const double t = truth[i * n + r];
              const double tol = matmul_f32_tolerance(k / 32 + 2, mag[i * n + r]);
              CHECK_MESSAGE(std::fabs(y[i * n + r] - t) <= tol, "isa " << isa_name(isa) << " dtype " << dname(dt) << " u8 " << u8
                                                                     << " packed " << use_pack << " (" << i << "," << r << ")");
            }
        }
      }
    }
  }
}

TEST_CASE("matmul: error paths") {
  std::mt19937 rng(5);
  OwnedW w = make_w(DType::q4_0, 8, 64, 0, false, 0, 0, Fill::random, rng);
  std::vector<float> x(2 * 64, 1.0f), y(2 * 8);
  auto arg_error = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.code()) == kErrArg;
    }
    return false;
  };
  CHECK_NOTHROW(matmul_f32(w.v, nullptr, 0, x.data(), x.size(), 2, 64, y.data(), y.size(), 8));
  CHECK(arg_error([&] { matmul_f32(w.v, nullptr, 0, x.data(), x.size() - 1, 2, 64, y.data(), y.size(), 8); }));  // short x
  CHECK(arg_error([&] { matmul_f32(w.v, nullptr, 0, x.data(), x.size(), 2, 64, y.data(), y.size() - 1, 8); }));  // short y
  CHECK(arg_error([&] { matmul_f32(w.v, nullptr, 0, x.data(), x.size(), 0, 64, y.data(), y.size(), 8); }));      // m = 0
  CHECK(arg_error([&] { matmul_f32(w.v, nullptr, 0, x.data(), x.size(), 2, 63, y.data(), y.size(), 8); }));      // ldx < k
  CHECK(arg_error([&] { matmul_f32(w.v, nullptr, 0, x.data(), x.size(), 2, 64, y.data(), y.size(), 7); }));      // ldy < n
  CHECK(arg_error([&] { matmul_f32(w.v, nullptr, 0, x.data(), SIZE_MAX, SIZE_MAX / 2, SIZE_MAX / 4, y.data(), y.size(), 8); }));  // overflow
  x[5] = INFINITY;
  CHECK(arg_error([&] { matmul_f32(w.v, nullptr, 0, x.data(), x.size(), 2, 64, y.data(), y.size(), 8); }));  // non-finite
  x[5] = 1.0f;
  WeightView bad = w.v;
  bad.data_bytes -= 1;
  CHECK(arg_error([&] { matmul_f32(bad, nullptr, 0, x.data(), x.size(), 2, 64, y.data(), y.size(), 8); }));  // short weights
  bad = w.v;
  bad.k = 48;
  CHECK(arg_error([&] { validate_weights(bad); }));  // k % 32
  bad = w.v;
  bad.row_stride = 10;
  CHECK(arg_error([&] { validate_weights(bad); }));  // stride < row
  bad = w.v;
  bad.n = 0;
  CHECK(arg_error([&] { validate_weights(bad); }));
  bad = w.v;
  bad.dtype = DType::f32;
  CHECK(arg_error([&] { validate_weights(bad); }));
  // i8c scales and i4g group
  OwnedW c = make_w(DType::i8c, 4, 33, 0, false, 0, 0, Fill::random, rng);
  c.scales[2] = -1.0f;
  CHECK(arg_error([&] { validate_weights(c.v); }));
  c.scales[2] = NAN;
  CHECK(arg_error([&] { validate_weights(c.v); }));
  c.scales[2] = 1.0f;
  c.v.scales_len = 3;
  CHECK(arg_error([&] { validate_weights(c.v); }));
  OwnedW g4 = make_w(DType::i4g, 4, 64, 32, true, 0, 0, Fill::random, rng);
  WeightView gb = g4.v;
  gb.group = 48;
  CHECK(arg_error([&] { validate_weights(gb); }));
  gb = g4.v;
  gb.zero_points_len = 1;
  CHECK(arg_error([&] { validate_weights(gb); }));
  // matmul_i32 wants i8c; packed must match
  Q8Acts a;
  std::vector<int8_t> xi(2 * 64);
  a.data = xi.data();
  a.len = xi.size();
  a.ld = 64;
  std::vector<int32_t> yi(16);
  CHECK(arg_error([&] { matmul_i32(w.v, nullptr, 0, a, 2, yi.data(), yi.size(), 8); }));
  CHECK(arg_error([&] { matmul_q8(w.v, nullptr, 0, a, 2, y.data(), y.size(), 8); }));  // scales missing
  std::vector<uint8_t> pk(pack_size(w.v, 8));
  pack(w.v, pk.data(), pk.size());
  CHECK(arg_error([&] { matmul_f32(w.v, pk.data(), pk.size() - 1, x.data(), x.size(), 2, 64, y.data(), y.size(), 8); }));
  OwnedW w2 = make_w(DType::q4_0, 9, 64, 0, false, 0, 0, Fill::random, rng);
  std::vector<float> y2(2 * 9);
  CHECK(arg_error([&] { matmul_f32(w2.v, pk.data(), pk.size(), x.data(), x.size(), 2, 64, y2.data(), y2.size(), 9); }));
  CHECK(arg_error([&] { pack(w.v, pk.data(), pk.size() - 1); }));
}

// ---- fused int8 requantize (matmul_i8_requant) against int_linear__ref, bit for bit ----
namespace {
void check_rq_case(size_t m, size_t n, size_t k, bool u8, bool per_channel, bool with_bias, bool with_zp, Fill wfill,
                   int xfill, uint32_t seed) {
  CapGuard g;
  std::mt19937 rng(seed);
  OwnedW w = make_w(DType::i8c, n, k, 0, false, seed % 3, 1, wfill, rng);
  const mm::WK wk = to_wk(w.v);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> x(m * k);
  for (auto& v : x) v = xfill < 0 ? static_cast<uint8_t>(byte(rng)) : static_cast<uint8_t>(xfill);
  // one zero point per call (int_linear__ref takes one), given per row to the op
  const int32_t zp = with_zp ? (u8 ? byte(rng) : byte(rng) - 128) : 0;
  std::vector<int32_t> zps(m, zp);
  std::vector<int32_t> bias(n);
  std::uniform_int_distribution<int32_t> bd(-(1 << 23) + 1, (1 << 23) - 1);
  for (auto& b : bias) b = bd(rng);
  // multipliers around the accumulator scale: shifts below, at and above 31, both signs
  std::vector<Dyadic> mult(per_channel ? n : 1);
  std::uniform_real_distribution<double> ex(-30.0, 2.0);
  for (size_t j = 0; j < mult.size(); j++) {
    double sc = std::pow(2.0, ex(rng)) / std::sqrt(static_cast<double>(k));
    if (j % 5 == 3) sc = -sc;
    mult[j] = dyadic_from_scale(sc);
    if (j % 7 == 1) mult[j] = Dyadic{INT32_MIN, 31 + static_cast<int>(j % 3)};
    if (j % 11 == 2) mult[j] = Dyadic{INT32_MAX, 5};  // large left shift: saturation
  }
  const int32_t y_zp = static_cast<int32_t>(byte(rng)) - 128;
  // the oracle on int8 data: u8 values v with zero point z are the int8 values v - 128 with z - 128
  std::vector<int8_t> xi(m * k), wd(n * k);
  for (size_t j = 0; j < m * k; j++) xi[j] = static_cast<int8_t>(u8 ? x[j] - 128 : static_cast<int8_t>(x[j]));
  for (size_t r = 0; r < n; r++)
    for (size_t j = 0; j < k; j++) wd[r * k + j] = static_cast<int8_t>(wk.data[r * wk.stride + j]);
  std::vector<int8_t> want(m * n);
  int_linear__ref(xi.data(), u8 ? zp - 128 : zp, wd.data(), with_bias ? bias.data() : nullptr, m, n, k, mult.data(),
                  mult.size(), y_zp, want.data());
  std::vector<uint8_t> packed(pack_size(w.v, m));
  pack(w.v, packed.data(), packed.size());
  Q8Acts a;
  a.data = x.data();
  a.is_unsigned = u8;
  a.len = x.size();
  a.ld = k;
  if (with_zp) {
    a.zero_points = zps.data();
    a.zero_points_len = m;
  }
  const size_t ldy = n + 3;
  for (Isa isa : host_isas()) {
    set_isa_cap(isa);
    for (int use_pack = 0; use_pack < 2; use_pack++) {
      std::vector<int8_t> y(m * ldy, 0x5a);
      matmul_i8_requant(w.v, use_pack ? packed.data() : nullptr, use_pack ? packed.size() : 0, a, m,
                        with_bias ? bias.data() : nullptr, with_bias ? n : 0, mult.data(), mult.size(), y_zp, y.data(),
                        y.size(), ldy);
      bool ok = true;
      size_t bad_at = 0;
      for (size_t i = 0; i < m && ok; i++) {
        for (size_t r = 0; r < n; r++)
          if (y[i * ldy + r] != want[i * n + r]) {
            ok = false;
            bad_at = i * n + r;
            break;
          }
        for (size_t r = n; r < ldy; r++) ok = ok && y[i * ldy + r] == 0x5a;  // padding untouched
      }
      CHECK_MESSAGE(ok, "isa " << isa_name(isa) << " packed " << use_pack << " m=" << m << " n=" << n << " k=" << k
                               << " u8=" << u8 << " pc=" << per_channel << " bias=" << with_bias << " zp=" << with_zp
                               << " seed=" << seed << " first mismatch at " << bad_at);
      if (!ok) return;
    }
  }
}
}  // namespace

TEST_CASE("matmul_i8_requant: fused epilogue equals int_linear__ref bit for bit on every path") {
  uint32_t seed = 900;
  for (size_t m : {1, 2, 3, 4, 5, 8, 9, 16, 17})
    for (size_t n : {1, 4, 5, 8, 9, 15, 16, 17, 33}) {
      check_rq_case(m, n, 64 + (seed % 3) * 32, seed & 1, (seed >> 1) & 1, (seed >> 2) & 1, (seed % 3) != 0, Fill::random, -1, seed);
      seed++;
    }
  for (size_t k : {1, 31, 33, 97, 300}) check_rq_case(5, 19, k, k & 1, true, true, true, Fill::random, -1, seed++);
  // extremes and deep k: all -128 x all -128 / 127 x 255 (u8) at k up to 65536, per tensor and per channel
  check_rq_case(9, 17, 32768, false, true, true, false, Fill::max_neg, 0x80, seed++);
  check_rq_case(4, 16, 65536, true, false, true, true, Fill::max_pos, 0xff, seed++);
  check_rq_case(1, 5, 65536, false, true, false, true, Fill::max_neg, 0x7f, seed++);
  check_rq_case(12, 33, 4096, true, true, true, true, Fill::random, -1, seed++);
}

TEST_CASE("matmul_i8_requant: argument errors") {
  std::mt19937 rng(3);
  OwnedW w = make_w(DType::i8c, 4, 32, 0, false, 0, 0, Fill::random, rng);
  std::vector<int8_t> x(2 * 32), y(2 * 4);
  Q8Acts a;
  a.data = x.data();
  a.len = x.size();
  a.ld = 32;
  Dyadic d{1 << 30, 40};
  std::vector<int32_t> bias(4, 0);
  auto call = [&](const WeightView& wv, const Dyadic* mu, size_t nm, int32_t yz, const int32_t* b, size_t yl) {
    matmul_i8_requant(wv, nullptr, 0, a, 2, b, b ? 4 : 0, mu, nm, yz, y.data(), yl, 4);
  };
  CHECK_NOTHROW(call(w.v, &d, 1, 0, bias.data(), y.size()));
  CHECK_THROWS_AS(call(w.v, &d, 2, 0, nullptr, y.size()), Error);   // n_mult neither 1 nor n
  CHECK_THROWS_AS(call(w.v, nullptr, 1, 0, nullptr, y.size()), Error);
  CHECK_THROWS_AS(call(w.v, &d, 1, 128, nullptr, y.size()), Error);  // y_zp out of range
  CHECK_THROWS_AS(call(w.v, &d, 1, 0, nullptr, y.size() - 1), Error);
  Dyadic bad_s{1, 63};
  CHECK_THROWS_AS(call(w.v, &bad_s, 1, 0, nullptr, y.size()), Error);
  bias[2] = 1 << 23;
  CHECK_THROWS_AS(call(w.v, &d, 1, 0, bias.data(), y.size()), Error);
  OwnedW q = make_w(DType::q8_0, 4, 32, 0, false, 0, 0, Fill::random, rng);
  CHECK_THROWS_AS(call(q.v, &d, 1, 0, nullptr, y.size()), Error);  // not i8c
}

// The packed GEMMs tile 4 activation rows (the i8mm kernel pairs them for smmla, an odd last row paired with
// itself) by 8 weight rows: every remainder m % 4 and column edges inside and across the 8-row halves.
// (The shapes above reach m % 4 == 0 and 1 only once m >= matmul_gemm_min_m().)
TEST_CASE("packed GEMM: every activation-row remainder and column edge, f32 / i32 / requant, every host path") {
  uint32_t seed = 4000;
  for (size_t m : {6, 7, 10, 11})
    for (size_t n : {1, 7, 9, 24, 31}) {
      for (DType dt : {DType::q8_0, DType::q4_0, DType::i8c, DType::i4g})
        check_f32_case(dt, m, n, 96, 32, seed & 1, 0, 0, seed), seed++;
      check_i32_case(m, n, 96, seed & 1, Fill::random, -1, 0, seed), seed++;
      check_rq_case(m, n, 96, seed & 1, (seed >> 1) & 1, true, true, Fill::random, -1, seed), seed++;
    }
  check_i32_case(7, 9, 4096, false, Fill::max_neg, 0x80, 0, seed++);  // -128 x -128 everywhere, odd pair
  check_rq_case(11, 17, 8192, true, true, true, true, Fill::max_pos, 0xff, seed++);
}
