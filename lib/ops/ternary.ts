/**
 * Ternary (1.58-bit) weights: matmul over tq1_0 / tq2_0 / i2_s QTensors and the auto-tune controls.
 * (quantize / dequantize of these dtypes go through lib/ops/quantize.ts.)
 *
 * matmul(w, x, { family, tuneCache, out }): y[m, n] = x[m, k] * w[n, k]^T, f32 in, f32 out, k a multiple
 * of 256. The numerics (cpp/include/bitflash/ternary.h) are one spec for every family and ISA path, so
 * the f32 output is bit-identical between mad, lut and every path:
 *   x row -> blocks of 256: xd = amax / 127 (f32), q = roundf(x * (1 / xd)); per output (i, r) and block b:
 *   isum_b = sum w * q (exact int32); acc = fmaf(isum_b, f32(ws_b * xd_b), acc) in block order; y = acc,
 * with ws_b the weight scale (tq1_0 / tq2_0: the block's f16 absmax; i2_s: the tensor scale).
 *
 * Packed forms: the first matmul with a family packs w into that family's layout (native memory,
 * ISA independent) and caches it on w ('auto' packs both); w.dispose() frees them, deferred while a call
 * is pending. Family 'auto' (the default) picks per (n, k, m bucket, ISA, threads) by measurement on
 * first use (the rule: cpp/include/bitflash/ternary.h, "auto-tune"); `tuneCache` names a file the
 * choices are read from and appended to.
 */
import { native } from '../binding.js';
import { BitflashDisposedError, callAsync, callSync } from '../errors.js';
import { DTYPES } from '../dtypes.js';
import { QTensor, Tensor, TernaryPacked, isTernaryDType, type TernaryDType, type TernaryFamily } from '../tensor.js';
import { rangeError, typeError } from '../validate.js';

export type TernaryFamilyOption = TernaryFamily | 'auto';

export interface TernaryMatmulOptions {
  /** 'mad' | 'lut' forces a kernel family; 'auto' (default) lets the tuner choose per shape. */
  family?: TernaryFamilyOption;
  /** A file of tuned choices: read on first use, appended when a shape is tuned. */
  tuneCache?: string;
  /** Reused output buffer: a Float32Array of exactly m * n elements. */
  out?: Float32Array;
}

const FAMILY_CODE = { mad: 0, lut: 1, auto: 2 } as const;

interface Plan {
  w: QTensor;
  family: TernaryFamilyOption;
  tuneCache: string | null;
  x: Float32Array;
  m: number;
  ldx: number;
  out: Float32Array;
  release: () => void;
}

export function planTernary(fn: string, w: QTensor, x: unknown, optsIn: unknown): Plan {
  if (!isTernaryDType(w.dtype)) throw typeError(fn, 'w', 'a ternary QTensor', w);
  if (optsIn !== undefined && (typeof optsIn !== 'object' || optsIn === null)) throw typeError(fn, 'options', 'an object', optsIn);
  const opts = (optsIn ?? {}) as TernaryMatmulOptions & Record<string, unknown>;
  for (const key of ['xScales', 'xZeroPoints', 'pack'] as const)
    if (opts[key] !== undefined) throw rangeError(fn, key, 'undefined for ternary weights (f32 activations only)', opts[key]);
  if (opts.output !== undefined && opts.output !== 'f32') throw rangeError(fn, 'output', "'f32' for ternary weights", opts.output);
  const family = opts.family ?? 'auto';
  if (typeof family !== 'string') throw typeError(fn, 'family', "one of 'mad' | 'lut' | 'auto'", family);
  if (!(family in FAMILY_CODE)) throw rangeError(fn, 'family', "one of 'mad' | 'lut' | 'auto'", family);
  if (opts.tuneCache !== undefined && typeof opts.tuneCache !== 'string') throw typeError(fn, 'tuneCache', 'a file path string', opts.tuneCache);
  if (w.disposed) throw new BitflashDisposedError(`${fn}: w is disposed`);
  const [n, k] = w.shape;
  if (k % 256 !== 0) throw rangeError(fn, 'w', `a QTensor with k a multiple of 256 for ternary matmul (w is [${n}, ${k}])`, k);

  let xs: Float32Array;
  let m: number;
  let ldx: number;
  let xTensor: Tensor | null = null;
  if (x instanceof Float32Array) {
    if (x.length === 0 || x.length % k !== 0) throw rangeError(fn, 'x', `a Float32Array whose length is a positive multiple of k = ${k}`, x);
    xs = x;
    m = x.length / k;
    ldx = k;
  } else if (x instanceof Tensor) {
    if (x.dtype !== 'f32') throw typeError(fn, 'x', 'a Float32Array or an f32 Tensor (ternary weights take f32 activations)', `Tensor ${x.dtype}` as unknown);
    if (x.disposed) throw new BitflashDisposedError(`${fn}: x is disposed`);
    if (x.ndim !== 1 && x.ndim !== 2) throw rangeError(fn, 'x', 'a Tensor [m, k] or [k]', `shape [${x.shape.join(', ')}]` as unknown);
    const kx = x.shape[x.ndim - 1]!;
    if (kx !== k) throw rangeError(fn, 'x', `a Tensor with k = ${k} columns (w is [${n}, ${k}])`, `shape [${x.shape.join(', ')}]` as unknown);
    m = x.ndim === 2 ? x.shape[0]! : 1;
    if (m < 1) throw rangeError(fn, 'x', 'a Tensor with at least one row', `shape [${x.shape.join(', ')}]` as unknown);
    ldx = x.ndim === 2 ? x.strides[0]! : k;
    if (m === 1) ldx = Math.max(ldx, k);
    xs = (x.data as Float32Array).subarray(x.offset, x.offset + (m - 1) * ldx + k);
    xTensor = x;
  } else {
    throw typeError(fn, 'x', 'a Float32Array or an f32 Tensor', x);
  }
  const out = opts.out === undefined ? new Float32Array(m * n) : opts.out;
  if (!(out instanceof Float32Array)) throw typeError(fn, 'out', 'a Float32Array', out);
  if (out.length !== m * n) throw rangeError(fn, 'out', `a Float32Array of ${m * n} elements (m = ${m}, n = ${n})`, out);
  const rw = QTensor.acquire(w, fn);
  const rx = xTensor ? Tensor.acquire(xTensor, fn) : null;
  return {
    w,
    family,
    tuneCache: opts.tuneCache ?? null,
    x: xs,
    m,
    ldx,
    out,
    release: () => {
      rw();
      rx?.();
    },
  };
}

