/**
 * Property tests of matmul / matmulSync / pack / packSync and the QTensor constructors (issue 9).
 *
 * Random weight dtype, n, k, m, activation kind (f32 array, f32 / i8 / u8 Tensor, row-strided with an
 * offset), scales (with NaN, Infinity, 0, -0, negative, subnormal, huge), zero points, `out`, packed or
 * not, thread count, ISA path, sync or async. Every valid call gives the reference (matmul-ref.ts: the
 * f32 outputs within matmulTolerance(), the i32 outputs exactly, and bit-identical across thread counts);
 * every invalid one throws a typed error. Inputs sit at the end of their ArrayBuffer with random guard
 * bytes before them (and between strided rows): the result must not change when the guards do.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BitflashDisposedError,
  QTensor,
  Tensor,
  matmul,
  matmulInfo,
  matmulSync,
  matmulTolerance,
  pack,
  packSync,
  setIsa,
  setThreads,
  type MatmulDType,
} from '../../lib/index.js';
import { decodeQTensor, matmulBlocksRef, matmulIntActsRef, matmulI32Ref, type DecodedW } from './matmul-ref.js';
import { quantizeActs } from './matmul-ref.js';
import { f32ToF16, restoreIsaAndThreadsAfterAll } from './helpers.js';
import { atEnd, count, expectSameBits, isTypedError, outcome, outcomeAsync, params, prng, reguard, scaleArb, snapshot, stridedAtEnd, tally } from './property-util.js';

const { feat } = restoreIsaAndThreadsAfterAll(() => {
  if (process.env.BITFLASH_PROPERTY_RUNS) console.log('property-matmul runs:', JSON.stringify(Object.fromEntries(tally)));
});
const F32_MAX = 3.4028234663852886e38;

type XKind = 'f32array' | 'f32tensor' | 'i8' | 'u8';
interface Case {
  isa: string;
  threads: number;
  dtype: MatmulDType;
  n: number;
  k: number;
  m: number;
  xKind: XKind;
  i32: boolean;
  ldExtra: number;
  offset: number;
  guard: number;
  packMode: 'none' | 'packed' | 'packed-off';
  useOut: boolean;
  sync: boolean;
  seed: number;
  /** special f16 scale bits for q8_0 / q4_0 blocks, or special f32 scales for i8c / i4g / xScales */
  wScales: number[];
  xScales: number[];
  zpMode: 'none' | 'random';
  xSpecial: boolean;
}

const SPECIAL_F16 = [0x7e00, 0x7c00, 0xfc00, 0x0000, 0x8000, 0x0001, 0x7bff, 0xfbff] as const;

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    isa: fc.constantFrom(...feat.paths),
    threads: fc.integer({ min: 1, max: 4 }),
    dtype: fc.constantFrom<MatmulDType>('q8_0', 'q4_0', 'i8c', 'i4g'),
    n: fc.integer({ min: 1, max: 20 }),
    kUnits: fc.integer({ min: 1, max: 6 }),
    kFree: fc.integer({ min: 1, max: 200 }),
    m: fc.integer({ min: 1, max: 12 }),
    xKind: fc.constantFrom<XKind>('f32array', 'f32tensor', 'i8', 'u8'),
    i32: fc.boolean(),
    ldExtra: fc.integer({ min: 0, max: 5 }),
    offset: fc.integer({ min: 0, max: 7 }),
    guard: fc.integer({ min: 0, max: 9 }),
    packMode: fc.constantFrom<'none' | 'packed' | 'packed-off'>('none', 'packed', 'packed-off'),
    useOut: fc.boolean(),
    sync: fc.boolean(),
    seed: fc.integer({ min: 1, max: 2 ** 30 }),
    wScales: fc.array(scaleArb(), { minLength: 0, maxLength: 2 }),
    xScales: fc.array(scaleArb(fc.double({ min: 0, max: 2, noNaN: true })), { minLength: 0, maxLength: 2 }),
    zpMode: fc.constantFrom<'none' | 'random'>('none', 'random'),
    xSpecial: fc.boolean(),
  })
  .map((r) => {
    const k = r.dtype === 'q8_0' || r.dtype === 'q4_0' ? 32 * r.kUnits : r.kFree;
    // output 'i32' is defined for i8c weights with int8 / uint8 activations
    const i32 = r.i32 && r.dtype === 'i8c' && (r.xKind === 'i8' || r.xKind === 'u8');
    const { kUnits: _a, kFree: _b, ...rest } = r;
    return { ...rest, k, i32 };
  });

