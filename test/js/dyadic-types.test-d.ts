import { describe, expectTypeOf, it } from 'vitest';
import {
  type Dyadic,
  type DyadicParams,
  dyadicFromScale,
  iExp,
  iExpSync,
  iGeluSync,
  layerNormInt,
  prepareIGelu,
  prepareLayerNormInt,
  prepareSiluInt,
  requantize,
  requantizeSync,
  siluIntSync,
  softmaxInt,
  softmaxIntSync,
} from '../../lib/index.js';

describe('dyadic public types', () => {
  it('requantize returns the typed array of its output type', () => {
    const x = new Int32Array(4);
    const d: Dyadic = dyadicFromScale(0.5);
    expectTypeOf(requantizeSync(x, { multiplier: d })).toEqualTypeOf<Int8Array>();
    expectTypeOf(requantizeSync(x, { multiplier: d, out: 'u8' })).toEqualTypeOf<Uint8Array>();
    expectTypeOf(requantizeSync(x, { multiplier: [d, d], out: 'i16' })).toEqualTypeOf<Int16Array>();
    expectTypeOf(requantize(x, { multiplier: d, out: 'i16' })).toEqualTypeOf<Promise<Int16Array>>();
    // @ts-expect-error: 'i4' is not an output type
    requantizeSync(x, { multiplier: d, out: 'i4' });
  });
  it('prepare returns params tagged with their op, and ops only take their own', () => {
    const g = prepareIGelu({ inScale: 0.05, outScale: 0.05 });
    expectTypeOf(g).toEqualTypeOf<DyadicParams<'iGelu'>>();
    expectTypeOf(iGeluSync(g, new Int8Array(4))).toEqualTypeOf<Int8Array>();
    // @ts-expect-error: SiLU params do not fit i-GELU
    iGeluSync(prepareSiluInt({ inScale: 0.05, outScale: 0.05 }), new Int8Array(4));
    // @ts-expect-error: i-GELU params do not fit SiLU
    siluIntSync(g, new Int8Array(4));
    expectTypeOf(layerNormInt(prepareLayerNormInt({ gamma: new Float32Array(4), outScale: 1 }), new Int8Array(4))).toEqualTypeOf<Promise<Int8Array>>();
  });
  it('softmax gives u8 probabilities; iExp int16 -> int32', () => {
    expectTypeOf(softmaxIntSync).returns.toEqualTypeOf<Uint8Array>();
    expectTypeOf(softmaxInt).returns.toEqualTypeOf<Promise<Uint8Array>>();
    expectTypeOf(iExpSync).parameter(1).toEqualTypeOf<Int16Array>();
    expectTypeOf(iExp).returns.toEqualTypeOf<Promise<Int32Array>>();
  });
});
