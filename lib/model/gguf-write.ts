/**
 * GGUF writer (version 3) and the quantizing converter behind `bitflash convert`.
 * Files are written atomically: a temporary file beside the target (`.<name>.tmp-<pid>`), fsync,
 * rename, fsync of the folder, so a crash leaves either no output or a complete one. A writer killed
 * outright (SIGKILL, power loss) can leave its temporary file behind: the next write to the same
 * target removes every such file whose writer process is gone.
 */
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { BitflashIOError, BitflashUnsupportedError } from '../errors.js';
import { quantizeBlocksSync } from '../ops/quantize-blocks.js';
import { dequantizeSync, quantizeSync } from '../ops/quantize.js';
import { QTensor } from '../tensor.js';
import { GGML_TYPES, GGUFValueType, type GGUFFile, type GGUFValue, readTensorData } from './gguf.js';
import { pwriteFull } from '../fileio.js';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files that killed writers of `file` left beside it (their pid no longer
 * runs); returns their names. A live writer's temporary file is never touched.
 */
export function removeStaleTempFiles(file: string): string[] {
  const dir = path.dirname(path.resolve(file));
  const prefix = `.${path.basename(file)}.tmp-`;
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const pid = Number(n.slice(prefix.length));
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || pidAlive(pid)) continue;
    rmSync(path.join(dir, n), { force: true });
    removed.push(n);
  }
  return removed;
}

export interface WriteTensor {
  name: string;
  /** ggml order: dims[0] is the row length. */
  dims: number[];
  /** ggml type id. */
  type: number;
  bytes: number;
  /** Produces the data when it is written (tensors are streamed one at a time). */
  data: () => Uint8Array;
}

export interface WriteMeta {
  key: string;
  type: GGUFValueType;
  elemType?: GGUFValueType;
  value: GGUFValue;
}

