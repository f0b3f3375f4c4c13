/**
 * Concurrency (issue 9): hundreds of async calls in flight on one weight and on several, concurrent
 * generations on one model (the contract: one call at a time per model; a second is refused at once with
 * a BitflashArgumentError, code ERR_BITFLASH_ARG, never queued or interleaved) and on several models, the
 * addon in worker_threads (several at once, each running ops, and workers terminated with jobs in flight),
 * disposal while async calls use a tensor (deferred release, never a use-after-free), and a model or plan
 * disposed during generation. tensor.test.ts covers the matmul / pack cases of deferred release; this
 * file adds the other ops and the model.
 */
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  BitflashArgumentError,
  BitflashDisposedError,
  BitflashError,
  QTensor,
  Tensor,
  dequantize,
  dequantizeSync,
  dyadicFromScale,
  layerNormInt,
  layerNormIntSync,
  loadModel,
  matmul,
  matmulInfo,
  matmulSync,
  pack,
  prepareLayerNormInt,
  quantize,
  quantizeSync,
  requantize,
  requantizeSync,
} from '../../lib/index.js';
import { GraphBuilder, createPlan } from '../../lib/graph/builder.js';
import { randomF32 } from './helpers.js';
import { lcgValues } from './lcg-values.mjs';

const tiny = new URL('../../models/stories260K.gguf', import.meta.url).pathname;
// llama2.c's reference greedy continuation from BOS (as in model.test.ts)
const GREEDY = [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338];
// a collector to force (no --expose-gc needed: the flag is set at run time and gc taken from a new context)
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

async function collect(it: AsyncIterable<{ id: number }>): Promise<number[]> {
  const ids: number[] = [];
  for await (const t of it) ids.push(t.id);
  return ids;
}

describe('many async matmuls in flight', () => {
  it('400 concurrent calls on one packed weight (gemv and gemm shapes) each equal the sync result', async () => {
    const [n, k] = [48, 256];
    const w = quantizeSync(randomF32(n * k, 1), { dtype: 'q8_0', shape: [n, k] });
    await pack(w);
    const xs = Array.from({ length: 8 }, (_, i) => randomF32((i % 2 ? matmulInfo().gemmMinM + i : 1 + i) * k, 10 + i));
    const want = xs.map((x) => matmulSync(w, x));
    const calls = Array.from({ length: 400 }, (_, i) => matmul(w, xs[i % xs.length]!).then((y) => ({ i, y })));
    for (const { i, y } of await Promise.all(calls)) expect(y, `call ${i}`).toEqual(want[i % xs.length]);
    w.dispose();
  });

  it('300 calls spread over 6 weights of every dtype, with shared `out` buffers per call and quantize / dequantize mixed in', async () => {
    const k = 128;
    const ws = (['q8_0', 'q4_0', 'i8c', 'i4g', 'q8_0', 'i4g'] as const).map((dtype, i) => quantizeSync(randomF32((8 + i) * k, 20 + i), { dtype, shape: [8 + i, k] }));
    await Promise.all(ws.slice(0, 3).map((w) => pack(w)));
    const x = randomF32(5 * k, 30);
    const want = ws.map((w) => matmulSync(w, x));
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      const wi = i % ws.length;
      const out = new Float32Array(5 * ws[wi]!.n);
      jobs.push(matmul(ws[wi]!, x, { out }).then((y) => expect(y).toEqual(want[wi])));
      if (i % 25 === 0) jobs.push(dequantize(ws[wi]!).then((d) => expect(d).toEqual(dequantizeSync(ws[wi]!))));
      if (i % 50 === 0) jobs.push(quantize(randomF32(64, i), { dtype: 'q8_0', shape: [2, 32] }).then((q) => expect(q.data).toEqual(quantizeSync(randomF32(64, i), { dtype: 'q8_0', shape: [2, 32] }).data)));
    }
    await Promise.all(jobs);
    for (const w of ws) w.dispose();
  });
});

