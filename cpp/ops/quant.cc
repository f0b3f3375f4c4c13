// q8_0 quantize / dequantize ops: validation, a split over the thread pool, the dispatched kernel.
#include <string>

#include "bitflash/quant.h"
#include "bitflash/threadpool.h"

namespace bitflash {
namespace {
// Blocks per task: big enough that a task is tens of microseconds of work.
constexpr size_t kBlocksPerTask = 4096;

bool all_finite(const float* x, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; i++) bad |= (f32_bits(x[i]) & 0x7f800000u) == 0x7f800000u;
  return bad == 0;
}

template <class Fn>
void run_blocks(size_t nb, const Fn& fn) {
  const size_t tasks = (nb + kBlocksPerTask - 1) / kBlocksPerTask;
  if (tasks <= 1) {
    fn(0, nb);
    return;
  }
  parallel_for(tasks, [&](size_t t, unsigned) {
    const size_t b0 = t * kBlocksPerTask;
    fn(b0, b0 + kBlocksPerTask < nb ? b0 + kBlocksPerTask : nb);
  });
}
}  // namespace

void quantize_q8_0(const float* x, size_t n, block_q8_0* y) {
  BITFLASH_CHECK(n % QK8_0 == 0, kErrArg,
                 "quantize q8_0: length must be a multiple of 32, received " + std::to_string(n));
  BITFLASH_CHECK(all_finite(x, n), kErrArg, "quantize q8_0: input contains NaN or Infinity");
  const QuantQ8_0Fn k = q8_0_quant_kernel().fn;
  run_blocks(n / QK8_0, [&](size_t b0, size_t b1) { k(x + b0 * QK8_0, y + b0, b1 - b0); });
}

void dequantize_q8_0(const block_q8_0* x, size_t n, float* y) {
  BITFLASH_CHECK(n % QK8_0 == 0, kErrArg,
                 "dequantize q8_0: length must be a multiple of 32, received " + std::to_string(n));
  const DequantQ8_0Fn k = q8_0_dequant_kernel().fn;
  run_blocks(n / QK8_0, [&](size_t b0, size_t b1) { k(x + b0, y + b0 * QK8_0, b1 - b0); });
}

}  // namespace bitflash
