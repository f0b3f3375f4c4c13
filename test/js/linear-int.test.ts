import { describe, expect, it } from 'vitest';
import {
  BitflashDisposedError,
  QTensor,
  Tensor,
  dyadicFromScale,
  linearInt,
  linearIntSync,
  matmulInfo,
  matmulSync,
  packSync,
  quantizeSync,
  requantizeSync,
  setIsa,
  setThreads,
  type Dyadic,
} from '../../lib/index.js';
import { mulDyadicRef, restoreIsaAndThreadsAfterAll, rng } from './helpers.js';

const { feat, threads0 } = restoreIsaAndThreadsAfterAll();


interface Case {
  m: number;
  n: number;
  k: number;
  wq: Int8Array;
  x: Int8Array | Uint8Array;
  zp: Int32Array | null;
  bias: Int32Array | null;
  mult: Dyadic[];
  outZp: number;
}

function linearRef(c: Case): Int8Array {
  const y = new Int8Array(c.m * c.n);
  for (let i = 0; i < c.m; i++)
    for (let r = 0; r < c.n; r++) {
      let acc = c.bias ? c.bias[r]! : 0;
      const z = c.zp ? c.zp[i]! : 0;
      for (let j = 0; j < c.k; j++) acc += (c.x[i * c.k + j]! - z) * c.wq[r * c.k + j]!;
      const v = mulDyadicRef(acc, c.mult[c.mult.length === 1 ? 0 : r]!) + BigInt(c.outZp);
      y[i * c.n + r] = Number(v < -128n ? -128n : v > 127n ? 127n : v);
    }
  return y;
}

/** A random case; `extreme` picks multipliers across the whole shift range (saturation, s < 31, s > 31, negative m). */
function makeCase(seed: number, m: number, n: number, k: number, perChannel: boolean, unsigned: boolean, extreme: boolean): Case {
  const r = rng(seed);
  const ri = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const wq = Int8Array.from({ length: n * k }, () => (r() < 0.02 ? -128 : ri(-127, 127)));
  const x = unsigned ? Uint8Array.from({ length: m * k }, () => ri(0, 255)) : Int8Array.from({ length: m * k }, () => ri(-128, 127));
  const zp = r() < 0.6 ? Int32Array.from({ length: m }, () => (unsigned ? ri(0, 255) : ri(-128, 127))) : null;
  const bias = r() < 0.7 ? Int32Array.from({ length: n }, () => ri(-(2 ** 23) + 1, 2 ** 23 - 1) >> ri(0, 16)) : null;
  // typical: outputs spread over int8 (accumulators ~ 128 * 128 * sqrt(k))
  const typical = () => dyadicFromScale((100 / (128 * 128 * Math.sqrt(k))) * 2 ** (r() * 4 - 2));
  const wild = (): Dyadic => {
    const pick = r();
    if (pick < 0.25) return { m: ri(-(2 ** 31), 2 ** 31 - 1), s: ri(0, 62) };
    if (pick < 0.4) return { m: ri(-(2 ** 31), 2 ** 31 - 1), s: ri(0, 30) }; // left shift, saturating
    if (pick < 0.5) return { m: -(2 ** 31), s: ri(31, 62) };
    if (pick < 0.6) return { m: 2 ** 31 - 1, s: 62 };
    return typical();
  };
  const one = extreme ? wild : typical;
  const mult = perChannel ? Array.from({ length: n }, one) : [one()];
  return { m, n, k, wq, x, zp, bias, mult, outZp: ri(-128, 127) };
}

function weights(c: Case): QTensor<'i8c'> {
  const scales = Float32Array.from({ length: c.n }, (_, r) => 0.01 + (r % 7) * 0.001);
  return QTensor.fromPerChannel({ q: c.wq, scales, n: c.n, k: c.k });
}

/** The two-step path the fused layer replaces: matmul to int32 (+ bias, - zp * row sums), then requantize. */
function viaRequantize(w: QTensor<'i8c'>, c: Case): Int8Array {
  const xt = Tensor.from(c.x, [c.m, c.k]);
  const acc = matmulSync(w, xt, { output: 'i32' });
  xt.dispose();
  const wsum = new Int32Array(c.n);
  for (let r = 0; r < c.n; r++) for (let j = 0; j < c.k; j++) wsum[r]! += c.wq[r * c.k + j]!;
  for (let i = 0; i < c.m; i++)
    for (let r = 0; r < c.n; r++) acc[i * c.n + r]! += (c.bias ? c.bias[r]! : 0) - (c.zp ? c.zp[i]! : 0) * wsum[r]!;
  return requantizeSync(acc, { multiplier: c.mult.length === 1 ? c.mult[0]! : c.mult, zeroPoint: c.outZp });
}

const M = [1, 2, 3, 4, 5, 7, 8, 9, 16, 33];
const N = [1, 2, 3, 5, 8, 15, 16, 17, 31, 64];
const K = [1, 3, 31, 32, 33, 64, 100, 257];

