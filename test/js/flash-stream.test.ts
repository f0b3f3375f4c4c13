// Weight sources of the model runtime (mmap, the naive per-layer stream, the flash planner's
// streamed attention/gate groups with prefetch) compute what the resident weights compute.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convertFlash } from '../../lib/model/flash-layout.js';
import { readGGUF } from '../../lib/model/gguf.js';
import { loadModel } from '../../lib/model/model.js';
import { writeRandomLlama } from '../../lib/model/random-llama.js';
import { planResidency } from '../../lib/memory/planner.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'bitflash-stream-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const file = path.join(tmp, 'm.gguf'), flash = path.join(tmp, 'm-flash.gguf');
writeRandomLlama(file, { nEmbd: 512, nLayers: 4, nFf: 1024, nHead: 8, nVocab: 512, contextLength: 64 }, { seed: 3 });
convertFlash(readGGUF(file), flash, { rowType: 'q4_0' });
const toks = [1, 40, 47, 300, 12, 99, 7];

const maxRelErr = (a: Float32Array, b: Float32Array) => {
  let e = 0, s = 0;
  for (let i = 0; i < a.length; i++) {
    e = Math.max(e, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(a[i]!));
  }
  return e / s;
};

describe('weight sources', () => {
  it("'mmap' and 'layers' (naive per-layer pread) give the resident model's logits exactly", async () => {
    using r = await loadModel(file, { nCtx: 16, batch: 1 });
    const want = await r.logits(toks);
    for (const weights of ['mmap', 'layers'] as const) {
      using m = await loadModel(file, { nCtx: 16, batch: 1, weights });
      expect(await m.logits(toks)).toEqual(want);
      if (weights === 'layers') {
        const s = m.flashStats()!;
        // every layer (4) and the output head read once per token
        expect(s.streamLoads).toBe(5 * toks.length);
        expect(s.streamBytesRead).toBeGreaterThan(0);
        expect(s.bytesRead).toBe(s.streamBytesRead);
      }
    }
    await expect(loadModel(file, { weights: 'mmap', ramBudget: '1G' })).rejects.toThrow(RangeError);
  });

  it('a flash model whose attention and gates do not fit streams them (prefetched) with the same result', async () => {
    const f = readGGUF(flash);
    const full = planResidency(f, { ramBudget: 1 << 30, nCtx: 16, batch: 1, kvType: 'f32', density: 0.25 });
    expect(full.streamedDense).toEqual([]);
    // just under what it needs with everything resident: the neuron minimum is 256 slots of 4 KiB
    const budget = full.totalBytes - full.cacheBytes + 256 * 4096 - 512 * 1024;
    const plan = planResidency(f, { ramBudget: budget, nCtx: 16, batch: 1, kvType: 'f32', density: 0.25 });
    expect(plan.streamedDense.length).toBeGreaterThan(0);
    expect(plan.totalBytes).toBeLessThanOrEqual(budget);
    const thresholds = [0, 0, 0, 0];
    using a = await loadModel(flash, { nCtx: 16, batch: 1, thresholds });
    using b = await loadModel(flash, { nCtx: 16, batch: 1, thresholds, ramBudget: budget, density: 0.25 });
    const la = await a.logits(toks), lb = await b.logits(toks);
    // same kernels and data; only the order in which worker threads' partial FFN sums are added
    // may differ (f32 rounding): 1e-5 of the logits' scale
    expect(maxRelErr(la, lb)).toBeLessThan(1e-5);
    const s = b.flashStats()!;
    const groups = new Set(plan.streamedDense.filter((d) => d.group >= 0).map((d) => d.group)).size;
    // each group read once per token, plus the read of the next token's first group already in flight
    expect(s.streamLoads).toBeGreaterThanOrEqual(groups * toks.length);
    expect(s.streamLoads).toBeLessThanOrEqual(groups * toks.length + 1);
    // with two or more groups every use but the very first finds its group prefetched
    if (groups > 1) expect(s.streamPrefetched).toBe(groups * toks.length - 1);
    expect(s.bytesRead).toBe(s.bundleBytesRead + s.streamBytesRead);
    expect(s.computeMs + s.ioMs).toBeCloseTo(s.stepMs, 3);
  });
});
