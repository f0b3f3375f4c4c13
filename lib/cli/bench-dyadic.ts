/**
 * `bitflash bench dyadic`: the integer-only (dyadic) ops.
 *
 * Accuracy (--accuracy, or by default): max and mean absolute error against float64 over the whole
 * int8 input range (every int8 value; all 65536 pairs for add; rows of random and of every int8 score
 * for softmax and the norms) at typical scales, computed through the public API, next to what the
 * papers claim.
 *
 * Throughput: elements per second of each integer op (public Sync API, dispatched kernel) against the
 * project's own f32 AVX2 version of the same op (cpp/kernels/avx2/dyadic-float--avx2.cc) and
 * onnxruntime-node's f32 Softmax, com.microsoft Gelu and LayerNormalization (one-node models, the
 * same shapes, intra_op threads = ours = 1, spinning off). One thread everywhere: the f32 counterparts
 * are single-threaded kernels. Per op: one warm-up call each, then 7 timed runs (3 with --quick), the
 * integer, f32 and onnxruntime runs interleaved, each of as many calls as fill 50 ms (10 ms) of the
 * process's CPU time (process.cpuUsage: user + system, so
 * other processes on a shared machine do not count; on an idle machine it equals the wall time of
 * these single-threaded calls); the median run's elements / s.
 *
 * Block (--block): the integer-only transformer block against its float64 twin (lib/model/int-block.ts).
 */
import { cpus } from 'node:os';
import {
  addRescaleSync,
  dyadicFloatSync,
  iExpSync,
  iGeluSync,
  layerNormIntSync,
  prepareAddRescale,
  prepareIExp,
  prepareIGelu,
  prepareLayerNormInt,
  prepareRmsNormInt,
  prepareShiftGelu,
  prepareSiluInt,
  prepareSoftmaxInt,
  requantizeSync,
  rmsNormIntSync,
  shiftGeluSync,
  siluIntSync,
  softmaxIntSync,
  dyadicFromScale,
} from '../ops/dyadic.js';
import { cpuFeatures, getThreads, kernelChoices, setThreads } from '../runtime.js';
import { floatOpModel } from './onnx.js';
import { compareIntBlock, type BlockComparison } from '../model/int-block.js';
import { loadOrt, writeBenchJson } from './bench-util.js';

export interface AccuracyRow {
  op: string;
  inputs: string;
  maxAbsErr: number;
  meanAbsErr: number;
  /** The int8 output step (outScale) or 'relative'. */
  unit: string;
  paper: string;
}
export interface ThroughputRow {
  op: string;
  kernel: string;
  elements: number;
  intMEps: number;
  f32MEps: number | null;
  f32Op: string;
  ortMEps: number | null;
  ortOp: string | null;
  /** intMEps / f32MEps */
  vsF32: number | null;
  vsOrt: number | null;
}
export interface BenchDyadicResult {
  date: string;
  machine: { cpu: string; arch: string; isa: string; logicalCpus: number };
  quick: boolean;
  threads: number;
  accuracy: AccuracyRow[];
  throughput: ThroughputRow[];
  block: BlockComparison[];
  notes: string[];
}

const ALL_I8 = Int8Array.from({ length: 256 }, (_, i) => i - 128);
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
}
function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}
/** erf by its Maclaurin series to double precision (|x| > 6: +-1); the float64 side of the GELU rows and the tests. */
export function erf(x: number): number {
  const t = Math.abs(x);
  if (t > 6) return Math.sign(x);
  let sum = 0;
  let term = t;
  for (let n = 0; n < 200; n++) {
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    term *= (-t * t) / (n + 1);
  }
  return (Math.sign(x) * 2 * sum) / Math.sqrt(Math.PI);
}
const gelu64 = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));
const silu64 = (x: number) => x / (1 + Math.exp(-x));
const clampI8 = (v: number) => Math.max(-128, Math.min(127, Math.round(v)));

class Err {
  max = 0;
  sum = 0;
  n = 0;
  add(e: number): void {
    e = Math.abs(e);
    if (e > this.max) this.max = e;
    this.sum += e;
    this.n++;
  }
  get mean(): number {
    return this.n ? this.sum / this.n : 0;
  }
}

