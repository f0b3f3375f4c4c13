import { describe, expect, it } from 'vitest';
import {
  QTensor,
  Tensor,
  matmul,
  matmulInfo,
  matmulSync,
  matmulTolerance,
  packSync,
  pack,
  quantizeSync,
  setIsa,
  setThreads,
  type MatmulDType,
} from '../../lib/index.js';
import { randomF32, restoreIsaAndThreadsAfterAll, rng } from './helpers.js';
import { decodeQTensor, matmulBlocksRef, matmulIntActsRef, matmulI32Ref, quantizeActs } from './matmul-ref.js';

const { feat, threads0 } = restoreIsaAndThreadsAfterAll();

const DTYPES: MatmulDType[] = ['q8_0', 'q4_0', 'i8c', 'i4g'];

/**
 * The f32 bound (matmul.h). The kernels compute y = sum_b f32(f32(dw_b * dx_b) * f32(isum_b)) in f32 with
 * isum_b exact and offset-free (one int -> float conversion per block), adding the terms in any order
 * (SIMD: a few partial accumulators, then a horizontal sum); the reference evaluates the same terms in
 * float64. Any order of L f32 additions of f32 products errs by at most (L + 2) u s, u = 2^-24,
 * s = sum_b |dw_b dx_b isum_b| (matmulBlocksRef), and L <= nb + 4, so matmul_f32_tolerance(nb, s) =
 * 2 (nb + 2) u s covers it.
 */
function expectWithin(y: Float32Array, ref: { y: Float64Array; s: Float64Array }, nb: number, what: string): void {
  let worst = 0;
  for (let i = 0; i < y.length; i++) {
    const tol = matmulTolerance(nb, ref.s[i]!);
    const err = Math.abs(y[i]! - ref.y[i]!);
    if (!(err <= tol)) throw new Error(`${what}: output ${i}: ${y[i]} vs ${ref.y[i]} (err ${err} > tol ${tol})`);
    worst = Math.max(worst, tol > 0 ? err / tol : 0);
  }
  expect(worst).toBeLessThanOrEqual(1);
}

const M = [1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 33];
const N = [1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31];

function shapes(dtype: MatmulDType, seed: number, count: number): [number, number, number][] {
  const r = rng(seed);
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)]!;
  const ks = dtype === 'q8_0' || dtype === 'q4_0' ? [32, 64, 96, 160, 256] : [32, 33, 64, 100, 127, 160, 255, 256];
  const out: [number, number, number][] = [];
  for (let i = 0; i < count; i++) out.push([i < M.length ? M[i]! : pick(M), pick(N), pick(ks)]);
  return out;
}

function weightsFor(dtype: MatmulDType, n: number, k: number, seed: number): QTensor {
  const wf = randomF32(n * k, seed);
  if (dtype === 'i4g') return quantizeSync(wf, { dtype, shape: [n, k], group: ([32, 64, 128] as const)[seed % 3]!, symmetric: seed % 2 === 0 });
  return quantizeSync(wf, { dtype, shape: [n, k] });
}

