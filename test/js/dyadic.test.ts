import { describe, expect, it } from 'vitest';
import {
  BitflashArgumentError,
  Tensor,
  addRescale,
  addRescaleSync,
  dyadicFromScale,
  dyadicValue,
  iExp,
  iExpSync,
  iGelu,
  iGeluSync,
  layerNormInt,
  layerNormIntSync,
  prepareAddRescale,
  prepareIExp,
  prepareIGelu,
  prepareLayerNormInt,
  prepareRmsNormInt,
  prepareShiftGelu,
  prepareSiluInt,
  prepareSoftmaxInt,
  requantize,
  requantizeSync,
  rmsNormInt,
  rmsNormIntSync,
  setIsa,
  setThreads,
  shiftGelu,
  shiftGeluSync,
  siluInt,
  siluIntSync,
  softmaxInt,
  softmaxIntSync,
  type Dyadic,
} from '../../lib/index.js';
import { erf } from '../../lib/cli/bench-dyadic.js';
import { mulDyadicRef, restoreIsaAndThreadsAfterAll, rng } from './helpers.js';

const { feat, threads0 } = restoreIsaAndThreadsAfterAll();

function requantizeRef(x: number, d: Dyadic, zp: number, lo: number, hi: number): number {
  const v = mulDyadicRef(x, d) + BigInt(zp);
  return Number(v < BigInt(lo) ? BigInt(lo) : v > BigInt(hi) ? BigInt(hi) : v);
}

const ALL_I8 = Int8Array.from({ length: 256 }, (_, i) => i - 128);
function randI8(n: number, seed: number): Int8Array {
  const r = rng(seed);
  return Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128);
}

describe('dyadicFromScale', () => {
  it('hand-computed cases', () => {
    expect(dyadicFromScale(0.5)).toEqual({ m: 2 ** 30, s: 31 });
    expect(dyadicFromScale(1)).toEqual({ m: 2 ** 30, s: 30 });
    expect(dyadicFromScale(3)).toEqual({ m: 3 * 2 ** 29, s: 29 });
    expect(dyadicFromScale(-0.25)).toEqual({ m: -(2 ** 30), s: 32 });
    expect(dyadicFromScale(0)).toEqual({ m: 0, s: 0 });
    expect(dyadicFromScale(2 ** -40)).toEqual({ m: 2 ** 22, s: 62 }); // s capped at 62: fewer mantissa bits
    // 1 - 2^-40 rounds up to 1 at 31 bits: the carry renormalises m to 2^30
    expect(dyadicFromScale(1 - 2 ** -40)).toEqual({ m: 2 ** 30, s: 30 });
  });
  it('is exact to 31 bits over random scales', () => {
    const r = rng(5);
    for (let i = 0; i < 2000; i++) {
      const x = Math.exp((r() - 0.5) * 40);
      const d = dyadicFromScale(x);
      expect(d.m).toBeGreaterThanOrEqual(2 ** 30);
      expect(d.m).toBeLessThan(2 ** 31);
      expect(Math.abs(dyadicValue(d) - x)).toBeLessThanOrEqual(2 ** -d.s / 2);
    }
  });
  it('rejects bad scales synchronously', () => {
    expect(() => dyadicFromScale(Number.NaN)).toThrow(RangeError);
    expect(() => dyadicFromScale(2 ** 31)).toThrow(RangeError);
    expect(() => dyadicFromScale('1' as unknown as number)).toThrow(TypeError);
  });
});

