/**
 * The graph API: tensors (activation nodes of shape [tokens, cols] or [1, cols]) and ops with
 * shape inference, compiled once into a plan (a flat op list over reused activation slots) that
 * the C++ executor runs in one native call per step.
 */
import { native } from '../binding.js';
import { DTYPES } from '../dtypes.js';
import { rangeError } from '../validate.js';

export const OP = { embed: 1, rmsnorm: 2, matmul: 3, rope: 4, attention: 5, swiglu: 6, add: 7, takeLast: 8, softmax: 9, bias: 10, ffnFlash: 11 } as const;

export type WeightDType = 'f32' | 'f16' | 'q8_0' | 'q4_0' | 'q4_K';

export interface GraphWeight {
  readonly index: number;
  readonly name: string;
  readonly dtype: WeightDType;
  /** [n, k]: n rows of k (a 1-D weight is [1, k]). */
  readonly shape: readonly [number, number];
}

export interface GraphNode {
  readonly id: number;
  readonly cols: number;
  /** One row (after takeLast) rather than one per token. */
  readonly singleRow: boolean;
}

interface OpRec {
  op: number;
  inputs: number[];
  out: number;
  w?: number;
  params: Record<string, number>;
}

export interface RopeParams {
  heads: number;
  headDim: number;
  nRot?: number;
  base?: number;
  freqScale?: number;
  mode?: 'norm' | 'neox';
}

export interface AttentionParams {
  heads: number;
  kvHeads: number;
  headDim: number;
  layer: number;
  scale?: number;
}

/** Flash-offloaded FFN (see cpp/include/bitflash/graph.h FlashSpec). */
export interface FlashPlanSpec {
  path: string;
  bundleBytes: number;
  readBytes: number;
  rowBytes: number;
  /** DTYPES id of the bundle rows. */
  rowType: number;
  nFf: number;
  nEmbd: number;
  layerOffsets: number[];
  thresholds: number[];
  slotsPerLayer: number;
  window?: number;
  readers?: number;
  maxRead?: number;
  /** Neighbouring bundles closer than this many bytes are read as one (gap included); <= maxRead. */
  maxGap?: number;
  /** One neuron arena shared by all layers (slotsPerLayer * layers slots, LRU across layers). */
  sharedArena?: boolean;
  /** SIMD per-neuron kernels (default true); false decodes rows to f32 (for comparison). */
  simd?: boolean;
  direct?: boolean;
  record?: boolean;
}

export interface PlanSpec {
  maxTokens: number;
  nCtx: number;
  nLayers: number;
  kvCols: number;
  kvType: 'f32' | 'f16';
  weights: ({ dtype: number; n: number; k: number; data: ArrayBufferView } | { dtype: number; n: number; k: number; group: number; offset: number; bytes: number })[];
  slots: { cols: number; singleRow: boolean }[];
  ops: Record<string, number>[];
  output: number;
  flash?: FlashPlanSpec;
  stream?: StreamPlanSpec;
}

/**
 * Weights read from a file during the step (cpp/include/bitflash/graph.h StreamSpec): a weight
 * with group g >= 0 is read with the rest of its group when its first op runs; group -2 is an
 * embedding table read one row at a time.
 */
export interface StreamPlanSpec {
  path: string;
  direct: boolean;
  /** Two buffers: the next group is read while this one computes. */
  prefetch: boolean;
  readers: number;
  maxRead: number;
}

/** A weight that stays in the file: its byte offset there and its stream group. */
export interface StreamedWeight {
  stream: { offset: number; group: number };
}

export class GraphBuilder {
  private readonly nodes: GraphNode[] = [];
  private readonly ops: OpRec[] = [];
  private readonly weights: { w: GraphWeight; data: ArrayBufferView | StreamedWeight; bytes: number }[] = [];
  private tokensNode: GraphNode | undefined;
  private outputNode: GraphNode | undefined;
  private kv: { layers: Set<number>; cols: number } = { layers: new Set(), cols: 0 };

  private node(cols: number, singleRow: boolean): GraphNode {
    const n = { id: this.nodes.length, cols, singleRow };
    this.nodes.push(n);
    return n;
  }

