import { describe, expect, it } from 'vitest';
import {
  BitflashArgumentError,
  BitflashDisposedError,
  QTensor,
  Tensor,
  cpuFeatures,
  dequantize,
  dequantizeSync,
  quantize,
  quantizeSync,
  setIsa,
} from '../../lib/index.js';
import { f32ToF16, q8_0Reference, randomF32, rng, roundf } from './helpers.js';
import { halfToFloat, q4_0Reference } from './matmul-ref.js';

const feat = cpuFeatures();
const fr = Math.fround;
const same = (a: ArrayBufferView, b: ArrayBufferView) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** i4g by onnxruntime's MLAS rule, stated in quant.h (independent TS version). */
function i4gReference(x: Float32Array, n: number, k: number, g: number, symmetric: boolean) {
  const gpr = Math.ceil(k / g);
  const zpr = Math.ceil(gpr / 2);
  const data = new Uint8Array(n * gpr * (g / 2));
  const scales = new Float32Array(n * gpr);
  const zps = symmetric ? null : new Uint8Array(n * zpr);
  for (let r = 0; r < n; r++)
    for (let gi = 0; gi < gpr; gi++) {
      const j0 = gi * g;
      const j1 = Math.min(k, j0 + g);
      let mn = Infinity;
      let mx = -Infinity;
      for (let j = j0; j < j1; j++) {
        mn = Math.min(mn, x[r * k + j]!);
        mx = Math.max(mx, x[r * k + j]!);
      }
      let scale: number;
      let zp = 8;
      if (symmetric) {
        const mm = Math.abs(mx) > Math.abs(mn) ? mx : mn;
        scale = fr(mm / -8);
      } else {
        const lo = Math.min(mn, 0);
        const hi = Math.max(mx, 0);
        scale = fr(fr(hi - lo) / 15);
        const zf = scale !== 0 ? fr(0 - fr(lo / scale)) : lo;
        zp = zf < 0 ? 0 : zf > 15 ? 15 : roundf(zf);
        zps![r * zpr + (gi >> 1)]! |= zp << ((gi & 1) * 4);
      }
      scales[r * gpr + gi] = scale;
      const rs = scale !== 0 ? fr(1 / scale) : 0;
      for (let e = 0; e < g; e++) {
        const j = j0 + e;
        const q = j < j1 ? Math.min(15, Math.max(0, roundf(fr(fr(x[r * k + j]! * rs) + zp)))) : zp;
        data[r * gpr * (g / 2) + gi * (g / 2) + (e >> 1)]! |= q << ((e & 1) * 4);
      }
    }
  return { data, scales, zps };
}

/** llama.cpp's dequantize_row_q4_K (scalar), in f32. */
function q4KDequantRef(bytes: Uint8Array, n: number): Float32Array {
  const y = new Float32Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < n / 256; b++) {
    const o = b * 144;
    const d = halfToFloat(dv.getUint16(o, true));
    const dmin = halfToFloat(dv.getUint16(o + 2, true));
    const sc = bytes.subarray(o + 4, o + 16);
    const qs = bytes.subarray(o + 16, o + 144);
    const scaleMin = (j: number): [number, number] =>
      j < 4 ? [sc[j]! & 63, sc[j + 4]! & 63] : [(sc[j + 4]! & 0xf) | ((sc[j - 4]! >> 6) << 4), (sc[j + 4]! >> 4) | ((sc[j]! >> 6) << 4)];
    let yi = b * 256;
    for (let j = 0, is = 0; j < 256; j += 64, is += 2) {
      const [s1, m1] = scaleMin(is);
      const [s2, m2] = scaleMin(is + 1);
      const d1 = fr(d * s1), mm1 = fr(dmin * m1), d2 = fr(d * s2), mm2 = fr(dmin * m2);
      const q = qs.subarray(j / 2, j / 2 + 32);
      for (let l = 0; l < 32; l++) y[yi++] = fr(fr(d1 * (q[l]! & 0xf)) - mm1);
      for (let l = 0; l < 32; l++) y[yi++] = fr(fr(d2 * (q[l]! >> 4)) - mm2);
    }
  }
  return y;
}