describe('requantize: the rounding rule', () => {
  const half: Dyadic = { m: 2 ** 30, s: 31 }; // 0.5: one SRDHM, ties toward +infinity
  const quarter: Dyadic = { m: 2 ** 30, s: 32 }; // 0.25: SRDHM then RDBPOT by 1 (ties away from zero)
  it('ties and negative values (hand-computed)', () => {
    expect(Array.from(requantizeSync(Int32Array.of(1, -1, 3, -3, 0, 2, -2), { multiplier: half }))).toEqual([1, 0, 2, -1, 0, 1, -1]);
    // x * 0.25: h = floor((x + 1) / 2), then h / 2 ties away: 2 -> h 1 -> 1; -2 -> h -1 -> -1; 6 -> 3 -> 2; -6 -> -3 -> -2;
    // 5 (1.25) -> h 3 -> 1.5 -> 2 and 1 (0.25) -> h 1 -> 0.5 -> 1: the double rounding of the rule, not
    // round(1.25) or round(0.25); -5 -> h -2 -> -1; -1 -> h 0 -> 0
    expect(Array.from(requantizeSync(Int32Array.of(2, -2, 6, -6, 5, -5, 1, -1), { multiplier: quarter }))).toEqual([1, -1, 2, -2, 2, -1, 1, 0]);
  });
  it('s = 62, the largest shift', () => {
    const d: Dyadic = { m: 2 ** 30, s: 62 }; // 2^-32
    // 2^31-1: h = 2^30, then 2^30 / 2^31 = 0.5 -> 1 (away); -2^31: h = -2^30 -> -0.5 -> -1
    expect(Array.from(requantizeSync(Int32Array.of(2 ** 31 - 1, -(2 ** 31), 2 ** 30, 0), { multiplier: d, out: 'i16' }))).toEqual([1, -1, 0, 0]);
  });
  it('saturation: left shift, SRDHM overflow, output range', () => {
    const big: Dyadic = { m: 2 ** 30, s: 0 }; // 2^30: x * 2^31 saturates
    expect(Array.from(requantizeSync(Int32Array.of(1, -1, 0), { multiplier: big, out: 'i16' }))).toEqual([32767, -32768, 0]);
    expect(Array.from(requantizeSync(Int32Array.of(1, -1, 0), { multiplier: big, out: 'u8' }))).toEqual([255, 0, 0]);
    const neg1: Dyadic = { m: -(2 ** 31), s: 31 }; // -1: INT32_MIN * INT32_MIN saturates to INT32_MAX
    expect(Array.from(requantizeSync(Int32Array.of(-(2 ** 31), 5, -5), { multiplier: neg1, out: 'i16' }))).toEqual([32767, -5, 5]);
    expect(Array.from(requantizeSync(Int32Array.of(3 * 40), { multiplier: dyadicFromScale(3), out: 'i16' }))).toEqual([360]);
    // zero point before saturation
    expect(Array.from(requantizeSync(Int32Array.of(255, 300, -300), { multiplier: half, zeroPoint: -128 }))).toEqual([0, 22, -128]);
    expect(Array.from(requantizeSync(Int32Array.of(255, -300), { multiplier: half, zeroPoint: 128, out: 'u8' }))).toEqual([255, 0]);
  });
  it('per channel: element i uses multiplier[i % channels]', () => {
    const ms = [half, quarter, { m: 2 ** 30, s: 30 }];
    const y = requantizeSync(Int32Array.of(3, 5, 7, -3, -5, -7), { multiplier: ms, out: 'i16' });
    expect(Array.from(y)).toEqual([2, 2, 7, -1, -1, -7]);
  });
  it('matches the BigInt reference on every path, per tensor and per channel', async () => {
    const r = rng(11);
    const n = 70003; // > one task: threads; odd: SIMD tails
    const x = Int32Array.from({ length: n }, (_, i) => (i < 16 ? [0, 1, -1, 2 ** 31 - 1, -(2 ** 31)][i % 5]! : Math.floor((r() - 0.5) * 2 ** 32) >> Math.floor(r() * 24)));
    const mults: Dyadic[] = [];
    for (let i = 0; i < 7; i++) mults.push(i === 0 ? { m: -(2 ** 31), s: 31 } : i === 1 ? { m: 2 ** 30 + 17, s: 62 } : i === 2 ? { m: 1234567, s: 3 } : dyadicFromScale(Math.exp((r() - 0.9) * 20)));
    const x7 = x.subarray(0, n - (n % 7));
    for (const out of ['i8', 'u8', 'i16'] as const) {
      const [lo, hi] = out === 'i8' ? [-128, 127] : out === 'u8' ? [0, 255] : [-32768, 32767];
      const zp = out === 'u8' ? 17 : -3;
      const want1 = Array.from(x, (v) => requantizeRef(v, mults[3]!, zp, lo, hi));
      const wantC = Array.from(x7, (v, i) => requantizeRef(v, mults[i % 7]!, zp, lo, hi));
      for (const isa of feat.paths) {
        setIsa(isa);
        expect(Array.from(requantizeSync(x, { multiplier: mults[3]!, zeroPoint: zp, out })), `${out} ${isa}`).toEqual(want1);
        expect(Array.from(await requantize(x7, { multiplier: mults, zeroPoint: zp, out })), `${out} ${isa} per channel`).toEqual(wantC);
      }
      setIsa(feat.cap);
    }
  });
  it('accepts an i32 Tensor and reuses `into`', () => {
    const t = Tensor.from(Int32Array.of(4, 8, 12, 16), [2, 2]);
    const into = new Int16Array(4);
    expect(requantizeSync(t, { multiplier: { m: 2 ** 30, s: 32 }, out: 'i16', into })).toBe(into);
    expect(Array.from(into)).toEqual([1, 2, 3, 4]);
  });
  it('argument errors throw synchronously', () => {
    const x = new Int32Array(6);
    expect(() => requantizeSync(x, { multiplier: { m: 1, s: 63 } })).toThrow(RangeError);
    expect(() => requantizeSync(x, { multiplier: { m: 2 ** 31, s: 3 } })).toThrow(RangeError);
    expect(() => requantizeSync(x, { multiplier: [half, half, half, half] })).toThrow(RangeError);
    expect(() => requantizeSync(x, { multiplier: [] })).toThrow(RangeError);
    expect(() => requantizeSync(x, { multiplier: half, zeroPoint: 128 })).toThrow(RangeError);
    expect(() => requantizeSync(x, { multiplier: half, out: 'u8', zeroPoint: -1 })).toThrow(RangeError);
    expect(() => requantizeSync(x, { multiplier: half, out: 'i4' as 'i8' })).toThrow(RangeError);
    expect(() => requantizeSync(x, { multiplier: half, out: 'i16', into: new Int8Array(6) as unknown as Int16Array })).toThrow(TypeError);
    expect(() => requantizeSync(new Float32Array(6) as unknown as Int32Array, { multiplier: half })).toThrow(TypeError);
    expect(() => requantize(x, undefined as unknown as { multiplier: Dyadic })).toThrow(TypeError);
  });
});

