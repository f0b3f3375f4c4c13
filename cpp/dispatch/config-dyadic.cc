// Dispatch tables for the dyadic integer-only ops: one line per kernel variant, best first, the
// scalar reference last. i-GELU, ShiftGELU and SiLU (int8 -> int8) run as a 256-entry table built at
// prepare by the reference (bit-exact by construction); the computing AVX2 kernels (i_gelu__avx2,
// sigmoid_mul__avx2) stay as tested building blocks for fused epilogues. On arm64 the tables are read
// with tbl/tbx (lut_i8__neon); dotprod CPUs use the NEON kernels except for the norms' statistics.
#include "bitflash/dispatch.h"
#include "bitflash/dyadic.h"

namespace bitflash {

// ARM(...) keeps its entries only in arm64 builds (their kernels exist only there).
#if defined(__aarch64__)
#define ARM(...) __VA_ARGS__
#else
#define ARM(...)
#endif

static const Variant<RequantizeFn> kRequantize[] = {
#if defined(__x86_64__)
    {Isa::avx512vnni, "requantize__avx512", requantize__avx512},
    {Isa::avx2, "requantize__avx2", requantize__avx2},
#endif
    ARM({Isa::neon, "requantize__neon", requantize__neon},)
    {Isa::scalar, "requantize__ref", requantize__ref},
};

static const Variant<AddFn> kAdd[] = {
#if defined(__x86_64__)
    {Isa::avx512vnni, "add_rescale__avx512", add_rescale__avx512},
    {Isa::avx2, "add_rescale__avx2", add_rescale__avx2},
#endif
    ARM({Isa::neon, "add_rescale__neon", add_rescale__neon},)
    {Isa::scalar, "add_rescale__ref", add_rescale__ref},
};
static const Variant<ExpFn> kExp[] = {
#if defined(__x86_64__)
    {Isa::avx512vnni, "i_exp__avx512", i_exp__avx512},
    {Isa::avx2, "i_exp__avx2", i_exp__avx2},
#endif
    ARM({Isa::neon, "i_exp__neon", i_exp__neon},)
    {Isa::scalar, "i_exp__ref", i_exp__ref},
};
static const Variant<SoftmaxFn> kSoftmax[] = {
#if defined(__x86_64__)
    {Isa::avx512vnni, "softmax__avx512", softmax__avx512},
    {Isa::avx2, "softmax__avx2", softmax__avx2},
#endif
    ARM({Isa::neon, "softmax__neon", softmax__neon},)
    {Isa::scalar, "softmax__ref", softmax__ref},
};
static const Variant<GeluFn> kGelu[] = {
#if defined(__x86_64__)
    {Isa::avx512vnni, "i_gelu__lut_avx512", i_gelu__lut_avx512},
    {Isa::avx2, "i_gelu__lut_avx2", i_gelu__lut_avx2},
#endif
    ARM({Isa::neon, "i_gelu__lut_neon", i_gelu__lut_neon},)
    {Isa::scalar, "i_gelu__ref", i_gelu__ref},
};
static const Variant<SigmoidMulFn> kSigmoidMul[] = {
#if defined(__x86_64__)
    {Isa::avx512vnni, "sigmoid_mul__lut_avx512", sigmoid_mul__lut_avx512},
    {Isa::avx2, "sigmoid_mul__lut_avx2", sigmoid_mul__lut_avx2},
#endif
    ARM({Isa::neon, "sigmoid_mul__lut_neon", sigmoid_mul__lut_neon},)
    {Isa::scalar, "sigmoid_mul__ref", sigmoid_mul__ref},
};
static const Variant<NormFn> kNorm[] = {
#if defined(__x86_64__)
    {Isa::avx512vnni, "norm__avx512", norm__avx512},
    {Isa::avx2, "norm__avx2", norm__avx2},
#endif
    ARM({Isa::dotprod, "norm__dotprod", norm__dotprod},
        {Isa::neon, "norm__neon", norm__neon},)
    {Isa::scalar, "norm__ref", norm__ref},
};

const Variant<RequantizeFn>& requantize_kernel() { return select(kRequantize); }
const Variant<AddFn>& add_rescale_kernel() { return select(kAdd); }
const Variant<ExpFn>& i_exp_kernel() { return select(kExp); }
const Variant<SoftmaxFn>& softmax_kernel() { return select(kSoftmax); }
const Variant<GeluFn>& i_gelu_kernel() { return select(kGelu); }
const Variant<SigmoidMulFn>& sigmoid_mul_kernel() { return select(kSigmoidMul); }
const Variant<NormFn>& norm_kernel() { return select(kNorm); }

namespace {
template <class Fn, size_t N>
void report(std::vector<OpChoice>& out, const char* op, const Variant<Fn> (&t)[N]) {
  const Variant<Fn>& v = select(t);
  out.push_back({op, v.name, isa_name(v.isa)});
}
void report_dyadic(std::vector<OpChoice>& out) {
  report(out, "dyadic requantize", kRequantize);
  report(out, "dyadic add", kAdd);
  report(out, "dyadic exp", kExp);
  report(out, "dyadic softmax", kSoftmax);
  report(out, "dyadic gelu", kGelu);
  report(out, "dyadic shift_gelu / silu", kSigmoidMul);
  report(out, "dyadic layernorm / rmsnorm", kNorm);
}
const bool registered = register_choice_reporter(report_dyadic);
}  // namespace

}  // namespace bitflash
