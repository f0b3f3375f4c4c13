/** Layer 3 oracle: the same quantized weights through onnxruntime-node (an implementation nobody here wrote). */
import { describe, expect, it } from 'vitest';
import { Tensor, dequantizeSync, matmulSync, quantizeSync } from '../../lib/index.js';
import { matMulIntegerModel, matMulNBitsModel } from '../../lib/cli/onnx.js';
import { randomF32 } from './helpers.js';

const ort = await import('onnxruntime-node').then((m) => (m as unknown as { default?: typeof m }).default ?? m).catch(() => null);
const opts = { intraOpNumThreads: 1, extra: { session: { intra_op: { allow_spinning: '0' } } } };

describe.runIf(ort)('onnxruntime-node agrees with bitflash', () => {
  it('MatMulNBits (accuracy_level 0, f32 compute) on our i4g bytes equals f64 on our dequantized weights', async () => {
    for (const [g, symmetric, n, k] of [[32, true, 17, 256], [64, false, 5, 100], [128, false, 9, 384]] as const) {
      const w = quantizeSync(randomF32(n * k, n), { dtype: 'i4g', shape: [n, k], group: g, symmetric });
      const m = 3;
      const x = randomF32(m * k, k);
      const s = await ort!.InferenceSession.create(matMulNBitsModel({ data: w.data, scales: w.scales!, zeroPoints: w.zeroPoints }, n, k, g, 0), opts);
      const y = (await s.run({ A: new ort!.Tensor('float32', x, [m, k]) })).Y!.data as Float32Array;
      const deq = dequantizeSync(w);
      for (let i = 0; i < m; i++)
        for (let r = 0; r < n; r++) {
          let acc = 0;
          let abs = 0;
          for (let j = 0; j < k; j++) {
            acc += x[i * k + j]! * deq[r * k + j]!;
            abs += Math.abs(x[i * k + j]! * deq[r * k + j]!);
          }
          // f32 dot product of k terms: |err| <= k * 2^-24 * sum |terms| (a loose, safe bound)
          expect(Math.abs(y[i * n + r]! - acc)).toBeLessThanOrEqual(k * 2 ** -24 * abs + 1e-30);
        }
      await s.release();
    }
  });

  it('MatMulInteger (u8 x s8 -> s32) equals our exact int32 output', async () => {
    const [m, n, k] = [4, 33, 160];
    const w = quantizeSync(randomF32(n * k, 3), { dtype: 'i8c', shape: [n, k] });
    const xu = new Uint8Array(m * k).map((_, i) => (i * 97 + 13) & 255);
    const s = await ort!.InferenceSession.create(matMulIntegerModel(new Int8Array(w.data.buffer, w.data.byteOffset, n * k), n, k), opts);
    const y = (await s.run({ A: new ort!.Tensor('uint8', xu, [m, k]) })).Y!.data as Int32Array;
    // ORT subtracts its zero point 128; we pass the same values as int8 (x - 128)
    const xi = Int8Array.from(xu, (v) => v - 128);
    expect(matmulSync(w, Tensor.from(xi, [m, k]), { output: 'i32' })).toEqual(y);
    await s.release();
  });
});
