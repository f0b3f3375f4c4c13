/**
 * Tokenizers built from a GGUF vocabulary, with llama.cpp's token ids:
 *  - `llama`: SentencePiece-style (scores drive bigram merges, byte fallback to <0xXX> tokens,
 *    '▁' for spaces, a space prefix on the first text fragment);
 *  - `gpt2`: byte-level BPE (a pre-tokenizer regex per `tokenizer.ggml.pre`, merges by rank).
 * Special tokens (control, user-defined and unknown-type, as llama.cpp) are matched in the text when `parseSpecial` is set
 * (user-defined ones always, as llama.cpp does).
 */
import { BitflashFormatError, BitflashUnsupportedError } from '../errors.js';
import { type GGUFFile, metaBool, metaNumber, metaString } from './gguf.js';

export const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export interface EncodeOptions {
  /** Add BOS / EOS as the vocabulary asks (default: the GGUF's add_bos_token / add_eos_token). */
  addSpecial?: boolean;
  /** Recognise control tokens written in the text (e.g. "</s>"). Default false. */
  parseSpecial?: boolean;
}

export interface Tokenizer {
  readonly model: 'llama' | 'gpt2';
  readonly vocabSize: number;
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  readonly addBos: boolean;
  readonly addEos: boolean;
  encode(text: string, opts?: EncodeOptions): number[];
  /** The bytes a token stands for (control tokens: empty unless `special`). */
  tokenBytes(id: number, special?: boolean): Uint8Array;
  decode(ids: readonly number[], opts?: { special?: boolean }): string;
  isEog(id: number): boolean;
}

const enc = new TextEncoder();
// ignoreBOM: a U+FEFF at the start of the text is content, not a byte-order mark to drop.
const dec = new TextDecoder('utf-8', { ignoreBOM: true });

function strings(f: GGUFFile, key: string): string[] {
  const v = f.metadata.get(key);
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw new BitflashFormatError(`${f.path}: ${key} must be an array of strings`);
  }
  return v as string[];
}

