#!/usr/bin/env bash
# Cross-builds the C++ suite for linux-arm64 and runs it under qemu-aarch64, once per CPU model
# that selects a different kernel path (plain NEON, dotprod, i8mm).
set -euo pipefail
dir=${1:-build-arm64}
cmake -S . -B "$dir" -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DBITFLASH_BUILD_TESTS=ON -DCMAKE_BUILD_TYPE=Release
cmake --build "$dir" -j "$(nproc)"
# no dotprod/i8mm/SVE instruction outside the ISA object libraries that may use them
node scripts/check-isa.mjs "$dir/bitflash_tests" "$dir" aarch64-linux-gnu-objdump
for pair in cortex-a53:neon cortex-a76:dotprod max:i8mm; do
  cpu=${pair%%:*} want=${pair##*:}
  echo "== qemu-aarch64 -cpu $cpu (expects the $want path)"
  BITFLASH_EXPECT_ISA=$want qemu-aarch64 -cpu "$cpu" -L /usr/aarch64-linux-gnu "$dir/bitflash_tests"
done
