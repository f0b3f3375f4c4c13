import { describe, expectTypeOf, it } from 'vitest';
import {
  BitflashError,
  type BitflashErrorCode,
  cpuFeatures,
  dequantizeBlocks,
  quantizeBlocks,
  quantizeBlocksSync,
  setIsa,
  type Isa,
  measureRoofline,
  type Roofline,
} from '../../lib/index.js';

describe('public types', () => {
  it('ops keep their sync and async shapes', () => {
    expectTypeOf(quantizeBlocksSync).parameter(0).toEqualTypeOf<Float32Array>();
    expectTypeOf(quantizeBlocksSync).returns.toEqualTypeOf<Uint8Array>();
    expectTypeOf(quantizeBlocks).returns.toEqualTypeOf<Promise<Uint8Array>>();
    expectTypeOf(dequantizeBlocks).returns.toEqualTypeOf<Promise<Float32Array>>();
    expectTypeOf(measureRoofline).returns.toEqualTypeOf<Promise<Roofline>>();
  });
  it('errors and ISA names are typed', () => {
    expectTypeOf<BitflashError['code']>().toEqualTypeOf<BitflashErrorCode>();
    expectTypeOf(setIsa).parameter(0).toEqualTypeOf<Isa>();
    expectTypeOf(cpuFeatures().active).toEqualTypeOf<Isa>();
    // @ts-expect-error: not a known ISA
    setIsa('sse9');
  });
});

import { matmul, matmulSync, quantize, quantizeSync, dequantize, pack, QTensor, Tensor, type PackedWeights } from '../../lib/index.js';

describe('low-bit matmul types', () => {
  it('matmul returns Int32Array for output i32 and Float32Array otherwise', () => {
    const w = null as unknown as QTensor;
    const xi = null as unknown as Tensor<'i8'>;
    const xu = null as unknown as Tensor<'u8'>;
    const xf = null as unknown as Tensor<'f32'>;
    expectTypeOf(matmul(w, xi, { output: 'i32' })).toEqualTypeOf<Promise<Int32Array>>();
    expectTypeOf(matmulSync(w, xu, { output: 'i32' })).toEqualTypeOf<Int32Array>();
    expectTypeOf(matmul(w, new Float32Array(4))).toEqualTypeOf<Promise<Float32Array>>();
    expectTypeOf(matmulSync(w, xf, { out: new Float32Array(4) })).toEqualTypeOf<Float32Array>();
    expectTypeOf(matmul(w, xi, { xScales: new Float32Array(1) })).toEqualTypeOf<Promise<Float32Array>>();
    // @ts-expect-error: int8 activations need scales or output 'i32'
    matmulSync(w, xi);
    // @ts-expect-error: an f32 tensor cannot ask for int32 accumulators
    matmulSync(w, xf, { output: 'i32' });
    // @ts-expect-error: out must match the output type
    matmulSync(w, xi, { output: 'i32', out: new Float32Array(4) });
  });
  it('quantize keeps the dtype; Tensor.from infers it', () => {
    expectTypeOf(quantizeSync(new Float32Array(64), { dtype: 'i4g', shape: [2, 32], group: 64 })).toEqualTypeOf<QTensor<'i4g'>>();
    expectTypeOf(quantize(new Float32Array(64), { dtype: 'q4_0', shape: [2, 32] })).toEqualTypeOf<Promise<QTensor<'q4_0'>>>();
    expectTypeOf(dequantize).returns.toEqualTypeOf<Promise<Float32Array>>();
    expectTypeOf(pack).returns.toEqualTypeOf<Promise<PackedWeights>>();
    expectTypeOf(Tensor.from(new Int8Array(4), [2, 2])).toEqualTypeOf<Tensor<'i8'>>();
    expectTypeOf(Tensor.from(new Float32Array(4)).data).toEqualTypeOf<Float32Array>();
    expectTypeOf(QTensor.fromGGUF('q4_K', new Uint8Array(144), [1, 256])).toEqualTypeOf<QTensor<'q4_K'>>();
    // @ts-expect-error: group is 32 | 64 | 128
    quantizeSync(new Float32Array(64), { dtype: 'i4g', shape: [2, 32], group: 48 });
  });
});

import { loadModel, type Model, type GeneratedToken, GraphBuilder, type GraphNode } from '../../lib/index.js';

describe('model types', () => {
  it('loadModel, generate and the graph builder are typed', () => {
    expectTypeOf(loadModel).returns.toEqualTypeOf<Promise<Model>>();
    expectTypeOf<ReturnType<Model['generate']>>().toEqualTypeOf<AsyncGenerator<GeneratedToken, void, undefined>>();
    expectTypeOf<ReturnType<Model['logits']>>().toEqualTypeOf<Promise<Float32Array>>();
    expectTypeOf<ReturnType<GraphBuilder['add']>>().toEqualTypeOf<GraphNode>();
  });
});
