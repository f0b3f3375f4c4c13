#!/usr/bin/env node
// Leak check (issue 9): for each public entry point, warm up, then run its calls in rounds with a
// forced full GC between rounds, and compare the process RSS after the last round with the RSS after
// the warm-up. Passes when every entry grows by less than 5 %. Runs on the built dist/ (npm run build).
//
//   node --expose-gc scripts/leak-check.mjs            long form: 10,000 calls per entry after as many for
//                                                      warm-up, a table for the README
//   node --expose-gc scripts/leak-check.mjs --calls N  N calls per entry (the vitest short form passes a small N)
//   --scaled                                           scale the slow entries' counts down (model load 2 %, generate 5 %, ...)
//   --json                                             one JSON line per entry instead of the table
//   --only a,b                                         only these entries
//
// The RSS of one process is what a server sees: native allocations (packed weights, dyadic params,
// plans, async jobs) and the JS heap together. Each entry gets its own measurement window; entries run
// one after the other in this process, so a later entry starts from the RSS the earlier ones left.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { lcgValues as values } from '../test/js/lcg-values.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const CALLS = Number(opt('--calls') ?? 10000);
const ROUNDS = Number(opt('--rounds') ?? 10);
const JSON_OUT = args.includes('--json');
const SCALED = args.includes('--scaled');
const ONLY = opt('--only')?.split(',');
const LIMIT = 5; // % growth allowed after warm-up

if (typeof globalThis.gc !== 'function') {
  console.error('leak-check: run with node --expose-gc');
  process.exit(2);
}
if (!(CALLS >= ROUNDS && Number.isInteger(CALLS))) {
  console.error(`leak-check: --calls must be an integer >= --rounds (${ROUNDS})`);
  process.exit(2);
}

const bf = await import(path.join(root, 'dist', 'index.js'));
const model = path.join(root, 'models', 'stories260K.gguf');

async function expectReject(p) {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof bf.BitflashError)) throw e;
    return;
  }
  throw new Error('expected a rejection');
}
function expectThrow(f, Ctor) {
  try {
    f();
  } catch (e) {
    if (!(e instanceof Ctor)) throw e;
    return;
  }
  throw new Error('expected a throw');
}

