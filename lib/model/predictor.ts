/**
 * Sparsity predictors for ReLU-family flash-layout models (LLM in a flash, Deja Vu): per layer a
 * rank-r linear map that predicts the FFN gate pre-activation g = G x, so the runtime reads only
 * the bundles of neurons predicted active (g > 0) and the gate need not be resident.
 *
 * Fit (reduced-rank least squares, float64, no Python): the runtime records each layer's FFN input
 * X (T x d) on a calibration text; with Y = X G^T (T x n) the rank-r least-squares predictor of Y
 * from X is Y V_r V_r^T, where V_r are the top r right singular vectors of Y (found by randomized
 * subspace iteration on Y^T Y, then Rayleigh-Ritz with a Jacobi eigensolver). So A = V_r^T G (r x d),
 * B = V_r (n x r), score = B (A x). Each layer's threshold is set on the fit split for a target
 * recall of truly active neurons; recall, precision and density are measured on held-out tokens.
 */
import { BitflashUnsupportedError } from '../errors.js';
import { createPlan, type FlashStepStats } from '../graph/builder.js';
import { f32Of, flashInfo } from './flash-layout.js';
import { GGUFValueType, readGGUF, readTensorData, type GGUFFile } from './gguf.js';
import { type WriteMeta, type WriteTensor, writeGGUF } from './gguf-write.js';
import { buildLlama, llamaHParams } from './llama.js';
import { tokenizerFromGGUF } from './tokenizer.js';

const GGML_F32 = 0;

/** Copies a GGUF, changing metadata and tensors (atomic write; tensors streamed from the source). */
function copyGGUF(f: GGUFFile, out: string, o: { setMeta?: WriteMeta[]; dropMeta?: (k: string) => boolean; dropTensor?: (n: string) => boolean; add?: WriteTensor[] }): void {
  const set = new Set((o.setMeta ?? []).map((m) => m.key));
  const meta: WriteMeta[] = [];
  for (const [key, value] of f.metadata) {
    if (key === 'general.alignment' || set.has(key) || o.dropMeta?.(key)) continue;
    const ty = f.metadataTypes.get(key)!;
    meta.push({ key, type: ty.type, ...(ty.elemType !== undefined ? { elemType: ty.elemType } : {}), value });
  }
  meta.push({ key: 'general.alignment', type: GGUFValueType.UINT32, value: f.alignment }, ...(o.setMeta ?? []));
  const tensors: WriteTensor[] = f.tensors
    .filter((t) => !o.dropTensor?.(t.name))
    .map((t) => ({ name: t.name, dims: t.dims, type: t.type, bytes: t.bytes, data: () => readTensorData(f, t) }));
  tensors.push(...(o.add ?? []));
  writeGGUF(out, meta, tensors, { alignment: f.alignment });
}

/**
 * Writes a copy of a Llama-family GGUF whose FFN runs with the ReLU activation, down(relu(gate x) *
 * up x), marked by `bitflash.ffn_activation = "relu"`. For a model trained with ReLU (ReluLLaMA and
 * kin) this is its true activation; applied to a SwiGLU-trained model it gives a different model
 * (used here only to exercise the predictor path).
 */
export function markReluModel(input: string, output: string): void {
  const f = readGGUF(input);
  llamaHParams(f);
  copyGGUF(f, output, { setMeta: [{ key: 'bitflash.ffn_activation', type: GGUFValueType.STRING, value: 'relu' }] });
}

// ---------------------------------------------------------------- linear algebra (float64)

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

/** Orthonormalizes the r columns of Q (n x r, row-major) in place: modified Gram-Schmidt, twice. */
function orthonormalize(Q: Float64Array, n: number, r: number, next: () => number): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < r; j++) {
      for (let i = 0; i < j; i++) {
        let d = 0;
        for (let k = 0; k < n; k++) d += Q[k * r + i]! * Q[k * r + j]!;
        for (let k = 0; k < n; k++) Q[k * r + j]! -= d * Q[k * r + i]!;
      }
      let nn = 0;
      for (let k = 0; k < n; k++) nn += Q[k * r + j]! ** 2;
      if (nn < 1e-24) {
        // a column in the span of the others: replace it by a random one and redo it
        for (let k = 0; k < n; k++) Q[k * r + j] = next();
        j--;
        continue;
      }
      const inv = 1 / Math.sqrt(nn);
      for (let k = 0; k < n; k++) Q[k * r + j]! *= inv;
    }
  }
}