// ---- every op, every path, equal to the scalar path ----
type Case = { name: string; run: (x: Int8Array, b: Int8Array) => ArrayLike<number>; runAsync: (x: Int8Array, b: Int8Array) => Promise<ArrayLike<number>> };
const COLS = 197;
const gamma = Float32Array.from({ length: COLS }, (_, j) => 0.5 + (j % 13) / 10);
const beta = Float32Array.from({ length: COLS }, (_, j) => ((j % 7) - 3) / 10);
const cases = (): Case[] => {
  const add = prepareAddRescale({ aScale: 0.05, aZeroPoint: 3, bScale: 0.031, bZeroPoint: -7, outScale: 0.07, outZeroPoint: 2 });
  const sIb = prepareSoftmaxInt({ scale: 0.0625, method: 'ibert' });
  const sSh = prepareSoftmaxInt({ scale: 0.11, method: 'shiftmax' });
  const g = prepareIGelu({ inScale: 4 / 127, outScale: 3 / 127, outZeroPoint: -5 });
  const sg = prepareShiftGelu({ inScale: 6 / 127, outScale: 4 / 127 });
  const si = prepareSiluInt({ inScale: 8 / 127, outScale: 5 / 127, outZeroPoint: 9 });
  const ln = prepareLayerNormInt({ gamma, beta, outScale: 4 / 127, outZeroPoint: 1 });
  const rn = prepareRmsNormInt({ gamma, outScale: 3 / 127 });
  const eI = prepareIExp({ scale: 0.01, method: 'ibert' });
  const eS = prepareIExp({ scale: 0.3, method: 'shiftmax' });
  const d16 = (x: Int8Array) => Int16Array.from(x, (v, i) => -Math.abs(v * ((i % 97) + 1)));
  return [
    { name: 'addRescale', run: (x, b) => addRescaleSync(add, x, b), runAsync: (x, b) => addRescale(add, x, b) },
    { name: 'softmax ibert', run: (x) => softmaxIntSync(sIb, x, { cols: COLS }), runAsync: (x) => softmaxInt(sIb, Tensor.from(x, [x.length / COLS, COLS])) },
    { name: 'softmax shiftmax', run: (x) => softmaxIntSync(sSh, x, { cols: COLS }), runAsync: (x) => softmaxInt(sSh, x, { cols: COLS }) },
    { name: 'iGelu', run: (x) => iGeluSync(g, x), runAsync: (x) => iGelu(g, x) },
    { name: 'shiftGelu', run: (x) => shiftGeluSync(sg, x), runAsync: (x) => shiftGelu(sg, x) },
    { name: 'siluInt', run: (x) => siluIntSync(si, x), runAsync: (x) => siluInt(si, x) },
    { name: 'layerNormInt', run: (x) => layerNormIntSync(ln, x), runAsync: (x) => layerNormInt(ln, x) },
    { name: 'rmsNormInt', run: (x) => rmsNormIntSync(rn, x), runAsync: (x) => rmsNormInt(rn, x) },
    { name: 'iExp ibert', run: (x) => iExpSync(eI, d16(x)), runAsync: (x) => iExp(eI, d16(x)) },
    { name: 'iExp shiftmax', run: (x) => iExpSync(eS, d16(x)), runAsync: (x) => iExp(eS, d16(x)) },
  ];
};

