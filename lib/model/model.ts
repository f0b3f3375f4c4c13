/**
 * Models: load a GGUF file, generate text, score tokens. One compiled plan per model; its KV cache
 * holds one sequence, and a model runs one generation (or logits call) at a time.
 */
import { BitflashArgumentError, BitflashDisposedError, BitflashUnsupportedError, callAsync } from '../errors.js';
import { createPlan, type NativePlan } from '../graph/builder.js';
import { expectInt } from '../validate.js';
import { readGGUF, type GGUFFile } from './gguf.js';
import { buildLlama, type LlamaHParams, type WeightSource } from './llama.js';
import { flashInfo } from './flash-layout.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../binding.js';
import type { FlashStepStats } from '../graph/builder.js';
import { Sampler, type SamplingOptions } from './sampling.js';
import { parseBudget, planResidency, STREAM_READERS, type ResidencyPlan } from '../memory/planner.js';
import { tokenizerFromGGUF, type Tokenizer } from './tokenizer.js';
import type { FlashTuningOptions } from './flash-tuning.js';

export interface LoadOptions extends FlashTuningOptions {
  /** KV cache length (default: the model's context length, at most 4096). */
  nCtx?: number;
  /** Tokens per prompt step (default 64). */
  batch?: number;
  kvType?: 'f32' | 'f16';
  /** Hard RAM budget for everything the model holds (bytes, or a size like '2G'). */
  ramBudget?: number | string;
  /** Target FFN density for flash-layout models (default 1: dense streaming). */
  density?: number;
  /**
   * Where the weights live: 'read' (default) copies them into memory; 'mmap' maps the file (the
   * page cache holds them; the OS pages them in and out); 'layers' is the naive per-layer loader:
   * each layer's weights (and the output head) are read with plain buffered pread when the layer
   * runs, into one buffer that the next layer overwrites.
   */
  weights?: 'read' | 'mmap' | 'layers';
  /** Flash-layout models: per-layer |silu(gate)| thresholds (from a previous calibrate()); skips calibration. */
  thresholds?: number[];
}

export interface GenerateOptions extends SamplingOptions {
  maxTokens?: number;
  /** Stop when the generated text ends with one of these. */
  stop?: string[];
  signal?: AbortSignal;
}

export interface GeneratedToken {
  id: number;
  /** The text this token completes (UTF-8 sequences split over tokens are held back until whole). */
  text: string;
}

export interface GenerationStats {
  promptTokens: number;
  promptMs: number;
  decodeTokens: number;
  decodeMs: number;
  promptTokensPerSecond: number;
  decodeTokensPerSecond: number;
}

export class Model {
  readonly tokenizer: Tokenizer;
  readonly hparams: LlamaHParams;
  readonly nCtx: number;
  readonly batch: number;
  readonly weightBytes: number;
  /** The residency plan when a RAM budget was given. */
  readonly plan: ResidencyPlan | undefined;
  /** Figures of the last generate() call. */
  lastStats: GenerationStats | undefined;
  private exec: NativePlan | undefined;
  private fullExec: NativePlan | undefined;
  private busy = false;
  private readonly logitsBuf: Float32Array;
  private readonly weightCache = new Map<string, Uint8Array>();
  /** Flash-layout models run one plan that returns every row's logits (one neuron cache, not two). */
  private readonly flash: boolean;
  /** Flash, mmap and per-layer models run one plan returning every row's logits (no second copy of the weights). */
  private readonly onePlan: boolean;
  get isFlash(): boolean {
    return this.flash;
  }

