// CPU feature detection (cpuid + XGETBV on x86-64, getauxval hwcaps on arm64) and the ISA cap.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "bitflash/error.h"
#include "bitflash/isa.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define BITFLASH_X86 1
#elif defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#ifndef HWCAP_SVE
#define HWCAP_SVE (1 << 22)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1 << 13)
#endif
#define BITFLASH_ARM64 1
#endif

namespace bitflash {
namespace {

#if BITFLASH_X86
// XGETBV without needing -mxsave on the baseline object.
uint64_t xgetbv0() {
  uint32_t eax, edx;
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if BITFLASH_X86
  f.arch = "x64";
  unsigned a, b, c, d;
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf >= 1) {
    __cpuid_count(1, 0, a, b, c, d);
    f.sse42 = (c >> 20) & 1;
    const bool osxsave = (c >> 27) & 1;
    const bool cpu_avx = (c >> 28) & 1;
    const bool cpu_fma = (c >> 12) & 1;
    const bool cpu_f16c = (c >> 29) & 1;
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    const bool os_ymm = (xcr0 & 0x6) == 0x6;            // XMM and YMM state
    const bool os_zmm = (xcr0 & 0xe6) == 0xe6;          // + opmask, ZMM_Hi256, Hi16_ZMM
    const bool os_amx = (xcr0 & (3ull << 17)) == (3ull << 17);  // XTILECFG + XTILEDATA
    f.avx = cpu_avx && os_ymm;
    f.fma = cpu_fma && os_ymm;
    f.f16c = cpu_f16c && os_ymm;
    if (max_leaf >= 7) {
      __cpuid_count(7, 0, a, b, c, d);
      f.avx2 = ((b >> 5) & 1) && os_ymm;
      f.bmi2 = (b >> 8) & 1;
      f.avx512f = ((b >> 16) & 1) && os_zmm;
      f.avx512bw = ((b >> 30) & 1) && os_zmm;
      f.avx512vl = ((b >> 31) & 1) && os_zmm;
      f.avx512vnni = ((c >> 11) & 1) && os_zmm;
      f.amx_int8 = ((d >> 25) & 1) && os_amx;
      unsigned a1, b1, c1, d1;
      __cpuid_count(7, 1, a1, b1, c1, d1);
      f.avxvnni = ((a1 >> 4) & 1) && os_ymm;
      f.avx512bf16 = ((a1 >> 5) & 1) && os_zmm;
    }
  }
#elif BITFLASH_ARM64
  f.arch = "arm64";
  const unsigned long hw = getauxval(AT_HWCAP);
  const unsigned long hw2 = getauxval(AT_HWCAP2);
  f.neon = (hw & HWCAP_ASIMD) != 0;
  f.dotprod = (hw & HWCAP_ASIMDDP) != 0;
  f.sve = (hw & HWCAP_SVE) != 0;
  f.i8mm = (hw2 & HWCAP2_I8MM) != 0;
#endif
  return f;
}

std::mutex cap_mu;
std::atomic<int> cap_value{-1};  // -1: not read yet

Isa env_cap() {
  const char* e = std::getenv("BITFLASH_ISA");
  if (!e || !*e) return best_supported_isa();
  return parse_isa(e);
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

bool cpu_supports(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::scalar: return true;
    case Isa::avx2: return f.avx2 && f.fma && f.f16c;
    case Isa::avxvnni: return f.avx2 && f.fma && f.f16c && f.avxvnni;
    case Isa::avx512vnni:
      return f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni;
    case Isa::neon: return f.neon;
    case Isa::dotprod: return f.neon && f.dotprod;
    case Isa::i8mm: return f.neon && f.dotprod && f.i8mm;
  }
  return false;
}

Isa best_supported_isa() {
  static const Isa order[] = {Isa::avx512vnni, Isa::avxvnni, Isa::avx2, Isa::i8mm, Isa::dotprod, Isa::neon};
  for (Isa i : order)
    if (cpu_supports(i)) return i;
  return Isa::scalar;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avxvnni: return "avxvnni";
    case Isa::avx512vnni: return "avx512vnni";
    case Isa::neon: return "neon";
    case Isa::dotprod: return "dotprod";
    case Isa::i8mm: return "i8mm";
  }
  return "unknown";
}

Isa parse_isa(const std::string& name) {
  static const Isa all[] = {Isa::scalar, Isa::avx2, Isa::avxvnni, Isa::avx512vnni, Isa::neon, Isa::dotprod, Isa::i8mm};
  for (Isa i : all)
    if (name == isa_name(i)) return i;
  fail(kErrArg, "BITFLASH_ISA: expected one of scalar|avx2|avxvnni|avx512vnni|neon|dotprod|i8mm, received '" + name + "'");
}

Isa isa_cap() {
  int v = cap_value.load(std::memory_order_acquire);
  if (v >= 0) return static_cast<Isa>(v);
  std::lock_guard<std::mutex> lk(cap_mu);
  v = cap_value.load(std::memory_order_relaxed);
  if (v < 0) {
    v = static_cast<int>(env_cap());
    cap_value.store(v, std::memory_order_release);
  }
  return static_cast<Isa>(v);
}

void set_isa_cap(Isa cap) {
  std::lock_guard<std::mutex> lk(cap_mu);
  cap_value.store(static_cast<int>(cap), std::memory_order_release);
}

bool isa_enabled(Isa isa) {
  if (!cpu_supports(isa)) return false;
  if (isa == Isa::scalar) return true;
  const Isa cap = isa_cap();
  // x86 paths (1..3) and arm paths (11..13) are separate ladders: a cap on one ladder only admits
  // paths at or below it on the same ladder.
  const int c = static_cast<int>(cap), i = static_cast<int>(isa);
  if (c == 0) return false;
  if ((c < 10) != (i < 10)) return false;
  return i <= c;
}

Isa active_isa() {
  static const Isa order[] = {Isa::avx512vnni, Isa::avxvnni, Isa::avx2, Isa::i8mm, Isa::dotprod, Isa::neon};
  for (Isa i : order)
    if (isa_enabled(i)) return i;
  return Isa::scalar;
}

}  // namespace bitflash
