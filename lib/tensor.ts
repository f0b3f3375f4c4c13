/**
 * Tensors: `Tensor` (plain values: activations, outputs) and `QTensor` (quantized weights).
 *
 * A Tensor is a view over a TypedArray: `shape`, `strides` (in elements) and `offset` (elements from
 * the start of `data`). Views are contiguous or row-strided: the last stride is 1 and each outer stride
 * spans at least the inner extent, so rows never overlap. `slice` and `view` make new views of the same
 * storage, without copying.
 *
 * Lifetime (both classes): `dispose()` (or `using`) makes every later use throw BitflashDisposedError at
 * once. The memory itself is released when no async call is using the tensor any more: a tensor passed
 * to a pending call (matmul, quantize, ...) is only released after that call settles, so a dispose never
 * pulls bytes from under a running kernel (the rule is "defer", never "throw"). Disposing a root tensor
 * disposes its views too; disposing a view leaves the root alive. A QTensor's packed weights are native
 * memory, freed by dispose (or by `w.packed.dispose()`); the other bytes are JS memory whose references
 * are dropped on dispose so the collector can take them.
 */
import { native, type NativePacked, type NativeTernaryPacked, type NativeWeights } from './binding.js';
import { DTYPES } from './dtypes.js';
import { BitflashDisposedError } from './errors.js';
import { rangeError, typeError } from './validate.js';

export type TensorDType = 'f32' | 'f16' | 'i8' | 'u8' | 'i32';
/** The TypedArray of each Tensor dtype (f16 is held as raw IEEE half bits). */
export interface TensorArrays {
  f32: Float32Array;
  f16: Uint16Array;
  i8: Int8Array;
  u8: Uint8Array;
  i32: Int32Array;
}
export type ArrayOf<D extends TensorDType> = TensorArrays[D];
export type TensorArray = TensorArrays[TensorDType];
/** The dtype a TypedArray maps to (Uint16Array: f16 bits). */
export type DTypeOf<A extends TensorArray> = A extends Float32Array
  ? 'f32'
  : A extends Uint16Array
    ? 'f16'
    : A extends Int8Array
      ? 'i8'
      : A extends Uint8Array
        ? 'u8'
        : A extends Int32Array
          ? 'i32'
          : never;

const CTORS = {
  f32: Float32Array,
  f16: Uint16Array,
  i8: Int8Array,
  u8: Uint8Array,
  i32: Int32Array,
} as const;

function dtypeOfArray(fn: string, arg: string, a: unknown): TensorDType {
  // Exact constructor checks: a Uint8ClampedArray or a Buffer subclass is fine only if it *is* the class.
  if (a instanceof Float32Array) return 'f32';
  if (a instanceof Uint16Array) return 'f16';
  if (a instanceof Int8Array) return 'i8';
  if (a instanceof Uint8Array) return 'u8';
  if (a instanceof Int32Array) return 'i32';
  throw typeError(fn, arg, 'a Float32Array, Uint16Array (f16), Int8Array, Uint8Array or Int32Array', a);
}

/**
 * Disposal state of one object: disposed now, released when the last pending call settles.
 * @internal
 */
export class Lifetime {
  #disposed = false;
  #pending = 0;
  #released = false;
  readonly #release: () => void;
  constructor(release: () => void) {
    this.#release = release;
  }
  get disposed(): boolean {
    return this.#disposed;
  }
  get pending(): number {
    return this.#pending;
  }
  get released(): boolean {
    return this.#released;
  }
  check(fn: string, what: string): void {
    if (this.#disposed) throw new BitflashDisposedError(`${fn}: ${what} is disposed`);
  }
  /** Marks one pending use; the returned function ends it (idempotent). */
  acquire(): () => void {
    this.#pending++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#pending--;
      this.#maybeRelease();
    };
  }
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#maybeRelease();
  }
  #maybeRelease(): void {
    if (this.#disposed && this.#pending === 0 && !this.#released) {
      this.#released = true;
      this.#release();
    }
  }
}

function checkDim(fn: string, arg: string, v: unknown, min: number): number {
  if (typeof v !== 'number') throw typeError(fn, arg, `an integer >= ${min}`, v);
  if (!Number.isSafeInteger(v) || v < min) throw rangeError(fn, arg, `an integer >= ${min}`, v);
  return v;
}

