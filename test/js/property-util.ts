/**
 * Shared pieces of the property tests (test/js/property-*.test.ts):
 *   - how many runs each property makes (BITFLASH_PROPERTY_RUNS for the long form);
 *   - "typed error": TypeError / RangeError, or a BitflashError with a known code other than INTERNAL;
 *   - guarded buffers: an input is a view that ends exactly at the end of its ArrayBuffer (a read past it
 *     leaves the allocation: ASan reports it under `npm run test:asan`), with random guard bytes before it
 *     (and between the rows of a strided view). `reguard` refills every byte the view does not cover, so a
 *     result that changes after it read bytes it must not read.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { BitflashError, errorCodes } from '../../lib/index.js';

/** Runs per property: the CI default, or BITFLASH_PROPERTY_RUNS (the long form) when set. */
export function runs(ciDefault: number): number {
  const env = Number(process.env.BITFLASH_PROPERTY_RUNS);
  if (Number.isInteger(env) && env > 0) return env;
  // the CI run under qemu (BITFLASH_EXPECT_ISA set, one emulated path): a fifth of the runs
  return process.env.BITFLASH_EXPECT_ISA ? Math.ceil(ciDefault / 5) : ciDefault;
}

/** fast-check parameters: a random seed (failures print it) unless BITFLASH_PROPERTY_SEED replays one. */
export function params(ciDefault: number): fc.Parameters<unknown> {
  const seed = process.env.BITFLASH_PROPERTY_SEED;
  return { numRuns: runs(ciDefault), ...(seed ? { seed: Number(seed) } : {}) };
}

/** Counts properties' runs for the long-form summary (printed by each file's afterAll). */
export const tally = new Map<string, number>();
export function count(name: string): void {
  tally.set(name, (tally.get(name) ?? 0) + 1);
}

export function isTypedError(e: unknown): boolean {
  if (e instanceof BitflashError) return (errorCodes as string[]).includes(e.code) && e.code !== 'ERR_BITFLASH_INTERNAL';
  return e instanceof TypeError || e instanceof RangeError;
}

/** Runs fn; returns its value, or the error when it threw a typed error (anything else fails the test). */
export function outcome<T>(fn: () => T): { ok: true; value: T } | { ok: false; error: unknown } {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (!isTypedError(e)) throw new Error(`untyped error: ${String(e)}`, { cause: e });
    return { ok: false, error: e };
  }
}

export async function outcomeAsync<T>(fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let p: Promise<T>;
  try {
    p = fn();
  } catch (e) {
    // argument errors throw synchronously, before any Promise
    if (!isTypedError(e)) throw new Error(`untyped error: ${String(e)}`, { cause: e });
    return { ok: false, error: e };
  }
  try {
    return { ok: true, value: await p };
  } catch (e) {
    if (!isTypedError(e)) throw new Error(`untyped rejection: ${String(e)}`, { cause: e });
    return { ok: false, error: e };
  }
}

type Ctor<A> = { new (buffer: ArrayBuffer, byteOffset: number, length: number): A; BYTES_PER_ELEMENT: number };

/** Deterministic bytes for guards (xorshift; the seed differs between the two fills). */
function fillRandom(u8: Uint8Array, seed: number): void {
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < u8.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    u8[i] = s & 0xff;
  }
}

/** Where a view lives: which elements of its backing array it covers (the rest is guard). */
interface Guarded {
  bytes: Uint8Array; // the whole ArrayBuffer
  covered: (elem: number) => boolean; // element index (of the backing array) -> in the view
  elemSize: number;
  start: number; // byte offset of the backing array in the buffer
  elems: number; // length of the backing array
}
const guards = new WeakMap<object, Guarded>();

/**
 * A new `ctor` array holding `values` at the very end of a fresh ArrayBuffer, after `guardElems`
 * elements of random guard (the array starts `misalign` bytes later than a multiple of its element
 * size allows when misalign = 0; use it for Uint8Array / Int8Array data).
 */
