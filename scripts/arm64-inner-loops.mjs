#!/usr/bin/env node
// Inner-loop instruction counts of the arm64 matmul-family kernels (README "ARM64 / Matmul and quantizers"):
// benchmarks under qemu mean nothing, so the README lists instructions per weight instead. A loop is a
// backward branch and the address range it closes; each row names the functions to search, the exact
// histogram of multiply-type instructions that identifies the loop (e.g. 8 sdot + 1 fmla = 4 rows x 32 k
// at m = 1), and the weights (or MACs) one iteration handles. The smallest matching loop is counted.
// Usage: node scripts/arm64-inner-loops.mjs <arm64 cmake build dir> [objdump]
import { disassemble, loopsOf } from './lib/aarch64-loops.mjs';
import path from 'node:path';

const [buildDir, objdump = 'aarch64-linux-gnu-objdump'] = process.argv.slice(2);
if (!buildDir) {
  console.error('usage: arm64-inner-loops.mjs <arm64-build-dir> [objdump]');
  process.exit(2);
}
const MUL = ['sdot', 'smmla', 'smull', 'smull2', 'smlal', 'smlal2', 'fmla', 'sadalp', 'fcvtas', 'fcvtzs', 'fmaxnm', 'fmul', 'scvtf', 'fcvtl'];
const cache = new Map();
function loops(obj) {
  if (cache.has(obj)) return cache.get(obj);
  const out = [];
  for (const [f, ins] of disassemble(path.join(buildDir, 'CMakeFiles', obj), objdump)) {
    for (const l of loopsOf(ins)) {
      const body = l.body.map((i) => i.op);
      const h = {};
      for (const k of MUL) {
        const c = body.filter((x) => x === k).length;
        if (c) h[k] = c;
      }
      out.push({ f, n: body.length, h });
    }
  }
  cache.set(obj, out);
  return out;
}
const same = (a, b) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
function count(obj, fre, sig) {
  const c = loops(obj).filter((l) => fre.test(l.f) && same(l.h, sig)).map((l) => l.n);
  return c.length ? Math.min(...c) : null;
}

const N = 'bitflash_isa_neon.dir/cpp/kernels/neon/';
const D = 'bitflash_isa_dotprod.dir/cpp/kernels/dotprod/';
const I = 'bitflash_isa_i8mm.dir/cpp/kernels/i8mm/';
const s8n = { smull: 8, smull2: 8, sadalp: 16 };
const u4n = { smull: 8, smlal2: 8, sadalp: 8 };
const fl = { fmla: 1, scvtf: 1, fmul: 1 };
const rows = [];
for (const [dt, t, u4] of [['q8_0', 0, false], ['q4_0', 1, true], ['i8c', 2, false], ['i4g', 3, true]]) {
  const fre = new RegExp(`gemv_f32<${t}>|${dt}_q8_gemv__`);
  const name = `${dt} GEMV, f32 out (m = 1, 4 rows x 32 k)`;
  rows.push([name, 'neon', N + 'matmul--neon.cc.o', fre, { ...(u4 ? u4n : s8n), ...fl }, 128, 'weights']);
  rows.push([name, 'dotprod', D + 'matmul--dotprod.cc.o', fre, { sdot: 8, ...fl }, 128, 'weights']);
}
for (const [name, fre] of [['i8c GEMV, i32 out', /gemv_i32__|gemv_i32\(/], ['i8c GEMV, requantized i8 out', /gemv_rq/]]) {
  rows.push([`${name} (4 rows x 32 k)`, 'neon', N + 'matmul--neon.cc.o', fre, s8n, 128, 'weights']);
  rows.push([`${name} (4 rows x 32 k)`, 'dotprod', D + 'matmul--dotprod.cc.o', fre, { sdot: 8 }, 128, 'weights']);
}
for (const [name, i32] of [['packed GEMM, f32 out', false], ['packed GEMM, i32 / requantized i8 out', true]]) {
  const fre = new RegExp(`gemm_tile<4, ${i32}`);
  const f = i32 ? {} : { fmla: 8, scvtf: 8, fmul: 8 };
  rows.push([`${name} (kq step: 4 act rows x 8 w rows x 4 k)`, 'neon', N + 'matmul--neon.cc.o', fre, s8n, 128, 'MACs']);
  rows.push([`${name} (block: 4 x 8 x 32)`, 'dotprod', D + 'matmul--dotprod.cc.o', fre, { sdot: 64, ...f }, 1024, 'MACs']);
  rows.push([`${name} (block: 4 x 8 x 32)`, 'i8mm', I + 'matmul--i8mm.cc.o', fre, { smmla: 32, ...f }, 1024, 'MACs']);
}
rows.push(['f32-weight matmul (4 rows x 4 act rows x 4 k)', 'neon', N + 'fmatmul--neon.cc.o', /tile<false, 4, 4>|rows<false, 4>|run<false>|f32_f32/, { fmla: 16 }, 64, 'MACs']);
rows.push(['f16-weight matmul (4 rows x 4 act rows x 4 k)', 'neon', N + 'fmatmul--neon.cc.o', /tile<true, 4, 4>|rows<true, 4>|run<true>|f16_f32/, { fmla: 16, fcvtl: 4 }, 64, 'MACs']);
rows.push(['act q8 quantizer (32 floats)', 'neon', N + 'matmul--neon.cc.o', /act_quant/, { fmul: 8, fcvtas: 8, fmaxnm: 7 }, 32, 'elements']);
rows.push(['q8_0 quantizer (32 floats)', 'neon', N + 'q8-0-quant--neon.cc.o', /q8_0_quant__neon/, { fmul: 8, fcvtas: 8, fmaxnm: 7 }, 32, 'elements']);
rows.push(['q8_0 dequantizer (32 values)', 'neon', N + 'q8-0-quant--neon.cc.o', /q8_0_dequant__neon/, { fmul: 8, scvtf: 8 }, 32, 'elements']);

let missing = 0;
console.log('| kernel (loop iteration) | path | instructions per iteration | weights (MACs) per iteration | per weight |');
console.log('|---|---|---|---|---|');
for (const [name, isa, obj, fre, sig, per, unit] of rows) {
  const n = count(obj, fre, sig);
  if (n === null) {
    console.error(`arm64-inner-loops: no loop with ${JSON.stringify(sig)} in ${obj} (${fre})`);
    missing++;
    continue;
  }
  console.log(`| ${name} | ${isa} | ${n} | ${per} ${unit} | ${(n / per).toFixed(3)} |`);
}
process.exit(missing ? 1 : 0);
