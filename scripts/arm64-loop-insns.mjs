#!/usr/bin/env node
// Static instruction counts of the innermost loops of arm64 kernels, from aarch64-linux-gnu-objdump
// (benchmarks under emulation are meaningless: issue 10 asks for these counts instead).
// Usage: node scripts/arm64-loop-insns.mjs <object or binary> [symbol substring ...]
// For each function whose demangled name contains one of the substrings, prints every innermost loop
// (a backward branch whose range holds no other backward branch): its address range, its static
// instruction count (straight-line bodies: one iteration's instructions) and the count per class
// (loads, stores, SIMD arithmetic, scalar / branch).
import { disassemble, loopsOf, innermost } from './lib/aarch64-loops.mjs';

const [obj, ...subs] = process.argv.slice(2);
if (!obj) {
  console.error('usage: arm64-loop-insns.mjs <object> [symbol substring ...]');
  process.exit(2);
}
const funcs = [...disassemble(obj)].map(([name, insns]) => ({ name, insns }));
const classify = (i) => {
  if (/^(ld|ldr|ldp|ldur|ld1|ld2|ld3|ld4|ld1r)/.test(i.op)) return 'load';
  if (/^(st|str|stp|stur|st1|st2)/.test(i.op)) return 'store';
  if (/\bv\d+\.|\bq\d+\b|\bd\d+\b|\bs\d+\b/.test(i.args)) return 'simd';
  return 'scalar';
};
for (const f of funcs) {
  if (subs.length && !subs.some((s) => f.name.includes(s))) continue;
  const inner = innermost(loopsOf(f.insns));
  if (!inner.length) continue;
  console.log(f.name);
  for (const l of inner.sort((a, b) => a.from - b.from)) {
    const body = l.body;
    const cls = { load: 0, store: 0, simd: 0, scalar: 0 };
    const ops = {};
    for (const i of body) {
      cls[classify(i)]++;
      ops[i.op] = (ops[i.op] || 0) + 1;
    }
    const top = Object.entries(ops).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}:${v}`).join(' ');
    console.log(`  loop ${l.from.toString(16)}-${l.to.toString(16)}: ${body.length} insns (load ${cls.load}, store ${cls.store}, simd ${cls.simd}, scalar/branch ${cls.scalar})  ${top}`);
  }
}
