import { describe, expect, it } from 'vitest';
import {
  BitflashArgumentError,
  BitflashDisposedError,
  QTensor,
  Tensor,
  matmul,
  matmulSync,
  packSync,
  quantizeSync,
} from '../../lib/index.js';
import { randomF32 } from './helpers.js';

const [n, k] = [4, 64];
const w = () => quantizeSync(randomF32(n * k, 1), { dtype: 'q8_0', shape: [n, k] });
const wi8 = () => QTensor.fromPerChannel({ q: new Int8Array(n * k).fill(1), scales: new Float32Array(n).fill(1), n, k });

describe('matmul and QTensor argument errors are typed and synchronous', () => {
  it('shape mismatches', () => {
    expect(() => matmulSync(w(), new Float32Array(k + 1))).toThrow(/positive multiple of k = 64/);
    expect(() => matmulSync(w(), new Float32Array(0))).toThrow(RangeError);
    expect(() => matmulSync(w(), Tensor.from(new Float32Array(2 * 32), [2, 32]))).toThrow(/k = 64 columns/);
    expect(() => matmulSync(w(), Tensor.from(new Float32Array(k * 2), [1, 2, k]))).toThrow(RangeError);
    expect(() => matmul(w(), new Float32Array(3))).toThrow(RangeError); // thrown, not rejected
  });

  it('wrong dtypes', () => {
    expect(() => matmulSync({} as never, new Float32Array(k))).toThrow(TypeError);
    expect(() => matmulSync(w(), new Float64Array(k) as never)).toThrow(TypeError);
    expect(() => matmulSync(w(), Tensor.from(new Int32Array(k)) as never)).toThrow(TypeError);
    expect(() => matmulSync(w(), Tensor.from(new Int8Array(k)), { output: 'i32' })).toThrow(/dtype i8c for output 'i32'/);
    expect(() => matmulSync(wi8(), new Float32Array(k) as never, { output: 'i32' })).toThrow(TypeError);
    expect(() => matmulSync(w(), new Float32Array(k), { output: 'f16' as 'f32' })).toThrow(RangeError);
    const q4k = QTensor.fromGGUF('q4_K', new Uint8Array(144), [1, 256]);
    expect(() => matmulSync(q4k, new Float32Array(256))).toThrow(/dtype q8_0 \| q4_0 \| i8c \| i4g, received a QTensor of dtype q4_K/);
    expect(() => packSync(q4k)).toThrow(RangeError);
    expect(() => QTensor.fromGGUF('q5_0' as 'q4_0', new Uint8Array(18), [1, 32])).toThrow(RangeError);
    expect(() => QTensor.fromMatMulNBits({ B: new Uint8Array(16), scales: new Float32Array(1), n: 1, k: 32, blockSize: 32, bits: 8 })).toThrow(RangeError);
  });

  it('short or wrong buffers', () => {
    expect(() => matmulSync(w(), new Float32Array(k), { out: new Float32Array(n - 1) })).toThrow(/a Float32Array of 4 elements/);
    expect(() => matmulSync(w(), new Float32Array(k), { out: new Int32Array(n) as never })).toThrow(TypeError);
    expect(() => matmulSync(wi8(), Tensor.from(new Int8Array(k)), { output: 'i32', out: new Int32Array(n + 1) })).toThrow(RangeError);
    expect(() => matmulSync(wi8(), Tensor.from(new Int8Array(k)), { output: 'i32', out: new Float32Array(n) as never })).toThrow(TypeError);
    expect(() => QTensor.fromGGUF('q4_0', new Uint8Array(17), [1, 32])).toThrow(/18 bytes/);
    expect(() => QTensor.fromGGUF('q4_0', new Uint8Array(18), [1, 33])).toThrow(RangeError);
    expect(() => QTensor.fromMatMulNBits({ B: new Uint8Array(15), scales: new Float32Array(1), n: 1, k: 32, blockSize: 32 })).toThrow(/16 bytes/);
    expect(() => QTensor.fromMatMulNBits({ B: new Uint8Array(16), scales: new Float32Array(1), zeroPoints: new Uint8Array(0), n: 1, k: 32, blockSize: 32 })).toThrow(RangeError);
    expect(() => QTensor.fromMatMulNBits({ B: new Uint8Array(16), scales: new Float32Array(1), n: 1, k: 32, blockSize: 48 })).toThrow(RangeError);
    expect(() => QTensor.fromPerChannel({ q: new Int8Array(7), scales: new Float32Array(2), n: 2, k: 4 })).toThrow(/8 elements/);
    expect(() => matmulSync(wi8(), Tensor.from(new Int8Array(k)), { xScales: new Float32Array(2) })).toThrow(/1 elements/);
    expect(() => matmulSync(wi8(), Tensor.from(new Int8Array(k)), {} as never)).toThrow(TypeError); // scales required
    expect(() => matmulSync(wi8(), Tensor.from(new Uint8Array(k)), { xScales: new Float32Array(1), xZeroPoints: new Int32Array([256]) })).toThrow(/0 to 255/);
  });

  it('NaN or negative scales', () => {
    expect(() => QTensor.fromPerChannel({ q: new Int8Array(4), scales: new Float32Array([1, -1]), n: 2, k: 2 })).toThrow(/scales\[1\] must be a finite number >= 0, received number -1/);
    expect(() => QTensor.fromPerChannel({ q: new Int8Array(4), scales: new Float32Array([Number.NaN, 1]), n: 2, k: 2 })).toThrow(/received NaN/);
    expect(() => QTensor.fromMatMulNBits({ B: new Uint8Array(16), scales: new Float32Array([Infinity]), n: 1, k: 32, blockSize: 32 })).toThrow(RangeError);
    // negative i4g scales are legal (onnxruntime's symmetric quantizer makes them)
    expect(QTensor.fromMatMulNBits({ B: new Uint8Array(16), scales: new Float32Array([-0.5]), n: 1, k: 32, blockSize: 32 }).symmetric).toBe(true);
    expect(() => matmulSync(wi8(), Tensor.from(new Int8Array(k)), { xScales: new Float32Array([-0.1]) })).toThrow(/xScales\[0\]/);
    expect(() => matmulSync(wi8(), Tensor.from(new Int8Array(k)), { xScales: new Float32Array([Number.NaN]) })).toThrow(RangeError);
  });

  it('NaN in f32 activations: native check, BitflashArgumentError (sync throw, async rejection with the caller stack)', async () => {
    const x = new Float32Array(k);
    x[5] = Number.NaN;
    expect(() => matmulSync(w(), x)).toThrow(BitflashArgumentError);
    const err = await matmul(w(), x).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BitflashArgumentError);
    expect((err as Error).stack).toMatch(/matmul-errors\.test\.ts/);
  });

  it('disposed tensors', async () => {
    const a = w();
    a.dispose();
    expect(() => matmulSync(a, new Float32Array(k))).toThrow(BitflashDisposedError);
    expect(() => matmul(a, new Float32Array(k))).toThrow(BitflashDisposedError);
    expect(() => packSync(a)).toThrow(BitflashDisposedError);
    const x = Tensor.from(new Float32Array(k));
    x.dispose();
    expect(() => matmulSync(w(), x)).toThrow(BitflashDisposedError);
    const root = Tensor.from(new Float32Array(2 * k), [2, k]);
    const v = root.slice(1);
    root.dispose();
    expect(() => matmulSync(w(), v)).toThrow(BitflashDisposedError);
  });
});
