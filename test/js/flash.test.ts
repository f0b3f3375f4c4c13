import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertFlash } from '../../lib/model/flash-layout.js';
import { readGGUF } from '../../lib/model/gguf.js';
import { loadModel } from '../../lib/model/model.js';

const tiny = new URL('../../models/stories260K.gguf', import.meta.url).pathname;
const GREEDY = [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385];
const CALIB = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.';
// /var/tmp is a real disk here (O_DIRECT); os.tmpdir() may be tmpfs, which exercises the buffered fallback.
const dirs = [mkdtempSync(path.join('/var/tmp', 'bitflash-flash-')), mkdtempSync(path.join(tmpdir(), 'bitflash-flash-'))];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const files: string[] = [];
beforeAll(() => {
  for (const d of dirs) {
    const f = path.join(d, 'tiny-flash.gguf');
    convertFlash(readGGUF(tiny), f, { rowType: 'f32' });
    files.push(f);
  }
});

async function greedy(m: Awaited<ReturnType<typeof loadModel>>, n = 32): Promise<number[]> {
  const ids: number[] = [];
  for await (const t of m.generate('', { temperature: 0, repeatPenalty: 1, maxTokens: n })) ids.push(t.id);
  return ids;
}

describe('flash-offloaded FFN', () => {
  it('dense streaming (density 1) reproduces the dense model exactly, on disk and on tmpfs', async () => {
    for (const f of files) {
      using m = await loadModel(f, { nCtx: 64 });
      expect(await greedy(m)).toEqual(GREEDY);
      const s = m.flashStats()!;
      expect(s.neuronsActive).toBe(s.neuronsTotal);
      expect(s.cacheMisses).toBe(5 * 172); // every neuron read once, then served from the cache
      expect(s.bytesRead).toBeGreaterThanOrEqual(5 * 172 * 4096);
    }
  });

  it('under a RAM budget the neuron cache is bounded and still gives the exact dense result', async () => {
    using m = await loadModel(files[0]!, { nCtx: 64, ramBudget: '4M' });
    expect(m.plan!.totalBytes).toBeLessThanOrEqual(4 * 2 ** 20);
    expect(await greedy(m, 16)).toEqual(GREEDY.slice(0, 16));
    const s = m.flashStats()!;
    expect(s.cacheArenaBytes).toBeLessThanOrEqual(m.plan!.cacheBytes);
    expect(s.evictions).toBeGreaterThan(0);
    // what the native side holds (cache arena, reader buffers, gate scratch, activations, KV cache)
    // stays within the plan's non-weight share (weights are the JS buffers counted as resident)
    expect(m.nativeBytes).toBeLessThanOrEqual(m.plan!.totalBytes - m.plan!.residentBytes);
  });

  it('calibrated thresholds read about the target share of neurons', async () => {
    using m = await loadModel(files[0]!, { nCtx: 128 });
    const th = await m.calibrate(CALIB, 0.3);
    expect(th.length).toBe(5);
    expect(th.every((t) => t > 0)).toBe(true);
    m.flashStats(true);
    const ids = await greedy(m, 24);
    const s = m.flashStats()!;
    const frac = s.neuronsActive / s.neuronsTotal;
    // 1/8-octave threshold bins: the density lands near, not on, the target
    expect(frac).toBeGreaterThan(0.15);
    expect(frac).toBeLessThan(0.45);
    expect(ids.slice(0, 8)).toEqual(GREEDY.slice(0, 8));
    await expect(m.calibrate(CALIB, 0)).rejects.toThrow(RangeError);
  });

  it('an impossible budget fails with ERR_BITFLASH_BUDGET', async () => {
    await expect(loadModel(files[0]!, { nCtx: 64, ramBudget: '600K', density: 0.3 })).rejects.toThrow(expect.objectContaining({ code: 'ERR_BITFLASH_BUDGET' }));
  });
});
