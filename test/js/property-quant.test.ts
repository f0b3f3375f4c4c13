/**
 * Property tests of quantize / dequantize (every dtype) and of ternary matmul (issue 9).
 *
 * References: q8_0 and q4_0 bytes equal the independent TS quantizers (helpers.ts, matmul-ref.ts); every
 * dtype's bytes on every ISA path equal the scalar path's; dequantize equals f32(d * q) of the TS decoder
 * exactly (q8_0, q4_0, i8c, i4g) or the scalar path (ternary, q4_K, random bytes); ternary matmul is one
 * spec for every family and path (lib/ops/ternary.ts), so its f32 output equals the scalar path's mad
 * result bit for bit. Non-finite inputs are a BitflashError (ERR_BITFLASH_ARG), never a crash; inputs sit
 * at the end of guarded buffers (property-util.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BitflashError,
  QTensor,
  Tensor,
  dequantize,
  dequantizeSync,
  matmul,
  matmulSync,
  quantize,
  quantizeSync,
  setIsa,
  setThreads,
  type QuantizeDType,
} from '../../lib/index.js';
import { q8_0Reference, restoreIsaAndThreadsAfterAll } from './helpers.js';
import { decodeWeights, q4_0Reference } from './matmul-ref.js';
import { atEnd, count, expectSameBits, outcome, outcomeAsync, params, prng, reguard, snapshot, stridedAtEnd, tally } from './property-util.js';

const { feat } = restoreIsaAndThreadsAfterAll(() => {
  if (process.env.BITFLASH_PROPERTY_RUNS) console.log('property-quant runs:', JSON.stringify(Object.fromEntries(tally)));
});

const QDTYPES: QuantizeDType[] = ['q8_0', 'q4_0', 'i8c', 'i4g', 'tq1_0', 'tq2_0', 'i2_s'];

function kFor(dtype: QuantizeDType, units: number, free: number): number {
  if (dtype === 'q8_0' || dtype === 'q4_0') return 32 * units;
  if (dtype === 'tq1_0' || dtype === 'tq2_0') return 256 * Math.min(units, 2);
  if (dtype === 'i2_s') return 128 * units;
  return free;
}

/** NaN-aware equality of f32 arrays (NaN payloads may differ between paths; every NaN is equal). */
function expectSameF32(a: Float32Array, b: Float32Array, what: string): void {
  expect(a.length, what).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]!) && Number.isNaN(b[i]!)) continue;
    if (!Object.is(a[i], b[i])) expect.fail(`${what}: element ${i}: ${a[i]} vs ${b[i]}`);
  }
}

const special = [Number.NaN, Infinity, -Infinity] as const;

/** Whether tq2_0 / i2_s bytes hold a 2-bit code 3 (tq2_0: the 64 code bytes of each 66-byte block; i2_s: all but the trailer). */
function ternaryCode3(dtype: 'tq2_0' | 'i2_s', bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    if (dtype === 'tq2_0' && i % 66 >= 64) continue;
    if (dtype === 'i2_s' && i >= bytes.length - 32) continue;
    for (let sh = 0; sh < 8; sh += 2) if (((bytes[i]! >> sh) & 3) === 3) return true;
  }
  return false;
}

