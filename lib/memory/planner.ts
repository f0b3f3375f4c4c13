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

/** Reader threads of the flash I/O pool and their largest single read (each holds a bounce buffer). */
export const FLASH_READERS = 8;
export const FLASH_MAX_READ = 128 * 1024;
/** Bytes the reader pool holds: per reader, a bounce buffer of maxRead + 8 KiB and a 16 KiB gap buffer. */
export const flashIoScratchBytes = (readers = FLASH_READERS, maxRead = FLASH_MAX_READ) => readers * (maxRead + 8192 + 16384);
/** Reader threads and read size of the dense weight stream (attention / gate groups that do not fit). */
export const STREAM_READERS = 4;
export const STREAM_MAX_READ = 1 << 20;

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
  /**
   * Dense weights left in the file when the budget cannot hold them (flash layout): each layer's
   * attention and gate projections form one group, read per token into one of two buffers (the
   * next group is read while this one computes); the token embedding (untied) is read by rows.
   */
  streamedDense: { name: string; bytes: number; group: number }[];
  streamedDenseBytes: number;
  streamBufferBytes: number;
  /** Largest single read of the dense stream. */
  streamMaxRead: number;
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
  const streamedDense: { name: string; bytes: number; group: number }[] = [];
  let streamedBytes = 0;
  for (const t of f.tensors) {
    if (flash && t.name.endsWith('.ffn_bundles')) streamedBytes += t.bytes;
    else resident.push({ name: t.name, bytes: t.bytes });
  }
  let ioScratchBytes = flash ? flashIoScratchBytes() + o.batch * hp.nFf * 4 /* gate activations */ : 0;
  let streamBufferBytes = 0, streamMaxRead = STREAM_MAX_READ;
  let cacheSlots = 0, cacheBytes = 0;
  if (flash) {
    const slot = flash.upDownBytes;
    const minSlots = Math.ceil(density * hp.nFf); // one layer's active neurons must fit at once
    const sum = (a: { bytes: number }[]) => a.reduce((x, r) => x + r.bytes, 0);
    // Units that can leave: per layer the attention + gate projections (read every token), and an
    // untied token embedding (read by rows). Everything else (norms, output head) stays.
    const units: { names: Set<string>; bytes: number }[] = [];
    for (let l = 0; l < hp.nLayers; l++) {
      const names = new Set(['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate'].map((n) => `blk.${l}.${n}.weight`));
      units.push({ names, bytes: sum(resident.filter((r) => names.has(r.name))) });
    }
    const tied = !f.tensors.some((t) => t.name === 'output.weight');
    const fixedOf = (res: { bytes: number }[]) => sum(res) + kvCacheBytes + scratchBytes + ioScratchBytes;
    if (fixedOf(resident) + minSlots * slot > o.ramBudget) {
      // Stream units from the last layer down until the minimum fits (the first layers stay).
      if (!tied) {
        const e = resident.find((r) => r.name === 'token_embd.weight');
        if (e) streamedDense.push({ name: e.name, bytes: e.bytes, group: -2 });
      }
      const maxUnit = Math.max(...units.map((u) => u.bytes));
      streamBufferBytes = 2 * maxUnit;
      streamMaxRead = Math.min(STREAM_MAX_READ, Math.ceil(maxUnit / STREAM_READERS / 4096) * 4096);
      ioScratchBytes += STREAM_READERS * (streamMaxRead + 8192 + 16384);
      const out = new Set(streamedDense.map((d) => d.name));
      let res = resident.filter((r) => !out.has(r.name));
      let nStreamed = 0;
      while (nStreamed < units.length && fixedOf(res) + streamBufferBytes + minSlots * slot > o.ramBudget) {
        const u = units[units.length - 1 - nStreamed]!;
        res = res.filter((r) => !u.names.has(r.name));
        nStreamed++;
      }
      // Spread the streamed layers evenly (the units are the same size): the read of the next
      // streamed group then overlaps the compute of the resident layers before it.
      const picked = new Set<number>();
      for (let i = 0; i < nStreamed; i++) picked.add(Math.min(units.length - 1, Math.floor(((i + 0.5) * units.length) / nStreamed)));
      for (let i = units.length - 1; picked.size < nStreamed; i--) picked.add(i);
      const order = [...picked].sort((a, b) => a - b);
      const outNames = new Set<string>();
      order.forEach((ui, g) => {
        for (const r of resident) if (units[ui]!.names.has(r.name)) {
          streamedDense.push({ name: r.name, bytes: r.bytes, group: g });
          outNames.add(r.name);
        }
      });
      res = resident.filter((r) => !outNames.has(r.name) && !out.has(r.name));
      resident.splice(0, resident.length, ...res);
    }
    const fixed = fixedOf(resident) + streamBufferBytes;
    cacheSlots = Math.min(hp.nLayers * hp.nFf, Math.floor(Math.max(0, o.ramBudget - fixed) / slot));
    cacheBytes = cacheSlots * slot;
    if (cacheSlots < minSlots) {
      throw new BitflashBudgetError(
        `ram budget ${fmt(o.ramBudget)} is too small: resident weights ${fmt(sum(resident))} + KV cache ${fmt(kvCacheBytes)} + scratch ${fmt(scratchBytes)} + I/O buffers ${fmt(ioScratchBytes + streamBufferBytes)} ` +
          `= ${fmt(fixed)}, plus at least ${minSlots} neuron slots of ${slot} bytes (${fmt(minSlots * slot)}) at density ${density}; ` +
          `needs ${fmt(fixed + minSlots * slot)}`,
      );
    }
  }
  const residentBytes = resident.reduce((a, r) => a + r.bytes, 0);
  const fixed = residentBytes + kvCacheBytes + scratchBytes + ioScratchBytes + streamBufferBytes;
  if (!flash && fixed > o.ramBudget) {
    throw new BitflashBudgetError(
      `ram budget ${fmt(o.ramBudget)} is too small for this dense model: weights ${fmt(residentBytes)} + KV cache ${fmt(kvCacheBytes)} + scratch ${fmt(scratchBytes)} = ${fmt(fixed)}. ` +
        `Write the flash layout (bitflash convert --flash) to stream the FFN from disk, or lower nCtx.`,
    );
  }
  const streamedDenseBytes = streamedDense.reduce((a, r) => a + r.bytes, 0);
  return { budget: o.ramBudget, flash, resident, residentBytes, kvCacheBytes, scratchBytes, ioScratchBytes, cacheSlots, cacheBytes, streamedBytes, streamedDense, streamedDenseBytes, streamBufferBytes, streamMaxRead, totalBytes: fixed + cacheBytes, density };
}

