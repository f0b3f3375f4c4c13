/**
 * A Llama-shaped model with random weights, written by our GGUF writer: the subject of the
 * larger-than-RAM speed benchmark (issue 8, item 6). Weight matrices are q4_0 with random nibbles
 * (a seeded xorshift; values -7..7, mean 0) and one scale per tensor chosen so each projection keeps
 * unit-variance activations (scale = 1 / (4.3 sqrt(k)): those values have a standard deviation of ~4.3);
 * norms are ones. The vocabulary is SentencePiece-style with byte fallback (<unk>, <s>, </s>, the
 * 256 byte tokens, then filler pieces), so any text encodes.
 *
 * Random weights have no natural activation sparsity: the active neuron sets of consecutive tokens
 * are nearly independent. The SwiGLU threshold calibration for a target density still works (it
 * sets each layer's |silu(gate)| quantile), so the benchmark reads the fraction of the FFN a real
 * model at that density would read, but the window cache hits only by chance.
 */
import { GGUFValueType } from './gguf.js';
import { writeGGUF, type WriteMeta, type WriteTensor } from './gguf-write.js';

export interface RandomLlamaShape {
  nEmbd: number;
  nLayers: number;
  nFf: number;
  nHead: number;
  nVocab: number;
  contextLength?: number;
}

/** Llama-2-7B: ~3.56 GiB in q4_0. */
export const LLAMA2_7B_SHAPE: RandomLlamaShape = { nEmbd: 4096, nLayers: 32, nFf: 11008, nHead: 32, nVocab: 32000, contextLength: 4096 };

function f16Bits(x: number): number {
  const f = new Float32Array([x]);
  const b = new Uint32Array(f.buffer)[0]!;
  const sign = (b >>> 16) & 0x8000;
  const e = ((b >>> 23) & 0xff) - 127 + 15;
  if (e <= 0 || e >= 31) throw new RangeError(`f16Bits: ${x} is outside the normal f16 range`);
  return sign | (e << 10) | ((b >>> 13) & 0x3ff);
}

/** Random q4_0 rows [n, k]: one f16 scale for every block, random nibbles. */
function randomQ4(n: number, k: number, seed: number): Uint8Array {
  if (k % 32) throw new RangeError(`randomQ4: k ${k} is not a multiple of 32`);
  const blocks = (n * k) / 32;
  const out = new Uint8Array(blocks * 18);
  // xorshift32 words; 4 words give 16 nibble bytes of one block
  let s = (seed * 2654435761) >>> 0 || 1;
  const words = new Uint32Array(4);
  const wb = new Uint8Array(words.buffer);
  // nibble 0 (value -8) becomes 8 (value 0): values in [-7, 7] with mean 0, so no common-mode
  // drift builds up in the residual stream (RMSNorm does not remove a mean).
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = ((v & 15) || 8) | (((v >> 4) || 8) << 4);
  const d = f16Bits(1 / (4.3 * Math.sqrt(k)));
  for (let b = 0, o = 0; b < blocks; b++, o += 18) {
    out[o] = d & 0xff;
    out[o + 1] = d >>> 8;
    for (let j = 0; j < 4; j++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      words[j] = s >>> 0;
    }
    for (let j = 0; j < 16; j++) out[o + 2 + j] = lut[wb[j]!]!;
  }
  return out;
}

/** Writes the random model; returns its size in bytes. */
export function writeRandomLlama(file: string, shape: RandomLlamaShape = LLAMA2_7B_SHAPE, opts: { seed?: number; onTensor?: (i: number, total: number, name: string) => void } = {}): number {
  const { nEmbd: E, nLayers: L, nFf: F, nHead: H, nVocab: V } = shape;
  const seed = opts.seed ?? 1;
  const tensors: WriteTensor[] = [];
  let tid = 0;
  const q4 = (name: string, k: number, n: number) => {
    const id = ++tid;
    tensors.push({ name, dims: [k, n], type: 2, bytes: (n * k / 32) * 18, data: () => randomQ4(n, k, seed * 1000003 + id) });
  };
  const ones = (name: string, k: number) => tensors.push({ name, dims: [k], type: 0, bytes: k * 4, data: () => new Uint8Array(new Float32Array(k).fill(1).buffer) });
  q4('token_embd.weight', E, V);
  for (let l = 0; l < L; l++) {
    const p = `blk.${l}.`;
    ones(`${p}attn_norm.weight`, E);
    q4(`${p}attn_q.weight`, E, E);
    q4(`${p}attn_k.weight`, E, E);
    q4(`${p}attn_v.weight`, E, E);
    q4(`${p}attn_output.weight`, E, E);
    ones(`${p}ffn_norm.weight`, E);
    q4(`${p}ffn_gate.weight`, E, F);
    q4(`${p}ffn_up.weight`, E, F);
    q4(`${p}ffn_down.weight`, F, E);
  }
  ones('output_norm.weight', E);
  q4('output.weight', E, V);
  const tokens: string[] = ['<unk>', '<s>', '</s>'];
  const types: number[] = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  for (const c of letters) { tokens.push(`\u2581${c}`); types.push(1); }
  for (const c of letters) { tokens.push(c); types.push(1); }
  for (let i = tokens.length; i < V; i++) { tokens.push(`\u2581w${i}`); types.push(1); }
  const u32 = (key: string, value: number): WriteMeta => ({ key, type: GGUFValueType.UINT32, value });
  const f32 = (key: string, value: number): WriteMeta => ({ key, type: GGUFValueType.FLOAT32, value });
  const meta: WriteMeta[] = [
    { key: 'general.architecture', type: GGUFValueType.STRING, value: 'llama' },
    { key: 'general.name', type: GGUFValueType.STRING, value: `random llama ${E}x${L} q4_0 (seed ${seed})` },
    u32('llama.embedding_length', E), u32('llama.block_count', L), u32('llama.attention.head_count', H),
    u32('llama.attention.head_count_kv', H), u32('llama.feed_forward_length', F), u32('llama.context_length', shape.contextLength ?? 2048),
    u32('llama.rope.dimension_count', E / H), f32('llama.rope.freq_base', 10000), f32('llama.attention.layer_norm_rms_epsilon', 1e-5),
    u32('general.file_type', 2),
    { key: 'tokenizer.ggml.model', type: GGUFValueType.STRING, value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: GGUFValueType.ARRAY, elemType: GGUFValueType.STRING, value: tokens },
    { key: 'tokenizer.ggml.scores', type: GGUFValueType.ARRAY, elemType: GGUFValueType.FLOAT32, value: tokens.map((_, i) => (types[i] === 1 ? -i : 0)) },
    { key: 'tokenizer.ggml.token_type', type: GGUFValueType.ARRAY, elemType: GGUFValueType.INT32, value: types },
    u32('tokenizer.ggml.bos_token_id', 1), u32('tokenizer.ggml.eos_token_id', 2),
  ];
  writeGGUF(file, meta, tensors, { onTensor: (i, t) => opts.onTensor?.(i, tensors.length, t.name) });
  return tensors.reduce((a, t) => a + t.bytes, 0);
}
