/**
 * Weight quantization into a QTensor and back, in the two call patterns every op follows: `...Sync`
 * for small inputs, and a Promise that runs off the main thread. Programmer errors (types, shapes,
 * options) throw synchronously in both forms; NaN or Infinity in the input is found by the native
 * layer and throws (sync) or rejects (async) BitflashArgumentError.
 *
 * The rules (cpp/include/bitflash/quant.h): q8_0 and q4_0 bytes equal llama.cpp's reference quantizers;
 * i8c is per-row absmax int8 with f32 scales; i4g follows onnxruntime's MLAS blockwise quantizer in the
 * MatMulNBits layout (group 32, 64 or 128; symmetric, or with 4-bit zero points). Ternary: tq1_0 and
 * tq2_0 bytes equal llama.cpp's quantize_row_tq1_0_ref / tq2_0_ref (per block of 256: d = absmax, stored
 * f16, q = lroundf(x / d)); i2_s is BitNet b1.58's absmean rule (s = mean |W| over the tensor, q =
 * clamp(roundf(W / s), -1, 1)) in bitnet.cpp's I2_S layout (see cpp/include/bitflash/ternary.h).
 */
import { native } from '../binding.js';
import { DTYPES } from '../dtypes.js';
import { callAsync, callSync } from '../errors.js';
import { QTensor, Tensor, isTernaryDType, qtensorSizes, type QTensorDType } from '../tensor.js';
import { expectOneOf, rangeError, typeError } from '../validate.js';

export type QuantizeDType = 'q8_0' | 'q4_0' | 'i8c' | 'i4g' | 'tq1_0' | 'tq2_0' | 'i2_s';
const QUANT_TYPES = ['q8_0', 'q4_0', 'i8c', 'i4g', 'tq1_0', 'tq2_0', 'i2_s'] as const;

export interface QuantizeOptions<D extends QuantizeDType = QuantizeDType> {
  dtype: D;
  /** [n, k]: required for a Float32Array; for a Tensor it defaults to (and must equal) its 2-D shape. */
  shape?: readonly [number, number];
  /** i4g only: 32, 64 or 128 (default 32). */
  group?: 32 | 64 | 128;
  /** i4g only: true (default) for no zero points, false for 4-bit zero points. */
  symmetric?: boolean;
}

interface Plan {
  src: Float32Array;
  dtype: QuantizeDType;
  n: number;
  k: number;
  group: number | undefined;
  symmetric: boolean;
  data: Uint8Array;
  scales: Float32Array | null;
  zeroPoints: Uint8Array | null;
  release: () => void;
}

