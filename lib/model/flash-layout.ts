/**
 * The flash layout (DESIGN.md, Data formats): a GGUF whose FFN weights are stored as neuron bundles,
 * so the runtime can read the neurons it needs with few large O_DIRECT reads. For neuron i of layer l
 * the bundle holds row i of ffn_up, column i of ffn_down and row i of ffn_gate, in that order (a
 * SwiGLU model keeps ffn_gate resident and reads only the up + down prefix), each as one row of
 * `row_type`, the bundle padded to a multiple of 4096 bytes. ffn_down columns cross the source's
 * quantization blocks, so they are requantized along the hidden dimension; the error this costs
 * against the unbundled weights is measured during conversion and reported.
 * Tensors: blk.<l>.ffn_bundles, ggml type i8, dims [bundle_bytes, n_ff]; ffn_gate.weight stays a
 * standard tensor; ffn_up / ffn_down are dropped. Metadata under bitflash.flash.*.
 */
import { BitflashFormatError, BitflashUnsupportedError } from '../errors.js';
import { quantizeBlocksSync } from '../ops/quantize-blocks.js';
import { dequantizeSync, quantizeSync } from '../ops/quantize.js';
import { QTensor } from '../tensor.js';
import { GGML_TYPES, GGUFValueType, type GGUFFile, type GGUFTensorInfo, readTensorData } from './gguf.js';
import { type WriteMeta, type WriteTensor, writeGGUF } from './gguf-write.js';
import { llamaHParams } from './llama.js';

export const FLASH_ALIGN = 4096;
export type FlashRowType = 'f32' | 'f16' | 'q8_0' | 'q4_0';
const ROW_TYPE_ID: Record<FlashRowType, number> = { f32: 0, f16: 1, q8_0: 8, q4_0: 2 };

export interface FlashInfo {
  rowType: FlashRowType;
  rowBytes: number;
  bundleBytes: number;
  nFf: number;
  nEmbd: number;
  /** Bytes to read for up + down only (rounded up to the alignment): what a SwiGLU model reads. */
  upDownBytes: number;
}

export function flashInfo(f: GGUFFile): FlashInfo | undefined {
  const v = f.metadata.get('bitflash.flash.version');
  if (v === undefined) return undefined;
  if (v !== 1) throw new BitflashUnsupportedError(`${f.path}: flash layout version ${String(v)} is not supported`);
  const num = (k: string) => {
    const x = f.metadata.get(`bitflash.flash.${k}`);
    if (typeof x !== 'number' || !Number.isInteger(x) || x <= 0) throw new BitflashFormatError(`${f.path}: bitflash.flash.${k} missing or invalid`);
    return x;
  };
  const rt = f.metadata.get('bitflash.flash.row_type');
  const rowType = (Object.keys(ROW_TYPE_ID) as FlashRowType[]).find((t) => t === rt);
  if (!rowType) throw new BitflashFormatError(`${f.path}: bitflash.flash.row_type ${String(rt)} invalid`);
  const info = { rowType, rowBytes: num('row_bytes'), bundleBytes: num('bundle_bytes'), nFf: num('n_ff'), nEmbd: num('n_embd'), upDownBytes: 0 };
  const tt = GGML_TYPES[ROW_TYPE_ID[rowType]]!;
  if (info.nEmbd % tt.blockElems || (info.nEmbd / tt.blockElems) * tt.blockBytes !== info.rowBytes) throw new BitflashFormatError(`${f.path}: flash row bytes do not match ${rowType} x ${info.nEmbd}`);
  if (info.bundleBytes % FLASH_ALIGN || info.bundleBytes < 3 * info.rowBytes) throw new BitflashFormatError(`${f.path}: flash bundle size ${info.bundleBytes} invalid`);
  if (f.alignment % FLASH_ALIGN) throw new BitflashFormatError(`${f.path}: a flash layout needs general.alignment to be a multiple of ${FLASH_ALIGN}`);
  info.upDownBytes = Math.min(info.bundleBytes, Math.ceil((2 * info.rowBytes) / FLASH_ALIGN) * FLASH_ALIGN);
  return info;
}

