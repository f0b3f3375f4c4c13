/**
 * Llama-family graphs from GGUF metadata (architectures llama, mistral, qwen2): GQA, rope base and
 * linear scaling, tied or separate output head, qwen2's attention biases.
 */
import { BitflashFormatError, BitflashUnsupportedError } from '../errors.js';
import { GraphBuilder, mmapRanges, type FlashPlanSpec, type GraphWeight, type PlanSpec, type StreamPlanSpec, type WeightDType } from '../graph/builder.js';
import { DTYPES } from '../dtypes.js';
import { flashInfo } from './flash-layout.js';
import { FLASH_MAX_READ, FLASH_READERS } from '../memory/planner.js';
import { type GGUFFile, type GGUFTensorInfo, metaNumber, metaString, readTensorData } from './gguf.js';

export interface LlamaHParams {
  arch: 'llama' | 'mistral' | 'qwen2';
  nEmbd: number;
  nLayers: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  nFf: number;
  nVocab: number;
  nRot: number;
  ropeBase: number;
  ropeFreqScale: number;
  ropeMode: 'norm' | 'neox';
  rmsEps: number;
  contextLength: number;
}

const ARCHS = ['llama', 'mistral', 'qwen2'] as const;

export function llamaHParams(f: GGUFFile): LlamaHParams {
  const arch = metaString(f, 'general.architecture');
  if (!arch || !(ARCHS as readonly string[]).includes(arch)) {
    throw new BitflashUnsupportedError(`${f.path}: architecture ${JSON.stringify(arch)} is not supported (${ARCHS.join(', ')})`);
  }
  const req = (k: string) => {
    const v = metaNumber(f, `${arch}.${k}`);
    if (v === undefined || !Number.isInteger(v) || v <= 0) throw new BitflashFormatError(`${f.path}: ${arch}.${k} is missing or not a positive integer`);
    return v;
  };
  const nEmbd = req('embedding_length');
  const nHead = req('attention.head_count');
  const nHeadKv = metaNumber(f, `${arch}.attention.head_count_kv`) ?? nHead;
  if (nEmbd % nHead || nHead % nHeadKv) throw new BitflashFormatError(`${f.path}: head counts ${nHead}/${nHeadKv} do not divide the embedding ${nEmbd}`);
  const headDim = nEmbd / nHead;
  const scalingType = metaString(f, `${arch}.rope.scaling.type`);
  const factor = metaNumber(f, `${arch}.rope.scaling.factor`);
  let ropeFreqScale = 1;
  if (scalingType === 'linear' && factor) ropeFreqScale = 1 / factor;
  else if (scalingType && scalingType !== 'none') throw new BitflashUnsupportedError(`${f.path}: rope scaling ${scalingType} is not supported (linear)`);
  const tok = f.metadata.get('tokenizer.ggml.tokens');
  const emb = f.tensors.find((t) => t.name === 'token_embd.weight');
  const nVocab = emb?.dims[1] ?? (Array.isArray(tok) ? tok.length : 0);
  return {
    arch: arch as LlamaHParams['arch'],
    nEmbd,
    nLayers: req('block_count'),
    nHead,
    nHeadKv,
    headDim,
    nFf: req('feed_forward_length'),
    nVocab,
    nRot: metaNumber(f, `${arch}.rope.dimension_count`) ?? headDim,
    ropeBase: metaNumber(f, `${arch}.rope.freq_base`) ?? 10000,
    ropeFreqScale,
    ropeMode: arch === 'qwen2' ? 'neox' : 'norm',
    rmsEps: metaNumber(f, `${arch}.attention.layer_norm_rms_epsilon`) ?? 1e-5,
    contextLength: metaNumber(f, `${arch}.context_length`) ?? 2048,
  };
}

const EXEC_TYPES: Record<string, WeightDType> = { f32: 'f32', f16: 'f16', q8_0: 'q8_0', q4_0: 'q4_0', q4_K: 'q4_K' };

