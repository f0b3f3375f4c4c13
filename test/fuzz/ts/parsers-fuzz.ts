/**
 * Mutation fuzzer for the TypeScript parsers of untrusted bytes: the GGUF reader (parseGGUF, the
 * in-memory twin of readGGUF), the flash-layout metadata (flashInfo), the Llama hyper-parameters
 * (llamaHParams) and the tokenizer built from a GGUF vocabulary (tokenizerFromGGUF, then
 * encode/decode of arbitrary text).
 *
 * NOT coverage-guided: libFuzzer cannot drive JS, and Jazzer.js does not run here (4.0.0's prebuilt
 * addon needs glibc 2.38, Debian 12 has 2.36; older versions download their binaries from GitHub at
 * install time). Inputs are the real fixtures mutated by a fast-check program of 1..6 operations:
 * bit flips, byte and integer overwrites with boundary values (0, 1, 2^31, 2^32-1, 2^63, 2^64-1, the
 * file size, ...) aimed at the offsets where the reader reads a field (its trace), truncations,
 * deletions, duplications and splices between fixtures. fast-check shrinks a failure to a minimal
 * mutation list, so a reproducer is small.
 *
 * The oracle, for every input: each parser returns or throws one of our typed errors
 * (BitflashFormatError / BitflashUnsupportedError); a parsed file's invariants hold (tensor extents
 * inside the file, integer power-of-two alignment, integer offsets); token ids that encode returns
 * are integers inside the vocabulary and decode accepts them; no input takes longer than 20 s (a
 * generous bound: CI runs this suite under ASan and under qemu; a quadratic path takes minutes).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { BitflashFormatError, BitflashUnsupportedError } from '../../../lib/errors.js';
import { flashInfo } from '../../../lib/model/flash-layout.js';
import { type GGUFFile, GGUFValueType, parseGGUF } from '../../../lib/model/gguf.js';
import { type WriteMeta, writeGGUF } from '../../../lib/model/gguf-write.js';
import { llamaHParams } from '../../../lib/model/llama.js';
import { tokenizerFromGGUF } from '../../../lib/model/tokenizer.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface Seed {
  name: string;
  /** A full-size file (a large vocabulary or tensor data): picked 1 time in 1000. */
  big: boolean;
  bytes: Uint8Array;
  /** Offsets where the reader reads a field (mutation targets). */
  fields: number[];
  /** End of the header (metadata + tensor infos): byte-level mutations aim below it. */
  headerEnd: number;
}

/** A smaller copy of a vocabulary GGUF (first `keep` tokens), so a fuzz input parses in well under a millisecond. */
function shrinkVocab(f: GGUFFile, keep: number, out: string, extra: WriteMeta[] = [], alignment = 32): void {
  const nTok = (f.metadata.get('tokenizer.ggml.tokens') as unknown[] | undefined)?.length ?? 0;
  keep = Math.min(keep, nTok);
  // special ids past `keep` move to the last kept places (their token, type and score with them)
  const moved = new Map<number, number>();
  for (const [key, v] of f.metadata) {
    if (key.startsWith('tokenizer.ggml.') && key.endsWith('_token_id') && typeof v === 'number' && v >= keep && !moved.has(v)) moved.set(v, keep - 1 - moved.size);
  }
  const meta: WriteMeta[] = [];
  for (const [key, value] of f.metadata) {
    if (key === 'general.alignment') continue;
    const ty = f.metadataTypes.get(key)!;
    let v = value;
    if (ty.type === GGUFValueType.ARRAY && (Array.isArray(v) || ArrayBuffer.isView(v))) {
      const arr = v as unknown as { length: number; slice(a: number, b: number): typeof v } & Record<number, unknown>;
      const perToken = arr.length === nTok && key !== 'tokenizer.ggml.merges';
      const cut = arr.slice(0, keep) as unknown as Record<number, unknown>;
      if (perToken) for (const [from, to] of moved) cut[to] = arr[from];
      v = cut as unknown as typeof v;
    } else if (typeof v === 'number' && moved.has(v) && key.endsWith('_token_id')) {
      v = moved.get(v)!;
    }
    meta.push({ key, type: ty.type, ...(ty.elemType !== undefined ? { elemType: ty.elemType } : {}), value: v });
  }
  writeGGUF(out, [...meta, ...extra], [], { alignment });
}