function plan(fn: string, x: unknown, opts: unknown): Plan {
  if (typeof opts !== 'object' || opts === null) throw typeError(fn, 'options', 'an object { dtype, shape }', opts);
  const o = opts as QuantizeOptions;
  const dtype = expectOneOf(fn, 'dtype', o.dtype, QUANT_TYPES);
  let src: Float32Array;
  let shape: readonly unknown[] | undefined = o.shape;
  let release = (): void => {};
  if (x instanceof Float32Array) {
    src = x;
    if (shape === undefined) throw typeError(fn, 'shape', 'an array [n, k] (required for a Float32Array)', shape);
  } else if (x instanceof Tensor) {
    if (x.dtype !== 'f32') throw typeError(fn, 'x', 'a Float32Array or an f32 Tensor', `Tensor ${x.dtype}` as unknown);
    release = Tensor.acquire(x, fn);
    try {
      if (x.ndim !== 2) throw rangeError(fn, 'x', 'a 2-D Tensor [n, k]', `shape [${x.shape.join(', ')}]` as unknown);
      if (shape !== undefined && (shape[0] !== x.shape[0] || shape[1] !== x.shape[1]))
        throw rangeError(fn, 'shape', `[${x.shape.join(', ')}] (the tensor's shape)`, shape);
      shape = x.shape;
      src = (x as Tensor<'f32'>).contiguous();
    } catch (e) {
      release();
      throw e;
    }
  } else {
    throw typeError(fn, 'x', 'a Float32Array or an f32 Tensor', x);
  }
  try {
    if (!Array.isArray(shape) || shape.length !== 2) throw typeError(fn, 'shape', 'an array [n, k]', shape);
    const [n, k] = shape as unknown[];
    for (const [name, v] of [['shape[0]', n], ['shape[1]', k]] as const) {
      if (typeof v !== 'number') throw typeError(fn, name, 'an integer >= 1', v);
      if (!Number.isSafeInteger(v) || v < 1 || v > 2 ** 40) throw rangeError(fn, name, 'an integer from 1 to 2^40', v);
    }
    const N = n as number;
    const K = k as number;
    if (N * K !== src.length) throw rangeError(fn, 'x', `a Float32Array of ${N * K} elements (shape [${N}, ${K}])`, src);
    if ((dtype === 'q8_0' || dtype === 'q4_0') && K % 32 !== 0) throw rangeError(fn, 'shape[1]', `a multiple of 32 for ${dtype}`, K);
    if ((dtype === 'tq1_0' || dtype === 'tq2_0') && K % 256 !== 0) throw rangeError(fn, 'shape[1]', `a multiple of 256 for ${dtype}`, K);
    if (dtype === 'i2_s' && (N * K) % 128 !== 0) throw rangeError(fn, 'shape', 'a shape with n * k a multiple of 128 for i2_s', shape);
    let group: number | undefined;
    let symmetric = true;
    if (dtype === 'i4g') {
      group = o.group ?? 32;
      if (group !== 32 && group !== 64 && group !== 128) throw rangeError(fn, 'group', 'one of 32 | 64 | 128', o.group);
      if (o.symmetric !== undefined && typeof o.symmetric !== 'boolean') throw typeError(fn, 'symmetric', 'a boolean', o.symmetric);
      symmetric = o.symmetric ?? true;
    } else {
      if (o.group !== undefined) throw rangeError(fn, 'group', `undefined for ${dtype} (only i4g is grouped)`, o.group);
      if (o.symmetric !== undefined && o.symmetric !== true) throw rangeError(fn, 'symmetric', `true or undefined for ${dtype}`, o.symmetric);
    }
    const sz = qtensorSizes(dtype, N, K, group);
    return {
      src,
      dtype,
      n: N,
      k: K,
      group,
      symmetric,
      data: new Uint8Array(sz.data),
      scales: sz.scales ? new Float32Array(sz.scales) : null,
      zeroPoints: dtype === 'i4g' && !symmetric ? new Uint8Array(sz.zeroPoints) : null,
      release,
    };
  } catch (e) {
    release();
    throw e;
  }
}

function int8(u: Uint8Array): Int8Array {
  return new Int8Array(u.buffer, u.byteOffset, u.length);
}

function runQuant(p: Plan, sync: boolean): void | Promise<void> {
  const { src, n, k, data, scales, zeroPoints } = p;
  switch (p.dtype) {
    case 'q8_0':
      return sync ? native.quantizeQ8_0Sync(src, data) : native.quantizeQ8_0(src, data);
    case 'q4_0':
      return sync ? native.quantizeQ4_0Sync(src, data) : native.quantizeQ4_0(src, data);
    case 'i8c':
      return sync ? native.quantizeI8cSync(src, n, k, int8(data), scales!) : native.quantizeI8c(src, n, k, int8(data), scales!);
    case 'i4g':
      return sync
        ? native.quantizeI4gSync(src, n, k, p.group!, p.symmetric, data, scales!, zeroPoints)
        : native.quantizeI4g(src, n, k, p.group!, p.symmetric, data, scales!, zeroPoints);
    case 'tq1_0':
    case 'tq2_0':
    case 'i2_s': {
      const id = DTYPES[p.dtype].id;
      return sync ? native.ternaryQuantizeSync(id, src, n, k, data) : native.ternaryQuantize(id, src, n, k, data);
    }
  }
}

