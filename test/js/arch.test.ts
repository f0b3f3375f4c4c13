import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GGUFValueType } from '../../lib/model/gguf.js';
import { writeGGUF, type WriteMeta, type WriteTensor } from '../../lib/model/gguf-write.js';
import { loadModel } from '../../lib/model/model.js';
import { rng } from './helpers.js';
import { referenceLogits, type RefHParams } from './llama-ref.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'bitflash-arch-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Writes a small random model of the given architecture with our GGUF writer; returns its weights in f64. */
function synth(arch: 'llama' | 'mistral' | 'qwen2', hp: RefHParams, opts: { scaling?: number; tied?: boolean; seed: number }) {
  const r = rng(opts.seed);
  const weights = new Map<string, Float64Array>();
  const tensors: WriteTensor[] = [];
  const add = (name: string, dims: number[], scale: number, offset = 0) => {
    const n = dims.reduce((a, b) => a * b, 1);
    const f = new Float32Array(n).map(() => offset + (r() * 2 - 1) * scale);
    weights.set(name, Float64Array.from(f));
    tensors.push({ name, dims, type: 0, bytes: n * 4, data: () => new Uint8Array(f.buffer) });
  };
  const E = hp.nEmbd, hd = E / hp.nHead, kvd = hp.nHeadKv * hd;
  add('token_embd.weight', [E, hp.nVocab], 1);
  for (let l = 0; l < hp.nLayers; l++) {
    const p = `blk.${l}.`;
    add(`${p}attn_norm.weight`, [E], 0.2, 1);
    add(`${p}attn_q.weight`, [E, E], 0.3);
    add(`${p}attn_k.weight`, [E, kvd], 0.3);
    add(`${p}attn_v.weight`, [E, kvd], 0.3);
    if (arch === 'qwen2') {
      add(`${p}attn_q.bias`, [E], 0.5);
      add(`${p}attn_k.bias`, [kvd], 0.5);
      add(`${p}attn_v.bias`, [kvd], 0.5);
    }
    add(`${p}attn_output.weight`, [E, E], 0.3);
    add(`${p}ffn_norm.weight`, [E], 0.2, 1);
    add(`${p}ffn_gate.weight`, [E, hp.nFf], 0.3);
    add(`${p}ffn_up.weight`, [E, hp.nFf], 0.3);
    add(`${p}ffn_down.weight`, [hp.nFf, E], 0.3);
  }
  add('output_norm.weight', [E], 0.2, 1);
  if (!opts.tied) add('output.weight', [E, hp.nVocab], 0.5);
  const tokens = Array.from({ length: hp.nVocab }, (_, i) => (i < 3 ? ['<unk>', '<s>', '</s>'][i]! : `t${i}`));
  const u32 = (key: string, value: number): WriteMeta => ({ key, type: GGUFValueType.UINT32, value });
  const f32 = (key: string, value: number): WriteMeta => ({ key, type: GGUFValueType.FLOAT32, value });
  const meta: WriteMeta[] = [
    { key: 'general.architecture', type: GGUFValueType.STRING, value: arch },
    u32(`${arch}.embedding_length`, E), u32(`${arch}.block_count`, hp.nLayers), u32(`${arch}.attention.head_count`, hp.nHead),
    u32(`${arch}.attention.head_count_kv`, hp.nHeadKv), u32(`${arch}.feed_forward_length`, hp.nFf), u32(`${arch}.context_length`, 64),
    u32(`${arch}.rope.dimension_count`, hp.nRot), f32(`${arch}.rope.freq_base`, hp.ropeBase), f32(`${arch}.attention.layer_norm_rms_epsilon`, hp.eps),
    { key: 'tokenizer.ggml.model', type: GGUFValueType.STRING, value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: GGUFValueType.ARRAY, elemType: GGUFValueType.STRING, value: tokens },
    { key: 'tokenizer.ggml.scores', type: GGUFValueType.ARRAY, elemType: GGUFValueType.FLOAT32, value: tokens.map(() => 0) },
    { key: 'tokenizer.ggml.token_type', type: GGUFValueType.ARRAY, elemType: GGUFValueType.INT32, value: tokens.map((_, i) => (i === 0 ? 2 : i < 3 ? 3 : 1)) },
    u32('tokenizer.ggml.bos_token_id', 1), u32('tokenizer.ggml.eos_token_id', 2),
  ];
  if (opts.scaling) {
    meta.push({ key: `${arch}.rope.scaling.type`, type: GGUFValueType.STRING, value: 'linear' });
    meta.push(f32(`${arch}.rope.scaling.factor`, opts.scaling));
  }
  const file = path.join(tmp, `${arch}-${opts.seed}.gguf`);
  writeGGUF(file, meta, tensors);
  return { file, weights };
}

const base: RefHParams = { nEmbd: 32, nLayers: 2, nHead: 4, nHeadKv: 2, nFf: 48, nVocab: 40, nRot: 8, ropeBase: 10000, ropeFreqScale: 1, neox: false, eps: 1e-5 };

describe.each([
  ['llama', { ...base }, {}],
  ['llama', { ...base, nRot: 6, ropeFreqScale: 0.25 }, { scaling: 4, tied: true }],
  ['mistral', { ...base, nHeadKv: 1 }, {}],
  ['qwen2', { ...base, neox: true, ropeBase: 1e6 }, {}],
] as const)('%s: the executor matches a float64 reference', (arch, hp, o) => {
  it(`logits for 11 tokens, prompt in chunks of 4 (${JSON.stringify(o)})`, async () => {
    const { file, weights } = synth(arch, hp, { ...o, seed: 5 });
    using m = await loadModel(file, { nCtx: 32, batch: 4 });
    expect(m.hparams.ropeMode).toBe(hp.neox ? 'neox' : 'norm');
    expect(m.hparams.ropeFreqScale).toBeCloseTo(hp.ropeFreqScale, 9);
    const toks = [1, 5, 9, 3, 17, 22, 39, 4, 4, 8, 30];
    const got = await m.logits(toks);
    const want = referenceLogits(hp, weights, toks);
    // f32 arithmetic over ~2 layers of width 32-48 against float64: errors of a few 1e-6 relative
    // to the logits' scale; 1e-4 of the largest magnitude leaves a wide margin, and a wrong rope mode,
    // bias or GQA mapping errs by O(1).
    let maxErr = 0, scale = 0;
    want.forEach((row, t) => row.forEach((v, j) => {
      maxErr = Math.max(maxErr, Math.abs(v - got[t * hp.nVocab + j]!));
      scale = Math.max(scale, Math.abs(v));
    }));
    expect(maxErr).toBeLessThan(1e-4 * scale);
  });
});
