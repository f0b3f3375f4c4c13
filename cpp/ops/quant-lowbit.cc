// Low-bit weight quantizers / dequantizers (q4_0, q4_K, i8c, i4g): validation, a split over the thread
// pool, and the kernel. i8c and i4g rows are scalar here (one pass at load / convert time, not hot).
#include <cmath>
#include <string>

#include "bitflash/error.h"
#include "bitflash/quant.h"
#include "bitflash/threadpool.h"

namespace bitflash {
namespace {
constexpr size_t kBlocksPerTask = 4096;

bool all_finite(const float* x, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; i++) bad |= (f32_bits(x[i]) & 0x7f800000u) == 0x7f800000u;
  return bad == 0;
}

template <class Fn>
void run_split(size_t count, size_t per_task, const Fn& fn) {
  const size_t tasks = (count + per_task - 1) / per_task;
  if (tasks <= 1) {
    if (count) fn(0, count);
    return;
  }
  parallel_for(tasks, [&](size_t t, unsigned) {
    const size_t b0 = t * per_task;
    fn(b0, b0 + per_task < count ? b0 + per_task : count);
  });
}

void check_mul(size_t a, size_t b, const char* what) {
  BITFLASH_CHECK(a == 0 || b <= SIZE_MAX / a, kErrArg, std::string(what) + ": n * k overflows");
}

void check_group(int group, const char* what) {
  BITFLASH_CHECK(group == 32 || group == 64 || group == 128, kErrArg,
                 std::string(what) + ": group must be 32, 64 or 128, received " + std::to_string(group));
}

// Rows per task for per-row work of k elements: about 256 Ki elements a task.
size_t rows_per_task(size_t k) { return k >= (1u << 18) ? 1 : (1u << 18) / k; }
}  // namespace

void quantize_q4_0(const float* x, size_t n, block_q4_0* y) {
  BITFLASH_CHECK(n % QK4_0 == 0, kErrArg,
                 "quantize q4_0: length must be a multiple of 32, received " + std::to_string(n));
  BITFLASH_CHECK(all_finite(x, n), kErrArg, "quantize q4_0: input contains NaN or Infinity");
  const QuantQ4_0Fn k = q4_0_quant_kernel().fn;
  run_split(n / QK4_0, kBlocksPerTask, [&](size_t b0, size_t b1) { k(x + b0 * QK4_0, y + b0, b1 - b0); });
}

void dequantize_q4_0(const block_q4_0* x, size_t n, float* y) {
  BITFLASH_CHECK(n % QK4_0 == 0, kErrArg,
                 "dequantize q4_0: length must be a multiple of 32, received " + std::to_string(n));
  run_split(n / QK4_0, kBlocksPerTask,
            [&](size_t b0, size_t b1) { q4_0_dequant__ref(x + b0, y + b0 * QK4_0, b1 - b0); });
}

void dequantize_q4_K(const block_q4_K* x, size_t n, float* y) {
  BITFLASH_CHECK(n % QK_K == 0, kErrArg,
                 "dequantize q4_K: length must be a multiple of 256, received " + std::to_string(n));
  run_split(n / QK_K, kBlocksPerTask / 8,
            [&](size_t b0, size_t b1) { q4_K_dequant__ref(x + b0, y + b0 * QK_K, b1 - b0); });
}

// ---- i8c ----
void quantize_i8c(const float* x, size_t n, size_t k, int8_t* q, float* scales) {
  BITFLASH_CHECK(n >= 1 && k >= 1, kErrArg, "quantize i8c: n and k must be >= 1");
  check_mul(n, k, "quantize i8c");
  BITFLASH_CHECK(all_finite(x, n * k), kErrArg, "quantize i8c: input contains NaN or Infinity");
  run_split(n, rows_per_task(k), [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; r++) {
      const float* xr = x + r * k;
      float amax = 0.0f;
      for (size_t j = 0; j < k; j++) amax = std::fabs(xr[j]) > amax ? std::fabs(xr[j]) : amax;
      const float s = amax / 127.0f;
      const float is = s != 0.0f ? 1.0f / s : 0.0f;
      scales[r] = s;
      for (size_t j = 0; j < k; j++) {
        float v = std::roundf(xr[j] * is);
        v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);
        q[r * k + j] = static_cast<int8_t>(v);
      }
    }
  });
}

void dequantize_i8c(const int8_t* q, const float* scales, size_t n, size_t k, float* y) {
  BITFLASH_CHECK(n >= 1 && k >= 1, kErrArg, "dequantize i8c: n and k must be >= 1");
  check_mul(n, k, "dequantize i8c");
  run_split(n, rows_per_task(k), [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; r++)
      for (size_t j = 0; j < k; j++) y[r * k + j] = static_cast<float>(q[r * k + j]) * scales[r];
  });
}

