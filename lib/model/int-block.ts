/**
 * An integer-only llama-style transformer block built from the public API, and its float64 twin.
 *
 *   h = RMSNorm(x)            rmsNormInt (isqrt), int8 -> int8
 *   q, k, v = h Wq, h Wk, h Wv  int8 x int8 (per-channel i8c weights) -> int8 (linearIntSync: the int32
 *                             accumulators requantized per channel in the matmul epilogue)
 *   RoPE(q, k)                int8 x Q14 cos / sin -> int32 -> requantize -> int8
 *   scores = q k^T / sqrt(d)  int8 dot products (int32) -> requantize -> int8, causal
 *   p = softmax(scores)       softmaxInt (I-BERT or Shiftmax) -> u8 (scale 1/256)
 *   o = p v                   u8 x int8 -> int32 -> requantize -> int8; then o Wo (int8 linear)
 *   x1 = x + o                addRescale
 *   f = down(silu(gate(h2)) * up(h2)), h2 = RMSNorm(x1)   siluInt, int8 products -> requantize
 *   y = x1 + f                addRescale
 * Every step after the input quantization is integer arithmetic (the dot products here in TS are exact
 * int32 sums; the linear layers run in the native int8 kernels; the dyadic multipliers come from the
 * scales at prepare time). Activation scales are static, calibrated as absmax / 127 of each
 * intermediate on the float64 twin with the same input (post-training static calibration).
 * The float twin is the same block in float64 (RMSNorm with the model's epsilon, exact softmax / SiLU).
 */
import path from 'node:path';
import { packageRoot } from '../binding.js';
import {
  addRescaleSync,
  dyadicFromScale,
  prepareAddRescale,
  prepareRmsNormInt,
  prepareSiluInt,
  prepareSoftmaxInt,
  requantizeSync,
  rmsNormIntSync,
  siluIntSync,
  softmaxIntSync,
  type ExpMethod,
} from '../ops/dyadic.js';
import { linearIntSync } from '../ops/linear-int.js';
import { QTensor } from '../tensor.js';
import { readGGUF, readTensorData } from './gguf.js';

export interface BlockWeights {
  dim: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  ropeBase: number;
  eps: number;
  /** [n, k] row-major f32: y = x w^T */
  wq: Float32Array;
  wk: Float32Array;
  wv: Float32Array;
  wo: Float32Array;
  wGate: Float32Array;
  wUp: Float32Array;
  wDown: Float32Array;
  attnNorm: Float32Array;
  ffnNorm: Float32Array;
}

type F64 = Float64Array;

function linearF(x: F64, t: number, k: number, w: Float32Array, n: number): F64 {
  const y = new Float64Array(t * n);
  for (let i = 0; i < t; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += x[i * k + p]! * w[j * k + p]!;
      y[i * n + j] = s;
    }
  return y;
}
function rmsF(x: F64, t: number, d: number, g: Float32Array, eps: number): F64 {
  const y = new Float64Array(t * d);
  for (let i = 0; i < t; i++) {
    let v = 0;
    for (let j = 0; j < d; j++) v += x[i * d + j]! ** 2;
    const r = 1 / Math.sqrt(v / d + eps);
    for (let j = 0; j < d; j++) y[i * d + j] = x[i * d + j]! * r * g[j]!;
  }
  return y;
}
function ropeTables(t: number, hd: number, base: number): { cos: F64; sin: F64 } {
  const cos = new Float64Array(t * (hd / 2));
  const sin = new Float64Array(t * (hd / 2));
  for (let p = 0; p < t; p++)
    for (let i = 0; i < hd / 2; i++) {
      const a = p * base ** ((-2 * i) / hd);
      cos[p * (hd / 2) + i] = Math.cos(a);
      sin[p * (hd / 2) + i] = Math.sin(a);
    }
  return { cos, sin };
}
function ropeF(x: F64, t: number, nh: number, hd: number, tab: { cos: F64; sin: F64 }): F64 {
  const y = new Float64Array(x.length);
  for (let p = 0; p < t; p++)
    for (let h = 0; h < nh; h++)
      for (let i = 0; i < hd / 2; i++) {
        const o = p * nh * hd + h * hd + 2 * i;
        const c = tab.cos[p * (hd / 2) + i]!;
        const s = tab.sin[p * (hd / 2) + i]!;
        y[o] = x[o]! * c - x[o + 1]! * s;
        y[o + 1] = x[o]! * s + x[o + 1]! * c;
      }
  return y;
}
const absmax = (a: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
};