  private constructor(readonly file: GGUFFile, private readonly opts: Required<Omit<LoadOptions, 'ramBudget' | 'thresholds' | keyof FlashTuningOptions>> & LoadOptions, plan: ResidencyPlan | undefined) {
    this.plan = plan;
    this.tokenizer = tokenizerFromGGUF(file);
    const fi = flashInfo(file);
    this.flash = fi !== undefined;
    this.onePlan = this.flash || (opts.weights ?? 'read') !== 'read';
    let slotsPerLayer = 0;
    let sharedArena = false;
    if (fi) {
      const layers = Number(file.metadata.get(`${String(file.metadata.get('general.architecture'))}.block_count`));
      slotsPerLayer = plan ? Math.max(1, Math.min(fi.nFf, Math.floor(plan.cacheSlots / layers))) : fi.nFf;
      // A partition per layer that cannot hold one layer's active set would read it in chunks that
      // drain the reader queue: then one arena shared by all layers (same bytes) takes its place.
      sharedArena = opts.flashSharedArena ?? slotsPerLayer < Math.ceil(1.25 * opts.density * fi.nFf);
    }
    let source: WeightSource = { kind: opts.weights === 'mmap' ? 'mmap' : 'read' };
    if (opts.weights === 'layers') {
      const L = Number(file.metadata.get(`${String(file.metadata.get('general.architecture'))}.block_count`));
      source = {
        kind: 'stream', direct: false, prefetch: false, readers: 1, maxRead: 1 << 30,
        groupOf: (name) => {
          const m = /^blk\.(\d+)\./.exec(name);
          return m ? Number(m[1]) : name === 'output.weight' ? L : undefined;
        },
      };
    } else if (plan && plan.streamedDense.length) {
      const groups = new Map(plan.streamedDense.map((d) => [d.name, d.group]));
      source = { kind: 'stream', direct: true, prefetch: opts.streamPrefetch ?? true, readers: STREAM_READERS, maxRead: plan.streamMaxRead, groupOf: (name) => groups.get(name) };
    }
    const built = buildLlama(file, {
      maxTokens: opts.batch, nCtx: opts.nCtx, kvType: opts.kvType, weightCache: this.weightCache, allLogits: this.onePlan, source,
      ...(fi ? { flash: { slotsPerLayer, ...(opts.thresholds ? { thresholds: opts.thresholds } : {}), ...(opts.flashReaders ? { readers: opts.flashReaders } : {}), ...(opts.flashMaxRead ? { maxRead: opts.flashMaxRead } : {}), ...(opts.flashMaxGap !== undefined ? { maxGap: opts.flashMaxGap } : {}), ...(opts.flashSimd !== undefined ? { simd: opts.flashSimd } : {}), sharedArena } } : {}),
    });
    this.hparams = built.hp;
    this.weightBytes = built.weightBytes;
    this.nCtx = opts.nCtx;
    this.batch = opts.batch;
    this.exec = createPlan(built.spec);
    this.logitsBuf = new Float32Array(this.hparams.nVocab * (this.onePlan ? opts.batch : 1));
  }

  static load(path: string, opts: LoadOptions = {}): Model {
    const file = readGGUF(path);
    const ctxMeta = Math.min(4096, (file.metadata.get(`${String(file.metadata.get('general.architecture'))}.context_length`) as number | undefined) ?? 2048);
    const o = {
      ...opts,
      nCtx: expectInt('loadModel', 'nCtx', opts.nCtx ?? ctxMeta, 1, 1 << 20),
      batch: expectInt('loadModel', 'batch', opts.batch ?? 64, 1, 4096),
      kvType: opts.kvType ?? 'f32',
      density: opts.density ?? 1,
      weights: opts.weights ?? 'read',
    };
    if (o.kvType !== 'f32' && o.kvType !== 'f16') throw new RangeError(`loadModel: kvType must be 'f32' or 'f16', received ${String(o.kvType)}`);
    if (!['read', 'mmap', 'layers'].includes(o.weights)) throw new RangeError(`loadModel: weights must be 'read', 'mmap' or 'layers', received ${String(o.weights)}`);
    if (o.thresholds !== undefined && (!Array.isArray(o.thresholds) || o.thresholds.some((t) => !(Number.isFinite(t) && t >= 0)))) throw new RangeError('loadModel: thresholds must be an array of finite numbers >= 0');
    if (o.weights !== 'read' && opts.ramBudget !== undefined) throw new RangeError(`loadModel: weights '${o.weights}' does not take a ramBudget (the OS, or one layer buffer, holds the weights)`);
    const plan = opts.ramBudget !== undefined ? planResidency(file, { ramBudget: parseBudget(opts.ramBudget), nCtx: o.nCtx, batch: o.batch, kvType: o.kvType, density: o.density }) : undefined;
    return new Model(file, o, plan);
  }

  /** Bytes the native side holds for this model (activations and KV cache; weights are JS buffers). */
  get nativeBytes(): number {
    return (this.exec?.bytesHeld ?? 0) + (this.fullExec?.bytesHeld ?? 0);
  }

  private live(fn: string): NativePlan {
    if (!this.exec) throw new BitflashDisposedError(`${fn}: the model is disposed`);
    // One call at a time per model (one KV cache): a second one is refused at once, not queued.
    if (this.busy) throw new BitflashArgumentError(`${fn}: the model is already running a call (one at a time per model)`);
    return this.exec;
  }

  /** Runs tokens through the model from position pos; returns the logits of the last one. */
  private async forward(plan: NativePlan, tokens: number[], pos: number, signal?: AbortSignal): Promise<Float32Array> {
    const V = this.hparams.nVocab;
    let last = 0;
    for (let i = 0; i < tokens.length; i += this.batch) {
      signal?.throwIfAborted();
      const chunk = Int32Array.from(tokens.slice(i, i + this.batch));
      await callAsync(() => plan.step(chunk, pos + i, this.logitsBuf));
      last = this.onePlan ? chunk.length - 1 : 0;
    }
    return this.logitsBuf.subarray(last * V, (last + 1) * V);
  }

