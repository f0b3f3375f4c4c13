/**
 * GGUF reader (versions 2 and 3): metadata, tensor infos, tensor data by pread.
 *
 * Written here rather than taken from @huggingface/gguf because every failure must be a
 * BitflashFormatError carrying the offending byte offset, and no count or length read from the
 * file may drive an allocation before it is checked against the bytes actually left in the file
 * (a 2^60-element array header must fail at once, not try to allocate). That library reports
 * neither offsets nor bounds failures of this kind.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';
import { BitflashError, BitflashFormatError, BitflashIOError, BitflashUnsupportedError } from '../errors.js';
import { preadFull } from '../fileio.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian

export enum GGUFValueType {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
}

/** ggml tensor types: name, elements per block, bytes per block. */
export const GGML_TYPES: Record<number, { name: string; blockElems: number; blockBytes: number }> = {
  0: { name: 'f32', blockElems: 1, blockBytes: 4 },
  1: { name: 'f16', blockElems: 1, blockBytes: 2 },
  2: { name: 'q4_0', blockElems: 32, blockBytes: 18 },
  3: { name: 'q4_1', blockElems: 32, blockBytes: 20 },
  6: { name: 'q5_0', blockElems: 32, blockBytes: 22 },
  7: { name: 'q5_1', blockElems: 32, blockBytes: 24 },
  8: { name: 'q8_0', blockElems: 32, blockBytes: 34 },
  9: { name: 'q8_1', blockElems: 32, blockBytes: 36 },
  10: { name: 'q2_K', blockElems: 256, blockBytes: 84 },
  11: { name: 'q3_K', blockElems: 256, blockBytes: 110 },
  12: { name: 'q4_K', blockElems: 256, blockBytes: 144 },
  13: { name: 'q5_K', blockElems: 256, blockBytes: 176 },
  14: { name: 'q6_K', blockElems: 256, blockBytes: 210 },
  15: { name: 'q8_K', blockElems: 256, blockBytes: 292 },
  16: { name: 'iq2_xxs', blockElems: 256, blockBytes: 66 },
  17: { name: 'iq2_xs', blockElems: 256, blockBytes: 74 },
  18: { name: 'iq3_xxs', blockElems: 256, blockBytes: 98 },
  19: { name: 'iq1_s', blockElems: 256, blockBytes: 50 },
  20: { name: 'iq4_nl', blockElems: 32, blockBytes: 18 },
  21: { name: 'iq3_s', blockElems: 256, blockBytes: 110 },
  22: { name: 'iq2_s', blockElems: 256, blockBytes: 82 },
  23: { name: 'iq4_xs', blockElems: 256, blockBytes: 136 },
  24: { name: 'i8', blockElems: 1, blockBytes: 1 },
  25: { name: 'i16', blockElems: 1, blockBytes: 2 },
  26: { name: 'i32', blockElems: 1, blockBytes: 4 },
  27: { name: 'i64', blockElems: 1, blockBytes: 8 },
  28: { name: 'f64', blockElems: 1, blockBytes: 8 },
  29: { name: 'iq1_m', blockElems: 256, blockBytes: 56 },
  30: { name: 'bf16', blockElems: 1, blockBytes: 2 },
  34: { name: 'tq1_0', blockElems: 256, blockBytes: 54 },
  35: { name: 'tq2_0', blockElems: 256, blockBytes: 66 },
};

export type GGUFValue = number | bigint | boolean | string | GGUFValue[] | Float32Array | Int32Array | Uint32Array;

export interface GGUFTensorInfo {
  name: string;
  /** ggml order: dims[0] is the row length (fastest varying). */
  dims: number[];
  type: number;
  typeName: string;
  /** Offset relative to the start of the data section. */
  offset: number;
  /** Absolute file offset of the data. */
  fileOffset: number;
  elements: number;
  bytes: number;
}

export interface GGUFFile {
  path: string;
  version: number;
  size: number;
  alignment: number;
  dataOffset: number;
  metadata: Map<string, GGUFValue>;
  /** The stored type of each metadata value (and of array elements), so a writer can keep them. */
  metadataTypes: Map<string, { type: GGUFValueType; elemType?: GGUFValueType }>;
  tensors: GGUFTensorInfo[];
  /** Device and inode of the file that was parsed: tensor reads check they still read that file. */
  identity?: { dev: number; ino: number };
}