describe('quantize / dequantize low-bit weights', () => {
  for (const isa of feat.paths) {
    it(`q8_0 and q4_0 bytes equal llama.cpp's reference quantizers on path ${isa}`, async () => {
      setIsa(isa);
      try {
        for (const [n, k] of [[1, 32], [3, 64], [7, 96], [17, 256], [64, 4096]] as const) {
          const x = randomF32(n * k, n * 1000 + k);
          // ties and edge values: a block with exact halves, an all-zero block, a block of equal magnitudes
          for (let j = 0; j < 32; j++) x[j] = j === 0 ? -8 : (j - 15.5) / 2;
          if (n * k >= 96) {
            x.fill(0, 32, 64);
            for (let j = 64; j < 96; j++) x[j] = j % 2 ? 3 : -3;
          }
          const q8 = quantizeSync(x, { dtype: 'q8_0', shape: [n, k] });
          expect(same(q8.data, q8_0Reference(x))).toBe(true);
          const q4 = quantizeSync(x, { dtype: 'q4_0', shape: [n, k] });
          expect(same(q4.data, q4_0Reference(x))).toBe(true);
          const q4a = await quantize(x, { dtype: 'q4_0', shape: [n, k] });
          expect(same(q4a.data, q4.data)).toBe(true);
          // dequantize: d * (q - 8), checked on every element against the bytes
          const deq = dequantizeSync(q4);
          expect(await dequantize(q4)).toEqual(deq);
          const dv = new DataView(q4.data.buffer);
          for (let i = 0; i < n * k; i += 7) {
            const b = Math.floor(i / 32);
            const j = i % 32;
            const byte = q4.data[b * 18 + 2 + (j % 16)]!;
            const nib = j < 16 ? byte & 15 : byte >> 4;
            expect(deq[i]).toBe(fr(halfToFloat(dv.getUint16(b * 18, true)) * (nib - 8)));
          }
        }
      } finally {
        setIsa(feat.cap);
      }
    });
  }

  it('i8c: per-row absmax int8 with f32 scales', async () => {
    for (const [n, k] of [[1, 1], [5, 33], [16, 300]] as const) {
      const x = randomF32(n * k, n + k);
      if (n > 1) x.fill(0, k, 2 * k); // an all-zero row: scale 0, q 0
      const w = quantizeSync(x, { dtype: 'i8c', shape: [n, k] });
      expect(w.dtype).toBe('i8c');
      expect(w.scales!.length).toBe(n);
      const q = new Int8Array(w.data.buffer, w.data.byteOffset, n * k);
      for (let r = 0; r < n; r++) {
        let amax = 0;
        for (let j = 0; j < k; j++) amax = Math.max(amax, Math.abs(x[r * k + j]!));
        const s = fr(amax / 127);
        expect(w.scales![r]).toBe(s);
        const is = s !== 0 ? fr(1 / s) : 0;
        for (let j = 0; j < k; j++) expect(q[r * k + j]).toBe(Math.max(-127, Math.min(127, roundf(fr(x[r * k + j]! * is)))) | 0);
      }
      const deq = dequantizeSync(w);
      for (let i = 0; i < n * k; i++) expect(deq[i]).toBe(fr(q[i]! * w.scales![Math.floor(i / k)]!));
      const wa = await quantize(x, { dtype: 'i8c', shape: [n, k] });
      expect(same(wa.data, w.data) && same(wa.scales!, w.scales!)).toBe(true);
    }
  });

  it('i4g: MatMulNBits layout by the MLAS rule, symmetric and with zero points, groups 32/64/128, ragged k', async () => {
    for (const g of [32, 64, 128] as const)
      for (const symmetric of [true, false])
        for (const [n, k] of [[1, 32], [3, 100], [9, 256], [4, 129]] as const) {
          const x = randomF32(n * k, g + n + k);
          if (!symmetric) for (let j = 0; j < k; j += 3) x[j] = Math.abs(x[j]!) + 0.5; // a positive-skewed row
          const want = i4gReference(x, n, k, g, symmetric);
          const w = quantizeSync(x, { dtype: 'i4g', shape: [n, k], group: g, symmetric });
          expect(w.group).toBe(g);
          expect(w.symmetric).toBe(symmetric);
          expect(same(w.data, want.data), `data g${g} sym ${symmetric} ${n}x${k}`).toBe(true);
          expect(same(w.scales!, want.scales), 'scales').toBe(true);
          if (symmetric) expect(w.zeroPoints).toBeUndefined();
          else expect(same(w.zeroPoints!, want.zps!), 'zero points').toBe(true);
          const wa = await quantize(x, { dtype: 'i4g', shape: [n, k], group: g, symmetric });
          expect(same(wa.data, w.data)).toBe(true);
          // dequantize = scale * (q - zp); the error is at most one step: half a step of rounding, plus
          // (symmetric) the clip of +8 to 7 on the side opposite the largest magnitude, or (with zero
          // points) half a step from rounding the zero point
          const deq = dequantizeSync(w);
          const gpr = Math.ceil(k / g);
          for (let i = 0; i < n * k; i++) {
            const s = Math.abs(w.scales![Math.floor(i / k) * gpr + Math.floor((i % k) / g)]!);
            expect(Math.abs(deq[i]! - x[i]!)).toBeLessThanOrEqual(s * (1 + 1e-5));
          }
          expect(await dequantize(w)).toEqual(deq);
        }
  });

  it('q4_K dequantizes like llama.cpp (read-only format)', async () => {
    const r = rng(11);
    const nb = 3;
    const bytes = new Uint8Array(nb * 144).map(() => Math.floor(r() * 256));
    const dv = new DataView(bytes.buffer);
    for (let b = 0; b < nb; b++) {
      dv.setUint16(b * 144, f32ToF16(0.01 + b * 0.003), true);
      dv.setUint16(b * 144 + 2, f32ToF16(0.002 * (b + 1)), true);
    }
    const w = QTensor.fromGGUF('q4_K', bytes, [3, 256]);
    expect(w.data).toBe(bytes); // wrapped, not copied
    const want = q4KDequantRef(bytes, nb * 256);
    expect(dequantizeSync(w)).toEqual(want);
    expect(await dequantize(w)).toEqual(want);
  });

  it('quantizes a Tensor (strided views are made contiguous) and honours byteOffset views', () => {
    const backing = randomF32(10 * 64, 5);
    const t = Tensor.from(backing, [5, 32], { strides: [128, 1], offset: 64 });
    const rows = new Float32Array(5 * 32);
    for (let i = 0; i < 5; i++) rows.set(backing.subarray(64 + i * 128, 64 + i * 128 + 32), i * 32);
    const a = quantizeSync(t, { dtype: 'q4_0' });
    expect(same(a.data, q4_0Reference(rows))).toBe(true);
    const sub = backing.subarray(64, 64 + 96);
    expect(same(quantizeSync(sub, { dtype: 'q8_0', shape: [3, 32] }).data, q8_0Reference(sub))).toBe(true);
  });

  it('rejects bad arguments with typed errors, synchronously in both forms', () => {
    const x = new Float32Array(64);
    expect(() => quantizeSync(x, { dtype: 'q4_0' } as never)).toThrow(TypeError); // no shape
    expect(() => quantizeSync(x, { dtype: 'q4_0', shape: [3, 32] })).toThrow(/must be a Float32Array of 96 elements/);
    expect(() => quantizeSync(x, { dtype: 'q4_0', shape: [4, 16] })).toThrow(RangeError); // k % 32
    expect(() => quantizeSync(x, { dtype: 'q5_1' as 'q4_0', shape: [2, 32] })).toThrow(RangeError);
    expect(() => quantizeSync(x, { dtype: 'i4g', shape: [2, 32], group: 16 as 32 })).toThrow(/group must be one of 32 \| 64 \| 128/);
    expect(() => quantizeSync(x, { dtype: 'q8_0', shape: [2, 32], group: 32 })).toThrow(RangeError);
    expect(() => quantizeSync(new Float64Array(64) as unknown as Float32Array, { dtype: 'i8c', shape: [2, 32] })).toThrow(TypeError);
    expect(() => quantizeSync(Tensor.from(new Int8Array(64), [2, 32]) as never, { dtype: 'i8c' })).toThrow(TypeError);
    expect(() => quantize(x, { dtype: 'i8c', shape: [2, 31] })).toThrow(RangeError); // thrown, not rejected
    const q = quantizeSync(x, { dtype: 'i8c', shape: [2, 32] });
    expect(() => dequantizeSync(q, new Float32Array(63))).toThrow(/must be a Float32Array of 64 elements/);
    expect(() => dequantizeSync(x as never)).toThrow(TypeError);
  });

  it('NaN / Infinity: BitflashArgumentError from the native check, thrown sync and rejected async', async () => {
    for (const dtype of ['q4_0', 'i8c', 'i4g'] as const) {
      const x = new Float32Array(64);
      x[33] = Number.NaN;
      expect(() => quantizeSync(x, { dtype, shape: [2, 32] })).toThrow(BitflashArgumentError);
      x[33] = -Infinity;
      await expect(quantize(x, { dtype, shape: [2, 32] })).rejects.toBeInstanceOf(BitflashArgumentError);
    }
  });

  it('a disposed QTensor cannot be used', async () => {
    const q = quantizeSync(randomF32(64, 1), { dtype: 'q8_0', shape: [2, 32] });
    q.dispose();
    q.dispose(); // idempotent
    expect(q.disposed).toBe(true);
    expect(() => q.data).toThrow(BitflashDisposedError);
    expect(() => dequantizeSync(q)).toThrow(BitflashDisposedError);
    expect(() => dequantize(q)).toThrow(BitflashDisposedError);
  });
});