describe('matmul f32 activations against a float64 reference', () => {
  for (const isa of feat.paths) {
    it(`every dtype, random shapes, sync == async, pack on/off, on path ${isa}`, async () => {
      setIsa(isa);
      for (const dtype of DTYPES) {
        let seed = 1;
        for (const [m, n, k] of shapes(dtype, dtype.length * 31 + isa.length, M.length + 2)) {
          seed++;
          const w = weightsFor(dtype, n, k, seed);
          const x = randomF32(m * k, seed * 7);
          const ref = matmulBlocksRef(decodeQTensor(w), quantizeActs(x, m, k, k), m);
          const what = `${isa} ${dtype} m=${m} n=${n} k=${k}`;
          const y = matmulSync(w, x);
          expectWithin(y, ref, Math.ceil(k / 32), what);
          expect(await matmul(w, x), what).toEqual(y); // bit for bit
          packSync(w);
          const yp = matmulSync(w, x);
          expectWithin(yp, ref, Math.ceil(k / 32), `${what} packed`);
          expect(await matmul(w, x), `${what} packed async`).toEqual(yp);
          expect(matmulSync(w, x, { pack: false }), `${what} pack:false`).toEqual(y);
          if (m < matmulInfo().gemmMinM) expect(yp, `${what}: the pack is not used below gemmMinM`).toEqual(y);
          w.dispose();
        }
      }
    });
  }

  it('deep k (32768): f32 and i32 paths', async () => {
    const k = 32768;
    for (const dtype of DTYPES) {
      const w = weightsFor(dtype, 3, k, 3);
      const x = randomF32(2 * k, 9);
      const ref = matmulBlocksRef(decodeQTensor(w), quantizeActs(x, 2, k, k), 2);
      expectWithin(await matmul(w, x), ref, k / 32, `deep ${dtype}`);
    }
  });

  it('blocks that cancel (isum = 0 with every |w|, |x| at the maximum) stay within the bound on every path', () => {
    // x: even blocks all +1 (q = 127, a large block sum), odd blocks +1 / -1 halves; weights: per (row, block)
    // either the pattern that cancels against that x block or, every 4th, a single 1 (a tiny isum). The
    // bound is relative to sum_b |dw dx isum_b|, so rounding a cancelled partial (or the +128 / +8 offset
    // terms) in float would exceed it by orders of magnitude.
    const [m, n, k] = [3, 9, 256];
    const x = new Float32Array(m * k);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < k; j++) x[i * k + j] = (((j >> 5) % 2 === 0 || j % 32 < 16) ? 1 : -1) * (i === 1 ? -1 : 1);
    const wf = new Float32Array(n * k);
    for (let r = 0; r < n; r++)
      for (let j = 0; j < k; j++) {
        const b = j >> 5;
        const e = j % 32;
        wf[r * k + j] = (r + b) % 4 === 0 ? (e === r % 32 ? 1 : 0) : b % 2 === 0 ? (e < 16 ? 1 : -1) : 1;
      }
    for (const isa of feat.paths) {
      setIsa(isa);
      for (const dtype of DTYPES) {
        const w = dtype === 'i4g' ? quantizeSync(wf, { dtype, shape: [n, k], group: 32, symmetric: true }) : quantizeSync(wf, { dtype, shape: [n, k] });
        const ref = matmulBlocksRef(decodeQTensor(w), quantizeActs(x, m, k, k), m);
        expectWithin(matmulSync(w, x), ref, k / 32, `cancel ${isa} ${dtype}`);
        packSync(w);
        expectWithin(matmulSync(w, x), ref, k / 32, `cancel ${isa} ${dtype} packed`);
        w.dispose();
      }
    }
  });

  it('strided and offset views of x give the same result as a dense copy', () => {
    const [m, n, k, ld] = [9, 13, 96, 130];
    const w = weightsFor('q4_0', n, k, 4);
    const backing = randomF32(20 + m * ld + 4, 5);
    const xv = Tensor.from(backing, [m, k], { strides: [ld, 1], offset: 20 });
    const dense = xv.contiguous();
    expect(xv.isContiguous).toBe(false);
    const want = matmulSync(w, dense);
    expect(matmulSync(w, xv)).toEqual(want);
    // a row slice of the strided view, and a subarray with a byteOffset
    expect(matmulSync(w, xv.slice(2, 5))).toEqual(want.subarray(2 * n, 5 * n));
    const sub = new Float32Array(backing.buffer, 4 * 3, 2 * k);
    expect(matmulSync(w, sub)).toEqual(matmulSync(w, Float32Array.from(sub)));
    // a 1-D tensor is one row
    expect(matmulSync(w, Tensor.from(dense.slice(0, k)))).toEqual(want.subarray(0, n));
  });

  it('out buffers are reused, and results do not depend on the thread count', async () => {
    const [m, n, k] = [16, 31, 256];
    const w = weightsFor('i4g', n, k, 6);
    const x = randomF32(m * k, 6);
    const out = new Float32Array(m * n).fill(Number.NaN);
    expect(matmulSync(w, x, { out })).toBe(out);
    const y1 = Float32Array.from(out);
    out.fill(0);
    expect(await matmul(w, x, { out })).toBe(out);
    expect(out).toEqual(y1);
    if (threads0 > 1) {
      setThreads(1);
      expect(matmulSync(w, x)).toEqual(y1);
      setThreads(threads0);
    }
  });
});