/** A failed read or stat (EIO, ...) as a BitflashIOError naming the file; BitflashErrors pass through. */
function ioError(path: string, what: string, e: unknown): unknown {
  if (e instanceof BitflashError || !(e instanceof Error) || typeof (e as NodeJS.ErrnoException).code !== 'string') return e;
  return new BitflashIOError(`${path}: ${what} failed (${e.message})`, { cause: e });
}

const MAX_DIMS = 4;
const MAX_STRING = 1 << 30;

/** Positional reads from the bytes being parsed: a file descriptor, or an in-memory buffer. */
interface ByteSource {
  readonly size: number;
  /** The file's device and inode (readTensorData checks it is still the same file). */
  readonly identity?: { dev: number; ino: number };
  /** Copies up to `len` bytes at `pos` into dst[off..]; returns the count (0 at the end). */
  read(dst: Uint8Array, off: number, len: number, pos: number): number;
}

function fdSource(fd: number, path: string): ByteSource {
  const st = fstatSync(fd);
  // preadFull: the I/O fault seam of lib/fileio.ts, EINTR and short reads retried
  return { size: st.size, identity: { dev: st.dev, ino: st.ino }, read: (dst, off, len, pos) => preadFull(fd, path, dst, off, len, pos) };
}

function bufferSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.byteLength,
    read: (dst, off, len, pos) => {
      const n = Math.max(0, Math.min(len, bytes.byteLength - pos));
      dst.set(bytes.subarray(pos, pos + n), off);
      return n;
    },
  };
}

/** Buffered little-endian reader over a byte source, with every read bounds-checked against its size. */
class Reader {
  private buf = Buffer.alloc(0);
  private bufStart = 0; // file offset of buf[0]
  pos = 0;
  /** When set, the offset of every field read is appended (tests truncate the file there). */
  trace: number[] | undefined;
  readonly size: number;
  constructor(private readonly src: ByteSource, private readonly path: string) {
    this.size = src.size;
  }

  fail(msg: string, at = this.pos): never {
    throw new BitflashFormatError(`${this.path}: ${msg} at offset ${at}`, { offset: at });
  }

  private ensure(n: number, what: string): number {
    this.trace?.push(this.pos);
    if (n > this.size - this.pos) this.fail(`truncated: ${what} needs ${n} bytes, ${this.size - this.pos} left`);
    const rel = this.pos - this.bufStart;
    if (rel >= 0 && rel + n <= this.buf.length) return rel;
    const want = Math.min(Math.max(n, 1 << 20), this.size - this.pos);
    this.buf = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const r = this.src.read(this.buf, got, want - got, this.pos + got);
      if (r === 0) this.fail('unexpected end of file');
      got += r;
    }
    this.bufStart = this.pos;
    return 0;
  }

  u8(what: string): number { const o = this.ensure(1, what); this.pos += 1; return this.buf.readUInt8(o); }
  i8(what: string): number { const o = this.ensure(1, what); this.pos += 1; return this.buf.readInt8(o); }
  u16(what: string): number { const o = this.ensure(2, what); this.pos += 2; return this.buf.readUInt16LE(o); }
  i16(what: string): number { const o = this.ensure(2, what); this.pos += 2; return this.buf.readInt16LE(o); }
  u32(what: string): number { const o = this.ensure(4, what); this.pos += 4; return this.buf.readUInt32LE(o); }
  i32(what: string): number { const o = this.ensure(4, what); this.pos += 4; return this.buf.readInt32LE(o); }
  f32(what: string): number { const o = this.ensure(4, what); this.pos += 4; return this.buf.readFloatLE(o); }
  f64(what: string): number { const o = this.ensure(8, what); this.pos += 8; return this.buf.readDoubleLE(o); }
  u64big(what: string): bigint { const o = this.ensure(8, what); this.pos += 8; return this.buf.readBigUInt64LE(o); }
  i64big(what: string): bigint { const o = this.ensure(8, what); this.pos += 8; return this.buf.readBigInt64LE(o); }

  /** A u64 that must fit in a safe integer and not exceed `max`. */
  count(what: string, max: number): number {
    const at = this.pos;
    const v = this.u64big(what);
    if (v > BigInt(max)) this.fail(`${what} ${v} exceeds the limit ${max}`, at);
    return Number(v);
  }

  str(what: string): string {
    const at = this.pos;
    const n = this.count(`${what} length`, Math.min(MAX_STRING, this.size - this.pos - 8));
    if (n === 0) return '';
    const o = this.ensure(n, what);
    this.pos += n;
    const s = this.buf.subarray(o, o + n);
    void at;
    return s.toString('utf8');
  }

  /** Fills `out` with `n` raw bytes. */
  bytes(n: number, what: string): Buffer {
    const o = this.ensure(n, what);
    this.pos += n;
    return this.buf.subarray(o, o + n);
  }
}

