// Every ISA path of this host runs its own kernel for the matmul family, the quantizers, the float-weight
// matmul and the roofline probes: under each cap the dispatcher's choice (as `bitflash info` reports it)
// is checked against the path that op has a kernel for, so a kernel left out of a table, or a table that
// falls back to the reference on a SIMD path, fails here instead of silently testing the reference twice.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "bitflash/dispatch.h"
#include "bitflash/isa.h"
#include "test-util.h"

using namespace bitflash;

namespace {

// The ISA whose kernel op `op` must run under cap `cap`, or nullptr for ops this test does not cover.
const char* expected_isa(const std::string& op, Isa cap) {
  const bool gemm = op.find("gemm") != std::string::npos;
  const bool matmul_int = op.rfind("matmul ", 0) == 0 && op.find("weights") == std::string::npos;
  const bool covered = matmul_int || op == "quantize q8_0" || op == "dequantize q8_0" || op == "quantize q4_0" ||
                       op == "ternary activations q8t" || op.rfind("roofline ", 0) == 0 || op == "matmul f32 weights" ||
                       op == "matmul f16 weights";
  if (!covered) return nullptr;
  if (cap == Isa::scalar) return "scalar";
  switch (cap) {
    case Isa::neon:
    case Isa::dotprod:
    case Isa::i8mm: {
      if (op == "roofline int8 peak") return isa_name(cap);
      if (matmul_int && op != "matmul act quant") {
        if (gemm) return isa_name(cap);
        return cap == Isa::neon ? "neon" : "dotprod";  // the GEMVs: sdot is the best the i8mm path has
      }
      return "neon";  // quantizers, dequantizer, float-weight matmul, read and f32 probes
    }
    default:
      return nullptr;  // x86 ladders are checked by the per-op tests (kernel names in test_matmul.cc)
  }
}

}  // namespace

TEST_CASE("each host path selects its own kernel for the matmul family, quantizers, float matmul and roofline") {
  test::CapGuard g;
  size_t checked = 0;
  for (Isa isa : test::host_isas()) {
    set_isa_cap(isa);
    for (const OpChoice& c : chosen_kernels()) {
      const char* want = expected_isa(c.op, isa);
      if (!want) continue;
      CHECK_MESSAGE(c.isa == want, "cap " << isa_name(isa) << ": op '" << c.op << "' runs " << c.kernel << " (" << c.isa
                                          << "), expected a " << want << " kernel");
      if (std::string(want) != "scalar")
        CHECK_MESSAGE(c.kernel.find(std::string("__") + want) != std::string::npos, c.kernel);
      checked++;
    }
  }
  CHECK(checked >= 20);  // the scalar path alone covers every op listed above
}
