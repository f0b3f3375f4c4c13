/**
 * Dyadic arithmetic and integer-only transformer ops (HAWQ-V3, I-BERT, I-ViT).
 *
 * A `Dyadic` {m, s} is the number m / 2^s (m an int32, s in 0..62). `requantize` maps int32 values
 * (e.g. matmul accumulators) to i8 / u8 / i16 through a dyadic multiplier per tensor or per channel.
 * Rounding rule (gemmlowp / TFLite MultiplyByQuantizedMultiplier): y = x * m / 2^s is computed as
 *   1. s < 31: x' = saturate_int32(x * 2^(31 - s)), else x' = x;
 *   2. h = floor((x' * m + 2^30) / 2^31) (the rounding doubling high multiply: ties toward +infinity;
 *      x' = m = -2^31 saturates to 2^31 - 1);
 *   3. s > 31: y = h / 2^(s - 31) rounded to nearest, ties away from zero; else y = h;
 *   4. out = saturate(y + zeroPoint) to the output type.
 * All in exact integer arithmetic: every ISA path gives the same bits.
 *
 * The integer ops each have a prepare step (the only float math: scales become integer constants),
 * returning an opaque `DyadicParams`, and an apply step on int8 data (int16 for iExp): `fooSync` on the
 * calling thread (small tensors), `foo` returning a Promise (big tensors, off the main thread). Outputs
 * are integers bit-identical on every ISA path. Argument errors throw TypeError / RangeError
 * synchronously; anything the native layer rejects becomes a BitflashError (lib/errors.ts).
 */
import { native, type NativeDyadicParams } from '../binding.js';
import { callAsync, callSync } from '../errors.js';
import { Tensor } from '../tensor.js';
import { expectInt, expectOneOf, rangeError, typeError } from '../validate.js';

export interface Dyadic {
  /** Multiplier, an int32. */
  m: number;
  /** Shift, 0..62: the value is m / 2^s. */
  s: number;
}

/** The dyadic nearest x with a 31-bit mantissa (see cpp/include/bitflash/dyadic.h); |x| < 2^31. */
export function dyadicFromScale(x: number): Dyadic {
  const fn = 'dyadicFromScale';
  if (typeof x !== 'number') throw typeError(fn, 'x', 'a finite number with |x| < 2^31', x);
  if (!Number.isFinite(x) || Math.abs(x) >= 2 ** 31) throw rangeError(fn, 'x', 'a finite number with |x| < 2^31', x);
  return callSync(() => native.dyadicFromScale(x));
}

/** The value m / 2^s of a dyadic, as a float64 (exact). */
export function dyadicValue(d: Dyadic): number {
  checkDyadic('dyadicValue', 'd', d);
  return d.m / 2 ** d.s;
}

export function checkDyadic(fn: string, arg: string, d: unknown): Dyadic {
  if (typeof d !== 'object' || d === null) throw typeError(fn, arg, 'a Dyadic { m, s }', d);
  const { m, s } = d as { m: unknown; s: unknown };
  expectInt(fn, `${arg}.m`, m, -(2 ** 31), 2 ** 31 - 1);
  expectInt(fn, `${arg}.s`, s, 0, 62);
  return d as Dyadic;
}

// ---------------------------------------------------------------------------------------- inputs

type I8In = Int8Array | Tensor<'i8'>;

/** A contiguous view of an Int8Array / i8 Tensor (or other dtype), its shape, and a release. */
function view<A extends Int8Array | Int16Array | Int32Array>(
  fn: string,
  arg: string,
  x: unknown,
  ctor: { new (n: number): A; readonly name: string },
  dtype: 'i8' | 'i32' | null,
): { data: A; shape: readonly number[]; release: () => void; tensor: Tensor | null } {
  if (x instanceof ctor) return { data: x as A, shape: [(x as A).length], release: () => {}, tensor: null };
  if (dtype && x instanceof Tensor) {
    if (x.dtype !== dtype) throw typeError(fn, arg, `an ${ctor.name} or a contiguous ${dtype} Tensor`, `Tensor ${x.dtype}` as unknown);
    const release = Tensor.acquire(x, fn);
    if (!x.isContiguous) {
      release();
      throw rangeError(fn, arg, `a contiguous ${dtype} Tensor`, `a strided Tensor [${x.shape.join(', ')}]` as unknown);
    }
    const data = (x.data as unknown as A).subarray(x.offset, x.offset + x.size) as A;
    return { data, shape: x.shape, release, tensor: x };
  }
  throw typeError(fn, arg, dtype ? `an ${ctor.name} or a contiguous ${dtype} Tensor` : `an ${ctor.name}`, x);
}