export function f32Of(f: GGUFFile, t: GGUFTensorInfo): Float32Array {
  const raw = readTensorData(f, t);
  const k = t.dims[0]!;
  if (t.typeName === 'f32') return new Float32Array(raw.buffer, raw.byteOffset, t.elements);
  if (t.typeName === 'f16') {
    const h = new Uint16Array(raw.buffer, raw.byteOffset, t.elements);
    const out = new Float32Array(t.elements);
    const f32 = new Float32Array(1), u = new Uint32Array(f32.buffer);
    for (let i = 0; i < h.length; i++) {
      const x = h[i]!, e = (x >> 10) & 0x1f, m = x & 0x3ff, s = x & 0x8000 ? -1 : 1;
      out[i] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
    }
    void u;
    return out;
  }
  if (t.typeName === 'q8_0' || t.typeName === 'q4_0' || t.typeName === 'q4_K') return dequantizeSync(QTensor.fromGGUF(t.typeName, raw, [t.elements / k, k]));
  throw new BitflashUnsupportedError(`${f.path}: cannot bundle ${t.name} of type ${t.typeName}`);
}

function encodeRows(x: Float32Array, rows: number, k: number, type: FlashRowType): Uint8Array {
  if (type === 'f32') return new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
  if (type === 'f16') {
    const out = new Uint16Array(x.length);
    const f = new Float32Array(1), u = new Uint32Array(f.buffer);
    for (let i = 0; i < x.length; i++) {
      f[0] = x[i]!;
      const b = u[0]!, sign = (b >>> 16) & 0x8000, ax = b & 0x7fffffff;
      let r: number;
      if (ax >= 0x477ff000) r = sign | 0x7c00;
      else if (ax < 0x38800000) {
        const q = Math.abs(f[0]!) / 2 ** -24;
        let n = Math.floor(q);
        const fr = q - n;
        if (fr > 0.5 || (fr === 0.5 && n % 2)) n++;
        r = sign | n;
      } else {
        let m = ax - 0x38000000;
        const rem = m & 0x1fff;
        m >>>= 13;
        if (rem > 0x1000 || (rem === 0x1000 && m & 1)) m++;
        r = sign | m;
      }
      out[i] = r;
    }
    return new Uint8Array(out.buffer);
  }
  if (type === 'q8_0') return quantizeBlocksSync(x, 'q8_0');
  using q = quantizeSync(x, { dtype: 'q4_0', shape: [rows, k] });
  return q.data.slice();
}

export interface FlashConvertReport {
  layers: number;
  bundleBytes: number;
  rowType: FlashRowType;
  /** Max |down column (requantized) - down column (source)| over all layers, and the source's max |value|. */
  downMaxAbsErr: number;
  downMaxAbs: number;
  bytesOut: number;
}

