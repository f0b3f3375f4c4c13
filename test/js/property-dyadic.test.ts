/**
 * Property tests of the dyadic (integer-only) ops (issue 9).
 *
 * requantize: an exact BigInt evaluation of the rounding rule in lib/ops/dyadic.ts, on random int32
 * values (extremes included), multipliers (per tensor / per channel, m from -2^31 to 2^31 - 1, s 0..62),
 * zero points and output types, on every ISA path, sync and async, with `into` or not.
 * addRescale, softmaxInt, iGelu, shiftGelu, siluInt, layerNormInt, rmsNormInt: prepared from random scales
 * (NaN, Infinity, 0, negative, subnormal, huge among them), each prepare either returns params or throws a
 * typed error; applied to random int8 data the output of every path equals the scalar path bit for bit
 * (these ops are defined as integer programs: one result on every path). Inputs sit at the end of guarded
 * buffers (property-util.ts); a result never changes when the guards do.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Tensor,
  addRescale,
  addRescaleSync,
  iGelu,
  iGeluSync,
  layerNormInt,
  layerNormIntSync,
  prepareAddRescale,
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
  type DyadicParams,
} from '../../lib/index.js';
import { mulDyadicRef, restoreIsaAndThreadsAfterAll } from './helpers.js';
import { SPECIAL_SCALES, atEnd, count, expectSameBits, outcome, outcomeAsync, params, reguard, scaleArb, snapshot, tally } from './property-util.js';

const { feat } = restoreIsaAndThreadsAfterAll(() => {
  if (process.env.BITFLASH_PROPERTY_RUNS) console.log('property-dyadic runs:', JSON.stringify(Object.fromEntries(tally)));
});

const I32_MIN = -(2 ** 31);
const I32_MAX = 2 ** 31 - 1;

function clampBig(v: bigint, lo: number, hi: number): number {
  return v < BigInt(lo) ? lo : v > BigInt(hi) ? hi : Number(v);
}

/** The rounding rule of lib/ops/dyadic.ts in exact integer arithmetic (helpers.ts), then the zero point and the clamp. */
function requantRef(x: number, m: number, s: number, zp: number, lo: number, hi: number): number {
  return clampBig(mulDyadicRef(x, { m, s }) + BigInt(zp), lo, hi);
}

const int32Arb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: I32_MIN, max: I32_MAX }) },
  { weight: 2, arbitrary: fc.integer({ min: -70000, max: 70000 }) },
  { weight: 1, arbitrary: fc.constantFrom(I32_MIN, I32_MIN + 1, -1, 0, 1, I32_MAX - 1, I32_MAX) },
);
const dyadicArb = fc.record({
  m: fc.oneof(fc.integer({ min: I32_MIN, max: I32_MAX }), fc.constantFrom(I32_MIN, I32_MAX, 0, 1, -1, 2 ** 30)),
  s: fc.integer({ min: 0, max: 62 }),
});