describe('every op on every path equals the scalar path bit for bit', () => {
  const small = new Int8Array(COLS * 3);
  small.set(ALL_I8);
  small.set(randI8(COLS * 3 - 256, 3), 256);
  const big = randI8(COLS * 400, 4); // 78800 elements: several thread-pool tasks
  const bBig = randI8(big.length, 6);
  for (const c of cases()) {
    it(c.name, async () => {
      setIsa('scalar');
      const want = Array.from(c.run(small, small.slice().reverse()));
      const wantBig = Array.from(c.run(big, bBig));
      for (const isa of feat.paths) {
        setIsa(isa);
        for (const t of [1, 2]) {
          setThreads(t);
          expect(Array.from(c.run(small, small.slice().reverse())), `${isa} t${t}`).toEqual(want);
          expect(Array.from(await c.runAsync(big, bBig)), `${isa} t${t} big`).toEqual(wantBig);
        }
      }
      setIsa(feat.cap);
      setThreads(threads0);
    });
  }
});

// ---- accuracy against float64 over the whole int8 range ----
const gelu64 = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));

/** Max and mean abs error of y * outScale against f over all 256 int8 inputs. */
function actErr(y: Int8Array, outScale: number, zp: number, inScale: number, f: (x: number) => number) {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < 256; i++) {
    const e = Math.abs((y[i]! - zp) * outScale - f((i - 128) * inScale));
    max = Math.max(max, e);
    sum += e;
  }
  return { max, mean: sum / 256 };
}