describe('matmul int8 activations', () => {
  for (const isa of feat.paths) {
    it(`output 'i32' equals an exact BigInt reference (i8 and u8, pack on/off) on path ${isa}`, async () => {
      setIsa(isa);
      const r = rng(isa.length);
      for (const [m, n, k] of shapes('i8c', 77 + isa.length, 8)) {
        const wq = new Int8Array(n * k).map(() => Math.floor(r() * 256) - 128);
        const w = QTensor.fromPerChannel({ q: wq, scales: new Float32Array(n).fill(0.5), n, k });
        for (const unsigned of [false, true]) {
          const xd = unsigned ? new Uint8Array(m * k).map(() => Math.floor(r() * 256)) : new Int8Array(m * k).map(() => Math.floor(r() * 256) - 128);
          const x = Tensor.from(xd, [m, k]);
          const want = matmulI32Ref(wq, n, k, xd, m, k);
          const what = `${isa} m=${m} n=${n} k=${k} ${unsigned ? 'u8' : 'i8'}`;
          expect(matmulSync(w, x, { output: 'i32' }), what).toEqual(want);
          expect(await matmul(w, x, { output: 'i32' }), what).toEqual(want);
          packSync(w);
          expect(matmulSync(w, x, { output: 'i32' }), `${what} packed`).toEqual(want);
          w.packed!.dispose();
          expect(w.packed).toBeUndefined();
        }
      }
    });
  }

  it('extremes: all -128 / all 127 / all 255 at k = 65536 stay exact', async () => {
    const k = 65536;
    const n = 2;
    const m = 4;
    for (const [wv, xv, unsigned] of [[-128, -128, false], [127, -128, false], [-128, 255, true], [127, 127, false]] as const) {
      const wq = new Int8Array(n * k).fill(wv);
      wq[k + 5] = -wv | 0; // the second row is not uniform
      const w = QTensor.fromPerChannel({ q: wq, scales: new Float32Array(n).fill(1), n, k });
      const xd = unsigned ? new Uint8Array(m * k).fill(xv) : new Int8Array(m * k).fill(xv);
      const want = matmulI32Ref(wq, n, k, xd, m, k);
      expect(want[0]).toBe(wv * xv * k);
      const x = Tensor.from(xd, [m, k]);
      expect(await matmul(w, x, { output: 'i32' })).toEqual(want);
      await pack(w);
      expect(matmulSync(w, x, { output: 'i32' })).toEqual(want);
    }
  });

  it('f32 output with per-row scales and zero points (i8 and u8) within the bound', async () => {
    for (const dtype of DTYPES)
      for (const unsigned of [false, true]) {
        const [m, n, k] = [6, 9, 128];
        const w = weightsFor(dtype, n, k, 12);
        const r = rng(m + n);
        const xd = unsigned ? new Uint8Array(m * k).map(() => Math.floor(r() * 256)) : new Int8Array(m * k).map(() => Math.floor(r() * 256) - 128);
        const xScales = new Float32Array(m).map(() => r() * 0.1);
        const xZeroPoints = new Int32Array(m).map((_, i) => (i % 2 ? 0 : unsigned ? 128 + i : i - 3));
        const dw = decodeQTensor(w);
        const ref = matmulIntActsRef(dw, xd, m, k, xScales, xZeroPoints);
        const x = Tensor.from(xd, [m, k]);
        const y = matmulSync(w, x, { xScales, xZeroPoints });
        expectWithin(y, ref, dw.kb + 2, `${dtype} ${unsigned ? 'u8' : 'i8'}`);
        expect(await matmul(w, x, { xScales, xZeroPoints })).toEqual(y);
      }
  });
});