/** The float64 block; returns the output and every intermediate (for calibration and stage errors). */
export function floatBlock(w: BlockWeights, x: F64, t: number): Record<string, F64> {
  const { dim: d, heads: nh, kvHeads: nkv, hidden: f } = w;
  const hd = d / nh;
  const h = rmsF(x, t, d, w.attnNorm, w.eps);
  const tab = ropeTables(t, hd, w.ropeBase);
  const q0 = linearF(h, t, d, w.wq, d);
  const k0 = linearF(h, t, d, w.wk, nkv * hd);
  const v = linearF(h, t, d, w.wv, nkv * hd);
  const q = ropeF(q0, t, nh, hd, tab);
  const k = ropeF(k0, t, nkv, hd, tab);
  const scores = new Float64Array(nh * t * t);
  const att = new Float64Array(t * d);
  for (let hh = 0; hh < nh; hh++) {
    const kh = Math.floor(hh / (nh / nkv));
    for (let i = 0; i < t; i++) {
      let mx = -Infinity;
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let c = 0; c < hd; c++) s += q[i * d + hh * hd + c]! * k[j * nkv * hd + kh * hd + c]!;
        s /= Math.sqrt(hd);
        scores[(hh * t + i) * t + j] = s;
        mx = Math.max(mx, s);
      }
      let z = 0;
      for (let j = 0; j <= i; j++) z += Math.exp(scores[(hh * t + i) * t + j]! - mx);
      for (let c = 0; c < hd; c++) {
        let s = 0;
        for (let j = 0; j <= i; j++) s += (Math.exp(scores[(hh * t + i) * t + j]! - mx) / z) * v[j * nkv * hd + kh * hd + c]!;
        att[i * d + hh * hd + c] = s;
      }
    }
  }
  const o = linearF(att, t, d, w.wo, d);
  const x1 = x.map((xv, i) => xv + o[i]!);
  const h2 = rmsF(x1, t, d, w.ffnNorm, w.eps);
  const gate = linearF(h2, t, d, w.wGate, f);
  const up = linearF(h2, t, d, w.wUp, f);
  const sg = gate.map((g) => g / (1 + Math.exp(-g)));
  const m = sg.map((s, i) => s * up[i]!);
  const down = linearF(m, t, f, w.wDown, d);
  const y = x1.map((xv, i) => xv + down[i]!);
  return { x, h, q0, k0, v, q, k, scores, att, o, x1, h2, gate, up, sg, m, down, y };
}

interface QLinear {
  w: QTensor<'i8c'>;
  scales: Float32Array;
  n: number;
  k: number;
}
function quantizeWeights(w: Float32Array, n: number, k: number): QLinear {
  const q = new Int8Array(n * k);
  const scales = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    let m = 0;
    for (let p = 0; p < k; p++) m = Math.max(m, Math.abs(w[j * k + p]!));
    const s = m > 0 ? m / 127 : 1;
    scales[j] = s;
    for (let p = 0; p < k; p++) q[j * k + p] = Math.max(-127, Math.min(127, Math.round(w[j * k + p]! / scales[j]!)));
  }
  return { w: QTensor.fromPerChannel({ q, scales, n, k }), scales, n, k };
}

/**
 * int8 [t, k] x W^T -> int8 [t, n] with output scale sOut: the fused integer linear layer (int32
 * accumulators requantized per channel by sIn * sw / sOut in the matmul epilogue).
 */
function linearI(x: Int8Array, t: number, sIn: number, l: QLinear, sOut: number): Int8Array {
  if (x.length !== t * l.k) throw new RangeError(`linearI: x holds ${x.length} values, expected ${t * l.k}`);
  return linearIntSync(l.w, x, { xScale: sIn, outScale: sOut });
}

const Q14 = 1 << 14;

export interface IntBlockOptions {
  softmax?: ExpMethod;
}

