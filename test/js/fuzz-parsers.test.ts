// Short form of the parser fuzzer (test/fuzz/ts/parsers-fuzz.ts): the saved regressions, then a few
// thousand mutated fixtures. The long form (>= 1e6 inputs) runs with BITFLASH_FUZZ_RUNS set
// (`npm run fuzz`); it is a coverage-free mutation fuzzer, see the README's Reliability section.
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BitflashFormatError } from '../../lib/errors.js';
import { parseGGUF } from '../../lib/model/gguf.js';
import { tokenizerFromGGUF } from '../../lib/model/tokenizer.js';
import { caseArb, loadSeeds, mutate, runParsers } from '../fuzz/ts/parsers-fuzz.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const regressions = path.join(here, '../fuzz/regressions/ts');
const timeMs = process.env.BITFLASH_FUZZ_TIME_MS ? Number(process.env.BITFLASH_FUZZ_TIME_MS) : undefined;
const runs = Number(process.env.BITFLASH_FUZZ_RUNS ?? (timeMs ? 1e9 : 3000));
const seedEnv = process.env.BITFLASH_FUZZ_SEED;
// long runs: a line every 20,000 inputs to this file (the count survives an interrupted run)
const progress = process.env.BITFLASH_FUZZ_PROGRESS;

describe('parser fuzz (GGUF, flash layout, tokenizer)', () => {
  it('every seed parses and tokenizes', () => {
    for (const s of loadSeeds()) {
      const o = runParsers(s.bytes, ['Hello world'], 60_000);
      expect(o.parsed, s.name).toBe(true);
      if (!s.name.startsWith('flash')) expect(o.tokenizer, s.name).toBe(true);
    }
  });

  it('regression: general.alignment stored as FLOAT32 1.5 is rejected (it gave fractional tensor offsets)', () => {
    const b = readFileSync(path.join(regressions, 'float-alignment.gguf'));
    expect(() => parseGGUF(b, 'float-alignment.gguf')).toThrow(BitflashFormatError);
    expect(() => parseGGUF(b, 'float-alignment.gguf')).toThrow(/general\.alignment must be a power of two, received 1\.5/);
  });

  it('regression: a special token id stored as FLOAT32 1.5 is rejected (encode returned id 1.5)', () => {
    const f = parseGGUF(readFileSync(path.join(regressions, 'float-bos-id.gguf')), 'float-bos-id.gguf');
    expect(() => tokenizerFromGGUF(f)).toThrow(BitflashFormatError);
    expect(() => tokenizerFromGGUF(f)).toThrow(/bos_token_id 1\.5 is outside the vocabulary/);
  });

  it('regression: a long word encodes in O(n log n), and a 100k-token word does not overflow the stack', () => {
    // The GPT-2 BPE rescanned every pair after each merge (quadratic: a 16 KB word took minutes),
    // and returned a word's ids with push(...ids), a RangeError past ~100k ids.
    const tok = tokenizerFromGGUF(parseGGUF(readFileSync(path.join(here, '../fixtures/ggml-vocab-gpt-2.gguf'))));
    const word = 'ab'.repeat(20000); // 40 KB, one pre-tokenizer word
    const t0 = performance.now();
    const ids = tok.encode(word);
    expect(performance.now() - t0).toBeLessThan(60_000); // quadratic: ~10 min here; n log n: ~1 s unloaded
    expect(tok.decode(ids)).toBe(word);
    const bytes = '\u{10FFFF}'.repeat(30000); // 120k bytes with no merges among them: ~120k ids
    const ids2 = tok.encode(bytes);
    expect(ids2.length).toBeGreaterThan(100_000);
    expect(tok.decode(ids2)).toBe(bytes);
  });

  it('saved reproducers give a typed error or a valid parse', () => {
    const files = readdirSync(regressions).filter((f) => f.endsWith('.gguf'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) runParsers(readFileSync(path.join(regressions, f)), ['Hello world', '</s>'], 60_000);
  });

  it(`mutated fixtures: typed errors only (${timeMs ? `${timeMs / 1000} s` : `${runs} inputs`})`, () => {
    const seeds = loadSeeds();
    let inputs = 0, parsed = 0, tokenized = 0;
    const t0 = performance.now();
    fc.assert(
      fc.property(caseArb(seeds), (c) => {
        const o = runParsers(mutate(seeds, c), c.texts);
        inputs++;
        if (progress && inputs % 20000 === 0) appendFileSync(progress, `${new Date().toISOString()} ${inputs} inputs, ${parsed} parsed, ${Math.round((performance.now() - t0) / 1000)} s\n`);
        parsed += +o.parsed;
        tokenized += +o.tokenizer;
      }),
      { numRuns: runs, ...(seedEnv ? { seed: Number(seedEnv) } : {}), ...(timeMs ? { interruptAfterTimeLimit: timeMs, markInterruptAsFailure: false } : {}) },
    );
    const s = (performance.now() - t0) / 1000;
    console.log(`parser fuzz: ${inputs} inputs in ${s.toFixed(1)} s (${Math.round(inputs / s)}/s); ${parsed} parsed, ${tokenized} built a tokenizer; ${new Date().toISOString()}`);
    // the mutations must leave a share of valid files, else the deeper parsers are never reached
    expect(parsed).toBeGreaterThan(inputs / 20);
  }, 3_600_000);
});
