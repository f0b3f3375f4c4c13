// Shared helpers of the C++ suite.
#pragma once
#include <vector>

#include "bitflash/isa.h"

namespace bitflash::test {

// Every kernel path this host can run, lowest first: tests loop over them with set_isa_cap.
inline std::vector<Isa> host_isas() {
  std::vector<Isa> v;
  for (Isa i : {Isa::scalar, Isa::avx2, Isa::avxvnni, Isa::avx512vnni, Isa::neon, Isa::dotprod, Isa::i8mm})
    if (cpu_supports(i)) v.push_back(i);
  return v;
}

// Restores the ISA cap when a test ends, however it ends.
struct CapGuard {
  Isa saved = isa_cap();
  ~CapGuard() { set_isa_cap(saved); }
};

}  // namespace bitflash::test
