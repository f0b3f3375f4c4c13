#!/usr/bin/env node
// Static ISA check: baseline code must never execute an instruction the CPU may lack.
//  1. Every object of the baseline targets (core, addon glue) has no VEX/EVEX instruction
//     (ymm/zmm/opmask registers, or any v-prefixed AVX mnemonic).
//  2. In the linked addon, every function that has such an instruction is defined only by an
//     ISA object library (bitflash_isa_<isa>), never also by a baseline object (an ODR merge
//     could otherwise route baseline calls into an AVX copy of an inline function).
// arm64 builds (objdump reports elf64-littleaarch64) check the same two rules for the instructions
// beyond armv8-a: the dot products (sdot/udot/usdot/sudot), the int8/bf16 matrix multiplies
// (smmla/ummla/usmmla/bfmmla), the other bf16 ops and SVE (z/p registers). In addition each arm64 ISA
// object library may only use its own extensions: bitflash_isa_neon none, bitflash_isa_dotprod the dot
// products, bitflash_isa_i8mm the dot products and the int8 matrix multiplies.
// Usage: node scripts/check-isa.mjs <addon.node or linked test binary> <cmake-build-dir> [objdump]
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

const isArm = execFileSync(objdump, ['-f', isaObjs[0]], { encoding: 'utf8' }).includes('aarch64');
const AVX = /%[yz]mm\d|%k[0-7]\b|^\s*[0-9a-f]+:\s+(v[a-z0-9]+|k[a-z]+[bwdq])\s/m;
const ARM_DOT = /^\s*[0-9a-f]+:\s+(sdot|udot|usdot|sudot)\s/;
const ARM_MM = /^\s*[0-9a-f]+:\s+(smmla|ummla|usmmla)\s/;
// (SVE also has instructions with only general-purpose operands: the vector-length counters and steps.)
const ARM_OTHER = /^\s*[0-9a-f]+:\s+(bfdot|bfmmla|bfmlal[bt]|bfcvtn?2?|cnt[bhwd]|inc[bhwd]|dec[bhwd]|rdvl|addvl|addpl)\s|\bz\d+\.[bhsdq]\b|\bp\d+\/[mz]\b|\bp\d+\.[bhsd]\b/;
// Instructions an arm64 object may not contain: everything beyond armv8-a, less what its ISA library allows.
function armBeyond(allow) {
  return (line) => (ARM_DOT.test(line) && !allow.includes('dot')) || (ARM_MM.test(line) && !allow.includes('mm')) || ARM_OTHER.test(line);
}
const beyondBaseline = isArm ? armBeyond([]) : (line) => AVX.test(line) && !/\b(verr|verw|vmcall|vmlaunch|vmresume|vmxoff)\b/.test(line);
function avxFunctions(file, beyond = beyondBaseline) {
  const text = execFileSync(objdump, ['-d', '--no-show-raw-insn', file], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const found = new Map();
  let fn = null;
  for (const line of text.split('\n')) {
    const m = /^[0-9a-f]+ <(.+)>:$/.exec(line);
    if (m) {
      fn = m[1];
      continue;
    }
    if (fn && /^\s*[0-9a-f]+:/.test(line) && beyond(line)) {
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
if (isArm) {
  // each ISA library stays within its own extensions
  const allowed = { neon: [], dotprod: ['dot'], i8mm: ['dot', 'mm'] };
  for (const d of targets.filter((t) => t.startsWith('bitflash_isa_'))) {
    const isa = d.replace(/^bitflash_isa_/, '').replace(/\.dir$/, '');
    for (const f of objects(path.join(cmakeFiles, d))) {
      for (const [fn, insn] of avxFunctions(f, armBeyond(allowed[isa] ?? []))) {
        console.error(`check-isa: ${isa} object ${path.relative(buildDir, f)}: ${fn} uses ${insn}`);
        bad++;
      }
    }
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
const what = isArm ? 'dotprod/i8mm/bf16/SVE' : 'AVX/AVX-512';
console.log(`check-isa: ok: ${baseObjs.length} baseline objects have no ${what} instruction; ${linked.size} functions in ${path.basename(addon)} use them, all from ${isaObjs.length} ISA objects`);
