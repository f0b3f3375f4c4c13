#!/usr/bin/env node
// `node bench/roofline.mjs [--json] [--threads 1,2] [--bytes 2G] [--reps 5]`: the machine's ceilings,
// the same as `bitflash bench roofline` (implementation: lib/roofline.ts, compiled into dist/).
process.argv.splice(2, 0, 'bench', 'roofline');
await import('../dist/cli/main.js');