describe('property: quantize / dequantize', () => {
  it('bytes equal the references on every path; non-finite input is a typed error; dequantize is exact', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          dtype: fc.constantFrom(...QDTYPES),
          isa: fc.constantFrom(...feat.paths),
          threads: fc.integer({ min: 1, max: 3 }),
          n: fc.integer({ min: 1, max: 6 }),
          units: fc.integer({ min: 1, max: 4 }),
          free: fc.integer({ min: 1, max: 150 }),
          group: fc.constantFrom<32 | 64 | 128>(32, 64, 128),
          symmetric: fc.boolean(),
          tensor: fc.boolean(),
          ldExtra: fc.integer({ min: 0, max: 4 }),
          offset: fc.integer({ min: 0, max: 5 }),
          guard: fc.integer({ min: 0, max: 6 }),
          scale: fc.constantFrom(1, 1e-3, 1e-40, 1e30, 3e38, 0),
          nonFinite: fc.option(fc.constantFrom(...special), { freq: 5 }),
          sync: fc.boolean(),
          useOut: fc.boolean(),
          seed: fc.integer({ min: 1, max: 2 ** 30 }),
        }),
        async (c) => {
          count('quantize');
          setIsa(c.isa as never);
          setThreads(c.threads);
          const r = prng(c.seed);
          const k = kFor(c.dtype, c.units, c.free);
          const n = c.n;
          const dense = new Float32Array(n * k).map(() => (r() * 2 - 1) * c.scale);
          if (c.nonFinite !== null) dense[Math.floor(r() * dense.length)] = c.nonFinite;
          const x = c.tensor
            ? Tensor.from(stridedAtEnd(Float32Array, dense, n, k, k + c.ldExtra, c.offset, c.guard, c.seed), [n, k], { strides: [k + c.ldExtra, 1], offset: c.offset })
            : atEnd(Float32Array, dense, c.guard, c.seed);
          const opts = c.dtype === 'i4g' ? { dtype: c.dtype, shape: [n, k] as [number, number], group: c.group, symmetric: c.symmetric } : { dtype: c.dtype, shape: [n, k] as [number, number] };
          const o = c.sync ? outcome(() => quantizeSync(x, opts)) : await outcomeAsync(() => quantize(x, opts));
          if (c.nonFinite !== null) {
            expect(o.ok, 'NaN / Infinity in the input is rejected').toBe(false);
            expect((o as { error: unknown }).error).toBeInstanceOf(BitflashError);
            expect(((o as { error: unknown }).error as BitflashError).code).toBe('ERR_BITFLASH_ARG');
            return;
          }
          expect(o.ok, `${c.dtype} [${n}, ${k}]: ${o.ok ? '' : String((o as { error: unknown }).error)}`).toBe(true);
          const q = (o as { value: QTensor }).value;
          // the references: independent TS quantizers, and the scalar path for every dtype
          if (c.dtype === 'q8_0') expect(q.data).toEqual(q8_0Reference(dense));
          if (c.dtype === 'q4_0') expect(q.data).toEqual(q4_0Reference(dense));
          setIsa('scalar');
          const qs = quantizeSync(Float32Array.from(dense), opts);
          setIsa(c.isa as never);
          expect(q.data, `${c.isa} ${c.dtype} bytes vs scalar`).toEqual(qs.data);
          if (qs.scales) expectSameF32(q.scales!, qs.scales, 'scales vs scalar');
          if (qs.zeroPoints) expect(q.zeroPoints).toEqual(qs.zeroPoints);
          // dequantize: exact f32(d * q) for the non-ternary types, the scalar path for ternary ones
          const out = c.useOut ? atEnd(Float32Array, new Float32Array(n * k).fill(7), 2, c.seed) : undefined;
          const deq = c.sync ? dequantizeSync(q, out) : await dequantize(q, out);
          if (out) expect(deq).toBe(out);
          if (c.dtype === 'q8_0' || c.dtype === 'q4_0' || c.dtype === 'i8c' || c.dtype === 'i4g') {
            const dw = decodeWeights({ dtype: c.dtype, n, k, data: q.data, scales: q.scales, zeroPoints: q.zeroPoints, group: q.group });
            const want = new Float32Array(n * k);
            for (let row = 0; row < n; row++)
              for (let j = 0; j < k; j++) {
                const b = Math.floor(j / 32);
                want[row * k + j] = Math.fround(dw.d[row * dw.kb + b]! * dw.q[(row * dw.kb + b) * 32 + (j % 32)]!);
              }
            expectSameF32(deq, want, `${c.dtype} dequantize vs f32(d * q)`);
          } else {
            setIsa('scalar');
            const ds = dequantizeSync(qs);
            setIsa(c.isa as never);
            expectSameF32(deq, ds, `${c.dtype} dequantize vs scalar`);
          }
          // guards: the same input with different guard bytes quantizes to the same bytes
          const before = snapshot(q.data);
          reguard(c.seed, c.tensor ? ((x as Tensor).data as object) : x);
          const q2 = quantizeSync(x, opts);
          expectSameBits(q2.data, before, 'after the guards changed');
          q.dispose();
          q2.dispose();
          qs.dispose();
        },
      ),
      params(150),
    );
  });

  it('dequantize of arbitrary block bytes (q8_0, q4_0, q4_K, tq1_0, tq2_0, i2_s): any path equals the scalar path, never a crash', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('q8_0', 'q4_0', 'q4_K', 'tq1_0', 'tq2_0', 'i2_s'),
        fc.constantFrom(...feat.paths),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 9 }),
        fc.integer({ min: 1, max: 2 ** 30 }),
        (dtype, isa, n, guard, seed) => {
          count('dequantize-bytes');
          const r = prng(seed);
          const be = { q8_0: [32, 34], q4_0: [32, 18], q4_K: [256, 144], tq1_0: [256, 54], tq2_0: [256, 66], i2_s: [128, 32] }[dtype]!;
          const k = be[0]! * 2;
          const len = ((n * k) / be[0]!) * be[1]! + (dtype === 'i2_s' ? 32 : 0);
          const raw = Uint8Array.from({ length: len }, () => Math.floor(r() * 256));
          if (dtype === 'tq2_0' || dtype === 'i2_s') for (let i = 0; i < raw.length; i++) raw[i] = raw[i]! & ~((raw[i]! & (raw[i]! >> 1) & 0x55) << 1);
          const bytes = atEnd(Uint8Array, raw, guard, seed);
          const w = QTensor.fromGGUF(dtype as 'q8_0', bytes, [n, k]);
          setIsa(isa as never);
          const o = outcome(() => dequantizeSync(w));
          setIsa('scalar');
          const s = outcome(() => dequantizeSync(w));
          setIsa(feat.cap);
          expect(o.ok).toBe(s.ok);
          if (o.ok && s.ok) expectSameF32(o.value, s.value, `${dtype} on ${isa}`);
          if (o.ok) {
            const before = snapshot(o.value);
            reguard(seed, bytes);
            expectSameBits(dequantizeSync(w), before, `${dtype}: after the guards changed`);
          }
        },
      ),
      params(200),
    );
  });

  it('regression: q8_0 / q4_0 of a block whose 1 / d overflows (amax < 127 * 2^-128) write zero codes on every path', () => {
    // the AVX2 quantizer wrote -128 (x * inf through cvttps), the scalar one 0 (an undefined int8 cast)
    const x = new Float32Array(64).map((_, i) => ((i % 7) - 3) * 1e-40);
    for (const isa of feat.paths) {
      setIsa(isa);
      const q = quantizeSync(x, { dtype: 'q8_0', shape: [2, 32] });
      expect(Array.from(q.data), isa).toEqual(Array.from(q8_0Reference(x)));
      expect(q.data.every((b) => b === 0)).toBe(true);
      const q4 = quantizeSync(x, { dtype: 'q4_0', shape: [2, 32] });
      expect(Array.from(q4.data), `${isa} q4_0`).toEqual(Array.from(q4_0Reference(x)));
      expect(q4.data.filter((_, i) => i % 18 >= 2).every((b) => b === 0x88), 'q4_0 codes 8 (zero)').toBe(true);
    }
    setIsa(feat.cap);
  });

  it('wrong shapes, lengths and options are typed errors (both forms, before any work)', () => {
    const cases: [string, () => unknown][] = [
      ['shape product != length', () => quantizeSync(new Float32Array(64), { dtype: 'q8_0', shape: [3, 32] })],
      ['k not a multiple of 32', () => quantizeSync(new Float32Array(40), { dtype: 'q4_0', shape: [1, 40] })],
      ['k not a multiple of 256', () => quantizeSync(new Float32Array(128), { dtype: 'tq2_0', shape: [1, 128] })],
      ['n * k not a multiple of 128', () => quantizeSync(new Float32Array(100), { dtype: 'i2_s', shape: [1, 100] })],
      ['group 16', () => quantizeSync(new Float32Array(32), { dtype: 'i4g', shape: [1, 32], group: 16 as 32 })],
      ['group on q8_0', () => quantizeSync(new Float32Array(32), { dtype: 'q8_0', shape: [1, 32], group: 32 })],
      ['unknown dtype', () => quantizeSync(new Float32Array(32), { dtype: 'q5_0' as 'q8_0', shape: [1, 32] })],
      ['shape missing', () => quantizeSync(new Float32Array(32), { dtype: 'q8_0' })],
      ['shape negative', () => quantizeSync(new Float32Array(32), { dtype: 'q8_0', shape: [-1, -32] })],
      ['shape fractional', () => quantizeSync(new Float32Array(32), { dtype: 'i8c', shape: [0.5, 64] })],
      ['x Float64Array', () => quantizeSync(new Float64Array(32) as unknown as Float32Array, { dtype: 'q8_0', shape: [1, 32] })],
      ['x i8 Tensor', () => quantizeSync(Tensor.from(new Int8Array(32), [1, 32]) as unknown as Tensor<'f32'>, { dtype: 'q8_0' })],
      ['options null', () => quantizeSync(new Float32Array(32), null as never)],
      ['dequantize out short', () => dequantizeSync(QTensor.fromGGUF('q8_0', new Uint8Array(34), [1, 32]), new Float32Array(31))],
      ['dequantize out long', () => dequantizeSync(QTensor.fromGGUF('q8_0', new Uint8Array(34), [1, 32]), new Float32Array(33))],
      ['dequantize out Int32Array', () => dequantizeSync(QTensor.fromGGUF('q8_0', new Uint8Array(34), [1, 32]), new Int32Array(32) as never)],
      ['dequantize not a QTensor', () => dequantizeSync({} as never)],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...cases), ([name, f]) => {
        count('quantize-invalid');
        let threw: unknown;
        try {
          f();
        } catch (e) {
          threw = e;
        }
        expect(threw, name).toBeDefined();
        expect(threw instanceof TypeError || threw instanceof RangeError, `${name}: ${String(threw)}`).toBe(true);
      }),
      params(100),
    );
    // the async forms throw the same way, synchronously
    expect(() => quantize(new Float32Array(64), { dtype: 'q8_0', shape: [3, 32] })).toThrow(RangeError);
    expect(() => dequantize(QTensor.fromGGUF('q8_0', new Uint8Array(34), [1, 32]), new Float32Array(31))).toThrow(RangeError);
  });
});

