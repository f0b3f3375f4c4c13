/**
 * Models: load a GGUF file, generate text, score tokens. One compiled plan per model; its KV cache
 * holds one sequence, and a model runs one generation (or logits call) at a time.
 */
import { BitflashDisposedError, BitflashError, callAsync } from '../errors.js';
import { createPlan, type NativePlan } from '../graph/builder.js';
import { expectInt } from '../validate.js';
import { readGGUF, type GGUFFile } from './gguf.js';
import { buildLlama, type LlamaHParams } from './llama.js';
import { Sampler, type SamplingOptions } from './sampling.js';
import { parseBudget, planResidency, type ResidencyPlan } from '../memory/planner.js';
import { tokenizerFromGGUF, type Tokenizer } from './tokenizer.js';

export interface LoadOptions {
  /** KV cache length (default: the model's context length, at most 4096). */
  nCtx?: number;
  /** Tokens per prompt step (default 64). */
  batch?: number;
  kvType?: 'f32' | 'f16';
  /** Hard RAM budget for everything the model holds (bytes, or a size like '2G'). */
  ramBudget?: number | string;
  /** Target FFN density for flash-layout models (default 1: dense streaming). */
  density?: number;
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

  private constructor(readonly file: GGUFFile, private readonly opts: Required<Omit<LoadOptions, 'ramBudget'>>, plan: ResidencyPlan | undefined) {
    this.plan = plan;
    this.tokenizer = tokenizerFromGGUF(file);
    const built = buildLlama(file, { maxTokens: opts.batch, nCtx: opts.nCtx, kvType: opts.kvType, weightCache: this.weightCache });
    this.hparams = built.hp;
    this.weightBytes = built.weightBytes;
    this.nCtx = opts.nCtx;
    this.batch = opts.batch;
    this.exec = createPlan(built.spec);
    this.logitsBuf = new Float32Array(this.hparams.nVocab);
  }

  static load(path: string, opts: LoadOptions = {}): Model {
    const file = readGGUF(path);
    const ctxMeta = Math.min(4096, (file.metadata.get(`${String(file.metadata.get('general.architecture'))}.context_length`) as number | undefined) ?? 2048);
    const o: Required<Omit<LoadOptions, 'ramBudget'>> = {
      nCtx: expectInt('loadModel', 'nCtx', opts.nCtx ?? ctxMeta, 1, 1 << 20),
      batch: expectInt('loadModel', 'batch', opts.batch ?? 64, 1, 4096),
      kvType: opts.kvType ?? 'f32',
      density: opts.density ?? 1,
    };
    if (o.kvType !== 'f32' && o.kvType !== 'f16') throw new RangeError(`loadModel: kvType must be 'f32' or 'f16', received ${String(o.kvType)}`);
    const plan = opts.ramBudget !== undefined ? planResidency(file, { ramBudget: parseBudget(opts.ramBudget), nCtx: o.nCtx, batch: o.batch, kvType: o.kvType, density: o.density }) : undefined;
    return new Model(file, o, plan);
  }

  /** Bytes the native side holds for this model (activations and KV cache; weights are JS buffers). */
  get nativeBytes(): number {
    return (this.exec?.bytesHeld ?? 0) + (this.fullExec?.bytesHeld ?? 0);
  }

  private live(fn: string): NativePlan {
    if (!this.exec) throw new BitflashDisposedError(`${fn}: the model is disposed`);
    if (this.busy) throw new BitflashError('ERR_BITFLASH_ARG', `${fn}: the model is already running a call (one at a time per model)`);
    return this.exec;
  }

  /** Runs tokens through the model from position pos; returns the logits of the last one. */
  private async forward(plan: NativePlan, tokens: number[], pos: number, signal?: AbortSignal): Promise<Float32Array> {
    for (let i = 0; i < tokens.length; i += this.batch) {
      signal?.throwIfAborted();
      const chunk = Int32Array.from(tokens.slice(i, i + this.batch));
      await callAsync(() => plan.step(chunk, pos + i, this.logitsBuf));
    }
    return this.logitsBuf;
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
    const decoder = new TextDecoder('utf-8', { fatal: false });
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

  /** Logits after each token (rows of nVocab), from position 0. */
  async logits(tokens: readonly number[]): Promise<Float32Array> {
    this.live('logits');
    if (tokens.length === 0 || tokens.length > this.nCtx) throw new RangeError(`logits: tokens must hold 1 to ${this.nCtx} ids, received ${tokens.length}`);
    for (const t of tokens) expectInt('logits', 'token', t, 0, this.hparams.nVocab - 1);
    this.busy = true;
    try {
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

/** Loads a GGUF model (architectures llama, mistral, qwen2; weights f32, f16, q8_0 for now). */
export async function loadModel(path: string, opts: LoadOptions = {}): Promise<Model> {
  return Model.load(path, opts);
}