// Tolerances, in real units at the stated scales (one int8 output step is outScale; the output
// rounding alone costs outScale / 2). Named after what they bound; measured values are printed by
// `bitflash bench dyadic --accuracy`.
const TOL = {
  // i-GELU: I-BERT's erf polynomial has max error ~0.018 in GELU (float); plus the int8 step
  iGelu: { max: 0.018 + 4 / 127 / 2 + 1e-3, mean: 0.012 },
  // ShiftGELU: sigmoid(1.702x) approximates GELU itself within ~0.021, plus the shift-exp and the step
  shiftGelu: { max: 0.021 + 0.02 + 4 / 127 / 2, mean: 0.02 },
  // SiLU via the shift-exp sigmoid: 2^r ~ 1 + r/2 has relative error <= 6.1%, on the sigmoid part
  silu: { max: 0.09, mean: 0.03 },
  // softmax u8: the output step is 1/256 (rounding 1/512) plus the exp approximation
  softmaxIbert: { max: 2 / 256, mean: 0.5 / 256 },
  softmaxShift: { max: 0.06, mean: 2 / 256 },
  // LayerNorm / RMSNorm: beta is rounded to a whole output step at prepare (half a step), the result
  // rounded again (half a step), plus the isqrt / factor truncation (< 2^-14 relative): one step 4/127
  // (mean: two independent half-step roundings average about a third of a step)
  norm: { max: 4 / 127 + 0.002, mean: 4 / 127 / 3 + 0.002 },
  // add: one output step rounding (0.04) plus the double rounding of the rule
  add: { max: 0.08 / 2 + 1e-3, mean: 0.021 },
  // i-exp: |e * outScale - exp| <= rel * exp + outScale (one output unit of resolution) where exp > 1e-3.
  // I-BERT's poly: ~0.3% on [-ln2, 0] (the paper's) plus the integer constants' truncation; the shift-exp:
  // 2^r ~ 1 + r/2 errs by up to 6.1%, and x log2 e ~ x + x/2 - x/16 is 0.4% low (about 3% more at x = -7)
  expIbertRel: 0.005,
  expShiftRel: 0.1,
};

