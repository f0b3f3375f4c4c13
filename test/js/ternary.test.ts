import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BitflashArgumentError,
  BitflashDisposedError,
  QTensor,
  Tensor,
  cpuFeatures,
  dequantize,
  dequantizeSync,
  matmul,
  matmulSync,
  quantize,
  quantizeSync,
  setIsa,
  ternaryKernels,
  ternaryTune,
  type TernaryDType,
} from '../../lib/index.js';
import { f32ToF16, rng, roundf } from './helpers.js';

// ------------------------------------------------------------------ independent TS references
const F = Math.fround;

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** C's lroundf on an f32 value (half away from zero). */
const lroundf = roundf;

function blockAmax(x: Float32Array, o: number): number {
  let a = 0;
  for (let j = 0; j < 256; j++) a = Math.max(a, Math.abs(x[o + j]!));
  return a;
}

/** llama.cpp quantize_row_tq2_0_ref: d = amax, id = 1/d (f32), code = lroundf(x * id) + 1, 4 codes a byte. */
function tq2Reference(x: Float32Array): Uint8Array {
  const nb = x.length / 256;
  const out = new Uint8Array(nb * 66);
  for (let b = 0; b < nb; b++) {
    const o = b * 256;
    const d = blockAmax(x, o);
    const id = d !== 0 ? F(1 / d) : 0;
    for (let j = 0; j < 64; j += 32)
      for (let m = 0; m < 32; m++) {
        let q = 0;
        for (let n = 0; n < 4; n++) q |= (lroundf(F(x[o + 4 * j + m + n * 32]! * id)) + 1) << (2 * n);
        out[b * 66 + j + m] = q;
      }
    const h = f32ToF16(d);
    out[b * 66 + 64] = h & 0xff;
    out[b * 66 + 65] = h >> 8;
  }
  return out;
}

/** llama.cpp quantize_row_tq1_0_ref: base-3 packing, 5 trits a byte, scaled by 256/243 (ceiling). */
function tq1Reference(x: Float32Array): Uint8Array {
  const nb = x.length / 256;
  const out = new Uint8Array(nb * 54);
  const trit = (v: number, id: number) => lroundf(F(v * id)) + 1;
  const scale = (q: number) => Math.floor((q * 256 + 242) / 243) & 0xff;
  for (let b = 0; b < nb; b++) {
    let o = b * 256;
    const base = b * 54;
    const d = blockAmax(x, o);
    const id = d !== 0 ? F(1 / d) : 0;
    // 48 qs bytes: first 32 bytes cover 160 values (x[m + 32 n]), next 16 cover 80 (x[m + 16 n])
    for (let m = 0; m < 32; m++) {
      let q = 0;
      for (let n = 0; n < 5; n++) q = q * 3 + trit(x[o + m + 32 * n]!, id);
      out[base + m] = scale(q);
    }
    o += 160;
    for (let m = 0; m < 16; m++) {
      let q = 0;
      for (let n = 0; n < 5; n++) q = q * 3 + trit(x[o + m + 16 * n]!, id);
      out[base + 32 + m] = scale(q);
    }
    o += 80;
    for (let j = 0; j < 4; j++) {
      let q = 0;
      for (let n = 0; n < 4; n++) q = q * 3 + trit(x[o + j + 4 * n]!, id);
      out[base + 48 + j] = scale(q * 3);
    }
    const h = f32ToF16(d);
    out[base + 52] = h & 0xff;
    out[base + 53] = h >> 8;
  }
  return out;
}

/** BitNet b1.58 absmean into I2_S: s = mean|W| (f64 sum, f32), q = clamp(roundf(W / s)), byte p of a
 * 128-block holds elements p, p+32, p+64, p+96 at bits 7-6, 5-4, 3-2, 1-0 as q + 1; then f32 s, 32 bytes. */
