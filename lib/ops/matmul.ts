/**
 * Low-bit matmul: y[m, n] = x[m, k] * w[n, k]^T with w a QTensor (q8_0, q4_0, i8c, i4g).
 *
 * Activations:
 *   - f32 (a Float32Array [m * k] or an f32 Tensor [m, k] / [k], row-strided views allowed): quantized
 *     on the fly in C++ per block of 32 (absmax int8, f32 scale), then integer dot products; y is f32.
 *   - int8 / uint8 (an i8 or u8 Tensor) with per-row scales `xScales` (and optional `xZeroPoints`):
 *     the real value of x[i, j] is xScales[i] * (x[i, j] - xZeroPoints[i]); y is f32.
 *   - `{ output: 'i32' }` with i8c weights and an i8 / u8 Tensor: the raw int32 accumulators
 *     sum_k x * wq, exact (k <= 65536).
 * Packed weights (see pack()) are used automatically when m >= matmulInfo().gemmMinM, unless
 * `pack: false`. Results do not depend on the thread count; float results may differ between ISA
 * paths and between packed / unpacked within the bound matmulTolerance() states; integer results never do.
 */
import { native, type NativePacked } from '../binding.js';
import { BitflashDisposedError, callAsync, callSync } from '../errors.js';
import { PackedWeights, QTensor, Tensor, checkScales, isTernaryDType, type MatmulDType, type TernaryDType } from '../tensor.js';
import { planTernary, ternaryMatmulAsyncImpl, ternaryMatmulSyncImpl, type TernaryMatmulOptions } from './ternary.js';
import { rangeError, typeError } from '../validate.js';

const MATMUL_TYPES: readonly string[] = ['q8_0', 'q4_0', 'i8c', 'i4g'];

export interface MatmulOptions {
  output?: 'f32';
  /** Reused output buffer: a Float32Array of exactly m * n elements. */
  out?: Float32Array;
  /** false: ignore the cached packed weights (default true: use them when m >= gemmMinM). */
  pack?: boolean;
}

export interface MatmulQ8Options extends MatmulOptions {
  /** Per-row scales of the int8 / uint8 activations: m finite values >= 0. */
  xScales: Float32Array;
  /** Per-row zero points (i8: -128..127, u8: 0..255); absent: 0. */
  xZeroPoints?: Int32Array;
}

export interface MatmulI32Options {
  output: 'i32';
  /** Reused output buffer: an Int32Array of exactly m * n elements. */
  out?: Int32Array;
  pack?: boolean;
}

export type Int8Tensor = Tensor<'i8'> | Tensor<'u8'> | Tensor<'i8' | 'u8'>;
export type F32Input = Float32Array | Tensor<'f32'>;

type Call =
  | { mode: 'f32'; x: Float32Array; out: Float32Array }
  | { mode: 'q8'; x: Int8Array | Uint8Array; xScales: Float32Array; xZeroPoints: Int32Array | null; out: Float32Array }
  | { mode: 'i32'; x: Int8Array | Uint8Array; out: Int32Array };

interface Plan {
  call: Call;
  w: ReturnType<typeof QTensor.native>;
  packed: NativePacked | null;
  m: number;
  ldx: number;
  n: number;
  release: () => void;
}

function weights(fn: string, w: unknown): QTensor {
  if (!(w instanceof QTensor)) throw typeError(fn, 'w', 'a QTensor', w);
  if (!MATMUL_TYPES.includes(w.dtype))
    throw new RangeError(`${fn}: w must be a QTensor of dtype ${MATMUL_TYPES.join(' | ')}, received a QTensor of dtype ${w.dtype}`);
  return w;
}

