import { describe, expect, it } from 'vitest';
import {
  BitflashArgumentError,
  cpuFeatures,
  dequantizeBlocks,
  dequantizeBlocksSync,
  quantizeBlocks,
  quantizeBlocksSync,
  setIsa,
} from '../../lib/index.js';
import { q8_0Reference, randomF32 } from './helpers.js';

const paths = cpuFeatures().paths;
const cap = cpuFeatures().cap;

describe('q8_0 quantization through the binding', () => {
  for (const isa of paths) {
    it(`matches llama.cpp's reference rule bit for bit on path ${isa}`, async () => {
      setIsa(isa);
      try {
        for (const n of [32, 64, 96, 32 * 37, 32 * 4097]) {
          const x = randomF32(n, n);
          // exact ties: a block with amax 127 and half-integers
          for (let j = 0; j < 32; j++) x[j] = j === 0 ? 127 : j - 15.5;
          const want = q8_0Reference(x);
          expect(Buffer.from(quantizeBlocksSync(x, 'q8_0')).equals(Buffer.from(want))).toBe(true);
          expect(Buffer.from(await quantizeBlocks(x, 'q8_0')).equals(Buffer.from(want))).toBe(true);
          const deq = dequantizeBlocksSync(want, 'q8_0');
          const deqAsync = await dequantizeBlocks(want, 'q8_0');
          expect(deqAsync).toEqual(deq);
          // dequantized value = q * f16(d), computed independently
          const dv = new DataView(want.buffer);
          const i = n - 1;
          const b = Math.floor(i / 32);
          const q = dv.getInt8(b * 34 + 2 + (i % 32));
          expect(deq[i]).toBe(Math.fround(q * Math.fround(halfToFloat(dv.getUint16(b * 34, true)))));
        }
      } finally {
        setIsa(cap);
      }
    });
  }

  it('honours byteOffset views and reuses out buffers', () => {
    const backing = new Float32Array(32 * 10);
    backing.set(randomF32(32 * 10, 7));
    const view = backing.subarray(32 * 3, 32 * 7);
    const outBacking = new Uint8Array(34 * 6);
    const out = outBacking.subarray(34, 34 * 5);
    const r = quantizeBlocksSync(view, 'q8_0', out);
    expect(r).toBe(out);
    expect(Buffer.from(out).equals(Buffer.from(q8_0Reference(view)))).toBe(true);
    expect(outBacking.subarray(0, 34).every((v) => v === 0)).toBe(true);
    expect(outBacking.subarray(34 * 5).every((v) => v === 0)).toBe(true);
  });

  it('rejects bad arguments with typed errors, synchronously', () => {
    const x = new Float32Array(64);
    expect(() => quantizeBlocksSync(new Float64Array(64) as unknown as Float32Array, 'q8_0')).toThrow(TypeError);
    expect(() => quantizeBlocksSync(new Float32Array(33), 'q8_0')).toThrow(RangeError);
    expect(() => quantizeBlocksSync(x, 'q5_1' as 'q8_0')).toThrow(RangeError);
    expect(() => quantizeBlocksSync(x, 'q8_0', new Uint8Array(67))).toThrow(/must be a Uint8Array of 68 bytes, received Uint8Array\(67\)/);
    expect(() => quantizeBlocks(x, 'q8_0', new Uint8Array(1))).toThrow(RangeError); // sync throw, not a rejection
    expect(() => dequantizeBlocksSync(new Uint8Array(35), 'q8_0')).toThrow(RangeError);
    expect(() => dequantizeBlocksSync(new Uint8Array(34), 'q8_0', new Float32Array(31))).toThrow(RangeError);
  });

  it('NaN and Infinity are refused by the native check: thrown sync, rejected async with the caller stack', async () => {
    const x = new Float32Array(64);
    x[40] = Number.NaN;
    expect(() => quantizeBlocksSync(x, 'q8_0')).toThrow(BitflashArgumentError);
    x[40] = Number.POSITIVE_INFINITY;
    const err = await quantizeBlocks(x, 'q8_0').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BitflashArgumentError);
    expect((err as BitflashArgumentError).code).toBe('ERR_BITFLASH_ARG');
    expect((err as Error).message).toMatch(/NaN or Infinity/);
    // the stack points at this test, captured before the native call
    expect((err as Error).stack).toMatch(/quantize\.test\.ts/);
  });
});

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