// The entry points. Each `call` is one public call (or one create + dispose pair for lifetimes);
// `weight` scales its call count under --scaled (loading a model is ~1000x a small matmul); `serial` entries run one
// call at a time (a model takes one call at a time).
async function entries() {
  const [n, k] = [64, 512];
  const wf = values(n * k, 1);
  const w = bf.quantizeSync(wf, { dtype: 'q4_0', shape: [n, k] });
  bf.packSync(w);
  const wi8 = bf.quantizeSync(wf, { dtype: 'i8c', shape: [n, k] });
  const x1 = values(k, 2);
  const x8 = values(8 * k, 3);
  const xi = bf.Tensor.from(Int8Array.from({ length: 8 * k }, (_, i) => (i * 31) % 256 - 128), [8, k]);
  const tw = bf.quantizeSync(values(32 * 512, 4), { dtype: 'tq2_0', shape: [32, 512] });
  const acc = Int32Array.from({ length: 4096 }, (_, i) => (i - 2048) * 997);
  const mult = bf.dyadicFromScale(0.0007);
  const add = bf.prepareAddRescale({ aScale: 0.02, bScale: 0.03, outScale: 0.05 });
  const a8 = Int8Array.from({ length: 4096 }, (_, i) => (i * 7) % 256 - 128);
  const soft = bf.prepareSoftmaxInt({ scale: 0.05 });
  const gelu = bf.prepareIGelu({ inScale: 0.05, outScale: 0.05 });
  const silu = bf.prepareSiluInt({ inScale: 0.05, outScale: 0.05 });
  const gamma = new Float32Array(256).fill(1);
  const ln = bf.prepareLayerNormInt({ gamma, outScale: 0.05 });
  const rms = bf.prepareRmsNormInt({ gamma, outScale: 0.05 });
  const m = await bf.loadModel(model, { nCtx: 64 });
  const tok = m.tokenizer;
  const text = readFileSync(path.join(root, 'models', 'eval.txt'), 'utf8').slice(0, 400);
  const ids = tok.encode(text);
  const bad = values(64, 5);
  bad[7] = Number.NaN;
  const dead = bf.Tensor.from(new Float32Array(k));
  dead.dispose();
  return [
    { name: 'quantizeSync (q8_0 64x512)', call: () => bf.quantizeSync(wf, { dtype: 'q8_0', shape: [n, k] }) },
    { name: 'quantize (i4g 64x512, async)', call: () => bf.quantize(wf, { dtype: 'i4g', shape: [n, k], symmetric: false }) },
    { name: 'dequantizeSync (q4_0 64x512)', call: () => bf.dequantizeSync(w) },
    { name: 'dequantize (async)', call: () => bf.dequantize(w) },
    { name: 'matmulSync (q4_0, m=1)', call: () => bf.matmulSync(w, x1) },
    { name: 'matmulSync (q4_0 packed, m=8)', call: () => bf.matmulSync(w, x8) },
    { name: 'matmul (async, m=8)', call: () => bf.matmul(w, x8) },
    { name: "matmul (i8 x, output 'i32', async)", call: () => bf.matmul(wi8, xi, { output: 'i32' }) },
    { name: 'pack + dispose (fresh q8_0 weight)', call: () => bf.pack(bf.quantizeSync(x8, { dtype: 'q8_0', shape: [8, k] })).then((p) => p.dispose()) },
    { name: 'ternary matmulSync (tq2_0 mad / lut)', call: (i) => bf.matmulSync(tw, x8, { family: i % 2 ? 'mad' : 'lut' }) },
    { name: 'ternary quantize + matmul + dispose', weight: 0.1, call: () => { const t = bf.quantizeSync(values(8 * 256, 6), { dtype: 'tq1_0', shape: [8, 256] }); bf.matmulSync(t, values(256, 7), { family: 'lut' }); t.dispose(); } },
    { name: 'requantizeSync (4096 int32)', call: () => bf.requantizeSync(acc, { multiplier: mult }) },
    { name: 'requantize (async)', call: () => bf.requantize(acc, { multiplier: mult, out: 'u8', zeroPoint: 128 }) },
    { name: 'addRescaleSync', call: () => bf.addRescaleSync(add, a8, a8) },
    { name: 'softmaxIntSync (16 rows of 256)', call: () => bf.softmaxIntSync(soft, a8, { cols: 256 }) },
    { name: 'iGeluSync / siluInt (async)', call: (i) => (i % 2 ? bf.iGeluSync(gelu, a8) : bf.siluInt(silu, a8)) },
    { name: 'layerNormIntSync / rmsNormInt (async)', call: (i) => (i % 2 ? bf.layerNormIntSync(ln, a8) : bf.rmsNormInt(rms, a8)) },
    { name: 'prepare* (dyadic params, collected)', call: () => { bf.prepareAddRescale({ aScale: 0.1, bScale: 0.2, outScale: 0.3 }); bf.prepareLayerNormInt({ gamma, outScale: 0.1 }); } },
    { name: 'tokenizer encode + decode (400 chars)', weight: 0.2, call: () => tok.decode(tok.encode(text)) },
    { name: 'generate (8 tokens)', weight: 0.05, serial: true, call: async () => { for await (const t of m.generate('Once', { temperature: 0.8, seed: 1, maxTokens: 8 })) void t; } },
    { name: 'logits (32 tokens)', weight: 0.05, serial: true, call: () => m.logits(ids.slice(0, 32)) },
    { name: 'loadModel + dispose', weight: 0.02, call: async () => (await bf.loadModel(model, { nCtx: 64 })).dispose() },
    { name: 'errors: TypeError / RangeError (sync)', call: () => { expectThrow(() => bf.matmulSync(w, new Float64Array(4)), TypeError); expectThrow(() => bf.quantizeSync(wf, { dtype: 'q8_0', shape: [3, 3] }), RangeError); } },
    { name: 'errors: native BitflashError (sync + async)', call: async () => { expectThrow(() => bf.quantizeSync(bad, { dtype: 'q8_0', shape: [2, 32] }), bf.BitflashError); await expectReject(bf.quantize(bad, { dtype: 'i8c', shape: [2, 32] })); } },
    { name: 'errors: disposed tensor', call: () => expectThrow(() => bf.matmulSync(w, dead), bf.BitflashDisposedError) },
  ];
}