export function atEnd<A extends ArrayLike<number> & { byteOffset: number; buffer: ArrayBufferLike }>(
  ctor: Ctor<A>,
  values: ArrayLike<number>,
  guardElems: number,
  seed = 1,
): A {
  const es = ctor.BYTES_PER_ELEMENT;
  const buf = new ArrayBuffer((guardElems + values.length) * es);
  const bytes = new Uint8Array(buf);
  fillRandom(bytes, seed);
  const a = new ctor(buf, guardElems * es, values.length);
  (a as unknown as { set(v: ArrayLike<number>): void }).set(values);
  guards.set(a as object, { bytes, covered: () => true, elemSize: es, start: guardElems * es, elems: values.length });
  return a;
}

/**
 * A backing array for a row-strided view [rows, cols] with row stride ld and element offset `offset`,
 * ending exactly at the last element of the view, the gaps and the prefix random; values row-major.
 */
export function stridedAtEnd<A extends ArrayLike<number> & { byteOffset: number; buffer: ArrayBufferLike }>(
  ctor: Ctor<A>,
  values: ArrayLike<number>,
  rows: number,
  cols: number,
  ld: number,
  offset: number,
  guardElems: number,
  seed = 1,
): A {
  const es = ctor.BYTES_PER_ELEMENT;
  const elems = rows === 0 ? offset : offset + (rows - 1) * ld + cols;
  const buf = new ArrayBuffer((guardElems + elems) * es);
  const bytes = new Uint8Array(buf);
  fillRandom(bytes, seed);
  const a = new ctor(buf, guardElems * es, elems);
  const w = a as unknown as Record<number, number>;
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) w[offset + r * ld + c] = values[r * cols + c]!;
  const covered = (e: number): boolean => {
    if (e < offset) return false;
    const rel = e - offset;
    return Math.floor(rel / ld) < rows && rel % ld < cols;
  };
  guards.set(a as object, { bytes, covered, elemSize: es, start: guardElems * es, elems });
  return a;
}

/** Refills every guard byte of arrays made by atEnd / stridedAtEnd (not the covered elements). */
export function reguard(seed: number, ...arrays: object[]): void {
  for (const a of arrays) {
    const g = guards.get(a);
    if (!g) continue;
    const fresh = new Uint8Array(g.bytes.length);
    fillRandom(fresh, seed + 7919);
    for (let i = 0; i < g.start; i++) g.bytes[i] = fresh[i]!;
    for (let e = 0; e < g.elems; e++) {
      if (g.covered(e)) continue;
      for (let b = 0; b < g.elemSize; b++) g.bytes[g.start + e * g.elemSize + b] = fresh[g.start + e * g.elemSize + b]!;
    }
  }
}

/** A seeded PRNG of uniform [0, 1) (mulberry32; seed 0 is taken as 1) for the values a property builds from its case's seed. */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bit-for-bit equality of two typed arrays (NaN payloads included). */
export function expectSameBits(a: ArrayBufferView, b: ArrayBufferView, what: string): void {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  expect(x.length, what).toBe(y.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) expect.fail(`${what}: byte ${i} differs (${x[i]} vs ${y[i]})`);
}

/** Copies a typed array (so a later call that reuses `out` does not change what was saved). */
export function snapshot<A extends ArrayBufferView>(a: A): Uint8Array {
  return Uint8Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

/** Special scale values: NaN, +-Infinity, 0, -0, negative, tiny, huge. */
export const SPECIAL_SCALES = [Number.NaN, Infinity, -Infinity, 0, -0, -0.5, 1e-38, 1e-45, 1e30, 3e38] as const;

/** A scale: mostly ordinary positive values, sometimes one of SPECIAL_SCALES. */
export function scaleArb(ordinary: fc.Arbitrary<number> = fc.double({ min: 1e-4, max: 4, noNaN: true })): fc.Arbitrary<number> {
  return fc.oneof({ weight: 6, arbitrary: ordinary }, { weight: 1, arbitrary: fc.constantFrom(...SPECIAL_SCALES) });
}
