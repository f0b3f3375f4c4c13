/**
 * One configuration of `bitflash bench flash --speed`, run in a child process that the parent has
 * placed in a cgroup (so the cgroup's memory limit covers this process and the page cache it
 * causes). Loads the model one way, decodes `warmup + tokens` greedy tokens one step at a time,
 * and prints one JSON line: per-token times, bytes read from storage (/proc/self/io read_bytes, the
 * same meter for every method: page faults, pread and O_DIRECT alike), the flash telemetry, peak RSS.
 * Args: one JSON object (SpeedChildArgs) in argv[2].
 */
import { readFileSync } from 'node:fs';
import { Model, loadModel } from '../model/model.js';
import { pickFlashTuning, type FlashTuningOptions } from '../model/flash-tuning.js';

export type SpeedMethod = 'resident' | 'mmap' | 'layers' | 'bitflash';

export interface SpeedChildArgs extends FlashTuningOptions {
  method: SpeedMethod;
  model: string;
  /** bitflash: the flash-layout file; ramBudget and density. */
  flash?: string;
  ramBudget?: number;
  density?: number;
  thresholds?: number[];
  /** calibrate: print thresholds for `density` from `calibrationText` instead of decoding. */
  calibrate?: boolean;
  calibrationText?: string;
  tokens: number;
  warmup: number;
  nCtx: number;
}

export interface SpeedChildResult {
  ok: boolean;
  error?: { code?: string; message: string };
  loadMs?: number;
  tokenMs?: number[];
  medianTokenMs?: number;
  tokensPerSecond?: number;
  storageReadBytesPerToken?: number;
  flash?: Record<string, number>;
  flashPerToken?: Record<string, number>;
  plan?: { residentBytes: number; cacheBytes: number; streamedDenseBytes: number; streamBufferBytes: number; totalBytes: number };
  maxRssBytes?: number;
  thresholds?: number[];
  /** The greedy token ids fed at each step. */
  tokenIds?: number[];
}

function ioReadBytes(): number {
  const m = /read_bytes:\s*(\d+)/.exec(readFileSync('/proc/self/io', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export async function runSpeedChild(a: SpeedChildArgs): Promise<SpeedChildResult> {
  const t0 = performance.now();
  let m: Model;
  try {
    if (a.calibrate) {
      m = Model.load(a.flash!, { nCtx: a.nCtx, batch: 1 });
      const thresholds = await m.calibrate(a.calibrationText ?? 'Once upon a time', a.density ?? 1);
      m.dispose();
      return { ok: true, thresholds };
    }
    const base = { nCtx: a.nCtx, batch: 1 };
    switch (a.method) {
      case 'resident': m = await loadModel(a.model, { ...base, ...(a.ramBudget ? { ramBudget: a.ramBudget } : {}) }); break;
      case 'mmap': m = await loadModel(a.model, { ...base, weights: 'mmap' }); break;
      case 'layers': m = await loadModel(a.model, { ...base, weights: 'layers' }); break;
      case 'bitflash':
        m = await loadModel(a.flash!, {
          ...base, ...(a.ramBudget ? { ramBudget: a.ramBudget } : {}), density: a.density ?? 1, ...(a.thresholds ? { thresholds: a.thresholds } : {}),
          ...pickFlashTuning(a),
        });
        break;
    }
  } catch (e) {
    const err = e as { code?: string; message: string };
    return { ok: false, error: { ...(err.code ? { code: err.code } : {}), message: err.message } };
  }
  const loadMs = performance.now() - t0;
  const times: number[] = [];
  const ids: number[] = [];
  let tok = m.tokenizer.bos ?? 1;
  let readAtWarm = 0;
  for (let pos = 0; pos < a.warmup + a.tokens; pos++) {
    if (pos === a.warmup) {
      m.flashStats(true);
      readAtWarm = ioReadBytes();
    }
    const s = performance.now();
    ids.push(tok);
    const logits = await m.decodeStep(tok, pos);
    times.push(performance.now() - s);
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j]! > logits[best]!) best = j;
    tok = best;
  }
  const readBytes = ioReadBytes() - readAtWarm;
  const measured = times.slice(a.warmup);
  const fs = m.flashStats();
  const med = median(measured);
  const res: SpeedChildResult = {
    ok: true, loadMs, tokenMs: times, medianTokenMs: med, tokensPerSecond: 1000 / med,
    storageReadBytesPerToken: readBytes / a.tokens,
    maxRssBytes: process.resourceUsage().maxRSS * 1024, tokenIds: ids,
  };
  if (fs) {
    const per: Record<string, number> = {};
    for (const [k, v] of Object.entries(fs)) if (!/Arena|Resident|BufferBytes/.test(k)) per[k] = v / a.tokens;
    res.flash = { ...(fs as unknown as Record<string, number>) };
    res.flashPerToken = per;
  }
  if (m.plan) res.plan = { residentBytes: m.plan.residentBytes, cacheBytes: m.plan.cacheBytes, streamedDenseBytes: m.plan.streamedDenseBytes, streamBufferBytes: m.plan.streamBufferBytes, totalBytes: m.plan.totalBytes };
  m.dispose();
  return res;
}

if (process.argv[1] && /bench-flash-child\.js$/.test(process.argv[1])) {
  const a = JSON.parse(process.argv[2] ?? process.env.BITFLASH_BENCH_ARGS ?? '{}') as SpeedChildArgs;
  runSpeedChild(a).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (e: unknown) => {
      process.stdout.write(`${JSON.stringify({ ok: false, error: { message: String((e as Error).message ?? e) } })}\n`);
      process.exitCode = 1;
    },
  );
}