function i2sReference(x: Float32Array): { bytes: Uint8Array; values: Int8Array; scale: number } {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.abs(x[i]!);
  const s = F(sum / x.length);
  const bytes = new Uint8Array(x.length / 4 + 32);
  const values = new Int8Array(x.length);
  for (let e = 0; e < x.length; e++) {
    let q = 0;
    if (s !== 0) {
      const r = roundf(F(x[e]! / s));
      q = r >= 1 ? 1 : r <= -1 ? -1 : 0;
    }
    values[e] = q;
    const blk = Math.floor(e / 128);
    const j = e % 128;
    bytes[blk * 32 + (j % 32)]! |= (q + 1) << (6 - 2 * Math.floor(j / 32));
  }
  new DataView(bytes.buffer).setFloat32(x.length / 4, s, true);
  return { bytes, values, scale: s };
}

/** Ternary values and per-(row, block) f32 scales of a QTensor, decoded in TS from its bytes. */
function decodeTernary(w: QTensor): { v: Int8Array; ws: Float32Array } {
  const [n, k] = w.shape;
  const nb = k / 256;
  const v = new Int8Array(n * k);
  const ws = new Float32Array(n * nb);
  const d = w.data;
  if (w.dtype === 'tq2_0') {
    for (let b = 0; b < n * nb; b++) {
      const base = b * 66;
      for (let j = 0; j < 2; j++)
        for (let s = 0; s < 4; s++)
          for (let m = 0; m < 32; m++) v[b * 256 + 128 * j + 32 * s + m] = ((d[base + 32 * j + m]! >> (2 * s)) & 3) - 1;
      ws[b] = f16ToF32(d[base + 64]! | (d[base + 65]! << 8));
    }
  } else if (w.dtype === 'tq1_0') {
    const tritAt = (q: number, i: number) => ((((q * 3 ** i) & 0xff) * 3) >> 8) - 1;
    for (let b = 0; b < n * nb; b++) {
      const base = b * 54;
      let o = b * 256;
      for (let s = 0; s < 5; s++) for (let m = 0; m < 32; m++) v[o++] = tritAt(d[base + m]!, s);
      for (let s = 0; s < 5; s++) for (let m = 0; m < 16; m++) v[o++] = tritAt(d[base + 32 + m]!, s);
      for (let s = 0; s < 4; s++) for (let j = 0; j < 4; j++) v[o++] = tritAt(d[base + 48 + j]!, s);
      ws[b] = f16ToF32(d[base + 52]! | (d[base + 53]! << 8));
    }
  } else {
    for (let e = 0; e < n * k; e++) {
      const blk = Math.floor(e / 128);
      const j = e % 128;
      v[e] = ((d[blk * 32 + (j % 32)]! >> (6 - 2 * Math.floor(j / 32))) & 3) - 1;
    }
    ws.fill(new DataView(d.buffer, d.byteOffset).getFloat32((n * k) / 4, true));
  }
  return { v, ws };
}

/** f32 fmaf(a, b, c) exactly: a*b is exact in f64 here (|a| < 2^15, b an f32), then a correctly
 * rounded f32 of the exact sum (two-sum error term decides f32 ties that f64 rounding hid). */
function fmaf(a: number, b: number, c: number): number {
  const p = a * b; // exact: 15-bit integer times a 24-bit significand
  const s = p + c;
  const bb = s - p;
  const err = p - (s - bb) + (c - bb);
  const r = F(s);
  if (err === 0 || r === s) return r;
  // s is between two f32s; only an exact tie can round the wrong way
  const other = F(s + (err > 0 ? Math.abs(s) * 2 ** -40 : -Math.abs(s) * 2 ** -40));
  const lo = Math.min(r, other);
  const hi = Math.max(r, other);
  if (lo !== hi && s === (lo + hi) / 2) return err > 0 ? hi : lo;
  return r;
}