function families(f: TernaryFamilyOption): TernaryFamily[] {
  return f === 'auto' ? ['mad', 'lut'] : [f];
}

function packSyncOne(w: QTensor, f: TernaryFamily): TernaryPacked {
  const have = QTensor.ternaryPacked(w, f);
  if (have && !have.disposed) return have;
  const d = w.dtype as TernaryDType;
  const h = callSync(() => native.ternaryPackSync(DTYPES[d].id, w.data, w.n, w.k, FAMILY_CODE[f] as 0 | 1));
  const p = new TernaryPacked(h, f);
  QTensor.setTernaryPacked(w, f, p);
  return p;
}

function packAsyncOne(w: QTensor, f: TernaryFamily): Promise<TernaryPacked> {
  const have = QTensor.ternaryPacked(w, f);
  if (have && !have.disposed) return Promise.resolve(have);
  const inflight = QTensor.ternaryPacking(w, f);
  if (inflight) return inflight;
  const d = w.dtype as TernaryDType;
  const release = QTensor.acquire(w, 'matmul');
  const p = callAsync(() => native.ternaryPack(DTYPES[d].id, w.data, w.n, w.k, FAMILY_CODE[f] as 0 | 1))
    .then((h) => {
      // Cached even when w was disposed meanwhile: the calls that wait for it hold w (pending), and the
      // release that follows the last of them frees every cached packed form.
      const tp = new TernaryPacked(h, f);
      const cur = QTensor.ternaryPacked(w, f);
      if (cur && !cur.disposed) {
        tp.dispose();
        return cur;
      }
      QTensor.setTernaryPacked(w, f, tp);
      return tp;
    })
    .finally(() => {
      QTensor.setTernaryPacking(w, f, undefined);
      release();
    });
  QTensor.setTernaryPacking(w, f, p);
  return p;
}

let lastFamily: TernaryFamily | undefined;

function handles(w: QTensor, fam: TernaryFamilyOption) {
  const mad = fam === 'lut' ? null : TernaryPacked.handle(QTensor.ternaryPacked(w, 'mad'));
  const lut = fam === 'mad' ? null : TernaryPacked.handle(QTensor.ternaryPacked(w, 'lut'));
  return { mad, lut };
}

export function ternaryMatmulSyncImpl(p: Plan): Float32Array {
  try {
    for (const f of families(p.family)) packSyncOne(p.w, f);
    const { mad, lut } = handles(p.w, p.family);
    lastFamily = callSync(() => native.ternaryMatmulSync(mad, lut, p.x, p.m, p.ldx, p.out, FAMILY_CODE[p.family], p.tuneCache));
  } finally {
    p.release();
  }
  return p.out;
}

export function ternaryMatmulAsyncImpl(p: Plan): Promise<Float32Array> {
  return Promise.all(families(p.family).map((f) => packAsyncOne(p.w, f)))
    .then(() => {
      const { mad, lut } = handles(p.w, p.family);
      return callAsync(() => native.ternaryMatmul(mad, lut, p.x, p.m, p.ldx, p.out, FAMILY_CODE[p.family], p.tuneCache));
    })
    .then((f) => {
      lastFamily = f;
      return p.out;
    })
    .finally(p.release);
}

/** Controls of the per-shape family choice made by `family: 'auto'`. */
export const ternaryTune = {
  /** Forgets every tuned choice held in memory (files already loaded may be loaded again). */
  clear(): void {
    native.ternaryTuneClear();
  },
  /** Reads a tune cache file (missing file: nothing; malformed lines are skipped). */
  load(path: string): void {
    if (typeof path !== 'string') throw typeError('ternaryTune.load', 'path', 'a file path string', path);
    callSync(() => native.ternaryTuneLoad(path));
  },
  /**
   * The family 'auto' runs for this weight shape and m, on the ISA path and thread count in force now;
   * undefined while that key has not been tuned (or loaded).
   */
  chosen(shape: readonly [number, number] | QTensor, m: number): TernaryFamily | undefined {
    const fn = 'ternaryTune.chosen';
    const [n, k] = shape instanceof QTensor ? shape.shape : shape;
    for (const [name, v] of [['n', n], ['k', k], ['m', m]] as const) {
      if (typeof v !== 'number') throw typeError(fn, name, 'an integer >= 1', v);
      if (!Number.isSafeInteger(v) || v < 1) throw rangeError(fn, name, 'an integer >= 1', v);
    }
    return native.ternaryTuneLookup(n, k, m) ?? undefined;
  },
  /** The family the last completed ternary matmul in this process ran (undefined before the first). */
  get last(): TernaryFamily | undefined {
    return lastFamily;
  },
};

/** The ternary kernels the dispatcher selects now (activation quantizer, mad, lut, lut table build). */
export function ternaryKernels(): { activations: string; mad: string; lut: string; lutBuild: string } {
  return native.ternaryKernels();
}
