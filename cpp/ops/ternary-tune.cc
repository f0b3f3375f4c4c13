// Auto-tune cache for the ternary family choice: in memory, keyed by (n, k, m bucket, isa, threads),
// optionally persisted to a text file given by the caller (one line per tuned shape:
// "bitflash-ternary-tune v1 n k m_bucket isa threads family mad_seconds lut_seconds").
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <tuple>

#include "bitflash/ternary.h"

namespace bitflash {
namespace {

using Key = std::tuple<size_t, size_t, unsigned, int, unsigned>;
struct State {
  std::mutex mu;
  std::map<Key, int> winners;
  std::set<std::string> loaded;
};
State& state() {
  static State s;
  return s;
}
Key key_of(const TernaryTuneKey& k) { return Key(k.n, k.k, k.m_bucket, k.isa, k.threads); }

}  // namespace

unsigned ternary_m_bucket(size_t m) {
  if (m <= 1) return 1;
  if (m <= 8) return 8;
  if (m <= 64) return 64;
  if (m <= 256) return 256;
  return 0xffffffffu;
}

bool ternary_tune_lookup(const TernaryTuneKey& key, TernaryFamily* winner) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.winners.find(key_of(key));
  if (it == s.winners.end()) return false;
  *winner = static_cast<TernaryFamily>(it->second);
  return true;
}

void ternary_tune_store(const TernaryTuneKey& key, TernaryFamily winner, double mad_s, double lut_s,
                        const char* cache_path) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.winners[key_of(key)] = static_cast<int>(winner);
  if (!cache_path) return;
  if (FILE* f = std::fopen(cache_path, "a")) {  // a write failure only loses the cache, never the result
    std::fprintf(f, "bitflash-ternary-tune v1 %zu %zu %u %d %u %s %.9g %.9g\n", key.n, key.k, key.m_bucket, key.isa,
                 key.threads, ternary_family_name(winner), mad_s, lut_s);
    std::fclose(f);
  }
}

void ternary_tune_load_file(const char* path) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!path || s.loaded.count(path)) return;
  s.loaded.insert(path);
  FILE* f = std::fopen(path, "r");
  if (!f) return;
  char line[512];
  while (std::fgets(line, sizeof line, f)) {
    size_t n = 0, k = 0;
    unsigned mb = 0, th = 0;
    int isa = 0;
    char fam[16] = {0};
    double a = 0, b = 0;
    // Malformed lines are skipped: the cache is advisory.
    if (std::sscanf(line, "bitflash-ternary-tune v1 %zu %zu %u %d %u %15s %lf %lf", &n, &k, &mb, &isa, &th, fam, &a,
                    &b) == 8) {
      const std::string fs(fam);
      if (fs == "mad" || fs == "lut") s.winners[Key(n, k, mb, isa, th)] = fs == "mad" ? 0 : 1;
    }
  }
  std::fclose(f);
}

void ternary_tune_clear() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.winners.clear();
  s.loaded.clear();
}

}  // namespace bitflash