/** A small deterministic PRNG per case (fast-check shrinks the seed). */
interface Built {
  w: QTensor;
  arrays: object[]; // guarded arrays
  wValid: boolean; // the constructor accepted the scales
}

/** Weights with random bytes, at the end of guarded buffers; special scales spliced in. */
function buildWeights(c: Case, r: () => number): Built | { error: unknown } {
  const { n, k, dtype } = c;
  if (dtype === 'q8_0' || dtype === 'q4_0') {
    const bb = dtype === 'q8_0' ? 34 : 18;
    const nb = (n * k) / 32;
    const bytes = new Uint8Array(nb * bb);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(r() * 256);
    for (let b = 0; b < nb; b++) {
      // an ordinary f16 scale (0.001 .. 1) unless a special one is spliced in below
      const h = f32ToF16(0.001 + r());
      bytes[b * bb] = h & 0xff;
      bytes[b * bb + 1] = h >> 8;
    }
    c.wScales.forEach((_, i) => {
      const b = Math.floor(r() * nb);
      const h = SPECIAL_F16[(i + Math.floor(r() * SPECIAL_F16.length)) % SPECIAL_F16.length]!;
      bytes[b * bb] = h & 0xff;
      bytes[b * bb + 1] = h >> 8;
    });
    const data = atEnd(Uint8Array, bytes, c.guard, c.seed);
    return { w: QTensor.fromGGUF(dtype, data, [n, k]), arrays: [data], wValid: true };
  }
  if (dtype === 'i8c') {
    const q = atEnd(Int8Array, Int8Array.from({ length: n * k }, () => Math.floor(r() * 256) - 128), c.guard, c.seed);
    const s = new Float32Array(n).map(() => 0.001 + r());
    c.wScales.forEach((v) => (s[Math.floor(r() * n)] = v));
    const scales = atEnd(Float32Array, s, c.guard % 3, c.seed + 1);
    const valid = Array.from(scales).every((v) => Number.isFinite(v) && v >= 0);
    const o = outcome(() => QTensor.fromPerChannel({ q, scales, n, k }));
    expect(o.ok, `fromPerChannel accepts iff every scale is finite and >= 0 (${Array.from(scales).join(',')})`).toBe(valid);
    if (!o.ok) return { error: o.error };
    return { w: o.value, arrays: [q, scales], wValid: true };
  }
  const g = ([32, 64, 128] as const)[Math.floor(r() * 3)]!;
  const gpr = Math.ceil(k / g);
  const B = atEnd(Uint8Array, Uint8Array.from({ length: n * gpr * (g / 2) }, () => Math.floor(r() * 256)), c.guard, c.seed);
  const s = new Float32Array(n * gpr).map(() => (r() - 0.5) * 2);
  c.wScales.forEach((v) => (s[Math.floor(r() * s.length)] = v));
  const scales = atEnd(Float32Array, s, c.guard % 3, c.seed + 1);
  const zeroPoints = r() < 0.5 ? atEnd(Uint8Array, Uint8Array.from({ length: n * Math.ceil(gpr / 2) }, () => Math.floor(r() * 256)), c.guard % 5, c.seed + 2) : undefined;
  const valid = Array.from(scales).every((v) => Number.isFinite(v));
  const o = outcome(() => QTensor.fromMatMulNBits({ B, scales, zeroPoints, n, k, blockSize: g }));
  expect(o.ok, 'fromMatMulNBits accepts iff every scale is finite').toBe(valid);
  if (!o.ok) return { error: o.error };
  return { w: o.value, arrays: zeroPoints ? [B, scales, zeroPoints] : [B, scales], wValid: true };
}

interface XBuilt {
  x: Float32Array | Tensor;
  dense: Float32Array | Int8Array | Uint8Array; // row-major values
  backing: object;
  xScales?: Float32Array;
  xZeroPoints?: Int32Array;
  scalesValid: boolean;
}