/** Eigen-decomposition of a symmetric r x r matrix (cyclic Jacobi): values descending, vectors as columns. */
export function symmetricEigen(S: Float64Array, r: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(S);
  const v = new Float64Array(r * r);
  for (let i = 0; i < r; i++) v[i * r + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0, diag = 0;
    for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) (i === j ? (diag += a[i * r + j]! ** 2) : (off += a[i * r + j]! ** 2));
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < r; p++) {
      for (let q = p + 1; q < r; q++) {
        const apq = a[p * r + q]!;
        if (apq === 0) continue;
        const theta = (a[q * r + q]! - a[p * r + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < r; k++) {
          const akp = a[k * r + p]!, akq = a[k * r + q]!;
          a[k * r + p] = c * akp - s * akq;
          a[k * r + q] = s * akp + c * akq;
        }
        for (let k = 0; k < r; k++) {
          const apk = a[p * r + k]!, aqk = a[q * r + k]!;
          a[p * r + k] = c * apk - s * aqk;
          a[q * r + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < r; k++) {
          const vkp = v[k * r + p]!, vkq = v[k * r + q]!;
          v[k * r + p] = c * vkp - s * vkq;
          v[k * r + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: r }, (_, i) => i).sort((i, j) => a[j * r + j]! - a[i * r + i]!);
  const values = Float64Array.from(order, (i) => a[i * r + i]!);
  const vectors = new Float64Array(r * r);
  order.forEach((src, dst) => {
    for (let k = 0; k < r; k++) vectors[k * r + dst] = v[k * r + src]!;
  });
  return { values, vectors };
}

export interface LowRankFit {
  rank: number;
  /** [rank, d] row-major: A = V_r^T G. */
  a: Float32Array;
  /** [n, rank] row-major: B = V_r. */
  b: Float32Array;
  /** Share of ||Y||_F^2 that the rank-r subspace captures on the fit data. */
  captured: number;
}

/**
 * Reduced-rank least squares: the rank-r map x -> B A x closest (Frobenius, over the rows of X) to
 * x -> G x. X: [T, d] row-major, G: [n, d] row-major.
 */
export function fitLowRank(X: Float64Array, T: number, G: Float32Array, n: number, d: number, rank: number, opts: { iters?: number; seed?: number; y?: Float64Array } = {}): LowRankFit {
  if (!Number.isInteger(rank) || rank < 1 || rank > Math.min(n, d)) throw new RangeError(`fitLowRank: rank must be an integer in 1..${Math.min(n, d)}, received ${rank}`);
  // subspace iteration on r + 8 columns (oversampling: convergence goes with lambda_{k+1} / lambda_r)
  const r = rank, k = Math.min(n, rank + 8), iters = opts.iters ?? 12;
  const next = rng(opts.seed ?? 0x9e3779b9);
  // Y = X G^T  [T, n] (or the caller's copy of it)
  if (opts.y && opts.y.length !== T * n) throw new RangeError(`fitLowRank: y must hold ${T * n} values`);
  const Y = opts.y ?? gateValues(X, T, G, n, d);
  let total = 0;
  for (const y of Y) total += y * y;
  const Q = Float64Array.from({ length: n * k }, next);
  orthonormalize(Q, n, k, next);
  const Z = new Float64Array(T * k);
  const YQ = () => {
    Z.fill(0);
    for (let t = 0; t < T; t++) for (let i = 0; i < n; i++) {
      const y = Y[t * n + i]!;
      if (y === 0) continue;
      for (let j = 0; j < k; j++) Z[t * k + j]! += y * Q[i * k + j]!;
    }
  };
  for (let it = 0; it < iters; it++) {
    YQ();
    Q.fill(0); // Q = Y^T Z
    for (let t = 0; t < T; t++) for (let i = 0; i < n; i++) {
      const y = Y[t * n + i]!;
      if (y === 0) continue;
      for (let j = 0; j < k; j++) Q[i * k + j]! += y * Z[t * k + j]!;
    }
    orthonormalize(Q, n, k, next);
  }
  // Rayleigh-Ritz: eigenvectors of (YQ)^T (YQ) rotate Q onto the singular vectors; keep the top r
  YQ();
  const S = new Float64Array(k * k);
  for (let t = 0; t < T; t++) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) S[i * k + j]! += Z[t * k + i]! * Z[t * k + j]!;
  const { values, vectors } = symmetricEigen(S, k);
  const V = new Float64Array(n * r);
  for (let i = 0; i < n; i++) for (let j = 0; j < r; j++) {
    let s = 0;
    for (let m = 0; m < k; m++) s += Q[i * k + m]! * vectors[m * k + j]!;
    V[i * r + j] = s;
  }
  const a = new Float32Array(r * d);
  for (let j = 0; j < r; j++) for (let c = 0; c < d; c++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += V[i * r + j]! * G[i * d + c]!;
    a[j * d + c] = s;
  }
  const captured = total > 0 ? values.subarray(0, r).reduce((x, v) => x + Math.max(0, v), 0) / total : 1;
  return { rank: r, a, b: Float32Array.from(V), captured };
}

/** The exact gate pre-activations X G^T: [T, n]. */
export function gateValues(X: Float64Array, T: number, G: Float32Array, n: number, d: number): Float64Array {
  const Y = new Float64Array(T * n);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += X[t * d + k]! * G[i * d + k]!;
      Y[t * n + i] = s;
    }
  }
  return Y;
}