/** The documented spec (ternary.h), evaluated in TS: activation blocks, exact block sums, fmaf chain. */
function specMatmul(w: QTensor, x: Float32Array, m: number): { y: Float32Array; y64: Float64Array; bound: Float64Array } {
  const [n, k] = w.shape;
  const nb = k / 256;
  const { v, ws } = decodeTernary(w);
  const q = new Int8Array(m * k);
  const xd = new Float32Array(m * nb);
  for (let i = 0; i < m; i++)
    for (let b = 0; b < nb; b++) {
      const o = i * k + b * 256;
      let amax = 0;
      for (let j = 0; j < 256; j++) amax = Math.max(amax, Math.abs(x[o + j]!));
      const d = F(amax / 127);
      const id = d !== 0 ? F(1 / d) : 0;
      xd[i * nb + b] = d;
      for (let j = 0; j < 256; j++) q[o + j] = roundf(F(x[o + j]! * id));
    }
  const y = new Float32Array(m * n);
  const y64 = new Float64Array(m * n);
  const bound = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let r = 0; r < n; r++) {
      let acc = 0;
      let exact = 0;
      let mag = 0;
      for (let b = 0; b < nb; b++) {
        let isum = 0;
        const wo = r * k + b * 256;
        const xo = i * k + b * 256;
        for (let j = 0; j < 256; j++) isum += v[wo + j]! * q[xo + j]!;
        const c = F(ws[r * nb + b]! * xd[i * nb + b]!);
        acc = fmaf(isum, c, acc);
        exact += isum * ws[r * nb + b]! * xd[i * nb + b]!;
        mag += Math.abs(isum * ws[r * nb + b]! * xd[i * nb + b]!);
      }
      y[i * n + r] = acc;
      y64[i * n + r] = exact;
      // f32 error of the chain: per block, rounding c (2^-24 relative) and the fma (2^-24 of the
      // running sum, itself <= mag): nb * 2 * 2^-24 * mag, doubled for margin.
      bound[i * n + r] = 4 * nb * 2 ** -24 * mag + 1e-30;
    }
  return { y, y64, bound };
}

function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = F((r() * 2 - 1) * scale);
  return x;
}

// ------------------------------------------------------------------ tests
const TERNARY: TernaryDType[] = ['tq1_0', 'tq2_0', 'i2_s'];
const FAMILIES = ['mad', 'lut'] as const;
const initialIsa = cpuFeatures().active;
afterAll(() => {
  setIsa(initialIsa);
});

describe('ternary quantize', () => {
  it('tq2_0 and tq1_0 bytes equal the llama.cpp reference rule (sync and async)', async () => {
    const x = randn(8 * 512, 11, 3);
    // exact ties and zeros: values at +-d/2 and a zero block
    x[5] = 1.5;
    x[6] = -1.5;
    x.fill(0, 2048, 2304);
    const tq2 = quantizeSync(x, { dtype: 'tq2_0', shape: [8, 512] });
    expect(tq2.data).toEqual(tq2Reference(x));
    const tq1 = await quantize(x, { dtype: 'tq1_0', shape: [8, 512] });
    expect(tq1.data).toEqual(tq1Reference(x));
    expect(tq1.data.length).toBe(8 * 2 * 54);
  });

  it('i2_s follows the absmean rule and layout; dequantize returns q * scale', async () => {
    const x = randn(4 * 256, 12, 0.2);
    const ref = i2sReference(x);
    const w = quantizeSync(x, { dtype: 'i2_s', shape: [4, 256] });
    expect(w.data).toEqual(ref.bytes);
    const y = await dequantize(w);
    for (let i = 0; i < x.length; i++) expect(y[i]).toBe(F(ref.values[i]! * ref.scale));
    for (const t of ['tq1_0', 'tq2_0'] as const) {
      const q = quantizeSync(x, { dtype: t, shape: [4, 256] });
      const { v, ws } = decodeTernary(q);
      const d = dequantizeSync(q);
      for (let i = 0; i < x.length; i++) expect(d[i]).toBe(F(v[i]! * ws[Math.floor(i / 256)]!));
    }
  });

  it('QTensor.fromGGUF reads tq2_0 bytes as they are; shape and length errors throw synchronously', () => {
    const x = randn(2 * 256, 13);
    const bytes = tq2Reference(x);
    const w = QTensor.fromGGUF('tq2_0', bytes, [2, 256]);
    expect(w.dtype).toBe('tq2_0');
    expect(w.data).toBe(bytes);
    expect(() => QTensor.fromGGUF('tq2_0', bytes.subarray(1), [2, 256])).toThrow(RangeError);
    expect(() => QTensor.fromGGUF('tq1_0', new Uint8Array(54), [1, 128])).toThrow(RangeError);
    expect(() => quantizeSync(new Float32Array(200), { dtype: 'tq2_0', shape: [1, 200] })).toThrow(RangeError);
    expect(() => quantizeSync(new Float32Array(256), { dtype: 'tq9' as 'tq2_0', shape: [1, 256] })).toThrow(RangeError);
    const bad = new Float32Array(256);
    bad[3] = NaN;
    expect(() => quantizeSync(bad, { dtype: 'tq2_0', shape: [1, 256] })).toThrow(BitflashArgumentError);
  });
});

