import { describe, expect, it } from 'vitest';
import {
  BitflashArgumentError,
  BitflashDisposedError,
  QTensor,
  Tensor,
  matmul,
  matmulSync,
  pack,
  packSync,
  quantizeSync,
} from '../../lib/index.js';
import { native } from '../../lib/binding.js';
import { randomF32 } from './helpers.js';

describe('Tensor views', () => {
  it('wraps TypedArrays without copying, with offsets, strides, slices and reshapes', () => {
    const buf = new Float32Array(40).map((_, i) => i);
    const t = Tensor.from(buf, [3, 4], { strides: [10, 1], offset: 5 });
    expect(t.dtype).toBe('f32');
    expect(t.data).toBe(buf);
    expect(t.isContiguous).toBe(false);
    expect(Array.from(t.contiguous())).toEqual([5, 6, 7, 8, 15, 16, 17, 18, 25, 26, 27, 28]);
    const s = t.slice(1, 3);
    expect(s.shape).toEqual([2, 4]);
    expect(s.offset).toBe(15);
    expect(Array.from(t.slice(-1).contiguous())).toEqual([25, 26, 27, 28]);
    const d = Tensor.from(buf.subarray(8), [4, 8]);
    expect(d.isContiguous).toBe(true);
    expect(d.contiguous().byteOffset).toBe(32); // a subarray, not a copy
    expect(d.view([2, 16]).shape).toEqual([2, 16]);
    expect(Tensor.from(new Int8Array(4)).dtype).toBe('i8');
    expect(Tensor.from(new Uint8Array(4)).dtype).toBe('u8');
    expect(Tensor.from(new Int32Array(4)).dtype).toBe('i32');
    expect(Tensor.from(new Uint16Array(4)).dtype).toBe('f16');
    expect(Tensor.zeros('i8', [2, 3]).data).toEqual(new Int8Array(6));
  });

  it('rejects views that do not fit or overlap', () => {
    const buf = new Float32Array(12);
    expect(() => Tensor.from(buf, [3, 5])).toThrow(RangeError);
    expect(() => Tensor.from(buf, [2, 4], { strides: [3, 1] })).toThrow(/rows must not overlap/);
    expect(() => Tensor.from(buf, [2, 4], { strides: [4, 2] })).toThrow(RangeError);
    expect(() => Tensor.from(buf, [2, 4], { offset: 5 })).toThrow(/at least 13 elements/);
    expect(() => Tensor.from(new Float64Array(4) as never)).toThrow(TypeError);
    expect(() => Tensor.from(buf, [2, 1.5])).toThrow(RangeError);
    expect(() => Tensor.from(buf, [3, 4]).slice(2, 1)).toThrow(RangeError);
    expect(() => Tensor.from(buf, [3, 4], { strides: [5, 1] })).toThrow(RangeError); // last row past the end
    expect(() => Tensor.from(buf, [2, 4], { strides: [5, 1] }).view([8])).toThrow(/contiguous/);
  });

  it('dispose: views and roots, Symbol.dispose, idempotent', () => {
    const root = Tensor.from(new Float32Array(8), [2, 4]);
    const v = root.slice(1);
    v.dispose();
    expect(() => v.data).toThrow(BitflashDisposedError);
    expect(root.data.length).toBe(8);
    const v2 = root.slice(0, 1);
    {
      using r = root;
      expect(r.disposed).toBe(false);
    }
    expect(root.disposed).toBe(true);
    expect(v2.disposed).toBe(true); // the storage went with its root
    expect(() => v2.contiguous()).toThrow(BitflashDisposedError);
    root.dispose();
  });
});

