/** Token sampling from logits: repeat penalty, temperature, top-k, top-p, min-p, seeded. */

export interface SamplingOptions {
  /** 0 = greedy (argmax). Default 0.8. */
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  /** llama.cpp's rule over the last `repeatLastN` tokens: positive logits divided, negative multiplied. 1 = off. */
  repeatPenalty?: number;
  repeatLastN?: number;
  seed?: number;
}

/** A small seeded PRNG (mulberry32): reproducible sampling for a given seed. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

export class Sampler {
  private readonly rand: () => number;
  constructor(private readonly o: Required<Omit<SamplingOptions, 'seed'>> & { seed: number }) {
    this.rand = prng(o.seed);
  }

  static create(opts: SamplingOptions = {}): Sampler {
    const o = {
      temperature: opts.temperature ?? 0.8,
      topK: opts.topK ?? 40,
      topP: opts.topP ?? 0.95,
      minP: opts.minP ?? 0.05,
      repeatPenalty: opts.repeatPenalty ?? 1.1,
      repeatLastN: opts.repeatLastN ?? 64,
      seed: opts.seed ?? (Math.random() * 2 ** 32) >>> 0,
    };
    const check = (name: string, v: number, lo: number, hi: number) => {
      if (typeof v !== 'number' || !(v >= lo && v <= hi)) throw new RangeError(`generate: ${name} must be a number from ${lo} to ${hi}, received ${v}`);
    };
    check('temperature', o.temperature, 0, 100);
    check('topK', o.topK, 0, 1e9);
    check('topP', o.topP, 0, 1);
    check('minP', o.minP, 0, 1);
    check('repeatPenalty', o.repeatPenalty, 0.01, 100);
    check('repeatLastN', o.repeatLastN, 0, 1e9);
    return new Sampler(o);
  }

  sample(logits: Float32Array, history: readonly number[]): number {
    const l = Float32Array.from(logits);
    if (this.o.repeatPenalty !== 1 && this.o.repeatLastN > 0) {
      const seen = new Set(history.slice(-this.o.repeatLastN));
      for (const id of seen) {
        if (id < 0 || id >= l.length) continue;
        l[id] = l[id]! > 0 ? l[id]! / this.o.repeatPenalty : l[id]! * this.o.repeatPenalty;
      }
    }
    if (this.o.temperature === 0) return argmax(l);
    let idx = Array.from(l.keys()).sort((a, b) => l[b]! - l[a]!);
    if (this.o.topK > 0) idx = idx.slice(0, this.o.topK);
    const maxL = l[idx[0]!]!;
    let p = idx.map((i) => Math.exp((l[i]! - maxL) / this.o.temperature));
    let sum = p.reduce((a, b) => a + b, 0);
    p = p.map((v) => v / sum);
    // min-p: drop tokens below minP times the top probability
    let keep = p.findIndex((v) => v < this.o.minP * p[0]!);
    if (keep > 0) {
      idx = idx.slice(0, keep);
      p = p.slice(0, keep);
    }
    // top-p: the smallest prefix whose mass reaches topP
    if (this.o.topP < 1) {
      let acc = 0;
      keep = p.length;
      for (let i = 0; i < p.length; i++) {
        acc += p[i]!;
        if (acc >= this.o.topP) {
          keep = i + 1;
          break;
        }
      }
      idx = idx.slice(0, keep);
      p = p.slice(0, keep);
    }
    sum = p.reduce((a, b) => a + b, 0);
    let r = this.rand() * sum;
    for (let i = 0; i < p.length; i++) {
      r -= p[i]!;
      if (r <= 0) return idx[i]!;
    }
    return idx[idx.length - 1]!;
  }
}