describe('property: ternary matmul', () => {
  it('every family, path and thread count equals the scalar mad result bit for bit; guards never read', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          dtype: fc.constantFrom<'tq1_0' | 'tq2_0' | 'i2_s'>('tq1_0', 'tq2_0', 'i2_s'),
          family: fc.constantFrom<'mad' | 'lut' | 'auto'>('mad', 'lut', 'mad', 'lut', 'auto'),
          isa: fc.constantFrom(...feat.paths),
          threads: fc.integer({ min: 1, max: 3 }),
          n: fc.integer({ min: 1, max: 12 }),
          k: fc.constantFrom(256, 512),
          m: fc.integer({ min: 1, max: 6 }),
          tensor: fc.boolean(),
          ldExtra: fc.integer({ min: 0, max: 3 }),
          offset: fc.integer({ min: 0, max: 5 }),
          guard: fc.integer({ min: 0, max: 6 }),
          randomBytes: fc.boolean(),
          sync: fc.boolean(),
          useOut: fc.boolean(),
          xScale: fc.constantFrom(1, 1e-30, 1e30, 0),
          seed: fc.integer({ min: 1, max: 2 ** 30 }),
        }),
        async (c) => {
          count('ternary-matmul');
          const r = prng(c.seed);
          const { n, k, m } = c;
          let w: QTensor;
          let wBytes: Uint8Array | null = null;
          if (c.randomBytes) {
            const len = c.dtype === 'i2_s' ? ((n * k) / 128) * 32 + 32 : ((n * k) / 256) * (c.dtype === 'tq1_0' ? 54 : 66);
            const raw = Uint8Array.from({ length: len }, () => Math.floor(r() * 256));
            // tq2_0 / i2_s codes are 0, 1 or 2; bytes with a code 3 are refused (RangeError), so most runs clear them
            if (c.dtype !== 'tq1_0' && r() < 0.8) for (let i = 0; i < raw.length; i++) raw[i] = raw[i]! & ~((raw[i]! & (raw[i]! >> 1) & 0x55) << 1);
            wBytes = atEnd(Uint8Array, raw, c.guard, c.seed);
            const hasCode3 = c.dtype !== 'tq1_0' && ternaryCode3(c.dtype, raw);
            const o = outcome(() => QTensor.fromGGUF(c.dtype, wBytes!, [n, k]));
            expect(o.ok, `${c.dtype} bytes with${hasCode3 ? '' : 'out'} a code 3`).toBe(!hasCode3);
            if (!o.ok) {
              expect((o as { error: unknown }).error).toBeInstanceOf(RangeError);
              return;
            }
            w = o.value;
          } else {
            w = quantizeSync(new Float32Array(n * k).map(() => r() * 2 - 1), { dtype: c.dtype, shape: [n, k] });
          }
          const dense = new Float32Array(m * k).map(() => (r() * 2 - 1) * c.xScale);
          const back = c.tensor ? stridedAtEnd(Float32Array, dense, m, k, k + c.ldExtra, c.offset, c.guard, c.seed + 1) : atEnd(Float32Array, dense, c.guard, c.seed + 1);
          const x = c.tensor ? Tensor.from(back, [m, k], { strides: [k + c.ldExtra, 1], offset: c.offset }) : back;
          setIsa('scalar');
          setThreads(1);
          const want = matmulSync(w as QTensor<'tq1_0'>, Float32Array.from(dense), { family: 'mad' });
          setIsa(c.isa as never);
          setThreads(c.threads);
          const out = c.useOut ? atEnd(Float32Array, new Float32Array(m * n), 1) : undefined;
          const opts = { family: c.family, ...(out ? { out } : {}) };
          const y = c.sync ? matmulSync(w as QTensor<'tq1_0'>, x as Float32Array, opts) : await matmul(w as QTensor<'tq1_0'>, x as Float32Array, opts);
          if (out) expect(y).toBe(out);
          expectSameF32(y, want, `${c.dtype} ${c.family} ${c.isa} t=${c.threads} m=${m} n=${n} k=${k}`);
          const saved = Float32Array.from(y);
          reguard(c.seed, back, ...(wBytes ? [wBytes] : []));
          expectSameF32(matmulSync(w as QTensor<'tq1_0'>, x as Float32Array, { family: c.family }), saved, 'after the guards changed');
          w.dispose();
        },
      ),
      params(80),
    );
  });

  it('regression: tq2_0 / i2_s bytes with a code 3 are refused (mad read it as +2, lut as something else)', () => {
    const tq2 = new Uint8Array(66);
    tq2.fill(0x55, 0, 64); // every code 1: w = 0
    tq2[65] = 0x3c; // d = 1
    expect(() => QTensor.fromGGUF('tq2_0', tq2, [1, 256])).not.toThrow();
    tq2[17] = 0x5d; // one code 3 (bits 2..3)
    expect(() => QTensor.fromGGUF('tq2_0', tq2, [1, 256])).toThrow(/code 3/);
    tq2[17] = 0x55;
    tq2[65] = 0xff; // the f16 d is not a code byte
    expect(() => QTensor.fromGGUF('tq2_0', tq2, [1, 256])).not.toThrow();
    const i2 = new Uint8Array(32 + 32).fill(0x55);
    i2.fill(0xff, 32); // the trailer (scale bytes) may hold anything
    expect(() => QTensor.fromGGUF('i2_s', i2, [1, 128])).not.toThrow();
    i2[31] = 0xc5;
    expect(() => QTensor.fromGGUF('i2_s', i2, [1, 128])).toThrow(RangeError);
  });

  it('ternary options outside the spec are typed errors', () => {
    const w = quantizeSync(new Float32Array(256).fill(0.5), { dtype: 'tq2_0', shape: [1, 256] });
    const x = new Float32Array(256);
    const bad: [string, unknown][] = [
      ['family', { family: 'fast' }],
      ['family type', { family: 1 }],
      ['xScales', { xScales: new Float32Array(1) }],
      ['pack', { pack: true }],
      ['output', { output: 'i32' }],
      ['out length', { out: new Float32Array(2) }],
      ['out type', { out: new Int32Array(1) }],
      ['tuneCache type', { tuneCache: 5 }],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...bad), fc.boolean(), ([name, o], sync) => {
        count('ternary-invalid');
        const f = (sync ? matmulSync : matmul) as unknown as (w: unknown, x: unknown, o: unknown) => unknown;
        expect(() => f(w, x, o), name).toThrow(/./);
        try {
          f(w, x, o);
        } catch (e) {
          expect(e instanceof TypeError || e instanceof RangeError, `${name}: ${String(e)}`).toBe(true);
        }
      }),
      params(50),
    );
    expect(() => matmulSync(w, new Float32Array(255))).toThrow(RangeError);
    expect(() => matmulSync(QTensor.fromGGUF('tq2_0', new Uint8Array(66), [1, 256]), Tensor.from(new Int8Array(256), [1, 256]) as never)).toThrow(TypeError);
  });
});