export function formatPlan(p: ResidencyPlan): string {
  const lines = [
    `budget ${fmt(p.budget)}: ${p.flash ? `flash layout (bundles of ${p.flash.bundleBytes} bytes, ${p.flash.rowType} rows; reads ${p.flash.upDownBytes} bytes per neuron)` : 'dense model (everything resident)'}`,
    `  resident weights  ${fmt(p.residentBytes)} (${p.resident.length} tensors)`,
    `  KV cache          ${fmt(p.kvCacheBytes)}`,
    `  scratch           ${fmt(p.scratchBytes)}`,
  ];
  if (p.flash) {
    lines.push(`  I/O buffers       ${fmt(p.ioScratchBytes)}`);
    lines.push(`  neuron cache      ${fmt(p.cacheBytes)} (${p.cacheSlots} slots)`);
    lines.push(`  streamed FFN      ${fmt(p.streamedBytes)} on disk, density ${p.density}`);
    if (p.streamedDense.length) {
      const groups = new Set(p.streamedDense.filter((d) => d.group >= 0).map((d) => d.group)).size;
      lines.push(`  streamed dense    ${fmt(p.streamedDenseBytes)} read per token (${groups} attention+gate groups${p.streamedDense.some((d) => d.group === -2) ? ', embedding rows' : ''}), buffers ${fmt(p.streamBufferBytes)}`);
    }
  }
  lines.push(`  total             ${fmt(p.totalBytes)} of ${fmt(p.budget)}`);
  return lines.join('\n');
}
