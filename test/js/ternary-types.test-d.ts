import { describe, expectTypeOf, it } from 'vitest';
import {
  QTensor,
  matmul,
  matmulSync,
  quantize,
  quantizeSync,
  ternaryTune,
  type TernaryDType,
  type TernaryFamily,
  type TernaryMatmulOptions,
} from '../../lib/index.js';

describe('ternary public types', () => {
  it('quantize keeps the ternary dtype in the QTensor type', () => {
    const x = new Float32Array(256);
    expectTypeOf(quantizeSync(x, { dtype: 'tq2_0', shape: [1, 256] })).toEqualTypeOf<QTensor<'tq2_0'>>();
    expectTypeOf(quantize(x, { dtype: 'i2_s', shape: [1, 256] })).toEqualTypeOf<Promise<QTensor<'i2_s'>>>();
    expectTypeOf(QTensor.fromGGUF('tq1_0', new Uint8Array(54), [1, 256])).toEqualTypeOf<QTensor<'tq1_0'>>();
  });
  it('matmul overloads for ternary weights take f32 activations and family options', () => {
    const w = quantizeSync(new Float32Array(256), { dtype: 'tq2_0', shape: [1, 256] });
    expectTypeOf(matmul(w, new Float32Array(256), { family: 'lut' })).toEqualTypeOf<Promise<Float32Array>>();
    expectTypeOf(matmulSync(w, new Float32Array(256), { family: 'auto', tuneCache: '/tmp/x' })).toEqualTypeOf<Float32Array>();
    expectTypeOf<TernaryMatmulOptions['family']>().toEqualTypeOf<'mad' | 'lut' | 'auto' | undefined>();
    // @ts-expect-error: no such family
    matmulSync(w, new Float32Array(256), { family: 'fast' });
    expectTypeOf(ternaryTune.chosen).returns.toEqualTypeOf<TernaryFamily | undefined>();
    expectTypeOf<TernaryDType>().toEqualTypeOf<'tq1_0' | 'tq2_0' | 'i2_s'>();
  });
});