const SCALAR_SIZE: Partial<Record<GGUFValueType, number>> = {
  [GGUFValueType.UINT8]: 1, [GGUFValueType.INT8]: 1, [GGUFValueType.UINT16]: 2, [GGUFValueType.INT16]: 2,
  [GGUFValueType.UINT32]: 4, [GGUFValueType.INT32]: 4, [GGUFValueType.FLOAT32]: 4, [GGUFValueType.BOOL]: 1,
  [GGUFValueType.UINT64]: 8, [GGUFValueType.INT64]: 8, [GGUFValueType.FLOAT64]: 8,
};

function readScalar(r: Reader, t: GGUFValueType, what: string): GGUFValue {
  switch (t) {
    case GGUFValueType.UINT8: return r.u8(what);
    case GGUFValueType.INT8: return r.i8(what);
    case GGUFValueType.UINT16: return r.u16(what);
    case GGUFValueType.INT16: return r.i16(what);
    case GGUFValueType.UINT32: return r.u32(what);
    case GGUFValueType.INT32: return r.i32(what);
    case GGUFValueType.FLOAT32: return r.f32(what);
    case GGUFValueType.BOOL: {
      const at = r.pos;
      const b = r.u8(what);
      if (b > 1) r.fail(`${what}: bool value ${b} is neither 0 nor 1`, at);
      return b === 1;
    }
    case GGUFValueType.STRING: return r.str(what);
    case GGUFValueType.UINT64: { const v = r.u64big(what); return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v; }
    case GGUFValueType.INT64: { const v = r.i64big(what); return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v; }
    case GGUFValueType.FLOAT64: return r.f64(what);
    default: return r.fail(`${what}: unknown value type ${t}`, r.pos - 4);
  }
}

function readValue(r: Reader, t: GGUFValueType, what: string, depth: number): GGUFValue {
  if (t !== GGUFValueType.ARRAY) return readScalar(r, t, what);
  if (depth > 2) r.fail(`${what}: arrays nested too deep`);
  const tAt = r.pos;
  const et = r.u32(`${what} array type`) as GGUFValueType;
  if (!(et in GGUFValueType)) r.fail(`${what}: unknown array element type ${et}`, tAt);
  // Every element takes at least one byte (strings 8): a count beyond the bytes left is corrupt.
  const minSize = et === GGUFValueType.STRING ? 8 : et === GGUFValueType.ARRAY ? 12 : SCALAR_SIZE[et]!;
  const n = r.count(`${what} array length`, Math.floor((r.size - r.pos - 8) / minSize));
  if (et === GGUFValueType.FLOAT32) {
    const b = r.bytes(n * 4, what);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = b.readFloatLE(i * 4);
    return out;
  }
  if (et === GGUFValueType.INT32 || et === GGUFValueType.UINT32) {
    const b = r.bytes(n * 4, what);
    const out = et === GGUFValueType.INT32 ? new Int32Array(n) : new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = et === GGUFValueType.INT32 ? b.readInt32LE(i * 4) : b.readUInt32LE(i * 4);
    return out;
  }
  const out: GGUFValue[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = readValue(r, et, what, depth + 1);
  return out;
}

/** Parses the header, metadata and tensor infos of a GGUF file and validates every tensor's extent. */
export function readGGUF(path: string, opts: { trace?: number[] } = {}): GGUFFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new BitflashIOError(`${path}: cannot open (${(e as Error).message})`, { cause: e });
  }
  try {
    return parseGGUFSource(fdSource(fd, path), path, opts);
  } catch (e) {
    throw ioError(path, 'read', e);
  } finally {
    closeSync(fd);
  }
}