  /** A weight matrix [n, k] (bytes in the dtype's row layout). */
  weight(name: string, dtype: WeightDType, shape: [number, number], data: ArrayBufferView | StreamedWeight): GraphWeight {
    const [n, k] = shape;
    if (!Number.isInteger(n) || !Number.isInteger(k) || n < 1 || k < 1) throw rangeError('weight', 'shape', 'two positive integers', shape);
    const d = DTYPES[dtype];
    if (k % d.blockElems !== 0) throw rangeError('weight', `${name} row length`, `a multiple of ${d.blockElems} for ${dtype}`, k);
    const bytes = (n * k / d.blockElems) * d.blockBytes;
    if ('stream' in data) {
      const { offset, group } = data.stream;
      if (!Number.isSafeInteger(offset) || offset < 0) throw rangeError('weight', `${name} stream offset`, 'a non-negative integer', offset);
      if (!Number.isInteger(group) || group < -2 || group === -1) throw rangeError('weight', `${name} stream group`, 'an integer >= 0, or -2 (rows)', group);
    } else if (data.byteLength !== bytes) throw rangeError('weight', `${name} data`, `${bytes} bytes for ${dtype} [${n}, ${k}]`, data);
    const w: GraphWeight = { index: this.weights.length, name, dtype, shape: [n, k] };
    this.weights.push({ w, data, bytes });
    return w;
  }

  /** The token ids of the step: embedding lookup starts here. */
  embed(w: GraphWeight): GraphNode {
    this.tokensNode ??= this.node(1, false);
    const out = this.node(w.shape[1], false);
    this.ops.push({ op: OP.embed, inputs: [], out: out.id, w: w.index, params: {} });
    return out;
  }

  rmsnorm(x: GraphNode, w: GraphWeight, eps: number): GraphNode {
    if (w.shape[0] * w.shape[1] !== x.cols) throw rangeError('rmsnorm', 'weight', `${x.cols} values`, w.shape);
    if (!(eps > 0)) throw rangeError('rmsnorm', 'eps', 'a positive number', eps);
    return this.unary(OP.rmsnorm, x, x.cols, { eps }, w.index);
  }

  matmul(x: GraphNode, w: GraphWeight): GraphNode {
    if (w.shape[1] !== x.cols) throw rangeError('matmul', `${w.name} shape`, `[n, ${x.cols}]`, w.shape);
    return this.unary(OP.matmul, x, w.shape[0], {}, w.index);
  }

  bias(x: GraphNode, w: GraphWeight): GraphNode {
    if (w.shape[0] * w.shape[1] !== x.cols) throw rangeError('bias', `${w.name} shape`, `${x.cols} values`, w.shape);
    return this.unary(OP.bias, x, x.cols, {}, w.index);
  }

  rope(x: GraphNode, p: RopeParams): GraphNode {
    const nRot = p.nRot ?? p.headDim;
    if (p.heads * p.headDim !== x.cols) throw rangeError('rope', 'heads * headDim', `${x.cols}`, p.heads * p.headDim);
    if (nRot < 2 || nRot > p.headDim || nRot % 2) throw rangeError('rope', 'nRot', `an even number from 2 to ${p.headDim}`, nRot);
    return this.unary(OP.rope, x, x.cols, {
      heads: p.heads, headDim: p.headDim, nRot, ropeBase: p.base ?? 10000, ropeFreqScale: p.freqScale ?? 1, ropeMode: p.mode === 'neox' ? 2 : 0,
    });
  }

  attention(q: GraphNode, k: GraphNode, v: GraphNode, p: AttentionParams): GraphNode {
    if (q.cols !== p.heads * p.headDim) throw rangeError('attention', 'q', `${p.heads * p.headDim} columns`, q.cols);
    if (k.cols !== p.kvHeads * p.headDim || v.cols !== k.cols) throw rangeError('attention', 'k and v', `${p.kvHeads * p.headDim} columns`, [k.cols, v.cols]);
    if (p.heads % p.kvHeads) throw rangeError('attention', 'heads', `a multiple of kvHeads ${p.kvHeads}`, p.heads);
    if (this.kv.cols && this.kv.cols !== k.cols) throw rangeError('attention', 'k', `the same width in every layer (${this.kv.cols})`, k.cols);
    if (this.kv.layers.has(p.layer)) throw rangeError('attention', 'layer', 'a KV cache layer not used before', p.layer);
    this.kv.cols = k.cols;
    this.kv.layers.add(p.layer);
    const out = this.node(q.cols, false);
    this.ops.push({ op: OP.attention, inputs: [q.id, k.id, v.id], out: out.id, params: { heads: p.heads, kvHeads: p.kvHeads, headDim: p.headDim, layer: p.layer, attnScale: p.scale ?? 0 } });
    return out;
  }