/** Scores B (A x) for each row of X ([T, d]): [T, n]. */
export function predictScores(fit: LowRankFit, X: Float64Array, T: number, n: number, d: number): Float64Array {
  const r = fit.rank;
  const out = new Float64Array(T * n);
  const z = new Float64Array(r);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < r; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += fit.a[j * d + k]! * X[t * d + k]!;
      z[j] = s;
    }
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < r; j++) s += fit.b[i * r + j]! * z[j]!;
      out[t * n + i] = s;
    }
  }
  return out;
}

/**
 * The threshold on scores that keeps at least `recall` of the truly active (gate > 0) pairs, or with
 * `byMass`, at least `recall` of their summed gate value (misses of small activations cost less).
 */
export function thresholdForRecall(scores: Float64Array, gate: Float64Array, recall: number, byMass = false): number {
  if (!(recall > 0 && recall <= 1)) throw new RangeError(`recall must be in (0, 1], received ${recall}`);
  const act: { s: number; w: number }[] = [];
  let total = 0;
  for (let i = 0; i < gate.length; i++) {
    if (gate[i]! > 0) {
      const w = byMass ? gate[i]! : 1;
      act.push({ s: scores[i]!, w });
      total += w;
    }
  }
  if (act.length === 0) return 0;
  act.sort((x, y) => x.s - y.s);
  // select iff score > threshold: the lowest-scored active pairs whose weight stays within the
  // allowed miss fall at or below it
  const allowed = (1 - recall) * total * (1 + 1e-12);
  let missed = 0, k = 0;
  while (k < act.length && missed + act[k]!.w <= allowed) missed += act[k++]!.w;
  if (k > 0) return act[k - 1]!.s;
  const lo = act[0]!.s;
  return lo - 1e-4 * Math.max(1, Math.abs(lo)); // margin for float32 rounding in the runtime
}

export interface SelectionMetrics {
  /** Truly active pairs that were selected, over truly active pairs. */
  recall: number;
  /** Truly active among selected. */
  precision: number;
  /** Selected pairs over all (token, neuron) pairs: the share of bundles a token reads. */
  density: number;
  /** Truly active pairs over all: the density an oracle would read. */
  activeDensity: number;
}

export function selectionMetrics(scores: Float64Array, gate: Float64Array, threshold: number): SelectionMetrics {
  let tp = 0, sel = 0, act = 0;
  for (let i = 0; i < gate.length; i++) {
    const a = gate[i]! > 0, s = scores[i]! > threshold;
    act += +a;
    sel += +s;
    tp += +(a && s);
  }
  const N = gate.length || 1;
  return { recall: act ? tp / act : 1, precision: sel ? tp / sel : 1, density: sel / N, activeDensity: act / N };
}

