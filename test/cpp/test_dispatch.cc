// CPU detection and the ISA cap.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "bitflash/dispatch.h"
#include "bitflash/error.h"
#include "bitflash/isa.h"
#include "bitflash/quant.h"

using namespace bitflash;

TEST_CASE("isa names round-trip and unknown names throw") {
  for (Isa i : {Isa::scalar, Isa::avx2, Isa::avxvnni, Isa::avx512vnni, Isa::neon, Isa::dotprod, Isa::i8mm})
    CHECK(parse_isa(isa_name(i)) == i);
  CHECK_THROWS_AS(parse_isa("sse9"), Error);
}

TEST_CASE("the cap limits the chosen path and never exceeds the CPU") {
  const Isa saved = isa_cap();
  set_isa_cap(Isa::scalar);
  CHECK(active_isa() == Isa::scalar);
  CHECK(std::strcmp(q8_0_quant_kernel().name, "q8_0_quant__ref") == 0);
  set_isa_cap(Isa::avx512vnni);
  CHECK(cpu_supports(active_isa()));
  if (cpu_supports(Isa::avx2)) {
    set_isa_cap(Isa::avx2);
    CHECK(active_isa() == Isa::avx2);
    CHECK(std::strcmp(q8_0_quant_kernel().name, "q8_0_quant__avx2") == 0);
  }
  set_isa_cap(saved);
}

TEST_CASE("cpu features are consistent") {
  const CpuFeatures& f = cpu_features();
#if defined(__x86_64__)
  CHECK(std::strcmp(f.arch, "x64") == 0);
  if (f.avx2) CHECK(f.avx);
  if (f.avx512vnni) CHECK(f.avx512f);
#elif defined(__aarch64__)
  CHECK(std::strcmp(f.arch, "arm64") == 0);
  CHECK(f.neon);
#endif
  CHECK(cpu_supports(Isa::scalar));
  CHECK(!chosen_kernels().empty());
}

// scripts/test-arm64.sh and the qemu x86 run set BITFLASH_EXPECT_ISA to the path the emulated
// CPU model must select (cortex-a53 -> neon, cortex-a76 -> dotprod, max -> i8mm, Nehalem -> scalar).
TEST_CASE("the detected best path matches the emulated CPU model") {
  const char* want = std::getenv("BITFLASH_EXPECT_ISA");
  if (!want || !*want) return;
  CHECK(std::string(isa_name(best_supported_isa())) == want);
}