/**
 * Parses GGUF bytes already in memory (the fuzz harness's entry point; `name` stands in for the
 * path in messages and in the result). Same checks and errors as readGGUF.
 */
export function parseGGUF(bytes: Uint8Array, name = '<buffer>', opts: { trace?: number[] } = {}): GGUFFile {
  return parseGGUFSource(bufferSource(bytes), name, opts);
}

function parseGGUFSource(src: ByteSource, path: string, opts: { trace?: number[] }): GGUFFile {
  {
    const size = src.size;
    const r: Reader = new Reader(src, path);
    r.trace = opts.trace;
    const magic = r.u32('magic');
    if (magic !== GGUF_MAGIC) r.fail(`not a GGUF file (magic 0x${magic.toString(16).padStart(8, '0')})`, 0);
    const version = r.u32('version');
    if (version !== 2 && version !== 3) {
      if (version === 1) throw new BitflashUnsupportedError(`${path}: GGUF version 1 is not supported (re-convert with a current llama.cpp)`);
      r.fail(`unknown GGUF version ${version}`, 4);
    }
    // Each tensor info takes >= 8+4+8+4+8 bytes, each kv >= 8+4+1.
    const nTensors = r.count('tensor count', Math.floor((size - r.pos) / 32));
    const nKV = r.count('metadata count', Math.floor((size - r.pos) / 13));
    const metadata = new Map<string, GGUFValue>();
    const metadataTypes = new Map<string, { type: GGUFValueType; elemType?: GGUFValueType }>();
    for (let i = 0; i < nKV; i++) {
      const key = r.str(`metadata key ${i}`);
      const tAt = r.pos;
      const t = r.u32(`type of ${key}`) as GGUFValueType;
      if (!(t in GGUFValueType)) r.fail(`metadata ${JSON.stringify(key)}: unknown value type ${t}`, tAt);
      if (metadata.has(key)) r.fail(`duplicate metadata key ${JSON.stringify(key)}`, tAt);
      const elemAt = r.pos;
      metadata.set(key, readValue(r, t, `metadata ${JSON.stringify(key)}`, 0));
      if (t === GGUFValueType.ARRAY) {
        // the element type is the u32 right after the value type
        const b = Buffer.alloc(4);
        if (src.read(b, 0, 4, elemAt) < 4) r.fail('unexpected end of file', elemAt);
        metadataTypes.set(key, { type: t, elemType: b.readUInt32LE(0) as GGUFValueType });
      } else {
        metadataTypes.set(key, { type: t });
      }
    }
    const alignV = metadata.get('general.alignment') ?? 32;
    // Number.isInteger: a FLOAT32 0.5 or 1.5 passes the bit test, and would give fractional offsets.
    if (typeof alignV !== 'number' || !Number.isInteger(alignV) || alignV <= 0 || (alignV & (alignV - 1)) !== 0 || alignV > 1 << 20) {
      r.fail(`general.alignment must be a power of two, received ${String(alignV)}`, 0);
    }
    const alignment = alignV as number;
    const tensors: GGUFTensorInfo[] = [];
    const names = new Set<string>();
    for (let i = 0; i < nTensors; i++) {
      const at = r.pos;
      const name = r.str(`tensor ${i} name`);
      if (names.has(name)) r.fail(`duplicate tensor name ${JSON.stringify(name)}`, at);
      names.add(name);
      const ndAt = r.pos;
      const nd = r.u32(`tensor ${name} n_dims`);
      if (nd < 1 || nd > MAX_DIMS) r.fail(`tensor ${JSON.stringify(name)}: n_dims ${nd} not in 1..${MAX_DIMS}`, ndAt);
      const dims: number[] = [];
      let elements = 1;
      for (let d = 0; d < nd; d++) {
        const dAt = r.pos;
        const v = r.count(`tensor ${name} dim ${d}`, Number.MAX_SAFE_INTEGER);
        if (v === 0) r.fail(`tensor ${JSON.stringify(name)}: dimension ${d} is 0`, dAt);
        elements *= v;
        if (elements > Number.MAX_SAFE_INTEGER) r.fail(`tensor ${JSON.stringify(name)}: element count overflows`, dAt);
        dims.push(v);
      }
      const tAt = r.pos;
      const type = r.u32(`tensor ${name} type`);
      const tt = GGML_TYPES[type];
      if (!tt) r.fail(`tensor ${JSON.stringify(name)}: unknown ggml type ${type}`, tAt);
      if (dims[0]! % tt.blockElems !== 0) r.fail(`tensor ${JSON.stringify(name)}: row length ${dims[0]} is not a multiple of the ${tt.name} block (${tt.blockElems})`, ndAt + 4);
      const oAt = r.pos;
      const offset = r.count(`tensor ${name} offset`, Number.MAX_SAFE_INTEGER);
      if (offset % alignment !== 0) r.fail(`tensor ${JSON.stringify(name)}: offset ${offset} is not aligned to ${alignment}`, oAt);
      const bytes = (elements / tt.blockElems) * tt.blockBytes;
      tensors.push({ name, dims, type, typeName: tt.name, offset, fileOffset: 0, elements, bytes });
      void oAt;
    }
    const dataOffset = Math.ceil(r.pos / alignment) * alignment;
    for (const t of tensors) {
      t.fileOffset = dataOffset + t.offset;
      if (t.fileOffset + t.bytes > size) {
        r.fail(`tensor ${JSON.stringify(t.name)}: data [${t.fileOffset}, ${t.fileOffset + t.bytes}) extends past the end of the file (${size} bytes)`, t.fileOffset);
      }
    }
    return { path, version, size, alignment, dataOffset, metadata, metadataTypes, tensors, ...(src.identity ? { identity: src.identity } : {}) };
  }
}

