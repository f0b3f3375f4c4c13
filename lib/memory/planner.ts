/**
 * The residency planner: given a model file and a RAM budget, decides what stays resident
 * (embeddings, attention, norms, output head, the FFN gates of a flash-layout model), what the KV
 * cache and scratch take, and how many neuron-cache slots the rest buys. A budget that cannot hold
 * the minimum fails with ERR_BITFLASH_BUDGET and the numbers.
 */
import { BitflashBudgetError } from '../errors.js';
import type { GGUFFile } from '../model/gguf.js';
import { flashInfo, type FlashInfo } from '../model/flash-layout.js';
import { llamaHParams } from '../model/llama.js';
import { predictorInfo } from '../model/predictor-info.js';

/** Reader threads of the flash I/O pool and their largest single read (each holds a bounce buffer). */
export const FLASH_READERS = 8;
export const FLASH_MAX_READ = 128 * 1024;
/** Bytes the reader pool holds: per reader, a bounce buffer of maxRead + 8 KiB and a 16 KiB gap buffer. */
export const flashIoScratchBytes = (readers = FLASH_READERS, maxRead = FLASH_MAX_READ) => readers * (maxRead + 8192 + 16384);

export interface PlanOptions {
  ramBudget: number;
  nCtx: number;
  batch: number;
  kvType: 'f32' | 'f16';
  /** Target FFN density for a flash-layout model (fraction of neurons read per token). */
  density?: number;
}

export interface ResidencyPlan {
  budget: number;
  flash: FlashInfo | undefined;
  resident: { name: string; bytes: number }[];
  residentBytes: number;
  kvCacheBytes: number;
  scratchBytes: number;
  /** Flash: the reader pool's buffers and the gate activations. */
  ioScratchBytes: number;
  /** Neuron cache: slots of one bundle read each (0 for a dense model). */
  cacheSlots: number;
  cacheBytes: number;
  /** Streamed FFN bytes per layer and in all (flash layout). */
  streamedBytes: number;
  totalBytes: number;
  density: number;
}

export function parseBudget(v: number | string): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v <= 0) throw new RangeError(`ramBudget must be a positive number of bytes or a size like '2G', received ${v}`);
    return Math.floor(v);
  }
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(v.trim());
  if (!m) throw new RangeError(`ramBudget must be a size like '2G' or '512M', received ${JSON.stringify(v)}`);
  const mult: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
  return Math.floor(Number(m[1]) * mult[m[2]!.toLowerCase()]!);
}

const fmt = (b: number) => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(1)} MiB`);

export function planResidency(f: GGUFFile, o: PlanOptions): ResidencyPlan {
  const hp = llamaHParams(f);
  const flash = flashInfo(f);
  const density = o.density ?? 1;
  if (!(density > 0 && density <= 1)) throw new RangeError(`density must be in (0, 1], received ${density}`);
  const kvCols = hp.nHeadKv * hp.headDim;
  const kvCacheBytes = 2 * hp.nLayers * o.nCtx * kvCols * (o.kvType === 'f16' ? 2 : 4);
  // Activation slots of the compiled plan: at most ~6 live [batch, max(width)] rows plus the logits.
  const widest = Math.max(hp.nEmbd, hp.nFf, hp.nHead * hp.headDim);
  const scratchBytes = o.batch * (6 * widest + hp.nVocab) * 4;
  const resident: { name: string; bytes: number }[] = [];
  let streamedBytes = 0;
  // A ReLU model with predictors keeps them resident instead of the gate (its rows are in the bundles).
  const pred = flash && hp.ffnActivation === 'relu' ? predictorInfo(f, hp) : undefined;
  for (const t of f.tensors) {
    if (flash && t.name.endsWith('.ffn_bundles')) streamedBytes += t.bytes;
    else if (pred && /^blk\.\d+\.ffn_gate\.weight$/.test(t.name)) continue;
    else resident.push({ name: t.name, bytes: t.bytes });
  }
  const residentBytes = resident.reduce((a, r) => a + r.bytes, 0);
  const ioScratchBytes = flash ? flashIoScratchBytes() + o.batch * hp.nFf * 4 /* gate activations */ : 0;
  const fixed = residentBytes + kvCacheBytes + scratchBytes + ioScratchBytes;
  let cacheSlots = 0, cacheBytes = 0;
  if (flash) {
    const slot = pred ? pred.readBytes : flash.upDownBytes;
    const minSlots = Math.ceil(density * hp.nFf); // one layer's active neurons must fit at once
    cacheSlots = Math.min(hp.nLayers * hp.nFf, Math.floor(Math.max(0, o.ramBudget - fixed) / slot));
    cacheBytes = cacheSlots * slot;
    if (cacheSlots < minSlots) {
      throw new BitflashBudgetError(
        `ram budget ${fmt(o.ramBudget)} is too small: resident weights ${fmt(residentBytes)} + KV cache ${fmt(kvCacheBytes)} + scratch ${fmt(scratchBytes)} + I/O buffers ${fmt(ioScratchBytes)} ` +
          `= ${fmt(fixed)}, plus at least ${minSlots} neuron slots of ${slot} bytes (${fmt(minSlots * slot)}) at density ${density}; ` +
          `needs ${fmt(fixed + minSlots * slot)}`,
      );
    }
  } else if (fixed > o.ramBudget) {
    throw new BitflashBudgetError(
      `ram budget ${fmt(o.ramBudget)} is too small for this dense model: weights ${fmt(residentBytes)} + KV cache ${fmt(kvCacheBytes)} + scratch ${fmt(scratchBytes)} = ${fmt(fixed)}. ` +
        `Write the flash layout (bitflash convert --flash) to stream the FFN from disk, or lower nCtx.`,
    );
  }
  return { budget: o.ramBudget, flash, resident, residentBytes, kvCacheBytes, scratchBytes, ioScratchBytes, cacheSlots, cacheBytes, streamedBytes, totalBytes: fixed + cacheBytes, density };
}

export function formatPlan(p: ResidencyPlan): string {
  const lines = [
    `budget ${fmt(p.budget)}: ${p.flash ? `flash layout (bundles of ${p.flash.bundleBytes} bytes, ${p.flash.rowType} rows; reads ${p.cacheSlots ? p.cacheBytes / p.cacheSlots : p.flash.upDownBytes} bytes per neuron)` : 'dense model (everything resident)'}`,
    `  resident weights  ${fmt(p.residentBytes)} (${p.resident.length} tensors)`,
    `  KV cache          ${fmt(p.kvCacheBytes)}`,
    `  scratch           ${fmt(p.scratchBytes)}`,
  ];
  if (p.flash) {
    if (p.resident.some((r) => r.name.endsWith('.ffn_pred_a'))) lines.push('  ReLU model with low-rank predictors: the predictors are resident, the gate rows are read with the bundles');
    lines.push(`  I/O buffers       ${fmt(p.ioScratchBytes)}`);
    lines.push(`  neuron cache      ${fmt(p.cacheBytes)} (${p.cacheSlots} slots)`);
    lines.push(`  streamed FFN      ${fmt(p.streamedBytes)} on disk, density ${p.density}`);
  }
  lines.push(`  total             ${fmt(p.totalBytes)} of ${fmt(p.budget)}`);
  return lines.join('\n');
}