describe('property: requantize', () => {
  it('equals an exact BigInt evaluation of the rounding rule on every path (i8 / u8 / i16, per tensor and per channel)', async () => {
    const RANGE = { i8: [-128, 127], u8: [0, 255], i16: [-32768, 32767] } as const;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          isa: fc.constantFrom(...feat.paths),
          x: fc.array(int32Arb, { minLength: 1, maxLength: 80 }),
          channels: fc.integer({ min: 1, max: 5 }),
          mults: fc.array(dyadicArb, { minLength: 5, maxLength: 5 }),
          out: fc.constantFrom<'i8' | 'u8' | 'i16'>('i8', 'u8', 'i16'),
          zpFrac: fc.double({ min: 0, max: 1, noNaN: true }),
          tensor: fc.boolean(),
          into: fc.boolean(),
          sync: fc.boolean(),
          guard: fc.integer({ min: 0, max: 6 }),
          seed: fc.integer({ min: 1, max: 2 ** 30 }),
        }),
        async (c) => {
          count('requantize');
          setIsa(c.isa as never);
          const len = Math.max(c.channels, Math.floor(c.x.length / c.channels) * c.channels);
          const values = Int32Array.from({ length: len }, (_, i) => c.x[i % c.x.length]!);
          const perChannel = c.channels > 1 || c.seed % 2 === 0;
          const mult = perChannel ? c.mults.slice(0, c.channels) : c.mults[0]!;
          const [lo, hi] = RANGE[c.out];
          const zp = lo + Math.floor(c.zpFrac * (hi - lo));
          const xArr = atEnd(Int32Array, values, c.guard, c.seed);
          const x = c.tensor ? Tensor.from(xArr, [len / c.channels, c.channels]) : xArr;
          const Out = { i8: Int8Array, u8: Uint8Array, i16: Int16Array }[c.out];
          const into = c.into ? atEnd(Out as unknown as Int16ArrayConstructor, new Out(len), 1) : undefined;
          const opts = { multiplier: mult, zeroPoint: zp, out: c.out, ...(into ? { into } : {}) };
          const y = c.sync ? requantizeSync(x, opts as never) : await requantize(x, opts as never);
          if (into) expect(y).toBe(into);
          const list = Array.isArray(mult) ? mult : [mult];
          for (let i = 0; i < len; i++) {
            const d = list[i % list.length]!;
            const want = requantRef(values[i]!, d.m, d.s, zp, lo, hi);
            if (y[i] !== want) expect.fail(`${c.isa}: x=${values[i]} m=${d.m} s=${d.s} zp=${zp} ${c.out}: ${y[i]} vs ${want}`);
          }
          const saved = snapshot(y);
          reguard(c.seed, xArr);
          expectSameBits(requantizeSync(x, { multiplier: mult, zeroPoint: zp, out: c.out } as never), saved, 'after the guards changed');
        },
      ),
      params(200),
    );
  });

  it('multipliers, zero points and outputs outside their ranges are typed errors', () => {
    fc.assert(
      fc.property(
        fc.record({
          m: fc.oneof(fc.integer({ min: I32_MIN, max: I32_MAX }), fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 0.5, Number.NaN, Infinity)),
          s: fc.oneof(fc.integer({ min: 0, max: 62 }), fc.constantFrom(-1, 63, 1.5, Number.NaN)),
          zp: fc.oneof(fc.integer({ min: -128, max: 127 }), fc.constantFrom(128, -129, 0.5, Number.NaN)),
          n: fc.integer({ min: 1, max: 9 }),
          channels: fc.integer({ min: 0, max: 4 }),
        }),
        ({ m, s, zp, n, channels }) => {
          count('requantize-invalid');
          const valid = Number.isInteger(m) && m >= I32_MIN && m <= I32_MAX && Number.isInteger(s) && s >= 0 && s <= 62 && Number.isInteger(zp) && zp >= -128 && zp <= 127 && (channels === 0 || (channels > 0 && n % channels === 0));
          const mult = channels === 0 ? { m, s } : Array.from({ length: channels }, () => ({ m, s }));
          const o = outcome(() => requantizeSync(new Int32Array(n), { multiplier: mult, zeroPoint: zp }));
          expect(o.ok, JSON.stringify({ m, s, zp, n, channels })).toBe(valid);
        },
      ),
      params(300),
    );
  });
});

type OpName = 'addRescale' | 'softmaxInt' | 'iGelu' | 'shiftGelu' | 'siluInt' | 'layerNormInt' | 'rmsNormInt';
const OPS: OpName[] = ['addRescale', 'softmaxInt', 'iGelu', 'shiftGelu', 'siluInt', 'layerNormInt', 'rmsNormInt'];

/** Prepares op from random scales; undefined when prepare threw a typed error. */
function prepareOp(op: OpName, sc: number[], cols: number, r: () => number): DyadicParams | { error: unknown } {
  const zp = (): number => Math.floor(r() * 256) - 128;
  const o = outcome((): DyadicParams => {
    switch (op) {
      case 'addRescale':
        return prepareAddRescale({ aScale: sc[0]!, aZeroPoint: zp(), bScale: sc[1]!, bZeroPoint: zp(), outScale: sc[2]!, outZeroPoint: zp() });
      case 'softmaxInt':
        return prepareSoftmaxInt({ scale: sc[0]!, method: r() < 0.5 ? 'ibert' : 'shiftmax' });
      case 'iGelu':
        return prepareIGelu({ inScale: sc[0]!, outScale: sc[1]!, outZeroPoint: zp() });
      case 'shiftGelu':
        return prepareShiftGelu({ inScale: sc[0]!, outScale: sc[1]!, outZeroPoint: zp() });
      case 'siluInt':
        return prepareSiluInt({ inScale: sc[0]!, outScale: sc[1]!, outZeroPoint: zp() });
      case 'layerNormInt':
      case 'rmsNormInt': {
        const gamma = new Float32Array(cols).map(() => (r() - 0.3) * 4 * sc[0]!);
        if (op === 'rmsNormInt') return prepareRmsNormInt({ gamma, outScale: sc[1]!, outZeroPoint: zp() });
        const beta = new Float32Array(cols).map(() => (r() - 0.5) * sc[2]!);
        return prepareLayerNormInt({ gamma, beta, outScale: sc[1]!, outZeroPoint: zp() });
      }
    }
  });
  return o.ok ? o.value : { error: o.error };
}