let cached: Seed[] | undefined;

/** The seeds: the real fixtures, plus reduced-vocabulary and flash-layout variants written once to a temp dir. */
export function loadSeeds(): Seed[] {
  if (cached) return cached;
  const files = [path.join(root, 'models/stories260K.gguf'), path.join(root, 'test/fixtures/ggml-vocab-llama-spm.gguf'), path.join(root, 'test/fixtures/ggml-vocab-gpt-2.gguf')];
  const tmp = mkdtempSync(path.join(tmpdir(), 'bitflash-fuzz-'));
  const seeds: Seed[] = [];
  try {
    const add = (name: string, bytes: Uint8Array, big = false) => {
      const trace: number[] = [];
      const g = parseGGUF(bytes, name, { trace });
      seeds.push({ name, big, bytes, fields: [...new Set(trace)], headerEnd: g.dataOffset });
    };
    // the real files are picked rarely: stories260K's 1.2 MB of tensor data costs a copy per input
    files.forEach((f) => add(path.relative(root, f), readFileSync(f), true));
    const spm = parseGGUF(readFileSync(files[1]!), 'spm'), gpt2 = parseGGUF(readFileSync(files[2]!), 'gpt2');
    shrinkVocab(spm, 400, path.join(tmp, 'spm-mini.gguf'));
    add('spm-mini (first 400 tokens of ggml-vocab-llama-spm)', readFileSync(path.join(tmp, 'spm-mini.gguf')));
    shrinkVocab(gpt2, 400, path.join(tmp, 'gpt2-mini.gguf'));
    add('gpt2-mini (first 400 tokens and merges of ggml-vocab-gpt-2)', readFileSync(path.join(tmp, 'gpt2-mini.gguf')));
    // The flash-layout keys over the stories260K vocabulary and hyper-parameters (n_embd 64, n_ff 172, q8_0 rows).
    const stories = parseGGUF(readFileSync(files[0]!), 'stories');
    const u32 = (key: string, value: number): WriteMeta => ({ key, type: GGUFValueType.UINT32, value });
    shrinkVocab(stories, 1 << 30, path.join(tmp, 'flash.gguf'), [
      u32('general.alignment', 4096),
      u32('bitflash.flash.version', 1), u32('bitflash.flash.bundle_bytes', 4096), u32('bitflash.flash.row_bytes', 68),
      u32('bitflash.flash.n_ff', 172), u32('bitflash.flash.n_embd', 64),
      { key: 'bitflash.flash.row_type', type: GGUFValueType.STRING, value: 'q8_0' },
      { key: 'bitflash.flash.order', type: GGUFValueType.STRING, value: 'up,down,gate' },
    ], 4096);
    // stories260K's metadata and tensor infos (names, types, dims kept) with 64 bytes of data each.
    {
      const meta: WriteMeta[] = [...stories.metadata].filter(([k]) => k !== 'general.alignment').map(([key, value]) => {
        const ty = stories.metadataTypes.get(key)!;
        return { key, type: ty.type, ...(ty.elemType !== undefined ? { elemType: ty.elemType } : {}), value };
      });
      const tensors = stories.tensors.map((t) => ({ name: t.name, dims: [16], type: 0, bytes: 64, data: () => new Uint8Array(64) }));
      writeGGUF(path.join(tmp, 'stories-small.gguf'), meta, tensors, { alignment: 32 });
      add('stories-small (stories260K metadata, tensors of 16 f32)', readFileSync(path.join(tmp, 'stories-small.gguf')));
    }
    add('flash (stories260K metadata + bitflash.flash.*)', readFileSync(path.join(tmp, 'flash.gguf')));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  cached = seeds;
  return seeds;
}

const U32S = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 24, 30, 31, 32, 255, 256, 4095, 4096, 65535, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const U64S = [0n, 1n, 8n, 0x7fffffffn, 0xffffffffn, 0x100000000n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 62n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n];

export type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'byte'; at: number; value: number }
  | { op: 'u32'; field: number; pick: number; delta: number }
  | { op: 'u64'; field: number; pick: number; delta: number }
  | { op: 'size'; field: number; delta: number }
  | { op: 'truncate'; at: number }
  | { op: 'delete'; at: number; len: number }
  | { op: 'dup'; at: number; len: number }
  | { op: 'splice'; from: number; at: number; src: number; len: number };

