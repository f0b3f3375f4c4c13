// Float-weight matmul op: validation and the split over output rows.
#include <string>

#include "bitflash/error.h"
#include "bitflash/fmatmul.h"
#include "bitflash/threadpool.h"

namespace bitflash {

static const Variant<FMatmulFn> kF32[] = {
#if defined(__x86_64__)
    {Isa::avx2, "f32_f32_matmul_4x4__avx2", f32_f32_matmul_4x4__avx2},
#endif
#if defined(__aarch64__)
    {Isa::neon, "f32_f32_matmul_4x4__neon", f32_f32_matmul_4x4__neon},
#endif
    {Isa::scalar, "f32_f32_matmul__ref", f32_f32_matmul__ref},
};
static const Variant<FMatmulFn> kF16[] = {
#if defined(__x86_64__)
    {Isa::avx2, "f16_f32_matmul_4x4__avx2", f16_f32_matmul_4x4__avx2},
#endif
#if defined(__aarch64__)
    {Isa::neon, "f16_f32_matmul_4x4__neon", f16_f32_matmul_4x4__neon},
#endif
    {Isa::scalar, "f16_f32_matmul__ref", f16_f32_matmul__ref},
};

const Variant<FMatmulFn>& fmatmul_kernel(DType wtype) {
  if (wtype == DType::f32) return select(kF32);
  if (wtype == DType::f16) return select(kF16);
  fail(kErrArg, "matmul: float weights must be f32 or f16");
}

namespace {
void report(std::vector<OpChoice>& out) {
  const auto& a = select(kF32);
  out.push_back({"matmul f32 weights", a.name, isa_name(a.isa)});
  const auto& b = select(kF16);
  out.push_back({"matmul f16 weights", b.name, isa_name(b.isa)});
}
const bool registered = register_choice_reporter(report);
}  // namespace

void matmul_float_weights(DType wtype, const void* w, size_t w_bytes, size_t n, size_t k, size_t row_stride,
                          const float* x, size_t x_len, size_t m, size_t ldx, float* y, size_t y_len, size_t ldy) {
  const size_t es = wtype == DType::f16 ? 2 : 4;
  const FMatmulFn fn = fmatmul_kernel(wtype).fn;
  BITFLASH_CHECK(n >= 1 && k >= 1 && m >= 1, kErrArg, "matmul: n, k and m must be >= 1");
  if (row_stride == 0) row_stride = k * es;
  BITFLASH_CHECK(row_stride >= k * es, kErrArg, "matmul: weight row stride shorter than a row");
  BITFLASH_CHECK(row_stride % es == 0 && reinterpret_cast<uintptr_t>(w) % es == 0, kErrArg,
                 "matmul: float weights and their row stride must be aligned to the element size");
  BITFLASH_CHECK(n <= (SIZE_MAX - k * es) / row_stride, kErrArg, "matmul: weight size overflows");
  BITFLASH_CHECK((n - 1) * row_stride + k * es <= w_bytes, kErrArg, "matmul: weight buffer too short for [" + std::to_string(n) + ", " + std::to_string(k) + "]");
  BITFLASH_CHECK(ldx >= k && ldy >= n, kErrArg, "matmul: row strides must cover a row");
  BITFLASH_CHECK(m <= (SIZE_MAX - k) / ldx && (m - 1) * ldx + k <= x_len, kErrArg, "matmul: activation buffer too short");
  BITFLASH_CHECK(m <= (SIZE_MAX - n) / ldy && (m - 1) * ldy + n <= y_len, kErrArg, "matmul: output buffer too short");
  // Tiles of output rows: enough tasks to balance, each streaming a contiguous slab of w.
  const size_t rows_per_task = n >= 256 ? 64 : (n + 3) / 4 * 4 >= 16 ? 16 : n;
  const size_t tasks = (n + rows_per_task - 1) / rows_per_task;
  parallel_for(tasks, [&](size_t t, unsigned) {
    const size_t n0 = t * rows_per_task, n1 = n0 + rows_per_task < n ? n0 + rows_per_task : n;
    fn(w, row_stride, k, x, ldx, m, y, ldy, n0, n1);
  });
}

}  // namespace bitflash