  swiglu(gate: GraphNode, up: GraphNode): GraphNode {
    return this.binary(OP.swiglu, 'swiglu', gate, up);
  }

  add(a: GraphNode, b: GraphNode): GraphNode {
    return this.binary(OP.add, 'add', a, b);
  }

  /** SwiGLU FFN of a flash-layout layer: resident gate, up and down streamed per active neuron. */
  ffnFlash(x: GraphNode, gate: GraphWeight, layer: number): GraphNode {
    if (gate.shape[1] !== x.cols) throw rangeError('ffnFlash', 'gate', `[n_ff, ${x.cols}]`, gate.shape);
    const out = this.node(x.cols, x.singleRow);
    this.ops.push({ op: OP.ffnFlash, inputs: [x.id], out: out.id, w: gate.index, params: { layer } });
    return out;
  }

  takeLast(x: GraphNode): GraphNode {
    const out = this.node(x.cols, true);
    this.ops.push({ op: OP.takeLast, inputs: [x.id], out: out.id, params: {} });
    return out;
  }

  softmax(x: GraphNode): GraphNode {
    return this.unary(OP.softmax, x, x.cols, {});
  }

  output(x: GraphNode): void {
    this.outputNode = x;
  }

  private unary(op: number, x: GraphNode, cols: number, params: Record<string, number>, w?: number): GraphNode {
    const out = this.node(cols, x.singleRow);
    this.ops.push({ op, inputs: [x.id], out: out.id, params, ...(w !== undefined ? { w } : {}) });
    return out;
  }

  private binary(op: number, name: string, a: GraphNode, b: GraphNode): GraphNode {
    if (a.cols !== b.cols || a.singleRow !== b.singleRow) throw rangeError(name, 'b', `a node of shape like a (${a.cols} columns)`, b.cols);
    const out = this.node(a.cols, a.singleRow);
    this.ops.push({ op, inputs: [a.id, b.id], out: out.id, params: {} });
    return out;
  }