describe('QTensor lifetime and pending calls', () => {
  it('wraps MatMulNBits and per-channel arrays without copying', () => {
    const B = new Uint8Array(2 * 2 * 16);
    const scales = new Float32Array(4).fill(0.5);
    const zeroPoints = new Uint8Array(2);
    const w = QTensor.fromMatMulNBits({ B, scales, zeroPoints, n: 2, k: 40, blockSize: 32 });
    expect(w.data).toBe(B);
    expect(w.scales).toBe(scales);
    expect(w.zeroPoints).toBe(zeroPoints);
    expect(w.symmetric).toBe(false);
    const q = new Int8Array(6);
    const c = QTensor.fromPerChannel({ q, scales: new Float32Array(2), n: 2, k: 3 });
    expect(c.data.buffer).toBe(q.buffer);
    expect(c.byteLength).toBe(6 + 8);
  });

  it('dispose during a pending matmul defers the release until it settles; the result is intact', async () => {
    const [m, n, k] = [33, 64, 512];
    const w = quantizeSync(randomF32(n * k, 1), { dtype: 'q4_0', shape: [n, k] });
    packSync(w);
    const packed = w.packed!;
    const x = Tensor.from(randomF32(m * k, 2), [m, k]);
    const want = matmulSync(w, x);
    const p = matmul(w, x);
    w.dispose();
    x.dispose();
    expect(w.disposed).toBe(true);
    expect(QTensor.released(w)).toBe(false); // still used by p
    expect(Tensor.released(x)).toBe(false);
    expect(() => matmulSync(w, want)).toThrow(BitflashDisposedError);
    expect(await p).toEqual(want);
    expect(QTensor.released(w)).toBe(true);
    expect(Tensor.released(x)).toBe(true);
    expect(packed.disposed).toBe(true);
    expect(packed.bytes).toBe(0);
  });

  it('a packed handle freed while a job runs stays valid for that job', async () => {
    const [m, n, k] = [16, 32, 1024];
    const w = quantizeSync(randomF32(n * k, 3), { dtype: 'i8c', shape: [n, k] });
    const x = randomF32(m * k, 4);
    const p0 = await pack(w);
    expect(await pack(w)).toBe(p0); // cached
    expect(p0.bytes).toBeGreaterThan(n * k);
    const want = matmulSync(w, x);
    const p = matmul(w, x);
    p0.dispose();
    expect(w.packed).toBeUndefined();
    expect(await p).toEqual(want);
  });

  it('the native layer re-checks what it relies on', () => {
    const w = quantizeSync(randomF32(64, 5), { dtype: 'q8_0', shape: [2, 32] });
    const nw = QTensor.native(w, 'test');
    const y = new Float32Array(2);
    // a short weight buffer, a bad dtype id, a short x, a foreign packed handle
    expect(() => native.matmulF32Sync({ ...nw, data: nw.data.subarray(1) }, null, new Float32Array(32), 1, 32, y, 2)).toThrow(/weight data holds/);
    expect(() => native.matmulF32Sync({ ...nw, dtype: 99 }, null, new Float32Array(32), 1, 32, y, 2)).toThrow(/dtype/);
    expect(() => native.matmulF32Sync(nw, null, new Float32Array(31), 1, 32, y, 2)).toThrow(/needs 32/);
    expect(() => native.matmulF32Sync(nw, {} as never, new Float32Array(32), 1, 32, y, 2)).toThrow(/packWeights/);
    expect(() => native.matmulI32Sync(nw, null, new Int8Array(32), 1, 32, new Int32Array(2), 2)).toThrow(/i8c/);
    const other = quantizeSync(randomF32(96, 5), { dtype: 'q8_0', shape: [3, 32] });
    const h = native.packWeightsSync(QTensor.native(other, 'test'));
    try {
      native.matmulF32Sync(nw, h, new Float32Array(4 * 32), 4, 32, new Float32Array(8), 2);
      expect.unreachable();
    } catch (e) {
      expect((e as { code: string }).code).toBe('ERR_BITFLASH_ARG');
      expect((e as Error).message).toMatch(/different weight shape/);
    }
    native.freePacked(h);
    expect(() => native.matmulF32Sync(QTensor.native(other, 't'), h, new Float32Array(32), 1, 32, new Float32Array(3), 3)).toThrow(/freed/);
    const i8 = QTensor.fromPerChannel({ q: new Int8Array(64), scales: new Float32Array(2), n: 2, k: 32 });
    const bad = { ...QTensor.native(i8, 't'), scales: new Float32Array([1, Number.NaN]) };
    expect(() => native.matmulI32Sync(bad, null, new Int8Array(32), 1, 32, new Int32Array(2), 2)).toThrow(/scale/);
    expect(BitflashArgumentError).toBeDefined();
  });
});