const nat = fc.nat();
export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: nat, bit: fc.nat(7) }),
  fc.record({ op: fc.constant('byte' as const), at: nat, value: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0x20, 0x0a) }),
  fc.record({ op: fc.constant('u32' as const), field: nat, pick: fc.nat(U32S.length - 1), delta: fc.integer({ min: -2, max: 2 }) }),
  fc.record({ op: fc.constant('u64' as const), field: nat, pick: fc.nat(U64S.length - 1), delta: fc.integer({ min: -2, max: 2 }) }),
  fc.record({ op: fc.constant('size' as const), field: nat, delta: fc.integer({ min: -64, max: 64 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: nat }),
  fc.record({ op: fc.constant('delete' as const), at: nat, len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('dup' as const), at: nat, len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('splice' as const), from: nat, at: nat, src: nat, len: fc.integer({ min: 1, max: 256 }) }),
);

export interface FuzzCase {
  seed: number;
  mutations: Mutation[];
  texts: string[];
}

export function caseArb(seeds: readonly Seed[]): fc.Arbitrary<FuzzCase> {
  const idx = (big: boolean) => seeds.flatMap((s, i) => (s.big === big ? [i] : []));
  return fc.record({
    seed: fc.oneof({ arbitrary: fc.constantFrom(...idx(false)), weight: 999 }, { arbitrary: fc.constantFrom(...idx(true)), weight: 1 }),
    // one edit half the time (most edits of a structural field end the parse), else up to 6
    mutations: fc.oneof(fc.array(mutationArb, { minLength: 1, maxLength: 1 }), fc.array(mutationArb, { minLength: 2, maxLength: 6 })),
    texts: fc.array(
      fc.oneof(
        { arbitrary: fc.string({ maxLength: 40 }), weight: 100 },
        { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 100 },
        { arbitrary: fc.constantFrom('Hello world', ' \n\t  x', '</s><s>', '<0x0A>', '\u2581\u2581a', "it's 1234567"), weight: 100 },
        // rarely, one long word (no spaces): merges must stay O(n log n), ids must not overflow a spread
        { arbitrary: fc.tuple(fc.string({ minLength: 1, maxLength: 3 }), fc.integer({ min: 1000, max: 30000 })).map(([a, k]) => a.repeat(k)), weight: 1 },
      ),
      { maxLength: 3 },
    ),
  });
}

/** Applies the mutations to a copy of the seed. Positions are taken modulo what they index. */
export function mutate(seeds: Seed[], c: FuzzCase): Uint8Array {
  const s = seeds[c.seed]!;
  let b: Uint8Array = Buffer.from(s.bytes);
  // Byte-level edits aim at the header (where the parser looks) 7 times in 8.
  const pos = (x: number) => (b.length === 0 ? 0 : x % 8 === 0 ? x % b.length : x % Math.max(1, Math.min(b.length, s.headerEnd)));
  const field = (x: number) => s.fields[x % s.fields.length]!;
  for (const m of c.mutations) {
    switch (m.op) {
      case 'flip': if (b.length) b[pos(m.at)]! ^= 1 << m.bit; break;
      case 'byte': if (b.length) b[pos(m.at)] = m.value; break;
      case 'u32': { const at = field(m.field); if (at + 4 <= b.length) Buffer.from(b.buffer, b.byteOffset, b.length).writeUInt32LE((U32S[m.pick]! + m.delta) >>> 0, at); break; }
      case 'u64': {
        const at = field(m.field);
        const v = (U64S[m.pick]! + BigInt(m.delta)) & (2n ** 64n - 1n);
        if (at + 8 <= b.length) Buffer.from(b.buffer, b.byteOffset, b.length).writeBigUInt64LE(v, at);
        break;
      }
      case 'size': {
        // a length or count that ends just inside / just past the file
        const at = field(m.field);
        const v = BigInt(Math.max(0, b.length - at + m.delta));
        if (at + 8 <= b.length) Buffer.from(b.buffer, b.byteOffset, b.length).writeBigUInt64LE(v, at);
        break;
      }
      case 'truncate': b = b.subarray(0, pos(m.at)); break;
      case 'delete': { const at = pos(m.at); b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]); break; }
      case 'dup': { const at = pos(m.at); b = Buffer.concat([b.subarray(0, at + m.len), b.subarray(at)]); break; }
      case 'splice': {
        const o = seeds[m.from % seeds.length]!;
        const src = o.bytes.length ? m.src % o.bytes.length : 0;
        const at = pos(m.at);
        b = Buffer.concat([b.subarray(0, at), o.bytes.subarray(src, src + m.len), b.subarray(Math.min(b.length, at + m.len))]);
        break;
      }
    }
  }
  return b;
}

