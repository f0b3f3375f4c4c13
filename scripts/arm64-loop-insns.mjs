#!/usr/bin/env node
// Static instruction counts of the innermost loops of arm64 kernels, from aarch64-linux-gnu-objdump
// (benchmarks under emulation are meaningless: issue 10 asks for these counts instead).
// Usage: node scripts/arm64-loop-insns.mjs <object or binary> [symbol substring ...]
// For each function whose demangled name contains one of the substrings, prints every innermost loop
// (a backward branch whose range holds no other backward branch): its address range, its static
// instruction count (straight-line bodies: one iteration's instructions) and the count per class
// (loads, stores, SIMD arithmetic, scalar / branch).
import { execFileSync } from 'node:child_process';

const [obj, ...subs] = process.argv.slice(2);
if (!obj) {
  console.error('usage: arm64-loop-insns.mjs <object> [symbol substring ...]');
  process.exit(2);
}
const text = execFileSync('aarch64-linux-gnu-objdump', ['-d', '--no-show-raw-insn', '-C', obj], {
  encoding: 'utf8',
  maxBuffer: 1 << 28,
});
const funcs = [];
let cur = null;
for (const line of text.split('\n')) {
  const h = /^([0-9a-f]+) <(.*)>:$/.exec(line);
  if (h) {
    cur = { name: h[2], insns: [] };
    funcs.push(cur);
    continue;
  }
  const m = /^\s+([0-9a-f]+):\s+(\S+)\s*(.*)$/.exec(line);
  if (m && cur) cur.insns.push({ addr: parseInt(m[1], 16), op: m[2], args: m[3] });
}
const isBranch = (op) => /^(b|b\..+|cbz|cbnz|tbz|tbnz)$/.test(op);
const classify = (i) => {
  if (/^(ld|ldr|ldp|ldur|ld1|ld2|ld3|ld4|ld1r)/.test(i.op)) return 'load';
  if (/^(st|str|stp|stur|st1|st2)/.test(i.op)) return 'store';
  if (/\bv\d+\.|\bq\d+\b|\bd\d+\b|\bs\d+\b/.test(i.args)) return 'simd';
  return 'scalar';
};
for (const f of funcs) {
  if (subs.length && !subs.some((s) => f.name.includes(s))) continue;
  const loops = [];
  for (const i of f.insns) {
    if (!isBranch(i.op)) continue;
    const t = /(?:^|,\s*)([0-9a-f]+) </.exec(i.args);
    if (!t) continue;
    const target = parseInt(t[1], 16);
    if (target <= i.addr) loops.push({ from: target, to: i.addr });
  }
  const inner = loops.filter((l) => !loops.some((o) => o !== l && o.from >= l.from && o.to <= l.to && (o.from !== l.from || o.to !== l.to)));
  if (!inner.length) continue;
  console.log(f.name);
  for (const l of inner.sort((a, b) => a.from - b.from)) {
    const body = f.insns.filter((i) => i.addr >= l.from && i.addr <= l.to);
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
