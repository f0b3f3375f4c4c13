/**
 * The sparsity predictors of a ReLU-family flash-layout model, as `bitflash calibrate` writes them
 * (lib/model/predictor.ts): per layer l, tensors blk.l.ffn_pred_a [rank, n_embd] and
 * blk.l.ffn_pred_b [n_ff, rank] (f32; score = B (A x)), and metadata bitflash.predictor.* with one
 * threshold per layer (neuron i is read when score_i > threshold).
 */
import { BitflashFormatError, BitflashUnsupportedError } from '../errors.js';
import { FLASH_ALIGN, flashInfo } from './flash-layout.js';
import type { GGUFFile } from './gguf.js';
import type { LlamaHParams } from './llama.js';

export interface PredictorInfo {
  rank: number;
  thresholds: number[];
  /** Bytes read per neuron: the whole bundle (up, down and gate rows), rounded to the alignment. */
  readBytes: number;
  /** Resident bytes of all predictor tensors. */
  bytes: number;
}

export function predictorInfo(f: GGUFFile, hp: Pick<LlamaHParams, 'nLayers' | 'nEmbd' | 'nFf'>): PredictorInfo | undefined {
  const v = f.metadata.get('bitflash.predictor.version');
  if (v === undefined) return undefined;
  if (v !== 1) throw new BitflashUnsupportedError(`${f.path}: predictor version ${String(v)} is not supported`);
  const fi = flashInfo(f);
  if (!fi) throw new BitflashFormatError(`${f.path}: predictors without the flash layout`);
  const rank = f.metadata.get('bitflash.predictor.rank');
  const raw = f.metadata.get('bitflash.predictor.thresholds');
  const th = ArrayBuffer.isView(raw) ? Array.from(raw as Float32Array) : raw;
  if (typeof rank !== 'number' || !Number.isInteger(rank) || rank < 1) throw new BitflashFormatError(`${f.path}: bitflash.predictor.rank missing or invalid`);
  if (!Array.isArray(th) || th.length !== hp.nLayers || th.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
    throw new BitflashFormatError(`${f.path}: bitflash.predictor.thresholds must hold ${hp.nLayers} finite numbers`);
  }
  let bytes = 0;
  for (let l = 0; l < hp.nLayers; l++) {
    for (const [name, dims] of [[`blk.${l}.ffn_pred_a`, [hp.nEmbd, rank]], [`blk.${l}.ffn_pred_b`, [rank, hp.nFf]]] as const) {
      const t = f.tensors.find((x) => x.name === name);
      if (!t || t.typeName !== 'f32' || t.dims.length !== 2 || t.dims[0] !== dims[0] || t.dims[1] !== dims[1]) {
        throw new BitflashFormatError(`${f.path}: ${name} missing or not f32 [${dims.join(', ')}]`);
      }
      bytes += t.bytes;
    }
  }
  const readBytes = Math.min(fi.bundleBytes, Math.ceil((3 * fi.rowBytes) / FLASH_ALIGN) * FLASH_ALIGN);
  return { rank, thresholds: th as number[], readBytes, bytes };
}