/** A binary heap: pop() returns the element for which `first` holds against every other. */
class Heap<T> {
  private readonly a: T[] = [];
  constructor(private readonly first: (x: T, y: T) => boolean) {}
  get size(): number {
    return this.a.length;
  }
  push(c: T): void {
    const a = this.a;
    a.push(c);
    let i = a.length - 1;
    while (i > 0) {
      const pi = (i - 1) >> 1;
      if (!this.first(a[i]!, a[pi]!)) break;
      [a[i], a[pi]] = [a[pi]!, a[i]!];
      i = pi;
    }
  }
  pop(): T {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < a.length && this.first(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.first(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** A doubly linked list over n symbols (-1 ends it), all alive: merges unlink the right one. */
function symbolList(n: number): { prev: Int32Array; next: Int32Array; alive: Uint8Array } {
  const prev = new Int32Array(n), next = new Int32Array(n), alive = new Uint8Array(n).fill(1);
  for (let i = 0; i < n; i++) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  return { prev, next, alive };
}

abstract class Base implements Tokenizer {
  abstract readonly model: 'llama' | 'gpt2';
  readonly vocabSize: number;
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  readonly addBos: boolean;
  readonly addEos: boolean;
  protected readonly pieceToId = new Map<string, number>();
  protected readonly specials: { text: string; id: number; always: boolean }[] = [];
  protected readonly eog = new Set<number>();

  constructor(protected readonly tokens: string[], protected readonly types: ArrayLike<number> | undefined, f: GGUFFile, defaultAddBos: boolean) {
    this.vocabSize = tokens.length;
    for (let i = 0; i < tokens.length; i++) if (!this.pieceToId.has(tokens[i]!)) this.pieceToId.set(tokens[i]!, i);
    const id = (k: string) => {
      const v = metaNumber(f, k);
      if (v !== undefined && (!Number.isInteger(v) || v < 0 || v >= tokens.length)) throw new BitflashFormatError(`${f.path}: ${k} ${v} is outside the vocabulary (${tokens.length})`);
      return v;
    };
    this.bos = id('tokenizer.ggml.bos_token_id');
    this.eos = id('tokenizer.ggml.eos_token_id');
    this.addBos = metaBool(f, 'tokenizer.ggml.add_bos_token') ?? defaultAddBos;
    this.addEos = metaBool(f, 'tokenizer.ggml.add_eos_token') ?? false;
    if (this.eos !== undefined) this.eog.add(this.eos);
    const eot = id('tokenizer.ggml.eot_token_id');
    if (eot !== undefined) this.eog.add(eot);
    if (types) {
      for (let i = 0; i < tokens.length; i++) {
        const t = types[i];
        // As llama.cpp: control, user-defined and unknown-type tokens (e.g. <unk>) are specials.
        if ((t === TokenType.CONTROL || t === TokenType.USER_DEFINED || t === TokenType.UNKNOWN) && tokens[i]!.length > 0) {
          this.specials.push({ text: tokens[i]!, id: i, always: t === TokenType.USER_DEFINED });
        }
      }
      // Longest first, as llama.cpp partitions.
      this.specials.sort((a, b) => b.text.length - a.text.length);
    }
  }

  isEog(id: number): boolean {
    return this.eog.has(id);
  }

  /** Splits text into plain fragments and special token ids. */
  protected partition(text: string, parseSpecial: boolean): (string | number)[] {
    let parts: (string | number)[] = [text];
    for (const s of this.specials) {
      if (!s.always && !parseSpecial) continue;
      const next: (string | number)[] = [];
      for (const p of parts) {
        if (typeof p === 'number') {
          next.push(p);
          continue;
        }
        let from = 0;
        for (;;) {
          const at = p.indexOf(s.text, from);
          if (at < 0) break;
          if (at > from) next.push(p.slice(from, at));
          next.push(s.id);
          from = at + s.text.length;
        }
        if (from < p.length) next.push(p.slice(from));
      }
      parts = next;
    }
    return parts;
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new TypeError(`encode: text must be a string, received ${typeof text}`);
    const addSpecial = opts.addSpecial ?? true;
    const out: number[] = [];
    if (addSpecial && this.addBos && this.bos !== undefined) out.push(this.bos);
    this.encodeFragments(this.partition(text, opts.parseSpecial ?? false), out);
    if (addSpecial && this.addEos && this.eos !== undefined) out.push(this.eos);
    return out;
  }

  protected abstract encodeFragments(parts: (string | number)[], out: number[]): void;
  abstract tokenBytes(id: number, special?: boolean): Uint8Array;

  decode(ids: readonly number[], opts: { special?: boolean } = {}): string {
    const chunks: Uint8Array[] = [];
    let n = 0;
    for (const id of ids) {
      const b = this.tokenBytes(id, opts.special ?? false);
      chunks.push(b);
      n += b.length;
    }
    const all = new Uint8Array(n);
    let o = 0;
    for (const c of chunks) {
      all.set(c, o);
      o += c.length;
    }
    return dec.decode(all);
  }

  protected checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new RangeError(`token id must be an integer from 0 to ${this.vocabSize - 1}, received ${id}`);
  }
}

/** SentencePiece-style tokenizer (llama.cpp's "llama" vocab type). */
class SpmTokenizer extends Base {
  readonly model = 'llama' as const;
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly addSpacePrefix: boolean;

  constructor(tokens: string[], private readonly scores: ArrayLike<number>, types: ArrayLike<number> | undefined, f: GGUFFile) {
    super(tokens, types, f, true);
    this.addSpacePrefix = metaBool(f, 'tokenizer.ggml.add_space_prefix') ?? true;
    for (let b = 0; b < 256; b++) {
      const id = this.pieceToId.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
      if (id !== undefined) this.byteIds[b] = id;
    }
  }

  protected encodeFragments(parts: (string | number)[], out: number[]): void {
    let prevSpecial = true; // the first fragment gets the space prefix
    for (const p of parts) {
      if (typeof p === 'number') {
        out.push(p);
        prevSpecial = true;
        continue;
      }
      if (p.length === 0) continue;
      const text = ((this.addSpacePrefix && prevSpecial ? ' ' : '') + p).replaceAll(' ', '\u2581');
      this.bigrams(text, out);
      prevSpecial = false;
    }
  }

  private bigrams(text: string, out: number[]): void {
    // Symbols: one per code point, in a doubly linked list.
    const sym = Array.from(text);
    const n = sym.length;
    const { prev, next, alive } = symbolList(n);
    // Max-heap of candidate merges: highest score first, then leftmost.
    type Cand = { left: number; right: number; score: number; text: string };
    const heap = new Heap<Cand>((a: Cand, b: Cand) => a.score > b.score || (a.score === b.score && a.left < b.left));
    const tryAdd = (l: number, r: number) => {
      if (l < 0 || r < 0) return;
      const t = sym[l]! + sym[r]!;
      const id = this.pieceToId.get(t);
      if (id === undefined) return;
      heap.push({ left: l, right: r, score: this.scores[id]!, text: t });
    };
    for (let i = 1; i < n; i++) tryAdd(i - 1, i);
    while (heap.size > 0) {
      const c = heap.pop();
      // Stale: one side already merged into something else.
      if (!alive[c.left] || !alive[c.right] || sym[c.left]! + sym[c.right]! !== c.text || next[c.left] !== c.right) continue;
      sym[c.left] = c.text;
      alive[c.right] = 0;
      next[c.left] = next[c.right]!;
      if (next[c.right]! >= 0) prev[next[c.right]!] = c.left;
      tryAdd(prev[c.left]!, c.left);
      tryAdd(c.left, next[c.left]!);
    }
    for (let i = n > 0 ? 0 : -1; i >= 0; i = next[i]!) {
      const id = this.pieceToId.get(sym[i]!);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      for (const b of enc.encode(sym[i]!)) {
        const bid = this.byteIds[b]!;
        if (bid >= 0) out.push(bid);
        else if (this.unk() !== undefined) out.push(this.unk()!);
      }
    }
  }

  private unkId: number | undefined | null = null;
  private unk(): number | undefined {
    if (this.unkId === null) {
      this.unkId = undefined;
      if (this.types) for (let i = 0; i < this.vocabSize; i++) if (this.types[i] === TokenType.UNKNOWN) { this.unkId = i; break; }
    }
    return this.unkId;
  }

  tokenBytes(id: number, special = false): Uint8Array {
    this.checkId(id);
    const t = this.types?.[id] ?? TokenType.NORMAL;
    const piece = this.tokens[id]!;
    if (t === TokenType.BYTE) {
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
      if (m) return Uint8Array.of(parseInt(m[1]!, 16));
    }
    if (t === TokenType.CONTROL || t === TokenType.UNKNOWN) return special ? enc.encode(piece) : new Uint8Array(0);
    return enc.encode(piece.replaceAll('\u2581', ' '));
  }

  override decode(ids: readonly number[], opts: { special?: boolean } = {}): string {
    const s = super.decode(ids, opts);
    // SentencePiece drops the space it added in front of the text.
    return this.addSpacePrefix && s.startsWith(' ') ? s.slice(1) : s;
  }
}

// GPT-2's reversible byte <-> printable code point map.
const BYTE_TO_CHAR: string[] = [];
const CHAR_TO_BYTE = new Map<string, number>();
{
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const cp = keep.includes(b) ? b : 256 + extra++;
    BYTE_TO_CHAR[b] = String.fromCodePoint(cp);
    CHAR_TO_BYTE.set(String.fromCodePoint(cp), b);
  }
}

// Pre-tokenizer regexes by tokenizer.ggml.pre (JS has no inline (?i:), so contractions are spelled out).
const CONTRACTIONS_CI = "'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]";
const PRE: Record<string, RegExp> = {
  'gpt-2': /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu,
  'llama-bpe': new RegExp(`${CONTRACTIONS_CI}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`, 'gu'),
  qwen2: new RegExp(`${CONTRACTIONS_CI}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`, 'gu'),
};
PRE['default'] = PRE['gpt-2']!;

/** Byte-level BPE (llama.cpp's "gpt2" vocab type). */
class BpeTokenizer extends Base {
  readonly model = 'gpt2' as const;
  private readonly ranks = new Map<string, number>();
  private readonly re: RegExp;
  private readonly cache = new Map<string, number[]>();

  constructor(tokens: string[], merges: string[], types: ArrayLike<number> | undefined, f: GGUFFile) {
    super(tokens, types, f, false);
    merges.forEach((m, i) => this.ranks.set(m, i));
    const pre = metaString(f, 'tokenizer.ggml.pre') ?? 'default';
    const re = PRE[pre];
    if (!re) throw new BitflashUnsupportedError(`${f.path}: BPE pre-tokenizer ${JSON.stringify(pre)} is not supported (supported: ${Object.keys(PRE).join(', ')})`);
    this.re = re;
  }

  protected encodeFragments(parts: (string | number)[], out: number[]): void {
    for (const p of parts) {
      if (typeof p === 'number') {
        out.push(p);
        continue;
      }
      for (const m of p.matchAll(this.re)) this.word(m[0], out);
    }
  }

  private word(w: string, out: number[]): void {
    const hit = this.cache.get(w);
    if (hit) {
      for (const id of hit) out.push(id);
      return;
    }
    const sym = Array.from(enc.encode(w), (b) => BYTE_TO_CHAR[b]!);
    // Merge the lowest-ranked adjacent pair (leftmost on ties) until none is in the merge list.
    // A heap of candidate pairs over a linked list of symbols: O(n log n) in the word's length (the
    // rescan of every pair after each merge was quadratic: a 16 KB word without spaces took minutes).
    const n = sym.length;
    const { prev, next, alive } = symbolList(n);
    // Candidates ordered by (rank, left position): the list keeps the symbols' original order, so the
    // smallest left index is the leftmost pair, as the rescan picked.
    type Cand = { left: number; right: number; rank: number; text: string };
    const heap = new Heap<Cand>((a: Cand, b: Cand) => a.rank < b.rank || (a.rank === b.rank && a.left < b.left));
    const tryAdd = (l: number, r: number) => {
      if (l < 0 || r < 0) return;
      const rank = this.ranks.get(`${sym[l]} ${sym[r]}`);
      if (rank !== undefined) heap.push({ left: l, right: r, rank, text: sym[l]! + sym[r]! });
    };
    for (let i = 1; i < n; i++) tryAdd(i - 1, i);
    while (heap.size > 0) {
      const c = heap.pop();
      // stale: a side was merged into something else since the pair was queued
      if (!alive[c.left] || !alive[c.right] || next[c.left] !== c.right || sym[c.left]! + sym[c.right]! !== c.text) continue;
      sym[c.left] = c.text;
      alive[c.right] = 0;
      next[c.left] = next[c.right]!;
      if (next[c.right]! >= 0) prev[next[c.right]!] = c.left;
      tryAdd(prev[c.left]!, c.left);
      tryAdd(c.left, next[c.left]!);
    }
    const ids: number[] = [];
    for (let i = n > 0 ? 0 : -1; i >= 0; i = next[i]!) {
      const s = sym[i]!;
      const id = this.pieceToId.get(s);
      if (id !== undefined) ids.push(id);
      else for (const ch of s) { const b = this.pieceToId.get(ch); if (b !== undefined) ids.push(b); }
    }
    if (this.cache.size < 65536) this.cache.set(w, ids);
    // a loop, not push(...ids): spreading a 100k-element array overflows the call stack (RangeError)
    for (const id of ids) out.push(id);
  }

  tokenBytes(id: number, special = false): Uint8Array {
    this.checkId(id);
    const t = this.types?.[id] ?? TokenType.NORMAL;
    const piece = this.tokens[id]!;
    if (t === TokenType.CONTROL) return special ? enc.encode(piece) : new Uint8Array(0);
    if (t === TokenType.USER_DEFINED) return enc.encode(piece);
    const bytes: number[] = [];
    for (const ch of piece) {
      const b = CHAR_TO_BYTE.get(ch);
      if (b === undefined) bytes.push(...enc.encode(ch));
      else bytes.push(b);
    }
    return Uint8Array.from(bytes);
  }
}

/** Builds the tokenizer a GGUF file describes. */
export function tokenizerFromGGUF(f: GGUFFile): Tokenizer {
  const model = metaString(f, 'tokenizer.ggml.model');
  if (model === undefined) throw new BitflashFormatError(`${f.path}: no tokenizer.ggml.model`);
  const tokens = strings(f, 'tokenizer.ggml.tokens');
  const typesV = f.metadata.get('tokenizer.ggml.token_type');
  const types = typesV instanceof Int32Array || typesV instanceof Uint32Array ? typesV : undefined;
  if (types && types.length !== tokens.length) throw new BitflashFormatError(`${f.path}: token_type has ${types.length} entries for ${tokens.length} tokens`);
  if (model === 'llama') {
    const scores = f.metadata.get('tokenizer.ggml.scores');
    if (!(scores instanceof Float32Array) || scores.length !== tokens.length) {
      throw new BitflashFormatError(`${f.path}: tokenizer.ggml.scores must be ${tokens.length} f32 values`);
    }
    return new SpmTokenizer(tokens, scores, types, f);
  }
  if (model === 'gpt2') return new BpeTokenizer(tokens, strings(f, 'tokenizer.ggml.merges'), types, f);
  throw new BitflashUnsupportedError(`${f.path}: tokenizer model ${JSON.stringify(model)} is not supported (llama, gpt2)`);
}
