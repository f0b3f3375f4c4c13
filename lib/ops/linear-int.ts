/**
 * The integer-only linear layer (issue 6 item 2): int8 / uint8 activations x int8 per-channel weights
 * (an i8c QTensor) + int32 bias -> int8, through a dyadic multiplier per tensor or per output channel:
 *
 *   y[i, r] = sat_i8(requantize(sum_k (x[i, k] - xZp[i]) * wq[r, k] + bias[r], mult[r]) + outZeroPoint)
 *
 * with requantize's rounding rule (lib/ops/dyadic.ts). The requantization runs in the matmul kernels'
 * epilogue (C++ matmul_i8_requant): the int32 accumulators never go through memory. The result equals
 * matmul(w, x, { output: 'i32' }) + bias followed by requantize(...) bit for bit, on every ISA path,
 * packed or not, for any thread count.
 *
 * The multiplier is either given (`multiplier`: m / 2^s = xScale * wScale[r] / outScale) or derived
 * here from `xScale` and `outScale` and the weights' own per-channel scales with dyadicFromScale.
 */
import { native, type NativePacked } from '../binding.js';
import { BitflashDisposedError, callAsync, callSync } from '../errors.js';
import { PackedWeights, QTensor, Tensor } from '../tensor.js';
import { expectInt, rangeError, typeError } from '../validate.js';
import { checkDyadic, dyadicFromScale, type Dyadic } from './dyadic.js';

export interface LinearIntOptions {
  /**
   * One Dyadic (per tensor) or n (per output channel): the real factor xScale * wScale[r] / outScale.
   * Omit it to derive it from xScale and outScale.
   */
  multiplier?: Dyadic | readonly Dyadic[];
  /** Scale of one activation unit; with outScale, replaces multiplier (per channel, from w's scales). */
  xScale?: number;
  /** Scale of one output unit; see xScale. */
  outScale?: number;
  /** n int32 values in accumulator units (xScale * wScale[r]), |bias| < 2^23. Default none. */
  bias?: Int32Array;
  /** Activation zero point: one for all rows or an Int32Array of m (i8: -128..127, u8: 0..255). Default 0. */
  xZeroPoint?: number | Int32Array;
  /** Output zero point, -128..127. Default 0. */
  outZeroPoint?: number;
  /** Reused output buffer: an Int8Array of exactly m * n elements. */
  out?: Int8Array;
  /** false: ignore the cached packed weights (default true: use them when m >= gemmMinM). */
  pack?: boolean;
}

export type Int8Input = Int8Array | Uint8Array | Tensor<'i8'> | Tensor<'u8'> | Tensor<'i8' | 'u8'>;

interface Plan {
  w: ReturnType<typeof QTensor.native>;
  packed: NativePacked | null;
  x: Int8Array | Uint8Array;
  m: number;
  ldx: number;
  n: number;
  zp: Int32Array | null;
  bias: Int32Array | null;
  ms: Int32Array;
  ss: Int32Array;
  outZp: number;
  y: Int8Array;
  release: () => void;
}