describe('linearInt (fused int8 linear layer) is bit-exact', () => {
  for (const isa of feat.paths)
    it(`vs a BigInt reference and vs matmul i32 + requantize, random shapes, on path ${isa}`, async () => {
      setIsa(isa);
      const r = rng(isa.length * 101 + 7);
      const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)]!;
      const gemmMinM = matmulInfo().gemmMinM;
      const seen = new Set<number>();
      let gemmCases = 0;
      for (let t = 0; t < 40; t++) {
        const m = t < M.length ? M[t]! : pick(M);
        const n = pick(N);
        const k = pick(K);
        const perChannel = t % 2 === 0;
        const unsigned = t % 3 === 0;
        const c = makeCase(t * 13 + isa.length, m, n, k, perChannel, unsigned, t % 4 === 3);
        const what = `${isa} m=${m} n=${n} k=${k} ${perChannel ? 'per-channel' : 'per-tensor'} ${unsigned ? 'u8' : 'i8'} zp=${c.zp !== null} bias=${c.bias !== null}`;
        const w = weights(c);
        const opts = {
          multiplier: perChannel ? c.mult : c.mult[0]!,
          xZeroPoint: c.zp ?? undefined,
          bias: c.bias ?? undefined,
          outZeroPoint: c.outZp,
        };
        const ref = linearRef(c);
        for (const v of ref) seen.add(v);
        if (m >= gemmMinM) gemmCases++;
        const y = linearIntSync(w, c.x, opts);
        expect(Array.from(y), what).toEqual(Array.from(ref));
        expect(Array.from(viaRequantize(w, c)), `${what} two-step`).toEqual(Array.from(ref));
        expect(Array.from(await linearInt(w, c.x, opts)), `${what} async`).toEqual(Array.from(ref));
        packSync(w);
        expect(Array.from(linearIntSync(w, c.x, opts)), `${what} packed${m >= gemmMinM ? ' (gemm)' : ''}`).toEqual(Array.from(ref));
        expect(Array.from(linearIntSync(w, c.x, { ...opts, pack: false })), `${what} pack:false`).toEqual(Array.from(ref));
        w.dispose();
      }
      // the cases cover the output range (not just saturation) and both kernel families
      expect(seen.size).toBeGreaterThan(200);
      expect(gemmCases).toBeGreaterThan(3);
    });

  it('is the same for every thread count, with a Tensor input and a reused output', () => {
    setIsa(feat.cap);
    const c = makeCase(99, 64, 96, 160, true, false, false);
    const w = weights(c);
    packSync(w);
    const ref = linearRef(c);
    const opts = { multiplier: c.mult, xZeroPoint: c.zp ?? undefined, bias: c.bias ?? undefined, outZeroPoint: c.outZp };
    for (const th of [1, 2, 3]) {
      setThreads(th);
      expect(Array.from(linearIntSync(w, c.x, opts)), `threads ${th}`).toEqual(Array.from(ref));
    }
    setThreads(threads0);
    const xt = Tensor.from(c.x as Int8Array, [c.m, c.k]);
    const out = new Int8Array(c.m * c.n);
    expect(linearIntSync(w, xt, { ...opts, out })).toBe(out);
    expect(Array.from(out)).toEqual(Array.from(ref));
    // a row-strided view: every other row of a [2m, k] tensor
    const big = new Int8Array(2 * c.m * c.k);
    for (let i = 0; i < c.m; i++) big.set((c.x as Int8Array).subarray(i * c.k, (i + 1) * c.k), 2 * i * c.k);
    const strided = Tensor.from(big, [c.m, c.k], { strides: [2 * c.k, 1] });
    expect(Array.from(linearIntSync(w, strided, opts)), 'strided rows').toEqual(Array.from(ref));
    xt.dispose();
    w.dispose();
  });

  it('derives per-channel multipliers from xScale / outScale and the weights scales', () => {
    const c = makeCase(5, 3, 8, 64, true, false, false);
    const w = weights(c);
    const sx = 0.02;
    const sy = 0.05;
    const mult = Array.from(w.scales!, (sw) => dyadicFromScale((sx * sw) / sy));
    const a = linearIntSync(w, c.x, { xScale: sx, outScale: sy, bias: c.bias ?? undefined });
    const b = linearIntSync(w, c.x, { multiplier: mult, bias: c.bias ?? undefined });
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).toEqual(Array.from(linearRef({ ...c, zp: null, mult, outZp: 0 })));
    w.dispose();
  });
});