function plan(fn: string, wIn: unknown, x: unknown, optsIn: unknown): Plan {
  const w = weights(fn, wIn);
  if (optsIn !== undefined && (typeof optsIn !== 'object' || optsIn === null)) throw typeError(fn, 'options', 'an object', optsIn);
  const opts = (optsIn ?? {}) as Partial<MatmulQ8Options> & { output?: string; out?: unknown };
  const [n, k] = w.shape;
  const output: string = (opts as { output?: string }).output ?? 'f32';
  if (output !== 'f32' && output !== 'i32') throw rangeError(fn, 'output', "one of 'f32' | 'i32'", opts.output);
  if (opts.pack !== undefined && typeof opts.pack !== 'boolean') throw typeError(fn, 'pack', 'a boolean', opts.pack);
  const nw = QTensor.native(w, fn); // throws BitflashDisposedError on a disposed w

  // activations: a flat array, its row count, its row stride
  let xs: Float32Array | Int8Array | Uint8Array;
  let m: number;
  let ldx: number;
  let xTensor: Tensor | null = null;
  if (x instanceof Float32Array) {
    if (x.length === 0 || x.length % k !== 0) throw rangeError(fn, 'x', `a Float32Array whose length is a positive multiple of k = ${k}`, x);
    xs = x;
    m = x.length / k;
    ldx = k;
  } else if (x instanceof Tensor) {
    if (x.dtype !== 'f32' && x.dtype !== 'i8' && x.dtype !== 'u8')
      throw typeError(fn, 'x', 'a Float32Array or an f32, i8 or u8 Tensor', `Tensor ${x.dtype}` as unknown);
    if (x.disposed) throw new BitflashDisposedError(`${fn}: x is disposed`);
    if (x.ndim !== 1 && x.ndim !== 2) throw rangeError(fn, 'x', 'a Tensor [m, k] or [k]', `shape [${x.shape.join(', ')}]` as unknown);
    const kx = x.shape[x.ndim - 1]!;
    if (kx !== k) throw rangeError(fn, 'x', `a Tensor with k = ${k} columns (w is [${n}, ${k}])`, `shape [${x.shape.join(', ')}]` as unknown);
    m = x.ndim === 2 ? x.shape[0]! : 1;
    if (m < 1) throw rangeError(fn, 'x', 'a Tensor with at least one row', `shape [${x.shape.join(', ')}]` as unknown);
    ldx = x.ndim === 2 ? x.strides[0]! : k;
    if (m === 1) ldx = Math.max(ldx, k);
    const span = (m - 1) * ldx + k;
    xs = (x.data as Float32Array | Int8Array | Uint8Array).subarray(x.offset, x.offset + span);
    xTensor = x;
  } else {
    throw typeError(fn, 'x', 'a Float32Array or a Tensor', x);
  }

  let call: Call;
  const isInt = !(xs instanceof Float32Array);
  if (output === 'i32') {
    if (!isInt) throw typeError(fn, 'x', "an i8 or u8 Tensor for output 'i32'", x);
    if (w.dtype !== 'i8c') throw new RangeError(`${fn}: w must be a QTensor of dtype i8c for output 'i32', received a QTensor of dtype ${w.dtype}`);
    if (k > 65536) throw rangeError(fn, 'w', "a QTensor with k <= 65536 for output 'i32' (int32 accumulators)", k);
    if (opts.xScales !== undefined || opts.xZeroPoints !== undefined)
      throw rangeError(fn, 'xScales', "undefined for output 'i32' (raw accumulators)", opts.xScales ?? opts.xZeroPoints);
    const out = opts.out === undefined ? new Int32Array(m * n) : opts.out;
    if (!(out instanceof Int32Array)) throw typeError(fn, 'out', "an Int32Array for output 'i32'", out);
    if (out.length !== m * n) throw rangeError(fn, 'out', `an Int32Array of ${m * n} elements (m = ${m}, n = ${n})`, out);
    call = { mode: 'i32', x: xs as Int8Array | Uint8Array, out };
  } else {
    const out = opts.out === undefined ? new Float32Array(m * n) : opts.out;
    if (!(out instanceof Float32Array)) throw typeError(fn, 'out', 'a Float32Array', out);
    if (out.length !== m * n) throw rangeError(fn, 'out', `a Float32Array of ${m * n} elements (m = ${m}, n = ${n})`, out);
    if (!isInt) {
      if (opts.xScales !== undefined || opts.xZeroPoints !== undefined)
        throw rangeError(fn, 'xScales', 'undefined for f32 activations', opts.xScales ?? opts.xZeroPoints);
      call = { mode: 'f32', x: xs as Float32Array, out };
    } else {
      const s = opts.xScales;
      if (!(s instanceof Float32Array)) throw typeError(fn, 'xScales', 'a Float32Array of per-row scales for int8 / uint8 activations', s);
      if (s.length !== m) throw rangeError(fn, 'xScales', `a Float32Array of ${m} elements (one per row)`, s);
      checkScales(fn, s, true, 'xScales');
      let zp: Int32Array | null = null;
      if (opts.xZeroPoints !== undefined) {
        zp = opts.xZeroPoints;
        if (!(zp instanceof Int32Array)) throw typeError(fn, 'xZeroPoints', 'an Int32Array', zp);
        if (zp.length !== m) throw rangeError(fn, 'xZeroPoints', `an Int32Array of ${m} elements (one per row)`, zp);
        const [lo, hi] = xs instanceof Uint8Array ? [0, 255] : [-128, 127];
        for (let i = 0; i < m; i++)
          if (zp[i]! < lo || zp[i]! > hi) throw rangeError(fn, `xZeroPoints[${i}]`, `an integer from ${lo} to ${hi}`, zp[i]);
      }
      call = { mode: 'q8', x: xs as Int8Array | Uint8Array, xScales: s, xZeroPoints: zp, out };
    }
  }

  const pk = opts.pack === false || !w.packed ? null : PackedWeights.handle(w.packed);
  // mark w and x as used by this call (dispose defers the release until it settles)
  const rw = QTensor.acquire(w, fn);
  const rx = xTensor ? Tensor.acquire(xTensor, fn) : null;
  return {
    call,
    w: nw,
    packed: pk,
    m,
    ldx,
    n,
    release: () => {
      rw();
      rx?.();
    },
  };
}

