#!/usr/bin/env node
// Static ISA check: baseline code must never execute an instruction the CPU may lack.
//  1. Every object of the baseline targets (core, addon glue) has no VEX/EVEX instruction
//     (ymm/zmm/opmask registers, or any v-prefixed AVX mnemonic).
//  2. In the linked addon, every function that has such an instruction is defined only by an
//     ISA object library (bitflash_isa_<isa>), never also by a baseline object (an ODR merge
//     could otherwise route baseline calls into an AVX copy of an inline function).
// Usage: node scripts/check-isa.mjs <addon.node> <cmake-build-dir> [objdump]
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const [addon, buildDir, objdump = process.env.OBJDUMP ?? 'objdump'] = process.argv.slice(2);
if (!addon || !buildDir) {
  console.error('usage: check-isa.mjs <addon.node> <cmake-build-dir> [objdump]');
  process.exit(2);
}
const nm = objdump.replace(/objdump$/, 'nm');

function objects(dir) {
  const out = [];
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) out.push(...objects(p));
    else if (e.endsWith('.o')) out.push(p);
  }
  return out;
}

const cmakeFiles = path.join(buildDir, 'CMakeFiles');
const targets = readdirSync(cmakeFiles).filter((d) => d.endsWith('.dir'));
const isaObjs = targets.filter((d) => d.startsWith('bitflash_isa_')).flatMap((d) => objects(path.join(cmakeFiles, d)));
const baseObjs = targets.filter((d) => d === 'bitflash_core.dir' || d === 'bitflash.dir').flatMap((d) => objects(path.join(cmakeFiles, d)));
if (isaObjs.length === 0 || baseObjs.length === 0) {
  console.error(`check-isa: no objects found under ${cmakeFiles} (isa: ${isaObjs.length}, baseline: ${baseObjs.length})`);
  process.exit(2);
}

const AVX = /%[yz]mm\d|%k[0-7]\b|^\s*[0-9a-f]+:\s+(v[a-z0-9]+|k[a-z]+[bwdq])\s/m;
function avxFunctions(file) {
  const text = execFileSync(objdump, ['-d', '--no-show-raw-insn', file], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const found = new Map();
  let fn = null;
  for (const line of text.split('\n')) {
    const m = /^[0-9a-f]+ <(.+)>:$/.exec(line);
    if (m) {
      fn = m[1];
      continue;
    }
    if (fn && /^\s*[0-9a-f]+:/.test(line) && AVX.test(line) && !/\b(verr|verw|vmcall|vmlaunch|vmresume|vmxoff)\b/.test(line)) {
      if (!found.has(fn)) found.set(fn, line.trim());
    }
  }
  return found;
}
function definedSymbols(files) {
  const s = new Set();
  for (const f of files) {
    const text = execFileSync(nm, ['--defined-only', f], { encoding: 'utf8' });
    for (const line of text.split('\n')) {
      const m = /^[0-9a-f]+ [TtWw] (.+)$/.exec(line);
      if (m) s.add(m[1]);
    }
  }
  return s;
}

let bad = 0;
for (const f of baseObjs) {
  for (const [fn, insn] of avxFunctions(f)) {
    console.error(`check-isa: baseline object ${path.relative(buildDir, f)}: ${fn} uses ${insn}`);
    bad++;
  }
}
const isaSyms = definedSymbols(isaObjs);
const baseSyms = definedSymbols(baseObjs);
const linked = avxFunctions(addon);
for (const [fn, insn] of linked) {
  if (!isaSyms.has(fn) || baseSyms.has(fn)) {
    console.error(`check-isa: ${path.basename(addon)}: ${fn} uses ${insn} but is ${isaSyms.has(fn) ? 'also defined by baseline code' : 'not from an ISA object library'}`);
    bad++;
  }
}
if (bad) {
  console.error(`check-isa: FAILED, ${bad} finding(s)`);
  process.exit(1);
}
console.log(`check-isa: ok: ${baseObjs.length} baseline objects have no AVX/AVX-512 instruction; ${linked.size} functions in ${path.basename(addon)} use them, all from ${isaObjs.length} ISA objects`);