function buildX(c: Case, r: () => number): XBuilt {
  const { m, k } = c;
  const ld = k + c.ldExtra;
  if (c.xKind === 'f32array' || c.xKind === 'f32tensor') {
    const dense = new Float32Array(m * k).map(() => (r() * 2 - 1) * 10 ** (Math.floor(r() * 5) - 2));
    if (c.xSpecial && r() < 0.3) dense[Math.floor(r() * dense.length)] = [Number.NaN, Infinity, -Infinity, 1e38, -3e38][Math.floor(r() * 5)]!;
    if (c.xKind === 'f32array') {
      const x = atEnd(Float32Array, dense, c.guard, c.seed + 3);
      return { x, dense, backing: x, scalesValid: true };
    }
    const back = stridedAtEnd(Float32Array, dense, m, k, ld, c.offset, c.guard, c.seed + 3);
    return { x: Tensor.from(back, [m, k], { strides: [ld, 1], offset: c.offset }), dense, backing: back, scalesValid: true };
  }
  const unsigned = c.xKind === 'u8';
  const dense = unsigned ? Uint8Array.from({ length: m * k }, () => Math.floor(r() * 256)) : Int8Array.from({ length: m * k }, () => Math.floor(r() * 256) - 128);
  if (c.xSpecial) dense.fill(unsigned ? 255 : -128, 0, Math.min(k, dense.length)); // an extreme row
  const back = unsigned
    ? stridedAtEnd(Uint8Array, dense, m, k, ld, c.offset, c.guard, c.seed + 3)
    : stridedAtEnd(Int8Array, dense, m, k, ld, c.offset, c.guard, c.seed + 3);
  const x = m === 1 && r() < 0.5 ? Tensor.from(back, [k], { offset: c.offset }) : Tensor.from(back, [m, k], { strides: [ld, 1], offset: c.offset });
  if (c.i32) return { x, dense, backing: back, scalesValid: true };
  const s = new Float32Array(m).map(() => r() * 0.1);
  c.xScales.forEach((v) => (s[Math.floor(r() * m)] = v));
  const xScales = atEnd(Float32Array, s, c.guard % 4, c.seed + 4);
  const scalesValid = Array.from(xScales).every((v) => Number.isFinite(v) && v >= 0);
  let xZeroPoints: Int32Array | undefined;
  if (c.zpMode === 'random') xZeroPoints = atEnd(Int32Array, Int32Array.from({ length: m }, () => (unsigned ? Math.floor(r() * 256) : Math.floor(r() * 256) - 128)), c.guard % 2, c.seed + 5);
  return { x, dense, backing: back, xScales, xZeroPoints, scalesValid };
}

/**
 * The kernels compute each block's scale product dw_b * dx_b in f32 (matmul.h): where it leaves the f32
 * range (a 3e38 activation against a 65504 f16 block scale) the f32 result is Inf, and Inf * isum_b = NaN
 * for a block that cancels, while the float64 reference stays finite. Such outputs are outside the bound:
 * their s is set to Infinity so that checkF32 skips them.
 */
function markOverflow(s: Float64Array, dw: DecodedW, dx: Float64Array, m: number, n: number): void {
  for (let i = 0; i < m; i++)
    for (let r = 0; r < n; r++)
      for (let b = 0; b < dw.kb; b++)
        if (Math.abs(dw.d[r * dw.kb + b]! * dx[i * dw.kb + b]!) > F32_MAX) {
          s[i * n + r] = Infinity;
          break;
        }
}

/** The reference of one call: f32 {y, s} for the bound, or exact i32. */
function reference(c: Case, w: QTensor, xb: XBuilt): { kind: 'f32'; y: Float64Array; s: Float64Array; nb: number } | { kind: 'i32'; y: Int32Array } {
  const { m, n, k } = c;
  if (c.i32) return { kind: 'i32', y: matmulI32Ref(new Int8Array(w.data.buffer, w.data.byteOffset, n * k), n, k, xb.dense as Int8Array, m, k) };
  const dw = decodeQTensor(w);
  if (xb.dense instanceof Float32Array) {
    const acts = quantizeActs(xb.dense, m, k, k);
    const ref = matmulBlocksRef(dw, acts, m);
    markOverflow(ref.s, dw, acts.d, m, n);
    return { kind: 'f32', ...ref, nb: dw.kb };
  }
  // int8 / uint8 activations: the kernels' exact terms (matmulIntActsRef)
  const ref = matmulIntActsRef(dw, xb.dense, m, k, xb.xScales!, xb.xZeroPoints);
  markOverflow(ref.s, dw, ref.acts.d, m, n);
  for (let i = 0; i < m; i++) {
    // the epilogue's f32 terms can leave the f32 range too: sx * zp' (u8: zp - 128; xScales 3e38) and the
    // row's sum of real weights (an i4g scale of 3e38 times a few codes)
    const e = Math.abs(xb.xScales![i]! * ((xb.xZeroPoints ? xb.xZeroPoints[i]! : 0) - ref.off));
    for (let rr = 0; rr < n; rr++) if (e > F32_MAX || ref.wabs[rr]! > F32_MAX || e * ref.wabs[rr]! > F32_MAX) ref.s[i * n + rr] = Infinity;
  }
  return { kind: 'f32', y: ref.y, s: ref.s, nb: dw.kb + 2 };
}

