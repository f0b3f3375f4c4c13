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