function outArray<A extends ArrayBufferView & { length: number }>(
  fn: string,
  out: unknown,
  n: number,
  ctor: { new (n: number): A; readonly name: string },
): A {
  if (out === undefined) return new ctor(n);
  if (!(out instanceof ctor)) throw typeError(fn, 'out', `a ${ctor.name}`, out);
  if ((out as A).length !== n) throw rangeError(fn, 'out', `a ${ctor.name} of ${n} elements`, out);
  return out as A;
}

function opts(fn: string, o: unknown): Record<string, unknown> {
  if (o === undefined) return {};
  if (typeof o !== 'object' || o === null) throw typeError(fn, 'options', 'an object', o);
  return o as Record<string, unknown>;
}

function scale(fn: string, arg: string, v: unknown, lo = 0, hi = Infinity): number {
  const what = lo > 0 || hi < Infinity ? `a number in [${lo}, ${hi}]` : 'a positive finite number';
  if (typeof v !== 'number') throw typeError(fn, arg, what, v);
  if (!(Number.isFinite(v) && v > 0 && v >= lo && v <= hi)) throw rangeError(fn, arg, what, v);
  return v;
}
function zp8(fn: string, arg: string, v: unknown): number {
  return v === undefined ? 0 : expectInt(fn, arg, v, -128, 127);
}

// ------------------------------------------------------------------------------------ requantize

export type RequantizeOut = 'i8' | 'u8' | 'i16';
export interface RequantizeOutArrays {
  i8: Int8Array;
  u8: Uint8Array;
  i16: Int16Array;
}
export interface RequantizeOptions<O extends RequantizeOut = RequantizeOut> {
  /** One Dyadic (per tensor) or one per channel (channels innermost: element i uses multiplier[i % channels]). */
  multiplier: Dyadic | readonly Dyadic[];
  /** Added after the multiply, before saturation; within the output type's range. Default 0. */
  zeroPoint?: number;
  /** Output type, default 'i8'. */
  out?: O;
  /** Reused output buffer of the output type and the input's length. */
  into?: RequantizeOutArrays[O];
}

const OUT_CTORS = { i8: Int8Array, u8: Uint8Array, i16: Int16Array } as const;
const OUT_RANGE = { i8: [-128, 127], u8: [0, 255], i16: [-32768, 32767] } as const;

function requantizePlan(fn: string, x: unknown, o: unknown) {
  const v = view(fn, 'x', x, Int32Array, 'i32');
  try {
    const op = opts(fn, o);
    if (o === undefined) throw typeError(fn, 'options', 'an object with a multiplier', o);
    const mult = op.multiplier;
    const list: Dyadic[] = Array.isArray(mult) ? (mult as unknown[]).map((d, i) => checkDyadic(fn, `multiplier[${i}]`, d)) : [checkDyadic(fn, 'multiplier', mult)];
    if (list.length === 0) throw rangeError(fn, 'multiplier', 'a Dyadic or a non-empty array of them', mult);
    if (v.data.length % list.length !== 0)
      throw rangeError(fn, 'multiplier', `one Dyadic or one per channel (x length ${v.data.length} must be a multiple of their count)`, mult);
    const out = (op.out === undefined ? 'i8' : expectOneOf(fn, 'out', op.out, ['i8', 'u8', 'i16'] as const)) as RequantizeOut;
    const [lo, hi] = OUT_RANGE[out];
    const zp = op.zeroPoint === undefined ? 0 : expectInt(fn, 'zeroPoint', op.zeroPoint, lo, hi);
    const y = outArray(fn, op.into, v.data.length, OUT_CTORS[out] as { new (n: number): Int8Array | Uint8Array | Int16Array; readonly name: string });
    const ms = Int32Array.from(list, (d) => d.m);
    const ss = Int32Array.from(list, (d) => d.s);
    return { x: v.data, ms, ss, zp, out, y, release: v.release };
  } catch (e) {
    v.release();
    throw e;
  }
}