/**
 * Compares one output with the reference. Where the reference's magnitude sum is not finite or exceeds
 * the f32 range (special scales: NaN / Infinity f16 blocks, 3e38 scales, a scale product that overflows
 * f32: markOverflow), the bound does not apply and a NaN reference must give a non-finite output;
 * elsewhere the output is within matmulTolerance() (matmul.h).
 */
function checkF32(y: Float32Array, ref: { y: Float64Array; s: Float64Array; nb: number }, what: string): void {
  for (let i = 0; i < y.length; i++) {
    const s = ref.s[i]!;
    if (!Number.isFinite(s) || s > F32_MAX / 4) {
      if (Number.isNaN(ref.y[i]!) && Number.isFinite(y[i]!)) {
        // a NaN reference (Inf * 0 or NaN scale) must not turn into a plain number
        expect.fail(`${what}: output ${i} is ${y[i]} where the reference is NaN`);
      }
      continue;
    }
    const tol = matmulTolerance(ref.nb, s);
    const err = Math.abs(y[i]! - ref.y[i]!);
    if (!(err <= tol)) expect.fail(`${what}: output ${i}: ${y[i]} vs ${ref.y[i]} (err ${err} > tol ${tol})`);
  }
}

async function call(c: Case, w: QTensor, xb: XBuilt, out: Float32Array | Int32Array | undefined): Promise<ReturnType<typeof outcome<Float32Array | Int32Array>>> {
  const opts: Record<string, unknown> = {};
  if (c.i32) opts.output = 'i32';
  if (xb.xScales) opts.xScales = xb.xScales;
  if (xb.xZeroPoints) opts.xZeroPoints = xb.xZeroPoints;
  if (out) opts.out = out;
  if (c.packMode === 'packed-off') opts.pack = false;
  const fnSync = matmulSync as unknown as (w: QTensor, x: unknown, o: unknown) => Float32Array | Int32Array;
  const fnAsync = matmul as unknown as (w: QTensor, x: unknown, o: unknown) => Promise<Float32Array | Int32Array>;
  if (c.sync) return outcome(() => fnSync(w, xb.x, opts));
  return outcomeAsync(() => fnAsync(w, xb.x, opts));
}

