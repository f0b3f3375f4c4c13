// Dispatch tables for the dyadic integer-only ops: one line per kernel variant, best first, the
// scalar reference last.
#include "bitflash/dispatch.h"
#include "bitflash/dyadic.h"

namespace bitflash {

static const Variant<RequantizeFn> kRequantize[] = {
#if defined(__x86_64__)
    {Isa::avx2, "requantize__avx2", requantize__avx2},
#endif
    {Isa::scalar, "requantize__ref", requantize__ref},
};

const Variant<RequantizeFn>& requantize_kernel() { return select(kRequantize); }

namespace {
template <class Fn, size_t N>
void report(std::vector<OpChoice>& out, const char* op, const Variant<Fn> (&t)[N]) {
  const Variant<Fn>& v = select(t);
  out.push_back({op, v.name, isa_name(v.isa)});
}
void report_dyadic(std::vector<OpChoice>& out) {
  report(out, "dyadic requantize", kRequantize);
}
const bool registered = register_choice_reporter(report_dyadic);
}  // namespace

}  // namespace bitflash
