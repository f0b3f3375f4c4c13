/**
 * Block quantization of flat Float32Arrays into GGUF block bytes, in the two call patterns every
 * op follows: a synchronous call for small inputs and a Promise that runs off the main thread.
 */
import { native } from '../binding.js';
import { byteSize } from '../dtypes.js';
import { callAsync, callSync } from '../errors.js';
import { expectOneOf, expectTyped, rangeError } from '../validate.js';

export type BlockQuantType = 'q8_0';
const TYPES = ['q8_0'] as const;

function checkQuant(fn: string, x: unknown, dtype: unknown, out: unknown): { x: Float32Array; out: Uint8Array } {
  const xs = expectTyped(fn, 'x', x, Float32Array);
  const t = expectOneOf(fn, 'dtype', dtype, TYPES);
  if (xs.length % 32 !== 0) throw rangeError(fn, 'x', 'a Float32Array whose length is a multiple of 32', xs);
  const need = byteSize(t, xs.length);
  const o = out === undefined ? new Uint8Array(need) : expectTyped(fn, 'out', out, Uint8Array);
  if (o.length !== need) throw rangeError(fn, 'out', `a Uint8Array of ${need} bytes`, o);
  return { x: xs, out: o };
}

function checkDequant(fn: string, q: unknown, dtype: unknown, out: unknown): { q: Uint8Array; out: Float32Array } {
  const qs = expectTyped(fn, 'q', q, Uint8Array);
  const t = expectOneOf(fn, 'dtype', dtype, TYPES);
  if (qs.length % 34 !== 0) throw rangeError(fn, 'q', `a Uint8Array of whole ${t} blocks (34 bytes each)`, qs);
  const n = (qs.length / 34) * 32;
  const o = out === undefined ? new Float32Array(n) : expectTyped(fn, 'out', out, Float32Array);
  if (o.length !== n) throw rangeError(fn, 'out', `a Float32Array of ${n} elements`, o);
  return { q: qs, out: o };
}

/**
 * Quantizes `x` (length a multiple of 32) into q8_0 blocks; the bytes equal llama.cpp's reference
 * quantizer. Shape and type errors throw TypeError/RangeError; NaN or Infinity in `x` throws
 * (rejects, for the async form) BitflashArgumentError from the native check.
 */
export function quantizeBlocksSync(x: Float32Array, dtype: BlockQuantType, out?: Uint8Array): Uint8Array {
  const a = checkQuant('quantizeBlocksSync', x, dtype, out);
  callSync(() => native.quantizeQ8_0Sync(a.x, a.out));
  return a.out;
}

/** As quantizeBlocksSync, off the main thread. */
export function quantizeBlocks(x: Float32Array, dtype: BlockQuantType, out?: Uint8Array): Promise<Uint8Array> {
  const a = checkQuant('quantizeBlocks', x, dtype, out); // programmer errors throw synchronously
  return callAsync(() => native.quantizeQ8_0(a.x, a.out)).then(() => a.out);
}

export function dequantizeBlocksSync(q: Uint8Array, dtype: BlockQuantType, out?: Float32Array): Float32Array {
  const a = checkDequant('dequantizeBlocksSync', q, dtype, out);
  callSync(() => native.dequantizeQ8_0Sync(a.q, a.out));
  return a.out;
}

export function dequantizeBlocks(q: Uint8Array, dtype: BlockQuantType, out?: Float32Array): Promise<Float32Array> {
  const a = checkDequant('dequantizeBlocks', q, dtype, out);
  return callAsync(() => native.dequantizeQ8_0(a.q, a.out)).then(() => a.out);
}