function plan(fn: string, wIn: unknown, x: unknown, o: unknown): Plan {
  if (!(wIn instanceof QTensor)) throw typeError(fn, 'w', 'an i8c QTensor', wIn);
  const w = wIn as QTensor;
  if (w.dtype !== 'i8c') throw new RangeError(`${fn}: w must be a QTensor of dtype i8c, received a QTensor of dtype ${w.dtype}`);
  if (typeof o !== 'object' || o === null) throw typeError(fn, 'options', 'an object with a multiplier or xScale and outScale', o);
  const opts = o as LinearIntOptions;
  const [n, k] = w.shape;
  if (k > 65536) throw rangeError(fn, 'w', 'a QTensor with k <= 65536 (int32 accumulators)', k);
  if (opts.pack !== undefined && typeof opts.pack !== 'boolean') throw typeError(fn, 'pack', 'a boolean', opts.pack);
  const nw = QTensor.native(w, fn); // throws BitflashDisposedError on a disposed w

  // activations: flat data, rows, row stride
  let xs: Int8Array | Uint8Array;
  let m: number;
  let ldx: number;
  let xTensor: Tensor | null = null;
  if (x instanceof Int8Array || x instanceof Uint8Array) {
    if (x.length === 0 || x.length % k !== 0)
      throw rangeError(fn, 'x', `an Int8Array or Uint8Array whose length is a positive multiple of k = ${k}`, x);
    xs = x;
    m = x.length / k;
    ldx = k;
  } else if (x instanceof Tensor) {
    if (x.dtype !== 'i8' && x.dtype !== 'u8') throw typeError(fn, 'x', 'an Int8Array, a Uint8Array or an i8 / u8 Tensor', `Tensor ${x.dtype}` as unknown);
    if (x.disposed) throw new BitflashDisposedError(`${fn}: x is disposed`);
    if (x.ndim !== 1 && x.ndim !== 2) throw rangeError(fn, 'x', 'a Tensor [m, k] or [k]', `shape [${x.shape.join(', ')}]` as unknown);
    if (x.shape[x.ndim - 1] !== k)
      throw rangeError(fn, 'x', `a Tensor with k = ${k} columns (w is [${n}, ${k}])`, `shape [${x.shape.join(', ')}]` as unknown);
    m = x.ndim === 2 ? x.shape[0]! : 1;
    if (m < 1) throw rangeError(fn, 'x', 'a Tensor with at least one row', `shape [${x.shape.join(', ')}]` as unknown);
    ldx = x.ndim === 2 ? x.strides[0]! : k;
    if (m === 1) ldx = Math.max(ldx, k);
    if (ldx < k) throw rangeError(fn, 'x', 'a Tensor whose rows do not overlap', `row stride ${ldx}` as unknown);
    xs = (x.data as Int8Array | Uint8Array).subarray(x.offset, x.offset + (m - 1) * ldx + k);
    xTensor = x;
  } else {
    throw typeError(fn, 'x', 'an Int8Array, a Uint8Array or an i8 / u8 Tensor', x);
  }
  const unsigned = xs instanceof Uint8Array;

  // multipliers
  let list: Dyadic[];
  if (opts.multiplier !== undefined) {
    if (opts.xScale !== undefined || opts.outScale !== undefined)
      throw rangeError(fn, 'xScale', 'undefined when a multiplier is given', opts.xScale ?? opts.outScale);
    const mult = opts.multiplier;
    list = Array.isArray(mult) ? (mult as unknown[]).map((d, i) => checkDyadic(fn, `multiplier[${i}]`, d)) : [checkDyadic(fn, 'multiplier', mult)];
    if (list.length !== 1 && list.length !== n)
      throw rangeError(fn, 'multiplier', `one Dyadic (per tensor) or ${n} (one per output channel)`, `${list.length} Dyadics` as unknown);
  } else {
    const sx = positive(fn, 'xScale', opts.xScale);
    const sy = positive(fn, 'outScale', opts.outScale);
    const ws = nw.scales!;
    list = Array.from(ws, (sw, r) => {
      const f = (sx * sw) / sy;
      if (!(Math.abs(f) < 2 ** 31)) throw rangeError(fn, 'xScale', `scales whose ratio xScale * wScale / outScale stays below 2^31 (channel ${r})`, f);
      return dyadicFromScale(f);
    });
  }

  let zp: Int32Array | null = null;
  const [zlo, zhi] = unsigned ? [0, 255] : [-128, 127];
  if (opts.xZeroPoint !== undefined) {
    if (typeof opts.xZeroPoint === 'number') {
      const z = expectInt(fn, 'xZeroPoint', opts.xZeroPoint, zlo, zhi);
      if (z !== 0) zp = new Int32Array(m).fill(z);
    } else if (opts.xZeroPoint instanceof Int32Array) {
      if (opts.xZeroPoint.length !== m) throw rangeError(fn, 'xZeroPoint', `a number or an Int32Array of ${m} elements (one per row)`, opts.xZeroPoint);
      for (let i = 0; i < m; i++) expectInt(fn, `xZeroPoint[${i}]`, opts.xZeroPoint[i], zlo, zhi);
      zp = opts.xZeroPoint;
    } else {
      throw typeError(fn, 'xZeroPoint', 'a number or an Int32Array', opts.xZeroPoint);
    }
  }
  let bias: Int32Array | null = null;
  if (opts.bias !== undefined) {
    if (!(opts.bias instanceof Int32Array)) throw typeError(fn, 'bias', 'an Int32Array', opts.bias);
    if (opts.bias.length !== n) throw rangeError(fn, 'bias', `an Int32Array of ${n} elements (one per output channel)`, opts.bias);
    for (let r = 0; r < n; r++) expectInt(fn, `bias[${r}]`, opts.bias[r], -(2 ** 23) + 1, 2 ** 23 - 1);
    bias = opts.bias;
  }
  const outZp = opts.outZeroPoint === undefined ? 0 : expectInt(fn, 'outZeroPoint', opts.outZeroPoint, -128, 127);
  let y: Int8Array;
  if (opts.out === undefined) y = new Int8Array(m * n);
  else {
    if (!(opts.out instanceof Int8Array)) throw typeError(fn, 'out', 'an Int8Array', opts.out);
    if (opts.out.length !== m * n) throw rangeError(fn, 'out', `an Int8Array of ${m * n} elements (m = ${m}, n = ${n})`, opts.out);
    y = opts.out;
  }

  const pk = opts.pack === false || !w.packed ? null : PackedWeights.handle(w.packed);
  const rw = QTensor.acquire(w, fn);
  const rx = xTensor ? Tensor.acquire(xTensor, fn) : null;
  return {
    w: nw,
    packed: pk,
    x: xs,
    m,
    ldx,
    n,
    zp,
    bias,
    ms: Int32Array.from(list, (d) => d.m),
    ss: Int32Array.from(list, (d) => d.s),
    outZp,
    y,
    release: () => {
      rw();
      rx?.();
    },
  };
}

function positive(fn: string, arg: string, v: unknown): number {
  if (typeof v !== 'number') throw typeError(fn, arg, 'a positive finite number (or give multiplier)', v);
  if (!(Number.isFinite(v) && v > 0)) throw rangeError(fn, arg, 'a positive finite number', v);
  return v;
}

/** The fused int8 linear layer on the calling thread; see the module comment. */
export function linearIntSync(w: QTensor, x: Int8Input, options: LinearIntOptions): Int8Array {
  const p = plan('linearIntSync', w, x, options);
  try {
    callSync(() => native.linearIntSync(p.w, p.packed, p.x, p.m, p.ldx, p.zp, p.bias, p.ms, p.ss, p.outZp, p.y, p.n));
  } finally {
    p.release();
  }
  return p.y;
}

/** As linearIntSync, off the main thread. Argument errors throw synchronously. */
export function linearInt(w: QTensor, x: Int8Input, options: LinearIntOptions): Promise<Int8Array> {
  const p = plan('linearInt', w, x, options);
  return callAsync(() => native.linearInt(p.w, p.packed, p.x, p.m, p.ldx, p.zp, p.bias, p.ms, p.ss, p.outZp, p.y, p.n))
    .finally(p.release)
    .then(() => p.y);
}
