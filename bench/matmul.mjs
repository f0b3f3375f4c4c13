#!/usr/bin/env node
// `node bench/matmul.mjs [--quick] [--json] [--threads 1,2] [--dtypes q8_0,q4_0,i8c,i4g]`: the low-bit
// matmul benchmark, the same as `bitflash bench matmul` (implementation: lib/cli/bench-matmul.ts,
// compiled into dist/ by `npm run build:ts`).
process.argv.splice(2, 0, 'bench', 'matmul');
await import('../dist/cli/main.js');