function apply(op: OpName, p: DyadicParams, x: Int8Array | Tensor<'i8'>, b: Int8Array | null, cols: number, sync: boolean): Promise<ReturnType<typeof outcome<Int8Array | Uint8Array>>> {
  const P = p as never;
  const run = (): Int8Array | Uint8Array | Promise<Int8Array | Uint8Array> => {
    switch (op) {
      case 'addRescale':
        return sync ? addRescaleSync(P, x, b!) : addRescale(P, x, b!);
      case 'softmaxInt':
        return sync ? softmaxIntSync(P, x, { cols }) : softmaxInt(P, x, { cols });
      case 'iGelu':
        return sync ? iGeluSync(P, x) : iGelu(P, x);
      case 'shiftGelu':
        return sync ? shiftGeluSync(P, x) : shiftGelu(P, x);
      case 'siluInt':
        return sync ? siluIntSync(P, x) : siluInt(P, x);
      case 'layerNormInt':
        return sync ? layerNormIntSync(P, x) : layerNormInt(P, x);
      case 'rmsNormInt':
        return sync ? rmsNormIntSync(P, x) : rmsNormInt(P, x);
    }
  };
  return sync ? Promise.resolve(outcome(() => run() as Int8Array)) : outcomeAsync(() => run() as Promise<Int8Array>);
}