// ---------------------------------------------------------------- calibration through the runtime

/**
 * Runs the model (flash layout, ReLU neurons chosen by the resident gate: exact) over the tokens and
 * returns each layer's FFN input rows, [T, n_embd] per layer, as float64.
 */
export async function recordFfnInputs(f: GGUFFile, ids: number[], batch = 64): Promise<Float64Array[]> {
  const hp = llamaHParams(f);
  const fi = flashInfo(f)!;
  const cache = new Map<string, Uint8Array>();
  const out: Float64Array[] = [];
  for (let l = 0; l < hp.nLayers; l++) {
    const built = buildLlama(f, { maxTokens: batch, nCtx: ids.length, allLogits: true, weightCache: cache, recordFfnInput: l, flash: { slotsPerLayer: fi.nFf, predictor: false } });
    const plan = createPlan(built.spec);
    try {
      const X = new Float64Array(ids.length * hp.nEmbd);
      const buf = new Float32Array(batch * hp.nEmbd);
      for (let i = 0; i < ids.length; i += batch) {
        const chunk = Int32Array.from(ids.slice(i, i + batch));
        await plan.step(chunk, i, buf);
        X.set(buf.subarray(0, chunk.length * hp.nEmbd), i * hp.nEmbd);
      }
      out.push(X);
    } finally {
      plan.dispose();
    }
  }
  return out;
}

export interface LayerPredictorReport {
  layer: number;
  rank: number;
  threshold: number;
  captured: number;
  /** On the tokens the predictor and threshold were fitted on. */
  fit: SelectionMetrics;
  /** On held-out tokens (the text's last share). */
  heldOut: SelectionMetrics;
}

export interface CalibrateReport {
  tokens: number;
  fitTokens: number;
  rank: number;
  recallTarget: number;
  layers: LayerPredictorReport[];
  /** Bytes of all predictor tensors (resident) against the gate projections they replace. */
  predictorBytes: number;
  gateBytes: number;
}

export interface CalibrateOptions {
  /** Rank of each layer's predictor (default min(64, max(1, n_embd / 4))). */
  rank?: number;
  /** Target recall of truly active neurons on the fit tokens (default 0.99). */
  recall?: number;
  /** Share of the text's tokens held out for the reported figures (default 0.25). */
  holdOut?: number;
  /** Scale each neuron's score by its rms prediction error on the fit tokens (default false). */
  normalize?: boolean;
  /** What the recall target counts: active (token, neuron) pairs (default), or their summed gate value. */
  recallOf?: 'pairs' | 'mass';
  log?: (s: string) => void;
}

/**
 * `bitflash calibrate`: records FFN inputs on `text`, fits a rank-r predictor and a threshold per
 * layer, and writes a copy of the flash-layout model with them (blk.N.ffn_pred_a / ffn_pred_b, f32,
 * and bitflash.predictor.* metadata).
 */