describe('accuracy vs float64 (whole int8 range)', () => {
  const s = 4 / 127;
  it('iGelu, shiftGelu, siluInt over all 256 inputs', () => {
    const eg = actErr(iGeluSync(prepareIGelu({ inScale: s, outScale: s }), ALL_I8), s, 0, s, gelu64);
    const es = actErr(shiftGeluSync(prepareShiftGelu({ inScale: s, outScale: s }), ALL_I8), s, 0, s, gelu64);
    const el = actErr(siluIntSync(prepareSiluInt({ inScale: s, outScale: s }), ALL_I8), s, 0, s, (x) => x / (1 + Math.exp(-x)));
    expect(eg.max).toBeLessThanOrEqual(TOL.iGelu.max);
    expect(eg.mean).toBeLessThanOrEqual(TOL.iGelu.mean);
    expect(es.max).toBeLessThanOrEqual(TOL.shiftGelu.max);
    expect(es.mean).toBeLessThanOrEqual(TOL.shiftGelu.mean);
    expect(el.max).toBeLessThanOrEqual(TOL.silu.max);
    expect(el.mean).toBeLessThanOrEqual(TOL.silu.mean);
  });
  it('addRescale over all 65536 int8 pairs', () => {
    const [sa, sb, sy] = [0.05, 0.03, 0.08];
    const p = prepareAddRescale({ aScale: sa, bScale: sb, outScale: sy });
    const a = new Int8Array(65536);
    const b = new Int8Array(65536);
    for (let i = 0; i < 65536; i++) (a[i] = (i >> 8) - 128), (b[i] = (i & 255) - 128);
    const y = addRescaleSync(p, a, b);
    let max = 0;
    let sum = 0;
    let n = 0;
    for (let i = 0; i < 65536; i++) {
      const f = a[i]! * sa + b[i]! * sb;
      if (Math.abs(f / sy) > 127) continue; // saturated: not an approximation error
      const e = Math.abs(y[i]! * sy - f);
      max = Math.max(max, e);
      sum += e;
      n++;
    }
    expect(max).toBeLessThanOrEqual(TOL.add.max);
    expect(sum / n).toBeLessThanOrEqual(TOL.add.mean);
  });
  it('iExp, both methods, relative error over the int16 range', () => {
    for (const [method, tol] of [['ibert', TOL.expIbertRel], ['shiftmax', TOL.expShiftRel]] as const) {
      const scale = 1 / 1024;
      const p = prepareIExp({ scale, method });
      const d = Int16Array.from({ length: 32769 }, (_, i) => -i);
      const e = iExpSync(p, d);
      let max = 0;
      for (let i = 0; i < d.length; i++) {
        const ex = Math.exp(d[i]! * scale);
        if (ex > 1e-3) max = Math.max(max, (Math.abs(e[i]! * p.outScale - ex) - p.outScale) / ex);
      }
      expect(max, method).toBeLessThanOrEqual(tol);
    }
  });
  it('softmaxInt, both methods: random rows and every int8 score', () => {
    for (const [method, tol] of [['ibert', TOL.softmaxIbert], ['shiftmax', TOL.softmaxShift]] as const) {
      const scale = 0.0625;
      const p = prepareSoftmaxInt({ scale, method });
      const rows: Int8Array[] = [ALL_I8];
      const r = rng(21);
      for (let i = 0; i < 100; i++) rows.push(Int8Array.from({ length: 64 }, () => Math.max(-128, Math.min(127, Math.round(gauss(r) * 2 / scale)))));
      let max = 0;
      let sum = 0;
      let n = 0;
      for (const x of rows) {
        const y = softmaxIntSync(p, x);
        const mx = Math.max(...x);
        let z = 0;
        for (const v of x) z += Math.exp((v - mx) * scale);
        for (let j = 0; j < x.length; j++) {
          const e = Math.abs(y[j]! / 256 - Math.exp((x[j]! - mx) * scale) / z);
          max = Math.max(max, e);
          sum += e;
          n++;
        }
      }
      expect(max, method).toBeLessThanOrEqual(tol.max);
      expect(sum / n, method).toBeLessThanOrEqual(tol.mean);
    }
  });
  it('layerNormInt and rmsNormInt against float64', () => {
    const cols = 256;
    const g = Float32Array.from({ length: cols }, (_, j) => 0.8 + (j % 5) / 10);
    const b = Float32Array.from({ length: cols }, (_, j) => ((j % 9) - 4) / 10);
    const ys = 4 / 127;
    for (const center of [true, false]) {
      const p = center ? prepareLayerNormInt({ gamma: g, beta: b, outScale: ys }) : prepareRmsNormInt({ gamma: g, outScale: ys });
      const r = rng(center ? 1 : 2);
      const rowsIn: Int8Array[] = [ALL_I8];
      for (let i = 0; i < 50; i++) rowsIn.push(Int8Array.from({ length: cols }, () => Math.max(-128, Math.min(127, Math.round(gauss(r) * (3 + i) + (center ? 10 : 0))))));
      let max = 0;
      let sum = 0;
      let n = 0;
      for (const x of rowsIn) {
        const y = center ? layerNormIntSync(p as never, x) : rmsNormIntSync(p as never, x);
        let mean = 0;
        if (center) mean = x.reduce((a, v) => a + v, 0) / cols;
        const v = x.reduce((a, xi) => a + (xi - mean) ** 2, 0) / cols;
        for (let j = 0; j < cols; j++) {
          const f = ((x[j]! - mean) / Math.sqrt(v)) * g[j]! + (center ? b[j]! : 0);
          if (Math.abs(f / ys) > 127) continue;
          const e = Math.abs(y[j]! * ys - f);
          max = Math.max(max, e);
          sum += e;
          n++;
        }
      }
      expect(max, center ? 'LayerNorm' : 'RMSNorm').toBeLessThanOrEqual(TOL.norm.max);
      expect(sum / n).toBeLessThanOrEqual(TOL.norm.mean);
    }
  });
});

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

