import { describe, expect, it } from 'vitest';
import { BitflashDisposedError, BitflashError } from '../../lib/index.js';
import { GraphBuilder, createPlan } from '../../lib/graph/builder.js';
import { loadModel } from '../../lib/model/model.js';
import { argmax } from '../../lib/model/sampling.js';

const tiny = new URL('../../models/stories260K.gguf', import.meta.url).pathname;
// llama2.c's reference greedy continuation from BOS (test/fixtures/README.md).
const GREEDY = [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385];

async function collect(it: AsyncIterable<{ id: number; text: string }>) {
  const ids: number[] = [];
  let text = '';
  for await (const t of it) {
    ids.push(t.id);
    text += t.text;
  }
  return { ids, text };
}

describe('tiny Llama end to end', () => {
  it('greedy decoding from BOS reproduces the reference token ids exactly (f32 KV cache)', async () => {
    using m = await loadModel(tiny, { nCtx: 128 });
    const { ids, text } = await collect(m.generate('', { temperature: 0, repeatPenalty: 1, maxTokens: 32 }));
    expect(ids).toEqual(GREEDY);
    expect(text.startsWith('Once upon a time, there was a little girl named Lily.')).toBe(true);
    expect(m.lastStats!.decodeTokens).toBe(31);
    expect(m.lastStats!.decodeTokensPerSecond).toBeGreaterThan(0);
  });

  it('an f16 KV cache and a prompt split over several steps give the same greedy text', async () => {
    using m = await loadModel(tiny, { nCtx: 128, kvType: 'f16', batch: 3 });
    const { ids } = await collect(m.generate('', { temperature: 0, repeatPenalty: 1, maxTokens: 32 }));
    expect(ids.slice(0, 24)).toEqual(GREEDY.slice(0, 24));
    const prompt = 'Once upon a time, there was a little girl named Lily.';
    const a = await collect(m.generate(prompt, { temperature: 0, repeatPenalty: 1, maxTokens: 8 }));
    using m2 = await loadModel(tiny, { nCtx: 128, batch: 64 });
    const b = await collect(m2.generate(prompt, { temperature: 0, repeatPenalty: 1, maxTokens: 8 }));
    expect(a.ids).toEqual(b.ids);
  });

  it('logits() rows equal the step-by-step logits; perplexity is finite', async () => {
    using m = await loadModel(tiny, { nCtx: 64, batch: 5 });
    const toks = [1, ...GREEDY.slice(0, 11)];
    const all = await m.logits(toks);
    const V = m.hparams.nVocab;
    for (let i = 0; i < toks.length - 1; i++) expect(argmax(all.subarray(i * V, (i + 1) * V))).toBe(toks[i + 1]);
    const ppl = await m.perplexity('Once upon a time, there was a little girl named Lily.');
    expect(ppl).toBeGreaterThan(1);
    expect(ppl).toBeLessThan(20);
  });

  it('seeded sampling is reproducible; stop strings and maxTokens end generation', async () => {
    using m = await loadModel(tiny, { nCtx: 128 });
    const a = await collect(m.generate('Once upon a time', { seed: 42, temperature: 0.9, maxTokens: 20 }));
    const b = await collect(m.generate('Once upon a time', { seed: 42, temperature: 0.9, maxTokens: 20 }));
    expect(a.ids).toEqual(b.ids);
    expect(a.ids.length).toBeLessThanOrEqual(20);
    const s = await collect(m.generate('', { temperature: 0, repeatPenalty: 1, maxTokens: 64, stop: ['Lily'] }));
    expect(s.text.endsWith('Lily')).toBe(true);
    expect(s.ids.length).toBeLessThan(20);
  });

  it('an AbortSignal stops generation within one step; the model stays usable', async () => {
    using m = await loadModel(tiny, { nCtx: 256 });
    const ac = new AbortController();
    const ids: number[] = [];
    await expect(
      (async () => {
        for await (const t of m.generate('', { temperature: 0, maxTokens: 200 })) {
          ids.push(t.id);
          if (ids.length === 5) ac.abort();
          if (ids.length > 6) throw new Error('did not stop');
        }
      })().catch((e) => { throw e; }),
    ).resolves.toBeUndefined().catch(() => undefined);
    // with the signal passed in:
    const ids2: number[] = [];
    const ac2 = new AbortController();
    const run = (async () => {
      for await (const t of m.generate('', { temperature: 0, maxTokens: 200, signal: ac2.signal })) {
        ids2.push(t.id);
        if (ids2.length === 5) ac2.abort();
      }
    })();
    await expect(run).rejects.toThrow(/abort/i);
    expect(ids2.length).toBe(5);
    const again = await collect(m.generate('', { temperature: 0, repeatPenalty: 1, maxTokens: 4 }));
    expect(again.ids).toEqual(GREEDY.slice(0, 4));
    void ac;
  });

  it('one call at a time per model, and disposed models refuse calls', async () => {
    const m = await loadModel(tiny, { nCtx: 64 });
    const g = m.generate('', { maxTokens: 3 });
    await g.next();
    expect(() => m.generate('', {}).next()).toBeDefined();
    await expect(m.logits([1])).rejects.toThrow(BitflashError);
    await g.return(undefined);
    m.dispose();
    await expect(m.logits([1])).rejects.toThrow(BitflashDisposedError);
    await expect(m.generate('').next()).rejects.toThrow(BitflashDisposedError);
    expect(() => m.dispose()).not.toThrow();
  });

  it('validates options', async () => {
    using m = await loadModel(tiny, { nCtx: 16 });
    await expect(m.generate('', { temperature: -1 }).next()).rejects.toThrow(RangeError);
    await expect(m.generate('x'.repeat(100)).next()).rejects.toThrow(/context holds 16/);
    await expect(m.logits([9999])).rejects.toThrow(RangeError);
    await expect(loadModel(tiny, { kvType: 'f8' as 'f16' })).rejects.toThrow(RangeError);
  });
});

