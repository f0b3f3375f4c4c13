/**
 * `bitflash bench flash --quality`: what a target FFN density costs. The model is converted to the
 * flash layout in a temporary folder, sequences are sampled from the dense model, and for each
 * density the sparse model's next-token distributions are compared with the dense ones: top-1
 * agreement and mean KL(dense || sparse), plus perplexity on models/eval.txt; and decode speed,
 * bytes read per token and the cache hit rate at each density.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { packageRoot } from '../binding.js';
import { convertFlash } from '../model/flash-layout.js';
import { readGGUF } from '../model/gguf.js';
import { loadModel, type Model } from '../model/model.js';

export interface FlashQualityRow {
  density: number;
  measuredDensity: number;
  top1Agreement: number;
  meanKL: number;
  perplexity: number;
  decodeTokensPerSecond: number;
  bytesReadPerToken: number;
  cacheHitRate: number;
}

function logSoftmax(row: Float32Array): Float64Array {
  let mx = -Infinity;
  for (const v of row) mx = Math.max(mx, v);
  let s = 0;
  for (const v of row) s += Math.exp(v - mx);
  const l = Math.log(s) + mx;
  return Float64Array.from(row, (v) => v - l);
}

async function sample(m: Model, n: number, len: number): Promise<number[][]> {
  const seqs: number[][] = [];
  for (let i = 0; i < n; i++) {
    const ids = [m.tokenizer.bos ?? 1];
    for await (const t of m.generate('', { temperature: 1, topK: 0, topP: 1, minP: 0, repeatPenalty: 1, seed: 1000 + i, maxTokens: len })) ids.push(t.id);
    seqs.push(ids);
  }
  return seqs;
}

export async function benchFlashQuality(opts: { model?: string; densities?: number[]; sequences?: number; length?: number; log?: (s: string) => void } = {}): Promise<{ model: string; rows: FlashQualityRow[] }> {
  const model = opts.model ?? path.join(packageRoot, 'models', 'stories260K.gguf');
  const densities = opts.densities ?? [1, 0.5, 0.3, 0.2];
  const dir = mkdtempSync(path.join(tmpdir(), 'bitflash-bench-flash-'));
  const evalText = readFileSync(path.join(packageRoot, 'models', 'eval.txt'), 'utf8');
  try {
    const flashFile = path.join(dir, 'flash.gguf');
    convertFlash(readGGUF(model), flashFile, { rowType: 'f32' });
    const dense = await loadModel(model, { nCtx: 256 });
    const seqs = await sample(dense, opts.sequences ?? 4, opts.length ?? 48);
    const denseLogits = await Promise.all([] as Promise<Float32Array>[]);
    for (const s of seqs) denseLogits.push(await dense.logits(s));
    dense.dispose();
    const V = readGGUF(model).tensors.find((t) => t.name === 'token_embd.weight')!.dims[1]!;
    const rows: FlashQualityRow[] = [];
    for (const density of densities) {
      const m = await loadModel(flashFile, { nCtx: 256, density });
      let agree = 0, kl = 0, n = 0;
      m.flashStats(true);
      for (let si = 0; si < seqs.length; si++) {
        const sl = await m.logits(seqs[si]!);
        for (let t = 0; t < seqs[si]!.length; t++) {
          const a = denseLogits[si]!.subarray(t * V, (t + 1) * V), b = sl.subarray(t * V, (t + 1) * V);
          let ia = 0, ib = 0;
          for (let j = 1; j < V; j++) {
            if (a[j]! > a[ia]!) ia = j;
            if (b[j]! > b[ib]!) ib = j;
          }
          if (ia === ib) agree++;
          const la = logSoftmax(a), lb = logSoftmax(b);
          let k = 0;
          for (let j = 0; j < V; j++) k += Math.exp(la[j]!) * (la[j]! - lb[j]!);
          kl += k;
          n++;
        }
      }
      const st = m.flashStats(true)!;
      const measured = st.neuronsActive / st.neuronsTotal;
      const ppl = await m.perplexity(evalText);
      m.dispose();
      // decode from a cold neuron cache: a fresh model, greedy tokens one at a time
      const d = await loadModel(flashFile, { nCtx: 256, density });
      d.flashStats(true);
      let produced = 0;
      for await (const _ of d.generate('Once upon a time', { temperature: 0, repeatPenalty: 1, maxTokens: 64 })) produced++;
      const ds = d.flashStats(true)!;
      rows.push({
        density, measuredDensity: measured, top1Agreement: agree / n, meanKL: kl / n, perplexity: ppl,
        decodeTokensPerSecond: d.lastStats!.decodeTokensPerSecond,
        bytesReadPerToken: ds.bytesRead / Math.max(1, produced),
        cacheHitRate: ds.cacheHits / Math.max(1, ds.cacheHits + ds.cacheMisses),
      });
      opts.log?.(`density ${density}: done`);
      d.dispose();
    }
    return { model: path.basename(model), rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatFlashQuality(r: { model: string; rows: FlashQualityRow[] }): string {
  const lines = [
    `| density (target / measured) | top-1 agreement | mean KL (nats) | perplexity, eval.txt | decode tokens/s | bytes read / token | cache hit rate |`,
    '|---|---|---|---|---|---|---|',
  ];
  for (const x of r.rows) {
    lines.push(`| ${x.density} / ${x.measuredDensity.toFixed(3)} | ${(100 * x.top1Agreement).toFixed(1)}% | ${x.meanKL.toFixed(4)} | ${x.perplexity.toFixed(3)} | ${x.decodeTokensPerSecond.toFixed(0)} | ${Math.round(x.bytesReadPerToken)} | ${(100 * x.cacheHitRate).toFixed(1)}% |`);
  }
  return lines.join('\n');
}
