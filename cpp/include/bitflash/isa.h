// Instruction-set paths, CPU feature detection and the BITFLASH_ISA cap.
#pragma once
#include <cstdint>
#include <string>

namespace bitflash {

// Ordered within each architecture: a higher value implies every lower one on the same arch
// (the dispatch only ever picks a path whose features the CPU has, so the order is a preference).
enum class Isa : int {
  scalar = 0,
  avx2 = 1,        // AVX2 + FMA + F16C
  avxvnni = 2,     // AVX2 + AVX-VNNI (vpdpbusd on ymm, VEX encoded)
  avx512vnni = 3,  // AVX-512 F/BW/VL/VNNI
  neon = 11,       // armv8-a Advanced SIMD
  dotprod = 12,    // armv8.2-a sdot/udot
  i8mm = 13,       // armv8.6-a smmla/ummla
};

struct CpuFeatures {
  const char* arch = "unknown";  // "x64" | "arm64" | other
  // x86 (each already ANDed with OS support for the register state, via XGETBV)
  bool sse42 = false, avx = false, avx2 = false, fma = false, f16c = false, bmi2 = false;
  bool avxvnni = false, avx512f = false, avx512bw = false, avx512vl = false, avx512vnni = false;
  bool avx512bf16 = false, amx_int8 = false;
  // arm64
  bool neon = false, dotprod = false, i8mm = false, sve = false;
};

// Detected once (thread-safe static init).
const CpuFeatures& cpu_features();

// True when the CPU (and OS) can run every instruction of `isa`.
bool cpu_supports(Isa isa);

// The best path this CPU supports, ignoring the cap.
Isa best_supported_isa();

// The cap: initialised from BITFLASH_ISA at first use (unknown names throw), changeable with set_isa_cap.
Isa isa_cap();
// Sets the cap; returns the effective best path afterwards. Throws bitflash::Error(ERR_BITFLASH_ARG) on an unknown name.
void set_isa_cap(Isa cap);
Isa parse_isa(const std::string& name);  // throws on unknown names
const char* isa_name(Isa isa);

// True when `isa` may be used now: the CPU supports it and it does not exceed the cap.
bool isa_enabled(Isa isa);
// The path the dispatcher would choose among all paths (best enabled).
Isa active_isa();

}  // namespace bitflash