function run(p: Plan, sync: boolean): void | Promise<void> {
  const { call: c, w, packed, m, ldx, n } = p;
  switch (c.mode) {
    case 'f32':
      return sync ? native.matmulF32Sync(w, packed, c.x, m, ldx, c.out, n) : native.matmulF32(w, packed, c.x, m, ldx, c.out, n);
    case 'q8':
      return sync
        ? native.matmulQ8Sync(w, packed, c.x, m, ldx, c.xScales, c.xZeroPoints, c.out, n)
        : native.matmulQ8(w, packed, c.x, m, ldx, c.xScales, c.xZeroPoints, c.out, n);
    case 'i32':
      return sync ? native.matmulI32Sync(w, packed, c.x, m, ldx, c.out, n) : native.matmulI32(w, packed, c.x, m, ldx, c.out, n);
  }
}

/** y = x * w^T, off the main thread. Argument errors throw synchronously; see the module comment. */
export function matmul(w: QTensor<TernaryDType>, x: F32Input, opts?: TernaryMatmulOptions): Promise<Float32Array>;
export function matmul(w: QTensor, x: Int8Tensor, opts: MatmulI32Options): Promise<Int32Array>;
export function matmul(w: QTensor, x: Int8Tensor, opts: MatmulQ8Options): Promise<Float32Array>;
export function matmul(w: QTensor, x: F32Input, opts?: MatmulOptions): Promise<Float32Array>;
export function matmul(
  w: QTensor,
  x: F32Input | Int8Tensor,
  opts?: MatmulOptions | MatmulQ8Options | MatmulI32Options | TernaryMatmulOptions,
): Promise<Float32Array | Int32Array> {
  if (w instanceof QTensor && isTernaryDType(w.dtype)) return ternaryMatmulAsyncImpl(planTernary('matmul', w, x, opts));
  const p = plan('matmul', w, x, opts);
  return callAsync(() => run(p, false) as Promise<void>)
    .finally(p.release)
    .then(() => p.call.out);
}