/** The integer block; x is int8 with scale scales.x; returns int8 y (scale scales.y) and stage outputs. */
export function intBlock(w: BlockWeights, xq: Int8Array, t: number, sc: Record<string, number>, opts: IntBlockOptions = {}): Record<string, { q: ArrayLike<number>; s: number }> {
  const { dim: d, heads: nh, kvHeads: nkv, hidden: f } = w;
  const hd = d / nh;
  const L = {
    q: quantizeWeights(w.wq, d, d),
    k: quantizeWeights(w.wk, nkv * hd, d),
    v: quantizeWeights(w.wv, nkv * hd, d),
    o: quantizeWeights(w.wo, d, d),
    gate: quantizeWeights(w.wGate, f, d),
    up: quantizeWeights(w.wUp, f, d),
    down: quantizeWeights(w.wDown, d, f),
  };
  try {
    const h = rmsNormIntSync(prepareRmsNormInt({ gamma: w.attnNorm, outScale: sc.h! }), xq);
    const q0 = linearI(h, t, sc.h!, L.q, sc.q0!);
    const k0 = linearI(h, t, sc.h!, L.k, sc.k0!);
    const v = linearI(h, t, sc.h!, L.v, sc.v!);
    // RoPE: int8 x Q14 integer cos / sin (prepared once), int32 sums, then requantize
    const tab = ropeTables(t, hd, w.ropeBase);
    const ci = Int32Array.from(tab.cos, (c) => Math.round(c * Q14));
    const si = Int32Array.from(tab.sin, (s) => Math.round(s * Q14));
    const ropeI = (x: Int8Array, nHeads: number, sIn: number, sOut: number) => {
      const acc = new Int32Array(x.length);
      for (let p = 0; p < t; p++)
        for (let hh = 0; hh < nHeads; hh++)
          for (let i = 0; i < hd / 2; i++) {
            const o = p * nHeads * hd + hh * hd + 2 * i;
            const c = ci[p * (hd / 2) + i]!;
            const s = si[p * (hd / 2) + i]!;
            acc[o] = x[o]! * c - x[o + 1]! * s;
            acc[o + 1] = x[o]! * s + x[o + 1]! * c;
          }
      return requantizeSync(acc, { multiplier: dyadicFromScale(sIn / Q14 / sOut) });
    };
    const q = ropeI(q0, nh, sc.q0!, sc.q!);
    const k = ropeI(k0, nkv, sc.k0!, sc.k!);
    // attention: int32 scores -> int8 (scale sc.scores, the 1/sqrt(hd) folded into the multiplier)
    const sm = prepareSoftmaxInt({ scale: sc.scores!, method: opts.softmax ?? 'ibert' });
    const scoreMult = dyadicFromScale((sc.q! * sc.k!) / Math.sqrt(hd) / sc.scores!);
    const pvMult = dyadicFromScale(1 / 256 / sc.att! * sc.v!);
    const attAcc = new Int32Array(t * d);
    const acc = new Int32Array(t);
    for (let hh = 0; hh < nh; hh++) {
      const kh = Math.floor(hh / (nh / nkv));
      for (let i = 0; i < t; i++) {
        for (let j = 0; j <= i; j++) {
          let s = 0;
          for (let c = 0; c < hd; c++) s += q[i * d + hh * hd + c]! * k[j * nkv * hd + kh * hd + c]!;
          acc[j] = s;
        }
        const s8 = requantizeSync(acc.subarray(0, i + 1), { multiplier: scoreMult });
        const p = softmaxIntSync(sm, s8);
        for (let c = 0; c < hd; c++) {
          let s = 0;
          for (let j = 0; j <= i; j++) s += p[j]! * v[j * nkv * hd + kh * hd + c]!;
          attAcc[i * d + hh * hd + c] = s;
        }
      }
    }
    const att = requantizeSync(attAcc, { multiplier: pvMult });
    const o = linearI(att, t, sc.att!, L.o, sc.o!);
    const x1 = addRescaleSync(prepareAddRescale({ aScale: sc.x!, bScale: sc.o!, outScale: sc.x1! }), xq, o);
    const h2 = rmsNormIntSync(prepareRmsNormInt({ gamma: w.ffnNorm, outScale: sc.h2! }), x1);
    const gate = linearI(h2, t, sc.h2!, L.gate, sc.gate!);
    const up = linearI(h2, t, sc.h2!, L.up, sc.up!);
    const sg = siluIntSync(prepareSiluInt({ inScale: sc.gate!, outScale: sc.sg! }), gate);
    const mAcc = Int32Array.from(sg, (s, i) => s * up[i]!);
    const m = requantizeSync(mAcc, { multiplier: dyadicFromScale((sc.sg! * sc.up!) / sc.m!) });
    const down = linearI(m, t, sc.m!, L.down, sc.down!);
    const y = addRescaleSync(prepareAddRescale({ aScale: sc.x1!, bScale: sc.down!, outScale: sc.y! }), x1, down);
    const st = (qv: ArrayLike<number>, s: number) => ({ q: qv, s });
    return { h: st(h, sc.h!), q: st(q, sc.q!), k: st(k, sc.k!), v: st(v, sc.v!), att: st(att, sc.att!), o: st(o, sc.o!), x1: st(x1, sc.x1!), sg: st(sg, sc.sg!), m: st(m, sc.m!), down: st(down, sc.down!), y: st(y, sc.y!) };
  } finally {
    for (const l of Object.values(L)) l.w.dispose();
  }
}

export interface BlockComparison {
  source: 'random' | 'stories260K';
  tokens: number;
  dim: number;
  hidden: number;
  heads: number;
  softmax: ExpMethod;
  /** Cosine similarity of the integer block's output (dequantized) with the float64 block's. */
  cosine: number;
  maxAbsErr: number;
  maxAbsRef: number;
  /** Cosine per intermediate (dequantized int vs float64), in block order. */
  stages: { name: string; cosine: number }[];
}

