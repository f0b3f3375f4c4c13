/** Helpers shared by the benchmarks. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../binding.js';

export function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/** Uniform values in [-1, 1) from a seeded LCG (benchmark inputs, reproducible). */
export function randomF32(n: number, seed: number): Float32Array {
  const x = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = (s / 2 ** 32) * 2 - 1;
  }
  return x;
}

export type Ort = typeof import('onnxruntime-node');

/** onnxruntime-node (a devDependency: the peer of the benchmarks), or null where it is not installed. */
export async function loadOrt(): Promise<Ort | null> {
  try {
    const mod = (await import('onnxruntime-node')) as Ort & { default?: Ort };
    return mod.default ?? mod;
  } catch {
    return null;
  }
}

/** Writes a benchmark's JSON to `file`, or to bench/results/<name>-<date>.json; returns the path. */
export function writeBenchJson(name: string, r: { date: string }, file?: string): string {
  const f = file ?? path.join(packageRoot, 'bench', 'results', `${name}-${r.date.slice(0, 10)}.json`);
  mkdirSync(path.dirname(f), { recursive: true });
  writeFileSync(f, JSON.stringify(r, null, 2) + '\n');
  return f;
}
