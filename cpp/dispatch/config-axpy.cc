// Dispatch table of the flash FFN's per-neuron axpy (bitflash/axpy.h), best first, the reference last.
#include "bitflash/axpy.h"

namespace bitflash {

namespace {
template <class B, void (*K)(const B*, size_t, float, float*)>
void erase_type(const void* r, size_t nb, float c, float* y) {
  K(static_cast<const B*>(r), nb, c, y);
}

const Variant<AxpyFn> kAxpyQ4_0[] = {
#if defined(__x86_64__)
    {Isa::avx2, "axpy_q4_0__avx2", erase_type<block_q4_0, axpy_q4_0__avx2>},
#endif
#if defined(__aarch64__)
    {Isa::neon, "axpy_q4_0__neon", erase_type<block_q4_0, axpy_q4_0__neon>},
#endif
    {Isa::scalar, "axpy_q4_0__ref", erase_type<block_q4_0, axpy_q4_0__ref>},
};
const Variant<AxpyFn> kAxpyQ8_0[] = {
#if defined(__x86_64__)
    {Isa::avx2, "axpy_q8_0__avx2", erase_type<block_q8_0, axpy_q8_0__avx2>},
#endif
#if defined(__aarch64__)
    {Isa::neon, "axpy_q8_0__neon", erase_type<block_q8_0, axpy_q8_0__neon>},
#endif
    {Isa::scalar, "axpy_q8_0__ref", erase_type<block_q8_0, axpy_q8_0__ref>},
};
}  // namespace

AxpyFn axpy_kernel(DType t, const char** name) {
  const Variant<AxpyFn>* v = t == DType::q4_0 ? &select(kAxpyQ4_0) : t == DType::q8_0 ? &select(kAxpyQ8_0) : nullptr;
  if (name) *name = v ? v->name : nullptr;
  return v ? v->fn : nullptr;
}

}  // namespace bitflash