describe('disposal while async calls use a tensor (deferred release)', () => {
  it('requantize, a norm, quantize and dequantize finish on inputs disposed right after the call', async () => {
    const acc = Tensor.from(Int32Array.from({ length: 4096 }, (_, i) => (i - 2048) * 999), [64, 64]);
    const m = dyadicFromScale(0.0005);
    const wantR = requantizeSync(acc, { multiplier: m });
    const pr = requantize(acc, { multiplier: m });
    acc.dispose();
    expect(Tensor.released(acc)).toBe(false);
    expect(() => requantizeSync(acc, { multiplier: m })).toThrow(BitflashDisposedError);
    expect(await pr).toEqual(wantR);
    expect(Tensor.released(acc)).toBe(true);

    const params = prepareLayerNormInt({ gamma: new Float32Array(64).fill(1), outScale: 0.05 });
    const xi = Tensor.from(Int8Array.from({ length: 64 * 32 }, (_, i) => (i * 37) % 256 - 128), [32, 64]);
    const wantN = layerNormIntSync(params, xi);
    const view = xi.slice(0, 32);
    const pn = layerNormInt(params, view);
    xi.dispose(); // the root: its view's pending call keeps the storage
    expect(Tensor.released(xi)).toBe(false);
    expect(await pn).toEqual(wantN);
    expect(Tensor.released(xi)).toBe(true);

    const src = Tensor.from(randomF32(32 * 64, 5), [32, 64]);
    const wantQ = quantizeSync(src, { dtype: 'i8c' });
    const pq = quantize(src, { dtype: 'i8c' });
    src.dispose();
    expect((await pq).data).toEqual(wantQ.data);

    const pd = dequantize(wantQ);
    const wantD = dequantizeSync(wantQ);
    wantQ.dispose();
    expect(QTensor.released(wantQ)).toBe(false);
    expect(await pd).toEqual(wantD);
    expect(QTensor.released(wantQ)).toBe(true);
  });

  it('a ternary weight disposed during 50 pending matmuls: every call finishes with the right result, then it is released', async () => {
    const w = quantizeSync(randomF32(16 * 512, 7), { dtype: 'tq2_0', shape: [16, 512] });
    const x = randomF32(3 * 512, 8);
    const want = matmulSync(w, x, { family: 'mad' });
    const calls = Array.from({ length: 50 }, (_, i) => matmul(w, x, { family: i % 2 ? 'mad' : 'lut' }));
    w.dispose();
    expect(() => matmulSync(w, x)).toThrow(BitflashDisposedError);
    for (const y of await Promise.all(calls)) expect(y).toEqual(want);
    expect(QTensor.released(w)).toBe(true);
    expect(w.ternaryPackedBytes).toEqual({ mad: 0, lut: 0 });
  });
});

describe('generations', () => {
  it('one model: a second concurrent generate() or logits() is refused at once with BitflashArgumentError; the first is undisturbed', async () => {
    using m = await loadModel(tiny, { nCtx: 64 });
    const opts = { temperature: 0, repeatPenalty: 1, maxTokens: 16 };
    const first = m.generate('', opts);
    const firstIds = collect(first);
    // 20 concurrent attempts while the first runs: each refused, none queued
    const attempts = await Promise.allSettled([
      ...Array.from({ length: 10 }, () => m.generate('', opts).next()),
      ...Array.from({ length: 10 }, () => m.logits([1, 2])),
    ]);
    for (const a of attempts) {
      expect(a.status).toBe('rejected');
      const e = (a as PromiseRejectedResult).reason;
      expect(e).toBeInstanceOf(BitflashArgumentError);
      expect((e as BitflashError).code).toBe('ERR_BITFLASH_ARG');
    }
    expect(await firstIds).toEqual(GREEDY);
    // once it ended, the model takes the next call
    expect(await collect(m.generate('', opts))).toEqual(GREEDY);
  });

  it('four models generating at the same time each give the reference tokens', async () => {
    const models = await Promise.all(Array.from({ length: 4 }, (_, i) => loadModel(tiny, { nCtx: 64, kvType: i % 2 ? 'f16' : 'f32' })));
    const runs = models.map((m) => collect(m.generate('', { temperature: 0, repeatPenalty: 1, maxTokens: 16 })));
    const ids = await Promise.all(runs);
    expect(ids[0]).toEqual(GREEDY);
    expect(ids[2]).toEqual(GREEDY);
    for (const got of [ids[1]!, ids[3]!]) expect(got.slice(0, 8)).toEqual(GREEDY.slice(0, 8)); // f16 KV cache
    for (const m of models) m.dispose();
  });

  it('a model disposed during generation: the running step finishes, the next one rejects with BitflashDisposedError', async () => {
    for (const disposeAfter of [0, 1, 5]) {
      const m = await loadModel(tiny, { nCtx: 64 });
      const g = m.generate('Once upon a time', { temperature: 0, maxTokens: 30 });
      const got: number[] = [];
      let err: unknown;
      try {
        for (;;) {
          const step = g.next();
          if (got.length === disposeAfter) {
            m.dispose(); // while a step is in flight
            gc();
          }
          const r = await step;
          if (r.done) break;
          got.push(r.value.id);
        }
      } catch (e) {
        err = e;
      }
      expect(err, `dispose after ${disposeAfter} tokens`).toBeInstanceOf(BitflashDisposedError);
      expect(got.length).toBeLessThanOrEqual(disposeAfter + 1);
      await expect(m.generate('').next()).rejects.toThrow(BitflashDisposedError);
    }
  });

  it('regression: a plan disposed during a step keeps its weights until the step ends (they were dropped at once)', async () => {
    // f32 weights referenced only by the plan: before the fix, dispose() dropped the plan's references at
    // once, so a collection during the step could free the buffers the executor was reading (a
    // use-after-free). A FinalizationRegistry shows whether a weight was collectable before the step settled.
    const V = 2048;
    const D = 256;
    const tokens = Int32Array.from({ length: 64 }, (_, i) => (i * 61) % V);
    let settled = false;
    const refs: WeakRef<Float32Array>[] = [];
    const out = new Float32Array(64 * V);
    const want = new Float32Array(64 * V);
    // built in a plain function: a suspended async function keeps its locals (the weights) reachable
    const start = (): Promise<void> => {
      const g = new GraphBuilder();
      const E = randomF32(V * D, 41);
      const W = randomF32(V * D, 42);
      refs.push(new WeakRef(E), new WeakRef(W));
      g.output(g.matmul(g.embed(g.weight('emb', 'f32', [V, D], E)), g.weight('w', 'f32', [V, D], W)));
      const plan = createPlan(g.compile({ maxTokens: 64, nCtx: 0 }));
      plan.stepSync(tokens, 0, want);
      const p = plan.step(tokens, 0, out).then(() => {
        settled = true;
      });
      plan.dispose();
      expect(plan.disposed).toBe(true);
      expect(() => plan.stepSync(tokens, 0, out)).toThrow(/disposed/);
      return p;
    };
    const p = start();
    // collect while the step runs (a WeakRef keeps its target until the job that made it ends: yield first)
    await new Promise((r) => setImmediate(r));
    gc();
    const collected = refs.filter((r) => r.deref() === undefined).length;
    const during = !settled;
    await p;
    if (during) expect(collected, 'weights collected while the step ran').toBe(0);
    expect(out).toEqual(want);
  });
});