export interface BuiltModel {
  hp: LlamaHParams;
  spec: PlanSpec;
  weightBytes: number;
}

/** Reads the weights (pread) and builds the per-step plan: logits of the last token (or of all with allLogits). */
export interface FlashRuntimeOptions {
  slotsPerLayer: number;
  thresholds?: number[];
  window?: number;
  readers?: number;
  maxRead?: number;
  maxGap?: number;
  simd?: boolean;
  sharedArena?: boolean;
  direct?: boolean;
}

/**
 * Where the weights come from: 'read' copies them into memory (pread); 'mmap' maps the file (the
 * page cache holds them); 'stream' leaves the weights groupOf names in the file, read per step
 * (group >= 0: with the rest of the group before its first op; -2: an embedding read by rows).
 */
export type WeightSource =
  | { kind: 'read' }
  | { kind: 'mmap' }
  | ({ kind: 'stream'; groupOf: (name: string) => number | undefined } & Omit<StreamPlanSpec, 'path'>);

export function buildLlama(
  f: GGUFFile,
  opts: { maxTokens: number; nCtx: number; kvType?: 'f32' | 'f16'; allLogits?: boolean; weightCache?: Map<string, Uint8Array>; flash?: FlashRuntimeOptions; source?: WeightSource },
): BuiltModel {
  const source = opts.source ?? { kind: 'read' };
  let mapped: Map<string, Uint8Array> | undefined;
  if (source.kind === 'mmap') {
    const ts = f.tensors.filter((t) => !t.name.endsWith('.ffn_bundles'));
    const views = mmapRanges(f.path, ts.map((t) => t.fileOffset), ts.map((t) => t.bytes));
    mapped = new Map(ts.map((t, i) => [t.name, views[i]!]));
  }
  const hp = llamaHParams(f);
  const g = new GraphBuilder();
  const byName = new Map(f.tensors.map((t) => [t.name, t]));
  let weightBytes = 0;
  const loaded = new Map<string, GraphWeight>();
  const weight = (name: string, optional = false): GraphWeight | undefined => {
    const hit = loaded.get(name);
    if (hit) return hit;
    const t: GGUFTensorInfo | undefined = byName.get(name);
    if (!t) {
      if (optional) return undefined;
      throw new BitflashFormatError(`${f.path}: tensor ${name} is missing`);
    }
    const dtype = EXEC_TYPES[t.typeName];
    if (!dtype) throw new BitflashUnsupportedError(`${f.path}: tensor ${name} has type ${t.typeName}, which the model runtime does not run yet (f32, f16, q8_0, q4_0, q4_K)`);
    if (t.dims.length > 2) throw new BitflashFormatError(`${f.path}: tensor ${name} has ${t.dims.length} dimensions`);
    const n = t.dims.length === 2 ? t.dims[1]! : 1;
    const k = t.dims[0]!;
    const group = source.kind === 'stream' && dtype !== 'f32' ? source.groupOf(name) : undefined;
    if (group !== undefined) {
      const w = g.weight(name, dtype, [n, k], { stream: { offset: t.fileOffset, group } });
      loaded.set(name, w);
      return w;
    }
    // A second plan over the same file (e.g. all-rows logits) shares the weight buffers.
    let data = opts.weightCache?.get(name) ?? mapped?.get(name);
    if (!data) {
      data = readTensorData(f, t);
      opts.weightCache?.set(name, data);
    }
    weightBytes += data.byteLength;
    // f32 weights are read as bytes; the executor reads them in place (aligned copy)
    const w = g.weight(name, dtype, [n, k], dtype === 'f32' ? new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4) : data);
    loaded.set(name, w);
    return w;
  };
  const fi = flashInfo(f);
  let flash: FlashPlanSpec | undefined;
  if (fi) {
    const offsets = Array.from({ length: hp.nLayers }, (_, l) => {
      const t = byName.get(`blk.${l}.ffn_bundles`);
      if (!t) throw new BitflashFormatError(`${f.path}: flash layout without blk.${l}.ffn_bundles`);
      if (t.dims[0] !== fi.bundleBytes || t.dims[1] !== fi.nFf) throw new BitflashFormatError(`${f.path}: blk.${l}.ffn_bundles has dims ${t.dims.join('x')}`);
      return t.fileOffset;
    });
    const fo = opts.flash ?? { slotsPerLayer: fi.nFf };
    flash = {
      path: f.path, bundleBytes: fi.bundleBytes, readBytes: fi.upDownBytes, rowBytes: fi.rowBytes, rowType: DTYPES[fi.rowType].id,
      nFf: fi.nFf, nEmbd: fi.nEmbd, layerOffsets: offsets, thresholds: fo.thresholds ?? new Array<number>(hp.nLayers).fill(0),
      slotsPerLayer: fo.slotsPerLayer, window: fo.window ?? 5, readers: fo.readers ?? FLASH_READERS, maxRead: fo.maxRead ?? FLASH_MAX_READ, maxGap: Math.min(fo.maxGap ?? 16384, fo.maxRead ?? FLASH_MAX_READ), simd: fo.simd ?? true, sharedArena: fo.sharedArena ?? false, direct: fo.direct ?? true, record: true,
    };
  }
  const tokEmb = weight('token_embd.weight')!;
  let x = g.embed(tokEmb);
  for (let i = 0; i < hp.nLayers; i++) {
    const p = `blk.${i}.`;
    const h = g.rmsnorm(x, weight(`${p}attn_norm.weight`)!, hp.rmsEps);
    let q = g.matmul(h, weight(`${p}attn_q.weight`)!);
    let k = g.matmul(h, weight(`${p}attn_k.weight`)!);
    let v = g.matmul(h, weight(`${p}attn_v.weight`)!);
    const qb = weight(`${p}attn_q.bias`, true), kb = weight(`${p}attn_k.bias`, true), vb = weight(`${p}attn_v.bias`, true);
    if (qb) q = g.bias(q, qb);
    if (kb) k = g.bias(k, kb);
    if (vb) v = g.bias(v, vb);
    const rope = { headDim: hp.headDim, nRot: hp.nRot, base: hp.ropeBase, freqScale: hp.ropeFreqScale, mode: hp.ropeMode };
    q = g.rope(q, { heads: hp.nHead, ...rope });
    k = g.rope(k, { heads: hp.nHeadKv, ...rope });
    const a = g.attention(q, k, v, { heads: hp.nHead, kvHeads: hp.nHeadKv, headDim: hp.headDim, layer: i });
    x = g.add(x, g.matmul(a, weight(`${p}attn_output.weight`)!));
    const h2 = g.rmsnorm(x, weight(`${p}ffn_norm.weight`)!, hp.rmsEps);
    if (flash) {
      x = g.add(x, g.ffnFlash(h2, weight(`${p}ffn_gate.weight`)!, i));
    } else {
      const ff = g.swiglu(g.matmul(h2, weight(`${p}ffn_gate.weight`)!), g.matmul(h2, weight(`${p}ffn_up.weight`)!));
      x = g.add(x, g.matmul(ff, weight(`${p}ffn_down.weight`)!));
    }
  }
  if (!opts.allLogits) x = g.takeLast(x);
  x = g.rmsnorm(x, weight('output_norm.weight')!, hp.rmsEps);
  const head = weight('output.weight', true) ?? tokEmb;
  g.output(g.matmul(x, head));
  const stream: StreamPlanSpec | undefined = source.kind === 'stream' ? { path: f.path, direct: source.direct, prefetch: source.prefetch, readers: source.readers, maxRead: source.maxRead } : undefined;
  return { hp, spec: g.compile({ maxTokens: opts.maxTokens, nCtx: opts.nCtx, kvType: opts.kvType ?? 'f32', ...(flash ? { flash } : {}), ...(stream ? { stream } : {}) }), weightBytes };
}