describe('ternary matmul', () => {
  const paths = cpuFeatures().paths;

  it('every family on every ISA path equals the spec bit for bit, and f64 within the stated bound', async () => {
    const n = 40; // not a multiple of the 16-row lut tile nor of the mad tiles
    const k = 768;
    for (const dtype of TERNARY) {
      const w = quantizeSync(randn(n * k, 21, 0.05), { dtype, shape: [n, k] });
      for (const m of [1, 3, 9]) {
        const x = randn(m * k, 30 + m, 2);
        const spec = specMatmul(w, x, m);
        for (let i = 0; i < spec.y.length; i++) expect(Math.abs(spec.y[i]! - spec.y64[i]!)).toBeLessThanOrEqual(spec.bound[i]!);
        const outs: Float32Array[] = [];
        for (const p of paths) {
          setIsa(p as Parameters<typeof setIsa>[0]);
          for (const family of FAMILIES) {
            const y = m === 3 ? await matmul(w, x, { family }) : matmulSync(w, x, { family });
            expect(Array.from(y), `${dtype} m=${m} ${p} ${family}`).toEqual(Array.from(spec.y));
            outs.push(y);
          }
        }
        expect(outs.length).toBe(paths.length * 2);
      }
      w.dispose();
    }
  });

  it('ternary extremes: all -1, all +1, all 0, alternating; deep K', () => {
    const k = 256 * 64; // deep K: 64 blocks, int16 table lanes flushed per block
    const n = 16;
    const x = randn(2 * k, 41, 127);
    x[7] = 1000; // one large value: the other activations quantize small
    const patterns: [string, (i: number) => number][] = [
      ['all -1', () => -1],
      ['all +1', () => 1],
      ['all 0', () => 0],
      ['alternating', (i) => (i % 2 ? 1 : -1)],
    ];
    for (const [name, f] of patterns) {
      const wf = new Float32Array(n * k);
      for (let i = 0; i < wf.length; i++) wf[i] = f(i);
      const w = quantizeSync(wf, { dtype: 'tq2_0', shape: [n, k] });
      const spec = specMatmul(w, x, 2);
      for (const family of FAMILIES) expect(Array.from(matmulSync(w, x, { family })), `${name} ${family}`).toEqual(Array.from(spec.y));
      if (name === 'all 0') expect(Array.from(spec.y).every((v) => v === 0)).toBe(true);
      w.dispose();
    }
  });

  it('out reuse, strided x and 1-D Tensor x', async () => {
    const n = 32;
    const k = 512;
    const w = quantizeSync(randn(n * k, 51), { dtype: 'tq1_0', shape: [n, k] });
    const m = 3;
    const ld = k + 64;
    const buf = randn(m * ld, 52);
    const xt = Tensor.from(buf, [m, k], { strides: [ld, 1] });
    const dense = new Float32Array(m * k);
    for (let i = 0; i < m; i++) dense.set(buf.subarray(i * ld, i * ld + k), i * k);
    const out = new Float32Array(m * n);
    const y = await matmul(w, xt, { family: 'lut', out });
    expect(y).toBe(out);
    expect(Array.from(y)).toEqual(Array.from(specMatmul(w, dense, m).y));
    const row = Tensor.from(dense.slice(0, k));
    expect(Array.from(matmulSync(w, row))).toEqual(Array.from(specMatmul(w, dense.slice(0, k), 1).y));
    w.dispose();
  });

  it('packed forms are cached and freed by dispose, deferred while a call is pending', async () => {
    const w = quantizeSync(randn(64 * 256, 61), { dtype: 'tq2_0', shape: [64, 256] });
    expect(w.ternaryPackedBytes).toEqual({ mad: 0, lut: 0 });
    matmulSync(w, randn(256, 62), { family: 'mad' });
    const afterMad = w.ternaryPackedBytes;
    expect(afterMad.mad).toBeGreaterThan(0);
    expect(afterMad.lut).toBe(0);
    const pending = matmul(w, randn(4 * 256, 63), { family: 'lut' });
    w.dispose();
    expect(QTensor.released(w)).toBe(false);
    const y = await pending;
    expect(y.length).toBe(4 * 64);
    expect(QTensor.released(w)).toBe(true);
    expect(w.ternaryPackedBytes).toEqual({ mad: 0, lut: 0 });
    expect(() => matmulSync(w, randn(256, 64))).toThrow(BitflashDisposedError);
  });

  it('argument errors throw synchronously with TypeError / RangeError; native errors map', () => {
    const w = quantizeSync(randn(16 * 256, 71), { dtype: 'tq2_0', shape: [16, 256] });
    const x = randn(256, 72);
    expect(() => matmul(w, x, { family: 'fast' as 'mad' })).toThrow(RangeError);
    expect(() => matmul(w, x, { family: 1 as unknown as 'mad' })).toThrow(TypeError);
    expect(() => matmul(w, randn(255, 1))).toThrow(RangeError);
    expect(() => matmul(w, x, { out: new Float32Array(3) })).toThrow(RangeError);
    expect(() => matmul(w, x, { tuneCache: 5 as unknown as string })).toThrow(TypeError);
    expect(() => matmul(w, Tensor.from(new Int8Array(256)) as never)).toThrow(TypeError);
    expect(() => matmulSync(w, x, { xScales: new Float32Array(1) } as never)).toThrow(RangeError);
    // k not a multiple of 256: quantize and fromGGUF reject tq*, an i2_s tensor is rejected by matmul
    const i2 = quantizeSync(randn(2 * 128, 73), { dtype: 'i2_s', shape: [2, 128] });
    expect(() => matmulSync(i2, randn(128, 74))).toThrow(RangeError);
    const nan = randn(256, 75);
    nan[9] = Infinity;
    expect(() => matmulSync(w, nan)).toThrow(BitflashArgumentError);
    return expect(matmul(w, nan)).rejects.toBeInstanceOf(BitflashArgumentError);
  });
});