export async function calibratePredictors(input: string, output: string, text: string, opts: CalibrateOptions = {}): Promise<CalibrateReport> {
  const f = readGGUF(input);
  const hp = llamaHParams(f);
  const fi = flashInfo(f);
  if (hp.ffnActivation !== 'relu') {
    throw new BitflashUnsupportedError(
      `calibrate: ${input} is a SwiGLU model; predictors are for ReLU-family models (bitflash.ffn_activation = "relu"). SwiGLU flash models choose neurons by a gate threshold: loadModel(path, { density }) or bitflash run --density`,
    );
  }
  if (!fi) throw new BitflashUnsupportedError(`calibrate: ${input} is not in the flash layout; write it first with bitflash convert --flash`);
  const E = hp.nEmbd, F = hp.nFf;
  const rank = opts.rank ?? Math.min(64, Math.max(1, Math.floor(E / 4)));
  if (!Number.isInteger(rank) || rank < 1 || rank > Math.min(E, F)) throw new RangeError(`calibrate: rank must be an integer in 1..${Math.min(E, F)}, received ${rank}`);
  const recall = opts.recall ?? 0.99;
  if (!(recall > 0 && recall <= 1)) throw new RangeError(`calibrate: recall must be in (0, 1], received ${recall}`);
  const holdOut = opts.holdOut ?? 0.25;
  if (!(holdOut > 0 && holdOut < 1)) throw new RangeError(`calibrate: holdOut must be in (0, 1), received ${holdOut}`);
  const ids = tokenizerFromGGUF(f).encode(text).slice(0, Math.min(hp.contextLength, 4096));
  const T = ids.length, Tf = Math.round(T * (1 - holdOut));
  if (Tf < 4 || T - Tf < 1) throw new RangeError(`calibrate: the text encodes to ${T} tokens; it needs enough for a fit and a held-out share`);
  opts.log?.(`recording FFN inputs of ${hp.nLayers} layers on ${T} tokens (${Tf} fit, ${T - Tf} held out)`);
  const Xs = await recordFfnInputs(f, ids);
  const byName = new Map(f.tensors.map((t) => [t.name, t]));
  const layers: LayerPredictorReport[] = [];
  const add: WriteTensor[] = [];
  let gateBytes = 0;
  for (let l = 0; l < hp.nLayers; l++) {
    const gt = byName.get(`blk.${l}.ffn_gate.weight`)!;
    gateBytes += gt.bytes;
    const G = f32Of(f, gt);
    const X = Xs[l]!;
    const Xf = X.subarray(0, Tf * E), Xh = X.subarray(Tf * E);
    const gf = gateValues(Xf, Tf, G, F, E), gh = gateValues(Xh, T - Tf, G, F, E);
    const fit = fitLowRank(Xf, Tf, G, F, E, rank, { seed: 1234 + l, y: gf });
    if (opts.normalize === true) {
      // per-neuron scale: score_i / sigma_i, sigma_i the rms of neuron i's prediction error on the fit
      // tokens, so one threshold asks every neuron for the same margin in units of its own error
      const s0 = predictScores(fit, Xf, Tf, F, E);
      for (let i = 0; i < F; i++) {
        let e2 = 0;
        for (let t = 0; t < Tf; t++) e2 += (s0[t * F + i]! - gf[t * F + i]!) ** 2;
        const sigma = Math.sqrt(e2 / Tf);
        const scale = sigma > 1e-6 ? 1 / sigma : 1e6;
        for (let j = 0; j < rank; j++) fit.b[i * rank + j]! *= scale;
      }
    }
    const sf = predictScores(fit, Xf, Tf, F, E), sh = predictScores(fit, Xh, T - Tf, F, E);
    const threshold = thresholdForRecall(sf, gf, recall, opts.recallOf === 'mass');
    const rep: LayerPredictorReport = { layer: l, rank, threshold, captured: fit.captured, fit: selectionMetrics(sf, gf, threshold), heldOut: selectionMetrics(sh, gh, threshold) };
    layers.push(rep);
    opts.log?.(`layer ${l}: captured ${(fit.captured * 100).toFixed(1)}%, threshold ${threshold.toFixed(4)}, held-out recall ${(rep.heldOut.recall * 100).toFixed(1)}%, density ${(rep.heldOut.density * 100).toFixed(1)}% (active ${(rep.heldOut.activeDensity * 100).toFixed(1)}%)`);
    const a = fit.a, b = fit.b;
    add.push(
      { name: `blk.${l}.ffn_pred_a`, dims: [E, rank], type: GGML_F32, bytes: a.byteLength, data: () => new Uint8Array(a.buffer, a.byteOffset, a.byteLength) },
      { name: `blk.${l}.ffn_pred_b`, dims: [rank, F], type: GGML_F32, bytes: b.byteLength, data: () => new Uint8Array(b.buffer, b.byteOffset, b.byteLength) },
    );
  }
  const setMeta: WriteMeta[] = [
    { key: 'bitflash.predictor.version', type: GGUFValueType.UINT32, value: 1 },
    { key: 'bitflash.predictor.rank', type: GGUFValueType.UINT32, value: rank },
    { key: 'bitflash.predictor.recall_target', type: GGUFValueType.FLOAT32, value: recall },
    { key: 'bitflash.predictor.calibration_tokens', type: GGUFValueType.UINT32, value: Tf },
    { key: 'bitflash.predictor.thresholds', type: GGUFValueType.ARRAY, elemType: GGUFValueType.FLOAT32, value: layers.map((r) => r.threshold) },
  ];
  copyGGUF(f, output, { setMeta, dropMeta: (k) => k.startsWith('bitflash.predictor.'), dropTensor: (n) => /^blk\.\d+\.ffn_pred_[ab]$/.test(n), add });
  const predictorBytes = add.reduce((x, t) => x + t.bytes, 0);
  return { tokens: T, fitTokens: Tf, rank, recallTarget: recall, layers, predictorBytes, gateBytes };
}

