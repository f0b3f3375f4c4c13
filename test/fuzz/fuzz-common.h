// Helpers shared by the libFuzzer targets of test/fuzz.
#pragma once
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "bitflash/dtypes.h"

namespace bitflash::fuzz {

// A dtype code: mostly one the executor supports, sometimes any byte (unknown codes must be rejected).
inline DType pick_dtype(FuzzedDataProvider& in) {
  static const DType kCommon[] = {DType::f32, DType::f16, DType::q8_0, DType::q4_0, DType::q4_K};
  if (in.ConsumeIntegralInRange<int>(0, 15) == 0) return static_cast<DType>(in.ConsumeIntegral<uint8_t>());
  return kCommon[in.ConsumeIntegralInRange<int>(0, 4)];
}

inline size_t row_size(DType t, size_t k) {
  switch (t) {
    case DType::f32: return k * 4;
    case DType::f16: return k * 2;
    case DType::q8_0: return k / QK8_0 * sizeof(block_q8_0);
    case DType::q4_0: return k / QK4_0 * sizeof(block_q4_0);
    case DType::q4_K: return k / QK_K * sizeof(block_q4_K);
    default: return k;
  }
}

// A row length: usually a multiple of the dtype's block (so the deeper code runs), sometimes not.
inline size_t pick_k(FuzzedDataProvider& in, DType t) {
  const size_t block = t == DType::q4_K ? 256 : (t == DType::q8_0 || t == DType::q4_0) ? 32 : 1;
  if (in.ConsumeIntegralInRange<int>(0, 7) == 0) return in.ConsumeIntegralInRange<size_t>(0, 600);
  return block * in.ConsumeIntegralInRange<size_t>(1, block == 1 ? 64 : 2);
}

// Fills `bytes` bytes: from the input while it lasts, then a fixed pattern (values with NaN/Inf bit
// patterns included, as a file may hold).
inline std::vector<uint8_t> fill(FuzzedDataProvider& in, size_t bytes) {
  std::vector<uint8_t> v = in.ConsumeBytes<uint8_t>(bytes);
  const size_t got = v.size();
  v.resize(bytes);
  for (size_t i = got; i < bytes; i++) v[i] = static_cast<uint8_t>(i * 37 + 11);
  return v;
}

inline float any_float(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: return 0.0f;
    case 1: return in.ConsumeFloatingPointInRange<float>(-4.0f, 4.0f);
    case 2: return in.ConsumeProbability<float>();
    default: {
      const uint32_t b = in.ConsumeIntegral<uint32_t>();
      float f;
      std::memcpy(&f, &b, 4);
      return f;
    }
  }
}

}  // namespace bitflash::fuzz