// ---- i4g (onnxruntime MatMulNBits layout) ----
size_t i4g_data_bytes(size_t n, size_t k, int group) {
  check_group(group, "i4g");
  return n * ((k + group - 1) / group) * (group / 2);
}
size_t i4g_scales_len(size_t n, size_t k, int group) {
  check_group(group, "i4g");
  return n * ((k + group - 1) / group);
}
size_t i4g_zero_points_bytes(size_t n, size_t k, int group) {
  check_group(group, "i4g");
  return n * (((k + group - 1) / group + 1) / 2);
}

void quantize_i4g(const float* x, size_t n, size_t k, int group, bool symmetric, uint8_t* data, float* scales,
                  uint8_t* zero_points) {
  check_group(group, "quantize i4g");
  BITFLASH_CHECK(n >= 1 && k >= 1, kErrArg, "quantize i4g: n and k must be >= 1");
  check_mul(n, k, "quantize i4g");
  BITFLASH_CHECK(symmetric || zero_points, kErrArg, "quantize i4g: asymmetric quantization needs zero_points");
  BITFLASH_CHECK(all_finite(x, n * k), kErrArg, "quantize i4g: input contains NaN or Infinity");
  const size_t g = static_cast<size_t>(group), gpr = (k + g - 1) / g, zpr = (gpr + 1) / 2;
  run_split(n, rows_per_task(k), [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; r++) {
      const float* xr = x + r * k;
      uint8_t* br = data + r * gpr * (g / 2);
      if (!symmetric)
        for (size_t i = 0; i < zpr; i++) zero_points[r * zpr + i] = 0;
      for (size_t gi = 0; gi < gpr; gi++) {
        const size_t j0 = gi * g, j1 = j0 + g < k ? j0 + g : k;
        float mn = 3.402823466e38f, mx = -3.402823466e38f;
        for (size_t j = j0; j < j1; j++) {
          if (xr[j] < mn) mn = xr[j];
          if (xr[j] > mx) mx = xr[j];
        }
        float scale;
        int zp = 8;
        if (symmetric) {
          const float m = std::fabs(mx) > std::fabs(mn) ? mx : mn;
          scale = m / -8.0f;
        } else {
          const float lo = mn < 0.0f ? mn : 0.0f, hi = mx > 0.0f ? mx : 0.0f;
          scale = (hi - lo) / 15.0f;
          float zf = lo;
          if (scale != 0.0f) zf = 0.0f - lo / scale;
          zp = zf < 0.0f ? 0 : (zf > 15.0f ? 15 : static_cast<int>(std::roundf(zf)));
          zero_points[r * zpr + gi / 2] |= static_cast<uint8_t>(zp << ((gi & 1) * 4));
        }
        scales[r * gpr + gi] = scale;
        const float rs = scale != 0.0f ? 1.0f / scale : 0.0f;
        uint8_t* b = br + gi * (g / 2);
        for (size_t e = 0; e < g; e += 2) {
          int q[2];
          for (int h = 0; h < 2; h++) {
            const size_t j = j0 + e + h;
            if (j < j1) {
              float v = std::roundf(xr[j] * rs + static_cast<float>(zp));
              v = v < 0.0f ? 0.0f : (v > 15.0f ? 15.0f : v);
              q[h] = static_cast<int>(v);
            } else {
              q[h] = zp;  // padding past k: the zero point (dequantizes to 0)
            }
          }
          b[e / 2] = static_cast<uint8_t>(q[0] | (q[1] << 4));
        }
      }
    }
  });
}

void dequantize_i4g(const uint8_t* data, const float* scales, const uint8_t* zero_points, size_t n, size_t k,
                    int group, float* y) {
  check_group(group, "dequantize i4g");
  BITFLASH_CHECK(n >= 1 && k >= 1, kErrArg, "dequantize i4g: n and k must be >= 1");
  check_mul(n, k, "dequantize i4g");
  const size_t g = static_cast<size_t>(group), gpr = (k + g - 1) / g, zpr = (gpr + 1) / 2;
  run_split(n, rows_per_task(k), [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; r++)
      for (size_t j = 0; j < k; j++) {
        const size_t gi = j / g, e = j % g;
        const uint8_t byte = data[r * gpr * (g / 2) + gi * (g / 2) + e / 2];
        const int q = (e & 1) ? (byte >> 4) : (byte & 0x0f);
        const int zp = zero_points ? ((zero_points[r * zpr + gi / 2] >> ((gi & 1) * 4)) & 0x0f) : 8;
        y[r * k + j] = scales[r * gpr + gi] * static_cast<float>(q - zp);
      }
  });
}

}  // namespace bitflash
