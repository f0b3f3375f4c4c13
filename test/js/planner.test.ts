import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BitflashBudgetError } from '../../lib/index.js';
import { planResidency, parseBudget, formatPlan } from '../../lib/memory/planner.js';
import { readGGUF, readTensorData } from '../../lib/model/gguf.js';
import { convertFlash, flashInfo, decodeRows } from '../../lib/model/flash-layout.js';
import { loadModel } from '../../lib/model/model.js';

const tiny = new URL('../../models/stories260K.gguf', import.meta.url).pathname;
const tmp = mkdtempSync(path.join(tmpdir(), 'bitflash-plan-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('RAM budget and residency plan', () => {
  it('parses sizes', () => {
    expect(parseBudget('2G')).toBe(2 ** 31);
    expect(parseBudget('512M')).toBe(512 * 2 ** 20);
    expect(parseBudget('1.5GiB')).toBe(1.5 * 2 ** 30);
    expect(parseBudget(1000)).toBe(1000);
    expect(() => parseBudget('lots')).toThrow(RangeError);
    expect(() => parseBudget(-1)).toThrow(RangeError);
  });

  it('a dense model must fit whole; too small a budget fails with the numbers', async () => {
    const f = readGGUF(tiny);
    const ok = planResidency(f, { ramBudget: 8 * 2 ** 20, nCtx: 256, batch: 16, kvType: 'f32' });
    expect(ok.residentBytes).toBe(292800 * 4);
    expect(ok.kvCacheBytes).toBe(2 * 5 * 256 * 32 * 4);
    expect(ok.totalBytes).toBeLessThanOrEqual(ok.budget);
    expect(() => planResidency(f, { ramBudget: 2 ** 20, nCtx: 256, batch: 16, kvType: 'f32' })).toThrow(BitflashBudgetError);
    await expect(loadModel(tiny, { ramBudget: '1M', nCtx: 256 })).rejects.toThrow(/too small for this dense model: weights 1\.1 MiB/);
    using m = await loadModel(tiny, { ramBudget: '8M', nCtx: 256 });
    expect(m.plan!.totalBytes).toBeLessThanOrEqual(8 * 2 ** 20);
  });

  it('a flash-layout model keeps gates and attention resident and sizes the neuron cache from the rest', () => {
    const out = path.join(tmp, 'flash.gguf');
    const r = convertFlash(readGGUF(tiny), out, { rowType: 'f32' });
    expect(r.downMaxAbsErr).toBe(0); // f32 rows: the transposition is exact
    const f = readGGUF(out);
    const info = flashInfo(f)!;
    expect(info).toMatchObject({ rowType: 'f32', rowBytes: 256, bundleBytes: 4096, nFf: 172, nEmbd: 64 });
    // every bundle starts on a 4096-byte boundary of the file
    for (const t of f.tensors.filter((x) => x.name.endsWith('.ffn_bundles'))) expect(t.fileOffset % 4096).toBe(0);
    // bundle 77 of layer 3: up row 77 and down column 77 of the source
    const src = readGGUF(tiny);
    const b = readTensorData(f, f.tensors.find((t) => t.name === 'blk.3.ffn_bundles')!);
    const up = new Float32Array(readTensorData(src, src.tensors.find((t) => t.name === 'blk.3.ffn_up.weight')!).buffer);
    const down = new Float32Array(readTensorData(src, src.tensors.find((t) => t.name === 'blk.3.ffn_down.weight')!).buffer);
    const u = decodeRows(b.subarray(77 * 4096, 77 * 4096 + 256), 1, 64, 'f32');
    const d = decodeRows(b.subarray(77 * 4096 + 256, 77 * 4096 + 512), 1, 64, 'f32');
    for (let j = 0; j < 64; j++) {
      expect(u[j]).toBe(up[77 * 64 + j]);
      expect(d[j]).toBe(down[j * 172 + 77]);
    }
    const p = planResidency(f, { ramBudget: 3 * 2 ** 20, nCtx: 64, batch: 8, kvType: 'f32', density: 0.3 });
    expect(p.resident.some((t) => t.name === 'blk.0.ffn_gate.weight')).toBe(true);
    expect(p.resident.some((t) => t.name.includes('ffn_bundles'))).toBe(false);
    expect(p.cacheSlots).toBeGreaterThanOrEqual(Math.ceil(0.3 * 172));
    expect(p.totalBytes).toBeLessThanOrEqual(p.budget);
    expect(formatPlan(p)).toMatch(/neuron cache/);
    expect(() => planResidency(f, { ramBudget: 2 * 2 ** 20, nCtx: 64, batch: 8, kvType: 'f32', density: 0.3 })).toThrow(/needs \d/);
    const q8 = convertFlash(readGGUF(tiny), path.join(tmp, 'flash8.gguf'));
    expect(q8.rowType).toBe('q8_0');
    expect(q8.downMaxAbsErr).toBeLessThan(q8.downMaxAbs / 127); // at most half a q8_0 step of the block max
  });
});