/** y = x * w^T on the calling thread (small calls, no Promise overhead). */
export function matmulSync(w: QTensor<TernaryDType>, x: F32Input, opts?: TernaryMatmulOptions): Float32Array;
export function matmulSync(w: QTensor, x: Int8Tensor, opts: MatmulI32Options): Int32Array;
export function matmulSync(w: QTensor, x: Int8Tensor, opts: MatmulQ8Options): Float32Array;
export function matmulSync(w: QTensor, x: F32Input, opts?: MatmulOptions): Float32Array;
export function matmulSync(
  w: QTensor,
  x: F32Input | Int8Tensor,
  opts?: MatmulOptions | MatmulQ8Options | MatmulI32Options | TernaryMatmulOptions,
): Float32Array | Int32Array {
  if (w instanceof QTensor && isTernaryDType(w.dtype)) return ternaryMatmulSyncImpl(planTernary('matmulSync', w, x, opts));
  const p = plan('matmulSync', w, x, opts);
  try {
    callSync(() => run(p, true));
  } finally {
    p.release();
  }
  return p.call.out;
}

function packPlan(fn: string, wIn: unknown): QTensor {
  const w = weights(fn, wIn);
  QTensor.native(w, fn);
  return w;
}

function adopt(w: QTensor, h: NativePacked): PackedWeights {
  const p = new PackedWeights(h, () => {
    if (w.packed === p) QTensor.setPacked(w, undefined);
  });
  QTensor.setPacked(w, p);
  return p;
}

/**
 * Packs w into the GEMM tile layout (native memory, ISA independent) and caches it on w; later matmul
 * calls with m >= gemmMinM use it. Returns the cached pack when there is one. Freed by w.dispose() or
 * by the returned handle's dispose().
 */
export function packSync(w: QTensor): PackedWeights {
  const q = packPlan('packSync', w);
  if (q.packed) return q.packed;
  const h = callSync(() => native.packWeightsSync(QTensor.native(q, 'packSync')));
  return adopt(q, h);
}

/** As packSync, off the main thread (concurrent calls on one w share the work). */
export function pack(w: QTensor): Promise<PackedWeights> {
  const q = packPlan('pack', w);
  if (q.packed) return Promise.resolve(q.packed);
  const inflight = QTensor.packing(q);
  if (inflight) return inflight;
  const release = QTensor.acquire(q, 'pack');
  const p = callAsync(() => native.packWeights(QTensor.native(q, 'pack')))
    .then((h) => {
      if (q.disposed) {
        native.freePacked(h); // disposed while packing: nothing to cache it on
        throw new BitflashDisposedError('pack: w was disposed while it was being packed');
      }
      return q.packed ?? adopt(q, h);
    })
    .finally(() => {
      QTensor.setPacking(q, undefined);
      release();
    });
  QTensor.setPacking(q, p);
  return p;
}

export interface MatmulInfo {
  /** m from which packed weights are used. */
  gemmMinM: number;
  /** The kernel each weight dtype runs now (given the CPU and the ISA cap), per path. */
  kernels: Record<MatmulDType, { gemv: string; gemm: string }>;
}

export function matmulInfo(): MatmulInfo {
  return native.matmulInfo();
}

/**
 * The bound the float outputs keep against an exact (f64) evaluation of the same integer blocks, for one
 * output with nb blocks of 32 along k and s = sum_b |dw_b * dx_b * isum_b| (see cpp/include/bitflash/matmul.h).
 */
export function matmulTolerance(nb: number, s: number): number {
  return native.matmulTolerance(nb, s);
}