export function dyadicAccuracy(): AccuracyRow[] {
  const rows: AccuracyRow[] = [];
  const push = (op: string, inputs: string, e: Err, unit: string, paper: string) => rows.push({ op, inputs, maxAbsErr: e.max, meanAbsErr: e.mean, unit, paper });
  {
    // requantize, in output steps: random int32 and random scales vs round(x * scale)
    const r = lcg(1);
    const e = new Err();
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const x = Int32Array.of(Math.floor((r() - 0.5) * 2 ** 32) >> Math.floor(r() * 20));
      const sc = 2 ** -(8 + Math.floor(r() * 16)) * (1 + r());
      const y = requantizeSync(x, { multiplier: dyadicFromScale(sc), out: 'i16' })[0]!;
      const want = Math.round(x[0]! * sc);
      if (Math.abs(want) < 32767) e.add(y - x[0]! * sc);
    }
    push('requantize', 'random int32, scales 2^-8..2^-22', e, 'output steps', 'HAWQ-V3: the rule only (no error figure)');
  }
  {
    const [sa, sb, sy] = [0.05, 0.03, 0.08];
    const p = prepareAddRescale({ aScale: sa, bScale: sb, outScale: sy });
    const a = new Int8Array(65536);
    const b = new Int8Array(65536);
    for (let i = 0; i < 65536; i++) (a[i] = (i >> 8) - 128), (b[i] = (i & 255) - 128);
    const y = addRescaleSync(p, a, b);
    const e = new Err();
    for (let i = 0; i < 65536; i++) {
      const f = a[i]! * sa + b[i]! * sb;
      if (Math.abs(f / sy) <= 127) e.add(y[i]! * sy - f);
    }
    push('addRescale', 'all int8 pairs, 0.05 + 0.03 -> 0.08', e, 'real (step 0.08)', 'HAWQ-V3: none');
  }
  for (const method of ['ibert', 'shiftmax'] as const) {
    for (const [scale, lo] of [[1 / 1024, -32768], [0.0625, -255]] as const) {
      const p = prepareIExp({ scale, method });
      const d = Int16Array.from({ length: -lo + 1 }, (_, i) => -i);
      const y = iExpSync(p, d);
      const e = new Err();
      for (let i = 0; i < d.length; i++) {
        const ex = Math.exp(d[i]! * scale);
        if (ex > 1e-3) e.add((y[i]! * p.outScale - ex) / ex);
      }
      push(`iExp ${method}`, `d in [${lo}, 0], s=${scale}, where exp > 1e-3`, e, 'relative',
        method === 'ibert' ? 'I-BERT: 2nd-order poly, max rel ~3e-3 on [-ln2, 0]' : 'I-ViT: 2^r ~ 1 + r/2 (no per-op figure)');
    }
  }
  for (const method of ['ibert', 'shiftmax'] as const) {
    const scale = 0.0625;
    const p = prepareSoftmaxInt({ scale, method });
    const r = lcg(7);
    const e = new Err();
    const inputs: Int8Array[] = [ALL_I8];
    for (const cols of [64, 197, 1024]) for (let i = 0; i < 60; i++) inputs.push(Int8Array.from({ length: cols }, () => clampI8((gauss(r) * 2) / scale)));
    for (const x of inputs) {
      const y = softmaxIntSync(p, x);
      let mx = -128;
      for (const v of x) mx = Math.max(mx, v);
      let z = 0;
      for (const v of x) z += Math.exp((v - mx) * scale);
      for (let j = 0; j < x.length; j++) e.add(y[j]! / 256 - Math.exp((x[j]! - mx) * scale) / z);
    }
    push(`softmaxInt ${method}`, 'every int8 score + rows 64/197/1024 of N(0,2), s=0.0625', e, 'probability (u8 step 1/256)', 'I-BERT / I-ViT: task accuracy only');
  }
  for (const s of [4 / 127, 8 / 127]) {
    const range = `all int8, s=${s.toFixed(4)} (|x| <= ${Math.round(128 * s)}), out s`;
    const run = (y: Int8Array, f: (x: number) => number) => {
      const e = new Err();
      for (let i = 0; i < 256; i++) e.add(y[i]! * s - f((i - 128) * s));
      return e;
    };
    push('iGelu', range, run(iGeluSync(prepareIGelu({ inScale: s, outScale: s }), ALL_I8), gelu64), `real (step ${s.toFixed(4)})`, 'I-BERT: erf poly, GELU max err 0.018 (float)');
    push('shiftGelu', range, run(shiftGeluSync(prepareShiftGelu({ inScale: s, outScale: s }), ALL_I8), gelu64), `real (step ${s.toFixed(4)})`, 'I-ViT: x sigmoid(1.702x) (no per-op figure)');
    push('siluInt', range, run(siluIntSync(prepareSiluInt({ inScale: s, outScale: s }), ALL_I8), silu64), `real (step ${s.toFixed(4)})`, '-');
    const q = new Err();
    for (let i = 0; i < 256; i++) {
      const g = gelu64((i - 128) * s);
      q.add(Math.round(g / s) * s - g);
    }
    push('(int8 output rounding alone)', range, q, `real (step ${s.toFixed(4)})`, 'lower bound for any int8 output');
  }
  for (const center of [true, false]) {
    const cols = 768;
    const r = lcg(center ? 3 : 4);
    const gamma = Float32Array.from({ length: cols }, () => 0.8 + 0.4 * r());
    const beta = Float32Array.from({ length: cols }, () => (center ? 0.1 * (Math.floor(r() * 21) - 10) : 0));
    const ys = 4 / 127;
    const p = center ? prepareLayerNormInt({ gamma, beta, outScale: ys }) : prepareRmsNormInt({ gamma, outScale: ys });
    const e = new Err();
    const x = new Int8Array(cols);
    for (let row = 0; row < 200; row++) {
      const sd = 5 + (row % 40);
      for (let j = 0; j < cols; j++) x[j] = row === 0 ? ((j % 256) - 128) : clampI8(gauss(r) * sd + (center ? 5 : 0));
      const y = center ? layerNormIntSync(p as never, x) : rmsNormIntSync(p as never, x);
      let mean = 0;
      if (center) mean = x.reduce((a, v) => a + v, 0) / cols;
      const v = x.reduce((a, xi) => a + (xi - mean) ** 2, 0) / cols;
      for (let j = 0; j < cols; j++) {
        const f = ((x[j]! - mean) / Math.sqrt(v)) * gamma[j]! + beta[j]!;
        if (Math.abs(f / ys) <= 127) e.add(y[j]! * ys - f);
      }
    }
    push(center ? 'layerNormInt' : 'rmsNormInt', '768 cols, rows of every int8 + N(mu, 5..44), out 4/127', e, 'real (step 0.0315)', 'I-BERT / I-ViT: task accuracy only');
  }
  return rows;
}

