// Dyadic ops: validation, a split over the thread pool in whole rows (or chunks of elementwise
// data), the dispatched kernel.
#include <string>

#include "bitflash/dyadic.h"
#include "bitflash/error.h"
#include "bitflash/threadpool.h"

namespace bitflash {
namespace {
// Elements per task: tens of microseconds of work for the cheapest kernel.
constexpr size_t kElemsPerTask = 1 << 16;

// Runs fn(r0, r1) over [0, rows), in tasks of whole rows holding about kElemsPerTask elements.
template <class Fn>
void run_rows(size_t rows, size_t cols, const Fn& fn) {
  size_t per = cols >= kElemsPerTask ? 1 : kElemsPerTask / cols;
  const size_t tasks = (rows + per - 1) / per;
  if (tasks <= 1) {
    fn(size_t(0), rows);
    return;
  }
  parallel_for(tasks, [&](size_t t, unsigned) {
    const size_t r0 = t * per;
    fn(r0, r0 + per < rows ? r0 + per : rows);
  });
}

void check_dyadic(const Dyadic& d, const char* op) {
  BITFLASH_CHECK(d.s >= 0 && d.s <= 62, kErrArg,
                 std::string(op) + ": dyadic shift must be in 0..62, received " + std::to_string(d.s));
}
}  // namespace

void requantize(const int32_t* in, size_t n, const Dyadic* mult, size_t channels, int32_t zero_point,
                DType out_type, void* out) {
  BITFLASH_CHECK(out_type == DType::i8 || out_type == DType::u8 || out_type == DType::i16, kErrArg,
                 "requantize: output type must be i8, u8 or i16");
  BITFLASH_CHECK(channels > 0, kErrArg, "requantize: channels must be at least 1");
  BITFLASH_CHECK(n % channels == 0, kErrArg,
                 "requantize: length " + std::to_string(n) + " is not a multiple of channels " + std::to_string(channels));
  int32_t lo = -128, hi = 127;
  if (out_type == DType::u8) lo = 0, hi = 255;
  if (out_type == DType::i16) lo = -32768, hi = 32767;
  BITFLASH_CHECK(zero_point >= lo && zero_point <= hi, kErrArg,
                 "requantize: zero point " + std::to_string(zero_point) + " outside the output type's range");
  for (size_t c = 0; c < channels; c++) check_dyadic(mult[c], "requantize");
  if (n == 0) return;
  const RequantizeFn k = requantize_kernel().fn;
  const size_t esize = out_type == DType::i16 ? 2 : 1;
  if (channels == 1) {
    run_rows(n, 1, [&](size_t r0, size_t r1) {
      k(in + r0, r1 - r0, mult, false, zero_point, out_type, static_cast<char*>(out) + r0 * esize);
    });
  } else {
    run_rows(n / channels, channels, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; r++)
        k(in + r * channels, channels, mult, true, zero_point, out_type, static_cast<char*>(out) + r * channels * esize);
    });
  }
}

}  // namespace bitflash
