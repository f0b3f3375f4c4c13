import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BitflashFormatError, BitflashError } from '../../lib/index.js';
import { readGGUF, readTensorData, metaNumber, metaString } from '../../lib/model/gguf.js';
import { rng } from './helpers.js';

const fixtures = new URL('../fixtures/', import.meta.url);
const fx = (n: string) => new URL(n, fixtures).pathname;
const tmp = mkdtempSync(path.join(tmpdir(), 'bitflash-gguf-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('GGUF reader', () => {
  it('reads the tiny Llama: metadata, tensor infos, data', () => {
    const g = readGGUF(new URL('../../models/stories260K.gguf', import.meta.url).pathname);
    expect(g.version).toBe(3);
    expect(g.tensors.length).toBe(48);
    expect(g.metadata.size).toBe(19);
    expect(metaString(g, 'general.architecture')).toBe('llama');
    expect(metaNumber(g, 'llama.embedding_length')).toBe(64);
    expect(metaNumber(g, 'llama.attention.head_count_kv')).toBe(4);
    const emb = g.tensors.find((t) => t.name === 'token_embd.weight')!;
    expect(emb.dims).toEqual([64, 512]);
    expect(emb.typeName).toBe('f32');
    expect(emb.fileOffset % g.alignment).toBe(0);
    const data = new Float32Array(readTensorData(g, emb).buffer);
    expect(data.length).toBe(64 * 512);
    expect(data.every(Number.isFinite)).toBe(true);
    // all tensors lie inside the file and add up to the data section
    const total = g.tensors.reduce((a, t) => a + t.bytes, 0);
    expect(total).toBe(292800 * 4);
    for (const t of g.tensors) expect(t.fileOffset + t.bytes).toBeLessThanOrEqual(g.size);
  });

  it('reads vocabulary-only files (arrays of 50k strings)', () => {
    const g = readGGUF(fx('ggml-vocab-gpt-2.gguf'));
    expect(g.tensors.length).toBe(0);
    expect((g.metadata.get('tokenizer.ggml.tokens') as string[]).length).toBe(50257);
    expect((g.metadata.get('tokenizer.ggml.merges') as string[]).length).toBe(50000);
  });

  it('truncation at every header field boundary gives ERR_BITFLASH_FORMAT with the offset', () => {
    const src = readFileSync(new URL('../../models/stories260K.gguf', import.meta.url).pathname);
    const trace: number[] = [];
    const g = readGGUF(new URL('../../models/stories260K.gguf', import.meta.url).pathname, { trace });
    const cuts = [...new Set(trace)].filter((o) => o < g.dataOffset);
    expect(cuts.length).toBeGreaterThan(1000);
    const f = path.join(tmp, 'cut.gguf');
    let checked = 0;
    for (const cut of [...cuts, g.dataOffset + 1, src.length - 1]) {
      writeFileSync(f, src.subarray(0, cut));
      let err: unknown;
      try {
        readGGUF(f);
      } catch (e) {
        err = e;
      }
      expect(err, `cut at ${cut}`).toBeInstanceOf(BitflashFormatError);
      const off = (err as BitflashFormatError).offset;
      expect(off).toBeGreaterThanOrEqual(0);
      expect(off).toBeLessThanOrEqual(src.length);
      expect((err as Error).message).toMatch(/offset \d+/);
      checked++;
    }
    expect(checked).toBe(cuts.length + 2);
  });

  it('huge counts, lengths, dims and offsets fail fast with the offset, never allocate', () => {
    const src = readFileSync(new URL('../../models/stories260K.gguf', import.meta.url).pathname);
    const f = path.join(tmp, 'mut.gguf');
    const trace: number[] = [];
    const g = readGGUF(new URL('../../models/stories260K.gguf', import.meta.url).pathname, { trace });
    const put64 = (at: number, v: bigint) => {
      const b = Buffer.from(src);
      b.writeBigUInt64LE(v, at);
      writeFileSync(f, b);
    };
    const cases: [string, number, bigint][] = [
      ['tensor count', 8, 1n << 62n],
      ['metadata count', 16, 0xffffffffffffffffn],
      ['first key length', 24, 1n << 40n],
    ];
    // the first tensor info: find its name length field, n_dims, first dim, and offset
    const t0 = g.tensors[0]!;
    const name = Buffer.from(t0.name);
    const nameAt = src.indexOf(Buffer.concat([Buffer.from([name.length, 0, 0, 0, 0, 0, 0, 0]), name]), 24);
    expect(nameAt).toBeGreaterThan(0);
    const dimsAt = nameAt + 8 + name.length + 4;
    cases.push(['tensor dim', dimsAt, 1n << 53n]);
    cases.push(['tensor offset', dimsAt + 8 * t0.dims.length + 4, BigInt(src.length) * 2n - (BigInt(src.length) * 2n) % 32n]);
    for (const [what, at, v] of cases) {
      put64(at, v);
      let err: unknown;
      try {
        readGGUF(f);
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(BitflashFormatError);
      expect((err as BitflashFormatError).offset, what).toBeTypeOf('number');
    }
  });

  it('random bit flips in the header never crash: a valid parse or a typed error', () => {
    const src = readFileSync(new URL('../../models/stories260K.gguf', import.meta.url).pathname);
    const g = readGGUF(new URL('../../models/stories260K.gguf', import.meta.url).pathname);
    const f = path.join(tmp, 'flip.gguf');
    const r = rng(99);
    let typed = 0;
    for (let i = 0; i < 300; i++) {
      const b = Buffer.from(src);
      for (let j = 0; j < 3; j++) {
        const at = Math.floor(r() * g.dataOffset);
        b[at]! ^= 1 << Math.floor(r() * 8);
      }
      writeFileSync(f, b);
      try {
        readGGUF(f);
      } catch (e) {
        expect(e).toBeInstanceOf(BitflashError);
        typed++;
      }
    }
    expect(typed).toBeGreaterThan(0);
  });

  it('rejects non-GGUF files and missing files with typed errors', () => {
    const f = path.join(tmp, 'not.gguf');
    writeFileSync(f, 'hello world, not a model');
    expect(() => readGGUF(f)).toThrow(/not a GGUF file/);
    expect(() => readGGUF(path.join(tmp, 'missing.gguf'))).toThrow(expect.objectContaining({ code: 'ERR_BITFLASH_IO' }));
  });
});
