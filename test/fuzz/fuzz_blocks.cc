// libFuzzer target: the decoders of quantized weight bytes that come from model files (GGUF tensors,
// flash bundles) or from users' buffers: q8_0, q4_0, q4_K (reference row kernels and the dispatched
// ops), tq1_0, tq2_0, i2_s (with its f32 scale trailer), i4g (data, scales, zero points) and f16.
// Any byte pattern is a valid encoding of some values (NaN/Inf scales included): the contract is no
// out-of-bounds access, no undefined behaviour (ASan + UBSan), and the dispatched op agreeing with
// the reference bit for bit where the header says it is the reference rule.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "bitflash/error.h"
#include "bitflash/quant.h"
#include "bitflash/ternary.h"

using namespace bitflash;

namespace {

// Bit-exact comparison that treats every NaN as equal (a NaN's payload is not part of the contract).
bool same(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    if (a[i] != a[i] && b[i] != b[i]) continue;
    if (std::memcmp(&a[i], &b[i], 4) != 0) return false;
  }
  return true;
}

template <typename Block>
std::vector<Block> blocks(FuzzedDataProvider& in, size_t max_blocks) {
  const size_t nb = in.ConsumeIntegralInRange<size_t>(1, max_blocks);
  std::vector<Block> v(nb);
  const std::vector<uint8_t> raw = in.ConsumeBytes<uint8_t>(nb * sizeof(Block));
  if (!raw.empty()) std::memcpy(v.data(), raw.data(), raw.size());  // short input: the rest stays zero
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const int which = in.ConsumeIntegralInRange<int>(0, 7);
  try {
    switch (which) {
      case 0: {
        auto x = blocks<block_q8_0>(in, 64);
        std::vector<float> ref(x.size() * QK8_0), op(ref.size());
        q8_0_dequant__ref(x.data(), ref.data(), x.size());
        dequantize_q8_0(x.data(), op.size(), op.data());
        if (!same(ref, op)) __builtin_trap();
        break;
      }
      case 1: {
        auto x = blocks<block_q4_0>(in, 64);
        std::vector<float> ref(x.size() * QK4_0), op(ref.size());
        q4_0_dequant__ref(x.data(), ref.data(), x.size());
        dequantize_q4_0(x.data(), op.size(), op.data());
        if (!same(ref, op)) __builtin_trap();
        break;
      }
      case 2: {
        auto x = blocks<block_q4_K>(in, 16);
        std::vector<float> ref(x.size() * QK_K), op(ref.size());
        q4_K_dequant__ref(x.data(), ref.data(), x.size());
        dequantize_q4_K(x.data(), op.size(), op.data());
        if (!same(ref, op)) __builtin_trap();
        break;
      }
      case 3: {
        auto x = blocks<block_tq1_0>(in, 16);
        std::vector<float> y(x.size() * QK_K);
        dequantize_tq1_0(x.data(), y.size(), y.data());
        break;
      }
      case 4: {
        auto x = blocks<block_tq2_0>(in, 16);
        std::vector<float> y(x.size() * QK_K);
        dequantize_tq2_0(x.data(), y.size(), y.data());
        break;
      }
      case 5: {
        const size_t count = 128 * in.ConsumeIntegralInRange<size_t>(1, 32);
        std::vector<uint8_t> x(ternary_tensor_bytes(DType::i2_s, 1, count));
        const std::vector<uint8_t> raw = in.ConsumeBytes<uint8_t>(x.size());
        if (!raw.empty()) std::memcpy(x.data(), raw.data(), raw.size());
        std::vector<float> y(count);
        dequantize_i2_s(x.data(), count, y.data());
        break;
      }
      case 6: {
        static const int kGroups[] = {32, 64, 128};
        const int group = kGroups[in.ConsumeIntegralInRange<int>(0, 2)];
        const size_t n = in.ConsumeIntegralInRange<size_t>(1, 8), k = in.ConsumeIntegralInRange<size_t>(1, 300);
        const bool asym = in.ConsumeBool();
        std::vector<uint8_t> d(i4g_data_bytes(n, k, group)), zp(asym ? i4g_zero_points_bytes(n, k, group) : 0);
        std::vector<float> sc(i4g_scales_len(n, k, group));
        for (auto& b : d) b = in.ConsumeIntegral<uint8_t>();
        for (auto& b : zp) b = in.ConsumeIntegral<uint8_t>();
        for (auto& s : sc) {
          const uint32_t bits = in.ConsumeIntegral<uint32_t>();
          std::memcpy(&s, &bits, 4);
        }
        std::vector<float> y(n * k);
        dequantize_i4g(d.data(), sc.data(), asym ? zp.data() : nullptr, n, k, group, y.data());
        break;
      }
      case 7: {
        while (in.remaining_bytes() >= 2) {
          const uint16_t h = in.ConsumeIntegral<uint16_t>();
          const float f = fp16_to_f32(h);
          // f16 -> f32 -> f16 is the identity on every non-NaN half
          if (f == f && f32_to_fp16(f) != h) __builtin_trap();
        }
        break;
      }
    }
  } catch (const Error&) {
    // a typed rejection is an allowed outcome
  }
  return 0;
}