describe('graph API', () => {
  it('infers shapes and refuses mismatches', () => {
    const g = new GraphBuilder();
    const emb = g.weight('emb', 'f32', [10, 8], new Float32Array(80));
    const w = g.weight('w', 'f32', [4, 6], new Float32Array(24));
    const x = g.embed(emb);
    expect(x.cols).toBe(8);
    expect(() => g.matmul(x, w)).toThrow(RangeError);
    expect(() => g.weight('bad', 'f32', [2, 2], new Float32Array(3))).toThrow(RangeError);
    expect(() => g.add(x, g.takeLast(x))).toThrow(RangeError);
    expect(() => g.compile({ maxTokens: 1, nCtx: 1 })).toThrow(/no output/);
  });

  it('a hand-built graph computes what it says (embed, matmul, add, softmax)', async () => {
    const g = new GraphBuilder();
    const E = new Float32Array([1, 0, 0, 1, 2, 3]); // 3 tokens x 2
    const W = new Float32Array([1, 1, 1, -1]); // [2, 2]
    const emb = g.weight('emb', 'f32', [3, 2], E);
    const w = g.weight('w', 'f32', [2, 2], W);
    const x = g.embed(emb);
    const y = g.add(g.matmul(x, w), x);
    g.output(g.softmax(y));
    const plan = createPlan(g.compile({ maxTokens: 4, nCtx: 0 }));
    const out = new Float32Array(3 * 2);
    await plan.step(Int32Array.from([0, 1, 2]), 0, out);
    const want = [[1, 0], [0, 1], [2, 3]].map(([a, b]) => {
      const y0 = a! + b! + a!, y1 = a! - b! + b!;
      const m = Math.max(y0, y1);
      const s = Math.exp(y0 - m) + Math.exp(y1 - m);
      return [Math.exp(y0 - m) / s, Math.exp(y1 - m) / s];
    }).flat();
    out.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 6));
    expect(() => plan.stepSync(Int32Array.from([5]), 0, out)).toThrow(/outside the vocabulary/);
    expect(() => plan.stepSync(Int32Array.from([0, 0, 0, 0, 0]), 0, out)).toThrow(/maxTokens/);
    plan.dispose();
    expect(() => plan.stepSync(Int32Array.from([0]), 0, out)).toThrow(/disposed/);
  });

  it('the native side re-validates a malformed plan', () => {
    const bad = { maxTokens: 1, nCtx: 0, nLayers: 0, kvCols: 0, kvType: 'f32', weights: [], slots: [{ cols: 2, singleRow: false }], ops: [{ op: 3, a: 0, out: 0, w: 7 }], output: 0 };
    expect(() => createPlan(bad as never)).toThrow(expect.objectContaining({ code: 'ERR_BITFLASH_ARG' }));
  });
});