  /**
   * Compiles the graph: nodes get activation slots, reused once their last reader has run
   * (greedy, by shape), and the op list is serialized for the executor.
   */
  compile(opts: { maxTokens: number; nCtx: number; kvType?: 'f32' | 'f16'; flash?: FlashPlanSpec; stream?: StreamPlanSpec }): PlanSpec {
    if (!opts.stream && this.weights.some(({ data }) => 'stream' in data)) throw new RangeError('compile: streamed weights need a stream spec');
    if (!this.outputNode) throw new RangeError('compile: no output node (call output(node))');
    const lastUse = new Map<number, number>();
    this.ops.forEach((o, i) => o.inputs.forEach((id) => lastUse.set(id, i)));
    lastUse.set(this.outputNode.id, this.ops.length);
    const slotOf = new Map<number, number>();
    const slots: { cols: number; singleRow: boolean }[] = [];
    const free: number[] = [];
    const ops: Record<string, number>[] = [];
    this.ops.forEach((o, i) => {
      const inSlots = o.inputs.map((id) => {
        const s = slotOf.get(id);
        if (s === undefined) throw new RangeError(`compile: node ${id} is used before it is computed`);
        return s;
      });
      // Inputs whose last use is this op can be freed after it (an op may not write its own input, except rope and elementwise, which are safe in place).
      const out = this.nodes[o.out]!;
      const inPlaceOk = o.op === OP.rope || o.op === OP.add || o.op === OP.swiglu || o.op === OP.bias;
      let slot = -1;
      if (inPlaceOk) {
        const j = o.inputs.findIndex((id) => lastUse.get(id) === i && this.nodes[id]!.cols === out.cols && this.nodes[id]!.singleRow === out.singleRow);
        if (j >= 0) slot = inSlots[j]!;
      }
      if (slot < 0) {
        const f = free.findIndex((s) => slots[s]!.cols === out.cols && slots[s]!.singleRow === out.singleRow);
        if (f >= 0) slot = free.splice(f, 1)[0]!;
        else {
          slot = slots.length;
          slots.push({ cols: out.cols, singleRow: out.singleRow });
        }
      }
      slotOf.set(o.out, slot);
      const rec: Record<string, number> = { op: o.op, out: slot, ...o.params };
      if (inSlots[0] !== undefined) rec.a = inSlots[0];
      if (inSlots[1] !== undefined) rec.b = inSlots[1];
      if (inSlots[2] !== undefined) rec.c = inSlots[2];
      if (o.w !== undefined) rec.w = o.w;
      ops.push(rec);
      o.inputs.forEach((id, j) => {
        if (lastUse.get(id) === i && inSlots[j] !== slot && !free.includes(inSlots[j]!)) free.push(inSlots[j]!);
      });
      if (!lastUse.has(o.out) && slot !== undefined) free.push(slot); // computed but never read
    });
    const layers = [...this.kv.layers];
    return {
      maxTokens: opts.maxTokens,
      nCtx: opts.nCtx,
      nLayers: layers.length ? Math.max(...layers) + 1 : 0,
      kvCols: this.kv.cols,
      kvType: opts.kvType ?? 'f32',
      weights: this.weights.map(({ w, data, bytes }) =>
        'stream' in data
          ? { dtype: DTYPES[w.dtype].id, n: w.shape[0], k: w.shape[1], group: data.stream.group, offset: data.stream.offset, bytes }
          : { dtype: DTYPES[w.dtype].id, n: w.shape[0], k: w.shape[1], data }),
      slots,
      ops,
      output: slotOf.get(this.outputNode.id)!,
      ...(opts.flash ? { flash: opts.flash } : {}),
      ...(opts.stream ? { stream: opts.stream } : {}),
    };
  }
}

/** The native plan object (see cpp/napi/graph.cc). */
export interface FlashStepStats {
  bytesRead: number;
  readsIssued: number;
  requests: number;
  cacheHits: number;
  cacheMisses: number;
  evictions: number;
  ioMs: number;
  computeMs: number;
  neuronsActive: number;
  neuronsTotal: number;
  cacheResidentBytes: number;
  cacheArenaBytes: number;
  /** Steps run and their wall time (computeMs = stepMs - ioMs). */
  steps: number;
  stepMs: number;
  /** Neuron bundles: bytes read, and the reader pool's busy time summed over threads / wall time with a read in flight. */
  bundleBytesRead: number;
  bundleReads: number;
  bundleReadBusyMs: number;
  bundleIoWallMs: number;
  /** Streamed weights (attention / gate groups not resident, embedding rows): bytes, group loads, loads found prefetched, wait. */
  streamBytesRead: number;
  streamLoads: number;
  streamPrefetched: number;
  streamWaitMs: number;
  streamBufferBytes: number;
}

/** Maps a file's byte ranges into memory (page cache backed); one Uint8Array per range. */
export function mmapRanges(path: string, offsets: number[], lengths: number[]): Uint8Array[] {
  return (native as unknown as { mmapRanges(p: string, o: number[], l: number[]): Uint8Array[] }).mmapRanges(path, offsets, lengths);
}

export interface NativePlan {
  flashStats(): FlashStepStats;
  resetFlashStats(): void;
  flashHistograms(): Float64Array[];
  setFlashThresholds(t: Float32Array): void;
  step(tokens: Int32Array, pos: number, out: Float32Array): Promise<void>;
  stepSync(tokens: Int32Array, pos: number, out: Float32Array): void;
  dispose(): void;
  readonly bytesHeld: number;
  readonly disposed: boolean;
}

export function createPlan(spec: PlanSpec): NativePlan {
  const Ctor = (native as unknown as { Plan: new (s: PlanSpec) => NativePlan }).Plan;
  return new Ctor(spec);
}
