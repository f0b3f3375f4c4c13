// Dispatch tables of the low-bit matmul: one line per kernel variant, best first, the reference last.
#include "../ref/matmul-kernels.h"
#include "bitflash/quant.h"

namespace bitflash {
namespace mm {

#if defined(__x86_64__)
#define X86(...) __VA_ARGS__
#else
#define X86(...)
#endif
#if defined(__aarch64__)
#define ARM(...) __VA_ARGS__
#else
#define ARM(...)
#endif

static const Variant<ActQuantFn> kActQuant[] = {
    X86({Isa::avx2, "act_q8_quant__avx2", act_q8_quant__avx2},)
    ARM({Isa::neon, "act_q8_quant__neon", act_q8_quant__neon},)
    {Isa::scalar, "act_q8_quant__ref", act_q8_quant__ref},
};

#define GEMV_TABLE(var, wt, tile)                                                          \
  static const Variant<GemvF32Fn> var[] = {                                                \
      X86({Isa::avx512vnni, #wt "_q8_gemv_" tile "__avx512vnni", wt##_q8_gemv__avx512vnni}, \
          {Isa::avxvnni, #wt "_q8_gemv_" tile "__avxvnni", wt##_q8_gemv__avxvnni},          \
          {Isa::avx2, #wt "_q8_gemv_" tile "__avx2", wt##_q8_gemv__avx2},)                  \
      ARM({Isa::dotprod, #wt "_q8_gemv_" tile "__dotprod", wt##_q8_gemv__dotprod},         \
          {Isa::neon, #wt "_q8_gemv_" tile "__neon", wt##_q8_gemv__neon},)                  \
      {Isa::scalar, #wt "_q8_gemv__ref", wt##_q8_gemv__ref},                               \
  };
GEMV_TABLE(kGemvQ8_0, q8_0, "1x4c32")
GEMV_TABLE(kGemvQ4_0, q4_0, "1x4c32")
GEMV_TABLE(kGemvI8c, i8c, "1x4c32")
GEMV_TABLE(kGemvI4g, i4g, "1x4c32")

static const Variant<GemvI32Fn> kGemvI32[] = {
    X86({Isa::avx512vnni, "i8c_q8_gemv_i32_1x4c32__avx512vnni", i8c_q8_gemv_i32__avx512vnni},
        {Isa::avxvnni, "i8c_q8_gemv_i32_1x4c32__avxvnni", i8c_q8_gemv_i32__avxvnni},
        {Isa::avx2, "i8c_q8_gemv_i32_1x4c32__avx2", i8c_q8_gemv_i32__avx2},)
    ARM({Isa::dotprod, "i8c_q8_gemv_i32_1x4c32__dotprod", i8c_q8_gemv_i32__dotprod},
        {Isa::neon, "i8c_q8_gemv_i32_1x4c32__neon", i8c_q8_gemv_i32__neon},)
    {Isa::scalar, "i8c_q8_gemv_i32__ref", i8c_q8_gemv_i32__ref},
};

#define GEMM_TABLE(var, wt)                                                                \
  static const Variant<GemmF32Fn> var[] = {                                                \
      X86({Isa::avx512vnni, #wt "_q8_gemm_8x16c4__avx512vnni", x8p_q8_gemm__avx512vnni},    \
          {Isa::avxvnni, #wt "_q8_gemm_4x8c4__avxvnni", x8p_q8_gemm__avxvnni},              \
          {Isa::avx2, #wt "_q8_gemm_4x8c4__avx2", x8p_q8_gemm__avx2},)                      \
      ARM({Isa::i8mm, #wt "_q8_gemm_4x8c8__i8mm", x8p_q8_gemm__i8mm},                       \
          {Isa::dotprod, #wt "_q8_gemm_4x8c4__dotprod", x8p_q8_gemm__dotprod},              \
          {Isa::neon, #wt "_q8_gemm_4x8c4__neon", x8p_q8_gemm__neon},)                      \
      {Isa::scalar, #wt "_q8_gemm__ref", x8p_q8_gemm__ref},                                \
  };
GEMM_TABLE(kGemmQ8_0, q8_0)
GEMM_TABLE(kGemmQ4_0, q4_0)
GEMM_TABLE(kGemmI8c, i8c)
GEMM_TABLE(kGemmI4g, i4g)

static const Variant<GemmI32Fn> kGemmI32[] = {
    X86({Isa::avx512vnni, "i8c_q8_gemm_i32_8x16c4__avx512vnni", x8p_q8_gemm_i32__avx512vnni},
        {Isa::avxvnni, "i8c_q8_gemm_i32_4x8c4__avxvnni", x8p_q8_gemm_i32__avxvnni},
        {Isa::avx2, "i8c_q8_gemm_i32_4x8c4__avx2", x8p_q8_gemm_i32__avx2},)
    ARM({Isa::i8mm, "i8c_q8_gemm_i32_4x8c8__i8mm", x8p_q8_gemm_i32__i8mm},
        {Isa::dotprod, "i8c_q8_gemm_i32_4x8c4__dotprod", x8p_q8_gemm_i32__dotprod},
        {Isa::neon, "i8c_q8_gemm_i32_4x8c4__neon", x8p_q8_gemm_i32__neon},)
    {Isa::scalar, "i8c_q8_gemm_i32__ref", x8p_q8_gemm_i32__ref},
};

static const Variant<GemvI8Fn> kGemvRq[] = {
    X86({Isa::avx512vnni, "i8c_q8_gemv_rq_1x4c32__avx512vnni", i8c_q8_gemv_rq__avx512vnni},
        {Isa::avxvnni, "i8c_q8_gemv_rq_1x4c32__avxvnni", i8c_q8_gemv_rq__avxvnni},
        {Isa::avx2, "i8c_q8_gemv_rq_1x4c32__avx2", i8c_q8_gemv_rq__avx2},)
    ARM({Isa::dotprod, "i8c_q8_gemv_rq_1x4c32__dotprod", i8c_q8_gemv_rq__dotprod},
        {Isa::neon, "i8c_q8_gemv_rq_1x4c32__neon", i8c_q8_gemv_rq__neon},)
    {Isa::scalar, "i8c_q8_gemv_rq__ref", i8c_q8_gemv_rq__ref},
};
static const Variant<GemmI8Fn> kGemmRq[] = {
    X86({Isa::avx512vnni, "i8c_q8_gemm_rq_8x16c4__avx512vnni", x8p_q8_gemm_rq__avx512vnni},
        {Isa::avxvnni, "i8c_q8_gemm_rq_4x8c4__avxvnni", x8p_q8_gemm_rq__avxvnni},
        {Isa::avx2, "i8c_q8_gemm_rq_4x8c4__avx2", x8p_q8_gemm_rq__avx2},)
    ARM({Isa::i8mm, "i8c_q8_gemm_rq_4x8c8__i8mm", x8p_q8_gemm_rq__i8mm},
        {Isa::dotprod, "i8c_q8_gemm_rq_4x8c4__dotprod", x8p_q8_gemm_rq__dotprod},
        {Isa::neon, "i8c_q8_gemm_rq_4x8c4__neon", x8p_q8_gemm_rq__neon},)
    {Isa::scalar, "i8c_q8_gemm_rq__ref", x8p_q8_gemm_rq__ref},
};
const Variant<GemvI8Fn>& gemv_rq_kernel() { return select(kGemvRq); }
const Variant<GemmI8Fn>& gemm_rq_kernel() { return select(kGemmRq); }

const Variant<ActQuantFn>& act_quant_kernel() { return select(kActQuant); }

const Variant<GemvF32Fn>& gemv_f32_kernel(DType wtype) {
  switch (wtype) {
    case DType::q8_0: return select(kGemvQ8_0);
    case DType::q4_0: return select(kGemvQ4_0);
    case DType::i8c: return select(kGemvI8c);
    case DType::i4g: return select(kGemvI4g);
    default: fail(kErrArg, "matmul: unsupported weight dtype");
  }
}
const Variant<GemvI32Fn>& gemv_i32_kernel() { return select(kGemvI32); }
const Variant<GemmF32Fn>& gemm_f32_kernel(DType wtype) {
  switch (wtype) {
    case DType::q8_0: return select(kGemmQ8_0);
    case DType::q4_0: return select(kGemmQ4_0);
    case DType::i8c: return select(kGemmI8c);
    case DType::i4g: return select(kGemmI4g);
    default: fail(kErrArg, "matmul: unsupported weight dtype");
  }
}
const Variant<GemmI32Fn>& gemm_i32_kernel() { return select(kGemmI32); }

namespace {
template <class Fn>
void add(std::vector<OpChoice>& out, const char* op, const Variant<Fn>& v) {
  out.push_back({op, v.name, isa_name(v.isa)});
}
void report_matmul(std::vector<OpChoice>& out) {
  add(out, "matmul act quant", act_quant_kernel());
  add(out, "matmul q8_0 gemv", gemv_f32_kernel(DType::q8_0));
  add(out, "matmul q4_0 gemv", gemv_f32_kernel(DType::q4_0));
  add(out, "matmul i8c gemv", gemv_f32_kernel(DType::i8c));
  add(out, "matmul i4g gemv", gemv_f32_kernel(DType::i4g));
  add(out, "matmul i8c gemv i32", gemv_i32_kernel());
  add(out, "matmul q8_0 gemm (packed)", gemm_f32_kernel(DType::q8_0));
  add(out, "matmul q4_0 gemm (packed)", gemm_f32_kernel(DType::q4_0));
  add(out, "matmul i8c gemm (packed)", gemm_f32_kernel(DType::i8c));
  add(out, "matmul i4g gemm (packed)", gemm_f32_kernel(DType::i4g));
  add(out, "matmul i8c gemm i32 (packed)", gemm_i32_kernel());
  add(out, "matmul i8c gemv requant i8", gemv_rq_kernel());
  add(out, "matmul i8c gemm requant i8 (packed)", gemm_rq_kernel());
}
const bool registered = register_choice_reporter(report_matmul);
}  // namespace

}  // namespace mm

// q4_0 quantizer (declared in quant.h; its table lives here with the rest of the low-bit work).
static const Variant<QuantQ4_0Fn> kQuantQ4_0[] = {
    X86({Isa::avx2, "q4_0_quant__avx2", q4_0_quant__avx2},)
    ARM({Isa::neon, "q4_0_quant__neon", q4_0_quant__neon},)
    {Isa::scalar, "q4_0_quant__ref", q4_0_quant__ref},
};
const Variant<QuantQ4_0Fn>& q4_0_quant_kernel() { return select(kQuantQ4_0); }
namespace {
void report_q4(std::vector<OpChoice>& out) {
  const Variant<QuantQ4_0Fn>& v = q4_0_quant_kernel();
  out.push_back({"quantize q4_0", v.name, isa_name(v.isa)});
}
const bool registered_q4 = register_choice_reporter(report_q4);
}  // namespace

}  // namespace bitflash
