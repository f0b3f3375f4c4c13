/**
 * Test helper: a random llama-shaped model written by our GGUF writer, sized by its hyperparameters
 * (tens of MB when asked), for tests that need a model bigger than the shipped 1 MB one.
 */
import { GGUFValueType } from '../../lib/model/gguf.js';
import { writeGGUF, type WriteMeta, type WriteTensor } from '../../lib/model/gguf-write.js';
import { quantizeBlocksSync } from '../../lib/ops/quantize-blocks.js';
import { rng } from './helpers.js';

export interface SynthShape {
  nEmbd: number;
  nFf: number;
  nLayers: number;
  nVocab: number;
  nHead?: number;
  ctx?: number;
  /** Storage of the 2-D weights (default q8_0; 1-D norms stay f32). */
  type?: 'f32' | 'q8_0';
  seed?: number;
}

/** Writes the model to `file` (atomically, through writeGGUF); returns its total tensor bytes. */
export function writeSynthModel(file: string, s: SynthShape): number {
  const r = rng(s.seed ?? 1);
  const type = s.type ?? 'q8_0';
  const E = s.nEmbd, nHead = s.nHead ?? 4;
  const tensors: WriteTensor[] = [];
  let total = 0;
  const add = (name: string, dims: number[], scale: number, offset = 0) => {
    const n = dims.reduce((a, b) => a * b, 1);
    const q = dims.length === 2 && type === 'q8_0';
    const bytes = q ? (n / 32) * 34 : n * 4;
    total += bytes;
    // generated when written: one tensor in memory at a time
    tensors.push({
      name, dims, type: q ? 8 : 0, bytes,
      data: () => {
        const f = new Float32Array(n);
        for (let i = 0; i < n; i++) f[i] = offset + (r() * 2 - 1) * scale;
        return q ? quantizeBlocksSync(f, 'q8_0') : new Uint8Array(f.buffer);
      },
    });
  };
  const w = 1 / Math.sqrt(E);
  add('token_embd.weight', [E, s.nVocab], 1);
  for (let l = 0; l < s.nLayers; l++) {
    const p = `blk.${l}.`;
    add(`${p}attn_norm.weight`, [E], 0.1, 1);
    add(`${p}attn_q.weight`, [E, E], w);
    add(`${p}attn_k.weight`, [E, E], w);
    add(`${p}attn_v.weight`, [E, E], w);
    add(`${p}attn_output.weight`, [E, E], w);
    add(`${p}ffn_norm.weight`, [E], 0.1, 1);
    add(`${p}ffn_gate.weight`, [E, s.nFf], w);
    add(`${p}ffn_up.weight`, [E, s.nFf], w);
    add(`${p}ffn_down.weight`, [s.nFf, E], 1 / Math.sqrt(s.nFf));
  }
  add('output_norm.weight', [E], 0.1, 1);
  add('output.weight', [E, s.nVocab], w);
  const tokens = Array.from({ length: s.nVocab }, (_, i) => (i < 3 ? ['<unk>', '<s>', '</s>'][i]! : i < 3 + 26 ? `▁${String.fromCharCode(97 + i - 3)}` : `t${i}`));
  const u32 = (key: string, value: number): WriteMeta => ({ key, type: GGUFValueType.UINT32, value });
  const meta: WriteMeta[] = [
    { key: 'general.architecture', type: GGUFValueType.STRING, value: 'llama' },
    { key: 'general.name', type: GGUFValueType.STRING, value: 'bitflash synthetic test model (random weights)' },
    u32('llama.embedding_length', E), u32('llama.block_count', s.nLayers), u32('llama.attention.head_count', nHead),
    u32('llama.attention.head_count_kv', nHead), u32('llama.feed_forward_length', s.nFf), u32('llama.context_length', s.ctx ?? 128),
    u32('llama.rope.dimension_count', E / nHead), { key: 'llama.attention.layer_norm_rms_epsilon', type: GGUFValueType.FLOAT32, value: 1e-5 },
    { key: 'tokenizer.ggml.model', type: GGUFValueType.STRING, value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: GGUFValueType.ARRAY, elemType: GGUFValueType.STRING, value: tokens },
    { key: 'tokenizer.ggml.scores', type: GGUFValueType.ARRAY, elemType: GGUFValueType.FLOAT32, value: tokens.map(() => 0) },
    { key: 'tokenizer.ggml.token_type', type: GGUFValueType.ARRAY, elemType: GGUFValueType.INT32, value: tokens.map((_, i) => (i === 0 ? 2 : i < 3 ? 3 : 1)) },
    u32('tokenizer.ggml.bos_token_id', 1), u32('tokenizer.ggml.eos_token_id', 2),
  ];
  writeGGUF(file, meta, tensors);
  return total;
}
