import { describe, expect, it } from 'vitest';
import { compareIntBlock, floatBlock, intBlock, randomBlockWeights } from '../../lib/model/int-block.js';
import { cpuFeatures, setIsa } from '../../lib/index.js';

describe('integer-only transformer block vs its float64 twin', () => {
  for (const source of ['random', 'stories260K'] as const)
    for (const softmax of ['ibert', 'shiftmax'] as const)
      it(`${source} weights, ${softmax} softmax: cosine >= 0.99`, async () => {
        const r = await compareIntBlock({ source, softmax });
        expect(r.cosine).toBeGreaterThanOrEqual(0.99);
        // the output error stays a small fraction of the output's range (int8: 1/127 of it per step)
        expect(r.maxAbsErr).toBeLessThan(0.1 * r.maxAbsRef);
        for (const s of r.stages) expect(s.cosine, s.name).toBeGreaterThanOrEqual(0.99);
      });
  it('is integer-exact across ISA paths (same int8 output on every path)', () => {
    const w = randomBlockWeights(3, 64, 128, 4, 2);
    const t = 8;
    const x = Float64Array.from({ length: t * w.dim }, (_, i) => Math.sin(i * 0.37) * 2);
    const ref = floatBlock(w, x, t);
    const sc: Record<string, number> = {};
    for (const [k, v] of Object.entries(ref)) sc[k] = Math.max(...Array.from(v, Math.abs)) / 127;
    const xq = Int8Array.from(x, (v) => Math.round(v / sc.x!));
    const feat = cpuFeatures();
    const outs = feat.paths.map((isa) => {
      setIsa(isa);
      return Array.from(intBlock(w, xq, t, sc).y!.q);
    });
    setIsa(feat.cap);
    for (const o of outs) expect(o).toEqual(outs[0]);
  });
});