/** Writes the flash layout of a Llama-family GGUF. rowType defaults to q8_0 when n_embd allows. */
export function convertFlash(input: GGUFFile, output: string, opts: { rowType?: FlashRowType; onTensor?: (i: number, total: number, name: string) => void } = {}): FlashConvertReport {
  const hp = llamaHParams(input);
  const E = hp.nEmbd, F = hp.nFf;
  const rowType = opts.rowType ?? (E % 32 === 0 ? 'q8_0' : 'f32');
  const tt = GGML_TYPES[ROW_TYPE_ID[rowType]]!;
  if (E % tt.blockElems) throw new RangeError(`convert --flash: n_embd ${E} is not a multiple of the ${rowType} block (${tt.blockElems})`);
  const rowBytes = (E / tt.blockElems) * tt.blockBytes;
  const bundleBytes = Math.ceil((3 * rowBytes) / FLASH_ALIGN) * FLASH_ALIGN;
  const byName = new Map(input.tensors.map((t) => [t.name, t]));
  const report: FlashConvertReport = { layers: hp.nLayers, bundleBytes, rowType, downMaxAbsErr: 0, downMaxAbs: 0, bytesOut: 0 };
  const tensors: WriteTensor[] = [];
  for (const t of input.tensors) {
    if (/^blk\.\d+\.ffn_(up|down)\.weight$/.test(t.name)) continue;
    tensors.push({ name: t.name, dims: t.dims, type: t.type, bytes: t.bytes, data: () => readTensorData(input, t) });
    const m = /^blk\.(\d+)\.ffn_gate\.weight$/.exec(t.name);
    if (!m) continue;
    const l = Number(m[1]);
    const up = byName.get(`blk.${l}.ffn_up.weight`), down = byName.get(`blk.${l}.ffn_down.weight`);
    if (!up || !down) throw new BitflashFormatError(`${input.path}: layer ${l} lacks ffn_up or ffn_down`);
    if (t.dims[0] !== E || t.dims[1] !== F || up.dims[0] !== E || up.dims[1] !== F || down.dims[0] !== F || down.dims[1] !== E) {
      throw new BitflashFormatError(`${input.path}: layer ${l} FFN shapes are not [${F}, ${E}] / [${E}, ${F}]`);
    }
    tensors.push({
      name: `blk.${l}.ffn_bundles`,
      dims: [bundleBytes, F],
      type: 24, // i8: opaque bytes
      bytes: bundleBytes * F,
      data: () => {
        const g = f32Of(input, t), u = f32Of(input, up), d = f32Of(input, down);
        // down is [E rows of F]: column i gathered into a row of E values
        const dT = new Float32Array(F * E);
        for (let r = 0; r < E; r++) for (let i = 0; i < F; i++) dT[i * E + r] = d[r * F + i]!;
        const ur = encodeRows(u, F, E, rowType), dr = encodeRows(dT, F, E, rowType), gr = encodeRows(g, F, E, rowType);
        // measure what requantizing the down columns cost
        const back = rowType === 'f32' ? dT : decodeRows(dr, F, E, rowType);
        for (let i = 0; i < dT.length; i++) {
          report.downMaxAbsErr = Math.max(report.downMaxAbsErr, Math.abs(back[i]! - dT[i]!));
          report.downMaxAbs = Math.max(report.downMaxAbs, Math.abs(dT[i]!));
        }
        const out = new Uint8Array(bundleBytes * F);
        for (let i = 0; i < F; i++) {
          out.set(ur.subarray(i * rowBytes, (i + 1) * rowBytes), i * bundleBytes);
          out.set(dr.subarray(i * rowBytes, (i + 1) * rowBytes), i * bundleBytes + rowBytes);
          out.set(gr.subarray(i * rowBytes, (i + 1) * rowBytes), i * bundleBytes + 2 * rowBytes);
        }
        return out;
      },
    });
  }
  const meta: WriteMeta[] = [];
  for (const [key, value] of input.metadata) {
    if (key === 'general.alignment' || key.startsWith('bitflash.flash.')) continue;
    const ty = input.metadataTypes.get(key)!;
    meta.push({ key, type: ty.type, ...(ty.elemType !== undefined ? { elemType: ty.elemType } : {}), value });
  }
  const u32 = (key: string, value: number): WriteMeta => ({ key, type: GGUFValueType.UINT32, value });
  meta.push(u32('general.alignment', FLASH_ALIGN), u32('bitflash.flash.version', 1), u32('bitflash.flash.bundle_bytes', bundleBytes),
    u32('bitflash.flash.row_bytes', rowBytes), u32('bitflash.flash.n_ff', F), u32('bitflash.flash.n_embd', E),
    { key: 'bitflash.flash.row_type', type: GGUFValueType.STRING, value: rowType },
    { key: 'bitflash.flash.order', type: GGUFValueType.STRING, value: 'up,down,gate' });
  report.bytesOut = tensors.reduce((a, t) => a + t.bytes, 0);
  writeGGUF(output, meta, tensors, { alignment: FLASH_ALIGN, onTensor: (i, t) => opts.onTensor?.(i, tensors.length, t.name) });
  return report;
}

export function decodeRows(b: Uint8Array, rows: number, k: number, type: FlashRowType): Float32Array {
  if (type === 'f32') return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + rows * k * 4));
  if (type === 'f16') {
    const h = new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + rows * k * 2));
    return Float32Array.from(h, (x) => {
      const e = (x >> 10) & 0x1f, m = x & 0x3ff, s = x & 0x8000 ? -1 : 1;
      return e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
    });
  }
  return dequantizeSync(QTensor.fromGGUF(type, b, [rows, k]));
}
