import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BitflashUnsupportedError } from '../../lib/errors.js';
import { createPlan, OP } from '../../lib/graph/builder.js';
import { planResidency } from '../../lib/memory/planner.js';
import { convertFlash } from '../../lib/model/flash-layout.js';
import { readGGUF } from '../../lib/model/gguf.js';
import { loadModel } from '../../lib/model/model.js';
import {
  calibratePredictors, fitLowRank, markReluModel, predictorQuality, predictScores, selectionMetrics, setPredictorThresholds, symmetricEigen,
  thresholdForRecall, type CalibrateReport,
} from '../../lib/model/predictor.js';
import { predictorInfo } from '../../lib/model/predictor-info.js';
import { buildLlama, llamaHParams } from '../../lib/model/llama.js';
import { tokenizerFromGGUF } from '../../lib/model/tokenizer.js';

const tiny = new URL('../../models/stories260K.gguf', import.meta.url).pathname;
const calibText = readFileSync(new URL('../../models/calibration.txt', import.meta.url), 'utf8');
const evalText = readFileSync(new URL('../../models/eval.txt', import.meta.url), 'utf8');
// /var/tmp is a real disk here (O_DIRECT)
const dir = mkdtempSync(path.join('/var/tmp', 'bitflash-pred-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const relu = path.join(dir, 'relu.gguf'), reluFlash = path.join(dir, 'relu-flash.gguf'), swigluFlash = path.join(dir, 'swiglu-flash.gguf');
const pred = path.join(dir, 'relu-pred.gguf'), predAll = path.join(dir, 'relu-pred-all.gguf');
let report: CalibrateReport;

beforeAll(async () => {
  // stories260K run with ReLU instead of SiLU: not trained for it (a different model), but a real
  // ReLU-family FFN whose sparsity the predictor must learn from recorded activations
  markReluModel(tiny, relu);
  convertFlash(readGGUF(relu), reluFlash, { rowType: 'f32' });
  convertFlash(readGGUF(tiny), swigluFlash, { rowType: 'f32' });
  report = await calibratePredictors(reluFlash, pred, calibText, { rank: 16, recall: 0.99 });
  // every neuron selected: the predicted path must then equal the dense ReLU model
  setPredictorThresholds(pred, predAll, new Array<number>(5).fill(-1e30));
}, 600_000); // generous: the suite also runs under qemu (scalar path) and ASan

function rand(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 30 - 1;
  };
}

const disposable = <T extends { dispose(): void }>(p: T) => Object.assign(p, { [Symbol.dispose]: () => p.dispose() });

async function greedy(file: string, n: number, opts: Parameters<typeof loadModel>[1] = {}): Promise<number[]> {
  using m = await loadModel(file, { nCtx: 64, ...opts });
  const ids: number[] = [];
  for await (const t of m.generate('', { temperature: 0, repeatPenalty: 1, maxTokens: n })) ids.push(t.id);
  return ids;
}

describe('low-rank least squares', () => {
  it('Jacobi eigensolver: S v = lambda v, values descending', () => {
    const r = 7, next = rand(3);
    const M = Float64Array.from({ length: r * r }, next);
    const S = new Float64Array(r * r);
    for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) for (let k = 0; k < r; k++) S[i * r + j]! += M[k * r + i]! * M[k * r + j]!;
    const { values, vectors } = symmetricEigen(S, r);
    for (let j = 0; j < r; j++) {
      if (j) expect(values[j]!).toBeLessThanOrEqual(values[j - 1]!);
      for (let i = 0; i < r; i++) {
        let sv = 0;
        for (let k = 0; k < r; k++) sv += S[i * r + k]! * vectors[k * r + j]!;
        expect(sv).toBeCloseTo(values[j]! * vectors[i * r + j]!, 9);
      }
    }
  });

  it('full rank reproduces G x; lower ranks capture what the exact top singular subspace captures', () => {
    const T = 40, n = 12, d = 6, next = rand(11);
    const X = Float64Array.from({ length: T * d }, next), G = Float32Array.from({ length: n * d }, next);
    const full = fitLowRank(X, T, G, n, d, d);
    const s = predictScores(full, X, T, n, d);
    for (let t = 0; t < T; t++) for (let i = 0; i < n; i++) {
      let g = 0;
      for (let k = 0; k < d; k++) g += X[t * d + k]! * G[i * d + k]!;
      expect(s[t * n + i]!).toBeCloseTo(g, 4); // f32 A and B: ~1e-6 relative
    }
    expect(full.captured).toBeCloseTo(1, 6);
    // reference: eigenvalues of Y^T Y by the dense eigensolver (n x n)
    const Y = new Float64Array(T * n);
    for (let t = 0; t < T; t++) for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) Y[t * n + i]! += X[t * d + k]! * G[i * d + k]!;
    const C = new Float64Array(n * n);
    for (let t = 0; t < T; t++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) C[i * n + j]! += Y[t * n + i]! * Y[t * n + j]!;
    const ev = symmetricEigen(C, n).values;
    const total = ev.reduce((a, v) => a + v, 0);
    for (const r of [1, 2, 4]) {
      const fit = fitLowRank(X, T, G, n, d, r);
      const best = ev.slice(0, r).reduce((a, v) => a + v, 0) / total;
      expect(fit.captured).toBeCloseTo(best, 6);
      // the residual of B A x against G x is what the captured share says
      const p = predictScores(fit, X, T, n, d);
      let res = 0;
      for (let i = 0; i < Y.length; i++) res += (p[i]! - Y[i]!) ** 2;
      expect(res / total).toBeCloseTo(1 - best, 4);
    }
    expect(() => fitLowRank(X, T, G, n, d, 7)).toThrow(RangeError);
    expect(() => fitLowRank(X, T, G, n, d, 0)).toThrow(RangeError);
  });

  it('thresholds keep the target recall; metrics count pairs', () => {
    const gate = Float64Array.from([1, 2, -1, 3, -2, 4, 5, -3, 6, 7]);
    const score = Float64Array.from([0.5, 1.5, 0.2, 2.5, -1, 3.5, 0.1, -2, 5, 6]);
    const t = thresholdForRecall(score, gate, 1);
    expect(selectionMetrics(score, gate, t).recall).toBe(1);
    const t2 = thresholdForRecall(score, gate, 0.8); // 7 active: floor(1.4) = 1 miss allowed
    const m = selectionMetrics(score, gate, t2);
    expect(m.recall).toBeCloseTo(6 / 7, 12);
    expect(m.activeDensity).toBeCloseTo(0.7, 12);
    expect(m.density).toBeCloseTo(7 / 10, 12); // 6 active hits and the inactive pair scored 0.2
    expect(m.precision).toBeCloseTo(6 / 7, 12);
    expect(() => thresholdForRecall(score, gate, 0)).toThrow(RangeError);
    // by mass (active gates sum to 28): the lowest-scored active pair has gate 5 (score 0.1), more
    // than the 10% allowance of 2.8, so nothing may be missed
    expect(selectionMetrics(score, gate, thresholdForRecall(score, gate, 0.9, true)).recall).toBe(1);
    // 25% of 28 = 7 allows missing gate 5 (score 0.1) and then gate 1 (score 0.5): 6 <= 7
    const tm = thresholdForRecall(score, gate, 0.75, true);
    expect(tm).toBe(0.5);
    expect(selectionMetrics(score, gate, tm).recall).toBeCloseTo(5 / 7, 12);
  });
});

