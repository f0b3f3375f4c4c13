#!/usr/bin/env node
// `node bench/ternary.mjs [--quick] [--json] [--threads 1,2]`: the ternary matmul benchmark, the same as
// `bitflash bench ternary` (implementation: lib/cli/bench-ternary.ts, compiled into dist/ by `npm run build:ts`).
process.argv.splice(2, 0, 'bench', 'ternary');
await import('../dist/cli/main.js');