/** Requantizes int32 values to i8 / u8 / i16 by the rounding rule above, on the calling thread. */
export function requantizeSync<O extends RequantizeOut = 'i8'>(x: Int32Array | Tensor<'i32'>, options: RequantizeOptions<O>): RequantizeOutArrays[O] {
  const p = requantizePlan('requantizeSync', x, options);
  try {
    callSync(() => native.requantizeSync(p.x, p.ms, p.ss, p.zp, p.out, p.y));
  } finally {
    p.release();
  }
  return p.y as RequantizeOutArrays[O];
}

/** As requantizeSync, off the main thread. */
export function requantize<O extends RequantizeOut = 'i8'>(x: Int32Array | Tensor<'i32'>, options: RequantizeOptions<O>): Promise<RequantizeOutArrays[O]> {
  const p = requantizePlan('requantize', x, options);
  return callAsync(() => native.requantize(p.x, p.ms, p.ss, p.zp, p.out, p.y))
    .finally(p.release)
    .then(() => p.y as RequantizeOutArrays[O]);
}

// ------------------------------------------------------------------------------------ params

export type DyadicOp = 'addRescale' | 'iExp' | 'softmaxInt' | 'iGelu' | 'shiftGelu' | 'siluInt' | 'layerNormInt' | 'rmsNormInt';

/**
 * The prepared integer constants of one op (opaque; made by a prepare function, used by its op only).
 * `constants()` returns them for inspection. `outScale` is the real value of one output unit.
 */