/** Reads one tensor's bytes with pread into a fresh (or the given) buffer. */
export function readTensorData(file: GGUFFile, t: GGUFTensorInfo, out?: Uint8Array): Uint8Array {
  const dst = out ?? new Uint8Array(t.bytes);
  if (dst.byteLength !== t.bytes) throw new RangeError(`readTensorData: out must be ${t.bytes} bytes, received ${dst.byteLength}`);
  let fd: number;
  try {
    fd = openSync(file.path, 'r');
  } catch (e) {
    throw new BitflashIOError(`${file.path}: cannot open (${(e as Error).message})`, { cause: e });
  }
  try {
    // The header was checked against the file's size when it was parsed: a different file under the
    // path now, or a shorter one, was replaced or truncated since (an I/O fault, not a format error).
    const st = fstatSync(fd);
    if (file.identity && (st.dev !== file.identity.dev || st.ino !== file.identity.ino)) {
      throw new BitflashIOError(`${file.path}: the file was replaced since its header was read (reload the model)`);
    }
    const got = preadFull(fd, file.path, dst, 0, t.bytes, t.fileOffset);
    if (got < t.bytes) throw new BitflashIOError(`${file.path}: tensor ${JSON.stringify(t.name)}: unexpected end of file at offset ${t.fileOffset + got} (the file was truncated since its header was read)`);
    return dst;
  } catch (e) {
    throw ioError(file.path, `reading tensor ${JSON.stringify(t.name)}`, e);
  } finally {
    closeSync(fd);
  }
}

/** Typed metadata accessors. */
export function metaString(f: GGUFFile, key: string): string | undefined {
  const v = f.metadata.get(key);
  return typeof v === 'string' ? v : undefined;
}
export function metaNumber(f: GGUFFile, key: string): number | undefined {
  const v = f.metadata.get(key);
  return typeof v === 'number' ? v : undefined;
}
export function metaBool(f: GGUFFile, key: string): boolean | undefined {
  const v = f.metadata.get(key);
  return typeof v === 'boolean' ? v : undefined;
}