  /** I/O and cache figures of a flash-layout model since the last reset (undefined for dense models). */
  flashStats(reset = false): FlashStepStats | undefined {
    if (!this.exec || (!this.flash && this.opts.weights !== 'layers')) return undefined;
    const s = this.exec.flashStats();
    if (reset) this.exec.resetFlashStats();
    return s;
  }

  /**
   * Calibrates the per-layer thresholds of a flash-layout SwiGLU model for a target FFN density:
   * runs the text densely, and sets each layer's threshold on |silu(gate)| at the (1 - density)
   * quantile of what it saw (histogram bins of 1/8 octave). Returns the thresholds.
   */
  async calibrate(text: string, density: number): Promise<number[]> {
    const exec = this.live('calibrate');
    if (!this.flash) throw new RangeError('calibrate: only flash-layout models have neuron thresholds');
    if (this.hparams.ffnActivation === 'relu') throw new BitflashUnsupportedError('calibrate: a ReLU-family model chooses neurons by predictors (bitflash calibrate), not by a density threshold');
    if (!(density > 0 && density <= 1)) throw new RangeError(`calibrate: density must be in (0, 1], received ${density}`);
    const ids = this.tokenizer.encode(text).slice(0, this.nCtx);
    if (ids.length < 2) throw new RangeError('calibrate: the text must encode to at least 2 tokens');
    const L = this.hparams.nLayers;
    exec.setFlashThresholds(new Float32Array(L));
    exec.resetFlashStats();
    const before = exec.flashHistograms().map((h) => Float64Array.from(h));
    this.busy = true;
    try {
      for (let i = 0; i < ids.length; i++) await this.forward(exec, [ids[i]!], i);
    } finally {
      this.busy = false;
    }
    const after = exec.flashHistograms();
    const thresholds = after.map((h, l) => {
      const d = h.map((v, b) => v - before[l]![b]!);
      const total = d.reduce((a, v) => a + v, 0);
      if (density >= 1 || total === 0) return 0;
      let acc = 0;
      for (let b = 0; b < d.length; b++) {
        acc += d[b]!;
        if (acc >= (1 - density) * total) return 2 ** ((b + 1 - 192) / 8);
      }
      return 0;
    });
    exec.setFlashThresholds(Float32Array.from(thresholds));
    exec.resetFlashStats();
    return thresholds;
  }

  /** Streams generated tokens. Stops at an end-of-generation token, a stop string, maxTokens, nCtx or the signal. */
  async *generate(prompt: string, opts: GenerateOptions = {}): AsyncGenerator<GeneratedToken, void, undefined> {
    const plan = this.live('generate');
    const maxTokens = expectInt('generate', 'maxTokens', opts.maxTokens ?? 128, 0, 1 << 24);
    const sampler = Sampler.create(opts);
    const stop = opts.stop ?? [];
    const prompted = this.tokenizer.encode(prompt);
    if (prompted.length === 0) throw new RangeError('generate: the prompt encodes to no tokens and the vocabulary has no BOS');
    if (prompted.length >= this.nCtx) throw new RangeError(`generate: the prompt has ${prompted.length} tokens, the context holds ${this.nCtx}`);
    this.busy = true;
    const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
    const history = [...prompted];
    let text = '';
    try {
      const t0 = performance.now();
      let logits = await this.forward(plan, prompted, 0, opts.signal);
      const t1 = performance.now();
      let produced = 0;
      let tDecode = 0;
      while (produced < maxTokens && history.length < this.nCtx) {
        opts.signal?.throwIfAborted();
        const id = sampler.sample(logits, history);
        if (this.tokenizer.isEog(id)) break;
        history.push(id);
        produced++;
        let piece = decoder.decode(this.tokenizer.tokenBytes(id), { stream: true });
        // SentencePiece marks word starts with a space: the text's very first one is not shown.
        if (text === '' && prompt === '' && this.tokenizer.model === 'llama') piece = piece.replace(/^ /, '');
        text += piece;
        yield { id, text: piece };
        if (stop.some((s) => s && text.endsWith(s))) break;
        if (produced >= maxTokens || history.length >= this.nCtx) break;
        const s = performance.now();
        logits = await this.forward(plan, [id], history.length - 1, opts.signal);
        tDecode += performance.now() - s;
      }
      const decodeSteps = Math.max(0, produced - 1);
      this.lastStats = {
        promptTokens: prompted.length,
        promptMs: t1 - t0,
        decodeTokens: decodeSteps,
        decodeMs: tDecode,
        promptTokensPerSecond: prompted.length / ((t1 - t0) / 1000),
        decodeTokensPerSecond: decodeSteps > 0 ? decodeSteps / (tDecode / 1000) : 0,
      };
    } finally {
      this.busy = false;
    }
  }