describe('property: matmul', () => {
  it('valid calls give the reference (f32 within the bound, i32 exactly), invalid scales a typed error; guards never read', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        count('matmul');
        setIsa(c.isa as never);
        setThreads(c.threads);
        const r = prng(c.seed);
        const built = buildWeights(c, r);
        if ('error' in built) return; // a typed error, checked in buildWeights
        const { w } = built;
        const xb = buildX(c, r);
        if (c.packMode !== 'none') {
          if (r() < 0.5) packSync(w);
          else await pack(w);
          expect(w.packed?.disposed).toBe(false);
        }
        const mkOut = (): Float32Array | Int32Array | undefined =>
          c.useOut ? (c.i32 ? atEnd(Int32Array, new Int32Array(c.m * c.n).fill(-7), 1) : atEnd(Float32Array, new Float32Array(c.m * c.n).fill(Number.NaN), 1)) : undefined;
        const what = `${c.isa} t=${c.threads} ${c.dtype} m=${c.m} n=${c.n} k=${c.k} ${c.xKind}${c.i32 ? ' i32' : ''} ${c.packMode} ${c.sync ? 'sync' : 'async'}`;
        const out1 = mkOut();
        const o1 = await call(c, w, xb, out1);
        if (!xb.scalesValid) {
          expect(o1.ok, `${what}: xScales ${Array.from(xb.xScales!).join(',')} must be rejected`).toBe(false);
          expect((o1 as { error: unknown }).error).toBeInstanceOf(RangeError);
          w.dispose();
          return;
        }
        const xHasNonFinite = xb.dense instanceof Float32Array && xb.dense.some((v) => !Number.isFinite(v));
        if (!o1.ok) {
          // the only typed rejection a well-formed call may get is non-finite f32 activations
          expect(xHasNonFinite, `${what}: unexpected ${String((o1 as { error: unknown }).error)}`).toBe(true);
          w.dispose();
          return;
        }
        const y1 = o1.value;
        if (out1) expect(y1).toBe(out1);
        expect(y1.length).toBe(c.m * c.n);
        const saved = snapshot(y1);
        if (!xHasNonFinite) {
          const ref = reference(c, w, xb);
          if (ref.kind === 'i32') expect(Array.from(y1 as Int32Array), what).toEqual(Array.from(ref.y));
          else checkF32(y1 as Float32Array, ref, what);
        }
        // the guards: refill every byte outside the views; the same call gives the same bits
        reguard(c.seed, ...built.arrays, xb.backing, ...(xb.xScales ? [xb.xScales] : []), ...(xb.xZeroPoints ? [xb.xZeroPoints] : []));
        const o2 = await call(c, w, xb, mkOut());
        expect(o2.ok, `${what}: the second call`).toBe(true);
        expectSameBits((o2 as { value: Float32Array }).value, new Float32Array(saved.buffer), `${what}: after the guards changed`);
        // thread count: one thread gives the same bits
        if (c.threads !== 1) {
          setThreads(1);
          const o3 = await call(c, w, xb, mkOut());
          expectSameBits((o3 as { value: Float32Array }).value, new Float32Array(saved.buffer), `${what}: 1 thread vs ${c.threads}`);
        }
        w.dispose();
      }),
      params(300),
    );
  });

  it('regression: subnormal scale products stay within matmulTolerance (it had no absolute term for underflow)', () => {
    // found by the property above: xScales 2^-149 times a q8_0 d of ~0.5 is a subnormal f32 product, rounded
    // with an absolute error the purely relative bound 2 (nb + 2) u s did not cover
    setIsa('scalar');
    const bytes = new Uint8Array(34);
    const h = f32ToF16(0.6);
    bytes[0] = h & 0xff;
    bytes[1] = h >> 8;
    for (let j = 0; j < 32; j++) bytes[2 + j] = (j * 37 + 11) & 0xff;
    const w = QTensor.fromGGUF('q8_0', bytes, [1, 32]);
    const xd = Uint8Array.from({ length: 32 }, (_, j) => (j * 53 + 7) & 0xff);
    const xScales = Float32Array.of(2 ** -149);
    const y = matmulSync(w, Tensor.from(xd, [1, 32]), { xScales });
    const c = { m: 1, n: 1, k: 32, i32: false } as Case;
    const ref = reference(c, w, { x: Tensor.from(xd, [1, 32]), dense: xd, backing: xd, xScales, scalesValid: true });
    if (ref.kind !== 'f32') throw new Error('f32 reference expected');
    expect(Math.abs(y[0]! - ref.y[0]!)).toBeGreaterThan(2 * 3 * 2 ** -24 * ref.s[0]!); // the old bound fails
    checkF32(y, ref, 'subnormal product');
    setIsa(feat.cap);
  });

  it('invalid arguments throw a typed error synchronously (sync and async forms), never a crash', () => {
    const w8 = QTensor.fromPerChannel({ q: new Int8Array(3 * 40), scales: new Float32Array(3).fill(1), n: 3, k: 40 });
    const wq = QTensor.fromGGUF('q8_0', new Uint8Array(34 * 2), [2, 32]);
    const dead = QTensor.fromGGUF('q4_0', new Uint8Array(18), [1, 32]);
    dead.dispose();
    const deadX = Tensor.from(new Int8Array(40), [1, 40]);
    deadX.dispose();
    const mutations: [string, () => [QTensor, unknown, unknown]][] = [
      ['out too short', () => [wq, new Float32Array(64), { out: new Float32Array(3) }]],
      ['out too long', () => [wq, new Float32Array(64), { out: new Float32Array(5) }]],
      ['out wrong type', () => [wq, new Float32Array(64), { out: new Float64Array(4) }]],
      ['i32 out for f32', () => [w8, Tensor.from(new Int8Array(40), [1, 40]), { output: 'i32', out: new Float32Array(3) }]],
      ['x length not a multiple of k', () => [wq, new Float32Array(33), undefined]],
      ['x empty', () => [wq, new Float32Array(0), undefined]],
      ['x Float64Array', () => [wq, new Float64Array(32), undefined]],
      ['x Tensor with wrong k', () => [wq, Tensor.from(new Float32Array(62), [2, 31]), undefined]],
      ['x 3-D Tensor', () => [wq, Tensor.from(new Float32Array(64), [1, 2, 32]), undefined]],
      ['x i32 Tensor', () => [wq, Tensor.from(new Int32Array(32), [1, 32]), undefined]],
      ['xScales missing', () => [w8, Tensor.from(new Int8Array(40), [1, 40]), {}]],
      ['xScales wrong length', () => [w8, Tensor.from(new Int8Array(80), [2, 40]), { xScales: new Float32Array(1) }]],
      ['xScales NaN', () => [w8, Tensor.from(new Int8Array(40), [1, 40]), { xScales: Float32Array.of(Number.NaN) }]],
      ['xScales -Inf', () => [w8, Tensor.from(new Int8Array(40), [1, 40]), { xScales: Float32Array.of(-Infinity) }]],
      ['xScales negative', () => [w8, Tensor.from(new Int8Array(40), [1, 40]), { xScales: Float32Array.of(-1) }]],
      ['xScales for f32', () => [wq, new Float32Array(32), { xScales: Float32Array.of(1) }]],
      ['xZeroPoints out of range (i8)', () => [w8, Tensor.from(new Int8Array(40), [1, 40]), { xScales: Float32Array.of(1), xZeroPoints: Int32Array.of(128) }]],
      ['xZeroPoints out of range (u8)', () => [w8, Tensor.from(new Uint8Array(40), [1, 40]), { xScales: Float32Array.of(1), xZeroPoints: Int32Array.of(-1) }]],
      ['xZeroPoints wrong type', () => [w8, Tensor.from(new Int8Array(40), [1, 40]), { xScales: Float32Array.of(1), xZeroPoints: Int8Array.of(0) }]],
      ['i32 with q8_0 weights', () => [wq, Tensor.from(new Int8Array(32), [1, 32]), { output: 'i32' }]],
      ['i32 with f32 x', () => [w8, new Float32Array(40), { output: 'i32' }]],
      ['i32 with xScales', () => [w8, Tensor.from(new Int8Array(40), [1, 40]), { output: 'i32', xScales: Float32Array.of(1) }]],
      ['output f16', () => [wq, new Float32Array(32), { output: 'f16' }]],
      ['pack not boolean', () => [wq, new Float32Array(32), { pack: 'yes' }]],
      ['options a number', () => [wq, new Float32Array(32), 5]],
      ['options null', () => [wq, new Float32Array(32), null]],
      ['w not a QTensor', () => [{ dtype: 'q8_0', shape: [2, 32] } as unknown as QTensor, new Float32Array(32), undefined]],
      ['w disposed', () => [dead, new Float32Array(32), undefined]],
      ['x disposed', () => [w8, deadX, { output: 'i32' }]],
      ['x a plain array', () => [wq, Array.from({ length: 32 }, () => 1), undefined]],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...mutations), fc.boolean(), ([name, make], sync) => {
        count('matmul-invalid');
        const [w, x, o] = make();
        const f = sync ? matmulSync : matmul;
        let threw: unknown;
        try {
          void (f as unknown as (w: unknown, x: unknown, o: unknown) => unknown)(w, x, o);
        } catch (e) {
          threw = e;
        }
        expect(threw, `${name} (${sync ? 'sync' : 'async'}) must throw synchronously`).toBeDefined();
        expect(isTypedError(threw), `${name}: ${String(threw)}`).toBe(true);
        if (name.endsWith('disposed')) expect(threw).toBeInstanceOf(BitflashDisposedError);
      }),
      params(200),
    );
  });

  it('QTensor constructors accept exactly the right lengths and reject too short / too long buffers', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('q8_0', 'q4_0', 'q4_K', 'tq1_0', 'tq2_0', 'i2_s', 'i8c', 'i4g'),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: -3, max: 3 }),
        fc.constantFrom(32, 64, 128),
        fc.integer({ min: 0, max: 7 }),
        (dtype, n, kUnits, delta, g, guard) => {
          count('qtensor-lengths');
          const be = dtype === 'q8_0' || dtype === 'q4_0' ? 32 : dtype === 'i8c' || dtype === 'i4g' ? 1 : dtype === 'i2_s' ? 128 : 256;
          const k = dtype === 'i8c' || dtype === 'i4g' ? kUnits * 13 : be * kUnits;
          let need: number;
          let make: (len: number) => QTensor;
          if (dtype === 'i8c') {
            need = n * k;
            make = (len) => QTensor.fromPerChannel({ q: atEnd(Int8Array, new Int8Array(len), guard), scales: new Float32Array(n), n, k });
          } else if (dtype === 'i4g') {
            const gpr = Math.ceil(k / g);
            need = n * gpr * (g / 2);
            make = (len) => QTensor.fromMatMulNBits({ B: atEnd(Uint8Array, new Uint8Array(len), guard), scales: new Float32Array(n * gpr), n, k, blockSize: g });
          } else {
            const sizes = { q8_0: 34, q4_0: 18, q4_K: 144, tq1_0: 54, tq2_0: 66, i2_s: 32 } as const;
            need = ((n * k) / be) * sizes[dtype as keyof typeof sizes] + (dtype === 'i2_s' ? 32 : 0);
            make = (len) => QTensor.fromGGUF(dtype as 'q8_0', atEnd(Uint8Array, new Uint8Array(len), guard), [n, k]);
          }
          const len = Math.max(0, need + delta);
          const o = outcome(() => make(len));
          expect(o.ok, `${dtype} [${n}, ${k}] with ${len} of ${need} bytes`).toBe(len === need);
          if (o.ok) {
            expect(o.value.shape).toEqual([n, k]);
            o.value.dispose();
          } else expect((o as { error: unknown }).error).toBeInstanceOf(RangeError);
        },
      ),
      params(150),
    );
  });

  it('pack and packSync: concurrent packs share one handle; a disposed w or handle never crashes later calls', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<MatmulDType>('q8_0', 'q4_0', 'i8c', 'i4g'), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 2 }), async (dtype, copies, disposeAt) => {
        count('pack');
        const n = 5;
        const k = 64;
        const r = prng(copies * 31 + disposeAt);
        const w =
          dtype === 'i8c'
            ? QTensor.fromPerChannel({ q: Int8Array.from({ length: n * k }, () => Math.floor(r() * 256) - 128), scales: new Float32Array(n).fill(0.5), n, k })
            : dtype === 'i4g'
              ? QTensor.fromMatMulNBits({ B: Uint8Array.from({ length: n * 2 * 16 }, () => Math.floor(r() * 256)), scales: new Float32Array(n * 2).fill(0.25), n, k, blockSize: 32 })
              : QTensor.fromGGUF(dtype, Uint8Array.from({ length: n * 2 * (dtype === 'q8_0' ? 34 : 18) }, (_, i) => (i % (dtype === 'q8_0' ? 34 : 18) === 1 ? 0x3c : Math.floor(r() * 256))), [n, k]);
        const x = new Float32Array(matmulInfo().gemmMinM * k).map(() => r() - 0.5);
        const want = matmulSync(w, x, { pack: false });
        const handles = await Promise.all(Array.from({ length: copies }, () => pack(w)));
        for (const h of handles) expect(h).toBe(handles[0]);
        expect(packSync(w)).toBe(handles[0]);
        const got = matmulSync(w, x);
        expect(got.length).toBe(want.length);
        if (disposeAt === 0) {
          handles[0]!.dispose(); // later calls run unpacked
          expect(w.packed).toBeUndefined();
          expect(matmulSync(w, x)).toEqual(want);
        } else if (disposeAt === 1) {
          const p = matmul(w, x);
          w.dispose(); // deferred: the pending call finishes with the packed weights
          expect((await p).length).toBe(want.length);
          expect(() => matmulSync(w, x)).toThrow(BitflashDisposedError);
          expect(() => pack(w)).toThrow(BitflashDisposedError);
          return;
        }
        w.dispose();
      }),
      params(40),
    );
  });
});