function cosine(a: ArrayLike<number>, sa: number, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < b.length; i++) {
    const x = a[i]! * sa;
    ab += x * b[i]!;
    aa += x * x;
    bb += b[i]! ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

function gaussian(seed: number): () => number {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

export function randomBlockWeights(seed = 1, dim = 128, hidden = 344, heads = 8, kvHeads = 4): BlockWeights {
  const g = gaussian(seed);
  const mat = (n: number, k: number) => Float32Array.from({ length: n * k }, () => g() / Math.sqrt(k));
  const hd = dim / heads;
  return {
    dim, hidden, heads, kvHeads, ropeBase: 10000, eps: 1e-5,
    wq: mat(dim, dim), wk: mat(kvHeads * hd, dim), wv: mat(kvHeads * hd, dim), wo: mat(dim, dim),
    wGate: mat(hidden, dim), wUp: mat(hidden, dim), wDown: mat(dim, hidden),
    attnNorm: Float32Array.from({ length: dim }, () => 1 + 0.1 * g()),
    ffnNorm: Float32Array.from({ length: dim }, () => 1 + 0.1 * g()),
  };
}

/** Layer `layer` of models/stories260K.gguf (f32 weights) and the embeddings of `tokens`. */
export function storiesBlock(layer = 0, tokens: number[] = [1, 403, 407, 261, 1163, 1032, 300, 263, 365, 301, 1327, 46, 10, 291, 262, 480].map((t) => t % 512)): { w: BlockWeights; x: Float64Array } {
  const f = readGGUF(path.join(packageRoot, 'models', 'stories260K.gguf'));
  const get = (name: string) => {
    const t = f.tensors.find((x) => x.name === name);
    if (!t || t.typeName !== 'f32') throw new Error(`stories260K: ${name} missing or not f32`);
    const b = readTensorData(f, t);
    return { data: new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), dims: t.dims };
  };
  const num = (k: string) => Number(f.metadata.get(k));
  const dim = num('llama.embedding_length');
  const emb = get('token_embd.weight');
  const x = new Float64Array(tokens.length * dim);
  tokens.forEach((tok, i) => {
    for (let j = 0; j < dim; j++) x[i * dim + j] = emb.data[tok * dim + j]!;
  });
  const b = `blk.${layer}.`;
  return {
    w: {
      dim,
      hidden: num('llama.feed_forward_length'),
      heads: num('llama.attention.head_count'),
      kvHeads: num('llama.attention.head_count_kv'),
      ropeBase: 10000,
      eps: num('llama.attention.layer_norm_rms_epsilon'),
      wq: get(b + 'attn_q.weight').data,
      wk: get(b + 'attn_k.weight').data,
      wv: get(b + 'attn_v.weight').data,
      wo: get(b + 'attn_output.weight').data,
      wGate: get(b + 'ffn_gate.weight').data,
      wUp: get(b + 'ffn_up.weight').data,
      wDown: get(b + 'ffn_down.weight').data,
      attnNorm: get(b + 'attn_norm.weight').data,
      ffnNorm: get(b + 'ffn_norm.weight').data,
    },
    x,
  };
}

/** Runs both blocks on the same input and compares them. */
export async function compareIntBlock(o: { source: 'random' | 'stories260K'; softmax?: ExpMethod; tokens?: number } = { source: 'random' }): Promise<BlockComparison> {
  let w: BlockWeights;
  let x: Float64Array;
  let t: number;
  if (o.source === 'random') {
    w = randomBlockWeights();
    t = o.tokens ?? 16;
    const g = gaussian(7);
    x = Float64Array.from({ length: t * w.dim }, () => g());
  } else {
    ({ w, x } = storiesBlock());
    t = x.length / w.dim;
  }
  const ref = floatBlock(w, x, t);
  // static calibration: absmax / 127 of every intermediate of the float block on this input
  const sc: Record<string, number> = {};
  for (const [k, v] of Object.entries(ref)) sc[k] = Math.max(absmax(v), 1e-12) / 127;
  const xq = Int8Array.from(x, (v) => Math.max(-127, Math.min(127, Math.round(v / sc.x!))));
  const out = intBlock(w, xq, t, sc, { softmax: o.softmax ?? 'ibert' });
  const y = out.y!;
  let maxErr = 0;
  for (let i = 0; i < ref.y!.length; i++) maxErr = Math.max(maxErr, Math.abs(y.q[i]! * y.s - ref.y![i]!));
  const stages = ['h', 'q', 'k', 'v', 'att', 'o', 'x1', 'sg', 'm', 'down', 'y'].map((name) => ({ name, cosine: cosine(out[name]!.q, out[name]!.s, ref[name]!) }));
  return { source: o.source, tokens: t, dim: w.dim, hidden: w.hidden, heads: w.heads, softmax: o.softmax ?? 'ibert', cosine: cosine(y.q, y.s, ref.y!), maxAbsErr: maxErr, maxAbsRef: absmax(ref.y!), stages };
}