describe('the addon in worker_threads', () => {
  const script = new URL('./concurrency-worker.mjs', import.meta.url);
  const dist = new URL('../../dist/index.js', import.meta.url);
  const run = (data: Record<string, unknown>): Worker => new Worker(script, { workerData: data });

  it.skipIf(!existsSync(dist))('4 workers at once, each running 64 async matmuls and a requantize, give the main thread\'s results', async () => {
    const [n, k, m] = [24, 256, 6];
    const workers = [1, 2, 3, 4].map((seed) => ({ seed, w: run({ mode: 'ops', seed, n, k, m, count: 64 }) }));
    const results = await Promise.all(
      workers.map(
        ({ w }) =>
          new Promise<{ seed: number; y: Float32Array; q: Uint8Array; r: Int8Array }>((resolve, reject) => {
            w.once('message', resolve);
            w.once('error', reject);
            w.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
          }),
      ),
    );
    // the same computation here, in the main thread's instance of the addon (the worker's inputs: lcgValues)
    for (const r of results) {
      const w = quantizeSync(lcgValues(n * k, r.seed), { dtype: 'q4_0', shape: [n, k] });
      expect(r.q).toEqual(w.data);
      await pack(w);
      expect(r.y).toEqual(matmulSync(w, lcgValues(m * k, r.seed + 1)));
      const acc = Int32Array.from({ length: 64 }, (_, i) => (i - 32) * 1000003);
      expect(r.r).toEqual(requantizeSync(acc, { multiplier: dyadicFromScale(0.001), out: 'i8' }));
      w.dispose();
    }
    await Promise.all(workers.map(({ w }) => w.terminate()));
  });

  it.skipIf(!existsSync(dist))('workers terminated with 200 jobs in flight each: no crash, and new workers and the main thread keep working', async () => {
    const [n, k, m] = [64, 1024, 16];
    for (let round = 0; round < 2; round++) {
      const ws = [1, 2, 3].map((seed) => run({ mode: 'flood', seed: seed + round * 10, n, k, m, count: 200 }));
      await Promise.all(ws.map((w) => new Promise((resolve, reject) => (w.once('message', resolve), w.once('error', reject)))));
      const codes = await Promise.all(ws.map((w) => w.terminate()));
      expect(codes.every((c) => c === 1)).toBe(true); // terminated, not crashed
    }
    const w = quantizeSync(randomF32(32 * 64, 9), { dtype: 'q8_0', shape: [32, 64] });
    const x = randomF32(2 * 64, 10);
    expect(await matmul(w, x)).toEqual(matmulSync(w, x));
    const again = run({ mode: 'ops', seed: 5, n: 8, k: 64, m: 2, count: 8 });
    const msg = await new Promise<{ y: Float32Array }>((resolve, reject) => (again.once('message', resolve), again.once('error', reject)));
    expect(msg.y.length).toBe(2 * 8);
    await again.terminate();
  });
});