describe('ternary auto-tune', () => {
  it('chooses per shape on first use, keeps the choice, writes and reloads the cache file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bf-tune-'));
    try {
      const file = path.join(dir, 'tune.txt');
      ternaryTune.clear();
      const w = quantizeSync(randn(48 * 512, 81), { dtype: 'tq2_0', shape: [48, 512] });
      expect(ternaryTune.chosen(w, 1)).toBeUndefined();
      const x = randn(512, 82);
      const spec = specMatmul(w, x, 1).y;
      const y = matmulSync(w, x, { tuneCache: file });
      expect(Array.from(y)).toEqual(Array.from(spec)); // the tuned call still returns the winner's result
      const chosen = ternaryTune.chosen(w, 1);
      expect(['mad', 'lut']).toContain(chosen);
      expect(ternaryTune.last).toBe(chosen);
      const line = readFileSync(file, 'utf8').trim().split('\n');
      expect(line).toHaveLength(1);
      expect(line[0]).toMatch(new RegExp(`^bitflash-ternary-tune v1 48 512 1 \\d+ \\d+ ${chosen} [0-9.e+-]+ [0-9.e+-]+$`));
      ternaryTune.clear();
      expect(ternaryTune.chosen([48, 512], 1)).toBeUndefined();
      ternaryTune.load(file);
      expect(ternaryTune.chosen([48, 512], 1)).toBe(chosen);
      expect(() => ternaryTune.chosen([48, 512], 0)).toThrow(RangeError);
      const k = ternaryKernels();
      expect(k.mad).toMatch(/tq2_q8/);
      expect(k.lut).toMatch(/tl3_q8/);
      w.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