  /**
   * One decode step: runs `token` at position `pos` (the KV cache must hold positions 0..pos-1
   * from earlier steps) and returns its logits (a view valid until the next call).
   */
  async decodeStep(token: number, pos: number): Promise<Float32Array> {
    const plan = this.live('decodeStep');
    expectInt('decodeStep', 'token', token, 0, this.hparams.nVocab - 1);
    expectInt('decodeStep', 'pos', pos, 0, this.nCtx - 1);
    this.busy = true;
    try {
      return await this.forward(plan, [token], pos);
    } finally {
      this.busy = false;
    }
  }

  /** Logits after each token (rows of nVocab), from position 0. */
  async logits(tokens: readonly number[]): Promise<Float32Array> {
    this.live('logits');
    if (tokens.length === 0 || tokens.length > this.nCtx) throw new RangeError(`logits: tokens must hold 1 to ${this.nCtx} ids, received ${tokens.length}`);
    for (const t of tokens) expectInt('logits', 'token', t, 0, this.hparams.nVocab - 1);
    this.busy = true;
    try {
      if (this.onePlan) {
        const V = this.hparams.nVocab;
        const out = new Float32Array(tokens.length * V);
        const exec = this.exec!;
        for (let i = 0; i < tokens.length; i += this.batch) {
          const chunk = Int32Array.from(tokens.slice(i, i + this.batch));
          await callAsync(() => exec.step(chunk, i, this.logitsBuf));
          out.set(this.logitsBuf.subarray(0, chunk.length * V), i * V);
        }
        return out;
      }
      if (!this.fullExec) {
        const built = buildLlama(this.file, { maxTokens: this.batch, nCtx: this.nCtx, kvType: this.opts.kvType, allLogits: true, weightCache: this.weightCache });
        this.fullExec = createPlan(built.spec);
      }
      const V = this.hparams.nVocab;
      const out = new Float32Array(tokens.length * V);
      for (let i = 0; i < tokens.length; i += this.batch) {
        const chunk = Int32Array.from(tokens.slice(i, i + this.batch));
        const rows = new Float32Array(out.buffer, i * V * 4, chunk.length * V);
        const plan = this.fullExec;
        await callAsync(() => plan.step(chunk, i, rows));
      }
      return out;
    } finally {
      this.busy = false;
    }
  }

  /** Perplexity of the text (with BOS) under the model: exp of the mean negative log-likelihood. */
  async perplexity(text: string): Promise<number> {
    const ids = this.tokenizer.encode(text);
    if (ids.length < 2) throw new RangeError('perplexity: the text must encode to at least 2 tokens');
    const n = Math.min(ids.length, this.nCtx);
    const logits = await this.logits(ids.slice(0, n));
    const V = this.hparams.nVocab;
    let nll = 0;
    for (let i = 0; i + 1 < n; i++) {
      const row = logits.subarray(i * V, (i + 1) * V);
      let mx = -Infinity;
      for (const v of row) mx = Math.max(mx, v);
      let sum = 0;
      for (const v of row) sum += Math.exp(v - mx);
      nll -= row[ids[i + 1]!]! - mx - Math.log(sum);
    }
    return Math.exp(nll / (n - 1));
  }

  dispose(): void {
    this.exec?.dispose();
    this.fullExec?.dispose();
    this.exec = undefined;
    this.fullExec = undefined;
    this.weightCache.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** The bundled calibration text (public domain), used when a flash model is loaded with density < 1. */
export const CALIBRATION_TEXT_PATH = path.join(packageRoot, 'models', 'calibration.txt');

/**
 * Loads a GGUF model (architectures llama, mistral, qwen2). A flash-layout model loaded with
 * density < 1 is calibrated on the bundled calibration text (or `calibrationText`).
 */
export async function loadModel(file: string, opts: LoadOptions & { calibrationText?: string } = {}): Promise<Model> {
  const m = Model.load(file, opts);
  const density = opts.density ?? 1;
  if (density < 1 && m.isFlash && !opts.thresholds) {
    try {
      await m.calibrate(opts.calibrationText ?? readFileSync(CALIBRATION_TEXT_PATH, 'utf8'), density);
    } catch (e) {
      m.dispose();
      throw e;
    }
  }
  return m;
}