function typed(e: unknown): boolean {
  return e instanceof BitflashFormatError || e instanceof BitflashUnsupportedError;
}

/** Thrown by the oracle: a parser broke its contract on this input. */
export class ContractViolation extends Error {}

function expectTyped(what: string, e: unknown): void {
  if (!typed(e)) {
    const err = e as Error;
    throw new ContractViolation(`${what} threw ${err?.constructor?.name ?? typeof e}, not a typed error: ${err?.message ?? String(e)}`, { cause: e });
  }
}

function check(cond: boolean, msg: string): void {
  if (!cond) throw new ContractViolation(msg);
}

export interface Outcome {
  parsed: boolean;
  tokenizer: boolean;
}

/** Runs every parser over the bytes and checks the contract; throws ContractViolation on a break. */
export function runParsers(bytes: Uint8Array, texts: readonly string[], timeLimitMs = 20_000): Outcome {
  const t0 = performance.now();
  const out: Outcome = { parsed: false, tokenizer: false };
  let f: GGUFFile;
  try {
    f = parseGGUF(bytes, 'fuzz.gguf');
  } catch (e) {
    expectTyped('parseGGUF', e);
    check(performance.now() - t0 < timeLimitMs, 'parseGGUF took too long');
    return out;
  }
  out.parsed = true;
  check(Number.isInteger(f.alignment) && f.alignment > 0 && (f.alignment & (f.alignment - 1)) === 0, `alignment ${f.alignment} is not an integer power of two`);
  check(Number.isInteger(f.dataOffset) && f.dataOffset % f.alignment === 0, `data offset ${f.dataOffset} is not aligned`);
  for (const t of f.tensors) {
    check(Number.isSafeInteger(t.fileOffset) && Number.isSafeInteger(t.bytes) && t.bytes > 0, `tensor ${t.name}: offset/bytes not integers`);
    check(t.fileOffset >= f.dataOffset && t.fileOffset + t.bytes <= f.size, `tensor ${t.name}: [${t.fileOffset}, +${t.bytes}) outside the file (${f.size})`);
  }
  try {
    flashInfo(f);
  } catch (e) {
    expectTyped('flashInfo', e);
  }
  try {
    llamaHParams(f);
  } catch (e) {
    expectTyped('llamaHParams', e);
  }
  let tok;
  try {
    tok = tokenizerFromGGUF(f);
  } catch (e) {
    expectTyped('tokenizerFromGGUF', e);
  }
  if (tok) {
    out.tokenizer = true;
    for (const id of [tok.bos, tok.eos]) check(id === undefined || (Number.isInteger(id) && id >= 0 && id < tok.vocabSize), `special id ${id} outside the vocabulary`);
    for (const text of texts) {
      for (const parseSpecial of [false, true]) {
        const ids = tok.encode(text, { parseSpecial });
        for (const id of ids) check(Number.isInteger(id) && id >= 0 && id < tok.vocabSize, `encode gave id ${id} outside the vocabulary (${tok.vocabSize})`);
        tok.decode(ids);
        tok.decode(ids, { special: true });
      }
    }
  }
  check(performance.now() - t0 < timeLimitMs, `parsers took ${Math.round(performance.now() - t0)} ms (limit ${timeLimitMs})`);
  return out;
}