export interface PredictorQuality {
  tokens: number;
  /** Share of positions where the predicted run's top token equals the exact run's. */
  top1Agreement: number;
  /** Mean KL(exact || predicted) of the next-token distributions, in nats. */
  meanKl: number;
  /** Bundles read per token per layer over n_ff: predicted run, and the exact (resident gate) run. */
  density: number;
  exactDensity: number;
}

/**
 * Compares the predicted run of a calibrated ReLU flash model with its exact run (resident gate:
 * every active neuron and only those), position by position on `ids`.
 */
export async function predictorQuality(path: string, ids: number[]): Promise<PredictorQuality> {
  const f = readGGUF(path);
  const hp = llamaHParams(f);
  const fi = flashInfo(f);
  if (!fi || hp.ffnActivation !== 'relu') throw new BitflashUnsupportedError(`predictorQuality: ${path} is not a ReLU flash-layout model`);
  const V = hp.nVocab;
  const run = async (predictor: boolean): Promise<{ logits: Float32Array; stats: FlashStepStats }> => {
    // one token per step, as decoding reads them
    const built = buildLlama(f, { maxTokens: 1, nCtx: ids.length, allLogits: true, flash: { slotsPerLayer: fi.nFf, predictor } });
    const plan = createPlan(built.spec);
    try {
      const logits = new Float32Array(ids.length * V);
      for (let i = 0; i < ids.length; i++) await plan.step(Int32Array.of(ids[i]!), i, logits.subarray(i * V, (i + 1) * V));
      return { logits, stats: plan.flashStats() };
    } finally {
      plan.dispose();
    }
  };
  const exact = await run(false), pred = await run(true);
  let agree = 0, kl = 0;
  for (let i = 0; i < ids.length; i++) {
    const p = exact.logits.subarray(i * V, (i + 1) * V), q = pred.logits.subarray(i * V, (i + 1) * V);
    const lse = (x: Float32Array) => {
      let m = -Infinity;
      for (const v of x) m = Math.max(m, v);
      let s = 0;
      for (const v of x) s += Math.exp(v - m);
      return m + Math.log(s);
    };
    const lp = lse(p), lq = lse(q);
    let ap = 0, aq = 0;
    for (let j = 0; j < V; j++) {
      if (p[j]! > p[ap]!) ap = j;
      if (q[j]! > q[aq]!) aq = j;
      const pj = Math.exp(p[j]! - lp);
      kl += pj * (p[j]! - lp - (q[j]! - lq));
    }
    agree += +(ap === aq);
  }
  return {
    tokens: ids.length,
    top1Agreement: agree / ids.length,
    meanKl: kl / ids.length,
    density: pred.stats.neuronsActive / pred.stats.neuronsTotal,
    exactDensity: exact.stats.neuronsActive / exact.stats.neuronsTotal,
  };
}

/**
 * Writes a copy of a calibrated model with other per-layer thresholds (e.g. -Infinity-like values
 * to read every neuron, or a hand-tuned trade-off) without refitting.
 */
export function setPredictorThresholds(input: string, output: string, thresholds: number[]): void {
  const f = readGGUF(input);
  const hp = llamaHParams(f);
  if (f.metadata.get('bitflash.predictor.version') === undefined) throw new BitflashUnsupportedError(`setPredictorThresholds: ${input} has no predictors (run bitflash calibrate)`);
  if (thresholds.length !== hp.nLayers || thresholds.some((t) => !Number.isFinite(t))) throw new RangeError(`setPredictorThresholds: expected ${hp.nLayers} finite thresholds`);
  copyGGUF(f, output, { setMeta: [{ key: 'bitflash.predictor.thresholds', type: GGUFValueType.ARRAY, elemType: GGUFValueType.FLOAT32, value: thresholds }] });
}
