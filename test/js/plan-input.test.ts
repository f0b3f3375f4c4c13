// The native plan constructor (createPlan, public API) is a parser of a caller's object: sizes that
// are negative, fractional or beyond 2^53 must be typed errors. Before the fix they were cast from
// double to size_t unchecked, which is undefined behaviour (UBSan float-cast-overflow in the ASan run).
// The flash geometry must match the row type (the fuzz_flash target found a heap overflow when
// rowBytes was smaller than a row of nEmbd values: test/fuzz/regressions/fuzz_flash/).
import { describe, expect, it } from 'vitest';
import { createPlan } from '../../lib/graph/builder.js';

const base = () => ({
  maxTokens: 1, nCtx: 0, nLayers: 0, kvCols: 0, kvType: 'f32',
  weights: [{ dtype: 0, n: 2, k: 2, data: new Float32Array(4) }],
  slots: [{ cols: 2, singleRow: false }, { cols: 2, singleRow: false }],
  ops: [{ op: 1, out: 0, w: 0 }, { op: 3, a: 0, out: 1, w: 0 }],
  output: 1,
});

describe('native plan: sizes are checked before any cast', () => {
  it('accepts the well-formed plan', () => {
    const p = createPlan(base() as never);
    p.dispose();
  });
  for (const [field, v] of [['n', -1], ['n', 1e300], ['k', -2.5], ['k', 2.5], ['n', 2 ** 60]] as const) {
    it(`weight ${field} = ${v} is ERR_BITFLASH_ARG`, () => {
      const s = base();
      (s.weights[0] as Record<string, unknown>)[field] = v;
      expect(() => createPlan(s as never)).toThrow(expect.objectContaining({ code: 'ERR_BITFLASH_ARG' }));
    });
  }
  it('flash sizes and thresholds: negative, fractional or non-finite values are ERR_BITFLASH_ARG', () => {
    const flash = { path: '/dev/null', bundleBytes: 4096, readBytes: 4096, rowBytes: 8, rowType: 0, nFf: 2, nEmbd: 2, slotsPerLayer: 2, layerOffsets: [0], thresholds: [0] };
    for (const patch of [{ bundleBytes: -4096 }, { readBytes: 4096.5 }, { rowBytes: -1 }, { thresholds: [-1] }, { thresholds: [NaN] }]) {
      const s = { ...base(), flash: { ...flash, ...patch } };
      expect(() => createPlan(s as never), JSON.stringify(patch)).toThrow(expect.objectContaining({ code: 'ERR_BITFLASH_ARG' }));
    }
  });
});