export class DyadicParams<K extends DyadicOp = DyadicOp> {
  readonly op: K;
  /** Real value of one unit of the output (iExp: of the int32 exp; softmaxInt: 1/256). */
  readonly outScale: number;
  /** Output zero point (0 for iExp and softmaxInt). */
  readonly outZeroPoint: number;
  /** Row length for the norms; undefined otherwise. */
  readonly cols: number | undefined;
  readonly #handle: NativeDyadicParams;
  private constructor(op: K, handle: NativeDyadicParams, outScale: number, outZeroPoint: number, cols?: number) {
    this.op = op;
    this.#handle = handle;
    this.outScale = outScale;
    this.outZeroPoint = outZeroPoint;
    this.cols = cols;
    Object.freeze(this);
  }
  /** The integer constants the kernels use (a copy). */
  constants(): Record<string, unknown> {
    return native.dyadicParamsInfo(this.#handle);
  }
  /** @internal */
  static create<K extends DyadicOp>(op: K, handle: NativeDyadicParams, outScale: number, outZeroPoint: number, cols?: number): DyadicParams<K> {
    return new DyadicParams(op, handle, outScale, outZeroPoint, cols);
  }
  /** @internal */
  static handle(fn: string, p: unknown, op: DyadicOp): NativeDyadicParams {
    if (!(p instanceof DyadicParams)) throw typeError(fn, 'params', `DyadicParams from prepare${op[0]!.toUpperCase()}${op.slice(1)}`, p);
    if (p.op !== op) throw rangeError(fn, 'params', `DyadicParams prepared for ${op}`, `DyadicParams for ${p.op}` as unknown);
    return p.#handle;
  }
}

function prepare<K extends DyadicOp>(op: K, nativeOp: string, cfg: Record<string, unknown>, outScale: number, outZp: number, cols?: number): DyadicParams<K> {
  const h = callSync(() => native.dyadicPrepare(nativeOp, cfg));
  return DyadicParams.create(op, h, outScale, outZp, cols);
}

interface Applied<A> {
  x: ArrayBufferView;
  b: ArrayBufferView | null;
  y: A;
  rows: number;
  handle: NativeDyadicParams;
  release: () => void;
}

function applySync<A>(p: Applied<A>): A {
  try {
    callSync(() => native.dyadicApplySync(p.handle, p.x, p.b, p.y as ArrayBufferView, p.rows));
  } finally {
    p.release();
  }
  return p.y;
}
function applyAsync<A>(p: Applied<A>): Promise<A> {
  return callAsync(() => native.dyadicApply(p.handle, p.x, p.b, p.y as ArrayBufferView, p.rows))
    .finally(p.release)
    .then(() => p.y);
}

// ------------------------------------------------------------------------------------ add

export interface AddRescaleConfig {
  aScale: number;
  aZeroPoint?: number;
  bScale: number;
  bZeroPoint?: number;
  outScale: number;
  outZeroPoint?: number;
}
export interface Int8OutOptions {
  /** Reused output buffer of the input's length. */
  out?: Int8Array;
}

/** y = sat_i8(round((a - aZp) aScale / outScale + (b - bZp) bScale / outScale) + outZp), TFLite style (20-bit left shift). */
export function prepareAddRescale(config: AddRescaleConfig): DyadicParams<'addRescale'> {
  const fn = 'prepareAddRescale';
  const c = opts(fn, config);
  if (config === undefined) throw typeError(fn, 'config', 'an object', config);
  const cfg = {
    aScale: scale(fn, 'aScale', c.aScale),
    aZeroPoint: zp8(fn, 'aZeroPoint', c.aZeroPoint),
    bScale: scale(fn, 'bScale', c.bScale),
    bZeroPoint: zp8(fn, 'bZeroPoint', c.bZeroPoint),
    outScale: scale(fn, 'outScale', c.outScale),
    outZeroPoint: zp8(fn, 'outZeroPoint', c.outZeroPoint),
  };
  return prepare('addRescale', 'add', cfg, cfg.outScale, cfg.outZeroPoint);
}

function addPlan(fn: string, p: unknown, a: unknown, b: unknown, o: unknown): Applied<Int8Array> {
  const handle = DyadicParams.handle(fn, p, 'addRescale');
  const va = view(fn, 'a', a, Int8Array, 'i8');
  let vb: ReturnType<typeof view<Int8Array>> | null = null;
  try {
    vb = view(fn, 'b', b, Int8Array, 'i8');
    if (vb.data.length !== va.data.length) throw rangeError(fn, 'b', `${va.data.length} elements (as many as a)`, b);
    const y = outArray(fn, opts(fn, o).out, va.data.length, Int8Array);
    const rb = vb.release;
    return { x: va.data, b: vb.data, y, rows: 1, handle, release: () => (va.release(), rb()) };
  } catch (e) {
    va.release();
    vb?.release();
    throw e;
  }
}
export function addRescaleSync(params: DyadicParams<'addRescale'>, a: I8In, b: I8In, options?: Int8OutOptions): Int8Array {
  return applySync(addPlan('addRescaleSync', params, a, b, options));
}
export function addRescale(params: DyadicParams<'addRescale'>, a: I8In, b: I8In, options?: Int8OutOptions): Promise<Int8Array> {
  return applyAsync(addPlan('addRescale', params, a, b, options));
}

// ------------------------------------------------------------------------------------ exp / softmax

export type ExpMethod = 'ibert' | 'shiftmax';
export interface ExpConfig {
  /** Real value of one input unit, in [2^-20, 64]. */
  scale: number;
  /** 'ibert' (I-BERT second-order polynomial, default) or 'shiftmax' (I-ViT Shift-exp). */
  method?: ExpMethod;
}

function expCfg(fn: string, config: unknown) {
  if (typeof config !== 'object' || config === null) throw typeError(fn, 'config', 'an object', config);
  const c = config as Record<string, unknown>;
  return {
    scale: scale(fn, 'scale', c.scale, 2 ** -20, 64),
    method: c.method === undefined ? 'ibert' : expectOneOf(fn, 'method', c.method, ['ibert', 'shiftmax'] as const),
  };
}

/**
 * exp of d <= 0 (int16, e.g. x - max) with scale `scale`; the int32 output has scale params.outScale.
 * A positive d is a BitflashArgumentError (iExpSync throws it; iExp rejects with it).
 */
export function prepareIExp(config: ExpConfig): DyadicParams<'iExp'> {
  const cfg = expCfg('prepareIExp', config);
  const h = callSync(() => native.dyadicPrepare('exp', cfg));
  const info = native.dyadicParamsInfo(h) as { expScale: number };
  return DyadicParams.create('iExp', h, info.expScale, 0);
}

function expPlan(fn: string, p: unknown, d: unknown, o: unknown): Applied<Int32Array> {
  const handle = DyadicParams.handle(fn, p, 'iExp');
  const v = view(fn, 'd', d, Int16Array, null);
  // d <= 0 is checked natively before any work (a BitflashArgumentError: thrown by iExpSync, a rejection of iExp)
  const y = outArray(fn, opts(fn, o).out, v.data.length, Int32Array);
  return { x: v.data, b: null, y, rows: 1, handle, release: v.release };
}
export function iExpSync(params: DyadicParams<'iExp'>, d: Int16Array, options?: { out?: Int32Array }): Int32Array {
  return applySync(expPlan('iExpSync', params, d, options));
}
export function iExp(params: DyadicParams<'iExp'>, d: Int16Array, options?: { out?: Int32Array }): Promise<Int32Array> {
  return applyAsync(expPlan('iExp', params, d, options));
}

/** Integer softmax over rows of int8 scores (scale `scale`) -> u8 probabilities with scale 1/256. */
export function prepareSoftmaxInt(config: ExpConfig): DyadicParams<'softmaxInt'> {
  const cfg = expCfg('prepareSoftmaxInt', config);
  return prepare('softmaxInt', 'softmax', cfg, 1 / 256, 0);
}
export interface SoftmaxIntOptions {
  /** Row length; default the Tensor's last dimension (an Int8Array is one row unless given). */
  cols?: number;
  out?: Uint8Array;
}
function softmaxPlan(fn: string, p: unknown, x: unknown, o: unknown): Applied<Uint8Array> {
  const handle = DyadicParams.handle(fn, p, 'softmaxInt');
  const v = view(fn, 'x', x, Int8Array, 'i8');
  try {
    const op = opts(fn, o);
    const n = v.data.length;
    const cols = op.cols === undefined ? v.shape[v.shape.length - 1]! : expectInt(fn, 'cols', op.cols, 1, 2 ** 24);
    if (cols < 1 || cols > 2 ** 24) throw rangeError(fn, 'cols', 'a row length from 1 to 2^24', cols);
    if (n % cols !== 0 || n === 0) throw rangeError(fn, 'x', `a non-empty length that is a multiple of cols = ${cols}`, x);
    const y = outArray(fn, op.out, n, Uint8Array);
    return { x: v.data, b: null, y, rows: n / cols, handle, release: v.release };
  } catch (e) {
    v.release();
    throw e;
  }
}
export function softmaxIntSync(params: DyadicParams<'softmaxInt'>, x: I8In, options?: SoftmaxIntOptions): Uint8Array {
  return applySync(softmaxPlan('softmaxIntSync', params, x, options));
}
export function softmaxInt(params: DyadicParams<'softmaxInt'>, x: I8In, options?: SoftmaxIntOptions): Promise<Uint8Array> {
  return applyAsync(softmaxPlan('softmaxInt', params, x, options));
}

// ------------------------------------------------------------------------------------ activations

export interface ActivationConfig {
  /** Real value of one input unit (iGelu: at most 64; shiftGelu / siluInt: in [2^-20, 64]). */
  inScale: number;
  outScale: number;
  outZeroPoint?: number;
}
function actPrepare<K extends 'iGelu' | 'shiftGelu' | 'siluInt'>(fn: string, op: K, nativeOp: string, config: unknown): DyadicParams<K> {
  if (typeof config !== 'object' || config === null) throw typeError(fn, 'config', 'an object', config);
  const c = config as Record<string, unknown>;
  const cfg = {
    inScale: scale(fn, 'inScale', c.inScale, op === 'iGelu' ? 0 : 2 ** -20, 64),
    outScale: scale(fn, 'outScale', c.outScale),
    outZeroPoint: zp8(fn, 'outZeroPoint', c.outZeroPoint),
  };
  return prepare(op, nativeOp, cfg, cfg.outScale, cfg.outZeroPoint);
}
function actPlan(fn: string, op: DyadicOp, p: unknown, x: unknown, o: unknown): Applied<Int8Array> {
  const handle = DyadicParams.handle(fn, p, op);
  const v = view(fn, 'x', x, Int8Array, 'i8');
  try {
    const y = outArray(fn, opts(fn, o).out, v.data.length, Int8Array);
    return { x: v.data, b: null, y, rows: 1, handle, release: v.release };
  } catch (e) {
    v.release();
    throw e;
  }
}

/** I-BERT i-GELU (second-order erf polynomial), int8 -> int8. */
export function prepareIGelu(config: ActivationConfig): DyadicParams<'iGelu'> {
  return actPrepare('prepareIGelu', 'iGelu', 'gelu', config);
}
export function iGeluSync(params: DyadicParams<'iGelu'>, x: I8In, options?: Int8OutOptions): Int8Array {
  return applySync(actPlan('iGeluSync', 'iGelu', params, x, options));
}
export function iGelu(params: DyadicParams<'iGelu'>, x: I8In, options?: Int8OutOptions): Promise<Int8Array> {
  return applyAsync(actPlan('iGelu', 'iGelu', params, x, options));
}
/** I-ViT ShiftGELU: x * sigmoid(1.702 x) through the Shift-exp, int8 -> int8. */
export function prepareShiftGelu(config: ActivationConfig): DyadicParams<'shiftGelu'> {
  return actPrepare('prepareShiftGelu', 'shiftGelu', 'shiftGelu', config);
}
export function shiftGeluSync(params: DyadicParams<'shiftGelu'>, x: I8In, options?: Int8OutOptions): Int8Array {
  return applySync(actPlan('shiftGeluSync', 'shiftGelu', params, x, options));
}
export function shiftGelu(params: DyadicParams<'shiftGelu'>, x: I8In, options?: Int8OutOptions): Promise<Int8Array> {
  return applyAsync(actPlan('shiftGelu', 'shiftGelu', params, x, options));
}
/** Integer SiLU: x * sigmoid(x) through the Shift-exp, int8 -> int8. */
export function prepareSiluInt(config: ActivationConfig): DyadicParams<'siluInt'> {
  return actPrepare('prepareSiluInt', 'siluInt', 'silu', config);
}
export function siluIntSync(params: DyadicParams<'siluInt'>, x: I8In, options?: Int8OutOptions): Int8Array {
  return applySync(actPlan('siluIntSync', 'siluInt', params, x, options));
}
export function siluInt(params: DyadicParams<'siluInt'>, x: I8In, options?: Int8OutOptions): Promise<Int8Array> {
  return applyAsync(actPlan('siluInt', 'siluInt', params, x, options));
}

// ------------------------------------------------------------------------------------ norms

export interface NormConfig {
  /** Per-column gain, 1..32768 finite values (the row length). */
  gamma: Float32Array;
  /** Per-column shift (LayerNorm only; default zeros); |beta / outScale| <= 2^20. */
  beta?: Float32Array;
  outScale: number;
  outZeroPoint?: number;
}
function normPrepare<K extends 'layerNormInt' | 'rmsNormInt'>(fn: string, op: K, config: unknown): DyadicParams<K> {
  if (typeof config !== 'object' || config === null) throw typeError(fn, 'config', 'an object', config);
  const c = config as Record<string, unknown>;
  const gamma = c.gamma;
  if (!(gamma instanceof Float32Array)) throw typeError(fn, 'gamma', 'a Float32Array', gamma);
  if (gamma.length < 1 || gamma.length > 32768) throw rangeError(fn, 'gamma', 'a Float32Array of 1 to 32768 elements', gamma);
  for (let j = 0; j < gamma.length; j++) if (!Number.isFinite(gamma[j])) throw rangeError(fn, `gamma[${j}]`, 'finite', gamma[j]);
  let beta: Float32Array | null = null;
  if (c.beta !== undefined) {
    if (op === 'rmsNormInt') throw typeError(fn, 'beta', 'undefined (RMSNorm has no shift)', c.beta);
    if (!(c.beta instanceof Float32Array)) throw typeError(fn, 'beta', 'a Float32Array', c.beta);
    if (c.beta.length !== gamma.length) throw rangeError(fn, 'beta', `a Float32Array of ${gamma.length} elements (as gamma)`, c.beta);
    beta = c.beta;
  }
  const outScale = scale(fn, 'outScale', c.outScale);
  const outZeroPoint = zp8(fn, 'outZeroPoint', c.outZeroPoint);
  if (beta) for (let j = 0; j < beta.length; j++) if (!(Math.abs(beta[j]! / outScale) <= 2 ** 20)) throw rangeError(fn, `beta[${j}]`, 'finite with |beta / outScale| <= 2^20', beta[j]);
  return prepare(op, op === 'layerNormInt' ? 'layerNorm' : 'rmsNorm', { gamma, beta, outScale, outZeroPoint }, outScale, outZeroPoint, gamma.length);
}
function normPlan(fn: string, op: 'layerNormInt' | 'rmsNormInt', p: unknown, x: unknown, o: unknown): Applied<Int8Array> {
  const handle = DyadicParams.handle(fn, p, op);
  const cols = (p as DyadicParams).cols!;
  const v = view(fn, 'x', x, Int8Array, 'i8');
  try {
    if (v.data.length % cols !== 0) throw rangeError(fn, 'x', `rows of ${cols} elements (length a multiple of ${cols})`, x);
    if (v.tensor && v.shape[v.shape.length - 1] !== cols) throw rangeError(fn, 'x', `a Tensor whose last dimension is ${cols}`, `shape [${v.shape.join(', ')}]` as unknown);
    const y = outArray(fn, opts(fn, o).out, v.data.length, Int8Array);
    return { x: v.data, b: null, y, rows: v.data.length / cols, handle, release: v.release };
  } catch (e) {
    v.release();
    throw e;
  }
}

/** Integer LayerNorm over rows (exact centring, isqrt); the input scale and zero point cancel out. */
export function prepareLayerNormInt(config: NormConfig): DyadicParams<'layerNormInt'> {
  return normPrepare('prepareLayerNormInt', 'layerNormInt', config);
}
export function layerNormIntSync(params: DyadicParams<'layerNormInt'>, x: I8In, options?: Int8OutOptions): Int8Array {
  return applySync(normPlan('layerNormIntSync', 'layerNormInt', params, x, options));
}
export function layerNormInt(params: DyadicParams<'layerNormInt'>, x: I8In, options?: Int8OutOptions): Promise<Int8Array> {
  return applyAsync(normPlan('layerNormInt', 'layerNormInt', params, x, options));
}
/** Integer RMSNorm over rows (x taken as symmetric: zero point 0; its scale cancels out). */
export function prepareRmsNormInt(config: Omit<NormConfig, 'beta'>): DyadicParams<'rmsNormInt'> {
  return normPrepare('prepareRmsNormInt', 'rmsNormInt', config);
}
export function rmsNormIntSync(params: DyadicParams<'rmsNormInt'>, x: I8In, options?: Int8OutOptions): Int8Array {
  return applySync(normPlan('rmsNormIntSync', 'rmsNormInt', params, x, options));
}
export function rmsNormInt(params: DyadicParams<'rmsNormInt'>, x: I8In, options?: Int8OutOptions): Promise<Int8Array> {
  return applyAsync(normPlan('rmsNormInt', 'rmsNormInt', params, x, options));
}

/** @internal bench only: the project's f32 AVX2 counterpart of an op (lengths multiples of 8). */
export function dyadicFloatSync(op: 'softmax' | 'gelu' | 'silu' | 'exp' | 'add' | 'layerNorm' | 'rmsNorm', x: Float32Array, b: Float32Array | null, y: Float32Array, cols: number): void {
  callSync(() => native.dyadicFloatSync(op, x, b, y, cols));
}


