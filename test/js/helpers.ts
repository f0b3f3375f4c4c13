/**
 * Test helpers: a seeded PRNG, an independent TS reference of llama.cpp's q8_0 quantizer, an exact BigInt
 * reference of the dyadic rounding rule, and the ISA / thread-count restore shared by the test files.
 */
import { afterAll } from 'vitest';
import { cpuFeatures, getThreads, setIsa, setThreads, type Dyadic } from '../../lib/index.js';

/**
 * For a test file that calls setIsa / setThreads: reads the CPU features and the thread count now, and
 * puts the ISA cap and thread count back after all the file's tests (then runs `after`, if given).
 */
export function restoreIsaAndThreadsAfterAll(after?: () => void): { feat: ReturnType<typeof cpuFeatures>; threads0: number } {
  const feat = cpuFeatures();
  const threads0 = getThreads();
  afterAll(() => {
    setIsa(feat.cap);
    setThreads(threads0);
    after?.();
  });
  return { feat, threads0 };
}

// ---- an independent BigInt reference of the rounding rule (lib/ops/dyadic.ts, module comment) ----
const I32_MIN = -(2n ** 31n);
const I32_MAX = 2n ** 31n - 1n;
const floorDiv = (a: bigint, b: bigint) => (a >= 0n ? a / b : -((-a + b - 1n) / b));
/** x * d in exact integer arithmetic, before the zero point and the final clamp. */
export function mulDyadicRef(x: number, d: Dyadic): bigint {
  let xv = BigInt(x);
  const m = BigInt(d.m);
  if (d.s < 31) {
    xv = xv * 2n ** BigInt(31 - d.s);
    xv = xv > I32_MAX ? I32_MAX : xv < I32_MIN ? I32_MIN : xv;
  }
  let h = xv === I32_MIN && m === I32_MIN ? I32_MAX : floorDiv(xv * m + 2n ** 30n, 2n ** 31n);
  if (d.s > 31) {
    const k = 2n ** BigInt(d.s - 31);
    const q = floorDiv(h, k);
    const r = h - q * k; // 0 <= r < k
    // nearest, ties away from zero
    h = 2n * r > k || (2n * r === k && h > 0n) ? q + 1n : q;
  }
  return h;
}

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE f32 -> f16 bits, round to nearest even (independent of the C++ one). */
export function f32ToF16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const v = Math.abs(f32[0]!);
  if (Number.isNaN(v)) return sign | 0x7e00;
  if (v >= 65520) return sign | 0x7c00;
  if (v < 2 ** -14) {
    // subnormal: units of 2^-24, ties to even
    const q = v / 2 ** -24;
    let r = Math.floor(q);
    const frac = q - r;
    if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r++;
    return sign | r;
  }
  const e = Math.floor(Math.log2(v));
  const exp = v / 2 ** e >= 2 ? e + 1 : v / 2 ** e < 1 ? e - 1 : e;
  const m = v / 2 ** exp - 1; // in [0, 1)
  const q = m * 1024;
  let r = Math.floor(q);
  const frac = q - r;
  if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r++;
  return sign | (((exp + 15) << 10) + r);
}

/** C's roundf: half away from zero. */
export function roundf(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/** q8_0 as llama.cpp's quantize_row_q8_0_ref defines it, in f32 arithmetic. */
export function q8_0Reference(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 34);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < nb; i++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[i * 32 + j]!));
    const d = Math.fround(amax / 127);
    // 1 / d overflowing f32 (amax < 127 * 2^-128) is undefined in llama.cpp's int8 cast: bitflash defines id = 0
    const id = d !== 0 && Number.isFinite(Math.fround(1 / d)) ? Math.fround(1 / d) : 0;
    dv.setUint16(i * 34, f32ToF16(d), true);
    for (let j = 0; j < 32; j++) {
      const v = Math.fround(x[i * 32 + j]! * id);
      dv.setInt8(i * 34 + 2 + j, roundf(v));
    }
  }
  return out;
}

export function randomF32(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (r() * 2 - 1) * 10 ** (Math.floor(r() * 7) - 3);
  return x;
}