function result<D extends QuantizeDType>(p: Plan): QTensor<D> {
  return QTensor.fromParts(p.dtype as D, p.n, p.k, { data: p.data, scales: p.scales, zeroPoints: p.zeroPoints }, p.group);
}

/** Quantizes f32 weights [n, k] into a new QTensor (see the module comment for the rules). */
export function quantizeSync<D extends QuantizeDType>(x: Float32Array | Tensor<'f32'>, opts: QuantizeOptions<D>): QTensor<D> {
  const p = plan('quantizeSync', x, opts);
  try {
    callSync(() => runQuant(p, true));
  } finally {
    p.release();
  }
  return result<D>(p);
}

/** As quantizeSync, off the main thread (argument errors still throw synchronously). */
export function quantize<D extends QuantizeDType>(x: Float32Array | Tensor<'f32'>, opts: QuantizeOptions<D>): Promise<QTensor<D>> {
  const p = plan('quantize', x, opts);
  return callAsync(() => runQuant(p, false) as Promise<void>)
    .finally(p.release)
    .then(() => result<D>(p));
}

function planDequant(fn: string, q: unknown, out: unknown): { w: QTensor; out: Float32Array; release: () => void } {
  if (!(q instanceof QTensor)) throw typeError(fn, 'q', 'a QTensor', q);
  const release = QTensor.acquire(q, fn);
  try {
    const n = q.shape[0] * q.shape[1];
    const o = out === undefined ? new Float32Array(n) : out;
    if (!(o instanceof Float32Array)) throw typeError(fn, 'out', 'a Float32Array', o);
    if (o.length !== n) throw rangeError(fn, 'out', `a Float32Array of ${n} elements`, o);
    return { w: q, out: o, release };
  } catch (e) {
    release();
    throw e;
  }
}

function runDequant(w: QTensor, out: Float32Array, sync: boolean): void | Promise<void> {
  const [n, k] = w.shape;
  const t: QTensorDType = w.dtype;
  const d = w.data;
  switch (t) {
    case 'q8_0':
      return sync ? native.dequantizeQ8_0Sync(d, out) : native.dequantizeQ8_0(d, out);
    case 'q4_0':
      return sync ? native.dequantizeQ4_0Sync(d, out) : native.dequantizeQ4_0(d, out);
    case 'q4_K':
      return sync ? native.dequantizeQ4_KSync(d, out) : native.dequantizeQ4_K(d, out);
    case 'i8c':
      return sync ? native.dequantizeI8cSync(int8(d), w.scales!, n, k, out) : native.dequantizeI8c(int8(d), w.scales!, n, k, out);
    case 'i4g': {
      const zp = w.zeroPoints ?? null;
      return sync
        ? native.dequantizeI4gSync(d, w.scales!, zp, n, k, w.group!, out)
        : native.dequantizeI4g(d, w.scales!, zp, n, k, w.group!, out);
    }
    case 'tq1_0':
    case 'tq2_0':
    case 'i2_s': {
      const id = DTYPES[t].id;
      return sync ? native.ternaryDequantizeSync(id, d, n, k, out) : native.ternaryDequantize(id, d, n, k, out);
    }
  }
}

/** The f32 values of a QTensor, row-major [n * k] (into `out` when given: exactly n * k elements). */
export function dequantizeSync(q: QTensor, out?: Float32Array): Float32Array {
  const p = planDequant('dequantizeSync', q, out);
  try {
    callSync(() => runDequant(p.w, p.out, true));
  } finally {
    p.release();
  }
  return p.out;
}

/** As dequantizeSync, off the main thread. */
export function dequantize(q: QTensor, out?: Float32Array): Promise<Float32Array> {
  const p = planDequant('dequantize', q, out);
  return callAsync(() => runDequant(p.w, p.out, false) as Promise<void>)
    .finally(p.release)
    .then(() => p.out);
}