describe('ReLU-family predictors (stories260K run with ReLU)', () => {
  it('calibrate writes a rank-r predictor and a threshold per layer, with measured recall and density', () => {
    const f = readGGUF(pred);
    const info = predictorInfo(f, llamaHParams(f))!;
    expect(info.rank).toBe(16);
    expect(info.thresholds).toHaveLength(5);
    expect(f.tensors.find((t) => t.name === 'blk.0.ffn_pred_a')!.dims).toEqual([64, 16]);
    expect(f.tensors.find((t) => t.name === 'blk.4.ffn_pred_b')!.dims).toEqual([16, 172]);
    expect(f.metadata.get('bitflash.ffn_activation')).toBe('relu');
    expect(report.layers).toHaveLength(5);
    for (const l of report.layers) {
      expect(l.fit.recall).toBeGreaterThanOrEqual(0.99); // the target holds where it was fitted
      for (const m of [l.fit, l.heldOut]) {
        for (const v of [m.recall, m.precision, m.density, m.activeDensity]) expect(v >= 0 && v <= 1).toBe(true);
        expect(m.density).toBeGreaterThanOrEqual(m.activeDensity * m.recall - 1e-12); // reads at least what it hits
      }
      expect(l.captured > 0 && l.captured <= 1 + 1e-9).toBe(true);
    }
    console.log(`rank 16, recall target 0.99, ${report.fitTokens} fit / ${report.tokens - report.fitTokens} held-out tokens:\n` +
      report.layers.map((l) => `  layer ${l.layer}: captured ${(l.captured * 100).toFixed(1)}%, held-out recall ${(l.heldOut.recall * 100).toFixed(1)}%, precision ${(l.heldOut.precision * 100).toFixed(1)}%, density ${(l.heldOut.density * 100).toFixed(1)}% (active ${(l.heldOut.activeDensity * 100).toFixed(1)}%)`).join('\n'));
  });

  it('the exact flash ReLU run (resident gate) equals the dense ReLU model', async () => {
    const dense = await greedy(relu, 32);
    expect(await greedy(reluFlash, 32)).toEqual(dense);
    expect(dense).not.toEqual(await greedy(tiny, 32)); // ReLU really changes the model
    using a = await loadModel(relu, { nCtx: 64 });
    using b = await loadModel(reluFlash, { nCtx: 64 });
    const ids = a.tokenizer.encode(evalText).slice(0, 48);
    const la = await a.logits(ids), lb = await b.logits(ids);
    let mx = 0, scale = 0;
    for (let i = 0; i < la.length; i++) {
      mx = Math.max(mx, Math.abs(la[i]! - lb[i]!));
      scale = Math.max(scale, Math.abs(la[i]!));
    }
    expect(mx).toBeLessThan(1e-4 * scale); // f32 sums in another order
    const s = b.flashStats()!;
    expect(s.neuronsActive).toBeLessThan(s.neuronsTotal); // only gate > 0 neurons are read
  });

  it('with every neuron predicted, the predicted path (gate rows from the bundles) equals the dense ReLU model', async () => {
    const dense = await greedy(relu, 32);
    expect(await greedy(predAll, 32)).toEqual(dense);
    const q = await predictorQuality(predAll, tokenizerFromGGUF(readGGUF(predAll)).encode(evalText).slice(0, 48));
    expect(q.top1Agreement).toBe(1);
    expect(q.meanKl).toBeLessThan(1e-6);
    expect(q.density).toBe(1);
  });

  it('calibrated predictors read fewer bundles; agreement with the exact run is measured', async () => {
    using m = await loadModel(relu, { nCtx: 64 });
    const ids = m.tokenizer.encode(evalText);
    const q = await predictorQuality(pred, ids.slice(0, 64));
    expect(q.density).toBeLessThan(1);
    expect(q.density).toBeGreaterThanOrEqual(q.exactDensity * 0.5);
    expect(q.top1Agreement >= 0 && q.top1Agreement <= 1).toBe(true);
    console.log(`eval text, ${q.tokens} tokens: top-1 agreement ${(q.top1Agreement * 100).toFixed(1)}%, mean KL ${q.meanKl.toExponential(2)}, density ${(q.density * 100).toFixed(1)}% (exact ${(q.exactDensity * 100).toFixed(1)}%)`);
    const ids2 = await greedy(pred, 16);
    expect(ids2).toHaveLength(16);
  });

  it('under a RAM budget the predicted model stays within its plan', async () => {
    using m = await loadModel(pred, { nCtx: 64, ramBudget: '3M' });
    expect(m.plan!.totalBytes).toBeLessThanOrEqual(3 * 2 ** 20);
    const ids: number[] = [];
    for await (const t of m.generate('', { temperature: 0, repeatPenalty: 1, maxTokens: 16 })) ids.push(t.id);
    expect(ids).toHaveLength(16);
    const s = m.flashStats()!;
    expect(s.cacheArenaBytes).toBeLessThanOrEqual(m.plan!.cacheBytes);
    expect(s.neuronsActive).toBeLessThan(s.neuronsTotal);
    expect(m.nativeBytes).toBeLessThanOrEqual(m.plan!.totalBytes - m.plan!.residentBytes);
  });

  it('the planner keeps the predictors resident instead of the gate and sizes slots for whole bundles', () => {
    const f = readGGUF(pred);
    const p = planResidency(f, { ramBudget: 64 * 2 ** 20, nCtx: 64, batch: 64, kvType: 'f32' });
    expect(p.resident.some((r) => r.name === 'blk.0.ffn_gate.weight')).toBe(false);
    expect(p.resident.some((r) => r.name === 'blk.0.ffn_pred_a')).toBe(true);
    const g = planResidency(readGGUF(reluFlash), { ramBudget: 64 * 2 ** 20, nCtx: 64, batch: 64, kvType: 'f32' });
    expect(g.resident.some((r) => r.name === 'blk.0.ffn_gate.weight')).toBe(true);
  });

  it('the native plan validates the ReLU flash op', () => {
    const f = readGGUF(pred);
    const spec = buildLlama(f, { maxTokens: 4, nCtx: 16, flash: { slotsPerLayer: 172 } }).spec;
    const ix = spec.ops.findIndex((o) => o.op === OP.ffnFlashRelu);
    expect(ix).toBeGreaterThan(0);
    using ok = disposable(createPlan(spec));
    expect(ok.disposed).toBe(false);
    // a predicted op must read whole bundles (the gate row is the third)
    expect(() => createPlan({ ...spec, flash: { ...spec.flash!, readBytes: 0 } })).toThrow(expect.objectContaining({ code: 'ERR_BITFLASH_ARG', message: expect.stringMatching(/whole bundles/) }));
    const bad = (patch: Record<string, number>) => ({ ...spec, ops: spec.ops.map((o, i) => (i === ix ? { ...o, ...patch } : o)) });
    expect(() => createPlan(bad({ b: spec.ops[ix]!.a! }))).toThrow(/n_ff/); // scores of the wrong width
    expect(() => createPlan(bad({ w: 0 }))).toThrow(/not both/);
    expect(() => createPlan(bad({ layer: 99 }))).toThrow(/layer/);
    expect(() => createPlan(bad({ out: spec.ops[ix]!.a! }))).toThrow(expect.objectContaining({ code: 'ERR_BITFLASH_ARG' }));
  });

  it('per-neuron normalized scores and a mass recall target also hold their target where fitted', async () => {
    const out = path.join(dir, 'relu-pred-norm.gguf');
    const r = await calibratePredictors(reluFlash, out, calibText, { rank: 8, recall: 0.99, normalize: true, recallOf: 'mass' });
    for (const l of r.layers) expect(l.fit.recall).toBeGreaterThan(0.9); // pair recall under a 99% mass target
    const q = await predictorQuality(out, tokenizerFromGGUF(readGGUF(out)).encode(evalText).slice(0, 32));
    expect(q.density).toBeLessThan(1);
  }, 300_000);

  it('errors are typed', async () => {
    await expect(calibratePredictors(swigluFlash, path.join(dir, 'x.gguf'), calibText)).rejects.toThrow(BitflashUnsupportedError);
    await expect(calibratePredictors(swigluFlash, path.join(dir, 'x.gguf'), calibText)).rejects.toThrow(/ReLU-family/);
    await expect(calibratePredictors(relu, path.join(dir, 'x.gguf'), calibText)).rejects.toThrow(/flash layout/);
    await expect(calibratePredictors(reluFlash, path.join(dir, 'x.gguf'), calibText, { rank: 65 })).rejects.toThrow(RangeError);
    await expect(calibratePredictors(reluFlash, path.join(dir, 'x.gguf'), calibText, { recall: 1.5 })).rejects.toThrow(RangeError);
    await expect(calibratePredictors(reluFlash, path.join(dir, 'x.gguf'), 'Once')).rejects.toThrow(RangeError);
    await expect(loadModel(pred, { nCtx: 64, density: 0.5 })).rejects.toThrow(BitflashUnsupportedError);
    expect(() => setPredictorThresholds(reluFlash, path.join(dir, 'x.gguf'), [0, 0, 0, 0, 0])).toThrow(BitflashUnsupportedError);
    expect(() => setPredictorThresholds(pred, path.join(dir, 'x.gguf'), [0])).toThrow(RangeError);
  });
});