describe('argument and native errors', () => {
  const g = prepareIGelu({ inScale: 0.05, outScale: 0.05 });
  it('prepare functions validate synchronously', () => {
    expect(() => prepareIGelu({ inScale: -1, outScale: 1 })).toThrow(RangeError);
    expect(() => prepareIGelu({ inScale: 100, outScale: 1 })).toThrow(RangeError);
    expect(() => prepareIGelu({ inScale: '1' as unknown as number, outScale: 1 })).toThrow(TypeError);
    expect(() => prepareSiluInt({ inScale: 0.05, outScale: 1, outZeroPoint: 200 })).toThrow(RangeError);
    expect(() => prepareSoftmaxInt({ scale: 0.1, method: 'taylor' as 'ibert' })).toThrow(RangeError);
    expect(() => prepareSoftmaxInt({ scale: 1e-9 })).toThrow(RangeError);
    expect(() => prepareAddRescale({ aScale: 1, bScale: 1, outScale: 0 })).toThrow(RangeError);
    expect(() => prepareAddRescale(null as never)).toThrow(TypeError);
    expect(() => prepareLayerNormInt({ gamma: new Float32Array(0), outScale: 1 })).toThrow(RangeError);
    expect(() => prepareLayerNormInt({ gamma: [1, 2] as unknown as Float32Array, outScale: 1 })).toThrow(TypeError);
    expect(() => prepareLayerNormInt({ gamma: Float32Array.of(1, NaN), outScale: 1 })).toThrow(RangeError);
    expect(() => prepareLayerNormInt({ gamma: Float32Array.of(1, 1), beta: Float32Array.of(1), outScale: 1 })).toThrow(RangeError);
    expect(() => prepareRmsNormInt({ gamma: Float32Array.of(1, 1), beta: Float32Array.of(1, 1), outScale: 1 } as never)).toThrow(TypeError);
  });
  it('apply functions validate synchronously (also the async forms)', () => {
    const sm = prepareSoftmaxInt({ scale: 0.1 });
    const ln = prepareLayerNormInt({ gamma: new Float32Array(8).fill(1), outScale: 0.1 });
    expect(() => iGeluSync(g, new Uint8Array(4) as unknown as Int8Array)).toThrow(TypeError);
    expect(() => iGelu(g, new Uint8Array(4) as unknown as Int8Array)).toThrow(TypeError);
    expect(() => iGeluSync(g, new Int8Array(4), { out: new Int8Array(3) })).toThrow(RangeError);
    expect(() => siluIntSync(g as never, new Int8Array(4))).toThrow(RangeError); // params for another op
    expect(() => iGeluSync({} as never, new Int8Array(4))).toThrow(TypeError);
    expect(() => softmaxIntSync(sm, new Int8Array(10), { cols: 3 })).toThrow(RangeError);
    expect(() => softmaxIntSync(sm, new Int8Array(0))).toThrow(RangeError);
    expect(() => layerNormIntSync(ln, new Int8Array(12))).toThrow(RangeError);
    expect(() => layerNormIntSync(ln, Tensor.from(new Int8Array(16), [4, 4]))).toThrow(RangeError);
    expect(() => addRescaleSync(prepareAddRescale({ aScale: 1, bScale: 1, outScale: 1 }), new Int8Array(4), new Int8Array(5))).toThrow(RangeError);
    expect(() => iExpSync(prepareIExp({ scale: 0.1 }), Int16Array.of(0, 1))).toThrow(BitflashArgumentError);
    const strided = Tensor.from(new Int8Array(16), [2, 4], { strides: [8, 1] });
    expect(() => iGeluSync(g, strided)).toThrow(RangeError);
    const disposed = Tensor.from(new Int8Array(4));
    disposed.dispose();
    expect(() => iGeluSync(g, disposed)).toThrow(/disposed/);
  });
  it('a check only the native layer makes maps to BitflashArgumentError', () => {
    // |beta / outScale| is checked in TS; gamma * sqrt(cols) / outScale / 2^30 >= 2^31 only natively
    expect(() => prepareLayerNormInt({ gamma: Float32Array.of(3e38, 1), outScale: 1e-30 })).toThrow(BitflashArgumentError);
  });
  it('iExp rejects positive inputs asynchronously with BitflashArgumentError', async () => {
    await expect(iExp(prepareIExp({ scale: 0.1 }), Int16Array.of(-3, 2))).rejects.toBeInstanceOf(BitflashArgumentError);
  });
  it('params are opaque and carry the output scale', () => {
    const e = prepareIExp({ scale: 0.05, method: 'shiftmax' });
    expect(e.outScale).toBe(1 / 65536);
    expect(Object.isFrozen(e)).toBe(true);
    expect(e.constants()).toMatchObject({ method: 'shiftmax' });
    expect(prepareSoftmaxInt({ scale: 0.05 }).outScale).toBe(1 / 256);
  });
});