describe('property: integer ops (add, softmax, GELU, SiLU, norms)', () => {
  it('prepare from any scales is params or a typed error; every path equals the scalar path; guards never read', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          op: fc.constantFrom(...OPS),
          isa: fc.constantFrom(...feat.paths),
          threads: fc.integer({ min: 1, max: 3 }),
          scales: fc.array(scaleArb(fc.double({ min: 1e-3, max: 8, noNaN: true })), { minLength: 3, maxLength: 3 }),
          rows: fc.integer({ min: 1, max: 5 }),
          cols: fc.integer({ min: 1, max: 70 }),
          extremes: fc.boolean(),
          tensor: fc.boolean(),
          sync: fc.boolean(),
          guard: fc.integer({ min: 0, max: 9 }),
          seed: fc.integer({ min: 1, max: 2 ** 30 }),
        }),
        async (c) => {
          count('dyadic-ops');
          let s = c.seed >>> 0 || 1;
          const r = (): number => {
            s ^= s << 13;
            s ^= s >>> 17;
            s ^= s << 5;
            return (s >>> 0) / 4294967296;
          };
          const p = prepareOp(c.op, c.scales, c.cols, r);
          if ('error' in p) {
            // the scales that may be refused: non-finite, <= 0, or outside an op's documented range
            expect(c.scales.some((v) => !(Number.isFinite(v) && v > 0) || v > 64 || v < 2 ** -20), `${c.op} refused ${c.scales.join(', ')}: ${String(p.error)}`).toBe(true);
            return;
          }
          const len = c.rows * c.cols;
          const vals = Int8Array.from({ length: len }, () => (c.extremes && r() < 0.5 ? (r() < 0.5 ? -128 : 127) : Math.floor(r() * 256) - 128));
          const xArr = atEnd(Int8Array, vals, c.guard, c.seed);
          const bArr = c.op === 'addRescale' ? atEnd(Int8Array, Int8Array.from({ length: len }, () => Math.floor(r() * 256) - 128), c.guard + 1, c.seed + 1) : null;
          const x = c.tensor && c.op !== 'addRescale' ? Tensor.from(xArr, [c.rows, c.cols]) : xArr;
          setIsa('scalar');
          setThreads(1);
          const want = await apply(c.op, p, xArr, bArr, c.cols, true);
          setIsa(c.isa as never);
          setThreads(c.threads);
          const got = await apply(c.op, p, x, bArr, c.cols, c.sync);
          expect(got.ok, `${c.op} on ${c.isa}`).toBe(want.ok);
          if (!got.ok || !want.ok) return;
          expectSameBits(got.value, want.value, `${c.op} on ${c.isa} (scales ${c.scales.join(', ')})`);
          reguard(c.seed, xArr, ...(bArr ? [bArr] : []));
          const again = await apply(c.op, p, x, bArr, c.cols, true);
          expectSameBits((again as { value: Int8Array }).value, want.value, `${c.op}: after the guards changed`);
        },
      ),
      params(200),
    );
  });

  it('outputs and second inputs of the wrong length or type, and mismatched params, are typed errors', () => {
    const add = prepareAddRescale({ aScale: 0.1, bScale: 0.1, outScale: 0.1 });
    const soft = prepareSoftmaxInt({ scale: 0.1 });
    const ln = prepareLayerNormInt({ gamma: new Float32Array(8).fill(1), outScale: 0.1 });
    const gelu = prepareIGelu({ inScale: 0.1, outScale: 0.1 });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: -3, max: 3 }), fc.constantFrom('into', 'b', 'out', 'cols', 'params', 'norm-len', 'type'), (len8, delta, what) => {
        count('dyadic-invalid');
        const n = len8 * 8;
        const x = new Int8Array(n);
        const bad = Math.max(0, n + (delta === 0 ? 1 : delta));
        const call = (): unknown => {
          switch (what) {
            case 'into':
              return requantizeSync(new Int32Array(n), { multiplier: { m: 1 << 30, s: 31 }, into: new Int8Array(bad) });
            case 'b':
              return addRescaleSync(add, x, new Int8Array(bad));
            case 'out':
              return iGeluSync(gelu, x, { out: new Int8Array(bad) });
            case 'cols':
              return softmaxIntSync(soft, new Int8Array(bad || 1), { cols: 8 + (bad % 3) });
            case 'params':
              return iGeluSync(soft as never, x);
            case 'norm-len':
              return layerNormIntSync(ln, new Int8Array(bad % 8 === 0 ? bad + 1 : bad));
            case 'type':
              return iGeluSync(gelu, new Uint8Array(n) as never);
          }
        };
        const o = outcome(call);
        // softmax: a length that is a multiple of cols is valid; everything else here is not
        if (what === 'cols' && (bad || 1) % (8 + (bad % 3)) === 0) return;
        expect(o.ok, `${what} n=${n} bad=${bad}`).toBe(false);
        const e = (o as { error: unknown }).error;
        expect(e instanceof TypeError || e instanceof RangeError, `${what}: ${String(e)}`).toBe(true);
      }),
      params(200),
    );
  });

  it('special scales given to each prepare function: typed errors for NaN / Infinity / <= 0, never a crash', () => {
    fc.assert(
      fc.property(fc.constantFrom(...OPS), fc.constantFrom(...SPECIAL_SCALES), fc.integer({ min: 0, max: 2 }), (op, v, which) => {
        count('dyadic-prepare-special');
        const sc = [0.05, 0.05, 0.05];
        sc[which] = v;
        let seed = 7;
        const r = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
        const p = prepareOp(op, sc, 8, r);
        // which scales each op reads directly (a scale: finite and > 0), and which only through gamma / beta
        // (finite values of any sign are valid gains and shifts; NaN / Infinity are not)
        const direct: Record<OpName, number[]> = { addRescale: [0, 1, 2], softmaxInt: [0], iGelu: [0, 1], shiftGelu: [0, 1], siluInt: [0, 1], layerNormInt: [1], rmsNormInt: [1] };
        const viaArray: Record<OpName, number[]> = { addRescale: [], softmaxInt: [], iGelu: [], shiftGelu: [], siluInt: [], layerNormInt: [0, 2], rmsNormInt: [0] };
        const mustFail = (direct[op].includes(which) && !(Number.isFinite(v) && v > 0)) || (viaArray[op].includes(which) && !Number.isFinite(v));
        if (mustFail) expect('error' in p, `${op} scale ${which} = ${v}`).toBe(true);
        if (!('error' in p)) {
          const x = Int8Array.from({ length: 16 }, (_, i) => i * 17 - 128);
          const o = outcome(() => (op === 'addRescale' ? addRescaleSync(p as never, x, x) : op === 'softmaxInt' ? softmaxIntSync(p as never, x, { cols: 8 }) : op === 'iGelu' ? iGeluSync(p as never, x) : op === 'shiftGelu' ? shiftGeluSync(p as never, x) : op === 'siluInt' ? siluIntSync(p as never, x) : op === 'layerNormInt' ? layerNormIntSync(p as never, x) : rmsNormIntSync(p as never, x)));
          if (o.ok) expect(o.value.length).toBe(16);
        }
      }),
      params(200),
    );
  });
});
