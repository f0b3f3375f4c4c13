// The machine's ceilings measured with the project's own code: streaming read bandwidth and
// register-resident int8 / fp32 multiply-accumulate peaks, per ISA path.
#pragma once
#include <cstddef>
#include <cstdint>

#include "bitflash/dispatch.h"

namespace bitflash {

// Sums `bytes` (a multiple of 256, 64-byte aligned) as 64-bit lanes; the result keeps loads alive.
using ReadSumFn = uint64_t (*)(const uint8_t* p, size_t bytes);
// Runs `iters` iterations of independent multiply-accumulate chains; returns the ops performed
// (1 MAC = 2 ops) and writes a value that depends on every chain to *sink.
using PeakFn = double (*)(uint64_t iters, int64_t* sink);

uint64_t read_sum__ref(const uint8_t* p, size_t bytes);
uint64_t read_sum__avx2(const uint8_t* p, size_t bytes);
uint64_t read_sum__avx512(const uint8_t* p, size_t bytes);
double i8_peak__ref(uint64_t iters, int64_t* sink);
double i8_peak__avx2(uint64_t iters, int64_t* sink);        // vpmaddubsw + vpaddw
double i8_peak__avxvnni(uint64_t iters, int64_t* sink);     // vpdpbusd ymm
double i8_peak__avx512vnni(uint64_t iters, int64_t* sink);  // vpdpbusd zmm
double f32_peak__ref(uint64_t iters, int64_t* sink);
double f32_peak__avx2(uint64_t iters, int64_t* sink);    // vfmadd ymm
double f32_peak__avx512(uint64_t iters, int64_t* sink);  // vfmadd zmm
uint64_t read_sum__neon(const uint8_t* p, size_t bytes);
double i8_peak__neon(uint64_t iters, int64_t* sink);     // smlal (8 MACs)
double i8_peak__dotprod(uint64_t iters, int64_t* sink);  // sdot (16 MACs)
double i8_peak__i8mm(uint64_t iters, int64_t* sink);     // smmla (32 MACs)
double f32_peak__neon(uint64_t iters, int64_t* sink);    // fmla .4s

const Variant<ReadSumFn>& read_sum_kernel();
const Variant<PeakFn>& i8_peak_kernel();
const Variant<PeakFn>& f32_peak_kernel();

struct Measure {
  double value;        // GB/s or GOPS: best of the repetitions
  double median;       // median of the repetitions
  unsigned threads;
  const char* kernel;  // the variant that ran
};

// Read bandwidth over a buffer of `bytes` (allocated, touched, freed inside), `reps` passes.
Measure measure_read_bandwidth(size_t bytes, unsigned threads, unsigned reps);
// Peak GOPS with the currently selected variant; each thread runs `seconds` of work, `reps` times.
Measure measure_i8_peak(unsigned threads, double seconds, unsigned reps);
Measure measure_f32_peak(unsigned threads, double seconds, unsigned reps);

}  // namespace bitflash
