#!/usr/bin/env node
// `node bench/dyadic.mjs [--accuracy] [--throughput] [--block] [--quick] [--json]`: the dyadic
// integer-op benchmark, the same as `bitflash bench dyadic` (implementation: lib/cli/bench-dyadic.ts,
// compiled into dist/ by `npm run build:ts`).
process.argv.splice(2, 0, 'bench', 'dyadic');
await import('../dist/cli/main.js');
