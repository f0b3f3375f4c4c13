import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BitflashArgumentError,
  BitflashError,
  BitflashFormatError,
  DTYPES,
  errorCodes,
} from '../../lib/index.js';
import { fromNative } from '../../lib/errors.js';
import { native } from '../../lib/binding.js';

describe('errors', () => {
  it('every native error code has a BitflashError subclass', () => {
    const header = readFileSync(new URL('../../cpp/include/bitflash/error.h', import.meta.url), 'utf8');
    const codes = [...header.matchAll(/"(ERR_BITFLASH_[A-Z]+)"/g)].map((m) => m[1]);
    expect(codes.length).toBeGreaterThan(5);
    for (const c of codes) expect(errorCodes).toContain(c);
  });

  it('maps native errors by code and keeps the caller stack', () => {
    const native = Object.assign(new Error('bad header at offset 12'), { code: 'ERR_BITFLASH_FORMAT' });
    const site = new Error('site');
    const e = fromNative(native, site) as BitflashFormatError;
    expect(e).toBeInstanceOf(BitflashFormatError);
    expect(e).toBeInstanceOf(BitflashError);
    expect(e.code).toBe('ERR_BITFLASH_FORMAT');
    expect(e.name).toBe('BitflashFormatError');
    expect(e.cause).toBe(native);
    expect(e.stack).toMatch(/errors\.test\.ts/);
    const plain = new Error('x');
    expect(fromNative(plain)).toBe(plain);
  });

  it('a native exception becomes a JS error, never a crash', () => {
    try {
      native.setIsaCap('bogus');
      expect.unreachable();
    } catch (e) {
      expect((e as { code: string }).code).toBe('ERR_BITFLASH_ARG');
      expect(fromNative(e)).toBeInstanceOf(BitflashArgumentError);
    }
    expect(() => native.quantizeQ8_0Sync(new Float32Array(32), new Int8Array(34) as unknown as Uint8Array)).toThrow(/wrong TypedArray/);
    expect(() => (native.quantizeQ8_0Sync as (...a: unknown[]) => void)()).toThrow(/expected 2 arguments/);
  });
});

describe('dtypes', () => {
  it('the TS table mirrors the native one', () => {
    const table = native.dtypeTable();
    for (const row of table) {
      const ts = DTYPES[row.name as keyof typeof DTYPES];
      expect(ts, row.name).toBeDefined();
      const trailer = (ts as { trailerBytes?: number }).trailerBytes ?? 0;
      expect({ id: ts.id, blockElems: ts.blockElems, blockBytes: ts.blockBytes, trailerBytes: trailer }).toEqual({
        id: row.id,
        blockElems: row.blockElems,
        blockBytes: row.blockBytes,
        trailerBytes: row.trailerBytes,
      });
    }
    expect(Object.keys(DTYPES).length).toBe(table.length);
  });
});
