// Dispatch tables for the quantizers and the roofline probes: one line per kernel variant,
// best first, the scalar reference last. Kernels declared for an ISA that this architecture
// does not build are left out by the preprocessor.
#include "bitflash/dispatch.h"
#include "bitflash/quant.h"
#include "bitflash/roofline.h"

namespace bitflash {

static const Variant<QuantQ8_0Fn> kQuantQ8_0[] = {
#if defined(__x86_64__)
    {Isa::avx2, "q8_0_quant__avx2", q8_0_quant__avx2},
#endif
#if defined(__aarch64__)
    {Isa::neon, "q8_0_quant__neon", q8_0_quant__neon},
#endif
    {Isa::scalar, "q8_0_quant__ref", q8_0_quant__ref},
};

static const Variant<DequantQ8_0Fn> kDequantQ8_0[] = {
#if defined(__x86_64__)
    {Isa::avx2, "q8_0_dequant__avx2", q8_0_dequant__avx2},
#endif
#if defined(__aarch64__)
    {Isa::neon, "q8_0_dequant__neon", q8_0_dequant__neon},
#endif
    {Isa::scalar, "q8_0_dequant__ref", q8_0_dequant__ref},
};

static const Variant<ReadSumFn> kReadSum[] = {
#if defined(__x86_64__)
    {Isa::avx512vnni, "read_sum__avx512", read_sum__avx512},
    {Isa::avx2, "read_sum__avx2", read_sum__avx2},
#endif
#if defined(__aarch64__)
    {Isa::neon, "read_sum__neon", read_sum__neon},
#endif
    {Isa::scalar, "read_sum__ref", read_sum__ref},
};

static const Variant<PeakFn> kPeakI8[] = {
#if defined(__x86_64__)
    {Isa::avx512vnni, "i8_peak__avx512vnni", i8_peak__avx512vnni},
    {Isa::avxvnni, "i8_peak__avxvnni", i8_peak__avxvnni},
    {Isa::avx2, "i8_peak__avx2", i8_peak__avx2},
#endif
#if defined(__aarch64__)
    {Isa::i8mm, "i8_peak__i8mm", i8_peak__i8mm},
    {Isa::dotprod, "i8_peak__dotprod", i8_peak__dotprod},
    {Isa::neon, "i8_peak__neon", i8_peak__neon},
#endif
    {Isa::scalar, "i8_peak__ref", i8_peak__ref},
};

static const Variant<PeakFn> kPeakF32[] = {
#if defined(__x86_64__)
    {Isa::avx512vnni, "f32_peak__avx512", f32_peak__avx512},
    {Isa::avx2, "f32_peak__avx2", f32_peak__avx2},
#endif
#if defined(__aarch64__)
    {Isa::neon, "f32_peak__neon", f32_peak__neon},
#endif
    {Isa::scalar, "f32_peak__ref", f32_peak__ref},
};

const Variant<QuantQ8_0Fn>& q8_0_quant_kernel() { return select(kQuantQ8_0); }
const Variant<DequantQ8_0Fn>& q8_0_dequant_kernel() { return select(kDequantQ8_0); }
const Variant<ReadSumFn>& read_sum_kernel() { return select(kReadSum); }
const Variant<PeakFn>& i8_peak_kernel() { return select(kPeakI8); }
const Variant<PeakFn>& f32_peak_kernel() { return select(kPeakF32); }

namespace {
template <class Fn, size_t N>
void report(std::vector<OpChoice>& out, const char* op, const Variant<Fn> (&t)[N]) {
  const Variant<Fn>& v = select(t);
  out.push_back({op, v.name, isa_name(v.isa)});
}
void report_quant(std::vector<OpChoice>& out) {
  report(out, "quantize q8_0", kQuantQ8_0);
  report(out, "dequantize q8_0", kDequantQ8_0);
  report(out, "roofline read", kReadSum);
  report(out, "roofline int8 peak", kPeakI8);
  report(out, "roofline f32 peak", kPeakF32);
}
const bool registered = register_choice_reporter(report_quant);
}  // namespace

}  // namespace bitflash