function rssMiB() {
  return process.memoryUsage.rss() / 2 ** 20;
}
async function settle() {
  // two GCs with a turn of the loop between: finalizers (External params, plans) run, then their memory goes
  globalThis.gc();
  await new Promise((r) => setImmediate(r));
  globalThis.gc();
}

async function measure(entry) {
  const calls = Math.max(ROUNDS, Math.round(CALLS * (SCALED ? (entry.weight ?? 1) : 1)));
  const perRound = Math.ceil(calls / ROUNDS);
  // in flight at once for async entries (so async jobs overlap, as in a server); one model runs one call at a time
  const batch = entry.serial ? 1 : 16;
  const runN = async (count, base) => {
    for (let i = 0; i < count; i += batch) {
      const ps = [];
      for (let j = i; j < Math.min(count, i + batch); j++) {
        const r = entry.call(base + j);
        if (r && typeof r.then === 'function') ps.push(r);
      }
      if (ps.length) await Promise.all(ps);
    }
  };
  // warm-up: as many calls as the measurement, in the same rounds. Caches, the V8 heap's sizing, JIT
  // tiers and malloc arenas settle within it: the tokenizer's RSS, for one, steps up once after ~6,000
  // calls and is flat from there (a leak keeps growing; a step does not come back).
  let warm = 0;
  for (let r = 0; r < ROUNDS; r++) {
    await runN(perRound, warm);
    warm += perRound;
    await settle();
  }
  const window = async (offset) => {
    const before = rssMiB();
    let done = 0;
    let peak = before;
    const t0 = performance.now();
    for (let r = 0; r < ROUNDS && done < calls; r++) {
      const n = Math.min(perRound, calls - done);
      await runN(n, offset + done);
      done += n;
      await settle();
      peak = Math.max(peak, rssMiB());
      if (process.env.LEAK_TRACE) console.error(`${entry.name}: round ${r + 1}: ${rssMiB().toFixed(1)} MiB`);
    }
    const after = rssMiB();
    return { before, after, done, peak, seconds: (performance.now() - t0) / 1000, growth: ((after - before) / before) * 100 };
  };
  // A leak grows in every window; a one-time step of the allocator (a new malloc arena or heap
  // segment, V8 resizing a space) does not come back. So a window over the limit is followed by a
  // second, equal window, and the entry passes only if that one stays under the limit; both are reported.
  let w = await window(warm);
  let firstGrowthPct;
  if (w.growth >= LIMIT) {
    firstGrowthPct = w.growth;
    w = await window(warm + w.done);
  }
  return {
    name: entry.name, warmupCalls: warm, calls: w.done, rounds: ROUNDS, rssBeforeMiB: w.before, rssAfterMiB: w.after, peakMiB: w.peak,
    growthPct: w.growth, ...(firstGrowthPct !== undefined ? { firstGrowthPct } : {}), seconds: w.seconds, ok: w.growth < LIMIT,
  };
}

const list = (await entries()).filter((e) => !ONLY || ONLY.some((o) => e.name.startsWith(o)));
const rows = [];
for (const e of list) {
  const r = await measure(e);
  rows.push(r);
  if (JSON_OUT) console.log(JSON.stringify(r));
}
if (!JSON_OUT) {
  const f = (v) => v.toFixed(1);
  console.log(`leak check: ${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0]?.model ?? 'cpu'} (${os.cpus().length} cpus), Node ${process.version}, ${ROUNDS} rounds with GC between, limit ${LIMIT} %`);
  console.log('| entry point | calls | RSS before (MiB) | RSS after (MiB) | growth |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const r of rows) console.log(`| ${r.name} | ${r.calls.toLocaleString('en-US')} | ${f(r.rssBeforeMiB)} | ${f(r.rssAfterMiB)} | ${r.growthPct >= 0 ? '+' : ''}${r.growthPct.toFixed(2)} %${r.firstGrowthPct !== undefined ? ` (second window; the first grew ${r.firstGrowthPct.toFixed(2)} %)` : ''} |`);
  console.log(`total ${rows.reduce((a, r) => a + r.calls, 0).toLocaleString('en-US')} calls in ${rows.reduce((a, r) => a + r.seconds, 0).toFixed(0)} s`);
}
const failed = rows.filter((r) => !r.ok);
if (failed.length) {
  console.error(`leak-check: RSS grew by ${LIMIT} % or more for: ${failed.map((r) => r.name).join('; ')}`);
  process.exit(1);
}
