// Registry of per-op kernel choices, read by `bitflash info` and the tests.
#include <mutex>
#include <vector>

#include "bitflash/dispatch.h"

namespace bitflash {
namespace {
std::vector<ChoiceReporter>& reporters() {
  static std::vector<ChoiceReporter> r;
  return r;
}
std::mutex& mu() {
  static std::mutex m;
  return m;
}
}  // namespace

bool register_choice_reporter(ChoiceReporter r) {
  std::lock_guard<std::mutex> lk(mu());
  reporters().push_back(r);
  return true;
}

std::vector<OpChoice> chosen_kernels() {
  std::vector<OpChoice> out;
  std::lock_guard<std::mutex> lk(mu());
  for (ChoiceReporter r : reporters()) r(out);
  return out;
}

}  // namespace bitflash