function checkShape(fn: string, arg: string, shape: unknown, minDim = 0): number[] {
  if (!Array.isArray(shape)) throw typeError(fn, arg, 'an array of integers', shape);
  if (shape.length < 1 || shape.length > 8) throw rangeError(fn, arg, 'an array of 1 to 8 integers', shape);
  return shape.map((d, i) => checkDim(fn, `${arg}[${i}]`, d, minDim));
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export interface TensorViewOptions {
  /** Strides in elements (default: contiguous). The last must be 1; rows must not overlap. */
  strides?: readonly number[];
  /** Elements from the start of `data` to element [0, 0, ...] (default 0). */
  offset?: number;
}

interface Store<D extends TensorDType> {
  data: ArrayOf<D> | null;
}

/** A dense or row-strided view over a TypedArray. */
export class Tensor<D extends TensorDType = TensorDType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly #store: Store<D>;
  readonly #root: Lifetime;
  readonly #own: Lifetime;

  private constructor(dtype: D, store: Store<D>, root: Lifetime | null, shape: number[], strides: number[], offset: number) {
    this.dtype = dtype;
    this.#store = store;
    this.shape = Object.freeze(shape);
    this.strides = Object.freeze(strides);
    this.offset = offset;
    if (root) {
      this.#root = root;
      this.#own = new Lifetime(() => {});
    } else {
      this.#own = new Lifetime(() => {
        store.data = null;
      });
      this.#root = this.#own;
    }
  }

  /** Wraps `data` without copying (shape default [data.length]; offset and strides in elements). */
  static from<A extends TensorArray>(data: A, shape?: readonly number[], opts: TensorViewOptions = {}): Tensor<DTypeOf<A>> {
    const fn = 'Tensor.from';
    const dtype = dtypeOfArray(fn, 'data', data) as DTypeOf<A>;
    const shp = shape === undefined ? [data.length] : checkShape(fn, 'shape', shape);
    const offset = opts.offset === undefined ? 0 : checkDim(fn, 'offset', opts.offset, 0);
    const strides = opts.strides === undefined ? contiguousStrides(shp) : Tensor.#checkStrides(fn, shp, opts.strides);
    Tensor.#checkFits(fn, data.length, shp, strides, offset);
    return new Tensor(dtype, { data: data as unknown as ArrayOf<DTypeOf<A>> }, null, shp, strides, offset);
  }

  /** A new zero-filled contiguous tensor. */
  static zeros<T extends TensorDType>(dtype: T, shape: readonly number[]): Tensor<T> {
    const fn = 'Tensor.zeros';
    if (typeof dtype !== 'string' || !(dtype in CTORS)) throw rangeError(fn, 'dtype', 'one of f32 | f16 | i8 | u8 | i32', dtype);
    const shp = checkShape(fn, 'shape', shape);
    const data = new CTORS[dtype](product(shp)) as ArrayOf<T>;
    return new Tensor(dtype, { data }, null, shp, contiguousStrides(shp), 0);
  }

  static #checkStrides(fn: string, shape: readonly number[], strides: unknown): number[] {
    if (!Array.isArray(strides) || strides.length !== shape.length)
      throw typeError(fn, 'strides', `an array of ${shape.length} integers`, strides);
    const s = strides.map((v, i) => checkDim(fn, `strides[${i}]`, v, 0));
    if (s[s.length - 1] !== 1) throw rangeError(fn, `strides[${s.length - 1}]`, '1 (rows are contiguous)', s[s.length - 1]);
    for (let i = s.length - 2; i >= 0; i--) {
      const inner = (shape[i + 1]! - 1) * s[i + 1]! + 1;
      if (shape[i]! > 1 && s[i]! < inner) throw rangeError(fn, `strides[${i}]`, `an integer >= ${inner} (rows must not overlap)`, s[i]);
    }
    return s;
  }

  static #checkFits(fn: string, length: number, shape: readonly number[], strides: readonly number[], offset: number): void {
    if (product(shape) === 0) {
      if (offset > length) throw rangeError(fn, 'offset', `an integer <= ${length}`, offset);
      return;
    }
    const last = offset + shape.reduce((acc, d, i) => acc + (d - 1) * strides[i]!, 0);
    if (last >= length) throw rangeError(fn, 'data', `a TypedArray of at least ${last + 1} elements for this view`, length);
  }

  /** The backing TypedArray (all of it; the view starts at `offset`). */
  get data(): ArrayOf<D> {
    this.#check('Tensor.data');
    return this.#store.data!;
  }
  /** Number of elements in the view. */
  get size(): number {
    return product(this.shape);
  }
  get ndim(): number {
    return this.shape.length;
  }
  get isContiguous(): boolean {
    const c = contiguousStrides(this.shape);
    return this.shape.every((d, i) => d <= 1 || this.strides[i] === c[i]);
  }
  get disposed(): boolean {
    return this.#own.disposed || this.#root.disposed;
  }

  /** Rows [start, end) along the first dimension, as a view (no copy). Negative indices count from the end. */
  slice(start: number, end: number = this.shape[0]!): Tensor<D> {
    const fn = 'Tensor.slice';
    this.#check(fn);
    const n = this.shape[0]!;
    if (typeof start !== 'number' || !Number.isInteger(start)) throw typeError(fn, 'start', 'an integer', start);
    if (typeof end !== 'number' || !Number.isInteger(end)) throw typeError(fn, 'end', 'an integer', end);
    const s = start < 0 ? n + start : start;
    const e = end < 0 ? n + end : end;
    if (s < 0 || s > n) throw rangeError(fn, 'start', `an integer from ${-n} to ${n}`, start);
    if (e < s || e > n) throw rangeError(fn, 'end', `an integer from ${s} to ${n}`, end);
    const shape = [e - s, ...this.shape.slice(1)];
    return new Tensor(this.dtype, this.#store, this.#root, shape, [...this.strides], this.offset + s * this.strides[0]!);
  }

  /** The same elements with a new shape (contiguous tensors only; no copy). */
  view(shape: readonly number[]): Tensor<D> {
    const fn = 'Tensor.view';
    this.#check(fn);
    const shp = checkShape(fn, 'shape', shape);
    if (product(shp) !== this.size) throw rangeError(fn, 'shape', `a shape of ${this.size} elements`, shape);
    if (!this.isContiguous) throw rangeError(fn, 'this', 'a contiguous tensor (use contiguous() first)', this);
    return new Tensor(this.dtype, this.#store, this.#root, shp, contiguousStrides(shp), this.offset);
  }

  /** The elements in row-major order: a subarray when contiguous (no copy), else a copy. */
  contiguous(): ArrayOf<D> {
    const fn = 'Tensor.contiguous';
    this.#check(fn);
    const data = this.#store.data!;
    if (this.isContiguous) return data.subarray(this.offset, this.offset + this.size) as ArrayOf<D>;
    const out = new CTORS[this.dtype](this.size) as ArrayOf<D>;
    const inner = this.shape[this.shape.length - 1]!;
    const rows = this.size / Math.max(inner, 1);
    for (let r = 0; r < rows; r++) {
      let off = this.offset;
      let rem = r;
      for (let d = this.shape.length - 2; d >= 0; d--) {
        off += (rem % this.shape[d]!) * this.strides[d]!;
        rem = Math.floor(rem / this.shape[d]!);
      }
      (out as Int8Array).set((data as Int8Array).subarray(off, off + inner), r * inner);
    }
    return out;
  }

  dispose(): void {
    this.#own.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }

  #check(fn: string): void {
    this.#own.check(fn, 'the tensor');
    this.#root.check(fn, 'the tensor (its storage)');
  }

  /**
   * For ops: checks the tensor is alive and marks it used by a pending call; the returned function
   * ends that use. @internal
   */
  static acquire(t: Tensor, fn: string): () => void {
    t.#check(fn);
    const a = t.#own.acquire();
    const b = t.#root === t.#own ? null : t.#root.acquire();
    return () => {
      a();
      b?.();
    };
  }

  /** For tests: whether the storage was released (disposed and no pending call). @internal */
  static released(t: Tensor): boolean {
    return t.#root.released;
  }
}

// ----------------------------------------------------------------------------------------------------
// QTensor

export type QTensorDType = 'q8_0' | 'q4_0' | 'q4_K' | 'i8c' | 'i4g' | TernaryDType;
/** Ternary (1.58-bit) weight formats: GGUF TQ1_0 / TQ2_0 and bitnet.cpp's I2_S. */
export type TernaryDType = 'tq1_0' | 'tq2_0' | 'i2_s';
export const TERNARY_DTYPES: readonly TernaryDType[] = ['tq1_0', 'tq2_0', 'i2_s'];
export function isTernaryDType(d: unknown): d is TernaryDType {
  return d === 'tq1_0' || d === 'tq2_0' || d === 'i2_s';
}
/** The two ternary kernel families: multiply-add over 2-bit codes, and table lookup. */
export type TernaryFamily = 'mad' | 'lut';
/** Weight types matmul runs (q4_K is read-only: dequantize). */
export type MatmulDType = 'q8_0' | 'q4_0' | 'i8c' | 'i4g';
export type I4Group = 32 | 64 | 128;

interface QParts {
  data: Uint8Array | null;
  scales: Float32Array | null;
  zeroPoints: Uint8Array | null;
}

/** Byte layout sizes of a quantized [n, k] matrix. */
export function qtensorSizes(dtype: QTensorDType, n: number, k: number, group?: number): { data: number; scales: number; zeroPoints: number } {
  switch (dtype) {
    case 'q8_0':
    case 'q4_0':
    case 'q4_K':
    case 'tq1_0':
    case 'tq2_0': {
      const d = DTYPES[dtype];
      return { data: ((n * k) / d.blockElems) * d.blockBytes, scales: 0, zeroPoints: 0 };
    }
    case 'i2_s': {
      const d = DTYPES.i2_s;
      return { data: ((n * k) / d.blockElems) * d.blockBytes + d.trailerBytes, scales: 0, zeroPoints: 0 };
    }
    case 'i8c':
      return { data: n * k, scales: n, zeroPoints: 0 };
    case 'i4g': {
      const g = group ?? 32;
      const gpr = Math.ceil(k / g);
      return { data: n * gpr * (g / 2), scales: n * gpr, zeroPoints: n * Math.ceil(gpr / 2) };
    }
  }
}

/** Packed (GEMM tile) weights in native memory, cached on their QTensor. */
export class PackedWeights {
  #handle: NativePacked | null;
  readonly #onDispose: () => void;
  /** @internal */
  constructor(handle: NativePacked, onDispose: () => void) {
    this.#handle = handle;
    this.#onDispose = onDispose;
  }
  /** Native bytes held (0 once disposed). */
  get bytes(): number {
    return this.#handle ? native.packedBytes(this.#handle) : 0;
  }
  get disposed(): boolean {
    return this.#handle === null;
  }
  /**
   * Frees the native memory now; a running matmul that uses it keeps its own reference until it settles.
   * The QTensor forgets it (later calls run unpacked until pack() is called again).
   */
  dispose(): void {
    if (!this.#handle) return;
    native.freePacked(this.#handle);
    this.#handle = null;
    this.#onDispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
  /** @internal */
  static handle(p: PackedWeights): NativePacked | null {
    return p.#handle;
  }
}

/** One ternary packed form (mad or lut layout) in native memory, cached on its QTensor. @internal */
export class TernaryPacked {
  #handle: NativeTernaryPacked | null;
  readonly family: TernaryFamily;
  /** @internal */
  constructor(handle: NativeTernaryPacked, family: TernaryFamily) {
    this.#handle = handle;
    this.family = family;
  }
  get bytes(): number {
    return this.#handle ? native.ternaryPackedBytes(this.#handle) : 0;
  }
  get disposed(): boolean {
    return this.#handle === null;
  }
  /** Drops this reference to the native memory (a running matmul keeps its own until it settles). */
  dispose(): void {
    if (!this.#handle) return;
    native.freeTernaryPacked(this.#handle);
    this.#handle = null;
  }
  /** @internal */
  static handle(p: TernaryPacked | undefined): NativeTernaryPacked | null {
    return p ? p.#handle : null;
  }
}

export interface MatMulNBitsWeights {
  /** uint8 [n][ceil(k / blockSize)][blockSize / 2]: element 2j of a block in the low nibble of byte j. */
  B: Uint8Array;
  /** f32 [n * ceil(k / blockSize)]. */
  scales: Float32Array;
  /** Optional uint8 [n][ceil(ceil(k / blockSize) / 2)] packed 4-bit zero points (absent: 8). */
  zeroPoints?: Uint8Array;
  n: number;
  k: number;
  /** 32, 64 or 128. */
  blockSize: number;
  /** Only 4 is supported. */
  bits?: number;
}

export interface PerChannelWeights {
  /** int8 [n * k], row-major. */
  q: Int8Array;
  /** f32 [n], finite and >= 0: w = scales[r] * q. */
  scales: Float32Array;
  n: number;
  k: number;
}

/**
 * Quantized weights w[n, k] in their interchange layout (GGUF blocks, per-channel int8, or onnxruntime
 * MatMulNBits grouped int4). Constructors wrap the given arrays without copying.
 */
export class QTensor<D extends QTensorDType = QTensorDType> {
  readonly dtype: D;
  /** [n, k]: n output features (rows), k input features. */
  readonly shape: readonly [number, number];
  /** i4g: 32, 64 or 128; undefined for the others. */
  readonly group: number | undefined;
  /** i4g: no zero points (they are 8); i8c, q8_0, q4_0: true; q4_K: false (it has mins). */
  readonly symmetric: boolean;
  readonly #parts: QParts;
  readonly #life: Lifetime;
  #packed: PackedWeights | undefined;
  #packing: Promise<PackedWeights> | undefined;
  readonly #ternary: { mad?: TernaryPacked; lut?: TernaryPacked; packing: { mad?: Promise<TernaryPacked>; lut?: Promise<TernaryPacked> } } = {
    packing: {},
  };

  private constructor(dtype: D, n: number, k: number, parts: QParts, group: number | undefined) {
    this.dtype = dtype;
    this.shape = Object.freeze([n, k] as [number, number]);
    this.group = group;
    this.symmetric = dtype === 'q4_K' ? false : dtype === 'i4g' ? parts.zeroPoints === null : true;
    this.#parts = parts;
    this.#life = new Lifetime(() => {
      this.#packed?.dispose();
      this.#ternary.mad?.dispose();
      this.#ternary.lut?.dispose();
      this.#ternary.mad = undefined;
      this.#ternary.lut = undefined;
      parts.data = null;
      parts.scales = null;
      parts.zeroPoints = null;
    });
  }

  /**
   * GGUF tensor bytes (q8_0, q4_0 or q4_K blocks), no copy. `shape` is [n, k] = [rows, columns] (GGUF
   * lists it the other way round, ne = [k, n]); k must be a multiple of the block size.
   */
  static fromGGUF<T extends 'q8_0' | 'q4_0' | 'q4_K' | TernaryDType>(dtype: T, bytes: Uint8Array, shape: readonly [number, number]): QTensor<T> {
    const fn = 'QTensor.fromGGUF';
    const types = ['q8_0', 'q4_0', 'q4_K', 'tq1_0', 'tq2_0', 'i2_s'];
    if (typeof dtype !== 'string') throw typeError(fn, 'dtype', `one of ${types.join(' | ')}`, dtype);
    if (!types.includes(dtype)) throw rangeError(fn, 'dtype', `one of ${types.join(' | ')}`, dtype);
    const [n, k] = QTensor.#shape(fn, shape);
    if (dtype === 'i2_s') {
      // bitnet.cpp's I2_S: whole 128-weight blocks over the tensor, then the 32-byte scale trailer
      if ((n * k) % 128 !== 0) throw rangeError(fn, 'shape', 'a shape with n * k a multiple of 128 for i2_s', shape);
    } else {
      const be = DTYPES[dtype].blockElems;
      if (k % be !== 0) throw rangeError(fn, 'shape[1]', `a multiple of ${be} for ${dtype}`, k);
    }
    if (!(bytes instanceof Uint8Array)) throw typeError(fn, 'bytes', 'a Uint8Array', bytes);
    const need = qtensorSizes(dtype, n, k).data;
    if (bytes.length !== need) throw rangeError(fn, 'bytes', `a Uint8Array of ${need} bytes for ${dtype} [${n}, ${k}]`, bytes);
    if (dtype === 'tq2_0' || dtype === 'i2_s') checkTernaryCodes(fn, dtype, bytes);
    return new QTensor(dtype, n, k, { data: bytes, scales: null, zeroPoints: null }, undefined);
  }

  /** onnxruntime MatMulNBits inputs (B, scales, zero_points) as i4g weights, no copy. */
  static fromMatMulNBits(w: MatMulNBitsWeights): QTensor<'i4g'> {
    const fn = 'QTensor.fromMatMulNBits';
    if (typeof w !== 'object' || w === null) throw typeError(fn, 'weights', 'an object', w);
    if (w.bits !== undefined && w.bits !== 4) throw rangeError(fn, 'bits', '4', w.bits);
    const [n, k] = QTensor.#shape(fn, [w.n, w.k], ['n', 'k']);
    const g = w.blockSize;
    if (g !== 32 && g !== 64 && g !== 128) throw rangeError(fn, 'blockSize', 'one of 32 | 64 | 128', g);
    const sz = qtensorSizes('i4g', n, k, g);
    if (!(w.B instanceof Uint8Array)) throw typeError(fn, 'B', 'a Uint8Array', w.B);
    if (w.B.length !== sz.data) throw rangeError(fn, 'B', `a Uint8Array of ${sz.data} bytes`, w.B);
    if (!(w.scales instanceof Float32Array)) throw typeError(fn, 'scales', 'a Float32Array', w.scales);
    if (w.scales.length !== sz.scales) throw rangeError(fn, 'scales', `a Float32Array of ${sz.scales} elements`, w.scales);
    checkScales(fn, w.scales, false);
    let zp: Uint8Array | null = null;
    if (w.zeroPoints !== undefined) {
      if (!(w.zeroPoints instanceof Uint8Array)) throw typeError(fn, 'zeroPoints', 'a Uint8Array', w.zeroPoints);
      if (w.zeroPoints.length !== sz.zeroPoints) throw rangeError(fn, 'zeroPoints', `a Uint8Array of ${sz.zeroPoints} bytes`, w.zeroPoints);
      zp = w.zeroPoints;
    }
    return new QTensor('i4g', n, k, { data: w.B, scales: w.scales, zeroPoints: zp }, g);
  }

  /** Per-channel int8 weights (w = scales[row] * q), no copy. */
  static fromPerChannel(w: PerChannelWeights): QTensor<'i8c'> {
    const fn = 'QTensor.fromPerChannel';
    if (typeof w !== 'object' || w === null) throw typeError(fn, 'weights', 'an object', w);
    const [n, k] = QTensor.#shape(fn, [w.n, w.k], ['n', 'k']);
    if (!(w.q instanceof Int8Array)) throw typeError(fn, 'q', 'an Int8Array', w.q);
    if (w.q.length !== n * k) throw rangeError(fn, 'q', `an Int8Array of ${n * k} elements`, w.q);
    if (!(w.scales instanceof Float32Array)) throw typeError(fn, 'scales', 'a Float32Array', w.scales);
    if (w.scales.length !== n) throw rangeError(fn, 'scales', `a Float32Array of ${n} elements`, w.scales);
    checkScales(fn, w.scales, true);
    const bytes = new Uint8Array(w.q.buffer, w.q.byteOffset, w.q.length);
    return new QTensor('i8c', n, k, { data: bytes, scales: w.scales, zeroPoints: null }, undefined);
  }

  static #shape(fn: string, shape: unknown, names = ['shape[0]', 'shape[1]']): [number, number] {
    if (!Array.isArray(shape) || shape.length !== 2) throw typeError(fn, 'shape', 'an array [n, k]', shape);
    const MAX = 2 ** 40;
    const n = checkDim(fn, names[0]!, shape[0], 1);
    const k = checkDim(fn, names[1]!, shape[1], 1);
    if (n > MAX || k > MAX || n * k > Number.MAX_SAFE_INTEGER) throw rangeError(fn, 'shape', 'a shape with n, k <= 2^40', shape);
    return [n, k];
  }

  get n(): number {
    return this.shape[0];
  }
  get k(): number {
    return this.shape[1];
  }
  /** The weight bytes (blocks, int8 values or packed nibbles). */
  get data(): Uint8Array {
    this.#life.check('QTensor.data', 'the QTensor');
    return this.#parts.data!;
  }
  /** i8c and i4g scales; undefined for block types (their scales are inside the blocks). */
  get scales(): Float32Array | undefined {
    this.#life.check('QTensor.scales', 'the QTensor');
    return this.#parts.scales ?? undefined;
  }
  /** i4g zero points (packed nibbles), when asymmetric. */
  get zeroPoints(): Uint8Array | undefined {
    this.#life.check('QTensor.zeroPoints', 'the QTensor');
    return this.#parts.zeroPoints ?? undefined;
  }
  /** Bytes of data + scales + zero points (packed weights not included). */
  get byteLength(): number {
    const p = this.#parts;
    return (p.data?.byteLength ?? 0) + (p.scales?.byteLength ?? 0) + (p.zeroPoints?.byteLength ?? 0);
  }
  /** The cached packed form, if pack() made one. */
  get packed(): PackedWeights | undefined {
    return this.#packed;
  }
  get disposed(): boolean {
    return this.#life.disposed;
  }

  /** Disposes now; memory goes when no pending call uses it (see the module comment). */
  dispose(): void {
    this.#life.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** @internal: the native weight object, after a liveness check. */
  static native(w: QTensor, fn: string): NativeWeights {
    w.#life.check(fn, 'w');
    const p = w.#parts;
    return {
      dtype: DTYPES[w.dtype].id,
      n: w.shape[0],
      k: w.shape[1],
      data: p.data!,
      scales: p.scales ?? undefined,
      zeroPoints: p.zeroPoints ?? undefined,
      group: w.group,
    };
  }
  /** @internal */
  static acquire(w: QTensor, fn: string): () => void {
    w.#life.check(fn, 'w');
    return w.#life.acquire();
  }
  /** Native bytes of the cached ternary packed forms (0 when none; see matmul for ternary weights). */
  get ternaryPackedBytes(): { mad: number; lut: number } {
    return { mad: this.#ternary.mad?.bytes ?? 0, lut: this.#ternary.lut?.bytes ?? 0 };
  }
  /** @internal */
  static ternaryPacked(w: QTensor, f: TernaryFamily): TernaryPacked | undefined {
    return w.#ternary[f];
  }
  /** @internal */
  static setTernaryPacked(w: QTensor, f: TernaryFamily, p: TernaryPacked): void {
    w.#ternary[f] = p;
  }
  /** @internal */
  static ternaryPacking(w: QTensor, f: TernaryFamily): Promise<TernaryPacked> | undefined {
    return w.#ternary.packing[f];
  }
  /** @internal */
  static setTernaryPacking(w: QTensor, f: TernaryFamily, p: Promise<TernaryPacked> | undefined): void {
    w.#ternary.packing[f] = p;
  }
  /** @internal */
  static setPacked(w: QTensor, p: PackedWeights | undefined): void {
    w.#packed = p;
  }
  /** @internal */
  static packing(w: QTensor): Promise<PackedWeights> | undefined {
    return w.#packing;
  }
  /** @internal */
  static setPacking(w: QTensor, p: Promise<PackedWeights> | undefined): void {
    w.#packing = p;
  }
  /** For tests: whether the memory was released (disposed and no pending call). @internal */
  static released(w: QTensor): boolean {
    return w.#life.released;
  }
  /** @internal: builds a QTensor over arrays the library just made. */
  static fromParts<T extends QTensorDType>(dtype: T, n: number, k: number, parts: QParts, group: number | undefined): QTensor<T> {
    return new QTensor(dtype, n, k, parts, group);
  }
}

/**
 * tq2_0 and i2_s store each weight as a 2-bit code w + 1: code 3 is no ternary value. The families
 * disagreed on it (mad read it as 2, lut's 3-valued tables could not), so such bytes are refused here.
 */
function checkTernaryCodes(fn: string, dtype: 'tq2_0' | 'i2_s', bytes: Uint8Array): void {
  const bad = (v: number): boolean => (v & (v >> 1) & 0x55) !== 0;
  const codes = dtype === 'tq2_0' ? 64 : bytes.length - DTYPES.i2_s.trailerBytes;
  const stride = dtype === 'tq2_0' ? DTYPES.tq2_0.blockBytes : bytes.length;
  for (let b = 0; b + codes <= bytes.length; b += stride)
    for (let i = b; i < b + codes; i++)
      if (bad(bytes[i]!)) throw rangeError(fn, 'bytes', `${dtype} blocks whose 2-bit codes are 0, 1 or 2 (byte ${i} holds code 3)`, bytes[i]);
}

/** Scales must be finite (and >= 0 for i8c: a negative per-channel scale is a bug, not a convention). */
export function checkScales(fn: string, s: Float32Array, nonNegative: boolean, arg = 'scales'): void {
  for (let i = 0; i < s.length; i++) {
    const v = s[i]!;
    if (!Number.isFinite(v) || (nonNegative && v < 0))
      throw rangeError(fn, `${arg}[${i}]`, nonNegative ? 'a finite number >= 0' : 'a finite number', v);
  }
}

export function isTensor(v: unknown): v is Tensor {
  return v instanceof Tensor;
}
