// Dispatch tables for the ternary ops: activation quantization, the multiply-add family, the
// table-lookup family and its table build. Best first, the scalar reference last.
#include "bitflash/dispatch.h"
#include "bitflash/ternary.h"

namespace bitflash {

// ARM(...) keeps its entries only in arm64 builds (their kernels exist only there).
#if defined(__aarch64__)
#define ARM(...) __VA_ARGS__
#else
#define ARM(...)
#endif

static const Variant<QuantActQ8tFn> kQ8tQuant[] = {
#if defined(__x86_64__)
    {Isa::avx2, "q8t_quant__avx2", q8t_quant__avx2},
#endif
    ARM({Isa::neon, "q8t_quant__neon", q8t_quant__neon},)
    {Isa::scalar, "q8t_quant__ref", q8t_quant__ref},
};

static const Variant<TernaryMadFn> kTernaryMad[] = {
#if defined(__x86_64__)
    {Isa::avx512vnni, "tq2_q8_gemm_4x4c64__avx512vnni", tq2_q8_gemm_4x4c64__avx512vnni},
    {Isa::avxvnni, "tq2_q8_gemm_4x2c32__avxvnni", tq2_q8_gemm_4x2c32__avxvnni},
    {Isa::avx2, "tq2_q8_gemm_4x2c32__avx2", tq2_q8_gemm_4x2c32__avx2},
#endif
    ARM({Isa::dotprod, "tq2_q8_gemm_4x4c16__dotprod", tq2_q8_gemm_4x4c16__dotprod},
        {Isa::neon, "tq2_q8_gemm_4x4c16__neon", tq2_q8_gemm_4x4c16__neon},)
    {Isa::scalar, "tq2_q8_gemm__ref", tq2_q8_gemm__ref},
};

static const Variant<TernaryLutFn> kTernaryLut[] = {
#if defined(__x86_64__)
    {Isa::avx512vnni, "tl3_q8_gemm_1x16c3__avx512vnni", tl3_q8_gemm_1x16c3__avx512vnni},
    {Isa::avx2, "tl3_q8_gemm_1x16c3__avx2", tl3_q8_gemm_1x16c3__avx2},
#endif
    // one kernel for neon and dotprod CPUs: the lookup has no products for sdot to take over
    ARM({Isa::neon, "tl3_q8_gemm_1x16c3__neon", tl3_q8_gemm_1x16c3__neon},)
    {Isa::scalar, "tl3_q8_gemm__ref", tl3_q8_gemm__ref},
};

static const Variant<TernaryLutBuildFn> kTernaryLutBuild[] = {
#if defined(__x86_64__)
    {Isa::avx2, "tl3_lut_build__avx2", tl3_lut_build__avx2},
#endif
    ARM({Isa::neon, "tl3_lut_build__neon", tl3_lut_build__neon},)
    {Isa::scalar, "tl3_lut_build__ref", tl3_lut_build__ref},
};

const Variant<QuantActQ8tFn>& q8t_quant_kernel() { return select(kQ8tQuant); }
const Variant<TernaryMadFn>& ternary_mad_kernel() { return select(kTernaryMad); }
const Variant<TernaryLutFn>& ternary_lut_kernel() { return select(kTernaryLut); }
const Variant<TernaryLutBuildFn>& ternary_lut_build_kernel() { return select(kTernaryLutBuild); }

// Register tiles (activation rows x output rows) of each path; the ops align their row splits to nr.
TernaryTile ternary_mad_tile(Isa isa) {
  switch (isa) {
    case Isa::avx2:
    case Isa::avxvnni: return {4, 2};      // GEMV (m == 1) uses a 1 x 8 tile
    case Isa::avx512vnni: return {4, 4};   // GEMV uses 1 x 16
    case Isa::neon:
    case Isa::dotprod: return {4, 4};      // GEMV uses 1 x 8
    default: return {1, 1};
  }
}
TernaryTile ternary_lut_tile(Isa isa) { return {1, static_cast<unsigned>(kLutTileRows)}; }

namespace {
template <class Fn, size_t N>
void report(std::vector<OpChoice>& out, const char* op, const Variant<Fn> (&t)[N]) {
  const Variant<Fn>& v = select(t);
  out.push_back({op, v.name, isa_name(v.isa)});
}
void report_ternary(std::vector<OpChoice>& out) {
  report(out, "ternary activations q8t", kQ8tQuant);
  report(out, "ternary matmul mad", kTernaryMad);
  report(out, "ternary matmul lut", kTernaryLut);
  report(out, "ternary lut build", kTernaryLutBuild);
}
const bool registered = register_choice_reporter(report_ternary);
}  // namespace

}  // namespace bitflash