describe('linearInt argument errors', () => {
  const n = 4;
  const k = 8;
  const w = QTensor.fromPerChannel({ q: new Int8Array(n * k).fill(1), scales: new Float32Array(n).fill(0.1), n, k });
  const x = new Int8Array(2 * k);
  const one: Dyadic = { m: 1 << 30, s: 31 };
  it('throws typed errors synchronously (sync and async)', () => {
    for (const f of [linearIntSync, linearInt] as const) {
      const call = (...a: unknown[]) => (f as (...b: unknown[]) => unknown)(...a);
      expect(() => call({}, x, { multiplier: one })).toThrow(TypeError);
      expect(() => call(w, new Float32Array(2 * k), { multiplier: one })).toThrow(TypeError);
      expect(() => call(w, new Int8Array(2 * k + 1), { multiplier: one })).toThrow(RangeError);
      expect(() => call(w, x)).toThrow(TypeError);
      expect(() => call(w, x, {})).toThrow(TypeError); // neither multiplier nor scales
      expect(() => call(w, x, { multiplier: { m: 1, s: 63 } })).toThrow(RangeError);
      expect(() => call(w, x, { multiplier: { m: 2 ** 31, s: 3 } })).toThrow(RangeError);
      expect(() => call(w, x, { multiplier: [one, one] })).toThrow(RangeError); // neither 1 nor n
      expect(() => call(w, x, { multiplier: one, xScale: 1, outScale: 1 })).toThrow(RangeError);
      expect(() => call(w, x, { xScale: 0, outScale: 1 })).toThrow(RangeError);
      expect(() => call(w, x, { xScale: 1, outScale: Number.NaN })).toThrow(RangeError);
      expect(() => call(w, x, { multiplier: one, bias: new Int32Array(n - 1) })).toThrow(RangeError);
      expect(() => call(w, x, { multiplier: one, bias: new Float32Array(n) })).toThrow(TypeError);
      expect(() => call(w, x, { multiplier: one, bias: new Int32Array(n).fill(2 ** 23) })).toThrow(RangeError);
      expect(() => call(w, x, { multiplier: one, xZeroPoint: 128 })).toThrow(RangeError);
      expect(() => call(w, new Uint8Array(2 * k), { multiplier: one, xZeroPoint: -1 })).toThrow(RangeError);
      expect(() => call(w, x, { multiplier: one, xZeroPoint: new Int32Array(3) })).toThrow(RangeError);
      expect(() => call(w, x, { multiplier: one, xZeroPoint: Int32Array.of(0, 200) })).toThrow(RangeError);
      expect(() => call(w, x, { multiplier: one, outZeroPoint: 128 })).toThrow(RangeError);
      expect(() => call(w, x, { multiplier: one, out: new Int8Array(7) })).toThrow(RangeError);
      expect(() => call(w, x, { multiplier: one, out: new Uint8Array(8) })).toThrow(TypeError);
      expect(() => call(w, x, { multiplier: one, pack: 1 })).toThrow(TypeError);
      expect(() => call(w, Tensor.from(new Float32Array(k), [k]), { multiplier: one })).toThrow(TypeError);
      expect(() => call(w, Tensor.from(new Int8Array(2 * k), [2, 2 * k]), { multiplier: one })).toThrow(RangeError);
    }
  });
  it('rejects non-i8c weights and disposed tensors', () => {
    const w8 = quantizeSync(new Float32Array(n * 32).fill(0.5), { dtype: 'q8_0', shape: [n, 32] });
    expect(() => linearIntSync(w8, new Int8Array(32), { multiplier: one })).toThrow(RangeError);
    w8.dispose();
    const q = QTensor.fromPerChannel({ q: new Int8Array(n * k), scales: new Float32Array(n).fill(1), n, k });
    q.dispose();
    expect(() => linearIntSync(q, x, { multiplier: one })).toThrow(BitflashDisposedError);
    const xt = Tensor.from(new Int8Array(k), [k]);
    xt.dispose();
    expect(() => linearIntSync(w, xt, { multiplier: one })).toThrow(BitflashDisposedError);
  });
  it('the native layer re-checks what it is given (BitflashArgumentError, no crash)', async () => {
    const { native } = await import('../../lib/binding.js');
    const nw = QTensor.native(w, 'test');
    const ms = Int32Array.of(1);
    const ss = Int32Array.of(0);
    const y = new Int8Array(2 * n);
    const call = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e;
      }
      return null;
    };
    const bad = [
      () => native.linearIntSync(nw, null, x, 3, k, null, null, ms, ss, 0, y, n), // x too short for m = 3
      () => native.linearIntSync(nw, null, x, 2, k, null, null, ms, Int32Array.of(63), 0, y, n),
      () => native.linearIntSync(nw, null, x, 2, k, null, null, Int32Array.of(1, 2), Int32Array.of(0, 0), 0, y, n),
      () => native.linearIntSync(nw, null, x, 2, k, null, Int32Array.of(1, 2), ms, ss, 0, y, n),
      () => native.linearIntSync(nw, null, x, 2, k, null, new Int32Array(n).fill(1 << 23), ms, ss, 0, y, n),
      () => native.linearIntSync(nw, null, x, 2, k, Int32Array.of(0, 300), null, ms, ss, 0, y, n),
      () => native.linearIntSync(nw, null, x, 2, k, null, null, ms, ss, 200, y, n),
      () => native.linearIntSync(nw, null, x, 2, k, null, null, ms, ss, 0, new Int8Array(2 * n - 1), n),
    ];
    for (const [i, f] of bad.entries()) {
      const e = call(f) as { code?: string } | null;
      expect(e, `case ${i}`).not.toBeNull();
      expect(e!.code, `case ${i}`).toBe('ERR_BITFLASH_ARG');
    }
  });
});
