// Kernel selection. Each op keeps a table of variants (one per ISA path, the scalar reference last);
// select() returns the first whose ISA is enabled (CPU supports it and it does not exceed the
// BITFLASH_ISA cap). Tables live in cpp/dispatch/config*.cc: adding a kernel adds one line there.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "bitflash/error.h"
#include "bitflash/isa.h"

namespace bitflash {

template <class Fn>
struct Variant {
  Isa isa;
  const char* name;  // kernel name as DESIGN.md spells it, e.g. "q8_0_quant__avx2"
  Fn fn;
};

template <class Fn, size_t N>
const Variant<Fn>& select(const Variant<Fn> (&table)[N]) {
  for (size_t i = 0; i < N; i++)
    if (isa_enabled(table[i].isa)) return table[i];
  fail(kErrInternal, "no kernel variant enabled (the scalar reference must be the last entry)");
}

// Registry of ops for `bitflash info`: op name -> chosen kernel name, for every op with a table.
struct OpChoice {
  std::string op;
  std::string kernel;
  std::string isa;
};
std::vector<OpChoice> chosen_kernels();

// Each config*.cc registers a reporter (static init) that appends its ops' current choices.
using ChoiceReporter = void (*)(std::vector<OpChoice>&);
bool register_choice_reporter(ChoiceReporter r);

}  // namespace bitflash