const cli = new URL('../../dist/cli/main.js', import.meta.url).pathname;
// BITFLASH_NO_SUBPROCESS: process.execPath can't be spawned (scripts/test-arm64-js.sh)
describe.runIf(existsSync(cli) && !process.env.BITFLASH_NO_SUBPROCESS)('bitflash calibrate (dist build)', () => {
  it('marks, converts and calibrates a ReLU model; refuses a SwiGLU one with the reason', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
    const r1 = path.join(dir, 'cli-relu.gguf'), r2 = path.join(dir, 'cli-relu-flash.gguf'), r3 = path.join(dir, 'cli-pred.gguf');
    expect(run('convert', tiny, r1, '--ffn-activation', 'relu').status).toBe(0);
    expect(run('convert', r1, r2, '--flash', '--type', 'f32').status).toBe(0);
    const c = run('calibrate', r2, '--rank', '8', '-o', r3, '--json');
    expect(c.status).toBe(0);
    const out = JSON.parse(c.stdout);
    expect(out.rank).toBe(8);
    expect(out.layers).toHaveLength(5);
    expect(out.quality.density).toBeLessThanOrEqual(1);
    expect(readGGUF(r3).metadata.get('bitflash.predictor.rank')).toBe(8);
    const bad = run('calibrate', swigluFlash, '-o', path.join(dir, 'y.gguf'));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/ReLU-family/);
    expect(run('convert', tiny, r1, '--ffn-activation', 'gelu').status).toBe(1);
    expect(run('calibrate').status).toBe(1);
  }, 300_000);
});