/**
 * Elements / s of each call, runs interleaved (run r of every call, then run r + 1, ...) so that a
 * change of the load on a shared machine hits all of them alike; per call the median run.
 */
async function epsInterleaved(elements: number, runs: number, minMs: number, calls: (() => unknown)[]): Promise<number[]> {
  const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
  for (const call of calls) await call(); // warm up
  const v: number[][] = calls.map(() => []);
  for (let r = 0; r < runs; r++) {
    for (const [c, call] of calls.entries()) {
      let reps = 0;
      const t0 = process.cpuUsage();
      let dt = 0;
      do {
        await call();
        reps++;
        dt = cpuMs(process.cpuUsage(t0));
      } while (dt < minMs);
      v[c]!.push((elements * reps) / (dt / 1000));
    }
  }
  return v.map((a) => a.sort((x, y) => x - y)[a.length >> 1]!);
}

export async function dyadicThroughput(quick: boolean, notes: string[]): Promise<ThroughputRow[]> {
  const rows = quick ? 64 : 512;
  const cols = 512;
  const n = rows * cols;
  const runs = quick ? 3 : 7;
  const minMs = quick ? 10 : 50;
  const r = lcg(3);
  const xi = Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128);
  const bi = Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128);
  const di = Int16Array.from({ length: n }, () => -Math.floor(r() * 256));
  const xf = Float32Array.from(xi, (v) => v * 0.05);
  const bf = Float32Array.from(bi, (v) => v * 0.05);
  const df = Float32Array.from(di, (v) => v * 0.05);
  const yf = new Float32Array(n);
  const yi = new Int8Array(n);
  const yu = new Uint8Array(n);
  const ei = new Int32Array(n);
  const gb = new Float32Array(2 * cols);
  gb.fill(1, 0, cols);
  const acc = Int32Array.from({ length: n }, () => Math.floor((r() - 0.5) * 2 ** 32) >> 10);
  const accf = Float32Array.from(acc);
  const ort = await loadOrt();
  if (!ort) notes.push('onnxruntime-node is not installed: its columns are empty');
  const choice = (op: string) => kernelChoices().find((k) => k.op === op)?.kernel ?? '?';
  const out: ThroughputRow[] = [];
  const ortSession = async (op: 'Softmax' | 'Gelu' | 'LayerNormalization') => {
    if (!ort) return null;
    return ort.InferenceSession.create(floatOpModel(op, rows, cols), {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
  };
  const row = async (op: string, kernelOp: string, intCall: () => unknown, f32Op: string, f32Call: (() => unknown) | null, ortOp: 'Softmax' | 'Gelu' | 'LayerNormalization' | null) => {
    const calls: (() => unknown)[] = [intCall];
    if (f32Call) calls.push(f32Call);
    const s = ortOp ? await ortSession(ortOp) : null;
    if (s) {
      const feed = { X: new ort!.Tensor('float32', xf, [rows, cols]) };
      calls.push(() => s.run(feed));
    }
    const e = await epsInterleaved(n, runs, minMs, calls);
    if (s) await s.release();
    const intE = e[0]!;
    const fE = f32Call ? e[1]! : null;
    const oE = s ? e[e.length - 1]! : null;
    out.push({ op, kernel: choice(kernelOp), elements: n, intMEps: intE / 1e6, f32MEps: fE === null ? null : fE / 1e6, f32Op, ortMEps: oE === null ? null : oE / 1e6, ortOp, vsF32: fE ? intE / fE : null, vsOrt: oE ? intE / oE : null });
  };
  const add = prepareAddRescale({ aScale: 0.05, bScale: 0.05, outScale: 0.1 });
  await row('addRescale', 'dyadic add', () => addRescaleSync(add, xi, bi, { out: yi }), 'f32 add', () => dyadicFloatSync('add', xf, bf, yf, cols), null);
  const d = dyadicFromScale(0.0003);
  await row('requantize i32 -> i8', 'dyadic requantize', () => requantizeSync(acc, { multiplier: d, into: yi }), 'f32 add (a + a: a floor)', () => dyadicFloatSync('add', accf, accf, yf, cols), null);
  for (const method of ['ibert', 'shiftmax'] as const) {
    const p = prepareIExp({ scale: 0.05, method });
    await row(`iExp ${method} (i16 -> i32)`, 'dyadic exp', () => iExpSync(p, di, { out: ei }), 'f32 exp', () => dyadicFloatSync('exp', df, null, yf, cols), null);
  }
  for (const method of ['ibert', 'shiftmax'] as const) {
    const p = prepareSoftmaxInt({ scale: 0.05, method });
    await row(`softmaxInt ${method} (rows of ${cols})`, 'dyadic softmax', () => softmaxIntSync(p, xi, { cols, out: yu }), 'f32 softmax', () => dyadicFloatSync('softmax', xf, null, yf, cols), 'Softmax');
  }
  const g = prepareIGelu({ inScale: 0.05, outScale: 0.05 });
  await row('iGelu', 'dyadic gelu', () => iGeluSync(g, xi, { out: yi }), 'f32 GELU (tanh form)', () => dyadicFloatSync('gelu', xf, null, yf, cols), 'Gelu');
  const sg = prepareShiftGelu({ inScale: 0.05, outScale: 0.05 });
  await row('shiftGelu', 'dyadic shift_gelu / silu', () => shiftGeluSync(sg, xi, { out: yi }), 'f32 GELU (tanh form)', () => dyadicFloatSync('gelu', xf, null, yf, cols), 'Gelu');
  const sl = prepareSiluInt({ inScale: 0.05, outScale: 0.05 });
  await row('siluInt', 'dyadic shift_gelu / silu', () => siluIntSync(sl, xi, { out: yi }), 'f32 SiLU', () => dyadicFloatSync('silu', xf, null, yf, cols), null);
  const gamma = new Float32Array(cols).fill(1);
  const ln = prepareLayerNormInt({ gamma, outScale: 4 / 127 });
  await row(`layerNormInt (rows of ${cols})`, 'dyadic layernorm / rmsnorm', () => layerNormIntSync(ln, xi, { out: yi }), 'f32 LayerNorm', () => dyadicFloatSync('layerNorm', xf, gb, yf, cols), 'LayerNormalization');
  const rn = prepareRmsNormInt({ gamma, outScale: 4 / 127 });
  await row(`rmsNormInt (rows of ${cols})`, 'dyadic layernorm / rmsnorm', () => rmsNormIntSync(rn, xi, { out: yi }), 'f32 RMSNorm', () => dyadicFloatSync('rmsNorm', xf, gb, yf, cols), null);
  return out;
}

export interface BenchDyadicOptions {
  quick: boolean;
  accuracy: boolean;
  throughput: boolean;
  block: boolean;
  log?: (s: string) => void;
}

export async function benchDyadic(o: BenchDyadicOptions): Promise<BenchDyadicResult> {
  const feat = cpuFeatures();
  const notes: string[] = [];
  const pool = getThreads();
  const res: BenchDyadicResult = {
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', arch: feat.arch, isa: feat.active, logicalCpus: cpus().length },
    quick: o.quick,
    threads: 1,
    accuracy: [],
    throughput: [],
    block: [],
    notes,
  };
  if (o.accuracy) res.accuracy = dyadicAccuracy();
  if (o.throughput) {
    if (!feat.flags.avx2) notes.push('throughput skipped: the f32 counterparts need AVX2');
    else {
      setThreads(1);
      try {
        res.throughput = await dyadicThroughput(o.quick, notes);
      } finally {
        setThreads(pool);
      }
    }
  }
  if (o.block) {
    res.block.push(await compareIntBlock({ source: 'random' }));
    res.block.push(await compareIntBlock({ source: 'stories260K' }));
  }
  return res;
}

const f = (v: number | null, d = 1) => (v === null ? '-' : v.toFixed(d));
export function formatBenchDyadic(r: BenchDyadicResult): string {
  const out: string[] = [];
  if (r.accuracy.length) {
    out.push('Accuracy vs float64:', '', '| op | inputs, scales | max abs err | mean abs err | unit | paper |', '|---|---|---|---|---|---|');
    for (const a of r.accuracy) out.push(`| ${a.op} | ${a.inputs} | ${a.maxAbsErr.toPrecision(4)} | ${a.meanAbsErr.toPrecision(4)} | ${a.unit} | ${a.paper} |`);
    out.push('');
  }
  if (r.throughput.length) {
    out.push(`Throughput, one thread, ${r.throughput[0]!.elements} elements, median (process CPU time): M elements/s`, '');
    out.push('| op | int kernel | int | f32 (ours, AVX2) | int / f32 | onnxruntime f32 | int / ort |', '|---|---|---|---|---|---|---|');
    for (const t of r.throughput)
      out.push(`| ${t.op} | ${t.kernel} | ${f(t.intMEps)} | ${f(t.f32MEps)} (${t.f32Op}) | ${t.vsF32 === null ? '-' : f(t.vsF32, 2) + 'x'} | ${t.ortOp ? `${f(t.ortMEps)} (${t.ortOp})` : '-'} | ${t.vsOrt === null ? '-' : f(t.vsOrt, 2) + 'x'} |`);
    out.push('');
  }
  if (r.block.length) {
    out.push('Integer-only transformer block vs its float64 twin:', '', '| weights | shape | cosine | max abs err | max |ref| | layers compared |', '|---|---|---|---|---|---|');
    for (const b of r.block) out.push(`| ${b.source} | ${b.tokens} tokens x ${b.dim} (ffn ${b.hidden}, ${b.heads} heads) | ${b.cosine.toFixed(5)} | ${b.maxAbsErr.toPrecision(4)} | ${b.maxAbsRef.toPrecision(4)} | ${b.stages.map((s) => `${s.name} ${s.cosine.toFixed(4)}`).join(', ')} |`);
  }
  return out.join('\n');
}

export function writeBenchDyadic(r: BenchDyadicResult, file?: string): string {
  return writeBenchJson('dyadic', r, file);
}