class Out {
  private readonly chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(v: number): void { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
  u64(v: number | bigint): void { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  str(s: string): void { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.push(b); }
  scalar(t: GGUFValueType, v: GGUFValue): void {
    const b = Buffer.alloc(8);
    switch (t) {
      case GGUFValueType.UINT8: b.writeUInt8(Number(v)); this.push(b.subarray(0, 1)); break;
      case GGUFValueType.INT8: b.writeInt8(Number(v)); this.push(b.subarray(0, 1)); break;
      case GGUFValueType.UINT16: b.writeUInt16LE(Number(v)); this.push(b.subarray(0, 2)); break;
      case GGUFValueType.INT16: b.writeInt16LE(Number(v)); this.push(b.subarray(0, 2)); break;
      case GGUFValueType.UINT32: b.writeUInt32LE(Number(v)); this.push(b.subarray(0, 4)); break;
      case GGUFValueType.INT32: b.writeInt32LE(Number(v)); this.push(b.subarray(0, 4)); break;
      case GGUFValueType.FLOAT32: b.writeFloatLE(Number(v)); this.push(b.subarray(0, 4)); break;
      case GGUFValueType.BOOL: b.writeUInt8(v ? 1 : 0); this.push(b.subarray(0, 1)); break;
      case GGUFValueType.STRING: this.str(String(v)); break;
      case GGUFValueType.UINT64: b.writeBigUInt64LE(BigInt(v as number | bigint)); this.push(b); break;
      case GGUFValueType.INT64: b.writeBigInt64LE(BigInt(v as number | bigint)); this.push(b); break;
      case GGUFValueType.FLOAT64: b.writeDoubleLE(Number(v)); this.push(b); break;
      default: throw new RangeError(`writeGGUF: cannot write value type ${t}`);
    }
  }
  value(m: { type: GGUFValueType; elemType?: GGUFValueType; value: GGUFValue }): void {
    this.u32(m.type);
    if (m.type !== GGUFValueType.ARRAY) {
      this.scalar(m.type, m.value);
      return;
    }
    const arr = m.value as ArrayLike<GGUFValue>;
    const et = m.elemType ?? GGUFValueType.STRING;
    if (et === GGUFValueType.ARRAY) throw new RangeError('writeGGUF: nested arrays are not supported');
    this.u32(et);
    this.u64(arr.length);
    for (let i = 0; i < arr.length; i++) this.scalar(et, arr[i]!);
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

/** Writes a GGUF v3 file atomically. `onTensor` reports progress after each tensor. */
export function writeGGUF(file: string, meta: WriteMeta[], tensors: WriteTensor[], opts: { alignment?: number; onTensor?: (i: number, t: WriteTensor) => void } = {}): void {
  const alignment = opts.alignment ?? 32;
  const h = new Out();
  h.u32(0x46554747);
  h.u32(3);
  h.u64(tensors.length);
  h.u64(meta.length);
  for (const m of meta) {
    h.str(m.key);
    h.value(m);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    const tt = GGML_TYPES[t.type];
    if (!tt) throw new RangeError(`writeGGUF: unknown ggml type ${t.type} for ${t.name}`);
    const elements = t.dims.reduce((a, b) => a * b, 1);
    if ((elements / tt.blockElems) * tt.blockBytes !== t.bytes) throw new RangeError(`writeGGUF: ${t.name} has ${t.bytes} bytes, ${tt.name} ${t.dims.join('x')} needs ${(elements / tt.blockElems) * tt.blockBytes}`);
    h.str(t.name);
    h.u32(t.dims.length);
    for (const d of t.dims) h.u64(d);
    h.u32(t.type);
    h.u64(offset);
    offsets.push(offset);
    offset += Math.ceil(t.bytes / alignment) * alignment;
  }
  const header = h.bytes();
  const dataStart = Math.ceil(header.length / alignment) * alignment;
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.tmp-${process.pid}`);
  removeStaleTempFiles(file);
  let fd: number;
  try {
    fd = openSync(tmp, 'w', 0o644);
  } catch (e) {
    throw new BitflashIOError(`${file}: cannot create (${(e as Error).message})`, { cause: e });
  }
  try {
    const writeAll = (b: Uint8Array, pos: number) => pwriteFull(fd, tmp, b, pos);
    writeAll(header, 0);
    writeAll(new Uint8Array(dataStart - header.length), header.length);
    tensors.forEach((t, i) => {
      const d = t.data();
      if (d.byteLength !== t.bytes) throw new RangeError(`writeGGUF: ${t.name} produced ${d.byteLength} bytes, expected ${t.bytes}`);
      writeAll(d, dataStart + offsets[i]!);
      const pad = Math.ceil(t.bytes / alignment) * alignment - t.bytes;
      if (pad) writeAll(new Uint8Array(pad), dataStart + offsets[i]! + t.bytes);
      opts.onTensor?.(i, t);
    });
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, file);
    const dfd = openSync(path.dirname(path.resolve(file)), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch (e) {
    try { closeSync(fd); } catch { /* already closed */ }
    rmSync(tmp, { force: true });
    throw e instanceof Error && 'code' in e && typeof (e as { code: unknown }).code === 'string' && (e as { code: string }).code.startsWith('ERR_BITFLASH') ? e : new BitflashIOError(`${file}: write failed (${(e as Error).message})`, { cause: e });
  }
}

export const CONVERT_TYPES = ['f16', 'q8_0', 'q4_0'] as const;
export type ConvertType = (typeof CONVERT_TYPES)[number];
const TYPE_ID: Record<ConvertType, number> = { f16: 1, q8_0: 8, q4_0: 2 };
// llama.cpp's general.file_type (llama_ftype) for each target.
const FTYPE: Record<ConvertType, number> = { f16: 1, q8_0: 7, q4_0: 2 };

export interface ConvertReport {
  converted: string[];
  kept: { name: string; type: string; why: string }[];
  bytesIn: number;
  bytesOut: number;
}

function toF32(f: GGUFFile, t: GGUFFile['tensors'][number]): Float32Array {
  const raw = readTensorData(f, t);
  const k = t.dims[0]!;
  const n = t.elements / k;
  switch (t.typeName) {
    case 'f32': return new Float32Array(raw.buffer, raw.byteOffset, t.elements);
    case 'f16': {
      const h = new Uint16Array(raw.buffer, raw.byteOffset, t.elements);
      const out = new Float32Array(t.elements);
      for (let i = 0; i < h.length; i++) out[i] = halfToFloat(h[i]!);
      return out;
    }
    case 'q8_0': case 'q4_0': case 'q4_K':
      return dequantizeSync(QTensor.fromGGUF(t.typeName, raw, [n, k]));
    default:
      throw new BitflashUnsupportedError(`${t.name}: cannot requantize from ${t.typeName}`);
  }
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function floatToHalfBits(x: number): number {
  // round to nearest even through Math.fround-free integer arithmetic on the f32 bits
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000, ax = u & 0x7fffffff;
  if (ax >= 0x7f800000) return sign | 0x7c00 | (ax > 0x7f800000 ? 0x200 : 0);
  if (ax >= 0x477ff000) return sign | 0x7c00;
  if (ax < 0x38800000) {
    if (ax < 0x33000000) return sign;
    const e = ax >>> 23, m = (ax & 0x7fffff) | 0x800000, shift = 126 - e;
    let q = m >>> shift;
    const rem = m & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && q & 1)) q++;
    return sign | q;
  }
  let r = ax - 0x38000000;
  const rem = r & 0x1fff;
  r >>>= 13;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) r++;
  return sign | r;
}

/**
 * Requantizes the 2-D weight tensors of a GGUF file to `type`; 1-D tensors (norms, biases) and
 * tensors whose rows do not fit the target block stay as they are, and the report says why.
 */
export function convertGGUF(input: GGUFFile, output: string, type: ConvertType, onTensor?: (i: number, total: number, name: string) => void): ConvertReport {
  if (!(CONVERT_TYPES as readonly string[]).includes(type)) throw new RangeError(`convert: type must be one of ${CONVERT_TYPES.join(' | ')}, received ${String(type)}`);
  const target = GGML_TYPES[TYPE_ID[type]]!;
  const report: ConvertReport = { converted: [], kept: [], bytesIn: 0, bytesOut: 0 };
  const tensors: WriteTensor[] = input.tensors.map((t) => {
    report.bytesIn += t.bytes;
    const k = t.dims[0]!;
    let why = '';
    if (t.dims.length < 2) why = '1-D tensor (norm or bias) stays unquantized';
    else if (k % target.blockElems !== 0) why = `row length ${k} is not a multiple of ${target.blockElems}`;
    else if (t.typeName === type) why = `already ${type}`;
    else if (!['f32', 'f16', 'q8_0', 'q4_0', 'q4_K'].includes(t.typeName)) why = `cannot requantize from ${t.typeName}`;
    if (why) {
      report.kept.push({ name: t.name, type: t.typeName, why });
      report.bytesOut += t.bytes;
      return { name: t.name, dims: t.dims, type: t.type, bytes: t.bytes, data: () => readTensorData(input, t) };
    }
    const bytes = (t.elements / target.blockElems) * target.blockBytes;
    report.converted.push(t.name);
    report.bytesOut += bytes;
    return {
      name: t.name,
      dims: t.dims,
      type: TYPE_ID[type],
      bytes,
      data: () => {
        const x = toF32(input, t);
        if (type === 'f16') {
          const out = new Uint16Array(x.length);
          for (let i = 0; i < x.length; i++) out[i] = floatToHalfBits(x[i]!);
          return new Uint8Array(out.buffer);
        }
        if (type === 'q8_0') return quantizeBlocksSync(x, 'q8_0');
        using q = quantizeSync(x, { dtype: 'q4_0', shape: [t.elements / k, k] });
        return q.data.slice();
      },
    };
  });
  const meta: WriteMeta[] = [];
  for (const [key, value] of input.metadata) {
    const ty = input.metadataTypes.get(key)!;
    if (key === 'general.file_type') continue;
    meta.push({ key, type: ty.type, ...(ty.elemType !== undefined ? { elemType: ty.elemType } : {}), value });
  }
  meta.push({ key: 'general.file_type', type: GGUFValueType.UINT32, value: FTYPE[type] });
  writeGGUF(output, meta, tensors, { alignment: input.alignment, onTensor: (i, t) => onTensor?.(i, tensors.length, t.name) });
  return report;
}
